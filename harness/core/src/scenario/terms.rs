//! The scenario format's vocabulary: the closed sets of names a file may use
//! (hosts, capture ports, TCP states, event kinds, signals, models), each an
//! enum with the name it is written as.
//!
//! Contract: `parse(name)` accepts exactly the names in `ALL` (as written in
//! scenario files and shown in the records) and `name()` gives them back, so
//! `parse(x.name()) == Some(x)` for every value.

use crate::evidence::Side;
use std::fmt;

/// An enum of fixed names: `ALL`, `name()`, `parse()`, `Display`.
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

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
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
    /// A TCP state a scenario can wait for or expect. `CLOSED` means the
    /// connection has no socket (left) on the host.
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
    }
}

named! {
    /// An application event kind a scenario can wait for or expect.
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
        Exited = "exited",
        Started = "started",
        /// A line an external program wrote on its stdout (the detail).
        Stdout = "stdout",
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
    }
}

named! {
    /// How a closed (orphaned) socket vanishes, per the kernel model.
    pub enum OrphanModel {
        /// Its FIN is never acknowledged: retransmitted under `tcp_orphan_retries`.
        OrphanFin = "orphan_fin",
        /// Its peer never sends a FIN: FIN_WAIT2 lasts `tcp_fin_timeout`.
        FinWait2 = "fin_wait2",
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
    fn quiet_covers_its_side() {
        assert!(Quiet::Any.covers(Some(Side::Server)));
        assert!(!Quiet::Any.covers(None));
        assert!(Quiet::Client.covers(Some(Side::Client)));
        assert!(!Quiet::Client.covers(Some(Side::Server)));
    }
}
