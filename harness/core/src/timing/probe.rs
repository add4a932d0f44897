//! `probe = "tail_loss"`: the tail loss probe of a flight, checked against
//! the model packet by packet.
//!
//! The kernel (net/ipv4/tcp_output.c) arms the probe timer after each send
//! of new data (`tcp_schedule_loss_probe`): one PTO ([`model::probe_timeout`])
//! after the tail of the flight. When it fires with nothing new to send,
//! `tcp_send_loss_probe` resends the last segment of the retransmit queue
//! (the last MSS of it, `tcp_fragment`) and re-arms the RTO from now
//! (`icsk_pending = 0`, then `tcp_rearm_rto`): the first RTO retransmission,
//! of the head (snd_una), comes one RTO after the probe, not after the head.
//!
//! From the capture: the tail is the host's last segment of new data (or
//! FIN) before its first retransmission after the step; that retransmission
//! must be the probe (the tail's last segment, at the PTO after the tail);
//! the next retransmission must be the head's, one RTO after the probe. Each
//! time is accepted from the model's value to its timer-wheel lateness
//! ([`model::timer_slack`]) plus the expiry's way to the wire port
//! ([`WIRE_LAG`]), and never earlier than [`model::EARLY_SLACK`] before it. A probe that sent new data instead (unsent data the window
//! allowed) is not told from the flight: the check then fails, it does not
//! pass.

use super::{
    at, conn_packets, port_of_host, retrans_knobs, secs, segment_end, segments_in_flight,
    seq_before, Timed, WIRE_LAG,
};
use crate::evidence::{Check, Evidence, Packet, TcpFlags};
use crate::model;
use crate::scenario::{Host, ProbeModel, Scenario};
use std::time::Duration;

/// Evaluates `probe = ...` for `host`'s flight after the step at `anchor`.
pub fn probe(
    sc: &Scenario,
    ev: &Evidence,
    model_name: ProbeModel,
    host: Host,
    anchor: u64,
) -> Timed {
    match model_name {
        ProbeModel::TailLoss => tail_loss(sc, ev, host, anchor),
    }
}

/// A flight's tail and what followed it, as captured.
struct TailSeen<'a> {
    /// The last segment of new data (or FIN) before the first retransmission.
    tail: &'a Packet,
    /// snd_nxt after the tail.
    next: u32,
    /// The first retransmission after the step (the probe, if the model holds).
    probe: &'a Packet,
    /// The retransmission after it (the RTO's, if the model holds).
    after: Option<&'a Packet>,
    /// The last acknowledgement the host received before `after` (snd_una).
    head: Option<u32>,
}

fn tail_seen<'a>(
    ev: &'a Evidence,
    sc: &Scenario,
    host: Host,
    anchor: u64,
) -> Result<TailSeen<'a>, String> {
    let side = host.side();
    let port = port_of_host(host);
    let pkts = conn_packets(ev, port, sc.connection());
    let mut next: Option<u32> = None;
    let mut tail: Option<&Packet> = None;
    let mut retransmissions = Vec::new();
    for p in pkts.iter().copied() {
        if ev.sender(p) != Some(side) || (p.len == 0 && !p.flags.has(TcpFlags::FIN)) {
            continue;
        }
        let end = segment_end(p);
        match next {
            Some(n) if !seq_before(n, end) => {
                if p.ts_ns >= anchor {
                    retransmissions.push(p);
                }
            }
            _ => {
                next = Some(end);
                if retransmissions.is_empty() {
                    tail = Some(p);
                }
            }
        }
    }
    let Some(&probe) = retransmissions.first() else {
        return Err(format!(
            "no retransmission from {host} on {} after the step",
            port.name()
        ));
    };
    let tail = tail.filter(|t| t.ts_ns >= anchor).ok_or_else(|| {
        format!("no new data or FIN from {host} after the step before its first retransmission")
    })?;
    let after = retransmissions.get(1).copied();
    let head = pkts
        .iter()
        .filter(|p| {
            ev.sender(p).is_some_and(|s| s != side)
                && p.flags.has(TcpFlags::ACK)
                && p.ts_ns < after.map_or(u64::MAX, |a| a.ts_ns)
        })
        .map(|p| p.ack)
        .next_back();
    Ok(TailSeen {
        tail,
        next: segment_end(tail),
        probe,
        after,
        head,
    })
}

/// When a segment a timer of `model` sends may be captured: from
/// [`model::EARLY_SLACK`] before it to its timer-wheel lateness plus the way
/// from the expiry to the wire port ([`WIRE_LAG`]).
fn window(model: Duration) -> (Duration, Duration) {
    (
        model.saturating_sub(model::EARLY_SLACK),
        model + model::timer_slack(model) + WIRE_LAG,
    )
}

fn describe(p: &Packet) -> String {
    format!(
        "seq {} len {}{}",
        p.seq,
        p.len,
        if p.flags.has(TcpFlags::FIN) {
            " FIN"
        } else {
            ""
        }
    )
}

fn tail_loss(sc: &Scenario, ev: &Evidence, host: Host, anchor: u64) -> Timed {
    let seen = match tail_seen(ev, sc, host, anchor) {
        Ok(s) => s,
        Err(line) => return Timed::undecided(line),
    };
    let mut k = retrans_knobs(sc, ev, host, seen.tail.ts_ns);
    k.in_flight = segments_in_flight(ev, sc.connection(), host, seen.tail);
    let inputs = format!(
        "srtt={:.3}ms (sampled), {} segments in flight at the tail, SACK {}, tcp_early_retrans {}, rto={}, rto_min={}",
        k.srtt.as_secs_f64() * 1e3,
        k.in_flight,
        if k.sack { "on" } else { "off" },
        if k.tlp { "allows the probe" } else { "off" },
        secs(k.rto),
        secs(k.rto_min),
    );
    let Some(pto) = model::probe_timeout(&k) else {
        return Timed::undecided(format!(
            "the model predicts no tail loss probe here ({inputs}); the first retransmission, {} at {:.6}s, is not one",
            describe(seen.probe),
            ev.rel_secs(seen.probe.ts_ns)
        ));
    };
    let formula = if k.in_flight == 1 {
        "2*srtt + rto_min"
    } else {
        "2*srtt + 2 ms"
    };
    let mut lines = vec![format!(
        "model ({inputs}): the probe {} after the tail ({formula}, in whole jiffies, capped by the RTO), then the RTO retransmission of the head {} after the probe",
        secs(pto),
        secs(k.rto)
    )];
    lines.push(format!(
        "tail: {} from {host} at {:.6}s (snd_nxt {})",
        describe(seen.tail),
        ev.rel_secs(seen.tail.ts_ns),
        seen.next
    ));

    // The probe: at the PTO after the tail, resending the tail's last segment.
    let measured = at(seen.tail.ts_ns, seen.probe.ts_ns);
    let (lo, hi) = window(pto);
    let stolen = ev.held_back_within(seen.tail.ts_ns + pto.as_nanos() as u64, seen.probe.ts_ns);
    let on_time = lo <= measured && measured <= hi + stolen;
    let is_tail = segment_end(seen.probe) == seen.next;
    lines.push(format!(
        "probe: {} at {:.6}s, {} after the tail (accepted {}..{}{}) {}; {}",
        describe(seen.probe),
        ev.rel_secs(seen.probe.ts_ns),
        secs(measured),
        secs(lo),
        secs(hi),
        super::accepted_until(hi, stolen),
        if on_time { "ok" } else { "OUT OF WINDOW" },
        if is_tail {
            "it resends the last segment ok".to_string()
        } else {
            format!(
                "it does not end at snd_nxt {} (a probe resends the last segment): NOT THE TAIL",
                seen.next
            )
        }
    ));

    // The RTO after it: of the head, one RTO after the probe.
    let (rto_ok, line) = rto_after(ev, &seen, k.rto);
    lines.push(line);
    Timed {
        check: Check {
            kernel: None,
            name: String::new(),
            ok: on_time && is_tail && rto_ok,
            evidence: lines,
        },
        predicted: Some(pto.as_secs_f64()),
        measured: Some(measured.as_secs_f64()),
    }
}

/// The retransmission after the probe: the head's (snd_una), one RTO after
/// the probe (which re-armed the timer from itself). Whether it is, and the line.
fn rto_after(ev: &Evidence, seen: &TailSeen, rto: Duration) -> (bool, String) {
    let Some(r) = seen.after else {
        return (
            false,
            format!(
                "RTO retransmission: none captured after the probe (expected {} later)",
                secs(rto)
            ),
        );
    };
    let gap = at(seen.probe.ts_ns, r.ts_ns);
    let (lo, hi) = window(rto);
    let stolen = ev.held_back_within(seen.probe.ts_ns + rto.as_nanos() as u64, r.ts_ns);
    let timed = lo <= gap && gap <= hi + stolen;
    let of_head = seen.head.is_none_or(|h| r.seq == h);
    let line = format!(
        "RTO retransmission: {} at {:.6}s, {} after the probe (accepted {}..{}{}) {}; {}",
        describe(r),
        ev.rel_secs(r.ts_ns),
        secs(gap),
        secs(lo),
        secs(hi),
        super::accepted_until(hi, stolen),
        if timed { "ok" } else { "OUT OF WINDOW" },
        match seen.head {
            Some(h) if of_head => format!("the head (snd_una {h}) ok"),
            Some(h) => format!("NOT THE HEAD (snd_una {h})"),
            None => "no acknowledgement seen, the head unknown".to_string(),
        }
    );
    (timed && of_head, line)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{evidence, pkt, scenario};
    use super::*;

    /// The cut at 0.05 s; then ten segments in two GSO frames and the FIN at
    /// 0.06 s (the server acknowledged 1001 before), then `after`.
    fn flight(after: &[(f64, &str, u32, u32)]) -> Evidence {
        let mut v = vec![
            pkt(0.01, false, ".", 5001, 1001, 0),
            pkt(0.06, true, "P.", 1001, 5001, 7240),
            pkt(0.06001, true, "P.", 8241, 5001, 7240),
            pkt(0.06002, true, "F.", 15481, 5001, 0),
        ];
        for (t, flags, seq, len) in after {
            v.push(pkt(*t, true, flags, *seq, 5001, *len));
        }
        evidence(v, 9.0)
    }

    fn check(ev: &Evidence) -> Timed {
        let sc = scenario("");
        probe(
            &sc,
            ev,
            ProbeModel::TailLoss,
            Host::Client,
            ev.steps[0].acted_ns,
        )
    }

    #[test]
    fn a_flights_probe_resends_the_fin_one_jiffy_after_it_then_the_rto_follows() {
        // x-tlp-flight as measured: the FIN again 6 ms after it, the head 208 ms after that.
        let ev = flight(&[(0.06602, "F.", 15481, 0), (0.27402, ".", 1001, 1448)]);
        let t = check(&ev);
        assert!(t.check.ok, "{:#?}", t.check.evidence);
        // Three frames in flight (no MSS sampled): 2*0 + 2 ms is one jiffy.
        assert_eq!(t.predicted, Some(0.004));
        assert!((t.measured.unwrap() - 0.006).abs() < 1e-6, "{t:?}");
        assert!(
            t.check.evidence[0].contains("3 segments in flight"),
            "{:?}",
            t.check.evidence
        );
    }

    #[test]
    fn a_probe_at_the_lone_fins_time_the_wrong_segment_or_no_rto_fails() {
        // 2*srtt + rto_min, as if one segment were in flight: too late.
        let late = flight(&[(0.26402, "F.", 15481, 0), (0.47202, ".", 1001, 1448)]);
        let t = check(&late);
        assert!(!t.check.ok);
        assert!(
            t.check.evidence.iter().any(|l| l.contains("OUT OF WINDOW")),
            "{:?}",
            t.check.evidence
        );
        // The head resent first: an RTO, not a probe.
        let head = flight(&[(0.06602, ".", 1001, 1448), (0.27402, ".", 1001, 1448)]);
        let t = check(&head);
        assert!(!t.check.ok);
        assert!(
            t.check.evidence.iter().any(|l| l.contains("NOT THE TAIL")),
            "{:?}",
            t.check.evidence
        );
        // The probe, but no RTO retransmission after it.
        let t = check(&flight(&[(0.06602, "F.", 15481, 0)]));
        assert!(!t.check.ok);
        assert!(
            t.check.evidence.iter().any(|l| l.contains("none captured")),
            "{:?}",
            t.check.evidence
        );
        // An RTO retransmission of the tail instead of the head.
        let t = check(&flight(&[
            (0.06602, "F.", 15481, 0),
            (0.27402, "F.", 15481, 0),
        ]));
        assert!(!t.check.ok);
        assert!(
            t.check.evidence.iter().any(|l| l.contains("NOT THE HEAD")),
            "{:?}",
            t.check.evidence
        );
    }

    #[test]
    fn a_lone_fins_probe_waits_rto_min_and_no_retransmission_is_no_verdict() {
        // Everything acknowledged, then only the FIN in flight: 2*srtt + 200 ms.
        let mut v = vec![
            pkt(0.01, false, ".", 5001, 1001, 0),
            pkt(0.06, true, "F.", 1001, 5001, 0),
            pkt(0.264, true, "F.", 1001, 5001, 0),
            pkt(0.472, true, "F.", 1001, 5001, 0),
        ];
        let t = check(&evidence(v.clone(), 9.0));
        assert!(t.check.ok, "{:#?}", t.check.evidence);
        assert_eq!(t.predicted, Some(0.2));
        // Nothing retransmitted: an error naming what is missing, not a pass.
        v.truncate(2);
        let t = check(&evidence(v, 9.0));
        assert!(!t.check.ok);
        assert_eq!((t.predicted, t.measured), (None, None));
        assert!(
            t.check.evidence[0].contains("no retransmission from client"),
            "{:?}",
            t.check.evidence
        );
    }
}
