//! Connections: segments grouped by 4-tuple, Wireshark's per-segment
//! analysis, and a teardown verdict per connection.
//!
//! Contract: [`Analyzer::push`] takes segments in capture order, one at a
//! time, and returns the segment's classifications at once (one pass, like
//! `tshark` without `-2`), so a capture can be streamed. Memory grows with
//! the connections still open, not with the packets: finished connections
//! are handed out by [`Analyzer::evict`]. Nothing here panics on any input.
//!
//! The classifications follow Wireshark's `tcp_analyze_sequence_number`
//! (epan/dissectors/packet-tcp.c, 4.0) rule by rule, with its names:
//! `retransmission`, `fast_retransmission`, `spurious_retransmission`,
//! `keep_alive`, `keep_alive_ack`, `zero_window`, `zero_window_probe`,
//! `window_update`, `duplicate_ack`, `lost_segment`, `out_of_order`. As in
//! Wireshark, a fast or spurious retransmission is also a `retransmission`.
//!
//! A capture taken on several ports (the harness's `client-port` and
//! `server-port`) sees each segment once per port: each port has its own
//! analysis state (a view), so a segment seen twice is not a retransmission.
//! The verdict comes from the view that saw the connection last.

use super::wire::Segment;
use crate::evidence::{Side, TcpFlags};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, SocketAddr};

/// Classification bits of one segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Classes(pub u16);

impl Classes {
    pub const RETRANSMISSION: u16 = 1 << 0;
    pub const FAST_RETRANSMISSION: u16 = 1 << 1;
    pub const SPURIOUS_RETRANSMISSION: u16 = 1 << 2;
    pub const KEEP_ALIVE: u16 = 1 << 3;
    pub const KEEP_ALIVE_ACK: u16 = 1 << 4;
    pub const ZERO_WINDOW: u16 = 1 << 5;
    pub const ZERO_WINDOW_PROBE: u16 = 1 << 6;
    pub const WINDOW_UPDATE: u16 = 1 << 7;
    pub const DUPLICATE_ACK: u16 = 1 << 8;
    pub const LOST_SEGMENT: u16 = 1 << 9;
    pub const OUT_OF_ORDER: u16 = 1 << 10;
    /// Internal: Wireshark's zero-window-probe ACK (not reported).
    const ZERO_WINDOW_PROBE_ACK: u16 = 1 << 15;

    /// Every reported class with its Wireshark name (`tcp.analysis.<name>`).
    pub const NAMES: [(u16, &'static str); 11] = [
        (Self::RETRANSMISSION, "retransmission"),
        (Self::FAST_RETRANSMISSION, "fast_retransmission"),
        (Self::SPURIOUS_RETRANSMISSION, "spurious_retransmission"),
        (Self::KEEP_ALIVE, "keep_alive"),
        (Self::KEEP_ALIVE_ACK, "keep_alive_ack"),
        (Self::ZERO_WINDOW, "zero_window"),
        (Self::ZERO_WINDOW_PROBE, "zero_window_probe"),
        (Self::WINDOW_UPDATE, "window_update"),
        (Self::DUPLICATE_ACK, "duplicate_ack"),
        (Self::LOST_SEGMENT, "lost_segment"),
        (Self::OUT_OF_ORDER, "out_of_order"),
    ];

    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }

    /// The reported names, in [`Classes::NAMES`] order.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(b, _)| self.has(*b))
            .map(|(_, n)| *n)
            .collect()
    }

    /// Whether the segment is a sign of an unanswered peer (for silent death).
    fn is_probe(self) -> bool {
        self.has(Self::RETRANSMISSION | Self::KEEP_ALIVE | Self::ZERO_WINDOW_PROBE)
    }
}

/// What [`Analyzer::push`] says about one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegInfo {
    /// Connection id (1, 2, ... in order of first packet).
    pub conn: u64,
    /// Who sent it.
    pub dir: Side,
    /// Sequence and acknowledgment numbers relative to each side's initial one.
    pub rel_seq: u32,
    pub rel_ack: u32,
    pub classes: Classes,
}

/// How a connection ended (or had not, when the capture ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// FIN, ACK, FIN, ACK.
    FourSegmentClose,
    /// FIN, FIN+ACK, ACK: the second FIN carried the ACK of the first.
    ThreeSegmentClose,
    /// Both sides sent FIN before seeing the other's.
    SimultaneousClose,
    /// A RST ended it.
    RstAbort,
    /// One side kept retransmitting or probing, and then nothing.
    SilentDeath,
    /// Both sides sent FIN, not every FIN was acknowledged.
    Closing,
    /// One side sent FIN, the other did not (yet).
    HalfClosed,
    /// No FIN, no RST.
    StillOpen,
}

impl Ending {
    pub fn name(self) -> &'static str {
        match self {
            Ending::FourSegmentClose => "four_segment_close",
            Ending::ThreeSegmentClose => "three_segment_close",
            Ending::SimultaneousClose => "simultaneous_close",
            Ending::RstAbort => "rst_abort",
            Ending::SilentDeath => "silent_death",
            Ending::Closing => "closing",
            Ending::HalfClosed => "half_closed",
            Ending::StillOpen => "still_open",
        }
    }
}

/// One connection's summary.
#[derive(Clone, Debug, Serialize)]
pub struct ConnSummary {
    pub id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub first_ns: u64,
    pub last_ns: u64,
    pub packets: u64,
    /// Payload bytes client to server and server to client (new data and retransmitted).
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    pub retransmissions: u64,
    pub keep_alives: u64,
    pub ending: Ending,
    /// Who sent the first FIN or RST.
    pub closed_first: Option<Side>,
    /// For `rst_abort`: who sent it; for `silent_death`, `half_closed`: the side that was still trying / closed.
    pub by: Option<Side>,
    /// For `rst_abort`: the sender's state when it sent the RST (`ESTABLISHED`, `CLOSE_WAIT`, `refused`, ...).
    pub state: Option<String>,
    /// One sentence for humans.
    pub detail: String,
    /// The segments that show it (times relative to the capture's first packet).
    pub evidence: Vec<String>,
    /// The capture port whose view the verdict comes from.
    pub port: usize,
}

/// A 4-tuple, either order: both ends as IPv6 addresses in two words (IPv4
/// mapped, with the family apart: an IPv6 packet from `::ffff:a.b.c.d` is
/// another connection) and ports, 40 bytes where `(SocketAddr, SocketAddr)`
/// takes 64; built and compared with integer operations only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    lo: [u64; 2],
    hi: [u64; 2],
    /// The low end's port, high 16 bits; the high end's, low 16.
    ports: u32,
    v6: bool,
}

/// An end as (address words, port), ordered as the tuple.
fn end_of(a: SocketAddr) -> ([u64; 2], u16) {
    let words = match a.ip() {
        IpAddr::V4(v4) => [0, 0xffff_0000_0000 | u64::from(v4.to_bits())],
        IpAddr::V6(v6) => {
            let b = v6.to_bits();
            [(b >> 64) as u64, b as u64]
        }
    };
    (words, a.port())
}

impl Key {
    /// The key of the connection between `a` and `b`, either way round.
    fn new(a: SocketAddr, b: SocketAddr) -> Key {
        let v6 = a.is_ipv6();
        let (a, b) = (end_of(a), end_of(b));
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        Key {
            lo: lo.0,
            hi: hi.0,
            ports: u32::from(lo.1) << 16 | u32::from(hi.1),
            v6,
        }
    }

    /// A well-mixed hash: `HashMap` picks buckets by its low bits.
    fn mixed(&self) -> u64 {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut h = (self.lo[0] ^ self.hi[0].rotate_left(23)).wrapping_mul(K);
        h = (h ^ self.lo[1]).wrapping_mul(K);
        h = (h ^ self.hi[1]).wrapping_mul(K);
        h = (h ^ u64::from(self.ports) ^ u64::from(self.v6) << 40).wrapping_mul(K);
        h ^ (h >> 31)
    }
}

impl std::hash::Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.mixed());
    }
}

/// The hasher of [`Key`]s: the key mixes itself ([`Key::mixed`]), this
/// passes it on (std's SipHash would cost more than the rest of a packet's
/// analysis; a capture reader needs no defence against chosen keys).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

// Wireshark's LT_SEQ, GT_SEQ, LE_SEQ and GE_SEQ, written as it writes them:
// two numbers exactly 2^31 apart are both less and greater than each other
// (the public corpus has one such segment; tshark calls it both lost and a
// retransmission).
fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}
fn seq_gt(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}
fn seq_le(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) <= 0
}
fn seq_ge(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) <= 0
}

/// Wireshark's per-direction analysis state (`tcp_flow_t`); 0 means unset,
/// as there.
#[derive(Clone, Copy)]
struct Flow {
    nextseq: u32,
    nextseq_ns: u64,
    lastack: u32,
    lastack_ns: u64,
    window: u32,
    dupacks: u32,
    last_classes: u16,
    maxseqtobeacked: u32,
}

impl Default for Flow {
    fn default() -> Self {
        Flow {
            nextseq: 0,
            nextseq_ns: 0,
            lastack: 0,
            lastack_ns: 0,
            window: u32::MAX,
            dupacks: 0,
            last_classes: 0,
            maxseqtobeacked: 0,
        }
    }
}

/// A segment kept as evidence.
#[derive(Clone, Copy, Debug)]
struct Mark {
    ts: u64,
    dir: Side,
    flags: TcpFlags,
    seq: u32,
    ack: u32,
    len: u32,
    classes: Classes,
}

/// One port's view of a connection.
#[derive(Clone, Default)]
struct View {
    flows: [Flow; 2],
    /// Most recent SYN and the first RTT (Wireshark's `ts_mru_syn`, `ts_first_rtt`).
    mru_syn_ns: u64,
    first_rtt_ns: u64,
    packets: u64,
    first_ns: u64,
    last_ns: u64,
    bytes: [u64; 2],
    retrans: u64,
    keep_alives: u64,
    synack: bool,
    /// FIN per direction: the segment and the sequence number after it.
    fin: [Option<(Mark, u32)>; 2],
    /// The first segment acknowledging each direction's FIN.
    fin_ack: [Option<Mark>; 2],
    rst: Option<(Mark, &'static str)>,
    first_close: Option<Side>,
    /// Probes (retransmissions, keep-alives, window probes) from one side
    /// since the other side last sent anything.
    tail: Option<(Side, u64, Mark, Mark)>,
    last_from: [Option<Mark>; 2],
}

/// A SYN without ACK: a connection's first segment, or the same again.
fn syn_only(f: TcpFlags) -> bool {
    f.0 & (TcpFlags::SYN | TcpFlags::ACK) == TcpFlags::SYN
}

fn idx(s: Side) -> usize {
    match s {
        Side::Client => 0,
        Side::Server => 1,
    }
}

fn other(s: Side) -> Side {
    match s {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    }
}

struct Conn {
    id: u64,
    key: Key,
    /// In the table (a slot handed out by `evict` is free for reuse).
    open: bool,
    client: SocketAddr,
    server: SocketAddr,
    /// Initial sequence number per direction (client, server), for relative numbers.
    base: [Option<u32>; 2],
    /// Port 0's view inline (one cache miss less per packet), the others after.
    view0: View,
    more_views: Vec<View>,
}

impl Conn {
    fn views(&self) -> impl Iterator<Item = &View> {
        std::iter::once(&self.view0).chain(self.more_views.iter())
    }
    fn view_mut(&mut self, port: usize) -> &mut View {
        if port == 0 {
            return &mut self.view0;
        }
        if self.more_views.len() < port {
            self.more_views.resize_with(port, View::default);
        }
        &mut self.more_views[port - 1]
    }
    /// Starts loading what analysing a segment seen on `port` reads (see
    /// [`Analyzer::push_batch`]): the ends, and the view's flows and marks.
    /// The values go to `black_box`, so the loads are kept (a prefetch
    /// without unsafe code, which the core has none of); nothing waits for
    /// them until the segment's turn.
    fn touch(&self, port: usize) {
        let v = match port {
            0 => &self.view0,
            _ => match self.more_views.get(port - 1) {
                Some(v) => v,
                None => return,
            },
        };
        std::hint::black_box((
            self.open,
            self.key.ports,
            self.client.port(),
            v.flows[0].nextseq,
            v.flows[1].nextseq,
            v.fin[0].is_some(),
            v.tail.is_some(),
            v.last_from[0].is_some(),
        ));
    }

    fn finished(&self) -> bool {
        self.views()
            .any(|v| v.rst.is_some() || (v.fin_ack[0].is_some() && v.fin_ack[1].is_some()))
    }
    /// Who sent `s`.
    fn side_of(&self, s: &Segment) -> Side {
        if s.src == self.client {
            Side::Client
        } else {
            Side::Server
        }
    }

    fn last_ns(&self) -> u64 {
        self.views().map(|v| v.last_ns).max().unwrap_or(0)
    }

    /// Whether `s` is a SYN that starts a new connection on this 4-tuple,
    /// as Wireshark decides it (`dissect_tcp`): a SYN without ACK whose
    /// sequence number is not the base its own direction already has (its
    /// SYN's, one before its first segment, or one before the other side's
    /// first ACK). A SYN from the other side of a split handshake, or the
    /// same SYN again, is no new connection.
    fn reused_by(&self, s: &Segment) -> bool {
        syn_only(s.flags) && self.base[idx(self.side_of(s))].is_some_and(|b| b != s.seq)
    }

    /// `s`'s sequence and ack numbers relative to each side's initial one,
    /// as Wireshark numbers them: learnt from the SYNs; else a side's first
    /// segment is relative 1 (its base one before it, as if a SYN had
    /// come), and a side never seen yet takes its base from the first ACK of
    /// the other (the ack relative 1).
    fn relative(&mut self, dir: Side, s: &Segment) -> (u32, u32) {
        let d = idx(dir);
        if s.flags.has(TcpFlags::SYN) {
            self.base[d] = Some(s.seq);
        } else if self.base[d].is_none() {
            self.base[d] = Some(s.seq.wrapping_sub(1));
        }
        if self.base[1 - d].is_none() && s.flags.has(TcpFlags::ACK) {
            self.base[1 - d] = Some(s.ack.wrapping_sub(1));
        }
        (
            s.seq.wrapping_sub(self.base[d].unwrap_or(0)),
            s.ack.wrapping_sub(self.base[1 - d].unwrap_or(0)),
        )
    }
}

/// The streaming connection analyzer.
pub struct Analyzer {
    /// Open connections: the 4-tuple to its slot in `conns`.
    map: HashMap<Key, u32, BuildHasherDefault<KeyHasher>>,
    /// The connections, by slot; `free` lists the slots handed out.
    conns: Vec<Conn>,
    free: Vec<u32>,
    client_ips: Vec<IpAddr>,
    next_id: u64,
    start_ns: Option<u64>,
    done: Vec<ConnSummary>,
    /// A guess of the slot of each 4-tuple, by [`Key::mixed`]'s low bits:
    /// the slot that last held a segment of a tuple with those bits (a
    /// guess that may be any slot, or none: `u32::MAX`, or past the end).
    hint: Vec<u32>,
}

/// Entries of [`Analyzer::hint`]: 64 KiB, a few times the connections a
/// busy capture has open at once.
const HINTS: usize = 1 << 14;

/// One segment for [`Analyzer::push_batch`]: captured at `ts_ns` on port
/// number `port`, with its 4-tuple's key worked out.
#[derive(Clone, Copy, Debug)]
pub struct Pushed<'a> {
    pub ts_ns: u64,
    pub port: usize,
    pub seg: &'a Segment,
    key: Key,
    /// Its entry in [`Analyzer::hint`].
    hint: usize,
}

impl Pushed<'_> {
    pub fn new(ts_ns: u64, port: usize, seg: &Segment) -> Pushed<'_> {
        let key = Key::new(seg.src, seg.dst);
        Pushed {
            ts_ns,
            port,
            seg,
            key,
            hint: (key.mixed() as usize) & (HINTS - 1),
        }
    }
}

impl Analyzer {
    /// `client_ips`: addresses known to be clients (the harness's); empty for
    /// foreign captures, where the SYN's sender is the client (else the side
    /// with the higher port).
    pub fn new(client_ips: Vec<IpAddr>) -> Analyzer {
        Analyzer {
            map: HashMap::default(),
            conns: Vec::new(),
            free: Vec::new(),
            client_ips,
            next_id: 1,
            start_ns: None,
            done: Vec::new(),
            hint: vec![u32::MAX; HINTS],
        }
    }

    /// Connections currently tracked.
    pub fn open_connections(&self) -> usize {
        self.map.len()
    }

    /// The time of the first packet pushed.
    pub fn start_ns(&self) -> u64 {
        self.start_ns.unwrap_or(0)
    }

    /// Analyzes one segment captured at `ts_ns` on port number `port`.
    pub fn push(&mut self, ts_ns: u64, port: usize, s: &Segment) -> SegInfo {
        let k = Key::new(s.src, s.dst);
        let found = self.map.get(&k).copied();
        self.push_at(ts_ns, port, s, k, found).0
    }

    /// Analyzes segments in order, as [`Analyzer::push`] one by one would,
    /// appending each one's [`SegInfo`] to `out`; faster on a batch of many.
    ///
    /// A capture interleaving thousands of connections misses the cache on
    /// nearly every segment: its connection's table entry, then its state.
    /// So a first pass guesses every segment's slot from [`Analyzer::hint`]
    /// (small enough to stay in the cache) and starts loading that slot's
    /// state; the guesses do not depend on each other, so the CPU overlaps
    /// their misses. The second pass analyses in order, and takes a guess
    /// only when that slot is open and holds the segment's 4-tuple; else it
    /// asks the table, as `push` does.
    pub fn push_batch(&mut self, batch: &[Pushed<'_>], out: &mut Vec<SegInfo>) {
        for p in batch {
            if let Some(c) = self.conns.get(self.hint[p.hint] as usize) {
                c.touch(p.port);
            }
        }
        for p in batch {
            // The hint now (an earlier segment of the batch may have moved
            // it), taken only where it holds: a slot may be free or another
            // tuple's.
            let guess = self.hint[p.hint];
            let found = match self.conns.get(guess as usize) {
                Some(c) if c.open && c.key == p.key => Some(guess),
                _ => self.map.get(&p.key).copied(),
            };
            let (info, slot) = self.push_at(p.ts_ns, p.port, p.seg, p.key, found);
            self.hint[p.hint] = slot;
            out.push(info);
        }
    }

    /// [`Analyzer::push`] with the key and what the table holds for it.
    fn push_at(
        &mut self,
        ts_ns: u64,
        port: usize,
        s: &Segment,
        k: Key,
        found: Option<u32>,
    ) -> (SegInfo, u32) {
        let start = *self.start_ns.get_or_insert(ts_ns);
        let slot = match found {
            // A new SYN on a used 4-tuple starts a new connection (port reuse).
            Some(i) if self.conns[i as usize].reused_by(s) => {
                self.done.push(summarize(&self.conns[i as usize], start));
                self.conns[i as usize] = new_conn(&self.client_ips, self.next_id, k, s);
                self.next_id += 1;
                i
            }
            Some(i) => i,
            None => {
                let c = new_conn(&self.client_ips, self.next_id, k, s);
                self.next_id += 1;
                let i = match self.free.pop() {
                    Some(i) => {
                        self.conns[i as usize] = c;
                        i
                    }
                    None => {
                        self.conns.push(c);
                        (self.conns.len() - 1) as u32
                    }
                };
                self.map.insert(k, i);
                i
            }
        };
        let c = &mut self.conns[slot as usize];
        let dir = c.side_of(s);
        let resent_syn = syn_only(s.flags) && c.base[idx(dir)] == Some(s.seq);
        let (rel_seq, rel_ack) = c.relative(dir, s);
        let v = c.view_mut(port);
        let classes = analyze(v, idx(dir), ts_ns, s, resent_syn);
        track(
            v,
            Mark {
                ts: ts_ns,
                dir,
                flags: s.flags,
                seq: rel_seq,
                ack: rel_ack,
                len: s.len,
                classes,
            },
            s,
        );
        let info = SegInfo {
            conn: c.id,
            dir,
            rel_seq,
            rel_ack,
            classes,
        };
        (info, slot)
    }

    /// Hands out connections that finished (closed or reset) and have been
    /// quiet for `linger_ns` of capture time before `now_ns`.
    pub fn evict(&mut self, now_ns: u64, linger_ns: u64) -> Vec<ConnSummary> {
        let start = self.start_ns();
        let mut out = std::mem::take(&mut self.done);
        let mut gone = Vec::new();
        for (i, c) in self.conns.iter().enumerate() {
            if c.open && c.finished() && c.last_ns().saturating_add(linger_ns) < now_ns {
                out.push(summarize(c, start));
                gone.push(i);
            }
        }
        for i in gone {
            self.conns[i].open = false;
            self.map.remove(&self.conns[i].key);
            self.free.push(i as u32);
        }
        out.sort_by_key(|s| s.id);
        out
    }

    /// Every connection not handed out yet, by id.
    pub fn finish(mut self) -> Vec<ConnSummary> {
        let start = self.start_ns();
        let mut out = std::mem::take(&mut self.done);
        out.extend(
            self.conns
                .iter()
                .filter(|c| c.open)
                .map(|c| summarize(c, start)),
        );
        out.sort_by_key(|s| s.id);
        out
    }
}

fn new_conn(client_ips: &[IpAddr], id: u64, key: Key, s: &Segment) -> Conn {
    let syn_only = syn_only(s.flags);
    let synack = s.flags.has(TcpFlags::SYN) && s.flags.has(TcpFlags::ACK);
    let src_is_client = if client_ips.contains(&s.src.ip()) {
        true
    } else if client_ips.contains(&s.dst.ip()) {
        false
    } else if syn_only {
        true
    } else if synack {
        false
    } else {
        s.src.port() > s.dst.port()
    };
    let (client, server) = if src_is_client {
        (s.src, s.dst)
    } else {
        (s.dst, s.src)
    };
    Conn {
        id,
        key,
        open: true,
        client,
        server,
        base: [None, None],
        view0: View::default(),
        more_views: Vec::new(),
    }
}

/// Wireshark's `tcp_analyze_sequence_number`, for one port's view.
/// `resent_syn`: a SYN without ACK carrying its direction's base number
/// (the same SYN again).
fn analyze(v: &mut View, d: usize, now: u64, s: &Segment, resent_syn: bool) -> Classes {
    let flags = s.flags.0;
    let first_rtt_ns = v.first_rtt_ns;
    let (fwd, rev) = if d == 0 {
        let (a, b) = v.flows.split_at_mut(1);
        (&mut a[0], &b[0])
    } else {
        let (a, b) = v.flows.split_at_mut(1);
        (&mut b[0], &a[0])
    };
    // A SYN sent again takes the next expected number back to the highest
    // one reached without a gap (tshark 4.0.17, measured: after a RST or a
    // lost segment that jumped ahead, the data behind the SYN is new; a
    // SYN-ACK sent again does not do this).
    if resent_syn && fwd.maxseqtobeacked != 0 {
        fwd.nextseq = fwd.maxseqtobeacked;
    }
    let mut c = window_classes(fwd, rev, s);
    if s.ack != fwd.lastack {
        fwd.dupacks = 0;
    }
    c |= retransmission_classes(fwd, rev, s, now, first_rtt_ns, c);
    advance(fwd, s, now, c);
    // The first RTT (tshark 4.0's `ts_first_rtt`): from the most recent SYN
    // (not SYN-ACK) to the first ACK after it. tshark analyses the segment
    // first (the ACK that gives the RTT is judged without it).
    if flags & (TcpFlags::SYN | TcpFlags::ACK) == TcpFlags::ACK
        && v.mru_syn_ns != 0
        && v.first_rtt_ns == 0
    {
        v.first_rtt_ns = now.saturating_sub(v.mru_syn_ns).max(1);
    }
    if syn_only(s.flags) {
        v.mru_syn_ns = now;
    }
    Classes(c & !Classes::ZERO_WINDOW_PROBE_ACK)
}

/// Wireshark's first checks: window probes and updates, keep-alives and
/// their ACKs, duplicate ACKs, lost segments (counts duplicate ACKs in `fwd`).
fn window_classes(fwd: &mut Flow, rev: &Flow, s: &Segment) -> u16 {
    let flags = s.flags.0;
    let (seq, ack, seglen) = (s.seq, s.ack, s.len);
    let window = s.win as u32;
    let sfr = TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST;
    let mut c = 0u16;
    if seglen == 1 && seq == fwd.nextseq && rev.window == 0 {
        return Classes::ZERO_WINDOW_PROBE;
    }
    if window == 0 && flags & sfr == 0 {
        c |= Classes::ZERO_WINDOW;
    }
    if fwd.nextseq != 0 && seq_gt(seq, fwd.nextseq) && flags & TcpFlags::RST == 0 {
        c |= Classes::LOST_SEGMENT;
    }
    if seglen <= 1 && seq == fwd.nextseq.wrapping_sub(1) && flags & sfr == 0 {
        c |= Classes::KEEP_ALIVE;
    }
    let same_pos = seq == fwd.nextseq && ack == fwd.lastack && flags & sfr == 0;
    if seglen == 0 && window != 0 && window != fwd.window && same_pos {
        c |= Classes::WINDOW_UPDATE;
    }
    if seglen == 0
        && window != 0
        && window == fwd.window
        && same_pos
        && rev.last_classes & Classes::KEEP_ALIVE != 0
    {
        return c | Classes::KEEP_ALIVE_ACK;
    }
    if seglen == 0
        && window == 0
        && window == fwd.window
        && same_pos
        && rev.last_classes & Classes::ZERO_WINDOW_PROBE != 0
    {
        return c | Classes::ZERO_WINDOW_PROBE_ACK;
    }
    if seglen == 0 && window != 0 && window == fwd.window && same_pos {
        fwd.dupacks += 1;
        c |= Classes::DUPLICATE_ACK;
    }
    c
}

/// Wireshark's retransmission checks, in tshark 4.0.17's order (the public
/// corpus test holds it to that): fast retransmission, spurious
/// retransmission, out of order, retransmission (`c`: the classes so far).
fn retransmission_classes(
    fwd: &Flow,
    rev: &Flow,
    s: &Segment,
    now: u64,
    first_rtt_ns: u64,
    c: u16,
) -> u16 {
    let (seq, seglen) = (s.seq, s.len);
    if seglen == 0 && s.flags.0 & (TcpFlags::SYN | TcpFlags::FIN) == 0 {
        return 0;
    }
    let mut not_advanced = fwd.nextseq != 0 && seq_lt(seq, fwd.nextseq);
    if c & Classes::KEEP_ALIVE != 0 {
        return 0;
    }
    // New data starting one byte before the next expected one follows a
    // zero window probe's byte: no retransmission, nor out of order.
    if seglen > 1 && fwd.nextseq.wrapping_sub(1) == seq {
        not_advanced = false;
    }
    let t = now.wrapping_sub(rev.lastack_ns);
    if not_advanced && rev.dupacks >= 2 && rev.lastack == seq && t < 20_000_000 {
        return Classes::FAST_RETRANSMISSION | Classes::RETRANSMISSION;
    }
    if seglen > 0 && rev.lastack != 0 && seq_le(seq.wrapping_add(seglen), rev.lastack) {
        return Classes::SPURIOUS_RETRANSMISSION | Classes::RETRANSMISSION;
    }
    let t = now.wrapping_sub(fwd.nextseq_ns);
    let ooo_thres = if first_rtt_ns == 0 {
        3_000_000
    } else {
        first_rtt_ns
    };
    // A SYN or FIN takes a sequence number: its retransmission ends where
    // the original did, which makes it no out-of-order segment.
    let end = seq
        .wrapping_add(seglen)
        .wrapping_add(u32::from(s.flags.0 & (TcpFlags::SYN | TcpFlags::FIN) != 0));
    if not_advanced && t < ooo_thres && fwd.nextseq != end {
        return Classes::OUT_OF_ORDER;
    }
    if not_advanced {
        Classes::RETRANSMISSION
    } else {
        0
    }
}

/// The flow's state after the segment: next expected sequence number,
/// window, last ACK, and its classes (for the other side's next checks).
/// Every segment sets or advances the next expected sequence number, a pure
/// ACK too (as in Wireshark): a direction that starts with ACKs then has
/// one, for its duplicate ACKs and the gap before its first data.
fn advance(fwd: &mut Flow, s: &Segment, now: u64, c: u16) {
    let (seq, seglen) = (s.seq, s.len);
    let mut nextseq = seq.wrapping_add(seglen);
    if s.flags.0 & (TcpFlags::SYN | TcpFlags::FIN) != 0 {
        nextseq = nextseq.wrapping_add(1);
    }
    if (seq_gt(nextseq, fwd.nextseq) || fwd.nextseq == 0) && c & Classes::ZERO_WINDOW_PROBE == 0 {
        fwd.nextseq = nextseq;
        fwd.nextseq_ns = now;
    }
    if (seq == fwd.maxseqtobeacked || fwd.maxseqtobeacked == 0)
        && c & Classes::ZERO_WINDOW_PROBE == 0
    {
        fwd.maxseqtobeacked = fwd.nextseq;
    }
    fwd.window = s.win as u32;
    fwd.lastack = s.ack;
    fwd.lastack_ns = now;
    fwd.last_classes = c;
}

/// Teardown bookkeeping for one view.
fn track(v: &mut View, m: Mark, s: &Segment) {
    let d = idx(m.dir);
    let o = 1 - d;
    if v.packets == 0 {
        v.first_ns = m.ts;
    }
    v.packets += 1;
    v.last_ns = m.ts;
    v.bytes[d] += s.len as u64;
    if m.classes.has(Classes::RETRANSMISSION) {
        v.retrans += 1;
    }
    if m.classes.has(Classes::KEEP_ALIVE) {
        v.keep_alives += 1;
    }
    let f = s.flags;
    if f.has(TcpFlags::SYN) && f.has(TcpFlags::ACK) {
        v.synack = true;
    }
    if f.has(TcpFlags::FIN) && v.fin[d].is_none() {
        v.fin[d] = Some((m, s.seq.wrapping_add(s.len).wrapping_add(1)));
        v.first_close.get_or_insert(m.dir);
    }
    if f.has(TcpFlags::ACK) && v.fin_ack[o].is_none() {
        if let Some((_, end)) = v.fin[o] {
            if seq_ge(s.ack, end) {
                v.fin_ack[o] = Some(m);
            }
        }
    }
    if f.has(TcpFlags::RST) && v.rst.is_none() {
        let state = state_of(v, m.dir);
        v.rst = Some((m, state));
        v.first_close.get_or_insert(m.dir);
    }
    // Unanswered probes: a probe from the other side starts a new run,
    // anything else from the other side ends the run.
    if m.classes.is_probe() {
        match &mut v.tail {
            Some((side, n, _, last)) if *side == m.dir => {
                *n += 1;
                *last = m;
            }
            _ => v.tail = Some((m.dir, 1, m, m)),
        }
    } else if v.tail.is_some_and(|t| t.0 != m.dir) {
        v.tail = None;
    }
    v.last_from[d] = Some(m);
}

/// The state of `side` just before it sends a RST, from what the view saw.
fn state_of(v: &View, side: Side) -> &'static str {
    let d = idx(side);
    let o = 1 - d;
    if !v.synack {
        return if side == Side::Server {
            "refused"
        } else {
            "SYN_SENT"
        };
    }
    match (v.fin[d], v.fin[o]) {
        (None, None) => "ESTABLISHED",
        (Some(_), None) => {
            if v.fin_ack[d].is_some() {
                "FIN_WAIT2"
            } else {
                "FIN_WAIT1"
            }
        }
        (None, Some(_)) => "CLOSE_WAIT",
        (Some((mine, _)), Some((theirs, _))) => {
            if mine.ts <= theirs.ts {
                if v.fin_ack[d].is_some() {
                    "TIME_WAIT"
                } else {
                    "CLOSING"
                }
            } else {
                "LAST_ACK"
            }
        }
    }
}

/// A segment as a summary's evidence line:
/// `{secs:.6} {dir} {flags} seq {seq} ack {ack} len {len}[ [classes]]`,
/// formatted without floats (tens of thousands of summaries print several
/// each: see [`push_secs`]).
fn describe(m: &Mark, start: u64) -> String {
    let dir = match m.dir {
        Side::Client => " C>S ",
        Side::Server => " S>C ",
    };
    let mut s = String::with_capacity(64);
    push_secs(&mut s, m.ts.saturating_sub(start), 6);
    s.push_str(dir);
    let mut flags = Vec::with_capacity(8);
    m.flags.push_tcpdump(&mut flags);
    s.push_str(std::str::from_utf8(&flags).unwrap_or("?"));
    for (label, n) in [(" seq ", m.seq), (" ack ", m.ack), (" len ", m.len)] {
        s.push_str(label);
        push_decimal(&mut s, u64::from(n), 0);
    }
    let mut first = true;
    for (bit, name) in Classes::NAMES {
        if m.classes.has(bit) {
            s.push_str(if first { " [" } else { ", " });
            s.push_str(name);
            first = false;
        }
    }
    if !first {
        s.push(']');
    }
    s
}

/// Appends `n` in decimal, with leading zeros to `width` digits.
fn push_decimal(s: &mut String, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    at = at.min(buf.len().saturating_sub(width));
    s.push_str(std::str::from_utf8(&buf[at..]).unwrap_or("?"));
}

/// Appends `ns` nanoseconds as seconds with `decimals` (at most 9)
/// decimals: what `{:.decimals$}` prints of `ns as f64 / 1e9`, without
/// the float. That rounds the float's exact value half to even; the
/// integer's digits are the same but where `ns` lies exactly halfway
/// between two printed values (the float is then a hair to either side),
/// which is left to the float formatting itself.
fn push_secs(s: &mut String, ns: u64, decimals: u32) {
    use std::fmt::Write;
    let decimals = decimals.min(9);
    let unit = 10u64.pow(9 - decimals);
    // Beyond 10^6 s the float's error may reach a nanosecond: its own way.
    if (unit > 1 && ns % unit == unit / 2) || ns >= 1_000_000_000_000_000 {
        let _ = write!(s, "{:.*}", decimals as usize, ns as f64 / 1e9);
        return;
    }
    let q = ns / unit + u64::from(ns % unit > unit / 2);
    let scale = 10u64.pow(decimals);
    push_decimal(s, q / scale, 0);
    if decimals > 0 {
        s.push('.');
        push_decimal(s, q % scale, decimals as usize);
    }
}

fn summarize(c: &Conn, start: u64) -> ConnSummary {
    // The view that saw the connection last (ties: the one with more packets).
    let (port, v) = c
        .views()
        .enumerate()
        .filter(|(_, v)| v.packets > 0)
        .max_by_key(|(i, v)| (v.last_ns, v.packets, std::cmp::Reverse(*i)))
        .map(|(i, v)| (i, v.clone()))
        .unwrap_or_default();
    let e = ending_of(&v, start);
    ConnSummary {
        id: c.id,
        client: c.client,
        server: c.server,
        first_ns: v.first_ns,
        last_ns: v.last_ns,
        packets: v.packets,
        bytes_c2s: v.bytes[0],
        bytes_s2c: v.bytes[1],
        retransmissions: v.retrans,
        keep_alives: v.keep_alives,
        ending: e.ending,
        closed_first: v.first_close,
        by: e.by,
        state: e.state,
        detail: e.detail,
        evidence: e.evidence,
        port,
    }
}

/// How a view's connection ended, as [`ConnSummary`] reports it.
struct EndingOf {
    ending: Ending,
    detail: String,
    evidence: Vec<String>,
    by: Option<Side>,
    state: Option<String>,
}

impl EndingOf {
    fn new(ending: Ending, detail: String, evidence: Vec<String>) -> EndingOf {
        EndingOf {
            ending,
            detail,
            evidence,
            by: None,
            state: None,
        }
    }
}

/// The first of these that the view shows: an RST, both FINs acknowledged,
/// a run of unanswered probes, both FINs, one FIN, nothing.
fn ending_of(v: &View, start: u64) -> EndingOf {
    if let Some((m, st)) = v.rst {
        return rst_abort(v, m, st, start);
    }
    if let (Some((f0, _)), Some((f1, _)), Some(a0), Some(a1)) =
        (v.fin[0], v.fin[1], v.fin_ack[0], v.fin_ack[1])
    {
        return if f0.ts <= f1.ts {
            orderly_close(f0, f1, a0, a1, start)
        } else {
            orderly_close(f1, f0, a1, a0, start)
        };
    }
    if let Some(tail) = v.tail.filter(|t| t.1 >= 2) {
        return silent_death(v, tail, start);
    }
    if let (Some((f0, _)), Some((f1, _))) = (v.fin[0], v.fin[1]) {
        let missing: Vec<&str> = [Side::Client, Side::Server]
            .iter()
            .filter(|s| v.fin_ack[idx(**s)].is_none())
            .map(|s| s.name())
            .collect();
        let detail = format!(
            "both sent FIN; the FIN of {} was never acknowledged",
            missing.join(" and ")
        );
        let evidence = vec![describe(&f0, start), describe(&f1, start)];
        return EndingOf::new(Ending::Closing, detail, evidence);
    }
    if let Some((m, _)) = v.fin[0].or(v.fin[1]) {
        let mut evidence = vec![describe(&m, start)];
        if let Some(a) = v.fin_ack[idx(m.dir)] {
            evidence.push(describe(&a, start));
        }
        let detail = format!(
            "{} sent FIN; {} had not closed when the capture ended",
            m.dir.name(),
            other(m.dir).name()
        );
        let mut e = EndingOf::new(Ending::HalfClosed, detail, evidence);
        e.by = Some(m.dir);
        return e;
    }
    let mut evidence = Vec::new();
    if let Some((side, n, first, _)) = v.tail {
        evidence.push(format!(
            "{n} unanswered probe(s) from {}: {}",
            side.name(),
            describe(&first, start)
        ));
    }
    let detail = "no FIN or RST: the connection was open when the capture ended".to_string();
    EndingOf::new(Ending::StillOpen, detail, evidence)
}

/// An RST (`m`, sent in state `st`), after whatever FINs came before it.
fn rst_abort(v: &View, m: Mark, st: &str, start: u64) -> EndingOf {
    let mut evidence = Vec::new();
    for (fm, _) in v.fin.iter().flatten() {
        if fm.ts < m.ts {
            evidence.push(describe(fm, start));
        }
    }
    evidence.push(describe(&m, start));
    let detail = if st == "refused" {
        "the server refused the connection with RST".to_string()
    } else {
        format!("{} sent RST in state {st}", m.dir.name())
    };
    let mut e = EndingOf::new(Ending::RstAbort, detail, evidence);
    e.by = Some(m.dir);
    e.state = Some(st.to_string());
    e
}

/// Both FINs acknowledged, `first` the earlier one: four segments, three
/// (the second FIN carries the first's ACK) or a simultaneous close.
fn orderly_close(
    first: Mark,
    second: Mark,
    first_ack: Mark,
    second_ack: Mark,
    start: u64,
) -> EndingOf {
    let mut evidence = vec![describe(&first, start)];
    let ending = if first_ack.ts < second.ts {
        evidence.push(describe(&first_ack, start));
        Ending::FourSegmentClose
    } else if first_ack.ts == second.ts && first_ack.dir == second.dir {
        Ending::ThreeSegmentClose
    } else {
        Ending::SimultaneousClose
    };
    evidence.push(describe(&second, start));
    if ending == Ending::SimultaneousClose {
        evidence.push(describe(&first_ack, start));
    }
    evidence.push(describe(&second_ack, start));
    let detail = format!(
        "{} closed first; {} closed {}s later",
        first.dir.name(),
        second.dir.name(),
        secs(first.ts, second.ts)
    );
    EndingOf::new(ending, detail, evidence)
}

/// A run of `n` unanswered probes from `side`, then nothing.
fn silent_death(v: &View, (side, n, first, last): (Side, u64, Mark, Mark), start: u64) -> EndingOf {
    let what = if last.classes.has(Classes::KEEP_ALIVE) {
        "keep-alive probes"
    } else if last.classes.has(Classes::ZERO_WINDOW_PROBE) {
        "zero-window probes"
    } else {
        "retransmissions"
    };
    let mut evidence = Vec::new();
    if let Some(m) = v.last_from[1 - idx(side)] {
        evidence.push(format!(
            "last from {}: {}",
            other(side).name(),
            describe(&m, start)
        ));
    }
    evidence.push(describe(&first, start));
    evidence.push(describe(&last, start));
    let detail = format!(
        "{} sent {n} unanswered {what} over {}s, then nothing (the last {}s before the capture ended)",
        side.name(),
        secs(first.ts, last.ts),
        secs(last.ts, v.last_ns.max(last.ts)),
    );
    let mut e = EndingOf::new(Ending::SilentDeath, detail, evidence);
    e.by = Some(side);
    e
}

/// Seconds from `a` to `b` (0 if `b` is earlier), as `{:.3}` prints them.
fn secs(a: u64, b: u64) -> String {
    let mut s = String::new();
    push_secs(&mut s, b.saturating_sub(a), 3);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "10.0.0.1:40000";
    const S: &str = "10.0.0.2:80";

    struct T {
        a: Analyzer,
        t: u64,
    }

    impl T {
        fn new() -> T {
            T {
                a: Analyzer::new(vec![]),
                t: 1_000_000_000,
            }
        }
        /// Sends `flags` from C (`c2s`) or S after `dt_ms`.
        #[allow(clippy::too_many_arguments)]
        fn seg(
            &mut self,
            dt_ms: u64,
            c2s: bool,
            flags: &str,
            seq: u32,
            ack: u32,
            len: u32,
            win: u16,
        ) -> Vec<&'static str> {
            self.t += dt_ms * 1_000_000;
            let (src, dst) = if c2s { (C, S) } else { (S, C) };
            let s = Segment {
                src: src.parse().unwrap(),
                dst: dst.parse().unwrap(),
                flags: TcpFlags::parse_tcpdump(flags).unwrap(),
                seq,
                ack,
                len,
                win,
            };
            self.a.push(self.t, 0, &s).classes.names()
        }
        fn handshake(&mut self) {
            assert!(self.seg(0, true, "S", 100, 0, 0, 1000).is_empty());
            assert!(self.seg(10, false, "S.", 500, 101, 0, 1000).is_empty());
            assert!(self.seg(10, true, ".", 101, 501, 0, 1000).is_empty());
        }
    }

    /// `push_batch` says what `push` one segment at a time says, segment by
    /// segment and connection by connection: over few 4-tuples (so slots
    /// are reused, a SYN with another number starts a new connection on a
    /// tuple, and hint entries collide), several ports, batches of every
    /// size, and connections handed out between batches.
    #[test]
    fn a_batch_is_analysed_as_its_segments_one_by_one() {
        let mut r: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rand = |n: u64| {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r % n
        };
        let flags = ["S", "S.", ".", "P.", "F.", "R.", "R", "."];
        let mut segs = Vec::new();
        let mut t = 1_000_000_000u64;
        for _ in 0..60_000 {
            t += rand(3) * 10_000_000;
            let (a, b) = (rand(8), rand(5));
            let c: SocketAddr = format!("10.0.{a}.1:{}", 40_000 + b).parse().unwrap();
            let sv: SocketAddr = "10.9.0.1:80".parse().unwrap();
            let (src, dst) = if rand(2) == 0 { (c, sv) } else { (sv, c) };
            let seg = Segment {
                src,
                dst,
                flags: TcpFlags::parse_tcpdump(flags[rand(8) as usize]).unwrap(),
                seq: (rand(4) * 1000) as u32,
                ack: (rand(4) * 1000) as u32,
                len: [0, 0, 1, 100][rand(4) as usize],
                win: [0, 1000, 2000][rand(3) as usize],
            };
            segs.push((t, rand(3) as usize, seg));
        }
        let (mut one, mut many) = (Analyzer::new(vec![]), Analyzer::new(vec![]));
        let (mut want, mut got) = (Vec::new(), Vec::new());
        let (mut done_one, mut done_many) = (Vec::new(), Vec::new());
        let mut at = 0;
        while at < segs.len() {
            let n = (1 + rand(300) as usize).min(segs.len() - at);
            let part = &segs[at..at + n];
            for (t, port, s) in part {
                want.push(one.push(*t, *port, s));
            }
            let batch: Vec<Pushed> = part
                .iter()
                .map(|(t, p, s)| Pushed::new(*t, *p, s))
                .collect();
            many.push_batch(&batch, &mut got);
            at += n;
            if rand(4) == 0 {
                let now = part[n - 1].0;
                done_one.extend(one.evict(now, 500_000_000));
                done_many.extend(many.evict(now, 500_000_000));
            }
        }
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "segment {i}");
        }
        done_one.extend(one.finish());
        done_many.extend(many.finish());
        let json = |l: &[ConnSummary]| serde_json::to_value(l).unwrap();
        assert!(done_one.len() > 1000, "{} connections", done_one.len());
        assert_eq!(json(&done_many), json(&done_one));
    }

    /// `push_secs` prints what `{:.6}` and `{:.3}` print of the seconds as
    /// a float, halfway cases and huge times included.
    #[test]
    fn seconds_print_as_the_float_formatting_does() {
        let mut ns: u64 = 1;
        let mut cases = vec![
            0,
            499,
            500,
            501,
            1_000_500,
            2_500_000,
            999_999_500,
            1_000_000_000_000_000,
        ];
        for _ in 0..200_000 {
            // xorshift: every magnitude, and every kind of last digits.
            ns ^= ns << 13;
            ns ^= ns >> 7;
            ns ^= ns << 17;
            cases.push(ns >> (ns % 40));
            cases.push((ns >> (ns % 40)) / 1000 * 1000 + 500);
            cases.push((ns >> (ns % 40)) / 1_000_000 * 1_000_000 + 500_000);
        }
        for &n in &cases {
            for d in [3u32, 6] {
                let mut got = String::new();
                push_secs(&mut got, n, d);
                let want = format!("{:.*}", d as usize, n as f64 / 1e9);
                assert_eq!(got, want, "{n} ns, {d} decimals");
            }
        }
    }

    #[test]
    fn four_segment_close() {
        let mut t = T::new();
        t.handshake();
        t.seg(1, true, "P.", 101, 501, 10, 1000);
        t.seg(1, false, ".", 501, 111, 0, 1000);
        t.seg(1, true, "F.", 111, 501, 0, 1000);
        t.seg(1, false, ".", 501, 112, 0, 1000);
        t.seg(1, false, "F.", 501, 112, 0, 1000);
        t.seg(1, true, ".", 112, 502, 0, 1000);
        let s = t.a.finish();
        assert_eq!(s[0].ending, Ending::FourSegmentClose);
        assert_eq!(s[0].closed_first, Some(Side::Client));
        assert_eq!(s[0].evidence.len(), 4, "{:?}", s[0].evidence);
    }

    #[test]
    fn three_segment_close() {
        let mut t = T::new();
        t.handshake();
        t.seg(1, false, "F.", 501, 101, 0, 1000);
        t.seg(1, true, "F.", 101, 502, 0, 1000);
        t.seg(1, false, ".", 502, 102, 0, 1000);
        let s = t.a.finish();
        assert_eq!(s[0].ending, Ending::ThreeSegmentClose);
        assert_eq!(s[0].closed_first, Some(Side::Server));
    }

    #[test]
    fn rst_state_and_refused() {
        let mut t = T::new();
        t.handshake();
        t.seg(1, true, "F.", 101, 501, 0, 1000);
        t.seg(1, false, ".", 501, 102, 0, 1000);
        t.seg(1, false, "R.", 501, 102, 0, 0);
        let s = t.a.finish();
        assert_eq!(s[0].ending, Ending::RstAbort);
        assert_eq!(
            (s[0].by, s[0].state.as_deref()),
            (Some(Side::Server), Some("CLOSE_WAIT"))
        );

        let mut t = T::new();
        t.seg(0, true, "S", 100, 0, 0, 1000);
        t.seg(1, false, "R.", 0, 101, 0, 0);
        let s = t.a.finish();
        assert_eq!(s[0].state.as_deref(), Some("refused"));
    }

    #[test]
    fn retransmissions_then_silence() {
        let mut t = T::new();
        t.handshake();
        assert!(t.seg(1, true, "P.", 101, 501, 10, 1000).is_empty());
        assert_eq!(
            t.seg(200, true, "P.", 101, 501, 10, 1000),
            vec!["retransmission"]
        );
        assert_eq!(
            t.seg(400, true, "P.", 101, 501, 10, 1000),
            vec!["retransmission"]
        );
        let s = t.a.finish();
        assert_eq!(s[0].ending, Ending::SilentDeath);
        assert_eq!(s[0].by, Some(Side::Client));
        assert_eq!(s[0].retransmissions, 2);
    }

    /// Crafted cases checked against tshark 4.0 (`tshark -T fields -e
    /// tcp.analysis.*` on the same segments): each expectation is what it said.
    #[test]
    fn syn_fin_and_pure_acks_as_tshark_reads_them() {
        // A SYN resent 1 ms after the first (no RTT yet: the 3 ms
        // out-of-order window) is a retransmission: the SYN takes a sequence
        // number, so it ends where the first one did.
        let mut t = T::new();
        assert!(t.seg(0, true, "S", 100, 0, 0, 1000).is_empty());
        assert_eq!(t.seg(1, true, "S", 100, 0, 0, 1000), vec!["retransmission"]);
        assert_eq!(
            t.seg(999, true, "S", 100, 0, 0, 1000),
            vec!["retransmission"]
        );
        assert_eq!(t.a.finish()[0].retransmissions, 2);
        // The same for a FIN resent 1 ms later.
        let mut t = T::new();
        t.handshake();
        assert!(t.seg(10, true, "F.", 101, 501, 0, 1000).is_empty());
        assert_eq!(
            t.seg(1, true, "F.", 101, 501, 0, 1000),
            vec!["retransmission"]
        );
        // A direction that starts with pure ACKs (the capture began mid-way):
        // the ACKs set the next expected sequence number, so the repeats are
        // duplicate ACKs and the gap before the first data is a lost segment.
        let mut t = T::new();
        assert!(t.seg(0, true, ".", 1000, 500, 0, 1000).is_empty());
        assert_eq!(
            t.seg(10, true, ".", 1000, 500, 0, 1000),
            vec!["duplicate_ack"]
        );
        assert_eq!(
            t.seg(10, true, ".", 1000, 500, 0, 1000),
            vec!["duplicate_ack"]
        );
        assert_eq!(
            t.seg(10, true, ".", 2000, 500, 10, 1000),
            vec!["lost_segment"]
        );
        assert_eq!(
            t.seg(10, true, ".", 3000, 500, 10, 1000),
            vec!["lost_segment"]
        );
    }

    /// Relative numbers without a SYN, as Wireshark's: a side's first segment
    /// is 1, and the unseen side's base comes from the first ACK (ack 1).
    #[test]
    fn relative_numbers_without_a_syn_start_at_one() {
        let mut a = Analyzer::new(vec![]);
        let seg = |seq, ack| Segment {
            src: C.parse().unwrap(),
            dst: S.parse().unwrap(),
            flags: TcpFlags::parse_tcpdump(".").unwrap(),
            seq,
            ack,
            len: 0,
            win: 1000,
        };
        let i = a.push(0, 0, &seg(1000, 500));
        assert_eq!((i.rel_seq, i.rel_ack), (1, 1));
        let i = a.push(1, 0, &seg(2000, 600));
        assert_eq!((i.rel_seq, i.rel_ack), (1001, 101));
    }

    #[test]
    fn keepalive_and_ack() {
        let mut t = T::new();
        t.handshake();
        assert_eq!(
            t.seg(7200, true, ".", 100, 501, 0, 1000),
            vec!["keep_alive"]
        );
        assert_eq!(
            t.seg(1, false, ".", 501, 101, 0, 1000),
            vec!["keep_alive_ack"]
        );
        assert_eq!(t.a.finish()[0].ending, Ending::StillOpen);
    }

    #[test]
    fn dup_acks_fast_retransmission_lost_segment() {
        let mut t = T::new();
        t.handshake();
        t.seg(1, true, "P.", 101, 501, 100, 1000);
        // 201..301 lost; 301.. arrives: the capture never saw 201.
        assert_eq!(
            t.seg(1, true, "P.", 301, 501, 100, 1000),
            vec!["lost_segment"]
        );
        t.seg(1, false, ".", 501, 201, 0, 1000);
        assert_eq!(
            t.seg(1, false, ".", 501, 201, 0, 1000),
            vec!["duplicate_ack"]
        );
        assert_eq!(
            t.seg(1, false, ".", 501, 201, 0, 1000),
            vec!["duplicate_ack"]
        );
        assert_eq!(
            t.seg(1, true, "P.", 201, 501, 100, 1000),
            vec!["retransmission", "fast_retransmission"]
        );
    }

    // The next five hold rules the public corpus (tests/corpus) showed
    // tshark 4.0.17 to follow; each names the capture it came from.

    /// suricata tcp-split-handshake-01-4whs: a SYN from the other side is
    /// no new connection (Wireshark compares a SYN with its own direction's
    /// base), and the client's SYN-ACK with the SYN's number is its SYN again.
    #[test]
    fn a_split_handshake_is_one_connection() {
        let mut t = T::new();
        assert!(t.seg(0, true, "S", 100, 0, 0, 1000).is_empty());
        assert!(t.seg(1, false, "S", 500, 0, 0, 1000).is_empty());
        assert_eq!(
            t.seg(1, true, "S.", 100, 501, 0, 1000),
            vec!["retransmission"]
        );
        assert_eq!(t.a.finish().len(), 1);
    }

    /// zeek modbus_fuzz-72: numbers exactly 2^31 apart are both after and
    /// before each other, as Wireshark's GT_SEQ and LT_SEQ are written.
    #[test]
    fn numbers_half_the_space_apart_are_both_ahead_and_behind() {
        let mut t = T::new();
        t.handshake();
        t.seg(1, true, "P.", 101, 501, 10, 1000);
        t.seg(1, false, ".", 501, 111, 0, 1000);
        assert_eq!(
            t.seg(5, true, "P.", 111 + (1 << 31), 501, 10, 1000),
            vec!["retransmission", "spurious_retransmission", "lost_segment"]
        );
    }

    /// tcpdump bgp-as-path-oobr: data starting one byte before the next
    /// expected one (where a zero-window probe's byte would be) is new data.
    #[test]
    fn data_from_one_byte_back_is_new_data() {
        let mut t = T::new();
        t.handshake();
        t.seg(1, true, "P.", 101, 501, 10, 1000);
        assert!(t.seg(0, true, "P.", 110, 501, 10, 1000).is_empty());
    }

    /// zeek pppoe-over-qinq (and the corpus's other spurious cases):
    /// data already ACKed is a spurious retransmission, even within the
    /// out-of-order time.
    #[test]
    fn spurious_comes_before_out_of_order() {
        let mut t = T::new();
        t.handshake();
        t.seg(1, true, "P.", 101, 501, 10, 1000);
        t.seg(1, false, ".", 501, 111, 0, 1000);
        assert_eq!(
            t.seg(1, true, "P.", 101, 501, 10, 1000),
            vec!["retransmission", "spurious_retransmission"]
        );
    }

    /// zeek modbus_fuzz-72: the ACK that gives the first RTT is judged
    /// before it does (3 ms out-of-order time, not its own 1 ms RTT).
    #[test]
    fn the_first_rtt_counts_from_the_next_segment() {
        let mut t = T::new();
        assert!(t.seg(0, true, "S", 100, 0, 0, 1000).is_empty());
        assert_eq!(t.seg(1, true, "P.", 50, 1, 9, 1000), vec!["out_of_order"]);
    }

    /// suricata base64-decode-5885 and tls-subjectaltname, and crafted
    /// captures read by tshark 4.0.17: a SYN sent again takes the next
    /// expected number back to the highest reached without a gap.
    #[test]
    fn a_syn_sent_again_takes_the_next_number_back() {
        let mut t = T::new();
        assert!(t.seg(0, true, "S", 100, 0, 0, 1000).is_empty());
        assert_eq!(t.seg(1, true, "P", 5000, 0, 10, 1000), vec!["lost_segment"]);
        // Back to 101: the SYN ends where the next number is, a retransmission.
        assert_eq!(t.seg(1, true, "S", 100, 0, 0, 1000), vec!["retransmission"]);
        assert!(t.seg(1, true, "P", 101, 0, 10, 1000).is_empty());
        assert!(t.seg(1, true, "P", 111, 0, 10, 1000).is_empty());
        // With data before the jump, back to after that data (111).
        let mut t = T::new();
        assert!(t.seg(0, true, "S", 100, 0, 0, 1000).is_empty());
        assert!(t.seg(1, true, "P", 101, 0, 10, 1000).is_empty());
        assert_eq!(t.seg(1, true, "P", 5000, 0, 10, 1000), vec!["lost_segment"]);
        assert_eq!(t.seg(1, true, "S", 100, 0, 0, 1000), vec!["out_of_order"]);
        assert!(t.seg(1, true, "P", 111, 0, 10, 1000).is_empty());
    }

    #[test]
    fn zero_window_probe_and_update() {
        let mut t = T::new();
        t.handshake();
        assert_eq!(t.seg(1, false, ".", 501, 101, 0, 0), vec!["zero_window"]);
        assert_eq!(
            t.seg(200, true, ".", 101, 501, 1, 1000),
            vec!["zero_window_probe"]
        );
        assert_eq!(
            t.seg(1, false, ".", 501, 101, 0, 500),
            vec!["window_update"]
        );
    }

    #[test]
    fn port_reuse_starts_new_connection() {
        let mut t = T::new();
        t.handshake();
        t.seg(1, true, "R.", 101, 501, 0, 0);
        t.seg(1000, true, "S", 9000, 0, 0, 1000);
        let s = t.a.finish();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].ending, Ending::StillOpen);
    }

    #[test]
    fn eviction_hands_out_finished_connections() {
        let mut t = T::new();
        t.handshake();
        t.seg(1, true, "R.", 101, 501, 0, 0);
        assert!(t.a.evict(t.t, 60_000_000_000).is_empty());
        let out = t.a.evict(t.t + 61_000_000_000, 60_000_000_000);
        assert_eq!(out.len(), 1);
        assert_eq!(t.a.open_connections(), 0);
    }
}
