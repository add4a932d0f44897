//! Link layers: a frame of a link type down to the IP packet it carries.

use super::repr::{be16, Decoded, Next, Unread};
use super::repr::{
    LINKTYPE_ARCNET_LINUX, LINKTYPE_ETHERNET, LINKTYPE_FDDI, LINKTYPE_IEEE802_11, LINKTYPE_IPOIB,
    LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_JUNIPER_ETHER, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP, LINKTYPE_NFLOG, LINKTYPE_NULL, LINKTYPE_PPI, LINKTYPE_PPP, LINKTYPE_RAW,
};

/// A frame of a link type: what its link header says comes next.
#[inline]
pub(super) fn link(linktype: u16, frame: &[u8]) -> Option<Next<'_>> {
    Some(match linktype {
        LINKTYPE_ETHERNET => Next::Ethernet(frame),
        LINKTYPE_RAW | 12 | 14 => Next::Ip(frame),
        LINKTYPE_IPV4 => Next::Ipv4(frame),
        LINKTYPE_IPV6 => Next::Ipv6(frame),
        LINKTYPE_LINUX_SLL => Next::EtherType(be16(frame, 14)?, frame.get(16..)?),
        LINKTYPE_LINUX_SLL2 => Next::EtherType(be16(frame, 0)?, frame.get(20..)?),
        // Two 20-byte link-layer addresses, the EtherType, two reserved
        // bytes (tcpdump's print-ipoib.c, 44 bytes).
        LINKTYPE_IPOIB => Next::EtherType(be16(frame, 40)?, frame.get(44..)?),
        LINKTYPE_PPP => {
            // Address and control (0xff 0x03) when present, then the protocol.
            ppp(frame.strip_prefix(&[0xff, 0x03]).unwrap_or(frame))?
        }
        // Frame control, destination and source: then 802.2 LLC.
        LINKTYPE_FDDI => llc(frame.get(13..)?)?,
        LINKTYPE_IEEE802_11 => wlan(frame)?,
        LINKTYPE_PPI => ppi(frame)?,
        LINKTYPE_NFLOG => nflog(frame)?,
        LINKTYPE_ARCNET_LINUX => arcnet(frame)?,
        LINKTYPE_JUNIPER_ETHER => juniper(frame)?,
        LINKTYPE_NULL | LINKTYPE_LOOP => null(linktype, frame)?,
        other => Next::Done(Decoded::Unread(Unread::LinkType(other))),
    })
}

/// BSD loopback: a 4-byte address family, then IP.
fn null(linktype: u16, frame: &[u8]) -> Option<Next<'_>> {
    let raw: [u8; 4] = frame.get(..4)?.try_into().ok()?;
    let family = if linktype == LINKTYPE_LOOP {
        u32::from_be_bytes(raw)
    } else {
        // Host byte order of the machine that wrote it: accept either.
        let le = u32::from_le_bytes(raw);
        if le < 256 {
            le
        } else {
            u32::from_be_bytes(raw)
        }
    };
    match family {
        2 => Some(Next::Ipv4(&frame[4..])),
        10 | 24 | 28 | 30 => Some(Next::Ipv6(&frame[4..])),
        _ => None,
    }
}

#[inline]
pub(super) fn ethernet(frame: &[u8]) -> Option<Next<'_>> {
    Some(Next::EtherType(be16(frame, 12)?, frame.get(14..)?))
}

/// Dispatches on an EtherType, through what wraps the IP packet: VLAN tags,
/// an 802.3 length field with LLC/SNAP behind it, a PPPoE session (RFC
/// 2516: six bytes, then PPP), an MPLS label stack, PBB's I-tag (four bytes,
/// then a whole Ethernet frame), a VN-Tag (four bytes, then an EtherType)
/// and Cisco FabricPath (two bytes, then a whole Ethernet frame).
#[inline]
pub(super) fn ethertype(mut ty: u16, mut rest: &[u8]) -> Option<Next<'_>> {
    for _ in 0..8 {
        match ty {
            0x0800 => return Some(Next::Ipv4(rest)),
            0x86DD => return Some(Next::Ipv6(rest)),
            0x8100 | 0x88A8 | 0x9100 => {
                ty = be16(rest, 2)?;
                rest = rest.get(4..)?;
            }
            0x8926 => {
                ty = be16(rest, 4)?;
                rest = rest.get(6..)?;
            }
            // PPPoE session: its length field bounds the PPP frame.
            0x8864 => {
                let len = usize::from(be16(rest, 4)?);
                let end = (6 + len).min(rest.len());
                return ppp(rest.get(6..end)?);
            }
            0x8847 | 0x8848 => return mpls(rest),
            0x88E7 => return Some(Next::Ethernet(rest.get(4..)?)),
            0x8903 => return Some(Next::Ethernet(rest.get(2..)?)),
            len if len < 0x0600 => return llc(rest),
            // Known not to carry TCP: ARP, RARP, PPPoE discovery, slow
            // protocols (LACP), EAPOL, LLDP, 802.1ag CFM, PTP.
            0x0806 | 0x8035 | 0x8863 | 0x8809 | 0x888E | 0x88CC | 0x8902 | 0x88F7 => return None,
            other => return Some(Next::Done(Decoded::Unread(Unread::EtherType(other)))),
        }
    }
    None
}

/// 802.2 LLC: SNAP (AA AA 03, an OUI, then an EtherType) carries IP; any
/// other SAP (spanning tree, NetBIOS, ...) does not.
fn llc(b: &[u8]) -> Option<Next<'_>> {
    if b.get(..3)? != [0xAA, 0xAA, 0x03] {
        return None;
    }
    Some(Next::EtherType(be16(b, 6)?, b.get(8..)?))
}

/// An MPLS label stack: four bytes a label, the last with its
/// bottom-of-stack bit; IP behind it, told by its version nibble.
fn mpls(mut rest: &[u8]) -> Option<Next<'_>> {
    for _ in 0..16 {
        let bottom = rest.get(2)? & 1 == 1;
        rest = rest.get(4..)?;
        if bottom {
            return Some(Next::Ip(rest));
        }
    }
    None
}

/// PPP's protocol field (one byte when odd, RFC 1661), then IPv4 (0x21),
/// IPv6 (0x57) or MPLS (0x281, 0x283).
fn ppp(b: &[u8]) -> Option<Next<'_>> {
    let (proto, rest) = if b.first()? & 1 == 1 {
        (u16::from(b[0]), &b[1..])
    } else {
        (be16(b, 0)?, b.get(2..)?)
    };
    match proto {
        0x0021 => Some(Next::Ipv4(rest)),
        0x0057 => Some(Next::Ipv6(rest)),
        0x0281 | 0x0283 => mpls(rest),
        _ => None,
    }
}

/// NFLOG (Linux nfnetlink_log): a 4-byte header, then TLVs (length and type
/// in host order, little-endian here, padded to 4 bytes); NFULA_PAYLOAD (9)
/// holds the IP packet.
fn nflog(frame: &[u8]) -> Option<Next<'_>> {
    const NFULA_PAYLOAD: u16 = 9;
    let mut rest = frame.get(4..)?;
    while rest.len() >= 4 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let ty = u16::from_le_bytes([rest[2], rest[3]]);
        if len < 4 {
            return None;
        }
        if ty == NFULA_PAYLOAD {
            return Some(Next::Ip(rest.get(4..len)?));
        }
        rest = rest.get((len + 3) & !3..)?;
    }
    None
}

/// PPI (Per-Packet Information): version, flags, its length and the link
/// type it wraps (little-endian), then a frame of that link type.
fn ppi(frame: &[u8]) -> Option<Next<'_>> {
    let len = usize::from(u16::from_le_bytes([*frame.get(2)?, *frame.get(3)?]));
    let dlt = u32::from_le_bytes(frame.get(4..8)?.try_into().ok()?);
    Some(Next::Link(u16::try_from(dlt).ok()?, frame.get(len..)?))
}

/// An 802.11 data frame: frame control, duration, three addresses and the
/// sequence control (24 bytes), a fourth address between two APs, QoS
/// control on QoS subtypes (and HT control when the order bit is set),
/// then LLC/SNAP; an A-MSDU's first subframe (destination, source and
/// length first). Management, control and null-data frames carry no IP.
fn wlan(b: &[u8]) -> Option<Next<'_>> {
    let (fc0, fc1) = (*b.first()?, *b.get(1)?);
    let (kind, subtype) = ((fc0 >> 2) & 3, fc0 >> 4);
    if kind != 2 || subtype & 4 != 0 {
        return None;
    }
    if fc1 & 0x40 != 0 {
        return Some(Next::Done(Decoded::Unread(Unread::ProtectedWlan)));
    }
    let mut at = if fc1 & 3 == 3 { 30 } else { 24 };
    let mut amsdu = false;
    if subtype & 8 != 0 {
        amsdu = b.get(at)? & 0x80 != 0;
        at += if fc1 & 0x80 != 0 { 6 } else { 2 };
    }
    if amsdu {
        at += 14;
    }
    llc(b.get(at..)?)
}

/// Linux ARCNET (tcpdump's print-arcnet.c): source, destination, a 2-byte
/// offset, the protocol; RFC 1051 IP (240) follows at once, RFC 1201 IP
/// (212) and IPv6 (196) after a split flag and a sequence number (four
/// bytes more when the flag marks an exception packet).
fn arcnet(b: &[u8]) -> Option<Next<'_>> {
    let at = match *b.get(4)? {
        240 => 5,
        212 | 196 if *b.get(5)? == 0xff => 12,
        212 | 196 => 8,
        _ => return None,
    };
    Some(Next::Ip(b.get(at..)?))
}

/// Juniper's Ethernet capture header (tcpdump's print-juniper.c): the magic
/// "MGC", flags, and when the extension flag is set a 2-byte length of
/// extensions; then an Ethernet frame, or IP when the no-L2 flag is set.
fn juniper(b: &[u8]) -> Option<Next<'_>> {
    if b.get(..3)? != b"MGC" {
        return None;
    }
    let flags = *b.get(3)?;
    let at = if flags & 0x80 != 0 {
        6 + usize::from(be16(b, 4)?)
    } else {
        4
    };
    let rest = b.get(at..)?;
    Some(if flags & 0x02 != 0 {
        Next::Ip(rest)
    } else {
        Next::Ethernet(rest)
    })
}
