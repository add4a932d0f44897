//! Privileged: a full `teardown run scenarios/` changes nothing in the root
//! network namespace: links, addresses, routes, qdiscs, the nftables ruleset
//! and the `net.ipv4.tcp_*` sysctls are the same before and after (checked
//! with iproute2 and nft, independently of the harness's own code).

mod lifecycle_common;

use lifecycle_common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Output of a command, or a note that it is not installed.
fn run(cmd: &[&str]) -> String {
    match Command::new(cmd[0]).args(&cmd[1..]).output() {
        Ok(o) => format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => format!("{} unavailable: {e}", cmd[0]),
    }
}

/// Drops what changes by itself: address lifetimes and route expiry timers.
fn steady(text: &str) -> String {
    text.lines()
        .map(|l| {
            let mut out = Vec::new();
            let mut words = l.split_whitespace();
            while let Some(w) = words.next() {
                if matches!(w, "valid_lft" | "preferred_lft" | "expires") {
                    words.next();
                    continue;
                }
                out.push(w);
            }
            out.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn snapshot() -> BTreeMap<String, String> {
    let mut s = BTreeMap::new();
    for cmd in [
        &["ip", "-o", "link"][..],
        &["ip", "-o", "addr"],
        &["ip", "route", "show", "table", "all"],
        &["ip", "-6", "route", "show", "table", "all"],
        &["tc", "qdisc", "show"],
        &["nft", "list", "ruleset"],
    ] {
        s.insert(cmd.join(" "), steady(&run(cmd)));
    }
    let mut sysctls = Vec::new();
    for e in std::fs::read_dir("/proc/sys/net/ipv4").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("tcp_") {
            let v = std::fs::read_to_string(e.path()).unwrap_or_else(|e| format!("<{e}>"));
            sysctls.push(format!("{name} = {}", v.trim()));
        }
    }
    sysctls.sort();
    assert!(sysctls.len() > 20, "too few tcp_* sysctls: {sysctls:?}");
    s.insert("net.ipv4.tcp_*".into(), sysctls.join("\n"));
    s
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn a_full_run_leaves_the_root_namespace_as_it_was() {
    teardown_lab::require_privileged();
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let dir = temp_dir("rootns");
    let before = snapshot();
    let out = dir.join("out");
    let mut child = start_run(&scenarios, &out);
    let watcher = Watcher::start(child.id());
    let status = wait_exit(&mut child, Duration::from_secs(300), &watcher, "full run");
    let seen = watcher.finish();
    let after = snapshot();
    let log = std::fs::read_to_string(out.with_extension("log")).unwrap_or_default();
    assert!(
        status.code().is_some(),
        "the run ended by a signal: {status:?}\n{log}"
    );
    assert!(
        out.join("summary.json").exists(),
        "the run wrote no summary\n{log}"
    );
    assert!(
        !seen.namespaces.is_empty(),
        "the run's labs were never seen\n{log}"
    );
    for (what, b) in &before {
        let a = &after[what];
        assert!(
            a == b,
            "`{what}` changed in the root namespace:\n--- before\n{b}\n--- after\n{a}"
        );
    }
    assert_all_gone(&seen, "full run");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn steady_drops_only_what_changes_by_itself() {
    assert_eq!(
        steady("4: eth0 inet 192.0.2.2/24 scope global dynamic eth0\\ valid_lft 3599sec preferred_lft 3599sec"),
        "4: eth0 inet 192.0.2.2/24 scope global dynamic eth0\\"
    );
    assert_eq!(
        steady("2001:db8::/64 dev eth0 proto ra metric 100 expires 86395sec pref medium"),
        "2001:db8::/64 dev eth0 proto ra metric 100 pref medium"
    );
    assert_ne!(
        steady("198.18.0.0/15 dev td0"),
        steady("198.18.0.0/15 dev td1")
    );
}
