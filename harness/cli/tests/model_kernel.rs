//! The model against the kernel: a connection between two throw-away
//! namespaces, the wire cut with a drop-all filter on the receiver's ingress,
//! and the time the sender's blocked read fails with ETIMEDOUT compared with
//! the model's window (root; each test takes a few seconds).

use nix::sys::socket::{setsockopt, sockopt};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};
use teardown_core::model;
use teardown_lab::bpf::DropRule;
use teardown_lab::netns::NetNs;
use teardown_lab::tc;

/// How late the application may see an error after the kernel decides.
const WAKEUP: Duration = Duration::from_millis(50);

struct Pair {
    a: NetNs,
    b: NetNs,
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = self.a.delete();
        let _ = self.b.delete();
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pair(tag: &str) -> Pair {
    let pid = std::process::id();
    let p = Pair {
        a: NetNs::create(&format!("td-ut-{tag}a-{pid}")).unwrap(),
        b: NetNs::create(&format!("td-ut-{tag}b-{pid}")).unwrap(),
    };
    let (a, b) = (p.a.name(), p.b.name());
    ip(&[
        "-n", a, "link", "add", "td-va", "type", "veth", "peer", "name", "td-vb", "netns", b,
    ]);
    ip(&["-n", a, "addr", "add", "198.18.201.1/24", "dev", "td-va"]);
    ip(&["-n", b, "addr", "add", "198.18.201.2/24", "dev", "td-vb"]);
    for (ns, dev) in [(a, "td-va"), (b, "td-vb"), (a, "lo"), (b, "lo")] {
        ip(&["-n", ns, "link", "set", dev, "up"]);
    }
    p
}

/// Connects a -> b, returns (client, server, client-side tcpi_rto).
fn connected(p: &Pair, retries2: u32) -> (TcpStream, TcpStream, Duration) {
    let listener =
        p.b.run(|| Ok(TcpListener::bind("198.18.201.2:7001")?))
            .unwrap();
    let client =
        p.a.run(move || {
            std::fs::write("/proc/sys/net/ipv4/tcp_retries2", retries2.to_string()).unwrap();
            let addr: SocketAddr = "198.18.201.2:7001".parse().unwrap();
            Ok(TcpStream::connect_timeout(&addr, Duration::from_secs(2))?)
        })
        .unwrap();
    let (mut server, _) = listener.accept().unwrap();
    // One exchange so the client has an RTT sample, as a real connection would.
    let mut c = client.try_clone().unwrap();
    c.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).unwrap();
    server.write_all(b"pong").unwrap();
    c.read_exact(&mut buf).unwrap();
    let rto = tcpi_rto(&client);
    (client, server, rto)
}

fn tcpi_rto(s: &TcpStream) -> Duration {
    // SAFETY: tcp_info is plain old data; all zeroes is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: info and len are valid for getsockopt(TCP_INFO).
    let r = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            &mut info as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    assert_eq!(r, 0);
    Duration::from_micros(info.tcpi_rto as u64)
}

fn cut(p: &Pair) {
    let vb = p.b.run(|| tc::ifindex("td-vb")).unwrap();
    p.b.run(|| tc::attach_drop(vb, &DropRule::All)).unwrap();
}

/// Sends into the cut and returns how long until the blocked read fails.
fn time_to_death(mut client: TcpStream) -> (Duration, std::io::Error) {
    let t0 = Instant::now();
    client.write_all(b"into the void").unwrap();
    let mut buf = [0u8; 16];
    let e = client
        .read(&mut buf)
        .expect_err("read on a dead path must fail");
    (t0.elapsed(), e)
}

fn assert_in(what: &str, t: Duration, w: model::Window) {
    eprintln!("{what}: measured {t:?}, model window {w:?}");
    assert!(
        w.earliest <= t && t <= w.latest + WAKEUP,
        "{what}: measured {t:?}, model window {w:?} (+{WAKEUP:?} wake-up)"
    );
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn retries2_3_dies_when_the_model_says() {
    teardown_lab::require_privileged();
    let p = pair("mr");
    let (client, _server, rto) = connected(&p, 3);
    cut(&p);
    let (t, e) = time_to_death(client);
    assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT), "{e}");
    let d = model::dead_path(&model::Retrans {
        retries2: 3,
        rto,
        ..Default::default()
    });
    assert_in("retries2=3", t, d.death_window());
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn user_timeout_dies_at_first_retransmission_plus_uto() {
    teardown_lab::require_privileged();
    let p = pair("mu");
    let (client, _server, rto) = connected(&p, 15);
    setsockopt(&client, sockopt::TcpUserTimeout, &1500).unwrap();
    cut(&p);
    let (t, e) = time_to_death(client);
    assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT), "{e}");
    let d = model::dead_path(&model::Retrans {
        rto,
        user_timeout: Some(Duration::from_millis(1500)),
        ..Default::default()
    });
    assert_in("TCP_USER_TIMEOUT=1500", t, d.death_window());
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn keepalive_dies_at_idle_plus_cnt_intervals() {
    teardown_lab::require_privileged();
    let p = pair("mk");
    let (client, _server, _) = connected(&p, 15);
    // The last segment the client received is the "pong": time zero.
    let t0 = Instant::now();
    setsockopt(&client, sockopt::KeepAlive, &true).unwrap();
    setsockopt(&client, sockopt::TcpKeepIdle, &1).unwrap();
    setsockopt(&client, sockopt::TcpKeepInterval, &1).unwrap();
    setsockopt(&client, sockopt::TcpKeepCount, &2).unwrap();
    cut(&p);
    let mut c = client;
    let mut buf = [0u8; 16];
    let e = c.read(&mut buf).expect_err("keepalive must kill it");
    let t = t0.elapsed();
    assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT), "{e}");
    let k = model::keepalive(&model::Keepalive {
        idle: Duration::from_secs(1),
        intvl: Duration::from_secs(1),
        cnt: 2,
        user_timeout: None,
    });
    assert_eq!(k.death, Duration::from_secs(3));
    assert_in("keepalive 1,1,2", t, k.death_window());
}
