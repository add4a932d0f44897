//! tc attach / detach over rtnetlink, seen from real TCP traffic between two
//! throw-away namespaces joined by a veth pair (root).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};
use teardown_core::evidence::TcpFlags;
use teardown_lab::bpf::DropRule;
use teardown_lab::netns::NetNs;
use teardown_lab::tc;

/// Two namespaces `a` (198.18.200.1, td-va) and `b` (198.18.200.2, td-vb)
/// joined by a veth pair; deleted on drop, also when a test fails.
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
    ip(&["-n", a, "addr", "add", "198.18.200.1/24", "dev", "td-va"]);
    ip(&["-n", b, "addr", "add", "198.18.200.2/24", "dev", "td-vb"]);
    for (ns, dev) in [(a, "td-va"), (b, "td-vb"), (a, "lo"), (b, "lo")] {
        ip(&["-n", ns, "link", "set", dev, "up"]);
    }
    p
}

const SERVER: &str = "198.18.200.2:7000";

fn listen(p: &Pair) -> TcpListener {
    p.b.run(|| Ok(TcpListener::bind(SERVER)?)).unwrap()
}

fn connect(p: &Pair, timeout: Duration) -> std::io::Result<TcpStream> {
    let addr: SocketAddr = SERVER.parse().unwrap();
    p.a.run(move || Ok(TcpStream::connect_timeout(&addr, timeout)))
        .unwrap()
}

fn vb_index(p: &Pair) -> u32 {
    p.b.run(|| tc::ifindex("td-vb")).unwrap()
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn drop_all_cuts_and_detach_restores() {
    teardown_lab::require_privileged();
    let p = pair("tca");
    let listener = listen(&p);
    let vb = vb_index(&p);
    // Detaching where nothing is attached is fine.
    p.b.run(|| tc::detach_all(vb)).unwrap();

    connect(&p, Duration::from_secs(2)).expect("baseline connect");
    listener.accept().unwrap();

    p.b.run(|| tc::attach_drop(vb, &DropRule::All)).unwrap();
    // Attaching twice stacks a second filter on the same clsact.
    p.b.run(|| tc::attach_drop(vb, &DropRule::All)).unwrap();
    if let Ok(out) = Command::new("tc")
        .args([
            "-n",
            p.b.name(),
            "filter",
            "show",
            "dev",
            "td-vb",
            "ingress",
        ])
        .output()
    {
        // Cross-check with iproute2 when it is installed.
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.matches("td_drop_all direct-action").count(),
            2,
            "{text}"
        );
        assert!(text.contains("protocol all"), "{text}");
    }
    let e = connect(&p, Duration::from_millis(700)).expect_err("connect through a cut");
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");

    p.b.run(|| tc::detach_all(vb)).unwrap();
    connect(&p, Duration::from_secs(2)).expect("connect after detach");
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn fin_drop_keeps_the_peer_waiting_for_eof() {
    teardown_lab::require_privileged();
    let p = pair("tcf");
    let listener = listen(&p);
    let vb = vb_index(&p);
    let mut client = connect(&p, Duration::from_secs(2)).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();

    p.b.run(|| {
        tc::attach_drop(
            vb,
            &DropRule::TcpFlags {
                any_of: TcpFlags::FIN as u8,
            },
        )
    })
    .unwrap();
    // Data still flows through a FIN-only drop.
    client.write_all(b"hi").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(server.read(&mut buf).unwrap(), 2);
    // The client's FIN never arrives: no EOF.
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let e = server.read(&mut buf).expect_err("EOF through a FIN drop");
    assert!(
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{e}"
    );

    // Detach: the FIN's next retransmission (RTO backoff, under ~2 s) gets through.
    p.b.run(|| tc::detach_all(vb)).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let t = Instant::now();
    assert_eq!(server.read(&mut buf).unwrap(), 0, "EOF after detach");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn probes_leave_nothing_behind() {
    teardown_lab::require_privileged();
    let before: Vec<String> = teardown_lab::netns::list()
        .into_iter()
        .filter(|n| n.starts_with("td-probe-"))
        .collect();
    assert!(tc::has_clsact_bpf(), "{:?}", tc::check_clsact_bpf());
    // This kernel has no sch_netem, Ubuntu's has: only check it answers and
    // agrees with the kernel config when that is readable.
    let netem = tc::has_netem();
    if let Err(e) = tc::check_netem() {
        assert!(
            e.to_string().contains("ENOENT"),
            "netem probe failed oddly: {e}"
        );
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    if let Ok(cfg) = std::fs::read_to_string(format!("/boot/config-{}", release.trim())) {
        if cfg.contains("# CONFIG_NET_SCH_NETEM is not set") {
            assert!(!netem);
        }
    }
    let after: Vec<String> = teardown_lab::netns::list()
        .into_iter()
        .filter(|n| n.starts_with("td-probe-"))
        .collect();
    assert_eq!(before, after);
}
