//! `teardown replay CAPTURE`: a tcpdump-like timeline with Wireshark's
//! classifications, then how each connection ended and the evidence.
//!
//! Contract: reads only the capture (and, with `--scenario`, the scenario
//! file and the run's `events.jsonl` / `sockets.jsonl` next to the capture
//! when present). A capture it cannot read is bad input (exit 2, with the
//! byte offset). `--scenario` exits 0 when every packet expectation holds,
//! 1 otherwise. `--summary-only` and the full text output stream the file
//! ([`stream`]), with memory bounded by the connections: summaries are
//! printed as connections finish. The harness's two-port capture, `--json`
//! and `--scenario` load it whole (the two ports' copies of a segment are
//! paired; JSON is one document).
//!
//! - [`line`]: one segment's line, formatted by hand.
//! - [`stream`]: the streamed replays, a pipeline of three stages:
//!   [`reader`] (read and decode), [`stream`] (analyse, summaries),
//!   [`printer`] (the full output's lines).
//! - [`summary`]: connection summaries; what stderr says about the file.

mod line;
mod printer;
mod reader;
mod stream;
mod summary;

use crate::exit::stdout_error;
use line::{dir_text, push_comment, push_segment, SegLine};
use serde::Serialize;
use std::io::Write;
pub(crate) use summary::report_stopped;
use summary::{report_not_read, write_summary};
use teardown_core::analysis::conn::{ConnSummary, SegInfo};
use teardown_core::analysis::{
    analyze_evidence, evidence_from_capture, wire_segments, CaptureData, WireSeg,
};
use teardown_core::evidence::{Check, Evidence};
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
    ev.ticks
        .extend(read_jsonl(&dir.join("ticks.jsonl"))?.unwrap_or_default());
    Ok(())
}

pub fn main(args: ReplayArgs) -> anyhow::Result<i32> {
    if args.summary_only && args.scenario.is_none() {
        let what = if args.json {
            stream::Output::SummariesJson
        } else {
            stream::Output::Summaries
        };
        return stream::replay(&args.capture, args.absolute_seq, false, what);
    }
    let names = leading_interfaces(&args.capture);
    if !args.json && args.scenario.is_none() && !two_port_capture(&names) {
        let several = names.len() > 1;
        return stream::replay(
            &args.capture,
            args.absolute_seq,
            several,
            stream::Output::Lines,
        );
    }
    let data = read_capture_file(&args.capture)?;
    let mut ev = evidence_from_capture(&data);
    let stopped = data.stopped.clone();
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
    if stopped.is_some() {
        return Ok(report_stopped(&args.capture, stopped.as_ref(), data.frames));
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

    /// tcpdump-like lines, the connections' endings, the scenario's checks
    /// (the layout the streamed replay prints, [`stream`]).
    fn write_text(&self, w: &mut impl Write) -> std::io::Result<()> {
        let (ev, data) = (self.ev, self.data);
        writeln!(
            w,
            "  frame, seconds since the first frame, connection, direction, tcpdump's flags"
        )?;
        let two_ports = self.wire.iter().any(|s| s.received.is_some() || s.lost);
        if two_ports {
            writeln!(
                w,
                "one line per segment on the wire, timed on the sender's port"
            )?;
        }
        let rel = |ts: u64| ts.saturating_sub(ev.start_ns);
        let mut line = Vec::with_capacity(256);
        let mut comments = data.comments.iter().peekable();
        let mut introduced = 0;
        for s in &self.wire {
            let ts_ns = ev.packets[s.sent].ts_ns;
            while let Some((ts, text)) = comments.next_if(|(ts, _)| *ts <= ts_ns) {
                line.clear();
                push_comment(&mut line, rel(*ts), text);
                line.push(b'\n');
                w.write_all(&line)?;
            }
            let conn = self.infos[s.sent].conn;
            if conn > introduced {
                introduced = conn;
                if let Some(c) = self.conns.iter().find(|c| c.id == conn) {
                    writeln!(w, "  #{} client {} server {}", c.id, c.client, c.server)?;
                }
            }
            line.clear();
            self.segment_line(&mut line, s, two_ports);
            line.push(b'\n');
            w.write_all(&line)?;
        }
        for (ts, text) in comments {
            line.clear();
            push_comment(&mut line, rel(*ts), text);
            line.push(b'\n');
            w.write_all(&line)?;
        }
        writeln!(w)?;
        for c in &self.conns {
            write_summary(w, c)?;
        }
        writeln!(
            w,
            "{}: {} TCP segments ({} frames), {} connection(s), interfaces: {}",
            self.args.capture.display(),
            ev.packets.len(),
            data.frames,
            self.conns.len(),
            data.interfaces.join(", ")
        )?;
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
    fn segment_line(&self, out: &mut Vec<u8>, s: &WireSeg, two_ports: bool) {
        let i = s.sent;
        let p = &self.ev.packets[i];
        let info = &self.infos[i];
        let several = !two_ports && self.data.interfaces.len() > 1;
        push_segment(
            out,
            &SegLine {
                frame: self.frame(i),
                rel_ns: p.ts_ns.saturating_sub(self.ev.start_ns),
                conn: info.conn,
                dir: info.dir,
                flags: p.flags,
                seq: self.num(info.rel_seq, p.seq),
                ack: self.num(info.rel_ack, p.ack),
                len: p.len,
                win: p.win,
                port: several.then_some(p.port.as_str()),
                classes: info.classes,
            },
        );
        if s.lost {
            out.extend_from_slice(
                format!(" LOST IN THE WIRE (seen on {} only)", p.port).as_bytes(),
            );
        } else if two_ports && s.received.is_none() {
            out.extend_from_slice(format!(" (seen on {} only)", p.port).as_bytes());
        }
    }
}

/// The interface names the capture declares before its first frame (none
/// when it cannot be opened or is no capture: reading it whole says why).
fn leading_interfaces(path: &std::path::Path) -> Vec<String> {
    std::fs::File::open(path)
        .ok()
        .and_then(teardown_core::analysis::leading_interfaces)
        .unwrap_or_default()
}

/// Whether these are the harness's merged capture's interfaces: both wire
/// ports, whose copies of a segment replay pairs (so it reads the file whole).
fn two_port_capture(names: &[String]) -> bool {
    names.iter().any(|n| n == "client-port") && names.iter().any(|n| n == "server-port")
}
