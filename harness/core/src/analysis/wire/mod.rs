//! Link, network and TCP headers: a captured frame to a TCP segment.
//!
//! Contract: [`decode_frame`] takes any bytes and never panics. It says what
//! a frame is: a TCP segment ([`Decoded::Tcp`]), an IP fragment that needs
//! the others of its datagram ([`Decoded::Fragment`], put together by
//! `analysis::defrag`), a compressed IPComp payload
//! ([`Decoded::Compressed`]), or something this module does not read and that
//! may carry TCP ([`Decoded::Unread`], named for the user: never a silent
//! 0). `None` is a frame that was read and is simply not TCP (ARP, UDP,
//! ICMP, a header cut short). The payload length comes from the IP header
//! (not from the captured bytes), so frames cut by the snaplen and Ethernet
//! padding both give the length that was on the wire, like tcpdump.
//!
//! By concern:
//! - [`link`]: link types and what rides on them (LINKTYPE_* 0 NULL, 1
//!   Ethernet, 9 PPP, 10 FDDI, 12/14/101 raw IP, 105 802.11, 108 LOOP,
//!   113 and 276 Linux cooked, 129 Linux ARCNET, 178 Juniper Ethernet, 192
//!   PPI, 228/229 raw IPv4/IPv6, 239 NFLOG, 242 IPoIB;
//!   802.1Q/802.1ad tags, 802.2 LLC/SNAP, PPPoE sessions, MPLS label
//!   stacks, PBB, VN-Tag, Cisco FabricPath, 802.11 data frames).
//! - [`ip`]: IPv4, IPv6 with its extension headers, AH, IP in IP, TCP.
//! - [`tunnel`]: GRE (with ERSPAN, WCCP and Aruba's 802.11), and UDP to
//!   VXLAN, Geneve, GTP-U, GRE-in-UDP, AYIYA and Teredo, on their ports.
//! - [`plain`]: the common frame (Ethernet, IPv4 or IPv6, TCP) read at
//!   once, giving what the layers give (the replay's fast path).
//! - `repr`: what they share (the types above, link-type numbers, [`Next`]).
//!
//! Each layer reads its header and says what comes next ([`Next`]); the
//! loop in [`decode_frame`] reads on, at most [`MAX_DEPTH`] headers, so
//! the layers never call each other and a tunnel in a tunnel is one more
//! turn of the loop.

mod ip;
mod link;
mod plain;
mod repr;
mod tunnel;

pub use plain::plain_tcp;
use repr::Next;
pub use repr::*;

/// What a frame of the given link type is (see the module's contract).
pub fn decode_frame(linktype: u16, frame: &[u8]) -> Option<Decoded<'_>> {
    let mut next = Next::Link(linktype, frame);
    for _ in 0..MAX_DEPTH {
        next = match next {
            Next::Done(d) => return Some(d),
            Next::Link(lt, b) => link::link(lt, b)?,
            Next::Ethernet(b) => link::ethernet(b)?,
            Next::EtherType(ty, b) => link::ethertype(ty, b)?,
            Next::Ip(b) => ip::ip(b)?,
            Next::Ipv4(b) => ip::ipv4(b)?,
            Next::Ipv6(b) => ip::ipv6(b)?,
            Next::Gre(b) => tunnel::gre(b)?,
            Next::Udp(b) => tunnel::udp(b)?,
        };
    }
    match next {
        Next::Done(d) => Some(d),
        _ => None,
    }
}

/// The frame's TCP segment, when it carries a whole one.
pub fn decode(linktype: u16, frame: &[u8]) -> Option<Segment> {
    match decode_frame(linktype, frame)? {
        Decoded::Tcp(s, _) => Some(s),
        Decoded::Fragment(_) | Decoded::Compressed(_) | Decoded::Unread(_) => None,
    }
}

/// Why a frame [`decode`] gives nothing for was not read (its link type,
/// EtherType, GRE protocol, ...), or `None` when it was read and is simply
/// not TCP. For the message a capture full of unread frames gets.
pub fn not_understood(linktype: u16, frame: &[u8]) -> Option<String> {
    match decode_frame(linktype, frame)? {
        Decoded::Unread(u) => Some(u.to_string()),
        Decoded::Tcp(..) | Decoded::Fragment(_) | Decoded::Compressed(_) => None,
    }
}

#[cfg(test)]
pub(crate) mod decode_tests;
#[cfg(test)]
mod plain_tests;
