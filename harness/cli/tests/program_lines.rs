//! Talking to your own program: `write` on an external endpoint's stdin,
//! waits on its stdout and stderr lines, expectations on them with the
//! matched lines as evidence in `report.json`; and an invalid line pattern
//! refused with its place before any lab.

use std::path::Path;
use std::process::Output;

mod cli_common;
use cli_common::{our_namespaces, serial, teardown, tmp};

/// `teardown run FILE --quiet --out OUT`.
fn run(file: &Path, out: &Path) -> Output {
    teardown()
        .arg("run")
        .arg(file)
        .arg("--quiet")
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A shell on the client host that says `ready`, reads a line, answers
/// `got LINE` on stdout and `oops` on stderr, then sleeps; `steps_and_expects`
/// follow.
fn shell_scenario(name: &str, steps_and_expects: &str) -> String {
    format!(
        r#"name = "{name}"
conclusion = "X-TEST"
summary = "An external program's lines: write, waits on stdout and stderr, expectations on them."

[endpoints.server]
host = "server"
program = "server"

[endpoints.shell]
host = "client"
program = "external"
command = ["sh", "-c", "echo ready; read l; echo \"got $l\"; echo oops >&2; exec sleep 30"]
{steps_and_expects}"#
    )
}

const TALK: &str = r#"
[[step]]
wait = { stdout = "^ready$", source = "shell" }

[[step]]
name = "write"
do = "write"
endpoint = "shell"
text = "hello there"

[[step]]
wait = { stdout = "^got hello there$", source = "shell" }

[[step]]
wait = { stderr = "oops", source = "shell" }

[[expect]]
stdout = "^got (.*)$"
source = "shell"
after = "write"

[[expect]]
stderr = "^oops$"
source = "shell"
after = "write"

[[expect]]
stderr = "panic"
source = "shell"
happens = false
"#;

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn write_a_line_wait_for_the_answer_and_expect_the_lines_as_evidence() {
    let _serial = serial();
    teardown_lab::require_privileged();
    let dir = tmp("io-lines");
    let file = dir.join("io-lines.toml");
    std::fs::write(&file, shell_scenario("io-lines", TALK)).unwrap();
    let o = run(&file, &dir.join("out"));
    let report = json(&dir.join("out/io-lines/report.json"));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{report:#}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(report["verdict"], "pass", "{report:#}");
    let checks = report["checks"].as_array().unwrap();
    let evidence = |i: usize| -> Vec<String> {
        assert_eq!(checks[i]["ok"], true, "{:#}", checks[i]);
        checks[i]["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        checks[0]["name"],
        "shell prints a stdout line matching /^got (.*)$/ after write"
    );
    let got = evidence(0);
    assert!(
        got.len() == 1
            && got[0].ends_with(r#"s shell stdout line "got hello there" matches /^got (.*)$/"#),
        "{got:?}"
    );
    let oops = evidence(1);
    assert!(
        oops.len() == 1 && oops[0].ends_with(r#"s shell stderr line "oops" matches /^oops$/"#),
        "{oops:?}"
    );
    assert_eq!(
        evidence(2),
        vec!["no stderr line of `shell` matched /panic/ among 1 line(s)"]
    );
    // The records: the lines as events, the write as the step's detail, and
    // the stderr log written as before (the server started first: `shell.2`).
    let events = std::fs::read_to_string(dir.join("out/io-lines/events.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let has = |kind: &str, detail: &str| {
        events
            .iter()
            .any(|e| e["kind"] == kind && e["detail"] == detail)
    };
    assert!(
        has("stdout", "ready") && has("stdout", "got hello there"),
        "{events:?}"
    );
    assert!(has("stderr", "oops"), "{events:?}");
    assert!(
        has("step", r#"write: write shell "hello there""#),
        "{events:?}"
    );
    let log = std::fs::read_to_string(dir.join("out/io-lines/shell.2.stderr")).unwrap();
    assert_eq!(log, "oops\n");
    let log = std::fs::read_to_string(dir.join("out/io-lines/shell.2.stdout")).unwrap();
    assert_eq!(log, "ready\ngot hello there\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn a_line_never_printed_times_out_the_wait_with_what_it_waited_for() {
    let _serial = serial();
    teardown_lab::require_privileged();
    let dir = tmp("io-never");
    let file = dir.join("io-never.toml");
    let steps = r#"
[[step]]
wait = { stderr = "^reconnecting", source = "shell", timeout = "1s" }
"#;
    std::fs::write(&file, shell_scenario("io-never", steps)).unwrap();
    let o = run(&file, &dir.join("out"));
    let report = json(&dir.join("out/io-never/report.json"));
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(report["verdict"], "error", "{report:#}");
    let reason = report["reason"].as_str().unwrap();
    assert!(
        reason.contains("waited 1s for a stderr line of shell matching /^reconnecting/: not seen"),
        "{reason}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_invalid_line_pattern_exits_2_at_the_pattern_before_any_lab() {
    let _serial = serial();
    let dir = tmp("io-bad-regex");
    let file = dir.join("bad.toml");
    let steps = "\n[[step]]\nwait = { stdout = \"(ready\", source = \"shell\" }\n";
    std::fs::write(&file, shell_scenario("bad", steps)).unwrap();
    let before = our_namespaces();
    let o = run(&file, &dir.join("out"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.toml:15:19: `(ready` is not a regular expression: unclosed group"),
        "{err}"
    );
    assert_eq!(our_namespaces(), before);
    assert!(!dir.join("out").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
