//! Tunnels: GRE and UDP encapsulations, opened to the packet inside.
//!
//! UDP tunnels are told by their IANA ports, as Wireshark's defaults do:
//! VXLAN 4789, Geneve 6081, GTP-U 2152, GRE-in-UDP 4754, AYIYA 5072,
//! Teredo 3544. A tunnel on another port is just UDP.

use super::repr::{be16, Decoded, Next, Unread, LINKTYPE_IEEE802_11};

/// GRE version 0 (RFC 2784/2890): flags and protocol, then the checksum,
/// key and sequence words its flags announce.
pub(super) fn gre(b: &[u8]) -> Option<Next<'_>> {
    let flags = be16(b, 0)?;
    if flags & 0x4007 != 0 {
        return None; // routing present, or not version 0 (PPTP's GRE)
    }
    let words = [0x8000u16, 0x2000, 0x1000]
        .iter()
        .filter(|bit| flags & **bit != 0)
        .count();
    let inner = b.get(4 + 4 * words..)?;
    let sequenced = flags & 0x1000 != 0;
    match be16(b, 2)? {
        0x0800 | 0x86DD | 0x6558 => encapsulated(be16(b, 2)?, inner),
        // ERSPAN type II (sequenced: an 8-byte header) or type I (none),
        // then the mirrored Ethernet frame.
        0x88BE => Some(Next::Ethernet(inner.get(if sequenced { 8 } else { 0 }..)?)),
        // ERSPAN type III: 12 bytes, 8 more when its O bit says a
        // platform-specific subheader follows.
        0x22EB => {
            let sub = if inner.get(11)? & 1 != 0 { 8 } else { 0 };
            Some(Next::Ethernet(inner.get(12 + sub..)?))
        }
        // WCCP: a 4-byte redirect header, unless IPv4 starts right away.
        0x883E => {
            let at = if inner.first()? >> 4 == 4 { 0 } else { 4 };
            Some(Next::Ipv4(inner.get(at..)?))
        }
        // Aruba's access points (0x8200 to 0x8350, by sixteens, as
        // Wireshark's GRE table has them): the 802.11 frame as sent.
        p @ 0x8200..=0x8350 if p & 0xf == 0 => Some(Next::Link(LINKTYPE_IEEE802_11, inner)),
        other => Some(Next::Done(Decoded::Unread(Unread::GreProtocol(other)))),
    }
}

/// What a tunnel carries, by EtherType: IPv4, IPv6 or a whole Ethernet frame.
fn encapsulated(proto: u16, inner: &[u8]) -> Option<Next<'_>> {
    match proto {
        0x0800 => Some(Next::Ipv4(inner)),
        0x86DD => Some(Next::Ipv6(inner)),
        0x6558 => Some(Next::Ethernet(inner)),
        _ => None,
    }
}

/// UDP to a tunnel's port (either end: a reply comes from it).
pub(super) fn udp(b: &[u8]) -> Option<Next<'_>> {
    let payload = b.get(8..)?;
    let (sport, dport) = (be16(b, 0)?, be16(b, 2)?);
    let port = [4789, 6081, 2152, 4754, 5072, 3544]
        .into_iter()
        .find(|p| *p == dport || *p == sport)?;
    match port {
        // VXLAN: eight bytes, then Ethernet.
        4789 => Some(Next::Ethernet(payload.get(8..)?)),
        // Geneve: eight bytes and the options its length says, then its protocol.
        6081 => {
            let opts = usize::from(payload.first()? & 0x3f) * 4;
            encapsulated(be16(payload, 2)?, payload.get(8 + opts..)?)
        }
        2152 => gtp_u(payload),
        4754 => Some(Next::Gre(payload)),
        5072 => ayiya(payload),
        3544 => teredo(payload),
        _ => None,
    }
}

/// GTP-U (3GPP TS 29.281): version 1, message type 255 (a user packet);
/// eight bytes, four more when a sequence number, N-PDU number or extension
/// header is flagged, then the extension headers (length in 4-byte words,
/// next type in their last byte); then IP.
fn gtp_u(p: &[u8]) -> Option<Next<'_>> {
    let flags = *p.first()?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || *p.get(1)? != 0xFF {
        return None;
    }
    let mut at = 8;
    if flags & 0x07 != 0 {
        let mut next = *p.get(11)?;
        at = 12;
        while next != 0 && flags & 0x04 != 0 {
            let len = usize::from(*p.get(at)?) * 4;
            if len == 0 {
                return None;
            }
            next = *p.get(at + len - 1)?;
            at += len;
        }
    }
    Some(Next::Ip(p.get(at..)?))
}

/// AYIYA (Anything In Anything): eight bytes, the identity (2^n bytes) and
/// the signature (4-byte words), then the next header (IPv6 41, IPv4 4).
fn ayiya(p: &[u8]) -> Option<Next<'_>> {
    let id_len = 1usize << (p.first()? >> 4);
    let sig_len = usize::from(p.get(1)? >> 4) * 4;
    let inner = p.get(8 + id_len + sig_len..)?;
    match *p.get(3)? {
        41 => Some(Next::Ipv6(inner)),
        4 => Some(Next::Ipv4(inner)),
        _ => None,
    }
}

/// Teredo (RFC 4380): an authentication indicator (0x0001) and an origin
/// indicator (0x0000) may come first, then IPv6.
fn teredo(mut p: &[u8]) -> Option<Next<'_>> {
    if be16(p, 0)? == 0x0001 {
        let (id, auth) = (usize::from(*p.get(2)?), usize::from(*p.get(3)?));
        p = p.get(4 + id + auth + 9..)?;
    }
    if be16(p, 0)? == 0x0000 {
        p = p.get(8..)?;
    }
    Some(Next::Ipv6(p))
}
