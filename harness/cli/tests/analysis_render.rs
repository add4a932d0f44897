//! The capture tools end to end, without root: a synthetic harness capture
//! (pcapng, `client-port` and `server-port`, nanosecond timestamps, harness
//! comments, a cut) through `teardown replay` and `teardown diagram`; every
//! SVG (ladder of each golden capture, the index's inline diagrams) parsed
//! and rasterized by resvg and checked not blank; bad files give exit 2 with
//! a byte offset.

mod cli_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use teardown_core::evidence::Check;
use teardown_core::report::{ScenarioResult, Summary, Verdict};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_teardown")
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("td-analysis-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/golden")
        .join(name)
}

// ---- a tiny pcapng writer -------------------------------------------------

fn block(t: u32, body: &[u8]) -> Vec<u8> {
    let len = (12 + body.len()) as u32;
    let mut b = t.to_le_bytes().to_vec();
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

fn opt(code: u16, v: &[u8]) -> Vec<u8> {
    let mut o = code.to_le_bytes().to_vec();
    o.extend_from_slice(&(v.len() as u16).to_le_bytes());
    o.extend_from_slice(v);
    while !o.len().is_multiple_of(4) {
        o.push(0);
    }
    o
}

struct Frame {
    iface: u32,
    ts_ns: u64,
    c2s: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    len: usize,
    comment: Option<&'static str>,
}

fn eth_tcp(c2s: bool, flags: u8, seq: u32, ack: u32, len: usize) -> Vec<u8> {
    let (src, dst, sp, dp) = if c2s {
        ([198, 18, 0, 1], [198, 18, 0, 2], 40000u16, 8080u16)
    } else {
        ([198, 18, 0, 2], [198, 18, 0, 1], 8080, 40000)
    };
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&((40 + len) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sp.to_be_bytes());
    f.extend_from_slice(&dp.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags]);
    f.extend_from_slice(&502u16.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend(std::iter::repeat_n(b'x', len));
    f
}

fn pcapng(frames: &[Frame]) -> Vec<u8> {
    let mut f = Vec::new();
    let mut shb = 0x1A2B3C4Du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    f.extend(block(0x0A0D0D0A, &shb));
    for name in ["client-port", "server-port"] {
        let mut b = 1u16.to_le_bytes().to_vec();
        b.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        b.extend(opt(2, name.as_bytes()));
        b.extend(opt(9, &[9]));
        b.extend(opt(0, &[]));
        f.extend(block(1, &b));
    }
    for fr in frames {
        let data = eth_tcp(fr.c2s, fr.flags, fr.seq, fr.ack, fr.len);
        let mut b = fr.iface.to_le_bytes().to_vec();
        b.extend_from_slice(&((fr.ts_ns >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(fr.ts_ns as u32).to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&data);
        while !b.len().is_multiple_of(4) {
            b.push(0);
        }
        if let Some(c) = fr.comment {
            b.extend(opt(1, c.as_bytes()));
            b.extend(opt(0, &[]));
        }
        f.extend(block(6, &b));
    }
    f
}

/// Handshake, data, then a cut: the client's data and its retransmissions
/// reach `client-port` only.
fn harness_capture() -> Vec<u8> {
    const S: u8 = 0x02;
    const A: u8 = 0x10;
    const P: u8 = 0x08;
    let t0 = 1_700_000_000_000_000_000u64;
    let ms = 1_000_000u64;
    let mut frames = Vec::new();
    let mut both = |t: u64,
                    c2s: bool,
                    flags: u8,
                    seq: u32,
                    ack: u32,
                    len: usize,
                    comment: Option<&'static str>| {
        let (first, second) = if c2s { (0, 1) } else { (1, 0) };
        frames.push(Frame {
            iface: first,
            ts_ns: t,
            c2s,
            flags,
            seq,
            ack,
            len,
            comment,
        });
        frames.push(Frame {
            iface: second,
            ts_ns: t + 20_000,
            c2s,
            flags,
            seq,
            ack,
            len,
            comment: None,
        });
    };
    both(t0, true, S, 1000, 0, 0, None);
    both(t0 + ms, false, S | A, 5000, 1001, 0, None);
    both(t0 + 2 * ms, true, A, 1001, 5001, 0, None);
    both(t0 + 3 * ms, true, P | A, 1001, 5001, 100, None);
    both(t0 + 4 * ms, false, A, 5001, 1101, 0, None);
    let mut t = t0 + 500 * ms;
    let mut rto = 200 * ms;
    for i in 0..6 {
        frames.push(Frame {
            iface: 0,
            ts_ns: t,
            c2s: true,
            flags: P | A,
            seq: 1101,
            ack: 5001,
            len: 50,
            comment: if i == 0 {
                Some("teardown: fault cut")
            } else {
                None
            },
        });
        t += rto;
        rto *= 2;
    }
    pcapng(&frames)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Rasterizes an SVG with resvg; returns the share of non-white pixels.
fn ink(svg: &str) -> f64 {
    let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default())
        .unwrap_or_else(|e| panic!("resvg cannot parse the SVG: {e}"));
    let size = tree.size().to_int_size();
    assert!(
        size.width() > 100 && size.height() > 100,
        "diagram size {size:?}"
    );
    let mut pix = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pix.as_mut(),
    );
    let data = pix.data();
    let total = data.len() / 4;
    let inked = data
        .chunks(4)
        .filter(|p| p[3] > 0 && (p[0] < 200 || p[1] < 200 || p[2] < 200))
        .count();
    inked as f64 / total as f64
}

#[test]
fn analysis_replay_harness_capture() {
    let d = tmpdir("replay");
    let cap = d.join("capture.pcapng");
    std::fs::write(&cap, harness_capture()).unwrap();
    let (code, out, err) = run(&["replay", cap.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["interfaces"],
        serde_json::json!(["client-port", "server-port"])
    );
    let pk = v["packets"].as_array().unwrap();
    assert_eq!(pk.len(), 16);
    // Relative numbers; the SYN is 0.
    assert_eq!(
        (pk[0]["seq"].as_u64(), pk[0]["dir"].as_str()),
        (Some(0), Some("C>S"))
    );
    let lost: Vec<&serde_json::Value> = pk.iter().filter(|p| p["lost_in_wire"] == true).collect();
    assert_eq!(lost.len(), 6, "the six segments sent into the cut");
    assert_eq!(lost[1]["classes"], serde_json::json!(["retransmission"]));
    // Nothing seen twice is a retransmission or a duplicate ACK.
    let flagged = pk
        .iter()
        .filter(|p| !p["classes"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(flagged, 5);
    let c = &v["connections"][0];
    assert_eq!(c["ending"], "silent_death");
    assert_eq!(c["by"], "client");
    assert_eq!(v["comments"][0]["text"], "teardown: fault cut");

    let (code, abs, _) = run(&["replay", cap.to_str().unwrap(), "--json", "--absolute-seq"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&abs).unwrap();
    assert_eq!(v["packets"][0]["seq"].as_u64(), Some(1000));

    let (code, text, _) = run(&["replay", cap.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(text.contains("LOST IN THE WIRE"), "{text}");
    assert!(text.contains("-- teardown: fault cut"), "{text}");
    assert!(text.contains("silent_death"), "{text}");
    // One line per wire segment: 5 delivered + 6 lost.
    assert_eq!(
        text.lines().filter(|l| l.contains(" #1   ")).count(),
        11,
        "{text}"
    );

    let (code, text, _) = run(&["replay", cap.to_str().unwrap(), "--summary-only"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("silent_death") && !text.contains("LOST"),
        "{text}"
    );

    let svg = d.join("ladder.svg");
    let (code, _, err) = run(&[
        "diagram",
        cap.to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(
        svg.contains(">fault cut<") || svg.contains(">cut<"),
        "fault band label"
    );
    assert!(svg.contains("idle"), "compressed gaps are said on the axis");
    assert!(ink(&svg) > 0.005, "diagram is blank");
}

#[test]
fn analysis_bad_files_exit_2_with_offset() {
    let d = tmpdir("bad");
    let mut cap = harness_capture();
    cap.truncate(cap.len() - 10);
    let p = d.join("cut.pcapng");
    std::fs::write(&p, &cap).unwrap();
    let (code, _, err) = run(&["replay", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("at byte") && err.contains("truncated"),
        "{err}"
    );
    let p = d.join("junk.pcap");
    std::fs::write(&p, b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let (code, _, err) = run(&["replay", p.to_str().unwrap(), "--summary-only"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("at byte 0"), "{err}");
    let (code, _, _) = run(&["replay", d.join("missing.pcap").to_str().unwrap()]);
    assert_eq!(code, 2);
}

#[test]
fn analysis_golden_ladders_render() {
    for name in [
        "close4.pcap",
        "retrans.pcapng",
        "silent.pcapng",
        "rst-v6.pcap",
    ] {
        let data = teardown_lab::files::read_capture_file(&golden(name)).unwrap();
        let ev = teardown_core::analysis::evidence_from_capture(&data);
        let svg = teardown_core::report::ladder::render(&ev, name);
        assert!(ink(&svg) > 0.005, "{name}: blank diagram");
    }
}

#[test]
fn analysis_index_renders_every_scenario() {
    let names = ["c1-close", "c3-rst", "c5-silent"];
    let caps = ["close4.pcap", "rst-v6.pcap", "silent.pcapng"];
    let mut ladders = BTreeMap::new();
    let mut scenarios = Vec::new();
    for (name, cap) in names.iter().zip(caps) {
        let data = teardown_lab::files::read_capture_file(&golden(cap)).unwrap();
        let ev = teardown_core::analysis::evidence_from_capture(&data);
        ladders.insert(
            name.to_string(),
            teardown_core::report::ladder::render(&ev, name),
        );
        scenarios.push(ScenarioResult {
            name: name.to_string(),
            file: format!("scenarios/{name}.toml"),
            conclusion: "C1".into(),
            summary: "how it ends".into(),
            family: "v4".into(),
            topology: "switched".into(),
            profile: "fast".into(),
            verdict: Verdict::Pass,
            reason: None,
            wall_seconds: 1.0,
            predicted_seconds: None,
            measured_seconds: None,
            checks: vec![Check {
                kernel: None,
                name: "packets".into(),
                ok: true,
                evidence: vec!["C>S F.".into()],
            }],
            ran_as: Default::default(),
            artifacts: [("pcap".to_string(), format!("{name}/capture.pcapng"))].into(),
        });
    }
    let summary = Summary {
        repeats: vec![],
        scenarios,
        wall_seconds: 3.0,
        kernel: "test".into(),
        profile: "fast".into(),
    };
    let html = teardown_core::report::html::render_index(&summary, &ladders);
    let d = tmpdir("index");
    std::fs::write(d.join("index.html"), &html).unwrap();
    // Every scenario in the table and as a section; every inline diagram renders.
    let svgs: Vec<&str> = html
        .split("<svg")
        .skip(1)
        .map(|s| &s[..s.find("</svg>").expect("closed svg") + 6])
        .collect();
    assert_eq!(svgs.len(), names.len());
    for (name, svg) in names.iter().zip(&svgs) {
        assert!(html.contains(&format!("<a href=\"#s-{name}\">{name}</a>")));
        assert!(html.contains(&format!("id=\"s-{name}\"")));
        assert!(html.contains(&format!("href=\"{name}/capture.pcapng\"")));
        let svg = format!("<svg{svg}");
        assert!(svg.contains(name), "diagram titled {name}");
        assert!(ink(&svg) > 0.005, "{name}: blank inline diagram");
    }
    // With chromium installed, also take a screenshot of the page.
    if let Ok(out) = Command::new("chromium").arg("--version").output() {
        if out.status.success() {
            let shot = d.join("shot.png");
            let st = Command::new("chromium")
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                ])
                .arg(format!("--screenshot={}", shot.display()))
                .arg("--window-size=1200,3000")
                .arg(format!("file://{}", d.join("index.html").display()))
                .output()
                .unwrap();
            assert!(st.status.success(), "chromium failed");
            assert!(
                std::fs::metadata(&shot).unwrap().len() > 10_000,
                "screenshot is empty"
            );
        }
    }
}

/// A capture copied while tcpdump was still writing it ends inside its last
/// record. tcpdump and tshark print every whole packet and then say where the
/// file ends (exit 1 and 2); replay does the same, exit 2 (the input is
/// incomplete), for full output and `--summary-only`, pcap and pcapng.
#[test]
fn a_capture_cut_inside_its_last_record_shows_every_whole_packet() {
    let dir = tmpdir("cut");
    for name in ["retrans.pcapng", "close4.pcap"] {
        let whole = std::fs::read(golden(name)).unwrap();
        let cut = dir.join(name);
        std::fs::write(&cut, &whole[..whole.len() - 10]).unwrap();
        let run = |extra: &[&str]| {
            Command::new(bin())
                .arg("replay")
                .args(extra)
                .arg(&cut)
                .output()
                .unwrap()
        };
        let whole_out = Command::new(bin())
            .args(["replay", "--json"])
            .arg(golden(name))
            .output()
            .unwrap();
        let whole_json: serde_json::Value = serde_json::from_slice(&whole_out.stdout).unwrap();
        let out = run(&["--json"]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("the file ends inside a record at byte"),
            "{name}: {err}"
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // Every whole packet, analysed as in the whole file: a prefix of its
        // packets, missing at most the one cut (the last block may be no packet).
        let (got, all) = (
            json["packets"].as_array().unwrap(),
            whole_json["packets"].as_array().unwrap(),
        );
        assert!(
            got.len() + 1 >= all.len() && !got.is_empty(),
            "{name}: {} of {}",
            got.len(),
            all.len()
        );
        assert_eq!(got[..], all[..got.len()], "{name}: the same analysis");
        // tcpdump agrees on what is whole (when installed: make deps installs it).
        if let Ok(t) = Command::new("tcpdump")
            .arg("-nn")
            .arg("-r")
            .arg(&cut)
            .output()
        {
            let lines = String::from_utf8_lossy(&t.stdout).lines().count();
            let frames = json["packets"].as_array().unwrap().last().unwrap()["frame"]
                .as_u64()
                .unwrap();
            assert_eq!(
                lines as u64, frames,
                "{name}: tcpdump printed {lines} frames"
            );
            assert_ne!(t.status.code(), Some(0), "tcpdump calls it an error too");
        }
        let summary = run(&["--summary-only"]);
        assert_eq!(summary.status.code(), Some(2), "{name}");
        assert!(String::from_utf8_lossy(&summary.stdout).contains("connection #1"));
        // `diagram` draws the whole packets and says the same, exit 2.
        let svg = dir.join(format!("{name}.svg"));
        let d = Command::new(bin())
            .arg("diagram")
            .arg(&cut)
            .arg("-o")
            .arg(&svg)
            .output()
            .unwrap();
        assert_eq!(d.status.code(), Some(2), "{name}: diagram");
        assert!(
            String::from_utf8_lossy(&d.stderr).contains("the file ends inside a record at byte")
        );
        assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A damaged record (a length no record can have) in the middle of a file:
/// as tshark (which exits 2 and shows the packets before it), replay reads
/// up to there, says where and why on stderr, and exits 2.
#[test]
fn a_damaged_record_is_read_up_to_there() {
    let dir = tmpdir("damaged");
    let mut b = std::fs::read(golden("close4.pcap")).unwrap();
    // The third record's captured length (pcap: 24-byte file header, then
    // 16-byte record headers): set it far past anything a record can hold.
    let mut at = 24;
    for _ in 0..2 {
        let caplen = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
    }
    b[at + 8..at + 12].copy_from_slice(&0xEA00_0000u32.to_le_bytes());
    let path = dir.join("damaged.pcap");
    std::fs::write(&path, &b).unwrap();
    let out = Command::new(bin())
        .args(["replay", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the file is damaged at byte"), "{err}");
    assert!(
        err.contains("the 2 whole frames before it were read"),
        "{err}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["packets"].as_array().unwrap().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A capture of a link type replay does not read is no silent "0 TCP
/// segments": stderr names the link type and its frame count.
#[test]
fn frames_of_an_unread_link_type_are_named_on_stderr() {
    let dir = tmpdir("unread");
    let path = dir.join("user0.pcap");
    // pcap, link type 147 (USER0: private to whoever wrote it), two 4-byte frames.
    let mut b = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&147u32.to_le_bytes());
    for t in 0..2u32 {
        for v in [t, 0, 4, 4] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(b"abcd");
    }
    std::fs::write(&path, &b).unwrap();
    for extra in [&[][..], &["--summary-only"][..]] {
        let out = Command::new(bin())
            .arg("replay")
            .args(extra)
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{extra:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("frames not read, so not in this analysis: link type 147: 2 frames"),
            "{extra:?}: {err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Full text output streams a one-port capture; its lines say what the
/// loaded analysis (`--json`) says, packet for packet: frame, connection,
/// direction, flags, numbers and classes; each connection is introduced
/// before its first line, and the counts come last.
#[test]
fn streamed_lines_match_the_loaded_analysis() {
    for name in [
        "close3.pcapng",
        "close4.pcap",
        "keepalive.pcapng",
        "refused.pcap",
        "retrans.pcapng",
        "rst-v6.pcap",
        "silent.pcapng",
        "zerowin.pcap",
    ] {
        let path = golden(name);
        let (code, text, err) = run(&["replay", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {err}");
        let (code, json, _) = run(&["replay", "--json", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let packets = v["packets"].as_array().unwrap();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .nth(2)
                    .is_some_and(|c| c.starts_with('#'))
            })
            .collect();
        assert_eq!(lines.len(), packets.len(), "{name}: {text}");
        for (line, p) in lines.iter().zip(packets) {
            let mut want = format!(
                "{} {:.6} #{} {} {} seq {} ack {} len {} win {}",
                p["frame"],
                p["t"].as_f64().unwrap(),
                p["conn"],
                p["dir"].as_str().unwrap(),
                p["flags"].as_str().unwrap(),
                p["seq"],
                p["ack"],
                p["len"],
                p["win"]
            );
            want.push_str(&cli_common::classes_suffix(p));
            let got = line.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(got, want, "{name}");
        }
        for c in v["connections"].as_array().unwrap() {
            let intro = format!(
                "  #{} client {} server {}",
                c["id"],
                c["client"].as_str().unwrap(),
                c["server"].as_str().unwrap()
            );
            let at = text
                .find(&intro)
                .unwrap_or_else(|| panic!("{name}: no {intro:?}"));
            let first = text
                .find(&format!(" #{:<3} ", c["id"].to_string()))
                .unwrap();
            assert!(
                at < first,
                "{name}: #{} introduced before its first line",
                c["id"]
            );
        }
        let last = text.lines().last().unwrap();
        assert!(
            last.ends_with(&format!(
                "{} TCP segments ({} frames), {} connection(s), interfaces: {}",
                packets.len(),
                packets.last().unwrap()["frame"]
                    .as_u64()
                    .unwrap()
                    .max(packets.len() as u64),
                v["connections"].as_array().unwrap().len(),
                v["interfaces"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            "{name}: {last}"
        );
    }
}
