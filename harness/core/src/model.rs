//! The kernel's teardown timing model (KERNEL-FACTS.md), pure.
//!
//! Given sysctls, socket options and the RTO measured before a fault, this
//! module predicts when the kernel gives up on a connection, as the kernel
//! itself computes it (net/ipv4/tcp_timer.c), and how late its timers may
//! legally be. It does no I/O and never panics on any input: absurd inputs
//! (zero RTO, zero interval) are clamped to one jiffy.
//!
//! What each prediction is measured from (time zero):
//! - [`dead_path`] (C3): the original transmission of the first segment that
//!   is lost (for "cut, then send" that is the send right after the cut). The
//!   tail loss probe, every RTO retransmission and the death are times after it.
//! - [`orphan_fin`]: the original transmission of the orphan's FIN (close()).
//! - [`keepalive`] (C4, C4b): the last segment received from the peer.
//! - [`syn_sent`]: the first SYN (connect()).
//! - [`syn_recv`]: the listener's first SYN-ACK (its half-open request).
//! - [`local_drop`]: the write of new data the sender's own interface drops.
//! - [`fin_wait2_lifetime`]: the moment the orphan enters FIN_WAIT2.
//! - [`TIME_WAIT`]: the moment the socket enters TIME_WAIT.
//!
//! Rules modelled (see KERNEL-FACTS.md for the sources):
//! - Retransmission budget `M(N)` ([`budget`]) on the compile-time
//!   TCP_RTO_MIN of 200 ms, `L = ilog2(rto_max / 200 ms)`. The budget clock
//!   starts at the first RTO retransmission (`retrans_stamp`; for a SYN at the
//!   SYN itself, measured), and the check runs only when the RTO timer fires:
//!   death is the first RTO expiry at or beyond the budget. TCP_USER_TIMEOUT
//!   replaces the budget, and the kernel clamps each RTO so that a timer
//!   fires exactly at `t1 + UTO` (`tcp_clamp_rto_to_user_timeout`).
//! - RTO intervals start at the measured R0 (`tcpi_rto`) and double up to rto_max.
//! - Tail loss probe (`tcp_schedule_loss_probe`; `tcp_early_retrans` 3 or 4,
//!   SACK negotiated, congestion state Open or CWR): one probe at
//!   `2*srtt + rto_min` after the send with one segment in flight, `2*srtt +
//!   2 ms` with more, capped by the RTO; it re-arms the RTO from itself.
//! - Keepalive ticks at `idle + k*intvl`; probes for k = 0..cnt-1, death (RST,
//!   ETIMEDOUT) at `idle + cnt*intvl`; with TCP_USER_TIMEOUT the count is
//!   ignored and death is the first tick with elapsed >= UTO after a probe.
//! - SYN_SENT: initial RTO 1 s, the first `tcp_syn_linear_timeouts` (default 4)
//!   retransmissions keep 1 s, then it doubles; budget `M(syn_retries)` on a
//!   1 s base, counted from the SYN, or `syn_retries + linear` retransmissions.
//!   Measured on 6.18: syn_retries 1, 2, 3 fail at 3.07 s, 7.14 s, 19.49 s.
//!
//! Tolerances: timers never fire early, but may fire late by the timer-wheel
//! granularity of their level ([`timer_slack`], at most ~1/8 of their length),
//! and lateness accumulates along a chain of timers re-armed from each other.
//! Every prediction carries `late_by_at_most`; checks should accept
//! `[at - EARLY_SLACK, at + late_by_at_most]` ([`Window`]) rather than use
//! hand-written numbers.

use serde::Serialize;
use std::time::Duration;

/// One jiffy at HZ=250 (this kernel's and Ubuntu's CONFIG_HZ).
pub const JIFFY: Duration = Duration::from_millis(4);
/// Compile-time TCP_RTO_MIN: the base of the retransmission budget.
pub const TCP_RTO_MIN: Duration = Duration::from_millis(200);
/// Default rto_max (TCP_RTO_MAX, `tcp_rto_max_ms` = 120000).
pub const TCP_RTO_MAX: Duration = Duration::from_secs(120);
/// Initial SYN RTO (TCP_TIMEOUT_INIT).
pub const TCP_TIMEOUT_INIT: Duration = Duration::from_secs(1);
/// TIME_WAIT length (TCP_TIMEWAIT_LEN); no sysctl in mainline.
pub const TIME_WAIT: Duration = Duration::from_secs(60);
/// Initial RTO measured on a veth (rto_min plus rttvar rounding, 204-208 ms);
/// the default when no measurement is given.
pub const VETH_RTO: Duration = Duration::from_millis(208);
/// How much earlier than predicted an event may be seen: one jiffy of
/// rounding in the kernel's expiry check plus one of timestamp rounding.
pub const EARLY_SLACK: Duration = Duration::from_millis(8);

/// Most loop iterations any simulation makes (guards against absurd inputs).
const MAX_STEPS: usize = 100_000;

fn jiffies_ceil(t: Duration) -> u64 {
    let j = JIFFY.as_nanos();
    (t.as_nanos().div_ceil(j)) as u64
}

fn jiffies(n: u64) -> Duration {
    Duration::from_millis(n.saturating_mul(4))
}

/// How late a timer of length `t` may fire: the granularity of the timer
/// wheel level it lands in (level n holds delays from 63*8^(n-1) jiffies and
/// rounds expiry up to a multiple of 8^n jiffies) plus one jiffy for arming
/// mid-tick. That is at most ~1/8 of `t` (8/63), e.g. 8 ms for 208 ms,
/// 260 ms for 3.3 s, 16.4 s for 120 s.
pub fn timer_slack(t: Duration) -> Duration {
    let delta = jiffies_ceil(t);
    let mut level = 0u32;
    // LVL_START(n) = 63 << 3(n-1); the wheel has 9 levels at HZ > 100.
    while level < 8 && delta >= 63u64 << (3 * level) {
        level += 1;
    }
    jiffies((1u64 << (3 * level)) + 1)
}

/// The kernel's `tcp_model_timeout`: the retransmission budget for `retries`
/// on an RTO base (200 ms for data and FINs, 1 s for SYNs).
pub fn budget(retries: u32, rto_base: Duration, rto_max: Duration) -> Duration {
    let base = rto_base.max(JIFFY);
    let ratio = (rto_max.as_nanos() / base.as_nanos()).max(1);
    let l = 127 - ratio.leading_zeros(); // ilog2
    let exp = |n: u32| base.saturating_mul((2u32 << n.min(30)) - 1);
    if retries <= l {
        exp(retries)
    } else {
        exp(l).saturating_add(rto_max.saturating_mul(retries - l))
    }
}

/// An acceptance window for an observed time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Window {
    #[serde(serialize_with = "ser_secs")]
    pub earliest: Duration,
    #[serde(serialize_with = "ser_secs")]
    pub latest: Duration,
}

impl Window {
    pub fn contains(&self, t: Duration) -> bool {
        self.earliest <= t && t <= self.latest
    }
}

fn window(at: Duration, late: Duration) -> Window {
    Window {
        earliest: at.saturating_sub(EARLY_SLACK),
        latest: at + late,
    }
}

/// Knobs for a connection whose path died with data in flight.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Retrans {
    /// net.ipv4.tcp_retries2 (default 15).
    pub retries2: u32,
    /// The RTO measured before the fault (TCP_INFO `tcpi_rto`).
    #[serde(serialize_with = "ser_secs")]
    pub rto: Duration,
    /// min(net.ipv4.tcp_rto_max_ms, TCP_RTO_MAX_MS); default 120 s.
    #[serde(serialize_with = "ser_secs")]
    pub rto_max: Duration,
    /// rto_min in force (tcp_rto_min_us, route rto_min): only the TLP uses it.
    #[serde(serialize_with = "ser_secs")]
    pub rto_min: Duration,
    /// Smoothed RTT (tiny on a veth); only the TLP uses it.
    #[serde(serialize_with = "ser_secs")]
    pub srtt: Duration,
    /// Segments in flight when the tail was sent (`packets_out`): one adds
    /// rto_min to the probe timeout (a delayed ACK may be all that is
    /// missing), more add 2 ms (TCP_TIMEOUT_MIN_US). Only the TLP uses it.
    pub in_flight: u32,
    /// SACK negotiated (the TLP needs it).
    pub sack: bool,
    /// TCP_USER_TIMEOUT, if set (replaces the budget).
    #[serde(serialize_with = "ser_opt_secs")]
    pub user_timeout: Option<Duration>,
    /// Tail loss probe on (`tcp_early_retrans` 3 or 4, the default 3, with SACK).
    pub tlp: bool,
}

impl Default for Retrans {
    fn default() -> Self {
        Retrans {
            retries2: 15,
            rto: VETH_RTO,
            rto_max: TCP_RTO_MAX,
            rto_min: TCP_RTO_MIN,
            srtt: Duration::ZERO,
            in_flight: 1,
            sack: true,
            user_timeout: None,
            tlp: true,
        }
    }
}

/// The kernel's probe timeout floor with more than one segment in flight
/// (TCP_TIMEOUT_MIN_US, include/net/tcp.h).
pub const TCP_TIMEOUT_MIN: Duration = Duration::from_millis(2);

/// The RTO after a first RTT sample `rtt` (tcp_rtt_estimator, tcp_set_rto):
/// srtt = rtt, mdev = rtt/2, so RTO = srtt + max(4*mdev, rto_min) = rtt +
/// max(2*rtt, rto_min) (RFC 6298's 3*rtt, floored).
pub fn rto_from_rtt(rtt: Duration, rto_min: Duration) -> Duration {
    rtt + (rtt * 2).max(rto_min)
}

/// When a retransmitting socket dies; times from the original send of the lost segment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeadPath {
    /// The tail loss probe, if one is sent.
    #[serde(serialize_with = "ser_opt_secs")]
    pub tail_loss_probe: Option<Duration>,
    /// RTO retransmissions (the first one starts the budget clock).
    #[serde(serialize_with = "ser_vec_secs")]
    pub retransmissions: Vec<Duration>,
    /// The budget (M, or TCP_USER_TIMEOUT), counted from the first retransmission.
    #[serde(serialize_with = "ser_secs")]
    pub budget: Duration,
    /// The RTO expiry that kills it (ETIMEDOUT; no FIN, no RST).
    #[serde(serialize_with = "ser_secs")]
    pub death: Duration,
    /// Sum of the timer slack along the chain of timers up to the death.
    #[serde(serialize_with = "ser_secs")]
    pub late_by_at_most: Duration,
    /// An earlier expiry at which the kernel may already give up: there the
    /// nominal time since the clock started falls short of the budget, but
    /// with the timer wheel's rounding of the intervals since (up to
    /// [`timer_slack`] each) it may reach it. The wheel's phase decides, so
    /// the model cannot say which (e.g. tcp_retries2 = 4 with a 204 ms RTO:
    /// 30 x 204 ms = 6.12 s at the fifth expiry against 6.2 s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undecided: Option<Undecided>,
}

/// An expiry that may already end a chain ([`DeadPath::undecided`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Undecided {
    /// When it comes (in the chain's times).
    #[serde(serialize_with = "ser_secs")]
    pub at: Duration,
    /// The slack of the timers up to it, as `late_by_at_most` for the death.
    #[serde(serialize_with = "ser_secs")]
    pub late_by_at_most: Duration,
}

impl DeadPath {
    /// Where the death may be observed.
    pub fn death_window(&self) -> Window {
        window(self.death, self.late_by_at_most)
    }
}

/// When the budget clock starts.
#[derive(Clone, Copy)]
enum Clock {
    FirstRetransmission,
    At(Duration),
}

/// Where a chain of timers ends: the expiries that retransmitted, the one
/// that gave up, the slack up to it, and an earlier expiry where the timer
/// wheel's rounding may already have given up ([`DeadPath::undecided`]).
struct ChainEnd {
    sent: Vec<Duration>,
    death: Duration,
    late: Duration,
    undecided: Option<Undecided>,
}

/// Simulates a chain of RTO timers. The first expiry is at `first`; `rto0`
/// is the RTO in force then. `expired(retransmits, elapsed, rto)` is the
/// kernel's check at each expiry (only once something was retransmitted).
/// The first `linear` retransmissions keep the RTO, later ones double it.
///
/// The kernel checks the time really elapsed, and each interval since the
/// clock started fires up to [`timer_slack`] late: an expiry whose nominal
/// elapsed time does not expire but whose latest possible one would is
/// `undecided` (a time budget only: a count of retransmissions does not
/// depend on lateness; nor does the user timeout, to which the kernel clamps
/// the last timer).
#[allow(clippy::too_many_arguments)]
fn rto_chain(
    first: Duration,
    rto0: Duration,
    rto_max: Duration,
    linear: u32,
    clock: Clock,
    user_timeout: Option<Duration>,
    mut slack: Duration,
    expired: impl Fn(u32, Duration, Duration) -> bool,
) -> ChainEnd {
    let rto_max = rto_max.max(JIFFY);
    let mut rto = rto0.clamp(JIFFY, rto_max);
    let mut t = first;
    let mut retransmits = 0u32;
    let mut start = match clock {
        Clock::At(s) => Some(s),
        Clock::FirstRetransmission => None,
    };
    // The slack accumulated when the clock started: what came later can
    // stretch the elapsed time the kernel sees.
    let mut slack_at_start = match clock {
        Clock::At(_) => Some(Duration::ZERO),
        Clock::FirstRetransmission => None,
    };
    let mut undecided = None;
    let mut sent = Vec::new();
    for _ in 0..MAX_STEPS {
        if retransmits > 0 {
            let elapsed = t.saturating_sub(start.unwrap_or(t));
            let gone = match user_timeout {
                Some(u) => elapsed >= u,
                None => expired(retransmits, elapsed, rto),
            };
            if gone {
                return ChainEnd {
                    sent,
                    death: t,
                    late: slack,
                    undecided,
                };
            }
            let stretch = slack.saturating_sub(slack_at_start.unwrap_or(slack));
            // (A check on a count gives the same answer for any time.)
            if user_timeout.is_none()
                && undecided.is_none()
                && expired(retransmits, elapsed + stretch, rto)
            {
                undecided = Some(Undecided {
                    at: t,
                    late_by_at_most: slack,
                });
            }
        }
        sent.push(t);
        start.get_or_insert(t);
        slack_at_start.get_or_insert(slack);
        retransmits += 1;
        if retransmits > linear {
            rto = rto.saturating_mul(2).min(rto_max);
        }
        let mut next = rto;
        if let (Some(u), Some(s)) = (user_timeout, start) {
            let remaining = s.saturating_add(u).saturating_sub(t);
            next = next.min(remaining.max(JIFFY));
        }
        slack = slack.saturating_add(timer_slack(next));
        t = t.saturating_add(next);
    }
    ChainEnd {
        sent,
        death: t,
        late: slack,
        undecided,
    }
}

/// When the tail loss probe goes out after the send (tcp_schedule_loss_probe),
/// or none when it is off: `2*srtt` plus rto_min with one segment in flight
/// (plus 2 ms with more), capped by the RTO ("if the RTO formula yields an
/// earlier time, then use that time"). Both in microseconds, then
/// `usecs_to_jiffies`, which rounds up: at HZ=250 a veth's 2*srtt + 2 ms is
/// one jiffy, 4 ms, and 2*10 ms + 2 ms is 24 ms (packetdrill's ~22 ms is
/// HZ=1000's).
pub fn probe_timeout(k: &Retrans) -> Option<Duration> {
    if !k.tlp || !k.sack || k.in_flight == 0 {
        return None;
    }
    let extra = if k.in_flight == 1 {
        k.rto_min
    } else {
        TCP_TIMEOUT_MIN
    };
    let pto = jiffies(jiffies_ceil(k.srtt.saturating_mul(2).saturating_add(extra)));
    Some(pto.min(jiffies(jiffies_ceil(k.rto)).max(JIFFY)))
}

/// The tail loss probe (if on) and the first RTO expiry, with their slack.
/// The probe ([`probe_timeout`]) re-arms the RTO from itself.
fn first_rto_expiry(k: &Retrans) -> (Option<Duration>, Duration, Duration) {
    let rto = k.rto.max(JIFFY);
    if let Some(pto) = probe_timeout(k) {
        (
            Some(pto),
            pto.saturating_add(rto),
            timer_slack(pto) + timer_slack(rto),
        )
    } else {
        (None, rto, timer_slack(rto))
    }
}

/// Data in flight on a dead path (C3): retransmission schedule and death.
pub fn dead_path(k: &Retrans) -> DeadPath {
    let rto = k.rto.max(JIFFY);
    let (tlp, first, slack) = first_rto_expiry(k);
    let budget_m = budget(k.retries2, TCP_RTO_MIN, k.rto_max);
    let end = rto_chain(
        first,
        rto,
        k.rto_max,
        0,
        Clock::FirstRetransmission,
        k.user_timeout,
        slack,
        |_, elapsed, _| elapsed >= budget_m,
    );
    DeadPath {
        tail_loss_probe: tlp,
        retransmissions: end.sent,
        budget: k.user_timeout.unwrap_or(budget_m),
        death: end.death,
        late_by_at_most: end.late,
        undecided: end.undecided,
    }
}

/// The kernel's `tcp_orphan_retries` without ICMP errors: 0 means 8 while
/// the RTO is below rto_max ("alive"), and 0 once it reached it.
pub fn orphan_retries(sysctl: u32, alive: bool) -> u32 {
    if sysctl == 0 && alive {
        8
    } else {
        sysctl
    }
}

/// An orphan (closed socket) in FIN_WAIT1 or LAST_ACK retransmitting its FIN
/// into a dead path; times from the FIN's original send. No RST at the end.
pub fn orphan_fin(k: &Retrans, orphan_retries_sysctl: u32) -> DeadPath {
    let rto = k.rto.max(JIFFY);
    let rto_max = k.rto_max.max(JIFFY);
    let (tlp, first, slack) = first_rto_expiry(k);
    let end = rto_chain(
        first,
        rto,
        rto_max,
        0,
        Clock::FirstRetransmission,
        k.user_timeout,
        slack,
        |_, elapsed, rto_now| {
            let n = orphan_retries(orphan_retries_sysctl, rto_now < rto_max);
            elapsed >= budget(n, TCP_RTO_MIN, rto_max)
        },
    );
    let alive_budget = budget(
        orphan_retries(orphan_retries_sysctl, true),
        TCP_RTO_MIN,
        rto_max,
    );
    DeadPath {
        tail_loss_probe: tlp,
        retransmissions: end.sent,
        budget: k.user_timeout.unwrap_or(alive_budget),
        death: end.death,
        late_by_at_most: end.late,
        undecided: end.undecided,
    }
}

// ---------------------------------------------------------------------------
// Zero-window probes (the persist timer), net/ipv4/tcp_timer.c and tcp_output.c
// (Linux 6.15+, with the socket's rto_max), measured on 6.18.
// ---------------------------------------------------------------------------

/// The largest shift `tcp_probe0_when` applies: ilog2(TCP_RTO_MAX / TCP_RTO_MIN) + 1.
const PROBE0_MAX_SHIFT: u32 = 10;

/// Probes after which a run that has not ended is taken to go on for ever.
const FOREVER_PROBES: usize = 200;

/// Knobs for a sender facing a zero window with unsent data and nothing in
/// flight. Time zero is the last segment it received before its first probe
/// (the ACK that closed the window): that segment armed the probe timer at
/// `tcp_probe0_base` (`tcp_check_probe_timer`), with the backoff at 0 (the ACK
/// carried a valid RTT sample, `tcp_ack_update_rtt` resets it).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZeroWindow {
    /// net.ipv4.tcp_retries2: max_probes, and the cap of icsk_backoff (`tcp_send_probe0`).
    pub retries2: u32,
    /// icsk_rto (`tcpi_rto`) when the window closed.
    #[serde(serialize_with = "ser_secs")]
    pub rto: Duration,
    /// The socket's rto_max (`tcp_rto_max(sk)`).
    #[serde(serialize_with = "ser_secs")]
    pub rto_max: Duration,
    /// TCP_USER_TIMEOUT, counted from the first probe timer (`icsk_probes_tstamp`).
    #[serde(serialize_with = "ser_opt_secs")]
    pub user_timeout: Option<Duration>,
    /// `Some(net.ipv4.tcp_orphan_retries)` when the socket is orphaned (SOCK_DEAD).
    pub orphan: Option<u32>,
    /// Which probes (in order) the peer answers; later ones go unanswered.
    /// An answer resets `icsk_probes_out` (`tcp_ack`) and re-arms the timer
    /// with the same backoff (`tcp_ack_probe`); the window stays zero. (A
    /// receiver rate-limits its answers to out-of-window segments to one per
    /// tcp_invalid_ratelimit, 500 ms, `tcp_oow_rate_limited`: measured, the
    /// second probe 0.43 s after the first goes unanswered.)
    pub answered: Vec<bool>,
    /// Whether the probes after `answered` are answered (the peer alive).
    pub then_answered: bool,
}

impl Default for ZeroWindow {
    fn default() -> Self {
        ZeroWindow {
            retries2: 15,
            rto: VETH_RTO,
            rto_max: TCP_RTO_MAX,
            user_timeout: None,
            orphan: None,
            answered: Vec::new(),
            then_answered: false,
        }
    }
}

/// The probes and the end of a zero-window run, from the segment that closed the window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZeroWindowDeath {
    /// Probe times (each a zero-length segment with seq = snd_una - 1, `tcp_xmit_probe_skb`).
    #[serde(serialize_with = "ser_vec_secs")]
    pub probes: Vec<Duration>,
    /// The probe-timer expiry that ends the socket (`tcp_write_err`: ETIMEDOUT,
    /// no FIN, no RST), or `None` when the probes go on for ever (RFC 1122
    /// 4.2.2.17: a peer answering probes keeps the socket open).
    #[serde(serialize_with = "ser_opt_secs")]
    pub death: Option<Duration>,
    /// Why it ends (the rule of `tcp_probe_timer` that fired).
    pub reason: &'static str,
    #[serde(serialize_with = "ser_secs")]
    pub late_by_at_most: Duration,
}

impl ZeroWindowDeath {
    /// Where the death may be observed (`None`: it never comes).
    pub fn death_window(&self) -> Option<Window> {
        self.death.map(|d| window(d, self.late_by_at_most))
    }
}

/// `tcp_probe0_when` (include/net/tcp.h): `tcp_probe0_base` = max(icsk_rto,
/// TCP_RTO_MIN), shifted by the backoff (at most [`PROBE0_MAX_SHIFT`]),
/// capped by rto_max.
pub fn probe0_when(rto: Duration, backoff: u32, rto_max: Duration) -> Duration {
    let base = rto.max(TCP_RTO_MIN);
    base.saturating_mul(1u32 << backoff.min(PROBE0_MAX_SHIFT))
        .min(rto_max.max(JIFFY))
}

/// The persist timer's run ([`ZeroWindow`]), as `tcp_probe_timer` and
/// `tcp_send_probe0` compute it. At each expiry:
/// - the first sets `icsk_probes_tstamp`; a later one at or beyond
///   TCP_USER_TIMEOUT from it aborts;
/// - an orphan: max_probes = `tcp_orphan_retries(alive)` with alive =
///   min(icsk_rto << backoff, rto_max) < rto_max (`inet_csk_rto_backoff`);
///   `!alive && backoff >= max_probes` aborts (a peer answering the probes
///   cannot save it); else max_probes = tcp_retries2;
/// - `icsk_probes_out >= max_probes` aborts; else a probe goes out,
///   probes_out + 1, backoff + 1 while below tcp_retries2, and the timer is
///   re-armed at [`probe0_when`], clamped to the user timeout's remainder
///   (`tcp_clamp_probe0_to_user_timeout`, at least TCP_TIMEOUT_MIN).
///
/// Measured on 6.18 (veth, icsk_rto 212 ms): retries2 = 3, wire cut: probes
/// 0.216, 0.648, 1.512 s, death 3.240 s (model 0.212, 0.636, 1.484, 3.180);
/// orphan, rto_max 1 s, peer answering: gone at 2.51 s (model 2.484); orphan,
/// rto_max 1 s, retries2 = 2: the backoff stops at 2, 0.848 s < rto_max, so
/// it stays "alive" and probes every 0.864 s for ever (FIN_WAIT1 stall).
pub fn zero_window(k: &ZeroWindow) -> ZeroWindowDeath {
    let rto_max = k.rto_max.max(JIFFY);
    let two_jiffies = JIFFY * 2; // TCP_TIMEOUT_MIN
    let mut backoff = 0u32;
    let mut probes_out = 0u32;
    let mut t = probe0_when(k.rto, 0, rto_max);
    let mut late = timer_slack(t);
    let mut tstamp: Option<Duration> = None;
    let mut probes = Vec::new();
    let end = |probes, death, reason, late| ZeroWindowDeath {
        probes,
        death,
        reason,
        late_by_at_most: late,
    };
    for _ in 0..MAX_STEPS {
        match (tstamp, k.user_timeout) {
            (None, _) => tstamp = Some(t),
            (Some(s), Some(u)) if t.saturating_sub(s) >= u => {
                return end(
                    probes,
                    Some(t),
                    "TCP_USER_TIMEOUT since the first probe timer",
                    late,
                )
            }
            _ => {}
        }
        let mut max_probes = k.retries2;
        if let Some(sysctl) = k.orphan {
            let alive = k.rto.max(JIFFY).saturating_mul(1u32 << backoff.min(30)) < rto_max;
            max_probes = orphan_retries(sysctl, alive);
            if !alive && backoff >= max_probes {
                return end(
                    probes,
                    Some(t),
                    "orphan: backoff past rto_max and tcp_orphan_retries",
                    late,
                );
            }
        }
        if probes_out >= max_probes {
            let why = if k.orphan.is_some() {
                "orphan: tcp_orphan_retries probes unanswered"
            } else {
                "tcp_retries2 probes unanswered"
            };
            return end(probes, Some(t), why, late);
        }
        let n = probes.len();
        probes.push(t);
        probes_out += 1;
        if backoff < k.retries2 {
            backoff += 1;
        }
        if k.answered.get(n).copied().unwrap_or(k.then_answered) {
            probes_out = 0;
        }
        if probes.len() >= FOREVER_PROBES {
            return end(
                probes,
                None,
                "the peer answers: probes for ever (RFC 1122 4.2.2.17)",
                late,
            );
        }
        let mut next = probe0_when(k.rto, backoff, rto_max);
        if let (Some(u), Some(s)) = (k.user_timeout, tstamp) {
            let remaining = (s + u).saturating_sub(t).max(two_jiffies);
            next = next.min(remaining);
        }
        late = late.saturating_add(timer_slack(next));
        t = t.saturating_add(next);
    }
    end(probes, None, "no end within the model's horizon", late)
}

/// The zero-window run as readable text (`teardown model --zero-window`).
pub fn render_zero_window(k: &ZeroWindow) -> String {
    let d = zero_window(k);
    let who = match k.orphan {
        Some(n) => format!("orphan (closed), tcp_orphan_retries={n}"),
        None => "open socket".to_string(),
    };
    let mut o = format!(
        "Zero window, persist timer ({who}, tcp_retries2={}, rto {} s, rto_max {} s{}, peer {}); seconds after the segment that closed the window:\n",
        k.retries2,
        secs(k.rto),
        secs(k.rto_max),
        k.user_timeout
            .map(|u| format!(", TCP_USER_TIMEOUT {} s", secs(u)))
            .unwrap_or_default(),
        if k.then_answered { "answering" } else { "gone" }
    );
    o += &format!(
        "  probes, seq = snd_una - 1 ({}) {}\n",
        d.probes.len(),
        list(&d.probes[..d.probes.len().min(20)])
    );
    match d.death {
        Some(t) => {
            o += &format!(
                "  death (ETIMEDOUT, no FIN, no RST) at {} s, late by at most {} s: {}\n",
                secs(t),
                secs(d.late_by_at_most),
                d.reason
            )
        }
        None => o += &format!("  no death: {}\n", d.reason),
    }
    o
}

/// Knobs for an active open whose SYNs get no answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Syn {
    /// net.ipv4.tcp_syn_retries or TCP_SYNCNT (default 6).
    pub syn_retries: u32,
    /// net.ipv4.tcp_syn_linear_timeouts (default 4; absent before 6.5: use 0).
    pub linear_timeouts: u32,
    #[serde(serialize_with = "ser_secs")]
    pub rto_max: Duration,
    #[serde(serialize_with = "ser_opt_secs")]
    pub user_timeout: Option<Duration>,
}

impl Default for Syn {
    fn default() -> Self {
        Syn {
            syn_retries: 6,
            linear_timeouts: 4,
            rto_max: TCP_RTO_MAX,
            user_timeout: None,
        }
    }
}

/// SYN retransmissions and the time connect() fails with ETIMEDOUT, from the first SYN.
pub fn syn_sent(k: &Syn) -> DeadPath {
    let base = TCP_TIMEOUT_INIT;
    let m = budget(k.syn_retries, base, k.rto_max);
    let max_retransmits = k.syn_retries.saturating_add(k.linear_timeouts);
    let end = rto_chain(
        base,
        base,
        k.rto_max,
        k.linear_timeouts,
        Clock::At(Duration::ZERO),
        k.user_timeout,
        timer_slack(base),
        |retransmits, elapsed, _| retransmits >= max_retransmits || elapsed >= m,
    );
    DeadPath {
        tail_loss_probe: None,
        retransmissions: end.sent,
        budget: k.user_timeout.unwrap_or(m),
        death: end.death,
        late_by_at_most: end.late,
        undecided: end.undecided,
    }
}

/// TCP_RESOURCE_PROBE_INTERVAL (include/net/tcp.h, HZ/2): the timer a
/// transmission that failed locally re-arms, without backoff.
pub const TCP_RESOURCE_PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// New data written while the sender's own interface drops everything (a
/// qdisc or an egress filter on the host: the transmit call returns
/// NET_XMIT_DROP, so TCP knows the loss is local). Times from the write.
///
/// The segment never leaves: nothing is in flight, so no RTO runs. The
/// failed transmit arms the zero-window probe timer at `tcp_probe0_base`
/// (max(RTO, TCP_RTO_MIN); tcp_check_probe_timer), and each probe that fails
/// locally re-arms it at TCP_RESOURCE_PROBE_INTERVAL (500 ms) without
/// backoff (tcp_send_probe0: "err > 0 ... Let local senders to fight for
/// local resources"). tcp_probe_timer aborts (ETIMEDOUT) at the expiry where
/// `icsk_probes_out >= tcp_retries2`, or, with TCP_USER_TIMEOUT, where the
/// time since the first expiry (`icsk_probes_tstamp`, not the write nor the
/// last ACK) reaches it; tcp_clamp_probe0_to_user_timeout makes a timer fire
/// exactly then. Measured on 6.18 (RTO 204 ms, retries2 3): probes every
/// 500 ms (sock_diag: timer `persist`, backoff 0), ETIMEDOUT 1.74 s after the
/// write (model 1.704 s).
pub fn local_drop(k: &Retrans) -> DeadPath {
    let first = k.rto.max(TCP_RTO_MIN);
    let mut t = first;
    let mut slack = timer_slack(first);
    let mut probes = Vec::new();
    for _ in 0..MAX_STEPS {
        let elapsed = t - first;
        let gone = match k.user_timeout {
            Some(u) => elapsed >= u || probes.len() as u32 >= k.retries2,
            None => probes.len() as u32 >= k.retries2,
        };
        if gone {
            break;
        }
        probes.push(t);
        let mut next = TCP_RESOURCE_PROBE_INTERVAL;
        if let Some(u) = k.user_timeout {
            next = next.min(u.saturating_sub(elapsed).max(JIFFY));
        }
        slack += timer_slack(next);
        t += next;
    }
    DeadPath {
        tail_loss_probe: None,
        retransmissions: probes,
        budget: k
            .user_timeout
            .unwrap_or(TCP_RESOURCE_PROBE_INTERVAL * k.retries2),
        death: t,
        late_by_at_most: slack,
        // A count of probes decides, not a time.
        undecided: None,
    }
}

/// Knobs for a passive open whose handshake never completes: the listener
/// answered a SYN, and neither its SYN-ACK's ACK nor data ever arrives (the
/// ACK is lost, or the client vanished). The request (`SYN_RECV`, the
/// listener's half-open child) lives on a timer of its own.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Synack {
    /// The listener's TCP_SYNCNT, else net.ipv4.tcp_synack_retries (default 5).
    pub synack_retries: u32,
    /// A TCP Fast Open child: one retry more (tcp_fastopen_synack_timer:
    /// "add one more retry for fastopen").
    pub fastopen: bool,
}

impl Default for Synack {
    fn default() -> Self {
        Synack {
            synack_retries: 5,
            fastopen: false,
        }
    }
}

/// SYN-ACK retransmissions of a request and the time it is dropped, from the
/// first SYN-ACK (net/ipv4/inet_connection_sock.c, reqsk_timer_handler).
/// The request timer starts at TCP_TIMEOUT_INIT (1 s, `tcp_timeout_init`)
/// and doubles after each retransmission (`TCP_TIMEOUT_INIT <<
/// num_timeout`), capped by the compile-time TCP_RTO_MAX: measured on 6.18,
/// `tcp_rto_max_ms` = 1000 leaves the intervals at 1 s, 2 s. At each expiry
/// `syn_ack_recalc` expires the request once `num_timeout >= thresh`
/// (`icsk_syn_retries ? : tcp_synack_retries`; the young/old pruning that
/// lowers thresh applies only to a queue more than half full, never to the
/// lab's one request). The request vanishes silently: no RST, and the
/// listener's application never hears of it (nothing reaches accept()).
/// Measured on 6.18 with synack_retries 2: SYN-ACKs at 1.03 s and 3.04 s, the
/// request gone at 7 s.
pub fn syn_recv(k: &Synack) -> DeadPath {
    let base = TCP_TIMEOUT_INIT;
    let retries = k.synack_retries + u32::from(k.fastopen);
    let end = rto_chain(
        base,
        base,
        TCP_RTO_MAX,
        0,
        Clock::At(Duration::ZERO),
        None,
        timer_slack(base),
        |retransmits, _, _| retransmits >= retries,
    );
    DeadPath {
        tail_loss_probe: None,
        retransmissions: end.sent,
        budget: end.death,
        death: end.death,
        late_by_at_most: end.late,
        undecided: end.undecided,
    }
}

/// Keepalive knobs (per socket: TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Keepalive {
    #[serde(serialize_with = "ser_secs")]
    pub idle: Duration,
    #[serde(serialize_with = "ser_secs")]
    pub intvl: Duration,
    pub cnt: u32,
    #[serde(serialize_with = "ser_opt_secs")]
    pub user_timeout: Option<Duration>,
}

impl Default for Keepalive {
    /// The namespace defaults: 7200 s, 75 s, 9.
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(7200),
            intvl: Duration::from_secs(75),
            cnt: 9,
            user_timeout: None,
        }
    }
}

impl Keepalive {
    /// Go's SetKeepAlivePeriod(P) before 1.23: idle = intvl = P, count 9.
    pub fn go_style(period: Duration) -> Keepalive {
        Keepalive {
            idle: period,
            intvl: period,
            cnt: 9,
            user_timeout: None,
        }
    }
}

/// Keepalive on an idle connection whose peer went silent; times from the
/// last segment received. Only valid while nothing is unacknowledged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeepaliveDeath {
    #[serde(serialize_with = "ser_vec_secs")]
    pub probes: Vec<Duration>,
    /// The tick that sends RST and reports ETIMEDOUT.
    #[serde(serialize_with = "ser_secs")]
    pub death: Duration,
    #[serde(serialize_with = "ser_secs")]
    pub late_by_at_most: Duration,
}

impl KeepaliveDeath {
    pub fn death_window(&self) -> Window {
        window(self.death, self.late_by_at_most)
    }
}

/// Keepalive probe times and death.
pub fn keepalive(k: &Keepalive) -> KeepaliveDeath {
    let idle = k.idle.max(JIFFY);
    let intvl = k.intvl.max(JIFFY);
    let mut probes = Vec::new();
    let mut t = idle;
    let mut late = timer_slack(idle);
    for _ in 0..MAX_STEPS {
        let n = probes.len() as u32;
        let dead = match k.user_timeout {
            Some(u) => n > 0 && t >= u,
            None => n >= k.cnt,
        };
        if dead {
            break;
        }
        probes.push(t);
        t = t.saturating_add(intvl);
        late = late.saturating_add(timer_slack(intvl));
    }
    KeepaliveDeath {
        probes,
        death: t,
        late_by_at_most: late,
    }
}

/// How long an orphan lives in FIN_WAIT2: max(TCP_LINGER2 or tcp_fin_timeout,
/// 3.5 * RTO). `linger2_secs` is the socket option (0: unset, negative: the
/// socket is reset at once, giving None; capped at 120 s like the kernel).
pub fn fin_wait2_lifetime(
    fin_timeout: Duration,
    linger2_secs: i32,
    rto: Duration,
) -> Option<Duration> {
    if linger2_secs < 0 {
        return None;
    }
    let tmo = if linger2_secs > 0 {
        Duration::from_secs(linger2_secs.min(120) as u64)
    } else {
        fin_timeout
    };
    let rto_j = jiffies_ceil(rto);
    let floor = jiffies(rto_j.saturating_mul(4) - (rto_j >> 1));
    Some(tmo.max(floor))
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn ser_opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

fn ser_vec_secs<S: serde::Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for d in v {
        seq.serialize_element(&d.as_secs_f64())?;
    }
    seq.end()
}

/// The knobs `teardown model` predicts for (the CLI's options, as plain data).
#[derive(Clone, Debug)]
pub struct Knobs {
    /// net.ipv4.tcp_retries2
    pub retries2: u32,
    /// The RTO measured before the fault (tcpi_rto), ms
    pub rto_ms: u64,
    /// min(net.ipv4.tcp_rto_max_ms, TCP_RTO_MAX_MS), ms (1000..120000)
    pub rto_max_ms: u64,
    /// TCP_USER_TIMEOUT, ms (0: unset)
    pub user_timeout_ms: u64,
    /// Keepalive (idle s, intvl s, cnt)
    pub keepalive: (u64, u64, u32),
    /// net.ipv4.tcp_orphan_retries (0 means 8)
    pub orphan_retries: u32,
    /// net.ipv4.tcp_fin_timeout, s
    pub fin_timeout: u64,
    /// TCP_LINGER2, s (0: unset, negative: RST at close)
    pub linger2: i32,
    /// net.ipv4.tcp_syn_retries
    pub syn_retries: u32,
    /// net.ipv4.tcp_syn_linear_timeouts (0 on kernels before 6.5)
    pub syn_linear_timeouts: u32,
    /// net.ipv4.tcp_synack_retries (or the listener's TCP_SYNCNT)
    pub synack_retries: u32,
    /// Tail loss probe off
    pub no_tlp: bool,
    /// Smoothed RTT, ms (0: negligible, as on a veth)
    pub srtt_ms: f64,
    /// An RTT sample, ms: sets srtt and derives the RTO from it
    pub rtt_ms: Option<f64>,
    /// rto_min in force, ms
    pub rto_min_ms: u64,
    /// Segments in flight at the tail
    pub in_flight: u32,
    /// SACK not negotiated
    pub no_sack: bool,
}

impl Knobs {
    /// The knobs' ranges the model needs; the message names the option.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=120_000).contains(&self.rto_max_ms) {
            return Err("--rto-max-ms must be 1..120000".into());
        }
        if self.rto_ms == 0 {
            return Err("--rto-ms must be positive".into());
        }
        for (name, v) in [("--srtt-ms", Some(self.srtt_ms)), ("--rtt-ms", self.rtt_ms)] {
            if let Some(v) = v {
                if !(0.0..=120_000.0).contains(&v) {
                    return Err(format!("{name} must be 0..120000"));
                }
            }
        }
        if !(1..=120_000).contains(&self.rto_min_ms) {
            return Err("--rto-min-ms must be 1..120000".into());
        }
        Ok(())
    }
}

/// Parses `IDLE,INTVL,CNT` (seconds, seconds, count) within the kernel's ranges.
pub fn parse_keepalive(s: &str) -> Result<(u64, u64, u32), String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let bad = || format!("expected IDLE,INTVL,CNT (seconds, seconds, count), got `{s}`");
    if parts.len() != 3 {
        return Err(bad());
    }
    let idle: u64 = parts[0].parse().map_err(|_| bad())?;
    let intvl: u64 = parts[1].parse().map_err(|_| bad())?;
    let cnt: u32 = parts[2].parse().map_err(|_| bad())?;
    if !(1..=32767).contains(&idle) || !(1..=32767).contains(&intvl) || !(1..=127).contains(&cnt) {
        return Err(format!(
            "keepalive out of the kernel's range (idle, intvl 1..32767 s, cnt 1..127): `{s}`"
        ));
    }
    Ok((idle, intvl, cnt))
}

/// Everything `teardown model` predicts.
#[derive(Debug, Serialize)]
pub struct Prediction {
    pub knobs: Retrans,
    pub dead_path: DeadPath,
    pub keepalive_knobs: Keepalive,
    pub keepalive: KeepaliveDeath,
    pub orphan_retries: u32,
    pub orphan_fin: DeadPath,
    #[serde(serialize_with = "ser_opt_secs")]
    pub fin_wait2: Option<Duration>,
    #[serde(serialize_with = "ser_secs")]
    pub time_wait: Duration,
    pub syn_knobs: Syn,
    pub syn_sent: DeadPath,
    pub synack_knobs: Synack,
    pub syn_recv: DeadPath,
}

/// Builds the prediction for the CLI's knobs.
pub fn predict(a: &Knobs) -> Prediction {
    let uto = (a.user_timeout_ms > 0).then(|| Duration::from_millis(a.user_timeout_ms));
    let ms = |v: f64| Duration::from_secs_f64(v / 1000.0);
    let rto_min = Duration::from_millis(a.rto_min_ms);
    let (srtt, rto) = match a.rtt_ms {
        Some(rtt) => (ms(rtt), rto_from_rtt(ms(rtt), rto_min)),
        None => (ms(a.srtt_ms), Duration::from_millis(a.rto_ms)),
    };
    let knobs = Retrans {
        retries2: a.retries2,
        rto,
        rto_max: Duration::from_millis(a.rto_max_ms),
        rto_min,
        srtt,
        in_flight: a.in_flight,
        sack: !a.no_sack,
        user_timeout: uto,
        tlp: !a.no_tlp,
    };
    let ka = Keepalive {
        idle: Duration::from_secs(a.keepalive.0),
        intvl: Duration::from_secs(a.keepalive.1),
        cnt: a.keepalive.2,
        user_timeout: uto,
    };
    let syn = Syn {
        syn_retries: a.syn_retries,
        linear_timeouts: a.syn_linear_timeouts,
        rto_max: knobs.rto_max,
        user_timeout: uto,
    };
    let synack = Synack {
        synack_retries: a.synack_retries,
        fastopen: false,
    };
    Prediction {
        dead_path: dead_path(&knobs),
        orphan_fin: orphan_fin(&knobs, a.orphan_retries),
        orphan_retries: a.orphan_retries,
        fin_wait2: fin_wait2_lifetime(Duration::from_secs(a.fin_timeout), a.linger2, knobs.rto),
        time_wait: TIME_WAIT,
        keepalive: keepalive(&ka),
        keepalive_knobs: ka,
        syn_sent: syn_sent(&syn),
        syn_knobs: syn,
        syn_recv: syn_recv(&synack),
        synack_knobs: synack,
        knobs,
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 100.0 {
        format!("{s:.1}")
    } else {
        format!("{s:.3}")
    }
}

fn list(v: &[Duration]) -> String {
    v.iter().map(|d| secs(*d)).collect::<Vec<_>>().join(" ")
}

/// The prediction as readable text.
pub fn render(p: &Prediction) -> String {
    let mut o = render_dead_path(p);
    o += &render_keepalive(p);
    o += &render_close_and_connect(p);
    o
}

/// C3: a dead path with data in flight.
fn render_dead_path(p: &Prediction) -> String {
    let mut o = String::new();
    let k = &p.knobs;
    let d = &p.dead_path;
    let budget_what = match k.user_timeout {
        Some(_) => "TCP_USER_TIMEOUT".to_string(),
        None => format!("tcp_retries2={}, rto_max {} s", k.retries2, secs(k.rto_max)),
    };
    o += &format!(
        "Dead path with data in flight (C3), R0 = {} s; seconds after the original send of the lost segment:\n",
        secs(k.rto)
    );
    match d.tail_loss_probe {
        Some(t) => {
            o += &format!(
                "  tail loss probe          {} (2*srtt {} s + {}, {} in flight, rounded up to whole 4 ms jiffies, capped by R0)\n",
                secs(t),
                secs(k.srtt * 2),
                if k.in_flight == 1 {
                    format!("rto_min {} s", secs(k.rto_min))
                } else {
                    "2 ms".to_string()
                },
                k.in_flight
            )
        }
        None => o += "  tail loss probe          none (off, no SACK, or nothing in flight)\n",
    }
    o += &format!(
        "  RTO retransmissions ({}) {}\n",
        d.retransmissions.len(),
        list(&d.retransmissions)
    );
    o += &format!(
        "  budget ({budget_what})  {} s from the first retransmission\n",
        secs(d.budget)
    );
    o += &format!(
        "  death (ETIMEDOUT, no FIN, no RST) at {} s, late by at most {} s\n",
        secs(d.death),
        secs(d.late_by_at_most)
    );
    if let Some(u) = d.undecided {
        o += &format!(
            "  or at {} s: the expiry before may already give up, as the timer wheel rounds the intervals since the first retransmission (its phase decides; a capture shows which)\n",
            secs(u.at)
        );
    }
    o += "\n";
    o
}

/// C4: keepalive on an idle connection whose peer is gone.
fn render_keepalive(p: &Prediction) -> String {
    let mut o = String::new();
    let ka = &p.keepalive_knobs;
    o += &format!(
        "Keepalive {},{},{} (C4); seconds after the last segment received:\n",
        ka.idle.as_secs(),
        ka.intvl.as_secs(),
        ka.cnt
    );
    o += &format!(
        "  probes ({})  {}\n",
        p.keepalive.probes.len(),
        list(&p.keepalive.probes)
    );
    o += &format!(
        "  death (RST, ETIMEDOUT) at {} s, late by at most {} s\n\n",
        secs(p.keepalive.death),
        secs(p.keepalive.late_by_at_most)
    );
    o
}

/// Orphaned closes, TIME_WAIT, and an unanswered SYN.
fn render_close_and_connect(p: &Prediction) -> String {
    let mut o = String::new();
    o += &format!(
        "Orphan FIN_WAIT1 / LAST_ACK, tcp_orphan_retries={} ({} while alive); seconds after the FIN:\n",
        p.orphan_retries,
        orphan_retries(p.orphan_retries, true)
    );
    o += &format!(
        "  FIN retransmissions ({}) {}\n",
        p.orphan_fin.retransmissions.len(),
        list(&p.orphan_fin.retransmissions)
    );
    o += &format!(
        "  gone (no RST) at {} s, late by at most {} s\n\n",
        secs(p.orphan_fin.death),
        secs(p.orphan_fin.late_by_at_most)
    );
    match p.fin_wait2 {
        Some(t) => o += &format!("Orphan FIN_WAIT2 lives {} s\n", secs(t)),
        None => o += "Orphan FIN_WAIT2: TCP_LINGER2 < 0, reset at close()\n",
    }
    o += &format!("TIME_WAIT lasts {} s\n\n", secs(p.time_wait));
    let s = &p.syn_sent;
    o += &format!(
        "SYN unanswered, tcp_syn_retries={}, tcp_syn_linear_timeouts={}; seconds after the first SYN:\n",
        p.syn_knobs.syn_retries, p.syn_knobs.linear_timeouts
    );
    o += &format!(
        "  SYN retransmissions ({}) {}\n",
        s.retransmissions.len(),
        list(&s.retransmissions)
    );
    o += &format!(
        "  connect() fails (ETIMEDOUT) at {} s, late by at most {} s\n\n",
        secs(s.death),
        secs(s.late_by_at_most)
    );
    let r = &p.syn_recv;
    o += &format!(
        "SYN-ACK unacknowledged (the listener's half-open request), tcp_synack_retries={}; seconds after the first SYN-ACK:\n",
        p.synack_knobs.synack_retries
    );
    o += &format!(
        "  SYN-ACK retransmissions ({}) {}\n",
        r.retransmissions.len(),
        list(&r.retransmissions)
    );
    o += &format!(
        "  the request is dropped (no RST; accept() never hears of it) at {} s, late by at most {} s\n",
        secs(r.death),
        secs(r.late_by_at_most)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: f64) -> Duration {
        Duration::from_secs_f64(x)
    }

    fn near(a: Duration, b: f64, eps: f64) -> bool {
        (a.as_secs_f64() - b).abs() <= eps
    }

    #[test]
    fn budget_matches_the_kernel_formula() {
        // N = 15, rto_max 120 s: 0.2*(2^10-1) + 6*120 = 924.6 s.
        assert!(near(budget(15, TCP_RTO_MIN, TCP_RTO_MAX), 924.6, 1e-9));
        assert!(near(budget(3, TCP_RTO_MIN, TCP_RTO_MAX), 3.0, 1e-9));
        assert!(near(budget(8, TCP_RTO_MIN, TCP_RTO_MAX), 102.2, 1e-9));
        // rto_max 1 s: L = 2, M(15) = 0.2*7 + 13*1.
        assert!(near(budget(15, TCP_RTO_MIN, s(1.0)), 14.4, 1e-9));
        assert!(near(budget(2, TCP_RTO_MIN, s(1.0)), 1.4, 1e-9));
    }

    #[test]
    fn timer_slack_is_wheel_granularity() {
        assert_eq!(
            timer_slack(Duration::from_millis(208)),
            Duration::from_millis(8)
        );
        assert_eq!(
            timer_slack(Duration::from_millis(416)),
            Duration::from_millis(36)
        );
        assert_eq!(timer_slack(s(3.328)), Duration::from_millis(260));
        for t in [0.01, 0.3, 1.0, 5.0, 60.0, 120.0, 7200.0] {
            let sl = timer_slack(s(t)).as_secs_f64();
            assert!(sl <= t / 7.8 + 0.0081, "slack {sl} for {t}");
        }
    }

    #[test]
    fn dead_path_matches_measured_deaths() {
        // KERNEL-FACTS: measured with R0 = 208 ms.
        for (n, lo, hi) in [
            (3, 6.7, 6.9),
            (5, 13.3, 13.3),
            (8, 107.0, 107.0),
            (15, 933.0, 933.0),
        ] {
            let d = dead_path(&Retrans {
                retries2: n,
                ..Retrans::default()
            });
            let w = d.death_window();
            assert!(
                w.contains(s(lo)) && w.contains(s(hi)),
                "retries2={n}: window {w:?} should hold the measured {lo}..{hi}"
            );
        }
    }

    #[test]
    fn a_death_the_timer_wheel_decides_is_undecided() {
        let r = |n: u32, rto_ms: u64| {
            dead_path(&Retrans {
                retries2: n,
                rto: Duration::from_millis(rto_ms),
                ..Retrans::default()
            })
        };
        // tcp_retries2 = 4, RTO 204 ms: from the first retransmission the
        // fifth expiry comes 30 x 204 = 6.12 s later, nominally short of
        // tcp_model_timeout's 31 x 200 ms = 6.2 s, but its four intervals
        // may fire up to 36+36+36+260 ms late (the wheel's granularity):
        // the fifth or the sixth expiry (measured on 6.18: the fifth, the
        // intervals 8, 16, 32, 64 ms late). The model names the fifth.
        let d = r(4, 204);
        let first = d.retransmissions[0];
        let u = d.undecided.expect("undecided");
        assert!(near(u.at - first, 6.12, 1e-9), "{u:?}");
        // Its slack: the chain's up to it, less than the death's.
        assert!(u.late_by_at_most > Duration::ZERO && u.late_by_at_most < d.late_by_at_most);
        assert!(near(d.death - first, 12.648, 1e-9));
        // 3 and 5 are decided: 2.856 s + 108 ms of lateness < 3.0 s;
        // 12.648 s >= 12.6 s nominally.
        assert_eq!(r(3, 204).undecided, None);
        assert_eq!(r(5, 204).undecided, None);
        // With a 208 ms RTO the fifth is decided (30 x 208 = 6.24 s).
        assert_eq!(r(4, 208).undecided, None);
        // A count (SYN retries, SYN-ACK retries) does not depend on lateness.
        assert_eq!(syn_recv(&Synack::default()).undecided, None);
    }

    #[test]
    fn dead_path_schedule_shape() {
        let d = dead_path(&Retrans::default());
        assert!(near(d.tail_loss_probe.unwrap(), 0.2, 1e-9));
        assert!(near(d.retransmissions[0], 0.408, 1e-9));
        assert!(near(d.retransmissions[1], 0.824, 1e-9));
        assert_eq!(d.retransmissions.len(), 15);
        assert!(near(d.death, 932.984, 1e-6));
        assert!(near(d.budget, 924.6, 1e-9));
        // RTO capped at 120 s: the last intervals are exactly rto_max.
        let r = &d.retransmissions;
        assert_eq!(r[14] - r[13], TCP_RTO_MAX);
        // Small N: death comes about twice as late as M.
        let d3 = dead_path(&Retrans {
            retries2: 3,
            ..Retrans::default()
        });
        assert!(near(d3.death, 6.648, 1e-6));
        assert_eq!(d3.retransmissions.len(), 4);
        // Without TLP the first retransmission is at R0.
        let d = dead_path(&Retrans {
            retries2: 3,
            tlp: false,
            ..Retrans::default()
        });
        assert!(d.tail_loss_probe.is_none());
        assert!(near(d.retransmissions[0], 0.208, 1e-9));
    }

    #[test]
    fn rto_max_shortens_the_budget() {
        let d = dead_path(&Retrans {
            rto_max: s(1.0),
            ..Retrans::default()
        });
        assert!(near(d.budget, 14.4, 1e-9));
        // Intervals never exceed 1 s, death is the first expiry >= t1 + 14.4.
        for w in d.retransmissions.windows(2) {
            assert!(w[1] - w[0] <= s(1.0));
        }
        let t1 = d.retransmissions[0];
        assert!(d.death - t1 >= s(14.4));
        assert!(d.death - t1 < s(15.4));
    }

    #[test]
    fn user_timeout_replaces_the_budget() {
        let d = dead_path(&Retrans {
            user_timeout: Some(s(5.0)),
            ..Retrans::default()
        });
        // Death at t1 + UTO (the kernel clamps the RTO to the remaining time).
        assert!(near(d.death, 0.408 + 5.0, 1e-6));
        assert_eq!(d.budget, s(5.0));
        // A large UTO outlives retries2 = 15.
        let d = dead_path(&Retrans {
            user_timeout: Some(s(2000.0)),
            ..Retrans::default()
        });
        assert!(near(d.death, 2000.408, 1e-6));
    }

    #[test]
    fn keepalive_defaults_and_go_style() {
        let k = keepalive(&Keepalive::default());
        assert_eq!(k.probes.len(), 9);
        assert_eq!(k.probes[0], s(7200.0));
        assert_eq!(k.probes[8], s(7200.0 + 8.0 * 75.0));
        assert_eq!(k.death, s(7875.0));
        let g = keepalive(&Keepalive::go_style(s(15.0)));
        assert_eq!(g.death, s(150.0));
        assert_eq!(g.probes.len(), 9);
        // Slack stays far below 1/8.
        assert!(k.late_by_at_most < s(7875.0 / 8.0));
    }

    #[test]
    fn keepalive_with_user_timeout() {
        // idle 10, intvl 5, cnt 3, UTO 30 s: count ignored, ticks 10,15,20,25,30.
        let k = keepalive(&Keepalive {
            idle: s(10.0),
            intvl: s(5.0),
            cnt: 3,
            user_timeout: Some(s(30.0)),
        });
        assert_eq!(k.death, s(30.0));
        assert_eq!(k.probes.len(), 4);
        // UTO shorter than idle: one probe must go out first.
        let k = keepalive(&Keepalive {
            idle: s(10.0),
            intvl: s(5.0),
            cnt: 3,
            user_timeout: Some(s(1.0)),
        });
        assert_eq!(k.death, s(15.0));
        assert_eq!(k.probes.len(), 1);
    }

    #[test]
    fn orphan_fin_defaults_die_near_107s() {
        let o = orphan_fin(&Retrans::default(), 0);
        assert!(near(o.death, 106.488, 1e-6), "{:?}", o.death);
        assert!(o.death_window().contains(s(107.0)));
        assert_eq!(orphan_retries(0, true), 8);
        assert_eq!(orphan_retries(0, false), 0);
        assert_eq!(orphan_retries(3, true), 3);
        let o3 = orphan_fin(&Retrans::default(), 3);
        assert!(near(o3.death, 6.648, 1e-6));
        // rto_max 1 s: "alive" ends when the RTO reaches 1 s, retries drop to 0.
        let o = orphan_fin(
            &Retrans {
                rto_max: s(1.0),
                ..Retrans::default()
            },
            0,
        );
        assert!(o.death < s(5.0), "{:?}", o.death);
    }

    #[test]
    fn fin_wait2_and_time_wait() {
        let r = VETH_RTO;
        assert_eq!(fin_wait2_lifetime(s(60.0), 0, r), Some(s(60.0)));
        assert_eq!(fin_wait2_lifetime(s(60.0), 5, r), Some(s(5.0)));
        assert_eq!(fin_wait2_lifetime(s(60.0), -1, r), None);
        // 3.5 * RTO floor.
        assert_eq!(fin_wait2_lifetime(s(1.0), 0, s(2.0)), Some(s(7.0)));
        assert_eq!(TIME_WAIT, s(60.0));
    }

    #[test]
    fn a_local_drop_probes_every_500_ms_without_backoff_and_counts_from_the_first_probe() {
        let k = Retrans {
            retries2: 3,
            rto: s(0.204),
            ..Retrans::default()
        };
        let d = local_drop(&k);
        // The probe timer at the RTO, then every 500 ms; the 4th expiry finds
        // probes_out = retries2 (measured on 6.18: ETIMEDOUT at 1.74 s).
        assert_eq!(d.retransmissions, [0.204, 0.704, 1.204].map(s));
        assert_eq!(d.death, s(1.704));
        assert!(d.death_window().contains(s(1.74)), "{:?}", d.death_window());
        // TCP_USER_TIMEOUT counts from the first expiry (icsk_probes_tstamp),
        // the timer clamped to it: 1.1 s after 0.204 is 1.304, not 1.1 or 1.204.
        let d = local_drop(&Retrans {
            retries2: 15,
            user_timeout: Some(s(1.1)),
            ..k.clone()
        });
        assert_eq!(d.retransmissions, [0.204, 0.704, 1.204].map(s));
        assert_eq!(d.death, s(1.304));
        // An RTO under TCP_RTO_MIN still waits tcp_probe0_base = 200 ms.
        let d = local_drop(&Retrans { rto: s(0.05), ..k });
        assert_eq!(d.retransmissions[0], s(0.2));
    }

    #[test]
    fn syn_recv_doubles_from_one_second_and_drops_the_request_at_the_next_expiry() {
        // The kernel's default (tcp_synack_retries 5): SYN-ACKs at 1, 3, 7,
        // 15, 31 s after the first, the request dropped at 63 s.
        let d = syn_recv(&Synack::default());
        assert_eq!(d.retransmissions, [1.0, 3.0, 7.0, 15.0, 31.0].map(s));
        assert_eq!(d.death, s(63.0));
        // Measured on 6.18 with synack_retries 2: 1.027 s, 3.043 s, gone at ~7 s.
        let d = syn_recv(&Synack {
            synack_retries: 2,
            ..Synack::default()
        });
        assert_eq!(d.retransmissions, [1.0, 3.0].map(s));
        for (i, measured) in [1.027, 3.043].into_iter().enumerate() {
            let late: Duration = [1.0, 2.0][..=i].iter().map(|&t| timer_slack(s(t))).sum();
            let (t, m) = (d.retransmissions[i], s(measured));
            assert!(
                t <= m && m <= t + late,
                "SYN-ACK {i}: {m:?} vs {t:?} + {late:?}"
            );
        }
        assert_eq!(d.death, s(7.0));
        // A Fast Open child gets one retry more.
        let d = syn_recv(&Synack {
            synack_retries: 2,
            fastopen: true,
        });
        assert_eq!(d.death, s(15.0));
    }

    #[test]
    fn syn_sent_matches_measurements() {
        // Measured on 6.18 (linear_timeouts 4): 1 -> 3.07 s, 2 -> 7.14 s, 3 -> 19.49 s.
        for (n, measured) in [(1, 3.07), (2, 7.14), (3, 19.49)] {
            let d = syn_sent(&Syn {
                syn_retries: n,
                ..Syn::default()
            });
            assert!(
                d.death_window().contains(s(measured)),
                "syn_retries={n}: {:?} vs {measured}",
                d.death_window()
            );
        }
        let d = syn_sent(&Syn::default());
        assert_eq!(
            d.retransmissions,
            [1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0, 19.0, 35.0, 67.0].map(s)
        );
        assert_eq!(d.death, s(131.0));
        // Before tcp_syn_linear_timeouts: the classic 127 s.
        let d = syn_sent(&Syn {
            linear_timeouts: 0,
            ..Syn::default()
        });
        assert_eq!(d.death, s(127.0));
    }

    #[test]
    fn absurd_inputs_do_not_panic() {
        let d = dead_path(&Retrans {
            retries2: u32::MAX,
            rto: Duration::ZERO,
            rto_max: Duration::ZERO,
            ..Retrans::default()
        });
        assert!(!d.retransmissions.is_empty());
        let _ = keepalive(&Keepalive {
            idle: Duration::ZERO,
            intvl: Duration::ZERO,
            cnt: 0,
            user_timeout: None,
        });
        let _ = budget(u32::MAX, Duration::ZERO, Duration::MAX / 4);
        let _ = fin_wait2_lifetime(Duration::ZERO, i32::MAX, Duration::ZERO);
    }

    #[test]
    fn keepalive_flag_parses() {
        assert_eq!(parse_keepalive("15,15,9"), Ok((15, 15, 9)));
        assert!(parse_keepalive("15,15").is_err());
        assert!(parse_keepalive("0,15,9").is_err());
        assert!(parse_keepalive("1,1,128").is_err());
    }

    #[test]
    fn the_tail_loss_probe_follows_tcp_schedule_loss_probe() {
        let ms = Duration::from_millis;
        // An orphan FIN after a 100 ms RTT (issue 12): RTO 100 + max(200, 200)
        // = 300 ms; one segment in flight: 2*100 + 200 = 400 ms, capped by the
        // RTO: the probe at 300 ms, the first RTO retransmission 300 ms later.
        let rto = rto_from_rtt(ms(100), TCP_RTO_MIN);
        assert_eq!(rto, ms(300));
        let fin = Retrans {
            rto,
            srtt: ms(100),
            ..Retrans::default()
        };
        assert_eq!(probe_timeout(&fin), Some(ms(300)));
        let d = dead_path(&fin);
        assert_eq!(d.tail_loss_probe, Some(ms(300)));
        assert_eq!(d.retransmissions[0], ms(600));
        // Ten segments and a FIN after a 10 ms RTT: 2*10 + 2 = 22 ms, rounded
        // up to whole jiffies (HZ=250): 24 ms, within packetdrill's 4 ms of
        // the ~22 ms its HZ=1000 kernels give.
        let flight = Retrans {
            rto: rto_from_rtt(ms(10), TCP_RTO_MIN),
            srtt: ms(10),
            in_flight: 11,
            ..Retrans::default()
        };
        assert_eq!(flight.rto, ms(210));
        assert_eq!(probe_timeout(&flight), Some(ms(24)));
        // A veth's flight (srtt 52 us, measured): 2.104 ms is one jiffy.
        let veth_flight = Retrans {
            rto: ms(204),
            srtt: Duration::from_micros(52),
            in_flight: 11,
            ..Retrans::default()
        };
        assert_eq!(probe_timeout(&veth_flight), Some(ms(4)));
        // ... and a lone FIN there: 200.104 ms is 51 jiffies, 204 ms, as the
        // RTO cap is (measured: the probe 204-208 ms after the FIN).
        let veth_fin = Retrans {
            in_flight: 1,
            ..veth_flight.clone()
        };
        assert_eq!(probe_timeout(&veth_fin), Some(ms(204)));
        // A veth (srtt ~0), one segment: rto_min, capped by the RTO (the
        // 0.204 s probe of x-postgres-power-off-in-flight).
        let veth = Retrans {
            rto: ms(204),
            ..Retrans::default()
        };
        assert_eq!(probe_timeout(&veth), Some(ms(200)));
        // No SACK, nothing in flight, or TLP off: no probe.
        for k in [
            Retrans {
                sack: false,
                ..veth.clone()
            },
            Retrans {
                in_flight: 0,
                ..veth.clone()
            },
            Retrans {
                tlp: false,
                ..veth.clone()
            },
        ] {
            assert_eq!(probe_timeout(&k), None);
            assert_eq!(dead_path(&k).tail_loss_probe, None);
        }
    }
    #[test]
    fn zero_window_probes_follow_tcp_probe_timer() {
        let ms = Duration::from_millis;
        // tcp_probe0_when: max(rto, 200 ms) << backoff, capped.
        assert_eq!(probe0_when(ms(212), 0, TCP_RTO_MAX), ms(212));
        assert_eq!(probe0_when(ms(100), 0, TCP_RTO_MAX), ms(200));
        assert_eq!(probe0_when(ms(212), 3, TCP_RTO_MAX), ms(1696));
        assert_eq!(probe0_when(ms(212), 3, s(1.0)), s(1.0));
        // The shift stops at ilog2(120 s / 200 ms) + 1 = 10.
        assert_eq!(probe0_when(ms(1), 15, Duration::MAX), ms(200 * 1024));
        // Measured (x-zero-window-cut): retries2 = 3, rto 212 ms, the wire cut:
        // probes 0.216, 0.648, 1.512 s, ETIMEDOUT at 3.240 s.
        let k = ZeroWindow {
            retries2: 3,
            rto: ms(212),
            ..ZeroWindow::default()
        };
        let d = zero_window(&k);
        assert_eq!(d.probes, [ms(212), ms(636), ms(1484)]);
        assert_eq!(d.death, Some(ms(3180)));
        let measured = [0.216, 0.648, 1.512];
        assert!(d.death_window().unwrap().contains(s(3.240)));
        for (p, m) in d.probes.iter().zip(measured) {
            assert!(*p <= s(m) && s(m) <= *p + d.late_by_at_most);
        }
        // A peer that answers keeps it open for ever (RFC 1122 4.2.2.17).
        let alive = zero_window(&ZeroWindow {
            then_answered: true,
            ..k.clone()
        });
        assert_eq!(alive.death, None);
        // ...unless TCP_USER_TIMEOUT, counted from the first probe timer (not
        // reset by the answers): the timer is clamped to fire at t1 + UTO.
        let uto = zero_window(&ZeroWindow {
            then_answered: true,
            user_timeout: Some(s(2.0)),
            ..k.clone()
        });
        assert_eq!(uto.death, Some(ms(2212)));
        assert_eq!(uto.probes, [ms(212), ms(636), ms(1484)]);
    }

    #[test]
    fn an_orphan_facing_a_zero_window() {
        let ms = Duration::from_millis;
        // Measured: rto_max 1 s, peer answering: backoff 3 makes 212 << 3 >=
        // rto_max, not alive, tcp_orphan_retries(0, false) = 0 <= backoff:
        // gone at 0.212 + 0.424 + 0.848 + 1.0 = 2.484 s (measured 2.51 s).
        let k = ZeroWindow {
            rto: ms(212),
            rto_max: s(1.0),
            orphan: Some(0),
            then_answered: true,
            ..ZeroWindow::default()
        };
        let d = zero_window(&k);
        assert_eq!(d.death, Some(ms(2484)));
        assert_eq!(d.probes.len(), 3);
        // retries2 = 2 caps the backoff at 2 (848 ms < rto_max): alive for
        // ever, probes every 0.848 s (measured 0.864 s): FIN_WAIT1 stalls.
        let stall = zero_window(&ZeroWindow {
            retries2: 2,
            ..k.clone()
        });
        assert_eq!(stall.death, None);
        let p = &stall.probes;
        assert_eq!(p[5] - p[4], ms(848));
        // Default rto_max: not alive from backoff 10 (0.212 * 1024 s): ~217 s.
        let slow = zero_window(&ZeroWindow {
            rto_max: TCP_RTO_MAX,
            ..k.clone()
        });
        assert_eq!(
            slow.death,
            Some(ms(212 * 1023) + TCP_RTO_MAX.min(ms(212 * 1024)))
        );
        // Unanswered, tcp_orphan_retries = 2 while alive: gone at the third expiry.
        let cut = zero_window(&ZeroWindow {
            rto_max: TCP_RTO_MAX,
            orphan: Some(2),
            then_answered: false,
            ..k
        });
        assert_eq!(cut.death, Some(ms(1484)));
        assert_eq!(cut.probes.len(), 2);
    }
}
