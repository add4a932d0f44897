//! Privileged: a SIGKILLed run leaves its lab (namespaces, processes,
//! record); `teardown clean` removes all of it and leaves a concurrently
//! live run alone.

mod lifecycle_common;

use lifecycle_common::*;
use nix::sys::signal::Signal;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn clean_removes_a_killed_run_and_spares_a_live_one() {
    teardown_lab::require_privileged();
    let dir = temp_dir("clean");
    let file = long_wait_scenario(&dir, "lifecycle-clean", 30);

    // The live run, which clean must not touch.
    let mut live = start_run(&file, &dir.join("live"));
    let live_watch = Watcher::start(live.id());
    let live_seen = wait_for_lab(&mut live, &live_watch, 3, 3, Duration::from_secs(10));

    // The run we kill.
    let mut dead = start_run(&file, &dir.join("dead"));
    let dead_watch = Watcher::start(dead.id());
    let dead_seen = wait_for_lab(&mut dead, &dead_watch, 3, 3, Duration::from_secs(10));
    signal(&dead, Signal::SIGKILL);
    let status = wait_exit(&mut dead, Duration::from_secs(5), &dead_watch, "SIGKILL");
    assert!(!status.success());
    let dead_seen = {
        let mut s = dead_watch.finish();
        s.namespaces.extend(dead_seen.namespaces);
        s
    };
    // Nothing ran its cleanup: the lab, a process in it, and the record are still there.
    let mut leftover_pids = Vec::new();
    for (name, ino) in &dead_seen.namespaces {
        assert!(
            Path::new("/run/netns").join(name).exists(),
            "{name} vanished without clean"
        );
        leftover_pids.extend(teardown_lab::netns::pids_in_netns(*ino));
    }
    assert!(
        !leftover_pids.is_empty(),
        "the external `sleep 300` should outlive a SIGKILLed run"
    );
    assert!(
        dead_seen.records.iter().all(|r| r.exists()),
        "the killed run's record is gone: {dead_seen:?}"
    );

    let out = Command::new(BIN).arg("clean").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "teardown clean failed: {out:?}");
    for name in dead_seen.namespaces.keys() {
        assert!(
            text.contains(&format!("removed namespace {name}")),
            "clean did not report {name}:\n{text}"
        );
    }
    assert_all_gone(&dead_seen, "after clean");
    for pid in leftover_pids {
        assert!(
            !pid_alive(pid),
            "process {pid} of the killed run survived clean"
        );
    }

    // The live run is untouched: namespaces, processes, record, and it is still running.
    assert!(
        live.try_wait().unwrap().is_none(),
        "clean ended the live run"
    );
    for (name, ino) in &live_seen.namespaces {
        assert!(
            Path::new("/run/netns").join(name).exists(),
            "clean removed {name} of a live run"
        );
        assert_eq!(
            nsfs_inode(&Path::new("/run/netns").join(name)),
            Some(*ino),
            "{name} is not the live run's namespace any more"
        );
    }
    let live_pids: usize = live_seen
        .namespaces
        .values()
        .map(|i| teardown_lab::netns::pids_in_netns(*i).len())
        .sum();
    assert!(live_pids >= 3, "clean killed processes of the live run");
    assert!(live_seen.records.iter().all(|r| r.exists()));
    assert!(
        text.contains("left alone: run"),
        "clean did not say it left the live run alone:\n{text}"
    );

    // End the live run the normal way; it cleans up after itself.
    signal(&live, Signal::SIGTERM);
    let st = wait_exit(&mut live, Duration::from_secs(5), &live_watch, "live run");
    assert_eq!(st.code(), Some(130));
    assert_all_gone(&live_watch.finish(), "live run after SIGTERM");
    let _ = std::fs::remove_dir_all(&dir);
}
