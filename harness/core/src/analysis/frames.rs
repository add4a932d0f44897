//! Frames to TCP segments: the decoder, IP reassembly and IPComp inflation
//! in one place, with a count of the frames not read (the message a capture
//! of unread frames gets instead of a silent 0).

use super::{defrag, wire};

/// Frames not read, by what they were (`link type 105`, `EtherType 0x88b5`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotRead(pub Vec<(String, u64)>);

impl NotRead {
    /// Counts one frame of what `what` names.
    pub fn add(&mut self, what: String) {
        self.add_n(what, 1);
    }

    fn add_n(&mut self, what: String, n: u64) {
        match self.0.iter_mut().find(|(w, _)| *w == what) {
            Some((_, c)) => *c += n,
            None => self.0.push((what, n)),
        }
    }

    /// `link type 105: 3 frames, EtherType 0x88b5: 1 frame`, or `None`.
    pub fn describe(&self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        Some(
            self.0
                .iter()
                .map(|(w, n)| format!("{w}: {n} frame{}", if *n == 1 { "" } else { "s" }))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

/// Frames to TCP segments, in file order: [`wire::decode_frame`] (after
/// [`wire::plain_tcp`], which reads the common frame at once and gives the
/// same), IP fragments put together ([`defrag`]), and a count of what was
/// not read.
#[derive(Debug, Default)]
pub struct Frames {
    defrag: defrag::Defrag,
    not_read: NotRead,
}

impl Frames {
    /// The segment this frame carries, or completes (its last IP
    /// fragment); `orig_len` is the frame's length on the wire.
    pub fn segment(&mut self, linktype: u16, data: &[u8], orig_len: u32) -> Option<wire::Segment> {
        if let Some(s) = wire::plain_tcp(linktype, data, orig_len) {
            return Some(s);
        }
        match wire::decode_frame(linktype, data)?.on_wire(data.len(), orig_len) {
            wire::Decoded::Tcp(s, _) => Some(s),
            d => self.resolve(d, 0),
        }
    }

    /// A decoded frame to its segment: through reassembly and inflation,
    /// whose packets may hold fragments or IPComp of their own, up to
    /// [`wire::MAX_DEPTH`] deep.
    fn resolve(&mut self, d: wire::Decoded, depth: u8) -> Option<wire::Segment> {
        let whole = match d {
            wire::Decoded::Tcp(s, _) => return Some(s),
            wire::Decoded::Unread(u) => {
                self.not_read.add(u.to_string());
                return None;
            }
            _ if depth >= wire::MAX_DEPTH => return None,
            wire::Decoded::Fragment(f) => self.defrag.push(&f)?,
            wire::Decoded::Compressed(c) => match inflate(c.data) {
                Some(payload) => defrag::datagram(&c.key, &payload),
                None => {
                    self.not_read.add("IPComp that does not inflate".into());
                    return None;
                }
            },
        };
        let inner = wire::decode_frame(wire::LINKTYPE_RAW, &whole)?;
        self.resolve(inner, depth + 1)
    }

    /// What was not read, with the fragments of datagrams never completed.
    pub fn finish(self) -> NotRead {
        let mut out = self.not_read;
        let n = self.defrag.unfinished();
        if n > 0 {
            out.add_n("IP fragments of datagrams never completed".into(), n);
        }
        out
    }
}

/// A raw DEFLATE stream inflated, no longer than an IP payload can be.
fn inflate(data: &[u8]) -> Option<Vec<u8>> {
    miniz_oxide::inflate::decompress_to_vec_with_limit(data, defrag::MAX_PAYLOAD as usize).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::wire::decode_tests::{ipv4_bytes, tcp_bytes};

    #[test]
    fn a_fragmented_segment_shows_on_the_frame_that_completes_it() {
        let t = tcp_bytes(40000, 80, 0x18, 1000, 2000, 512, b"hello world");
        let mut first = ipv4_bytes([10, 0, 0, 1], [10, 0, 0, 2], &t[..24]);
        first[4..6].copy_from_slice(&[0, 9]); // identification
        first[6] = 0x20; // MF
        let mut last = ipv4_bytes([10, 0, 0, 1], [10, 0, 0, 2], &t[24..]);
        last[4..6].copy_from_slice(&[0, 9]);
        last[7] = 3; // offset 24 bytes
        let mut f = Frames::default();
        let n = |b: &[u8]| b.len() as u32;
        assert_eq!(f.segment(wire::LINKTYPE_RAW, &first, n(&first)), None);
        let s = f
            .segment(wire::LINKTYPE_RAW, &last, n(&last))
            .expect("whole");
        assert_eq!((s.seq, s.len), (1000, 11));
        assert_eq!(f.finish(), NotRead::default());
        // A fragment whose datagram never completes is named at the end.
        let mut f = Frames::default();
        assert_eq!(f.segment(wire::LINKTYPE_RAW, &first, n(&first)), None);
        assert_eq!(
            f.finish().describe().as_deref(),
            Some("IP fragments of datagrams never completed: 1 frame")
        );
    }

    #[test]
    fn an_ipcomp_payload_is_inflated() {
        let t = tcp_bytes(40000, 80, 0x18, 1000, 2000, 512, b"hello hello hello");
        let deflated = miniz_oxide::deflate::compress_to_vec(&t, 6);
        let mut p = vec![6, 0, 0, 2];
        p.extend_from_slice(&deflated);
        let mut b = ipv4_bytes([10, 0, 0, 1], [10, 0, 0, 2], &p);
        b[9] = 108;
        let mut f = Frames::default();
        let s = f
            .segment(wire::LINKTYPE_RAW, &b, b.len() as u32)
            .expect("inflated");
        assert_eq!((s.seq, s.len), (1000, 17));
        // Bytes that are no DEFLATE stream are named.
        let mut bad = b.clone();
        bad[24..].fill(0xff);
        assert_eq!(f.segment(wire::LINKTYPE_RAW, &bad, bad.len() as u32), None);
        assert_eq!(
            f.finish().describe().as_deref(),
            Some("IPComp that does not inflate: 1 frame")
        );
    }
}
