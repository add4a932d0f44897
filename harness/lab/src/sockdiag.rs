//! Socket state through sock_diag (NETLINK_SOCK_DIAG, INET_DIAG), like `ss -tino`,
//! and SOCK_DESTROY, like `ss -K`.
//!
//! Contract:
//! - [`dump_tcp`] and [`destroy_all_tcp`] act on the network namespace of the
//!   CALLING THREAD: the netlink socket is opened there (run them inside
//!   [`NetNs::run`] / [`NetNs::spawn`]). Every TCP socket, IPv4 and IPv6, in
//!   every state, with TCP_INFO (`tcp`) where the kernel gives it (not for
//!   TIME_WAIT or SYN_RECV request sockets).
//! - Requests are built with netlink-packet-sock-diag; replies are parsed by
//!   the small raw parsers here ([`parse_replies`], [`parse_inet_diag_msg`],
//!   [`parse_tcp_info`]), because the crate drops `idiag_retrans` and
//!   `idiag_expires` for some timers and does not decode tcp_info without an
//!   extra feature. These parsers never panic on any input: short or
//!   malformed bytes give `None` or are skipped.
//! - The kernel's numbers become typed values here, every number handled:
//!   [`tcp_state`] (include/net/tcp_states.h, 1..=13) and [`timer`]
//!   (`idiag_timer`, 0..=4). A number the kernel does not define is an
//!   [`Unknown`] error, never a made-up name: a sampler round holding one
//!   fails (and [`Sampler::stop`] reports it).
//! - [`Sampler`] dumps one namespace every period on a thread inside it and
//!   hands each round to a sink, an empty Vec included. While it runs, its
//!   netlink socket holds a reference on the namespace: stop it before a
//!   host is powered off, or the namespace (and its sockets) lives on.
//! - [`transitions`] is pure: the state changes per connection over rounds,
//!   with `CLOSED` for a socket missing from a later round of its host. A flat
//!   sample list cannot show an empty round: record one with [`empty_round`].

use crate::netlink::{NlError, NlSocket, NLMSG_DONE, NLMSG_ERROR};
use crate::netns::NetNs;
use crate::sys::now_ns;
use anyhow::{anyhow, Context, Result};
use netlink_packet_core::ParseableParametrized;
use netlink_packet_sock_diag::{
    constants::{AF_INET, AF_INET6, IPPROTO_TCP},
    inet::{ExtensionFlags, InetRequest, SocketId, StateFlags},
    SockDiagDestroy, SockDiagMessage,
};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use teardown_core::evidence::{SockSample, TcpInfoLite, Timer};
use teardown_core::scenario::{Host, TcpState};

/// The sampling period when none is asked for.
pub const DEFAULT_PERIOD: Duration = teardown_core::evidence::SAMPLE_PERIOD;

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const INET_DIAG_INFO: u16 = 2;
/// Size of `struct inet_diag_msg`.
const INET_DIAG_MSG_LEN: usize = 72;
/// Bytes of `struct tcp_info` up to and including `tcpi_bytes_received`.
const TCP_INFO_MIN_LEN: usize = 136;

/// A number in a sock_diag reply that the kernel's headers do not define.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unknown {
    /// `idiag_state` outside include/net/tcp_states.h (0, or above 13).
    State(u8),
    /// `idiag_timer` above 4.
    Timer(u8),
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unknown::State(n) => write!(
                f,
                "unknown TCP state {n} (include/net/tcp_states.h: 1..=13)"
            ),
            Unknown::Timer(n) => write!(f, "unknown idiag_timer {n} (0..=4)"),
        }
    }
}

impl std::error::Error for Unknown {}

/// The TCP state a kernel state number stands for (include/net/tcp_states.h).
pub fn tcp_state(state: u8) -> Result<TcpState, Unknown> {
    Ok(match state {
        1 => TcpState::Established,
        2 => TcpState::SynSent,
        3 => TcpState::SynRecv,
        4 => TcpState::FinWait1,
        5 => TcpState::FinWait2,
        6 => TcpState::TimeWait,
        7 => TcpState::Close,
        8 => TcpState::CloseWait,
        9 => TcpState::LastAck,
        10 => TcpState::Listen,
        11 => TcpState::Closing,
        // inet_diag reports request sockets as SYN_RECV; typed all the same.
        12 => TcpState::NewSynRecv,
        // Dumped only when the request asks for it (ours does not: StateFlags::all() ends at CLOSING).
        13 => TcpState::BoundInactive,
        0 | 14..=u8::MAX => return Err(Unknown::State(state)),
    })
}

/// The timer an `idiag_timer` value stands for (`ss -o`'s names); `None` for no timer.
pub fn timer(timer: u8) -> Result<Option<Timer>, Unknown> {
    Ok(match timer {
        0 => None,
        1 => Some(Timer::On),
        2 => Some(Timer::Keepalive),
        3 => Some(Timer::Timewait),
        4 => Some(Timer::Persist),
        5..=u8::MAX => return Err(Unknown::Timer(timer)),
    })
}

/// One socket as the kernel described it (what a destroy request needs too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiagSock {
    pub family: u8,
    pub state: u8,
    pub timer: u8,
    pub retrans: u8,
    pub expires_ms: u32,
    pub id: SocketId,
    pub tcp: Option<TcpInfoLite>,
}

impl DiagSock {
    pub fn local(&self) -> SocketAddr {
        SocketAddr::new(self.id.source_address, self.id.source_port)
    }
    pub fn remote(&self) -> SocketAddr {
        SocketAddr::new(self.id.destination_address, self.id.destination_port)
    }

    /// Its state ([`tcp_state`]).
    pub fn tcp_state(&self) -> Result<TcpState, Unknown> {
        tcp_state(self.state)
    }

    /// Its timer, if one is armed ([`timer`]).
    pub fn timer(&self) -> Result<Option<Timer>, Unknown> {
        timer(self.timer)
    }

    /// `STATE local remote`, for messages (an unknown state as such).
    pub fn describe(&self) -> String {
        let state = match self.tcp_state() {
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        };
        format!("{state} {} {}", self.local(), self.remote())
    }

    /// As a sample of host `host` taken at `ts_ns`; an error for a state or
    /// timer number the kernel does not define.
    pub fn sample(&self, ts_ns: u64, host: Host) -> Result<SockSample, Unknown> {
        let timer = self.timer()?;
        Ok(SockSample {
            timer,
            expires_ms: timer.map(|_| self.expires_ms as u64),
            retrans: self.retrans as u32,
            tcp: self.tcp.clone(),
            ..SockSample::new(ts_ns, host, self.local(), self.remote(), self.tcp_state()?)
        })
    }
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(off..off + 8)?.try_into().ok()?))
}
fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

/// `tcpi_options` bit: SACK negotiated (include/uapi/linux/tcp.h).
const TCPI_OPT_SACK: u8 = 2;

/// The `struct tcp_info` fields the checks use (include/uapi/linux/tcp.h
/// offsets: retransmits 2, probes 3, backoff 4, options 5, rto 8, snd_mss 16,
/// unacked 24, rtt 68, total_retrans 100, bytes_acked 120, bytes_received
/// 128). `None` when the attribute is shorter than that.
pub fn parse_tcp_info(b: &[u8]) -> Option<TcpInfoLite> {
    if b.len() < TCP_INFO_MIN_LEN {
        return None;
    }
    Some(TcpInfoLite {
        retransmits: b[2],
        probes: b[3],
        backoff: b[4],
        rto_us: u32_at(b, 8)?,
        rtt_us: u32_at(b, 68)?,
        snd_mss: u32_at(b, 16)?,
        sack: b[5] & TCPI_OPT_SACK != 0,
        unacked: u32_at(b, 24)?,
        total_retrans: u32_at(b, 100)?,
        bytes_acked: u64_at(b, 120)?,
        bytes_received: u64_at(b, 128)?,
    })
}

/// A `struct inet_diag_msg` and its attributes (the payload of one
/// SOCK_DIAG_BY_FAMILY reply). `None` when short or of an unknown family.
pub fn parse_inet_diag_msg(b: &[u8]) -> Option<DiagSock> {
    if b.len() < INET_DIAG_MSG_LEN {
        return None;
    }
    let family = b[0];
    if family != AF_INET && family != AF_INET6 {
        return None;
    }
    let id = SocketId::parse_with_param(&b[4..52], family).ok()?;
    let mut sock = DiagSock {
        family,
        state: b[1],
        timer: b[2],
        retrans: b[3],
        expires_ms: u32_at(b, 52)?,
        id,
        tcp: None,
    };
    // rtattrs: u16 len (header included), u16 type, value, padded to 4.
    let mut off = INET_DIAG_MSG_LEN;
    while let (Some(len), Some(kind)) = (u16_at(b, off), u16_at(b, off + 2)) {
        let len = len as usize;
        if len < 4 || off + len > b.len() {
            break;
        }
        if kind & 0x3fff == INET_DIAG_INFO {
            sock.tcp = parse_tcp_info(&b[off + 4..off + len]);
        }
        off += (len + 3) & !3;
    }
    Some(sock)
}

/// One netlink message of a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Sock(DiagSock),
    /// End of a dump.
    Done,
    /// NLMSG_ERROR: 0 is an ACK, otherwise a positive errno. With the sequence number.
    Error(i32, u32),
    /// Anything else (or a socket message that did not parse).
    Other,
}

/// Splits a datagram into netlink messages and parses each one.
pub fn parse_replies(buf: &[u8]) -> Vec<Reply> {
    crate::netlink::messages(buf)
        .map(|m| match m.kind {
            NLMSG_DONE => Reply::Done,
            NLMSG_ERROR => match m.error_code() {
                Some(e) => Reply::Error(e, m.seq),
                None => Reply::Other,
            },
            SOCK_DIAG_BY_FAMILY => parse_inet_diag_msg(m.payload())
                .map(Reply::Sock)
                .unwrap_or(Reply::Other),
            _ => Reply::Other,
        })
        .collect()
}

/// A NETLINK_SOCK_DIAG socket in the namespace of the thread that opened it.
pub struct Diag {
    nl: NlSocket,
}

impl Diag {
    /// Opens the socket in the calling thread's network namespace.
    pub fn open() -> Result<Diag, NlError> {
        Ok(Diag {
            nl: NlSocket::open(NETLINK_SOCK_DIAG, "sock_diag")?,
        })
    }

    /// Every TCP socket of one family.
    fn dump_family(&mut self, family: u8) -> Result<Vec<DiagSock>, NlError> {
        let req = InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::INFO,
            states: StateFlags::all(),
            socket_id: if family == AF_INET {
                SocketId::new_v4()
            } else {
                SocketId::new_v6()
            },
        };
        let mut socks = Vec::new();
        self.nl
            .dump(SockDiagMessage::InetRequest(req), "sock_diag dump", |m| {
                if m.kind == SOCK_DIAG_BY_FAMILY {
                    socks.extend(parse_inet_diag_msg(m.payload()));
                }
                Ok(())
            })?;
        Ok(socks)
    }

    /// Every TCP socket, IPv4 then IPv6.
    pub fn dump(&mut self) -> Result<Vec<DiagSock>, NlError> {
        self.dump_families(Families::Both)
    }

    /// The TCP sockets of `families` only.
    pub fn dump_families(&mut self, families: Families) -> Result<Vec<DiagSock>, NlError> {
        let mut all = Vec::new();
        if families != Families::V6 {
            all.extend(self.dump_family(AF_INET)?);
        }
        if families != Families::V4 {
            all.extend(self.dump_family(AF_INET6)?);
        }
        Ok(all)
    }

    /// SOCK_DESTROY of one socket. The kernel's refusal is an error with
    /// [`NlError::nack`] set (ENOENT: the socket is already gone).
    pub fn destroy(&mut self, s: &DiagSock) -> Result<(), NlError> {
        let req = InetRequest {
            family: s.family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id: s.id.clone(),
        };
        self.nl.request(
            SockDiagDestroy::new(SockDiagMessage::InetRequest(req)),
            0,
            "SOCK_DESTROY",
            |_| Ok(()),
        )
    }
}

/// Every TCP socket in the calling thread's namespace, as the kernel
/// describes it now (a sample of a host is [`DiagSock::sample`]).
pub fn dump_tcp() -> Result<Vec<DiagSock>> {
    Ok(Diag::open()?.dump()?)
}

/// One sampling round: every TCP socket as a sample of `host` taken at `ts_ns`.
/// Which address families a sampler dumps. Each dump walks the kernel's
/// listening hash, which every namespace shares (measured on 6.18: 20 of a
/// dump's 37 us), so a host whose sockets can only be of the scenario's
/// family (only built-in endpoints) is dumped in that family alone; a host
/// with an external program takes both (a dual-stack server's sockets are
/// AF_INET6 even for IPv4 peers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Families {
    Both,
    V4,
    V6,
}

fn round(diag: &mut Diag, ts_ns: u64, host: Host, families: Families) -> Result<Vec<SockSample>> {
    let socks = diag.dump_families(families)?;
    let samples = socks.iter().map(|s| s.sample(ts_ns, host));
    samples
        .collect::<Result<Vec<_>, Unknown>>()
        .with_context(|| format!("sock_diag round of {host}"))
}

/// What [`destroy_all_tcp_report`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DestroyReport {
    pub destroyed: usize,
    /// Gone before its turn (ENOENT), e.g. reset by the destruction of its peer.
    pub already_gone: usize,
    /// `STATE local remote: ERRNO` for each socket the kernel would not destroy.
    pub failed: Vec<String>,
}

/// SOCK_DESTROY for every TCP socket in the calling thread's namespace, like
/// `ss -K`. Observed on 6.18: a destroyed ESTABLISHED socket sends RST to its
/// peer (tcp_abort), and its own application gets ECONNABORTED.
pub fn destroy_all_tcp_report() -> Result<DestroyReport> {
    let mut diag = Diag::open()?;
    let mut report = DestroyReport::default();
    for s in diag.dump()? {
        match diag.destroy(&s) {
            Ok(()) => report.destroyed += 1,
            Err(e) if e.nack && e.errno == libc::ENOENT => report.already_gone += 1,
            Err(e) if e.nack => report.failed.push(format!(
                "{}: {}",
                s.describe(),
                teardown_core::errno::name(e.errno)
            )),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(report)
}

/// [`destroy_all_tcp_report`], returning how many sockets were destroyed;
/// those the kernel refused are listed on stderr.
pub fn destroy_all_tcp() -> Result<usize> {
    let r = destroy_all_tcp_report()?;
    for f in &r.failed {
        eprintln!("sock_diag destroy refused: {f}");
    }
    Ok(r.destroyed)
}

/// A marker sample for a round that found no socket, so a flat list of
/// samples still shows that sockets are gone ([`SockSample::no_socket`]).
pub fn empty_round(ts_ns: u64, host: Host) -> SockSample {
    SockSample::no_socket(ts_ns, host)
}

/// Dumps one namespace's TCP sockets periodically on a thread inside it.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<()>>>,
}

impl Sampler {
    /// Starts sampling `ns` every `period`; each round (ts_ns = time of the
    /// dump, host = `host`) goes to `sink`, also when it is empty. A round
    /// that fails is skipped; [`Sampler::stop`] reports the first failure.
    /// `sink` runs right after each dump, so for an empty round `now_ns()`
    /// there is its time within microseconds; [`Sampler::start_timed`] passes
    /// the exact time.
    pub fn start(
        ns: &NetNs,
        host: Host,
        period: Duration,
        mut sink: impl FnMut(Vec<SockSample>) + Send + 'static,
    ) -> Result<Sampler> {
        Sampler::start_timed(ns, host, period, move |_, round| sink(round))
    }

    /// Like [`Sampler::start`], with each round's dump time given to `sink`
    /// (for an empty round, record [`empty_round`] with it).
    pub fn start_timed(
        ns: &NetNs,
        host: Host,
        period: Duration,
        sink: impl FnMut(u64, Vec<SockSample>) + Send + 'static,
    ) -> Result<Sampler> {
        Sampler::start_families(ns, host, period, Families::Both, sink)
    }

    /// Like [`Sampler::start_timed`], dumping `families` only.
    pub fn start_families(
        ns: &NetNs,
        host: Host,
        period: Duration,
        families: Families,
        mut sink: impl FnMut(u64, Vec<SockSample>) + Send + 'static,
    ) -> Result<Sampler> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let period = period.max(Duration::from_millis(1));
        let handle = ns.spawn(&format!("td-sample-{host}"), move || -> Result<()> {
            let mut diag = Diag::open()
                .map_err(anyhow::Error::from)
                .context("sampler")?;
            let mut first_err: Option<(anyhow::Error, usize)> = None;
            let mut next = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                let ts = now_ns();
                match round(&mut diag, ts, host, families) {
                    Ok(samples) => sink(ts, samples),
                    Err(e) => match first_err.as_mut() {
                        Some((_, n)) => *n += 1,
                        None => first_err = Some((e, 1)),
                    },
                }
                next += period;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
            // One last round at stop, so the run's end state is fresh even if
            // this thread was starved for a while.
            let ts = now_ns();
            if let Ok(samples) = round(&mut diag, ts, host, families) {
                sink(ts, samples);
            }
            match first_err {
                Some((e, n)) => Err(e.context(format!("{n} sampling round(s) failed"))),
                None => Ok(()),
            }
        })?;
        Ok(Sampler {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.handle.take() {
            Some(h) => h
                .join()
                .map_err(|_| anyhow!("the sampler thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// A change of one connection's state between two rounds of its host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The round that first showed the new state.
    pub ts_ns: u64,
    pub host: Host,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// `None` when the connection first appears.
    pub from: Option<TcpState>,
    /// The new state; [`TcpState::Closed`] when the socket disappeared.
    pub to: TcpState,
}

/// Per connection (host, local, remote), the state changes over rounds
/// (a round = the samples of one host with one ts_ns), in time order,
/// including `CLOSED` when a socket is missing from a later round of its host
/// (and its reappearance, if any). Samples may come in any order.
pub fn transitions(samples: &[SockSample]) -> Vec<Transition> {
    /// (local, remote) -> state, for one round of one host.
    type Round = BTreeMap<(SocketAddr, SocketAddr), TcpState>;
    // host -> ts -> round
    let mut rounds: BTreeMap<Host, BTreeMap<u64, Round>> = BTreeMap::new();
    for s in samples {
        let round = rounds
            .entry(s.host)
            .or_default()
            .entry(s.ts_ns)
            .or_default();
        if !s.is_no_socket() {
            round.insert((s.local, s.remote), s.state);
        }
    }
    let mut out = Vec::new();
    for (host, by_ts) in rounds {
        let mut last: Round = BTreeMap::new();
        for (ts, round) in by_ts {
            let change = |(local, remote): (SocketAddr, SocketAddr), from, to| Transition {
                ts_ns: ts,
                host,
                local,
                remote,
                from,
                to,
            };
            for (key, state) in &round {
                let before = last.get(key).copied();
                if before != Some(*state) {
                    out.push(change(*key, before, *state));
                    last.insert(*key, *state);
                }
            }
            for (key, state) in last.iter_mut() {
                if *state != TcpState::Closed && !round.contains_key(key) {
                    out.push(change(*key, Some(*state), TcpState::Closed));
                    *state = TcpState::Closed;
                }
            }
        }
    }
    out.sort_by_key(|t| (t.ts_ns, t.host));
    out
}

/// The states one connection went through: `[ESTABLISHED, FIN_WAIT1, ..., CLOSED]`.
pub fn state_path(
    transitions: &[Transition],
    host: Host,
    local: SocketAddr,
    remote: SocketAddr,
) -> Vec<TcpState> {
    transitions
        .iter()
        .filter(|t| t.host == host && t.local == local && t.remote == remote)
        .map(|t| t.to)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use teardown_core::scenario::TcpState::*;

    fn s(ts: u64, host: Host, local: &str, remote: &str, state: TcpState) -> SockSample {
        SockSample::new(ts, host, a(local), a(remote), state)
    }

    fn a(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    const C: &str = "198.18.0.1:40000";
    const S: &str = "198.18.0.2:8080";
    const CLIENT: Host = Host::Client;
    const SERVER: Host = Host::Server;

    #[test]
    fn transitions_follow_a_close_to_gone() {
        let samples = vec![
            s(1, CLIENT, C, S, Established),
            s(1, SERVER, S, C, Established),
            s(2, CLIENT, C, S, Established),
            s(3, CLIENT, C, S, FinWait1),
            s(2, SERVER, S, C, CloseWait),
            s(4, CLIENT, C, S, FinWait2),
            s(3, SERVER, "0.0.0.0:8080", "0.0.0.0:0", Listen),
            s(5, CLIENT, C, S, TimeWait),
            empty_round(6, CLIENT),
        ];
        let t = transitions(&samples);
        assert_eq!(
            state_path(&t, CLIENT, a(C), a(S)),
            [Established, FinWait1, FinWait2, TimeWait, Closed]
        );
        assert_eq!(
            state_path(&t, SERVER, a(S), a(C)),
            [Established, CloseWait, Closed]
        );
        let gone = t
            .iter()
            .find(|x| x.host == CLIENT && x.to == Closed)
            .unwrap();
        assert_eq!(gone.ts_ns, 6);
        assert_eq!(gone.from, Some(TimeWait));
        assert!(t.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
        assert_eq!(t[0].from, None);
    }

    #[test]
    fn transitions_see_a_reappearance_and_ignore_other_hosts_rounds() {
        let samples = vec![
            s(1, CLIENT, C, S, Established),
            empty_round(2, CLIENT),
            s(3, CLIENT, C, S, SynSent),
            // A server round in between says nothing about the client's sockets.
            empty_round(4, SERVER),
            s(5, CLIENT, C, S, SynSent),
        ];
        let t = transitions(&samples);
        assert_eq!(
            state_path(&t, CLIENT, a(C), a(S)),
            [Established, Closed, SynSent]
        );
        assert!(t.iter().all(|x| x.host == CLIENT));
        assert!(transitions(&[]).is_empty());
    }

    #[test]
    fn parsers_never_panic_on_short_or_garbage_input() {
        for n in 0..200 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 + n) as u8).collect();
            let _ = parse_replies(&junk);
            let _ = parse_inet_diag_msg(&junk);
            let _ = parse_tcp_info(&junk);
        }
        // A header claiming more than the buffer holds.
        let mut b = vec![0u8; 20];
        b[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(parse_replies(&b).is_empty());
    }

    /// Builds a SOCK_DIAG_BY_FAMILY reply by hand.
    fn fake_reply(tcp_info_len: usize) -> Vec<u8> {
        let mut msg = vec![0u8; INET_DIAG_MSG_LEN];
        msg[0] = AF_INET;
        msg[1] = 4; // FIN_WAIT1
        msg[2] = 1; // retransmit timer
        msg[3] = 3;
        msg[4..6].copy_from_slice(&40000u16.to_be_bytes());
        msg[6..8].copy_from_slice(&8080u16.to_be_bytes());
        msg[8..12].copy_from_slice(&[198, 18, 0, 1]);
        msg[24..28].copy_from_slice(&[198, 18, 0, 2]);
        msg[52..56].copy_from_slice(&1234u32.to_ne_bytes());
        let mut info = vec![0u8; tcp_info_len];
        if tcp_info_len >= TCP_INFO_MIN_LEN {
            info[2] = 3;
            info[5] = TCPI_OPT_SACK | 1; // and timestamps
            info[8..12].copy_from_slice(&1_600_000u32.to_ne_bytes());
            info[16..20].copy_from_slice(&1448u32.to_ne_bytes());
            info[68..72].copy_from_slice(&52u32.to_ne_bytes());
            info[128..136].copy_from_slice(&77u64.to_ne_bytes());
        }
        let alen = 4 + info.len();
        msg.extend_from_slice(&(alen as u16).to_ne_bytes());
        msg.extend_from_slice(&INET_DIAG_INFO.to_ne_bytes());
        msg.extend_from_slice(&info);
        while !msg.len().is_multiple_of(4) {
            msg.push(0);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&((16 + msg.len()) as u32).to_ne_bytes());
        out.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        out.extend_from_slice(&[0u8; 10]);
        out.extend_from_slice(&msg);
        // then NLMSG_DONE
        out.extend_from_slice(&20u32.to_ne_bytes());
        out.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        out.extend_from_slice(&[0u8; 14]);
        out
    }

    #[test]
    fn parses_a_crafted_reply() {
        let r = parse_replies(&fake_reply(232));
        assert_eq!(r.len(), 2);
        assert_eq!(r[1], Reply::Done);
        let Reply::Sock(sock) = &r[0] else {
            panic!("{r:?}")
        };
        let smp = sock.sample(9, CLIENT).unwrap();
        assert_eq!(smp.local, a("198.18.0.1:40000"));
        assert_eq!(smp.remote, a("198.18.0.2:8080"));
        assert_eq!(smp.state, FinWait1);
        assert_eq!(smp.timer, Some(Timer::On));
        assert_eq!(smp.expires_ms, Some(1234));
        assert_eq!(smp.retrans, 3);
        let tcp = smp.tcp.unwrap();
        assert_eq!(tcp.rto_us, 1_600_000);
        assert_eq!(tcp.retransmits, 3);
        assert_eq!(tcp.bytes_received, 77);
        assert_eq!((tcp.snd_mss, tcp.rtt_us, tcp.sack), (1448, 52, true));
        // A tcp_info too short to hold the fields: no `tcp`, the rest intact.
        let Reply::Sock(short) = &parse_replies(&fake_reply(40))[0] else {
            panic!()
        };
        assert_eq!(short.tcp, None);
        assert_eq!(short.state, 4);
        // A state or timer number the kernel does not define is no sample.
        let mut odd = sock.clone();
        odd.state = 14;
        assert_eq!(odd.sample(9, CLIENT), Err(Unknown::State(14)));
        assert!(odd.describe().starts_with("unknown TCP state 14"));
        odd.state = 1;
        odd.timer = 5;
        assert_eq!(odd.sample(9, CLIENT), Err(Unknown::Timer(5)));
    }

    #[test]
    fn every_kernel_number_is_a_state_timer_or_an_error() {
        let states: Vec<Option<TcpState>> = (0..=u8::MAX).map(|n| tcp_state(n).ok()).collect();
        // 1..=13 are the kernel's, each its own state; no sample is ever CLOSED (no socket).
        assert!(states[0].is_none() && states[14..].iter().all(Option::is_none));
        let known: std::collections::BTreeSet<TcpState> =
            states.iter().flatten().copied().collect();
        assert_eq!(known.len(), 13);
        assert!(!known.contains(&Closed));
        assert_eq!(tcp_state(12), Ok(NewSynRecv));
        assert_eq!(tcp_state(13), Ok(BoundInactive));
        assert_eq!(tcp_state(0), Err(Unknown::State(0)));
        assert_eq!(timer(0), Ok(None));
        assert_eq!(timer(4), Ok(Some(Timer::Persist)));
        assert_eq!(timer(5), Err(Unknown::Timer(5)));
    }

    // ------------------------------------------------------------ privileged

    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    /// A namespace with `lo` up, deleted on drop (also when a test fails).
    struct TestNs(NetNs);

    impl TestNs {
        fn new(tag: &str) -> TestNs {
            let ns = NetNs::create(&format!("td-ut-{tag}-{}", std::process::id())).unwrap();
            let guard = TestNs(ns);
            let ok = std::process::Command::new("ip")
                .args(["-n", guard.0.name(), "link", "set", "lo", "up"])
                .status()
                .unwrap()
                .success();
            assert!(ok, "ip link set lo up");
            guard
        }
    }

    impl Drop for TestNs {
        fn drop(&mut self) {
            let _ = self.0.run(destroy_all_tcp);
            let _ = self.0.delete();
        }
    }

    /// A connected pair over loopback: (client, server, listener).
    fn pair(ip: &str) -> (TcpStream, TcpStream, TcpListener) {
        let l = TcpListener::bind(format!("{ip}:0")).unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s, l)
    }

    fn find(v: &[DiagSock], local: SocketAddr, remote: SocketAddr) -> Option<&DiagSock> {
        v.iter()
            .find(|x| x.local() == local && x.remote() == remote)
    }

    fn in_state(x: &DiagSock, state: TcpState) -> bool {
        x.tcp_state() == Ok(state)
    }

    /// Polls `dump_tcp` (on the calling thread) until `ok` holds or 3 s pass.
    fn dump_until(ok: impl Fn(&[DiagSock]) -> bool) -> Vec<DiagSock> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let v = dump_tcp().unwrap();
            if ok(&v) || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    #[ignore = "privileged: needs root (make test runs it)"]
    fn sees_both_ends_established_then_the_closers_states() {
        crate::require_privileged();
        let ns = TestNs::new("sd-est");
        ns.0.run(|| {
            for ip in ["127.0.0.1", "[::1]"] {
                let (c, s, l) = pair(ip);
                let (ca, sa) = (c.local_addr().unwrap(), s.local_addr().unwrap());
                let v = dump_tcp().unwrap();
                let cs = find(&v, ca, sa).unwrap_or_else(|| panic!("client socket in {v:?}"));
                let ss = find(&v, sa, ca).unwrap_or_else(|| panic!("server socket in {v:?}"));
                for x in [cs, ss] {
                    assert_eq!(x.tcp_state(), Ok(Established));
                    let tcp = x.tcp.as_ref().expect("tcp_info");
                    assert!(tcp.rto_us > 0, "{x:?}");
                }
                assert!(
                    v.iter()
                        .any(|x| in_state(x, Listen) && x.local() == l.local_addr().unwrap()),
                    "{v:?}"
                );
                // The client closes first: FIN_WAIT2 while the server holds on.
                drop(c);
                let v = dump_until(|v| find(v, ca, sa).is_some_and(|x| in_state(x, FinWait2)));
                assert_eq!(find(&v, ca, sa).unwrap().tcp_state(), Ok(FinWait2), "{v:?}");
                assert_eq!(
                    find(&v, sa, ca).unwrap().tcp_state(),
                    Ok(CloseWait),
                    "{v:?}"
                );
                // The server closes: the closer ends in TIME_WAIT, the server's socket goes.
                drop(s);
                let v = dump_until(|v| {
                    find(v, ca, sa).is_some_and(|x| in_state(x, TimeWait))
                        && find(v, sa, ca).is_none()
                });
                let tw = find(&v, ca, sa).unwrap();
                assert_eq!(tw.tcp_state(), Ok(TimeWait), "{v:?}");
                assert_eq!(tw.timer(), Ok(Some(Timer::Timewait)));
                assert!(tw.expires_ms <= 60_000);
                assert_eq!(tw.tcp, None, "no tcp_info for TIME_WAIT");
                assert!(find(&v, sa, ca).is_none(), "{v:?}");
            }
            Ok(())
        })
        .unwrap();
    }

    /// What `ss -K` does to a connection whose two ends are both destroyed:
    /// the first end destroyed (tcp_abort) sends a RST, so the other end is
    /// reset before its own turn (ENOENT: counted as already gone); the
    /// first end's application gets ECONNABORTED, the other's ECONNRESET.
    #[test]
    #[ignore = "privileged: needs root (make test runs it)"]
    fn destroy_all_removes_an_established_pair() {
        crate::require_privileged();
        let ns = TestNs::new("sd-kill");
        ns.0.run(|| {
            let (mut c, mut s, l) = pair("127.0.0.1");
            let report = destroy_all_tcp_report().unwrap();
            assert!(report.failed.is_empty(), "{report:?}");
            // listener + first end destroyed; the second end was reset by the RST.
            assert_eq!(report.destroyed + report.already_gone, 3, "{report:?}");
            assert!(report.destroyed >= 2, "{report:?}");
            let v = dump_tcp().unwrap();
            assert!(v.is_empty(), "sockets left: {v:?}");
            let mut errs: Vec<String> = [&mut c, &mut s]
                .into_iter()
                .map(|x| {
                    let mut b = [0u8; 8];
                    match x.read(&mut b) {
                        Ok(n) => format!("read {n}"),
                        Err(e) => crate::sys::errno_of_io(&e),
                    }
                })
                .collect();
            errs.sort();
            assert_eq!(errs, ["ECONNABORTED", "ECONNRESET"]);
            drop(l);
            Ok(())
        })
        .unwrap();
    }

    /// TIME_WAIT sockets: 6.18 destroys them; a kernel that refuses must show
    /// up in `failed`, never fail the whole call.
    #[test]
    #[ignore = "privileged: needs root (make test runs it)"]
    fn destroy_all_removes_time_wait() {
        crate::require_privileged();
        let ns = TestNs::new("sd-tw");
        ns.0.run(|| {
            let (c, s, l) = pair("127.0.0.1");
            drop(l);
            drop(c);
            std::thread::sleep(Duration::from_millis(20));
            drop(s);
            let v = dump_until(|v| v.len() == 1 && in_state(&v[0], TimeWait));
            assert_eq!(v.len(), 1, "{v:?}");
            assert_eq!(v[0].tcp_state(), Ok(TimeWait));
            let report = destroy_all_tcp_report().unwrap();
            match (report.destroyed, report.failed.len()) {
                (1, 0) => assert!(dump_tcp().unwrap().is_empty()),
                (0, 1) => assert!(report.failed[0].starts_with("TIME_WAIT"), "{report:?}"),
                _ => panic!("{report:?}"),
            }
            Ok(())
        })
        .unwrap();
    }

    /// A sampler of one family sees that family's sockets and not the
    /// other's (the lab samples a host of built-in endpoints so).
    #[test]
    #[ignore = "privileged: needs root (make test runs it)"]
    fn a_one_family_sampler_dumps_that_family_only() {
        crate::require_privileged();
        let ns = TestNs::new("sd-fam");
        let (_c4, _s4, _l4) = ns.0.run(|| Ok(pair("127.0.0.1"))).unwrap();
        let (_c6, _s6, _l6) = ns.0.run(|| Ok(pair("[::1]"))).unwrap();
        let families = |f: Families| {
            let (tx, rx) = std::sync::mpsc::channel::<Vec<SockSample>>();
            let sampler = Sampler::start_families(&ns.0, CLIENT, DEFAULT_PERIOD, f, move |_, r| {
                let _ = tx.send(r);
            })
            .unwrap();
            let round = rx.recv_timeout(Duration::from_secs(2)).unwrap();
            sampler.stop().unwrap();
            let mut v6: Vec<bool> = round.iter().map(|s| s.local.is_ipv6()).collect();
            v6.dedup();
            (round.len(), v6)
        };
        // Each pair: client, server, listener.
        assert_eq!(families(Families::V4), (3, vec![false]));
        assert_eq!(families(Families::V6), (3, vec![true]));
        let (n, _) = families(Families::Both);
        assert_eq!(n, 6);
    }

    #[test]
    #[ignore = "privileged: needs root (make test runs it)"]
    fn sampler_reports_rounds_and_the_socket_going() {
        crate::require_privileged();
        let ns = TestNs::new("sd-samp");
        let (tx, rx) = std::sync::mpsc::channel::<(u64, Vec<SockSample>)>();
        let sampler = Sampler::start_timed(&ns.0, CLIENT, DEFAULT_PERIOD, move |ts, round| {
            let _ = tx.send((ts, round));
        })
        .unwrap();
        // Empty rounds come through while there is no socket.
        let (_, first) = rx.recv_timeout(Duration::from_secs(2)).unwrap();
        assert!(first.is_empty(), "{first:?}");
        let (c, s, l) = ns.0.run(|| Ok(pair("127.0.0.1"))).unwrap();
        let (ca, sa) = (c.local_addr().unwrap(), s.local_addr().unwrap());
        std::thread::sleep(Duration::from_millis(60));
        // SO_LINGER 0 on the client: close sends RST, both ends vanish at once.
        socket2::SockRef::from(&c)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(c);
        std::thread::sleep(Duration::from_millis(60));
        drop((s, l));
        std::thread::sleep(Duration::from_millis(30));
        sampler.stop().unwrap();
        let mut flat = Vec::new();
        let mut rounds = 0;
        while let Ok((ts, round)) = rx.try_recv() {
            rounds += 1;
            assert!(round.iter().all(|x| x.host == CLIENT));
            assert!(round.windows(2).all(|w| w[0].ts_ns == w[1].ts_ns));
            flat.extend(round.iter().cloned());
            if round.is_empty() {
                flat.push(empty_round(ts, CLIENT));
            }
        }
        assert!(rounds >= 10, "only {rounds} rounds in ~150 ms");
        let t = transitions(&flat);
        assert_eq!(
            state_path(&t, CLIENT, ca, sa),
            [Established, Closed],
            "{t:?}"
        );
        assert_eq!(
            state_path(&t, CLIENT, sa, ca),
            [Established, Closed],
            "{t:?}"
        );
    }
}
