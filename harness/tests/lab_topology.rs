//! Privileged: the lab's topology carries TCP over IPv4 and IPv6, and goes away without a trace.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;
use teardown::scenario::Topology;
use teardown::topology::Lab;

fn unique(tag: &str) -> String {
    format!("t{}{}", tag, std::process::id() % 100000)
}

/// Connects client -> server over `addr` and echoes a few bytes.
fn exchange(lab: &Lab, addr: SocketAddr) {
    let listener = lab.server.run(move || TcpListener::bind(addr).unwrap()).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    });
    let mut c = lab
        .client
        .run(move || TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap())
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
    exchange(&lab, "198.18.0.2:9000".parse().unwrap());
    exchange(&lab, "[fd00:7d::2]:9001".parse().unwrap());
    let names: Vec<String> = lab.namespaces().iter().map(|n| n.name().to_string()).collect();
    lab.down().expect("lab down");
    for n in names {
        assert!(!std::path::Path::new("/run/netns").join(&n).exists(), "{n} left behind");
    }
}

#[test]
fn switched_lab_carries_tcp_v4_and_v6() {
    if !teardown::privileged() {
        return;
    }
    check_topology(Topology::Switched, "s");
}

#[test]
fn direct_lab_carries_tcp_v4_and_v6() {
    if !teardown::privileged() {
        return;
    }
    check_topology(Topology::Direct, "d");
}
