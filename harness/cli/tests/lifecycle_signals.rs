//! Privileged: a `teardown run` interrupted by SIGINT or SIGTERM, during setup
//! or while a scenario waits, exits promptly and non-zero and leaves nothing:
//! no `td-<id>-*` namespace, no process inside one, no /run/netns mount, no
//! /run/teardown record.

mod lifecycle_common;

use lifecycle_common::*;
use nix::sys::signal::Signal;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
enum When {
    /// Right after the process starts (possibly before its handlers exist).
    AtStart,
    /// A few milliseconds in: loading, registering or building the lab.
    After(Duration),
    /// As soon as the run's first namespace exists (inside `Lab::up`).
    FirstNamespace,
    /// While the scenario waits out its 20 s `duration` step.
    Waiting,
}

fn interrupt(sig: Signal, when: When) {
    let what = format!("{sig} {when:?}");
    let dir = temp_dir("sig");
    let file = long_wait_scenario(&dir, "lifecycle-interrupted", 20);
    let out = dir.join("out");
    let mut child = start_run(&file, &out);
    let watcher = Watcher::start(child.id());
    let mut inside: Vec<i32> = Vec::new();
    match when {
        When::AtStart => {}
        When::After(d) => std::thread::sleep(d),
        When::FirstNamespace => {
            wait_for_lab(&mut child, &watcher, 1, 0, Duration::from_secs(10));
        }
        When::Waiting => {
            // Three namespaces; server endpoint, sleeper and client inside.
            let seen = wait_for_lab(&mut child, &watcher, 3, 3, Duration::from_secs(10));
            // Let the run reach the duration step (the client connected).
            std::thread::sleep(Duration::from_millis(500));
            for ino in seen.namespaces.values() {
                inside.extend(teardown_lab::netns::pids_in_netns(*ino));
            }
            assert!(
                inside.len() >= 3,
                "{what}: expected endpoint processes, saw {inside:?}"
            );
        }
    }
    let sent = Instant::now();
    signal(&child, sig);
    let status = wait_exit(&mut child, Duration::from_secs(5), &watcher, &what);
    let took = sent.elapsed();
    let seen = watcher.finish();
    let log = std::fs::read_to_string(out.with_extension("log")).unwrap_or_default();
    assert!(
        !status.success(),
        "{what}: exit status {status:?} should be non-zero\n{log}"
    );
    // Either our handler ran (130) or the signal came before it was installed.
    assert!(
        status.code() == Some(130) || status.signal() == Some(sig as i32),
        "{what}: unexpected exit {status:?}\n{log}"
    );
    if matches!(when, When::Waiting | When::FirstNamespace) {
        assert_eq!(
            status.code(),
            Some(130),
            "{what}: the run's handler should have run\n{log}"
        );
    }
    if matches!(when, When::Waiting) {
        assert!(
            took < Duration::from_secs(3),
            "{what}: took {took:?} to exit (the 20 s wait was not interrupted)"
        );
        assert_eq!(seen.namespaces.len(), 3, "{what}: {seen:?}");
    }
    assert_all_gone(&seen, &what);
    for pid in inside {
        assert!(
            !pid_alive(pid),
            "{what}: endpoint process {pid} outlived the run"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn sigint_at_every_point_leaves_nothing() {
    teardown_lab::require_privileged();
    for when in [
        When::AtStart,
        When::After(Duration::from_millis(15)),
        When::FirstNamespace,
        When::Waiting,
    ] {
        interrupt(Signal::SIGINT, when);
    }
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn sigterm_at_every_point_leaves_nothing() {
    teardown_lab::require_privileged();
    for when in [
        When::AtStart,
        When::After(Duration::from_millis(40)),
        When::FirstNamespace,
        When::Waiting,
    ] {
        interrupt(Signal::SIGTERM, when);
    }
}
