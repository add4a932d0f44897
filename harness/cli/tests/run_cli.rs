//! The `teardown run` command line as users and CI use it: bad input is
//! rejected before anything is created, shards partition the set, `merge`
//! equals a single run, `--repeat` counts passes.

use std::path::Path;
use std::process::Command;

mod cli_common;
use cli_common::{our_namespaces, serial, teardown, tmp};

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn names_and_verdicts(s: &serde_json::Value) -> Vec<(String, String)> {
    s["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap().to_string(),
                x["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn malformed_scenario_exits_2_with_location_and_creates_nothing() {
    assert_bad_file_before_any_lab(
        "bad",
        "name = \"bad\"\nconclusion = \"C1\"\nsummary = \"s\"\n[endpoints.server]\nhost = \"server\"\nprogram = \"server\"\noptions = { keepidle = \"0s\" }\n",
        "bad.toml:4:1:",
        &["keepidle"],
    );
}

/// `teardown run` on a bad scenario file: exit 2 with the place (`at`) and
/// each of `reason`, and neither a lab nor an output directory.
fn assert_bad_file_before_any_lab(tag: &str, text: &str, at: &str, reason: &[&str]) {
    let _serial = serial();
    let dir = tmp(tag);
    let file = dir.join(format!("{tag}.toml"));
    std::fs::write(&file, text).unwrap();
    let before = our_namespaces();
    let out = teardown()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(at), "{err}");
    for r in reason {
        assert!(err.contains(r), "`{r}` missing from: {err}");
    }
    assert_eq!(
        our_namespaces(),
        before,
        "nothing may be created for a bad file"
    );
    assert!(
        !dir.join("out").exists(),
        "no output directory for a bad file"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A scenario file that validates but names a program or placeholder that
/// cannot work: exit 2 at the command (line 7, column `col`), before any lab.
fn assert_refused_before_any_lab(tag: &str, command: &str, col: usize, reason: &[&str]) {
    let text = format!(
        "name = \"{tag}\"\nconclusion = \"X-TEST\"\nsummary = \"s\"\n[endpoints.server]\nhost = \"server\"\nprogram = \"external\"\ncommand = {command}\n"
    );
    assert_bad_file_before_any_lab(tag, &text, &format!("{tag}.toml:7:{col}:"), reason);
}

#[test]
fn an_unknown_user_exits_2_before_any_lab() {
    let text = "name = \"nouser\"\nconclusion = \"X-TEST\"\nsummary = \"s\"\n[endpoints.server]\nhost = \"server\"\nprogram = \"server\"\nuser = \"td-no-such-user\"\n";
    assert_bad_file_before_any_lab(
        "nouser",
        text,
        "nouser.toml:7:8:",
        &["endpoint `server`: there is no user `td-no-such-user` on this machine"],
    );
}

#[test]
fn a_program_that_is_not_there_exits_2_before_any_lab() {
    assert_refused_before_any_lab(
        "noprog",
        r#"["/nonexistent/prog", "{server_port}"]"#,
        11,
        &[
            "endpoint `server`",
            // As the endpoint's user: `cannot be run by nobody (...): ENOENT` as root.
            "`/nonexistent/prog` cannot be run",
            ": ENOENT",
            "working directory",
        ],
    );
    assert_refused_before_any_lab(
        "notinpath",
        r#"["td-no-such-program-anywhere"]"#,
        11,
        &["`td-no-such-program-anywhere` is not in PATH"],
    );
    // A file that is there but not executable.
    let data = tmp("noexec-data").join("data.txt");
    std::fs::write(&data, "not a program").unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    assert_refused_before_any_lab(
        "noexec",
        &format!("[\"{}\"]", data.display()),
        11,
        &[&format!("`{}` is not executable", data.display())],
    );
    std::fs::remove_dir_all(data.parent().unwrap()).unwrap();
}

#[test]
fn only_the_scenarios_a_run_runs_need_their_programs() {
    let _serial = serial();
    let dir = tmp("needs");
    let text = |name: &str, command: &str| {
        format!(
            "name = \"{name}\"\nconclusion = \"X-TEST\"\nsummary = \"s\"\n[endpoints.server]\nhost = \"server\"\nprogram = \"external\"\ncommand = {command}\n"
        )
    };
    std::fs::write(
        dir.join("missing.toml"),
        text("missing", r#"["td-no-such-program-anywhere"]"#),
    )
    .unwrap();
    // `list` runs nothing: it needs no program.
    let (code, out, err) = exit_of(&["list", dir.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("missing"), "{out}");
    // A filter that leaves the scenario out does not need it either: the
    // run stops at "no scenario matches", not at the program.
    let (code, _, err) = exit_of(&["run", dir.to_str().unwrap(), "--filter", "other*"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no scenario matches"), "{err}");
    assert!(!err.contains("td-no-such-program-anywhere"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_placeholder_exits_2_before_any_lab() {
    assert_refused_before_any_lab(
        "placeholder",
        r#"["nc", "-l", "{server_addr}"]"#,
        24, // the argument itself
        &[
            "unknown placeholder `{server_addr}`",
            "{server_ip}, {server_port}, {client_ip}",
        ],
    );
    assert_refused_before_any_lab(
        "unclosed",
        r#"["nc", "{server_port"]"#,
        18,
        &["never closes it"],
    );
}

#[test]
fn list_needs_no_root_and_names_conclusions() {
    let _serial = serial();
    let out = teardown().arg("list").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for id in ["C1", "C2", "C3", "C4", "C4b", "C5", "C6", "C7"] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().nth(1) == Some(id)),
            "{id} missing:\n{text}"
        );
    }
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn shards_partition_and_merge_equals_a_single_run() {
    let _serial = serial();
    teardown_lab::require_privileged();
    let dir = tmp("shards");
    let filter = "c[127]-*";
    let run = |extra: &[&str], out: &Path| {
        let o = teardown()
            .args(["run", "scenarios/", "--quiet", "--filter", filter])
            .args(extra)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(&[], &dir.join("all"));
    run(&["--shard", "1/2"], &dir.join("s1"));
    run(&["--shard", "2/2"], &dir.join("s2"));
    let all = names_and_verdicts(&summary(&dir.join("all")));
    let s1 = names_and_verdicts(&summary(&dir.join("s1")));
    let s2 = names_and_verdicts(&summary(&dir.join("s2")));
    assert!(!s1.is_empty() && !s2.is_empty(), "both shards get work");
    assert!(s1.iter().all(|x| !s2.contains(x)), "shards overlap");
    let mut union: Vec<_> = s1.iter().chain(&s2).cloned().collect();
    union.sort();
    assert_eq!(union, all, "the shards' union is exactly the full set");
    let m = teardown()
        .arg("merge")
        .arg(dir.join("s1"))
        .arg(dir.join("s2"))
        .arg("--out")
        .arg(dir.join("merged"))
        .output()
        .unwrap();
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    let merged = summary(&dir.join("merged"));
    assert_eq!(
        names_and_verdicts(&merged),
        all,
        "merge equals a single run"
    );
    for name in all.iter().map(|(n, _)| n) {
        assert!(
            dir.join("merged")
                .join(name)
                .join("capture.pcapng")
                .exists(),
            "{name}'s capture was copied"
        );
    }
    for f in ["junit.xml", "index.html"] {
        assert!(dir.join("merged").join(f).exists());
    }
    // The same scenario in two parts is refused.
    let twice = teardown()
        .arg("merge")
        .arg(dir.join("s1"))
        .arg(dir.join("s1"))
        .arg("--out")
        .arg(dir.join("twice"))
        .output()
        .unwrap();
    assert_eq!(twice.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn repeat_reports_pass_counts() {
    let _serial = serial();
    teardown_lab::require_privileged();
    let dir = tmp("repeat");
    let o = teardown()
        .args([
            "run",
            "scenarios/c7-linger-zero.toml",
            "--quiet",
            "--repeat",
            "3",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(&dir);
    let reps = s["repeats"].as_array().unwrap();
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0]["name"], "c7-linger-zero");
    assert_eq!(reps[0]["runs"], 3);
    assert_eq!(reps[0]["passed"], 3);
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 flaky scenarios"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn netem_scenarios_are_skipped_naming_the_missing_qdisc_or_pass() {
    let _serial = serial();
    teardown_lab::require_privileged();
    let dir = tmp("netem");
    let before = our_namespaces();
    let o = teardown()
        .args(["run", "scenarios/needs-netem/", "--quiet", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let s = summary(&dir);
    let all = s["scenarios"].as_array().unwrap();
    assert!(all.len() >= 3, "every needs-netem scenario ran: {s}");
    for r in all {
        if teardown_lab::tc::has_netem() {
            assert_eq!(r["verdict"], "pass", "{r}");
        } else {
            // A kernel without a feature is no failure of TCP: skipped,
            // with doctor's reason, and no lab built for it.
            assert_eq!(r["verdict"], "skip", "{r}");
            let why = r["reason"].as_str().unwrap();
            assert!(
                why.contains("lacks what this scenario needs: sch_netem"),
                "{r}"
            );
            assert!(why.contains("teardown doctor"), "{r}");
            assert!(r["checks"].as_array().unwrap().is_empty(), "{r}");
        }
    }
    assert_eq!(o.status.code(), Some(0), "skips and passes exit 0");
    assert_eq!(our_namespaces(), before, "the lab is torn down completely");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn a_command_to_an_endpoint_that_already_exited_is_an_error_not_a_crash() {
    let _serial = serial();
    teardown_lab::require_privileged();
    let dir = tmp("epipe");
    let file = dir.join("epipe.toml");
    std::fs::write(
        &file,
        r#"name = "epipe"
conclusion = "X-TEST"
summary = "An external endpoint that exits at once, then a send to it."
[endpoints.server]
host = "server"
program = "server"
[endpoints.client]
host = "client"
program = "external"
command = ["true"]
[[step]]
wait = { event = "exited", source = "client" }
do = "send"
endpoint = "client"
bytes = 100
"#,
    )
    .unwrap();
    let before = our_namespaces();
    let o = teardown()
        .arg("run")
        .arg(&file)
        .arg("--quiet")
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s = summary(&dir.join("out"));
    assert_eq!(s["scenarios"][0]["verdict"], "error");
    assert!(
        s["scenarios"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("send"),
        "{}",
        s["scenarios"][0]
    );
    assert_eq!(our_namespaces(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// (exit code, stdout, stderr) of `teardown ARGS`.
fn exit_of(args: &[&str]) -> (Option<i32>, String, String) {
    let o = teardown().args(args).output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Bad input is the user's to fix: exit 2, the reason, and neither the
/// doctor hint (the machine is fine) nor a bug report request.
fn assert_bad_input(args: &[&str], reason: &str) {
    let (code, _, err) = exit_of(args);
    assert_eq!(code, Some(2), "teardown {args:?}: {err}");
    assert!(err.contains(reason), "teardown {args:?}: {err}");
    assert!(!err.contains("teardown doctor"), "{err}");
    assert!(!err.contains("bug"), "{err}");
}

#[test]
fn bad_input_and_usage_exit_2_without_blaming_the_machine() {
    // Serial like every test here that starts processes: a process forked
    // while another test writes its copy of the binary would make that
    // copy's exec fail with ETXTBSY.
    let _serial = serial();
    let dir = tmp("exit2");
    let d = dir.display().to_string();
    // Usage (clap).
    let (code, _, err) = exit_of(&["run", "--jobs", "many"]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(exit_of(&["no-such-command"]).0, Some(2));
    // Files and options the user gave.
    assert_bad_input(&["run", &format!("{d}/missing.toml")], "missing.toml");
    assert_bad_input(&["list", &format!("{d}/missing")], "missing");
    assert_bad_input(
        &["run", "scenarios/", "--filter", "no-such-*"],
        "no scenario matches",
    );
    assert_bad_input(&["run", "scenarios/", "--shard", "3/2"], "--shard");
    assert_bad_input(&["replay", &format!("{d}/none.pcap")], "none.pcap");
    assert_bad_input(
        &["replay", "--summary-only", &format!("{d}/none.pcap")],
        "none.pcap",
    );
    std::fs::write(dir.join("junk.pcap"), b"not a capture at all").unwrap();
    assert_bad_input(&["replay", &format!("{d}/junk.pcap")], "junk.pcap");
    let golden = "tests/golden/close4.pcap";
    assert_bad_input(
        &["diagram", golden, "-o", &format!("{d}/no/such/dir/x.svg")],
        "x.svg",
    );
    assert_bad_input(&["merge", &d, "--out", &format!("{d}/m")], "summary.json");
    assert_bad_input(&["model", "--rto-max-ms", "0"], "--rto-max-ms");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_and_man_page_document_every_exit_code() {
    let _serial = serial();
    let (code, help, _) = exit_of(&["--help"]);
    assert_eq!(code, Some(0));
    let (code, man, _) = exit_of(&["man"]);
    assert_eq!(code, Some(0));
    for text in [&help, &man] {
        for line in [
            "a check failed",
            "bad input or usage",
            "the environment can't run it",
            "a bug in teardown",
            "interrupted by SIGINT or SIGTERM",
        ] {
            assert!(text.contains(line), "`{line}` missing from:\n{text}");
        }
        for code in ["0 ", "1 ", "2 ", "3 ", "4 ", "130 "] {
            assert!(text.contains(code), "exit code {code}missing");
        }
    }
}

#[test]
#[ignore = "privileged: needs root to drop it (make test runs it)"]
fn run_without_root_exits_3_with_the_doctor_hint_and_creates_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let _serial = serial();
    teardown_lab::require_privileged();
    // A copy of the binary and of a scenario that an unprivileged user may read.
    let dir = tmp("noroot");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let bin = dir.join("teardown");
    std::fs::copy(env!("CARGO_BIN_EXE_teardown"), &bin).unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let sc = dir.join("c7.toml");
    std::fs::copy(format!("{root}/scenarios/c7-linger-zero.toml"), &sc).unwrap();
    for f in [&bin, &sc] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let before = our_namespaces();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&bin)
        .arg("run")
        .arg(&sc)
        .arg("--out")
        .arg(dir.join("out"))
        .current_dir(&dir)
        .output()
        .expect("setpriv (util-linux)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("needs root or CAP_NET_ADMIN"), "{err}");
    assert!(err.contains("teardown doctor"), "the hint: {err}");
    assert!(!err.contains("bug"), "{err}");
    assert_eq!(our_namespaces(), before);
    assert!(!dir.join("out").exists(), "nothing written without root");
    std::fs::remove_dir_all(&dir).unwrap();
}
