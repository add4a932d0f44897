//! ICMP soft errors: what a TCP sender does when the path answers its
//! segments with ICMP / ICMPv6 destination unreachable (issue 12, model
//! item 3). Pure, in its own module so that [`crate::model`] stays as it is.
//!
//! Rules (from the kernel source as read, then measured with the lab fault
//! `reject` and the x-icmp-* scenarios):
//! - `tcp_v4_err` (net/ipv4/tcp_ipv4.c): ICMP_DEST_UNREACH sets the error
//!   from `icmp_err_convert[code]` (net/ipv4/icmp.c); only codes
//!   ICMP_NET_UNREACH and ICMP_HOST_UNREACH call `tcp_ld_RTO_revert`.
//! - `tcp_v6_err` (net/ipv6/tcp_ipv6.c): the error from `icmpv6_err_convert`
//!   (net/ipv6/icmp.c, `tab_unreach`); only ICMPV6_DEST_UNREACH with code
//!   ICMPV6_NOROUTE (net unreachable) calls `tcp_ld_RTO_revert`: an
//!   address-unreachable (the IPv6 "host unreachable") does not revert.
//! - Both, in SYN_SENT (and SYN_RECV): `tcp_done_with_error(sk, err)` unless
//!   the socket is owned by the user: connect() fails at once with `err`.
//! - Otherwise the error is only `sk_err_soft` (no IP_RECVERR): the
//!   connection keeps retransmitting; `tcp_write_err` (net/ipv4/tcp_timer.c)
//!   reports `sk_err_soft ?: ETIMEDOUT` when it finally gives up.
//! - `tcp_ld_RTO_revert` (net/ipv4/tcp_timer.c, RFC 6069): for the ICMP
//!   quoting `snd_una` while retransmitting with a backoff, `icsk_backoff--`,
//!   the RTO is recomputed from srtt (`__tcp_set_rto`) and shifted by the
//!   remaining backoff, and the timer re-armed at the segment's last send +
//!   that RTO. A retransmission answered at once therefore undoes its own
//!   doubling: retransmissions every RTO, never doubling.
//! - `tcp_orphan_retries` (net/ipv4/tcp_timer.c): `if (sk_err_soft &&
//!   !alive) retries = 0; if (retries == 0 && alive) retries = 8;` with
//!   `alive = icsk_rto < rto_max`. An orphan that has a soft error gets 0
//!   retries once its RTO reached rto_max (NOT while alive).
//!
//! Measured by hand on 6.18 (an nftables netdev ingress `reject` on the wire
//! port, `teardown lab`), before the scenarios:
//! - connect(): every type tried (IPv4 host, port, net unreachable, admin
//!   prohibited; IPv6 addr, port, no-route, admin) failed at ~1.01 s, at the
//!   first SYN retransmission, not at once: on a veth the ICMP for the first
//!   SYN arrives while connect() still holds the socket lock, so it is only
//!   `sk_err_soft`; the second SYN's ICMP finds the socket unowned. The
//!   errnos: EHOSTUNREACH, ECONNREFUSED, ENETUNREACH, EHOSTUNREACH (IPv4) and
//!   EHOSTUNREACH, ECONNREFUSED, ENETUNREACH, EACCES (IPv6), as [`errno`] says.
//! - IPv4 host unreachable answering every retransmission, retries2 = 3,
//!   RTO 204 ms: retransmissions every 204 ms, never doubling, and
//!   EHOSTUNREACH 3.475 s after the send (the tail loss probe at 0.206 s,
//!   then RTO retransmissions 204 ms apart); IPv6 address unreachable:
//!   the probe, then doubling RTOs (0.415, 0.831, 1.663, 3.327 s),
//!   EHOSTUNREACH at 6.819 s. [`dead_path_unreachable`] gives 3.468 s and
//!   6.732 s (late by at most its slack). x-icmp-established checks the
//!   packets and the errno, its `dies = "unreachable"` the death; a
//!   `gone = "orphan_fin"` on a host whose segments a `reject` answers uses
//!   [`orphan_fin_unreachable`] (x-icmp-orphan-fin: IPv4 gone at 5.9 s,
//!   FINs 204 ms apart until tcp_orphan_retries = 6 is spent; IPv6 at 2.6 s,
//!   0 retries once the RTO reached rto_max = 1 s).

use crate::model::{budget, timer_slack, DeadPath, Retrans, Undecided, JIFFY, TCP_RTO_MIN};
use std::time::Duration;

/// The address family the ICMP comes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fam {
    V4,
    V6,
}

/// The destination-unreachable kinds the `reject` fault would send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreachable {
    /// ICMP code 0 / ICMPv6 code 0 (no route).
    Net,
    /// ICMP code 1 / ICMPv6 code 3 (address unreachable).
    Host,
    /// ICMP code 3 / ICMPv6 code 4.
    Port,
    /// ICMP code 13 (communication administratively prohibited) / ICMPv6 code 1.
    AdminProhibited,
}

/// The errno the kernel takes from the ICMP: `icmp_err_convert[code].errno`
/// (IPv4) or `icmpv6_err_convert`'s `tab_unreach[code].err` (IPv6).
pub fn errno(fam: Fam, u: Unreachable) -> &'static str {
    match (fam, u) {
        (_, Unreachable::Net) => "ENETUNREACH",
        (_, Unreachable::Host) => "EHOSTUNREACH",
        (_, Unreachable::Port) => "ECONNREFUSED",
        // ICMP_PKT_FILTERED: {EHOSTUNREACH, 1}; ICMPV6_ADM_PROHIBITED: EACCES.
        (Fam::V4, Unreachable::AdminProhibited) => "EHOSTUNREACH",
        (Fam::V6, Unreachable::AdminProhibited) => "EACCES",
    }
}

/// Whether the ICMP undoes one backoff step (`tcp_v4_err`: net or host
/// unreachable; `tcp_v6_err`: ICMPV6_NOROUTE only).
pub fn reverts_backoff(fam: Fam, u: Unreachable) -> bool {
    match fam {
        Fam::V4 => matches!(u, Unreachable::Net | Unreachable::Host),
        Fam::V6 => u == Unreachable::Net,
    }
}

/// `tcp_orphan_retries` with the soft-error rule.
pub fn orphan_retries_soft(sysctl: u32, alive: bool, soft_error: bool) -> u32 {
    let retries = if soft_error && !alive { 0 } else { sysctl };
    if retries == 0 && alive {
        8
    } else {
        retries
    }
}

/// A chain of RTO expiries whose retransmissions are each answered at once
/// by the ICMP: with `revert` the RTO stays at `k.rto` (`tcp_ld_RTO_revert`),
/// else it doubles up to rto_max (`tcp_retransmit_timer`). `expired(elapsed,
/// rto_now)` is `tcp_write_timeout`'s check from the first retransmission
/// (`retrans_stamp`). The tail loss probe still goes first
/// ([`crate::model::probe_timeout`]): an ICMP for a segment sent without
/// backoff reverts nothing, and the RTO chain is armed from the probe
/// (measured on 6.18: the probe 206 ms after the send, then the RTO chain).
/// The RTO `tcp_ld_RTO_revert` re-arms with: `__tcp_set_rto` = srtt +
/// rttvar, rttvar floored at rto_min, in whole jiffies (usecs_to_jiffies
/// rounds up). With a veth's tens of microseconds of srtt that is rto_min
/// plus one jiffy: 204 ms at HZ=250, where the sampled tcpi_rto was 208 ms
/// (measured on 6.18: the probe, 208 ms, then 204 ms apart).
pub fn reverted_rto(k: &Retrans) -> Duration {
    let raw = k.rto_min + k.srtt.max(Duration::from_micros(1));
    let j = JIFFY.as_nanos();
    let n = raw.as_nanos().div_ceil(j);
    Duration::from_nanos((n * j) as u64)
}

fn answered_chain(
    k: &Retrans,
    revert: bool,
    expired: impl Fn(Duration, Duration) -> bool,
) -> DeadPath {
    let rto_max = k.rto_max.max(JIFFY);
    let base = k.rto.clamp(JIFFY, rto_max);
    let mut rto = base;
    let tlp = crate::model::probe_timeout(k);
    let (mut t, mut slack) = match tlp {
        Some(p) => (p + base, timer_slack(p) + timer_slack(base)),
        None => (base, timer_slack(base)),
    };
    let mut sent: Vec<Duration> = Vec::new();
    // As in the model's RTO chain: the slack when the clock started, and an
    // expiry the timer wheel's lateness may already end ([`DeadPath::undecided`]).
    let mut slack_at_first = slack;
    let mut undecided = None;
    for _ in 0..100_000 {
        if let Some(first) = sent.first() {
            let elapsed = t.saturating_sub(*first);
            let gone = match k.user_timeout {
                Some(u) => elapsed >= u,
                None => expired(elapsed, rto),
            };
            if gone {
                break;
            }
            let stretch = slack.saturating_sub(slack_at_first);
            if k.user_timeout.is_none() && undecided.is_none() && expired(elapsed + stretch, rto) {
                undecided = Some(Undecided {
                    at: t,
                    late_by_at_most: slack,
                });
            }
        } else {
            slack_at_first = slack;
        }
        sent.push(t);
        rto = if revert {
            reverted_rto(k).min(rto_max)
        } else {
            rto.saturating_mul(2).min(rto_max)
        };
        slack = slack.saturating_add(timer_slack(rto));
        t = t.saturating_add(rto);
    }
    DeadPath {
        tail_loss_probe: tlp,
        retransmissions: sent,
        budget: k
            .user_timeout
            .unwrap_or(budget(k.retries2, TCP_RTO_MIN, rto_max)),
        death: t,
        late_by_at_most: slack,
        undecided,
    }
}

/// Data in flight whose every segment is answered by `u`: retransmission
/// times and death (errno [`errno`]), from the original send.
pub fn dead_path_unreachable(k: &Retrans, fam: Fam, u: Unreachable) -> DeadPath {
    let m = budget(k.retries2, TCP_RTO_MIN, k.rto_max.max(JIFFY));
    answered_chain(k, reverts_backoff(fam, u), |elapsed, _| elapsed >= m)
}

/// An orphan's FIN answered by `u`: it vanishes (no RST) at the death time.
pub fn orphan_fin_unreachable(
    k: &Retrans,
    orphan_retries_sysctl: u32,
    fam: Fam,
    u: Unreachable,
) -> DeadPath {
    let rto_max = k.rto_max.max(JIFFY);
    answered_chain(k, reverts_backoff(fam, u), |elapsed, rto_now| {
        let n = orphan_retries_soft(orphan_retries_sysctl, rto_now < rto_max, true);
        elapsed >= budget(n, TCP_RTO_MIN, rto_max)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn knobs(retries2: u32, rto_max_ms: u64) -> Retrans {
        Retrans {
            retries2,
            rto: ms(204),
            rto_max: ms(rto_max_ms),
            tlp: false,
            ..Retrans::default()
        }
    }

    #[test]
    fn errnos_follow_the_conversion_tables() {
        assert_eq!(errno(Fam::V4, Unreachable::Host), "EHOSTUNREACH");
        assert_eq!(errno(Fam::V6, Unreachable::Host), "EHOSTUNREACH");
        assert_eq!(errno(Fam::V4, Unreachable::Port), "ECONNREFUSED");
        assert_eq!(errno(Fam::V4, Unreachable::AdminProhibited), "EHOSTUNREACH");
        assert_eq!(errno(Fam::V6, Unreachable::AdminProhibited), "EACCES");
        assert_eq!(errno(Fam::V6, Unreachable::Net), "ENETUNREACH");
    }

    #[test]
    fn only_net_and_host_revert_in_v4_only_noroute_in_v6() {
        assert!(reverts_backoff(Fam::V4, Unreachable::Host));
        assert!(reverts_backoff(Fam::V4, Unreachable::Net));
        assert!(!reverts_backoff(Fam::V4, Unreachable::Port));
        assert!(!reverts_backoff(Fam::V6, Unreachable::Host));
        assert!(reverts_backoff(Fam::V6, Unreachable::Net));
    }

    #[test]
    fn a_reverted_chain_retransmits_every_rto_and_dies_with_the_budget() {
        // retries2 3: budget 15 * 200 ms = 3 s from the first retransmission
        // (0.204 s); expiries every 0.204 s: the 16th (3.264 s) is the first
        // with 3.060 s >= 3 s elapsed.
        let d = dead_path_unreachable(&knobs(3, 120_000), Fam::V4, Unreachable::Host);
        assert_eq!(d.budget, ms(3000));
        assert_eq!(d.retransmissions.len(), 15);
        assert_eq!(d.retransmissions[1], ms(408));
        assert_eq!(d.death, ms(204 * 16));
        // Unreverted (IPv6 address unreachable): the doubling schedule.
        let d6 = dead_path_unreachable(&knobs(3, 120_000), Fam::V6, Unreachable::Host);
        let want: Vec<Duration> = [204, 612, 1428, 3060].map(ms).to_vec();
        assert_eq!(d6.retransmissions, want);
        assert_eq!(d6.death, ms(6324));
    }

    #[test]
    fn with_the_tail_loss_probe_the_chain_matches_the_6_18_measurements() {
        // x-icmp-established on 6.18 (tcpi_rto 208 ms, retries2 3, srtt ~0):
        // the probe at 0.2 s, the first RTO 208 ms after it, then (IPv4,
        // reverted) 204 ms apart, EHOSTUNREACH at 3.476 s; IPv6 doubling,
        // EHOSTUNREACH at 6.751 s and 6.819 s.
        let k = Retrans {
            tlp: true,
            rto: ms(208),
            ..knobs(3, 120_000)
        };
        assert_eq!(reverted_rto(&k), ms(204));
        let d = dead_path_unreachable(&k, Fam::V4, Unreachable::Host);
        assert_eq!(d.tail_loss_probe, Some(ms(200)));
        assert_eq!(d.retransmissions[..3], [408, 612, 816].map(ms));
        assert_eq!(d.death, ms(200 + 208 + 204 * 15));
        assert!(d.death_window().contains(Duration::from_secs_f64(3.476)));
        let d6 = dead_path_unreachable(&k, Fam::V6, Unreachable::Host);
        assert_eq!(d6.retransmissions, [408, 824, 1656, 3320].map(ms));
        assert_eq!(d6.death, ms(6648));
        for m in [6.751, 6.819] {
            assert!(d6.death_window().contains(Duration::from_secs_f64(m)));
        }
    }

    #[test]
    fn an_orphan_with_a_soft_error_gets_zero_retries_only_once_not_alive() {
        assert_eq!(orphan_retries_soft(0, true, true), 8);
        assert_eq!(orphan_retries_soft(15, true, true), 15);
        assert_eq!(orphan_retries_soft(15, false, true), 0);
        assert_eq!(orphan_retries_soft(15, false, false), 15);
        // rto_max 1 s, orphan_retries 15: without ICMP the budget would be
        // 7 * 200 ms + 13 * 1 s = 14.4 s; answered by port unreachable (no
        // revert) the RTO reaches 1 s at 1.428 s, and the expiry at 2.428 s
        // finds it not alive: 0 retries (200 ms budget), gone.
        let k = knobs(15, 1000);
        assert_eq!(budget(15, TCP_RTO_MIN, ms(1000)), ms(14_400));
        let o = orphan_fin_unreachable(&k, 15, Fam::V4, Unreachable::Port);
        assert_eq!(o.death, ms(2428));
        // Host unreachable in v4 reverts: always alive, the full 14.4 s budget.
        let o4 = orphan_fin_unreachable(&k, 15, Fam::V4, Unreachable::Host);
        assert!(o4.death >= ms(204 + 14_400));
    }
}
