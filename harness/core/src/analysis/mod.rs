//! Capture analysis: capture files to TCP segments, segments to connections,
//! classifications and teardown verdicts.
//!
//! Contract: every decoder here takes arbitrary bytes and never panics; what
//! it cannot decode it skips (frames that are not TCP) or reports with a byte
//! offset (files: [`CaptureError`]). Pure: the only I/O is reading the
//! `Read` it is handed.
//!
//! - [`pcap`]: pcap/pcapng records, streamed ([`CaptureReader`]).
//! - [`wire`]: link/IP/TCP headers to a [`wire::Segment`].
//! - [`defrag`]: IP fragments to whole datagrams.
//! - [`Frames`]: a capture's frames to segments, through reassembly and
//!   IPComp's DEFLATE, counting what was not read ([`NotRead`]).
//! - [`conn`]: per-connection analysis ([`conn::Analyzer`]), Wireshark's names.
//!
//! [`read_capture`] loads a whole capture into the shared evidence types;
//! [`for_each_frame`] streams one with memory bounded by one block.

pub mod conn;
pub mod defrag;
mod frames;
pub mod pcap;
pub mod wire;

pub use frames::{Frames, NotRead};

pub use pcap::{CaptureError, CaptureReader};

use crate::evidence::{Event, Evidence, Packet, Side, HARNESS};
use crate::scenario::terms::EventKind;
use conn::{Analyzer, ConnSummary, SegInfo};
use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};

/// Decodes one Ethernet frame into a TCP segment, or `None` when it is not
/// TCP over IPv4/IPv6 (ARP, ICMP, truncated, ...).
pub fn decode_ethernet(ts_ns: u64, port: &str, frame: &[u8]) -> Option<Packet> {
    wire::decode(wire::LINKTYPE_ETHERNET, frame).map(|s| to_packet(ts_ns, port, &s))
}

fn to_packet(ts_ns: u64, port: &str, s: &wire::Segment) -> Packet {
    Packet {
        ts_ns,
        port: port.to_string(),
        src: s.src,
        dst: s.dst,
        flags: s.flags,
        seq: s.seq,
        ack: s.ack,
        len: s.len,
        win: s.win,
    }
}

/// A whole capture, as the shared evidence types.
#[derive(Clone, Debug, Default)]
pub struct CaptureData {
    /// TCP segments in file order; `port` is the pcapng interface name
    /// (`capture` for pcap files and a lone unnamed interface).
    pub packets: Vec<Packet>,
    /// Packet comments with their packet's timestamp (pcapng `opt_comment`;
    /// the harness writes `teardown: <kind> <detail>`). Comments on frames
    /// that are not TCP are kept too.
    pub comments: Vec<(u64, String)>,
    /// Interface names, in order of appearance (all sections).
    pub interfaces: Vec<String>,
    /// Frames read, TCP or not.
    pub frames: u64,
    /// Per packet, its frame's number in the file (1-based, every frame
    /// counted, as Wireshark's `frame.number`).
    pub frame_numbers: Vec<u64>,
    /// The first frame's time, TCP or not (Wireshark's time zero).
    pub first_frame_ns: Option<u64>,
    /// Where reading stopped early: the file ends inside its last record
    /// (copied while still being written; the error's `cut_short`) or a
    /// record is damaged. Everything before it was read.
    pub stopped: Option<CaptureError>,
    /// Frames the decoder does not read ([`wire::Unread`]), and IP
    /// fragments never completed, by what they were, with their count.
    pub not_read: NotRead,
}

/// What streaming a capture found besides its segments.
#[derive(Debug, Default)]
pub struct Streamed {
    /// Frames read, TCP or not.
    pub frames: u64,
    /// Where reading stopped early, if it did (as [`CaptureData::stopped`]).
    pub stopped: Option<CaptureError>,
    pub not_read: NotRead,
}

/// One frame as [`for_each_frame`] streams it.
pub struct Seen<'a> {
    /// The frame's number in the file (1-based, every frame counted, as
    /// Wireshark's `frame.number`).
    pub frame: u64,
    pub ts_ns: u64,
    /// The pcapng interface name (`capture` for pcap files).
    pub port: &'a str,
    /// Its packet comment (pcapng `opt_comment`), if any.
    pub comment: Option<&'a str>,
    /// Its TCP segment, when it carries one.
    pub seg: Option<wire::Segment>,
}

/// Streams a capture: calls `f` for every frame, in file order, with its
/// TCP segment decoded. Returns the number of frames read, the frames not
/// read (named by [`wire::decode_frame`]), and, for a file that ends
/// inside its last record or has a damaged one, where (as [`read_capture`]).
pub fn for_each_frame<R: Read>(src: R, mut f: impl FnMut(&Seen)) -> Result<Streamed, CaptureError> {
    let mut r = CaptureReader::new(src)?;
    let mut out = Streamed::default();
    let mut frames = Frames::default();
    loop {
        let frame = match r.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                out.stopped = Some(e);
                break;
            }
        };
        out.frames += 1;
        let seg = frames.segment(frame.linktype, frame.data, frame.orig_len);
        f(&Seen {
            frame: out.frames,
            ts_ns: frame.ts_ns,
            port: frame.iface_name,
            comment: frame.comment,
            seg,
        });
    }
    out.not_read = frames.finish();
    Ok(out)
}

/// The interface names a capture declares before its first frame (pcapng
/// interface blocks; `capture` for a pcap file), or `None` if it does not
/// begin as a capture. Tells whether a capture is the harness's two-port one.
pub fn leading_interfaces<R: Read>(src: R) -> Option<Vec<String>> {
    let mut r = CaptureReader::new(src).ok()?;
    let _ = r.next_frame();
    Some(r.interfaces().iter().map(|i| i.name.clone()).collect())
}

/// Reads a whole capture (pcap or pcapng) into memory. A file that ends
/// inside its last record (tcpdump still writing it), or whose record is
/// damaged, is read up to there, like tcpdump and tshark do, with
/// [`CaptureData::stopped`] saying where; a file that does not begin as a
/// capture is an error.
pub fn read_capture<R: Read>(src: R) -> Result<CaptureData, CaptureError> {
    let mut data = CaptureData::default();
    let mut r = CaptureReader::new(src)?;
    let mut frames = Frames::default();
    loop {
        let frame = match r.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                data.stopped = Some(e);
                break;
            }
        };
        data.frames += 1;
        data.first_frame_ns.get_or_insert(frame.ts_ns);
        if let Some(text) = frame.comment {
            data.comments.push((frame.ts_ns, text.to_string()));
        }
        let Some(seg) = frames.segment(frame.linktype, frame.data, frame.orig_len) else {
            continue;
        };
        let port = frame.iface_name;
        if !data.interfaces.iter().any(|i| i == port) {
            data.interfaces.push(port.to_string());
        }
        data.packets.push(to_packet(frame.ts_ns, port, &seg));
        data.frame_numbers.push(data.frames);
    }
    data.not_read = frames.finish();
    Ok(data)
}

/// Per-packet analysis of a loaded capture: (per packet info, summaries).
/// In the packets' order, which is the file's (as Wireshark and tcpdump
/// read a capture whose timestamps go backwards: the later copy in the file
/// is the retransmission); a run's evidence holds them by time.
pub fn analyze_evidence(ev: &Evidence) -> (Vec<SegInfo>, Vec<ConnSummary>) {
    let mut a = Analyzer::new(ev.client_ips.clone());
    let mut ports = PortIndex::default();
    let infos = ev
        .packets
        .iter()
        .map(|p| a.push(p.ts_ns, ports.get(&p.port), &segment_of(p)))
        .collect();
    (infos, a.finish())
}

/// The harness's events from packet comments `teardown: <kind> <detail>`
/// (a comment whose kind is no [`EventKind`] is not one of them).
pub fn comment_events(comments: &[(u64, String)]) -> Vec<Event> {
    comments
        .iter()
        .filter_map(|(ts, text)| {
            let rest = text.strip_prefix("teardown:")?.trim();
            let (kind, detail) = match rest.split_once(' ') {
                Some((k, d)) => (k, Some(d.trim().to_string())),
                None => (rest, None),
            };
            Some(Event {
                detail,
                ..Event::new(*ts, HARNESS, EventKind::parse(kind)?)
            })
        })
        .collect()
}

/// Whether the capture comes from the harness (its wire port names).
pub fn is_harness_capture(interfaces: &[String]) -> bool {
    interfaces
        .iter()
        .any(|i| i == "client-port" || i == "server-port")
}

/// The harness's fixed addresses as (client, server) lists.
pub fn harness_ips() -> (Vec<IpAddr>, Vec<IpAddr>) {
    use crate::evidence::addr::*;
    (
        vec![CLIENT_V4.into(), CLIENT_V6.into()],
        vec![SERVER_V4.into(), SERVER_V6.into()],
    )
}

/// Evidence from a capture alone: packets, harness events from comments;
/// the harness's addresses for its captures, else the clients and servers
/// the connection analysis found (the SYN's sender is the client).
pub fn evidence_from_capture(data: &CaptureData) -> Evidence {
    let (mut client_ips, mut server_ips) = if is_harness_capture(&data.interfaces) {
        harness_ips()
    } else {
        (Vec::new(), Vec::new())
    };
    if client_ips.is_empty() {
        let mut a = conn::Analyzer::new(Vec::new());
        let mut ports = PortIndex::default();
        for p in &data.packets {
            a.push(p.ts_ns, ports.get(&p.port), &segment_of(p));
        }
        for c in a.finish() {
            if !client_ips.contains(&c.client.ip()) && !server_ips.contains(&c.client.ip()) {
                client_ips.push(c.client.ip());
            }
            if !server_ips.contains(&c.server.ip()) && !client_ips.contains(&c.server.ip()) {
                server_ips.push(c.server.ip());
            }
        }
    }
    let events = comment_events(&data.comments);
    // Time zero: the first frame's, TCP or not (Wireshark's), else the earliest.
    let start_ns = data.first_frame_ns.unwrap_or_else(|| {
        data.packets
            .iter()
            .map(|p| p.ts_ns)
            .chain(events.iter().map(|e| e.ts_ns))
            .min()
            .unwrap_or(0)
    });
    let end_ns = data
        .packets
        .iter()
        .map(|p| p.ts_ns)
        .chain(events.iter().map(|e| e.ts_ns))
        .max()
        .unwrap_or(0);
    Evidence {
        client_ips,
        server_ips,
        packets: data.packets.clone(),
        events,
        start_ns,
        end_ns,
        ..Evidence::default()
    }
}

/// Port names to small indices (for [`conn::Analyzer::push`]).
#[derive(Default)]
pub struct PortIndex(HashMap<String, usize>);

impl PortIndex {
    pub fn get(&mut self, name: &str) -> usize {
        if let Some(i) = self.0.get(name) {
            return *i;
        }
        let i = self.0.len();
        self.0.insert(name.to_string(), i);
        i
    }
}

/// A shared-type packet back to a segment.
pub fn segment_of(p: &Packet) -> wire::Segment {
    wire::Segment {
        src: p.src,
        dst: p.dst,
        flags: p.flags,
        seq: p.seq,
        ack: p.ack,
        len: p.len,
        win: p.win,
    }
}

/// One segment on the wire: the copy seen on the sender's port and the copy
/// seen on the receiver's port (indices into `Evidence::packets`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireSeg {
    /// The first copy (the sender's port when known).
    pub sent: usize,
    /// The copy on the receiver's port; `None` if it never got there.
    pub received: Option<usize>,
    /// Seen on the sender's port and not on the receiver's: lost in the wire.
    pub lost: bool,
}

/// Pairs the copies of each segment on `client-port` and `server-port`.
///
/// A segment from the client is sent on `client-port` and received on
/// `server-port` (and the reverse for the server). Each copy on the
/// receiver's port belongs to the latest identical copy (same direction,
/// seq, ack, flags, len) sent on the sender's port at most [`RX_EARLY`]
/// after it and at most [`RX_LATE`] before it: the wire takes microseconds,
/// so of two identical segments (a repeated pure ACK) the one that arrived
/// is the one sent just before, never an older copy the wire dropped.
///
/// A data segment without an identical copy on the far port is received when
/// its bytes are, in whatever segments (a capture behind GRO on one port and
/// not the other shows one large frame where the other shows five): it is
/// lost only when some of its bytes reach the far port in no segment of its
/// direction within that window. Captures without both ports give one
/// unpaired, not-lost [`WireSeg`] per packet. Ordered by the first copy's time.
pub fn wire_segments(ev: &Evidence) -> Vec<WireSeg> {
    let has = |n: &str| ev.packets.iter().any(|p| p.port == n);
    let mut order: Vec<usize> = (0..ev.packets.len()).collect();
    order.sort_by_key(|&i| (ev.packets[i].ts_ns, i));
    if !(has("client-port") && has("server-port")) {
        return order.into_iter().map(unpaired).collect();
    }
    // Sender-port copies by key, and every receiver-port copy, in time order.
    let mut sent_by_key: HashMap<CopyKey, Vec<usize>> = HashMap::new();
    let mut arrived = Vec::new();
    for &i in &order {
        let p = &ev.packets[i];
        if let Some((tx, rx)) = wire_ports(ev, p) {
            if p.port == tx {
                sent_by_key.entry(copy_key(p)).or_default().push(i);
            } else if p.port == rx {
                arrived.push(i);
            }
        }
    }
    let mut received: HashMap<usize, usize> = HashMap::new();
    let mut used = vec![false; ev.packets.len()];
    for &r in &arrived {
        let t = ev.packets[r].ts_ns;
        let Some(sent) = sent_by_key.get(&copy_key(&ev.packets[r])) else {
            continue;
        };
        // The latest copy sent no later than RX_EARLY after the arrival.
        let upto = sent.partition_point(|&i| ev.packets[i].ts_ns <= t + RX_EARLY);
        let found = sent[..upto]
            .iter()
            .rev()
            .take_while(|&&i| ev.packets[i].ts_ns + RX_LATE >= t)
            .find(|&&i| !received.contains_key(&i));
        if let Some(&i) = found {
            received.insert(i, r);
            used[r] = true;
        }
    }
    let by_bytes = bytes_arrived(ev, &arrived);
    let mut out = Vec::new();
    for &i in &order {
        let p = &ev.packets[i];
        let Some((tx, _)) = wire_ports(ev, p) else {
            out.push(unpaired(i));
            continue;
        };
        if p.port != tx {
            continue;
        }
        let got = match received.get(&i) {
            Some(&r) => Some(r),
            None if p.len > 0 => by_bytes.covering(ev, p, &mut used),
            None => None,
        };
        out.push(WireSeg {
            sent: i,
            received: got,
            lost: got.is_none(),
        });
    }
    // Receiver-port copies nobody sent (the capture started late, ...).
    for &i in &arrived {
        if !used[i] {
            out.push(unpaired(i));
        }
    }
    out.sort_by_key(|w| (ev.packets[w.sent].ts_ns, w.sent));
    out
}

/// How much earlier than its send a copy may be stamped on the far port (the
/// two ports' stamps come from one clock, taken on different CPUs).
const RX_EARLY: u64 = 1_000_000;
/// How long after its send a copy may reach the far port.
const RX_LATE: u64 = 2_000_000_000;

/// The data segments that reached each receiver's port, by direction, in
/// time order: where a segment's bytes are looked for.
struct BytesArrived(HashMap<(SocketAddr, SocketAddr), Vec<usize>>);

fn bytes_arrived(ev: &Evidence, arrived: &[usize]) -> BytesArrived {
    let mut m: HashMap<(SocketAddr, SocketAddr), Vec<usize>> = HashMap::new();
    for &i in arrived {
        let p = &ev.packets[i];
        if p.len > 0 {
            m.entry((p.src, p.dst)).or_default().push(i);
        }
    }
    BytesArrived(m)
}

impl BytesArrived {
    /// The first far-port segment holding some of `p`'s bytes, when all of
    /// them arrived within the window; those segments are then `used`.
    fn covering(&self, ev: &Evidence, p: &Packet, used: &mut [bool]) -> Option<usize> {
        let cands = self.0.get(&(p.src, p.dst))?;
        let from = cands.partition_point(|&i| ev.packets[i].ts_ns + RX_EARLY < p.ts_ns);
        let window = cands[from..]
            .iter()
            .copied()
            .take_while(|&i| ev.packets[i].ts_ns <= p.ts_ns + RX_LATE);
        // Byte offsets relative to p.seq (sequence numbers wrap).
        let mut pieces: Vec<(i64, i64, usize)> = window
            .filter_map(|i| {
                let q = &ev.packets[i];
                let start = i64::from(q.seq.wrapping_sub(p.seq) as i32);
                let end = start + i64::from(q.len);
                (end > 0 && start < i64::from(p.len)).then_some((start, end, i))
            })
            .collect();
        pieces.sort_unstable();
        let mut reached = 0i64;
        for &(start, end, _) in &pieces {
            if start > reached {
                break;
            }
            reached = reached.max(end);
        }
        if reached < i64::from(p.len) {
            return None;
        }
        for &(_, _, i) in &pieces {
            used[i] = true;
        }
        pieces
            .iter()
            .map(|&(_, _, i)| i)
            .min_by_key(|&i| ev.packets[i].ts_ns)
    }
}

/// What two copies of one segment on the two ports share: addresses, seq,
/// ack, flags, length.
type CopyKey = (SocketAddr, SocketAddr, u32, u32, u16, u32);

fn copy_key(p: &Packet) -> CopyKey {
    (p.src, p.dst, p.seq, p.ack, p.flags.0, p.len)
}

/// (sender's port, receiver's port) of a packet, by who sent it.
fn wire_ports(ev: &Evidence, p: &Packet) -> Option<(&'static str, &'static str)> {
    match ev.sender(p) {
        Some(Side::Client) => Some(("client-port", "server-port")),
        Some(Side::Server) => Some(("server-port", "client-port")),
        None => None,
    }
}

/// A packet seen once: neither paired nor lost.
fn unpaired(i: usize) -> WireSeg {
    WireSeg {
        sent: i,
        received: None,
        lost: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::TcpFlags;

    fn pkt(ts: u64, port: &str, from_client: bool, flags: &str, seq: u32) -> Packet {
        let c: std::net::SocketAddr = "198.18.0.1:40000".parse().unwrap();
        let s: std::net::SocketAddr = "198.18.0.2:8080".parse().unwrap();
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        Packet {
            ts_ns: ts,
            port: port.into(),
            src,
            dst,
            flags: TcpFlags::parse_tcpdump(flags).unwrap(),
            seq,
            ack: 1,
            len: 0,
            win: 100,
        }
    }

    #[test]
    fn lost_in_the_wire() {
        let (client_ips, server_ips) = harness_ips();
        let ev = Evidence {
            client_ips,
            server_ips,
            packets: vec![
                pkt(10, "client-port", true, "F.", 5),
                pkt(20, "server-port", true, "F.", 5),
                pkt(30, "server-port", false, ".", 1),
                pkt(40, "client-port", false, ".", 1),
                // Cut: the retransmission reaches only client-port.
                pkt(1_000, "client-port", true, "P.", 6),
            ],
            ..Evidence::default()
        };
        let w = wire_segments(&ev);
        assert_eq!(
            w,
            vec![
                WireSeg {
                    sent: 0,
                    received: Some(1),
                    lost: false
                },
                WireSeg {
                    sent: 2,
                    received: Some(3),
                    lost: false
                },
                WireSeg {
                    sent: 4,
                    received: None,
                    lost: true
                },
            ]
        );
    }

    fn data(ts: u64, port: &str, seq: u32, len: u32) -> Packet {
        Packet {
            len,
            ..pkt(ts, port, true, "P.", seq)
        }
    }

    fn two_ports(packets: Vec<Packet>) -> Evidence {
        let (client_ips, server_ips) = harness_ips();
        Evidence {
            client_ips,
            server_ips,
            packets,
            ..Evidence::default()
        }
    }

    #[test]
    fn packets_are_analysed_in_file_order_as_tshark_does() {
        // The second copy in the file is stamped earlier: still the
        // retransmission (tshark reads frames in file order).
        let mut first = data(50_000_000, "capture", 101, 10);
        first.ack = 501;
        let mut second = data(40_000_000, "capture", 101, 10);
        second.ack = 501;
        let ev = Evidence {
            packets: vec![first, second],
            ..Evidence::default()
        };
        let (infos, _) = analyze_evidence(&ev);
        assert!(infos[0].classes.names().is_empty());
        assert_eq!(infos[1].classes.names(), vec!["retransmission"]);
    }

    #[test]
    fn an_arrival_belongs_to_the_latest_identical_copy_sent_before_it() {
        // The server's pure ACK is dropped by the wire; an identical one a
        // second later gets through: that one arrived, the first was lost
        // (the first copy must not take the second's arrival).
        let ev = two_ports(vec![
            pkt(1_000, "server-port", false, ".", 1),
            pkt(1_000_001_000, "server-port", false, ".", 1),
            pkt(1_000_002_000, "client-port", false, ".", 1),
        ]);
        let w = wire_segments(&ev);
        assert_eq!(
            w,
            vec![
                WireSeg {
                    sent: 0,
                    received: None,
                    lost: true
                },
                WireSeg {
                    sent: 1,
                    received: Some(2),
                    lost: false
                },
            ]
        );
    }

    #[test]
    fn a_segment_is_lost_only_when_its_bytes_never_arrive() {
        // One 7,240-byte frame on the sender's port (behind GRO), five MSS
        // segments on the far port: received, with the first of them, and
        // none of the five is left over.
        let mut v = vec![data(1_000, "client-port", 1, 7240)];
        for k in 0..5u32 {
            v.push(data(
                2_000 + u64::from(k),
                "server-port",
                1 + k * 1448,
                1448,
            ));
        }
        let w = wire_segments(&two_ports(v.clone()));
        assert_eq!(
            w,
            vec![WireSeg {
                sent: 0,
                received: Some(1),
                lost: false
            }]
        );
        // The reverse: five segments sent, one frame on the far port.
        let mut r: Vec<Packet> = (0..5u32)
            .map(|k| data(1_000 + u64::from(k), "client-port", 1 + k * 1448, 1448))
            .collect();
        r.push(data(2_000, "server-port", 1, 7240));
        let w = wire_segments(&two_ports(r));
        assert_eq!(w.len(), 5);
        assert!(w.iter().all(|s| s.received == Some(5) && !s.lost), "{w:?}");
        // The last segment's bytes never arrive: the big frame is lost.
        v.pop();
        let w = wire_segments(&two_ports(v));
        assert!(w[0].lost, "{w:?}");
        // Bytes arriving more than 2 s later do not count.
        let w = wire_segments(&two_ports(vec![
            data(1_000, "client-port", 1, 1448),
            data(3_000_001_000, "server-port", 1, 1448),
        ]));
        assert!(w[0].lost, "{w:?}");
    }

    #[test]
    fn comments_become_events() {
        let e = comment_events(&[
            (5, "teardown: fault cut".into()),
            (6, "hello".into()),
            (7, "teardown: exploded now".into()),
            (8, "teardown: step".into()),
        ]);
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].kind, e[0].detail.as_deref()),
            (EventKind::Fault, Some("cut"))
        );
        assert_eq!((e[1].kind, e[1].detail.as_deref()), (EventKind::Step, None));
    }
}
