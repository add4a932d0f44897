//! Privileged: the fault steps do what their names say, in both topologies.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;
use teardown_core::evidence::TcpFlags;
use teardown_core::scenario::{DropAt, DropSelect, RejectWith, Topology};
use teardown_lab::fault;
use teardown_lab::topology::{Host, Lab};

/// A lab for one test; it takes itself down when dropped, also when the test fails.
fn up(tag: &str, topology: Topology) -> Lab {
    let id = format!("f{tag}{}", std::process::id() % 100000);
    Lab::up(&id, topology).expect("lab up")
}

/// A fresh listener on the server and a connect attempt from the client.
fn connects(lab: &Lab, port: u16) -> bool {
    let addr: SocketAddr = format!("198.18.0.2:{port}").parse().unwrap();
    let listener = lab
        .server
        .run(move || Ok(TcpListener::bind(addr)?))
        .unwrap();
    let ok = lab
        .client
        .run(move || Ok(TcpStream::connect_timeout(&addr, Duration::from_millis(700)).is_ok()))
        .unwrap();
    drop(listener);
    ok
}

fn cut_and_restore(topology: Topology, tag: &str) {
    let lab = &up(tag, topology);
    assert!(connects(lab, 9100), "the lab carries TCP");
    fault::set_cut(lab, true).unwrap();
    assert!(!connects(lab, 9101), "a cut wire carries nothing");
    fault::set_cut(lab, false).unwrap();
    assert!(connects(lab, 9102), "restore brings it back");
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn cut_and_restore_switched() {
    teardown_lab::require_privileged();
    cut_and_restore(Topology::Switched, "s");
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn cut_and_restore_direct() {
    teardown_lab::require_privileged();
    cut_and_restore(Topology::Direct, "d");
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn selective_drop_and_undrop() {
    teardown_lab::require_privileged();
    let lab = &up("x", Topology::Switched);
    // Dropping the client's SYNs stops new connections; undrop lets them through.
    fault::drop_from(
        lab,
        Host::Client,
        &fault::rule_for(DropSelect::AnyFlag(TcpFlags(TcpFlags::SYN))),
    )
    .unwrap();
    assert!(!connects(lab, 9110));
    fault::undrop(lab).unwrap();
    assert!(connects(lab, 9111));
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn a_counted_drop_loses_only_the_first_matching_frames() {
    teardown_lab::require_privileged();
    let lab = &up("n", Topology::Switched);
    let rule = fault::rule_for(DropSelect::AnyFlag(TcpFlags(TcpFlags::SYN)));
    let budget = fault::drop_first(lab, Host::Client, &rule, Some(1))
        .unwrap()
        .expect("a count gives a budget");
    let addr: SocketAddr = "198.18.0.2:9130".parse().unwrap();
    let listener = lab
        .server
        .run(move || Ok(TcpListener::bind(addr)?))
        .unwrap();
    let connect = move || {
        let t = std::time::Instant::now();
        let ok = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).is_ok();
        Ok((ok, t.elapsed()))
    };
    // The first SYN is lost; its retransmission, one initial RTO (1 s, a timer
    // that fires late, never more than a tick early) later, passes with no undrop.
    let (ok, took) = lab.client.run(connect).unwrap();
    assert!(ok, "the retransmitted SYN got through");
    assert!(
        took >= Duration::from_millis(900),
        "connected after {took:?}: no SYN was lost"
    );
    // One SYN dropped, its retransmission passed (and counted as passed).
    assert_eq!(budget.used().unwrap(), (1, 1));
    // The budget is spent: the next SYN passes at once.
    let (ok, took) = lab.client.run(connect).unwrap();
    assert!(
        ok && took < Duration::from_millis(900),
        "second connect took {took:?}"
    );
    assert_eq!(budget.used().unwrap(), (1, 2));
    drop(listener);
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn link_down_and_up() {
    teardown_lab::require_privileged();
    let lab = &up("l", Topology::Switched);
    fault::set_link(lab, Host::Client, false).unwrap();
    assert!(!connects(lab, 9120), "the client's port is down");
    fault::set_link(lab, Host::Client, true).unwrap();
    assert!(connects(lab, 9121), "and up again");
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn power_off_and_on() {
    teardown_lab::require_privileged();
    let lab = &up("p", Topology::Switched);
    let old_inode = lab.server.inode().unwrap();
    // A process in the server host, to be killed by the power-off.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_teardown"))
        .arg("ns-exec")
        .arg("--netns")
        .arg(lab.server.path())
        .arg("--")
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !lab.server.pids().contains(&(child.id() as i32)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the process never entered the namespace"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    fault::power_off(lab, Host::Server).unwrap();
    assert!(!lab.server.path().exists(), "the host's namespace is gone");
    let pid = child.id();
    match child.wait() {
        Ok(status) => assert!(!status.success(), "its process was killed"),
        // power_off reaps the processes it kills that are its own children
        // (cleanup::kill_all), and this one is the test's: already reaped.
        Err(e) if e.raw_os_error() == Some(nix::libc::ECHILD) => {
            assert!(
                !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "its process was killed and reaped"
            )
        }
        Err(e) => panic!("waiting for the server's process: {e}"),
    }
    fault::power_on(lab, Host::Server).unwrap();
    assert_ne!(
        lab.server.inode().unwrap(),
        old_inode,
        "a fresh, empty host"
    );
    assert!(lab.server.pids().is_empty());
    assert!(connects(lab, 9130), "same address, plugged back in");
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn a_local_drop_fails_the_senders_own_transmit_and_undrop_local_lifts_it() {
    teardown_lab::require_privileged();
    let lab = &up("l", Topology::Switched);
    fault::drop_at(
        lab,
        Host::Client,
        &fault::rule_for(DropSelect::All),
        None,
        DropAt::Host,
    )
    .unwrap();
    assert!(
        !connects(lab, 9130),
        "a host dropping its own frames connects nowhere"
    );
    fault::undrop(lab).unwrap();
    assert!(
        !connects(lab, 9131),
        "the wire's undrop does not touch the host's own interface"
    );
    fault::undrop_local(lab, &[Host::Client]).unwrap();
    assert!(connects(lab, 9132), "undrop_local lifts it");
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn a_reject_answers_with_icmp_and_unreject_lifts_it() {
    teardown_lab::require_privileged();
    let lab = &up("r", Topology::Switched);
    fault::reject(lab, Host::Client, RejectWith::PortUnreachable).unwrap();
    // Port unreachable is ECONNREFUSED (icmp_err_convert), not a timeout.
    let addr: SocketAddr = "198.18.0.2:9140".parse().unwrap();
    let listener = lab
        .server
        .run(move || Ok(TcpListener::bind(addr)?))
        .unwrap();
    let err = lab
        .client
        .run(move || Ok(TcpStream::connect_timeout(&addr, Duration::from_secs(3)).unwrap_err()))
        .unwrap();
    drop(listener);
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    fault::unreject(lab).unwrap();
    assert!(connects(lab, 9141), "unreject lifts it");
    fault::unreject(lab).unwrap();
    // The direct topology has no wire to answer from: a clear error.
    let direct = &up("rd", Topology::Direct);
    let e = fault::reject(direct, Host::Client, RejectWith::HostUnreachable).unwrap_err();
    assert!(e.to_string().contains("switched topology"), "{e}");
}
