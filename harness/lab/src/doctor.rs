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

use crate::netns::NetNs;
use crate::rtnl::Rtnl;
use anyhow::{anyhow, Context, Result};
use std::os::fd::AsRawFd;

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
    // The probes that need the throw-away namespace.
    let in_ns = |f: fn(&NetNs) -> Result<String>| -> Result<String> {
        match &scratch {
            Ok(s) => f(&s.0),
            Err(_) => Err(anyhow!("not probed: no network namespace")),
        }
    };
    rows.push(Row::new(
        "veth",
        true,
        "every lab: hosts are joined to the wire by veth pairs",
        in_ns(probe_veth),
    ));
    rows.push(Row::new(
        "veth TSO off + GRO on (ethtool ioctl)",
        false,
        "frames delivered in the order sent (without: two frames a host sends at once from two CPUs may arrive swapped)",
        in_ns(probe_in_order_veth),
    ));
    rows.push(Row::new(
        "bridge",
        true,
        "the switched topology (the default): the wire namespace is a bridge",
        in_ns(probe_bridge),
    ));
    rows.push(Row::new(
        "bpf(2)",
        false,
        "selective drops (by flag, direction, probability) and cut in the direct topology",
        crate::bpf::load(&crate::bpf::DropRule::All).map(|_| "loads SCHED_CLS programs".into()),
    ));
    rows.push(Row::new(
        "bpf array map + atomic fetch-add",
        false,
        "counted drops (`count = N` on a drop: lose the first N matching frames; kernel 5.12+)",
        crate::bpf::Budget::new(1)
            .and_then(|b| crate::bpf::load_counted(&crate::bpf::DropRule::All, Some(&b)))
            .map(|_| "loads a counted drop program".into()),
    ));
    rows.push(Row::new(
        "clsact + cls_bpf direct-action",
        false,
        "selective drops and cut in the direct topology",
        crate::tc::check_clsact_bpf().map(|_| "attaches a drop filter".into()),
    ));
    rows.push(Row::new(
        "sch_netem",
        false,
        "delay, jitter, rate and loss models (a scenario using them ends in error: this kernel lacks sch_netem)",
        crate::tc::check_netem().map(|_| "adds a netem qdisc".into()),
    ));
    rows.push(Row::new(
        "nftables",
        false,
        "nothing in the harness (informational: for poking around by hand with nft)",
        in_ns(probe_nftables),
    ));
    rows.push(Row::new(
        "sock_diag SOCK_DESTROY",
        true,
        "clean teardown of orphans: a deleted namespace lingers ~100 s while an orphan retransmits",
        in_ns(probe_sock_destroy),
    ));
    rows.push(Row::new(
        "tcp_rto_min_us sysctl (6.11+)",
        false,
        "scenarios that set net.ipv4.tcp_rto_min_us",
        in_ns(|ns| ns.run(|| sysctl_value("net.ipv4.tcp_rto_min_us"))?),
    ));
    rows.push(Row::new(
        "tcp_rto_max_ms + TCP_RTO_MAX_MS (6.15+)",
        false,
        "scenarios that set rto_max or net.ipv4.tcp_rto_max_ms (shorter retransmission budgets)",
        in_ns(probe_rto_max),
    ));
    rows.push(Row::new(
        "tcp_child_ehash_entries (5.19+)",
        false,
        "a private TCP hash per lab namespace: each socket sample then walks the host's whole hash (CPU)",
        in_ns(|ns| {
            ns.run(|| {
                sysctl_value("net.ipv4.tcp_child_ehash_entries")
                    .and(sysctl_value("net.ipv4.tcp_ehash_entries"))
            })?
        }),
    ));
    drop(scratch);
    rows
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
        crate::topology::add_veth(
            &mut rt,
            "td-probe0",
            None,
            "td-probe1",
            own.as_raw_fd(),
            crate::topology::CLIENT_MAC,
        )?;
        crate::topology::link_index(&mut rt, "td-probe1")?;
        Ok("created a veth pair".into())
    })?
}

/// The veth pair [`probe_veth`] made, set to keep frames in order.
fn probe_in_order_veth(ns: &NetNs) -> Result<String> {
    ns.run(|| -> Result<String> {
        crate::topology::keep_frames_in_order("td-probe0")?;
        crate::topology::keep_frames_in_order("td-probe1")?;
        Ok("set TSO off and GRO on".into())
    })?
}

fn probe_bridge(ns: &NetNs) -> Result<String> {
    ns.run(|| -> Result<String> {
        let mut rt = Rtnl::open()?;
        crate::topology::add_bridge(&mut rt, "td-br0")?;
        crate::topology::link_index(&mut rt, "td-br0")?;
        Ok("created a bridge".into())
    })?
}

/// A TCP listener on loopback, destroyed through sock_diag: it must be gone after.
fn probe_sock_destroy(ns: &NetNs) -> Result<String> {
    ns.run(|| -> Result<String> {
        let mut rt = Rtnl::open()?;
        let lo = crate::topology::link_index(&mut rt, "lo")?;
        crate::topology::set_link_up(&mut rt, lo, true, "setting lo up")?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("a loopback listener")?;
        let addr = listener.local_addr()?;
        let mut diag = crate::sockdiag::Diag::open()?;
        let find = |diag: &mut crate::sockdiag::Diag| -> Result<Option<crate::sockdiag::DiagSock>> {
            Ok(diag.dump()?.into_iter().find(|s| s.local() == addr))
        };
        let sock = find(&mut diag)?
            .ok_or_else(|| anyhow!("sock_diag does not list the listener on {addr}"))?;
        diag.destroy(&sock)?
            .map_err(|e| anyhow!("SOCK_DESTROY: {}", teardown_core::errno::name(e)))?;
        if let Some(s) = find(&mut diag)? {
            return Err(anyhow!(
                "SOCK_DESTROY answered ok but the listener is still {}",
                crate::sockdiag::state_name(s.state)
            ));
        }
        drop(listener);
        Ok("destroyed a loopback listener".into())
    })?
}

/// Both knobs of 6.15: the sysctl and the socket option.
fn probe_rto_max(ns: &NetNs) -> Result<String> {
    ns.run(|| -> Result<String> {
        let sysctl = sysctl_value("net.ipv4.tcp_rto_max_ms")?;
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .context("a TCP socket")?;
        crate::endpoint::set_rto_max_ms(sock.as_raw_fd(), 5000)
            .map_err(|e| anyhow!("setsockopt TCP_RTO_MAX_MS: {}", crate::sys::errno_of_io(&e)))?;
        let back = crate::endpoint::rto_max_ms(sock.as_raw_fd())
            .map_err(|e| anyhow!("getsockopt TCP_RTO_MAX_MS: {}", crate::sys::errno_of_io(&e)))?;
        if back != 5000 {
            return Err(anyhow!("TCP_RTO_MAX_MS set to 5000 reads back {back}"));
        }
        Ok(format!("{sysctl}; TCP_RTO_MAX_MS settable"))
    })?
}

/// NFT_MSG_GETGEN over NETLINK_NETFILTER: the ruleset generation, as `nft` asks first.
fn probe_nftables(ns: &NetNs) -> Result<String> {
    ns.run(nft_getgen)?
}

const NETLINK_NETFILTER: isize = 12;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWGEN: u16 = 15;
const NFT_MSG_GETGEN: u16 = 16;
const NFTA_GEN_ID: u16 = 1;
const NLMSG_ERROR: u16 = 2;

fn nft_getgen() -> Result<String> {
    use netlink_sys::{Socket, SocketAddr};
    let mut sock = Socket::new(NETLINK_NETFILTER)
        .map_err(|e| anyhow!("NETLINK_NETFILTER socket: {}", crate::sys::errno_of_io(&e)))?;
    sock.bind_auto()
        .map_err(|e| anyhow!("binding NETLINK_NETFILTER: {}", crate::sys::errno_of_io(&e)))?;
    sock.connect(&SocketAddr::new(0, 0)).map_err(|e| {
        anyhow!(
            "connecting NETLINK_NETFILTER: {}",
            crate::sys::errno_of_io(&e)
        )
    })?;
    nix::sys::socket::setsockopt(
        &sock,
        nix::sys::socket::sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(2, 0),
    )
    .map_err(|e| anyhow!("SO_RCVTIMEO: {}", teardown_core::errno::name(e as i32)))?;
    let req = getgen_request(1);
    sock.send(&req, 0)
        .map_err(|e| anyhow!("NFT_MSG_GETGEN: sending: {}", crate::sys::errno_of_io(&e)))?;
    let mut generation = None;
    loop {
        let mut buf = vec![0u8; 8192];
        let n = sock
            .recv(&mut &mut buf[..], 0)
            .map_err(|e| anyhow!("NFT_MSG_GETGEN: receiving: {}", crate::sys::errno_of_io(&e)))?;
        buf.truncate(n);
        match parse_getgen_answer(&buf, 1) {
            GetGen::Generation(g) => generation = Some(g),
            GetGen::Ack => {
                return generation
                    .map(|g| format!("ruleset generation {g}"))
                    .ok_or_else(|| anyhow!("NFT_MSG_GETGEN: acknowledged without an answer"))
            }
            GetGen::Error(e) => {
                return Err(anyhow!("NFT_MSG_GETGEN: {}", teardown_core::errno::name(e)))
            }
            GetGen::More => {}
        }
    }
}

/// nlmsghdr + nfgenmsg (AF_UNSPEC, NFNETLINK_V0, res_id 0), NLM_F_REQUEST | NLM_F_ACK.
fn getgen_request(seq: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(20);
    b.extend_from_slice(&20u32.to_ne_bytes());
    b.extend_from_slice(&(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETGEN).to_ne_bytes());
    b.extend_from_slice(&(0x1u16 | 0x4).to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&[0, 0, 0, 0]);
    b
}

#[derive(Debug, PartialEq, Eq)]
enum GetGen {
    Generation(u32),
    Ack,
    Error(i32),
    More,
}

/// Reads one datagram of answers to request `seq`. Never panics on any input.
fn parse_getgen_answer(buf: &[u8], seq: u32) -> GetGen {
    let u32_at = |b: &[u8], o: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(o..o + 4)?.try_into().ok()?))
    };
    let u16_at = |b: &[u8], o: usize| -> Option<u16> {
        Some(u16::from_ne_bytes(b.get(o..o + 2)?.try_into().ok()?))
    };
    let mut out = GetGen::More;
    let mut off = 0;
    while let (Some(len), Some(kind), Some(s)) =
        (u32_at(buf, off), u16_at(buf, off + 4), u32_at(buf, off + 8))
    {
        let len = len as usize;
        if len < 16 || off + len > buf.len() {
            break;
        }
        let msg = &buf[off..off + len];
        if s == seq {
            if kind == NLMSG_ERROR {
                let code = u32_at(msg, 16).map(|c| c as i32).unwrap_or(-libc::EPROTO);
                return if code == 0 {
                    GetGen::Ack
                } else {
                    GetGen::Error(-code)
                };
            }
            if kind == NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWGEN {
                // Attributes after nlmsghdr (16) and nfgenmsg (4); NFTA_GEN_ID is big-endian.
                let mut a = 20;
                while let (Some(alen), Some(atype)) = (u16_at(msg, a), u16_at(msg, a + 2)) {
                    let alen = alen as usize;
                    if alen < 4 {
                        break;
                    }
                    if atype & 0x3fff == NFTA_GEN_ID {
                        if let Some(v) = u32_at(msg, a + 4) {
                            out = GetGen::Generation(u32::from_be(v));
                        }
                    }
                    a += (alen + 3) & !3;
                }
            }
        }
        off += (len + 3) & !3;
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
        let r = getgen_request(7);
        assert_eq!(r.len(), 20);
        assert_eq!(u16::from_ne_bytes([r[4], r[5]]), 0x0a10);
        assert_eq!(u16::from_ne_bytes([r[6], r[7]]), 0x5);
        assert_eq!(u32::from_ne_bytes([r[8], r[9], r[10], r[11]]), 7);
    }

    #[test]
    fn getgen_answers_parse_and_never_panic() {
        let mut gen = Vec::new();
        gen.extend_from_slice(&28u32.to_ne_bytes());
        gen.extend_from_slice(&0x0a0fu16.to_ne_bytes());
        gen.extend_from_slice(&0u16.to_ne_bytes());
        gen.extend_from_slice(&3u32.to_ne_bytes());
        gen.extend_from_slice(&0u32.to_ne_bytes());
        gen.extend_from_slice(&[0, 0, 0, 0]);
        gen.extend_from_slice(&8u16.to_ne_bytes());
        gen.extend_from_slice(&1u16.to_ne_bytes());
        gen.extend_from_slice(&42u32.to_be_bytes());
        assert_eq!(parse_getgen_answer(&gen, 3), GetGen::Generation(42));
        assert_eq!(parse_getgen_answer(&gen, 4), GetGen::More);
        let mut err = Vec::new();
        err.extend_from_slice(&36u32.to_ne_bytes());
        err.extend_from_slice(&2u16.to_ne_bytes());
        err.extend_from_slice(&0u16.to_ne_bytes());
        err.extend_from_slice(&3u32.to_ne_bytes());
        err.extend_from_slice(&0u32.to_ne_bytes());
        err.extend_from_slice(&(-libc::EOPNOTSUPP).to_ne_bytes());
        err.extend_from_slice(&[0; 16]);
        assert_eq!(
            parse_getgen_answer(&err, 3),
            GetGen::Error(libc::EOPNOTSUPP)
        );
        for cut in 0..gen.len() {
            let _ = parse_getgen_answer(&gen[..cut], 3);
            let _ = parse_getgen_answer(&err[..cut.min(err.len())], 3);
        }
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
