//! A run's outcome: its checks, the two key times and the verdict.
//!
//! Contract: pure functions of (scenario, evidence, harness problems). A
//! verdict is `pass` only when every check passed on complete evidence: any
//! harness problem (capture drops or errors, an endpoint that died on its
//! own, a wait that timed out, a fault the kernel refused) makes it `error`
//! with the problems as its reason, whatever the checks say; otherwise a
//! failed check makes it `fail`.
//!
//! The two key times (`predicted_seconds`, `measured_seconds` in
//! `report.json` and `summary.json`, the table's `predicted` and `measured`
//! columns, JUnit's `<system-out>`) are those of the scenario's key check
//! ([`key_check`]), taken from that check's own evaluation: each expectation
//! is evaluated once, and the figures are the numbers its check judged.

use crate::evidence::{Check, Event, Evidence};
use crate::report::Verdict;
use crate::scenario::{EventKind, Expect, Expectation, Scenario, Wait};

/// What a run's evidence and problems come to.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub checks: Vec<Check>,
    pub verdict: Verdict,
    /// Why the verdict is `error` (the problems, `; `-joined).
    pub reason: Option<String>,
    /// The key check's ([`key_check`]) predicted and measured seconds.
    pub predicted_seconds: Option<f64>,
    pub measured_seconds: Option<f64>,
}

/// Evaluates every expectation (once) and decides the verdict; the key times
/// come from the key check's evaluation.
pub fn outcome(sc: &Scenario, ev: &Evidence, problems: &[String]) -> Outcome {
    let timed = crate::expect::evaluate_timed(sc, ev);
    let (predicted_seconds, measured_seconds) = key_check(&sc.expects)
        .and_then(|i| timed.get(i))
        .map(|t| (t.predicted, t.measured))
        .unwrap_or((None, None));
    let checks: Vec<Check> = timed.into_iter().map(|t| t.check).collect();
    let (verdict, reason) = verdict(&checks, problems);
    Outcome {
        checks,
        verdict,
        reason,
        predicted_seconds,
        measured_seconds,
    }
}

/// The verdict rule: problems make it `error` (with them as the reason),
/// else `pass` when every check passed, else `fail`.
pub fn verdict(checks: &[Check], problems: &[String]) -> (Verdict, Option<String>) {
    if !problems.is_empty() {
        (Verdict::Error, Some(problems.join("; ")))
    } else if checks.iter().all(|c| c.ok) {
        (Verdict::Pass, None)
    } else {
        (Verdict::Fail, None)
    }
}

/// The scenario's key check: the expectation (an index into `expects`)
/// whose predicted and measured times the report shows. The rule: **the
/// first `dies` expectation in file order; without one, the first other
/// model expectation ([`Expectation::has_model`]: `schedule`, `gone`) in file
/// order; none when the scenario has no model expectation** (its columns stay
/// empty).
///
/// A death is the event a teardown scenario is about, so a `dies` check wins
/// over a `schedule` of the retransmissions or probes that lead to it. The
/// choice depends on the scenario file alone, never on a run's evidence: every
/// run of a scenario (repetitions, both families, shards) reports the same
/// check's times, and a key check that could not predict (no retransmission
/// captured) leaves the columns empty rather than showing another check's.
pub fn key_check(expects: &[Expect]) -> Option<usize> {
    expects
        .iter()
        .position(|e| matches!(e.check, Expectation::Dies { .. }))
        .or_else(|| expects.iter().position(|e| e.check.has_model()))
}

/// Endpoints that died on their own, which make the evidence incomplete: an
/// `exited` event whose detail starts with `crashed`. A built-in client whose
/// connect() failed exits 1 by contract (the `error` op=connect event is the
/// evidence), which is no crash.
pub fn endpoint_crashes(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter(|e| is_crash(events, e))
        .map(|e| {
            format!(
                "endpoint {} {}",
                e.source,
                e.detail.clone().unwrap_or_default()
            )
        })
        .collect()
}

/// Whether `e` is an `exited` event of a process that died on its own (see
/// [`endpoint_crashes`]).
fn is_crash(events: &[Event], e: &Event) -> bool {
    let detail = e.detail.as_deref().unwrap_or("");
    let connect_failed = || {
        events.iter().any(|x| {
            x.source == e.source && x.kind == EventKind::Error && x.op.as_deref() == Some("connect")
        })
    };
    e.kind == EventKind::Exited
        && detail.starts_with(CRASHED)
        && !(detail.starts_with("crashed: exit 1 ") && connect_failed())
}

/// How an `exited` event's detail begins (the supervisor's words, ending
/// with `(pid N)`): a process that could not be started at all (its program
/// could not be executed); one that ended on its own with a failure
/// (external programs: `failed: exit N`; built-ins and any signal:
/// `crashed: ...`). Other ends (`exit 0`, `killed by signal N`, or `exit N`
/// after the harness signalled it) are no failure.
pub const FAILED_TO_START: &str = "failed to start: ";
pub const FAILED: &str = "failed: ";
pub const CRASHED: &str = "crashed";

/// The first endpoint process, among `events`, that ended in a way the
/// scenario does not foresee, which makes whatever the timeline waits for
/// moot: one that failed to start, always; one that crashed or failed on
/// its own, unless the scenario foresees that endpoint's end (a wait or an
/// expectation on its `exited` event, or a `dies` expectation on it). An
/// exit 0 is never unforeseen (nc ends so on a FIN), nor a built-in's
/// exit after its failed connect (its contract).
pub fn unforeseen_exit<'a>(sc: &Scenario, events: &'a [Event]) -> Option<&'a Event> {
    events.iter().find(|e| {
        let detail = e.detail.as_deref().unwrap_or("");
        e.kind == EventKind::Exited
            && sc.endpoints.contains_key(&e.source)
            && (detail.starts_with(FAILED_TO_START)
                || ((detail.starts_with(FAILED) || is_crash(events, e))
                    && !foresees_end(sc, &e.source)))
    })
}

/// Whether the scenario makes `source`'s end part of its story.
fn foresees_end(sc: &Scenario, source: &str) -> bool {
    let waits = sc.steps.iter().filter_map(|s| s.wait.as_ref()).any(|w| {
        matches!(&w.until, Wait::Event { source: s, kind: EventKind::Exited, .. } if s == source)
    });
    let expects = sc.expects.iter().any(|x| match &x.check {
        Expectation::Event {
            source: s,
            kind: EventKind::Exited,
            ..
        } => s == source,
        Expectation::Dies { source: s, .. } => s == source,
        _ => false,
    });
    waits || expects
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ok: bool) -> Check {
        Check {
            kernel: None,
            name: "c".into(),
            ok,
            evidence: vec![],
        }
    }

    #[test]
    fn problems_win_over_checks() {
        assert_eq!(verdict(&[check(true)], &[]), (Verdict::Pass, None));
        assert_eq!(verdict(&[], &[]), (Verdict::Pass, None));
        assert_eq!(
            verdict(&[check(true), check(false)], &[]),
            (Verdict::Fail, None)
        );
        let problems = vec!["capture on client-port dropped 3 frames".into(), "x".into()];
        assert_eq!(
            verdict(&[check(false)], &problems),
            (
                Verdict::Error,
                Some("capture on client-port dropped 3 frames; x".into())
            )
        );
    }

    /// A scenario with a cut step, a keepalive client and these `[[expect]]` tables.
    fn scenario(expects: &[&str]) -> Scenario {
        let mut text = String::from(
            "name = \"t\"\nconclusion = \"C4\"\nsummary = \"s\"\n\
             [profile.fast.hosts.client.sysctl]\n\"net.ipv4.tcp_keepalive_time\" = 2\n\
             \"net.ipv4.tcp_keepalive_intvl\" = 1\n\"net.ipv4.tcp_keepalive_probes\" = 3\n\
             [endpoints.server]\nhost = \"server\"\nprogram = \"server\"\n\
             [endpoints.client]\nhost = \"client\"\nprogram = \"client\"\noptions = { keepalive = true }\n\
             [[step]]\nname = \"cut\"\ndo = \"cut\"\n",
        );
        for e in expects {
            text.push_str(&format!("[[expect]]\n{e}\nafter = \"cut\"\n"));
        }
        Scenario::parse("t.toml", &text, crate::scenario::Profile::Fast).unwrap()
    }

    const DIES: &str = "dies = \"keepalive\"\nsource = \"client\"";
    const SCHEDULE: &str = "schedule = \"keepalive\"\nhost = \"client\"";
    const GONE: &str = "gone = \"fin_wait2\"\nhost = \"client\"";
    const EVENT: &str = "event = \"error\"\nsource = \"client\"";
    const SOCKET: &str = "socket = \"ESTABLISHED\"\nhost = \"server\"\nwhen = \"throughout\"";
    const SILENT: &str = "silent = \"client\"\nport = \"server-port\"";

    #[test]
    fn the_key_check_is_the_first_dies_else_the_first_model_check() {
        let key = |expects: &[&str]| key_check(&scenario(expects).expects);
        // A `dies` wins wherever it stands, and the first of two.
        assert_eq!(key(&[EVENT, SCHEDULE, DIES]), Some(2));
        assert_eq!(key(&[DIES, SCHEDULE, DIES]), Some(0));
        assert_eq!(key(&[GONE, SILENT, DIES]), Some(2));
        // Without one, the first model check in file order.
        assert_eq!(key(&[EVENT, SCHEDULE, GONE]), Some(1));
        assert_eq!(key(&[SILENT, GONE, SCHEDULE]), Some(1));
        // Without a model check, none: packets, silence, sockets and events predict nothing.
        assert_eq!(key(&[EVENT, SOCKET, SILENT]), None);
        assert_eq!(key(&[]), None);
    }

    /// A keepalive run of the client, cut at 0.05 s: probes at 2, 3, 4 s
    /// after the last segment it received (0 s), ETIMEDOUT at 5.005 s.
    fn keepalive_evidence() -> Evidence {
        use crate::evidence::{Packet, StepRecord, TcpFlags};
        const BASE: u64 = 1_000_000_000_000;
        let at = |t: f64| BASE + (t * 1e9) as u64;
        let c: std::net::SocketAddr = "198.18.0.1:40000".parse().unwrap();
        let srv: std::net::SocketAddr = "198.18.0.2:8080".parse().unwrap();
        let pkt = |t: f64, from_client: bool, flags: &str, seq: u32, ack: u32| Packet {
            ts_ns: at(t),
            port: "client-port".into(),
            src: if from_client { c } else { srv },
            dst: if from_client { srv } else { c },
            flags: TcpFlags::parse_tcpdump(flags).unwrap(),
            seq,
            ack,
            len: 0,
            win: 100,
        };
        let mut packets = vec![
            pkt(0.0, false, "S.", 5000, 1001),
            pkt(0.0001, true, ".", 1001, 5001),
        ];
        for t in [2.001, 3.002, 4.004] {
            packets.push(pkt(t, true, ".", 1000, 5001));
        }
        packets.push(pkt(5.004, true, "R.", 1001, 5001));
        Evidence {
            client_ips: vec![c.ip()],
            server_ips: vec![srv.ip()],
            packets,
            events: vec![Event {
                op: Some("read".into()),
                errno: Some("ETIMEDOUT".into()),
                ..Event::new(at(5.005), "client", EventKind::Error)
            }],
            steps: vec![StepRecord {
                index: 0,
                name: Some("cut".into()),
                action: "cut".into(),
                started_ns: at(0.05),
                acted_ns: at(0.05),
            }],
            start_ns: BASE,
            end_ns: at(6.0),
            ..Default::default()
        }
    }

    #[test]
    fn the_key_times_are_the_key_checks_own() {
        let ev = keepalive_evidence();
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-6;
        // A schedule alone fills the columns: its last probe, predicted and captured.
        let sc = scenario(&[EVENT, SCHEDULE]);
        let o = outcome(&sc, &ev, &[]);
        assert_eq!(o.verdict, Verdict::Pass, "{:?}", o.checks);
        let timed = crate::expect::evaluate_timed(&sc, &ev);
        assert_eq!((timed[0].predicted, timed[0].measured), (None, None));
        assert_eq!(
            (o.predicted_seconds, o.measured_seconds),
            (timed[1].predicted, timed[1].measured)
        );
        assert!(close(o.predicted_seconds, 4.0) && close(o.measured_seconds, 4.004));
        // With a `dies` after it, the death's times: from the same evaluation as its check.
        let sc = scenario(&[SCHEDULE, DIES]);
        let o = outcome(&sc, &ev, &[]);
        let timed = crate::expect::evaluate_timed(&sc, &ev);
        assert_eq!(o.checks[1], timed[1].check);
        assert!(close(o.predicted_seconds, 5.0) && close(o.measured_seconds, 5.005));
        // A scenario without a model check shows none, whatever it checks.
        let o = outcome(&scenario(&[EVENT]), &ev, &[]);
        assert_eq!((o.predicted_seconds, o.measured_seconds), (None, None));
    }

    fn exited(source: &str, detail: &str) -> Event {
        Event {
            detail: Some(detail.into()),
            ..Event::new(0, source, EventKind::Exited)
        }
    }

    #[test]
    fn crashes_are_problems_but_a_failed_connect_is_not() {
        let mut events = vec![
            exited("server", "killed by signal 9 (pid 7)"),
            exited("client", "crashed: exit 1 (pid 8)"),
        ];
        assert_eq!(
            endpoint_crashes(&events),
            vec!["endpoint client crashed: exit 1 (pid 8)"]
        );
        events.push(Event {
            op: Some("connect".into()),
            errno: Some("ECONNREFUSED".into()),
            ..Event::new(0, "client", EventKind::Error)
        });
        assert!(endpoint_crashes(&events).is_empty());
        events.push(exited("other", "crashed: signal 11 (pid 9)"));
        assert_eq!(
            endpoint_crashes(&events),
            vec!["endpoint other crashed: signal 11 (pid 9)"]
        );
    }

    #[test]
    fn an_exit_is_unforeseen_when_it_failed_and_the_scenario_tells_no_end() {
        let sc = scenario(&[EVENT]);
        let unforeseen = |events: &[Event]| unforeseen_exit(&sc, events).map(|e| e.detail.clone());
        // Ends that are no failure: exit 0 (nc on a FIN), the harness's kill,
        // a status after the harness signalled it, a built-in's exit after its
        // failed connect.
        let mut events = vec![
            exited("server", "exit 0 (pid 7)"),
            exited("server", "killed by signal 9 (pid 8)"),
            exited("server", "exit 143 (pid 9)"),
            exited("nobody-of-ours", "failed: exit 1 (pid 5)"),
        ];
        assert_eq!(unforeseen(&events), None);
        events.push(Event {
            op: Some("connect".into()),
            ..Event::new(0, "client", EventKind::Error)
        });
        events.push(exited("client", "crashed: exit 1 (pid 10)"));
        assert_eq!(unforeseen(&events), None);
        // A failure on its own: external (`failed:`), or a built-in's crash.
        let failed = exited("server", "failed: exit 3 (pid 11)");
        assert_eq!(
            unforeseen(std::slice::from_ref(&failed)),
            Some(Some("failed: exit 3 (pid 11)".into()))
        );
        let crash = exited("server", "crashed: signal 11 (pid 12)");
        assert_eq!(
            unforeseen(std::slice::from_ref(&crash)),
            Some(crash.detail.clone())
        );
        // A scenario that tells the endpoint's end (a wait or an expectation
        // on its `exited`, or a `dies` on it) foresees its failure...
        for foreseeing in [
            scenario(&["event = \"exited\"\nsource = \"server\""]),
            scenario(&["dies = \"keepalive\"\nsource = \"server\""]),
        ] {
            assert_eq!(
                unforeseen_exit(&foreseeing, std::slice::from_ref(&failed)),
                None
            );
        }
        let mut text = String::from(
            "name = \"t\"\nconclusion = \"X\"\nsummary = \"s\"\n\
             [endpoints.server]\nhost = \"server\"\nprogram = \"external\"\ncommand = [\"x\"]\n",
        );
        text.push_str("[[step]]\nwait = { event = \"exited\", source = \"server\" }\n");
        let waits_for_it =
            Scenario::parse("t.toml", &text, crate::scenario::Profile::Fast).unwrap();
        assert_eq!(
            unforeseen_exit(&waits_for_it, std::slice::from_ref(&failed)),
            None
        );
        // ...but never a program that could not be started at all.
        let no_start = exited("server", "failed to start: exec ./x: ENOENT (pid 13)");
        assert_eq!(
            unforeseen_exit(&waits_for_it, std::slice::from_ref(&no_start))
                .map(|e| e.detail.clone()),
            Some(no_start.detail.clone())
        );
    }
}
