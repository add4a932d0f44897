//! Hostile inputs without a fuzzer (the cargo-fuzz target is in fuzz/): every
//! golden capture, and public ones with IP fragments, IPComp and tunnels,
//! truncated at every length and with deterministic pseudo-random byte
//! corruption must give frames or a `CaptureError`, never a panic, and
//! errors name an offset inside the file. Frames go through [`Frames`]
//! (decoder, reassembly, inflation), as replay reads them.

use std::path::Path;
use teardown_core::analysis::{conn::Analyzer, CaptureReader, Frames};

fn exercise(data: &[u8]) {
    match CaptureReader::new(data) {
        Ok(mut r) => {
            let mut a = Analyzer::new(vec![]);
            let mut frames = Frames::default();
            loop {
                match r.next_frame() {
                    Ok(Some(f)) => {
                        if let Some(seg) = frames.segment(f.linktype, f.data, f.orig_len) {
                            a.push(f.ts_ns, f.iface, &seg);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        assert!(
                            e.offset <= data.len() as u64,
                            "offset {} past the end",
                            e.offset
                        );
                        break;
                    }
                }
            }
            let _ = a.finish();
            let _ = frames.finish();
        }
        Err(e) => assert!(e.offset <= data.len() as u64),
    }
}

fn captures() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut v = Vec::new();
    for e in std::fs::read_dir(root.join("tests/golden")).unwrap() {
        let p = e.unwrap().path();
        let n = p.to_string_lossy().to_string();
        if n.ends_with(".pcap") || n.ends_with(".pcapng") {
            v.push(std::fs::read(p).unwrap());
        }
    }
    for f in [
        "libpcap/AH-IPcomp-IPv4.pcap",
        "libpcap/AH-IPcomp-IPv6.pcap",
        "suricata/defrag_bug-6887-defrag-ipv4-tcp-syn_frag-ip-tcp-syn.pcap",
        "suricata/defrag_bug-6887-defrag-ipv6-tcp_frag-ip-tcp.pcap",
        "zeek/ipv4_fragmented-4.pcap",
        "tcpdump/wccp_redirect_gre.pcap",
    ] {
        v.push(std::fs::read(root.join("tests/corpus").join(f)).unwrap());
    }
    v
}

#[test]
fn analysis_every_truncation() {
    for c in captures() {
        for n in 0..c.len().min(1600) {
            exercise(&c[..n]);
        }
    }
}

#[test]
fn analysis_random_corruption() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for c in captures() {
        for _ in 0..200 {
            let mut m = c.clone();
            for _ in 0..(1 + rnd() % 8) {
                let i = (rnd() as usize) % m.len();
                m[i] = match rnd() % 4 {
                    0 => 0xff,
                    1 => 0,
                    _ => rnd() as u8,
                };
            }
            exercise(&m);
        }
    }
}
