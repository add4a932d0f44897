//! The timeline's waits, decided on the records gathered so far.
//!
//! Contract: [`Waiting::holds`] is a pure predicate over [`Records`] (plus
//! what the runner knows about the moment the wait began), so the lab only
//! blocks on its recorder with it until it holds or the [`timeout`] passes.
//! It never panics on any records. A [`Wait::Duration`] never holds: letting
//! time pass is the runner's (abortable) job.
//!
//! - Event waits: any event so far from the source, of the kind (with the
//!   errno; with `bytes`, a count of at least that many).
//! - Socket and `gone` waits need a sampler round taken after the wait began
//!   ([`Records::round_after`]): an older round may predate the connection
//!   itself, or the step that this wait follows (a state seen before an
//!   `undrop` says nothing about after it).
//! - Packet waits count the packets since the previous step acted: one may
//!   come between that action and the start of this wait.
//! - Line waits (`stdout`, `stderr`) look, like packet waits, at the lines
//!   recorded since the previous step acted (`since_ns`; the run's start for
//!   the first step), not since the wait began: the line a `write` or a
//!   `start` causes may be printed before the next step starts waiting, and
//!   a program's first lines come as soon as it starts. A line from before
//!   the previous action never answers, so two waits for the same text in a
//!   row with no action between them see the same line.

use crate::evidence::{Connection, Side};
use crate::records::Records;
use crate::scenario::{Host, Scenario, StepWait, TcpState, Wait, WaitTimeout};
use std::net::IpAddr;
use std::time::Duration;

/// What a wait needs to know besides the records.
#[derive(Clone, Debug)]
pub struct WaitContext {
    /// The scenario's connection ([`Scenario::connection`]).
    pub connection: Connection,
    /// The client host's addresses: a packet from one of them is `C>S`, any other `S>C`.
    pub client_ips: Vec<IpAddr>,
    /// When the wait began (socket and `gone` waits need a round after it).
    pub began_ns: u64,
    /// When the previous step acted (packet and line waits look from there).
    pub since_ns: u64,
}

/// A wait in progress: the condition, its context, and what packet and line
/// waits counted so far.
#[derive(Debug)]
pub struct Waiting<'a> {
    wait: &'a Wait,
    cx: WaitContext,
    /// Packets (a line wait: events) already looked at, and how many of them matched.
    seen: usize,
    hits: usize,
}

impl<'a> Waiting<'a> {
    pub fn new(wait: &'a Wait, cx: WaitContext) -> Waiting<'a> {
        Waiting {
            wait,
            cx,
            seen: 0,
            hits: 0,
        }
    }

    /// Whether the condition holds on the records now. Packet and line
    /// waits look only at packets (events) added since the last call
    /// (records only grow while a scenario runs).
    pub fn holds(&mut self, r: &Records) -> bool {
        let conn = self.cx.connection;
        match self.wait {
            Wait::Event {
                source,
                kind,
                errno,
                bytes,
            } => r.events.iter().any(|e| {
                e.source == *source
                    && e.kind == *kind
                    && errno
                        .as_ref()
                        .map(|x| e.errno.as_ref() == Some(x))
                        .unwrap_or(true)
                    && bytes.map(|b| e.bytes.unwrap_or(0) >= b).unwrap_or(true)
            }),
            Wait::Socket { host, state } => {
                r.round_after(*host, self.cx.began_ns)
                    .is_some_and(|mut round| {
                        round.any(|s| {
                            s.state == *state
                                && if *state == TcpState::Listen {
                                    // The server program's listener on the scenario's port.
                                    conn.is_listener(s)
                                } else {
                                    conn.has_socket(s)
                                }
                        })
                    })
            }
            Wait::Gone { host } => r
                .round_after(*host, self.cx.began_ns)
                .is_some_and(|mut round| !round.any(|s| conn.has_socket(s))),
            Wait::Packet {
                pattern,
                port: capture,
                count,
                window,
            } => {
                let new = r.packets.get(self.seen..).unwrap_or(&[]);
                self.hits += new
                    .iter()
                    .filter(|p| {
                        let side = if self.cx.client_ips.contains(&p.src.ip()) {
                            Side::Client
                        } else {
                            Side::Server
                        };
                        p.ts_ns >= self.cx.since_ns
                            && p.port == capture.name()
                            && pattern.matches_one(Some(side), p.flags)
                            && window.is_none_or(|w| w == p.win)
                    })
                    .count();
                self.seen = r.packets.len();
                self.hits >= *count as usize
            }
            Wait::Line {
                stream,
                source,
                pattern,
            } => {
                let new = r.events.get(self.seen..).unwrap_or(&[]);
                self.hits += new
                    .iter()
                    .filter(|e| {
                        e.source == *source
                            && e.kind == stream.kind()
                            && e.ts_ns >= self.cx.since_ns
                            && pattern.is_match(e.detail.as_deref().unwrap_or(""))
                    })
                    .count();
                self.seen = r.events.len();
                self.hits > 0
            }
            Wait::Duration(_) => false,
        }
    }
}

/// How long a wait may take: its `timeout`, or with `model_timeout` the
/// model's lifetime of the connection (on a `gone` wait naming an orphan
/// model, of the orphan: [`crate::timing::orphan_life`]) plus 10 s. The wait only bounds a hang
/// (the timing itself is checked by `dies`); the model's lifetime is taken
/// with the larger of the RTOs the connection showed on the host so far,
/// since the model's death scales with it.
pub fn timeout(sc: &Scenario, w: &StepWait, r: &Records) -> Duration {
    let largest_rto = |host: Host| {
        let conn = sc.connection();
        r.sockets
            .iter()
            .filter(|s| s.host == host && conn.has_socket(s))
            .filter_map(|s| s.tcp.as_ref().map(|t| t.rto_us))
            .max()
            .filter(|us| *us > 0)
            .map(|us| Duration::from_micros(us as u64))
    };
    match w.timeout {
        WaitTimeout::Fixed(d) => d.0,
        WaitTimeout::Model { model, host } => {
            crate::timing::model_life(sc, model, host, largest_rto(host)) + Duration::from_secs(10)
        }
        WaitTimeout::Orphan { model, host } => {
            crate::timing::orphan_life(sc, model, host, largest_rto(host)) + Duration::from_secs(10)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Event, Packet, SockSample, TcpFlags, TcpInfoLite};
    use crate::scenario::{CapturePort, EventKind, Host, PacketPattern, Profile};

    fn sample(ts_ns: u64, host: Host, state: TcpState, local: &str, remote: &str) -> SockSample {
        SockSample::new(
            ts_ns,
            host,
            local.parse().unwrap(),
            remote.parse().unwrap(),
            state,
        )
    }

    fn event(source: &str, kind: EventKind) -> Event {
        Event::new(0, source, kind)
    }

    fn cx(began_ns: u64, since_ns: u64) -> WaitContext {
        WaitContext {
            connection: Connection::new(8080),
            client_ips: vec!["198.18.0.1".parse().unwrap()],
            began_ns,
            since_ns,
        }
    }

    #[test]
    fn event_waits_match_source_kind_errno_and_bytes() {
        let w = Wait::Event {
            source: "server".into(),
            kind: EventKind::Received,
            errno: None,
            bytes: Some(100),
        };
        let mut r = Records::default();
        let mut waiting = Waiting::new(&w, cx(0, 0));
        r.events.push(Event {
            bytes: Some(50),
            ..event("server", EventKind::Received)
        });
        assert!(!waiting.holds(&r));
        r.events.push(Event {
            bytes: Some(500),
            ..event("client", EventKind::Received)
        });
        assert!(!waiting.holds(&r));
        r.events.push(Event {
            bytes: Some(100),
            ..event("server", EventKind::Received)
        });
        assert!(waiting.holds(&r));
        let err = Wait::Event {
            source: "client".into(),
            kind: EventKind::Error,
            errno: Some("ETIMEDOUT".into()),
            bytes: None,
        };
        r.events.push(Event {
            errno: Some("ECONNRESET".into()),
            ..event("client", EventKind::Error)
        });
        assert!(!Waiting::new(&err, cx(0, 0)).holds(&r));
    }

    #[test]
    fn socket_waits_need_a_round_after_the_wait_began() {
        let w = Wait::Socket {
            host: Host::Client,
            state: TcpState::TimeWait,
        };
        let tw = sample(
            100,
            Host::Client,
            TcpState::TimeWait,
            "198.18.0.1:40000",
            "198.18.0.2:8080",
        );
        let mut r = Records::default();
        r.add_round(Host::Client, 100, vec![tw.clone()]);
        assert!(
            !Waiting::new(&w, cx(100, 0)).holds(&r),
            "a round older than the wait"
        );
        assert!(Waiting::new(&w, cx(99, 0)).holds(&r));
        // Another socket in that state is not the connection.
        let mut other = Records::default();
        let foreign = SockSample {
            remote: "198.18.0.2:9999".parse().unwrap(),
            ..tw
        };
        other.add_round(Host::Client, 200, vec![foreign]);
        assert!(!Waiting::new(&w, cx(0, 0)).holds(&other));
    }

    #[test]
    fn listen_waits_mean_the_listener_on_the_port() {
        let w = Wait::Socket {
            host: Host::Server,
            state: TcpState::Listen,
        };
        let mut r = Records::default();
        r.add_round(
            Host::Server,
            10,
            vec![sample(
                10,
                Host::Server,
                TcpState::Listen,
                "0.0.0.0:9000",
                "0.0.0.0:0",
            )],
        );
        assert!(!Waiting::new(&w, cx(0, 0)).holds(&r));
        r.add_round(
            Host::Server,
            20,
            vec![sample(
                20,
                Host::Server,
                TcpState::Listen,
                "0.0.0.0:8080",
                "0.0.0.0:0",
            )],
        );
        assert!(Waiting::new(&w, cx(0, 0)).holds(&r));
    }

    #[test]
    fn gone_waits_hold_on_a_round_without_the_connection() {
        let w = Wait::Gone { host: Host::Server };
        let mut r = Records::default();
        let est = sample(
            10,
            Host::Server,
            TcpState::Established,
            "198.18.0.2:8080",
            "198.18.0.1:40000",
        );
        r.add_round(Host::Server, 10, vec![est]);
        let mut waiting = Waiting::new(&w, cx(5, 0));
        assert!(!waiting.holds(&r));
        // A listener left behind does not count as the connection.
        r.add_round(
            Host::Server,
            20,
            vec![sample(
                20,
                Host::Server,
                TcpState::Listen,
                "0.0.0.0:8080",
                "0.0.0.0:0",
            )],
        );
        assert!(waiting.holds(&r));
        assert!(
            !Waiting::new(&w, cx(20, 0)).holds(&r),
            "no round after the wait yet"
        );
    }

    fn packet(ts_ns: u64, from_client: bool, flags: &str, port: &str) -> Packet {
        let (c, s) = ("198.18.0.1:40000", "198.18.0.2:8080");
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        Packet {
            ts_ns,
            port: port.into(),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            flags: TcpFlags::parse_tcpdump(flags).unwrap(),
            seq: 0,
            ack: 0,
            len: 0,
            win: 0,
        }
    }

    #[test]
    fn packet_waits_count_matches_since_the_last_action_on_the_port() {
        let w = Wait::Packet {
            pattern: PacketPattern::parse("S>C .|S>C F.+").unwrap(),
            port: CapturePort::ServerPort,
            count: 2,
            window: None,
        };
        let mut r = Records::default();
        let mut waiting = Waiting::new(&w, cx(0, 100));
        r.packets.push(packet(50, false, ".", "server-port"));
        r.packets.push(packet(150, true, ".", "server-port"));
        r.packets.push(packet(160, false, ".", "client-port"));
        assert!(
            !waiting.holds(&r),
            "too early, from the client, another port"
        );
        r.packets.push(packet(170, false, "F.", "server-port"));
        assert!(!waiting.holds(&r), "one of two");
        r.packets.push(packet(180, false, ".", "server-port"));
        assert!(waiting.holds(&r));
        // `window = 0`: only a segment announcing a closed window.
        let w = Wait::Packet {
            pattern: PacketPattern::parse("S>C .").unwrap(),
            port: CapturePort::ServerPort,
            count: 1,
            window: Some(0),
        };
        let mut r = Records::default();
        let mut waiting = Waiting::new(&w, cx(0, 100));
        r.packets.push(Packet {
            win: 512,
            ..packet(150, false, ".", "server-port")
        });
        assert!(!waiting.holds(&r), "an open window");
        r.packets.push(packet(160, false, ".", "server-port"));
        assert!(waiting.holds(&r), "the closed window");
    }

    fn line(ts_ns: u64, source: &str, kind: EventKind, text: &str) -> Event {
        Event {
            detail: Some(text.into()),
            ..Event::new(ts_ns, source, kind)
        }
    }

    #[test]
    fn line_waits_match_a_line_of_the_stream_from_the_source_since_the_last_action() {
        let w = Wait::Line {
            stream: crate::scenario::Stream::Stdout,
            source: "client".into(),
            pattern: crate::scenario::LinePattern::parse("^got (hello|bye)$").unwrap(),
        };
        assert_eq!(
            w.describe(),
            "a stdout line of client matching /^got (hello|bye)$/"
        );
        let mut r = Records::default();
        // Began at 200, the previous step acted at 100.
        let mut waiting = Waiting::new(&w, cx(200, 100));
        r.events
            .push(line(50, "client", EventKind::Stdout, "got hello"));
        r.events
            .push(line(150, "client", EventKind::Stderr, "got hello"));
        r.events
            .push(line(150, "server", EventKind::Stdout, "got hello"));
        r.events
            .push(line(150, "client", EventKind::Stdout, "got hello!"));
        r.events.push(Event::new(150, "client", EventKind::Stdout));
        assert!(
            !waiting.holds(&r),
            "too early, another stream, another source, no match, no line"
        );
        // Between the last action and the start of the wait: it counts.
        r.events
            .push(line(150, "client", EventKind::Stdout, "got bye"));
        assert!(waiting.holds(&r));
        assert!(waiting.holds(&r), "it keeps holding");
        let err = Wait::Line {
            stream: crate::scenario::Stream::Stderr,
            source: "client".into(),
            pattern: crate::scenario::LinePattern::parse("oops").unwrap(),
        };
        assert_eq!(err.describe(), "a stderr line of client matching /oops/");
        let mut waiting = Waiting::new(&err, cx(200, 100));
        assert!(!waiting.holds(&r));
        r.events
            .push(line(300, "client", EventKind::Stderr, "oops: lost"));
        assert!(waiting.holds(&r));
    }

    #[test]
    fn a_duration_never_holds() {
        let w = Wait::Duration(crate::scenario::Dur(Duration::from_secs(1)));
        assert!(!Waiting::new(&w, cx(0, 0)).holds(&Records::default()));
    }

    #[test]
    fn model_timeouts_scale_with_the_largest_rto_seen() {
        let text = "name = \"t\"\nconclusion = \"C3\"\nsummary = \"s\"\n[hosts.client.sysctl]\n\"net.ipv4.tcp_retries2\" = 5\n[endpoints.server]\nhost = \"server\"\nprogram = \"server\"\n[endpoints.client]\nhost = \"client\"\nprogram = \"client\"\n[[step]]\nwait = { event = \"error\", source = \"client\", model_timeout = \"retransmission\" }\n[[step]]\nwait = { event = \"eof\", source = \"server\" }\n";
        let sc = Scenario::parse("t.toml", text, Profile::Fast).unwrap();
        let model = sc.steps[0].wait.as_ref().unwrap();
        let fixed = sc.steps[1].wait.as_ref().unwrap();
        let mut r = Records::default();
        assert_eq!(timeout(&sc, fixed, &r), Duration::from_secs(5));
        let plain = timeout(&sc, model, &r);
        let slow = SockSample {
            tcp: Some(TcpInfoLite {
                rto_us: 1_000_000,
                ..Default::default()
            }),
            ..sample(
                1,
                Host::Client,
                TcpState::Established,
                "198.18.0.1:40000",
                "198.18.0.2:8080",
            )
        };
        r.add_round(Host::Client, 1, vec![slow]);
        let scaled = timeout(&sc, model, &r);
        assert!(scaled > plain, "{scaled:?} > {plain:?}");
        assert_eq!(
            scaled,
            crate::timing::model_life(
                &sc,
                crate::scenario::DeathModel::Retransmission,
                Host::Client,
                Some(Duration::from_secs(1))
            ) + Duration::from_secs(10)
        );
    }
}
