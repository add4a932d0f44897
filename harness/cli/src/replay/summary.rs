//! What replay says besides the lines: each connection's summary, and on
//! stderr the frames it could not read and where a cut-short file ends.

use super::line::push_u64;
use std::io::Write;
use std::net::SocketAddr;
use teardown_core::analysis::conn::ConnSummary;
use teardown_core::analysis::CaptureError;

/// A connection's summary: its ending, who closed first, counts, evidence.
/// Formatted by hand into one buffer, one write: a big capture prints tens
/// of thousands (the layout is the `format!` of the test below).
pub fn write_summary(w: &mut impl Write, c: &ConnSummary) -> std::io::Result<()> {
    let mut b: Vec<u8> = Vec::with_capacity(160 + 48 * c.evidence.len());
    b.extend_from_slice(b"connection #");
    push_u64(&mut b, c.id);
    b.push(b' ');
    push_addr(&mut b, c.client);
    b.extend_from_slice(b" -> ");
    push_addr(&mut b, c.server);
    b.extend_from_slice(b": ");
    b.extend_from_slice(c.ending.name().as_bytes());
    if let Some(s) = c.closed_first {
        b.extend_from_slice(b", ");
        b.extend_from_slice(s.name().as_bytes());
        b.extend_from_slice(b" closed first");
    }
    b.extend_from_slice(b"\n  ");
    b.extend_from_slice(c.detail.as_bytes());
    b.extend_from_slice(b"\n  ");
    for (n, what) in [
        (c.packets, &b" packets, "[..]),
        (c.bytes_c2s, b" bytes C>S, "),
        (c.bytes_s2c, b" bytes S>C, "),
        (c.retransmissions, b" retransmissions, "),
        (c.keep_alives, b" keep-alives\n"),
    ] {
        push_u64(&mut b, n);
        b.extend_from_slice(what);
    }
    for e in &c.evidence {
        b.extend_from_slice(b"    ");
        b.extend_from_slice(e.as_bytes());
        b.push(b'\n');
    }
    w.write_all(&b)
}

/// `a` as its `Display` writes it: by hand for IPv4, the common case.
fn push_addr(b: &mut Vec<u8>, a: SocketAddr) {
    match a {
        SocketAddr::V4(v4) => {
            for (i, o) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    b.push(b'.');
                }
                push_u64(b, u64::from(o));
            }
            b.push(b':');
            push_u64(b, u64::from(v4.port()));
        }
        SocketAddr::V6(_) => {
            let _ = write!(b, "{a}");
        }
    }
}

/// How long (capture time) a finished connection is kept for late segments
/// (a retransmitted last ACK, a second RST) before its summary is printed.
pub const LINGER_NS: u64 = 2_000_000_000;

/// A file that ends inside its last record, or has a damaged one: as
/// tcpdump and tshark, every whole packet before it was shown; then stderr
/// says where reading stopped, and the exit status (2) that the input was
/// incomplete. 0 when it was whole.
pub fn report_stopped(path: &std::path::Path, e: Option<&CaptureError>, frames: u64) -> i32 {
    match e {
        Some(e) => {
            let what = if e.cut_short {
                "the file ends inside a record"
            } else {
                "the file is damaged"
            };
            eprintln!(
                "teardown: {}: {what} {e}; the {frames} whole frames before it were read",
                path.display()
            );
            2
        }
        None => 0,
    }
}

/// Frames of a link type or EtherType replay does not read: named on stderr
/// with their count (a capture of them is never a silent "0 TCP segments").
pub fn report_not_read(path: &std::path::Path, not_read: &teardown_core::analysis::NotRead) {
    if let Some(what) = not_read.describe() {
        eprintln!(
            "teardown: {}: frames not read, so not in this analysis: {what}",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teardown_core::analysis::conn::Ending;
    use teardown_core::evidence::Side;

    /// The hand-made summary is byte for byte what `format!` gives, over
    /// IPv4 and IPv6 ends, with and without who closed first.
    #[test]
    fn a_summary_is_what_format_gives() {
        let ends = [
            ("10.0.0.1:40000", "192.168.255.254:80"),
            ("[fd00::1]:40000", "[fd00:0:0:1::22]:443"),
            ("0.0.0.0:0", "255.255.255.255:65535"),
        ];
        for (i, (a, b)) in ends.iter().enumerate() {
            let c = ConnSummary {
                id: 7 + 1000 * i as u64,
                client: a.parse().unwrap(),
                server: b.parse().unwrap(),
                first_ns: 1,
                last_ns: 2,
                packets: 27,
                bytes_c2s: 10_000,
                bytes_s2c: 0,
                retransmissions: i as u64,
                keep_alives: 3,
                ending: [
                    Ending::FourSegmentClose,
                    Ending::RstAbort,
                    Ending::StillOpen,
                ][i],
                closed_first: [Some(Side::Client), Some(Side::Server), None][i],
                by: None,
                state: None,
                detail: "client closed first; server closed 0.040s later".into(),
                evidence: vec!["0.460000 C>S F. seq 10001 ack 1 len 0".into(); i],
                port: 0,
            };
            let first = match c.closed_first {
                Some(s) => format!(", {} closed first", s.name()),
                None => String::new(),
            };
            let mut want = format!(
                "connection #{} {} -> {}: {}{first}\n  {}\n  {} packets, {} bytes C>S, {} bytes S>C, {} retransmissions, {} keep-alives\n",
                c.id, c.client, c.server, c.ending.name(), c.detail, c.packets, c.bytes_c2s,
                c.bytes_s2c, c.retransmissions, c.keep_alives
            );
            for e in &c.evidence {
                want.push_str(&format!("    {e}\n"));
            }
            let mut got = Vec::new();
            write_summary(&mut got, &c).unwrap();
            assert_eq!(String::from_utf8(got).unwrap(), want);
        }
    }
}
