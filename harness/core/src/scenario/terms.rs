//! The scenario format's vocabulary: the closed sets of names a file may use
//! (hosts, capture ports, TCP states, event kinds, signals, models), each an
//! enum with the name it is written as, and the sides of a connection.
//!
//! Contract: `parse(name)` accepts exactly the names in `ALL` (as written in
//! scenario files and shown in the records) and `name()` gives them back, so
//! `parse(x.name()) == Some(x)` for every value. Their serde form is that
//! name (a JSON string), so the records (`sockets.jsonl`, `events.jsonl`)
//! hold the same words. Where the records know more names than a scenario
//! may use (kernel states no sample ever shows, the harness's own event
//! kinds), `SCENARIO` lists the ones a file may name.

/// An enum of fixed names: `ALL`, `name()`, `parse()`, `Display`, and serde
/// as the name (a string; an unknown name is an error listing the known ones).
macro_rules! named {
    ($(#[$m:meta])* pub enum $ty:ident { $($(#[$vm:meta])* $var:ident = $name:literal,)+ }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $ty { $($(#[$vm])* $var,)+ }

        impl $ty {
            /// Every value, in the order the format documents them.
            pub const ALL: &'static [$ty] = &[$($ty::$var,)+];

            /// The name as a scenario file writes it.
            pub fn name(self) -> &'static str {
                match self { $($ty::$var => $name,)+ }
            }

            /// The value a name stands for.
            pub fn parse(name: &str) -> Option<$ty> {
                match name { $($name => Some($ty::$var),)+ _ => None }
            }

            /// The names joined by `, ` (for error messages).
            pub fn names() -> String {
                Self::ALL.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ")
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let name = <String as ::serde::Deserialize>::deserialize(d)?;
                $ty::parse(&name).ok_or_else(|| {
                    <D::Error as ::serde::de::Error>::custom(format!(
                        "unknown {} `{name}` (expected one of {})",
                        stringify!($ty),
                        $ty::names()
                    ))
                })
            }
        }
    };
}
pub(crate) use named;

/// Which side of the connection a host is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn letter(self) -> char {
        match self {
            Side::Client => 'C',
            Side::Server => 'S',
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

named! {
    /// The two hosts every lab has.
    pub enum Host {
        Client = "client",
        Server = "server",
    }
}

impl Host {
    /// The side of the connection the host is on.
    pub fn side(self) -> Side {
        match self {
            Host::Client => Side::Client,
            Host::Server => Side::Server,
        }
    }

    /// The capture port on the host's side of the wire.
    pub fn wire_port(self) -> CapturePort {
        match self {
            Host::Client => CapturePort::ClientPort,
            Host::Server => CapturePort::ServerPort,
        }
    }
}

named! {
    /// The capture ports on the wire (the names of the capture's interfaces).
    pub enum CapturePort {
        ClientPort = "client-port",
        ServerPort = "server-port",
    }
}

named! {
    /// A TCP state: the kernel's names (include/net/tcp_states.h) of every
    /// state sock_diag can report, as a socket sample's `state`, plus
    /// `CLOSED`, which no kernel socket is in: the connection has no socket
    /// (left) on the host. A sample in `CLOSED` is a sampler round that found
    /// no socket on its host ([`crate::evidence::SockSample::no_socket`]).
    ///
    /// One enum for the records and the scenarios: a wait or an expectation
    /// compares a sample's state with its own directly. A scenario names only
    /// [`TcpState::SCENARIO`].
    pub enum TcpState {
        Established = "ESTABLISHED",
        SynSent = "SYN_SENT",
        SynRecv = "SYN_RECV",
        FinWait1 = "FIN_WAIT1",
        FinWait2 = "FIN_WAIT2",
        TimeWait = "TIME_WAIT",
        Close = "CLOSE",
        CloseWait = "CLOSE_WAIT",
        LastAck = "LAST_ACK",
        Listen = "LISTEN",
        Closing = "CLOSING",
        Closed = "CLOSED",
        /// A request socket (the kernel's 12). inet_diag itself reports
        /// request sockets as `SYN_RECV`, so no sample shows it today; it is
        /// typed so that the lab's mapping of the kernel's numbers is total
        /// without a fallback name.
        NewSynRecv = "NEW_SYN_RECV",
        /// A socket bound to a port and neither listening nor connected (the
        /// kernel's 13, a pseudo-state of inet_diag since Linux 6.8). Dumped
        /// only when asked for; the lab's sampler does not ask.
        BoundInactive = "BOUND_INACTIVE",
    }
}

impl TcpState {
    /// The states a scenario may wait for or expect: every state but the two
    /// no sample shows (`NEW_SYN_RECV`, `BOUND_INACTIVE`).
    pub const SCENARIO: &'static [TcpState] = &[
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
        TcpState::Closed,
    ];

    /// The state a scenario file's name stands for (one of [`TcpState::SCENARIO`]).
    pub fn parse_scenario(name: &str) -> Option<TcpState> {
        TcpState::parse(name).filter(|s| TcpState::SCENARIO.contains(s))
    }
}

named! {
    /// What an event says happened: every kind the records hold (an
    /// [`crate::evidence::Event`]'s `kind`), by who writes it.
    ///
    /// - The built-in endpoint (source = its name): `listening`, `accepted`,
    ///   `connected`, `options` (detail = the options read back), `sent` and
    ///   `received` (bytes), `eof`, `error` (op, errno), `closed`, `shutdown`
    ///   (detail = wr|rd|rdwr), `disconnected`, `bad_command` (detail = the line it did not
    ///   understand).
    /// - The supervisor, for any endpoint (source = its name): `stdout` and
    ///   `stderr` (a line an external program printed on that stream, the
    ///   detail), `exited` (detail = status and pid).
    /// - The harness (source = `harness`): `started` (detail = name and
    ///   pid), `step` (detail = the step), `fault` (detail = what was
    ///   applied), `drops` (detail = the packets the capture lost).
    ///
    /// One enum for the records and the scenarios, like [`TcpState`]: the
    /// scenario format's event names are these very words, and a wait or an
    /// expectation compares an event's kind with its own directly, with no
    /// second enum to keep in step. A scenario names only
    /// [`EventKind::SCENARIO`], the kinds the format has always accepted.
    pub enum EventKind {
        Listening = "listening",
        Accepted = "accepted",
        Connected = "connected",
        Sent = "sent",
        Received = "received",
        Eof = "eof",
        Error = "error",
        Closed = "closed",
        Shutdown = "shutdown",
        /// A built-in endpoint's connect(AF_UNSPEC) returned 0.
        Disconnected = "disconnected",
        Exited = "exited",
        Started = "started",
        /// A line an external program wrote on its stdout (the detail).
        Stdout = "stdout",
        /// A line an external program wrote on its stderr (the detail).
        Stderr = "stderr",
        /// The socket options a built-in endpoint read back after connecting.
        Options = "options",
        /// A command line a built-in endpoint did not understand.
        BadCommand = "bad_command",
        /// A timeline step acted (source `harness`).
        Step = "step",
        /// A fault was applied or lifted (source `harness`).
        Fault = "fault",
        /// The capture lost frames (source `harness`).
        Drops = "drops",
    }
}

impl EventKind {
    /// The kinds a scenario may wait for or expect, in the order its error
    /// messages list them.
    pub const SCENARIO: &'static [EventKind] = &[
        EventKind::Listening,
        EventKind::Accepted,
        EventKind::Connected,
        EventKind::Sent,
        EventKind::Received,
        EventKind::Eof,
        EventKind::Error,
        EventKind::Closed,
        EventKind::Shutdown,
        EventKind::Disconnected,
        EventKind::Exited,
        EventKind::Started,
        EventKind::Stdout,
        EventKind::Stderr,
    ];

    /// The kind a scenario file's name stands for (one of [`EventKind::SCENARIO`]).
    pub fn parse_scenario(name: &str) -> Option<EventKind> {
        EventKind::parse(name).filter(|k| EventKind::SCENARIO.contains(k))
    }

    /// [`EventKind::SCENARIO`]'s names joined by `, ` (for error messages).
    pub fn scenario_names() -> String {
        EventKind::SCENARIO
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

named! {
    /// An external program's output streams: each line it prints on one is
    /// an event of the stream's kind ([`Stream::kind`]), the line its detail.
    pub enum Stream {
        Stdout = "stdout",
        Stderr = "stderr",
    }
}

impl Stream {
    /// The kind of the events that hold the stream's lines.
    pub fn kind(self) -> EventKind {
        match self {
            Stream::Stdout => EventKind::Stdout,
            Stream::Stderr => EventKind::Stderr,
        }
    }
}

named! {
    /// A signal a `kill` step sends (the name without `SIG`).
    pub enum Signal {
        Kill = "KILL",
        Term = "TERM",
        Int = "INT",
        Stop = "STOP",
        Cont = "CONT",
        Hup = "HUP",
    }
}

impl Signal {
    /// Whether the process is meant to end by it (the harness then ended it,
    /// so its exit is no crash).
    pub fn ends_process(self) -> bool {
        matches!(
            self,
            Signal::Kill | Signal::Term | Signal::Int | Signal::Hup
        )
    }
}

named! {
    /// How a connection on a dead path dies, per the kernel model.
    pub enum DeathModel {
        /// Data in flight: RTO retransmissions until `tcp_retries2` (or the user timeout).
        Retransmission = "retransmission",
        /// An idle connection: keepalive probes until `keepcnt` go unanswered.
        Keepalive = "keepalive",
        /// A connect whose SYNs go unanswered: SYN retransmissions until
        /// `tcp_syn_retries` (or the socket's `syncnt`, or the user timeout).
        Syn = "syn",
        /// A passive open whose SYN-ACK is never acknowledged: the listener's
        /// request retransmits its SYN-ACK until `tcp_synack_retries` (or the
        /// listener's `syncnt`). For `schedule` (on the server) and
        /// `model_timeout`; its end is `gone = "syn_recv"` (no application
        /// hears of it).
        Synack = "synack",
        /// New data written while the sender's own interface drops it
        /// (`drop` with `at = "host"`): probes every 500 ms without backoff
        /// until `tcp_retries2` probes or TCP_USER_TIMEOUT from the first.
        /// For `dies` (nothing reaches the capture, so no `schedule`).
        LocalDrop = "local_drop",
        /// Data whose segments a `reject` answers with ICMP destination
        /// unreachable: retransmissions (the backoff undone by net/host
        /// unreachable over IPv4), death with the soft error's errno. For
        /// `dies` (`teardown_core::icmp`).
        Unreachable = "unreachable",
        /// A sender facing a zero window: its zero-window probes (the persist
        /// timer, `tcp_probe_timer`) go unanswered until `tcp_retries2` (or the
        /// user timeout, from the first probe).
        ZeroWindow = "zero_window",
    }
}

named! {
    /// A probe a host sends before its RTO, per the kernel model (`probe = ...`).
    pub enum ProbeModel {
        /// The tail loss probe (tcp_schedule_loss_probe, tcp_send_loss_probe):
        /// one PTO after the tail of a flight, it resends the last segment;
        /// the RTO then restarts from it.
        TailLoss = "tail_loss",
    }
}

named! {
    /// How a socket nobody holds (an orphan, a listener's request) vanishes, per the kernel model.
    pub enum OrphanModel {
        /// Its FIN is never acknowledged: retransmitted under `tcp_orphan_retries`.
        OrphanFin = "orphan_fin",
        /// Its peer never sends a FIN: FIN_WAIT2 lasts `tcp_fin_timeout`.
        FinWait2 = "fin_wait2",
        /// A listener's half-open request (SYN_RECV) whose SYN-ACK is never
        /// acknowledged: dropped at the expiry after `tcp_synack_retries`.
        SynRecv = "syn_recv",
        /// Its FIN is queued behind data its peer's zero window holds back:
        /// the persist timer's orphan rules (`tcp_probe_timer`).
        ZeroWindow = "zero_window",
    }
}

named! {
    /// The destination unreachable a `reject` answers with (the IPv4 / IPv6 pair).
    pub enum RejectWith {
        /// ICMP host unreachable (code 1) / ICMPv6 address unreachable (code 3).
        HostUnreachable = "host-unreachable",
        /// ICMP port unreachable (code 3) / ICMPv6 port unreachable (code 4).
        PortUnreachable = "port-unreachable",
        /// ICMP communication administratively prohibited (code 13) / ICMPv6 code 1.
        AdminProhibited = "admin-prohibited",
        /// ICMP net unreachable (code 0) / ICMPv6 no route (code 0).
        NetUnreachable = "net-unreachable",
    }
}

named! {
    /// Where a `drop` acts.
    pub enum DropAt {
        /// In the wire, on the port that receives the sender's frames: the
        /// sender's TCP never knows (a loss on the path).
        Wire = "wire",
        /// On the sender's own interface (clsact egress): the transmit call
        /// fails (NET_XMIT_DROP), and the sender's TCP knows it was a local
        /// drop (tcp_retransmit_timer re-arms TCP_RESOURCE_PROBE_INTERVAL).
        /// Nothing of it reaches the capture.
        Host = "host",
    }
}

named! {
    /// Whose segments a `drop` or `impair` step affects.
    pub enum Senders {
        Client = "client",
        Server = "server",
        Both = "both",
    }
}

impl Senders {
    /// The hosts whose frames it names.
    pub fn hosts(self) -> &'static [Host] {
        match self {
            Senders::Client => &[Host::Client],
            Senders::Server => &[Host::Server],
            Senders::Both => &[Host::Client, Host::Server],
        }
    }
}

named! {
    /// Whose segments a `silent` expectation forbids.
    pub enum Quiet {
        Client = "client",
        Server = "server",
        Any = "any",
    }
}

impl Quiet {
    /// Whether a packet sent by `side` (if known) is one it forbids.
    pub fn covers(self, side: Option<Side>) -> bool {
        matches!(
            (self, side),
            (Quiet::Any, Some(_))
                | (Quiet::Client, Some(Side::Client))
                | (Quiet::Server, Some(Side::Server))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in TcpState::ALL {
            assert_eq!(TcpState::parse(s.name()), Some(*s));
        }
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.name()), Some(*k));
        }
        assert_eq!(Signal::names(), "KILL, TERM, INT, STOP, CONT, HUP");
        assert_eq!(Host::parse("router"), None);
        assert_eq!(
            CapturePort::parse("server-port"),
            Some(CapturePort::ServerPort)
        );
        assert_eq!(Host::Server.wire_port().name(), "server-port");
    }

    #[test]
    fn scenarios_name_a_subset_of_the_records_names() {
        // Every kernel state and event kind is typed; a scenario names fewer.
        assert_eq!(TcpState::parse("NEW_SYN_RECV"), Some(TcpState::NewSynRecv));
        assert_eq!(TcpState::parse_scenario("NEW_SYN_RECV"), None);
        assert_eq!(TcpState::parse_scenario("BOUND_INACTIVE"), None);
        assert_eq!(TcpState::parse_scenario("CLOSED"), Some(TcpState::Closed));
        assert_eq!(TcpState::SCENARIO.len() + 2, TcpState::ALL.len());
        assert_eq!(EventKind::parse("step"), Some(EventKind::Step));
        for harness in ["step", "fault", "drops", "options", "bad_command"] {
            assert_eq!(EventKind::parse_scenario(harness), None, "{harness}");
        }
        assert_eq!(
            EventKind::scenario_names(),
            "listening, accepted, connected, sent, received, eof, error, closed, shutdown, disconnected, exited, started, stdout, stderr"
        );
        assert!(EventKind::SCENARIO
            .iter()
            .all(|k| EventKind::ALL.contains(k)));
    }

    #[test]
    fn serde_forms_are_the_names() {
        assert_eq!(serde_json::to_string(&Host::Client).unwrap(), r#""client""#);
        assert_eq!(
            serde_json::from_str::<TcpState>(r#""FIN_WAIT2""#).unwrap(),
            TcpState::FinWait2
        );
        assert_eq!(
            serde_json::to_string(&EventKind::BadCommand).unwrap(),
            r#""bad_command""#
        );
        let err = serde_json::from_str::<Host>(r#""router""#).unwrap_err();
        assert!(err
            .to_string()
            .contains("unknown Host `router` (expected one of client, server)"));
    }

    #[test]
    fn quiet_covers_its_side() {
        assert!(Quiet::Any.covers(Some(Side::Server)));
        assert!(!Quiet::Any.covers(None));
        assert!(Quiet::Client.covers(Some(Side::Client)));
        assert!(!Quiet::Client.covers(Some(Side::Server)));
    }
}
