//! Capture analysis: frames to TCP segments, segments to connections and verdicts.
//!
//! Contract: every decoder here takes arbitrary bytes and never panics; what
//! it cannot decode it skips (frames) or reports with a byte offset (files).

use crate::evidence::{Packet, TcpFlags};
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use std::net::{IpAddr, SocketAddr};

/// Decodes one Ethernet frame into a TCP segment, or `None` when it is not
/// TCP over IPv4/IPv6 (ARP, ICMP, truncated, ...).
pub fn decode_ethernet(ts_ns: u64, port: &str, frame: &[u8]) -> Option<Packet> {
    let sliced = SlicedPacket::from_ethernet(frame).ok()?;
    let (src, dst): (IpAddr, IpAddr) = match sliced.net? {
        NetSlice::Ipv4(v4) => (
            v4.header().source_addr().into(),
            v4.header().destination_addr().into(),
        ),
        NetSlice::Ipv6(v6) => (
            v6.header().source_addr().into(),
            v6.header().destination_addr().into(),
        ),
    };
    let tcp = match sliced.transport? {
        TransportSlice::Tcp(t) => t,
        _ => return None,
    };
    let mut flags = 0u8;
    for (on, bit) in [
        (tcp.fin(), TcpFlags::FIN),
        (tcp.syn(), TcpFlags::SYN),
        (tcp.rst(), TcpFlags::RST),
        (tcp.psh(), TcpFlags::PSH),
        (tcp.ack(), TcpFlags::ACK),
        (tcp.urg(), TcpFlags::URG),
        (tcp.ece(), TcpFlags::ECE),
        (tcp.cwr(), TcpFlags::CWR),
    ] {
        if on {
            flags |= bit;
        }
    }
    Some(Packet {
        ts_ns,
        port: port.to_string(),
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        flags: TcpFlags(flags),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        len: tcp.payload().len() as u32,
        win: tcp.window_size(),
    })
}

/// `teardown replay CAPTURE`.
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// A pcap or pcapng file
    pub capture: std::path::PathBuf,
    /// Re-evaluate this scenario's packet expectations against the capture
    #[arg(long)]
    pub scenario: Option<std::path::PathBuf>,
    /// Absolute sequence numbers, like `tcpdump -S`
    #[arg(long)]
    pub absolute_seq: bool,
    /// Print the analysis as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn replay_main(_args: ReplayArgs) -> anyhow::Result<i32> {
    Err(crate::unable("replay is not written yet"))
}
