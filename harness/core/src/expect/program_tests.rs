//! Tests of the expectations on an external program's own words: `stdout` /
//! `stderr` lines (pass, fail, `happens = false`, a program that never ran)
//! and `dies ... line` (the death is the first matching line), on
//! hand-built evidence.

use super::evaluate_timed;
use crate::evidence::{addr, Check, Event, Evidence, Packet, StepRecord, HARNESS};
use crate::scenario::{EventKind, Profile, Scenario};
use crate::timing::Timed;
use std::net::SocketAddr;

const T0: u64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;

/// A built-in server, the external `psql` on the client host (keepalive on,
/// 2 s idle, 1 s interval, 3 probes: dead 5 s after the last segment it
/// received), steps `query` and `cut`, and `expects`.
fn scenario(expects: &str) -> Scenario {
    let text = format!(
        r#"
name = "t"
conclusion = "X-PSQL"
summary = "test"
[hosts.client.sysctl]
"net.ipv4.tcp_keepalive_time" = 2
"net.ipv4.tcp_keepalive_intvl" = 1
"net.ipv4.tcp_keepalive_probes" = 3
[endpoints.server]
host = "server"
program = "server"
[endpoints.psql]
host = "client"
program = "external"
command = ["psql"]
options = {{ keepalive = true }}

[[step]]
name = "query"
do = "write"
endpoint = "psql"
text = "SELECT pg_sleep(60);"

[[step]]
name = "cut"
do = "cut"

[[step]]
name = "never"
do = "restore"

{expects}
"#
    );
    Scenario::parse("t.toml", &text, Profile::Fast).unwrap()
}

fn at(ms: u64, source: &str, kind: EventKind, detail: &str) -> Event {
    Event {
        detail: Some(detail.into()),
        ..Event::new(T0 + ms * MS, source, kind)
    }
}

/// A run in which `psql` started (at 10 ms), `query` acted at 1 s and `cut`
/// at 2 s (`never` did not run), with `lines` besides.
fn evidence(lines: Vec<Event>) -> Evidence {
    let step = |index, name: &str, action: &str, ms| StepRecord {
        index,
        name: Some(name.into()),
        action: action.into(),
        started_ns: T0 + ms * MS,
        acted_ns: T0 + ms * MS,
    };
    let mut events = vec![at(10, HARNESS, EventKind::Started, "psql pid 42")];
    events.extend(lines);
    Evidence {
        client_ips: vec![addr::CLIENT_V4.into()],
        server_ips: vec![addr::SERVER_V4.into()],
        start_ns: T0,
        end_ns: T0 + 20_000 * MS,
        steps: vec![
            step(0, "query", "write psql \"SELECT pg_sleep(60);\"", 1000),
            step(1, "cut", "cut", 2000),
        ],
        events,
        ..Default::default()
    }
}

fn one(expect: &str, ev: &Evidence) -> Timed {
    let checks = evaluate_timed(&scenario(expect), ev);
    assert_eq!(checks.len(), 1);
    checks.into_iter().next().unwrap()
}

fn check(expect: &str, ev: &Evidence) -> Check {
    one(expect, ev).check
}

const STDERR_AFTER_QUERY: &str =
    "[[expect]]\nstderr = \"^could not receive\"\nsource = \"psql\"\nafter = \"query\"\n";

#[test]
fn a_line_expectation_passes_on_the_first_matching_line_after_the_anchor() {
    let ev = evidence(vec![
        // Before the anchor, on the other stream, from another source: none counts.
        at(
            500,
            "psql",
            EventKind::Stderr,
            "could not receive data (old)",
        ),
        at(1500, "psql", EventKind::Stdout, "could not receive data"),
        at(1600, "server", EventKind::Stderr, "could not receive data"),
        at(1700, "psql", EventKind::Stderr, "psql: warning"),
        at(
            7005,
            "psql",
            EventKind::Stderr,
            "could not receive data from server: Connection timed out",
        ),
        at(7100, "psql", EventKind::Stderr, "could not receive again"),
    ]);
    let c = check(STDERR_AFTER_QUERY, &ev);
    assert!(c.ok, "{c:?}");
    assert_eq!(
        c.name,
        "psql prints a stderr line matching /^could not receive/ after query"
    );
    assert_eq!(
        c.evidence,
        vec![
            r#"7.005000s psql stderr line "could not receive data from server: Connection timed out" matches /^could not receive/"#
        ]
    );
}

#[test]
fn a_missing_line_fails_with_the_lines_printed_instead() {
    let ev = evidence(vec![
        at(1500, "psql", EventKind::Stderr, "psql: warning"),
        at(1600, "psql", EventKind::Stdout, "could not receive data"),
    ]);
    let c = check(STDERR_AFTER_QUERY, &ev);
    assert!(!c.ok);
    assert_eq!(
        c.evidence,
        vec![
            "no stderr line of `psql` matched /^could not receive/ among 1 line(s) after step `query`",
            r#"1.500000s psql stderr line "psql: warning""#,
        ]
    );
}

#[test]
fn happens_false_passes_when_no_line_matches_and_names_the_offending_one() {
    let exp = "[[expect]]\nstdout = \"ERROR\"\nsource = \"psql\"\nhappens = false\n";
    let mut ev = evidence(vec![
        at(1500, "psql", EventKind::Stdout, " pg_sleep "),
        at(
            1600,
            "psql",
            EventKind::Stderr,
            "ERROR: on the other stream",
        ),
    ]);
    let c = check(exp, &ev);
    assert!(c.ok, "{c:?}");
    assert_eq!(c.name, "psql prints no stdout line matching /ERROR/");
    assert_eq!(
        c.evidence,
        vec!["no stdout line of `psql` matched /ERROR/ among 1 line(s)"]
    );
    ev.events.push(at(
        1700,
        "psql",
        EventKind::Stdout,
        "ERROR:  canceling statement",
    ));
    let c = check(exp, &ev);
    assert!(!c.ok);
    assert_eq!(
        c.evidence,
        vec![
            "1 stdout line(s) of `psql` matched /ERROR/ (it must not happen)",
            r#"1.700000s psql stdout line "ERROR:  canceling statement""#,
        ]
    );
}

#[test]
fn a_program_that_never_started_decides_nothing() {
    let exp = "[[expect]]\nstdout = \"ERROR\"\nsource = \"psql\"\nhappens = false\n";
    let mut ev = evidence(vec![]);
    ev.events.clear();
    // Another endpoint's start is not psql's (`psqlx pid` is not `psql pid`).
    ev.events
        .push(at(10, HARNESS, EventKind::Started, "psqlx pid 7"));
    let c = check(exp, &ev);
    assert!(!c.ok, "no line at all is no evidence: {c:?}");
    assert_eq!(
        c.evidence,
        vec!["`psql` never started: it printed no stdout line to judge"]
    );
    // An `after` step that never ran: undecided, like every expectation.
    let c = check(
        "[[expect]]\nstdout = \"x\"\nsource = \"psql\"\nafter = \"never\"\nhappens = false\n",
        &evidence(vec![]),
    );
    assert!(!c.ok);
    assert!(c.evidence[0].contains("never ran"), "{c:?}");
}

// ---- dies ... line -------------------------------------------------------------

/// psql's connection going idle at 1 s (the last segment it received), its
/// keepalive probes at 3, 4, 5 s and its RST at 6 s, on the client port.
fn keepalive_packets() -> Vec<Packet> {
    let c = SocketAddr::new(addr::CLIENT_V4.into(), 40000);
    let s = SocketAddr::new(addr::SERVER_V4.into(), 8080);
    let pkt = |ms: u64, from_client: bool, flags: &str, seq: u32| {
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        Packet {
            ts_ns: T0 + ms * MS,
            port: "client-port".into(),
            src,
            dst,
            flags: crate::evidence::TcpFlags::parse_tcpdump(flags).unwrap(),
            seq,
            ack: 5001,
            len: 0,
            win: 100,
        }
    };
    vec![
        pkt(1000, false, ".", 5000),
        pkt(3001, true, ".", 1000),
        pkt(4002, true, ".", 1000),
        pkt(5003, true, ".", 1000),
        pkt(6004, true, "R.", 1001),
    ]
}

const DIES_LINE: &str = "[[expect]]\ndies = \"keepalive\"\nsource = \"psql\"\nline = \"Connection timed out\"\nafter = \"cut\"\n";

#[test]
fn dies_takes_the_first_matching_line_of_either_stream_as_the_death() {
    let mut ev = evidence(vec![
        // Before the fault: not the death.
        at(
            1500,
            "psql",
            EventKind::Stderr,
            "Connection timed out (before)",
        ),
        at(6010, "psql", EventKind::Stdout, "still here"),
        at(
            6020,
            "psql",
            EventKind::Stderr,
            "could not receive data from server: Connection timed out",
        ),
        at(
            6500,
            "psql",
            EventKind::Stdout,
            "Connection timed out, again",
        ),
    ]);
    ev.packets = keepalive_packets();
    let t = one(DIES_LINE, &ev);
    assert!(t.check.ok, "{:?}", t.check.evidence);
    assert_eq!(t.predicted, Some(5.0));
    assert!((t.measured.unwrap() - 5.02).abs() < 1e-6, "{t:?}");
    let measured = t.check.evidence.last().unwrap();
    assert!(
        measured.starts_with(
            r#"measured: stderr line "could not receive data from server: Connection timed out" (matching /Connection timed out/) at 5.020s (6.020000s into the run)"#
        ),
        "{measured}"
    );
    // The same line much later is a death too late.
    ev.events.retain(|e| e.ts_ns < T0 + 6000 * MS);
    ev.events
        .push(at(9000, "psql", EventKind::Stdout, "Connection timed out"));
    let t = one(DIES_LINE, &ev);
    assert!(!t.check.ok, "{:?}", t.check.evidence);
    assert!((t.measured.unwrap() - 8.0).abs() < 1e-6, "{t:?}");
}

#[test]
fn dies_without_a_matching_line_fails_and_says_so() {
    let mut ev = evidence(vec![
        at(
            6010,
            "psql",
            EventKind::Stderr,
            "server closed the connection",
        ),
        // An error event is not what marks an external program's death.
        Event {
            errno: Some("ETIMEDOUT".into()),
            op: Some("read".into()),
            ..Event::new(T0 + 6020 * MS, "psql", EventKind::Error)
        },
    ]);
    ev.packets = keepalive_packets();
    let t = one(DIES_LINE, &ev);
    assert!(!t.check.ok);
    assert_eq!((t.predicted, t.measured), (Some(5.0), None));
    assert_eq!(
        t.check.evidence.last().unwrap(),
        "measured: no stdout or stderr line of psql matched /Connection timed out/ after the fault"
    );
    // No capture to predict from: undecided, whatever psql printed.
    ev.packets.clear();
    ev.events
        .push(at(6030, "psql", EventKind::Stderr, "Connection timed out"));
    let t = one(DIES_LINE, &ev);
    assert!(!t.check.ok);
    assert_eq!(t.measured, None);
}
