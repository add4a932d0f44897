//! Link, network and TCP headers: a captured frame to a TCP segment.
//!
//! Contract: [`decode`] takes any bytes and never panics; a frame that is not
//! TCP over IPv4/IPv6, or whose headers are cut short, gives `None`. The
//! payload length comes from the IP header (not from the captured bytes), so
//! frames cut by the snaplen and Ethernet padding both give the length that
//! was on the wire, like tcpdump. Non-first IP fragments are skipped.
//!
//! Link types (LINKTYPE_*): 0 NULL and 108 LOOP (BSD loopback), 1 Ethernet
//! (with up to four 802.1Q/802.1ad tags), 12/14/101 raw IP, 113 Linux cooked
//! (SLL), 228 raw IPv4, 229 raw IPv6, 276 Linux cooked v2 (SLL2).

use crate::evidence::TcpFlags;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A TCP segment's header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    /// Payload length, from the IP header.
    pub len: u32,
    pub win: u16,
}

pub const LINKTYPE_NULL: u16 = 0;
pub const LINKTYPE_ETHERNET: u16 = 1;
pub const LINKTYPE_RAW: u16 = 101;
pub const LINKTYPE_LOOP: u16 = 108;
pub const LINKTYPE_LINUX_SLL: u16 = 113;
pub const LINKTYPE_IPV4: u16 = 228;
pub const LINKTYPE_IPV6: u16 = 229;
pub const LINKTYPE_LINUX_SLL2: u16 = 276;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Decodes a frame of the given link type.
pub fn decode(linktype: u16, frame: &[u8]) -> Option<Segment> {
    match linktype {
        LINKTYPE_ETHERNET => ethertype(be16(frame, 12)?, frame.get(14..)?),
        LINKTYPE_RAW | 12 | 14 => ip(frame),
        LINKTYPE_IPV4 => ipv4(frame),
        LINKTYPE_IPV6 => ipv6(frame),
        LINKTYPE_LINUX_SLL => ethertype(be16(frame, 14)?, frame.get(16..)?),
        LINKTYPE_LINUX_SLL2 => ethertype(be16(frame, 0)?, frame.get(20..)?),
        LINKTYPE_NULL | LINKTYPE_LOOP => {
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
                2 => ipv4(&frame[4..]),
                10 | 24 | 28 | 30 => ipv6(&frame[4..]),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Dispatches on an EtherType, unwrapping VLAN tags.
fn ethertype(mut ty: u16, mut rest: &[u8]) -> Option<Segment> {
    for _ in 0..4 {
        match ty {
            0x0800 => return ipv4(rest),
            0x86DD => return ipv6(rest),
            0x8100 | 0x88A8 | 0x9100 => {
                ty = be16(rest, 2)?;
                rest = rest.get(4..)?;
            }
            _ => return None,
        }
    }
    None
}

fn ip(b: &[u8]) -> Option<Segment> {
    match b.first()? >> 4 {
        4 => ipv4(b),
        6 => ipv6(b),
        _ => None,
    }
}

fn ipv4(b: &[u8]) -> Option<Segment> {
    let vihl = *b.first()?;
    if vihl >> 4 != 4 {
        return None;
    }
    let ihl = (vihl & 0x0f) as usize * 4;
    if ihl < 20 || b.len() < ihl {
        return None;
    }
    let total = be16(b, 2)? as usize;
    let frag = be16(b, 6)?;
    if frag & 0x1fff != 0 || b[9] != 6 {
        return None;
    }
    // Total length 0 happens with TSO on the sending host: use what was captured.
    let ip_payload = if total == 0 {
        b.len() - ihl
    } else {
        total.checked_sub(ihl)?
    };
    let src = Ipv4Addr::new(b[12], b[13], b[14], b[15]);
    let dst = Ipv4Addr::new(b[16], b[17], b[18], b[19]);
    tcp(src.into(), dst.into(), &b[ihl..], ip_payload)
}

fn ipv6(b: &[u8]) -> Option<Segment> {
    if b.len() < 40 || b[0] >> 4 != 6 {
        return None;
    }
    let plen = be16(b, 4)? as usize;
    let mut next = b[6];
    let src: [u8; 16] = b[8..24].try_into().ok()?;
    let dst: [u8; 16] = b[24..40].try_into().ok()?;
    let mut rest = &b[40..];
    let mut payload = if plen == 0 { rest.len() } else { plen };
    for _ in 0..8 {
        match next {
            6 => {
                return tcp(
                    Ipv6Addr::from(src).into(),
                    Ipv6Addr::from(dst).into(),
                    rest,
                    payload,
                )
            }
            // Hop-by-hop, routing, destination options.
            0 | 43 | 60 => {
                let hl = (*rest.get(1)? as usize + 1) * 8;
                next = *rest.first()?;
                rest = rest.get(hl..)?;
                payload = payload.checked_sub(hl)?;
            }
            // Fragment: only the first fragment carries the TCP header.
            44 => {
                if be16(rest, 2)? & 0xfff8 != 0 {
                    return None;
                }
                next = *rest.first()?;
                rest = rest.get(8..)?;
                payload = payload.checked_sub(8)?;
            }
            // Authentication header.
            51 => {
                let hl = (*rest.get(1)? as usize + 2) * 4;
                next = *rest.first()?;
                rest = rest.get(hl..)?;
                payload = payload.checked_sub(hl)?;
            }
            _ => return None,
        }
    }
    None
}

fn tcp(src: IpAddr, dst: IpAddr, b: &[u8], ip_payload: usize) -> Option<Segment> {
    if b.len() < 20 {
        return None;
    }
    let doff = (b[12] >> 4) as usize * 4;
    if doff < 20 {
        return None;
    }
    let len = ip_payload.checked_sub(doff)?;
    Some(Segment {
        src: SocketAddr::new(src, be16(b, 0)?),
        dst: SocketAddr::new(dst, be16(b, 2)?),
        flags: TcpFlags(u16::from(b[12] & 1) << 8 | u16::from(b[13])),
        seq: be32(b, 4)?,
        ack: be32(b, 8)?,
        len: u32::try_from(len).ok()?,
        win: be16(b, 14)?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A TCP header (20 bytes, no options) followed by `payload`.
    pub fn tcp_bytes(
        sport: u16,
        dport: u16,
        flags: u8,
        seq: u32,
        ack: u32,
        win: u16,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&sport.to_be_bytes());
        t.extend_from_slice(&dport.to_be_bytes());
        t.extend_from_slice(&seq.to_be_bytes());
        t.extend_from_slice(&ack.to_be_bytes());
        t.push(5 << 4);
        t.push(flags);
        t.extend_from_slice(&win.to_be_bytes());
        t.extend_from_slice(&[0, 0, 0, 0]);
        t.extend_from_slice(payload);
        t
    }

    pub fn ipv4_bytes(src: [u8; 4], dst: [u8; 4], tcp: &[u8]) -> Vec<u8> {
        let mut b = vec![0x45, 0];
        b.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
        b.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
        b.extend_from_slice(&src);
        b.extend_from_slice(&dst);
        b.extend_from_slice(tcp);
        b
    }

    pub fn ipv6_bytes(src: [u8; 16], dst: [u8; 16], tcp: &[u8]) -> Vec<u8> {
        let mut b = vec![0x60, 0, 0, 0];
        b.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        b.extend_from_slice(&[6, 64]);
        b.extend_from_slice(&src);
        b.extend_from_slice(&dst);
        b.extend_from_slice(tcp);
        b
    }

    pub fn eth(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut b = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        b.extend_from_slice(&ty.to_be_bytes());
        b.extend_from_slice(payload);
        b
    }

    fn v4seg() -> Vec<u8> {
        ipv4_bytes(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            &tcp_bytes(40000, 80, 0x18, 1000, 2000, 512, b"hello"),
        )
    }

    #[test]
    fn every_link_type() {
        let ip4 = v4seg();
        let want = decode(LINKTYPE_RAW, &ip4).unwrap();
        assert_eq!(want.len, 5);
        assert_eq!(want.flags.tcpdump(), "P.");
        assert_eq!(want.src, "10.0.0.1:40000".parse().unwrap());
        let mut vlan = vec![0, 5, 0x08, 0x00];
        vlan.extend_from_slice(&ip4);
        let mut sll = vec![0; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip4);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0; 18]);
        sll2.extend_from_slice(&ip4);
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip4);
        let mut lo = 2u32.to_be_bytes().to_vec();
        lo.extend_from_slice(&ip4);
        for (lt, frame) in [
            (LINKTYPE_ETHERNET, eth(0x0800, &ip4)),
            (LINKTYPE_ETHERNET, eth(0x8100, &vlan)),
            (LINKTYPE_LINUX_SLL, sll),
            (LINKTYPE_LINUX_SLL2, sll2),
            (LINKTYPE_NULL, null),
            (LINKTYPE_LOOP, lo),
            (LINKTYPE_IPV4, ip4.clone()),
        ] {
            assert_eq!(decode(lt, &frame), Some(want), "linktype {lt}");
        }
    }

    #[test]
    fn ipv6_with_extension_header() {
        let t = tcp_bytes(1, 2, 0x11, 7, 8, 9, b"");
        let mut ext = vec![6, 0, 0, 0, 0, 0, 0, 0];
        ext.extend_from_slice(&t);
        let mut b = ipv6_bytes([0xfd; 16], [0xfe; 16], &ext);
        b[6] = 60; // destination options first
        let s = decode(LINKTYPE_IPV6, &b).unwrap();
        assert_eq!((s.len, s.flags.tcpdump().as_str(), s.seq), (0, "F.", 7));
    }

    #[test]
    fn snaplen_and_padding_use_ip_length() {
        let ip4 = v4seg();
        // Cut inside the payload: the length is still 5.
        assert_eq!(decode(LINKTYPE_RAW, &ip4[..42]).unwrap().len, 5);
        // Cut inside the TCP header: not decodable.
        assert_eq!(decode(LINKTYPE_RAW, &ip4[..30]), None);
        // Ethernet padding is not payload.
        let mut f = eth(
            0x0800,
            &ipv4_bytes([1; 4], [2; 4], &tcp_bytes(1, 2, 0x10, 0, 0, 0, b"")),
        );
        f.extend_from_slice(&[0; 6]);
        assert_eq!(decode(LINKTYPE_ETHERNET, &f).unwrap().len, 0);
    }

    #[test]
    fn the_ae_bit_is_read_from_the_byte_before_the_flags() {
        let mut tcp = tcp_bytes(40000, 80, 0x12, 1000, 2000, 512, b"");
        tcp[12] |= 1; // AE (RFC 9768), formerly NS
        let s = decode(
            LINKTYPE_RAW,
            &ipv4_bytes([10, 0, 0, 1], [10, 0, 0, 2], &tcp),
        )
        .unwrap();
        assert_eq!(s.flags.tcpdump(), "S.e");
        assert_eq!(s.len, 0, "the data offset is still the high nibble");
    }

    #[test]
    fn garbage_is_none() {
        for lt in [0u16, 1, 101, 108, 113, 228, 229, 276, 999] {
            for n in 0..64 {
                let b: Vec<u8> = (0..n).map(|i| (i * 37 + n) as u8).collect();
                let _ = decode(lt, &b);
            }
        }
        // A TCP data offset larger than the IP payload.
        let mut b = v4seg();
        b[20 + 12] = 0xf0;
        assert_eq!(decode(LINKTYPE_RAW, &b), None);
    }
}
