//! Replay against tshark on a corpus of public captures (issue 15, item 5).
//!
//! `tests/corpus/` holds capture files from the tcpdump, libpcap, Zeek and
//! Suricata projects' own test suites (ORIGIN.md says which, from which
//! commit), and `tshark.json`: what tshark 4.0.17 says of each, written by
//! `tools/corpus_tshark.py` (CI checks it still does). This test runs
//! `teardown replay --json` on every capture and compares, frame by frame,
//! the eleven classes of Wireshark's TCP analysis; it prints per class the
//! frames both flag (TP), replay alone (FP), tshark alone (FN), precision
//! and recall, and holds every class to 0.98 for both. Every frame tshark
//! analyses as TCP is in replay's output, or replay names it on stderr.
//!
//! Where tshark is wrong, [`TSHARK_MISTAKES`] says so frame by frame, with
//! the reason; those frames count for replay's answer (the table shows the
//! figures before and after). A listed mistake that is no longer a
//! disagreement fails the test, so the list stays true.

mod cli_common;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/corpus");

/// Held for every class, precision and recall alike (the bar).
const BAR: f64 = 0.98;

/// (capture, frames, class, why tshark is wrong there).
const TSHARK_MISTAKES: &[(&str, &[u64], &str, &str)] = &[
    (
        "zeek/tcp_reassembly.pcap",
        &[8, 10, 12],
        "fast_retransmission",
        "tshark marks a direction whose peer ACKed data it never saw with \
         dupacknum = -1 (\"ACKed unseen segment\"), and its fast-retransmission \
         test `dupacknum >= 2` reads that unsigned counter as 4294967295: a \
         FIN sent again with no duplicate ACK at all is called a fast \
         retransmission. Replay: a retransmission",
    ),
    (
        "zeek/cisco-fabric-path.pcap",
        &[
            34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62, 64,
        ],
        "retransmission",
        "each SYN is captured twice, plain and inside Cisco FabricPath; \
         tshark's FabricPath dissector takes the frame's last 4 bytes for an \
         FCS the frame does not have (70 bytes: 16 FabricPath, 14 Ethernet, \
         the whole 40-byte IPv4 datagram), finds the IPv4 packet 4 bytes \
         short, calls the TCP header malformed and leaves it out of its \
         analysis; read whole, the second copy is the SYN again",
    ),
];

#[derive(Default, Clone, Copy)]
struct Count {
    tp: u64,
    fp: u64,
    fn_: u64,
}

impl Count {
    fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Frame numbers from `1-5,7`.
fn frames_of(ranges: &str) -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    for part in ranges.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        out.extend(a.parse::<u64>().unwrap()..=b.parse::<u64>().unwrap());
    }
    out
}

/// What replay said of one capture: its frames with their classes, and
/// how many frames its stderr names as not read.
struct Replay {
    classes: BTreeMap<u64, BTreeSet<String>>,
    named: u64,
    stopped: bool,
    stderr: String,
}

fn replay(path: &Path) -> Replay {
    let out = cli_common::teardown()
        .args(["replay", "--json"])
        .arg(path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // 2 with every whole frame read is a file that ends inside a record or
    // has a damaged one (as tshark, which also exits 2 there).
    let stopped = stderr.contains("whole frames before it were read");
    assert!(
        matches!(out.status.code(), Some(0 | 1)) || out.status.code() == Some(2) && stopped,
        "{}: replay exited {:?}: {stderr}",
        path.display(),
        out.status
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let classes = doc["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let c = p["classes"].as_array().unwrap();
            let c = c.iter().map(|v| v.as_str().unwrap().to_string()).collect();
            (p["frame"].as_u64().unwrap(), c)
        })
        .collect();
    // `...: frames not read, so not in this analysis: EtherType 0x9999: 2 frames, ...`
    let named = stderr
        .lines()
        .filter_map(|l| l.split_once("frames not read, so not in this analysis: "))
        .flat_map(|(_, what)| what.split(", ").map(str::to_string).collect::<Vec<_>>())
        .filter_map(|w| {
            let n = w.rsplit_once(": ")?.1.split(' ').next()?;
            n.parse::<u64>().ok()
        })
        .sum();
    Replay {
        classes,
        named,
        stopped,
        stderr,
    }
}

#[test]
fn replay_agrees_with_tshark_on_public_captures() {
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(CORPUS).join("tshark.json")).unwrap(),
    )
    .unwrap();
    let names: Vec<String> = golden["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let mistakes: BTreeMap<(String, u64, String), &str> = TSHARK_MISTAKES
        .iter()
        .flat_map(|(file, frames, class, why)| {
            frames
                .iter()
                .map(move |f| ((file.to_string(), *f, class.to_string()), *why))
        })
        .collect();
    let mut raw: BTreeMap<String, Count> = names
        .iter()
        .map(|n| (n.clone(), Count::default()))
        .collect();
    let mut fixed = raw.clone();
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    let captures = golden["captures"].as_object().unwrap();
    let (mut frames_total, mut tcp_total, mut stopped) = (0, 0, 0);
    for (file, g) in captures {
        let ours = replay(&Path::new(CORPUS).join(file));
        stopped += u64::from(ours.stopped);
        let tcp = frames_of(g["tcp"].as_str().unwrap());
        frames_total += g["frames"].as_u64().unwrap();
        tcp_total += tcp.len();
        // Every TCP frame tshark analyses is read, or named on stderr.
        let missing: Vec<u64> = tcp
            .iter()
            .filter(|f| !ours.classes.contains_key(f))
            .copied()
            .collect();
        if missing.len() as u64 > ours.named {
            problems.push(format!(
                "{file}: {} frame(s) tshark reads as TCP (first {:?}) neither read nor named \
                 (stderr names {}): {}",
                missing.len(),
                &missing[..missing.len().min(5)],
                ours.named,
                ours.stderr.trim()
            ));
        }
        let theirs: BTreeMap<u64, BTreeSet<String>> = g["flags"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(f, cs)| {
                let cs = cs
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string());
                (f.parse().unwrap(), cs.collect())
            })
            .collect();
        let flagged: BTreeSet<u64> = theirs
            .keys()
            .chain(
                ours.classes
                    .iter()
                    .filter(|(_, c)| !c.is_empty())
                    .map(|(f, _)| f),
            )
            .copied()
            .collect();
        for frame in flagged {
            let empty = BTreeSet::new();
            let (t, o) = (
                theirs.get(&frame).unwrap_or(&empty),
                ours.classes.get(&frame).unwrap_or(&empty),
            );
            for class in &names {
                let (in_t, in_o) = (t.contains(class), o.contains(class));
                let count = |c: &mut Count| match (in_t, in_o) {
                    (true, true) => c.tp += 1,
                    (false, true) => c.fp += 1,
                    (true, false) => c.fn_ += 1,
                    (false, false) => {}
                };
                count(raw.get_mut(class).unwrap());
                let key = (file.clone(), frame, class.clone());
                if in_t != in_o && mistakes.contains_key(&key) {
                    used.insert(key);
                    // tshark is wrong: replay's answer is the truth here.
                    if in_o {
                        fixed.get_mut(class).unwrap().tp += 1;
                    }
                } else {
                    count(fixed.get_mut(class).unwrap());
                }
            }
        }
    }
    for (key, _) in mistakes.iter().filter(|(k, _)| !used.contains(*k)) {
        problems.push(format!("listed tshark mistake is no disagreement: {key:?}"));
    }
    println!(
        "corpus: {} captures ({stopped} cut short or damaged, read to there), {frames_total} \
         frames, {tcp_total} TCP frames (tshark {})",
        captures.len(),
        golden["tshark"].as_str().unwrap()
    );
    println!(
        "{:<24} {:>6} {:>6} {:>4} {:>4} {:>9} {:>7}   as tshark has it: fp fn",
        "class", "tshark", "TP", "FP", "FN", "precision", "recall"
    );
    for class in &names {
        let (c, r) = (fixed[class], raw[class]);
        println!(
            "{class:<24} {:>6} {:>6} {:>4} {:>4} {:>9.3} {:>7.3}   {:>18} {:>2}",
            c.tp + c.fn_,
            c.tp,
            c.fp,
            c.fn_,
            c.precision(),
            c.recall(),
            r.fp,
            r.fn_
        );
        if c.tp + c.fn_ == 0 {
            problems.push(format!(
                "{class}: no frame of the corpus has it (add a capture that does)"
            ));
        }
        if c.precision() < BAR || c.recall() < BAR {
            problems.push(format!(
                "{class}: precision {:.3}, recall {:.3}, below {BAR}",
                c.precision(),
                c.recall()
            ));
        }
    }
    for (file, frames, class, why) in TSHARK_MISTAKES {
        println!("tshark is wrong on {file} frames {frames:?} ({class}): {why}");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
