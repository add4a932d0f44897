//! The drop programs' verdicts on crafted frames, run in the kernel with
//! BPF_PROG_TEST_RUN (root).

use etherparse::PacketBuilder;
use std::os::fd::AsFd;
use teardown_core::evidence::TcpFlags;
use teardown_lab::bpf::{self, DropRule, TC_ACT_OK, TC_ACT_SHOT};

/// The flags byte's bits, as the drop programs see them (TcpFlags holds AE too).
const B_FIN: u8 = TcpFlags::FIN as u8;
const B_SYN: u8 = TcpFlags::SYN as u8;
const B_RST: u8 = TcpFlags::RST as u8;
const B_PSH: u8 = TcpFlags::PSH as u8;
const B_ACK: u8 = TcpFlags::ACK as u8;

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Syn,
    FinAck,
    Rst,
    PureAck,
    Data,
    /// An IPv4 header with options (IHL 6) around a FIN|ACK.
    FinAckIpOptions,
}

fn tcp_frame(v6: bool, kind: Kind) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B);
    let ip = if v6 {
        let mut s = [0u8; 16];
        let mut d = [0u8; 16];
        s[0] = 0xfd;
        d[0] = 0xfd;
        s[15] = 1;
        d[15] = 2;
        b.ipv6(s, d, 64)
    } else if kind == Kind::FinAckIpOptions {
        let mut h = etherparse::Ipv4Header::new(
            0,
            64,
            etherparse::IpNumber::TCP,
            [198, 18, 0, 1],
            [198, 18, 0, 2],
        )
        .unwrap();
        h.options = [1u8, 1, 1, 0][..].try_into().unwrap(); // NOP NOP NOP EOL
        b.ip(etherparse::IpHeaders::Ipv4(h, Default::default()))
    } else {
        b.ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
    };
    let t = ip.tcp(40000, 7000, 1000, 64000);
    let (t, payload): (_, &[u8]) = match kind {
        Kind::Syn => (t.syn(), &[]),
        Kind::FinAck | Kind::FinAckIpOptions => (t.fin().ack(5), &[]),
        Kind::Rst => (t.rst(), &[]),
        Kind::PureAck => (t.ack(5), &[]),
        Kind::Data => (t.psh().ack(5), b"hello"),
    };
    let mut out = Vec::new();
    t.write(&mut out, payload).unwrap();
    out
}

fn udp_frame(v6: bool) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B);
    let mut out = Vec::new();
    if v6 {
        let mut s = [0u8; 16];
        s[0] = 0xfd;
        let mut d = s;
        d[15] = 2;
        b.ipv6(s, d, 64)
            .udp(5000, 6000)
            .write(&mut out, b"x")
            .unwrap();
    } else {
        b.ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
            .udp(5000, 6000)
            .write(&mut out, b"x")
            .unwrap();
    }
    out
}

fn arp_frame() -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&[0x08, 0x06]);
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]); // Ethernet/IPv4 request
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&[198, 18, 0, 1]);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&[198, 18, 0, 2]);
    f.resize(60, 0);
    f
}

fn verdict(rule: &DropRule, frame: &[u8]) -> u32 {
    let fd = bpf::load(rule).unwrap();
    bpf::test_run(fd.as_fd(), frame).unwrap()
}

/// Every frame.
/// (name, frame, the TCP kind and flags it carries if TCP).
type Case = (String, Vec<u8>, Option<(Kind, u8)>);

fn corpus() -> Vec<Case> {
    use Kind::*;
    let mut v = Vec::new();
    for v6 in [false, true] {
        for (k, flags) in [
            (Syn, B_SYN),
            (FinAck, B_FIN | B_ACK),
            (Rst, B_RST),
            (PureAck, B_ACK),
            (Data, B_PSH | B_ACK),
        ] {
            let ip = if v6 { "ipv6" } else { "ipv4" };
            v.push((format!("{ip} {k:?}"), tcp_frame(v6, k), Some((k, flags))));
        }
        v.push((format!("udp v6={v6}"), udp_frame(v6), None));
    }
    v.push((
        "ipv4 with options FIN|ACK".into(),
        tcp_frame(false, FinAckIpOptions),
        Some((FinAckIpOptions, B_FIN | B_ACK)),
    ));
    v.push(("arp".into(), arp_frame(), None));
    v
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn drop_all_drops_every_frame() {
    teardown_lab::require_privileged();
    for (name, frame, _) in corpus() {
        assert_eq!(verdict(&DropRule::All, &frame), TC_ACT_SHOT, "{name}");
    }
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn tcp_flags_drop_exactly_the_segments_carrying_them() {
    teardown_lab::require_privileged();
    for any_of in [B_FIN, B_RST, B_SYN, B_FIN | B_RST] {
        let fd = bpf::load(&DropRule::TcpFlags { any_of }).unwrap();
        for (name, frame, tcp) in corpus() {
            let want = match tcp {
                Some((_, flags)) if flags & any_of != 0 => TC_ACT_SHOT,
                _ => TC_ACT_OK,
            };
            assert_eq!(
                bpf::test_run(fd.as_fd(), &frame).unwrap(),
                want,
                "any_of={any_of:#04x} on {name}"
            );
        }
    }
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn pure_ack_drops_only_payloadless_acks() {
    teardown_lab::require_privileged();
    let fd = bpf::load(&DropRule::PureAck).unwrap();
    for (name, frame, tcp) in corpus() {
        let want = match tcp {
            Some((Kind::PureAck, _)) => TC_ACT_SHOT,
            _ => TC_ACT_OK,
        };
        assert_eq!(bpf::test_run(fd.as_fd(), &frame).unwrap(), want, "{name}");
    }
    // A pure ACK padded to the Ethernet minimum still has no TCP payload.
    let mut padded = tcp_frame(false, Kind::PureAck);
    padded.resize(60, 0);
    assert_eq!(bpf::test_run(fd.as_fd(), &padded).unwrap(), TC_ACT_SHOT);
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn truncated_frames_pass() {
    teardown_lab::require_privileged();
    let fd = bpf::load(&DropRule::TcpFlags { any_of: B_SYN }).unwrap();
    let syn = tcp_frame(false, Kind::Syn);
    // Cut inside the TCP header, before the flags byte.
    assert_eq!(
        bpf::test_run(fd.as_fd(), &syn[..14 + 20 + 10]).unwrap(),
        TC_ACT_OK
    );
    assert_eq!(bpf::test_run(fd.as_fd(), &syn).unwrap(), TC_ACT_SHOT);
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn probability_extremes_and_half() {
    teardown_lab::require_privileged();
    let frames: Vec<Vec<u8>> = corpus().into_iter().map(|c| c.1).collect();
    let never = bpf::load(&DropRule::Probability(0.0)).unwrap();
    let always = bpf::load(&DropRule::Probability(1.0)).unwrap();
    for f in &frames {
        for _ in 0..50 {
            assert_eq!(bpf::test_run(never.as_fd(), f).unwrap(), TC_ACT_OK);
            assert_eq!(bpf::test_run(always.as_fd(), f).unwrap(), TC_ACT_SHOT);
        }
    }
    // p = 0.5 over n = 10000 runs: drops ~ Binomial(n, p), mean 5000,
    // sigma = sqrt(n p (1-p)) = 50 (0.5 %). Ten sigma either side: 45..55 %.
    let half = bpf::load(&DropRule::Probability(0.5)).unwrap();
    let n = 10_000;
    let mut dropped = 0;
    for i in 0..n {
        if bpf::test_run(half.as_fd(), &frames[i % frames.len()]).unwrap() == TC_ACT_SHOT {
            dropped += 1;
        }
    }
    assert!((4500..=5500).contains(&dropped), "dropped {dropped} of {n}");
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn a_rejected_program_reports_the_verifier() {
    teardown_lab::require_privileged();
    // Reads r2 before it is written: the verifier refuses.
    let bad = [bpf::Insn::mov_reg(bpf::R0, 2), bpf::Insn::exit()];
    let e = bpf::load_insns("td_bad", &bad).unwrap_err().to_string();
    assert!(e.contains("EACCES") || e.contains("EINVAL"), "{e}");
    assert!(e.contains("verifier"), "{e}");
    assert!(e.contains("R2"), "{e}");
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn a_counted_drop_drops_the_first_matches_only() {
    teardown_lab::require_privileged();
    let fin = tcp_frame(false, Kind::FinAck);
    let fin6 = tcp_frame(true, Kind::FinAck);
    let data = tcp_frame(false, Kind::Data);
    let rule = DropRule::TcpFlags { any_of: B_FIN };
    let budget = bpf::Budget::new(2).unwrap();
    let prog = bpf::load_counted(&rule, Some(&budget)).unwrap();
    let run = |f: &[u8]| bpf::test_run(prog.as_fd(), f).unwrap();
    // Frames the rule does not match pass and leave the budget alone.
    assert_eq!(run(&data), TC_ACT_OK);
    assert_eq!(budget.used().unwrap(), (0, 0));
    assert_eq!(run(&fin), TC_ACT_SHOT);
    assert_eq!(run(&data), TC_ACT_OK);
    assert_eq!(run(&fin6), TC_ACT_SHOT);
    assert_eq!(budget.used().unwrap(), (2, 0));
    // Spent: later matches pass, and are counted as passed.
    assert_eq!(run(&fin), TC_ACT_OK);
    assert_eq!(run(&fin6), TC_ACT_OK);
    assert_eq!(budget.used().unwrap(), (2, 2));

    // Every frame, once.
    let one = bpf::Budget::new(1).unwrap();
    let all = bpf::load_counted(&DropRule::All, Some(&one)).unwrap();
    let arp = arp_frame();
    assert_eq!(bpf::test_run(all.as_fd(), &arp).unwrap(), TC_ACT_SHOT);
    assert_eq!(bpf::test_run(all.as_fd(), &arp).unwrap(), TC_ACT_OK);
    assert_eq!(one.used().unwrap(), (1, 1));
    assert!(bpf::Budget::new(0).is_err());
}
