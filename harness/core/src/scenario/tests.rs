//! Tests of the scenario format ([`crate::scenario`]): every malformed input
//! is rejected with the right `file:line:col: message`, and a valid file
//! parses with the chosen profile's overrides applied.
//!
//! Locations are computed from the test text itself ([`at`]), so each test
//! states which token the error must point at.

use crate::evidence::TcpFlags;
use crate::scenario::{
    line_col, Action, CapturePort, DropAt, DropSelect, Dur, EventKind, Expectation, Family, Host,
    OnEof, PacketPattern, Profile, Program, Quiet, Scenario, ScenarioError, Senders, Signal,
    TcpState, Topology, Wait, WaitTimeout, When,
};
use std::time::Duration;

/// A minimal valid scenario: a built-in server and client.
const BASE: &str = r#"name = "t"
conclusion = "C1"
summary = "s"

[endpoints.server]
host = "server"
program = "server"

[endpoints.client]
host = "client"
program = "client"
"#;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse("t.toml", text, Profile::Fast)
}

/// The error a text gives (panics if it parses).
fn error(text: &str) -> ScenarioError {
    match parse(text) {
        Ok(_) => panic!("parsed, but should not have:\n{text}"),
        Err(e) => e,
    }
}

/// Line and column (1-based, in characters) of the `nth` (0-based)
/// occurrence of `needle` in `text`.
fn at(text: &str, needle: &str, nth: usize) -> (usize, usize) {
    let offset = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("`{needle}` #{nth} not in the text"))
        .0;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, col)
}

/// Asserts the error's full text: `t.toml:LINE:COL: message`, the location
/// being that of `needle` (its `nth` occurrence).
fn assert_error(text: &str, needle: &str, nth: usize, message: &str) {
    let (line, col) = at(text, needle, nth);
    let e = error(text);
    assert_eq!(
        e.to_string(),
        format!("t.toml:{line}:{col}: {message}"),
        "in:\n{text}"
    );
}

/// Like [`assert_error`], for messages checked by their start only (serde's
/// lists of expected names).
fn assert_error_starts(text: &str, needle: &str, nth: usize, message_start: &str) {
    let (line, col) = at(text, needle, nth);
    let e = error(text);
    assert_eq!((e.line, e.col), (line, col), "{e} in:\n{text}");
    assert!(
        e.message.starts_with(message_start),
        "`{}` should start with `{message_start}`",
        e.message
    );
}

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

// ---- the error type and helpers ----------------------------------------------

#[test]
fn error_display_is_file_line_col_message() {
    let e = ScenarioError {
        file: "scenarios/c1.toml".into(),
        line: 3,
        col: 7,
        message: "unknown host `x`".into(),
    };
    assert_eq!(e.to_string(), "scenarios/c1.toml:3:7: unknown host `x`");
}

#[test]
fn line_col_counts_lines_and_characters() {
    let text = "ab\nc\u{e9}d\n\nx";
    assert_eq!(line_col(text, 0), (1, 1));
    assert_eq!(line_col(text, 2), (1, 3));
    assert_eq!(line_col(text, 3), (2, 1));
    // `é` is two bytes but one column.
    assert_eq!(line_col(text, 6), (2, 3));
    assert_eq!(line_col(text, 8), (3, 1));
    // Offsets past the end clamp to the end.
    assert_eq!(line_col(text, 1000), (4, 2));
}

#[test]
fn durations_need_a_unit_and_a_number() {
    assert_eq!(Dur::parse("300ms").unwrap().0, Duration::from_millis(300));
    assert_eq!(Dur::parse("1.5s").unwrap().0, Duration::from_millis(1500));
    assert_eq!(Dur::parse("2m").unwrap().0, Duration::from_secs(120));
    assert_eq!(Dur::parse("1h").unwrap().0, Duration::from_secs(3600));
    assert_eq!(Dur::parse("500us").unwrap().0, Duration::from_micros(500));
    assert_eq!(
        Dur::parse("300").unwrap_err(),
        "duration `300` has no unit (write e.g. `300ms`, `2s`, `1m`)"
    );
    assert_eq!(
        Dur::parse("5d").unwrap_err(),
        "unknown duration unit `d` in `5d` (ms, s, m, h)"
    );
    assert!(Dur::parse("-1s").unwrap_err().contains("is not a duration"));
    assert!(Dur::parse("1..2s")
        .unwrap_err()
        .contains("is not a duration"));
    assert!(Dur::parse("s").unwrap_err().contains("is not a duration"));
    assert!(Dur::parse("99999999999h")
        .unwrap_err()
        .contains("out of range"));
}

// ---- TOML level: syntax, unknown keys, types ------------------------------------

#[test]
fn toml_syntax_error_points_at_the_line() {
    let text = with("port = \n");
    let e = error(&text);
    assert_eq!(e.line, at(&text, "port", 0).0, "{e}");
}

#[test]
fn unknown_top_level_key() {
    let text = BASE.replace("summary = \"s\"\n", "summary = \"s\"\nsumary = \"typo\"\n");
    assert_error_starts(
        &text,
        "sumary",
        0,
        "unknown field `sumary`, expected one of",
    );
}

#[test]
fn unknown_endpoint_key() {
    let text = with("prot = 9000\n");
    assert_error_starts(
        &text,
        "prot",
        0,
        "unknown field `prot`, expected one of `host`",
    );
}

#[test]
fn unknown_key_in_step_wait_expect_and_options() {
    let text = with("\n[[step]]\ndo = \"cut\"\nendpont = \"client\"\n");
    assert_error_starts(&text, "endpont", 0, "unknown field `endpont`");

    let text = with("\n[[step]]\nwait = { duration = \"1s\", timeot = \"2s\" }\n");
    assert_error_starts(&text, "timeot", 0, "unknown field `timeot`");

    let text = with("\n[[expect]]\nsilent = \"any\"\naftr = \"x\"\n");
    assert_error_starts(&text, "aftr", 0, "unknown field `aftr`");

    let text = with("options = { keepalive = true, keepidel = \"5s\" }\n");
    assert_error_starts(&text, "keepidel", 0, "unknown field `keepidel`");
}

#[test]
fn missing_required_fields() {
    let text = BASE.replace("summary = \"s\"\n", "");
    let e = error(&text);
    assert_eq!(e.message, "missing field `summary`");
    let text = BASE.replace("program = \"client\"\n", "");
    let e = error(&text);
    assert_eq!(e.message, "missing field `program`");
    assert_eq!((e.line, e.col), at(&text, "[endpoints.client]", 0));
}

#[test]
fn wrong_types_and_unknown_variants() {
    let text = with("port = \"8080\"\n");
    assert_error_starts(&text, "\"8080\"", 0, "invalid type: string \"8080\"");

    let text = BASE.replace("program = \"client\"", "program = \"nc\"");
    assert_error_starts(&text, "\"nc\"", 0, "unknown variant `nc`");

    let text = with("\n[[step]]\ndo = \"explode\"\n");
    assert_error_starts(&text, "\"explode\"", 0, "unknown variant `explode`");

    let text = BASE.replace(
        "summary = \"s\"\n",
        "summary = \"s\"\ntopology = \"ring\"\n",
    );
    assert_error_starts(&text, "\"ring\"", 0, "unknown variant `ring`");

    let text = with("\n[[expect]]\nsocket = \"CLOSED\"\nhost = \"client\"\nwhen = \"sometimes\"\n");
    assert_error_starts(&text, "\"sometimes\"", 0, "unknown variant `sometimes`");

    let text = with("\n[[step]]\ndo = \"shutdown\"\nendpoint = \"client\"\nhow = \"both\"\n");
    assert_error_starts(&text, "\"both\"", 0, "unknown variant `both`");
}

// ---- durations and socket options ------------------------------------------------

#[test]
fn duration_without_unit_points_at_the_value() {
    let text = with("on_eof_delay = \"300\"\n");
    assert_error(
        &text,
        "\"300\"",
        0,
        "duration `300` has no unit (write e.g. `300ms`, `2s`, `1m`)",
    );
    let text = with("\n[[step]]\nwait = { duration = \"3\" }\n");
    assert_error(
        &text,
        "\"3\"",
        0,
        "duration `3` has no unit (write e.g. `300ms`, `2s`, `1m`)",
    );
    let text = with("options = { user_timeout = \"5 fortnights\" }\n");
    assert_error(
        &text,
        "\"5 fortnights\"",
        0,
        "unknown duration unit `fortnights` in `5 fortnights` (ms, s, m, h)",
    );
}

#[test]
fn keepalive_idle_zero_points_at_the_endpoint() {
    let text = with("options = { keepalive = true, keepidle = \"0s\" }\n");
    assert_error(
        &text,
        "[endpoints.client]",
        0,
        "endpoint `client`: keepidle must be whole seconds in 1..32767 s, not 0ms",
    );
}

#[test]
fn socket_option_ranges() {
    let cases = [
        (
            "keepidle = \"1.5s\"",
            "endpoint `client`: keepidle must be whole seconds in 1..32767 s, not 1.5s",
        ),
        (
            "keepintvl = \"0s\"",
            "endpoint `client`: keepintvl must be whole seconds in 1..32767 s, not 0ms",
        ),
        (
            "keepintvl = \"32768s\"",
            "endpoint `client`: keepintvl must be whole seconds in 1..32767 s, not 32768s",
        ),
        (
            "keepcnt = 0",
            "endpoint `client`: keepcnt must be 1..127, not 0",
        ),
        (
            "keepcnt = 128",
            "endpoint `client`: keepcnt must be 1..127, not 128",
        ),
        (
            "rto_max = \"500ms\"",
            "endpoint `client`: rto_max must be 1s..120s, not 500ms",
        ),
        (
            "rto_max = \"121s\"",
            "endpoint `client`: rto_max must be 1s..120s, not 121s",
        ),
        (
            "linger = \"1500ms\"",
            "endpoint `client`: linger is whole seconds, not 1.5s",
        ),
    ];
    for (option, message) in cases {
        let text = with(&format!("options = {{ {option} }}\n"));
        assert_error(&text, "[endpoints.client]", 0, message);
    }
    // The edges are accepted.
    let text = with(
        "options = { keepidle = \"1s\", keepintvl = \"32767s\", keepcnt = 127, rto_max = \"120s\", linger = \"0s\" }\n",
    );
    parse(&text).unwrap();
}

// ---- endpoints ----------------------------------------------------------------------

#[test]
fn missing_server() {
    let text = "name = \"t\"\nconclusion = \"C1\"\nsummary = \"s\"\n\n[endpoints.client]\nhost = \"client\"\nprogram = \"client\"\n";
    assert_error(text, "name", 0, "a scenario needs a server endpoint");
}

#[test]
fn endpoint_on_unknown_host() {
    let text = BASE.replace("host = \"client\"", "host = \"laptop\"");
    assert_error(
        &text,
        "\"laptop\"",
        0,
        "unknown host `laptop` (hosts are `client` and `server`)",
    );
}

#[test]
fn external_endpoint_needs_a_command_and_builtins_take_none() {
    let text = with("\n[endpoints.nc]\nhost = \"server\"\nprogram = \"external\"\n");
    assert_error(
        &text,
        "[endpoints.nc]",
        0,
        "endpoint `nc` is external but has no `command`",
    );
    let text = with("\n[endpoints.nc]\nhost = \"server\"\nprogram = \"external\"\ncommand = []\n");
    assert_error(
        &text,
        "[endpoints.nc]",
        0,
        "endpoint `nc` is external but has no `command`",
    );
    let text = with("command = [\"nc\", \"{server_ip}\"]\n");
    assert_error(
        &text,
        "[endpoints.client]",
        0,
        "endpoint `client`: `command` goes with `program = \"external\"`",
    );
}

// ---- hosts and sysctls ----------------------------------------------------------------

#[test]
fn sysctl_errors() {
    let text = with("\n[hosts.router.sysctl]\n\"net.ipv4.tcp_retries2\" = 5\n");
    assert_error(
        &text,
        "router",
        0,
        "unknown host `router` (hosts are `client` and `server`)",
    );
    let text = with("\n[hosts.client.sysctl]\n\"kernel.panic\" = 5\n");
    assert_error(
        &text,
        "\"kernel.panic\"",
        0,
        "sysctl `kernel.panic` is not a per-namespace net.* setting",
    );
    let text = with("\n[hosts.client.sysctl]\n\"net.ipv4.tcp_retries2\" = [5]\n");
    assert_error(
        &text,
        "[5]",
        0,
        "sysctl `net.ipv4.tcp_retries2` wants a number or a string",
    );
}

// ---- profiles ------------------------------------------------------------------------

#[test]
fn unknown_profile() {
    let text = with("\n[profile.fastest.hosts.client.sysctl]\n\"net.ipv4.tcp_retries2\" = 5\n");
    assert_error(
        &text,
        "fastest",
        0,
        "unknown profile `fastest` (fast, faithful)",
    );
}

#[test]
fn profile_override_of_unknown_endpoint_or_bad_option() {
    let text = with("\n[profile.fast.endpoints.nobody.options]\nkeepcnt = 3\n");
    assert_error(
        &text,
        "nobody",
        0,
        "unknown endpoint `nobody` (declared: client, server)",
    );
    // Checked even when the profile is not the one chosen.
    let text = with("\n[profile.faithful.endpoints.client.options]\nkeepcnt = 0\n");
    assert_error(
        &text,
        "client",
        3,
        "endpoint `client`: keepcnt must be 1..127, not 0",
    );
}

#[test]
fn sysctls_of_a_profile_not_chosen_are_checked_too() {
    let text = with("\n[profile.faithful.hosts.client.sysctl]\n\"kernel.panic\" = 5\n");
    assert_error(
        &text,
        "\"kernel.panic\"",
        0,
        "sysctl `kernel.panic` is not a per-namespace net.* setting",
    );
    let text = with("\n[profile.faithful.hosts.router.sysctl]\n\"net.ipv4.tcp_retries2\" = 5\n");
    assert_error(
        &text,
        "router",
        0,
        "unknown host `router` (hosts are `client` and `server`)",
    );
}

// ---- steps ---------------------------------------------------------------------------

#[test]
fn unknown_signal() {
    let text = with("\n[[step]]\ndo = \"kill\"\nendpoint = \"client\"\nsignal = \"BOGUS\"\n");
    assert_error(
        &text,
        "\"BOGUS\"",
        0,
        "unknown signal `BOGUS` (KILL, TERM, INT, STOP, CONT, HUP)",
    );
    let text = with("\n[[step]]\ndo = \"close\"\nendpoint = \"client\"\nsignal = \"TERM\"\n");
    assert_error(&text, "\"TERM\"", 0, "`signal` goes with `do = \"kill\"`");
}

#[test]
fn a_drop_acts_in_the_wire_or_on_the_senders_own_interface() {
    let sc = parse(&with(
        "\n[[step]]\ndo = \"drop\"\nfrom = \"client\"\nat = \"host\"\n",
    ))
    .unwrap();
    assert!(matches!(
        sc.steps[0].action,
        Some(Action::Drop {
            at: DropAt::Host,
            ..
        })
    ));
    let text = with("\n[[step]]\ndo = \"drop\"\nat = \"nic\"\n");
    assert_error(&text, "\"nic\"", 0, "drop `at` is wire or host");
    let text = with("\n[[step]]\ndo = \"cut\"\nat = \"host\"\n");
    assert_error(&text, "\"host\"", 0, "`at` goes with `do = \"drop\"`");
}

#[test]
fn a_reject_names_its_icmp_and_from_whom() {
    let sc = parse(&with(
        "\n[[step]]\ndo = \"reject\"\nfrom = \"client\"\nwith = \"port-unreachable\"\n",
    ))
    .unwrap();
    assert_eq!(
        sc.steps[0].action,
        Some(Action::Reject {
            from: Senders::Client,
            with: crate::scenario::RejectWith::PortUnreachable,
        })
    );
    let sc = parse(&with("\n[[step]]\ndo = \"reject\"\n")).unwrap();
    assert!(matches!(
        sc.steps[0].action,
        Some(Action::Reject {
            from: Senders::Both,
            with: crate::scenario::RejectWith::HostUnreachable
        })
    ));
    let text = with("\n[[step]]\ndo = \"reject\"\nwith = \"nope\"\n");
    assert_error(
        &text,
        "\"nope\"",
        0,
        "reject `with` is one of host-unreachable, port-unreachable, admin-prohibited, net-unreachable",
    );
    let text = with("\n[[step]]\ndo = \"drop\"\nwith = \"host-unreachable\"\n");
    assert_error(
        &text,
        "\"host-unreachable\"",
        0,
        "`with` goes with `do = \"reject\"`",
    );
}

#[test]
fn drop_count_goes_with_drop_and_is_at_least_one() {
    let ok = with("\n[[step]]\ndo = \"drop\"\nfrom = \"client\"\nflags = \"F\"\ncount = 1\n");
    let sc = parse(&ok).unwrap();
    assert_eq!(
        sc.steps[0].action,
        Some(Action::Drop {
            from: Senders::Client,
            select: DropSelect::AnyFlag(TcpFlags(TcpFlags::FIN)),
            count: Some(1),
            at: DropAt::Wire,
        })
    );
    let text = with("\n[[step]]\ndo = \"drop\"\nflags = \"F\"\ncount = 0\n");
    assert_error(
        &text,
        "0\n",
        0,
        "drop `count` is how many matching frames to drop: 1 or more",
    );
    let sc = parse(&with(
        "\n[[step]]\nwait = { packet = \"S>C .\", window = 0 }\n",
    ))
    .unwrap();
    assert!(matches!(
        sc.steps[0].wait.as_ref().unwrap().until,
        Wait::Packet {
            window: Some(0),
            ..
        }
    ));
    assert!(parse(&with(
        "\n[[step]]\nwait = { duration = \"1s\", window = 0 }\n"
    ))
    .unwrap_err()
    .message
    .contains("`window` goes with `packet`"));
    let text = with("\n[[step]]\ndo = \"cut\"\ncount = 2\n");
    assert_error(&text, "2\n", 0, "`count` goes with `do = \"drop\"`");
}

#[test]
fn step_naming_an_unknown_endpoint_or_host() {
    let text = with("\n[[step]]\ndo = \"close\"\nendpoint = \"nobody\"\n");
    assert_error(
        &text,
        "\"nobody\"",
        0,
        "unknown endpoint `nobody` (declared: client, server)",
    );
    let text = with("\n[[step]]\ndo = \"power_off\"\nhost = \"router\"\n");
    assert_error(
        &text,
        "\"router\"",
        0,
        "unknown host `router` (hosts are `client` and `server`)",
    );
    // Also when the action does not use it.
    let text = with("\n[[step]]\ndo = \"cut\"\nendpoint = \"nobody\"\n");
    assert_error(
        &text,
        "\"nobody\"",
        0,
        "unknown endpoint `nobody` (declared: client, server)",
    );
    let text = with("\n[[step]]\ndo = \"cut\"\nhost = \"router\"\n");
    assert_error(
        &text,
        "\"router\"",
        0,
        "unknown host `router` (hosts are `client` and `server`)",
    );
}

#[test]
fn step_actions_need_their_arguments() {
    let text = with("\n[[step]]\nname = \"idle\"\n");
    assert_error(&text, "[[step]]", 0, "a step needs `wait`, `do`, or both");

    let text = with("\n[[step]]\ndo = \"close\"\n");
    assert_error(&text, "\"close\"", 0, "`do = \"close\"` needs `endpoint`");

    let text = with("\n[[step]]\ndo = \"link_down\"\n");
    assert_error(
        &text,
        "\"link_down\"",
        0,
        "`do = \"link_down\"` needs `host`",
    );

    let text = with("\n[[step]]\ndo = \"send\"\nendpoint = \"client\"\n");
    assert_error(&text, "\"send\"", 0, "`do = \"send\"` needs `bytes` > 0");
    let text = with("\n[[step]]\ndo = \"send\"\nendpoint = \"client\"\nbytes = 0\n");
    assert_error(&text, "\"send\"", 0, "`do = \"send\"` needs `bytes` > 0");

    let text = with("\n[[step]]\ndo = \"shutdown\"\nendpoint = \"client\"\n");
    assert_error(
        &text,
        "\"shutdown\"",
        0,
        "`do = \"shutdown\"` needs `how` (wr, rd, rdwr)",
    );
}

#[test]
fn step_names_are_unique() {
    let text = with(
        "\n[[step]]\nname = \"a\"\ndo = \"cut\"\n\n[[step]]\nname = \"a\"\ndo = \"restore\"\n",
    );
    assert_error(&text, "[[step]]", 1, "step name `a` is used twice");
}

#[test]
fn wait_needs_exactly_one_kind() {
    let text =
        with("\n[[step]]\nwait = { event = \"eof\", source = \"client\", duration = \"1s\" }\n");
    let msg = "`wait` needs exactly one of `event`, `socket`, `gone`, `packet`, `stdout`, `stderr`, `duration`";
    assert_error(&text, "{", 0, msg);
    let text = with("\n[[step]]\nwait = { timeout = \"1s\" }\n");
    assert_error(&text, "{", 0, msg);
    // As a sub-table the location is its header.
    let text =
        with("\n[[step]]\n[step.wait]\nsocket = \"CLOSED\"\nhost = \"client\"\ngone = true\n");
    assert_error(&text, "[step.wait]", 0, msg);
}

#[test]
fn wait_errors() {
    let text =
        with("\n[[step]]\nwait = { event = \"error\", source = \"client\", errno = \"EFOO\" }\n");
    assert_error(&text, "{", 0, "unknown errno `EFOO`");

    let text = with("\n[[step]]\nwait = { event = \"exploded\", source = \"client\" }\n");
    assert_error_starts(
        &text,
        "{",
        0,
        "unknown event `exploded` (listening, accepted",
    );

    let text = with("\n[[step]]\nwait = { event = \"eof\" }\n");
    assert_error(&text, "{", 0, "`wait.event` needs `source` (an endpoint)");

    let text = with("\n[[step]]\nwait = { event = \"eof\", source = \"nobody\" }\n");
    assert_error(
        &text,
        "\"nobody\"",
        0,
        "unknown endpoint `nobody` (declared: client, server)",
    );

    let text = with("\n[[step]]\nwait = { socket = \"TIMEWAIT\", host = \"client\" }\n");
    assert_error(&text, "{", 0, "unknown socket state `TIMEWAIT`");

    // Names only the records use: a kernel state no sample shows, the harness's kinds.
    let text = with("\n[[step]]\nwait = { socket = \"NEW_SYN_RECV\", host = \"server\" }\n");
    assert_error(&text, "{", 0, "unknown socket state `NEW_SYN_RECV`");
    let text = with("\n[[step]]\nwait = { event = \"step\", source = \"client\" }\n");
    assert_error_starts(&text, "{", 0, "unknown event `step` (listening, accepted");

    let text = with("\n[[step]]\nwait = { socket = \"TIME_WAIT\" }\n");
    assert_error(&text, "{", 0, "a socket wait needs `host`");

    let text = with("\n[[step]]\nwait = { gone = true, host = \"router\" }\n");
    assert_error(
        &text,
        "\"router\"",
        0,
        "unknown host `router` (hosts are `client` and `server`)",
    );

    let text = with("\n[[step]]\nwait = { packet = \"C>S X\", port = \"server-port\" }\n");
    assert_error(
        &text,
        "{",
        0,
        "packet flags `X` are not tcpdump notation (S, S., F., P., R, R., .)",
    );

    let text = with("\n[[step]]\nwait = { packet = \"C>S F.\", port = \"eth0\" }\n");
    assert_error(
        &text,
        "\"eth0\"",
        0,
        "unknown port `eth0` (ports are `client-port` and `server-port`)",
    );

    // A source on a wait that is not an event wait still has to exist.
    let text = with("\n[[step]]\nwait = { duration = \"1s\", source = \"nobody\" }\n");
    assert_error(
        &text,
        "\"nobody\"",
        0,
        "unknown endpoint `nobody` (declared: client, server)",
    );
}

// ---- expectations ---------------------------------------------------------------------

#[test]
fn bad_packet_patterns() {
    let cases = [
        ("X>Y F.", "packet direction `X>Y` should be `C>S` or `S>C`"),
        (
            "C>S Q",
            "packet flags `Q` are not tcpdump notation (S, S., F., P., R, R., .)",
        ),
        (
            "C>S FF",
            "packet flags `FF` are not tcpdump notation (S, S., F., P., R, R., .)",
        ),
        ("C>S", "packet pattern `C>S` should look like `C>S F.`"),
        ("C>S F.|", "packet pattern `` should look like `C>S F.`"),
        ("C>S +", "packet pattern `C>S` should look like `C>S F.`"),
        (
            "C>S F.++",
            "packet flags `F.+` are not tcpdump notation (S, S., F., P., R, R., .)",
        ),
    ];
    for (pattern, message) in cases {
        let text = with(&format!(
            "\n[[expect]]\npackets = [\"C>S F.\", \"{pattern}\"]\n"
        ));
        assert_error(&text, "[[expect]]", 0, message);
    }
    // The second expectation's header, in any_of too.
    let text = with("\n[[expect]]\npackets = [\"C>S F.\"]\n\n[[expect]]\nany_of = [[\"C>S F.\"], [\"S>C Q\"]]\n");
    assert_error(
        &text,
        "[[expect]]",
        1,
        "packet flags `Q` are not tcpdump notation (S, S., F., P., R, R., .)",
    );
    // Good ones.
    let text = with(
        "\n[[expect]]\npackets = [\"C>S F.\", \"S>C F.|S>C .\", \"C>S P.+\", \"S>C R\", \"C>S none\"]\n",
    );
    parse(&text).unwrap();
}

#[test]
fn after_naming_no_step() {
    let text = with("\n[[step]]\nname = \"close\"\ndo = \"close\"\nendpoint = \"client\"\n\n[[expect]]\nafter = \"clsoe\"\nsilent = \"any\"\n");
    assert_error(&text, "\"clsoe\"", 0, "no step is named `clsoe`");
}

#[test]
fn expect_needs_exactly_one_kind() {
    let msg = "`expect` needs exactly one of `packets`, `any_of`, `silent`, `socket`, `event`, `stdout`, `stderr`, `dies`, `schedule`, `gone`, `probe`";
    let text = with("\n[[expect]]\nsilent = \"any\"\nsocket = \"CLOSED\"\nhost = \"client\"\n");
    assert_error(&text, "[[expect]]", 0, msg);
    let text = with("\n[[expect]]\nname = \"nothing\"\n");
    assert_error(&text, "[[expect]]", 0, msg);
}

#[test]
fn expect_errors() {
    let text =
        with("\n[[expect]]\nevent = \"error\"\nsource = \"client\"\nerrno = [\"ETIMEOUT\"]\n");
    assert_error(&text, "[[expect]]", 0, "unknown errno `ETIMEOUT`");

    let text = with("\n[[expect]]\nevent = \"boom\"\nsource = \"client\"\n");
    assert_error(&text, "[[expect]]", 0, "unknown event `boom`");
    let text = with("\n[[expect]]\nevent = \"fault\"\nsource = \"client\"\n");
    assert_error(&text, "[[expect]]", 0, "unknown event `fault`");
    let text = with("\n[[expect]]\nsocket = \"BOUND_INACTIVE\"\nhost = \"client\"\n");
    assert_error(
        &text,
        "[[expect]]",
        0,
        "unknown socket state `BOUND_INACTIVE`",
    );

    let text = with("\n[[expect]]\nevent = \"eof\"\n");
    assert_error(
        &text,
        "[[expect]]",
        0,
        "an event expectation needs `source`",
    );

    let text = with("\n[[expect]]\nevent = \"eof\"\nsource = \"nobody\"\n");
    assert_error(
        &text,
        "\"nobody\"",
        0,
        "unknown endpoint `nobody` (declared: client, server)",
    );

    let text = with("\n[[expect]]\nsocket = \"TIMEWAIT\"\nhost = \"client\"\n");
    assert_error(&text, "[[expect]]", 0, "unknown socket state `TIMEWAIT`");

    let text = with("\n[[expect]]\nsocket = \"TIME_WAIT\"\n");
    assert_error(&text, "[[expect]]", 0, "a socket expectation needs `host`");

    let text = with("\n[[expect]]\nsocket = \"TIME_WAIT\"\nhost = \"router\"\n");
    assert_error(
        &text,
        "\"router\"",
        0,
        "unknown host `router` (hosts are `client` and `server`)",
    );

    let text = with("\n[[expect]]\nsilent = \"nobody\"\n");
    assert_error(
        &text,
        "\"nobody\"",
        0,
        "`silent` is `client`, `server` or `any`",
    );

    let text = with("\n[[expect]]\nsilent = \"any\"\nflags = \"FX\"\n");
    assert_error(
        &text,
        "[[expect]]",
        0,
        "`flags = \"FX\"`: use letters of S F P R U .",
    );

    let text = with("\n[[expect]]\nsilent = \"any\"\nport = \"eth0\"\n");
    assert_error(
        &text,
        "\"eth0\"",
        0,
        "unknown port `eth0` (ports are `client-port` and `server-port`)",
    );
}

#[test]
fn flags_go_with_silent_and_any_of_needs_a_sequence() {
    let text = with("\n[[expect]]\npackets = [\"C>S F.\"]\nflags = \"F\"\n");
    assert_error(&text, "[[expect]]", 0, "`flags` goes with `silent`");
    let text = with("\n[[expect]]\nany_of = []\n");
    assert_error(
        &text,
        "[[expect]]",
        0,
        "`any_of` needs at least one sequence",
    );
}

#[test]
fn host_on_an_event_expectation_must_exist() {
    let text = with("\n[[expect]]\nevent = \"eof\"\nsource = \"client\"\nhost = \"router\"\n");
    assert_error(
        &text,
        "\"router\"",
        0,
        "unknown host `router` (hosts are `client` and `server`)",
    );
}

#[test]
fn errors_use_the_file_name_given() {
    let e = Scenario::parse("scenarios/x.toml", "name = 1\n", Profile::Fast).unwrap_err();
    assert_eq!(e.file, "scenarios/x.toml");
    assert!(e.to_string().starts_with("scenarios/x.toml:1:8: "), "{e}");
}

// ---- a valid file ---------------------------------------------------------------------

const VALID: &str = r#"name = "c4-keepalive"
conclusion = "C4"
summary = "keepalive probes then ETIMEDOUT"
ip = "v6"
topology = "direct"

[hosts.client.sysctl]
"net.ipv4.tcp_retries2" = 15
"net.ipv4.tcp_keepalive_time" = "7200"

[hosts.server.sysctl]
"net.core.somaxconn" = 128

[endpoints.server]
host = "server"
program = "server"
port = 9000
on_eof = "close"
on_eof_delay = "300ms"

[endpoints.client]
host = "client"
program = "client"
port = 9000
autoread = false
options = { keepalive = true, keepidle = "7200s", keepintvl = "75s", keepcnt = 9 }

[[step]]
name = "connected"
wait = { event = "connected", source = "client", timeout = "2s" }

[[step]]
name = "cut"
do = "cut"

[[step]]
wait = { socket = "CLOSED", host = "client", timeout = "3h" }

[[expect]]
after = "cut"
silent = "server"
flags = "FR"
port = "client-port"

[[expect]]
event = "error"
source = "client"
errno = ["ETIMEDOUT"]

[[expect]]
socket = "ESTABLISHED"
host = "server"
when = "throughout"
after = "cut"

[profile.fast.hosts.client.sysctl]
"net.ipv4.tcp_retries2" = 5

[profile.fast.endpoints.client.options]
keepidle = "2s"
keepintvl = "1s"
keepcnt = 3

[profile.faithful.hosts.server.sysctl]
"net.core.somaxconn" = 4096
"#;

#[test]
fn valid_file_parses_with_fast_overrides() {
    let s = Scenario::parse("c4.toml", VALID, Profile::Fast).unwrap();
    assert_eq!(s.file, "c4.toml");
    assert_eq!(s.name, "c4-keepalive");
    assert_eq!(s.conclusion, "C4");
    assert_eq!(s.ip, Family::V6);
    assert_eq!(s.topology, Topology::Direct);
    assert_eq!(s.profile, Profile::Fast);
    // The profile's sysctl replaces the base one; others stay.
    assert_eq!(s.sysctls[&Host::Client]["net.ipv4.tcp_retries2"], "5");
    assert_eq!(
        s.sysctls[&Host::Client]["net.ipv4.tcp_keepalive_time"],
        "7200"
    );
    assert_eq!(s.sysctls[&Host::Server]["net.core.somaxconn"], "128");
    // The profile's options replace the base ones field by field.
    let c = &s.endpoints["client"];
    assert_eq!(c.program, Program::Client);
    assert_eq!(c.port, 9000);
    assert!(!c.autoread);
    assert_eq!(c.options.keepalive, Some(true));
    assert_eq!(c.options.keepidle, Some(Dur(Duration::from_secs(2))));
    assert_eq!(c.options.keepintvl, Some(Dur(Duration::from_secs(1))));
    assert_eq!(c.options.keepcnt, Some(3));
    let srv = &s.endpoints["server"];
    assert_eq!(srv.on_eof, OnEof::Close);
    assert_eq!(srv.on_eof_delay, Some(Dur(Duration::from_millis(300))));
    assert!(srv.start && srv.autoread, "defaults");
    assert_eq!(s.builtin_server().unwrap().0, "server");

    assert_eq!(s.steps.len(), 3);
    assert_eq!(s.steps[0].name.as_deref(), Some("connected"));
    let wait = s.steps[0].wait.as_ref().unwrap();
    assert_eq!(
        wait.timeout,
        WaitTimeout::Fixed(Dur(Duration::from_secs(2)))
    );
    assert_eq!(
        wait.until,
        Wait::Event {
            source: "client".into(),
            kind: EventKind::Connected,
            errno: None,
            bytes: None
        }
    );
    assert_eq!(s.steps[1].action, Some(Action::Cut));
    assert_eq!(s.steps[1].text, "cut");
    assert_eq!(
        s.steps[2].wait.as_ref().unwrap().until,
        Wait::Socket {
            host: Host::Client,
            state: TcpState::Closed
        }
    );
    assert_eq!(s.expects.len(), 3);
    match &s.expects[0].check {
        Expectation::Silent { port, from, flags } => {
            assert_eq!(*port, CapturePort::ClientPort);
            assert_eq!(*from, Quiet::Server);
            assert_eq!(flags.as_ref().map(|f| f.letters.as_str()), Some("FR"));
        }
        other => panic!("not silent: {other:?}"),
    }
    assert_eq!(
        s.expects[1].check,
        Expectation::Event {
            source: "client".into(),
            kind: EventKind::Error,
            errno: Some(vec!["ETIMEDOUT".to_string()]),
            detail: None,
            happens: true
        }
    );
    assert!(matches!(
        s.expects[2].check,
        Expectation::Socket {
            host: Host::Server,
            state: TcpState::Established,
            when: When::Throughout,
            timer: None
        }
    ));
    assert_eq!(s.expects[2].after.as_deref(), Some("cut"));
}

#[test]
fn valid_file_parses_with_faithful_overrides() {
    let s = Scenario::parse("c4.toml", VALID, Profile::Faithful).unwrap();
    assert_eq!(s.profile, Profile::Faithful);
    assert_eq!(s.sysctls[&Host::Client]["net.ipv4.tcp_retries2"], "15");
    assert_eq!(s.sysctls[&Host::Server]["net.core.somaxconn"], "4096");
    let c = &s.endpoints["client"];
    assert_eq!(c.options.keepidle, Some(Dur(Duration::from_secs(7200))));
    assert_eq!(c.options.keepintvl, Some(Dur(Duration::from_secs(75))));
    assert_eq!(c.options.keepcnt, Some(9));
}

#[test]
fn defaults_of_a_minimal_file() {
    let s = parse(BASE).unwrap();
    assert_eq!(s.topology, Topology::Switched);
    assert_eq!(s.ip, Family::V4);
    assert_eq!(s.endpoints["server"].port, 8080);
    assert_eq!(s.endpoints["client"].on_eof, OnEof::None);
    assert!(s.sysctls.is_empty());
    assert!(s.steps.is_empty() && s.expects.is_empty());
}

#[test]
fn gone_and_timer_bounds_are_validated() {
    let base = "name = \"t\"\nconclusion = \"X-T\"\nsummary = \"s\"\n[endpoints.server]\nhost = \"server\"\nprogram = \"server\"\n[[step]]\nname = \"close\"\ndo = \"cut\"\n";
    let parse = |extra: &str| Scenario::parse("t.toml", &format!("{base}{extra}"), Profile::Fast);
    assert!(
        parse("[[expect]]\ngone = \"orphan_fin\"\nhost = \"client\"\nafter = \"close\"\n").is_ok()
    );
    let e =
        parse("[[expect]]\ngone = \"nope\"\nhost = \"client\"\nafter = \"close\"\n").unwrap_err();
    assert!(e.message.contains("unknown model `nope`"), "{e}");
    let e = parse("[[expect]]\ngone = \"fin_wait2\"\nhost = \"client\"\n").unwrap_err();
    assert!(e.message.contains("`gone` needs"), "{e}");
    assert!(parse(
        "[[expect]]\nsocket = \"TIME_WAIT\"\nhost = \"client\"\ntimer_at_least = \"55s\"\n"
    )
    .is_ok());
    let e = parse("[[expect]]\nevent = \"eof\"\nsource = \"server\"\ntimer_at_least = \"55s\"\n")
        .unwrap_err();
    assert!(e.message.contains("go with `socket`"), "{e}");
    // A half-open request: its SYN-ACKs and its end, but no application death.
    let s = parse("[[expect]]\ngone = \"syn_recv\"\nhost = \"server\"\nafter = \"close\"\n[[expect]]\nschedule = \"synack\"\nhost = \"server\"\nafter = \"close\"\n").unwrap();
    assert_eq!(
        s.expects[0].check,
        Expectation::Gone {
            model: super::OrphanModel::SynRecv,
            host: Host::Server
        }
    );
    let e = parse("[[expect]]\ndies = \"synack\"\nsource = \"server\"\nafter = \"close\"\n")
        .unwrap_err();
    assert!(
        e.message
            .contains("no application hears of a half-open request's end"),
        "{e}"
    );
    assert_eq!((e.line, e.col), (11, 8), "{e}");
    // A local drop leaves nothing in the capture: its death, not its schedule.
    assert!(
        parse("[[expect]]\ndies = \"local_drop\"\nsource = \"server\"\nafter = \"close\"\n")
            .is_ok()
    );
    let e = parse("[[expect]]\nschedule = \"local_drop\"\nhost = \"client\"\nafter = \"close\"\n")
        .unwrap_err();
    assert!(e.message.contains("never leave the host"), "{e}");
}

#[test]
fn steps_hold_their_typed_values() {
    let text = with(
        r#"
[[step]]
wait = { packet = "S>C F.|S>C .+", port = "client-port", count = 2 }
do = "kill"
endpoint = "client"
signal = "TERM"

[[step]]
wait = { event = "error", source = "client", model_timeout = "keepalive" }
do = "shutdown"
endpoint = "server"
how = "rdwr"

[[step]]
do = "impair"
from = "server"
delay = "100ms"
"#,
    );
    let s = parse(&text).unwrap();
    let w = s.steps[0].wait.as_ref().unwrap();
    assert_eq!(
        w.until,
        Wait::Packet {
            pattern: PacketPattern::parse("S>C F.|S>C .+").unwrap(),
            port: CapturePort::ClientPort,
            count: 2,
            window: None,
        }
    );
    assert_eq!(
        s.steps[0].action,
        Some(Action::Kill {
            endpoint: "client".into(),
            signal: Signal::Term
        })
    );
    assert_eq!(s.steps[0].text, "kill client SIGTERM");
    assert_eq!(
        s.steps[1].wait.as_ref().unwrap().timeout,
        WaitTimeout::Model {
            model: crate::scenario::DeathModel::Keepalive,
            host: Host::Client
        }
    );
    assert_eq!(s.steps[1].text, "shutdown server rdwr");
    assert_eq!(
        s.steps[2].action,
        Some(Action::Impair {
            from: Senders::Server,
            netem: crate::scenario::Netem {
                delay: Duration::from_millis(100),
                jitter: Duration::ZERO,
                loss: 0.0,
                loss_correlation: 0.0,
            }
        })
    );
    assert_eq!(s.endpoints["client"].program, Program::Client);
}

#[test]
fn a_gone_wait_that_waits_for_nothing_is_an_error() {
    let text = with("\n[[step]]\nwait = { gone = false, host = \"client\" }\n");
    assert_error(
        &text,
        "{",
        0,
        "`gone = false` waits for nothing: write `gone = true` (the connection's socket is gone)",
    );
}

#[test]
fn lifting_a_fault_is_timed_at_its_start_imposing_one_when_in_force() {
    let text = r#"
name = "t"
conclusion = "C6"
summary = "s"
[endpoints.server]
host = "server"
program = "server"
[[step]]
do = "cut"
[[step]]
do = "restart"
endpoint = "server"
[[step]]
do = "restore"
[[step]]
do = "link_down"
host = "client"
[[step]]
do = "link_up"
host = "client"
"#;
    let sc = Scenario::parse("t.toml", text, Profile::Fast).unwrap();
    let at_start: Vec<bool> = sc
        .steps
        .iter()
        .map(|s| s.action.as_ref().unwrap().timed_at_start())
        .collect();
    assert_eq!(at_start, [false, true, true, false, true]);
}

#[test]
fn an_endpoints_user_is_a_name_or_uid_and_defaults_to_the_invoker() {
    use crate::scenario::RunAs;
    let sc = parse(BASE).unwrap();
    assert_eq!(sc.endpoints["client"].user, RunAs::Invoker);
    let text = BASE.replace(
        "host = \"client\"\nprogram = \"client\"",
        "host = \"client\"\nprogram = \"client\"\nuser = \"root\"",
    );
    let sc = parse(&text).unwrap();
    let (line, col) = at(&text, "\"root\"", 0);
    match &sc.endpoints["client"].user {
        RunAs::Named { name, at } => {
            assert_eq!(name, "root");
            assert_eq!((at.line, at.col), (line, col));
        }
        other => panic!("{other:?}"),
    }
    for bad in ["", "two words", "a:b"] {
        let text = BASE.replace(
            "host = \"client\"\nprogram = \"client\"",
            &format!("host = \"client\"\nprogram = \"client\"\nuser = \"{bad}\""),
        );
        assert_error(
            &text,
            &format!("\"{bad}\""),
            0,
            &format!("endpoint `client`: `user = \"{bad}\"` is not a user name or uid"),
        );
    }
}

// An external program's lines and stdin: `stdout`/`stderr` waits and
// expectations, `dies ... line`, `write`.
mod programs;

#[test]
fn option_placeholders_take_the_declared_option_per_profile() {
    use crate::scenario::{option_placeholder, Dur};
    let text = |options: &str| {
        format!(
            "name = \"t\"\nconclusion = \"X\"\nsummary = \"s\"\n[endpoints.server]\nhost = \"server\"\nprogram = \"server\"\n\
             [endpoints.client]\nhost = \"client\"\nprogram = \"external\"\n\
             command = [\"go-keepalive\", \"{{server_ip}}\", \"{{keepidle}}\"]\n{options}\
             [profile.fast.endpoints.client]\noptions = {{ keepidle = \"1s\" }}\n"
        )
    };
    let declared = text("options = { keepidle = \"5s\" }\n");
    let fast = parse(&declared).unwrap();
    let faithful = Scenario::parse("t.toml", &declared, Profile::Faithful).unwrap();
    let value = |sc: &Scenario| option_placeholder(&sc.endpoints["client"].options, "{keepidle}");
    assert_eq!(value(&fast), Some(Some(Dur(Duration::from_secs(1)))));
    assert_eq!(value(&faithful), Some(Some(Dur(Duration::from_secs(5)))));
    assert_eq!(
        Dur(Duration::from_secs(1)).to_string(),
        "1s",
        "Go's duration syntax"
    );
    assert_eq!(
        option_placeholder(&fast.endpoints["client"].options, "{server_ip}"),
        None
    );
    // A placeholder of an option the endpoint does not declare is refused at the argument.
    let undeclared = text("");
    assert_error(
        &undeclared,
        "\"{keepidle}\"",
        0,
        "endpoint `client`: `{keepidle}` in `{keepidle}` is the endpoint's `keepidle` option, which it does not declare (add `options = { keepidle = \"1s\" }`)",
    );
}

// ---- read, disconnect, accept, epoll, detail -------------------------------------

#[test]
fn read_and_disconnect_are_builtin_endpoint_actions() {
    let text = with(
        "\n[[step]]\ndo = \"read\"\nendpoint = \"client\"\n\n[[step]]\ndo = \"disconnect\"\nendpoint = \"client\"\n",
    );
    let s = parse(&text).unwrap();
    assert_eq!(
        s.steps[0].action,
        Some(Action::Read {
            endpoint: "client".into()
        })
    );
    assert_eq!(s.steps[0].text, "read client");
    assert_eq!(
        s.steps[1].action,
        Some(Action::Disconnect {
            endpoint: "client".into()
        })
    );
    assert!(s.steps[1].action.as_ref().unwrap().timed_at_start());
    assert_eq!(
        s.steps[1].action.as_ref().unwrap().endpoint(),
        Some("client")
    );

    let text = with("\n[[step]]\ndo = \"read\"\n");
    assert_error(&text, "\"read\"", 0, "`do = \"read\"` needs `endpoint`");
    let text = with(
        "\n[endpoints.nc]\nhost = \"client\"\nprogram = \"external\"\ncommand = [\"nc\"]\n\n[[step]]\ndo = \"disconnect\"\nendpoint = \"nc\"\n",
    );
    assert_error(
        &text,
        "\"nc\"\n",
        0,
        "`do = \"disconnect\"` is a built-in endpoint's command; `nc` is external (use `write`)",
    );
}

#[test]
fn accept_goes_with_the_builtin_server_and_epoll_with_a_builtin() {
    let text = BASE.replace(
        "program = \"server\"\n",
        "program = \"server\"\naccept = false\n",
    );
    let text = text.replace(
        "program = \"client\"\n",
        "program = \"client\"\nepoll = true\n",
    );
    let s = parse(&text).unwrap();
    assert!(!s.endpoints["server"].accept && !s.endpoints["server"].epoll);
    assert!(s.endpoints["client"].accept && s.endpoints["client"].epoll);
    let d = parse(BASE).unwrap();
    assert!(
        d.endpoints["server"].accept && !d.endpoints["client"].epoll,
        "defaults"
    );

    let text = with("accept = false\n");
    assert_error(
        &text,
        "false",
        0,
        "endpoint `client`: `accept` goes with `program = \"server\"`",
    );
    let text = with(
        "\n[endpoints.nc]\nhost = \"client\"\nprogram = \"external\"\ncommand = [\"nc\"]\nepoll = true\n",
    );
    assert_error(
        &text,
        "true",
        0,
        "endpoint `nc`: `epoll` goes with a built-in endpoint (`client` or `server`)",
    );
}

#[test]
fn detail_goes_with_an_event_expectation() {
    let text = with(
        "\n[[expect]]\nevent = \"error\"\nsource = \"client\"\nerrno = [\"ETIMEDOUT\"]\ndetail = \"EPOLLIN|EPOLLERR|EPOLLHUP\"\n",
    );
    let s = parse(&text).unwrap();
    assert_eq!(
        s.expects[0].check,
        Expectation::Event {
            source: "client".into(),
            kind: EventKind::Error,
            errno: Some(vec!["ETIMEDOUT".into()]),
            detail: Some("EPOLLIN|EPOLLERR|EPOLLHUP".into()),
            happens: true,
        }
    );
    let text = with("\n[[expect]]\nsocket = \"CLOSED\"\nhost = \"client\"\ndetail = \"x\"\n");
    assert_error(&text, "\"x\"", 0, "`detail` goes with `event`");
    let text = with("\n[[expect]]\nevent = \"disconnected\"\nsource = \"client\"\n");
    assert!(parse(&text).is_ok(), "disconnected is a scenario event");
}

#[test]
fn a_gone_waits_model_timeout_names_the_orphans_model_first() {
    let wait = |model: &str| {
        format!(
            "{BASE}[[step]]\nname = \"close\"\ndo = \"close\"\nendpoint = \"client\"\n[[step]]\nwait = {{ gone = true, host = \"client\", model_timeout = \"{model}\" }}\n"
        )
    };
    let timeout = |model: &str| {
        let s = parse(&wait(model)).unwrap();
        s.steps[1].wait.as_ref().unwrap().timeout
    };
    assert_eq!(
        timeout("orphan_fin"),
        WaitTimeout::Orphan {
            model: crate::scenario::OrphanModel::OrphanFin,
            host: Host::Client
        }
    );
    // `zero_window` names both; on a `gone` wait it is the orphan's.
    assert_eq!(
        timeout("zero_window"),
        WaitTimeout::Orphan {
            model: crate::scenario::OrphanModel::ZeroWindow,
            host: Host::Client
        }
    );
    // A death model still serves (a listener's half-open child: synack).
    assert_eq!(
        timeout("synack"),
        WaitTimeout::Model {
            model: crate::scenario::DeathModel::Synack,
            host: Host::Client
        }
    );
    let text = wait("nope");
    assert_error_starts(
        &text,
        "\"nope\"",
        0,
        "unknown model `nope` (on a `gone` wait: orphan_fin",
    );
    // Elsewhere, orphan models are not death models.
    let text = format!(
        "{BASE}[[step]]\nwait = {{ event = \"error\", source = \"client\", model_timeout = \"fin_wait2\" }}\n"
    );
    assert_error_starts(&text, "\"fin_wait2\"", 0, "unknown model `fin_wait2` (");
}

#[test]
fn a_host_of_built_in_endpoints_only_is_told_apart() {
    // BASE: a built-in server on the server host, a built-in client on the client.
    let s = parse(BASE).unwrap();
    assert!(s.only_builtin_on(Host::Client) && s.only_builtin_on(Host::Server));
    let text = BASE.replace(
        "program = \"server\"",
        "program = \"external\"\ncommand = [\"nc\", \"-l\", \"8080\"]",
    );
    let s = parse(&text).unwrap();
    assert!(
        !s.only_builtin_on(Host::Server),
        "an external program may open any family"
    );
    assert!(s.only_builtin_on(Host::Client));
}

#[test]
fn probe_expectations_name_a_probe_a_host_and_a_step() {
    let steps = "\n[[step]]\nname = \"send\"\ndo = \"send\"\nendpoint = \"client\"\nbytes = 14280\nthen_close = true\n";
    let text = with(&format!(
        "{steps}\n[[expect]]\nprobe = \"tail_loss\"\nhost = \"client\"\nafter = \"send\"\n"
    ));
    let sc = parse(&text).unwrap();
    assert_eq!(
        sc.expects[0].check,
        Expectation::Probe {
            model: super::ProbeModel::TailLoss,
            host: Host::Client
        }
    );
    assert!(sc.expects[0].check.has_model());
    assert_eq!(
        sc.steps[0].action,
        Some(super::Action::Send {
            endpoint: "client".into(),
            bytes: 14280,
            then_close: true
        })
    );
    let text = with(&format!(
        "{steps}\n[[expect]]\nprobe = \"zero_window\"\nhost = \"client\"\nafter = \"send\"\n"
    ));
    assert_error(
        &text,
        "\"zero_window\"",
        0,
        "unknown probe `zero_window` (tail_loss)",
    );
    let text = with(&format!(
        "{steps}\n[[expect]]\nprobe = \"tail_loss\"\nafter = \"send\"\n"
    ));
    assert_error(
        &text,
        "[[expect]]",
        0,
        "`probe` needs `host` (the host that sends the flight) and `after` (the step that sends it)",
    );
    // `then_close` is the send's.
    let text = with("\n[[step]]\ndo = \"close\"\nendpoint = \"client\"\nthen_close = true\n");
    assert_error(&text, "true", 0, "`then_close` goes with `do = \"send\"`");
}
