//! Timing checks: measured teardown times against the kernel model ([`crate::model`]).
//!
//! Contract: pure functions of (scenario, evidence). Every tolerance comes
//! from the model (`late_by_at_most`, timer-wheel slack, `EARLY_SLACK`) plus
//! [`APP_WAKEUP`] where the measurement is an application event; nothing is
//! a hand-picked bound.
//!
//! What each time is measured from (as in the model):
//! - `retransmission`: the original send of the first segment never
//!   acknowledged (the segment the RTO retransmissions repeat), as captured on
//!   the sender's wire port.
//! - `keepalive`: the last segment the host received before the probes (on its
//!   wire port), since idle time counts from the last segment received.
//!
//! The model's inputs come from the scenario and the evidence: the host's
//! sysctls (namespace defaults when unset), the endpoint's socket options, and
//! the RTO sock_diag measured on the connection just before the fault.

use crate::evidence::{Check, Connection, Event, Evidence, Packet, TcpFlags, TcpInfoLite};
use crate::model::{self, Keepalive, Retrans, Syn, Synack};
use crate::scenario::{
    CapturePort, DeathMark, DeathModel, EventKind, Host, OrphanModel, Scenario, TcpState, Wait,
    WaitTimeout,
};
use std::time::Duration;

pub mod probe;

/// The delay between the kernel reporting a connection's death and the
/// endpoint's event stamp: the blocked reader thread is woken and stamps the
/// error. Measured below 5 ms here; 50 ms covers a loaded 2-core machine
/// running every scenario at once.
pub const APP_WAKEUP: Duration = Duration::from_millis(50);

/// From a timer's expiry to its segment's capture on the wire port: the timer
/// softirq, then the transmit path through the veth and the bridge port.
/// Measured well under 1 ms on an idle machine; 5 ms covers ksoftirqd
/// scheduling on a 2-core machine running every scenario at once.
pub const WIRE_LAG: Duration = Duration::from_millis(5);

fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// The capture port of a host's side of the wire.
fn port_of_host(host: Host) -> CapturePort {
    host.wire_port()
}

/// The base RTO (before any backoff) sock_diag saw on the host's connection
/// last before `before_ns`. After a SYN retransmission it is 3 s
/// (TCP_TIMEOUT_FALLBACK), not the veth's ~0.2 s, and lifetimes built on the
/// RTO (orphan FIN_WAIT2: 3.5 * RTO) follow it.
///
/// A sample with `backoff > 0` is skipped: its RTO is already doubled by an
/// expiry. Such a sample can carry a time before the first captured
/// retransmission, because a round's time is taken when its dump starts and
/// the timer may fire while the dump runs (seen under load: `rto=0.408s,
/// backoff=1` stamped 10 ms before the retransmission it caused).
fn measured_rto(ev: &Evidence, host: Host, conn: Connection, before_ns: u64) -> Option<Duration> {
    // Any synchronized state of a full socket: a connection may spend less than a
    // sampling period in ESTABLISHED (a close right after connect).
    tcp_infos(ev, host, conn, before_ns)
        .filter(|t| t.backoff == 0)
        .map(|t| t.rto_us)
        .rfind(|rto| *rto > 0)
        .map(|us| Duration::from_micros(us as u64))
}

/// What the connection's path looks like at `before_ns`: the last sample's
/// tcp_info before it that has the MSS, smoothed RTT and SACK (records from
/// before they were kept carry an MSS of 0), else the first after it. Those
/// change only with the segments the host receives, and on a cut path after
/// a flight none arrive: a connection in ESTABLISHED for less than a
/// sampling period is first sampled after its tail.
fn path_info(ev: &Evidence, host: Host, conn: Connection, before_ns: u64) -> Option<&TcpInfoLite> {
    tcp_infos(ev, host, conn, before_ns)
        .rfind(|t| t.snd_mss > 0)
        .or_else(|| tcp_infos(ev, host, conn, u64::MAX).find(|t| t.snd_mss > 0))
}

/// The tcp_info of `host`'s samples of the connection before `before_ns`,
/// in a synchronized state (not SYN_SENT or SYN_RECV, whose handshake timer
/// is its own, nor the mini sockets of TIME_WAIT and orphan FIN_WAIT2, which
/// carry no tcp_info), oldest first.
fn tcp_infos(
    ev: &Evidence,
    host: Host,
    conn: Connection,
    before_ns: u64,
) -> impl DoubleEndedIterator<Item = &TcpInfoLite> {
    const SYNCHRONIZED: [TcpState; 6] = [
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::LastAck,
    ];
    ev.sockets
        .iter()
        .filter(move |s| s.host == host && s.ts_ns < before_ns && SYNCHRONIZED.contains(&s.state))
        .filter(move |s| conn.has_socket(s))
        .filter_map(|s| s.tcp.as_ref())
}

/// Model inputs for a dead path on `host`.
pub fn retrans_knobs(sc: &Scenario, ev: &Evidence, host: Host, before_ns: u64) -> Retrans {
    let conn = sc.connection();
    let mut k = Retrans {
        retries2: sc.sysctl(host, "net.ipv4.tcp_retries2").unwrap_or(15) as u32,
        ..Retrans::default()
    };
    if let Some(rto) = measured_rto(ev, host, conn, before_ns) {
        k.rto = rto;
    }
    // The smoothed RTT and SACK, for the tail loss probe.
    if let Some(t) = path_info(ev, host, conn, before_ns) {
        k.srtt = Duration::from_micros(u64::from(t.rtt_us));
        k.sack = t.sack;
    }
    let mut rto_max = sc
        .sysctl(host, "net.ipv4.tcp_rto_max_ms")
        .map(Duration::from_millis);
    if let Some(e) = sc.endpoint_on(host) {
        if let Some(r) = e.options.rto_max {
            rto_max = Some(rto_max.map(|m| m.min(r.0)).unwrap_or(r.0));
        }
        k.user_timeout = e.options.user_timeout.map(|d| d.0).filter(|d| !d.is_zero());
    }
    if let Some(m) = rto_max {
        k.rto_max = m;
    }
    // tcp_early_retrans: 3 and 4 (the default 3) enable the tail loss probe.
    if let Some(v) = sc.sysctl(host, "net.ipv4.tcp_early_retrans") {
        k.tlp = v >= 3;
    }
    k
}

/// Model inputs for a connect from `host`: the socket's TCP_SYNCNT, else
/// net.ipv4.tcp_syn_retries (6); net.ipv4.tcp_syn_linear_timeouts as the
/// scenario sets it, else as the running kernel has it (4 since 6.5, 0 on
/// kernels without the sysctl: [`crate::scenario::KernelFacts`]);
/// TCP_USER_TIMEOUT; the RTO cap.
pub fn syn_knobs(sc: &Scenario, host: Host) -> Syn {
    let mut k = Syn {
        linear_timeouts: sc.kernel.syn_linear_timeouts,
        ..Syn::default()
    };
    if let Some(v) = sc.sysctl(host, "net.ipv4.tcp_syn_retries") {
        k.syn_retries = v as u32;
    }
    if let Some(v) = sc.sysctl(host, "net.ipv4.tcp_syn_linear_timeouts") {
        k.linear_timeouts = v as u32;
    }
    if let Some(v) = sc.sysctl(host, "net.ipv4.tcp_rto_max_ms") {
        k.rto_max = Duration::from_millis(v);
    }
    if let Some(e) = sc.endpoint_on(host) {
        if let Some(n) = e.options.syncnt {
            k.syn_retries = n;
        }
        if let Some(r) = e.options.rto_max {
            k.rto_max = k.rto_max.min(r.0);
        }
        k.user_timeout = e.options.user_timeout.map(|d| d.0).filter(|d| !d.is_zero());
    }
    k
}

/// A connect as captured on the host's port: its first SYN and the SYN's
/// retransmissions (same sequence number), after the anchor.
struct SynSeen<'a> {
    first: &'a Packet,
    retransmissions: Vec<&'a Packet>,
}

fn syn_seen(ev: &Evidence, host: Host, conn: Connection, anchor: u64) -> Option<SynSeen<'_>> {
    let side = host.side();
    let syns: Vec<&Packet> = conn_packets(ev, port_of_host(host), conn)
        .into_iter()
        .filter(|p| {
            ev.sender(p) == Some(side)
                && p.flags.has(TcpFlags::SYN)
                && !p.flags.has(TcpFlags::ACK)
                && p.ts_ns >= anchor
        })
        .collect();
    let (first, rest) = syns.split_first()?;
    Some(SynSeen {
        first,
        retransmissions: rest
            .iter()
            .copied()
            .filter(|p| p.seq == first.seq)
            .collect(),
    })
}

fn syn_inputs(k: &Syn) -> String {
    format!(
        "syn_retries={} linear_timeouts={} rto_max={}{}; times from the first SYN",
        k.syn_retries,
        k.linear_timeouts,
        secs(k.rto_max),
        k.user_timeout
            .map(|u| format!(" user_timeout={}", secs(u)))
            .unwrap_or_default()
    )
}

fn predicted_syn(
    sc: &Scenario,
    ev: &Evidence,
    host: Host,
    anchor: u64,
) -> Result<Predicted, String> {
    let Some(seen) = syn_seen(ev, host, sc.connection(), anchor) else {
        return Err(format!(
            "no SYN from {host} on {} after the step",
            port_of_host(host)
        ));
    };
    let k = syn_knobs(sc, host);
    let m = model::syn_sent(&k);
    Ok(Predicted {
        reference: seen.first.ts_ns,
        window: m.death_window(),
        predicted: m.death,
        inputs: syn_inputs(&k),
        offset: Duration::ZERO,
        anchored: true,
        lines: vec![format!(
            "reference: the first SYN at {:.6}s; {} retransmissions captured",
            ev.rel_secs(seen.first.ts_ns),
            seen.retransmissions.len()
        )],
    })
}

fn syn_schedule(sc: &Scenario, ev: &Evidence, host: Host, anchor: u64) -> Result<Schedule, Timed> {
    let Some(seen) = syn_seen(ev, host, sc.connection(), anchor) else {
        return Err(Timed::undecided(format!(
            "no SYN from {host} on {} after the step",
            port_of_host(host)
        )));
    };
    let k = syn_knobs(sc, host);
    let m = model::syn_sent(&k);
    let predicted = chain_lateness(&m.retransmissions);
    let measured: Vec<Duration> = seen
        .retransmissions
        .iter()
        .map(|p| at(seen.first.ts_ns, p.ts_ns))
        .collect();
    let key = last_of(&predicted, &measured);
    Ok(Schedule {
        reference_ns: seen.first.ts_ns,
        // A budget in time decides when TCP_USER_TIMEOUT is set (tcp_write_timeout);
        // otherwise the count or M(syn_retries) does, at an expiry.
        budget_ends: k
            .user_timeout
            .map(|_| m.death.saturating_sub(model::EARLY_SLACK)),
        predicted,
        measured,
        key,
        header: format!(
            "model: {} SYN retransmissions ({}), connect fails at {}",
            m.retransmissions.len(),
            syn_inputs(&k),
            secs(m.death)
        ),
        number_from: 1,
    })
}

/// Model inputs for a passive open on `host` (the listener): its endpoint's
/// TCP_SYNCNT, else net.ipv4.tcp_synack_retries (5).
pub fn synack_knobs(sc: &Scenario, host: Host) -> Synack {
    let mut k = Synack::default();
    if let Some(v) = sc.sysctl(host, "net.ipv4.tcp_synack_retries") {
        k.synack_retries = v as u32;
    }
    if let Some(n) = sc.endpoint_on(host).and_then(|e| e.options.syncnt) {
        k.synack_retries = n;
    }
    k
}

fn synack_inputs(k: &Synack) -> String {
    format!("synack_retries={}", k.synack_retries)
}

/// `schedule = "synack"`: the listener's SYN-ACK retransmissions (same
/// sequence number as its first SYN-ACK after the anchor), from that first one.
fn synack_schedule(
    sc: &Scenario,
    ev: &Evidence,
    host: Host,
    anchor: u64,
) -> Result<Schedule, Timed> {
    let side = host.side();
    let synacks: Vec<&Packet> = conn_packets(ev, port_of_host(host), sc.connection())
        .into_iter()
        .filter(|p| {
            ev.sender(p) == Some(side)
                && p.flags.has(TcpFlags::SYN)
                && p.flags.has(TcpFlags::ACK)
                && p.ts_ns >= anchor
        })
        .collect();
    let Some((first, rest)) = synacks.split_first() else {
        return Err(Timed::undecided(format!(
            "no SYN-ACK from {host} on {} after the step",
            port_of_host(host)
        )));
    };
    let k = synack_knobs(sc, host);
    let m = model::syn_recv(&k);
    let predicted = chain_lateness(&m.retransmissions);
    let measured: Vec<Duration> = rest
        .iter()
        .filter(|p| p.seq == first.seq)
        .map(|p| at(first.ts_ns, p.ts_ns))
        .collect();
    let key = last_of(&predicted, &measured);
    Ok(Schedule {
        reference_ns: first.ts_ns,
        budget_ends: None,
        predicted,
        measured,
        key,
        header: format!(
            "model: {} SYN-ACK retransmissions ({}; times from the first SYN-ACK), the request dropped at {}",
            m.retransmissions.len(),
            synack_inputs(&k),
            secs(m.death)
        ),
        number_from: 1,
    })
}

/// Each time of a chain of timers with the lateness accumulated up to it
/// (each timer re-armed from the one before: [`model::timer_slack`] of each interval).
fn chain_lateness(times: &[Duration]) -> Vec<(Duration, Duration)> {
    let mut late = Duration::ZERO;
    let mut before = Duration::ZERO;
    times
        .iter()
        .map(|t| {
            late += model::timer_slack(t.saturating_sub(before));
            before = *t;
            (*t, late)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Zero-window probes (`dies = "zero_window"`, `schedule = "zero_window"`):
// model::zero_window against the capture. Time zero is the peer's ACK that
// closed the window (its first segment with window 0 acknowledging all the
// data sent); the probes are the host's zero-length segments with seq =
// snd_una - 1 after it (tcp_xmit_probe_skb); a probe counts as answered when
// a segment from the peer reaches the host before its next probe.
// ---------------------------------------------------------------------------

/// Model inputs for a zero window on `host`: as a dead path's (tcp_retries2,
/// the RTO sampled before `before_ns`, rto_max, TCP_USER_TIMEOUT).
pub fn zero_window_knobs(
    sc: &Scenario,
    ev: &Evidence,
    host: Host,
    before_ns: u64,
) -> model::ZeroWindow {
    let r = retrans_knobs(sc, ev, host, before_ns);
    model::ZeroWindow {
        retries2: r.retries2,
        rto: r.rto,
        rto_max: r.rto_max,
        user_timeout: r.user_timeout,
        ..model::ZeroWindow::default()
    }
}

/// A zero-window run as captured on the host's port.
struct ZeroWindowSeen<'a> {
    closing: &'a Packet,
    /// The host's last data segment sent after an earlier window-0 ACK it
    /// had not yet read (see `zero_window_seen`).
    resent: Option<&'a Packet>,
    probes: Vec<&'a Packet>,
    answered: Vec<bool>,
}

fn zero_window_seen(ev: &Evidence, host: Host, conn: Connection) -> Option<ZeroWindowSeen<'_>> {
    let side = host.side();
    let pkts = conn_packets(ev, port_of_host(host), conn);
    let from_peer = |p: &Packet| ev.sender(p).is_some() && ev.sender(p) != Some(side);
    let last_zero = pkts
        .iter()
        .copied()
        .rfind(|p| from_peer(p) && p.win == 0 && p.flags.has(TcpFlags::ACK))?;
    let snd_una = last_zero.ack;
    let closes = |p: &Packet| from_peer(p) && p.win == 0 && p.ack == snd_una;
    let first = pkts.iter().copied().find(|p| closes(p))?;
    // The host arms its persist timer when it reads a window-0 ACK with
    // nothing left in flight (tcp_check_probe_timer), so a data segment it
    // sends after that ACK passed the port (a tail loss probe, a
    // retransmission of data the ACK covers) shows it had not read that ACK
    // yet: an ACK crossing a veth is read in the receiver's softirq, which a
    // busy CPU (an emulated guest) runs tens of milliseconds late. Time zero
    // is then the first such ACK after the host's last resent segment.
    let covered = |p: &Packet| snd_una.wrapping_sub(p.seq.wrapping_add(p.len)) as i32 >= 0;
    let resent = pkts
        .iter()
        .copied()
        .rfind(|p| ev.sender(p) == Some(side) && p.ts_ns > first.ts_ns && p.len > 0 && covered(p));
    let closing = match resent {
        None => first,
        Some(r) => pkts
            .iter()
            .copied()
            .find(|p| closes(p) && p.ts_ns > r.ts_ns)?,
    };
    let sfr = |p: &Packet| {
        p.flags.has(TcpFlags::SYN) || p.flags.has(TcpFlags::FIN) || p.flags.has(TcpFlags::RST)
    };
    let probes: Vec<&Packet> = pkts
        .iter()
        .copied()
        .filter(|p| {
            ev.sender(p) == Some(side)
                && p.ts_ns > closing.ts_ns
                && p.len == 0
                && !sfr(p)
                && p.seq == snd_una.wrapping_sub(1)
        })
        .collect();
    let answered = probes
        .iter()
        .enumerate()
        .map(|(i, pr)| {
            let until = probes.get(i + 1).map(|n| n.ts_ns).unwrap_or(u64::MAX);
            pkts.iter()
                .any(|p| from_peer(p) && p.ts_ns > pr.ts_ns && p.ts_ns < until)
        })
        .collect();
    Some(ZeroWindowSeen {
        closing,
        resent,
        probes,
        answered,
    })
}

/// The evidence line for time zero of a zero-window run.
fn zero_window_reference(ev: &Evidence, seen: &ZeroWindowSeen) -> String {
    let unread = seen
        .resent
        .map(|r| {
            format!(
                " (the first after the host resent seq {} at {:.6}s: it had not read the window-0 ACK before)",
                r.seq,
                ev.rel_secs(r.ts_ns)
            )
        })
        .unwrap_or_default();
    format!(
        "reference: the ACK that closed the window (win 0, ack {}) at {:.6}s{unread}; {} probes captured",
        seen.closing.ack,
        ev.rel_secs(seen.closing.ts_ns),
        seen.probes.len()
    )
}

fn zero_window_inputs(k: &model::ZeroWindow) -> String {
    format!(
        "retries2={} rto={} rto_max={}{}; answered {:?}; times from the ACK that closed the window",
        k.retries2,
        secs(k.rto),
        secs(k.rto_max),
        k.user_timeout
            .map(|u| format!(" user_timeout={}", secs(u)))
            .unwrap_or_default(),
        k.answered
    )
}

/// The captured run and the model for it: the RTO sampled before the window
/// closed, the peer's answers as seen; `orphan`: tcp_orphan_retries when the
/// host's socket is an orphan.
fn zero_window_model<'a>(
    sc: &Scenario,
    ev: &'a Evidence,
    host: Host,
    orphan: Option<u32>,
) -> Result<
    (
        ZeroWindowSeen<'a>,
        model::ZeroWindow,
        model::ZeroWindowDeath,
    ),
    String,
> {
    let Some(seen) = zero_window_seen(ev, host, sc.connection()) else {
        return Err(format!(
            "no zero window announced to {host} on {}",
            port_of_host(host)
        ));
    };
    // The RTO as the closing ACK left it (its RTT sample may change it; nothing
    // changes it after): the last sample before the first probe (samples with
    // the probes' backoff are skipped, see `measured_rto`).
    let before = seen.probes.first().map(|p| p.ts_ns).unwrap_or(u64::MAX);
    let mut k = zero_window_knobs(sc, ev, host, before);
    k.orphan = orphan;
    k.answered = seen.answered.clone();
    let m = model::zero_window(&k);
    Ok((seen, k, m))
}

fn predicted_zero_window(sc: &Scenario, ev: &Evidence, host: Host) -> Result<Predicted, String> {
    let (seen, k, m) = zero_window_model(sc, ev, host, None)?;
    let (Some(death), Some(window)) = (m.death, m.death_window()) else {
        return Err(format!(
            "model ({}): no death: {}",
            zero_window_inputs(&k),
            m.reason
        ));
    };
    Ok(Predicted {
        reference: seen.closing.ts_ns,
        window,
        predicted: death,
        inputs: format!("{}; {}", zero_window_inputs(&k), m.reason),
        offset: Duration::ZERO,
        anchored: true,
        lines: vec![zero_window_reference(ev, &seen)],
    })
}

fn zero_window_schedule(sc: &Scenario, ev: &Evidence, host: Host) -> Result<Schedule, Timed> {
    let (seen, k, m) = zero_window_model(sc, ev, host, None).map_err(Timed::undecided)?;
    let mut late = Duration::ZERO;
    let mut before = Duration::ZERO;
    let predicted: Vec<(Duration, Duration)> = m
        .probes
        .iter()
        .map(|t| {
            late += model::timer_slack(t.saturating_sub(before));
            before = *t;
            (*t, late)
        })
        .collect();
    let measured: Vec<Duration> = seen
        .probes
        .iter()
        .map(|p| at(seen.closing.ts_ns, p.ts_ns))
        .collect();
    let key = last_of(&predicted, &measured);
    Ok(Schedule {
        reference_ns: seen.closing.ts_ns,
        // TCP_USER_TIMEOUT is a budget in time (the last timer is clamped to it);
        // otherwise the count of unanswered probes decides.
        budget_ends: k
            .user_timeout
            .and(m.death)
            .map(|d| d.saturating_sub(model::EARLY_SLACK)),
        predicted,
        measured,
        key,
        header: format!(
            "model: {} zero-window probes (seq = snd_una - 1; {}), {}; {}",
            m.probes.len(),
            zero_window_inputs(&k),
            match m.death {
                Some(d) => format!("death at {} ({})", secs(d), m.reason),
                None => format!("no death ({})", m.reason),
            },
            zero_window_reference(ev, &seen)
        ),
        number_from: 1,
    })
}

/// Model inputs for keepalive on `host`.
pub fn keepalive_knobs(sc: &Scenario, host: Host) -> Keepalive {
    let mut k = Keepalive::default();
    if let Some(v) = sc.sysctl(host, "net.ipv4.tcp_keepalive_time") {
        k.idle = Duration::from_secs(v);
    }
    if let Some(v) = sc.sysctl(host, "net.ipv4.tcp_keepalive_intvl") {
        k.intvl = Duration::from_secs(v);
    }
    if let Some(v) = sc.sysctl(host, "net.ipv4.tcp_keepalive_probes") {
        k.cnt = v as u32;
    }
    if let Some(e) = sc.endpoint_on(host) {
        let o = &e.options;
        if let Some(d) = o.keepidle {
            k.idle = d.0;
        }
        if let Some(d) = o.keepintvl {
            k.intvl = d.0;
        }
        if let Some(c) = o.keepcnt {
            k.cnt = c;
        }
        k.user_timeout = o.user_timeout.map(|d| d.0).filter(|d| !d.is_zero());
    }
    k
}

/// `a` before `b` in sequence space.
fn seq_before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// The connection's packets on a port, by time.
fn conn_packets(ev: &Evidence, port: CapturePort, conn: Connection) -> Vec<&Packet> {
    let mut v: Vec<&Packet> = ev
        .packets
        .iter()
        .filter(|p| p.port == port.name() && conn.has_packet(p, ev.sender(p)))
        .collect();
    v.sort_by_key(|p| p.ts_ns);
    v
}

/// The RTO chain of a dead path, anchored on the capture.
///
/// The budget clock starts at the first RTO retransmission (`retrans_stamp`),
/// so the later retransmissions and the death are predicted from the captured
/// first one. The first one itself is checked against a window: at the
/// earliest R0 after the head segment's original send; at the latest R0 after
/// the last ACK the host received (each ACK re-arms the timer), pushed back by
/// a tail loss probe when the probe repeated the head itself (one segment in
/// flight: the probe at `pto`, then a fresh RTO).
struct Chain {
    model: model::DeadPath,
    /// Window of the first RTO retransmission, from the head's original send.
    first_window: (Duration, Duration),
    /// The captured first RTO retransmission, from the head's original send.
    first: Duration,
    /// Predicted later retransmissions, from the first one, with their accumulated lateness.
    later: Vec<(Duration, Duration)>,
    /// Predicted death, from the first retransmission, with its lateness.
    death: (Duration, Duration),
    /// Captured later retransmissions, from the first one.
    later_seen: Vec<Duration>,
    /// When the model could not tell at which of two expiries the kernel
    /// gives up ([`model::DeadPath::undecided`]): what the capture showed.
    undecided: Option<String>,
}

impl Chain {
    /// Whether the captured first retransmission is within its window.
    fn first_ok(&self) -> bool {
        self.first_window.0 <= self.first && self.first <= self.first_window.1
    }
}

fn chain(k: &Retrans, seen: &DeadPathSeen, last_ack_ns: u64) -> Option<Chain> {
    let plain = model::dead_path(&Retrans {
        tlp: false,
        ..k.clone()
    });
    let with_tlp = model::dead_path(&Retrans {
        tlp: true,
        ..k.clone()
    });
    let first_seen = seen.retransmissions.first()?;
    let first = at(seen.original.ts_ns, first_seen.ts_ns);
    let r0 = *plain.retransmissions.first()?;
    let ack_lag = at(seen.original.ts_ns, last_ack_ns.max(seen.original.ts_ns));
    let latest_plain = ack_lag + r0 + model::timer_slack(r0);
    let latest_tlp = with_tlp
        .retransmissions
        .first()
        .map(|t| ack_lag + *t + model::timer_slack(*t) + model::timer_slack(k.rto))
        .unwrap_or(latest_plain);
    let first_window = (
        r0.saturating_sub(model::EARLY_SLACK),
        latest_plain.max(latest_tlp),
    );
    let base = r0;
    let mut late = Duration::ZERO;
    let mut later: Vec<(Duration, Duration)> = plain
        .retransmissions
        .iter()
        .skip(1)
        .map(|t| {
            late += model::timer_slack(t.saturating_sub(base));
            (t.saturating_sub(base), late)
        })
        .collect();
    let mut death = (plain.death.saturating_sub(base), plain.late_by_at_most);
    let later_seen: Vec<Duration> = seen.retransmissions[1..]
        .iter()
        .map(|p| at(first_seen.ts_ns, p.ts_ns))
        .collect();
    // At an undecided expiry the capture tells: a retransmission there means
    // the kernel went on (the model's death stands), none means it gave up.
    let undecided = plain.undecided.and_then(|u| {
        let i = plain.retransmissions.iter().position(|t| *t == u.at)?;
        let at_u = secs(u.at.saturating_sub(base));
        if seen.retransmissions.len() > i {
            return Some(format!(
                "the timer wheel's rounding could have ended it at {at_u}, one expiry earlier; the capture shows a retransmission there, so the death is the next expiry's"
            ));
        }
        // `later[j]` is retransmission j + 1; the expiry at u is retransmission i.
        later.truncate(i.saturating_sub(1));
        death = (u.at.saturating_sub(base), u.late_by_at_most);
        Some(format!(
            "the timer wheel's rounding of the intervals before decides between the expiries at {at_u} and {}; the capture shows no retransmission at {at_u}, so the death is there",
            secs(plain.death.saturating_sub(base))
        ))
    });
    Some(Chain {
        model: plain,
        first_window,
        first,
        later,
        death,
        later_seen,
        undecided,
    })
}

/// The last segment the host received before its first retransmission.
fn last_ack_before(ev: &Evidence, host: Host, conn: Connection, before_ns: u64) -> u64 {
    let side = host.side();
    conn_packets(ev, port_of_host(host), conn)
        .into_iter()
        .filter(|p| ev.sender(p).is_some() && ev.sender(p) != Some(side) && p.ts_ns < before_ns)
        .map(|p| p.ts_ns)
        .next_back()
        .unwrap_or(0)
}

/// A dead path as captured: the original send of the head segment and its
/// RTO retransmissions (a tail loss probe that repeated the head set apart).
struct DeadPathSeen<'a> {
    original: &'a Packet,
    retransmissions: Vec<&'a Packet>,
    /// The tail loss probe, when it repeated the head itself ([`tail_loss_probe`]).
    probe: Option<&'a Packet>,
}

/// Sets apart a tail loss probe that repeated the head segment (one segment
/// in flight: tcp_send_loss_probe resends it, `__tcp_retransmit_skb`, which
/// neither counts as an RTO retransmission nor sets `retrans_stamp`, and the
/// RTO timer is re-armed from the probe without backoff). Told by the gap to
/// the next head retransmission: one RTO after a probe, at least two after
/// an RTO retransmission (the backoff doubles it). The threshold is their
/// midpoint, 1.5 RTO; a timer's lateness (a few ms) and stolen CPU time are
/// far below the RTO's half (100 ms at the minimum RTO). With fewer than two
/// head retransmissions captured the first is taken as the RTO's.
fn tail_loss_probe<'a>(retransmissions: &mut Vec<&'a Packet>, rto: Duration) -> Option<&'a Packet> {
    let [first, second, ..] = retransmissions[..] else {
        return None;
    };
    let gap = at(first.ts_ns, second.ts_ns);
    if gap < rto + rto / 2 {
        Some(retransmissions.remove(0))
    } else {
        None
    }
}

fn dead_path_seen(
    ev: &Evidence,
    host: Host,
    conn: Connection,
    anchor: u64,
) -> Option<DeadPathSeen<'_>> {
    let side = host.side();
    let pkts = conn_packets(ev, port_of_host(host), conn);
    // The RTO always retransmits from snd_una: the last acknowledgement the host
    // received (nothing reaches it after the fault). A tail loss probe may
    // repeat another segment first; it is not part of the RTO chain.
    let head = pkts
        .iter()
        .rfind(|p| {
            ev.sender(p).is_some() && ev.sender(p) != Some(side) && p.flags.has(TcpFlags::ACK)
        })?
        .ack;
    let sent: Vec<&Packet> = pkts
        .into_iter()
        .filter(|p| ev.sender(p) == Some(side) && (p.len > 0 || p.flags.has(TcpFlags::FIN)))
        .collect();
    let covers = |p: &Packet| {
        let end = p
            .seq
            .wrapping_add(p.len + p.flags.has(TcpFlags::FIN) as u32);
        !seq_before(head, p.seq) && seq_before(head, end)
    };
    let original = sent.iter().copied().find(|p| covers(p))?;
    let retransmissions = sent
        .iter()
        .copied()
        .filter(|p| p.seq == head && p.ts_ns > original.ts_ns && p.ts_ns >= anchor)
        .collect();
    Some(DeadPathSeen {
        original,
        retransmissions,
        probe: None,
    })
}

/// A dead path as captured, with its RTO chain against the model.
struct DeadPath<'a> {
    seen: DeadPathSeen<'a>,
    chain: Chain,
    /// The model's inputs (the RTO in force when the first retransmission fired).
    knobs: Retrans,
    /// When the first RTO retransmission was captured.
    first_ns: u64,
}

/// The host's dead path after the anchor: `None` without a captured RTO retransmission.
fn dead_path<'a>(sc: &Scenario, ev: &'a Evidence, host: Host, anchor: u64) -> Option<DeadPath<'a>> {
    let conn = sc.connection();
    let mut seen = dead_path_seen(ev, host, conn, anchor)?;
    // The RTO in force when the timer fired: the last sample before the
    // first retransmission (ACKs after the last sample before the fault
    // may still have changed it; nothing changes it after the fault).
    let knobs = retrans_knobs(sc, ev, host, seen.retransmissions.first()?.ts_ns);
    if knobs.tlp {
        seen.probe = tail_loss_probe(&mut seen.retransmissions, knobs.rto);
    }
    let first_ns = seen.retransmissions.first()?.ts_ns;
    let chain = chain(&knobs, &seen, last_ack_before(ev, host, conn, first_ns))?;
    Some(DeadPath {
        seen,
        chain,
        knobs,
        first_ns,
    })
}

/// A keepalive run as captured: the last segment received and the probes after it.
struct KeepaliveSeen<'a> {
    last_received: &'a Packet,
    probes: Vec<&'a Packet>,
    rst: Option<&'a Packet>,
}

fn keepalive_seen(
    ev: &Evidence,
    host: Host,
    conn: Connection,
    anchor: u64,
) -> Option<KeepaliveSeen<'_>> {
    let side = host.side();
    let pkts = conn_packets(ev, port_of_host(host), conn);
    // The last segment from the peer that reached this host's port before the probes began.
    let first_probe_candidate = pkts
        .iter()
        .filter(|p| {
            ev.sender(p) == Some(side)
                && p.ts_ns >= anchor
                && p.len <= 1
                && !p.flags.has(TcpFlags::RST)
        })
        .map(|p| p.ts_ns)
        .next()
        .unwrap_or(u64::MAX);
    let last_received = pkts
        .iter()
        .copied()
        .rfind(|p| ev.sender(p) != Some(side) && p.ts_ns < first_probe_candidate)?;
    let snd_una = last_received.ack;
    let probe_seq = snd_una.wrapping_sub(1);
    let after: Vec<&Packet> = pkts
        .iter()
        .copied()
        .filter(|p| ev.sender(p) == Some(side) && p.ts_ns > last_received.ts_ns)
        .collect();
    let probes = after
        .iter()
        .copied()
        .filter(|p| {
            p.len <= 1
                && p.seq == probe_seq
                && !p.flags.has(TcpFlags::RST)
                && !p.flags.has(TcpFlags::FIN)
        })
        .collect();
    let rst = after.iter().copied().find(|p| p.flags.has(TcpFlags::RST));
    Some(KeepaliveSeen {
        last_received,
        probes,
        rst,
    })
}

/// An endpoint's death after the anchor, as `death` marks it: its first
/// error event, or (an external program) its first stdout or stderr line
/// matching the pattern.
fn first_death<'a>(
    ev: &'a Evidence,
    source: &str,
    death: &DeathMark,
    anchor: u64,
) -> Option<&'a Event> {
    ev.events
        .iter()
        .filter(|e| e.source == source && e.ts_ns >= anchor)
        .filter(|e| match death {
            DeathMark::ErrorEvent => e.kind == EventKind::Error,
            DeathMark::Line(pattern) => {
                matches!(e.kind, EventKind::Stdout | EventKind::Stderr)
                    && pattern.is_match(e.detail.as_deref().unwrap_or(""))
            }
        })
        .min_by_key(|e| e.ts_ns)
}

/// What the death was, for the evidence: `ETIMEDOUT on read`, or the line
/// (`stderr line "..."`).
fn death_text(death: &DeathMark, e: &Event) -> String {
    match death {
        DeathMark::ErrorEvent => format!(
            "{} on {}",
            e.errno.clone().unwrap_or_default(),
            e.op.clone().unwrap_or_default()
        ),
        DeathMark::Line(pattern) => format!(
            "{} line {:?} (matching {pattern})",
            e.kind,
            e.detail.as_deref().unwrap_or("")
        ),
    }
}

fn at(reference: u64, ts: u64) -> Duration {
    Duration::from_nanos(ts.saturating_sub(reference))
}

/// A check's outcome with the two times the report can show for it: the
/// model's time of the check's key event and that event as the run showed it,
/// in seconds from the check's reference. Every model check ([`dies`],
/// [`schedule`], [`gone`]) returns one, computed with its verdict, so the
/// report's figures are the very numbers the check judged;
/// [`crate::verdict::key_check`] says which check's figures a scenario reports.
///
/// The key event and the reference, per check:
/// - `dies`: the death (the first error event, or with `line` the first
///   matching line); from the head segment's original send
///   (`retransmission`) or the last segment received (`keepalive`).
/// - `schedule`: the last predicted retransmission (probe), and the captured
///   one of the same number (none when fewer were captured); from the same
///   references as `dies`.
/// - `gone`: the socket's vanishing; measured is the first sample round
///   without it (the vanishing happened at or before it); from the FIN's
///   original send (`orphan_fin`) or the ACK of the FIN (`fin_wait2`).
#[derive(Clone, Debug, PartialEq)]
pub struct Timed {
    pub check: Check,
    pub predicted: Option<f64>,
    pub measured: Option<f64>,
}

impl Timed {
    /// A check with no model time (every non-model check).
    pub fn untimed(check: Check) -> Timed {
        Timed {
            check,
            predicted: None,
            measured: None,
        }
    }

    fn undecided(line: String) -> Timed {
        Timed::untimed(fail(line))
    }

    fn of(check: Check, key: KeyTimes) -> Timed {
        Timed {
            check,
            predicted: key.0.map(|d| d.as_secs_f64()),
            measured: key.1.map(|d| d.as_secs_f64()),
        }
    }
}

/// A check's key event: (predicted, measured), from the check's reference.
type KeyTimes = (Option<Duration>, Option<Duration>);

/// A death predicted by the model: from what reference, in which window.
struct Predicted {
    /// The time the death is measured from.
    reference: u64,
    window: model::Window,
    predicted: Duration,
    /// The model's inputs, for the evidence.
    inputs: String,
    /// From the reference to the time the report counts from (the head
    /// segment's original send for a dead path), for the summary's two figures.
    offset: Duration,
    /// False when the first retransmission, which anchors the predicted death,
    /// is itself off the model: then no measured death can pass.
    anchored: bool,
    /// Evidence lines about the reference.
    lines: Vec<String>,
}

/// `tail loss probe of the head at X (not an RTO retransmission); `, or nothing.
fn probe_note(d: &DeadPath) -> String {
    d.seen
        .probe
        .map(|p| {
            format!(
                "tail loss probe of the head at {} after its original send (not an RTO retransmission: the next comes one RTO later, not two); ",
                secs(at(d.seen.original.ts_ns, p.ts_ns))
            )
        })
        .unwrap_or_default()
}

fn predicted_retransmission(
    sc: &Scenario,
    ev: &Evidence,
    host: Host,
    anchor: u64,
) -> Result<Predicted, String> {
    let Some(d) = dead_path(sc, ev, host, anchor) else {
        return Err(format!(
            "no retransmission from {host} on {} after the fault",
            port_of_host(host)
        ));
    };
    let (c, k) = (&d.chain, &d.knobs);
    let first_ok = c.first_ok();
    let line = format!(
        "{}first RTO retransmission of seq {} at {} after its original send (accepted {}..{}) {}",
        probe_note(&d),
        d.seen.original.seq,
        secs(c.first),
        secs(c.first_window.0),
        secs(c.first_window.1),
        if first_ok { "ok" } else { "OUT OF WINDOW" }
    );
    let _ = c.model.budget;
    let mut lines = vec![line];
    lines.extend(c.undecided.clone());
    Ok(Predicted {
        reference: d.first_ns,
        window: model::Window {
            earliest: c.death.0.saturating_sub(model::EARLY_SLACK),
            latest: c.death.0 + c.death.1,
        },
        predicted: c.death.0,
        inputs: format!(
            "retries2={} rto={} rto_max={}{}; times from the first retransmission, where the budget clock starts",
            k.retries2,
            secs(k.rto),
            secs(k.rto_max),
            k.user_timeout.map(|u| format!(" user_timeout={}", secs(u))).unwrap_or_default()
        ),
        offset: c.first,
        anchored: first_ok,
        lines,
    })
}

/// `dies = "local_drop"`: from the first write (`sent`) of an endpoint on
/// `host` after the step that put the local drop in force; the model is
/// [`model::local_drop`]. Nothing reaches the capture, so the sock_diag
/// samples are the evidence of the regime: the zero-window probe timer
/// (`persist`) re-armed at 500 ms at most, its probe count, no backoff.
fn predicted_local_drop(
    sc: &Scenario,
    ev: &Evidence,
    host: Host,
    anchor: u64,
) -> Result<Predicted, String> {
    let on_host: Vec<&str> = sc
        .endpoints
        .iter()
        .filter(|(_, e)| e.host == host)
        .map(|(n, _)| n.as_str())
        .collect();
    let Some(write) = ev.events.iter().find(|e| {
        e.kind == EventKind::Sent && e.ts_ns >= anchor && on_host.contains(&e.source.as_str())
    }) else {
        return Err(format!("no write by an endpoint on {host} after the step"));
    };
    let k = retrans_knobs(sc, ev, host, write.ts_ns);
    let m = model::local_drop(&k);
    let conn = sc.connection();
    let samples: Vec<&crate::evidence::SockSample> = ev
        .sockets
        .iter()
        .filter(|s| s.host == host && s.ts_ns >= write.ts_ns && conn.has_socket(s))
        .collect();
    let persist: Vec<&&crate::evidence::SockSample> = samples
        .iter()
        .filter(|s| s.timer == Some(crate::evidence::Timer::Persist))
        .collect();
    if persist.is_empty() {
        return Err(format!(
            "{host}'s socket never showed the probe timer (persist) after the write: not a local drop of new data"
        ));
    }
    let longest = persist
        .iter()
        .filter_map(|s| s.expires_ms)
        .max()
        .unwrap_or(0);
    let info = samples.iter().filter_map(|s| s.tcp.as_ref());
    let probes = info.clone().map(|t| t.probes).max().unwrap_or(0);
    let backoff = info.map(|t| t.backoff).max().unwrap_or(0);
    // The regime, as sock_diag saw it: no timer beyond the first probe0_base
    // or 500 ms, and no backoff (the checks below decide nothing by themselves;
    // the death's time does).
    let limit = k
        .rto
        .max(model::TCP_RTO_MIN)
        .max(model::TCP_RESOURCE_PROBE_INTERVAL);
    let regime_ok = Duration::from_millis(longest) <= limit && backoff == 0;
    Ok(Predicted {
        reference: write.ts_ns,
        window: m.death_window(),
        predicted: m.death,
        inputs: format!(
            "retries2={} rto={}{}; {} probes at {}; times from the write at {:.6}s",
            k.retries2,
            secs(k.rto),
            k.user_timeout
                .map(|u| format!(" user_timeout={} (from the first probe)", secs(u)))
                .unwrap_or_default(),
            m.retransmissions.len(),
            m.retransmissions
                .iter()
                .map(|t| secs(*t))
                .collect::<Vec<_>>()
                .join(" "),
            ev.rel_secs(write.ts_ns)
        ),
        offset: Duration::ZERO,
        anchored: regime_ok,
        lines: vec![format!(
            "sock_diag after the write: {} samples with the probe timer (persist), the longest {} ms (at most {} ms without backoff), probes_out up to {probes}, backoff up to {backoff} {}",
            persist.len(),
            longest,
            limit.as_millis(),
            if regime_ok { "ok" } else { "NOT THE LOCAL-DROP REGIME" }
        )],
    })
}

/// The reject in force on `host`'s segments (the scenario's first `reject`
/// from it), as the ICMP model takes it.
fn reject_of(sc: &Scenario, host: Host) -> Option<(crate::icmp::Fam, crate::icmp::Unreachable)> {
    use crate::icmp::{Fam, Unreachable};
    use crate::scenario::{Action, Family, RejectWith};
    let with = sc.steps.iter().find_map(|s| match &s.action {
        Some(Action::Reject { from, with }) if from.hosts().contains(&host) => Some(*with),
        _ => None,
    })?;
    let fam = if sc.ip == Family::V6 {
        Fam::V6
    } else {
        Fam::V4
    };
    let u = match with {
        RejectWith::HostUnreachable => Unreachable::Host,
        RejectWith::PortUnreachable => Unreachable::Port,
        RejectWith::AdminProhibited => Unreachable::AdminProhibited,
        RejectWith::NetUnreachable => Unreachable::Net,
    };
    Some((fam, u))
}

/// `dies = "unreachable"`: data whose every segment the wire answers with an
/// ICMP destination unreachable ([`crate::icmp::dead_path_unreachable`]),
/// from the original send of the host's first data segment after the step.
fn predicted_unreachable(
    sc: &Scenario,
    ev: &Evidence,
    host: Host,
    anchor: u64,
) -> Result<Predicted, String> {
    let Some((fam, u)) = reject_of(sc, host) else {
        return Err(format!("no `reject` step answers {host}'s segments"));
    };
    let side = host.side();
    let Some(first) = conn_packets(ev, port_of_host(host), sc.connection())
        .into_iter()
        .find(|p| ev.sender(p) == Some(side) && p.len > 0 && p.ts_ns >= anchor)
    else {
        return Err(format!(
            "no data from {host} on {} after the step",
            port_of_host(host)
        ));
    };
    let k = retrans_knobs(sc, ev, host, first.ts_ns);
    let m = crate::icmp::dead_path_unreachable(&k, fam, u);
    Ok(Predicted {
        reference: first.ts_ns,
        window: m.death_window(),
        predicted: m.death,
        inputs: format!(
            "{u:?} unreachable over {fam:?}: errno {}, {}; retries2={} rto={}; the tail loss probe at {}, {} retransmissions; times from the original send at {:.6}s",
            crate::icmp::errno(fam, u),
            if crate::icmp::reverts_backoff(fam, u) {
                "each ICMP undoes its backoff (RFC 6069)"
            } else {
                "no backoff undone"
            },
            k.retries2,
            secs(k.rto),
            m.tail_loss_probe.map(secs).unwrap_or_else(|| "-".into()),
            m.retransmissions.len(),
            ev.rel_secs(first.ts_ns)
        ),
        offset: Duration::ZERO,
        anchored: true,
        lines: Vec::new(),
    })
}

fn predicted_keepalive(
    sc: &Scenario,
    ev: &Evidence,
    host: Host,
    anchor: u64,
) -> Result<Predicted, String> {
    let Some(seen) = keepalive_seen(ev, host, sc.connection(), anchor) else {
        return Err(format!("no segment received by {host} before the probes"));
    };
    let k = keepalive_knobs(sc, host);
    let m = model::keepalive(&k);
    let line = format!(
        "reference: last segment {host} received at {:.6}s; {} probes captured{}",
        ev.rel_secs(seen.last_received.ts_ns),
        seen.probes.len(),
        seen.rst
            .map(|r| format!(", RST at {}", secs(at(seen.last_received.ts_ns, r.ts_ns))))
            .unwrap_or_default()
    );
    Ok(Predicted {
        reference: seen.last_received.ts_ns,
        window: m.death_window(),
        predicted: m.death,
        inputs: format!(
            "idle={} intvl={} cnt={}{}",
            secs(k.idle),
            secs(k.intvl),
            k.cnt,
            k.user_timeout
                .map(|u| format!(" user_timeout={}", secs(u)))
                .unwrap_or_default()
        ),
        offset: Duration::ZERO,
        anchored: true,
        lines: vec![line],
    })
}

/// Evaluates `dies = "retransmission" | "keepalive"` for `source`, on `host`,
/// the death being what `death` marks. A line is judged like an error event:
/// within the model's window plus [`APP_WAKEUP`] (the program's read returns
/// the error, it prints, the relay stamps the line).
pub fn dies(
    sc: &Scenario,
    ev: &Evidence,
    model_name: DeathModel,
    source: &str,
    host: Host,
    death: &DeathMark,
    anchor: u64,
) -> Timed {
    let p = match model_name {
        DeathModel::Retransmission => predicted_retransmission(sc, ev, host, anchor),
        DeathModel::Keepalive => predicted_keepalive(sc, ev, host, anchor),
        DeathModel::Syn => predicted_syn(sc, ev, host, anchor),
        DeathModel::LocalDrop => predicted_local_drop(sc, ev, host, anchor),
        DeathModel::Unreachable => predicted_unreachable(sc, ev, host, anchor),
        // Rejected by validation: no application hears of a request's end.
        DeathModel::Synack => {
            Err("`dies = \"synack\"` has no application death: use `gone = \"syn_recv\"`".into())
        }
        DeathModel::ZeroWindow => predicted_zero_window(sc, ev, host),
    };
    let p = match p {
        Ok(p) => p,
        Err(line) => return Timed::undecided(line),
    };
    let mut lines = p.lines;
    let latest = p.window.latest + APP_WAKEUP;
    lines.insert(
        0,
        format!(
            "model ({model_name}; {}): death at {} (accepted {}..{}: timer lateness from the model, +{} application wake-up)",
            p.inputs,
            secs(p.predicted),
            secs(p.window.earliest),
            secs(latest),
            secs(APP_WAKEUP)
        ),
    );
    let predicted = Some((p.predicted + p.offset).as_secs_f64());
    let Some(err) = first_death(ev, source, death, anchor) else {
        lines.push(match death {
            DeathMark::ErrorEvent => {
                format!("measured: {source} reported no error after the fault")
            }
            DeathMark::Line(pattern) => format!(
                "measured: no stdout or stderr line of {source} matched {pattern} after the fault"
            ),
        });
        return Timed {
            check: Check {
                kernel: None,
                name: String::new(),
                ok: false,
                evidence: lines,
            },
            predicted,
            measured: None,
        };
    };
    let measured = at(p.reference, err.ts_ns);
    // The CPU time taken while the death was overdue (see `compare_schedule`).
    let stolen = ev.held_back_within(p.reference + p.predicted.as_nanos() as u64, err.ts_ns);
    // A jiffies clock lagging when the timers were armed (see `compare_schedule`).
    let early = ev.early_slack_at(p.reference);
    let earliest = p
        .window
        .earliest
        .saturating_sub(early.saturating_sub(model::EARLY_SLACK));
    let ok = p.anchored && earliest <= measured && measured <= latest + stolen;
    if !p.anchored {
        lines.push(
            "the death is not accepted: the first retransmission it is predicted from is off the model"
                .into(),
        );
    }
    lines.push(format!(
        "measured: {} at {} ({:.6}s into the run){}{}",
        death_text(death, err),
        secs(measured),
        ev.rel_secs(err.ts_ns),
        accepted_until(latest, stolen),
        accepted_from(earliest, early)
    ));
    Timed {
        check: Check {
            kernel: None,
            name: String::new(),
            ok,
            evidence: lines,
        },
        predicted,
        measured: Some((measured + p.offset).as_secs_f64()),
    }
}

fn fail(line: String) -> Check {
    Check {
        kernel: None,
        name: String::new(),
        ok: false,
        evidence: vec![line],
    }
}

/// A schedule to compare: (predicted times with their lateness, measured
/// times), from the reference, and the header line.
struct Schedule {
    /// What the times are measured from.
    reference_ns: u64,
    /// Each predicted time with its lateness from the model.
    predicted: Vec<(Duration, Duration)>,
    measured: Vec<Duration>,
    header: String,
    /// The number of the list's first entry (retransmission #1 is checked in the header).
    number_from: usize,
    /// The last predicted event and the captured one of its number ([`Timed`]).
    key: KeyTimes,
    /// When a time budget ends the connection (tcp_retries2's or
    /// TCP_USER_TIMEOUT's, from the reference, at its earliest): a
    /// retransmission predicted before it whose timer, as late as the model
    /// allows, fires after it is not sent (the connection dies instead). None
    /// where the end is counted (keepalive probes).
    budget_ends: Option<Duration>,
}

/// A schedule's last predicted event and the captured one of its number.
fn last_of(predicted: &[(Duration, Duration)], measured: &[Duration]) -> KeyTimes {
    match predicted.last() {
        Some((t, _)) => (Some(*t), measured.get(predicted.len() - 1).copied()),
        None => (None, None),
    }
}

/// A dead path's last predicted RTO retransmission and the captured one of
/// its number, from the head segment's original send (as [`dies`] counts).
fn chain_key(c: &Chain) -> KeyTimes {
    match c.later.last() {
        Some((t, _)) => (
            Some(c.first + *t),
            c.later_seen.get(c.later.len() - 1).map(|m| c.first + *m),
        ),
        // A budget of one retransmission: #1 is the last.
        None => (c.model.retransmissions.first().copied(), Some(c.first)),
    }
}

fn retransmission_schedule(
    sc: &Scenario,
    ev: &Evidence,
    host: Host,
    anchor: u64,
) -> Result<Schedule, Timed> {
    if dead_path_seen(ev, host, sc.connection(), anchor).is_none() {
        return Err(Timed::undecided(format!(
            "no retransmission from {host} on {} after the fault",
            port_of_host(host)
        )));
    }
    let Some(d) = dead_path(sc, ev, host, anchor) else {
        return Err(Timed::undecided("no RTO retransmission captured".into()));
    };
    let probe = probe_note(&d);
    let (c, k) = (d.chain, &d.knobs);
    let first_ok = c.first_ok();
    let header = format!(
        "model: {} RTO retransmissions of seq {} (retries2={}, rto={}), each RTO double the one before; \
         {probe}#1 at {} after the original send (accepted {}..{}) {}; the rest from #1",
        c.model.retransmissions.len(),
        d.seen.original.seq,
        k.retries2,
        secs(k.rto),
        secs(c.first),
        secs(c.first_window.0),
        secs(c.first_window.1),
        if first_ok { "ok" } else { "OUT OF WINDOW" }
    );
    let key = chain_key(&c);
    if !first_ok {
        return Err(Timed::of(fail(header), key));
    }
    Ok(Schedule {
        reference_ns: d.first_ns,
        budget_ends: Some(c.death.0.saturating_sub(model::EARLY_SLACK)),
        predicted: c.later,
        measured: c.later_seen,
        header,
        number_from: 2,
        key,
    })
}

fn keepalive_schedule(
    sc: &Scenario,
    ev: &Evidence,
    host: Host,
    anchor: u64,
) -> Result<Schedule, Timed> {
    let Some(seen) = keepalive_seen(ev, host, sc.connection(), anchor) else {
        return Err(Timed::undecided(format!(
            "no segment received by {host} before the probes"
        )));
    };
    let k = keepalive_knobs(sc, host);
    let m = model::keepalive(&k);
    let predicted: Vec<(Duration, Duration)> = m
        .probes
        .iter()
        .scan(Duration::ZERO, |late, t| {
            *late += model::timer_slack(if *late == Duration::ZERO {
                k.idle
            } else {
                k.intvl
            });
            Some((*t, *late))
        })
        .collect();
    let measured: Vec<Duration> = seen
        .probes
        .iter()
        .map(|p| at(seen.last_received.ts_ns, p.ts_ns))
        .collect();
    let key = last_of(&predicted, &measured);
    Ok(Schedule {
        reference_ns: seen.last_received.ts_ns,
        budget_ends: None,
        predicted,
        measured,
        key,
        header: format!(
            "model: {} keepalive probes (seq = snd_una - 1, idle={} intvl={} cnt={}), times from the last segment received at {:.6}s",
            m.probes.len(),
            secs(k.idle),
            secs(k.intvl),
            k.cnt,
            ev.rel_secs(seen.last_received.ts_ns)
        ),
        number_from: 1,
    })
}

/// Evaluates `schedule = "retransmission" | "keepalive"`: each captured
/// retransmission (or probe) at its predicted time, and as many as predicted.
/// Its times ([`Timed`]): the last predicted retransmission (probe) and the
/// captured one of the same number.
pub fn schedule(
    sc: &Scenario,
    ev: &Evidence,
    model_name: DeathModel,
    host: Host,
    anchor: u64,
) -> Timed {
    let s = match model_name {
        DeathModel::Retransmission => retransmission_schedule(sc, ev, host, anchor),
        DeathModel::Keepalive => keepalive_schedule(sc, ev, host, anchor),
        DeathModel::Syn => syn_schedule(sc, ev, host, anchor),
        DeathModel::Synack => synack_schedule(sc, ev, host, anchor),
        DeathModel::LocalDrop => Err(Timed::undecided(
            "a local drop's probes never reach the capture: check its death with `dies = \"local_drop\"`"
                .to_string(),
        )),
        DeathModel::ZeroWindow => zero_window_schedule(sc, ev, host),
        DeathModel::Unreachable => Err(Timed::undecided(
            "`schedule = \"unreachable\"` is not modelled yet: check the death with `dies = \"unreachable\"`"
                .to_string(),
        )),
    };
    match s {
        Ok(s) => {
            let key = s.key;
            Timed::of(compare_schedule(s, ev), key)
        }
        Err(timed) => timed,
    }
}

/// Each predicted time against the captured one, in order. The lateness
/// accepted is the model's (timer wheel, [`WIRE_LAG`]) plus the time the
/// machine held back this entry and the ones before it, each from its
/// predicted time to its capture: CPU time the hypervisor took, or the
/// jiffies clock's lag ([`Evidence::held_back_within`]; zero on bare metal
/// whose ticks come on time): a late timer arms the next one that much
/// later too. The early side is [`Evidence::early_slack_at`] the reference,
/// where the chain's first timer was armed. The line says so when either
/// applied.
fn compare_schedule(s: Schedule, ev: &Evidence) -> Check {
    let (predicted, measured, number_from) = (&s.predicted, &s.measured, s.number_from);
    let mut lines = vec![s.header.clone()];
    let mut stolen = Duration::ZERO;
    // The chain's first timer was armed at the reference.
    let early = ev.early_slack_at(s.reference_ns);
    let abs = |d: &Duration| s.reference_ns + d.as_nanos() as u64;
    // Entries predicted but not captured, each either excused by the time
    // budget (see `Schedule::budget_ends`) or missing.
    let mut missing = 0;
    let mut ok = true;
    for i in 0..predicted.len().max(measured.len()) {
        let line = match (predicted.get(i), measured.get(i)) {
            (Some((t, late)), Some(got)) => {
                stolen += ev.held_back_within(abs(t), abs(got));
                let latest = *t + *late + WIRE_LAG + stolen;
                let fits = *got + early >= *t && *got <= latest;
                ok &= fits;
                format!(
                    "#{}: predicted {} (accepted {}..{}{}{}), captured {} {}",
                    i + number_from,
                    secs(*t),
                    secs(t.saturating_sub(early)),
                    secs(latest),
                    lag_note(early),
                    steal_note(stolen),
                    secs(*got),
                    if fits { "ok" } else { "OUT OF WINDOW" }
                )
            }
            (Some((t, late)), None) => {
                let latest = *t + *late + WIRE_LAG + stolen;
                match s.budget_ends {
                    Some(end) if latest >= end => format!(
                        "#{}: predicted {} (accepted until {}), not captured: its timer, that late, fires after the budget ends at {} (the connection dies instead)",
                        i + number_from,
                        secs(*t),
                        secs(latest),
                        secs(end)
                    ),
                    _ => {
                        missing += 1;
                        format!("#{}: predicted {}, not captured", i + number_from, secs(*t))
                    }
                }
            }
            (None, Some(got)) => {
                ok = false;
                format!(
                    "#{}: captured {} but not predicted",
                    i + number_from,
                    secs(*got)
                )
            }
            (None, None) => continue,
        };
        lines.push(line);
    }
    if missing > 0 || measured.len() > predicted.len() {
        ok = false;
        lines.insert(
            1,
            format!(
                "count: predicted {}, captured {}",
                predicted.len(),
                measured.len()
            ),
        );
    }
    Check {
        kernel: None,
        name: String::new(),
        ok,
        evidence: lines,
    }
}

/// The measured line's note when a lagging jiffies clock widened the
/// allowance on the early side.
fn accepted_from(earliest: Duration, early: Duration) -> String {
    if early <= model::EARLY_SLACK {
        String::new()
    } else {
        format!("; accepted from {}{}", secs(earliest), lag_note(early))
    }
}

/// The measured line's note when stolen CPU time widened the allowance.
fn accepted_until(latest: Duration, stolen: Duration) -> String {
    if stolen.is_zero() {
        String::new()
    } else {
        format!(
            "; accepted until {}{}",
            secs(latest + stolen),
            steal_note(stolen)
        )
    }
}

/// How an allowance mentions a lagging jiffies clock (nothing when the
/// model's own early slack held: [`Evidence::early_slack_at`]).
fn lag_note(early: Duration) -> String {
    if early <= model::EARLY_SLACK {
        String::new()
    } else {
        format!(
            " from {} early: the kernel's jiffies clock lagged real time by up to that when the timer was armed",
            secs(early)
        )
    }
}

/// How an allowance mentions the time the machine held a timer back
/// ([`Evidence::held_back_within`]; nothing when there was none).
fn steal_note(held: Duration) -> String {
    if held.is_zero() {
        String::new()
    } else {
        format!(
            " with {} held back by the machine (CPU time stolen by the hypervisor, or the kernel's jiffies clock lagging: steal.jsonl, ticks.jsonl)",
            secs(held)
        )
    }
}

/// How long the model says a connection on `host` can live (`model_timeout`):
/// its death, with its lateness. `rto`: the RTO sock_diag measured on the
/// connection so far, if any (a SYN retransmitted at connect leaves it near
/// 1 s for a while, and the death scales with it); the veth's usual ~208 ms otherwise.
pub fn model_life(
    sc: &Scenario,
    model_name: DeathModel,
    host: Host,
    rto: Option<Duration>,
) -> Duration {
    // A data path's knobs with the RTO measured so far, if any.
    let retrans = || {
        let mut k = retrans_knobs(sc, &Evidence::default(), host, u64::MAX);
        if let Some(r) = rto {
            k.rto = r;
        }
        k
    };
    let life = |m: model::DeadPath| m.death + m.late_by_at_most;
    match model_name {
        DeathModel::Keepalive => {
            let m = model::keepalive(&keepalive_knobs(sc, host));
            m.death + m.late_by_at_most
        }
        DeathModel::Retransmission => life(model::dead_path(&retrans())),
        DeathModel::Syn => life(model::syn_sent(&syn_knobs(sc, host))),
        DeathModel::Synack => life(model::syn_recv(&synack_knobs(sc, host))),
        DeathModel::LocalDrop => life(model::local_drop(&retrans())),
        DeathModel::Unreachable => match reject_of(sc, host) {
            Some((fam, u)) => life(crate::icmp::dead_path_unreachable(&retrans(), fam, u)),
            None => life(model::dead_path(&retrans())),
        },
        DeathModel::ZeroWindow => {
            let mut k = zero_window_knobs(sc, &Evidence::default(), host, u64::MAX);
            if let Some(r) = rto {
                k.rto = r;
            }
            let m = model::zero_window(&k);
            let last = m.probes.last().copied().unwrap_or_default();
            m.death.unwrap_or(last) + m.late_by_at_most
        }
    }
}

/// How long the model says an orphan on `host` lives (from its reference:
/// the FIN, the ACK of the FIN, the window closing, the first SYN-ACK), from
/// the scenario alone, with `rto` if one was measured: what a `gone` wait's
/// `model_timeout` and the suite's order take. (The `gone` check itself
/// takes the inputs from the capture: the segments in flight, the answers.)
pub fn orphan_life(
    sc: &Scenario,
    model_name: OrphanModel,
    host: Host,
    rto: Option<Duration>,
) -> Duration {
    let orphan_retries = sc.sysctl(host, "net.ipv4.tcp_orphan_retries").unwrap_or(0) as u32;
    let mut k = retrans_knobs(sc, &Evidence::default(), host, u64::MAX);
    if let Some(r) = rto {
        k.rto = r;
    }
    match model_name {
        OrphanModel::OrphanFin => {
            let (m, _) = orphan_fin_model(sc, &k, host, orphan_retries);
            m.death + m.late_by_at_most
        }
        OrphanModel::FinWait2 => {
            let fin_timeout =
                Duration::from_secs(sc.sysctl(host, "net.ipv4.tcp_fin_timeout").unwrap_or(60));
            let life = model::fin_wait2_lifetime(fin_timeout, 0, k.rto).unwrap_or(fin_timeout);
            life + model::timer_slack(life)
        }
        OrphanModel::SynRecv => model_life(sc, DeathModel::Synack, host, rto),
        OrphanModel::ZeroWindow => {
            let mut z = zero_window_knobs(sc, &Evidence::default(), host, u64::MAX);
            z.rto = k.rto;
            z.orphan = Some(orphan_retries);
            let m = model::zero_window(&z);
            let last = m.probes.last().copied().unwrap_or_default();
            m.death.unwrap_or(last) + m.late_by_at_most
        }
    }
}

/// About how long a scenario runs: its `duration` waits and the model's
/// lifetimes for its `model_timeout` waits, plus setup and a little per step.
/// Used for progress (predicted remaining time) and to balance shards.
pub fn predicted_run(sc: &Scenario) -> Duration {
    let mut total = Duration::from_millis(500);
    for step in &sc.steps {
        total += Duration::from_millis(20);
        if let Some(w) = &step.wait {
            match (&w.until, w.timeout) {
                (Wait::Duration(d), _) => total += d.0,
                (_, WaitTimeout::Model { model, host }) => {
                    total += model_life(sc, model, host, None)
                }
                (_, WaitTimeout::Orphan { model, host }) => {
                    total += orphan_life(sc, model, host, None)
                }
                (_, WaitTimeout::Fixed(_)) => {}
            }
        }
    }
    total
}

/// A vanishing orphan's reference and the model's lifetime from it.
struct Lifetime {
    reference: u64,
    predicted: Duration,
    late: Duration,
    /// The RTO the lifetime was computed with: the sampling must resolve
    /// the vanishing to better than half of it (see [`gone`]).
    rto: Duration,
    inputs: String,
}

/// The model's lifetime of `host`'s socket for `gone`, from its reference
/// packet (the host's FIN after the anchor; for `syn_recv`, its first SYN-ACK).
fn lifetime(
    sc: &Scenario,
    ev: &Evidence,
    model_name: OrphanModel,
    host: Host,
    anchor: u64,
) -> Result<Lifetime, String> {
    let side = host.side();
    let pkts = conn_packets(ev, port_of_host(host), sc.connection());
    let first = |what: &str, wanted: &dyn Fn(&Packet) -> bool| {
        pkts.iter()
            .copied()
            .find(|p| ev.sender(p) == Some(side) && p.ts_ns >= anchor && wanted(p))
            .ok_or_else(|| {
                format!(
                    "no {what} from {host} on {} after the step",
                    port_of_host(host)
                )
            })
    };
    match model_name {
        OrphanModel::OrphanFin => {
            let fin = first("FIN", &|p| p.flags.has(TcpFlags::FIN))?;
            Ok(orphan_fin_life(sc, ev, host, fin))
        }
        OrphanModel::FinWait2 => {
            let fin = first("FIN", &|p| p.flags.has(TcpFlags::FIN))?;
            fin_wait2_life(sc, ev, host, &pkts, fin)
        }
        OrphanModel::ZeroWindow => zero_window_life(sc, ev, host),
        OrphanModel::SynRecv => {
            let synack = first("SYN-ACK", &|p| {
                p.flags.has(TcpFlags::SYN) && p.flags.has(TcpFlags::ACK)
            })?;
            Ok(syn_recv_life(sc, ev, host, synack))
        }
    }
}

/// `syn_recv`: from the request's first SYN-ACK ([`model::syn_recv`]).
fn syn_recv_life(sc: &Scenario, ev: &Evidence, host: Host, synack: &Packet) -> Lifetime {
    let k = synack_knobs(sc, host);
    let m = model::syn_recv(&k);
    Lifetime {
        reference: synack.ts_ns,
        predicted: m.death,
        late: m.late_by_at_most,
        // The request timer's last interval, what the sampling must resolve.
        rto: m.death - m.retransmissions.last().copied().unwrap_or_default(),
        inputs: format!(
            "syn_recv; {}, {} SYN-ACK retransmissions; from the first SYN-ACK at {:.6}s",
            synack_inputs(&k),
            m.retransmissions.len(),
            ev.rel_secs(synack.ts_ns)
        ),
    }
}

/// `orphan_fin`: from the original send of the host's FIN.
fn orphan_fin_life(sc: &Scenario, ev: &Evidence, host: Host, fin: &Packet) -> Lifetime {
    let mut k = retrans_knobs(sc, ev, host, fin.ts_ns);
    k.in_flight = segments_in_flight(ev, sc.connection(), host, fin);
    let n = sc.sysctl(host, "net.ipv4.tcp_orphan_retries").unwrap_or(0) as u32;
    let (m, icmp) = orphan_fin_model(sc, &k, host, n);
    Lifetime {
        reference: fin.ts_ns,
        predicted: m.death,
        late: m.late_by_at_most,
        rto: k.rto,
        inputs: format!(
            "orphan_fin{icmp}; tcp_orphan_retries={n} (retries {}){}, rto={}, {} in flight{}, {} retransmissions; from the FIN's original send at {:.6}s",
            model::orphan_retries(n, true),
            k.user_timeout
                .map(|u| format!(", user_timeout={} (replaces the retries)", secs(u)))
                .unwrap_or_default(),
            secs(k.rto),
            k.in_flight,
            m.tail_loss_probe
                .map(|t| format!(" (the tail loss probe at {})", secs(t)))
                .unwrap_or_default(),
            m.retransmissions.len(),
            ev.rel_secs(fin.ts_ns)
        ),
    }
}

/// An orphan's FIN into a dead path, or, when a `reject` answers the host's
/// segments, into ICMP destination unreachable ([`crate::icmp::orphan_fin_unreachable`]:
/// the soft error takes the orphan's retries to 0 once its RTO reached
/// rto_max, and IPv4's net/host unreachable keeps the RTO from doubling).
/// With a note on the ICMP for the inputs.
fn orphan_fin_model(
    sc: &Scenario,
    k: &Retrans,
    host: Host,
    orphan_retries: u32,
) -> (model::DeadPath, String) {
    match reject_of(sc, host) {
        Some((fam, u)) => (
            crate::icmp::orphan_fin_unreachable(k, orphan_retries, fam, u),
            format!(
                " answered by ICMP ({}; backoff {}; 0 retries once the RTO reaches rto_max)",
                crate::icmp::errno(fam, u),
                if crate::icmp::reverts_backoff(fam, u) {
                    "undone (RFC 6069)"
                } else {
                    "kept"
                }
            ),
        ),
        None => (model::orphan_fin(k, orphan_retries), String::new()),
    }
}

/// Segments `host` had in flight when it sent `last` (its FIN, or the tail
/// of a flight), `last` included, as the kernel's `packets_out` counts them:
/// its data or FIN segments up to then whose end the peer had not
/// acknowledged, each captured frame counted in MSS-sized segments (a GSO
/// frame the capture shows whole is `len / snd_mss` segments, rounded up;
/// the MSS from the last sample, one frame one segment without it). One
/// makes the tail loss probe wait 2*srtt + rto_min, more only 2*srtt + 2 ms
/// ([`model::probe_timeout`]).
fn segments_in_flight(ev: &Evidence, conn: Connection, host: Host, last: &Packet) -> u32 {
    let side = host.side();
    let pkts = conn_packets(ev, port_of_host(host), conn);
    let acked = pkts
        .iter()
        .filter(|p| {
            ev.sender(p).is_some_and(|s| s != side)
                && p.ts_ns <= last.ts_ns
                && p.flags.has(TcpFlags::ACK)
        })
        .map(|p| p.ack)
        .max_by(|a, b| {
            if seq_before(*a, *b) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
    let mss = path_info(ev, host, conn, last.ts_ns).map(|t| t.snd_mss);
    let mut unacked: Vec<(u32, u32)> = pkts
        .iter()
        .filter(|p| {
            ev.sender(p) == Some(side)
                && p.ts_ns <= last.ts_ns
                && (p.len > 0 || p.flags.has(TcpFlags::FIN))
        })
        .filter(|p| acked.is_none_or(|a| seq_before(a, segment_end(p))))
        .map(|p| {
            let pcount = match mss {
                Some(m) if p.len > m => p.len.div_ceil(m),
                _ => 1,
            };
            (p.seq, pcount)
        })
        .collect();
    // A retransmission is not a second segment in flight.
    unacked.sort_unstable();
    unacked.dedup_by_key(|(seq, _)| *seq);
    unacked.iter().map(|(_, n)| n).sum::<u32>().max(1)
}

/// The sequence number after a segment: its data, and one for a SYN or FIN.
fn segment_end(p: &Packet) -> u32 {
    p.seq.wrapping_add(p.len).wrapping_add(u32::from(
        p.flags.has(TcpFlags::FIN) || p.flags.has(TcpFlags::SYN),
    ))
}

/// `fin_wait2`: from the first segment acknowledging the host's FIN.
fn fin_wait2_life(
    sc: &Scenario,
    ev: &Evidence,
    host: Host,
    pkts: &[&Packet],
    fin: &Packet,
) -> Result<Lifetime, String> {
    let side = host.side();
    let fin_end = fin.seq.wrapping_add(fin.len).wrapping_add(1);
    let Some(ack) = pkts.iter().copied().find(|p| {
        ev.sender(p).is_some()
            && ev.sender(p) != Some(side)
            && p.ts_ns > fin.ts_ns
            && p.flags.has(TcpFlags::ACK)
            && !seq_before(p.ack, fin_end)
    }) else {
        return Err(format!(
            "{host}'s FIN was never acknowledged on {}",
            port_of_host(host)
        ));
    };
    let fin_timeout = sc.sysctl(host, "net.ipv4.tcp_fin_timeout").unwrap_or(60);
    // The RTO as it last was: an orphan in FIN_WAIT2 takes no more RTT samples,
    // and the ACK of its FIN may come before any round saw the full socket.
    let rto = measured_rto(ev, host, sc.connection(), u64::MAX).unwrap_or(model::VETH_RTO);
    let Some(life) = model::fin_wait2_lifetime(Duration::from_secs(fin_timeout), 0, rto) else {
        return Err("no FIN_WAIT2 lifetime".into());
    };
    Ok(Lifetime {
        reference: ack.ts_ns,
        predicted: life,
        late: model::timer_slack(life),
        rto,
        inputs: format!(
            "fin_wait2; tcp_fin_timeout={fin_timeout}s rto={}: max(fin_timeout, 3.5*RTO); from the ACK of the FIN at {:.6}s",
            secs(rto),
            ev.rel_secs(ack.ts_ns)
        ),
    })
}

/// `zero_window`: an orphan whose FIN waits behind data its peer's zero window
/// holds back ([`model::zero_window`] with `tcp_orphan_retries`); from the ACK
/// that closed the window, the peer's answers to the probes as captured.
fn zero_window_life(sc: &Scenario, ev: &Evidence, host: Host) -> Result<Lifetime, String> {
    let orphan_retries = sc.sysctl(host, "net.ipv4.tcp_orphan_retries").unwrap_or(0) as u32;
    let (seen, k, m) = zero_window_model(sc, ev, host, Some(orphan_retries))?;
    let Some(death) = m.death else {
        return Err(format!(
            "model ({}): no death: {}",
            zero_window_inputs(&k),
            m.reason
        ));
    };
    Ok(Lifetime {
        reference: seen.closing.ts_ns,
        predicted: death,
        late: m.late_by_at_most,
        rto: k.rto,
        inputs: format!(
            "zero_window; tcp_orphan_retries={} {}; {}; {}",
            k.orphan.unwrap_or(0),
            zero_window_inputs(&k),
            m.reason,
            zero_window_reference(ev, &seen)
        ),
    })
}

/// Where the samples place a socket's vanishing: after the last round on
/// the host (after the reference) that still had the connection, at or
/// before the first that had not.
struct Vanishing {
    /// The last round with the connection (the reference when none had it).
    last_seen: u64,
    /// The first round without it; `None` while every round had it.
    gone: Option<u64>,
    rounds: usize,
    /// When the timer of the last sample with the connection was due
    /// (sock_diag's `expires`, ms): the kernel's own word on when it ends.
    due: Option<u64>,
}

fn vanishing(ev: &Evidence, host: Host, conn: Connection, reference: u64) -> Vanishing {
    // Rounds on the host after the reference: ts -> whether the connection has a socket.
    let mut rounds: std::collections::BTreeMap<u64, bool> = std::collections::BTreeMap::new();
    let mut due_at: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
    for s in ev
        .sockets
        .iter()
        .filter(|s| s.host == host && s.ts_ns > reference)
    {
        let ours = conn.has_socket(s);
        *rounds.entry(s.ts_ns).or_insert(false) |= ours;
        if let (true, Some(ms)) = (ours, s.expires_ms) {
            due_at.insert(s.ts_ns, s.ts_ns + ms * 1_000_000);
        }
    }
    let gone = rounds
        .iter()
        .find(|(_, present)| !**present)
        .map(|(&ts, _)| ts);
    let last_seen = rounds
        .iter()
        .take_while(|(&ts, _)| gone.is_none_or(|g| ts < g))
        .filter(|(_, present)| **present)
        .map(|(&ts, _)| ts)
        .last()
        .unwrap_or(reference);
    Vanishing {
        due: due_at.get(&last_seen).copied(),
        last_seen,
        gone,
        rounds: rounds.len(),
    }
}

/// Evaluates `gone = "orphan_fin" | "fin_wait2"`: when `host`'s socket of the
/// connection vanishes from the sock_diag samples, against the model.
/// - `orphan_fin`: from the original send of the host's FIN (after the
///   anchor); the model is [`model::orphan_fin`] with `tcp_orphan_retries`.
/// - `fin_wait2`: from the first segment acknowledging that FIN (the socket
///   enters FIN_WAIT2); the model is [`model::fin_wait2_lifetime`] with
///   `tcp_fin_timeout` and the RTO sampled before.
///
/// Measured: the samples place the vanishing between the last round on the
/// host that had the connection and the first that had not (rounds come
/// every [`crate::evidence::SAMPLE_PERIOD`], later when the machine is
/// loaded). Accepted: the model's time, minus [`model::EARLY_SLACK`], plus
/// the timers' lateness, when that span overlaps it and is shorter than
/// half the RTO: any coarser and the samples could not tell the model's
/// death from one a retransmission earlier or later. A wider span (rounds
/// late under load) still decides when the last round's timer (sock_diag's
/// expiry) was due inside both the span and the window. (The span replaced a
/// fixed allowance of one period plus 50 ms of sampler wake-up, which a
/// round 81 ms late under `--repeat 20` exceeded.)
///
/// Its times ([`Timed`]): the model's lifetime, and the first round without
/// the socket, from the reference.
pub fn gone(
    sc: &Scenario,
    ev: &Evidence,
    model_name: OrphanModel,
    host: Host,
    anchor: u64,
) -> Timed {
    let life = match lifetime(sc, ev, model_name, host, anchor) {
        Ok(l) => l,
        Err(line) => return Timed::undecided(line),
    };
    // A jiffies clock lagging when the timers were armed (see `compare_schedule`).
    let early = ev.early_slack_at(life.reference);
    let earliest = life.predicted.saturating_sub(early);
    let latest = life.predicted + life.late;
    let resolution = life.rto / 2;
    let mut lines = vec![format!(
        "model ({}): gone at {} (accepted {}..{}{}: timer lateness from the model; the samples must place it within {}, half the RTO)",
        life.inputs,
        secs(life.predicted),
        secs(earliest),
        secs(latest),
        lag_note(early),
        secs(resolution)
    )];
    let seen = vanishing(ev, host, sc.connection(), life.reference);
    let Some(gone_ns) = seen.gone else {
        lines.push(format!(
            "measured: {host}'s socket was still there in the last of {} sample rounds",
            seen.rounds
        ));
        return Timed::of(
            Check {
                kernel: None,
                name: String::new(),
                ok: false,
                evidence: lines,
            },
            (Some(life.predicted), None),
        );
    };
    let (from, to) = (
        at(life.reference, seen.last_seen),
        at(life.reference, gone_ns),
    );
    // The CPU time taken while the vanishing was overdue (see `compare_schedule`).
    let stolen = ev.held_back_within(life.reference + life.predicted.as_nanos() as u64, gone_ns);
    let overlaps = from < latest + stolen && earliest <= to;
    // Resolved by the rounds, or else by the timer the last round showed: due
    // inside the span and inside the window (the rounds came late, the timer did not).
    let due = seen
        .due
        .filter(|&d| d > seen.last_seen && d <= gone_ns)
        .map(|d| at(life.reference, d));
    let resolved =
        to - from <= resolution || due.is_some_and(|d| earliest <= d && d <= latest + stolen);
    lines.push(format!(
        "measured: {host}'s socket last seen at {} ({:.6}s into the run){}, gone in the round at {} ({:.6}s){} {}",
        secs(from),
        ev.rel_secs(life.reference + from.as_nanos() as u64),
        due.map(|d| format!(" with its timer due at {}", secs(d)))
            .unwrap_or_default(),
        secs(to),
        ev.rel_secs(gone_ns),
        accepted_until(latest, stolen),
        match (overlaps, resolved) {
            (true, true) => "ok".to_string(),
            (false, _) => "OUT OF WINDOW".to_string(),
            (true, false) => format!("SAMPLED TOO COARSELY ({} between rounds)", secs(to - from)),
        }
    ));
    Timed::of(
        Check {
            kernel: None,
            name: String::new(),
            ok: overlaps && resolved,
            evidence: lines,
        },
        (Some(life.predicted), Some(to)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Packet, StepRecord};
    use crate::scenario::Profile;

    const KEEPALIVE: DeathModel = DeathModel::Keepalive;
    const RETRANS: DeathModel = DeathModel::Retransmission;
    use std::net::{IpAddr, SocketAddr};

    pub(super) const BASE: u64 = 1_000_000_000_000;

    pub(super) fn scenario(extra: &str) -> Scenario {
        let text = format!(
            "name = \"t\"\nconclusion = \"C3\"\nsummary = \"s\"\n{extra}\n[endpoints.server]\nhost = \"server\"\nprogram = \"server\"\n[endpoints.client]\nhost = \"client\"\nprogram = \"client\"\noptions = {{ keepalive = true }}\n[[step]]\nname = \"cut\"\ndo = \"cut\"\n[[expect]]\ndies = \"keepalive\"\nsource = \"client\"\nafter = \"cut\"\n"
        );
        Scenario::parse("t.toml", &text, Profile::Fast).unwrap()
    }

    pub(super) fn pkt(
        t: f64,
        from_client: bool,
        flags: &str,
        seq: u32,
        ack: u32,
        len: u32,
    ) -> Packet {
        let c: IpAddr = "198.18.0.1".parse().unwrap();
        let s: IpAddr = "198.18.0.2".parse().unwrap();
        let (src, dst) = if from_client {
            (SocketAddr::new(c, 40000), SocketAddr::new(s, 8080))
        } else {
            (SocketAddr::new(s, 8080), SocketAddr::new(c, 40000))
        };
        Packet {
            ts_ns: BASE + (t * 1e9) as u64,
            port: "client-port".into(),
            src,
            dst,
            flags: crate::evidence::TcpFlags::parse_tcpdump(flags).unwrap(),
            seq,
            ack,
            len,
            win: 100,
        }
    }

    pub(super) fn evidence(packets: Vec<Packet>, error_at: f64) -> Evidence {
        Evidence {
            client_ips: vec!["198.18.0.1".parse().unwrap()],
            server_ips: vec!["198.18.0.2".parse().unwrap()],
            packets,
            events: vec![Event {
                op: Some("read".into()),
                errno: Some("ETIMEDOUT".into()),
                ..Event::new(BASE + (error_at * 1e9) as u64, "client", EventKind::Error)
            }],
            steps: vec![StepRecord {
                index: 0,
                name: Some("cut".into()),
                action: "cut".into(),
                started_ns: BASE + 50_000_000,
                acted_ns: BASE + 50_000_000,
            }],
            start_ns: BASE,
            end_ns: BASE + 20_000_000_000,
            ..Default::default()
        }
    }

    fn keepalive_run(probe_times: &[f64], rst_at: f64) -> Vec<Packet> {
        let mut v = vec![
            pkt(0.0, false, "S.", 5000, 1001, 0),
            pkt(0.0001, true, ".", 1001, 5001, 0),
        ];
        for t in probe_times {
            v.push(pkt(*t, true, ".", 1000, 5001, 0));
        }
        v.push(pkt(rst_at, true, "R.", 1001, 5001, 0));
        v
    }

    const FAST_KEEPALIVE: &str = "[hosts.client.sysctl]\n\"net.ipv4.tcp_keepalive_time\" = 2\n\"net.ipv4.tcp_keepalive_intvl\" = 1\n\"net.ipv4.tcp_keepalive_probes\" = 3\n";

    #[test]
    fn keepalive_death_and_probes_at_the_model_times_pass() {
        let sc = scenario(FAST_KEEPALIVE);
        let ev = evidence(keepalive_run(&[2.001, 3.002, 4.003], 5.004), 5.005);
        let anchor = ev.steps[0].acted_ns;
        let d = dies(
            &sc,
            &ev,
            KEEPALIVE,
            "client",
            Host::Client,
            &DeathMark::ErrorEvent,
            anchor,
        );
        assert!(d.check.ok, "{:?}", d.check.evidence);
        assert_eq!(d.predicted, Some(5.0));
        let s = schedule(&sc, &ev, KEEPALIVE, Host::Client, anchor);
        assert!(s.check.ok, "{:?}", s.check.evidence);
        // Its times: the last probe, predicted and captured, from the last segment received.
        assert_eq!(s.predicted, Some(4.0));
        assert!((s.measured.unwrap() - 4.003).abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn keepalive_death_too_late_or_a_missing_probe_fails() {
        let sc = scenario(FAST_KEEPALIVE);
        let late = evidence(keepalive_run(&[2.001, 3.002, 4.003], 5.004), 6.5);
        let anchor = late.steps[0].acted_ns;
        assert!(
            !dies(
                &sc,
                &late,
                KEEPALIVE,
                "client",
                Host::Client,
                &DeathMark::ErrorEvent,
                anchor
            )
            .check
            .ok
        );
        let missing = evidence(keepalive_run(&[2.001, 4.003], 5.004), 5.005);
        let s = schedule(&sc, &missing, KEEPALIVE, Host::Client, anchor);
        // The third probe was not captured: no measured time for it.
        assert_eq!((s.predicted, s.measured), (Some(4.0), None));
        let c = s.check;
        assert!(!c.ok, "{:?}", c.evidence);
        assert!(
            c.evidence
                .iter()
                .any(|l| l.contains("count: predicted 3, captured 2")),
            "{:?}",
            c.evidence
        );
    }

    fn dead_path_run(offsets: &[f64]) -> Vec<Packet> {
        // Data sent at 0.0, last ACK received at 0.0 acks up to 1001 (snd_una).
        let mut v = vec![
            pkt(0.0, true, "P.", 1001, 5001, 1448),
            pkt(0.00001, false, ".", 5001, 1001, 0),
        ];
        for t in offsets {
            v.push(pkt(*t, true, ".", 1001, 5001, 1448));
        }
        v
    }

    #[test]
    fn an_orphans_fin_answered_by_icmp_follows_the_icmp_model() {
        // x-icmp-orphan-fin's knobs: tcp_orphan_retries = 6, rto_max 1 s.
        let text = |reject: bool| {
            format!(
                "name = \"t\"\nconclusion = \"X\"\nsummary = \"s\"\n[hosts.client.sysctl]\n\"net.ipv4.tcp_orphan_retries\" = 6\n\"net.ipv4.tcp_rto_max_ms\" = 1000\n[endpoints.server]\nhost = \"server\"\nprogram = \"server\"\n[endpoints.client]\nhost = \"client\"\nprogram = \"client\"\n{}[[step]]\nname = \"close\"\ndo = \"close\"\nendpoint = \"client\"\n",
                if reject { "[[step]]\ndo = \"reject\"\nfrom = \"client\"\n" } else { "" }
            )
        };
        let life = |reject: bool, ip: crate::scenario::Family| {
            let mut sc = Scenario::parse("t.toml", &text(reject), Profile::Fast).unwrap();
            sc.ip = ip;
            orphan_life(
                &sc,
                OrphanModel::OrphanFin,
                Host::Client,
                Some(Duration::from_millis(204)),
            )
        };
        use crate::scenario::Family::{V4, V6};
        let cut = life(false, V6);
        // IPv6 address unreachable: the RTO doubles to rto_max, where the soft
        // error takes the retries to 0: measured gone at 2.69 s, cut: later.
        let v6 = life(true, V6);
        assert!(
            v6 < Duration::from_millis(2900) && v6 > Duration::from_millis(2600),
            "{v6:?}"
        );
        assert!(cut > v6 + Duration::from_secs(2), "{cut:?} vs {v6:?}");
        // IPv4 host unreachable undoes the backoff: alive all along, 6 retries'
        // budget (5.4 s) of FINs 204 ms apart: measured gone at 5.94 s.
        let v4 = life(true, V4);
        assert!(
            v4 > Duration::from_millis(5900) && v4 < Duration::from_millis(6200),
            "{v4:?}"
        );
    }

    #[test]
    fn the_capture_decides_a_death_the_timer_wheel_leaves_open() {
        // tcp_retries2 = 4 with a 204 ms RTO (sock_diag): the fifth RTO
        // expiry may or may not give up ([`model::DeadPath::undecided`]).
        let sc = scenario("[hosts.client.sysctl]\n\"net.ipv4.tcp_retries2\" = 4\n");
        let mut sample = crate::evidence::SockSample::new(
            BASE + 1_000_000,
            Host::Client,
            "198.18.0.1:40000".parse().unwrap(),
            "198.18.0.2:8080".parse().unwrap(),
            TcpState::Established,
        );
        sample.tcp = Some(crate::evidence::TcpInfoLite {
            rto_us: 204_000,
            ..Default::default()
        });
        let run = |retransmissions: &[Duration], death: Duration| {
            let times: Vec<f64> = retransmissions
                .iter()
                .map(|t| t.as_secs_f64() + 0.002)
                .collect();
            let mut ev = evidence(dead_path_run(&times), death.as_secs_f64() + 0.03);
            ev.sockets.push(sample.clone());
            let anchor = ev.steps[0].acted_ns;
            dies(
                &sc,
                &ev,
                RETRANS,
                "client",
                Host::Client,
                &DeathMark::ErrorEvent,
                anchor,
            )
        };
        let k = Retrans {
            tlp: false,
            rto: Duration::from_millis(204),
            ..retrans_knobs(&sc, &Evidence::default(), Host::Client, u64::MAX)
        };
        let m = model::dead_path(&k);
        let u = m.undecided.expect("the fifth expiry is undecided").at;
        let i = m.retransmissions.iter().position(|t| *t == u).unwrap();
        // No retransmission at the fifth expiry: the kernel gave up there.
        let gave_up = run(&m.retransmissions[..i], u);
        assert!(gave_up.check.ok, "{:?}", gave_up.check.evidence);
        assert!(gave_up
            .check
            .evidence
            .iter()
            .any(|l| l.contains("the capture shows no retransmission")));
        // A retransmission there: the death is the next expiry, not this one.
        let went_on = run(&m.retransmissions, m.death);
        assert!(went_on.check.ok, "{:?}", went_on.check.evidence);
        assert!(went_on
            .check
            .evidence
            .iter()
            .any(|l| l.contains("shows a retransmission there")));
        let early = run(&m.retransmissions, u);
        assert!(!early.check.ok, "{:?}", early.check.evidence);
        // And no retransmission at the fifth, yet no death until the sixth: off the model.
        let late = run(&m.retransmissions[..i], m.death);
        assert!(!late.check.ok, "{:?}", late.check.evidence);
    }

    #[test]
    fn retransmissions_and_death_from_the_first_retransmission() {
        let sc = scenario("[hosts.client.sysctl]\n\"net.ipv4.tcp_retries2\" = 5\n");
        let k = retrans_knobs(&sc, &Evidence::default(), Host::Client, u64::MAX);
        let m = model::dead_path(&Retrans { tlp: false, ..k });
        let times: Vec<f64> = m
            .retransmissions
            .iter()
            .map(|t| t.as_secs_f64() + 0.002)
            .collect();
        let ev = evidence(dead_path_run(&times), m.death.as_secs_f64() + 0.01);
        let anchor = ev.steps[0].acted_ns;
        let dies_now = |ev: &Evidence| {
            dies(
                &sc,
                ev,
                RETRANS,
                "client",
                Host::Client,
                &DeathMark::ErrorEvent,
                anchor,
            )
        };
        let d = dies_now(&ev);
        assert!(d.check.ok, "{:?}", d.check.evidence);
        let s = schedule(&sc, &ev, RETRANS, Host::Client, anchor);
        assert!(s.check.ok, "{:?}", s.check.evidence);
        // Its times: the last retransmission, from the original send (like the death's).
        let last = *m.retransmissions.last().unwrap();
        let (p, got) = (s.predicted.unwrap(), s.measured.unwrap());
        assert!((p - (last.as_secs_f64() + 0.002)).abs() < 1e-6, "{s:?}");
        assert!((got - times.last().unwrap()).abs() < 1e-6, "{s:?}");
        assert!(
            p < d.predicted.unwrap(),
            "the last retransmission comes before the death"
        );

        // One retransmission a second late breaks the doubling.
        let mut shifted = times.clone();
        shifted[2] += 1.0;
        let bad = evidence(dead_path_run(&shifted), m.death.as_secs_f64() + 0.01);
        let c = schedule(&sc, &bad, RETRANS, Host::Client, anchor).check;
        assert!(!c.ok, "{:?}", c.evidence);
        assert!(c.evidence.iter().any(|l| l.contains("OUT OF WINDOW")));
        // Death long after the model's time fails too.
        let late = evidence(dead_path_run(&times), m.death.as_secs_f64() + 3.0);
        assert!(!dies_now(&late).check.ok);
        // A first retransmission off the model fails the death, whose clock it starts,
        // even when the death keeps the model's distance from it.
        let off: Vec<f64> = times.iter().map(|t| t + 0.5).collect();
        let unanchored = evidence(dead_path_run(&off), m.death.as_secs_f64() + 0.51);
        let d = dies_now(&unanchored);
        assert!(!d.check.ok, "{:?}", d.check.evidence);
        assert!(d.check.evidence.iter().any(|l| l.contains("off the model")));
    }

    fn rto_sample(t: f64, rto_ms: u32, backoff: u8) -> crate::evidence::SockSample {
        crate::evidence::SockSample {
            tcp: Some(crate::evidence::TcpInfoLite {
                rto_us: rto_ms * 1000,
                backoff,
                retransmits: backoff,
                ..Default::default()
            }),
            ..crate::evidence::SockSample::new(
                BASE + (t * 1e9) as u64,
                Host::Client,
                "198.18.0.1:40000".parse().unwrap(),
                "198.18.0.2:8080".parse().unwrap(),
                TcpState::Established,
            )
        }
    }

    #[test]
    fn the_model_takes_the_rto_from_before_any_backoff() {
        let sc = scenario("[hosts.client.sysctl]\n\"net.ipv4.tcp_retries2\" = 5\n");
        let mut ev = Evidence {
            sockets: vec![
                rto_sample(0.10, 204, 0),
                rto_sample(0.20, 204, 0),
                // Stamped before the retransmission at 0.21 s, read after its expiry doubled the RTO.
                rto_sample(0.205, 408, 1),
            ],
            ..Default::default()
        };
        let k = retrans_knobs(&sc, &ev, Host::Client, BASE + 210_000_000);
        assert_eq!(k.rto, Duration::from_millis(204));
        // With no sample before the backoff, the model's default stands.
        ev.sockets = vec![rto_sample(0.205, 408, 1)];
        let k = retrans_knobs(&sc, &ev, Host::Client, BASE + 210_000_000);
        assert_eq!(k.rto, Retrans::default().rto);
    }

    #[test]
    fn the_rto_comes_from_any_synchronized_state_not_the_handshake() {
        // A SYN retransmitted once: the handshake's 1 s timer while SYN_SENT, then
        // a 3 s RTO, seen only in FIN_WAIT1 (closed right after connecting).
        let sample = |t: f64, state: TcpState, rto_ms: u32| crate::evidence::SockSample {
            state,
            ..rto_sample(t, rto_ms, 0)
        };
        let ev = Evidence {
            sockets: vec![
                sample(0.5, TcpState::SynSent, 1000),
                sample(1.05, TcpState::FinWait1, 3088),
                crate::evidence::SockSample {
                    tcp: None,
                    ..sample(1.06, TcpState::FinWait2, 0)
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            measured_rto(
                &ev,
                Host::Client,
                Connection::new(8080),
                BASE + 2_000_000_000
            ),
            Some(Duration::from_millis(3088))
        );
        assert_eq!(
            measured_rto(
                &ev,
                Host::Client,
                Connection::new(8080),
                BASE + 1_000_000_000
            ),
            None,
            "SYN_SENT's timer is not the connection's RTO"
        );
    }

    #[test]
    fn predicted_run_counts_waits_and_model_lifetimes() {
        let short = scenario("");
        assert!(predicted_run(&short) < Duration::from_secs(2));
        let text = "name = \"t\"\nconclusion = \"C5\"\nsummary = \"s\"\n[endpoints.server]\nhost = \"server\"\nprogram = \"server\"\n[[step]]\nwait = { duration = \"15s\" }\n";
        let sc = Scenario::parse("t.toml", text, crate::scenario::Profile::Fast).unwrap();
        assert!(predicted_run(&sc) >= Duration::from_secs(15));
    }

    #[test]
    fn a_gone_waits_orphan_model_orders_the_suite_and_bounds_the_wait() {
        let text = |sysctl: &str, model: &str| {
            format!("name = \"t\"\nconclusion = \"X\"\nsummary = \"s\"\n[hosts.client.sysctl]\n{sysctl}\n[endpoints.server]\nhost = \"server\"\nprogram = \"server\"\n[endpoints.client]\nhost = \"client\"\nprogram = \"client\"\n[[step]]\nname = \"close\"\ndo = \"close\"\nendpoint = \"client\"\n[[step]]\nwait = {{ gone = true, host = \"client\", model_timeout = \"{model}\" }}\n")
        };
        let parse = |t: String| Scenario::parse("t.toml", &t, Profile::Fast).unwrap();
        // FIN_WAIT2 lasts max(tcp_fin_timeout, 3.5 RTO): 3 s with a veth's RTO.
        let sc = parse(text("\"net.ipv4.tcp_fin_timeout\" = 3", "fin_wait2"));
        let life = orphan_life(&sc, OrphanModel::FinWait2, Host::Client, None);
        assert!(
            life >= Duration::from_secs(3) && life < Duration::from_millis(3300),
            "{life:?}"
        );
        assert!(predicted_run(&sc) >= Duration::from_secs(3));
        let wait = sc.steps[1].wait.as_ref().unwrap();
        assert_eq!(
            crate::waits::timeout(&sc, wait, &crate::records::Records::default()),
            life + Duration::from_secs(10)
        );
        // An orphan FIN with tcp_orphan_retries = 2 (tcp_orphan_retries(): 2
        // retries): the FIN, the tail loss probe, RTOs 200 and 400 ms, dead
        // at the third expiry; about 1.4 s, not the 0 a fixed timeout adds.
        let sc = parse(text("\"net.ipv4.tcp_orphan_retries\" = 2", "orphan_fin"));
        let life = orphan_life(&sc, OrphanModel::OrphanFin, Host::Client, None);
        let m = model::orphan_fin(
            &retrans_knobs(&sc, &Evidence::default(), Host::Client, u64::MAX),
            2,
        );
        assert_eq!(life, m.death + m.late_by_at_most);
        assert!(m.death > Duration::from_millis(1000), "{:?}", m.death);
        assert!(predicted_run(&sc) >= m.death);
    }

    fn round(ms: u64, present: bool) -> crate::evidence::SockSample {
        use crate::evidence::SockSample;
        let client: SocketAddr = "198.18.0.1:40000".parse().unwrap();
        let server: SocketAddr = "198.18.0.2:8080".parse().unwrap();
        let ts = BASE + ms * 1_000_000;
        if present {
            SockSample::new(ts, Host::Client, client, server, TcpState::FinWait1)
        } else {
            SockSample::no_socket(ts, Host::Client)
        }
    }

    fn with_rounds(rounds: &[(u64, bool)]) -> Evidence {
        let mut ev = evidence(vec![], 100.0);
        ev.sockets = rounds.iter().map(|&(ms, p)| round(ms, p)).collect();
        ev
    }

    #[test]
    fn a_vanishing_lies_between_the_last_round_with_the_socket_and_the_first_without() {
        let ev = with_rounds(&[(10, true), (20, true), (101, false), (110, false)]);
        let v = vanishing(&ev, Host::Client, Connection::new(8080), BASE);
        assert_eq!(v.last_seen, BASE + 20_000_000);
        assert_eq!(v.gone, Some(BASE + 101_000_000));
        assert_eq!(v.rounds, 4);
        // Rounds before the reference do not count; without any round that had
        // the socket, the span starts at the reference.
        let v = vanishing(&ev, Host::Client, Connection::new(8080), BASE + 50_000_000);
        assert_eq!(v.last_seen, BASE + 50_000_000);
        assert_eq!(v.gone, Some(BASE + 101_000_000));
        // Another port's socket is not the connection's.
        let v = vanishing(&ev, Host::Client, Connection::new(9090), BASE);
        assert_eq!(v.gone, Some(BASE + 10_000_000));
    }

    #[test]
    fn a_gone_check_reports_the_lifetime_and_the_first_round_without_the_socket() {
        let sc = scenario("[hosts.client.sysctl]\n\"net.ipv4.tcp_fin_timeout\" = 1\n");
        // The client's FIN at 0.1 s, acknowledged at 0.1001 s: FIN_WAIT2 for
        // max(1 s, 3.5 * RTO) = 1 s; the rounds place the vanishing in 1.090..1.105 s.
        let packets = vec![
            pkt(0.1, true, "F.", 1001, 5001, 0),
            pkt(0.1001, false, ".", 5001, 1002, 0),
        ];
        let mut rounds: Vec<(u64, bool)> = (11..=109).map(|i| (i * 10, true)).collect();
        rounds.push((1105, false));
        let mut ev = with_rounds(&rounds);
        ev.packets = packets;
        let anchor = ev.steps[0].acted_ns;
        let g = gone(&sc, &ev, OrphanModel::FinWait2, Host::Client, anchor);
        assert!(g.check.ok, "{:?}", g.check.evidence);
        assert_eq!(g.predicted, Some(1.0));
        assert!((g.measured.unwrap() - 1.0049).abs() < 1e-6, "{g:?}");
        // Still there in the last round: the prediction stands, nothing measured.
        ev.sockets.retain(|s| s.ts_ns < BASE + 1_100_000_000);
        let g = gone(&sc, &ev, OrphanModel::FinWait2, Host::Client, anchor);
        assert!(!g.check.ok);
        assert_eq!((g.predicted, g.measured), (Some(1.0), None));
    }

    #[test]
    fn a_half_open_request_retransmits_its_syn_ack_and_vanishes_at_the_models_times() {
        use crate::evidence::SockSample;
        // tcp_synack_retries = 2: SYN-ACKs at 1 s and 3 s after the first, the
        // request dropped at 7 s (measured on 6.18: 1.027, 3.043, gone by 7.08 s).
        let sc = scenario("[hosts.server.sysctl]\n\"net.ipv4.tcp_synack_retries\" = 2\n");
        let synack = |t: f64| Packet {
            port: "server-port".into(),
            ..pkt(t, false, "S.", 900, 78, 0)
        };
        let mut ev = evidence(
            vec![
                Packet {
                    port: "server-port".into(),
                    ..pkt(0.1, true, "S", 77, 0, 0)
                },
                synack(0.1001),
                synack(1.127),
                synack(3.143),
            ],
            100.0,
        );
        let (client, server): (SocketAddr, SocketAddr) = (
            "198.18.0.1:40000".parse().unwrap(),
            "198.18.0.2:8080".parse().unwrap(),
        );
        // Rounds every 10 ms with the request until `until_ms`, then one without it.
        let rounds = |until_ms: u64| -> Vec<SockSample> {
            (11..=until_ms / 10)
                .map(|i| {
                    let ts = BASE + i * 10_000_000;
                    SockSample::new(ts, Host::Server, server, client, TcpState::SynRecv)
                })
                .chain([SockSample::no_socket(
                    BASE + (until_ms + 10) * 1_000_000,
                    Host::Server,
                )])
                .collect()
        };
        ev.sockets = rounds(7170);
        let anchor = ev.steps[0].acted_ns;
        let s = schedule(&sc, &ev, DeathModel::Synack, Host::Server, anchor);
        assert!(s.check.ok, "{:?}", s.check.evidence);
        assert_eq!(s.predicted, Some(3.0));
        let g = gone(&sc, &ev, OrphanModel::SynRecv, Host::Server, anchor);
        assert!(g.check.ok, "{:?}", g.check.evidence);
        assert_eq!(g.predicted, Some(7.0));
        // A request that outlived the model's time by more than its lateness fails.
        ev.sockets = rounds(7590);
        assert!(
            !gone(&sc, &ev, OrphanModel::SynRecv, Host::Server, anchor)
                .check
                .ok
        );
        // A third SYN-ACK retransmission is one more than the model's.
        ev.packets.push(synack(7.2));
        assert!(
            !schedule(&sc, &ev, DeathModel::Synack, Host::Server, anchor)
                .check
                .ok
        );
    }

    #[test]
    fn the_last_rounds_timer_says_when_the_socket_was_due_to_go() {
        let mut ev = with_rounds(&[(10, true), (20, true), (125, false)]);
        ev.sockets[1].expires_ms = Some(30);
        let v = vanishing(&ev, Host::Client, Connection::new(8080), BASE);
        assert_eq!(v.due, Some(BASE + 50_000_000));
        // Only the last round with the socket counts.
        ev.sockets[1].expires_ms = None;
        ev.sockets[0].expires_ms = Some(30);
        let v = vanishing(&ev, Host::Client, Connection::new(8080), BASE);
        assert_eq!(v.due, None);
    }

    #[test]
    fn a_socket_in_every_round_has_not_vanished() {
        let ev = with_rounds(&[(10, true), (20, true)]);
        let v = vanishing(&ev, Host::Client, Connection::new(8080), BASE);
        assert_eq!(v.gone, None);
        assert_eq!(v.last_seen, BASE + 20_000_000);
    }

    #[test]
    fn a_schedule_accepts_the_cpu_time_stolen_while_overdue_and_says_so() {
        use crate::evidence::CpuSteal;
        let ms = |n: u64| Duration::from_millis(n);
        let schedule = || Schedule {
            reference_ns: BASE,
            predicted: vec![(ms(408), ms(36))],
            measured: vec![ms(487)],
            header: "model".into(),
            number_from: 2,
            key: (None, None),
            budget_ends: None,
        };
        let steal = |records: &[(u64, u64)]| Evidence {
            steal: records
                .iter()
                .map(|&(at, cpu1)| CpuSteal {
                    ts_ns: BASE + at * 1_000_000,
                    steal_ns: vec![0, cpu1 * 1_000_000],
                })
                .collect(),
            ..Evidence::default()
        };
        // 408 + 36 + WIRE_LAG: 79 ms late is out of the model's window.
        let c = compare_schedule(schedule(), &Evidence::default());
        assert!(!c.ok, "{:?}", c.evidence);
        assert!(!c.evidence[1].contains("stolen"));
        // The hypervisor took a CPU for 30 ms while it was overdue: accepted.
        let c = compare_schedule(schedule(), &steal(&[(0, 0), (405, 0), (490, 30)]));
        assert!(c.ok, "{:?}", c.evidence);
        assert!(
            c.evidence[1].contains("0.040s held back by the machine (CPU time stolen"),
            "{}",
            c.evidence[1]
        );
        // The jiffies clock lagged 40 ms while it was overdue: accepted too.
        let lagging = Evidence {
            ticks: vec![crate::evidence::TickLag {
                ts_ns: BASE + 450 * 1_000_000,
                lag_ns: 40_000_000,
            }],
            ..Evidence::default()
        };
        let c = compare_schedule(schedule(), &lagging);
        assert!(c.ok, "{:?}", c.evidence);
        assert!(
            c.evidence[1].contains("0.041s held back by the machine"),
            "{}",
            c.evidence[1]
        );
        // Stolen before it was due: no excuse.
        let c = compare_schedule(schedule(), &steal(&[(0, 0), (300, 30), (490, 30)]));
        assert!(!c.ok, "{:?}", c.evidence);
    }

    #[test]
    fn a_probe_that_repeats_the_head_is_told_from_the_rto_chain_by_its_gap() {
        let rto = Duration::from_millis(204);
        // Measured here (x-postgres-power-off-in-flight): one segment in
        // flight, the probe at 0.204 s, the RTO chain one RTO after it, then
        // doubling: 0.412, 0.840, 1.672 s after the original send.
        let chain = [0.204, 0.412, 0.840, 1.672].map(|t| pkt(t, true, "P.", 1, 1, 10));
        let mut r: Vec<&Packet> = chain.iter().collect();
        let probe = tail_loss_probe(&mut r, rto);
        assert_eq!(probe.map(|p| p.ts_ns), Some(chain[0].ts_ns));
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].ts_ns, chain[1].ts_ns);
        // Without a probe the first two RTO retransmissions are two RTOs apart.
        let plain = [0.204, 0.612, 1.428].map(|t| pkt(t, true, "P.", 1, 1, 10));
        let mut r: Vec<&Packet> = plain.iter().collect();
        assert_eq!(tail_loss_probe(&mut r, rto), None);
        assert_eq!(r.len(), 3);
        // One retransmission alone can't tell: it is the RTO's.
        let mut r: Vec<&Packet> = plain[..1].iter().collect();
        assert_eq!(tail_loss_probe(&mut r, rto), None);
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn a_last_retransmission_due_at_the_budgets_end_may_give_way_to_the_death() {
        let ms = |n: u64| Duration::from_millis(n);
        // Seen under load (x-postgres-power-off-in-flight, TCP_USER_TIMEOUT 3 s
        // from #1): #4 predicted 2.912 s after #1, its timer as late as the
        // model allows fires after 3 s, and the kernel ends the connection
        // there instead (tcp_write_timeout before tcp_retransmit_skb).
        let schedule = |last: u64, end: Option<u64>| Schedule {
            reference_ns: BASE,
            predicted: vec![(ms(416), ms(36)), (ms(1248), ms(72)), (ms(last), ms(108))],
            measured: vec![ms(448), ms(1312)],
            header: "model".into(),
            number_from: 2,
            key: (None, None),
            budget_ends: end.map(ms),
        };
        let c = compare_schedule(schedule(2912, Some(2992)), &Evidence::default());
        assert!(c.ok, "{:?}", c.evidence);
        assert!(
            c.evidence[3].contains(
                "not captured: its timer, that late, fires after the budget ends at 2.992s"
            ),
            "{:?}",
            c.evidence
        );
        // Due well before the budget ends: it must be there.
        let c = compare_schedule(schedule(2000, Some(2992)), &Evidence::default());
        assert!(
            !c.ok && c.evidence[1] == "count: predicted 3, captured 2",
            "{:?}",
            c.evidence
        );
        // A count-decided end (keepalive) excuses nothing.
        let c = compare_schedule(schedule(2912, None), &Evidence::default());
        assert!(!c.ok, "{:?}", c.evidence);
    }

    #[test]
    fn a_connect_dies_and_retransmits_its_syn_at_the_models_times() {
        // tcp_syn_retries = 2 (linear timeouts 4): SYN retransmissions every
        // 1 s up to 5 s, ETIMEDOUT at 7 s (measured on 6.18: 7.14 s).
        let sc = scenario("[hosts.client.sysctl]\n\"net.ipv4.tcp_syn_retries\" = 2\n");
        let syns = |times: &[f64]| -> Vec<Packet> {
            times.iter().map(|t| pkt(*t, true, "S", 77, 0, 0)).collect()
        };
        let sent = [0.1, 1.102, 2.104, 3.106, 4.108, 5.11];
        let ev = evidence(syns(&sent), 7.24);
        let anchor = ev.steps[0].acted_ns;
        let death = dies(
            &sc,
            &ev,
            DeathModel::Syn,
            "client",
            Host::Client,
            &DeathMark::ErrorEvent,
            anchor,
        );
        assert!(death.check.ok, "{:?}", death.check.evidence);
        assert_eq!(death.predicted, Some(7.0));
        assert!((death.measured.unwrap() - 7.14).abs() < 1e-6);
        let s = schedule(&sc, &ev, DeathModel::Syn, Host::Client, anchor);
        assert!(s.check.ok, "{:?}", s.check.evidence);
        // Early: at 5 s, the SYN budget is not spent.
        let early = evidence(syns(&sent), 5.2);
        assert!(
            !dies(
                &sc,
                &early,
                DeathModel::Syn,
                "client",
                Host::Client,
                &DeathMark::ErrorEvent,
                anchor
            )
            .check
            .ok
        );
        // A socket's TCP_SYNCNT wins over the sysctl.
        let text = "name = \"t\"\nconclusion = \"X\"\nsummary = \"s\"\n[hosts.client.sysctl]\n\"net.ipv4.tcp_syn_retries\" = 6\n\
                    [endpoints.server]\nhost = \"server\"\nprogram = \"server\"\n[endpoints.client]\nhost = \"client\"\nprogram = \"client\"\noptions = { syncnt = 1 }\n";
        let sc = Scenario::parse("t.toml", text, Profile::Fast).unwrap();
        assert_eq!(syn_knobs(&sc, Host::Client).syn_retries, 1);
        assert_eq!(
            model::syn_sent(&syn_knobs(&sc, Host::Client)).death,
            Duration::from_secs(3)
        );
    }
    #[test]
    fn zero_window_time_zero_is_the_ack_the_host_read() {
        // Measured (x-zero-window-user-timeout, Debian 6.1 under emulation):
        // the window-0 ACK passed the port at 0.1 s, but the client had not
        // read it 50 ms later, when it sent a tail loss probe (its last data
        // segment again); the peer's second window-0 ACK (for the probe) is
        // the one it read, and its probes follow that one.
        let sc = scenario("[hosts.client.sysctl]\n\"net.ipv4.tcp_retries2\" = 3\n");
        let mut first = pkt(0.1, false, ".", 1, 5001, 0);
        first.win = 0;
        let resent = pkt(0.15, true, ".", 4001, 1, 1000);
        let mut read = pkt(0.151, false, ".", 1, 5001, 0);
        read.win = 0;
        let mut packets = vec![pkt(0.0999, true, ".", 4001, 1, 1000), first, resent, read];
        for t in [0.216, 0.648, 1.512] {
            packets.push(pkt(0.151 + t, true, ".", 5000, 1, 0));
        }
        let ev = evidence(packets, 3.4);
        let anchor = ev.steps[0].acted_ns;
        let s = schedule(&sc, &ev, DeathModel::ZeroWindow, Host::Client, anchor);
        assert!(s.check.ok, "{:?}", s.check.evidence);
        assert!(
            s.check.evidence[0].contains("the first after the host resent seq 4001 at"),
            "{:?}",
            s.check.evidence
        );
        // Without the resent segment, the first ACK is time zero and the
        // probes are 51 ms late.
        let mut first = pkt(0.1, false, ".", 1, 5001, 0);
        first.win = 0;
        let mut packets = vec![pkt(0.0999, true, ".", 4001, 1, 1000), first];
        for t in [0.216, 0.648, 1.512] {
            packets.push(pkt(0.151 + t, true, ".", 5000, 1, 0));
        }
        let ev = evidence(packets, 3.4);
        assert!(
            !schedule(&sc, &ev, DeathModel::ZeroWindow, Host::Client, anchor)
                .check
                .ok
        );
    }
    #[test]
    fn zero_window_probes_and_death_at_the_models_times() {
        // Measured (x-zero-window-cut, retries2 = 3, rto 208 ms, no sample): the
        // ACK closing the window at 0.1 s, probes (seq = snd_una - 1) 0.216,
        // 0.648, 1.512 s after it, ETIMEDOUT 3.240 s after it.
        let sc = scenario("[hosts.client.sysctl]\n\"net.ipv4.tcp_retries2\" = 3\n");
        let mut closing = pkt(0.1, false, ".", 1, 5001, 0);
        closing.win = 0;
        let mut packets = vec![pkt(0.0999, true, ".", 4001, 1, 1000), closing];
        for t in [0.216, 0.648, 1.512] {
            packets.push(pkt(0.1 + t, true, ".", 5000, 1, 0));
        }
        let three = packets.clone();
        let ev = evidence(packets.clone(), 3.34);
        let anchor = ev.steps[0].acted_ns;
        let zw = DeathModel::ZeroWindow;
        let death = dies(
            &sc,
            &ev,
            zw,
            "client",
            Host::Client,
            &DeathMark::ErrorEvent,
            anchor,
        );
        assert!(death.check.ok, "{:?}", death.check.evidence);
        let s = schedule(&sc, &ev, zw, Host::Client, anchor);
        assert!(s.check.ok, "{:?}", s.check.evidence);
        // A fourth probe is one too many for tcp_retries2 = 3.
        packets.push(pkt(0.1 + 3.3, true, ".", 5000, 1, 0));
        let ev = evidence(packets, 3.34);
        assert!(!schedule(&sc, &ev, zw, Host::Client, anchor).check.ok);
        // A death right after the last probe is early: the budget is not spent.
        let early = evidence(three, 1.7);
        assert!(
            !dies(
                &sc,
                &early,
                zw,
                "client",
                Host::Client,
                &DeathMark::ErrorEvent,
                anchor
            )
            .check
            .ok
        );
    }
}
