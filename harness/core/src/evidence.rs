//! Evidence: the records a run produces and the pure core consumes.
//!
//! Contract: these are plain data. The privileged shell fills them (capture,
//! sock_diag sampler, endpoints, runner); `expect`, `analysis` and `report`
//! read them. Every timestamp is CLOCK_REALTIME in nanoseconds since the Unix
//! epoch, the clock AF_PACKET stamps packets with, so packets, socket samples
//! and application events share one time line.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How often the lab's sock_diag sampler takes a round of a host's sockets.
/// Part of the evidence's contract: a socket's change lies between the round
/// before that showed the old state and the first to show the new one
/// (`timing::gone` uses that span; rounds are later under load).
pub const SAMPLE_PERIOD: Duration = Duration::from_millis(10);

/// TCP flag bits as on the wire (FIN = 0x01 .. CWR = 0x80).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    /// tcpdump's notation: `S`, `S.`, `F.`, `P.`, `R`, `R.`, `.`; ECE/CWR as `E`/`W`.
    pub fn tcpdump(self) -> String {
        let mut s = String::new();
        for (bit, c) in [
            (Self::SYN, 'S'),
            (Self::FIN, 'F'),
            (Self::PSH, 'P'),
            (Self::RST, 'R'),
            (Self::URG, 'U'),
            (Self::ECE, 'E'),
            (Self::CWR, 'W'),
        ] {
            if self.has(bit) {
                s.push(c);
            }
        }
        if self.has(Self::ACK) {
            s.push('.');
        }
        if s.is_empty() {
            s.push_str("none");
        }
        s
    }

    /// Parses tcpdump's notation (the inverse of [`TcpFlags::tcpdump`]).
    pub fn parse_tcpdump(text: &str) -> Option<TcpFlags> {
        if text == "none" {
            return Some(TcpFlags(0));
        }
        let mut bits = 0u8;
        for c in text.chars() {
            let bit = match c {
                'S' => Self::SYN,
                'F' => Self::FIN,
                'P' => Self::PSH,
                'R' => Self::RST,
                'U' => Self::URG,
                'E' => Self::ECE,
                'W' => Self::CWR,
                '.' => Self::ACK,
                _ => return None,
            };
            if bits & bit != 0 {
                return None;
            }
            bits |= bit;
        }
        if bits == 0 {
            None
        } else {
            Some(TcpFlags(bits))
        }
    }
}

/// One TCP segment as seen on one capture port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packet {
    pub ts_ns: u64,
    /// Capture interface name: `client-port` or `server-port`.
    pub port: String,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    /// TCP payload length.
    pub len: u32,
    pub win: u16,
}

/// Which side of the connection a host is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// An application or harness event.
///
/// Application kinds (source = endpoint name): `listening`, `accepted`,
/// `connected`, `sent` (bytes), `received` (bytes), `eof`, `error` (op, errno),
/// `closed`, `shutdown`, `exited` (detail = status), `stdout`, `stderr`.
/// Harness kinds (source = `harness`): `step` (detail = step description),
/// `fault` (detail = what was applied), `killed`, `started`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub ts_ns: u64,
    pub source: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One sock_diag sample of one TCP socket (a line of `sockets.jsonl`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SockSample {
    pub ts_ns: u64,
    /// Host name (`client`, `server`).
    pub host: String,
    pub local: String,
    pub remote: String,
    /// Kernel state name: `ESTABLISHED`, `FIN_WAIT1`, `TIME_WAIT`, `LISTEN`, ...
    pub state: String,
    /// Timer kind as `ss -o` names it: `on` (retransmit), `keepalive`,
    /// `timewait`, `persist`; absent when none is armed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<String>,
    /// Time until the timer fires, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
    /// Timer retransmit counter from inet_diag (`idiag_retrans`).
    pub retrans: u32,
    /// From TCP_INFO where available (not for TIME_WAIT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpInfoLite>,
}

/// The fields of `struct tcp_info` the checks use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpInfoLite {
    pub retransmits: u8,
    pub probes: u8,
    pub backoff: u8,
    pub rto_us: u32,
    pub unacked: u32,
    pub total_retrans: u32,
    pub bytes_acked: u64,
    pub bytes_received: u64,
}

/// When a timeline step started waiting and when it acted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub index: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the step did, for humans: `close client`, `cut`.
    pub action: String,
    pub started_ns: u64,
    pub acted_ns: u64,
}

/// Everything one scenario run recorded, as the pure core sees it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Evidence {
    /// The client host's addresses (v4 and v6): a packet from one of them is `C>S`.
    pub client_ips: Vec<IpAddr>,
    pub server_ips: Vec<IpAddr>,
    pub packets: Vec<Packet>,
    pub events: Vec<Event>,
    pub sockets: Vec<SockSample>,
    pub steps: Vec<StepRecord>,
    pub start_ns: u64,
    pub end_ns: u64,
}

impl Evidence {
    /// Which side sent this packet, if it came from a known host.
    pub fn sender(&self, p: &Packet) -> Option<Side> {
        if self.client_ips.contains(&p.src.ip()) {
            Some(Side::Client)
        } else if self.server_ips.contains(&p.src.ip()) {
            Some(Side::Server)
        } else {
            None
        }
    }

    /// The time a named step acted.
    pub fn step_time(&self, name: &str) -> Option<u64> {
        self.steps
            .iter()
            .find(|s| s.name.as_deref() == Some(name))
            .map(|s| s.acted_ns)
    }

    /// A one-line description of a packet, tcpdump-style, relative to the run's start.
    pub fn describe_packet(&self, p: &Packet) -> String {
        let dir = match self.sender(p) {
            Some(Side::Client) => "C>S",
            Some(Side::Server) => "S>C",
            None => "?>?",
        };
        format!(
            "{:.6}s {} {} {} seq {} ack {} len {}",
            p.ts_ns.saturating_sub(self.start_ns) as f64 / 1e9,
            p.port,
            dir,
            p.flags.tcpdump(),
            p.seq,
            p.ack,
            p.len
        )
    }

    pub fn rel_secs(&self, ts_ns: u64) -> f64 {
        ts_ns.saturating_sub(self.start_ns) as f64 / 1e9
    }
}

/// The result of one expectation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// The packets, samples or events it matched (or what was missing).
    pub evidence: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcpdump_flags_round_trip() {
        for text in ["S", "S.", "F.", "P.", "R", "R.", ".", "FP."] {
            let f = TcpFlags::parse_tcpdump(text).unwrap();
            assert_eq!(f.tcpdump(), text);
        }
        assert_eq!(TcpFlags::parse_tcpdump("X"), None);
        assert_eq!(TcpFlags::parse_tcpdump(""), None);
        assert_eq!(TcpFlags::parse_tcpdump("FF"), None);
    }
}

/// The lab's fixed addresses (DESIGN.md, Topology).
pub mod addr {
    use std::net::{Ipv4Addr, Ipv6Addr};
    pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    pub const SERVER_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x7d, 0, 0, 0, 0, 0, 1);
    pub const SERVER_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x7d, 0, 0, 0, 0, 0, 2);
    pub const PREFIX_V4: u8 = 15;
    pub const PREFIX_V6: u8 = 64;
}
