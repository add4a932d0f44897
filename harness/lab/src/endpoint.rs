//! The built-in endpoint: a real process holding one TCP connection, driven
//! by commands on stdin and reporting what the application sees on stdout.
//!
//! `teardown endpoint --config JSON` (hidden subcommand). The runner starts it
//! inside a host's network namespace, so a SIGKILL kills the process while
//! that host's kernel (and its sockets' fate) lives on.
//!
//! Contract:
//! - Configuration: [`EndpointConfig`] as JSON. With `netns` set, the process
//!   enters that namespace (setns CLONE_NEWNET) as its very first action,
//!   while still single-threaded, before creating any socket.
//! - Server: socket, options (SO_REUSEADDR on unless `reuseaddr = false`),
//!   bind, listen -> `listening`; accepts ONE connection, sets the options
//!   again on it -> `accepted` (detail = peer address), then
//!   closes the listener (`accept = false`: never accepts; the listener is the
//!   socket `close` closes, resetting the queued connections). Client: socket,
//!   options, a non-blocking connect watched by poll (gives up after 10 s) ->
//!   `connected` (detail = local address), or `error` op=connect errno=NAME and
//!   exit status 1; a `close` while connecting closes the socket in SYN_SENT
//!   (`closed`, detail `connecting`). After connecting, an `options`
//!   event reports the options read back from the connected socket (getsockopt).
//! - Events: one [`Event`] JSON object per line on stdout, flushed at once.
//!   Kinds: listening, accepted, connected, options, sent, received, eof,
//!   error (op = read|write|connect|accept|bind|listen|close|shutdown|setsockopt|epoll|disconnect),
//!   closed, shutdown (detail = wr|rd|rdwr). `sent`/`received` carry the
//!   cumulative byte count and are coalesced (at most one per 10 ms, plus a
//!   final one before eof/error/close).
//! - Commands, one per line on stdin: `send N`, `send N close` (the writer
//!   closes once its write returned: `write(); close();` with no round trip
//!   through the runner), `stream`, `close`,
//!   `shutdown wr|rd|rdwr`, `read` (start a reader unless one is reading),
//!   `disconnect` (connect(AF_UNSPEC) -> `disconnected`). Commands that arrive before the connection exists
//!   wait for it. Writes run on a writer thread, so `close` is never stuck
//!   behind a blocked write. Stdin EOF: exit 0 (the kernel closes whatever is
//!   open). SIGTERM: the default action (the process ends, the kernel closes).
//!   SIGPIPE is ignored, so writes return EPIPE.
//! - `close` closes the socket at once: the reader and writer wait in poll()
//!   on the socket plus a stop eventfd, are stopped and joined first (a
//!   close(fd) while another thread is blocked in read(fd) would not release
//!   the socket, and no FIN would go out). Then `closed`; the process stays
//!   (idle) until stdin EOF or a signal, so the runner decides when it ends.
//! - autoread = true: a reader thread reads everything (`received`, then
//!   `eof` or `error` op=read). autoread = false: nothing is ever read, data
//!   stays in the receive queue (so close() sends RST); errors show on writes.
//!   epoll = true: the reader waits in epoll_wait; EPOLLERR or EPOLLHUP is
//!   reported as `error` op=epoll errno=SO_ERROR detail=the flags.
//! - on_eof = close: after EOF wait `on_eof_delay_ms` (none by default, no
//!   sleep at all then: the three-segment close needs the FIN within the
//!   delayed-ACK window) and close.
//! - Exit status: 0 on stdin EOF, 1 when connect/accept fails, 3 when a socket
//!   option cannot be set (after `error` op=setsockopt) or the socket cannot
//!   be created/bound.

use crate::sys::now_ns;
use anyhow::{anyhow, Context, Result};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{recv, send, MsgFlags};
use serde::{Deserialize, Serialize, Serializer};
use socket2::{Domain, SockAddr, Socket, TcpKeepalive, Type};
use std::io::{self, BufRead, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use teardown_core::evidence::Event;
use teardown_core::scenario::{EventKind, OnEof, SocketOptions};

/// Client or server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Client,
    Server,
}

/// What a built-in endpoint process does (JSON on its command line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// Event source name (`client`, `server`).
    pub name: String,
    pub role: Role,
    /// Server: the address to bind. Client: the server's address to connect
    /// to. Also accepted as `listen` or `connect`.
    #[serde(alias = "listen", alias = "connect")]
    pub addr: SocketAddr,
    #[serde(default, serialize_with = "ser_options")]
    pub options: SocketOptions,
    #[serde(default = "yes")]
    pub autoread: bool,
    #[serde(default)]
    pub on_eof: OnEof,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_eof_delay_ms: Option<u64>,
    /// A namespace file (`/run/netns/NAME`) to enter first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<PathBuf>,
    /// The account (a name or uid) to drop to once in the namespace, before
    /// anything else ([`crate::account`]); none: stay as started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Server: accept the connection (true), or only listen: the handshakes
    /// complete into the accept queue and `close` closes the listener.
    #[serde(default = "yes")]
    pub accept: bool,
    /// The reader waits in epoll_wait instead of poll and reports an error or
    /// hangup wake-up as `error` op=epoll (errno = SO_ERROR, detail = the flags).
    #[serde(default)]
    pub epoll: bool,
}

fn yes() -> bool {
    true
}

impl EndpointConfig {
    /// The JSON for `--config`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an endpoint config always serializes")
    }
}

/// Writes [`SocketOptions`] so that its own `Deserialize` reads it back:
/// durations as strings with a unit (`scenario::Dur` reads only those).
fn ser_options<S: Serializer>(o: &SocketOptions, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    fn dur(d: &teardown_core::scenario::Dur) -> String {
        let ns = d.0.as_nanos();
        if ns.is_multiple_of(1_000_000) {
            format!("{}ms", ns / 1_000_000)
        } else {
            format!("{}us", d.0.as_micros())
        }
    }
    let mut m = s.serialize_map(None)?;
    if let Some(v) = o.keepalive {
        m.serialize_entry("keepalive", &v)?;
    }
    if let Some(v) = &o.keepidle {
        m.serialize_entry("keepidle", &dur(v))?;
    }
    if let Some(v) = &o.keepintvl {
        m.serialize_entry("keepintvl", &dur(v))?;
    }
    if let Some(v) = o.keepcnt {
        m.serialize_entry("keepcnt", &v)?;
    }
    if let Some(v) = &o.user_timeout {
        m.serialize_entry("user_timeout", &dur(v))?;
    }
    if let Some(v) = &o.linger {
        m.serialize_entry("linger", &dur(v))?;
    }
    if let Some(v) = o.nodelay {
        m.serialize_entry("nodelay", &v)?;
    }
    if let Some(v) = o.reuseaddr {
        m.serialize_entry("reuseaddr", &v)?;
    }
    if let Some(v) = &o.rto_max {
        m.serialize_entry("rto_max", &dur(v))?;
    }
    if let Some(v) = o.syncnt {
        m.serialize_entry("syncnt", &v)?;
    }
    m.end()
}

/// How long a client waits for connect().
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Minimum spacing of coalesced `sent` / `received` events.
pub const COALESCE: Duration = Duration::from_millis(10);
/// Size of one `stream` write.
pub const STREAM_CHUNK: usize = 16 * 1024;

// ---------------------------------------------------------------- events

/// Writes events, one JSON line each, flushed at once.
#[derive(Clone)]
struct Emitter {
    source: Arc<str>,
    out: Arc<Mutex<io::Stdout>>,
}

impl Emitter {
    fn event(&self, kind: EventKind) -> Event {
        Event::new(now_ns(), self.source.to_string(), kind)
    }

    fn emit(&self, ev: Event) {
        let line = serde_json::to_string(&ev).unwrap_or_default();
        let out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let mut lock = out.lock();
        let _ = writeln!(lock, "{line}");
        let _ = lock.flush();
    }

    fn simple(&self, kind: EventKind, detail: Option<String>) {
        let mut ev = self.event(kind);
        ev.detail = detail;
        self.emit(ev);
    }

    fn error(&self, op: &str, errno: String, detail: Option<String>) {
        let mut ev = self.event(EventKind::Error);
        ev.op = Some(op.to_string());
        ev.errno = Some(errno);
        ev.detail = detail;
        self.emit(ev);
    }

    fn bytes(&self, kind: EventKind, total: u64) {
        let mut ev = self.event(kind);
        ev.bytes = Some(total);
        self.emit(ev);
    }
}

/// The errno name of an I/O error; a timeout without an OS errno (socket2's
/// connect_timeout) is ETIMEDOUT.
fn errno_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => teardown_core::errno::name(n),
        None if e.kind() == io::ErrorKind::TimedOut => "ETIMEDOUT".into(),
        None => crate::sys::errno_of_io(e),
    }
}

/// A cumulative byte counter whose events are spaced at least [`COALESCE`] apart.
struct Counter {
    kind: EventKind,
    total: u64,
    reported: u64,
    last: Option<Instant>,
}

impl Counter {
    fn new(kind: EventKind) -> Counter {
        Counter {
            kind,
            total: 0,
            reported: 0,
            last: None,
        }
    }
    fn add(&mut self, n: usize, em: &Emitter) {
        self.total += n as u64;
        if self.last.is_none_or(|t| t.elapsed() >= COALESCE) {
            self.flush(em);
        }
    }
    /// Reports the total if it changed since the last report.
    fn flush(&mut self, em: &Emitter) {
        if self.total != self.reported {
            em.bytes(self.kind, self.total);
            self.reported = self.total;
            self.last = Some(Instant::now());
        }
    }
    fn pending(&self) -> bool {
        self.total != self.reported
    }
}

// ---------------------------------------------------------------- syscalls

/// An eventfd that wakes the reader and writer threads when the socket is to be closed.
struct StopFd(EventFd);

impl StopFd {
    fn new() -> io::Result<StopFd> {
        EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map(StopFd)
            .map_err(io::Error::from)
    }
    fn signal(&self) {
        let _ = self.0.write(1);
    }
    /// Resets it (a non-blocking read of the counter).
    fn clear(&self) {
        let _ = self.0.read();
    }
}

/// What poll() found: the socket is ready (or in error), the stop fd fired, or nothing.
enum Ready {
    Socket,
    Stop,
    Timeout,
}

/// poll() on the socket (for `events`) and the stop fd; EINTR is retried.
fn wait(
    sock: BorrowedFd<'_>,
    events: PollFlags,
    stop: &StopFd,
    timeout_ms: i32,
) -> io::Result<Ready> {
    let timeout = PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::NONE);
    loop {
        let mut fds = [
            PollFd::new(sock, events),
            PollFd::new(stop.0.as_fd(), PollFlags::POLLIN),
        ];
        let n = match poll(&mut fds, timeout) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            return Ok(Ready::Stop);
        }
        if n == 0 {
            return Ok(Ready::Timeout);
        }
        return Ok(Ready::Socket);
    }
}

/// recv() that never blocks (MSG_DONTWAIT), whatever the fd's mode.
fn recv_nb(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    recv(fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT).map_err(io::Error::from)
}

/// send() that never blocks and never raises SIGPIPE.
fn send_nb(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    send(
        fd.as_raw_fd(),
        buf,
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
    )
    .map_err(io::Error::from)
}

/// Sets SIGPIPE to SIG_IGN, so a write to a closed connection returns EPIPE.
/// Endpoints run at nice -10: a real host's process reacts within a
/// millisecond, and C1's three-segment close depends on the application closing
/// inside the peer's 40 ms delayed-ACK window even while other scenarios (or a
/// build) load the machine. Best effort: without CAP_SYS_NICE it stays at 0.
fn raise_priority() {
    // SAFETY: setpriority(2) on this process; no memory involved.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, -10);
    }
}

fn ignore_sigpipe() {
    // SAFETY: installing SIG_IGN has no handler code to be unsafe about.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// close(2) of a socket, reporting its error (dropping an `OwnedFd` would hide it).
fn close_reporting(fd: OwnedFd) -> io::Result<()> {
    nix::unistd::close(fd.into_raw_fd()).map_err(io::Error::from)
}

// ---------------------------------------------------------------- options

/// Applies the options to a socket; on failure names the option.
///
/// Keepalive: `keepidle`/`keepintvl`/`keepcnt` set TCP_KEEPIDLE/INTVL/CNT;
/// SO_KEEPALIVE follows `keepalive`, and when that is absent it is turned on
/// if any of the three is given (as Go's SetKeepAlivePeriod does).
/// SO_REUSEADDR is on for a listener unless `reuseaddr = false`.
pub fn apply_options(
    sock: &Socket,
    o: &SocketOptions,
    listener: bool,
) -> Result<(), (&'static str, io::Error)> {
    let reuse = if listener {
        Some(o.reuseaddr.unwrap_or(true))
    } else {
        o.reuseaddr
    };
    if let Some(r) = reuse {
        sock.set_reuse_address(r).map_err(|e| ("reuseaddr", e))?;
    }
    // One call per option, so a failure names the option that failed.
    // (socket2's set_tcp_keepalive also turns SO_KEEPALIVE on.)
    if let Some(d) = o.keepidle {
        sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(d.0))
            .map_err(|e| ("keepidle", e))?;
    }
    if let Some(d) = o.keepintvl {
        sock.set_tcp_keepalive(&TcpKeepalive::new().with_interval(d.0))
            .map_err(|e| ("keepintvl", e))?;
    }
    if let Some(n) = o.keepcnt {
        sock.set_tcp_keepalive(&TcpKeepalive::new().with_retries(n))
            .map_err(|e| ("keepcnt", e))?;
    }
    if let Some(on) = o.keepalive {
        sock.set_keepalive(on).map_err(|e| ("keepalive", e))?;
    }
    if let Some(d) = o.user_timeout {
        sock.set_tcp_user_timeout(Some(d.0))
            .map_err(|e| ("user_timeout", e))?;
    }
    if let Some(d) = o.linger {
        sock.set_linger(Some(d.0)).map_err(|e| ("linger", e))?;
    }
    if let Some(n) = o.nodelay {
        sock.set_tcp_nodelay(n).map_err(|e| ("nodelay", e))?;
    }
    if let Some(d) = o.rto_max {
        let ms = d.0.as_millis().min(u32::MAX as u128) as u32;
        crate::sys::set_tcp_rto_max_ms(sock.as_fd(), ms).map_err(|e| ("rto_max", e))?;
    }
    if let Some(n) = o.syncnt {
        crate::sys::set_tcp_syncnt(sock.as_fd(), n).map_err(|e| ("syncnt", e))?;
    }
    Ok(())
}

/// The options as the kernel reports them, `key=value` separated by spaces.
pub fn read_options(sock: &Socket) -> String {
    fn show<T: std::fmt::Display>(r: io::Result<T>) -> String {
        match r {
            Ok(v) => v.to_string(),
            Err(e) => errno_name(&e),
        }
    }
    let linger = match sock.linger() {
        Ok(Some(d)) => d.as_secs().to_string(),
        Ok(None) => "off".into(),
        Err(e) => errno_name(&e),
    };
    let uto = match sock.tcp_user_timeout() {
        Ok(Some(d)) => d.as_millis().to_string(),
        Ok(None) => "0".into(),
        Err(e) => errno_name(&e),
    };
    format!(
        "keepalive={} keepidle={} keepintvl={} keepcnt={} user_timeout_ms={} linger={} nodelay={} reuseaddr={} rto_max_ms={}",
        show(sock.keepalive()),
        show(sock.tcp_keepalive_time().map(|d| d.as_secs())),
        show(sock.tcp_keepalive_interval().map(|d| d.as_secs())),
        show(sock.tcp_keepalive_retries()),
        uto,
        linger,
        show(sock.tcp_nodelay()),
        show(sock.reuse_address()),
        show(crate::sys::tcp_rto_max_ms(sock.as_fd())),
    )
}

// ---------------------------------------------------------------- threads

/// Messages to the controller (the main thread).
enum Msg {
    Line(String),
    /// The reader saw EOF.
    PeerEof,
    /// The writer finished a `send N close`: close now.
    WriterClose,
}

/// What a reader thread gets.
struct ReaderArgs {
    sock: Arc<Socket>,
    stop: Arc<StopFd>,
    em: Emitter,
    ctl: Sender<Msg>,
    /// shutdown(SHUT_WR) at once on EOF (`on_eof = close` with no delay).
    fin_on_eof: bool,
    /// Wait in epoll_wait ([`Waiter`]).
    epoll: bool,
    /// Set before the reader reports its last event (EOF or an error), so a
    /// `read` that follows that event always starts a new reader.
    ended: Arc<AtomicBool>,
}

/// Work for the writer thread.
enum Job {
    /// Write this many bytes; `true`: then have the controller close the
    /// socket ([`Msg::WriterClose`]), when the write succeeded.
    Send(u64, bool),
    /// Stream until the connection fails, at most this many bytes per second if given.
    Stream(Option<u64>),
}

/// How the reader waits for its socket: poll(), or an epoll set (the socket
/// for EPOLLIN|EPOLLRDHUP, plus the stop fd).
enum Waiter {
    Poll,
    Epoll(Epoll),
}

/// The epoll flags a wake-up may carry, in the order an event's detail lists them.
const EPOLL_NAMES: [(EpollFlags, &str); 6] = [
    (EpollFlags::EPOLLIN, "EPOLLIN"),
    (EpollFlags::EPOLLPRI, "EPOLLPRI"),
    (EpollFlags::EPOLLOUT, "EPOLLOUT"),
    (EpollFlags::EPOLLERR, "EPOLLERR"),
    (EpollFlags::EPOLLHUP, "EPOLLHUP"),
    (EpollFlags::EPOLLRDHUP, "EPOLLRDHUP"),
];

/// `EPOLLIN|EPOLLERR|EPOLLHUP`: the flags set, by name, in [`EPOLL_NAMES`]' order.
fn epoll_flag_names(f: EpollFlags) -> String {
    EPOLL_NAMES
        .iter()
        .filter(|(flag, _)| f.contains(*flag))
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("|")
}

/// What the reader's wait found; `Hangup` (epoll only): EPOLLERR or EPOLLHUP, with the flags.
enum Woke {
    Ready(Ready),
    Hangup(EpollFlags),
}

impl Waiter {
    fn new(epoll: bool, sock: BorrowedFd<'_>, stop: &StopFd) -> io::Result<Waiter> {
        if !epoll {
            return Ok(Waiter::Poll);
        }
        let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let want = EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP;
        ep.add(sock, EpollEvent::new(want, 0))?;
        ep.add(stop.0.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, 1))?;
        Ok(Waiter::Epoll(ep))
    }

    /// Waits for input on the socket (or stop, or the timeout).
    fn wait(&self, fd: BorrowedFd<'_>, stop: &StopFd, timeout_ms: i32) -> io::Result<Woke> {
        let ep = match self {
            Waiter::Poll => return wait(fd, PollFlags::POLLIN, stop, timeout_ms).map(Woke::Ready),
            Waiter::Epoll(ep) => ep,
        };
        let timeout = PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::NONE);
        let mut evs = [EpollEvent::empty(); 2];
        let n = loop {
            match ep.wait(&mut evs, timeout) {
                Ok(n) => break n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let mut sock = EpollFlags::empty();
        for ev in &evs[..n] {
            if ev.data() == 1 {
                return Ok(Woke::Ready(Ready::Stop));
            }
            sock = ev.events();
        }
        if n == 0 {
            Ok(Woke::Ready(Ready::Timeout))
        } else if sock.intersects(EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP) {
            Ok(Woke::Hangup(sock))
        } else {
            Ok(Woke::Ready(Ready::Socket))
        }
    }
}

/// An epoll wake-up with EPOLLERR or EPOLLHUP, as an application handles it:
/// `error` op=epoll, errno = SO_ERROR (getsockopt, which also clears it; `0`
/// when none), detail = the flags.
fn report_hangup(sock: &Socket, flags: EpollFlags, em: &Emitter) {
    let errno = match sock.take_error() {
        Ok(Some(e)) => errno_name(&e),
        Ok(None) => "0".into(),
        Err(e) => errno_name(&e),
    };
    em.error("epoll", errno, Some(epoll_flag_names(flags)));
}

/// The reader: reads everything until EOF, an error or stop.
fn reader(r: ReaderArgs) {
    let ReaderArgs {
        sock,
        stop,
        em,
        ctl,
        fin_on_eof,
        epoll,
        ended,
    } = r;
    let end = || ended.store(true, Ordering::SeqCst);
    let fd = sock.as_fd();
    let waiter = match Waiter::new(epoll, fd, &stop) {
        Ok(w) => w,
        Err(e) => {
            end();
            em.error("read", errno_name(&e), Some("epoll_create".into()));
            return;
        }
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = Counter::new(EventKind::Received);
    loop {
        let timeout = if got.pending() {
            COALESCE.as_millis() as i32
        } else {
            -1
        };
        match waiter.wait(fd, &stop, timeout) {
            Ok(Woke::Ready(Ready::Stop)) => {
                got.flush(&em);
                return;
            }
            Ok(Woke::Ready(Ready::Timeout)) => {
                got.flush(&em);
                continue;
            }
            Ok(Woke::Ready(Ready::Socket)) => {}
            Ok(Woke::Hangup(flags)) => {
                got.flush(&em);
                end();
                report_hangup(&sock, flags, &em);
                return;
            }
            Err(e) => {
                got.flush(&em);
                end();
                em.error("read", errno_name(&e), Some("poll".into()));
                return;
            }
        }
        match recv_nb(fd, &mut buf) {
            Ok(0) => {
                if fin_on_eof {
                    let _ = nix::sys::socket::shutdown(
                        fd.as_raw_fd(),
                        nix::sys::socket::Shutdown::Write,
                    );
                }
                got.flush(&em);
                end();
                em.simple(EventKind::Eof, None);
                let _ = ctl.send(Msg::PeerEof);
                return;
            }
            Ok(n) => got.add(n, &em),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                got.flush(&em);
                end();
                em.error("read", errno_name(&e), None);
                return;
            }
        }
    }
}

/// Writes `n` bytes (or forever when `n` is None) until done, an error, or
/// stop. Returns false when stopped.
fn write_bytes(
    fd: BorrowedFd<'_>,
    n: Option<u64>,
    rate: Option<u64>,
    stop: &StopFd,
    em: &Emitter,
    sent: &mut Counter,
) -> bool {
    let chunk = vec![b'x'; STREAM_CHUNK];
    let mut left = n;
    // Pacing: chunks of a hundredth of a second's worth, each sent once the
    // clock allows it (the wait stays interruptible by `close`).
    let started = Instant::now();
    let mut paced: u64 = 0;
    let step = rate.map(|r| (r / 100).clamp(1, STREAM_CHUNK as u64) as usize);
    loop {
        if left == Some(0) {
            sent.flush(em);
            return true;
        }
        if let Some(r) = rate.filter(|r| *r > 0) {
            let due = Duration::from_secs_f64(paced as f64 / r as f64);
            let elapsed = started.elapsed();
            if due > elapsed {
                let ms = (due - elapsed).as_millis().max(1) as i32;
                if let Ok(Ready::Stop) = wait(fd, PollFlags::empty(), stop, ms) {
                    sent.flush(em);
                    return false;
                }
                if sent.pending() {
                    sent.flush(em);
                }
                continue;
            }
        }
        let len = left.map_or(STREAM_CHUNK, |l| l.min(STREAM_CHUNK as u64) as usize);
        let len = step.map_or(len, |st| st.min(len));
        match send_nb(fd, &chunk[..len]) {
            Ok(k) => {
                if let Some(l) = left.as_mut() {
                    *l -= k as u64;
                }
                paced += k as u64;
                sent.add(k, em);
                // A fast reader may keep the socket writable for ever: look for
                // `close` between writes too, not only when a write would block.
                if let Ok(Ready::Stop) = wait(fd, PollFlags::empty(), stop, 0) {
                    sent.flush(em);
                    return false;
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                sent.flush(em);
                em.error("write", errno_name(&e), None);
                return true;
            }
        }
        if let Some(done) = await_writable(fd, stop, em, sent) {
            return done;
        }
    }
}

/// After a write would block: waits until the socket is writable (flushing
/// the `sent` count meanwhile). `Some(false)` when stopped, `Some(true)` on
/// an error (reported), `None` to go on writing.
fn await_writable(
    fd: BorrowedFd<'_>,
    stop: &StopFd,
    em: &Emitter,
    sent: &mut Counter,
) -> Option<bool> {
    let timeout = if sent.pending() {
        COALESCE.as_millis() as i32
    } else {
        -1
    };
    match wait(fd, PollFlags::POLLOUT, stop, timeout) {
        Ok(Ready::Stop) => {
            sent.flush(em);
            Some(false)
        }
        Ok(Ready::Timeout) => {
            sent.flush(em);
            None
        }
        Ok(Ready::Socket) => None,
        Err(e) => {
            sent.flush(em);
            em.error("write", errno_name(&e), Some("poll".into()));
            Some(true)
        }
    }
}

/// `send N close`'s FIN, queued the moment the write returned: the close
/// itself waits for the reader and writer threads to end, which takes
/// milliseconds on a slow machine (a guest under emulation), longer than a
/// tail loss probe's timeout (x-tlp-flight). shutdown(SHUT_WR) sends the FIN
/// the close would send, so the close then sends nothing more. Not when
/// received data is unread: then the close resets the connection instead
/// (tcp_close), and a FIN first would change what the wire shows.
fn queue_fin(sock: &Socket) {
    let mut unread: libc::c_int = 0;
    // SAFETY: FIONREAD on a TCP socket writes one int, the bytes unread.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::FIONREAD, &mut unread) };
    if rc == 0 && unread == 0 {
        let _ = sock.shutdown(std::net::Shutdown::Write);
    }
}

/// The writer: runs `send N` and `stream` jobs in order.
fn writer(
    sock: Arc<Socket>,
    stop: Arc<StopFd>,
    em: Emitter,
    jobs: Receiver<Job>,
    ctl: Sender<Msg>,
) {
    // The writer may stream at full speed: it runs at normal priority so it
    // never starves the machine (the controller and reader stay at nice -10).
    // SAFETY: setpriority(2) on this thread (a tid is a valid PRIO_PROCESS who).
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 0);
    }
    let fd = sock.as_fd();
    let mut sent = Counter::new(EventKind::Sent);
    while let Ok(job) = jobs.recv() {
        let go_on = match job {
            Job::Send(n, then_close) => {
                let ok = write_bytes(fd, Some(n), None, &stop, &em, &mut sent);
                if ok && then_close {
                    queue_fin(&sock);
                }
                // `send N` always reports its completion.
                if ok && sent.reported != sent.total {
                    sent.flush(&em);
                }
                if ok && then_close {
                    let _ = ctl.send(Msg::WriterClose);
                    return;
                }
                ok
            }
            Job::Stream(rate) => write_bytes(fd, None, rate, &stop, &em, &mut sent),
        };
        if !go_on {
            return;
        }
    }
}

/// The open connection (or, for a server with `accept = false`, the
/// listener) and its helper threads.
struct Conn {
    sock: Arc<Socket>,
    stop: Arc<StopFd>,
    reader: Option<JoinHandle<()>>,
    /// The running reader's [`ReaderArgs::ended`].
    reader_ended: Arc<AtomicBool>,
    writer: Option<JoinHandle<()>>,
    jobs: Option<Sender<Job>>,
    /// What a reader started later (`read`) gets: the controller's sender, fin_on_eof, epoll.
    ctl: Sender<Msg>,
    fin_on_eof: bool,
    epoll: bool,
}

impl Conn {
    fn start(
        sock: Socket,
        cfg: &EndpointConfig,
        fin_on_eof: bool,
        em: &Emitter,
        ctl: &Sender<Msg>,
    ) -> Result<Conn> {
        let sock = Arc::new(sock);
        let stop = Arc::new(StopFd::new().context("eventfd")?);
        let (jobs, rx) = mpsc::channel();
        let (s, st, e, c) = (sock.clone(), stop.clone(), em.clone(), ctl.clone());
        let writer = std::thread::Builder::new()
            .name("writer".into())
            .spawn(move || writer(s, st, e, rx, c))?;
        let mut conn = Conn {
            sock,
            stop,
            reader: None,
            reader_ended: Arc::new(AtomicBool::new(true)),
            writer: Some(writer),
            jobs: Some(jobs),
            ctl: ctl.clone(),
            fin_on_eof,
            epoll: cfg.epoll,
        };
        if cfg.autoread {
            conn.read(em)?;
        }
        Ok(conn)
    }

    /// Starts a reader unless one is reading (one that ended at EOF or an
    /// error is replaced: the next read(2) shows what the socket says now).
    fn read(&mut self, em: &Emitter) -> io::Result<()> {
        if self.reader.is_some() && !self.reader_ended.load(Ordering::SeqCst) {
            return Ok(());
        }
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
        self.reader_ended = Arc::new(AtomicBool::new(false));
        let args = ReaderArgs {
            sock: self.sock.clone(),
            stop: self.stop.clone(),
            em: em.clone(),
            ctl: self.ctl.clone(),
            fin_on_eof: self.fin_on_eof,
            epoll: self.epoll,
            ended: self.reader_ended.clone(),
        };
        self.reader = Some(
            std::thread::Builder::new()
                .name("reader".into())
                .spawn(move || reader(args))?,
        );
        Ok(())
    }

    /// Stops and joins the threads, then closes the socket.
    fn close(mut self, em: &Emitter) {
        self.stop.signal();
        self.jobs.take();
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
        match Arc::try_unwrap(self.sock) {
            Ok(sock) => match close_reporting(OwnedFd::from(sock)) {
                Ok(()) => em.simple(EventKind::Closed, None),
                Err(e) => em.error("close", errno_name(&e), None),
            },
            Err(_) => em.error("close", "EBUSY".into(), Some("socket still shared".into())),
        }
    }
}

// ---------------------------------------------------------------- main

/// Enters the namespace file with setns(CLONE_NEWNET) on the calling thread.
fn enter_netns(path: &PathBuf) -> Result<()> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
        anyhow!(
            "setns {}: {}",
            path.display(),
            teardown_core::errno::name(e as i32)
        )
    })
}

/// `teardown endpoint --config JSON`.
/// `teardown endpoint --config JSON`: the built-in endpoint process.
pub fn endpoint_main(config: &str) -> Result<i32> {
    let cfg: EndpointConfig = serde_json::from_str(config)
        .map_err(|e| crate::error::bad_input(format!("endpoint config: {e}")))?;
    // First, while single-threaded: the namespace, the priority (both need
    // root), then the drop to the endpoint's account.
    if let Some(ns) = &cfg.netns {
        enter_netns(ns).map_err(|e| crate::error::unable(format!("{e:#}")))?;
    }
    ignore_sigpipe();
    raise_priority();
    if let Some(u) = &cfg.user {
        let account = crate::account::Account::lookup(u).map_err(crate::error::bad_input)?;
        crate::account::drop_to(&account)?;
    }
    run(cfg)
}

fn run(cfg: EndpointConfig) -> Result<i32> {
    let em = Emitter {
        source: cfg.name.as_str().into(),
        out: Arc::new(Mutex::new(io::stdout())),
    };
    let (ctl, inbox) = mpsc::channel::<Msg>();
    // Signalled after each stdin line: a connecting client waits on it and its socket.
    let arrived = Arc::new(StopFd::new().context("eventfd")?);
    read_stdin(ctl.clone(), arrived.clone())?;
    // Commands that arrive while a client connects, run once it is connected.
    let mut early = Vec::new();
    let inbox_while_connecting = Commands {
        inbox: &inbox,
        arrived: &arrived,
    };
    let conn_sock = match open(&cfg, &em, &inbox_while_connecting, &mut early) {
        Ok(Some(s)) => s,
        // `close` while connecting: nothing left but to wait for stdin EOF.
        Ok(None) => return Ok(control(&cfg, &em, None, &inbox)),
        Err(status) => return Ok(status),
    };
    em.simple(EventKind::Options, Some(read_options(&conn_sock)));

    // on_eof = close with no delay: the reader sends our FIN the moment it reads
    // EOF (shutdown(SHUT_WR), the same segment close() sends), without a hop
    // through the controller thread: the ACK can only ride on that FIN if it
    // leaves within the peer's delayed-ACK window (40 ms).
    let fin_on_eof = cfg.on_eof == OnEof::Close && cfg.on_eof_delay_ms.unwrap_or(0) == 0;
    let mut conn = Some(Conn::start(conn_sock, &cfg, fin_on_eof, &em, &ctl)?);
    for line in early {
        command(&line, &mut conn, &em);
    }
    Ok(control(&cfg, &em, conn, &inbox))
}

/// The stdin thread: each line to the controller; stdin EOF ends the process.
fn read_stdin(ctl: Sender<Msg>, arrived: Arc<StopFd>) -> Result<()> {
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            for line in io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if ctl.send(Msg::Line(line)).is_err() {
                    break;
                }
                arrived.signal();
            }
            // Stdin EOF ends the process; the kernel closes what is open.
            std::process::exit(0);
        })?;
    Ok(())
}

/// The connected socket: accepted (server) or connected (client), options
/// set (a server with `accept = false`: its listener); `None` when the client
/// was told to `close` while connecting; or the exit status after the error event.
fn open(
    cfg: &EndpointConfig,
    em: &Emitter,
    inbox: &Commands<'_>,
    early: &mut Vec<String>,
) -> std::result::Result<Option<Socket>, i32> {
    let domain = Domain::for_address(cfg.addr);
    let sock = match Socket::new(domain, Type::STREAM, None) {
        Ok(s) => s,
        Err(e) => {
            em.error("socket", errno_name(&e), None);
            return Err(3);
        }
    };
    let listener = cfg.role == Role::Server;
    if let Err((opt, e)) = apply_options(&sock, &cfg.options, listener) {
        em.error("setsockopt", errno_name(&e), Some(opt.into()));
        return Err(3);
    }
    match cfg.role {
        Role::Server => accept_one(cfg, em, sock).map(Some),
        Role::Client => {
            let Some(sock) = connect(cfg, em, sock, inbox, early)? else {
                return Ok(None);
            };
            let local = sock
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .map(|a| a.to_string())
                .unwrap_or_default();
            em.simple(EventKind::Connected, Some(local));
            Ok(Some(sock))
        }
    }
}

/// The commands stdin delivers, and the eventfd signalled after each.
struct Commands<'a> {
    inbox: &'a Receiver<Msg>,
    arrived: &'a StopFd,
}

/// A non-blocking connect watched by poll() together with the commands'
/// eventfd, giving up after [`CONNECT_TIMEOUT`]; meanwhile a `close` command
/// closes the socket in SYN_SENT (`closed`, detail `connecting`; `None`),
/// other commands wait in `early`. Errors: `error` op=connect and exit status 1.
fn connect(
    cfg: &EndpointConfig,
    em: &Emitter,
    sock: Socket,
    commands: &Commands<'_>,
    early: &mut Vec<String>,
) -> std::result::Result<Option<Socket>, i32> {
    let fail = |e: &io::Error| {
        em.error("connect", errno_name(e), Some(cfg.addr.to_string()));
        1
    };
    sock.set_nonblocking(true).map_err(|e| fail(&e))?;
    match sock.connect(&SockAddr::from(cfg.addr)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            let deadline = Instant::now() + CONNECT_TIMEOUT;
            loop {
                commands.arrived.clear();
                while let Ok(msg) = commands.inbox.try_recv() {
                    let Msg::Line(line) = msg else { continue };
                    if line.split_whitespace().eq(["close"]) {
                        match close_reporting(OwnedFd::from(sock)) {
                            Ok(()) => em.simple(EventKind::Closed, Some("connecting".into())),
                            Err(e) => em.error("close", errno_name(&e), Some("connecting".into())),
                        }
                        return Ok(None);
                    }
                    early.push(line);
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(fail(&io::ErrorKind::TimedOut.into()));
                }
                // The socket writable (connected or failed), a command, or the deadline.
                let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                match wait(sock.as_fd(), PollFlags::POLLOUT, commands.arrived, ms) {
                    Ok(Ready::Socket) => break,
                    Ok(Ready::Stop | Ready::Timeout) => continue,
                    Err(e) => return Err(fail(&e)),
                }
            }
            match sock.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => return Err(fail(&e)),
            }
        }
        Err(e) => return Err(fail(&e)),
    }
    sock.set_nonblocking(false).map_err(|e| fail(&e))?;
    Ok(Some(sock))
}

/// connect(2) with an AF_UNSPEC address: the kernel's tcp_disconnect (an RST
/// when tcp_need_reset says so), leaving the socket CLOSED and reusable.
fn disconnect(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: a zeroed sockaddr is a valid AF_UNSPEC (0) address of its own size.
    let rc = unsafe {
        let addr: libc::sockaddr = std::mem::zeroed();
        libc::connect(
            fd.as_raw_fd(),
            &addr,
            std::mem::size_of::<libc::sockaddr>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Binds, listens, accepts one connection, closes the listener.
fn accept_one(
    cfg: &EndpointConfig,
    em: &Emitter,
    sock: Socket,
) -> std::result::Result<Socket, i32> {
    if let Err(e) = sock.bind(&SockAddr::from(cfg.addr)) {
        em.error("bind", errno_name(&e), Some(cfg.addr.to_string()));
        return Err(3);
    }
    if let Err(e) = sock.listen(16) {
        em.error("listen", errno_name(&e), None);
        return Err(3);
    }
    em.simple(EventKind::Listening, Some(cfg.addr.to_string()));
    if !cfg.accept {
        // The handshakes complete into the accept queue; `close` closes the listener.
        return Ok(sock);
    }
    let (c, peer) = match sock.accept() {
        Ok(x) => x,
        Err(e) => {
            em.error("accept", errno_name(&e), None);
            return Err(1);
        }
    };
    drop(sock);
    let peer = peer.as_socket().map(|a| a.to_string()).unwrap_or_default();
    // Options first: a step that waits for `accepted` and then makes the
    // peer send finds them in force.
    if let Err((opt, e)) = apply_options(&c, &cfg.options, false) {
        em.error("setsockopt", errno_name(&e), Some(opt.into()));
        return Err(3);
    }
    em.simple(EventKind::Accepted, Some(peer));
    Ok(c)
}

/// The controller: stdin commands and the peer's EOF (with `on_eof`), until
/// stdin closes. Returns the exit status.
fn control(
    cfg: &EndpointConfig,
    em: &Emitter,
    mut conn: Option<Conn>,
    inbox: &Receiver<Msg>,
) -> i32 {
    let mut close_at: Option<Instant> = None;
    loop {
        let msg = match close_at {
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                match inbox.recv_timeout(left) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return 0,
                }
            }
            None => match inbox.recv() {
                Ok(m) => Some(m),
                Err(_) => return 0,
            },
        };
        let Some(msg) = msg else {
            // on_eof's delay has passed.
            close_at = None;
            if let Some(c) = conn.take() {
                c.close(em);
            }
            continue;
        };
        match msg {
            Msg::PeerEof => {
                if cfg.on_eof == OnEof::Close {
                    match cfg.on_eof_delay_ms.unwrap_or(0) {
                        0 => {
                            if let Some(c) = conn.take() {
                                c.close(em);
                            }
                        }
                        ms => close_at = Some(Instant::now() + Duration::from_millis(ms)),
                    }
                }
            }
            Msg::WriterClose => {
                if let Some(c) = conn.take() {
                    c.close(em);
                }
            }
            Msg::Line(line) => command(&line, &mut conn, em),
        }
    }
}

/// Runs one stdin command.
fn command(line: &str, conn: &mut Option<Conn>, em: &Emitter) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some(&verb) = words.first() else { return };
    let not_open = |op: &str| em.error(op, "EBADF".into(), Some("no open connection".into()));
    match (verb, words.get(1)) {
        ("send", Some(n)) => match (n.parse::<u64>(), words.get(2)) {
            (Ok(n), then @ (None | Some(&"close"))) => {
                match conn.as_ref().and_then(|c| c.jobs.as_ref()) {
                    Some(j) => {
                        let _ = j.send(Job::Send(n, then.is_some()));
                    }
                    None => not_open("write"),
                }
            }
            _ => em.simple(EventKind::BadCommand, Some(line.to_string())),
        },
        ("stream", rate) => {
            let rate = match rate.map(|r| r.parse::<u64>()) {
                None => None,
                Some(Ok(r)) if r > 0 => Some(r),
                Some(_) => {
                    em.simple(EventKind::BadCommand, Some(line.to_string()));
                    return;
                }
            };
            match conn.as_ref().and_then(|c| c.jobs.as_ref()) {
                Some(j) => {
                    let _ = j.send(Job::Stream(rate));
                }
                None => not_open("write"),
            }
        }
        ("read", None) => match conn.as_mut() {
            Some(c) => {
                if let Err(e) = c.read(em) {
                    em.error("read", errno_name(&e), Some("starting the reader".into()));
                }
            }
            None => not_open("read"),
        },
        ("disconnect", None) => match conn.as_ref() {
            Some(c) => match disconnect(c.sock.as_fd()) {
                Ok(()) => em.simple(EventKind::Disconnected, None),
                Err(e) => em.error("disconnect", errno_name(&e), None),
            },
            None => not_open("disconnect"),
        },
        ("close", None) => match conn.take() {
            Some(c) => c.close(em),
            None => not_open("close"),
        },
        ("shutdown", Some(how)) => {
            let h = match *how {
                "wr" => Shutdown::Write,
                "rd" => Shutdown::Read,
                "rdwr" => Shutdown::Both,
                _ => {
                    em.simple(EventKind::BadCommand, Some(line.to_string()));
                    return;
                }
            };
            match conn.as_ref() {
                Some(c) => match c.sock.shutdown(h) {
                    Ok(()) => em.simple(EventKind::Shutdown, Some(how.to_string())),
                    Err(e) => em.error("shutdown", errno_name(&e), Some(how.to_string())),
                },
                None => not_open("shutdown"),
            }
        }
        _ => em.simple(EventKind::BadCommand, Some(line.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teardown_core::scenario::Dur;

    #[test]
    fn config_round_trips_through_json() {
        let cfg = EndpointConfig {
            name: "client".into(),
            role: Role::Client,
            addr: "[fd00:7d::2]:8080".parse().unwrap(),
            options: SocketOptions {
                keepalive: Some(true),
                keepidle: Some(Dur(Duration::from_secs(2))),
                user_timeout: Some(Dur(Duration::from_millis(1500))),
                linger: Some(Dur(Duration::ZERO)),
                rto_max: Some(Dur(Duration::from_micros(1_000_500))),
                ..SocketOptions::default()
            },
            autoread: false,
            on_eof: OnEof::Close,
            on_eof_delay_ms: Some(300),
            netns: Some("/run/netns/td-x".into()),
            user: Some("nobody".into()),
            accept: false,
            epoll: true,
        };
        let json = cfg.to_json();
        let back: EndpointConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cfg, "{json}");
    }

    #[test]
    fn config_defaults() {
        let cfg: EndpointConfig =
            serde_json::from_str(r#"{"name":"s","role":"server","addr":"198.18.0.2:8080"}"#)
                .unwrap();
        assert!(cfg.autoread && cfg.accept && !cfg.epoll);
        assert_eq!(cfg.on_eof, OnEof::None);
        assert_eq!(cfg.options, SocketOptions::default());
        assert!(serde_json::from_str::<EndpointConfig>(
            r#"{"name":"s","role":"server","addr":"198.18.0.2:8080","bogus":1}"#
        )
        .is_err());
    }

    #[test]
    fn epoll_flags_are_named_in_order() {
        let f = EpollFlags::EPOLLHUP | EpollFlags::EPOLLIN | EpollFlags::EPOLLERR;
        assert_eq!(epoll_flag_names(f), "EPOLLIN|EPOLLERR|EPOLLHUP");
        assert_eq!(epoll_flag_names(EpollFlags::empty()), "");
    }

    #[test]
    fn timeout_without_errno_is_etimedout() {
        let e: io::Error = io::ErrorKind::TimedOut.into();
        assert_eq!(errno_name(&e), "ETIMEDOUT");
        assert_eq!(
            errno_name(&io::Error::from_raw_os_error(libc::ECONNREFUSED)),
            "ECONNREFUSED"
        );
    }
}
