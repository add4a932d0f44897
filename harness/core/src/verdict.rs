//! A run's outcome: its checks, the two key times and the verdict.
//!
//! Contract: pure functions of (scenario, evidence, harness problems). A
//! verdict is `pass` only when every check passed on complete evidence: any
//! harness problem (capture drops or errors, an endpoint that died on its
//! own, a wait that timed out, a fault the kernel refused) makes it `error`
//! with the problems as its reason, whatever the checks say; otherwise a
//! failed check makes it `fail`.

use crate::evidence::{Check, Event, Evidence};
use crate::report::Verdict;
use crate::scenario::{EventKind, Expectation, Scenario};

/// What a run's evidence and problems come to.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub checks: Vec<Check>,
    pub verdict: Verdict,
    /// Why the verdict is `error` (the problems, `; `-joined).
    pub reason: Option<String>,
    /// The first `dies` expectation's predicted and measured seconds.
    pub predicted_seconds: Option<f64>,
    pub measured_seconds: Option<f64>,
}

/// Evaluates every expectation and decides the verdict.
pub fn outcome(sc: &Scenario, ev: &Evidence, problems: &[String]) -> Outcome {
    let checks = crate::expect::evaluate(sc, ev);
    let (predicted_seconds, measured_seconds) = key_times(sc, ev);
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

/// The key time the report shows next to the model's: the first `dies`
/// expectation's predicted and measured seconds.
pub fn key_times(sc: &Scenario, ev: &Evidence) -> (Option<f64>, Option<f64>) {
    for e in &sc.expects {
        if let Expectation::Dies {
            model,
            source,
            host,
        } = &e.check
        {
            let anchor = crate::expect::anchor_ns(e, ev);
            let d = crate::timing::dies(sc, ev, *model, source, *host, anchor);
            return (d.predicted, d.measured);
        }
    }
    (None, None)
}

/// Endpoints that died on their own, which make the evidence incomplete: an
/// `exited` event whose detail starts with `crashed`. A built-in client whose
/// connect() failed exits 1 by contract (the `error` op=connect event is the
/// evidence), which is no crash.
pub fn endpoint_crashes(events: &[Event]) -> Vec<String> {
    let connect_failed = |src: &str| {
        events.iter().any(|x| {
            x.source == src && x.kind == EventKind::Error && x.op.as_deref() == Some("connect")
        })
    };
    events
        .iter()
        .filter(|e| {
            let detail = e.detail.as_deref().unwrap_or("");
            e.kind == EventKind::Exited
                && detail.starts_with("crashed")
                && !(detail.starts_with("crashed: exit 1 ") && connect_failed(&e.source))
        })
        .map(|e| {
            format!(
                "endpoint {} {}",
                e.source,
                e.detail.clone().unwrap_or_default()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ok: bool) -> Check {
        Check {
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
}
