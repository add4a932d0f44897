//! What the layers share: the decoded representations (a segment, a
//! fragment, ...), the link-type numbers, big-endian reads, and [`Next`],
//! the header a layer hands on. A leaf: it uses no other layer.

use crate::evidence::TcpFlags;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// What a layer found: the header that comes next (for the decoder's loop
/// to read), or the answer.
#[derive(Clone, Copy, Debug)]
pub(super) enum Next<'a> {
    /// A frame of a link type (PPI and Aruba's GRE wrap one).
    Link(u16, &'a [u8]),
    Ethernet(&'a [u8]),
    /// What follows an EtherType (tags, LLC/SNAP, PPPoE, MPLS, IP, ...).
    EtherType(u16, &'a [u8]),
    /// IP of either version, told by its version nibble.
    Ip(&'a [u8]),
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
    Gre(&'a [u8]),
    /// A UDP header and its payload.
    Udp(&'a [u8]),
    Done(Decoded<'a>),
}

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

/// What one frame is, when it is not simply "not TCP".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A segment, and how many of its payload bytes the frame holds (the
    /// rest cut by the snaplen, or never there: see [`Decoded::on_wire`]).
    Tcp(Segment, u32),
    /// One fragment of an IP datagram: its TCP (or tunnel) shows only once
    /// the datagram is whole, on the frame that completes it (Wireshark's
    /// default, `ip.defragment`).
    Fragment(Fragment<'a>),
    /// An IPComp payload compressed with DEFLATE (RFC 3173, RFC 2394): the
    /// packet inside shows once inflated (as Wireshark inflates it).
    Compressed(Compressed<'a>),
    /// Something this module does not read, which may carry TCP.
    Unread(Unread),
}

/// A DEFLATE-compressed IP payload and where it belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compressed<'a> {
    /// Addresses of the packet around it; `proto` the header it compresses.
    pub key: FragKey,
    /// The raw DEFLATE stream.
    pub data: &'a [u8],
}

impl Decoded<'_> {
    /// Bounds a segment's length by the frame's length on the wire, as
    /// tcpdump and Wireshark do: the IP header gives the length, but a
    /// frame whose wire length (`orig_len`, not the snaplen's cut) is
    /// shorter than that header says carried only what it had.
    #[inline]
    pub fn on_wire(self, captured: usize, orig_len: u32) -> Self {
        match self {
            Decoded::Tcp(mut s, held) => {
                let cut = u64::from(orig_len).saturating_sub(captured as u64);
                let room = u64::from(held) + cut;
                s.len = s.len.min(u32::try_from(room).unwrap_or(u32::MAX));
                Decoded::Tcp(s, held)
            }
            other => other,
        }
    }
}

/// A link type, EtherType or protocol this module does not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unread {
    LinkType(u16),
    EtherType(u16),
    GreProtocol(u16),
    /// IPComp (108) with an algorithm other than DEFLATE (OUI, LZS, LZJH).
    IpComp,
    /// An 802.11 data frame with its Protected bit: encrypted.
    ProtectedWlan,
}

impl fmt::Display for Unread {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Unread::LinkType(t) => write!(f, "link type {t}"),
            Unread::EtherType(t) => write!(f, "EtherType {t:#06x}"),
            Unread::GreProtocol(t) => write!(f, "GRE protocol {t:#06x}"),
            Unread::IpComp => write!(f, "IPComp (OUI, LZS or LZJH)"),
            Unread::ProtectedWlan => write!(f, "802.11 protected (encrypted)"),
        }
    }
}

/// The datagram an IP fragment belongs to (RFC 791's and RFC 8200's
/// reassembly key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    /// The protocol the datagram carries (IPv6: the fragment header's next header).
    pub proto: u8,
}

/// One IP fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub key: FragKey,
    /// Where its data starts in the datagram's payload, in bytes.
    pub offset: u32,
    /// More fragments follow (the last one has this false).
    pub more: bool,
    /// The fragment's data as captured (no more than its IP length says).
    pub data: &'a [u8],
    /// The data's length on the wire, from the IP header.
    pub wire_len: u32,
}

pub const LINKTYPE_NULL: u16 = 0;
pub const LINKTYPE_ETHERNET: u16 = 1;
pub const LINKTYPE_PPP: u16 = 9;
pub const LINKTYPE_ARCNET_LINUX: u16 = 129;
pub const LINKTYPE_JUNIPER_ETHER: u16 = 178;
pub const LINKTYPE_FDDI: u16 = 10;
pub const LINKTYPE_RAW: u16 = 101;
pub const LINKTYPE_LOOP: u16 = 108;
pub const LINKTYPE_LINUX_SLL: u16 = 113;
pub const LINKTYPE_PPI: u16 = 192;
pub const LINKTYPE_IPV4: u16 = 228;
pub const LINKTYPE_IPV6: u16 = 229;
pub const LINKTYPE_NFLOG: u16 = 239;
pub const LINKTYPE_IPOIB: u16 = 242;
pub const LINKTYPE_LINUX_SLL2: u16 = 276;
/// 802.11 without a radio header (what PPI wraps, and Aruba's GRE carries).
pub const LINKTYPE_IEEE802_11: u16 = 105;

/// Headers opened inside one frame, at most: link, tags, IP, tunnels and
/// what they carry (a tunnel in a tunnel ... stops there).
pub const MAX_DEPTH: u8 = 16;

pub(super) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

pub(super) fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
