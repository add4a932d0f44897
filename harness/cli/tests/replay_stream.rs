//! The streamed replay (`--summary-only`, and the full text of a capture
//! that is not the harness's two-port one) against the whole-file analysis
//! (`--json`), on a capture long enough to cross every boundary the
//! stream has: many of the reader's batches, many analysis chunks, and a
//! point where finished connections are handed out. The stream runs in
//! three threads; what it prints must be what the one-pass analysis of the
//! whole file says, frame by frame and connection by connection.

mod cli_common;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = cli_common::teardown().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// One Ethernet frame: IPv4 TCP between client `n` and the server, or
/// (`tcp` false) a UDP datagram, which is no segment but is a frame.
fn frame(n: u32, c2s: bool, flags: u8, seq: u32, ack: u32, len: u16, tcp: bool) -> Vec<u8> {
    let c = [198, 18, (n >> 8) as u8, n as u8];
    let s = [198, 19, 0, 1];
    let cport = 20_000 + n as u16;
    let (src, dst, sp, dp) = if c2s {
        (c, s, cport, 80u16)
    } else {
        (s, c, 80, cport)
    };
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let l4 = if tcp { 20 } else { 8 };
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&(20 + l4 + len).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, if tcp { 6 } else { 17 }, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sp.to_be_bytes());
    f.extend_from_slice(&dp.to_be_bytes());
    if tcp {
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags]);
        f.extend_from_slice(&(1000 + (n % 7) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0]);
    } else {
        f.extend_from_slice(&(8 + len).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
    }
    f.resize(f.len() + len as usize, 0xab);
    f
}

/// Connection `n`'s frames: a handshake, data and ACKs (every fifth
/// connection loses a segment: three duplicate ACKs and a fast
/// retransmission; every ninth resends its SYN), a UDP datagram between,
/// then a four-segment close, or a RST for every sixth.
fn script(n: u32) -> Vec<Vec<u8>> {
    let (ci, si) = (
        n.wrapping_mul(2_654_435_761),
        n.wrapping_mul(40_503) ^ 0x5a5a,
    );
    let mut v = vec![frame(n, true, 0x02, ci, 0, 0, true)];
    if n.is_multiple_of(9) {
        v.push(frame(n, true, 0x02, ci, 0, 0, true));
    }
    v.push(frame(n, false, 0x12, si, ci + 1, 0, true));
    v.push(frame(n, true, 0x10, ci + 1, si + 1, 0, true));
    let (mut c, s) = (ci + 1, si + 1);
    for r in 0..(40 + n % 30) {
        if n.is_multiple_of(5) && r == 3 {
            let lost = c;
            c += 100;
            v.push(frame(n, true, 0x18, c, s, 100, true));
            c += 100;
            for _ in 0..3 {
                v.push(frame(n, false, 0x10, s, lost, 0, true));
            }
            v.push(frame(n, true, 0x18, lost, s, 100, true));
            v.push(frame(n, false, 0x10, s, c, 0, true));
            continue;
        }
        v.push(frame(n, true, 0x18, c, s, 100, true));
        c += 100;
        v.push(frame(n, false, 0x10, s, c, 0, true));
        if r == 10 {
            v.push(frame(n, true, 0, 0, 0, 12, false));
        }
    }
    if n.is_multiple_of(6) {
        v.push(frame(n, true, 0x14, c, s, 0, true));
    } else {
        v.push(frame(n, true, 0x11, c, s, 0, true));
        v.push(frame(n, false, 0x10, s, c + 1, 0, true));
        v.push(frame(n, false, 0x11, s, c + 1, 0, true));
        v.push(frame(n, true, 0x10, c + 1, s + 1, 0, true));
    }
    v
}

/// A classic pcap (microseconds) of `conns` connections, `open` at once,
/// their frames interleaved round robin, one every millisecond.
fn capture(conns: u32, open: usize) -> Vec<u8> {
    let mut out = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let mut running: Vec<std::vec::IntoIter<Vec<u8>>> = Vec::new();
    let (mut next, mut us, mut i) = (0u32, 1_000_000u64, 0usize);
    loop {
        while running.len() < open && next < conns {
            running.push(script(next).into_iter());
            next += 1;
        }
        if running.is_empty() {
            return out;
        }
        i = (i + 1) % running.len();
        match running[i].next() {
            Some(f) => {
                us += 1000;
                out.extend_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
                out.extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
                out.extend_from_slice(&(f.len() as u32).to_le_bytes());
                out.extend_from_slice(&(f.len() as u32).to_le_bytes());
                out.extend_from_slice(&f);
            }
            None => {
                running.swap_remove(i);
            }
        }
    }
}

/// Summary text split into each connection's lines, by its number.
fn by_connection(text: &str) -> std::collections::BTreeMap<u64, String> {
    let mut out = std::collections::BTreeMap::new();
    for block in text.trim().split("connection #").filter(|b| !b.is_empty()) {
        let id = block.split(' ').next().unwrap().parse().unwrap();
        assert!(out.insert(id, block.to_string()).is_none(), "#{id} twice");
    }
    out
}

#[test]
fn the_streamed_replay_prints_what_the_whole_file_analysis_says() {
    let dir = cli_common::tmp("replay-stream");
    let path = dir.join("many.pcap");
    std::fs::write(&path, capture(900, 150)).unwrap();
    let p = path.to_str().unwrap();

    let (code, whole, err) = run(&["replay", p, "--json"]);
    assert_eq!(code, 0, "{err}");
    let whole: serde_json::Value = serde_json::from_str(&whole).unwrap();
    let packets = whole["packets"].as_array().unwrap();
    let conns = whole["connections"].as_array().unwrap();
    // Past the point where finished connections are handed out (65,536
    // segments), and many reader batches (4,096 frames) long.
    assert!(packets.len() > 70_000, "{} segments", packets.len());
    assert_eq!(conns.len(), 900);
    let retransmitted: u64 = conns
        .iter()
        .map(|c| c["retransmissions"].as_u64().unwrap())
        .sum();
    assert!(retransmitted >= 180, "{retransmitted} retransmissions");

    // Full text: one line per segment, each the whole-file analysis's.
    let (code, text, err) = run(&["replay", p]);
    assert_eq!(code, 0, "{err}");
    let (segment_part, after_lines) = text.split_once("\n\n").unwrap();
    let lines: Vec<&str> = segment_part
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(lines.len(), packets.len());
    for (line, pk) in lines.iter().zip(packets) {
        let mut want = format!(
            "{:>7} {:>12.6} #{:<3} {} {:<4} seq {} ack {} len {} win {}",
            pk["frame"].as_u64().unwrap(),
            pk["t"].as_f64().unwrap(),
            pk["conn"].as_u64().unwrap(),
            pk["dir"].as_str().unwrap(),
            pk["flags"].as_str().unwrap(),
            pk["seq"],
            pk["ack"],
            pk["len"],
            pk["win"]
        );
        want.push_str(&cli_common::classes_suffix(pk));
        assert_eq!(*line, want);
    }
    // Then every connection's summary, as `--summary-only` prints them.
    let (code, summaries, err) = run(&["replay", p, "--summary-only"]);
    assert_eq!(code, 0, "{err}");
    let (full_summaries, _) = after_lines.trim_end().rsplit_once('\n').unwrap();
    let (only_summaries, count) = summaries.trim_end().rsplit_once('\n').unwrap();
    assert!(count.contains("900 connections"), "{count}");
    // The same summaries: printed by id at the end of the full output,
    // as connections finish with --summary-only.
    let (full, only) = (by_connection(full_summaries), by_connection(only_summaries));
    assert_eq!(full.len(), 900);
    for ((id, a), (_, b)) in full.iter().zip(&only) {
        assert_eq!(a, b, "connection #{id}");
    }
    assert_eq!(
        full.keys().collect::<Vec<_>>(),
        only.keys().collect::<Vec<_>>()
    );

    // The summaries as JSON lines: the whole-file analysis's connections.
    let (code, json_lines, err) = run(&["replay", p, "--summary-only", "--json"]);
    assert_eq!(code, 0, "{err}");
    let mut streamed: Vec<serde_json::Value> = json_lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut conns = conns.clone();
    for list in [&mut streamed, &mut conns] {
        list.sort_by_key(|c| c["id"].as_u64());
    }
    assert_eq!(streamed.len(), conns.len());
    for (a, b) in streamed.iter().zip(&conns) {
        assert_eq!(a, b);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file that is no capture: exit 2 and nothing on stdout (the printer
/// stage prints its header only once the capture is read), full output or
/// summaries.
#[test]
fn a_file_that_is_no_capture_prints_nothing() {
    let dir = cli_common::tmp("replay-stream-bad");
    let path = dir.join("text.pcap");
    std::fs::write(&path, "not a capture at all\n").unwrap();
    let p = path.to_str().unwrap();
    for extra in [&[][..], &["--summary-only"][..]] {
        let mut args = vec!["replay", p];
        args.extend_from_slice(extra);
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert!(err.contains("not a pcap or pcapng file"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
