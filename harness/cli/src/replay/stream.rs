//! Replay that streams the capture: `--summary-only`, and the full text
//! output of any capture but the harness's two-port one (which is loaded
//! whole to pair each segment's copies on the two ports). Memory grows with
//! the connections, never with the packets.
//!
//! The work runs in a pipeline of threads, each stage in file order: the
//! [`reader`](super::reader) reads and decodes the frames; this thread
//! analyses them ([`Analyzer::push_batch`]) and prints the summaries; for
//! the full output, the [`printer`](super::printer) formats and writes the
//! lines. What is printed, and in what order, is what one thread taking
//! the frames one by one would print (a test compares them): the stages
//! only let the work overlap.

use super::printer::{print_lines, Analysed};
use super::reader::{read_batches, Batch, Frame, BATCH};
use super::summary::{report_not_read, report_stopped, write_summary, LINGER_NS};
use crate::exit::{path_error, stdout_error};
use std::io::Write;
use std::sync::mpsc::{sync_channel, SyncSender};
use teardown_core::analysis::conn::{Analyzer, ConnSummary, Pushed, SegInfo};

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

/// Batches that may wait between two stages: enough that a stage seldom
/// waits for the next to be scheduled (two cores, three threads), and
/// memory stays bounded (about 8 MiB a stage, whatever the capture).
const IN_FLIGHT: usize = 16;
/// Segments analysed at once ([`Analyzer::push_batch`]: enough to overlap
/// their cache misses, few enough that their state is still cached when
/// each one's turn comes).
const CHUNK: usize = 256;
/// Every this many segments, finished connections are handed out.
const EVICT_EVERY: u64 = 1 << 16;

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
    let spawn_error = |e| anyhow::anyhow!("starting a replay thread: {e}");
    let (frames_tx, frames_rx) = sync_channel::<Batch>(IN_FLIGHT);
    let reader = std::thread::Builder::new()
        .name("replay-reader".into())
        .spawn(move || read_batches(file, &frames_tx))
        .map_err(spawn_error)?;
    let mut printer = None;
    let mut lines = None;
    if what == Output::Lines {
        let (tx, rx) = sync_channel::<Analysed>(IN_FLIGHT);
        let thread = std::thread::Builder::new()
            .name("replay-printer".into())
            .spawn(move || print_lines(rx, absolute_seq, several))
            .map_err(spawn_error)?;
        printer = Some(thread);
        lines = Some(tx);
    }
    let mut s = Stream {
        what,
        lines,
        new_ports: Vec::new(),
        analyzer: None,
        ports: Vec::new(),
        names: Vec::new(),
        ports_of: Vec::new(),
        infos: Vec::new(),
        segments: 0,
        kept: Vec::new(),
        connections: 0,
        w: None,
        io_err: None,
    };
    for batch in frames_rx {
        s.batch(batch);
    }
    let read =
        join(reader).map_err(|e| teardown_core::bad_input(format!("{}: {e}", path.display())))?;
    // Sent even when there are no frames, as the capture was read: the
    // printer prints its header at the first batch.
    s.send_lines(Vec::new());
    s.lines = None;
    // Made while the printer still prints the last lines.
    let rest = s.rest(path, read.frames);
    if let Some(p) = printer {
        if let Err(e) = join(p) {
            s.io_err.get_or_insert(e);
        }
    }
    s.finish(&rest).map_err(stdout_error)?;
    report_not_read(path, &read.not_read);
    Ok(report_stopped(path, read.stopped.as_ref(), read.frames))
}

/// A connection's summary as text, or (`json`) as one JSON line.
fn put_summary(w: &mut impl Write, c: &ConnSummary, json: bool) -> std::io::Result<()> {
    if json {
        serde_json::to_writer(&mut *w, c).map_err(std::io::Error::from)?;
        writeln!(w)
    } else {
        write_summary(w, c)
    }
}

/// A stage's result, its panic carried on.
fn join<T>(t: std::thread::JoinHandle<T>) -> T {
    match t.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The analysis stage's state: the analyzer (created at the first segment,
/// when the interface name tells whether it is the harness's capture) and
/// the output.
struct Stream {
    what: Output,
    /// Full output: the printer stage (gone: it stopped on a write error),
    /// and the names of the port numbers first used since the last batch
    /// it was sent.
    lines: Option<SyncSender<Analysed>>,
    new_ports: Vec<String>,
    analyzer: Option<Analyzer>,
    /// Interfaces with TCP segments, in the order of their first one (the
    /// analyzer's port numbers).
    ports: Vec<String>,
    /// Every interface the reader named, in its order, and its number in
    /// `ports` once it had a segment.
    names: Vec<(String, Option<usize>)>,
    /// A batch's segments' ports and analysis, in order.
    ports_of: Vec<usize>,
    infos: Vec<SegInfo>,
    segments: u64,
    /// Full output: the summaries of finished connections, printed at the end.
    kept: Vec<ConnSummary>,
    connections: usize,
    /// Where summaries go: stdout, taken at the first (the printer stage
    /// writes the lines before it).
    w: Option<std::io::BufWriter<std::io::StdoutLock<'static>>>,
    /// The first output error: reading goes on, it is reported at the end.
    io_err: Option<std::io::Error>,
}

impl Stream {
    /// Takes a batch from the reader, in chunks that end where one thread
    /// would evict (every [`EVICT_EVERY`] segments) and hold at most
    /// [`CHUNK`] segments.
    fn batch(&mut self, b: Batch) {
        self.names.extend(b.names.into_iter().map(|n| (n, None)));
        self.infos.clear();
        self.ports_of.clear();
        let mut at = 0;
        while at < b.frames.len() {
            at = self.chunk(&b.frames, at);
        }
        self.send_lines(b.frames);
    }

    /// Analyses the frames from `at` on, up to a chunk's end (adding to
    /// `infos` and `ports_of`); returns where the next chunk starts.
    fn chunk(&mut self, frames: &[Frame], at: usize) -> usize {
        let room = CHUNK.min((EVICT_EVERY - self.segments % EVICT_EVERY) as usize);
        let mut pushed = Vec::with_capacity(room);
        let mut end = at;
        while end < frames.len() && pushed.len() < room {
            let f = &frames[end];
            end += 1;
            let Some(seg) = &f.seg else { continue };
            let port = self.port_of(f.name);
            if self.analyzer.is_none() {
                let harness = matches!(self.ports[port].as_str(), "client-port" | "server-port");
                self.analyzer = Some(Analyzer::new(if harness {
                    teardown_core::analysis::harness_ips().0
                } else {
                    Vec::new()
                }));
            }
            pushed.push(Pushed::new(f.ts_ns, port, seg));
            self.ports_of.push(port);
        }
        if let Some(an) = &mut self.analyzer {
            an.push_batch(&pushed, &mut self.infos);
        }
        self.segments += pushed.len() as u64;
        let last = pushed.last().map(|p| p.ts_ns);
        if let (Some(now), true) = (last, self.segments.is_multiple_of(EVICT_EVERY)) {
            if let Some(an) = &mut self.analyzer {
                let list = an.evict(now, LINGER_NS);
                self.finished(list);
            }
        }
        end
    }

    /// The analyzer's port number of the reader's interface `name`.
    fn port_of(&mut self, name: usize) -> usize {
        let (text, port) = &mut self.names[name];
        *port.get_or_insert_with(|| {
            self.ports.push(text.clone());
            self.new_ports.push(text.clone());
            self.ports.len() - 1
        })
    }

    /// Full output: hands a batch's frames and their analysis to the
    /// printer. A printer gone has stopped on a write error it reports.
    fn send_lines(&mut self, frames: Vec<Frame>) {
        let Some(tx) = &self.lines else { return };
        let a = Analysed {
            frames,
            // The next batch's room at once (grown segment by segment, the
            // vectors were copied again and again).
            infos: std::mem::replace(&mut self.infos, Vec::with_capacity(BATCH)),
            ports_of: std::mem::replace(&mut self.ports_of, Vec::with_capacity(BATCH)),
            ports: std::mem::take(&mut self.new_ports),
        };
        if tx.send(a).is_err() {
            self.lines = None;
        }
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
        self.connections += list.len();
        let json = self.what == Output::SummariesJson;
        let w = self.w.get_or_insert_with(|| {
            std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock())
        });
        list.iter().try_for_each(|c| put_summary(w, c, json))
    }

    /// What is left to print once every frame is read: the summaries of
    /// the connections still held, by id (after a blank line, in the full
    /// output), and the closing line.
    fn rest(&mut self, path: &std::path::Path, frames: u64) -> Vec<u8> {
        let mut rest = std::mem::take(&mut self.kept);
        if let Some(an) = self.analyzer.take() {
            rest.extend(an.finish());
        }
        rest.sort_by_key(|c| c.id);
        self.connections += rest.len();
        let mut out = Vec::new();
        if self.what == Output::Lines {
            out.push(b'\n');
        }
        // Writing to a Vec does not fail.
        let json = self.what == Output::SummariesJson;
        for c in &rest {
            let _ = put_summary(&mut out, c, json);
        }
        let (n, total) = (self.segments, self.connections);
        let _ = match self.what {
            Output::Lines => writeln!(
                out,
                "{}: {n} TCP segments ({frames} frames), {total} connection(s), interfaces: {}",
                path.display(),
                self.ports.join(", ")
            ),
            Output::Summaries => {
                writeln!(
                    out,
                    "{frames} frames, {n} TCP segments, {total} connections"
                )
            }
            Output::SummariesJson => Ok(()),
        };
        out
    }

    /// Prints `rest` ([`Stream::rest`]), after any output error so far.
    fn finish(mut self, rest: &[u8]) -> std::io::Result<()> {
        if let Some(e) = self.io_err.take() {
            return Err(e);
        }
        let w = self.w.get_or_insert_with(|| {
            std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock())
        });
        w.write_all(rest)?;
        w.flush()
    }
}
