//! Tests of the format's parts for an external program's own words: the
//! `stdout`/`stderr` waits and expectations, `dies ... line` and `write`
//! (the patterns compiled at validation, every mistake a `file:line:col`).

use super::{assert_error, parse, with};
use crate::scenario::{
    Action, DeathMark, DeathModel, Expectation, Host, LinePattern, Stream, Wait, WaitTimeout,
};

/// [`super::BASE`] plus an external endpoint `psql` on the client host.
fn with_psql(extra: &str) -> String {
    with(&format!(
        "\n[endpoints.psql]\nhost = \"client\"\nprogram = \"external\"\ncommand = [\"psql\", \"-h\", \"{{server_ip}}\"]\n{extra}"
    ))
}

fn re(text: &str) -> LinePattern {
    LinePattern::parse(text).unwrap()
}

#[test]
fn line_waits_writes_and_line_expectations_hold_their_typed_values() {
    let text = with_psql(
        r#"
[[step]]
name = "query"
wait = { stdout = "^psql \\(1[0-9]", source = "psql" }
do = "write"
endpoint = "psql"
text = "SELECT pg_sleep(60);"

[[step]]
name = "cut"
wait = { stderr = "timed out", source = "psql", model_timeout = "keepalive" }
do = "cut"

[[expect]]
stderr = "could not receive data"
source = "psql"
after = "query"

[[expect]]
stdout = "ERROR"
source = "psql"
happens = false

[[expect]]
dies = "keepalive"
source = "psql"
line = "could not receive data from server: Connection timed out"
after = "cut"

[[expect]]
dies = "retransmission"
source = "client"
after = "cut"
"#,
    );
    let s = parse(&text).unwrap();
    assert_eq!(
        s.steps[0].wait.as_ref().unwrap().until,
        Wait::Line {
            stream: Stream::Stdout,
            source: "psql".into(),
            pattern: re(r"^psql \(1[0-9]"),
        }
    );
    assert_eq!(
        s.steps[0].action,
        Some(Action::Write {
            endpoint: "psql".into(),
            text: "SELECT pg_sleep(60);".into()
        })
    );
    assert_eq!(s.steps[0].text, r#"write psql "SELECT pg_sleep(60);""#);
    assert_eq!(s.steps[0].action.as_ref().unwrap().endpoint(), Some("psql"));
    assert!(s.steps[0].action.as_ref().unwrap().timed_at_start());
    let w = s.steps[1].wait.as_ref().unwrap();
    assert_eq!(
        w.until,
        Wait::Line {
            stream: Stream::Stderr,
            source: "psql".into(),
            pattern: re("timed out"),
        }
    );
    // A model timeout is the model's life of the source's connection.
    assert_eq!(
        w.timeout,
        WaitTimeout::Model {
            model: DeathModel::Keepalive,
            host: Host::Client
        }
    );
    assert_eq!(
        s.expects[0].check,
        Expectation::Line {
            stream: Stream::Stderr,
            source: "psql".into(),
            pattern: re("could not receive data"),
            happens: true
        }
    );
    assert_eq!(
        s.expects[1].check,
        Expectation::Line {
            stream: Stream::Stdout,
            source: "psql".into(),
            pattern: re("ERROR"),
            happens: false
        }
    );
    assert_eq!(
        s.expects[2].check,
        Expectation::Dies {
            model: DeathModel::Keepalive,
            source: "psql".into(),
            host: Host::Client,
            death: DeathMark::Line(re(
                "could not receive data from server: Connection timed out"
            )),
        }
    );
    assert_eq!(
        s.expects[3].check,
        Expectation::Dies {
            model: DeathModel::Retransmission,
            source: "client".into(),
            host: Host::Client,
            death: DeathMark::ErrorEvent,
        }
    );
    assert!(!s.expects[0].check.is_packet() && !s.expects[0].check.has_model());
}

#[test]
fn line_waits_need_an_external_source_and_a_valid_pattern() {
    let text = with_psql("\n[[step]]\nwait = { stdout = \"(oops\", source = \"psql\" }\n");
    assert_error(
        &text,
        "\"(oops\"",
        0,
        "`(oops` is not a regular expression: unclosed group",
    );
    let text = with_psql("\n[[step]]\nwait = { stderr = \"x\" }\n");
    assert_error(
        &text,
        "{",
        1,
        "`wait.stderr` needs `source` (the external endpoint that prints the line)",
    );
    let text = with_psql("\n[[step]]\nwait = { stdout = \"x\", source = \"client\" }\n");
    assert_error(
        &text,
        "\"client\" }",
        0,
        "`wait.stdout` reads the lines an external program prints; `client` is a built-in endpoint, which prints none (it reports events: use `event`)",
    );
    let text = with_psql("\n[[step]]\nwait = { stdout = \"x\", source = \"nobody\" }\n");
    assert_error(
        &text,
        "\"nobody\"",
        0,
        "unknown endpoint `nobody` (declared: client, psql, server)",
    );
    let msg = "`wait` needs exactly one of `event`, `socket`, `gone`, `packet`, `stdout`, `stderr`, `duration`";
    let text =
        with_psql("\n[[step]]\nwait = { stdout = \"x\", stderr = \"y\", source = \"psql\" }\n");
    assert_error(&text, "{", 1, msg);
    let text =
        with_psql("\n[[step]]\nwait = { stdout = \"x\", event = \"exited\", source = \"psql\" }\n");
    assert_error(&text, "{", 1, msg);
}

#[test]
fn line_expectations_need_an_external_source_and_a_valid_pattern() {
    let text = with_psql("\n[[expect]]\nstderr = \"a{2,1}\"\nsource = \"psql\"\n");
    assert_error(
        &text,
        "\"a{2,1}\"",
        0,
        "`a{2,1}` is not a regular expression: invalid repetition count range, the start must be <= the end",
    );
    let text = with_psql("\n[[expect]]\nstdout = \"x\"\n");
    assert_error(
        &text,
        "[[expect]]",
        0,
        "a `stdout` expectation needs `source` (the external endpoint that prints the line)",
    );
    let text = with_psql("\n[[expect]]\nstderr = \"x\"\nsource = \"server\"\n");
    assert_error(
        &text,
        "\"server\"\n",
        2,
        "`stderr` reads the lines an external program prints; `server` is a built-in endpoint, which prints none (it reports events: use `event`)",
    );
    let text = with_psql("\n[[expect]]\nstderr = \"x\"\nevent = \"exited\"\nsource = \"psql\"\n");
    assert_error(
        &text,
        "[[expect]]",
        0,
        "`expect` needs exactly one of `packets`, `any_of`, `silent`, `socket`, `event`, `stdout`, `stderr`, `dies`, `schedule`, `gone`, `probe`",
    );
    let text = with_psql("\n[[expect]]\nstdout = \"x\"\nsource = \"psql\"\nafter = \"nope\"\n");
    assert_error(&text, "\"nope\"", 0, "no step is named `nope`");
}

#[test]
fn dies_on_an_external_program_needs_a_line_and_a_builtin_takes_none() {
    let step = "\n[[step]]\nname = \"cut\"\ndo = \"cut\"\n";
    let text = with_psql(&format!(
        "{step}\n[[expect]]\ndies = \"keepalive\"\nsource = \"psql\"\nafter = \"cut\"\n"
    ));
    assert_error(
        &text,
        "[[expect]]",
        0,
        "`dies` on the external endpoint `psql` needs `line = \"REGEX\"`, the line it prints when its connection dies (a program reports no `error` event), e.g. `line = \"Connection timed out\"`",
    );
    let text = with_psql(&format!(
        "{step}\n[[expect]]\ndies = \"keepalive\"\nsource = \"client\"\nline = \"timed out\"\nafter = \"cut\"\n"
    ));
    assert_error(
        &text,
        "\"timed out\"",
        0,
        "`line` is for `dies` on an external endpoint; the built-in `client` reports its death as an `error` event: leave `line` out",
    );
    let text = with_psql(&format!(
        "{step}\n[[expect]]\nstderr = \"x\"\nsource = \"psql\"\nline = \"timed out\"\n"
    ));
    assert_error(
        &text,
        "\"timed out\"",
        0,
        "`line` goes with `dies` (the line an external program prints when its connection dies)",
    );
    let text = with_psql(&format!(
        "{step}\n[[expect]]\ndies = \"keepalive\"\nsource = \"psql\"\nline = \"[timed\"\nafter = \"cut\"\n"
    ));
    assert_error(
        &text,
        "\"[timed\"",
        0,
        "`[timed` is not a regular expression: unclosed character class",
    );
}

#[test]
fn write_needs_text_and_an_external_endpoint() {
    let text = with_psql("\n[[step]]\ndo = \"write\"\nendpoint = \"client\"\ntext = \"hi\"\n");
    assert_error(
        &text,
        "\"client\"\ntext",
        0,
        "`do = \"write\"` writes a line on an external program's stdin; `client` is a built-in endpoint, which takes `send`, `stream`, `close`, `shutdown` and `kill`",
    );
    let text = with_psql("\n[[step]]\ndo = \"write\"\nendpoint = \"psql\"\n");
    assert_error(
        &text,
        "\"write\"",
        0,
        "`do = \"write\"` needs `text` (the line written on the program's stdin)",
    );
    let text = with_psql("\n[[step]]\ndo = \"write\"\ntext = \"hi\"\n");
    assert_error(&text, "\"write\"", 0, "`do = \"write\"` needs `endpoint`");
    let text = with_psql("\n[[step]]\ndo = \"close\"\nendpoint = \"psql\"\ntext = \"hi\"\n");
    assert_error(&text, "\"hi\"", 0, "`text` goes with `do = \"write\"`");
    let text = with_psql("\n[[step]]\nwait = { duration = \"1s\" }\ntext = \"hi\"\n");
    assert_error(&text, "\"hi\"", 0, "`text` goes with `do = \"write\"`");
    // An empty line is a line too (a program waiting for Enter).
    let s = parse(&with_psql(
        "\n[[step]]\ndo = \"write\"\nendpoint = \"psql\"\ntext = \"\"\n",
    ))
    .unwrap();
    assert_eq!(s.steps[0].text, r#"write psql """#);
}
