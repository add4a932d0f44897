//! SVG ladder (sequence) diagrams of a run's or a capture's segments.
//!
//! Contract: [`render`] is a pure function from evidence to SVG text (no
//! external resources, valid XML, no XML declaration so it can be inlined in
//! HTML). One lifeline per host; one arrow per segment on the wire, from the
//! sender's capture time to the receiver's (both ports captured) labelled
//! with flags, relative seq/ack, length and Wireshark's classifications; a
//! segment lost in the wire (some of its bytes never reach the far port:
//! [`crate::analysis::wire_segments`]) ends in a cross half-way; [`arrows`]
//! gives the same arrows as data. Fault intervals from
//! `ev.events` (kind `fault`) are shaded and labelled; socket states from
//! `ev.sockets` are written along the lifelines. The time axis is not linear:
//! short gaps are stretched so labels do not collide and gaps over
//! [`COMPRESS_NS`] are drawn at a fixed height with their length written on
//! the axis (so a 15-retransmission timeout stays readable).

use crate::analysis::conn::{ConnSummary, SegInfo};
use crate::analysis::{analyze_evidence, wire_segments, WireSeg};
use crate::evidence::{Evidence, TcpFlags};
use crate::scenario::terms::{EventKind, TcpState};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;

/// Gaps longer than this are compressed (and labelled).
pub const COMPRESS_NS: u64 = 1_000_000_000;
/// At most this many arrows are drawn.
pub const MAX_ARROWS: usize = 3000;

const ROW: f64 = 26.0;
const TOP: f64 = 90.0;
const WIDTH: f64 = 980.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Lifelines: the client and server hosts (from `ev.client_ips` /
/// `server_ips`), then any other address in order of appearance.
struct Hosts {
    names: Vec<String>,
    ips: Vec<Vec<IpAddr>>,
}

impl Hosts {
    fn new(ev: &Evidence) -> Hosts {
        let mut h = Hosts {
            names: Vec::new(),
            ips: Vec::new(),
        };
        if !ev.client_ips.is_empty() || !ev.server_ips.is_empty() {
            h.names.push("client".into());
            h.ips.push(ev.client_ips.clone());
            h.names.push("server".into());
            h.ips.push(ev.server_ips.clone());
        }
        for p in &ev.packets {
            for ip in [p.src.ip(), p.dst.ip()] {
                if h.of(ip).is_none() && h.names.len() < 12 {
                    h.names.push(ip.to_string());
                    h.ips.push(vec![ip]);
                }
            }
        }
        h
    }
    fn of(&self, ip: IpAddr) -> Option<usize> {
        self.ips.iter().position(|v| v.contains(&ip))
    }
    fn x(&self, i: usize) -> f64 {
        let n = self.names.len().max(2) as f64;
        let left = 250.0;
        let right = WIDTH - 170.0;
        left + (right - left) * i as f64 / (n - 1.0)
    }
    /// Which lifeline a sock_diag host name (`client`, `server`) is.
    fn by_name(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

/// Piecewise time-to-y mapping over the instants that matter.
struct Axis {
    points: Vec<(u64, f64)>,
    breaks: Vec<(f64, f64, u64)>,
}

impl Axis {
    /// `times`: (instant, starts an arrow).
    fn new(mut times: Vec<(u64, bool)>) -> Axis {
        times.sort();
        let mut points: Vec<(u64, f64)> = Vec::new();
        let mut breaks = Vec::new();
        let mut last_arrow_y = f64::MIN;
        for (t, arrow) in times {
            let y = match points.last() {
                None => TOP,
                Some(&(pt, py)) => {
                    let dt = t - pt;
                    if dt == 0 {
                        py
                    } else if dt > COMPRESS_NS {
                        breaks.push((py, py + 46.0, dt));
                        py + 46.0
                    } else {
                        // 1 ms = 1 px, at least 3 px, at most 40 px.
                        py + (dt as f64 / 1e6).clamp(3.0, 40.0)
                    }
                }
            };
            let y = if arrow { y.max(last_arrow_y + ROW) } else { y };
            if arrow {
                last_arrow_y = y;
            }
            match points.last_mut() {
                Some(last) if last.0 == t => last.1 = last.1.max(y),
                _ => points.push((t, y)),
            }
        }
        Axis { points, breaks }
    }
    fn y(&self, t: u64) -> f64 {
        match self.points.binary_search_by_key(&t, |p| p.0) {
            Ok(i) => self.points[i].1,
            Err(0) => self.points.first().map(|p| p.1).unwrap_or(TOP),
            Err(i) if i >= self.points.len() => self.points.last().map(|p| p.1).unwrap_or(TOP),
            Err(i) => {
                let (t0, y0) = self.points[i - 1];
                let (t1, y1) = self.points[i];
                y0 + (y1 - y0) * (t - t0) as f64 / (t1 - t0) as f64
            }
        }
    }
    fn end(&self) -> f64 {
        self.points.last().map(|p| p.1).unwrap_or(TOP)
    }
}

/// Fault intervals: (start, end or None, label).
fn faults(ev: &Evidence) -> Vec<(u64, Option<u64>, String)> {
    let mut out: Vec<(u64, Option<u64>, String)> = Vec::new();
    for e in ev.events.iter().filter(|e| e.kind == EventKind::Fault) {
        let detail = e.detail.clone().unwrap_or_default();
        let mut words = detail.split_whitespace();
        let verb = words.next().unwrap_or("");
        let rest: Vec<&str> = words.collect();
        let ends = match verb {
            "restore" => Some(vec!["cut", "drop", "partition"]),
            "power_on" => Some(vec!["power_off"]),
            "link_up" => Some(vec!["link_down"]),
            "thaw" => Some(vec!["freeze"]),
            _ => None,
        };
        match ends {
            Some(starts) => {
                // Close the latest open interval this ends (same host when named).
                if let Some(open) = out.iter_mut().rev().find(|(_, end, label)| {
                    end.is_none()
                        && starts
                            .iter()
                            .any(|s| label.starts_with(&s.replace('_', " ")))
                        && (rest.is_empty() || rest.iter().all(|w| label.contains(w)))
                }) {
                    open.1 = Some(e.ts_ns);
                }
            }
            None => out.push((e.ts_ns, None, detail.replace('_', " "))),
        }
    }
    out
}

/// Socket state changes per lifeline: (time, lifeline, state).
fn states(ev: &Evidence, hosts: &Hosts) -> Vec<(u64, usize, String)> {
    let mut last: BTreeMap<usize, String> = BTreeMap::new();
    let mut out = Vec::new();
    let mut samples: Vec<_> = ev
        .sockets
        .iter()
        .filter(|s| s.state != TcpState::Listen)
        .collect();
    samples.sort_by_key(|s| s.ts_ns);
    for s in samples {
        let Some(h) = hosts.by_name(s.host.name()) else {
            continue;
        };
        // A sampler round that found no socket: nothing to say before the
        // connection existed, "gone" after it.
        let state = if s.is_no_socket() {
            "gone".to_string()
        } else {
            s.state.name().to_string()
        };
        if state == "gone" && !last.contains_key(&h) {
            continue;
        }
        if last.get(&h) != Some(&state) {
            last.insert(h, state.clone());
            out.push((s.ts_ns, h, state));
        }
    }
    out
}

/// The ladder diagram of `ev` as SVG text.
pub fn render(ev: &Evidence, title: &str) -> String {
    let l = Ladder::new(ev);
    let mut o = String::new();
    l.header(&mut o, title);
    l.fault_bands(&mut o);
    l.lifelines(&mut o);
    l.time_axis(&mut o);
    l.socket_states(&mut o);
    let many = l.conns.len() > 1;
    for s in &l.segs {
        l.arrow(&mut o, s, many);
    }
    l.footer(&mut o);
    o.push_str("</svg>\n");
    o
}

/// One arrow of a ladder diagram, as data: what [`render`] draws for a
/// segment (its label is the arrow's text).
#[derive(Clone, Debug, PartialEq)]
pub struct Arrow {
    /// When it was sent (its first copy).
    pub ts_ns: u64,
    /// When its bytes reached the far port (`None`: not seen there).
    pub received_ns: Option<u64>,
    /// Sent and never received: drawn with a cross half-way.
    pub lost: bool,
    /// `F. seq 1 ack 1 len 0 [retransmission] LOST`.
    pub label: String,
}

/// The arrows [`render`] draws for `ev`, in time order (at most
/// [`MAX_ARROWS`]).
pub fn arrows(ev: &Evidence) -> Vec<Arrow> {
    let l = Ladder::new(ev);
    let many = l.conns.len() > 1;
    l.segs
        .iter()
        .map(|s| {
            let p = &ev.packets[s.sent];
            Arrow {
                ts_ns: p.ts_ns,
                received_ns: s.received.map(|r| ev.packets[r].ts_ns),
                lost: s.lost,
                label: arrow_label(&l.infos[s.sent], p.flags, p.len, s.lost, many),
            }
        })
        .collect()
}

/// What a ladder diagram draws, laid out: lifelines, the time axis, and the
/// segments, faults and socket states placed on them.
struct Ladder<'a> {
    ev: &'a Evidence,
    hosts: Hosts,
    infos: Vec<SegInfo>,
    conns: Vec<ConnSummary>,
    /// At most [`MAX_ARROWS`] of them.
    segs: Vec<WireSeg>,
    truncated: bool,
    faults: Vec<(u64, Option<u64>, String)>,
    states: Vec<(u64, usize, String)>,
    /// The instant of time 0 on the axis labels.
    start: u64,
    axis: Axis,
    /// The lifelines' lower end.
    bottom: f64,
}

impl<'a> Ladder<'a> {
    fn new(ev: &'a Evidence) -> Ladder<'a> {
        let hosts = Hosts::new(ev);
        let (infos, conns) = analyze_evidence(ev);
        let mut segs = wire_segments(ev);
        let truncated = segs.len() > MAX_ARROWS;
        segs.truncate(MAX_ARROWS);
        let faults = faults(ev);
        let states = states(ev, &hosts);
        let start = ev
            .packets
            .iter()
            .map(|p| p.ts_ns)
            .chain(faults.iter().map(|f| f.0))
            .min()
            .unwrap_or(ev.start_ns);
        let start = if ev.start_ns != 0 {
            ev.start_ns.min(start)
        } else {
            start
        };
        let axis = Axis::new(instants(ev, &segs, &faults, &states, start));
        let bottom = axis.end() + 40.0;
        Ladder {
            ev,
            hosts,
            infos,
            conns,
            segs,
            truncated,
            faults,
            states,
            start,
            axis,
            bottom,
        }
    }

    fn header(&self, o: &mut String, title: &str) {
        let height = self.bottom + 60.0;
        let _ = write!(
            o,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="monospace" font-size="11">
<defs><marker id="ah" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>
<rect x="0" y="0" width="{WIDTH}" height="{height:.0}" fill="white"/>
<text x="10" y="20" font-size="14" font-weight="bold">{}</text>
"##,
            esc(title)
        );
    }

    fn fault_bands(&self, o: &mut String) {
        for (a, b, label) in &self.faults {
            let y0 = self.axis.y(*a);
            let y1 = b.map(|b| self.axis.y(b)).unwrap_or(self.bottom);
            let _ = writeln!(
                o,
                r##"<rect x="150" y="{y0:.1}" width="{:.0}" height="{:.1}" fill="#f4a261" fill-opacity="0.22" stroke="#e76f51" stroke-dasharray="4 3"/><text x="{:.0}" y="{:.1}" fill="#b5461f" font-weight="bold" text-anchor="end">{}</text>"##,
                WIDTH - 160.0,
                (y1 - y0).max(2.0),
                WIDTH - 14.0,
                y0 + 12.0,
                esc(label)
            );
        }
    }

    fn lifelines(&self, o: &mut String) {
        let bottom = self.bottom;
        for (i, name) in self.hosts.names.iter().enumerate() {
            let x = self.hosts.x(i);
            let ips: Vec<String> = self.hosts.ips[i].iter().map(|ip| ip.to_string()).collect();
            let _ = writeln!(
                o,
                r##"<text x="{x:.0}" y="48" text-anchor="middle" font-size="13" font-weight="bold">{}</text><text x="{x:.0}" y="63" text-anchor="middle" fill="#555">{}</text><line x1="{x:.0}" y1="{:.0}" x2="{x:.0}" y2="{bottom:.0}" stroke="#333" stroke-width="2"/>"##,
                esc(name),
                esc(&ips.join(" ")),
                TOP - 14.0
            );
        }
    }

    /// The axis line and a mark on each compressed gap.
    fn time_axis(&self, o: &mut String) {
        let bottom = self.bottom;
        let _ = writeln!(
            o,
            r##"<line x1="80" y1="{:.0}" x2="80" y2="{bottom:.0}" stroke="#999"/><text x="10" y="{:.0}" fill="#555">time (s)</text>"##,
            TOP - 14.0,
            TOP - 20.0
        );
        for (y0, y1, dt) in &self.axis.breaks {
            let ym = (y0 + y1) / 2.0;
            let _ = writeln!(
                o,
                r##"<path d="M72,{:.1} L88,{:.1} M72,{:.1} L88,{:.1}" stroke="#999"/><text x="92" y="{:.1}" fill="#888" font-style="italic">≈ {:.1} s idle</text>"##,
                ym - 4.0,
                ym - 8.0,
                ym + 4.0,
                ym,
                ym + 3.0,
                *dt as f64 / 1e9
            );
        }
    }

    /// Socket states written along the lifelines.
    fn socket_states(&self, o: &mut String) {
        for (t, h, st) in &self.states {
            let x = self.hosts.x(*h);
            let right = *h + 1 < self.hosts.names.len() || self.hosts.names.len() == 1;
            let (tx, anchor) = if right {
                (x - 6.0, "end")
            } else {
                (x + 6.0, "start")
            };
            let _ = writeln!(
                o,
                r##"<text x="{tx:.0}" y="{:.1}" text-anchor="{anchor}" fill="#1d4ed8" font-size="10">{}</text>"##,
                self.axis.y(*t) + 10.0,
                esc(st)
            );
        }
    }

    /// One segment: its arrow (a cross half-way if lost), label and time.
    fn arrow(&self, o: &mut String, s: &WireSeg, many: bool) {
        let ev = self.ev;
        let p = &ev.packets[s.sent];
        let (Some(from), Some(to)) = (self.hosts.of(p.src.ip()), self.hosts.of(p.dst.ip())) else {
            return;
        };
        let info = &self.infos[s.sent];
        let x0 = self.hosts.x(from);
        let x1 = self.hosts.x(to);
        let y0 = self.axis.y(p.ts_ns);
        let y1 = match s.received {
            Some(r) => self.axis.y(ev.packets[r].ts_ns).max(y0 + 4.0),
            None => y0 + 8.0,
        };
        let classes = info.classes.names();
        let color = arrow_color(p.flags, !classes.is_empty());
        let (xe, ye) = if s.lost {
            ((x0 + x1) / 2.0, (y0 + y1) / 2.0)
        } else {
            (x1, y1)
        };
        let marker = if s.lost {
            ""
        } else {
            r#" marker-end="url(#ah)""#
        };
        let _ = writeln!(
            o,
            r##"<line x1="{x0:.1}" y1="{y0:.1}" x2="{xe:.1}" y2="{ye:.1}" stroke="{color}" stroke-width="1.6"{marker}/>"##
        );
        if s.lost {
            let _ = writeln!(
                o,
                r##"<path d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}" stroke="#c1121f" stroke-width="2.5"/>"##,
                xe - 6.0,
                ye - 6.0,
                xe + 6.0,
                ye + 6.0,
                xe - 6.0,
                ye + 6.0,
                xe + 6.0,
                ye - 6.0
            );
        }
        let label = arrow_label(info, p.flags, p.len, s.lost, many);
        let lx = (x0 + x1) / 2.0;
        let _ = writeln!(
            o,
            r##"<text x="{lx:.1}" y="{:.1}" text-anchor="middle" fill="{color}">{}</text>"##,
            (y0 + ye) / 2.0 - 5.0,
            esc(&label)
        );
        let _ = writeln!(
            o,
            r##"<text x="76" y="{:.1}" text-anchor="end" fill="#555" font-size="10">{:.6}</text>"##,
            y0 + 3.0,
            p.ts_ns.saturating_sub(self.start) as f64 / 1e9
        );
    }

    /// The note on the time axis and the first connections' endings.
    fn footer(&self, o: &mut String) {
        let bottom = self.bottom;
        let mut note = format!(
            "time axis not to scale: short gaps stretched for legibility, gaps over {} s compressed (≈)",
            COMPRESS_NS / 1_000_000_000
        );
        if self.truncated {
            let _ = write!(note, "; only the first {MAX_ARROWS} segments are drawn");
        }
        let _ = writeln!(
            o,
            r##"<text x="10" y="{:.0}" fill="#555" font-style="italic">{}</text>"##,
            bottom + 24.0,
            esc(&note)
        );
        for (i, c) in self.conns.iter().enumerate().take(4) {
            let _ = writeln!(
                o,
                r##"<text x="10" y="{:.0}" fill="#333">#{} {} → {}: {}</text>"##,
                bottom + 40.0 + 14.0 * i as f64,
                c.id,
                c.client,
                c.server,
                esc(c.ending.name())
            );
        }
    }
}

/// The instants the axis must place: (time, starts an arrow).
fn instants(
    ev: &Evidence,
    segs: &[WireSeg],
    faults: &[(u64, Option<u64>, String)],
    states: &[(u64, usize, String)],
    start: u64,
) -> Vec<(u64, bool)> {
    let mut times: Vec<(u64, bool)> = Vec::new();
    for s in segs {
        times.push((ev.packets[s.sent].ts_ns, true));
        if let Some(r) = s.received {
            times.push((ev.packets[r].ts_ns, false));
        }
    }
    for (a, b, _) in faults {
        times.push((*a, false));
        if let Some(b) = b {
            times.push((*b, false));
        }
    }
    for (t, _, _) in states {
        times.push((*t, false));
    }
    if times.is_empty() {
        times.push((start, false));
    }
    times
}

/// RST red, classified (retransmission, ...) amber, SYN teal, FIN blue.
fn arrow_color(f: TcpFlags, classified: bool) -> &'static str {
    if f.has(TcpFlags::RST) {
        "#c1121f"
    } else if classified {
        "#d97706"
    } else if f.has(TcpFlags::SYN) {
        "#2a9d8f"
    } else if f.has(TcpFlags::FIN) {
        "#1d4ed8"
    } else {
        "#222"
    }
}

/// `#2 F. seq 1 ack 1 len 0 [retransmission] LOST`.
fn arrow_label(info: &SegInfo, f: TcpFlags, len: u32, lost: bool, many: bool) -> String {
    let classes = info.classes.names();
    let mut label = format!(
        "{}{} seq {} ack {} len {}",
        if many {
            format!("#{} ", info.conn)
        } else {
            String::new()
        },
        f.tcpdump(),
        info.rel_seq,
        info.rel_ack,
        len
    );
    if !classes.is_empty() {
        let _ = write!(label, " [{}]", classes.join(", "));
    }
    if lost {
        label.push_str(" LOST");
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Event, Packet, SockSample};

    fn pkt(ts: u64, port: &str, c2s: bool, flags: &str, seq: u32, ack: u32) -> Packet {
        let c: std::net::SocketAddr = "198.18.0.1:40000".parse().unwrap();
        let s: std::net::SocketAddr = "198.18.0.2:8080".parse().unwrap();
        let (src, dst) = if c2s { (c, s) } else { (s, c) };
        Packet {
            ts_ns: ts,
            port: port.into(),
            src,
            dst,
            flags: TcpFlags::parse_tcpdump(flags).unwrap(),
            seq,
            ack,
            len: 0,
            win: 100,
        }
    }

    #[test]
    fn lost_segment_fault_and_states_are_drawn() {
        let (client_ips, server_ips) = crate::analysis::harness_ips();
        let ms = 1_000_000u64;
        let ev = Evidence {
            client_ips,
            server_ips,
            packets: vec![
                pkt(10 * ms, "client-port", true, "F.", 100, 500),
                pkt(11 * ms, "server-port", true, "F.", 100, 500),
                pkt(5_000 * ms, "client-port", true, "F.", 100, 500),
            ],
            events: vec![Event {
                detail: Some("cut".into()),
                ..Event::new(20 * ms, crate::evidence::HARNESS, EventKind::Fault)
            }],
            sockets: vec![SockSample::new(
                12 * ms,
                crate::scenario::Host::Client,
                "198.18.0.1:40000".parse().unwrap(),
                "198.18.0.2:8080".parse().unwrap(),
                TcpState::FinWait1,
            )],
            start_ns: 0,
            ..Evidence::default()
        };
        let svg = render(&ev, "t <1>");
        assert!(svg.contains("t &lt;1&gt;"));
        assert!(svg.contains(">cut<"), "fault label");
        assert!(svg.contains("FIN_WAIT1"));
        assert!(svg.contains("LOST"));
        assert!(svg.contains("[retransmission]"));
        assert!(svg.contains("idle"), "the 5 s gap is compressed");
        assert_eq!(svg.matches("marker-end").count(), 1, "one delivered arrow");
    }
}
