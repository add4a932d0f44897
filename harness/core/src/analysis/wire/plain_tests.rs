//! [`plain_tcp`] against the layered decoder: on every frame of the
//! committed captures (tests/corpus, tests/golden), and on copies of the
//! plain ones cut short and with each header byte changed, it gives a
//! segment only where [`decode_frame`] gives that same segment. It must
//! also read the plain frames, or it would be no fast path: the Ethernet
//! captures the lab takes (tests/golden) are all of that shape.

use super::*;
use crate::analysis::CaptureReader;
use std::path::{Path, PathBuf};

/// What the layered decoder gives, as `Frames::segment` reads it.
fn layered(linktype: u16, frame: &[u8], orig_len: u32) -> Option<Segment> {
    match decode_frame(linktype, frame)?.on_wire(frame.len(), orig_len) {
        Decoded::Tcp(s, _) => Some(s),
        _ => None,
    }
}

/// Holds the contract for one frame; whether the fast path read it.
fn agrees(linktype: u16, frame: &[u8], orig_len: u32, what: &str) -> bool {
    let Some(fast) = plain_tcp(linktype, frame, orig_len) else {
        return false;
    };
    assert_eq!(Some(fast), layered(linktype, frame, orig_len), "{what}");
    true
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            captures(&p, out);
        } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            out.push(p);
        }
    }
}

/// Every frame of every committed capture: (link type, bytes, wire length, capture).
fn frames() -> Vec<(u16, Vec<u8>, u32, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests");
    let mut files = Vec::new();
    captures(&root.join("corpus"), &mut files);
    captures(&root.join("golden"), &mut files);
    files.sort();
    let mut out = Vec::new();
    for p in files {
        let bytes = std::fs::read(&p).unwrap();
        let Ok(mut r) = CaptureReader::new(&bytes[..]) else {
            continue;
        };
        let name = p.display().to_string();
        while let Ok(Some(f)) = r.next_frame() {
            out.push((f.linktype, f.data.to_vec(), f.orig_len, name.clone()));
        }
    }
    out
}

#[test]
fn the_fast_path_gives_what_the_layers_give_on_every_committed_frame() {
    let all = frames();
    let (mut fast, mut tcp) = (0, 0);
    for (i, (lt, b, orig, name)) in all.iter().enumerate() {
        fast += usize::from(agrees(*lt, b, *orig, &format!("{name}, frame {i}")));
        tcp += usize::from(layered(*lt, b, *orig).is_some());
    }
    // Not vacuous: most TCP frames of the corpus are plain.
    assert!(all.len() > 10_000, "{} frames", all.len());
    assert!(
        fast * 2 > tcp,
        "{fast} of {tcp} TCP frames read by the fast path"
    );
}

#[test]
fn every_ethernet_frame_the_lab_took_takes_the_fast_path() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden");
    // One golden capture is Linux cooked (rst-v6.pcap): not this shape.
    let harness: Vec<_> = frames()
        .into_iter()
        .filter(|f| Path::new(&f.3).starts_with(&golden) && f.0 == LINKTYPE_ETHERNET)
        .collect();
    let tcp: Vec<_> = harness
        .iter()
        .filter(|(lt, b, orig, _)| layered(*lt, b, *orig).is_some())
        .collect();
    assert!(tcp.len() > 150, "{} harness TCP frames", tcp.len());
    for (lt, b, orig, name) in tcp {
        assert!(
            agrees(*lt, b, *orig, name),
            "{name}: a harness frame not read at once"
        );
    }
}

#[test]
fn cut_and_changed_plain_frames_keep_the_contract() {
    // Plain frames of both families (30 of each, spread over the corpus).
    let all: Vec<_> = frames()
        .into_iter()
        .filter(|(lt, b, orig, _)| plain_tcp(*lt, b, *orig).is_some())
        .collect();
    let family = |ty: u16| {
        let of: Vec<_> = all.iter().filter(|f| be16(&f.1, 12) == Some(ty)).collect();
        let step = (of.len() / 30).max(1);
        of.into_iter()
            .step_by(step)
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
    };
    let (v4, v6) = (family(0x0800), family(0x86DD));
    assert_eq!((v4.len(), v6.len()), (30, 30));
    let plain = [v4, v6].concat();
    // Values that cross every test the fast path makes: versions, header
    // lengths, fragment bits, protocol and EtherType bytes, lengths.
    let values = [
        0x00, 0x01, 0x06, 0x20, 0x3f, 0x40, 0x45, 0x46, 0x4f, 0x50, 0x60, 0x86, 0xdd, 0xff,
    ];
    let mut seen_refused = false;
    for (lt, b, orig, name) in &plain {
        for n in 0..b.len().min(96) {
            agrees(*lt, &b[..n], *orig, &format!("{name} cut to {n}"));
            agrees(
                *lt,
                &b[..n],
                n as u32,
                &format!("{name} cut to {n} on the wire too"),
            );
        }
        for at in 0..b.len().min(96) {
            for v in values {
                let mut c = b.clone();
                c[at] = v;
                let what = format!("{name}: byte {at} = {v:#04x}");
                seen_refused |= !agrees(*lt, &c, *orig, &what);
                agrees(*lt, &c, orig / 2, &format!("{what}, half on the wire"));
            }
        }
        // Another link type is never read here.
        assert_eq!(plain_tcp(LINKTYPE_RAW, b, *orig), None);
    }
    assert!(seen_refused, "no change ever sent a frame to the layers");
}
