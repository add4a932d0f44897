//! `teardown replay CAPTURE`: a tcpdump-like timeline with Wireshark's
//! classifications, then how each connection ended and the evidence.
//!
//! Contract: reads only the capture (and, with `--scenario`, the scenario
//! file and the run's `events.jsonl` / `sockets.jsonl` next to the capture
//! when present). A capture it cannot read is bad input (exit 2, with the
//! byte offset). `--scenario` exits 0 when every packet expectation holds,
//! 1 otherwise. `--summary-only` streams the file with memory bounded by the
//! connections open at once: summaries are printed as connections finish.

use crate::exit::{path_error, stdout_error};
use serde::Serialize;
use std::io::Write;
use teardown_core::analysis::conn::{Analyzer, ConnSummary, SegInfo};
use teardown_core::analysis::{
    analyze_evidence, evidence_from_capture, wire_segments, CaptureData, CaptureError, WireSeg,
};
use teardown_core::evidence::{Check, Evidence, Side};
use teardown_lab::files::{load_scenario as read_scenario, read_capture_file};

/// `teardown replay CAPTURE`.
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// A pcap or pcapng file
    pub capture: std::path::PathBuf,
    /// Re-evaluate this scenario's packet expectations against the capture
    #[arg(long)]
    pub scenario: Option<std::path::PathBuf>,
    /// Absolute sequence numbers, like `tcpdump -S`
    #[arg(long)]
    pub absolute_seq: bool,
    /// Print the analysis as JSON
    #[arg(long)]
    pub json: bool,
    /// Only the per-connection summaries (streams the file; for big captures)
    #[arg(long)]
    pub summary_only: bool,
}

/// One packet of the JSON output.
#[derive(Serialize)]
struct PacketOut<'a> {
    /// The frame's number in the file, every frame counted (1-based, as
    /// Wireshark's `frame.number`).
    frame: u64,
    ts_ns: u64,
    t: f64,
    port: &'a str,
    conn: u64,
    dir: &'static str,
    src: String,
    dst: String,
    flags: String,
    seq: u32,
    ack: u32,
    len: u32,
    win: u16,
    classes: Vec<&'static str>,
    lost_in_wire: bool,
}

#[derive(Serialize)]
struct ReplayOut<'a> {
    capture: String,
    interfaces: &'a [String],
    start_ns: u64,
    packets: Vec<PacketOut<'a>>,
    connections: &'a [ConnSummary],
    comments: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checks: Option<&'a [Check]>,
}

fn dir_text(d: Side) -> &'static str {
    match d {
        Side::Client => "C>S",
        Side::Server => "S>C",
    }
}

/// The lines of a JSON-lines file as values, or `None` if it can't be read;
/// a bad line is bad input (`file:line: why`).
fn read_jsonl<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
) -> anyhow::Result<Option<Vec<T>>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let mut values = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        values.push(
            serde_json::from_str(line).map_err(|e| {
                teardown_core::bad_input(format!("{}:{}: {e}", path.display(), n + 1))
            })?,
        );
    }
    Ok(Some(values))
}

/// Reads `events.jsonl`, `sockets.jsonl` and `steal.jsonl` next to the capture, if there.
fn load_run_files(capture: &std::path::Path, ev: &mut Evidence) -> anyhow::Result<()> {
    let dir = capture.parent().unwrap_or(std::path::Path::new("."));
    if let Some(events) = read_jsonl::<teardown_core::evidence::Event>(&dir.join("events.jsonl"))? {
        // events.jsonl is complete: it replaces the comments' copy.
        ev.events = events;
        ev.steps = ev
            .events
            .iter()
            .filter(|e| e.kind == teardown_core::scenario::EventKind::Step)
            .enumerate()
            .map(|(i, e)| {
                let detail = e.detail.clone().unwrap_or_default();
                let (name, action) = match detail.split_once(": ") {
                    Some((n, a)) if !n.contains(' ') => (Some(n.to_string()), a.to_string()),
                    _ => (None, detail.clone()),
                };
                teardown_core::evidence::StepRecord {
                    index: i,
                    name,
                    action,
                    started_ns: e.ts_ns,
                    acted_ns: e.ts_ns,
                }
            })
            .collect();
    }
    ev.sockets
        .extend(read_jsonl(&dir.join("sockets.jsonl"))?.unwrap_or_default());
    ev.steal
        .extend(read_jsonl(&dir.join("steal.jsonl"))?.unwrap_or_default());
    Ok(())
}

pub fn main(args: ReplayArgs) -> anyhow::Result<i32> {
    if args.summary_only && args.scenario.is_none() {
        return summary_only(&args);
    }
    let data = read_capture_file(&args.capture)?;
    let mut ev = evidence_from_capture(&data);
    let cut_short = data.cut_short.clone();
    let (infos, conns) = analyze_evidence(&ev);
    let wire = wire_segments(&ev);
    let checks = match &args.scenario {
        Some(path) => {
            let sc = read_scenario(path, teardown_core::scenario::Profile::Fast)?;
            load_run_files(&args.capture, &mut ev)?;
            Some(teardown_core::expect::evaluate_packets(&sc, &ev))
        }
        None => None,
    };
    let r = Replay {
        args: &args,
        data: &data,
        ev: &ev,
        infos,
        conns,
        wire,
        checks,
    };
    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        r.write_json(&mut w)?;
    } else {
        r.write_text(&mut w).map_err(stdout_error)?;
    }
    w.flush().map_err(stdout_error)?;
    report_not_read(&args.capture, &data.not_read);
    if cut_short.is_some() {
        return Ok(report_cut_short(
            &args.capture,
            cut_short.as_ref(),
            data.frames,
        ));
    }
    Ok(match &r.checks {
        Some(c) if c.iter().any(|c| !c.ok) => 1,
        _ => 0,
    })
}

/// A capture's analysis, ready to print.
struct Replay<'a> {
    args: &'a ReplayArgs,
    data: &'a CaptureData,
    ev: &'a Evidence,
    /// Per packet (indices of `ev.packets`).
    infos: Vec<SegInfo>,
    conns: Vec<ConnSummary>,
    /// Segments on the wire, by the first copy's time.
    wire: Vec<WireSeg>,
    /// `--scenario`: its packet expectations, evaluated.
    checks: Option<Vec<Check>>,
}

impl Replay<'_> {
    /// Packet `i`'s frame number in the file.
    fn frame(&self, i: usize) -> u64 {
        self.data
            .frame_numbers
            .get(i)
            .copied()
            .unwrap_or(i as u64 + 1)
    }

    /// A sequence or ack number: relative unless `--absolute-seq`.
    fn num(&self, rel: u32, abs: u32) -> u32 {
        if self.args.absolute_seq {
            abs
        } else {
            rel
        }
    }

    fn write_json(&self, w: &mut impl Write) -> anyhow::Result<()> {
        let ev = self.ev;
        let mut lost = vec![false; ev.packets.len()];
        for s in &self.wire {
            lost[s.sent] = s.lost;
        }
        let packets = ev
            .packets
            .iter()
            .zip(&self.infos)
            .enumerate()
            .map(|(i, (p, info))| PacketOut {
                frame: self.frame(i),
                ts_ns: p.ts_ns,
                t: ev.rel_secs(p.ts_ns),
                port: &p.port,
                conn: info.conn,
                dir: dir_text(info.dir),
                src: p.src.to_string(),
                dst: p.dst.to_string(),
                flags: p.flags.tcpdump(),
                seq: self.num(info.rel_seq, p.seq),
                ack: self.num(info.rel_ack, p.ack),
                len: p.len,
                win: p.win,
                classes: info.classes.names(),
                lost_in_wire: lost[i],
            })
            .collect();
        let comments = self
            .data
            .comments
            .iter()
            .map(|(ts, t)| serde_json::json!({"ts_ns": ts, "t": ev.rel_secs(*ts), "text": t}))
            .collect();
        let o = ReplayOut {
            capture: self.args.capture.display().to_string(),
            interfaces: &self.data.interfaces,
            start_ns: ev.start_ns,
            packets,
            connections: &self.conns,
            comments,
            checks: self.checks.as_deref(),
        };
        // Only writing can fail here (our own types serialize): stdout's problem.
        serde_json::to_writer_pretty(&mut *w, &o)
            .map_err(|e| stdout_error(std::io::Error::from(e)))?;
        writeln!(w).map_err(stdout_error)?;
        Ok(())
    }

    /// tcpdump-like lines, the connections' endings, the scenario's checks.
    fn write_text(&self, w: &mut impl Write) -> std::io::Result<()> {
        let (ev, data) = (self.ev, self.data);
        writeln!(
            w,
            "{}: {} TCP segments ({} frames), {} connection(s), interfaces: {}",
            self.args.capture.display(),
            ev.packets.len(),
            data.frames,
            self.conns.len(),
            data.interfaces.join(", ")
        )?;
        writeln!(
            w,
            "  frame, seconds since the first frame, connection, direction, tcpdump's flags"
        )?;
        for c in &self.conns {
            writeln!(w, "  #{} client {} server {}", c.id, c.client, c.server)?;
        }
        let two_ports = self.wire.iter().any(|s| s.received.is_some() || s.lost);
        if two_ports {
            writeln!(
                w,
                "one line per segment on the wire, timed on the sender's port"
            )?;
        }
        let mut comments = data.comments.iter().peekable();
        for s in &self.wire {
            let ts_ns = ev.packets[s.sent].ts_ns;
            while let Some((ts, text)) = comments.next_if(|(ts, _)| *ts <= ts_ns) {
                writeln!(w, "{:>7} {:>12.6}     -- {text}", "", ev.rel_secs(*ts))?;
            }
            writeln!(w, "{}", self.segment_line(s, two_ports))?;
        }
        for (ts, text) in comments {
            writeln!(w, "{:>7} {:>12.6}     -- {text}", "", ev.rel_secs(*ts))?;
        }
        writeln!(w)?;
        for c in &self.conns {
            write_summary(w, c)?;
        }
        if let Some(checks) = &self.checks {
            writeln!(w, "scenario checks:")?;
            for c in checks {
                writeln!(w, "  [{}] {}", if c.ok { "ok" } else { "FAIL" }, c.name)?;
                for e in &c.evidence {
                    writeln!(w, "        {e}")?;
                }
            }
        }
        Ok(())
    }

    /// One segment on the wire, timed on the sender's port.
    fn segment_line(&self, s: &WireSeg, two_ports: bool) -> String {
        let i = s.sent;
        let p = &self.ev.packets[i];
        let info = &self.infos[i];
        let mut line = format!(
            "{:>7} {:>12.6} #{:<3} {} {:<4} seq {} ack {} len {} win {}",
            self.frame(i),
            self.ev.rel_secs(p.ts_ns),
            info.conn,
            dir_text(info.dir),
            p.flags.tcpdump(),
            self.num(info.rel_seq, p.seq),
            self.num(info.rel_ack, p.ack),
            p.len,
            p.win
        );
        if !two_ports && self.data.interfaces.len() > 1 {
            line.push_str(&format!(" on {}", p.port));
        }
        let names = info.classes.names();
        if !names.is_empty() {
            line.push_str(&format!(" [{}]", names.join(", ")));
        }
        if s.lost {
            line.push_str(&format!(" LOST IN THE WIRE (seen on {} only)", p.port));
        } else if two_ports && s.received.is_none() {
            line.push_str(&format!(" (seen on {} only)", p.port));
        }
        line
    }
}

fn write_summary(w: &mut impl Write, c: &ConnSummary) -> std::io::Result<()> {
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

/// A file that ends inside its last record: as tcpdump and tshark, every
/// whole packet was shown; then stderr says where the file ends, and the
/// exit status (2) that the input was incomplete. 0 when it was whole.
fn report_cut_short(path: &std::path::Path, e: Option<&CaptureError>, frames: u64) -> i32 {
    match e {
        Some(e) => {
            eprintln!(
                "teardown: {}: the file ends inside a record {e}; the {frames} whole frames before it were read",
                path.display()
            );
            2
        }
        None => 0,
    }
}

/// Frames of a link type or EtherType replay does not read: named on stderr
/// with their count (a capture of them is never a silent "0 TCP segments").
fn report_not_read(path: &std::path::Path, not_read: &teardown_core::analysis::NotRead) {
    if let Some(what) = not_read.describe() {
        eprintln!(
            "teardown: {}: frames not read, so not in this analysis: {what}",
            path.display()
        );
    }
}

/// `--summary-only`: stream the file, print summaries as connections finish.
fn summary_only(args: &ReplayArgs) -> anyhow::Result<i32> {
    let file =
        std::fs::File::open(&args.capture).map_err(|e| path_error("reading", &args.capture, e))?;
    let mut s = Streamed {
        json: args.json,
        w: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()),
        analyzer: None,
        ports: Vec::new(),
        segments: 0,
        connections: 0,
        io_err: None,
    };
    let read = teardown_core::analysis::for_each_segment(
        file,
        |ts, port, seg| s.push(ts, port, seg),
        |_, _| {},
    )
    .map_err(|e| teardown_core::bad_input(format!("{}: {e}", args.capture.display())))?;
    s.finish(read.frames).map_err(stdout_error)?;
    report_not_read(&args.capture, &read.not_read);
    Ok(report_cut_short(
        &args.capture,
        read.cut_short.as_ref(),
        read.frames,
    ))
}

/// `--summary-only`'s state: the analyzer (created at the first segment,
/// when the interface names tell whether it is the harness's capture) and
/// the output.
struct Streamed<W: Write> {
    json: bool,
    w: W,
    analyzer: Option<Analyzer>,
    ports: Vec<String>,
    segments: u64,
    connections: usize,
    /// The first output error: reading goes on, it is reported at the end.
    io_err: Option<std::io::Error>,
}

impl<W: Write> Streamed<W> {
    fn push(&mut self, ts: u64, port: &str, seg: &teardown_core::analysis::wire::Segment) {
        let an = self.analyzer.get_or_insert_with(|| {
            let harness = port == "client-port" || port == "server-port";
            Analyzer::new(if harness {
                teardown_core::analysis::harness_ips().0
            } else {
                Vec::new()
            })
        });
        let pi = match self.ports.iter().position(|p| p == port) {
            Some(i) => i,
            None => {
                self.ports.push(port.to_string());
                self.ports.len() - 1
            }
        };
        an.push(ts, pi, seg);
        self.segments += 1;
        if self.segments.is_multiple_of(1 << 16) {
            let list = an.evict(ts, LINGER_NS);
            if let Err(e) = self.emit(list) {
                self.io_err.get_or_insert(e);
            }
        }
    }

    fn emit(&mut self, list: Vec<ConnSummary>) -> std::io::Result<()> {
        self.connections += list.len();
        for c in list {
            if self.json {
                serde_json::to_writer(&mut self.w, &c).map_err(std::io::Error::from)?;
                writeln!(self.w)?;
            } else {
                write_summary(&mut self.w, &c)?;
            }
        }
        Ok(())
    }

    fn finish(mut self, frames: u64) -> std::io::Result<()> {
        if let Some(e) = self.io_err.take() {
            return Err(e);
        }
        if let Some(an) = self.analyzer.take() {
            self.emit(an.finish())?;
        }
        if !self.json {
            let (n, total) = (self.segments, self.connections);
            writeln!(
                self.w,
                "{frames} frames, {n} TCP segments, {total} connections"
            )?;
        }
        self.w.flush()
    }
}
