//! Golden captures (tests/golden/, made by tests/golden/make.sh on real
//! namespaces): our analysis against the expected analysis stored next to
//! each capture (`<capture>.expected.json`: per-frame classifications as
//! tshark 4.0 gave them, and each connection's verdict), and, when the tools
//! are installed, against tshark's `tcp.analysis.*` flags and `tcpdump -nn -S`.
//!
//! `GOLDEN_UPDATE=1 cargo test --test golden_agreement` rewrites the expected
//! files (frames from tshark, verdicts from us: review the diff).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use teardown_core::analysis::conn::{Analyzer, Classes, ConnSummary};
use teardown_core::analysis::{wire, CaptureReader};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden")
}

fn captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.ends_with(".pcap") || n.ends_with(".pcapng")
        })
        .collect();
    v.sort();
    assert!(v.len() >= 6, "golden captures missing: {v:?}");
    v
}

/// One TCP frame as we see it.
struct Ours {
    frame: usize,
    seg: wire::Segment,
    classes: Vec<&'static str>,
}

fn analyze(path: &Path) -> (Vec<Ours>, Vec<ConnSummary>) {
    let bytes = std::fs::read(path).unwrap();
    let mut r = CaptureReader::new(&bytes[..]).unwrap();
    let mut a = Analyzer::new(vec![]);
    let mut out = Vec::new();
    let mut n = 0;
    while let Some(f) = r.next_frame().unwrap() {
        n += 1;
        if let Some(seg) = wire::decode(f.linktype, f.data) {
            let info = a.push(f.ts_ns, f.iface, &seg);
            out.push(Ours {
                frame: n,
                seg,
                classes: info.classes.names(),
            });
        }
    }
    (out, a.finish())
}

fn expected_path(cap: &Path) -> PathBuf {
    let mut p = cap.as_os_str().to_owned();
    p.push(".expected.json");
    PathBuf::from(p)
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// tshark's `tcp.analysis.*` flags per frame (frames with none left out).
fn tshark_flags(cap: &Path) -> BTreeMap<usize, Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(cap)
        .args(["-T", "fields", "-e", "frame.number"]);
    for (_, name) in Classes::NAMES {
        cmd.args(["-e", &format!("tcp.analysis.{name}")]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(out.status.success(), "tshark failed on {}", cap.display());
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let frame: usize = cols[0].parse().unwrap();
        let set: Vec<String> = Classes::NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| cols.get(i + 1).is_some_and(|c| !c.is_empty()))
            .map(|(_, (_, n))| n.to_string())
            .collect();
        if !set.is_empty() {
            m.insert(frame, set);
        }
    }
    m
}

fn our_flags(ours: &[Ours]) -> BTreeMap<usize, Vec<String>> {
    ours.iter()
        .filter(|o| !o.classes.is_empty())
        .map(|o| (o.frame, o.classes.iter().map(|s| s.to_string()).collect()))
        .collect()
}

fn conn_json(c: &ConnSummary) -> serde_json::Value {
    serde_json::json!({
        "client": c.client.to_string(),
        "server": c.server.to_string(),
        "ending": c.ending.name(),
        "closed_first": c.closed_first.map(|s| s.name()),
        "by": c.by.map(|s| s.name()),
        "state": c.state,
    })
}

fn diff(
    what: &str,
    cap: &Path,
    want: &BTreeMap<usize, Vec<String>>,
    got: &BTreeMap<usize, Vec<String>>,
) {
    let mut bad = Vec::new();
    for f in want.keys().chain(got.keys()) {
        if want.get(f) != got.get(f) {
            bad.push(format!(
                "frame {f}: {what} {:?}, ours {:?}",
                want.get(f),
                got.get(f)
            ));
        }
    }
    bad.dedup();
    assert!(bad.is_empty(), "{}:\n{}", cap.display(), bad.join("\n"));
}

#[test]
fn golden_expected_analysis() {
    let update = std::env::var("GOLDEN_UPDATE").is_ok();
    for cap in captures() {
        let (ours, conns) = analyze(&cap);
        let exp_path = expected_path(&cap);
        if update {
            let frames: BTreeMap<String, Vec<String>> = tshark_flags(&cap)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            let v = serde_json::json!({
                "frames": frames,
                "connections": conns.iter().map(conn_json).collect::<Vec<_>>(),
            });
            std::fs::write(&exp_path, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
        }
        let exp: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&exp_path).unwrap()).unwrap();
        let want: BTreeMap<usize, Vec<String>> = exp["frames"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let names = v
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string());
                (k.parse().unwrap(), names.collect())
            })
            .collect();
        diff("expected", &cap, &want, &our_flags(&ours));
        let got: Vec<serde_json::Value> = conns.iter().map(conn_json).collect();
        assert_eq!(
            serde_json::Value::Array(got),
            exp["connections"],
            "{}: connection verdicts",
            cap.display()
        );
    }
}

#[test]
fn golden_agrees_with_tshark() {
    if !have("tshark") {
        eprintln!("tshark not installed: skipped");
        return;
    }
    for cap in captures() {
        let (ours, _) = analyze(&cap);
        diff("tshark", &cap, &tshark_flags(&cap), &our_flags(&ours));
    }
}

/// `tcpdump -nn -S`: flags, absolute seq and ack of every TCP frame.
#[test]
fn golden_agrees_with_tcpdump() {
    if !have("tcpdump") {
        eprintln!("tcpdump not installed: skipped");
        return;
    }
    for cap in captures() {
        let (ours, _) = analyze(&cap);
        let out = Command::new("tcpdump")
            .args(["-nn", "-S", "-r"])
            .arg(&cap)
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("Flags [")).collect();
        assert_eq!(
            lines.len(),
            ours.len(),
            "{}: TCP frame count",
            cap.display()
        );
        for (line, o) in lines.iter().zip(&ours) {
            let flags = line
                .split("Flags [")
                .nth(1)
                .unwrap()
                .split(']')
                .next()
                .unwrap();
            let mut a: Vec<char> = flags.chars().collect();
            let mut b: Vec<char> = o.seg.flags.tcpdump().chars().collect();
            a.sort();
            b.sort();
            assert_eq!(a, b, "{}: frame {} flags: {line}", cap.display(), o.frame);
            let field = |name: &str| -> Option<u32> {
                let rest = line.split(&format!(", {name} ")).nth(1)?;
                let num: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                num.parse().ok()
            };
            if let Some(seq) = field("seq") {
                assert_eq!(
                    seq,
                    o.seg.seq,
                    "{}: frame {} seq: {line}",
                    cap.display(),
                    o.frame
                );
            }
            if let Some(ack) = field("ack") {
                assert_eq!(
                    ack,
                    o.seg.ack,
                    "{}: frame {} ack: {line}",
                    cap.display(),
                    o.frame
                );
            }
            // Lines cut by the snaplen (`[|tcp]`) end before the length.
            if let Ok(len) = line.rsplit("length ").next().unwrap().trim().parse::<u32>() {
                assert_eq!(
                    len,
                    o.seg.len,
                    "{}: frame {} length: {line}",
                    cap.display(),
                    o.frame
                );
            }
        }
    }
}
