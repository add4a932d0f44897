//! Traffic control over rtnetlink: attach and detach the eBPF drop programs
//! of [`crate::bpf`], and probe which qdiscs and classifiers the kernel has.
//! No `tc` binary is involved.
//!
//! Contract:
//! - Every function acts on the network namespace of the **calling thread**
//!   (run it inside [`crate::netns::NetNs::run`]); the netlink socket is
//!   opened on that thread and closed before returning.
//! - [`attach_drop`] ensures a `clsact` qdisc on the interface (one already
//!   there is fine) and adds a cls_bpf direct-action filter for every
//!   protocol (ETH_P_ALL) on its ingress hook; [`attach_drop_at`] picks
//!   ingress or egress. Several rules on one interface stack up: a frame is
//!   dropped if any of them drops it.
//! - [`detach_all`] deletes the clsact qdisc, and with it every filter on
//!   both hooks; it succeeds when there is none.
//! - Probes ([`has_netem`], [`has_clsact_bpf`]) work in a throw-away
//!   namespace of their own and leave nothing behind.
//! - Errors name the step and the errno, e.g.
//!   `adding cls_bpf filter on ifindex 7: EINVAL`.

use crate::bpf::{self, DropRule};
use crate::netlink::NlError;
use crate::rtnl::Rtnl;
use anyhow::{Context, Result};
use netlink_packet_core::{DefaultNla, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::tc::{
    TcAttribute, TcBpfFlags, TcFilterBpfOption, TcHandle, TcHeader, TcMessage, TcOption,
};
use netlink_packet_route::RouteNetlinkMessage;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU32, Ordering};

/// The clsact qdisc's parent (TC_H_CLSACT, the same value as TC_H_INGRESS).
pub const TC_H_CLSACT: u32 = 0xFFFF_FFF1;
/// The clsact qdisc's own handle (ffff:).
pub const CLSACT_HANDLE: u32 = 0xFFFF_0000;
/// Filter parent for the ingress hook: TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS).
pub const INGRESS_PARENT: u32 = 0xFFFF_FFF2;
/// Filter parent for the egress hook: TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS).
pub const EGRESS_PARENT: u32 = 0xFFFF_FFF3;
const ETH_P_ALL: u16 = 0x0003;
const TCA_OPTIONS: u16 = 2;

/// Which clsact hook a filter goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// Frames the interface receives.
    Ingress,
    /// Frames the interface sends.
    Egress,
}

/// Sends one rtnetlink request with NLM_F_ACK on a fresh socket (in the
/// calling thread's namespace) and waits for the kernel's answer. Returns
/// the errno the kernel reports (`Err(NlError)`), or Ok on an ACK.
fn request(msg: RouteNetlinkMessage, flags: u16, step: &str) -> Result<(), NlError> {
    Rtnl::open()?.request(msg, flags, step)
}

fn tc_message(ifindex: u32, parent: u32, handle: u32, info: u32) -> TcMessage {
    let mut m = TcMessage::with_index(ifindex as i32);
    m.header = TcHeader {
        index: ifindex as i32,
        parent: TcHandle::from(parent),
        handle: TcHandle::from(handle),
        info,
        ..TcHeader::default()
    };
    m
}

/// RTM_NEWQDISC clsact on `ifindex`; an existing clsact (EEXIST) is fine.
pub fn ensure_clsact(ifindex: u32) -> Result<()> {
    let mut m = tc_message(ifindex, TC_H_CLSACT, CLSACT_HANDLE, 0);
    m.attributes.push(TcAttribute::Kind("clsact".into()));
    match request(
        RouteNetlinkMessage::NewQueueDiscipline(m),
        NLM_F_CREATE | NLM_F_EXCL,
        &format!("adding clsact qdisc on ifindex {ifindex}"),
    ) {
        Ok(()) => Ok(()),
        Err(e) if e.errno == libc::EEXIST => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Adds a cls_bpf direct-action filter running the already loaded program
/// `prog_fd` (named `name`) on `hook`, for every protocol, at a priority the
/// kernel picks. The filter keeps its own reference to the program.
pub fn add_bpf_filter(ifindex: u32, hook: Hook, prog: BorrowedFd<'_>, name: &str) -> Result<()> {
    let parent = match hook {
        Hook::Ingress => INGRESS_PARENT,
        Hook::Egress => EGRESS_PARENT,
    };
    // tcm_info = TC_H_MAKE(prio << 16, htons(protocol)); prio 0: the kernel picks.
    let info = ETH_P_ALL.to_be() as u32;
    let mut m = tc_message(ifindex, parent, 0, info);
    m.attributes.push(TcAttribute::Kind("bpf".into()));
    m.attributes.push(TcAttribute::Options(vec![
        TcOption::Bpf(TcFilterBpfOption::ProgFd(prog.as_raw_fd() as u32)),
        TcOption::Bpf(TcFilterBpfOption::ProgName(name.to_string())),
        TcOption::Bpf(TcFilterBpfOption::Flags(TcBpfFlags::DirectAction)),
    ]));
    request(
        RouteNetlinkMessage::NewTrafficFilter(m),
        NLM_F_CREATE | NLM_F_EXCL,
        &format!("adding cls_bpf filter on ifindex {ifindex}"),
    )?;
    Ok(())
}

/// Drops what `rule` names among the frames `ifindex` receives.
pub fn attach_drop(ifindex: u32, rule: &DropRule) -> Result<()> {
    attach_drop_at(ifindex, Hook::Ingress, rule)
}

/// Drops what `rule` names on one hook of `ifindex`.
pub fn attach_drop_at(ifindex: u32, hook: Hook, rule: &DropRule) -> Result<()> {
    attach_counted_drop_at(ifindex, hook, rule, None)
}

/// Drops what `rule` names on one hook of `ifindex`, at most as many frames
/// as `budget` holds when given.
pub fn attach_counted_drop_at(
    ifindex: u32,
    hook: Hook,
    rule: &DropRule,
    budget: Option<&bpf::Budget>,
) -> Result<()> {
    let prog = bpf::load_counted(rule, budget)?;
    ensure_clsact(ifindex)?;
    add_bpf_filter(ifindex, hook, prog.as_fd(), &rule.name())
    // `prog` closes here; the filter holds the program (and the program its budget).
}

/// Deletes the clsact qdisc of `ifindex` and every filter on it. Ok when
/// there is none.
pub fn detach_all(ifindex: u32) -> Result<()> {
    let m = tc_message(ifindex, TC_H_CLSACT, CLSACT_HANDLE, 0);
    match request(
        RouteNetlinkMessage::DelQueueDiscipline(m),
        0,
        &format!("deleting clsact qdisc on ifindex {ifindex}"),
    ) {
        Ok(()) => Ok(()),
        // No clsact there: EINVAL ("cannot find specified qdisc") or ENOENT.
        Err(e) if e.errno == libc::EINVAL || e.errno == libc::ENOENT => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The index of interface `name` in the calling thread's namespace.
pub use crate::rtnl::ifindex;

/// RTM_NEWQDISC netem as root qdisc of `ifindex`, with a minimal
/// `struct tc_netem_qopt` (limit 1000, no impairment).
fn add_netem(ifindex: u32) -> Result<(), NlError> {
    let mut qopt = Vec::with_capacity(24);
    for v in [0u32, 1000, 0, 0, 0, 0] {
        // latency, limit, loss, gap, duplicate, jitter
        qopt.extend_from_slice(&v.to_ne_bytes());
    }
    let mut m = tc_message(ifindex, 0xFFFF_FFFF, 0x0001_0000, 0);
    m.attributes.push(TcAttribute::Kind("netem".into()));
    m.attributes
        .push(TcAttribute::Other(DefaultNla::new(TCA_OPTIONS, qopt)));
    request(
        RouteNetlinkMessage::NewQueueDiscipline(m),
        NLM_F_CREATE | NLM_F_EXCL,
        &format!("adding netem qdisc on ifindex {ifindex}"),
    )
}

/// Impairs what leaves `ifindex` with a netem root qdisc: `delay` with
/// `jitter` (TCA_NETEM_LATENCY64 / JITTER64, nanoseconds, after the classic
/// `struct tc_netem_qopt`), random `loss` (0..1) and its correlation
/// (TCA_NETEM_CORR: `struct tc_netem_corr`, delay / loss / duplicate, each
/// scaled to u32 as iproute2's `tc qdisc ... netem loss random P C` does).
/// On a kernel without sch_netem the error says so.
pub fn add_netem_impairment(ifindex: u32, netem: &teardown_core::scenario::Netem) -> Result<()> {
    const TCA_NETEM_CORR: u16 = 1;
    const TCA_NETEM_LATENCY64: u16 = 8;
    const TCA_NETEM_JITTER64: u16 = 9;
    let scaled = |p: f64| (p.clamp(0.0, 1.0) * u32::MAX as f64) as u32;
    let mut opts = Vec::with_capacity(64);
    for v in [0u32, 1000, scaled(netem.loss), 0, 0, 0] {
        // latency (ticks; 0: see LATENCY64), limit, loss, gap, duplicate, jitter
        opts.extend_from_slice(&v.to_ne_bytes());
    }
    opts.extend_from_slice(&16u16.to_ne_bytes());
    opts.extend_from_slice(&TCA_NETEM_CORR.to_ne_bytes());
    for v in [0, scaled(netem.loss_correlation), 0] {
        opts.extend_from_slice(&v.to_ne_bytes());
    }
    for (kind, value) in [
        (TCA_NETEM_LATENCY64, netem.delay),
        (TCA_NETEM_JITTER64, netem.jitter),
    ] {
        opts.extend_from_slice(&12u16.to_ne_bytes());
        opts.extend_from_slice(&kind.to_ne_bytes());
        opts.extend_from_slice(&(value.as_nanos().min(i64::MAX as u128) as i64).to_ne_bytes());
    }
    let mut m = tc_message(ifindex, 0xFFFF_FFFF, 0x0001_0000, 0);
    m.attributes.push(TcAttribute::Kind("netem".into()));
    m.attributes
        .push(TcAttribute::Other(DefaultNla::new(TCA_OPTIONS, opts)));
    match request(
        RouteNetlinkMessage::NewQueueDiscipline(m),
        NLM_F_CREATE | NLM_F_EXCL,
        &format!("adding netem qdisc on ifindex {ifindex}"),
    ) {
        Ok(()) => Ok(()),
        Err(e) if e.errno == libc::ENOENT => Err(crate::error::missing(format!(
            "this kernel lacks sch_netem ({e})"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Removes the root qdisc of `ifindex` (a netem impairment); none is fine.
pub fn remove_root_qdisc(ifindex: u32) -> Result<()> {
    let m = tc_message(ifindex, 0xFFFF_FFFF, 0, 0);
    match request(
        RouteNetlinkMessage::DelQueueDiscipline(m),
        0,
        &format!("removing the root qdisc of ifindex {ifindex}"),
    ) {
        Ok(()) => Ok(()),
        Err(e) if e.errno == libc::ENOENT || e.errno == libc::EINVAL => Ok(()),
        Err(e) => Err(e.into()),
    }
}

static PROBE: AtomicU32 = AtomicU32::new(0);

/// Runs `f` with the loopback's ifindex in a throw-away namespace, deleted
/// afterwards whatever happens.
fn in_probe_namespace<R: Send>(what: &str, f: impl FnOnce(u32) -> Result<R> + Send) -> Result<R> {
    let name = format!(
        "td-probe-{what}-{}-{}",
        std::process::id(),
        PROBE.fetch_add(1, Ordering::Relaxed)
    );
    let ns = crate::netns::NetNs::create(&name).context("creating a probe namespace")?;
    let out = ns.run(|| f(ifindex("lo")?));
    let deleted = ns.delete();
    let out = out?;
    deleted?;
    Ok(out)
}

/// Whether the kernel has sch_netem (delay, jitter, loss models). Creates a
/// netem qdisc on the loopback of a throw-away namespace.
pub fn has_netem() -> bool {
    check_netem().is_ok()
}

/// Why netem does not work here (ENOENT: the kernel has no sch_netem), or Ok.
pub fn check_netem() -> Result<()> {
    in_probe_namespace("netem", |lo| Ok(add_netem(lo)?))
}

/// Whether the kernel has clsact and cls_bpf direct-action and loads our
/// programs: attaches and detaches a drop-all program on the loopback of a
/// throw-away namespace.
pub fn has_clsact_bpf() -> bool {
    in_probe_namespace("clsact", |lo| {
        Ok(attach_drop(lo, &DropRule::All).is_ok() && detach_all(lo).is_ok())
    })
    .unwrap_or(false)
}

/// Why clsact + cls_bpf does not work here, or Ok (for doctor's message).
pub fn check_clsact_bpf() -> Result<()> {
    in_probe_namespace("clsact", |lo| -> Result<()> {
        attach_drop(lo, &DropRule::All)?;
        detach_all(lo)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_kernel_macros() {
        // TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS) and .._EGRESS.
        assert_eq!(INGRESS_PARENT, (TC_H_CLSACT & 0xFFFF_0000) | 0xFFF2);
        assert_eq!(EGRESS_PARENT, (TC_H_CLSACT & 0xFFFF_0000) | 0xFFF3);
        assert_eq!(u32::from(TcHandle::CLSACT), TC_H_CLSACT);
        // htons(ETH_P_ALL) as tc writes it into tcm_info on little-endian.
        if cfg!(target_endian = "little") {
            assert_eq!(ETH_P_ALL.to_be(), 0x0300);
        }
    }
}
