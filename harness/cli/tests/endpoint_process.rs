//! The built-in endpoint as a real process (`teardown endpoint --config JSON`):
//! client and server in one fresh namespace over loopback, driven through
//! stdin, observed through their event lines. Privileged: each test skips
//! without root (and fails under CI=true).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};
use teardown_core::evidence::Event;
use teardown_core::scenario::{Dur, EventKind, Host, OnEof, SocketOptions, TcpState};
use teardown_lab::endpoint::{EndpointConfig, Role};
use teardown_lab::netns::NetNs;

/// A namespace with `lo` up, deleted on drop (also when an assertion fails).
struct TestNs(NetNs);

impl TestNs {
    fn new(tag: &str) -> TestNs {
        let ns = NetNs::create(&format!("td-ut-ep-{tag}-{}", std::process::id())).unwrap();
        let guard = TestNs(ns);
        let ok = Command::new("ip")
            .args(["-n", guard.0.name(), "link", "set", "lo", "up"])
            .status()
            .unwrap()
            .success();
        assert!(ok, "ip link set lo up");
        guard
    }

    fn config(&self, name: &str, role: Role, addr: &str) -> EndpointConfig {
        EndpointConfig {
            name: name.into(),
            role,
            addr: addr.parse().unwrap(),
            options: SocketOptions::default(),
            autoread: true,
            on_eof: OnEof::None,
            on_eof_delay_ms: None,
            netns: Some(self.0.path().to_path_buf()),
            user: None,
            accept: true,
            epoll: false,
        }
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = self.0.delete();
    }
}

/// A running endpoint process; killed on drop.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    events: Receiver<Event>,
    seen: Vec<Event>,
}

impl Proc {
    fn start(cfg: &EndpointConfig) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_teardown"))
            .args(["endpoint", "--config", &cfg.to_json()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let ev: Event = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("bad event line `{line}`: {e}"));
                if tx.send(ev).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Proc {
            child,
            stdin,
            events,
            seen: Vec::new(),
        }
    }

    fn cmd(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// The first not yet consumed event that satisfies `ok`, within 5 s.
    fn wait(&mut self, what: &str, ok: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(ev) => {
                    self.seen.push(ev.clone());
                    if ok(&ev) {
                        return ev;
                    }
                }
                Err(_) => panic!("no {what} event; saw {:#?}", self.seen),
            }
        }
    }

    fn wait_kind(&mut self, kind: &str) -> Event {
        let k = EventKind::parse(kind).unwrap();
        self.wait(kind, |e| e.kind == k)
    }

    /// Collects what arrives during `d`.
    fn drain_for(&mut self, d: Duration) -> Vec<Event> {
        let deadline = Instant::now() + d;
        let mut got = Vec::new();
        while let Ok(ev) = self
            .events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(ev.clone());
            got.push(ev);
        }
        got
    }

    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("endpoint did not exit");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server (listening) and a connected client.
fn connect(ns: &TestNs, server: EndpointConfig, client: EndpointConfig) -> (Proc, Proc) {
    let mut s = Proc::start(&server);
    s.wait_kind("listening");
    let mut c = Proc::start(&client);
    c.wait_kind("connected");
    s.wait_kind("accepted");
    let _ = ns;
    (s, c)
}

fn pair(ns: &TestNs, ip: &str) -> (EndpointConfig, EndpointConfig) {
    let addr = format!("{ip}:8080");
    (
        ns.config("server", Role::Server, &addr),
        ns.config("client", Role::Client, &addr),
    )
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn send_receive_and_close_gives_peer_eof() {
    teardown_lab::require_privileged();
    for (tag, ip) in [("v4", "127.0.0.1"), ("v6", "[::1]")] {
        let ns = TestNs::new(&format!("srv{tag}"));
        let (scfg, ccfg) = pair(&ns, ip);
        let (mut s, mut c) = connect(&ns, scfg, ccfg);
        let accepted = s
            .seen
            .iter()
            .find(|e| e.kind == EventKind::Accepted)
            .unwrap()
            .clone();
        let connected = c
            .seen
            .iter()
            .find(|e| e.kind == EventKind::Connected)
            .unwrap()
            .clone();
        assert_eq!(
            accepted.detail, connected.detail,
            "the server's peer is the client's local address"
        );
        c.cmd("send 1000");
        assert_eq!(c.wait_kind("sent").bytes, Some(1000));
        s.wait("received 1000", |e| {
            e.kind == EventKind::Received && e.bytes == Some(1000)
        });
        c.cmd("close");
        c.wait_kind("closed");
        let eof = s.wait("eof or error", |e| {
            e.kind == EventKind::Eof || e.kind == EventKind::Error
        });
        assert_eq!(eof.kind, EventKind::Eof, "{:#?}", s.seen);
        // Stdin EOF ends the process with status 0.
        drop(c.stdin.take());
        assert_eq!(c.exit_code(), Some(0));
    }
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn send_then_close_closes_once_the_write_returned() {
    teardown_lab::require_privileged();
    let ns = TestNs::new("sendclose");
    let (scfg, ccfg) = pair(&ns, "127.0.0.1");
    let (mut s, mut c) = connect(&ns, scfg, ccfg);
    // Written by the endpoint itself, then closed: every byte reaches the
    // peer before its EOF, and `closed` follows the final `sent`.
    c.cmd("send 200000 close");
    let sent = c.wait("sent 200000", |e| {
        e.kind == EventKind::Sent && e.bytes == Some(200000)
    });
    let closed = c.wait_kind("closed");
    assert!(closed.ts_ns >= sent.ts_ns);
    s.wait("received 200000", |e| {
        e.kind == EventKind::Received && e.bytes == Some(200000)
    });
    s.wait_kind("eof");
    // A third word that is not `close` is a bad command, not a send.
    c.cmd("send 10 later");
    c.wait_kind("bad_command");
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn server_on_eof_close_gives_client_eof() {
    teardown_lab::require_privileged();
    let ns = TestNs::new("oneof");
    let (mut scfg, ccfg) = pair(&ns, "127.0.0.1");
    scfg.on_eof = OnEof::Close;
    let (mut s, mut c) = connect(&ns, scfg, ccfg);
    c.cmd("shutdown wr");
    assert_eq!(c.wait_kind("shutdown").detail.as_deref(), Some("wr"));
    let eof = s.wait_kind("eof");
    let closed = s.wait_kind("closed");
    assert!(closed.ts_ns >= eof.ts_ns);
    assert!(
        closed.ts_ns - eof.ts_ns < 40_000_000,
        "on_eof=close without delay closes within the delayed-ACK window"
    );
    // The server's FIN leaves the moment it reads EOF, so the client may see
    // its EOF before its own `shutdown` event was consumed above.
    if !c.seen.iter().any(|e| e.kind == EventKind::Eof) {
        c.wait_kind("eof");
    }
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn on_eof_delay_waits_before_closing() {
    teardown_lab::require_privileged();
    let ns = TestNs::new("delay");
    let (mut scfg, ccfg) = pair(&ns, "127.0.0.1");
    scfg.on_eof = OnEof::Close;
    scfg.on_eof_delay_ms = Some(300);
    let (mut s, mut c) = connect(&ns, scfg, ccfg);
    c.cmd("shutdown wr");
    let eof = s.wait_kind("eof");
    let closed = s.wait_kind("closed");
    let gap_ms = (closed.ts_ns - eof.ts_ns) / 1_000_000;
    assert!(
        (300..1000).contains(&gap_ms),
        "closed {gap_ms} ms after eof"
    );
    c.wait_kind("eof");
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn linger_zero_close_resets_the_peer() {
    teardown_lab::require_privileged();
    let ns = TestNs::new("linger");
    let (scfg, mut ccfg) = pair(&ns, "127.0.0.1");
    ccfg.options.linger = Some(Dur(Duration::ZERO));
    let (mut s, mut c) = connect(&ns, scfg, ccfg);
    c.cmd("close");
    c.wait_kind("closed");
    let e = s.wait("eof or error", |e| {
        e.kind == EventKind::Eof || e.kind == EventKind::Error
    });
    assert_eq!(e.kind, EventKind::Error, "{:#?}", s.seen);
    assert_eq!(e.op.as_deref(), Some("read"));
    assert_eq!(e.errno.as_deref(), Some("ECONNRESET"));
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn close_with_unread_data_resets_the_peer() {
    teardown_lab::require_privileged();
    let ns = TestNs::new("unread");
    let (mut scfg, ccfg) = pair(&ns, "127.0.0.1");
    scfg.autoread = false;
    let (mut s, mut c) = connect(&ns, scfg, ccfg);
    c.cmd("send 100");
    c.wait_kind("sent");
    // Loopback delivers at once; give the kernel a moment anyway.
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !s.seen.iter().any(|e| e.kind == EventKind::Received),
        "autoread=false never reads"
    );
    s.cmd("close");
    s.wait_kind("closed");
    let e = c.wait("eof or error", |e| {
        e.kind == EventKind::Eof || e.kind == EventKind::Error
    });
    assert_eq!(e.kind, EventKind::Error, "{:#?}", c.seen);
    assert_eq!(e.errno.as_deref(), Some("ECONNRESET"));
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn sigkill_of_the_client_gives_the_server_eof() {
    teardown_lab::require_privileged();
    let ns = TestNs::new("kill");
    let (scfg, ccfg) = pair(&ns, "127.0.0.1");
    let (mut s, mut c) = connect(&ns, scfg, ccfg);
    c.child.kill().unwrap(); // SIGKILL
    c.child.wait().unwrap();
    let e = s.wait("eof or error", |e| {
        e.kind == EventKind::Eof || e.kind == EventKind::Error
    });
    assert_eq!(e.kind, EventKind::Eof, "{:#?}", s.seen);
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn socket_options_are_set_on_both_sockets() {
    teardown_lab::require_privileged();
    let ns = TestNs::new("opts");
    let (mut scfg, mut ccfg) = pair(&ns, "127.0.0.1");
    let opts = SocketOptions {
        keepalive: Some(true),
        keepidle: Some(Dur(Duration::from_secs(2))),
        keepintvl: Some(Dur(Duration::from_secs(1))),
        keepcnt: Some(3),
        user_timeout: Some(Dur(Duration::from_millis(1500))),
        linger: Some(Dur(Duration::from_secs(5))),
        nodelay: Some(true),
        rto_max: Some(Dur(Duration::from_secs(1))),
        ..SocketOptions::default()
    };
    ccfg.options = opts.clone();
    scfg.options = opts;
    let (mut s, mut c) = connect(&ns, scfg, ccfg);
    let want = "keepalive=true keepidle=2 keepintvl=1 keepcnt=3 user_timeout_ms=1500 linger=5 nodelay=true";
    let co = c.wait_kind("options").detail.unwrap();
    let so = s.wait_kind("options").detail.unwrap();
    for o in [&co, &so] {
        assert!(o.starts_with(want), "{o}");
        assert!(o.ends_with("rto_max_ms=1000"), "{o}");
    }
    assert!(
        so.contains("reuseaddr=true"),
        "a server sets SO_REUSEADDR by default: {so}"
    );
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn a_bad_option_is_reported_and_exits_3() {
    teardown_lab::require_privileged();
    let ns = TestNs::new("badopt");
    let (_, mut ccfg) = pair(&ns, "127.0.0.1");
    ccfg.options.keepcnt = Some(0); // TCP_KEEPCNT must be 1..127
    let mut c = Proc::start(&ccfg);
    let e = c.wait_kind("error");
    assert_eq!(e.op.as_deref(), Some("setsockopt"));
    assert_eq!(e.errno.as_deref(), Some("EINVAL"));
    assert_eq!(e.detail.as_deref(), Some("keepcnt"));
    assert_eq!(c.exit_code(), Some(3));
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn connect_to_nothing_is_refused() {
    teardown_lab::require_privileged();
    let ns = TestNs::new("refused");
    let (_, ccfg) = pair(&ns, "127.0.0.1");
    let mut c = Proc::start(&ccfg);
    let e = c.wait_kind("error");
    assert_eq!(e.op.as_deref(), Some("connect"));
    assert_eq!(e.errno.as_deref(), Some("ECONNREFUSED"));
    assert_eq!(c.exit_code(), Some(1));
}

/// A stream floods neither stdout nor the close: events are coalesced, and
/// close interrupts the writer at once.
#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn stream_is_coalesced_and_close_stops_it_at_once() {
    teardown_lab::require_privileged();
    let ns = TestNs::new("stream");
    let (scfg, ccfg) = pair(&ns, "127.0.0.1");
    let (mut s, mut c) = connect(&ns, scfg, ccfg);
    c.cmd("stream");
    let got = s.drain_for(Duration::from_millis(300));
    let received: Vec<&Event> = got
        .iter()
        .filter(|e| e.kind == EventKind::Received)
        .collect();
    assert!(received.len() >= 5, "{} received events", received.len());
    assert!(
        received.len() <= 300 / 10 + 3,
        "{} received events in 300 ms: not coalesced",
        received.len()
    );
    assert!(received.windows(2).all(|w| w[0].bytes < w[1].bytes));
    let asked = Instant::now();
    c.cmd("close");
    c.wait_kind("closed");
    assert!(asked.elapsed() < Duration::from_millis(500));
    let sent = c.seen.iter().rfind(|e| e.kind == EventKind::Sent).unwrap();
    let total = sent.bytes.unwrap();
    // The server reads everything, then EOF.
    s.wait_kind("eof");
    let last = s
        .seen
        .iter()
        .rfind(|e| e.kind == EventKind::Received)
        .unwrap();
    assert_eq!(
        last.bytes,
        Some(total),
        "the final received count is the sent total"
    );
}

/// The sampler watches the endpoints' connection end: the client closes
/// first and ends in TIME_WAIT, the server (on_eof = close) goes away.
#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn sampler_sees_the_endpoints_close() {
    use teardown_lab::sockdiag::{empty_round, state_path, transitions, Sampler, DEFAULT_PERIOD};
    // Through `start` (the brief's plain sink): an empty round is stamped in
    // the sink, right after its dump.
    teardown_lab::require_privileged();
    let ns = TestNs::new("samp");
    let (tx, rx) = mpsc::channel();
    // One namespace holds both ends: its samples are labelled as one host's.
    const LO: Host = Host::Client;
    let sampler = Sampler::start(&ns.0, LO, DEFAULT_PERIOD, move |round| {
        let _ = tx.send((teardown_lab::sys::now_ns(), round));
    })
    .unwrap();
    let (mut scfg, ccfg) = pair(&ns, "127.0.0.1");
    scfg.on_eof = OnEof::Close;
    let (mut s, mut c) = connect(&ns, scfg, ccfg);
    let client = c
        .seen
        .iter()
        .find(|e| e.kind == EventKind::Connected)
        .unwrap();
    let client_addr: SocketAddr = client.detail.as_deref().unwrap().parse().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    c.cmd("close");
    c.wait_kind("closed");
    s.wait_kind("closed");
    std::thread::sleep(Duration::from_millis(50));
    sampler.stop().unwrap();
    let mut flat = Vec::new();
    while let Ok((ts, round)) = rx.try_recv() {
        if round.is_empty() {
            flat.push(empty_round(ts, LO));
        }
        flat.extend(round);
    }
    let t = transitions(&flat);
    let server_addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let cpath = state_path(&t, LO, client_addr, server_addr);
    let spath = state_path(&t, LO, server_addr, client_addr);
    // A round may land between connect() and the SYN-ACK: SYN_SENT may come first.
    let after_handshake = cpath.iter().find(|s| **s != TcpState::SynSent);
    assert_eq!(after_handshake, Some(&TcpState::Established), "{t:#?}");
    assert_eq!(cpath.last(), Some(&TcpState::TimeWait), "{t:#?}");
    assert_eq!(spath.first(), Some(&TcpState::Established), "{t:#?}");
    // Gone: CLOSED, the connection has no socket left.
    assert_eq!(spath.last(), Some(&TcpState::Closed), "{t:#?}");
    // The listener went when the server accepted its one connection.
    let lpath = state_path(&t, LO, server_addr, "0.0.0.0:0".parse().unwrap());
    assert!(
        lpath.is_empty() || lpath.last() == Some(&TcpState::Closed),
        "{lpath:?}"
    );
}

/// A field of /proc/PID/status (`Uid`, `CapEff`, ...).
fn proc_status(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn a_builtin_endpoint_drops_to_its_user_with_no_capabilities() {
    teardown_lab::require_privileged();
    let nobody = teardown_lab::account::Account::lookup("nobody").unwrap();
    let ns = TestNs::new("user");
    let (mut scfg, mut ccfg) = pair(&ns, "127.0.0.1");
    scfg.user = Some("nobody".into());
    ccfg.user = Some("root".into());
    let (mut s, mut c) = connect(&ns, scfg, ccfg);
    // Once it listens it has dropped: every uid nobody's, nothing effective
    // or permitted, and no way back (no_new_privs).
    let uid = nobody.uid.to_string();
    assert_eq!(
        proc_status(s.child.id(), "Uid"),
        [uid.as_str(); 4].join("\t")
    );
    assert_eq!(proc_status(s.child.id(), "CapEff"), "0000000000000000");
    assert_eq!(proc_status(s.child.id(), "CapPrm"), "0000000000000000");
    assert_eq!(proc_status(s.child.id(), "NoNewPrivs"), "1");
    // It still does its work: receives what the client (root, as asked) sends.
    assert_eq!(proc_status(c.child.id(), "Uid"), "0\t0\t0\t0");
    c.cmd("send 100");
    s.wait("received 100", |e| {
        e.kind == EventKind::Received && e.bytes == Some(100)
    });
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn read_starts_a_reader_and_disconnect_resets_the_peer() {
    teardown_lab::require_privileged();
    for (tag, ip) in [("v4", "127.0.0.1"), ("v6", "[::1]")] {
        let ns = TestNs::new(&format!("rd{tag}"));
        let (scfg, mut ccfg) = pair(&ns, ip);
        ccfg.autoread = false;
        let (mut s, mut c) = connect(&ns, scfg, ccfg);
        s.cmd("send 100");
        s.wait_kind("sent");
        let early = c.drain_for(Duration::from_millis(200));
        assert!(
            early.iter().all(|e| e.kind != EventKind::Received),
            "autoread = false reads nothing: {early:?}"
        );
        c.cmd("read");
        assert_eq!(c.wait_kind("received").bytes, Some(100));
        c.cmd("disconnect");
        c.wait_kind("disconnected");
        let err = s.wait_kind("error");
        assert_eq!(err.errno.as_deref(), Some("ECONNRESET"), "{err:?}");
    }
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn a_server_that_does_not_accept_resets_its_queue_at_close() {
    teardown_lab::require_privileged();
    for (tag, ip) in [("v4", "127.0.0.1"), ("v6", "[::1]")] {
        let ns = TestNs::new(&format!("acc{tag}"));
        let (mut scfg, ccfg) = pair(&ns, ip);
        scfg.accept = false;
        let mut s = Proc::start(&scfg);
        s.wait_kind("listening");
        let mut c = Proc::start(&ccfg);
        c.wait_kind("connected");
        let quiet = s.drain_for(Duration::from_millis(100));
        assert!(
            quiet.iter().all(|e| e.kind != EventKind::Accepted),
            "{quiet:?}"
        );
        s.cmd("close");
        s.wait_kind("closed");
        let err = c.wait_kind("error");
        assert_eq!(err.errno.as_deref(), Some("ECONNRESET"), "{err:?}");
    }
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn an_epoll_reader_reports_the_reset_with_its_flags() {
    teardown_lab::require_privileged();
    for (tag, ip) in [("v4", "127.0.0.1"), ("v6", "[::1]")] {
        let ns = TestNs::new(&format!("ep{tag}"));
        let (mut scfg, mut ccfg) = pair(&ns, ip);
        scfg.options.linger = Some(Dur(Duration::ZERO));
        ccfg.epoll = true;
        let (mut s, mut c) = connect(&ns, scfg, ccfg);
        s.cmd("send 10");
        assert_eq!(c.wait_kind("received").bytes, Some(10));
        s.cmd("close");
        let err = c.wait_kind("error");
        assert_eq!(err.op.as_deref(), Some("epoll"), "{err:?}");
        assert_eq!(err.errno.as_deref(), Some("ECONNRESET"), "{err:?}");
        assert_eq!(
            err.detail.as_deref(),
            Some("EPOLLIN|EPOLLERR|EPOLLHUP|EPOLLRDHUP"),
            "{err:?}"
        );
    }
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn close_while_connecting_closes_in_syn_sent() {
    teardown_lab::require_privileged();
    let ns = TestNs::new("synsent");
    // A route over lo to addresses no one holds: the SYN loops back, the
    // namespace does not forward, no SYN-ACK comes; connect stays in SYN_SENT.
    let ok = Command::new("ip")
        .args([
            "-n",
            ns.0.name(),
            "route",
            "add",
            "198.18.77.0/24",
            "dev",
            "lo",
        ])
        .status()
        .unwrap()
        .success();
    assert!(ok, "ip route add");
    let mut c = Proc::start(&ns.config("client", Role::Client, "198.18.77.1:8080"));
    let early = c.drain_for(Duration::from_millis(200));
    assert!(
        early
            .iter()
            .all(|e| e.kind != EventKind::Connected && e.kind != EventKind::Error),
        "still connecting: {early:?}"
    );
    c.cmd("close");
    let closed = c.wait_kind("closed");
    assert_eq!(closed.detail.as_deref(), Some("connecting"));
    let after = c.drain_for(Duration::from_millis(100));
    assert!(after.is_empty(), "nothing after the close: {after:?}");
}
