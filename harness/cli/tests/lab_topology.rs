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

/// A listener on `addr` in the server, whose one accepted connection
/// `serve` handles on a thread, and the client's connection to it.
fn connected<T: Send + 'static>(
    lab: &Lab,
    addr: SocketAddr,
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (TcpStream, std::thread::JoinHandle<T>) {
    let listener = lab
        .server
        .run(move || Ok(TcpListener::bind(addr)?))
        .unwrap();
    let server = std::thread::spawn(move || serve(listener.accept().unwrap().0));
    let c = lab
        .client
        .run(move || Ok(TcpStream::connect_timeout(&addr, Duration::from_secs(5))?))
        .unwrap();
    (c, server)
}

/// Connects client -> server over `addr` and echoes a few bytes.
fn exchange(lab: &Lab, addr: SocketAddr) {
    let (mut c, server) = connected(lab, addr, |mut s| {
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    });
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
    // Every veth end keeps frames in order (TSO off, GRO on), the capture
    // ports as a cable too (GRO merging nothing).
    let (cable, other): (Vec<(&teardown_lab::netns::NetNs, &str)>, Vec<_>) = match topology {
        Topology::Switched => (
            vec![
                (lab.namespaces()[2], "c-port"),
                (lab.namespaces()[2], "s-port"),
            ],
            vec![(lab.namespaces()[0], "eth0"), (lab.namespaces()[1], "eth0")],
        ),
        Topology::Direct => (
            vec![(lab.namespaces()[0], "eth0"), (lab.namespaces()[1], "eth0")],
            vec![],
        ),
    };
    for &(ns, dev) in &cable {
        let ok = ns
            .run(|| teardown_lab::topology::is_cable_port(dev))
            .unwrap();
        assert!(ok, "capture port {dev} in {} is not cable-true", ns.name());
    }
    for (ns, dev) in other.into_iter().chain(cable) {
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

/// Writes `bytes` from client to server over `addr` in 64 KiB writes (each
/// one a GSO super-frame for a sender that may build them), and reads it all.
fn stream(lab: &Lab, addr: SocketAddr, bytes: usize) {
    let (mut c, server) = connected(lab, addr, |mut s| {
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got.len()
    });
    let chunk = vec![7u8; 64 * 1024];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        c.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    drop(c);
    assert_eq!(server.join().unwrap(), bytes);
}

/// Each capture port holds every frame as the sender put it on the wire: none
/// longer than the MTU plus the Ethernet header (no GRO super-frame), and the
/// client's data on both ports in the order sent, each segment starting where
/// the one before ended, the same segments on both ports.
fn check_cable_capture(topology: Topology, tag: &str) {
    const MTU: u32 = 1500;
    const ETH_HLEN: u32 = 14;
    let lab = Lab::up(&unique(tag), topology).expect("lab up");
    let recorder = Arc::new(Recorder::new());
    let capture = Capture::start(port_specs(&lab), recorder.clone()).expect("capture");
    stream(&lab, "198.18.0.2:9100".parse().unwrap(), 4 << 20);
    stream(&lab, "[fd00:7d::2]:9101".parse().unwrap(), 2 << 20);
    // Stop once both ports saw each connection's two FINs (each port's
    // frames arrive in order, so its data came before them).
    let closed = recorder.wait_for(Instant::now() + Duration::from_secs(5), |r| {
        ["client-port", "server-port"].iter().all(|port| {
            [9100u16, 9101].iter().all(|dport| {
                r.packets
                    .iter()
                    .filter(|p| {
                        p.port == *port
                            && (p.dst.port() == *dport || p.src.port() == *dport)
                            && p.flags.has(teardown_core::evidence::TcpFlags::FIN)
                    })
                    .count()
                    >= 2
            })
        })
    });
    assert!(closed, "{topology:?}: the closes did not reach both ports");
    let result = capture.stop();
    assert!(
        result.drops.iter().all(|d| *d == 0),
        "capture drops: {:?}",
        result.drops
    );
    let longest = result.frames.iter().map(|f| f.orig_len).max().unwrap_or(0);
    assert!(
        longest <= MTU + ETH_HLEN,
        "{topology:?}: a frame of {longest} bytes on a port (GRO coalesced the sender's segments)"
    );
    let packets = recorder.with(|r| r.packets.clone());
    for dport in [9100u16, 9101] {
        let data = |port: &str| -> Vec<(u32, u32)> {
            packets
                .iter()
                .filter(|p| p.port == port && p.dst.port() == dport && p.len > 0)
                .map(|p| (p.seq, p.len))
                .collect()
        };
        let (c, s) = (data("client-port"), data("server-port"));
        assert!(
            c.len() > 1000,
            "{topology:?} port {dport}: {} data segments",
            c.len()
        );
        // New data in the order sent: no segment starts past the highest
        // end so far (a veth ring full under load drops, and TCP then
        // resends, starting before it: that is no reordering).
        let mut end = c[0].0;
        for &(seq, len) in &c {
            assert!(
                (seq.wrapping_sub(end) as i32) <= 0,
                "{topology:?} port {dport}: client-port data out of order: {seq} after {end}"
            );
            if (seq.wrapping_add(len).wrapping_sub(end) as i32) > 0 {
                end = seq.wrapping_add(len);
            }
        }
        // The far port sees the same segments in the same order, less what
        // the wire dropped.
        let mut rest = c.iter();
        for seg in &s {
            assert!(
                rest.any(|x| x == seg),
                "{topology:?} port {dport}: server-port has {seg:?} out of client-port's order"
            );
        }
    }
    lab.down().expect("lab down");
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn captures_hold_the_frames_a_cable_carries_switched() {
    teardown_lab::require_privileged();
    check_cable_capture(Topology::Switched, "cs");
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn captures_hold_the_frames_a_cable_carries_direct() {
    teardown_lab::require_privileged();
    check_cable_capture(Topology::Direct, "cd");
}
