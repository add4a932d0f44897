//! Privileged: who an endpoint runs as, and an endpoint that can't start.
//!
//! - By default an endpoint runs as the user who invoked the harness through
//!   sudo (SUDO_UID/SUDO_GID), else `nobody`, with no capabilities: it can't
//!   write where its user may not, and its `{scratch}` directory is its own.
//!   `user = "root"` keeps root. The report says who ran each.
//! - A program that can't be executed, or one that exits with a failure
//!   before the timeline expects it, makes the scenario `error` at once with
//!   the real reason (its exec error, or its status and last stderr lines),
//!   not a wait's timeout, and without the `teardown doctor` hint.
//! - A program its user may not execute is refused before any lab (exit 2).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("td-test-acct-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    // Readable by the unprivileged endpoints (scenario files are read by the harness only).
    set_mode(&d, 0o755);
    d
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}

/// `teardown run FILE --out OUT` with the invoking user's identity as given
/// (`sudo`: SUDO_UID/SUDO_GID, or none).
fn run(file: &Path, out: &Path, sudo: Option<(u32, u32)>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_teardown"));
    c.arg("run").arg(file).arg("--out").arg(out);
    c.env_remove("SUDO_UID").env_remove("SUDO_GID");
    if let Some((uid, gid)) = sudo {
        c.env("SUDO_UID", uid.to_string())
            .env("SUDO_GID", gid.to_string());
    }
    c.output().unwrap()
}

fn report(out: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(out.join(name).join("report.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The `stdout` lines an endpoint printed, from `events.jsonl`.
fn stdout_lines(out: &Path, name: &str, source: &str) -> Vec<String> {
    let text = std::fs::read_to_string(out.join(name).join("events.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["source"] == source && e["kind"] == "stdout")
        .map(|e| e["detail"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// An external endpoint that says who it is and tries to write two places.
fn whoami(host: &str, user: Option<&str>, private: &Path) -> String {
    let user = user
        .map(|u| format!("user = \"{u}\"\n"))
        .unwrap_or_default();
    format!(
        "[endpoints.{host}]\nhost = \"{host}\"\nprogram = \"external\"\nshell = true\n{user}\
         command = [\"id -u; id -g; grep CapEff /proc/self/status;\", \
         \"(touch {p}/{host} && echo private-written) 2>&1;\", \
         \"touch {{scratch}}/mine && stat -c 'scratch-owner %u' {{scratch}} {{scratch}}/mine;\", \
         \"echo {{scratch}}; sleep 30\"]\n",
        p = private.display()
    )
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn endpoints_run_unprivileged_by_default_and_as_root_when_asked() {
    teardown_lab::require_privileged();
    let dir = tmp("who");
    // A directory only root may write.
    let private = dir.join("private");
    std::fs::create_dir(&private).unwrap();
    set_mode(&private, 0o700);
    let file = dir.join("who.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"t-who\"\nconclusion = \"X-TEST\"\nsummary = \"s\"\n{}{}\
             [endpoints.builtin]\nhost = \"client\"\nprogram = \"client\"\nstart = false\n\
             [[step]]\nwait = {{ duration = \"1s\" }}\n",
            whoami("server", None, &private),
            whoami("client", Some("root"), &private),
        ),
    )
    .unwrap();
    let nobody = teardown_lab::account::Account::lookup("nobody").unwrap();
    let out = dir.join("out");
    let o = run(&file, &out, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The default: nobody, no capabilities, no write where nobody may not,
    // its own scratch directory.
    let server = stdout_lines(&out, "t-who", "server");
    assert_eq!(server[0], nobody.uid.to_string(), "{server:?}");
    assert_eq!(server[1], nobody.gid.to_string(), "{server:?}");
    assert_eq!(server[2], "CapEff:\t0000000000000000", "{server:?}");
    assert!(
        server[3].contains("Permission denied") && !private.join("server").exists(),
        "{server:?}"
    );
    let owner = format!("scratch-owner {}", nobody.uid);
    assert_eq!(server[4..6], [owner.clone(), owner], "{server:?}");
    // `user = "root"`: root, with root's capabilities.
    let client = stdout_lines(&out, "t-who", "client");
    assert_eq!(client[..2], ["0", "0"], "{client:?}");
    assert_ne!(client[2], "CapEff:\t0000000000000000", "{client:?}");
    assert_eq!(client[3], "private-written", "{client:?}");
    assert!(private.join("client").exists());
    // The report says who ran each.
    let r = report(&out, "t-who");
    assert_eq!(r["ran_as"]["server"], nobody.describe(), "{r}");
    assert_eq!(r["ran_as"]["client"], "root (uid 0, gid 0)", "{r}");
    assert_eq!(r["ran_as"]["builtin"], nobody.describe(), "{r}");
    // The scratch directories went with the run.
    for lines in [&server, &client] {
        let scratch = Path::new(&lines[6]);
        assert!(
            scratch.starts_with(teardown_lab::cleanup::RUN_DIR),
            "{lines:?}"
        );
        assert!(!scratch.exists(), "{} left", scratch.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn through_sudo_endpoints_run_as_the_invoking_user_builtins_too() {
    teardown_lab::require_privileged();
    let dir = tmp("sudo");
    // `daemon` stands for the user who typed `sudo`: any account but root and nobody.
    let daemon = teardown_lab::account::Account::lookup("daemon").unwrap();
    let file = dir.join("sudo.toml");
    std::fs::write(
        &file,
        "name = \"t-sudo\"\nconclusion = \"X-TEST\"\nsummary = \"s\"\n\
         [endpoints.server]\nhost = \"server\"\nprogram = \"server\"\n\
         [endpoints.client]\nhost = \"client\"\nprogram = \"external\"\nshell = true\n\
         command = [\"id -u; grep CapEff /proc/self/status; sleep 30\"]\n\
         [[step]]\nwait = { duration = \"500ms\" }\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = run(&file, &out, Some((daemon.uid, daemon.gid)));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let client = stdout_lines(&out, "t-sudo", "client");
    assert_eq!(
        client,
        [daemon.uid.to_string(), "CapEff:\t0000000000000000".into()]
    );
    let r = report(&out, "t-sudo");
    assert_eq!(r["ran_as"]["client"], daemon.describe(), "{r}");
    assert_eq!(r["ran_as"]["server"], daemon.describe(), "{r}");
    // The built-in server's `started` event names the account it dropped to.
    let events = std::fs::read_to_string(out.join("t-sudo/events.jsonl")).unwrap();
    assert!(
        events.contains("server pid ") && events.contains(&format!(" as {}", daemon.describe())),
        "{events}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A one-endpoint scenario whose server is `command`, waiting up to 10 s
/// for its listener: the verdict must come at once, as `error` with `reason`.
fn assert_start_failure(tag: &str, command: &str, reason: &[&str]) {
    let dir = tmp(tag);
    let file = dir.join(format!("{tag}.toml"));
    std::fs::write(
        &file,
        format!(
            "name = \"t-{tag}\"\nconclusion = \"X-TEST\"\nsummary = \"s\"\n\
             [endpoints.server]\nhost = \"server\"\nprogram = \"external\"\ncommand = {command}\n\
             [[step]]\nwait = {{ socket = \"LISTEN\", host = \"server\", timeout = \"10s\" }}\n"
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let began = Instant::now();
    let o = run(&file, &out, None);
    let took = began.elapsed();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "an error verdict: {stderr}");
    // At once: well inside the wait's 10 s (a lab takes well under a second).
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let r = report(&out, &format!("t-{tag}"));
    assert_eq!(r["verdict"], "error", "{r}");
    let why = r["reason"].as_str().unwrap_or_default();
    for x in reason {
        assert!(why.contains(x), "`{x}` missing from the reason: {why}");
    }
    assert!(!why.contains("not seen"), "not a wait's timeout: {why}");
    assert!(!stderr.contains("teardown doctor"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn a_program_that_fails_to_start_or_exits_early_is_the_reason_at_once() {
    teardown_lab::require_privileged();
    // Executable, so it passes the check before the lab, but exec fails:
    // its interpreter is not there.
    let dir = tmp("interp");
    let script = dir.join("script");
    std::fs::write(&script, "#!/nonexistent/interpreter\n").unwrap();
    set_mode(&script, 0o755);
    assert_start_failure(
        "exec",
        &format!("[\"{}\"]", script.display()),
        &[
            &format!("endpoint server failed to start: exec {}", script.display()),
            ": ENOENT",
        ],
    );
    // Runs, complains and exits 3 before it ever listens.
    assert_start_failure(
        "early",
        r#"["sh", "-c", "echo starting >&2; echo 'bind: address in use' >&2; exit 3"]"#,
        &[
            "endpoint server ended on its own, failed: exit 3",
            "while step 1 waited for server socket in LISTEN",
            "its stderr ends: starting | bind: address in use",
        ],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn a_program_its_user_may_not_run_exits_2_before_any_lab() {
    teardown_lab::require_privileged();
    let dir = tmp("private-prog");
    let private = dir.join("private");
    std::fs::create_dir(&private).unwrap();
    set_mode(&private, 0o700);
    let prog = private.join("prog");
    std::fs::write(&prog, "#!/bin/sh\nsleep 30\n").unwrap();
    set_mode(&prog, 0o755);
    let text = |user: &str| {
        format!(
            "name = \"t-private\"\nconclusion = \"X-TEST\"\nsummary = \"s\"\n\
             [endpoints.server]\nhost = \"server\"\nprogram = \"external\"\n{user}command = [\"{}\"]\n\
             [[step]]\nwait = {{ duration = \"100ms\" }}\n",
            prog.display()
        )
    };
    let file = dir.join("private.toml");
    std::fs::write(&file, text("")).unwrap();
    let out = dir.join("out");
    let o = run(&file, &out, None);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("private.toml:7:11:"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "`{}` cannot be run by nobody (uid ",
            prog.display()
        )) && stderr.contains("): EACCES"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing created");
    // As root it may.
    std::fs::write(&file, text("user = \"root\"\n")).unwrap();
    let o = run(&file, &out, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `{shared}`: every lab of one `teardown` process sees the same directory
/// (per account, owned by it), and it is gone when the process ends.
#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn shared_directories_span_a_suite_and_go_with_it() {
    teardown_lab::require_privileged();
    let dir = tmp("shared");
    // Two scenarios in one run, one after the other (`--jobs 1`, in name
    // order): the first leaves a file in {shared}, the second finds it; both
    // print the path.
    let scenario = |name: &str, command: &str| {
        format!(
            "name = \"{name}\"\nconclusion = \"X-TEST\"\nsummary = \"s\"\n\
             [endpoints.server]\nhost = \"server\"\nprogram = \"external\"\nshell = true\n\
             command = [\"{command}\", \"echo {{shared}}; stat -c 'owner %u' {{shared}}; sleep 30\"]\n\
             [[step]]\nwait = {{ stdout = \"^owner\", source = \"server\", timeout = \"10s\" }}\n"
        )
    };
    std::fs::write(
        dir.join("a.toml"),
        scenario("t-shared-a", "echo left-by-a > {shared}/note;"),
    )
    .unwrap();
    std::fs::write(
        dir.join("b.toml"),
        scenario("t-shared-b", "cat {shared}/note;"),
    )
    .unwrap();
    let out = dir.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_teardown"))
        .arg("run")
        .arg(dir.join("a.toml"))
        .arg(dir.join("b.toml"))
        .args(["--jobs", "1"])
        .arg("--out")
        .arg(&out)
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let nobody = teardown_lab::account::Account::lookup("nobody").unwrap();
    let a = stdout_lines(&out, "t-shared-a", "server");
    let b = stdout_lines(&out, "t-shared-b", "server");
    assert_eq!(b[0], "left-by-a", "{b:?}");
    assert_eq!(a[0], b[1], "one directory for both: {a:?} {b:?}");
    assert!(
        a[0].starts_with("/run/teardown/shared/") && a[0].ends_with(&format!("/{}", nobody.uid)),
        "{a:?}"
    );
    assert_eq!(a[1], format!("owner {}", nobody.uid), "{a:?}");
    // The process is over: its shared directory went with it.
    let process_dir = Path::new(&a[0]).parent().unwrap();
    assert!(
        !process_dir.exists(),
        "{} left behind",
        process_dir.display()
    );
}
