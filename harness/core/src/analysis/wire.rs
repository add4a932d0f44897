//! Link, network and TCP headers: a captured frame to a TCP segment.
//!
//! Contract: [`decode`] takes any bytes and never panics; a frame that is not
//! TCP over IPv4/IPv6, or whose headers are cut short, gives `None`. The
//! payload length comes from the IP header (not from the captured bytes), so
//! frames cut by the snaplen and Ethernet padding both give the length that
//! was on the wire, like tcpdump. Non-first IP fragments are skipped.
//!
//! Link types (LINKTYPE_*): 0 NULL and 108 LOOP (BSD loopback), 1 Ethernet
//! (with up to four 802.1Q/802.1ad tags, PPPoE sessions and MPLS label
//! stacks inside), 9 PPP, 12/14/101 raw IP, 113 Linux cooked (SLL), 228 raw
//! IPv4, 229 raw IPv6, 239 NFLOG, 276 Linux cooked v2 (SLL2). Tunnels are
//! opened to the TCP inside: GRE (IP protocol 47, version 0: IPv4, IPv6 or
//! Ethernet), VXLAN (UDP port 4789) and Geneve (UDP port 6081), at most
//! [`MAX_DEPTH`] deep. [`not_understood`] names what a frame that gives no
//! segment was, when it is a link type or EtherType this module does not
//! read (never for a frame that is simply not TCP).

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
pub const LINKTYPE_PPP: u16 = 9;
pub const LINKTYPE_NFLOG: u16 = 239;

/// Encapsulations opened inside one frame, at most (a tunnel in a tunnel ...).
pub const MAX_DEPTH: u8 = 4;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Decodes a frame of the given link type.
pub fn decode(linktype: u16, frame: &[u8]) -> Option<Segment> {
    decode_in(linktype, frame, 0)
}

/// [`decode`], `depth` encapsulations deep already.
fn decode_in(linktype: u16, frame: &[u8], depth: u8) -> Option<Segment> {
    if depth > MAX_DEPTH {
        return None;
    }
    let d = depth;
    match linktype {
        LINKTYPE_ETHERNET => ethernet(frame, d),
        LINKTYPE_RAW | 12 | 14 => ip(frame, d),
        LINKTYPE_IPV4 => ipv4(frame, d),
        LINKTYPE_IPV6 => ipv6(frame, d),
        LINKTYPE_LINUX_SLL => ethertype(be16(frame, 14)?, frame.get(16..)?, d),
        LINKTYPE_LINUX_SLL2 => ethertype(be16(frame, 0)?, frame.get(20..)?, d),
        LINKTYPE_PPP => {
            // Address and control (0xff 0x03) when present, then the protocol.
            let rest = frame.strip_prefix(&[0xff, 0x03]).unwrap_or(frame);
            ppp(rest, d)
        }
        LINKTYPE_NFLOG => nflog(frame, d),
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
                2 => ipv4(&frame[4..], d),
                10 | 24 | 28 | 30 => ipv6(&frame[4..], d),
                _ => None,
            }
        }
        _ => None,
    }
}

fn ethernet(frame: &[u8], depth: u8) -> Option<Segment> {
    ethertype(be16(frame, 12)?, frame.get(14..)?, depth)
}

/// Dispatches on an EtherType, unwrapping VLAN tags, a PPPoE session
/// (RFC 2516: six bytes, then PPP) and an MPLS label stack (four bytes a
/// label, the last with its bottom-of-stack bit; IP behind it, told by its
/// version nibble).
fn ethertype(mut ty: u16, mut rest: &[u8], depth: u8) -> Option<Segment> {
    for _ in 0..4 {
        match ty {
            0x0800 => return ipv4(rest, depth),
            0x86DD => return ipv6(rest, depth),
            0x8100 | 0x88A8 | 0x9100 => {
                ty = be16(rest, 2)?;
                rest = rest.get(4..)?;
            }
            0x8864 => return ppp(rest.get(6..)?, depth),
            0x8847 | 0x8848 => {
                for _ in 0..16 {
                    let bottom = rest.get(2)? & 1 == 1;
                    rest = rest.get(4..)?;
                    if bottom {
                        return ip(rest, depth);
                    }
                }
                return None;
            }
            _ => return None,
        }
    }
    None
}

/// PPP's protocol field (one byte when odd, RFC 1661), then IPv4 (0x21) or IPv6 (0x57).
fn ppp(b: &[u8], depth: u8) -> Option<Segment> {
    let (proto, rest) = if b.first()? & 1 == 1 {
        (u16::from(b[0]), &b[1..])
    } else {
        (be16(b, 0)?, b.get(2..)?)
    };
    match proto {
        0x0021 => ipv4(rest, depth),
        0x0057 => ipv6(rest, depth),
        _ => None,
    }
}

/// NFLOG (Linux nfnetlink_log): a 4-byte header, then TLVs (length and type
/// in host order, little-endian here, padded to 4 bytes); NFULA_PAYLOAD (9)
/// holds the IP packet.
fn nflog(frame: &[u8], depth: u8) -> Option<Segment> {
    const NFULA_PAYLOAD: u16 = 9;
    let mut rest = frame.get(4..)?;
    while rest.len() >= 4 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let ty = u16::from_le_bytes([rest[2], rest[3]]);
        if len < 4 {
            return None;
        }
        if ty == NFULA_PAYLOAD {
            return ip(rest.get(4..len)?, depth);
        }
        rest = rest.get((len + 3) & !3..)?;
    }
    None
}

/// GRE version 0 (RFC 2784/2890): flags and protocol, then the checksum,
/// key and sequence words its flags announce.
fn gre(b: &[u8], depth: u8) -> Option<Segment> {
    let flags = be16(b, 0)?;
    if flags & 0x4007 != 0 {
        return None; // routing present, or not version 0 (PPTP's GRE)
    }
    let words = [0x8000u16, 0x2000, 0x1000]
        .iter()
        .filter(|bit| flags & **bit != 0)
        .count();
    let inner = b.get(4 + 4 * words..)?;
    encapsulated(be16(b, 2)?, inner, depth)
}

/// What a tunnel carries, by EtherType: IPv4, IPv6 or a whole Ethernet frame.
fn encapsulated(proto: u16, inner: &[u8], depth: u8) -> Option<Segment> {
    match proto {
        0x0800 => decode_in(LINKTYPE_IPV4, inner, depth + 1),
        0x86DD => decode_in(LINKTYPE_IPV6, inner, depth + 1),
        0x6558 => decode_in(LINKTYPE_ETHERNET, inner, depth + 1),
        _ => None,
    }
}

/// UDP to VXLAN's port (4789: eight bytes, then Ethernet) or Geneve's (6081:
/// eight bytes and the options its length says, then its protocol).
fn udp(b: &[u8], depth: u8) -> Option<Segment> {
    let payload = b.get(8..)?;
    match be16(b, 2)? {
        4789 => decode_in(LINKTYPE_ETHERNET, payload.get(8..)?, depth + 1),
        6081 => {
            let opts = usize::from(payload.first()? & 0x3f) * 4;
            encapsulated(be16(payload, 2)?, payload.get(8 + opts..)?, depth)
        }
        _ => None,
    }
}

fn ip(b: &[u8], depth: u8) -> Option<Segment> {
    match b.first()? >> 4 {
        4 => ipv4(b, depth),
        6 => ipv6(b, depth),
        _ => None,
    }
}

/// Why a frame [`decode`] gives nothing for was not read: its link type, or
/// the EtherType it carries, is none this module reads. `None` when it was
/// read and is simply not TCP (ARP, UDP, ICMP, a cut header, ...). For the
/// message a capture full of unread frames gets, instead of a silent 0.
pub fn not_understood(linktype: u16, frame: &[u8]) -> Option<String> {
    let ty = match linktype {
        LINKTYPE_ETHERNET => be16(frame, 12),
        LINKTYPE_LINUX_SLL => be16(frame, 14),
        LINKTYPE_LINUX_SLL2 => be16(frame, 0),
        LINKTYPE_NULL | LINKTYPE_LOOP | LINKTYPE_RAW | 12 | 14 | LINKTYPE_IPV4 | LINKTYPE_IPV6
        | LINKTYPE_PPP | LINKTYPE_NFLOG => return None,
        other => return Some(format!("link type {other}")),
    }?;
    // Through the tags, to the EtherType they carry.
    let mut ty = ty;
    let mut at = match linktype {
        LINKTYPE_ETHERNET => 14,
        LINKTYPE_LINUX_SLL => 16,
        _ => 20,
    };
    while matches!(ty, 0x8100 | 0x88A8 | 0x9100) {
        ty = be16(frame, at + 2)?;
        at += 4;
    }
    // What this module reads, and what is known not to carry TCP: ARP,
    // RARP, PPPoE discovery, LACP, EAPOL, LLDP, an 802.3 length field.
    let known = [
        0x0800, 0x86DD, 0x8864, 0x8847, 0x8848, 0x0806, 0x8035, 0x8863, 0x8809, 0x888E, 0x88CC,
    ];
    if ty < 0x0600 || known.contains(&ty) {
        None
    } else {
        Some(format!("EtherType {ty:#06x}"))
    }
}

fn ipv4(b: &[u8], depth: u8) -> Option<Segment> {
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
    if frag & 0x1fff != 0 {
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
    let rest = &b[ihl..];
    match b[9] {
        6 => tcp(src.into(), dst.into(), rest, ip_payload),
        47 => gre(rest.get(..ip_payload.min(rest.len()))?, depth),
        17 => udp(rest.get(..ip_payload.min(rest.len()))?, depth),
        _ => None,
    }
}

fn ipv6(b: &[u8], depth: u8) -> Option<Segment> {
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
            47 => return gre(rest.get(..payload.min(rest.len()))?, depth),
            17 => return udp(rest.get(..payload.min(rest.len()))?, depth),
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

    /// An IPv4 packet of protocol `proto` around `payload`.
    fn ipv4_of(proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut b = ipv4_bytes([192, 0, 2, 1], [192, 0, 2, 2], payload);
        b[9] = proto;
        b
    }

    fn udp_to(port: u16, payload: &[u8]) -> Vec<u8> {
        let mut u = vec![0x30, 0x39];
        u.extend_from_slice(&port.to_be_bytes());
        u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        u
    }

    #[test]
    fn ppp_pppoe_mpls_nflog_and_tunnels_give_the_tcp_inside() {
        let ip4 = v4seg();
        let want = decode(LINKTYPE_RAW, &ip4).unwrap();
        let cat = |parts: &[&[u8]]| parts.concat();
        let mut nflog = cat(&[
            &[2, 0, 0, 0],
            &8u16.to_le_bytes(),
            &1u16.to_le_bytes(),
            &[0; 4],
        ]);
        nflog.extend_from_slice(&((4 + ip4.len()) as u16).to_le_bytes());
        nflog.extend_from_slice(&9u16.to_le_bytes());
        nflog.extend_from_slice(&ip4);
        nflog.resize(nflog.len().next_multiple_of(4), 0);
        let pppoe = cat(&[
            &[0x11, 0, 0, 1],
            &((2 + ip4.len()) as u16).to_be_bytes(),
            &[0, 0x21],
            &ip4,
        ]);
        // Two labels, the second at the bottom of the stack.
        let mpls = cat(&[&[0, 0, 0x10, 64], &[0, 0, 0x21, 64], &ip4]);
        let inner_eth = eth(0x0800, &ip4);
        let vxlan = cat(&[&[0x08, 0, 0, 0, 0, 0, 42, 0], &inner_eth]);
        let geneve = cat(&[&[1, 0, 0x65, 0x58, 0, 0, 42, 0], &[0; 4], &inner_eth]);
        let cases: Vec<(&str, u16, Vec<u8>)> = vec![
            ("PPP", LINKTYPE_PPP, cat(&[&[0xff, 0x03, 0x00, 0x21], &ip4])),
            (
                "PPP, one-byte protocol",
                LINKTYPE_PPP,
                cat(&[&[0x21], &ip4]),
            ),
            ("PPPoE", LINKTYPE_ETHERNET, eth(0x8864, &pppoe)),
            ("MPLS", LINKTYPE_ETHERNET, eth(0x8847, &mpls)),
            ("NFLOG", LINKTYPE_NFLOG, nflog),
            (
                "GRE",
                LINKTYPE_IPV4,
                ipv4_of(47, &cat(&[&[0, 0, 0x08, 0], &ip4])),
            ),
            (
                "GRE with a key",
                LINKTYPE_IPV4,
                ipv4_of(47, &cat(&[&[0x20, 0, 0x08, 0], &[0, 0, 0, 7], &ip4])),
            ),
            (
                "GRE around Ethernet",
                LINKTYPE_IPV4,
                ipv4_of(47, &cat(&[&[0, 0, 0x65, 0x58], &inner_eth])),
            ),
            (
                "VXLAN",
                LINKTYPE_ETHERNET,
                eth(0x0800, &ipv4_of(17, &udp_to(4789, &vxlan))),
            ),
            ("Geneve", LINKTYPE_IPV4, ipv4_of(17, &udp_to(6081, &geneve))),
        ];
        for (what, lt, frame) in cases {
            assert_eq!(decode(lt, &frame), Some(want), "{what}");
            assert_eq!(not_understood(lt, &frame), None, "{what}");
        }
        // A tunnel in a tunnel in ... stops at MAX_DEPTH.
        let mut deep = ip4.clone();
        for _ in 0..=MAX_DEPTH {
            deep = ipv4_of(47, &cat(&[&[0, 0, 0x08, 0], &deep]));
        }
        assert_eq!(decode(LINKTYPE_IPV4, &deep), None);
        // UDP to another port is just UDP.
        assert_eq!(
            decode(LINKTYPE_IPV4, &ipv4_of(17, &udp_to(53, &vxlan))),
            None
        );
    }

    #[test]
    fn what_is_not_read_is_named() {
        assert_eq!(not_understood(999, b"xx"), Some("link type 999".into()));
        let ip4 = v4seg();
        assert_eq!(
            not_understood(LINKTYPE_ETHERNET, &eth(0x88b5, &ip4)),
            Some("EtherType 0x88b5".into())
        );
        // Behind a VLAN tag too.
        let tagged = [&[0, 5, 0x88, 0xb5][..], &ip4].concat();
        assert_eq!(
            not_understood(LINKTYPE_ETHERNET, &eth(0x8100, &tagged)),
            Some("EtherType 0x88b5".into())
        );
        // ARP, UDP, and the link types this module reads are no news.
        assert_eq!(
            not_understood(LINKTYPE_ETHERNET, &eth(0x0806, &[0; 28])),
            None
        );
        assert_eq!(
            not_understood(LINKTYPE_IPV4, &ipv4_of(17, &udp_to(53, b""))),
            None
        );
        assert_eq!(not_understood(LINKTYPE_PPP, b"\xff\x03"), None);
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
