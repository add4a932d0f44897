//! Privileged: the lab's topology carries TCP over IPv4 and IPv6, and goes away without a trace.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use teardown_core::scenario::Topology;
use teardown_lab::capture::{port_specs, write_pcapng, Capture};
use teardown_lab::record::Recorder;
use teardown_lab::topology::Lab;

fn unique(tag: &str) -> String {
    format!("t{}{}", tag, std::process::id() % 100000)
}

/// Connects client -> server over `addr` and echoes a few bytes.
fn exchange(lab: &Lab, addr: SocketAddr) {
    let listener = lab
        .server
        .run(move || Ok(TcpListener::bind(addr)?))
        .unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    });
    let mut c = lab
        .client
        .run(move || Ok(TcpStream::connect_timeout(&addr, Duration::from_secs(5))?))
        .unwrap();
    c.write_all(b"hello").unwrap();
    let mut back = [0u8; 5];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");
    server.join().unwrap();
}

fn check_topology(topology: Topology, tag: &str) {
    let id = unique(tag);
    let lab = Lab::up(&id, topology).expect("lab up");
    // Handed over ready: each host has joined its address's solicited-node
    // group (until then it ignores the peer's first neighbour solicitation, and
    // a SYN waits a second).
    for (ns, group) in lab.namespaces()[..2]
        .iter()
        .zip(["ff02::1:ff00:1", "ff02::1:ff00:2"])
    {
        let out = std::process::Command::new("ip")
            .args(["-n", ns.name(), "-6", "maddr", "show", "dev", "eth0"])
            .output()
            .expect("ip");
        assert!(out.status.success(), "ip -n {} failed", ns.name());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(group),
            "{} has not joined {group}:\n{text}",
            ns.name()
        );
    }
    // Every veth end keeps frames in order (TSO off, GRO on).
    let ends: Vec<(&teardown_lab::netns::NetNs, &str)> = match topology {
        Topology::Switched => vec![
            (lab.namespaces()[0], "eth0"),
            (lab.namespaces()[1], "eth0"),
            (lab.namespaces()[2], "c-port"),
            (lab.namespaces()[2], "s-port"),
        ],
        Topology::Direct => vec![(lab.namespaces()[0], "eth0"), (lab.namespaces()[1], "eth0")],
    };
    for (ns, dev) in ends {
        let in_order = ns
            .run(|| teardown_lab::topology::frames_kept_in_order(dev))
            .unwrap();
        assert!(in_order, "{dev} in {} may reorder frames", ns.name());
    }
    let recorder = Arc::new(Recorder::new());
    let capture = Capture::start(port_specs(&lab), recorder.clone()).expect("capture");
    exchange(&lab, "198.18.0.2:9000".parse().unwrap());
    exchange(&lab, "[fd00:7d::2]:9001".parse().unwrap());
    // Both handshakes are seen on both ports.
    for port in ["client-port", "server-port"] {
        for dport in [9000, 9001] {
            let seen = recorder.wait_for(Instant::now() + Duration::from_secs(2), |r| {
                ["S", "S.", "."].iter().all(|f| {
                    r.packets.iter().any(|p| {
                        p.port == port
                            && (p.dst.port() == dport || p.src.port() == dport)
                            && p.flags.tcpdump() == *f
                    })
                })
            });
            assert!(seen, "handshake to port {dport} not seen on {port}");
        }
    }
    let result = capture.stop();
    assert_eq!(result.ports, vec!["client-port", "server-port"]);
    assert!(
        result.drops.iter().all(|d| *d == 0),
        "capture drops: {:?}",
        result.drops
    );
    assert!(
        result.errors.is_empty(),
        "capture errors: {:?}",
        result.errors
    );
    let dir = std::env::temp_dir().join(format!("td-test-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("capture.pcapng");
    write_pcapng(&path, &result, &[(0, "test start".into())]).unwrap();
    let back = read_back(&path);
    let names: std::collections::BTreeSet<_> = back.iter().map(|p| p.port.clone()).collect();
    assert!(
        names.contains("client-port") && names.contains("server-port"),
        "{names:?}"
    );
    assert_eq!(
        back.iter().filter(|p| p.flags.tcpdump() == "S").count(),
        4,
        "two SYNs on each port"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let names: Vec<String> = lab
        .namespaces()
        .iter()
        .map(|n| n.name().to_string())
        .collect();
    lab.down().expect("lab down");
    for n in names {
        assert!(
            !std::path::Path::new("/run/netns").join(&n).exists(),
            "{n} left behind"
        );
    }
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn switched_lab_carries_tcp_v4_and_v6() {
    teardown_lab::require_privileged();
    check_topology(Topology::Switched, "s");
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn direct_lab_carries_tcp_v4_and_v6() {
    teardown_lab::require_privileged();
    check_topology(Topology::Direct, "d");
}

fn gone(names: &[String]) -> bool {
    names
        .iter()
        .all(|n| !std::path::Path::new("/run/netns").join(n).exists())
}

/// A lab takes itself down when dropped, with a process still running in
/// it; `down` is done once (a second call, and the drop after, do nothing);
/// `leave_up` keeps it.
#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn a_dropped_lab_takes_itself_down() {
    teardown_lab::require_privileged();
    let names = |lab: &Lab| -> Vec<String> {
        lab.namespaces()
            .iter()
            .map(|n| n.name().to_string())
            .collect()
    };
    let lab = Lab::up(&unique("x"), Topology::Switched).expect("lab up");
    let x = names(&lab);
    let inode = lab.server.inode().unwrap();
    let mut sleeper = lab
        .server
        .run(|| Ok(std::process::Command::new("sleep").arg("60").spawn()?))
        .unwrap();
    assert!(teardown_lab::netns::pids_in_netns(inode).contains(&(sleeper.id() as i32)));
    drop(lab);
    assert!(gone(&x), "a dropped lab leaves {x:?}");
    assert!(
        teardown_lab::netns::pids_in_netns(inode).is_empty(),
        "the drop killed the sleeper"
    );
    let _ = sleeper.wait(); // reaped already, or reaped now

    let lab = Lab::up(&unique("y"), Topology::Direct).expect("lab up");
    let y = names(&lab);
    lab.down().expect("lab down");
    lab.down().expect("a second down does nothing");
    drop(lab);
    assert!(gone(&y));

    let lab = Lab::up(&unique("z"), Topology::Direct).expect("lab up");
    let (z, kept): (Vec<String>, Vec<teardown_lab::netns::NetNs>) =
        (names(&lab), lab.namespaces().into_iter().cloned().collect());
    lab.leave_up();
    assert!(z
        .iter()
        .all(|n| std::path::Path::new("/run/netns").join(n).exists()));
    teardown_lab::cleanup::teardown_namespaces(&kept).unwrap();
    assert!(gone(&z));
}

/// Reads the pcapng back with the project's own reader.
fn read_back(path: &std::path::Path) -> Vec<teardown_core::evidence::Packet> {
    teardown_lab::files::read_capture_file(path)
        .expect("the pcapng reads back")
        .packets
}
