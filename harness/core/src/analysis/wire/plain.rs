//! The common frame read at once: Ethernet, then IPv4 without options and
//! not a fragment, or IPv6 with TCP as its first next header, then TCP.
//!
//! Contract: [`plain_tcp`] gives a segment exactly when [`decode_frame`]
//! gives [`Decoded::Tcp`] for the frame and [`Decoded::on_wire`] is applied,
//! and the same segment; `None` only says "not this shape, ask
//! [`decode_frame`]". It never decides that a frame is not TCP. A test
//! holds it to that on every frame of the corpus and on corrupted copies of
//! them (`plain_tests`).
//!
//! Why it exists: nearly every frame of a large capture has this shape, and
//! the layered decoder's loop moves its [`Next`](super::repr::Next) from
//! layer to layer, half the replay reader's time on the benchmark's
//! capture. Reading the offsets directly takes a few comparisons.
//!
//! [`decode_frame`]: super::decode_frame
//! [`Decoded::Tcp`]: super::Decoded::Tcp
//! [`Decoded::on_wire`]: super::Decoded::on_wire

use super::ip;
use super::repr::{be16, Decoded, Next, Segment, LINKTYPE_ETHERNET};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The Ethernet header's length: two addresses and the EtherType.
const ETHERNET: usize = 14;

/// The frame's segment when it has the plain shape (see the module's
/// contract); `orig_len` is the frame's length on the wire.
#[inline]
pub fn plain_tcp(linktype: u16, frame: &[u8], orig_len: u32) -> Option<Segment> {
    if linktype != LINKTYPE_ETHERNET {
        return None;
    }
    let packet = frame.get(ETHERNET..)?;
    let (src, dst, tcp, payload) = match be16(frame, 12)? {
        0x0800 => ipv4(packet)?,
        0x86DD => ipv6(packet)?,
        _ => return None,
    };
    // The TCP layer's own reading, and the wire length's cut, as
    // `Frames::segment` applies it to what the layers give.
    match ip::tcp(src, dst, tcp, payload)? {
        Next::Done(d @ Decoded::Tcp(..)) => match d.on_wire(frame.len(), orig_len) {
            Decoded::Tcp(s, _) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// The addresses, the TCP header on, and the IP payload's length (from
/// the header; what was captured when it says 0, as `ip::ipv4` reads it).
#[inline]
fn ipv4(b: &[u8]) -> Option<(IpAddr, IpAddr, &[u8], usize)> {
    // Version 4, a 20-byte header (no options: no source route to follow).
    if *b.first()? != 0x45 || b.len() < 20 {
        return None;
    }
    // Not a fragment, nor a first one (more fragments, or an offset), and TCP.
    if be16(b, 6)? & 0x3fff != 0 || b[9] != 6 {
        return None;
    }
    let total = usize::from(be16(b, 2)?);
    let payload = if total == 0 {
        b.len() - 20
    } else {
        total.checked_sub(20)?
    };
    let src = IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(b[16], b[17], b[18], b[19]));
    Some((src, dst, &b[20..], payload))
}

/// As [`ipv4`], for IPv6 whose first next header is TCP.
#[inline]
fn ipv6(b: &[u8]) -> Option<(IpAddr, IpAddr, &[u8], usize)> {
    if b.len() < 40 || b[0] >> 4 != 6 || b[6] != 6 {
        return None;
    }
    let plen = usize::from(be16(b, 4)?);
    let rest = &b[40..];
    let payload = if plen == 0 { rest.len() } else { plen };
    let src: [u8; 16] = b[8..24].try_into().ok()?;
    let dst: [u8; 16] = b[24..40].try_into().ok()?;
    Some((
        IpAddr::V6(Ipv6Addr::from(src)),
        IpAddr::V6(Ipv6Addr::from(dst)),
        rest,
        payload,
    ))
}
