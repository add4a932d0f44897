//! Expectations: evaluates a scenario's `[[expect]]` entries on recorded evidence.
//!
//! Contract: pure functions from ([`Scenario`], [`Evidence`]) to [`Check`]s,
//! one per expectation, in file order. They never panic on any evidence
//! (empty, unsorted, foreign packets, unparsable addresses); an expectation
//! that cannot be decided (its `after` step never ran, no socket samples) is a
//! failed check that says why. Every check carries evidence lines a human can
//! verify against the capture, `sockets.jsonl` or `events.jsonl`.
//!
//! # Terms
//!
//! - **The connection**: [`Scenario::connection`], defined once in
//!   [`crate::evidence::Connection`]: the segments and sockets with the server
//!   port ([`Scenario::server_port`]: the `port` of the built-in server endpoint,
//!   else of the endpoint on host `server`, else the port the client connects
//!   to, else 8080) at the server's end, a segment's side told by its source
//!   address ([`Evidence::sender`]: in `ev.client_ips` or `ev.server_ips`).
//!   Every connection to that port counts (a client that reconnects is the
//!   same "connection" here).
//! - **The anchor**: with `after = "step"`, the time that step acted
//!   (`StepRecord::acted_ns`, matched by name); evidence before it is
//!   ignored (a packet or sample stamped exactly at the anchor counts). A step
//!   with no record (it never ran) fails the check. Without `after`, the
//!   whole run counts.
//! - **The window** of a packet expectation: the anchor to `ev.end_ns`.
//!
//! # `packets = [..]` and `any_of = [[..], ..]`
//!
//! The connection's segments on `port` (default `server-port`) at or after
//! the anchor, sorted by time, must match the items exactly: one packet per
//! item, no packet left over, none missing. An item is `DIR FLAGS`, with `DIR`
//! `C>S` (sent by a client address, [`Evidence::sender`]) or `S>C`, and FLAGS
//! in tcpdump notation compared **exactly** with the segment's flags: `.` is a
//! pure ACK-flagged segment (data or not), `F.` is FIN+ACK and does not match
//! a FIN that carries data with PSH (`FP.`), and a data segment sent before
//! the FIN (`P.`) is a packet of its own that needs its own item. Alternatives
//! are separated by `|` (`S>C F.|S>C .`); an alternative ending in `+`
//! matches a run of one or more consecutive packets that all match it
//! (`C>S P.+`), and a run may mix the `+` alternatives of its item
//! (`C>S .+|C>S P.+`: data segments, pushed or not, in any order). Matching is an NFA walk (no backtracking blow-up on long
//! captures). `packets = []` means no packet at all in the window.
//! `any_of` passes when at least one of its sequences matches.
//!
//! Evidence: on success each matched packet ([`Evidence::describe_packet`]);
//! on failure first the reason (which item was expected and which packet, or
//! none, was there), then the actual sequence compactly (`C>S P. x12, S>C .`),
//! then the packets.
//!
//! # `silent = "client" | "server" | "any"`
//!
//! No segment of the connection on `port` from that side (`any`: from either)
//! in the window. With `flags = "FR"`, only segments carrying at least one of
//! those flags count (`S F P R U`, `.` meaning ACK).
//!
//! # `socket = STATE, host = H, when = end | throughout | ever`
//!
//! Read from `ev.sockets` samples with `host == H`. The connection's socket on
//! the client is one whose remote port is the server port; on the server, one
//! whose local port is ([`crate::evidence::Connection::has_socket`]). LISTEN
//! sockets are excluded unless STATE is `LISTEN`, in which case the listener
//! on the server port is meant.
//! A **round** is the set of H's samples sharing one `ts_ns` (the sampler
//! writes a sample for every socket every round). A round that finds no
//! socket at all writes one marker sample ([`SockSample::no_socket`]; in
//! `sockets.jsonl` state `NONE` with empty addresses), so a host whose last
//! socket vanished still shows rounds; the marker never matches a socket. Only rounds at or after the anchor count,
//! and a check with no such round fails ("no socket samples").
//! `CLOSED` means the connection has no socket in a round.
//! - `end`: the last round (largest `ts_ns`): some connection socket is in
//!   STATE (`CLOSED`: none present).
//! - `throughout`: in every round the connection has a socket and all of its
//!   sockets are in STATE (`CLOSED`: in no round does it have a socket).
//! - `ever`: in at least one round a connection socket is in STATE
//!   (`CLOSED`: at least one round without one).
//!
//! Evidence: the first and last matching samples with time and state, or the
//! offending sample (or round).
//!
//! # `event = KIND, source = ENDPOINT [, errno = [..]] [, happens = false]`
//!
//! An `ev.events` entry with that source and kind at or after the anchor (and,
//! with `errno`, an errno in the list). `happens = false` inverts it: no such
//! event. Evidence: the event with its time relative to the run's start.
//!
//! # `stdout = REGEX` / `stderr = REGEX`, `source = ENDPOINT [, happens = false]`
//!
//! A line the external endpoint printed on that stream (an `ev.events`
//! entry of kind `stdout` / `stderr` from the source, the line its detail)
//! at or after the anchor, matching the regular expression anywhere in the
//! line. `happens = false` inverts it: no such line. The evidence is
//! complete only if the source started at all (a harness `started` event
//! for it): a program that never ran printed no line, which proves nothing,
//! so the check fails either way. Evidence: the first matching line with its
//! time into the run; for `happens = false` the offending lines, or how many
//! lines there were and that none matched; for a missing line, the lines the
//! program printed instead.
//!
//! # `dies`, `schedule`, `gone`: the model expectations
//!
//! Checked against the kernel model by [`crate::timing`] ([`crate::timing::dies`],
//! [`crate::timing::schedule`], [`crate::timing::gone`]). Their checks come with
//! the model's predicted time of their key event and the measured one
//! ([`evaluate_timed`]); [`crate::verdict::key_check`] says which of them a
//! scenario's report shows.

use crate::evidence::{Check, Connection, Event, Evidence, Packet, Side, SockSample, HARNESS};
use crate::scenario::{
    CapturePort, EventKind, Expect, Expectation, FlagSet, Host, LinePattern, PacketPattern, Quiet,
    Scenario, Stream, TcpState, TimerBounds, When,
};
use crate::timing::Timed;
use std::collections::BTreeMap;

#[cfg(test)]
mod program_tests;

/// At most this many packet or sample lines in one check's evidence.
const MAX_LINES: usize = 40;

/// Every expectation of the scenario, in file order, each with its evidence.
pub fn evaluate(scenario: &Scenario, ev: &Evidence) -> Vec<Check> {
    evaluate_timed(scenario, ev)
        .into_iter()
        .map(|t| t.check)
        .collect()
}

/// Every expectation of the scenario, in file order, each with its evidence
/// and, for a model expectation ([`Expectation::has_model`]), the times its
/// model predicted and the run measured ([`Timed`]), computed once with the
/// check's verdict. The other checks carry no times.
pub fn evaluate_timed(scenario: &Scenario, ev: &Evidence) -> Vec<Timed> {
    let ctx = Ctx::new(scenario, ev);
    scenario.expects.iter().map(|e| ctx.check(e)).collect()
}

/// Only the packet expectations (`packets`, `any_of`, `silent`): what a capture alone can prove.
pub fn evaluate_packets(scenario: &Scenario, ev: &Evidence) -> Vec<Check> {
    let ctx = Ctx::new(scenario, ev);
    scenario
        .expects
        .iter()
        .filter(|e| e.check.is_packet())
        .map(|e| ctx.check(e).check)
        .collect()
}

struct Ctx<'a> {
    sc: &'a Scenario,
    ev: &'a Evidence,
    conn: Connection,
}

/// Where an expectation starts looking.
struct Anchor {
    from_ns: u64,
    /// ` after close` for names, empty without `after`.
    name_suffix: String,
    /// ` after step `close`` for evidence, empty without `after`.
    text: String,
}

fn fail(name: String, evidence: Vec<String>) -> Check {
    Check {
        kernel: None,
        name,
        ok: false,
        evidence,
    }
}

fn pass(evidence: Vec<String>) -> Check {
    Check {
        kernel: None,
        name: String::new(),
        ok: true,
        evidence,
    }
}

impl<'a> Ctx<'a> {
    fn new(scenario: &'a Scenario, ev: &'a Evidence) -> Ctx<'a> {
        Ctx {
            sc: scenario,
            ev,
            conn: scenario.connection(),
        }
    }

    fn anchor(&self, e: &Expect) -> Result<Anchor, (String, String)> {
        match &e.after {
            None => Ok(Anchor {
                from_ns: 0,
                name_suffix: String::new(),
                text: String::new(),
            }),
            Some(name) => {
                let suffix = format!(" after {name}");
                match self.ev.step_time(name) {
                    Some(t) => Ok(Anchor {
                        from_ns: t,
                        name_suffix: suffix,
                        text: format!(" after step `{name}`"),
                    }),
                    None => Err((
                        suffix,
                        format!("step `{name}` has no record: it never ran, so nothing can be checked after it"),
                    )),
                }
            }
        }
    }

    fn check(&self, e: &Expect) -> Timed {
        let anchor = self.anchor(e);
        let suffix = match &anchor {
            Ok(a) => a.name_suffix.clone(),
            Err((s, _)) => s.clone(),
        };
        let name = e
            .name
            .clone()
            .unwrap_or_else(|| derived_name(&e.check, &suffix))
            + &e.kernel_suffix();
        let anchor = match anchor {
            Ok(a) => a,
            Err((_, why)) => {
                let mut t = Timed::untimed(fail(name, vec![why]));
                t.check.kernel = e.kernel_note();
                return t;
            }
        };
        let from = anchor.from_ns;
        let untimed = Timed::untimed;
        let mut timed = match &e.check {
            Expectation::Packets {
                port,
                sequences,
                any_of,
            } => untimed(self.packets(*port, sequences, *any_of, &anchor)),
            Expectation::Silent { port, from, flags } => {
                untimed(self.silent(*port, *from, flags.as_ref(), &anchor))
            }
            Expectation::Socket {
                host,
                state,
                when,
                timer,
            } => {
                let mut c = self.socket(*host, *state, *when, &anchor);
                if let Some(bounds) = timer {
                    let t = self.socket_timer(*host, *state, bounds, &anchor);
                    c.ok &= t.ok;
                    c.evidence.extend(t.evidence);
                }
                untimed(c)
            }
            Expectation::Event {
                source,
                kind,
                errno,
                detail,
                happens,
            } => untimed(self.event(
                source,
                *kind,
                (errno.as_deref(), detail.as_deref()),
                *happens,
                &anchor,
            )),
            Expectation::Line {
                stream,
                source,
                pattern,
                happens,
            } => untimed(self.line(*stream, source, pattern, *happens, &anchor)),
            // The model expectations: their checks come with their times.
            Expectation::Gone { model, host } => {
                crate::timing::gone(self.sc, self.ev, *model, *host, from)
            }
            Expectation::Dies {
                model,
                source,
                host,
                death,
            } => crate::timing::dies(self.sc, self.ev, *model, source, *host, death, from),
            Expectation::Schedule { model, host } => {
                crate::timing::schedule(self.sc, self.ev, *model, *host, from)
            }
            Expectation::Probe { model, host } => {
                crate::timing::probe::probe(self.sc, self.ev, *model, *host, from)
            }
        };
        timed.check.name = name;
        timed.check.kernel = e.kernel_note();
        timed
    }

    // ---- packets ----------------------------------------------------------

    fn in_connection(&self, p: &Packet) -> bool {
        self.conn.has_packet(p, self.ev.sender(p))
    }

    /// The connection's packets on `port` at or after `from_ns`, by time.
    fn conn_packets(&self, port: CapturePort, from_ns: u64) -> Vec<&'a Packet> {
        let mut v: Vec<&Packet> = self
            .ev
            .packets
            .iter()
            .filter(|p| p.port == port.name() && p.ts_ns >= from_ns && self.in_connection(p))
            .collect();
        v.sort_by_key(|p| p.ts_ns);
        v
    }

    fn packets(
        &self,
        port: CapturePort,
        seqs: &[Vec<PacketPattern>],
        any_of: bool,
        a: &Anchor,
    ) -> Check {
        let pkts = self.conn_packets(port, a.from_ns);
        let mut failures = Vec::new();
        for (n, items) in seqs.iter().enumerate() {
            match match_sequence(items, &pkts, self.ev) {
                Ok(()) => {
                    let mut evidence = Vec::new();
                    if any_of {
                        evidence.push(format!(
                            "sequence {} of {} matched: {}",
                            n + 1,
                            seqs.len(),
                            written(items)
                        ));
                    }
                    if pkts.is_empty() {
                        evidence.push(format!("no packet on {port}{}", a.text));
                    }
                    evidence.extend(self.describe_packets(&pkts));
                    return pass(evidence);
                }
                Err(m) => failures.push(if any_of {
                    format!("sequence {}: {}", n + 1, m.text(&pkts, self.ev))
                } else {
                    m.text(&pkts, self.ev)
                }),
            }
        }
        let mut evidence = failures;
        evidence.push(format!(
            "actual on {port}{}: {}",
            a.text,
            compact(&pkts, self.ev)
        ));
        evidence.extend(self.describe_packets(&pkts));
        fail(String::new(), evidence)
    }

    fn describe_packets(&self, pkts: &[&Packet]) -> Vec<String> {
        let mut v: Vec<String> = pkts
            .iter()
            .take(MAX_LINES)
            .map(|p| self.ev.describe_packet(p))
            .collect();
        if pkts.len() > MAX_LINES {
            v.push(format!("... and {} more packets", pkts.len() - MAX_LINES));
        }
        v
    }

    fn silent(&self, port: CapturePort, side: Quiet, flags: Option<&FlagSet>, a: &Anchor) -> Check {
        let offending: Vec<&Packet> = self
            .conn_packets(port, a.from_ns)
            .into_iter()
            .filter(|p| side.covers(self.ev.sender(p)) && flags.is_none_or(|f| f.hit(p.flags)))
            .collect();
        let who = match side {
            Quiet::Any => "either side",
            Quiet::Client | Quiet::Server => side.name(),
        };
        let what = match flags {
            Some(f) => format!("packet carrying {}", f.list()),
            None => "packet".to_string(),
        };
        if offending.is_empty() {
            pass(vec![format!(
                "no {what} from {who} on {port}{} (window {:.3}s..{:.3}s)",
                a.text,
                self.ev.rel_secs(a.from_ns.max(self.ev.start_ns)),
                self.ev.rel_secs(self.ev.end_ns)
            )])
        } else {
            let mut evidence = vec![format!(
                "{} {what}{} from {who} on {port}{}",
                offending.len(),
                if offending.len() == 1 { "" } else { "s" },
                a.text
            )];
            evidence.extend(self.describe_packets(&offending));
            fail(String::new(), evidence)
        }
    }

    // ---- sockets ----------------------------------------------------------

    /// Whether a sample is the connection's socket on `host` (the listener on
    /// the server port when `listen`).
    fn is_conn_socket(&self, s: &SockSample, host: Host, listen: bool) -> bool {
        s.host == host
            && if listen {
                self.conn.is_listener(s)
            } else {
                self.conn.has_socket(s)
            }
    }

    fn socket(&self, host: Host, state: TcpState, when: When, a: &Anchor) -> Check {
        let q = SocketQuery {
            ctx: self,
            host,
            state,
            listen: state == TcpState::Listen,
            closed: state == TcpState::Closed,
        };
        // Rounds at or after the anchor: ts -> the connection's sockets in that round.
        let mut rounds: BTreeMap<u64, Vec<&SockSample>> = BTreeMap::new();
        for s in &self.ev.sockets {
            if s.host == host && s.ts_ns >= a.from_ns {
                let r = rounds.entry(s.ts_ns).or_default();
                if self.is_conn_socket(s, host, q.listen) {
                    r.push(s);
                }
            }
        }
        if rounds.is_empty() {
            return fail(
                String::new(),
                vec![format!("no socket samples on host `{host}`{}", a.text)],
            );
        }
        match when {
            When::End => q.at_end(&rounds),
            When::Throughout => q.throughout(&rounds, a),
            When::Ever => q.ever(&rounds, a),
        }
    }

    /// `timer_at_least` / `timer_at_most`: the timer of the first sample of
    /// the connection on `host` in `state` at or after the anchor.
    fn socket_timer(&self, host: Host, state: TcpState, b: &TimerBounds, a: &Anchor) -> Check {
        let first = self
            .ev
            .sockets
            .iter()
            .filter(|s| s.ts_ns >= a.from_ns && s.state == state)
            .filter(|s| self.is_conn_socket(s, host, state == TcpState::Listen))
            .min_by_key(|s| s.ts_ns);
        let Some(s) = first else {
            return fail(
                String::new(),
                vec![format!("timer: no {state} sample on `{host}`{}", a.text)],
            );
        };
        let Some(ms) = s.expires_ms else {
            return fail(
                String::new(),
                vec![format!(
                    "timer: the first {state} sample has no timer: {}",
                    self.describe_sample(s)
                )],
            );
        };
        let got = std::time::Duration::from_millis(ms);
        let low_ok = b.at_least.map(|d| got >= d.0).unwrap_or(true);
        let high_ok = b.at_most.map(|d| got <= d.0).unwrap_or(true);
        let bounds = match (b.at_least, b.at_most) {
            (Some(l), Some(h)) => format!("{l}..{h}"),
            (Some(l), None) => format!("at least {l}"),
            (None, Some(h)) => format!("at most {h}"),
            (None, None) => String::new(),
        };
        Check {
            kernel: None,
            name: String::new(),
            ok: low_ok && high_ok,
            evidence: vec![format!(
                "timer of the first {state} sample: {ms} ms (accepted {bounds}) {}: {}",
                if low_ok && high_ok {
                    "ok"
                } else {
                    "OUT OF RANGE"
                },
                self.describe_sample(s)
            )],
        }
    }

    fn describe_sample(&self, s: &SockSample) -> String {
        let mut t = format!(
            "{:.3}s {} {} > {} {}",
            self.ev.rel_secs(s.ts_ns),
            s.host,
            s.local,
            s.remote,
            s.state
        );
        if let Some(timer) = &s.timer {
            t.push_str(&format!(" timer {timer}"));
            if let Some(ms) = s.expires_ms {
                t.push_str(&format!(" {ms}ms"));
            }
        }
        if s.retrans > 0 {
            t.push_str(&format!(" retrans {}", s.retrans));
        }
        t
    }

    // ---- events -----------------------------------------------------------

    fn event(
        &self,
        source: &str,
        kind: EventKind,
        (errno, detail): (Option<&[String]>, Option<&str>),
        happens: bool,
        a: &Anchor,
    ) -> Check {
        let of_kind: Vec<&Event> = self
            .ev
            .events
            .iter()
            .filter(|x| x.source == source && x.kind == kind && x.ts_ns >= a.from_ns)
            .collect();
        let wanted = |x: &&Event| {
            let errno_ok = match errno {
                None => true,
                Some(list) => x.errno.as_ref().map(|n| list.contains(n)).unwrap_or(false),
            };
            errno_ok && detail.is_none_or(|d| x.detail.as_deref() == Some(d))
        };
        let hits: Vec<&Event> = of_kind.iter().copied().filter(wanted).collect();
        let mut what = match errno {
            Some(list) => format!("`{kind}` event with errno {}", list.join(" or ")),
            None => format!("`{kind}` event"),
        };
        if let Some(d) = detail {
            what.push_str(&format!(" and detail `{d}`"));
        }
        match (happens, hits.is_empty()) {
            (true, false) => pass(self.describe_events(&hits[..1])),
            (false, true) => pass(vec![format!("no {what} from `{source}`{}", a.text)]),
            (false, false) => {
                let mut evidence = vec![format!(
                    "{} {what} from `{source}`{} (it must not happen)",
                    hits.len(),
                    a.text
                )];
                evidence.extend(self.describe_events(&hits));
                fail(String::new(), evidence)
            }
            (true, true) => {
                let mut evidence = vec![format!("no {what} from `{source}`{}", a.text)];
                evidence.extend(self.what_happened(source, kind, &of_kind, a));
                fail(String::new(), evidence)
            }
        }
    }

    /// For a missing event: the events of that kind with other errnos, or else
    /// what `source` reported instead.
    fn what_happened(
        &self,
        source: &str,
        kind: EventKind,
        of_kind: &[&Event],
        a: &Anchor,
    ) -> Vec<String> {
        if !of_kind.is_empty() {
            let mut v = vec![format!("`{kind}` events with other errnos:")];
            v.extend(self.describe_events(of_kind));
            return v;
        }
        let others: Vec<&Event> = self
            .ev
            .events
            .iter()
            .filter(|x| x.source == source && x.ts_ns >= a.from_ns)
            .collect();
        if others.is_empty() {
            return vec![format!("`{source}` reported no event{}", a.text)];
        }
        vec![format!(
            "`{source}` reported{}: {}",
            a.text,
            others
                .iter()
                .take(MAX_LINES)
                .map(|x| format!("{} at {:.3}s", short_event(x), self.ev.rel_secs(x.ts_ns)))
                .collect::<Vec<_>>()
                .join(", ")
        )]
    }

    fn describe_events(&self, xs: &[&Event]) -> Vec<String> {
        let mut v: Vec<String> = xs
            .iter()
            .take(MAX_LINES)
            .map(|x| self.describe_event(x))
            .collect();
        if xs.len() > MAX_LINES {
            v.push(format!("... and {} more events", xs.len() - MAX_LINES));
        }
        v
    }

    fn describe_event(&self, x: &Event) -> String {
        let mut t = format!(
            "{:.6}s {} {}",
            self.ev.rel_secs(x.ts_ns),
            x.source,
            short_event(x)
        );
        if let Some(op) = &x.op {
            t.push_str(&format!(" (op {op})"));
        }
        if let Some(b) = x.bytes {
            t.push_str(&format!(" {b} bytes"));
        }
        if let Some(d) = &x.detail {
            t.push_str(&format!(" {d}"));
        }
        t
    }
}

impl Ctx<'_> {
    // ---- an external program's lines ---------------------------------------

    fn line(
        &self,
        stream: Stream,
        source: &str,
        pattern: &LinePattern,
        happens: bool,
        a: &Anchor,
    ) -> Check {
        let started = format!("{source} pid ");
        let ran = self.ev.events.iter().any(|x| {
            x.source == HARNESS
                && x.kind == EventKind::Started
                && x.detail.as_deref().is_some_and(|d| d.starts_with(&started))
        });
        if !ran {
            return fail(
                String::new(),
                vec![format!(
                    "`{source}` never started: it printed no {stream} line to judge"
                )],
            );
        }
        let mut lines: Vec<&Event> = self
            .ev
            .events
            .iter()
            .filter(|x| x.source == source && x.kind == stream.kind() && x.ts_ns >= a.from_ns)
            .collect();
        lines.sort_by_key(|x| x.ts_ns);
        let hits: Vec<&Event> = lines
            .iter()
            .copied()
            .filter(|x| pattern.is_match(x.detail.as_deref().unwrap_or("")))
            .collect();
        let none = format!(
            "no {stream} line of `{source}` matched {pattern} among {} line(s){}",
            lines.len(),
            a.text
        );
        match (happens, hits.first()) {
            (true, Some(first)) => pass(vec![format!(
                "{} matches {pattern}",
                self.describe_line(first)
            )]),
            (false, None) => pass(vec![none]),
            (false, Some(_)) => {
                let mut evidence = vec![format!(
                    "{} {stream} line(s) of `{source}` matched {pattern}{} (it must not happen)",
                    hits.len(),
                    a.text
                )];
                evidence.extend(self.describe_lines(&hits));
                fail(String::new(), evidence)
            }
            (true, None) => {
                let mut evidence = vec![none];
                evidence.extend(self.describe_lines(&lines));
                fail(String::new(), evidence)
            }
        }
    }

    fn describe_lines(&self, xs: &[&Event]) -> Vec<String> {
        let mut v: Vec<String> = xs
            .iter()
            .take(MAX_LINES)
            .map(|x| self.describe_line(x))
            .collect();
        if xs.len() > MAX_LINES {
            v.push(format!("... and {} more lines", xs.len() - MAX_LINES));
        }
        v
    }

    /// `1.234567s client stderr line "oops"`.
    fn describe_line(&self, x: &Event) -> String {
        format!(
            "{:.6}s {} {} line {:?}",
            self.ev.rel_secs(x.ts_ns),
            x.source,
            x.kind,
            x.detail.as_deref().unwrap_or("")
        )
    }
}

/// A `socket` expectation over its rounds (ts -> the connection's sockets).
struct SocketQuery<'c, 'a> {
    ctx: &'c Ctx<'a>,
    host: Host,
    state: TcpState,
    /// `LISTEN`: the listener on the server port is meant.
    listen: bool,
    /// `CLOSED`: the connection has no socket.
    closed: bool,
}

type Rounds<'a> = BTreeMap<u64, Vec<&'a SockSample>>;

impl SocketQuery<'_, '_> {
    fn absent(&self, ts: u64) -> String {
        format!(
            "{:.3}s {}: the connection has no socket (CLOSED)",
            self.ctx.ev.rel_secs(ts),
            self.host
        )
    }

    fn last_seen(&self) -> String {
        match self
            .ctx
            .ev
            .sockets
            .iter()
            .filter(|s| self.ctx.is_conn_socket(s, self.host, self.listen))
            .max_by_key(|s| s.ts_ns)
        {
            Some(s) => format!("last seen: {}", self.ctx.describe_sample(s)),
            None => format!(
                "the connection never had a socket on `{}` in the samples",
                self.host
            ),
        }
    }

    /// The round's socket in the state, if any (`CLOSED`: none present).
    fn round_ok(&self, socks: &[&SockSample]) -> bool {
        if self.closed {
            socks.is_empty()
        } else {
            socks.iter().any(|s| s.state == self.state)
        }
    }

    /// A hit in a round that is ok, for the evidence.
    fn hit(&self, ts: u64, socks: &[&SockSample]) -> String {
        if self.closed {
            return self.absent(ts);
        }
        match socks.iter().find(|s| s.state == self.state) {
            Some(s) => self.ctx.describe_sample(s),
            None => self.absent(ts),
        }
    }

    fn at_end(&self, rounds: &Rounds) -> Check {
        let Some((&ts, socks)) = rounds.iter().next_back() else {
            return fail(String::new(), vec!["no socket samples".into()]);
        };
        let state = self.state;
        if self.round_ok(socks) {
            let mut evidence = vec![if self.closed {
                self.absent(ts)
            } else {
                format!("last round: {}", self.hit(ts, socks))
            }];
            if self.closed {
                evidence.push(self.last_seen());
            }
            pass(evidence)
        } else if socks.is_empty() {
            fail(
                String::new(),
                vec![
                    format!("in the last round {}, not {state}", self.absent(ts)),
                    self.last_seen(),
                ],
            )
        } else {
            let mut evidence = vec![format!(
                "in the last round ({:.3}s) {}'s socket is {}, not {state}",
                self.ctx.ev.rel_secs(ts),
                self.host,
                socks[0].state
            )];
            evidence.extend(socks.iter().map(|s| self.ctx.describe_sample(s)));
            fail(String::new(), evidence)
        }
    }

    fn throughout(&self, rounds: &Rounds, a: &Anchor) -> Check {
        let state = self.state;
        let mut hits = Vec::new();
        for (&ts, socks) in rounds {
            let ok = if self.closed {
                socks.is_empty()
            } else {
                !socks.is_empty() && socks.iter().all(|s| s.state == state)
            };
            if !ok {
                let mut evidence = vec![if socks.is_empty() {
                    format!("{}, not {state}", self.absent(ts))
                } else {
                    let bad = socks.iter().find(|s| s.state != state).unwrap_or(&socks[0]);
                    format!(
                        "at {:.3}s {}'s socket is {}, not {state}: {}",
                        self.ctx.ev.rel_secs(ts),
                        self.host,
                        bad.state,
                        self.ctx.describe_sample(bad)
                    )
                }];
                if !hits.is_empty() {
                    evidence.push(format!("{state} from: {}", hits[0]));
                }
                return fail(String::new(), evidence);
            }
            hits.push(if self.closed {
                self.absent(ts)
            } else {
                self.ctx.describe_sample(socks[0])
            });
        }
        let mut evidence = vec![format!(
            "{state} in all {} sample rounds{}",
            rounds.len(),
            a.text
        )];
        evidence.extend(first_last(&hits));
        pass(evidence)
    }

    fn ever(&self, rounds: &Rounds, a: &Anchor) -> Check {
        let mut hits = Vec::new();
        let mut seen: Vec<TcpState> = Vec::new();
        for (&ts, socks) in rounds {
            if self.round_ok(socks) {
                hits.push(self.hit(ts, socks));
            }
            let here: Vec<TcpState> = if socks.is_empty() {
                vec![TcpState::Closed]
            } else {
                socks.iter().map(|s| s.state).collect()
            };
            for st in here {
                if seen.last() != Some(&st) {
                    seen.push(st);
                }
            }
        }
        if hits.is_empty() {
            fail(
                String::new(),
                vec![format!(
                    "{}'s socket was never {}{} in {} sample rounds; states seen: {}",
                    self.host,
                    self.state,
                    a.text,
                    rounds.len(),
                    seen.iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(" -> ")
                )],
            )
        } else {
            pass(first_last(&hits))
        }
    }
}

/// One hit as is, more as `first: ..` and `last: ..`.
fn first_last(hits: &[String]) -> Vec<String> {
    match hits {
        [] => vec![],
        [one] => vec![one.clone()],
        [first, .., last] => vec![format!("first: {first}"), format!("last: {last}")],
    }
}

/// `error ETIMEDOUT`, `eof`.
fn short_event(x: &Event) -> String {
    match &x.errno {
        Some(n) => format!("{} {n}", x.kind),
        None => x.kind.to_string(),
    }
}

/// A sequence's items as written, joined by `, `.
fn written(items: &[PacketPattern]) -> String {
    items
        .iter()
        .map(|i| i.written.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The check name when the expectation has none.
fn derived_name(e: &Expectation, after: &str) -> String {
    match e {
        Expectation::Dies { model, source, .. } => {
            format!("{source} dies by {model} at the model's time{after}")
        }
        Expectation::Gone { model, host } => {
            let what = match model {
                crate::scenario::OrphanModel::SynRecv => "half-open request",
                crate::scenario::OrphanModel::OrphanFin
                | crate::scenario::OrphanModel::FinWait2
                | crate::scenario::OrphanModel::ZeroWindow => "orphan",
            };
            format!("{host}'s {what} vanishes ({model}) at the model's time{after}")
        }
        Expectation::Schedule { model, host } => {
            let what = match model {
                crate::scenario::DeathModel::Keepalive => "keepalive probes",
                crate::scenario::DeathModel::Retransmission => "retransmissions",
                crate::scenario::DeathModel::Syn => "SYN retransmissions",
                crate::scenario::DeathModel::Synack => "SYN-ACK retransmissions",
                crate::scenario::DeathModel::LocalDrop => "local-drop probes",
                crate::scenario::DeathModel::Unreachable => "retransmissions answered by ICMP",
                crate::scenario::DeathModel::ZeroWindow => "zero-window probes",
            };
            format!("{host}'s {what} at the model's times{after}")
        }
        Expectation::Probe { model, host } => {
            let what = match model {
                crate::scenario::ProbeModel::TailLoss => "tail loss probe",
            };
            format!("{host}'s {what} and the RTO after it at the model's times{after}")
        }
        Expectation::Packets {
            port,
            sequences,
            any_of,
        } => packets_name(*port, sequences, *any_of, after),
        Expectation::Silent { port, from, flags } => {
            silent_name(*port, *from, flags.as_ref(), after)
        }
        Expectation::Socket {
            host, state, when, ..
        } => {
            let when = match when {
                When::End => "at end",
                When::Throughout => "throughout",
                When::Ever => "at some point",
            };
            format!("{host} socket {state} {when}{after}")
        }
        Expectation::Event {
            source,
            kind,
            errno,
            detail,
            happens,
        } => {
            let no = if *happens { "" } else { "no " };
            let errno = match errno {
                Some(list) => format!(" {}", list.join("|")),
                None => String::new(),
            };
            let detail = detail
                .as_ref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            format!("{source} gets {no}{kind}{errno}{detail}{after}")
        }
        Expectation::Line {
            stream,
            source,
            pattern,
            happens,
        } => {
            let a = if *happens { "a" } else { "no" };
            format!("{source} prints {a} {stream} line matching {pattern}{after}")
        }
    }
}

/// `packets on server-port after close: C>S F., S>C .` (`none`; `any of [..] or [..]`).
fn packets_name(
    port: CapturePort,
    sequences: &[Vec<PacketPattern>],
    any_of: bool,
    after: &str,
) -> String {
    if any_of {
        let alts: Vec<String> = sequences
            .iter()
            .map(|s| format!("[{}]", written(s)))
            .collect();
        return format!("packets on {port}{after}: any of {}", alts.join(" or "));
    }
    let items = match sequences.first() {
        Some(seq) if !seq.is_empty() => written(seq),
        _ => "none".to_string(),
    };
    format!("packets on {port}{after}: {items}")
}

/// `client silent on server-port`, `neither side sends F/R on client-port`.
fn silent_name(port: CapturePort, from: Quiet, flags: Option<&FlagSet>, after: &str) -> String {
    match flags {
        Some(f) => {
            let sends = match from {
                Quiet::Any => "neither side sends".to_string(),
                Quiet::Client | Quiet::Server => format!("{from} sends"),
            };
            format!("{sends} {} on {port}{after}", f.list())
        }
        None => {
            let who = match from {
                Quiet::Any => "both sides",
                Quiet::Client | Quiet::Server => from.name(),
            };
            format!("{who} silent on {port}{after}")
        }
    }
}

/// Why a sequence did not match.
#[derive(Debug, PartialEq)]
struct Mismatch {
    /// Index of the packet that matched nothing; `None` when the packets ran out.
    packet: Option<usize>,
    /// What the matcher was waiting for at that point.
    expected: Vec<String>,
}

impl Mismatch {
    fn text(&self, pkts: &[&Packet], ev: &Evidence) -> String {
        let expected = self.expected.join(" or ");
        match self.packet {
            Some(k) => format!(
                "expected {expected}, but packet {} is {}",
                k + 1,
                ev.describe_packet(pkts[k])
            ),
            None => format!(
                "expected {expected}, but no packet followed ({} packets in all)",
                pkts.len()
            ),
        }
    }
}

/// NFA state: (item index, Some(alternative) while inside a `+` run of it).
type State = (usize, Option<usize>);

fn expected_of(items: &[PacketPattern], states: &[State]) -> Vec<String> {
    let mut v = Vec::new();
    for &(i, run) in states {
        let t = match run {
            None if i == items.len() => "the end of the sequence".to_string(),
            None => format!("item {} `{}`", i + 1, items[i].text()),
            Some(a) => format!("more of item {} `{}`", i + 1, items[i].alts[a].text),
        };
        if !v.contains(&t) {
            v.push(t);
        }
    }
    v
}

/// Matches packets against items exactly (see the module doc).
fn match_sequence(
    items: &[PacketPattern],
    pkts: &[&Packet],
    ev: &Evidence,
) -> Result<(), Mismatch> {
    let mut states: Vec<State> = vec![(0, None)];
    for (k, p) in pkts.iter().enumerate() {
        let side = ev.sender(p);
        let mut next: Vec<State> = Vec::new();
        let mut push = |s: State| {
            if !next.contains(&s) {
                next.push(s);
            }
        };
        for &(i, run) in &states {
            match run {
                None if i < items.len() => {
                    for (a, alt) in items[i].alts.iter().enumerate() {
                        if alt.matches(side, p.flags) {
                            if alt.plus {
                                push((i, Some(a)));
                            }
                            push((i + 1, None));
                        }
                    }
                }
                None => {}
                Some(_) => {
                    // The run goes on with any `+` alternative of its item.
                    if let Some(b) = items[i]
                        .alts
                        .iter()
                        .position(|alt| alt.plus && alt.matches(side, p.flags))
                    {
                        push((i, Some(b)));
                        push((i + 1, None));
                    }
                }
            }
        }
        if next.is_empty() {
            return Err(Mismatch {
                packet: Some(k),
                expected: expected_of(items, &states),
            });
        }
        states = next;
    }
    if states.contains(&(items.len(), None)) {
        Ok(())
    } else {
        Err(Mismatch {
            packet: None,
            expected: expected_of(items, &states),
        })
    }
}

/// The packets as `C>S F., S>C P. x3, ...`.
fn compact(pkts: &[&Packet], ev: &Evidence) -> String {
    if pkts.is_empty() {
        return "(no packets)".to_string();
    }
    let mut groups: Vec<(String, usize)> = Vec::new();
    for p in pkts {
        let dir = match ev.sender(p) {
            Some(Side::Client) => "C>S",
            Some(Side::Server) => "S>C",
            None => "?>?",
        };
        let tok = format!("{dir} {}", p.flags.tcpdump());
        match groups.last_mut() {
            Some((t, n)) if *t == tok => *n += 1,
            _ => groups.push((tok, 1)),
        }
    }
    let shown: Vec<String> = groups
        .iter()
        .take(MAX_LINES)
        .map(|(t, n)| {
            if *n == 1 {
                t.clone()
            } else {
                format!("{t} x{n}")
            }
        })
        .collect();
    let mut s = shown.join(", ");
    if groups.len() > MAX_LINES {
        let rest: usize = groups[MAX_LINES..].iter().map(|(_, n)| n).sum();
        s.push_str(&format!(", ... ({rest} more packets)"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{addr, StepRecord};
    use crate::scenario::Profile;
    use std::net::SocketAddr;

    const T0: u64 = 1_700_000_000_000_000_000;
    const MS: u64 = 1_000_000;

    fn scenario(expects: &str) -> Scenario {
        let text = format!(
            r#"
name = "t"
conclusion = "C1"
summary = "test"
[endpoints.server]
host = "server"
program = "server"
[endpoints.client]
host = "client"
program = "client"

[[step]]
name = "close"
do = "close"
endpoint = "client"

[[step]]
name = "cut"
do = "cut"

[[step]]
name = "never"
do = "restore"

{expects}
"#
        );
        Scenario::parse("t.toml", &text, Profile::Fast).unwrap()
    }

    fn evidence() -> Evidence {
        Evidence {
            client_ips: vec![addr::CLIENT_V4.into(), addr::CLIENT_V6.into()],
            server_ips: vec![addr::SERVER_V4.into(), addr::SERVER_V6.into()],
            start_ns: T0,
            end_ns: T0 + 15_002 * MS,
            steps: vec![
                StepRecord {
                    index: 0,
                    name: Some("close".into()),
                    action: "close client".into(),
                    started_ns: T0 + 1000 * MS,
                    acted_ns: T0 + 1000 * MS,
                },
                StepRecord {
                    index: 1,
                    name: Some("cut".into()),
                    action: "cut".into(),
                    started_ns: T0 + 2000 * MS,
                    acted_ns: T0 + 2000 * MS,
                },
            ],
            ..Default::default()
        }
    }

    /// A packet of the connection on `server-port`, `ms` after the start.
    fn pkt(ms: u64, dir: &str, flags: &str) -> Packet {
        let c = SocketAddr::new(addr::CLIENT_V4.into(), 40000);
        let s = SocketAddr::new(addr::SERVER_V4.into(), 8080);
        let (src, dst) = if dir == "C>S" { (c, s) } else { (s, c) };
        Packet {
            ts_ns: T0 + ms * MS,
            port: "server-port".into(),
            src,
            dst,
            flags: crate::evidence::TcpFlags::parse_tcpdump(flags).unwrap(),
            seq: 1,
            ack: 1,
            len: if flags.contains('P') { 100 } else { 0 },
            win: 512,
        }
    }

    fn one(expect: &str, ev: &Evidence) -> Check {
        let sc = scenario(expect);
        let checks = evaluate(&sc, ev);
        assert_eq!(checks.len(), 1);
        checks.into_iter().next().unwrap()
    }

    fn close_packets(ev: &mut Evidence) {
        ev.packets = vec![
            pkt(500, "C>S", "P."),
            pkt(501, "S>C", "."),
            pkt(1001, "C>S", "F."),
            pkt(1002, "S>C", "F."),
            pkt(1003, "C>S", "."),
        ];
    }

    const CLOSE3: &str = r#"
[[expect]]
after = "close"
packets = ["C>S F.", "S>C F.", "C>S ."]
"#;

    #[test]
    fn packets_three_segment_close_passes_with_derived_name() {
        let mut ev = evidence();
        close_packets(&mut ev);
        let c = one(CLOSE3, &ev);
        assert!(c.ok, "{c:?}");
        assert_eq!(
            c.name,
            "packets on server-port after close: C>S F., S>C F., C>S ."
        );
        assert_eq!(c.evidence.len(), 3);
        assert!(c.evidence[0].contains("C>S F."), "{:?}", c.evidence);
    }

    #[test]
    fn packets_fail_names_the_item_and_the_packet() {
        let mut ev = evidence();
        close_packets(&mut ev);
        ev.packets[3] = pkt(1002, "S>C", "R");
        ev.packets.pop();
        let c = one(CLOSE3, &ev);
        assert!(!c.ok);
        assert!(
            c.evidence[0].contains("expected item 2 `S>C F.`")
                && c.evidence[0].contains("packet 2 is")
                && c.evidence[0].contains("S>C R"),
            "{:?}",
            c.evidence
        );
        assert_eq!(
            c.evidence[1],
            "actual on server-port after step `close`: C>S F., S>C R"
        );
    }

    #[test]
    fn packets_fail_when_packets_run_out_or_are_extra() {
        let mut ev = evidence();
        close_packets(&mut ev);
        ev.packets.pop();
        let c = one(CLOSE3, &ev);
        assert!(!c.ok);
        assert!(c.evidence[0].contains("expected item 3 `C>S .`, but no packet followed"));

        let mut ev = evidence();
        close_packets(&mut ev);
        ev.packets.push(pkt(1004, "S>C", "R"));
        let c = one(CLOSE3, &ev);
        assert!(!c.ok);
        assert!(
            c.evidence[0].contains("expected the end of the sequence, but packet 4"),
            "{:?}",
            c.evidence
        );
    }

    #[test]
    fn packets_flags_are_exact() {
        let mut ev = evidence();
        close_packets(&mut ev);
        ev.packets[2] = pkt(1001, "C>S", "FP.");
        assert!(!one(CLOSE3, &ev).ok);
    }

    #[test]
    fn packets_ignore_other_ports_other_connections_and_time_before_anchor() {
        let mut ev = evidence();
        close_packets(&mut ev);
        let mut other_port = pkt(1001, "C>S", "R");
        other_port.port = "client-port".into();
        let mut other_conn = pkt(1001, "C>S", "R");
        other_conn.dst.set_port(9999);
        let mut foreign = pkt(1001, "C>S", "R");
        foreign.src = "10.0.0.1:5".parse().unwrap();
        ev.packets.extend([other_port, other_conn, foreign]);
        // Unsorted input is sorted by time.
        ev.packets.reverse();
        assert!(one(CLOSE3, &ev).ok);
    }

    #[test]
    fn packets_alternatives_and_runs() {
        let exp = r#"
[[expect]]
after = "close"
packets = ["C>S F.", "S>C .|S>C F.", "S>C F.|C>S .", "C>S .+"]
"#;
        let mut ev = evidence();
        ev.packets = vec![
            pkt(1001, "C>S", "F."),
            pkt(1002, "S>C", "."),
            pkt(1300, "S>C", "F."),
            pkt(1301, "C>S", "."),
        ];
        assert!(one(exp, &ev).ok);
        // A `+` run takes several packets, and a run needs at least one.
        let runs = r#"
[[expect]]
packets = ["C>S P.+", "C>S P.", "S>C R"]
"#;
        let mut ev = evidence();
        ev.packets = (0..5).map(|i| pkt(100 + i, "C>S", "P.")).collect();
        ev.packets.push(pkt(200, "S>C", "R"));
        assert!(one(runs, &ev).ok);
        ev.packets.drain(1..5);
        let c = one(runs, &ev);
        assert!(!c.ok);
        assert!(
            c.evidence[0].contains("item 2 `C>S P.`"),
            "{:?}",
            c.evidence
        );
        // A run mixes its item's `+` alternatives (a flight of segments, some
        // pushed), but not an alternative without `+`.
        let mixed = "[[expect]]\npackets = [\"C>S .+|C>S P.+\", \"C>S F.\"]\n";
        let mut ev = evidence();
        ev.packets = [".", ".", "P.", ".", "P.", "F."]
            .iter()
            .enumerate()
            .map(|(i, f)| pkt(100 + i as u64, "C>S", f))
            .collect();
        assert!(one(mixed, &ev).ok);
        let strict = "[[expect]]\npackets = [\"C>S .+|C>S P.\", \"C>S F.\"]\n";
        assert!(!one(strict, &ev).ok);
    }

    #[test]
    fn packets_empty_list_means_none() {
        let exp = "[[expect]]\nafter = \"cut\"\npackets = []\n";
        let mut ev = evidence();
        ev.packets = vec![pkt(1000, "C>S", "P.")];
        assert!(one(exp, &ev).ok);
        ev.packets.push(pkt(3000, "C>S", "P."));
        assert!(!one(exp, &ev).ok);
    }

    #[test]
    fn packets_on_ipv6() {
        let mut ev = evidence();
        let c = SocketAddr::new(addr::CLIENT_V6.into(), 40000);
        let s = SocketAddr::new(addr::SERVER_V6.into(), 8080);
        ev.packets = vec![
            Packet {
                src: c,
                dst: s,
                ..pkt(1001, "C>S", "F.")
            },
            Packet {
                src: s,
                dst: c,
                ..pkt(1002, "S>C", "F.")
            },
            Packet {
                src: c,
                dst: s,
                ..pkt(1003, "C>S", ".")
            },
        ];
        assert!(one(CLOSE3, &ev).ok);
    }

    #[test]
    fn any_of_passes_on_either_sequence_and_fails_on_neither() {
        let exp = r#"
[[expect]]
after = "close"
any_of = [["C>S F.", "S>C F.", "C>S ."], ["C>S F.", "S>C .", "S>C F.", "C>S ."]]
"#;
        let mut ev = evidence();
        ev.packets = vec![
            pkt(1001, "C>S", "F."),
            pkt(1002, "S>C", "."),
            pkt(1300, "S>C", "F."),
            pkt(1301, "C>S", "."),
        ];
        let c = one(exp, &ev);
        assert!(c.ok, "{c:?}");
        assert!(c.evidence[0].starts_with("sequence 2 of 2 matched"));
        assert_eq!(
            c.name,
            "packets on server-port after close: any of [C>S F., S>C F., C>S .] or [C>S F., S>C ., S>C F., C>S .]"
        );
        ev.packets[1] = pkt(1002, "S>C", "R");
        let c = one(exp, &ev);
        assert!(!c.ok);
        assert!(c.evidence[0].starts_with("sequence 1: "));
        assert!(c.evidence[1].starts_with("sequence 2: "));
    }

    #[test]
    fn after_a_step_that_never_ran_fails() {
        let exp = "[[expect]]\nafter = \"never\"\npackets = []\n";
        let c = one(exp, &evidence());
        assert!(!c.ok);
        assert!(c.evidence[0].contains("step `never` has no record"));
        assert_eq!(c.name, "packets on server-port after never: none");
    }

    #[test]
    fn silent_passes_with_window_and_fails_with_offenders() {
        let exp = "[[expect]]\nafter = \"cut\"\nsilent = \"client\"\n";
        let mut ev = evidence();
        ev.packets = vec![pkt(1500, "C>S", "P."), pkt(3000, "S>C", "P.")];
        let c = one(exp, &ev);
        assert!(c.ok, "{c:?}");
        assert_eq!(c.name, "client silent on server-port after cut");
        assert_eq!(
            c.evidence,
            vec!["no packet from client on server-port after step `cut` (window 2.000s..15.002s)"]
        );
        ev.packets.push(pkt(4000, "C>S", "."));
        let c = one(exp, &ev);
        assert!(!c.ok);
        assert_eq!(c.evidence.len(), 2);
        assert!(c.evidence[1].contains("4.000000s server-port C>S ."));
    }

    #[test]
    fn silent_with_flags_counts_only_those_flags() {
        let exp = "[[expect]]\nsilent = \"any\"\nflags = \"FR\"\n";
        let mut ev = evidence();
        ev.packets = vec![pkt(1500, "C>S", "P."), pkt(3000, "S>C", ".")];
        let c = one(exp, &ev);
        assert!(c.ok, "{c:?}");
        assert_eq!(c.name, "neither side sends F/R on server-port");
        ev.packets.push(pkt(4000, "S>C", "R."));
        assert!(!one(exp, &ev).ok);
        let ack = "[[expect]]\nsilent = \"server\"\nflags = \".\"\n";
        assert!(!one(ack, &ev).ok);
        ev.packets.retain(|p| p.src.port() != 8080);
        assert!(one(ack, &ev).ok);
    }

    fn sample(ms: u64, host: &str, state: &str) -> SockSample {
        let (local, remote) = if host == "client" {
            ("198.18.0.1:40000", "198.18.0.2:8080")
        } else {
            ("198.18.0.2:8080", "198.18.0.1:40000")
        };
        SockSample::new(
            T0 + ms * MS,
            Host::parse(host).unwrap(),
            local.parse().unwrap(),
            remote.parse().unwrap(),
            TcpState::parse(state).unwrap(),
        )
    }

    fn listener(ms: u64) -> SockSample {
        SockSample::new(
            T0 + ms * MS,
            Host::Server,
            "0.0.0.0:8080".parse().unwrap(),
            "0.0.0.0:0".parse().unwrap(),
            TcpState::Listen,
        )
    }

    fn marker(ms: u64, host: &str) -> SockSample {
        SockSample::no_socket(T0 + ms * MS, Host::parse(host).unwrap())
    }

    #[test]
    fn socket_at_end() {
        let exp = "[[expect]]\nsocket = \"TIME_WAIT\"\nhost = \"client\"\n";
        let mut ev = evidence();
        ev.sockets = vec![
            sample(100, "client", "ESTABLISHED"),
            sample(1100, "client", "FIN_WAIT2"),
            sample(1200, "client", "TIME_WAIT"),
        ];
        let c = one(exp, &ev);
        assert!(c.ok, "{c:?}");
        assert_eq!(c.name, "client socket TIME_WAIT at end");
        assert!(
            c.evidence[0].contains("1.200s client 198.18.0.1:40000 > 198.18.0.2:8080 TIME_WAIT")
        );
        ev.sockets.pop();
        let c = one(exp, &ev);
        assert!(!c.ok);
        assert!(
            c.evidence[0].contains("is FIN_WAIT2, not TIME_WAIT"),
            "{:?}",
            c.evidence
        );
    }

    #[test]
    fn socket_closed_at_end_means_absent_from_the_last_round() {
        let exp = "[[expect]]\nsocket = \"CLOSED\"\nhost = \"server\"\n";
        let mut ev = evidence();
        ev.sockets = vec![
            listener(100),
            sample(100, "server", "ESTABLISHED"),
            listener(200),
            sample(200, "server", "LAST_ACK"),
            listener(300),
        ];
        let c = one(exp, &ev);
        assert!(c.ok, "{c:?}");
        assert!(c.evidence[1].contains("last seen: 0.200s") && c.evidence[1].contains("LAST_ACK"));
        // Still there in the last round.
        ev.sockets.push(sample(300, "server", "LAST_ACK"));
        assert!(!one(exp, &ev).ok);
        // Absent, but another state was expected.
        let est = "[[expect]]\nsocket = \"ESTABLISHED\"\nhost = \"server\"\n";
        ev.sockets.pop();
        let c = one(est, &ev);
        assert!(!c.ok);
        assert!(c.evidence[0].contains("no socket (CLOSED), not ESTABLISHED"));
        // A marker round on a host with no socket left counts as a round.
        let client = "[[expect]]\nsocket = \"CLOSED\"\nhost = \"client\"\n";
        ev.sockets = vec![sample(100, "client", "ESTABLISHED")];
        assert!(!one(client, &ev).ok);
        ev.sockets.push(marker(200, "client"));
        assert!(one(client, &ev).ok);
        // No samples at all cannot prove anything.
        ev.sockets.clear();
        let c = one(client, &ev);
        assert!(!c.ok);
        assert_eq!(c.evidence[0], "no socket samples on host `client`");
    }

    #[test]
    fn socket_listen_is_the_listener_and_listeners_are_not_the_connection() {
        let mut ev = evidence();
        ev.sockets = vec![listener(100), listener(200)];
        let listen = "[[expect]]\nsocket = \"LISTEN\"\nhost = \"server\"\nwhen = \"throughout\"\n";
        assert!(one(listen, &ev).ok);
        let closed = "[[expect]]\nsocket = \"CLOSED\"\nhost = \"server\"\nwhen = \"throughout\"\n";
        assert!(one(closed, &ev).ok);
        ev.sockets.push(marker(300, "server"));
        assert!(!one(listen, &ev).ok);
    }

    #[test]
    fn socket_throughout_after_anchor() {
        let exp = r#"
[[expect]]
socket = "ESTABLISHED"
host = "client"
when = "throughout"
after = "cut"
"#;
        let mut ev = evidence();
        ev.sockets = vec![
            sample(1900, "client", "SYN_SENT"),
            sample(2000, "client", "ESTABLISHED"),
            sample(8000, "client", "ESTABLISHED"),
            sample(15000, "client", "ESTABLISHED"),
        ];
        let c = one(exp, &ev);
        assert!(c.ok, "{c:?}");
        assert_eq!(c.name, "client socket ESTABLISHED throughout after cut");
        assert_eq!(
            c.evidence[0],
            "ESTABLISHED in all 3 sample rounds after step `cut`"
        );
        assert!(
            c.evidence[1].starts_with("first: 2.000s")
                && c.evidence[2].starts_with("last: 15.000s")
        );
        // Disappearing in the middle fails.
        ev.sockets[2] = marker(8000, "client");
        let c = one(exp, &ev);
        assert!(!c.ok);
        assert!(c.evidence[0].starts_with("8.000s client: the connection has no socket"));
        // Another state fails.
        ev.sockets[2] = sample(8000, "client", "FIN_WAIT1");
        let c = one(exp, &ev);
        assert!(!c.ok);
        assert!(c.evidence[0].contains("is FIN_WAIT1, not ESTABLISHED"));
    }

    #[test]
    fn socket_ever() {
        let exp = "[[expect]]\nsocket = \"FIN_WAIT1\"\nhost = \"server\"\nwhen = \"ever\"\n";
        let mut ev = evidence();
        ev.sockets = vec![
            sample(100, "server", "ESTABLISHED"),
            sample(200, "server", "FIN_WAIT1"),
            sample(300, "server", "FIN_WAIT1"),
            listener(400),
        ];
        let c = one(exp, &ev);
        assert!(c.ok, "{c:?}");
        assert_eq!(c.name, "server socket FIN_WAIT1 at some point");
        assert!(c.evidence[0].starts_with("first: 0.200s"));
        assert!(c.evidence[1].starts_with("last: 0.300s"));
        ev.sockets.retain(|s| s.state != TcpState::FinWait1);
        let c = one(exp, &ev);
        assert!(!c.ok);
        assert!(
            c.evidence[0].contains("states seen: ESTABLISHED -> CLOSED"),
            "{:?}",
            c.evidence
        );
    }

    #[test]
    fn socket_ipv6_addresses() {
        let exp = "[[expect]]\nsocket = \"TIME_WAIT\"\nhost = \"client\"\n";
        let mut ev = evidence();
        ev.sockets = vec![SockSample {
            local: "[fd00:7d::1]:40000".parse().unwrap(),
            remote: "[fd00:7d::2]:8080".parse().unwrap(),
            ..sample(100, "client", "TIME_WAIT")
        }];
        assert!(one(exp, &ev).ok);
        ev.sockets[0].remote = "[fd00:7d::2]:9090".parse().unwrap();
        assert!(!one(exp, &ev).ok);
    }

    fn event(ms: u64, source: &str, kind: &str, errno: Option<&str>) -> Event {
        Event {
            op: errno.map(|_| "read".to_string()),
            errno: errno.map(str::to_string),
            ..Event::new(T0 + ms * MS, source, EventKind::parse(kind).unwrap())
        }
    }

    #[test]
    fn event_with_errno() {
        let exp = r#"
[[expect]]
event = "error"
source = "client"
errno = ["ETIMEDOUT"]
after = "cut"
"#;
        let mut ev = evidence();
        ev.events = vec![
            event(100, "client", "connected", None),
            event(1500, "client", "error", Some("ETIMEDOUT")),
            event(9000, "server", "error", Some("ETIMEDOUT")),
        ];
        let c = one(exp, &ev);
        assert!(
            !c.ok,
            "before the anchor and from another source do not count"
        );
        assert_eq!(c.name, "client gets error ETIMEDOUT after cut");
        ev.events
            .push(event(9500, "client", "error", Some("ECONNRESET")));
        let c = one(exp, &ev);
        assert!(!c.ok);
        assert!(
            c.evidence[2].contains("9.500000s client error ECONNRESET (op read)"),
            "{:?}",
            c.evidence
        );
        ev.events
            .push(event(9600, "client", "error", Some("ETIMEDOUT")));
        let c = one(exp, &ev);
        assert!(c.ok, "{c:?}");
        assert_eq!(
            c.evidence,
            vec!["9.600000s client error ETIMEDOUT (op read)"]
        );
    }

    #[test]
    fn event_with_detail_matches_it_exactly() {
        let exp = r#"
[[expect]]
event = "error"
source = "client"
errno = ["ETIMEDOUT"]
detail = "EPOLLIN|EPOLLERR|EPOLLHUP"
after = "cut"
"#;
        let mut ev = evidence();
        let epoll = |ms, detail: &str| Event {
            detail: Some(detail.to_string()),
            ..event(ms, "client", "error", Some("ETIMEDOUT"))
        };
        ev.events = vec![epoll(5000, "EPOLLERR|EPOLLHUP")];
        let c = one(exp, &ev);
        assert!(!c.ok, "another detail does not count");
        assert_eq!(
            c.name,
            "client gets error ETIMEDOUT (EPOLLIN|EPOLLERR|EPOLLHUP) after cut"
        );
        assert!(
            c.evidence[0].contains("and detail `EPOLLIN|EPOLLERR|EPOLLHUP`"),
            "{:?}",
            c.evidence
        );
        ev.events.push(epoll(5100, "EPOLLIN|EPOLLERR|EPOLLHUP"));
        let c = one(exp, &ev);
        assert!(c.ok, "{c:?}");
    }

    #[test]
    fn event_without_errno_and_reports_what_happened() {
        let exp = "[[expect]]\nevent = \"eof\"\nsource = \"server\"\n";
        let mut ev = evidence();
        ev.events = vec![event(100, "server", "accepted", None)];
        let c = one(exp, &ev);
        assert!(!c.ok);
        assert_eq!(c.name, "server gets eof");
        assert_eq!(c.evidence[1], "`server` reported: accepted at 0.100s");
        ev.events.push(event(1200, "server", "eof", None));
        assert!(one(exp, &ev).ok);
    }

    #[test]
    fn event_happens_false() {
        let exp = "[[expect]]\nevent = \"error\"\nsource = \"client\"\nhappens = false\n";
        let mut ev = evidence();
        ev.events = vec![event(100, "client", "eof", None)];
        let c = one(exp, &ev);
        assert!(c.ok, "{c:?}");
        assert_eq!(c.name, "client gets no error");
        ev.events.push(event(200, "client", "error", Some("EPIPE")));
        let c = one(exp, &ev);
        assert!(!c.ok);
        assert!(c.evidence[1].contains("client error EPIPE"));
    }

    #[test]
    fn explicit_name_wins_and_evaluate_packets_filters() {
        let exp = r#"
[[expect]]
name = "four-way close"
after = "close"
packets = ["C>S F."]

[[expect]]
event = "eof"
source = "server"

[[expect]]
silent = "server"
"#;
        let sc = scenario(exp);
        let ev = evidence();
        let all = evaluate(&sc, &ev);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].name, "four-way close");
        let pk = evaluate_packets(&sc, &ev);
        assert_eq!(pk.len(), 2);
        assert_eq!(pk[1].name, "server silent on server-port");
    }

    #[test]
    fn server_port_comes_from_the_server_endpoint() {
        let text = r#"
name = "t"
conclusion = "C1"
summary = "s"
[endpoints.srv]
host = "server"
program = "server"
port = 9000
[endpoints.cli]
host = "client"
program = "client"
port = 9000
"#;
        let sc = Scenario::parse("t.toml", text, Profile::Fast).unwrap();
        assert_eq!(sc.server_port(), 9000);
    }

    #[test]
    fn compact_run_length() {
        let ev = evidence();
        let pkts = [pkt(1, "C>S", "P."), pkt(2, "C>S", "P."), pkt(3, "S>C", ".")];
        let refs: Vec<&Packet> = pkts.iter().collect();
        assert_eq!(compact(&refs, &ev), "C>S P. x2, S>C .");
        assert_eq!(compact(&[], &ev), "(no packets)");
    }
}
