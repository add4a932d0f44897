//! `teardown doctor`: which kernel features this machine offers, and what a
//! missing one disables.
//!
//! Contract:
//! - Without root or CAP_NET_ADMIN it exits 3 ("needs root or CAP_NET_ADMIN")
//!   before probing anything.
//! - Every probe tries the real thing (create a namespace, a veth pair, a
//!   bridge, a qdisc, a filter, destroy a socket, read a sysctl) inside
//!   throw-away namespaces (`td-doctor-<pid>`, and `td-probe-*` for the tc
//!   probes), which are deleted on every path, panics included: nothing is
//!   created in the root namespace and nothing is left behind.
//! - It prints one row per feature: ok or missing, essential or optional,
//!   and for a missing one what it disables and the kernel's reason. Exit 3
//!   when an essential feature is missing, 0 otherwise.

use crate::netlink::{NlError, NlSocket};
use crate::netns::NetNs;
use crate::rtnl::Rtnl;
use crate::sys::refused_io;
use anyhow::{anyhow, Result};
use std::os::fd::AsFd;
use teardown_core::scenario::Feature;

/// One feature's verdict.
#[derive(Debug, Clone)]
pub struct Row {
    pub feature: &'static str,
    pub essential: bool,
    /// `Ok(detail)` when present, `Err(reason)` when missing.
    pub result: std::result::Result<String, String>,
    /// What the harness cannot do without it.
    pub disables: &'static str,
}

impl Row {
    fn new(
        feature: &'static str,
        essential: bool,
        disables: &'static str,
        result: Result<String>,
    ) -> Row {
        Row {
            feature,
            essential,
            result: result.map_err(|e| format!("{e:#}")),
            disables,
        }
    }

    pub fn ok(&self) -> bool {
        self.result.is_ok()
    }
}

/// Deletes the throw-away namespace however the probes end.
struct Scratch(NetNs);

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = self.0.delete() {
            eprintln!("teardown doctor: removing {}: {e:#}", self.0.name());
        }
    }
}

/// Runs every probe (root is checked by the caller) and returns the rows.
pub fn probe_all() -> Vec<Row> {
    let mut rows = vec![Row::new(
        "root or CAP_NET_ADMIN",
        true,
        "everything: every lab is made of network namespaces",
        Ok(if nix::unistd::Uid::effective().is_root() {
            "root".into()
        } else {
            "CAP_NET_ADMIN".into()
        }),
    )];
    let name = format!("td-doctor-{}", std::process::id());
    let scratch = NetNs::create(&name).map(Scratch);
    let ns_result = match &scratch {
        Ok(_) => Ok(format!("created and deleted {name}")),
        Err(e) => Err(anyhow!("{e:#}")),
    };
    rows.push(Row::new(
        "network namespaces",
        true,
        "everything: every lab is made of network namespaces",
        ns_result,
    ));
    let ns = scratch.as_ref().ok().map(|s| &s.0);
    rows.extend(link_rows(ns));
    rows.extend(fault_rows());
    rows.extend(socket_rows(ns));
    drop(scratch);
    rows
}

/// Whether this kernel has what a scenario needs ([`Feature`]), probed as
/// the doctor's row of that feature is, in throw-away namespaces deleted on
/// every path: `Ok(detail)`, or `Err(reason)` in the doctor's words.
pub fn probe_feature(f: &Feature) -> std::result::Result<String, String> {
    let result = match f {
        Feature::Netem => crate::tc::check_netem().map(|_| "adds a netem qdisc".into()),
        Feature::NetdevReject => in_scratch(|ns| ns.run(crate::fault::check_reject)),
        Feature::RtoMaxOption => in_scratch(probe_rto_max),
        Feature::Sysctl(key) => {
            let probe = on_loopback(key);
            in_scratch(|ns| ns.run(|| sysctl_value(&probe)))
        }
    };
    result.map_err(|e| format!("{e:#}"))
}

/// A per-device sysctl (`net.ipv4.neigh.eth0.base_reachable_time_ms`) is
/// probed on the throw-away namespace's loopback: it has no eth0, and no
/// `neigh.default` either (the kernel registers that table in the initial
/// namespace only; measured on 6.18), but every namespace has `lo`.
fn on_loopback(key: &str) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        ["net", family, table @ ("neigh" | "conf"), dev, rest @ ..]
            if !matches!(*dev, "default" | "all") && !rest.is_empty() =>
        {
            format!("net.{family}.{table}.lo.{}", rest.join("."))
        }
        _ => key.to_string(),
    }
}

/// A sysctl's value as a new network namespace of this kernel has it (its
/// default), or why there is none.
pub fn default_sysctl(key: &str) -> std::result::Result<String, String> {
    in_scratch(|ns| ns.run(|| crate::topology::read_sysctl(key)))
        .map(|v| v.trim().to_string())
        .map_err(|e| format!("{e:#}"))
}

/// `probe` in a throw-away namespace of its own, deleted on every path.
fn in_scratch<T>(probe: impl FnOnce(&NetNs) -> Result<T>) -> Result<T> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "td-doctor-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let scratch = Scratch(NetNs::create(&name)?);
    probe(&scratch.0)
}

/// A probe that needs the throw-away namespace `ns`.
fn in_ns(ns: Option<&NetNs>, probe: fn(&NetNs) -> Result<String>) -> Result<String> {
    match ns {
        Some(ns) => probe(ns),
        None => Err(anyhow!("not probed: no network namespace")),
    }
}

/// Links: veth, in-order veths, bridge.
fn link_rows(ns: Option<&NetNs>) -> Vec<Row> {
    vec![
        Row::new(
            "veth",
            true,
            "every lab: hosts are joined to the wire by veth pairs",
            in_ns(ns, probe_veth),
        ),
        Row::new(
            "veth TSO off + GRO on (ethtool ioctl)",
            false,
            "frames delivered in the order sent (without: two frames a host sends at once from two CPUs may arrive swapped)",
            in_ns(ns, probe_in_order_veth),
        ),
        Row::new(
            "veth GRO size limit (IFLA_GRO_MAX_SIZE)",
            false,
            "captures as a cable carries them: each frame as sent, no longer than the MTU (without: GRO coalesces a burst into one large frame on the capture port)",
            in_ns(ns, probe_cable_port),
        ),
        Row::new(
            "bridge",
            true,
            "the switched topology (the default): the wire namespace is a bridge",
            in_ns(ns, probe_bridge),
        ),
    ]
}

/// Faults: eBPF programs and maps, clsact + cls_bpf, netem.
fn fault_rows() -> Vec<Row> {
    vec![
        Row::new(
            "bpf(2)",
            false,
            "selective drops (by flag, direction, probability) and cut in the direct topology",
            crate::bpf::load(&crate::bpf::DropRule::All).map(|_| "loads SCHED_CLS programs".into()),
        ),
        Row::new(
            "bpf array map + atomic fetch-add",
            false,
            "counted drops (`count = N` on a drop: lose the first N matching frames; kernel 5.12+)",
            crate::bpf::Budget::new(1)
                .and_then(|b| crate::bpf::load_counted(&crate::bpf::DropRule::All, Some(&b)))
                .map(|_| "loads a counted drop program".into()),
        ),
        Row::new(
            "clsact + cls_bpf direct-action",
            false,
            "selective drops and cut in the direct topology",
            crate::tc::check_clsact_bpf().map(|_| "attaches a drop filter".into()),
        ),
        Row::new(
            "sch_netem",
            false,
            "delay, jitter, rate and loss models (a scenario using them ends in error: this kernel lacks sch_netem)",
            crate::tc::check_netem().map(|_| "adds a netem qdisc".into()),
        ),
    ]
}

/// Sockets and the kernel's TCP knobs (nftables too, informational).
fn socket_rows(ns: Option<&NetNs>) -> Vec<Row> {
    vec![
        Row::new(
            "nftables",
            false,
            "nothing in the harness by itself (the reject row below needs it)",
            in_ns(ns, probe_nftables),
        ),
        Row::new(
            "nft netdev reject (nft, NFT_REJECT_NETDEV)",
            false,
            "`reject` steps: the wire answers with ICMP destination unreachable (x-icmp-*)",
            in_ns(ns, |ns| ns.run(crate::fault::check_reject)),
        ),
        Row::new(
            "sock_diag SOCK_DESTROY",
            true,
            "clean teardown of orphans: a deleted namespace lingers ~100 s while an orphan retransmits",
            in_ns(ns, probe_sock_destroy),
        ),
        Row::new(
            "tcp_rto_min_us sysctl (6.11+)",
            false,
            "scenarios that set net.ipv4.tcp_rto_min_us",
            in_ns(ns, |ns| ns.run(|| sysctl_value("net.ipv4.tcp_rto_min_us"))),
        ),
        Row::new(
            "tcp_rto_max_ms + TCP_RTO_MAX_MS (6.15+)",
            false,
            "scenarios that set rto_max or net.ipv4.tcp_rto_max_ms (shorter retransmission budgets)",
            in_ns(ns, probe_rto_max),
        ),
        Row::new(
            "tcp_child_ehash_entries (5.19+)",
            false,
            "a private TCP hash per lab namespace: each socket sample then walks the host's whole hash (CPU)",
            in_ns(ns, |ns| {
                ns.run(|| {
                    sysctl_value("net.ipv4.tcp_child_ehash_entries")
                        .and(sysctl_value("net.ipv4.tcp_ehash_entries"))
                })
            }),
        ),
    ]
}

fn sysctl_value(key: &str) -> Result<String> {
    crate::topology::read_sysctl(key)
        .map(|v| format!("{key} = {v}"))
        .map_err(|e| anyhow!("{e:#} (the kernel has no such sysctl)"))
}

/// A veth pair inside the namespace (both ends there), over rtnetlink.
fn probe_veth(ns: &NetNs) -> Result<String> {
    let own = ns.file()?;
    ns.run(|| -> Result<String> {
        let mut rt = Rtnl::open()?;
        rt.add_veth(
            "td-probe0",
            None,
            "td-probe1",
            own.as_fd(),
            crate::topology::CLIENT_MAC,
        )?;
        rt.link_index("td-probe1")?;
        Ok("created a veth pair".into())
    })
}

/// The veth pair [`probe_veth`] made, set to keep frames in order.
fn probe_in_order_veth(ns: &NetNs) -> Result<String> {
    ns.run(|| -> Result<String> {
        crate::topology::keep_frames_in_order("td-probe0")?;
        crate::topology::keep_frames_in_order("td-probe1")?;
        Ok("set TSO off and GRO on".into())
    })
}

/// One end of [`probe_veth`]'s pair made a capture port: GRO merging nothing.
fn probe_cable_port(ns: &NetNs) -> Result<String> {
    ns.run(|| -> Result<String> {
        crate::topology::make_cable_port("td-probe1")?;
        if !crate::topology::is_cable_port("td-probe1")? {
            return Err(anyhow!(
                "the XDP program or GRO off did not hold on td-probe1"
            ));
        }
        Ok("attached XDP_PASS in driver mode, GRO off".into())
    })
}

fn probe_bridge(ns: &NetNs) -> Result<String> {
    ns.run(|| -> Result<String> {
        let mut rt = Rtnl::open()?;
        rt.add_bridge("td-br0")?;
        rt.link_index("td-br0")?;
        Ok("created a bridge".into())
    })
}

/// A TCP listener on loopback, destroyed through sock_diag: it must be gone after.
fn probe_sock_destroy(ns: &NetNs) -> Result<String> {
    ns.run(|| -> Result<String> {
        let mut rt = Rtnl::open()?;
        let lo = rt.link_index("lo")?;
        rt.set_link_up(lo, true, "setting lo up")?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| refused_io("a loopback listener", &e))?;
        let addr = listener.local_addr()?;
        let mut diag = crate::sockdiag::Diag::open()?;
        let find = |diag: &mut crate::sockdiag::Diag| -> Result<Option<crate::sockdiag::DiagSock>> {
            Ok(diag.dump()?.into_iter().find(|s| s.local() == addr))
        };
        let sock = find(&mut diag)?
            .ok_or_else(|| anyhow!("sock_diag does not list the listener on {addr}"))?;
        diag.destroy(&sock)?;
        if let Some(s) = find(&mut diag)? {
            return Err(anyhow!(
                "SOCK_DESTROY answered ok but the listener is still there: {}",
                s.describe()
            ));
        }
        drop(listener);
        Ok("destroyed a loopback listener".into())
    })
}

/// Both knobs of 6.15: the sysctl and the socket option.
fn probe_rto_max(ns: &NetNs) -> Result<String> {
    ns.run(|| -> Result<String> {
        let sysctl = sysctl_value("net.ipv4.tcp_rto_max_ms")?;
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .map_err(|e| refused_io("a TCP socket", &e))?;
        crate::sys::set_tcp_rto_max_ms(sock.as_fd(), 5000)
            .map_err(|e| refused_io("setsockopt TCP_RTO_MAX_MS", &e))?;
        let back = crate::sys::tcp_rto_max_ms(sock.as_fd())
            .map_err(|e| refused_io("getsockopt TCP_RTO_MAX_MS", &e))?;
        if back != 5000 {
            return Err(anyhow!("TCP_RTO_MAX_MS set to 5000 reads back {back}"));
        }
        Ok(format!("{sysctl}; TCP_RTO_MAX_MS settable"))
    })
}

/// NFT_MSG_GETGEN over NETLINK_NETFILTER: the ruleset generation, as `nft` asks first.
fn probe_nftables(ns: &NetNs) -> Result<String> {
    ns.run(nft_getgen)
}

const NETLINK_NETFILTER: isize = 12;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWGEN: u16 = 15;
const NFT_MSG_GETGEN: u16 = 16;
const NFTA_GEN_ID: u16 = 1;

/// NFT_MSG_GETGEN: nlmsghdr + nfgenmsg (AF_UNSPEC, NFNETLINK_V0, res_id 0).
struct GetGen;

impl netlink_packet_core::NetlinkSerializable for GetGen {
    fn message_type(&self) -> u16 {
        NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETGEN
    }
    fn buffer_len(&self) -> usize {
        4
    }
    fn serialize(&self, buffer: &mut [u8]) {
        buffer.fill(0);
    }
}

fn nft_getgen() -> Result<String> {
    let mut nl = NlSocket::open(NETLINK_NETFILTER, "NETLINK_NETFILTER")?;
    nl.set_receive_timeout(std::time::Duration::from_secs(2))?;
    let mut generation = None;
    nl.request(GetGen, 0, "NFT_MSG_GETGEN", |m| {
        if m.kind == NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWGEN {
            generation = generation_of(m.payload()).or(generation);
        }
        Ok::<(), NlError>(())
    })?;
    generation
        .map(|g| format!("ruleset generation {g}"))
        .ok_or_else(|| anyhow!("NFT_MSG_GETGEN: acknowledged without an answer"))
}

/// NFTA_GEN_ID (big-endian) of an NFT_MSG_NEWGEN payload: the attributes
/// after nfgenmsg (4 bytes). Never panics on any input.
fn generation_of(payload: &[u8]) -> Option<u32> {
    let u16_at = |o: usize| -> Option<u16> {
        Some(u16::from_ne_bytes(payload.get(o..o + 2)?.try_into().ok()?))
    };
    let mut out = None;
    let mut a = 4;
    while let (Some(alen), Some(atype)) = (u16_at(a), u16_at(a + 2)) {
        let alen = alen as usize;
        if alen < 4 {
            break;
        }
        if atype & 0x3fff == NFTA_GEN_ID {
            if let Some(v) = payload.get(a + 4..a + 8) {
                out = Some(u32::from_be_bytes(v.try_into().ok()?));
            }
        }
        a += (alen + 3) & !3;
    }
    out
}

/// Renders the table (pure).
pub fn table(kernel: &str, rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.feature.len()).max().unwrap_or(10);
    let mut s = format!("kernel {kernel}\n\n");
    s.push_str(&format!(
        "{:<width$}  {:<7}  {:<9}  notes\n",
        "feature", "status", "need"
    ));
    for r in rows {
        let need = if r.essential { "essential" } else { "optional" };
        match &r.result {
            Ok(detail) => s.push_str(&format!("{:<width$}  {:<7}  {need:<9}  {detail}\n", r.feature, "ok")),
            Err(reason) => s.push_str(&format!(
                "{:<width$}  {:<7}  {need:<9}  disables: {}\n{:<width$}  {:<7}  {:<9}  reason: {reason}\n",
                r.feature, "missing", r.disables, "", "", ""
            )),
        }
    }
    let missing: Vec<&str> = rows
        .iter()
        .filter(|r| r.essential && !r.ok())
        .map(|r| r.feature)
        .collect();
    if missing.is_empty() {
        s.push_str("\nevery essential feature is present: teardown run works here\n");
    } else {
        s.push_str(&format!(
            "\nmissing essential: {}: teardown run cannot work here\n",
            missing.join(", ")
        ));
    }
    s
}

/// 3 when an essential feature is missing, else 0.
pub fn exit_code(rows: &[Row]) -> i32 {
    if rows.iter().all(|r| !r.essential || r.ok()) {
        0
    } else {
        3
    }
}

pub fn doctor_main() -> Result<i32> {
    crate::sys::require_root()?;
    let rows = probe_all();
    print!("{}", table(&crate::sys::kernel_release(), &rows));
    Ok(exit_code(&rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getgen_request_is_the_nft_wire_format() {
        use netlink_packet_core::NetlinkSerializable;
        assert_eq!(GetGen.message_type(), 0x0a10);
        assert_eq!(GetGen.buffer_len(), 4);
        let mut b = [9u8; 4];
        GetGen.serialize(&mut b);
        assert_eq!(b, [0; 4]);
    }

    #[test]
    fn generation_ids_parse_and_never_panic() {
        let mut gen = vec![0u8; 4];
        gen.extend_from_slice(&8u16.to_ne_bytes());
        gen.extend_from_slice(&1u16.to_ne_bytes());
        gen.extend_from_slice(&42u32.to_be_bytes());
        assert_eq!(generation_of(&gen), Some(42));
        for cut in 0..gen.len() {
            assert_eq!(generation_of(&gen[..cut]), None);
        }
        let mut junk = vec![0u8; 4];
        junk.extend_from_slice(&[0xff; 9]);
        let _ = generation_of(&junk);
    }

    #[test]
    fn table_names_what_a_missing_feature_disables() {
        let rows = vec![
            Row::new("veth", true, "every lab", Ok("created".into())),
            Row::new("sch_netem", false, "delay models", Err(anyhow!("ENOENT"))),
        ];
        let t = table("6.18", &rows);
        assert!(t.contains("sch_netem") && t.contains("missing"), "{t}");
        assert!(t.contains("disables: delay models") && t.contains("reason: ENOENT"));
        assert_eq!(exit_code(&rows), 0);
        let rows = vec![Row::new(
            "veth",
            true,
            "every lab",
            Err(anyhow!("EOPNOTSUPP")),
        )];
        assert_eq!(exit_code(&rows), 3);
        assert!(table("6.18", &rows).contains("missing essential: veth"));
    }
}
