//! Privileged: `Lab::down` destroys every socket, orphans included, before
//! it deletes the namespaces. An orphan retransmitting into a cut wire would
//! otherwise keep its deleted namespace alive (~100 s with the defaults).
//! The test keeps each namespace open by a file descriptor, so it can look
//! inside after the names are gone.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::Duration;
use teardown_core::scenario::Topology;
use teardown_lab::topology::Lab;

/// TCP sockets (sock_diag) and the per-namespace counters inside `ns`.
fn inside(ns: &std::fs::File) -> (usize, Option<u64>) {
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let dumped = teardown_lab::sockdiag::dump_tcp().unwrap().len();
            let v4 = std::fs::read_to_string("/proc/thread-self/net/sockstat").unwrap();
            let v6 = std::fs::read_to_string("/proc/thread-self/net/sockstat6").unwrap_or_default();
            (dumped, teardown_lab::cleanup::count_tcp_sockets(&v4, &v6))
        })
        .join()
        .unwrap()
    })
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn down_destroys_orphans_before_deleting() {
    teardown_lab::require_privileged();
    let id = format!("o{}", std::process::id() % 100000);
    let lab = Lab::up(&id, Topology::Switched).expect("lab up");
    let held: Vec<std::fs::File> = lab.namespaces().iter().map(|n| n.file().unwrap()).collect();
    let addr: SocketAddr = "198.18.0.2:9300".parse().unwrap();
    let listener = lab
        .server
        .run(move || Ok(TcpListener::bind(addr)?))
        .unwrap();
    let client = lab
        .client
        .run(move || Ok(TcpStream::connect_timeout(&addr, Duration::from_secs(5))?))
        .unwrap();
    let (accepted, _) = listener.accept().unwrap();
    teardown_lab::fault::set_cut(&lab, true).unwrap();
    // Unacknowledged data, then close: orphans in FIN_WAIT1 retransmitting into the cut.
    for mut s in [client, accepted] {
        s.write_all(&[7u8; 1000]).unwrap();
        drop(s);
    }
    drop(listener);
    for (ns, f) in lab.namespaces().iter().zip(&held).take(2) {
        let (dumped, counted) = inside(f);
        assert!(
            dumped >= 1,
            "{}: expected an orphan, sock_diag sees {dumped}",
            ns.name()
        );
        assert!(
            counted.unwrap() >= 1,
            "{}: counters say {counted:?}",
            ns.name()
        );
    }
    let names: Vec<String> = lab
        .namespaces()
        .iter()
        .map(|n| n.name().to_string())
        .collect();
    lab.down().expect("lab down");
    for (name, f) in names.iter().zip(&held) {
        assert!(!std::path::Path::new("/run/netns").join(name).exists());
        assert_eq!(inside(f), (0, Some(0)), "{name}: sockets left after down");
    }
}
