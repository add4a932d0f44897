//! Privileged: eight labs up at once (same addresses in each), TCP in every
//! one, no cross-talk between them, and all gone afterwards.

mod lifecycle_common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use teardown_core::evidence::TcpFlags;
use teardown_core::scenario::Topology;
use teardown_lab::capture::{port_specs, Capture};
use teardown_lab::cleanup::RunRecord;
use teardown_lab::record::Recorder;
use teardown_lab::topology::Lab;

const LABS: u16 = 8;

fn port_of(i: u16) -> u16 {
    9100 + i
}

/// Lab `i`'s server accepts one connection, checks it carries lab `i`'s
/// marker, and answers with it; the client checks the answer.
fn exchange(lab: &Lab, i: u16) {
    let addr: SocketAddr = format!("198.18.0.2:{}", port_of(i)).parse().unwrap();
    let marker = format!("lab-{i}-marker-{}", lab.id);
    let listener = lab
        .server
        .run(move || Ok(TcpListener::bind(addr)?))
        .unwrap();
    let want = marker.clone();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip().to_string(), "198.18.0.1");
        let mut buf = vec![0u8; want.len()];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&buf),
            want,
            "lab {i}: foreign payload"
        );
        s.write_all(format!("{want}/ok").as_bytes()).unwrap();
        // Keep the connection until the client has read the answer.
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        s
    });
    let mut c = lab
        .client
        .run(move || Ok(TcpStream::connect_timeout(&addr, Duration::from_secs(5))?))
        .unwrap();
    c.write_all(marker.as_bytes()).unwrap();
    let mut back = vec![0u8; marker.len() + 3];
    c.read_exact(&mut back).unwrap();
    assert_eq!(String::from_utf8_lossy(&back), format!("{marker}/ok"));

    // While connected: this lab's sockets are its own connection only.
    let client_socks = lab.client.run(teardown_lab::sockdiag::dump_tcp).unwrap();
    assert_eq!(
        client_socks.len(),
        1,
        "lab {i} client sees {client_socks:?}"
    );
    assert_eq!(client_socks[0].remote().port(), port_of(i));
    let server_socks = lab.server.run(teardown_lab::sockdiag::dump_tcp).unwrap();
    assert_eq!(
        server_socks.len(),
        2,
        "lab {i} server sees {server_socks:?}"
    );
    assert!(server_socks.iter().all(|s| s.local().port() == port_of(i)));

    // Another lab's server port is not reachable from here.
    let other: SocketAddr = format!("198.18.0.2:{}", port_of((i + 1) % LABS))
        .parse()
        .unwrap();
    let refused = lab
        .client
        .run(move || Ok(TcpStream::connect_timeout(&other, Duration::from_secs(5))))
        .unwrap();
    match refused {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "lab {i}: {e}"),
        Ok(_) => panic!("lab {i} reached lab {}'s server", (i + 1) % LABS),
    }
    drop(c);
    server.join().unwrap();
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn eight_labs_at_once_keep_to_themselves_and_leave_nothing() {
    teardown_lab::require_privileged();
    let base = format!("p{:x}", std::process::id() % 0x10000);
    let ids: Vec<String> = (0..LABS).map(|i| format!("{base}{i}")).collect();
    // Registered like a run's, so a concurrent `teardown clean` leaves them alone.
    let records: Vec<RunRecord> = ids
        .iter()
        .map(|id| {
            let names = ["client", "server", "wire"]
                .iter()
                .map(|r| teardown_lab::topology::ns_name(id, r))
                .collect();
            RunRecord::register(id, names).unwrap()
        })
        .collect();
    let started = Instant::now();
    let labs: Vec<Lab> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| s.spawn(move || Lab::up(id, Topology::Switched)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().expect("lab up"))
            .collect()
    });
    eprintln!("8 labs up in {:?}", started.elapsed());
    let names: Vec<String> = labs
        .iter()
        .flat_map(|l| l.namespaces().into_iter().map(|n| n.name().to_string()))
        .collect();
    assert_eq!(names.len(), 24);

    // Traffic in every lab at once, each captured on its own wire.
    std::thread::scope(|s| {
        for (i, lab) in labs.iter().enumerate() {
            s.spawn(move || {
                let i = i as u16;
                let recorder = Arc::new(Recorder::new());
                let capture = Capture::start(port_specs(lab), recorder.clone()).expect("capture");
                exchange(lab, i);
                // The connection's FIN reached the server port.
                let fin_seen = recorder.wait_for(Instant::now() + Duration::from_secs(2), |r| {
                    r.packets
                        .iter()
                        .any(|p| p.flags.has(TcpFlags::FIN) && p.port == "server-port")
                });
                let result = capture.stop();
                assert!(fin_seen, "lab {i}: no FIN captured");
                assert!(result.errors.is_empty(), "lab {i}: {:?}", result.errors);
                let records = recorder.take();
                let tcp: Vec<_> = records.packets.iter().collect();
                assert!(tcp.len() >= 6, "lab {i}: only {} packets", tcp.len());
                // The refused probe to the next lab's port is this lab's own
                // traffic (SYN, RST); anything else must be this lab's port.
                let mine = port_of(i);
                let probe = port_of((i + 1) % LABS);
                for p in &tcp {
                    let ports = [p.src.port(), p.dst.port()];
                    assert!(
                        ports.contains(&mine) || ports.contains(&probe),
                        "lab {i} captured a foreign packet {p:?}"
                    );
                }
                for j in 0..LABS {
                    if j != i && port_of(j) != probe {
                        assert!(
                            !tcp.iter()
                                .any(|p| [p.src.port(), p.dst.port()].contains(&port_of(j))),
                            "lab {i} saw lab {j}'s traffic"
                        );
                    }
                }
            });
        }
    });

    // All down at once; nothing left.
    std::thread::scope(|s| {
        for lab in &labs {
            s.spawn(move || lab.down().expect("lab down"));
        }
    });
    for r in &records {
        r.unregister();
    }
    let mounts = lifecycle_common::netns_mounts();
    for n in &names {
        assert!(
            !std::path::Path::new("/run/netns").join(n).exists(),
            "{n} left behind"
        );
        assert!(
            !mounts.contains(&format!("/run/netns/{n}")),
            "mount of {n} left"
        );
    }
    for r in &records {
        assert!(!r.path().exists());
    }
}
