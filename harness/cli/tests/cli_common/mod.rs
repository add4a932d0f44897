//! Helpers shared by the tests that run the `teardown` binary as a user
//! would: the command from the project's root, a fresh temporary directory,
//! one lab at a time, and the `td-` namespaces present.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// `teardown`, run from the project's root like `make scenarios` (the
/// catalogue names its programs from there).
pub fn teardown() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_teardown"));
    c.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    c
}

/// A fresh, empty temporary directory for `tag`.
pub fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("td-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One at a time: tests that compare the namespaces before and after a run,
/// or copy the binary to run it unprivileged (a process forked meanwhile
/// would hold the copy open: ETXTBSY), take this lock (cargo runs the tests
/// of one binary in parallel).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The `td-` namespaces on this machine now.
pub fn our_namespaces() -> Vec<String> {
    teardown_lab::netns::list()
        .into_iter()
        .filter(|n| n.starts_with("td-"))
        .collect()
}

/// A packet of replay's JSON (`packets`): its classes as the text line
/// ends with them, ` [retransmission, duplicate_ack]`, or nothing.
pub fn classes_suffix(p: &serde_json::Value) -> String {
    let classes: Vec<&str> = p["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    if classes.is_empty() {
        String::new()
    } else {
        format!(" [{}]", classes.join(", "))
    }
}
