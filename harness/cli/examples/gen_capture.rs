//! Writes a large synthetic capture for the replay benchmark (bench/replay.sh).
//!
//! Usage: cargo run --release --example gen_capture -- OUT.pcap [PACKETS] [CONCURRENT]
//!
//! A classic pcap (Ethernet, microseconds) of at least PACKETS (default 5
//! million) TCP segments over many connections, CONCURRENT (default 2000)
//! open at once and interleaved. Each connection does a handshake and some
//! data with ACKs; every 7th loses a segment (retransmission after three
//! duplicate ACKs); 70% end with a four-segment close, 20% with a RST, 10%
//! go silent after retransmissions. Deterministic.

use std::io::{BufWriter, Write};

const S: u8 = 0x02;
const A: u8 = 0x10;
const P: u8 = 0x08;
const F: u8 = 0x01;
const R: u8 = 0x04;

struct Seg {
    c2s: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    len: u16,
}

/// Connection `n`'s segments.
fn script(n: u64) -> Vec<Seg> {
    let mut v = Vec::new();
    let ci = (n as u32).wrapping_mul(2_654_435_761);
    let si = ci ^ 0x5a5a_5a5a;
    let mut seg = |c2s, flags, seq, ack, len| {
        v.push(Seg {
            c2s,
            flags,
            seq,
            ack,
            len,
        })
    };
    seg(true, S, ci, 0, 0);
    seg(false, S | A, si, ci + 1, 0);
    seg(true, A, ci + 1, si + 1, 0);
    let (mut c, s) = (ci + 1, si + 1);
    let rounds = 10 + (n % 20) as u32;
    let lossy = n % 7 == 3;
    for r in 0..rounds {
        if lossy && r == 4 {
            // One segment lost before the capture point saw it; three dup ACKs; fast retransmission.
            let lost = c;
            c += 1000;
            seg(true, P | A, c, s, 1000);
            c += 1000;
            for _ in 0..3 {
                seg(false, A, s, lost, 0);
            }
            seg(true, P | A, lost, s, 1000);
            seg(false, A, s, c, 0);
            continue;
        }
        seg(true, P | A, c, s, 1000);
        c += 1000;
        seg(false, A, s, c, 0);
    }
    match n % 10 {
        0..=6 => {
            seg(true, F | A, c, s, 0);
            seg(false, A, s, c + 1, 0);
            seg(false, F | A, s, c + 1, 0);
            seg(true, A, c + 1, s + 1, 0);
        }
        7 | 8 => seg(true, R | A, c, s, 0),
        _ => {
            for _ in 0..6 {
                seg(true, P | A, c, s, 500);
            }
        }
    }
    v
}

fn frame(out: &mut Vec<u8>, n: u64, sg: &Seg) {
    let cport = 10_000 + (n % 50_000) as u16;
    let chost = (n / 50_000) as u8;
    let c = [10, 1, chost, 1];
    let s = [10, 2, 0, 1];
    let (src, dst, sp, dp) = if sg.c2s {
        (c, s, cport, 443u16)
    } else {
        (s, c, 443, cport)
    };
    out.clear();
    out.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    out.extend_from_slice(&[0x45, 0]);
    out.extend_from_slice(&(40 + sg.len).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    out.extend_from_slice(&src);
    out.extend_from_slice(&dst);
    out.extend_from_slice(&sp.to_be_bytes());
    out.extend_from_slice(&dp.to_be_bytes());
    out.extend_from_slice(&sg.seq.to_be_bytes());
    out.extend_from_slice(&sg.ack.to_be_bytes());
    out.extend_from_slice(&[0x50, sg.flags]);
    out.extend_from_slice(&502u16.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: gen_capture OUT.pcap [PACKETS] [CONCURRENT]");
        std::process::exit(2);
    };
    let want: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000_000);
    let conc: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    w.write_all(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0])?;
    w.write_all(&96u32.to_le_bytes())?; // snaplen: headers only
    w.write_all(&1u32.to_le_bytes())?;
    let mut slots: Vec<(u64, Vec<Seg>, usize)> = Vec::new();
    let mut next_conn = 0u64;
    let mut written = 0u64;
    let mut ts_us = 1_700_000_000_000_000u64;
    let mut buf = Vec::with_capacity(128);
    let mut i = 0;
    while written < want || !slots.is_empty() {
        if slots.len() < conc && written < want {
            slots.push((next_conn, script(next_conn), 0));
            next_conn += 1;
        }
        if slots.is_empty() {
            break;
        }
        i = (i + 1) % slots.len();
        let (n, segs, at) = &mut slots[i];
        frame(&mut buf, *n, &segs[*at]);
        let orig = buf.len() as u32 + segs[*at].len as u32;
        w.write_all(&((ts_us / 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&((ts_us % 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&(buf.len() as u32).to_le_bytes())?;
        w.write_all(&orig.to_le_bytes())?;
        w.write_all(&buf)?;
        written += 1;
        ts_us += 10;
        *at += 1;
        if *at == segs.len() {
            slots.swap_remove(i);
        }
    }
    w.flush()?;
    eprintln!("{path}: {written} packets, {next_conn} connections");
    Ok(())
}
