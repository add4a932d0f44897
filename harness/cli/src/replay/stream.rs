//! Replay that streams the capture: `--summary-only`, and the full text
//! output of any capture but the harness's two-port one (which is loaded
//! whole to pair each segment's copies on the two ports). Memory grows with
//! the connections, never with the packets; output goes through one buffer.

use super::line::{push_comment, push_segment, SegLine};
use super::summary::{report_not_read, report_stopped, write_summary, LINGER_NS};
use crate::exit::{path_error, stdout_error};
use std::io::Write;
use teardown_core::analysis::conn::{Analyzer, ConnSummary};
use teardown_core::analysis::{for_each_frame, Seen};
use teardown_core::evidence::Side;

/// What a streamed replay prints.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Per-connection summaries, as connections finish (`--summary-only`).
    Summaries,
    /// Summaries as JSON lines (`--summary-only --json`).
    SummariesJson,
    /// Every segment's line, then the summaries (full text output).
    Lines,
}

/// Streams the capture at `path`, printing `what` (sequence numbers
/// absolute when `absolute_seq`; each line names its interface when the
/// capture has `several`); the exit status.
pub fn replay(
    path: &std::path::Path,
    absolute_seq: bool,
    several: bool,
    what: Output,
) -> anyhow::Result<i32> {
    let file = std::fs::File::open(path).map_err(|e| path_error("reading", path, e))?;
    let mut s = Stream {
        what,
        absolute_seq,
        several,
        w: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()),
        line: Vec::with_capacity(LINES_BUFFER + 4096),
        analyzer: None,
        ports: Vec::new(),
        first_ns: None,
        segments: 0,
        introduced: 0,
        kept: Vec::new(),
        connections: 0,
        io_err: None,
    };
    if what == Output::Lines {
        s.out(|l| {
            l.extend_from_slice(
                b"  frame, seconds since the first frame, connection, direction, tcpdump's flags",
            )
        });
    }
    let read = for_each_frame(file, |f| s.push(f))
        .map_err(|e| teardown_core::bad_input(format!("{}: {e}", path.display())))?;
    s.finish(path, read.frames).map_err(stdout_error)?;
    report_not_read(path, &read.not_read);
    Ok(report_stopped(path, read.stopped.as_ref(), read.frames))
}

/// The streamed replay's state: the analyzer (created at the first segment,
/// when the interface name tells whether it is the harness's capture) and
/// the output.
struct Stream<W: Write> {
    what: Output,
    absolute_seq: bool,
    several: bool,
    w: W,
    /// Lines formatted, not written yet (up to [`LINES_BUFFER`] bytes).
    line: Vec<u8>,
    analyzer: Option<Analyzer>,
    ports: Vec<String>,
    /// The first frame's time (Wireshark's time zero).
    first_ns: Option<u64>,
    segments: u64,
    /// Connections whose `#N client .. server ..` line is out.
    introduced: u64,
    /// Full output: the summaries of finished connections, printed at the end.
    kept: Vec<ConnSummary>,
    connections: usize,
    /// The first output error: reading goes on, it is reported at the end.
    io_err: Option<std::io::Error>,
}

/// How many bytes of lines are written at once.
const LINES_BUFFER: usize = 1 << 16;

impl<W: Write> Stream<W> {
    /// Formats one line with `f` into the line buffer.
    fn out(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        f(&mut self.line);
        self.write_line();
    }

    /// Ends the line formatted into the buffer; writes the buffer out when
    /// it holds 64 KiB (one write for hundreds of lines, no second copy).
    fn write_line(&mut self) {
        self.line.push(b'\n');
        if self.line.len() >= LINES_BUFFER {
            self.flush_lines();
        }
    }

    /// Writes out the lines buffered (before anything else is written).
    fn flush_lines(&mut self) {
        if let Err(e) = self.w.write_all(&self.line) {
            self.io_err.get_or_insert(e);
        }
        self.line.clear();
    }

    fn push(&mut self, f: &Seen) {
        let first_ns = *self.first_ns.get_or_insert(f.ts_ns);
        let rel_ns = f.ts_ns.saturating_sub(first_ns);
        let lines = self.what == Output::Lines;
        if let (Some(text), true) = (f.comment, lines) {
            self.out(|l| push_comment(l, rel_ns, text));
        }
        let Some(seg) = &f.seg else { return };
        let pi = match self.ports.iter().position(|p| p == f.port) {
            Some(i) => i,
            None => {
                self.ports.push(f.port.to_string());
                self.ports.len() - 1
            }
        };
        let an = self.analyzer.get_or_insert_with(|| {
            let harness = f.port == "client-port" || f.port == "server-port";
            Analyzer::new(if harness {
                teardown_core::analysis::harness_ips().0
            } else {
                Vec::new()
            })
        });
        let info = an.push(f.ts_ns, pi, seg);
        self.segments += 1;
        if self.segments.is_multiple_of(1 << 16) {
            let list = an.evict(f.ts_ns, LINGER_NS);
            self.finished(list);
        }
        if !lines {
            return;
        }
        if info.conn > self.introduced {
            self.introduced = info.conn;
            let (client, server) = match info.dir {
                Side::Client => (seg.src, seg.dst),
                Side::Server => (seg.dst, seg.src),
            };
            self.out(|l| {
                // Written once per connection: format! is fine here.
                l.extend_from_slice(
                    format!("  #{} client {client} server {server}", info.conn).as_bytes(),
                )
            });
        }
        let abs = self.absolute_seq;
        let several = self.several || self.ports.len() > 1;
        let line = SegLine {
            frame: f.frame,
            rel_ns,
            conn: info.conn,
            dir: info.dir,
            flags: seg.flags,
            seq: if abs { seg.seq } else { info.rel_seq },
            ack: if abs { seg.ack } else { info.rel_ack },
            len: seg.len,
            win: seg.win,
            port: several.then_some(self.ports[pi].as_str()),
            classes: info.classes,
        };
        push_segment(&mut self.line, &line);
        self.write_line();
    }

    /// Connections that finished: printed now (summaries), or kept for the
    /// end (full output prints them after the lines).
    fn finished(&mut self, list: Vec<ConnSummary>) {
        if self.what == Output::Lines {
            self.kept.extend(list);
            return;
        }
        if let Err(e) = self.emit(list) {
            self.io_err.get_or_insert(e);
        }
    }

    fn emit(&mut self, list: Vec<ConnSummary>) -> std::io::Result<()> {
        self.flush_lines();
        self.connections += list.len();
        for c in list {
            if self.what == Output::SummariesJson {
                serde_json::to_writer(&mut self.w, &c).map_err(std::io::Error::from)?;
                writeln!(self.w)?;
            } else {
                write_summary(&mut self.w, &c)?;
            }
        }
        Ok(())
    }

    fn finish(mut self, path: &std::path::Path, frames: u64) -> std::io::Result<()> {
        self.flush_lines();
        if let Some(e) = self.io_err.take() {
            return Err(e);
        }
        let mut rest = std::mem::take(&mut self.kept);
        if let Some(an) = self.analyzer.take() {
            rest.extend(an.finish());
        }
        rest.sort_by_key(|c| c.id);
        match self.what {
            Output::Lines => {
                writeln!(self.w)?;
                self.emit(rest)?;
                let (n, total) = (self.segments, self.connections);
                writeln!(
                    self.w,
                    "{}: {n} TCP segments ({frames} frames), {total} connection(s), interfaces: {}",
                    path.display(),
                    self.ports.join(", ")
                )?;
            }
            Output::Summaries => {
                self.emit(rest)?;
                let (n, total) = (self.segments, self.connections);
                writeln!(
                    self.w,
                    "{frames} frames, {n} TCP segments, {total} connections"
                )?;
            }
            Output::SummariesJson => self.emit(rest)?,
        }
        self.w.flush()
    }
}
