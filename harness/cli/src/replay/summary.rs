//! What replay says besides the lines: each connection's summary, and on
//! stderr the frames it could not read and where a cut-short file ends.

use std::io::Write;
use teardown_core::analysis::conn::ConnSummary;
use teardown_core::analysis::CaptureError;

/// A connection's summary: its ending, who closed first, counts, evidence.
pub fn write_summary(w: &mut impl Write, c: &ConnSummary) -> std::io::Result<()> {
    let first = match c.closed_first {
        Some(s) => format!(", {} closed first", s.name()),
        None => String::new(),
    };
    writeln!(
        w,
        "connection #{} {} -> {}: {}{first}",
        c.id,
        c.client,
        c.server,
        c.ending.name()
    )?;
    writeln!(w, "  {}", c.detail)?;
    writeln!(
        w,
        "  {} packets, {} bytes C>S, {} bytes S>C, {} retransmissions, {} keep-alives",
        c.packets, c.bytes_c2s, c.bytes_s2c, c.retransmissions, c.keep_alives
    )?;
    for e in &c.evidence {
        writeln!(w, "    {e}")?;
    }
    Ok(())
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
