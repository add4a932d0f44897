//! Faults: cut / restore, link down / up, power off / on. (Crash, freeze and
//! restart are signals to endpoint processes: see the runner.)
//!
//! Contract: faults act in the wire, never on a host's own interface (drops
//! there are reported back to TCP and change its behaviour), except `link
//! down` in the direct topology, where the host's cable end is all there is.
//! - cut (switched): both bridge ports of the wire go to STP state
//!   `disabled`: the bridge forwards nothing either way, while both hosts keep
//!   link and carrier and the captures on the ports still see what each host
//!   sent into the cut.
//! - drop (selective): a tiny cls_bpf program on the ingress where the wire
//!   receives the sender's frames (see [`crate::bpf`]); the capture on that
//!   port still shows what was sent, the other port what got through. The
//!   one drop on a host's own interface is asked for by name (`at = "host"`,
//!   a local drop the sender's TCP is told about); the capture sees none of it.
//! - power off: the host's port is cut first, so not one packet escapes; then
//!   its processes are killed, its sockets destroyed and its namespace
//!   deleted. Power on: a fresh empty namespace with the same name, addresses
//!   and MAC, plugged back into the wire.

use crate::bpf::DropRule;
use crate::netns::NetNs;
use crate::rtnl::Rtnl;
use crate::topology::{Host, Lab};
use anyhow::{anyhow, Result};
use std::sync::atomic::Ordering;
use teardown_core::scenario::{DropAt, DropSelect, RejectWith};

/// Cuts (`true`) or restores (`false`) the wire in both directions.
/// Switched: bridge ports disabled. Direct: a drop-all cls_bpf filter on each
/// end's ingress (restore removes every filter there, selective drops too).
pub fn set_cut(lab: &Lab, cut: bool) -> Result<()> {
    tracing::info!(lab = %lab.id, "{}", if cut { "cut" } else { "restore" });
    if lab.wire.is_some() {
        lab.set_wire_forwarding(!cut)?;
    } else if cut {
        for from in [Host::Client, Host::Server] {
            drop_from(lab, from, &DropRule::All)?;
        }
    } else {
        undrop(lab)?;
    }
    lab.cut.store(cut, Ordering::SeqCst);
    Ok(())
}

/// Where the wire sees `from`'s frames arrive: (namespace, interface). Switched:
/// the host's bridge port (its ingress carries what the host sent). Direct:
/// the other host's end of the cable.
fn ingress_of(lab: &Lab, from: Host) -> (&NetNs, &'static str) {
    match &lab.wire {
        Some(w) => (w, from.port()),
        None => (lab.host(from.other()), "eth0"),
    }
}

/// The wire drops what `from` sends that matches `rule` (cls_bpf on ingress).
pub fn drop_from(lab: &Lab, from: Host, rule: &DropRule) -> Result<()> {
    drop_first(lab, from, rule, None).map(|_| ())
}

/// Like [`drop_from`]; with `count`, only the first `count` matching frames are
/// dropped, the later ones pass with no harness action (the returned budget
/// tells how many were dropped and passed).
pub fn drop_first(
    lab: &Lab,
    from: Host,
    rule: &DropRule,
    count: Option<u64>,
) -> Result<Option<crate::bpf::Budget>> {
    drop_at(lab, from, rule, count, DropAt::Wire)
}

/// Like [`drop_first`], at `at`: the wire's ingress of `from`'s frames, or
/// `from`'s own interface (clsact egress, the one exception to this module's
/// contract, asked for by name: the sender's TCP is told of the drop, the
/// local-congestion case of tcp_retransmit_timer). Undo the latter with
/// [`undrop_local`].
pub fn drop_at(
    lab: &Lab,
    from: Host,
    rule: &DropRule,
    count: Option<u64>,
    at: DropAt,
) -> Result<Option<crate::bpf::Budget>> {
    rule.validate()?;
    let budget = count.map(crate::bpf::Budget::new).transpose()?;
    let (ns, ifname, hook) = match at {
        DropAt::Wire => {
            let (ns, ifname) = ingress_of(lab, from);
            (ns, ifname, crate::tc::Hook::Ingress)
        }
        DropAt::Host => (lab.host(from), "eth0", crate::tc::Hook::Egress),
    };
    ns.run(|| -> Result<()> {
        let idx = crate::tc::ifindex(ifname)?;
        crate::tc::attach_counted_drop_at(idx, hook, rule, budget.as_ref())
    })?;
    Ok(budget)
}

/// Removes the local drops ([`DropAt::Host`]) on these hosts' own interfaces.
pub fn undrop_local(lab: &Lab, hosts: &[Host]) -> Result<()> {
    for &h in hosts {
        lab.host(h).run(|| -> Result<()> {
            let idx = crate::tc::ifindex("eth0")?;
            crate::tc::detach_all(idx)
        })?;
    }
    Ok(())
}

/// Removes every drop filter the harness added, in both directions.
pub fn undrop(lab: &Lab) -> Result<()> {
    for from in [Host::Client, Host::Server] {
        let (ns, ifname) = ingress_of(lab, from);
        ns.run(|| -> Result<()> {
            let idx = crate::tc::ifindex(ifname)?;
            crate::tc::detach_all(idx)
        })?;
    }
    Ok(())
}

/// The drop program for a step's validated selection of frames.
pub fn rule_for(select: DropSelect) -> DropRule {
    match select {
        DropSelect::All => DropRule::All,
        // The flags byte (validation allows F, R and S only).
        DropSelect::AnyFlag(f) => DropRule::TcpFlags {
            any_of: (f.0 & 0x00ff) as u8,
        },
        DropSelect::PureAck => DropRule::PureAck,
        DropSelect::Probability(p) => DropRule::Probability(p),
    }
}

/// Takes the host's wire port down (the host loses carrier) or up again.
pub fn set_link(lab: &Lab, host: Host, up: bool) -> Result<()> {
    let loc = lab.port(host);
    let ifname = loc.ifname;
    loc.ns.run(|| -> Result<()> {
        let mut rt = Rtnl::open()?;
        let idx = rt.link_index(ifname)?;
        Ok(rt.set_link_up(
            idx,
            up,
            &format!("setting {ifname} {}", if up { "up" } else { "down" }),
        )?)
    })
}

/// Cuts only this host's port (switched).
fn isolate(lab: &Lab, host: Host) -> Result<()> {
    let wire = lab
        .wire
        .as_ref()
        .ok_or_else(|| anyhow!("power off needs the switched topology"))?;
    wire.run(|| -> Result<()> {
        let mut rt = Rtnl::open()?;
        let idx = rt.link_index(host.port())?;
        Ok(rt.set_port_forwarding(idx, false, host.port())?)
    })
}

/// The host's state vanishes without a packet leaving it. Returns when the
/// power-off was in force on the evidence clock: the moment the host was
/// isolated, its first move. Killing its processes, destroying its sockets
/// and deleting its namespace come after and can take a few hundred ms on a
/// loaded machine; the host's peer already retransmits into the void then.
pub fn power_off(lab: &Lab, host: Host) -> Result<u64> {
    tracing::info!(lab = %lab.id, host = host.name(), "power off");
    // Not one frame leaves: the host's own interface drops everything it would
    // send (a dying host's TCP may notice; it has no future), and its wire
    // port forwards nothing either.
    lab.host(host).run(|| -> Result<()> {
        let idx = crate::tc::ifindex("eth0")?;
        crate::tc::attach_drop_at(idx, crate::tc::Hook::Egress, &DropRule::All)
    })?;
    if lab.wire.is_some() {
        isolate(lab, host)?;
    } else {
        // Direct: the host's end of the cable goes dark, so the survivor loses
        // carrier (the namespace itself may outlive the power-off while the
        // capture holds it).
        lab.host(host).run(|| -> Result<()> {
            let mut rt = Rtnl::open()?;
            let idx = rt.link_index("eth0")?;
            Ok(rt.set_link_up(idx, false, "setting eth0 down")?)
        })?;
    }
    let in_force_ns = crate::sys::now_ns();
    let ns: &NetNs = lab.host(host);
    crate::cleanup::kill_all(ns);
    ns.run(crate::sockdiag::destroy_all_tcp)?;
    ns.delete()?;
    Ok(in_force_ns)
}

/// The host comes back empty: same namespace name, addresses and MAC.
pub fn power_on(lab: &Lab, host: Host) -> Result<()> {
    let ns = lab.host(host);
    let fresh = NetNs::create(ns.name())?;
    debug_assert_eq!(fresh.path(), ns.path());
    lab.replug(host)?;
    if lab.cut.load(Ordering::SeqCst) {
        lab.set_wire_forwarding(false)?;
    }
    Ok(())
}

/// Where a netem qdisc delays `from`'s frames: the egress of the port toward
/// the other host (switched topology only: in the direct topology that would
/// be a host's own interface, which TCP notices).
fn egress_toward(lab: &Lab, from: Host) -> Result<(&NetNs, &'static str)> {
    match &lab.wire {
        Some(w) => Ok((w, from.other().port())),
        None => Err(anyhow!(
            "impair needs the switched topology (netem on a host's own interface changes its TCP)"
        )),
    }
}

/// netem delay / jitter / loss on what `from` sends (needs sch_netem).
pub fn impair(lab: &Lab, from: Host, netem: &teardown_core::scenario::Netem) -> Result<()> {
    let (ns, ifname) = egress_toward(lab, from)?;
    ns.run(|| -> Result<()> {
        let idx = crate::tc::ifindex(ifname)?;
        crate::tc::add_netem_impairment(idx, netem)
    })
}

/// Removes every netem impairment.
pub fn unimpair(lab: &Lab) -> Result<()> {
    for from in [Host::Client, Host::Server] {
        let (ns, ifname) = egress_toward(lab, from)?;
        ns.run(|| -> Result<()> {
            let idx = crate::tc::ifindex(ifname)?;
            crate::tc::remove_root_qdisc(idx)
        })?;
    }
    Ok(())
}

/// The nftables table a `reject` lives in (in the wire namespace, which the
/// lab deletes with everything in it).
const REJECT_TABLE: &str = "td_reject";

/// The `reject with` arguments for IPv4 and IPv6 (nft's names).
fn reject_types(with: RejectWith) -> (&'static str, &'static str) {
    match with {
        RejectWith::HostUnreachable => ("icmp host-unreachable", "icmpv6 addr-unreachable"),
        RejectWith::PortUnreachable => ("icmp port-unreachable", "icmpv6 port-unreachable"),
        RejectWith::AdminProhibited => ("icmp admin-prohibited", "icmpv6 admin-prohibited"),
        RejectWith::NetUnreachable => ("icmp net-unreachable", "icmpv6 no-route"),
    }
}

/// The ruleset that answers the TCP segments `from` sends into the wire with
/// `with`: an nftables netdev-family ingress chain on its wire port (this
/// kernel generation has no bridge-family reject, CONFIG_NFT_BRIDGE_REJECT;
/// nft_reject_netdev builds the ICMP from the segment, with the segment's
/// destination as its source, and sends it back out the same port).
pub fn reject_ruleset(from: Host, with: RejectWith) -> String {
    let (v4, v6) = reject_types(with);
    let port = from.port();
    format!(
        "table netdev {REJECT_TABLE} {{\n  chain {port} {{\n    type filter hook ingress device \"{port}\" priority 0; policy accept;\n    meta protocol ip meta l4proto tcp reject with {v4}\n    meta protocol ip6 meta l4proto tcp reject with {v6}\n  }}\n}}\n"
    )
}

/// The wire answers `from`'s TCP segments with ICMP destination unreachable
/// (switched topology only: the wire is where a router would answer). Runs
/// `nft -f -` inside the wire namespace: the harness speaks no nftables
/// netlink of its own (see README, Dependencies).
pub fn reject(lab: &Lab, from: Host, with: RejectWith) -> Result<()> {
    let wire = lab
        .wire
        .as_ref()
        .ok_or_else(|| anyhow!("reject needs the switched topology (the wire answers)"))?;
    nft_in(wire, &reject_ruleset(from, with))
}

/// Removes every `reject` (the table; nothing to do when there is none).
pub fn unreject(lab: &Lab) -> Result<()> {
    let Some(wire) = lab.wire.as_ref() else {
        return Ok(());
    };
    // `destroy` (nftables 1.0.8+) would not fail on a missing table; add-then-delete does the same everywhere.
    nft_in(
        wire,
        &format!("table netdev {REJECT_TABLE}\ndelete table netdev {REJECT_TABLE}\n"),
    )
}

/// Whether this machine can `reject`: `nft -c` (the kernel checks the batch
/// and commits nothing) of a reject ruleset on the calling thread's `lo`.
pub fn check_reject() -> Result<String> {
    let rules = reject_ruleset(Host::Client, RejectWith::HostUnreachable).replace(
        &format!("device \"{}\"", Host::Client.port()),
        "device \"lo\"",
    );
    nft(&["-c", "-f", "-"], &rules)?;
    Ok("nft -c accepts a netdev ingress reject (icmp and icmpv6)".into())
}

/// `nft -f -` with `script` on stdin, in namespace `ns`; its stderr is the error.
fn nft_in(ns: &NetNs, script: &str) -> Result<()> {
    ns.run(|| nft(&["-f", "-"], script))
}

/// Runs `nft ARGS` with `script` on stdin in the calling thread's namespace.
fn nft(args: &[&str], script: &str) -> Result<()> {
    use std::io::Write;
    let mut child = std::process::Command::new("nft")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| anyhow!("reject needs nft (nftables; `make deps` installs it): {e}"))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(script.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(anyhow!(
            "nft {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reject_answers_the_senders_tcp_on_its_own_port_in_both_families() {
        let r = reject_ruleset(Host::Client, RejectWith::HostUnreachable);
        assert!(
            r.contains("type filter hook ingress device \"c-port\""),
            "{r}"
        );
        assert!(r.contains("meta protocol ip meta l4proto tcp reject with icmp host-unreachable"));
        assert!(
            r.contains("meta protocol ip6 meta l4proto tcp reject with icmpv6 addr-unreachable")
        );
        let r = reject_ruleset(Host::Server, RejectWith::NetUnreachable);
        assert!(
            r.contains("device \"s-port\"") && r.contains("icmpv6 no-route"),
            "{r}"
        );
        assert_eq!(
            reject_types(RejectWith::AdminProhibited),
            ("icmp admin-prohibited", "icmpv6 admin-prohibited")
        );
    }
}
