//! Evidence: the records a run produces and the pure core consumes.
//!
//! Contract: these are plain data. The privileged shell fills them (capture,
//! sock_diag sampler, endpoints, runner); `expect`, `analysis` and `report`
//! read them. Every timestamp is CLOCK_REALTIME in nanoseconds since the Unix
//! epoch, the clock AF_PACKET stamps packets with, so packets, socket samples
//! and application events share one time line.

use crate::scenario::terms::{named, EventKind, Host, TcpState};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

pub use crate::scenario::terms::Side;

/// How often the lab's sock_diag sampler takes a round of a host's sockets.
/// Part of the evidence's contract: a socket's change lies between the last
/// round that showed the old state and the first to show the new one
/// (`timing::gone` uses that span; rounds come later under load).
pub const SAMPLE_PERIOD: Duration = Duration::from_millis(10);

/// TCP flag bits as on the wire: the flags byte (FIN = 0x01 .. CWR = 0x80)
/// and AE (RFC 9768's AccECN bit, formerly NS: the low bit of the byte
/// before) as 0x100.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    pub const FIN: u16 = 0x01;
    pub const SYN: u16 = 0x02;
    pub const RST: u16 = 0x04;
    pub const PSH: u16 = 0x08;
    pub const ACK: u16 = 0x10;
    pub const URG: u16 = 0x20;
    pub const ECE: u16 = 0x40;
    pub const CWR: u16 = 0x80;
    pub const AE: u16 = 0x100;

    /// tcpdump's letters, in its order (print-tcp.c `tcp_flag_values`:
    /// F S R P . U E W, and `e` for AE, which tcpdump 4.99.5 added).
    const LETTERS: [(u16, char); 9] = [
        (Self::FIN, 'F'),
        (Self::SYN, 'S'),
        (Self::RST, 'R'),
        (Self::PSH, 'P'),
        (Self::ACK, '.'),
        (Self::URG, 'U'),
        (Self::ECE, 'E'),
        (Self::CWR, 'W'),
        (Self::AE, 'e'),
    ];

    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }

    /// tcpdump's notation, letters in tcpdump's order: `S`, `S.`, `F.`, `FP.`,
    /// `R.`, `.`, `S.E` (a SYN-ACK with ECE), `none` for no flag at all.
    pub fn tcpdump(self) -> String {
        let mut b = Vec::with_capacity(9);
        self.push_tcpdump(&mut b);
        String::from_utf8(b).unwrap_or_default()
    }

    /// Appends [`TcpFlags::tcpdump`]'s text to `out` (no allocation: full
    /// replay writes one per packet).
    pub fn push_tcpdump(self, out: &mut Vec<u8>) {
        self.tcpdump_bytes(|c| out.push(c));
    }

    /// Hands [`TcpFlags::tcpdump`]'s text to `put`, byte by byte (for a
    /// line formatted in place).
    pub fn tcpdump_bytes(self, mut put: impl FnMut(u8)) {
        let mut any = false;
        for (bit, c) in Self::LETTERS {
            if self.has(bit) {
                put(c as u8);
                any = true;
            }
        }
        if !any {
            b"none".iter().for_each(|&c| put(c));
        }
    }

    /// Parses tcpdump's notation, its letters in any order (the inverse of
    /// [`TcpFlags::tcpdump`]); each letter at most once.
    pub fn parse_tcpdump(text: &str) -> Option<TcpFlags> {
        if text == "none" {
            return Some(TcpFlags(0));
        }
        let mut bits = 0u16;
        for c in text.chars() {
            let bit = Self::LETTERS.iter().find(|(_, l)| *l == c)?.0;
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

/// The source of the harness's own events (`step`, `fault`, `drops`, `started`).
pub const HARNESS: &str = "harness";

/// An application or harness event (a line of `events.jsonl`).
///
/// `source` is the endpoint's name, or [`HARNESS`]; [`EventKind`] says which
/// kinds each writes and what their `detail` holds. The application's kinds
/// carry `op` and `errno` (`error`), `bytes` (`sent`, `received`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub ts_ns: u64,
    pub source: String,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Event {
    /// An event with no op, errno, bytes or detail.
    pub fn new(ts_ns: u64, source: impl Into<String>, kind: EventKind) -> Event {
        Event {
            ts_ns,
            source: source.into(),
            kind,
            op: None,
            errno: None,
            bytes: None,
            detail: None,
        }
    }
}

named! {
    /// The timer sock_diag shows armed on a socket (`idiag_timer`), as `ss -o`
    /// names it. The kernel's 0 is no timer (a sample's `timer` is `None`).
    pub enum Timer {
        /// 1: retransmission (also the tail loss probe and the reordering timer).
        On = "on",
        /// 2: the socket's own timer: keepalive, or an orphan's FIN_WAIT2 lifetime.
        Keepalive = "keepalive",
        /// 3: a TIME_WAIT (or FIN_WAIT2) mini socket's lifetime.
        Timewait = "timewait",
        /// 4: the zero window probe.
        Persist = "persist",
    }
}

/// The `state` that `sockets.jsonl` writes for a round that found no socket
/// ([`SockSample::no_socket`]), with empty `local` and `remote`.
pub const NO_SOCKET_STATE: &str = "NONE";

/// One sock_diag sample of one TCP socket (a line of `sockets.jsonl`).
///
/// A sample in state [`TcpState::Closed`] is not a socket: it marks a round of
/// its host that found no socket at all ([`SockSample::no_socket`]), so that a
/// flat list of samples still shows that the sockets are gone. Its addresses
/// are unspecified (`0.0.0.0:0`); the file writes it as it always has, with
/// state `NONE` and empty addresses, and reads it back the same way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SockSample {
    pub ts_ns: u64,
    pub host: Host,
    /// As the file writes it: `1.2.3.4:80`, `[fd00::1]:80` (`SocketAddr`'s Display).
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: TcpState,
    /// The timer armed, if any.
    pub timer: Option<Timer>,
    /// Time until the timer fires, in ms.
    pub expires_ms: Option<u64>,
    /// Timer retransmit counter from inet_diag (`idiag_retrans`).
    pub retrans: u32,
    /// From TCP_INFO where available (not for TIME_WAIT).
    pub tcp: Option<TcpInfoLite>,
}

impl SockSample {
    /// A sample of a socket with no timer, retransmission or TCP_INFO.
    pub fn new(
        ts_ns: u64,
        host: Host,
        local: SocketAddr,
        remote: SocketAddr,
        state: TcpState,
    ) -> SockSample {
        SockSample {
            ts_ns,
            host,
            local,
            remote,
            state,
            timer: None,
            expires_ms: None,
            retrans: 0,
            tcp: None,
        }
    }

    /// The marker of a round of `host` that found no socket.
    pub fn no_socket(ts_ns: u64, host: Host) -> SockSample {
        let none = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        SockSample::new(ts_ns, host, none, none, TcpState::Closed)
    }

    /// Whether this marks a round that found no socket ([`SockSample::no_socket`]).
    pub fn is_no_socket(&self) -> bool {
        self.state == TcpState::Closed
    }
}

/// A `sockets.jsonl` line as written: the field order and skip rules of the
/// format (DESIGN.md), a round without a socket as `NONE` with empty addresses.
#[derive(Serialize)]
struct SockLineOut<'a> {
    ts_ns: u64,
    host: Host,
    #[serde(serialize_with = "addr_or_empty")]
    local: Option<SocketAddr>,
    #[serde(serialize_with = "addr_or_empty")]
    remote: Option<SocketAddr>,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timer: Option<Timer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_ms: Option<u64>,
    retrans: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp: Option<&'a TcpInfoLite>,
}

fn addr_or_empty<S: Serializer>(a: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => s.collect_str(a),
        None => s.serialize_str(""),
    }
}

/// A `sockets.jsonl` line as read (files of every version so far).
#[derive(Deserialize)]
struct SockLineIn {
    ts_ns: u64,
    host: Host,
    local: String,
    remote: String,
    state: String,
    #[serde(default)]
    timer: Option<Timer>,
    #[serde(default)]
    expires_ms: Option<u64>,
    retrans: u32,
    #[serde(default)]
    tcp: Option<TcpInfoLite>,
}

impl Serialize for SockSample {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let socket = !self.is_no_socket();
        SockLineOut {
            ts_ns: self.ts_ns,
            host: self.host,
            local: socket.then_some(self.local),
            remote: socket.then_some(self.remote),
            state: if socket {
                self.state.name()
            } else {
                NO_SOCKET_STATE
            },
            timer: self.timer,
            expires_ms: self.expires_ms,
            retrans: self.retrans,
            tcp: self.tcp.as_ref(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for SockSample {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SockSample, D::Error> {
        use serde::de::Error;
        let line = SockLineIn::deserialize(d)?;
        let mut sample = if line.state == NO_SOCKET_STATE {
            if !line.local.is_empty() || !line.remote.is_empty() {
                return Err(D::Error::custom(format!(
                    "a `{NO_SOCKET_STATE}` sample (a round without a socket) has no addresses"
                )));
            }
            SockSample::no_socket(line.ts_ns, line.host)
        } else {
            let state = TcpState::parse(&line.state)
                .filter(|s| *s != TcpState::Closed)
                .ok_or_else(|| {
                    D::Error::custom(format!(
                        "unknown socket state `{}` (expected {NO_SOCKET_STATE} or a kernel state: {})",
                        line.state,
                        TcpState::names()
                    ))
                })?;
            let addr = |text: &str| {
                text.parse::<SocketAddr>().map_err(|_| {
                    D::Error::custom(format!("bad socket address `{text}` (ip:port, [ip]:port)"))
                })
            };
            SockSample::new(
                line.ts_ns,
                line.host,
                addr(&line.local)?,
                addr(&line.remote)?,
                state,
            )
        };
        sample.timer = line.timer;
        sample.expires_ms = line.expires_ms;
        sample.retrans = line.retrans;
        sample.tcp = line.tcp;
        Ok(sample)
    }
}

/// The scenario's connection: the one way the core and the lab say "this
/// connection", for socket samples and for packets.
///
/// The connection is known by its server port ([`crate::scenario::Scenario::connection`]);
/// every connection to that port counts (a client that reconnects is the
/// same "connection"). Its sockets and segments have that port at the
/// server's end: the remote port of a socket on the client, the local port of
/// one on the server; the destination port of a segment the client sent, the
/// source port of one the server sent. Addresses are not compared: the lab's
/// hosts have one address per family, and a dual-stack server's socket shows
/// its peers as IPv4-mapped IPv6 addresses (`[::ffff:198.18.0.1]:40000`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection {
    pub server_port: u16,
}

impl Connection {
    pub fn new(server_port: u16) -> Connection {
        Connection { server_port }
    }

    /// Whether a sample is one of the connection's sockets: a socket (not a
    /// round without one), not a listener, with the server port at the
    /// server's end.
    pub fn has_socket(self, s: &SockSample) -> bool {
        if matches!(s.state, TcpState::Listen | TcpState::Closed) {
            return false;
        }
        match s.host {
            Host::Client => s.remote.port() == self.server_port,
            Host::Server => s.local.port() == self.server_port,
        }
    }

    /// Whether a sample is a listener on the server port (the server
    /// program's, whichever host it was taken on).
    pub fn is_listener(self, s: &SockSample) -> bool {
        s.state == TcpState::Listen && s.local.port() == self.server_port
    }

    /// Whether a packet is one of the connection's segments, given who sent
    /// it ([`Evidence::sender`]; a packet from an unknown address is not).
    pub fn has_packet(self, p: &Packet, sender: Option<Side>) -> bool {
        match sender {
            Some(Side::Client) => p.dst.port() == self.server_port,
            Some(Side::Server) => p.src.port() == self.server_port,
            None => false,
        }
    }
}

fn yes() -> bool {
    true
}

impl Default for TcpInfoLite {
    /// All zero, SACK on (as every Linux connection negotiates it by default).
    fn default() -> Self {
        TcpInfoLite {
            retransmits: 0,
            probes: 0,
            backoff: 0,
            rto_us: 0,
            rtt_us: 0,
            snd_mss: 0,
            sack: true,
            unacked: 0,
            total_retrans: 0,
            bytes_acked: 0,
            bytes_received: 0,
        }
    }
}

/// The fields of `struct tcp_info` the checks use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpInfoLite {
    pub retransmits: u8,
    pub probes: u8,
    pub backoff: u8,
    pub rto_us: u32,
    /// Smoothed RTT (`tcpi_rtt`, µs); 0 in records from before it was kept.
    #[serde(default)]
    pub rtt_us: u32,
    /// Sender MSS (`tcpi_snd_mss`): how many segments a GSO frame of the
    /// capture stands for; 0 in older records.
    #[serde(default)]
    pub snd_mss: u32,
    /// SACK negotiated (`tcpi_options & TCPI_OPT_SACK`); the tail loss probe needs it.
    #[serde(default = "yes")]
    pub sack: bool,
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
    /// The CPUs' stolen time over the run (`steal.jsonl`), oldest first.
    #[serde(default)]
    pub steal: Vec<CpuSteal>,
    /// The moments the kernel's jiffies clock lagged behind (`ticks.jsonl`),
    /// oldest first.
    #[serde(default)]
    pub ticks: Vec<TickLag>,
    pub start_ns: u64,
    pub end_ns: u64,
}

/// The time the hypervisor took each CPU away from this machine, so far: the
/// `steal` column of `/proc/stat` per CPU, in nanoseconds (a line of
/// `steal.jsonl`). Always zero on bare metal.
///
/// Why it is evidence: on a virtual machine whose virtual CPUs are busy, the
/// host deschedules them now and then (on the development machine 6% of the
/// CPU time while the suite runs, 0 when idle), and whatever was due on a
/// descheduled CPU (a timer's softirq, the capture of its segment) runs that
/// much later. A timing check that finds an event later than the model
/// allows adds what a CPU lost while the event was overdue, from its
/// predicted time to when it was seen ([`Evidence::stolen_within`]), to the
/// allowance, and says so.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuSteal {
    pub ts_ns: u64,
    /// Per CPU (cpu0, cpu1, ...), cumulative.
    pub steal_ns: Vec<u64>,
}

/// A moment the kernel's jiffies clock lagged real time by more than
/// [`crate::model::EARLY_SLACK`] (a line of `ticks.jsonl`): `CLOCK_MONOTONIC`
/// minus `CLOCK_MONOTONIC_COARSE`, which the tick advances with jiffies, read
/// in that order every [`TICK_SAMPLE_PERIOD`] (a reader descheduled between
/// the two reads sees less lag, never more).
///
/// Why it is evidence: the kernel arms a TCP timer at `jiffies + n`, so a
/// timer armed while jiffies lag real time by L fires up to L early against
/// the real clock the capture stamps packets with. On a machine whose ticks
/// come on time L stays under two jiffies (measured on the development
/// machine: never over 6 ms at HZ=250), which `EARLY_SLACK` covers; in a
/// guest under QEMU's emulation the vCPU that advances jiffies is now and
/// then descheduled by the host, and L reached 17 ms (Debian 6.1, the suite
/// running). A timing check accepts an event that much earlier, and says so.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickLag {
    pub ts_ns: u64,
    pub lag_ns: u64,
}

/// How often the jiffies clock's lag is read.
pub const TICK_SAMPLE_PERIOD: Duration = Duration::from_millis(1);

/// How far before a timer's arming a recorded lag still counts: a stall
/// of the jiffies clock lasted up to 17 ms in the emulated guest (the
/// largest lag seen), so a sample 20 ms before is from the same stall or
/// from none.
pub const TICK_LOOKBACK: Duration = Duration::from_millis(20);

/// The resolution of `/proc/stat`'s counters: one USER_HZ tick (1/100 s,
/// the value of the kernel's ABI). A difference of n ticks means up to n + 1
/// ticks of steal.
pub const STEAL_TICK: Duration = Duration::from_millis(10);

impl Evidence {
    /// At most how long one CPU was taken away between `from_ns` and `to_ns`:
    /// the largest per-CPU growth of the steal counter from the last record
    /// at or before `from_ns` to the first at or after `to_ns`, plus one tick
    /// of counter resolution. Zero when no counter moved over the span (less
    /// than a tick may hide below the resolution; a check stays strict then)
    /// and when the run recorded none (bare metal, an idle host).
    pub fn stolen_within(&self, from_ns: u64, to_ns: u64) -> Duration {
        let (Some(first), Some(last)) = (self.steal.first(), self.steal.last()) else {
            return Duration::ZERO;
        };
        if from_ns >= to_ns {
            return Duration::ZERO;
        }
        let before = self
            .steal
            .iter()
            .rfind(|s| s.ts_ns <= from_ns)
            .unwrap_or(first);
        let after = self.steal.iter().find(|s| s.ts_ns >= to_ns).unwrap_or(last);
        let most = before
            .steal_ns
            .iter()
            .zip(&after.steal_ns)
            .map(|(a, b)| b.saturating_sub(*a))
            .max()
            .unwrap_or(0);
        if most == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(most) + STEAL_TICK
        }
    }

    /// How long the kernel's jiffies clock lagged real time at most between
    /// `from_ns` and `to_ns`: the largest lag recorded there plus one sample
    /// period, or zero when none was ([`TickLag`]). A timer due while the
    /// clock lags fires that much late: it runs at the tick that catches up.
    pub fn tick_lag_within(&self, from_ns: u64, to_ns: u64) -> Duration {
        self.ticks
            .iter()
            .filter(|t| t.ts_ns >= from_ns && t.ts_ns <= to_ns)
            .map(|t| t.lag_ns)
            .max()
            .map_or(Duration::ZERO, |l| {
                Duration::from_nanos(l) + TICK_SAMPLE_PERIOD
            })
    }

    /// How long a timer due at `from_ns` and seen at `to_ns` may have been
    /// held back by the machine: the CPU time stolen over the span
    /// ([`Evidence::stolen_within`]) or the jiffies clock's lag from
    /// [`TICK_LOOKBACK`] before it to its end ([`Evidence::tick_lag_within`]),
    /// whichever is more. They are not added: a virtual CPU taken away is
    /// what makes the clock lag. The lookback: a stall under way when the
    /// timer fell due started before it, and the sampler may not run during
    /// it (it shares the stalled CPU), so its last sample before is the
    /// evidence (seen in a 6.1 guest: a lag of 8.3 ms recorded 8 ms before
    /// an RTO fell due, none after, and the RTO 14 ms late).
    pub fn held_back_within(&self, from_ns: u64, to_ns: u64) -> Duration {
        if from_ns >= to_ns {
            return Duration::ZERO;
        }
        let lag_from = from_ns.saturating_sub(TICK_LOOKBACK.as_nanos() as u64);
        self.stolen_within(from_ns, to_ns)
            .max(self.tick_lag_within(lag_from, to_ns))
    }

    /// How much earlier than predicted a timer armed at `armed_ns` may fire:
    /// [`crate::model::EARLY_SLACK`], or, when more, the largest lag of the
    /// kernel's jiffies clock recorded from [`TICK_LOOKBACK`] before it to
    /// one sample period after, plus one sample period (the lag grows
    /// between samples) ([`TickLag`]).
    ///
    /// Only the lag at arming counts: the kernel re-arms a chain of timers
    /// (retransmissions, probes) from the jiffies it fired at, so their
    /// targets keep the first one's offset and a later lag moves nothing
    /// earlier. A sample after arming, in the same stall, overstates the
    /// lag by its distance (at most one period here); one from an earlier
    /// stall would overstate it by more, hence the short lookback.
    pub fn early_slack_at(&self, armed_ns: u64) -> Duration {
        let from = armed_ns.saturating_sub(TICK_LOOKBACK.as_nanos() as u64);
        let to = armed_ns + TICK_SAMPLE_PERIOD.as_nanos() as u64;
        crate::model::EARLY_SLACK.max(self.tick_lag_within(from, to))
    }

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
    /// For a kernel-dependent expectation, the kernels it holds on and the
    /// upstream change (`kernels before 6.5: <change>`); its name ends with it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
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
        // tcpdump's order (F S R P . U E W e), as tcpdump prints them: the
        // ECN SYN-ACK is `S.E`, not `SE.`; AE is `e` (tcpdump 4.99.5+).
        let f = |bits| TcpFlags(bits).tcpdump();
        assert_eq!(f(TcpFlags::SYN | TcpFlags::ACK | TcpFlags::ECE), "S.E");
        assert_eq!(f(TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR), "SEW");
        assert_eq!(f(TcpFlags::FIN | TcpFlags::SYN), "FS");
        assert_eq!(f(TcpFlags::RST | TcpFlags::PSH | TcpFlags::ACK), "RP.");
        assert_eq!(f(TcpFlags::ACK | TcpFlags::AE), ".e");
        assert_eq!(f(0), "none");
        // Parsing takes the letters in any order.
        assert_eq!(
            TcpFlags::parse_tcpdump("SE."),
            TcpFlags::parse_tcpdump("S.E")
        );
        assert_eq!(TcpFlags::parse_tcpdump("X"), None);
        assert_eq!(TcpFlags::parse_tcpdump(""), None);
        assert_eq!(TcpFlags::parse_tcpdump("FF"), None);
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    /// Serializes to exactly `json` and reads it back to the same sample.
    fn same_line(s: &SockSample, json: &str) {
        assert_eq!(serde_json::to_string(s).unwrap(), json);
        assert_eq!(&serde_json::from_str::<SockSample>(json).unwrap(), s);
    }

    #[test]
    fn sock_samples_keep_their_json_lines_v4() {
        let mut s = SockSample::new(
            1796168333618202478,
            Host::Server,
            addr("198.18.0.2:8080"),
            addr("198.18.0.1:56236"),
            TcpState::FinWait1,
        );
        s.timer = Some(Timer::On);
        s.expires_ms = Some(192);
        s.tcp = Some(TcpInfoLite {
            rto_us: 204000,
            rtt_us: 52,
            snd_mss: 1448,
            unacked: 1,
            bytes_received: 7,
            ..TcpInfoLite::default()
        });
        same_line(
            &s,
            r#"{"ts_ns":1796168333618202478,"host":"server","local":"198.18.0.2:8080","remote":"198.18.0.1:56236","state":"FIN_WAIT1","timer":"on","expires_ms":192,"retrans":0,"tcp":{"retransmits":0,"probes":0,"backoff":0,"rto_us":204000,"rtt_us":52,"snd_mss":1448,"sack":true,"unacked":1,"total_retrans":0,"bytes_acked":0,"bytes_received":7}}"#,
        );
        // A line recorded before the RTT, MSS and SACK were kept reads with
        // none of them known (MSS 0) and SACK taken as on, the Linux default.
        let old: SockSample = serde_json::from_str(
            r#"{"ts_ns":1,"host":"server","local":"198.18.0.2:8080","remote":"198.18.0.1:56236","state":"FIN_WAIT1","retrans":0,"tcp":{"retransmits":0,"probes":0,"backoff":0,"rto_us":204000,"unacked":1,"total_retrans":0,"bytes_acked":0,"bytes_received":7}}"#,
        )
        .unwrap();
        let t = old.tcp.unwrap();
        assert_eq!((t.rtt_us, t.snd_mss, t.sack), (0, 0, true));
        let listener = SockSample::new(
            5,
            Host::Server,
            addr("0.0.0.0:8080"),
            addr("0.0.0.0:0"),
            TcpState::Listen,
        );
        same_line(
            &listener,
            r#"{"ts_ns":5,"host":"server","local":"0.0.0.0:8080","remote":"0.0.0.0:0","state":"LISTEN","retrans":0}"#,
        );
    }

    #[test]
    fn sock_samples_keep_their_json_lines_v6() {
        let mut s = SockSample::new(
            2,
            Host::Client,
            addr("[fd00:7d::1]:40000"),
            addr("[fd00:7d::2]:8080"),
            TcpState::TimeWait,
        );
        s.timer = Some(Timer::Timewait);
        s.expires_ms = Some(59000);
        s.retrans = 3;
        same_line(
            &s,
            r#"{"ts_ns":2,"host":"client","local":"[fd00:7d::1]:40000","remote":"[fd00:7d::2]:8080","state":"TIME_WAIT","timer":"timewait","expires_ms":59000,"retrans":3}"#,
        );
        // A dual-stack listener's connection from an IPv4 client (socat TCP6-LISTEN).
        let mapped = SockSample::new(
            3,
            Host::Server,
            addr("[::ffff:198.18.0.2]:8080"),
            addr("[::ffff:198.18.0.1]:56236"),
            TcpState::Established,
        );
        same_line(
            &mapped,
            r#"{"ts_ns":3,"host":"server","local":"[::ffff:198.18.0.2]:8080","remote":"[::ffff:198.18.0.1]:56236","state":"ESTABLISHED","retrans":0}"#,
        );
        let any6 = SockSample::new(
            4,
            Host::Server,
            addr("[::]:8080"),
            addr("[::]:0"),
            TcpState::Listen,
        );
        same_line(
            &any6,
            r#"{"ts_ns":4,"host":"server","local":"[::]:8080","remote":"[::]:0","state":"LISTEN","retrans":0}"#,
        );
    }

    #[test]
    fn a_round_without_a_socket_is_written_none_with_empty_addresses() {
        let m = SockSample::no_socket(1796168335582793317, Host::Server);
        assert!(m.is_no_socket());
        same_line(
            &m,
            r#"{"ts_ns":1796168335582793317,"host":"server","local":"","remote":"","state":"NONE","retrans":0}"#,
        );
    }

    #[test]
    fn bad_sample_lines_are_errors_that_say_why() {
        let line = |state: &str, local: &str| {
            format!(
                r#"{{"ts_ns":1,"host":"client","local":"{local}","remote":"198.18.0.2:8080","state":"{state}","retrans":0}}"#
            )
        };
        let err = |text: String| {
            serde_json::from_str::<SockSample>(&text)
                .unwrap_err()
                .to_string()
        };
        assert!(err(line("UNKNOWN", "198.18.0.1:1")).contains("unknown socket state `UNKNOWN`"));
        assert!(err(line("CLOSED", "198.18.0.1:1")).contains("unknown socket state `CLOSED`"));
        assert!(err(line("ESTABLISHED", "198.18.0.1")).contains("bad socket address `198.18.0.1`"));
        assert!(err(line("ESTABLISHED", "")).contains("bad socket address ``"));
        assert!(err(line("NONE", "198.18.0.1:1")).contains("has no addresses"));
        let router = line("ESTABLISHED", "198.18.0.1:1").replace("client", "router");
        assert!(err(router).contains("unknown Host `router`"));
        let timer = line("ESTABLISHED", "198.18.0.1:1")
            .replace(r#""retrans""#, r#""timer":"unknown","retrans""#);
        assert!(err(timer).contains("unknown Timer `unknown`"));
        // Every state name but CLOSED (written NONE) reads back.
        for st in TcpState::ALL.iter().filter(|s| **s != TcpState::Closed) {
            let s: SockSample = serde_json::from_str(&line(st.name(), "198.18.0.1:1")).unwrap();
            assert_eq!(s.state, *st);
        }
    }

    #[test]
    fn events_keep_their_json_lines() {
        let same = |e: &Event, json: &str| {
            assert_eq!(serde_json::to_string(e).unwrap(), json);
            assert_eq!(&serde_json::from_str::<Event>(json).unwrap(), e);
        };
        let mut error = Event::new(5, "client", EventKind::Error);
        error.op = Some("read".into());
        error.errno = Some("ETIMEDOUT".into());
        same(
            &error,
            r#"{"ts_ns":5,"source":"client","kind":"error","op":"read","errno":"ETIMEDOUT"}"#,
        );
        let mut got = Event::new(6, "server", EventKind::Received);
        got.bytes = Some(100);
        same(
            &got,
            r#"{"ts_ns":6,"source":"server","kind":"received","bytes":100}"#,
        );
        let mut step = Event::new(7, HARNESS, EventKind::Step);
        step.detail = Some("cut: cut".into());
        same(
            &step,
            r#"{"ts_ns":7,"source":"harness","kind":"step","detail":"cut: cut"}"#,
        );
        let bad = Event::new(8, "client", EventKind::BadCommand);
        same(
            &bad,
            r#"{"ts_ns":8,"source":"client","kind":"bad_command"}"#,
        );
        for k in EventKind::ALL {
            let e = Event::new(1, "x", *k);
            let back: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
            assert_eq!(back.kind, *k);
        }
        let unknown =
            serde_json::from_str::<Event>(r#"{"ts_ns":1,"source":"x","kind":"exploded"}"#);
        assert!(unknown
            .unwrap_err()
            .to_string()
            .contains("unknown EventKind `exploded`"));
    }

    fn conn_sample(host: Host, local: &str, remote: &str, state: TcpState) -> SockSample {
        SockSample::new(1, host, addr(local), addr(remote), state)
    }

    #[test]
    fn the_connection_has_the_server_port_at_the_servers_end() {
        let conn = Connection::new(8080);
        // The client's socket: the server port is its remote port.
        let client = conn_sample(
            Host::Client,
            "198.18.0.1:40000",
            "198.18.0.2:8080",
            TcpState::Established,
        );
        assert!(conn.has_socket(&client));
        // The server's socket: its local port.
        let server = conn_sample(
            Host::Server,
            "198.18.0.2:8080",
            "198.18.0.1:40000",
            TcpState::CloseWait,
        );
        assert!(conn.has_socket(&server));
        // Another port, or one ending in the same digits, is another connection.
        assert!(!Connection::new(80).has_socket(&client));
        assert!(!Connection::new(0).has_socket(&server));
        assert!(
            !Connection::new(40000).has_socket(&client),
            "the client's own port"
        );
        assert!(
            !Connection::new(40000).has_socket(&server),
            "the server's peer's port"
        );
        // IPv6, and an IPv4 peer of a dual-stack server.
        let v6 = conn_sample(
            Host::Client,
            "[fd00:7d::1]:40000",
            "[fd00:7d::2]:8080",
            TcpState::FinWait2,
        );
        assert!(conn.has_socket(&v6));
        assert!(!Connection::new(9090).has_socket(&v6));
        let mapped = conn_sample(
            Host::Server,
            "[::ffff:198.18.0.2]:8080",
            "[::ffff:198.18.0.1]:40000",
            TcpState::Established,
        );
        assert!(conn.has_socket(&mapped));
        // A listener is not the connection, but is the listener on its port.
        let listener = conn_sample(Host::Server, "0.0.0.0:8080", "0.0.0.0:0", TcpState::Listen);
        assert!(!conn.has_socket(&listener));
        assert!(conn.is_listener(&listener));
        assert!(!Connection::new(9000).is_listener(&listener));
        assert!(!conn.is_listener(&server));
        let listener6 = conn_sample(Host::Server, "[::]:8080", "[::]:0", TcpState::Listen);
        assert!(conn.is_listener(&listener6) && !conn.has_socket(&listener6));
        // Nor is a round that found no socket.
        assert!(!conn.has_socket(&SockSample::no_socket(1, Host::Client)));
        assert!(!conn.is_listener(&SockSample::no_socket(1, Host::Server)));
    }

    #[test]
    fn the_connections_packets_have_the_server_port_at_the_servers_end() {
        let conn = Connection::new(8080);
        let pkt = |src: &str, dst: &str| Packet {
            ts_ns: 1,
            port: "server-port".into(),
            src: addr(src),
            dst: addr(dst),
            flags: TcpFlags(TcpFlags::ACK),
            seq: 0,
            ack: 0,
            len: 0,
            win: 0,
        };
        let c2s = pkt("198.18.0.1:40000", "198.18.0.2:8080");
        let s2c = pkt("[fd00:7d::2]:8080", "[fd00:7d::1]:40000");
        assert!(conn.has_packet(&c2s, Some(Side::Client)));
        assert!(conn.has_packet(&s2c, Some(Side::Server)));
        assert!(!conn.has_packet(&c2s, Some(Side::Server)));
        assert!(!conn.has_packet(&c2s, None), "from an unknown address");
        assert!(!Connection::new(80).has_packet(&c2s, Some(Side::Client)));
    }

    #[test]
    fn the_early_slack_grows_only_with_a_jiffies_lag_recorded_at_arming() {
        let ms = |n: u64| n * 1_000_000;
        let mut ev = Evidence::default();
        assert_eq!(ev.early_slack_at(ms(1000)), crate::model::EARLY_SLACK);
        ev.ticks = vec![
            TickLag {
                ts_ns: ms(100),
                lag_ns: ms(12),
            },
            TickLag {
                ts_ns: ms(105),
                lag_ns: ms(17),
            },
            TickLag {
                ts_ns: ms(500),
                lag_ns: ms(9),
            },
        ];
        // Armed at 110 ms: both samples of that stall count, the larger
        // one plus a 1 ms sample period.
        assert_eq!(ev.early_slack_at(ms(110)), Duration::from_millis(18));
        // Armed at 104 ms: the 105 ms sample is one period after, and counts.
        assert_eq!(ev.early_slack_at(ms(104)), Duration::from_millis(18));
        // Armed at 103 ms: the 105 ms one is two periods after, so not.
        assert_eq!(ev.early_slack_at(ms(103)), Duration::from_millis(13));
        // 30 ms after the stall, or before it: the model's own slack.
        assert_eq!(ev.early_slack_at(ms(135)), crate::model::EARLY_SLACK);
        assert_eq!(ev.early_slack_at(ms(50)), crate::model::EARLY_SLACK);
        // A lag under the model's slack (as recorded, never: the sampler keeps
        // only larger ones) changes nothing.
        assert_eq!(ev.early_slack_at(ms(500)), Duration::from_millis(10));
    }

    #[test]
    fn a_timer_is_held_back_by_the_larger_of_steal_and_the_jiffies_lag() {
        let ms = |n: u64| n * 1_000_000;
        let mut ev = Evidence::default();
        assert_eq!(ev.held_back_within(0, ms(100)), Duration::ZERO);
        ev.ticks = vec![TickLag {
            ts_ns: ms(50),
            lag_ns: ms(13),
        }];
        // The lag in the span, plus a sample period; or up to 20 ms before
        // it (the same stall); none after, or longer before.
        assert_eq!(
            ev.held_back_within(ms(40), ms(60)),
            Duration::from_millis(14)
        );
        assert_eq!(
            ev.held_back_within(ms(65), ms(90)),
            Duration::from_millis(14)
        );
        assert_eq!(ev.held_back_within(ms(75), ms(90)), Duration::ZERO);
        assert_eq!(ev.held_back_within(ms(10), ms(40)), Duration::ZERO);
        // 30 ms stolen from cpu0 (plus a tick) is more than the lag.
        ev.steal = vec![
            CpuSteal {
                ts_ns: ms(0),
                steal_ns: vec![0],
            },
            CpuSteal {
                ts_ns: ms(100),
                steal_ns: vec![ms(30)],
            },
        ];
        assert_eq!(
            ev.held_back_within(ms(40), ms(60)),
            Duration::from_millis(40)
        );
    }

    #[test]
    fn stolen_time_is_the_largest_per_cpu_growth_over_the_span_plus_a_tick() {
        let ms = |n: u64| n * 1_000_000;
        let mut ev = Evidence::default();
        assert_eq!(ev.stolen_within(0, ms(100)), Duration::ZERO, "no records");
        ev.steal = vec![
            CpuSteal {
                ts_ns: ms(0),
                steal_ns: vec![ms(50), ms(50)],
            },
            CpuSteal {
                ts_ns: ms(10),
                steal_ns: vec![ms(50), ms(50)],
            },
            CpuSteal {
                ts_ns: ms(20),
                steal_ns: vec![ms(80), ms(60)],
            },
            CpuSteal {
                ts_ns: ms(30),
                steal_ns: vec![ms(80), ms(60)],
            },
        ];
        // cpu0 lost 30 ms between the records bracketing 5..25 ms.
        assert_eq!(ev.stolen_within(ms(5), ms(25)), Duration::from_millis(40));
        // Nothing grew from 20 to 30 ms: the check stays strict.
        assert_eq!(ev.stolen_within(ms(20), ms(30)), Duration::ZERO);
        assert_eq!(
            ev.stolen_within(ms(25), ms(5)),
            Duration::ZERO,
            "an empty span"
        );
        // A run without any steal adds nothing.
        for s in &mut ev.steal {
            s.steal_ns = vec![ms(50), ms(50)];
        }
        assert_eq!(ev.stolen_within(ms(5), ms(25)), Duration::ZERO);
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
