//! One line per segment, formatted by hand into a byte buffer: full replay
//! prints millions of them, and `format!` with a float costs more than
//! analysing the packet. The layout is that of
//! `{:>7} {:>12.6} #{:<3} {} {:<4} seq {} ack {} len {} win {}`:
//! frame number, seconds since the first frame (rounded to the
//! microsecond), connection, direction, tcpdump's flags, then the numbers.

use teardown_core::analysis::conn::Classes;
use teardown_core::evidence::{Side, TcpFlags};

/// What one segment line shows.
pub struct SegLine<'a> {
    pub frame: u64,
    /// Nanoseconds since the capture's first frame.
    pub rel_ns: u64,
    pub conn: u64,
    pub dir: Side,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    pub len: u32,
    pub win: u16,
    /// ` on PORT`, for a capture of several interfaces.
    pub port: Option<&'a str>,
    pub classes: Classes,
}

pub fn dir_text(d: Side) -> &'static str {
    match d {
        Side::Client => "C>S",
        Side::Server => "S>C",
    }
}

/// Appends `n` in decimal.
pub fn push_u64(out: &mut Vec<u8>, n: u64) {
    let mut b = LineBuf::new();
    b.num(n, 0);
    out.extend_from_slice(b.done());
}

/// A line being formatted: a fixed array and how much of it is written.
/// Each piece is written byte by byte where it goes, its length known
/// first: a line has a dozen pieces, and a call to `memcpy` for each (what
/// appending a slice of unknown length to a `Vec` costs) took longer than
/// the bytes (perf: an eighth of the printer's time).
struct LineBuf {
    b: [u8; LINE_MAX],
    n: usize,
}

/// The longest fixed part of a segment line (every number at its widest).
const LINE_MAX: usize = 160;

impl LineBuf {
    fn new() -> LineBuf {
        LineBuf {
            b: [0; LINE_MAX],
            n: 0,
        }
    }

    fn byte(&mut self, c: u8) {
        self.b[self.n] = c;
        self.n += 1;
    }

    fn text(&mut self, s: &[u8]) {
        for &c in s {
            self.byte(c);
        }
    }

    /// `v` in decimal, right-aligned in `width` (as `{:>width}`).
    fn num(&mut self, v: u64, width: usize) {
        let len = v.checked_ilog10().map_or(1, |l| l as usize + 1);
        for _ in len..width {
            self.byte(b' ');
        }
        self.digits(v, len);
    }

    /// The last `len` decimal digits of `v`, zeros in front as needed.
    fn digits(&mut self, mut v: u64, len: usize) {
        for i in (0..len).rev() {
            self.b[self.n + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.n += len;
    }

    /// Pads what was written since `from` with spaces to `width` (as
    /// `{:<width}`).
    fn pad_from(&mut self, from: usize, width: usize) {
        for _ in self.n - from..width {
            self.byte(b' ');
        }
    }

    /// Seconds with six decimals, right-aligned in `width`: the time column
    /// (`{:>12.6}` of the seconds), from integer nanoseconds, rounded half
    /// up to the microsecond.
    fn secs(&mut self, rel_ns: u64, width: usize) {
        let us = rel_ns.saturating_add(500) / 1000;
        let whole = us / 1_000_000;
        let len = whole.checked_ilog10().map_or(1, |l| l as usize + 1) + 7;
        for _ in len..width {
            self.byte(b' ');
        }
        self.num(whole, 0);
        self.byte(b'.');
        self.digits(us % 1_000_000, 6);
    }

    fn done(&self) -> &[u8] {
        &self.b[..self.n]
    }
}

/// A comment line: `-- text` in the time column's place.
pub fn push_comment(out: &mut Vec<u8>, rel_ns: u64, text: &str) {
    let mut b = LineBuf::new();
    b.text(&[b' '; 8]);
    b.secs(rel_ns, 12);
    b.text(b"     -- ");
    out.extend_from_slice(b.done());
    out.extend_from_slice(text.as_bytes());
}

/// Appends the segment's line, without its newline.
pub fn push_segment(out: &mut Vec<u8>, l: &SegLine) {
    let mut b = LineBuf::new();
    b.num(l.frame, 7);
    b.byte(b' ');
    b.secs(l.rel_ns, 12);
    b.text(b" #");
    let at = b.n;
    b.num(l.conn, 0);
    b.pad_from(at, 3);
    b.byte(b' ');
    b.text(dir_text(l.dir).as_bytes());
    b.byte(b' ');
    let at = b.n;
    l.flags.tcpdump_bytes(|c| b.byte(c));
    b.pad_from(at, 4);
    for (label, v) in [
        (b" seq ", u64::from(l.seq)),
        (b" ack ", u64::from(l.ack)),
        (b" len ", u64::from(l.len)),
        (b" win ", u64::from(l.win)),
    ] {
        b.text(label);
        b.num(v, 0);
    }
    out.extend_from_slice(b.done());
    if let Some(p) = l.port {
        out.extend_from_slice(b" on ");
        out.extend_from_slice(p.as_bytes());
    }
    let mut first = true;
    for (bit, name) in Classes::NAMES {
        if l.classes.has(bit) {
            out.extend_from_slice(if first { b" [" } else { b", " });
            out.extend_from_slice(name.as_bytes());
            first = false;
        }
    }
    if !first {
        out.push(b']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(l: &SegLine) -> String {
        let mut out = Vec::new();
        push_segment(&mut out, l);
        String::from_utf8(out).unwrap()
    }

    /// The hand-made line is byte for byte what `format!` gives for the
    /// same fields (the layout the module doc names).
    #[test]
    fn a_segment_line_is_what_format_gives() {
        let cases = [
            (
                1u64,
                0u64,
                1u64,
                TcpFlags(TcpFlags::SYN),
                0u32,
                0u32,
                0u32,
                64240u16,
            ),
            (
                1234567,
                20_498_330_000,
                44397,
                TcpFlags(0x11),
                25001,
                1,
                0,
                502,
            ),
            (
                99999999,
                123_456_789_012,
                7,
                TcpFlags(0x1d2),
                u32::MAX,
                4,
                1448,
                0,
            ),
            (12, 999_999_400, 1000, TcpFlags(0), 1, 1, 1, 1),
        ];
        for (frame, ns, conn, flags, seq, ack, len, win) in cases {
            let want = format!(
                "{:>7} {:>12.6} #{:<3} {} {:<4} seq {} ack {} len {} win {}",
                frame,
                ns as f64 / 1e9,
                conn,
                "S>C",
                flags.tcpdump(),
                seq,
                ack,
                len,
                win
            );
            let got = line(&SegLine {
                frame,
                rel_ns: ns,
                conn,
                dir: Side::Server,
                flags,
                seq,
                ack,
                len,
                win,
                port: None,
                classes: Classes::default(),
            });
            assert_eq!(got, want);
        }
    }

    #[test]
    fn classes_and_port_follow_in_order() {
        let got = line(&SegLine {
            frame: 3,
            rel_ns: 1_500,
            conn: 2,
            dir: Side::Client,
            flags: TcpFlags(TcpFlags::ACK),
            seq: 1,
            ack: 1,
            len: 0,
            win: 5,
            port: Some("eth0"),
            classes: Classes(Classes::RETRANSMISSION | Classes::DUPLICATE_ACK),
        });
        assert_eq!(
            got,
            "      3     0.000002 #2   C>S .    seq 1 ack 1 len 0 win 5 on eth0 [retransmission, duplicate_ack]"
        );
    }

    /// Numbers print as `{:>width}` prints them: every length, every pair
    /// of last digits, the widest.
    #[test]
    fn numbers_are_what_format_gives() {
        let mut n: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut cases: Vec<u64> = (0..=1000)
            .chain([u64::MAX, u64::MAX / 10, 1 << 32])
            .collect();
        for shift in 0..64 {
            n ^= n << 13;
            n ^= n >> 7;
            n ^= n << 17;
            cases.push(n >> shift);
            cases.push(10u64.pow(shift % 20));
            cases.push(10u64.pow(shift % 20) - 1);
        }
        for v in cases {
            for width in [0, 3, 7, 25] {
                let mut b = LineBuf::new();
                b.num(v, width);
                assert_eq!(
                    std::str::from_utf8(b.done()).unwrap(),
                    format!("{v:>width$}")
                );
            }
        }
    }

    #[test]
    fn seconds_round_half_up_to_the_microsecond() {
        let secs = |ns| {
            let mut b = LineBuf::new();
            b.secs(ns, 0);
            String::from_utf8(b.done().to_vec()).unwrap()
        };
        assert_eq!(secs(0), "0.000000");
        assert_eq!(secs(499), "0.000000");
        assert_eq!(secs(500), "0.000001");
        assert_eq!(secs(999_999_500), "1.000000");
        assert_eq!(secs(3_600_000_000_007), "3600.000000");
    }
}
