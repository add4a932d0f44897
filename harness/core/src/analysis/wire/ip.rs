//! IPv4, IPv6 and TCP: an IP packet to the segment (or tunnel) it carries.

use super::repr::{be16, be32, Compressed, Decoded, FragKey, Fragment, Next, Segment, Unread};
use crate::evidence::TcpFlags;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// An IP packet of either version, told by its version nibble.
#[inline]
pub(super) fn ip(b: &[u8]) -> Option<Next<'_>> {
    match b.first()? >> 4 {
        4 => Some(Next::Ipv4(b)),
        6 => Some(Next::Ipv6(b)),
        _ => None,
    }
}

#[inline]
pub(super) fn ipv4(b: &[u8]) -> Option<Next<'_>> {
    let vihl = *b.first()?;
    if vihl >> 4 != 4 {
        return None;
    }
    let ihl = (vihl & 0x0f) as usize * 4;
    if ihl < 20 || b.len() < ihl {
        return None;
    }
    let total = be16(b, 2)? as usize;
    // Total length 0 happens with TSO on the sending host: use what was captured.
    let ip_payload = if total == 0 {
        b.len() - ihl
    } else {
        total.checked_sub(ihl)?
    };
    let src = IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15]));
    let dst = IpAddr::V4(
        final_destination(&b[20..ihl]).unwrap_or(Ipv4Addr::new(b[16], b[17], b[18], b[19])),
    );
    let rest = &b[ihl..];
    let frag = be16(b, 6)?;
    let offset = u32::from(frag & 0x1fff) * 8;
    // More fragments, or not the first one; a first fragment the snaplen
    // cut is read as it is (Wireshark reassembles only what it holds whole).
    if frag & 0x3fff != 0 && !(offset == 0 && rest.len() < ip_payload) {
        let key = FragKey {
            src,
            dst,
            id: u32::from(be16(b, 4)?),
            proto: b[9],
        };
        return fragment(key, offset, frag & 0x2000 != 0, rest, ip_payload);
    }
    carried(b[9], src, dst, rest, ip_payload)
}

#[inline]
pub(super) fn ipv6(b: &[u8]) -> Option<Next<'_>> {
    if b.len() < 40 || b[0] >> 4 != 6 {
        return None;
    }
    let plen = be16(b, 4)? as usize;
    let mut next = b[6];
    let src: [u8; 16] = b[8..24].try_into().ok()?;
    let dst: [u8; 16] = b[24..40].try_into().ok()?;
    let (src, dst) = (
        IpAddr::V6(Ipv6Addr::from(src)),
        IpAddr::V6(Ipv6Addr::from(dst)),
    );
    let mut rest = &b[40..];
    let mut payload = if plen == 0 { rest.len() } else { plen };
    for _ in 0..8 {
        match next {
            // Hop-by-hop, routing, destination options.
            0 | 43 | 60 => {
                let hl = (*rest.get(1)? as usize + 1) * 8;
                next = *rest.first()?;
                rest = rest.get(hl..)?;
                payload = payload.checked_sub(hl)?;
            }
            // Fragment: offset, M bit and identification (RFC 8200 4.5).
            44 => {
                let off = be16(rest, 2)?;
                let key = FragKey {
                    src,
                    dst,
                    id: be32(rest, 4)?,
                    proto: *rest.first()?,
                };
                let (offset, more) = (u32::from(off & 0xfff8), off & 1 != 0);
                if offset == 0 && (!more || rest.len() < payload) {
                    // An atomic fragment (RFC 6946): the whole datagram; or
                    // a first fragment cut by the snaplen, read as it is.
                    next = key.proto;
                    rest = rest.get(8..)?;
                    payload = payload.checked_sub(8)?;
                    continue;
                }
                return fragment(key, offset, more, rest.get(8..)?, payload.checked_sub(8)?);
            }
            _ => return carried(next, src, dst, rest, payload),
        }
    }
    None
}

/// The last address of a loose or strict source route option (131, 137):
/// where the packet is going, which Wireshark takes for its destination
/// (and TCP's pseudo-header uses, RFC 791 and RFC 9293 3.1).
#[inline]
fn final_destination(mut opts: &[u8]) -> Option<Ipv4Addr> {
    while let Some(&kind) = opts.first() {
        match kind {
            0 => return None,
            1 => opts = &opts[1..],
            _ => {
                let len = usize::from(*opts.get(1)?);
                let opt = opts.get(..len.max(2))?;
                if matches!(kind, 131 | 137) && len >= 7 {
                    let last = opt.get(len - 4..len)?;
                    return Some(Ipv4Addr::new(last[0], last[1], last[2], last[3]));
                }
                opts = &opts[len.max(2)..];
            }
        }
    }
    None
}

/// What an IP packet's payload is, by its protocol number.
#[inline]
fn carried<'a>(
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    rest: &'a [u8],
    payload: usize,
) -> Option<Next<'a>> {
    let inner = || rest.get(..payload.min(rest.len()));
    match proto {
        6 => tcp(src, dst, rest, payload),
        4 => Some(Next::Ipv4(inner()?)),
        41 => Some(Next::Ipv6(inner()?)),
        47 => Some(Next::Gre(inner()?)),
        17 => Some(Next::Udp(inner()?)),
        // Authentication header (RFC 4302): its length in 4-byte words, less 2.
        51 => {
            let hl = (*rest.get(1)? as usize + 2) * 4;
            carried(
                *rest.first()?,
                src,
                dst,
                rest.get(hl..)?,
                payload.checked_sub(hl)?,
            )
        }
        // IPComp (RFC 3173): next header, flags, CPI. DEFLATE is CPI 2; a
        // CPI of another kind (private, or negotiated by IKE) is tried as
        // DEFLATE too, as Wireshark does; OUI (1), LZS (3) and LZJH (4)
        // are not read.
        108 => match be16(rest, 2)? {
            0 | 2 | 5.. => Some(Next::Done(Decoded::Compressed(Compressed {
                key: FragKey {
                    src,
                    dst,
                    id: 0,
                    proto: *rest.first()?,
                },
                data: rest.get(4..payload.min(rest.len()))?,
            }))),
            _ => Some(Next::Done(Decoded::Unread(Unread::IpComp))),
        },
        _ => None,
    }
}

fn fragment(
    key: FragKey,
    offset: u32,
    more: bool,
    rest: &[u8],
    wire_len: usize,
) -> Option<Next<'_>> {
    Some(Next::Done(Decoded::Fragment(Fragment {
        key,
        offset,
        more,
        data: rest.get(..wire_len.min(rest.len()))?,
        wire_len: u32::try_from(wire_len).ok()?,
    })))
}

#[inline]
pub(super) fn tcp(src: IpAddr, dst: IpAddr, b: &[u8], ip_payload: usize) -> Option<Next<'_>> {
    if b.len() < 20 {
        return None;
    }
    let doff = (b[12] >> 4) as usize * 4;
    if doff < 20 {
        return None;
    }
    let len = ip_payload.checked_sub(doff)?;
    let held = u32::try_from(b.len().saturating_sub(doff)).ok()?;
    let seg = Segment {
        src: SocketAddr::new(src, be16(b, 0)?),
        dst: SocketAddr::new(dst, be16(b, 2)?),
        flags: TcpFlags(u16::from(b[12] & 1) << 8 | u16::from(b[13])),
        seq: be32(b, 4)?,
        ack: be32(b, 8)?,
        len: u32::try_from(len).ok()?,
        win: be16(b, 14)?,
    };
    Some(Next::Done(Decoded::Tcp(seg, held)))
}
