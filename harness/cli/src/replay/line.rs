//! One line per segment, formatted by hand into a byte buffer: full replay
//! prints millions of them, and `format!` with a float costs more than
//! analysing the packet. The layout is that of
//! `{:>7} {:>12.6} #{:<3} {} {:<4} seq {} ack {} len {} win {}`:
//! frame number, seconds since the first frame (rounded to the
//! microsecond), connection, direction, tcpdump's flags, then the numbers.

use teardown_core::analysis::conn::Classes;
use teardown_core::evidence::{Side, TcpFlags};

/// What one segment line shows; `P` names the port (`&str` to print).
pub struct SegLine<P> {
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
    pub port: Option<P>,
    pub classes: Classes,
}

impl<P> SegLine<P> {
    /// The same line with its port named by `f` (a number to its name).
    pub fn with_port<Q>(self, f: impl FnOnce(P) -> Q) -> SegLine<Q> {
        SegLine {
            frame: self.frame,
            rel_ns: self.rel_ns,
            conn: self.conn,
            dir: self.dir,
            flags: self.flags,
            seq: self.seq,
            ack: self.ack,
            len: self.len,
            win: self.win,
            port: self.port.map(f),
            classes: self.classes,
        }
    }
}

pub fn dir_text(d: Side) -> &'static str {
    match d {
        Side::Client => "C>S",
        Side::Server => "S>C",
    }
}

/// `n`'s decimal digits, written at the end of `buf`; returns where they start.
fn digits(buf: &mut [u8; 20], mut n: u64) -> usize {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return i;
        }
    }
}

/// Appends `n` in decimal.
pub fn push_u64(out: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 20];
    let at = digits(&mut buf, n);
    out.extend_from_slice(&buf[at..]);
}

/// Appends `s` right-aligned in `width` (as `{:>width}`).
fn push_right(out: &mut Vec<u8>, s: &[u8], width: usize) {
    out.resize(out.len() + width.saturating_sub(s.len()), b' ');
    out.extend_from_slice(s);
}

/// Pads what was written since `from` with spaces to `width` (as `{:<width}`).
fn pad_from(out: &mut Vec<u8>, from: usize, width: usize) {
    let written = out.len() - from;
    out.resize(out.len() + width.saturating_sub(written), b' ');
}

/// Seconds with six decimals, right-aligned in `width`: the time column
/// (`{:>12.6}` of the seconds), from integer nanoseconds, rounded half up
/// to the microsecond.
pub fn push_secs(out: &mut Vec<u8>, rel_ns: u64, width: usize) {
    let us = rel_ns.saturating_add(500) / 1000;
    let mut text = [0u8; 28];
    let mut secs = [0u8; 20];
    let at = digits(&mut secs, us / 1_000_000);
    let whole = &secs[at..];
    text[..whole.len()].copy_from_slice(whole);
    text[whole.len()] = b'.';
    let mut frac = us % 1_000_000;
    for i in (0..6).rev() {
        text[whole.len() + 1 + i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    push_right(out, &text[..whole.len() + 7], width);
}

/// A comment line: `-- text` in the time column's place.
pub fn push_comment(out: &mut Vec<u8>, rel_ns: u64, text: &str) {
    out.extend_from_slice(&[b' '; 8]);
    push_secs(out, rel_ns, 12);
    out.extend_from_slice(b"     -- ");
    out.extend_from_slice(text.as_bytes());
}

/// Appends the segment's line, without its newline.
pub fn push_segment(out: &mut Vec<u8>, l: &SegLine<&str>) {
    let mut buf = [0u8; 20];
    let at = digits(&mut buf, l.frame);
    push_right(out, &buf[at..], 7);
    out.push(b' ');
    push_secs(out, l.rel_ns, 12);
    out.extend_from_slice(b" #");
    let at = out.len();
    push_u64(out, l.conn);
    pad_from(out, at, 3);
    out.push(b' ');
    out.extend_from_slice(dir_text(l.dir).as_bytes());
    out.push(b' ');
    let at = out.len();
    l.flags.push_tcpdump(out);
    pad_from(out, at, 4);
    for (label, v) in [
        (&b" seq "[..], u64::from(l.seq)),
        (b" ack ", u64::from(l.ack)),
        (b" len ", u64::from(l.len)),
        (b" win ", u64::from(l.win)),
    ] {
        out.extend_from_slice(label);
        push_u64(out, v);
    }
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

    fn line(l: &SegLine<&str>) -> String {
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

    #[test]
    fn seconds_round_half_up_to_the_microsecond() {
        let secs = |ns| {
            let mut o = Vec::new();
            push_secs(&mut o, ns, 0);
            String::from_utf8(o).unwrap()
        };
        assert_eq!(secs(0), "0.000000");
        assert_eq!(secs(499), "0.000000");
        assert_eq!(secs(500), "0.000001");
        assert_eq!(secs(999_999_500), "1.000000");
        assert_eq!(secs(3_600_000_000_007), "3600.000000");
    }
}
