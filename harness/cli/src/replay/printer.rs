//! The full streamed replay's printer thread: makes and writes the lines of
//! the frames the analysis hands over ([`Analysed`]: the reader's batch and
//! what the analysis said of its segments), so formatting millions of lines
//! overlaps analysing the next segments, and the analysis does nothing per
//! line.

use super::line::{push_comment, push_segment, SegLine};
use super::reader::Frame;
use std::io::Write;
use std::sync::mpsc::Receiver;
use teardown_core::analysis::conn::SegInfo;
use teardown_core::evidence::Side;

/// A reader's batch, analysed: its frames, and for each of its segments in
/// order what the analysis said and its port number.
#[derive(Default)]
pub struct Analysed {
    pub frames: Vec<Frame>,
    pub infos: Vec<SegInfo>,
    pub ports_of: Vec<usize>,
    /// The names of the port numbers first used in this batch, in order.
    pub ports: Vec<String>,
}

/// How many bytes of lines are written at once.
const BUFFER: usize = 1 << 16;

/// Prints the column header, then the lines of every batch received, to
/// stdout: comments, a connection's `#N client .. server ..` line before
/// its first segment, each segment (sequence numbers absolute when
/// `absolute_seq`; its port named when the capture has `several`, or once
/// a second port has had a segment). The first write error ends it (the
/// analysis goes on, and reports it). Nothing is printed when nothing
/// comes (a file that is no capture).
pub fn print_lines(
    rx: Receiver<Analysed>,
    absolute_seq: bool,
    several: bool,
) -> std::io::Result<()> {
    let mut out = std::io::stdout();
    let mut buf: Vec<u8> = Vec::with_capacity(BUFFER + 4096);
    buf.extend_from_slice(
        b"  frame, seconds since the first frame, connection, direction, tcpdump's flags\n",
    );
    let mut started = false;
    let mut ports: Vec<String> = Vec::new();
    let (mut first_ns, mut introduced, mut used_ports) = (None, 0u64, 0usize);
    for a in rx {
        started = true;
        ports.extend(a.ports);
        let mut segs = a.infos.iter().zip(&a.ports_of);
        for f in &a.frames {
            let rel_ns = f.ts_ns.saturating_sub(*first_ns.get_or_insert(f.ts_ns));
            if let Some(text) = &f.comment {
                push_comment(&mut buf, rel_ns, text);
                buf.push(b'\n');
            }
            let Some(seg) = &f.seg else { continue };
            // One analysis per segment, in order (the analysis thread made
            // them from these frames).
            let Some((info, &pi)) = segs.next() else {
                continue;
            };
            if info.conn > introduced {
                introduced = info.conn;
                let (client, server) = match info.dir {
                    Side::Client => (seg.src, seg.dst),
                    Side::Server => (seg.dst, seg.src),
                };
                // Once per connection: format! is fine here.
                let conn = info.conn;
                buf.extend_from_slice(
                    format!("  #{conn} client {client} server {server}\n").as_bytes(),
                );
            }
            used_ports = used_ports.max(pi + 1);
            let line = SegLine {
                frame: f.frame,
                rel_ns,
                conn: info.conn,
                dir: info.dir,
                flags: seg.flags,
                seq: if absolute_seq { seg.seq } else { info.rel_seq },
                ack: if absolute_seq { seg.ack } else { info.rel_ack },
                len: seg.len,
                win: seg.win,
                port: (several || used_ports > 1).then(|| ports[pi].as_str()),
                classes: info.classes,
            };
            push_segment(&mut buf, &line);
            buf.push(b'\n');
            if buf.len() >= BUFFER {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
    }
    if started {
        out.write_all(&buf)?;
    }
    out.flush()
}
