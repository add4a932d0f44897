//! Privileged: each scenario folder holds one capture per wire port, each a
//! cable as Wireshark reads it: one interface, frames no longer than the MTU
//! plus the Ethernet header, and (in C1, C2 and C7, where nothing is lost)
//! nothing tshark's TCP analysis flags.

mod cli_common;

use cli_common::{teardown, tmp};
use std::path::Path;
use std::process::Command;

/// tshark's fields of every frame of `file` matching `filter` (empty: all),
/// one line per frame. Panics, naming the fix, when tshark is missing (a test
/// that cannot compare fails, it does not skip).
fn tshark(file: &Path, filter: &str, fields: &[&str]) -> Vec<String> {
    let mut c = Command::new("tshark");
    c.arg("-n").arg("-r").arg(file).args(["-T", "fields"]);
    for f in fields {
        c.args(["-e", f]);
    }
    if !filter.is_empty() {
        c.args(["-Y", filter]);
    }
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("tshark: {e} (make deps installs it)"));
    assert!(
        out.status.success(),
        "tshark -r {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// What tshark's TCP analysis calls trouble.
const TROUBLE: &str = "tcp.analysis.retransmission || tcp.analysis.fast_retransmission \
    || tcp.analysis.spurious_retransmission || tcp.analysis.duplicate_ack \
    || tcp.analysis.lost_segment || tcp.analysis.out_of_order || tcp.analysis.ack_lost_segment";

/// Runs `files` over both families into a fresh directory for `tag`, as
/// root; panics unless every scenario passed. Returns the directory.
fn run_both(tag: &str, files: &[&str]) -> std::path::PathBuf {
    let out = tmp(tag);
    let status = teardown()
        .arg("run")
        .args(files)
        .args(["--ip", "both", "--quiet", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the scenarios failed: see {}",
        out.display()
    );
    out
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn each_port_has_its_own_capture_and_a_clean_close_shows_no_trouble() {
    teardown_lab::require_privileged();
    let _one = cli_common::serial();
    let out = run_both(
        "capfiles",
        &[
            "scenarios/c1-client-closes-server-prompt.toml",
            "scenarios/c2-kill-client.toml",
            "scenarios/c7-close-unread.toml",
        ],
    );
    let mut dirs = 0;
    for entry in std::fs::read_dir(&out).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("capture.pcapng").exists() {
            continue;
        }
        dirs += 1;
        let merged = dir.join("capture.pcapng");
        for port in ["client-port", "server-port"] {
            let file = dir.join(format!("{port}.pcapng"));
            assert!(file.exists(), "{} has no {port}.pcapng", dir.display());
            // One interface, the port's, and exactly the port's frames of the merged file.
            let names = tshark(&file, "", &["frame.interface_name"]);
            assert!(!names.is_empty(), "{} is empty", file.display());
            assert!(
                names.iter().all(|n| n == port),
                "{}: interfaces {:?}",
                file.display(),
                names.iter().collect::<std::collections::BTreeSet<_>>()
            );
            let in_merged = tshark(
                &merged,
                &format!("frame.interface_name == \"{port}\""),
                &["frame.len"],
            );
            assert_eq!(names.len(), in_merged.len(), "{}", file.display());
            // The harness's comments are there too (the run's steps).
            assert!(
                !tshark(
                    &file,
                    "frame.comment contains \"teardown:\"",
                    &["frame.number"]
                )
                .is_empty(),
                "{}: no harness comments",
                file.display()
            );
            // As a cable: no frame longer than MTU + Ethernet header.
            let longest = tshark(&file, "", &["frame.len"])
                .iter()
                .filter_map(|l| l.parse::<u32>().ok())
                .max()
                .unwrap();
            assert!(
                longest <= 1514,
                "{}: a {longest}-byte frame",
                file.display()
            );
            // A clean close, seen on one cable: nothing tshark calls trouble.
            let flagged = tshark(&file, TROUBLE, &["frame.number", "_ws.col.Info"]);
            assert!(
                flagged.is_empty(),
                "{}: tshark flags {flagged:#?}",
                file.display()
            );
        }
    }
    assert_eq!(
        dirs,
        6,
        "three scenarios over two families in {}",
        out.display()
    );
    std::fs::remove_dir_all(&out).unwrap();
}

/// The `harness fault` events of a run's events.jsonl: (time, detail).
fn faults(dir: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<teardown_core::evidence::Event>(l).ok())
        .filter(|e| e.kind == teardown_core::scenario::EventKind::Fault)
        .map(|e| (e.ts_ns, e.detail.unwrap_or_default()))
        .collect()
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn c3s_ladder_loses_nothing_before_the_cut_and_every_retransmission_after_it() {
    teardown_lab::require_privileged();
    let _one = cli_common::serial();
    let out = run_both("c3ladder", &["scenarios/c3-cut-while-sending.toml"]);
    for name in ["c3-cut-while-sending", "c3-cut-while-sending-v6"] {
        let dir = out.join(name);
        let cut = faults(&dir)
            .into_iter()
            .find(|(_, d)| d == "cut")
            .expect("a cut")
            .0;
        let data = teardown_lab::files::read_capture_file(&dir.join("capture.pcapng")).unwrap();
        let ev = teardown_core::analysis::evidence_from_capture(&data);
        let arrows = teardown_core::report::ladder::arrows(&ev);
        let before: Vec<_> = arrows.iter().filter(|a| a.ts_ns < cut).collect();
        assert!(
            before.len() > 100,
            "{name}: {} arrows before the cut",
            before.len()
        );
        let lost_before: Vec<_> = before.iter().filter(|a| a.lost).collect();
        assert!(
            lost_before.is_empty(),
            "{name}: lost before the cut: {lost_before:#?}"
        );
        let retrans: Vec<_> = arrows
            .iter()
            .filter(|a| a.ts_ns >= cut && a.label.contains("retransmission"))
            .collect();
        assert!(
            retrans.len() >= 3,
            "{name}: {} retransmissions after the cut",
            retrans.len()
        );
        let arrived: Vec<_> = retrans.iter().filter(|a| !a.lost).collect();
        assert!(
            arrived.is_empty(),
            "{name}: retransmissions into the cut not LOST: {arrived:#?}"
        );
        // The SVG says the same.
        let svg = std::fs::read_to_string(dir.join("ladder.svg")).unwrap();
        assert_eq!(
            svg.matches(" LOST</text>").count(),
            arrows.iter().filter(|a| a.lost).count(),
            "{name}"
        );
    }
    std::fs::remove_dir_all(&out).unwrap();
}
