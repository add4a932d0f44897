//! Capture files: pcap (micro- and nanosecond) and pcapng, streamed.
//!
//! Contract: [`CaptureReader`] reads any byte stream and never panics. It
//! holds at most one block in memory (blocks over [`MAX_BLOCK`] bytes are
//! refused), so memory does not grow with the file. What it cannot read it
//! reports as a [`CaptureError`] carrying the byte offset of the offending
//! record. Frames are handed out undecoded with their link type; the link
//! layer decoders live in [`super::wire`].
//!
//! pcapng support: several sections (each Section Header Block resets the
//! interfaces), Interface Description Blocks with `if_name`, `if_tsresol`
//! (powers of 10 and of 2) and `if_tsoffset`, Enhanced, Simple and obsolete
//! Packet Blocks, `opt_comment` on packets; other blocks are skipped.

use std::fmt;
use std::io::Read;

/// The largest block or record accepted (64 MiB): larger lengths are taken
/// as corruption rather than allocated.
pub const MAX_BLOCK: usize = 64 << 20;

/// A file that cannot be read, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureError {
    /// Byte offset in the file of the record (or header) that is wrong.
    pub offset: u64,
    pub message: String,
    /// The file ends inside this record (a copy taken while the capture was
    /// still being written): every record before it is whole.
    pub cut_short: bool,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for CaptureError {}

fn err(offset: u64, message: impl Into<String>) -> CaptureError {
    CaptureError {
        offset,
        message: message.into(),
        cut_short: false,
    }
}

/// The file ends inside the record at `offset`.
fn cut_short(offset: u64, message: impl Into<String>) -> CaptureError {
    CaptureError {
        cut_short: true,
        ..err(offset, message)
    }
}

/// One captured frame, as stored (undecoded).
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub ts_ns: u64,
    /// Interface index in the current section (0 for pcap).
    pub iface: usize,
    /// The interface's link type (LINKTYPE_* value).
    pub linktype: u16,
    /// The interface's name (`capture` for pcap files).
    pub iface_name: &'a str,
    /// The captured bytes (may be shorter than the original: snaplen).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub orig_len: u32,
    /// The packet's `opt_comment`, if any (pcapng).
    pub comment: Option<&'a str>,
    /// File offset of the record.
    pub offset: u64,
}

/// An interface of the capture (pcap files have one, named `capture`).
#[derive(Clone, Debug)]
pub struct Interface {
    pub name: String,
    pub linktype: u16,
    /// Timestamp units: `Pow10(n)` = 10^-n s, `Pow2(n)` = 2^-n s.
    tsresol: TsResol,
    tsoffset_s: i64,
}

#[derive(Clone, Copy, Debug)]
enum TsResol {
    Pow10(u8),
    Pow2(u8),
}

impl Interface {
    fn ts_ns(&self, units: u64) -> u64 {
        let ns = match self.tsresol {
            TsResol::Pow10(n) if n <= 9 => units.saturating_mul(10u64.pow(9 - n as u32)),
            TsResol::Pow10(n) => {
                let div = 10u128.checked_pow(n as u32 - 9).unwrap_or(u128::MAX);
                (units as u128 / div) as u64
            }
            TsResol::Pow2(n) => {
                let v = (units as u128) * 1_000_000_000u128;
                let v = if n >= 128 { 0 } else { v >> n };
                v.min(u64::MAX as u128) as u64
            }
        };
        let off = self.tsoffset_s.saturating_mul(1_000_000_000);
        if off >= 0 {
            ns.saturating_add(off as u64)
        } else {
            ns.saturating_sub(off.unsigned_abs())
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Pcap { nanos: bool, big: bool },
    PcapNg { big: bool },
}

/// A streaming reader of pcap and pcapng files.
pub struct CaptureReader<R: Read> {
    src: R,
    buf: Vec<u8>,
    /// Start of unconsumed bytes in `buf`.
    pos: usize,
    /// End of valid bytes in `buf`.
    end: usize,
    /// File offset of `buf[pos]`.
    offset: u64,
    eof: bool,
    kind: Kind,
    ifaces: Vec<Interface>,
    /// The current frame's comment, copied out of the block.
    comment: String,
}

fn u16_at(b: &[u8], at: usize, big: bool) -> u16 {
    let v = [b[at], b[at + 1]];
    if big {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    }
}

fn u32_at(b: &[u8], at: usize, big: bool) -> u32 {
    let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if big {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    }
}

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const OPB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;

impl<R: Read> CaptureReader<R> {
    /// Reads the file header and decides the format.
    pub fn new(src: R) -> Result<Self, CaptureError> {
        let mut r = CaptureReader {
            src,
            buf: vec![0; 1 << 20],
            pos: 0,
            end: 0,
            offset: 0,
            eof: false,
            kind: Kind::Pcap {
                nanos: false,
                big: false,
            },
            ifaces: Vec::new(),
            comment: String::new(),
        };
        r.fill(4)
            .map_err(|_| err(0, "not a capture file: shorter than 4 bytes"))?;
        let magic = [
            r.buf[r.pos],
            r.buf[r.pos + 1],
            r.buf[r.pos + 2],
            r.buf[r.pos + 3],
        ];
        let (nanos, big) = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
            [0xa1, 0xb2, 0xc3, 0xd4] => (false, true),
            [0x4d, 0x3c, 0xb2, 0xa1] => (true, false),
            [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
            [0x0a, 0x0d, 0x0d, 0x0a] => {
                r.kind = Kind::PcapNg { big: false };
                r.read_shb()?;
                return Ok(r);
            }
            _ => {
                return Err(err(
                    0,
                    format!(
                        "not a pcap or pcapng file (magic {:02x}{:02x}{:02x}{:02x})",
                        magic[0], magic[1], magic[2], magic[3]
                    ),
                ))
            }
        };
        r.read_pcap_header(nanos, big)?;
        Ok(r)
    }

    /// The rest of a pcap file header, after its magic: version and link type.
    fn read_pcap_header(&mut self, nanos: bool, big: bool) -> Result<(), CaptureError> {
        self.fill(24)
            .map_err(|_| err(0, "truncated pcap file header (needs 24 bytes)"))?;
        let h = &self.buf[self.pos..self.pos + 24];
        let major = u16_at(h, 4, big);
        let linktype_field = u32_at(h, 20, big);
        if major != 2 {
            return Err(err(4, format!("unsupported pcap version {major}")));
        }
        self.kind = Kind::Pcap { nanos, big };
        self.ifaces.push(Interface {
            name: "capture".to_string(),
            // The upper bits of the field carry FCS information (pcap-linktype(7)).
            linktype: (linktype_field & 0xffff) as u16,
            tsresol: TsResol::Pow10(if nanos { 9 } else { 6 }),
            tsoffset_s: 0,
        });
        self.consume(24);
        Ok(())
    }

    /// The interfaces of the current section (pcap: one, named `capture`).
    pub fn interfaces(&self) -> &[Interface] {
        &self.ifaces
    }

    /// Whether the file is pcapng.
    pub fn is_pcapng(&self) -> bool {
        matches!(self.kind, Kind::PcapNg { .. })
    }

    /// Ensures `n` bytes are buffered at `pos`; `Err(available)` at end of file.
    fn fill(&mut self, n: usize) -> Result<(), usize> {
        if self.end - self.pos >= n {
            return Ok(());
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.buf.len() < n {
            self.buf.resize(n.next_power_of_two(), 0);
        }
        while self.end < n {
            if self.eof {
                return Err(self.end);
            }
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => self.eof = true,
            }
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        self.offset += n as u64;
    }

    /// True at a clean end of file.
    fn at_eof(&mut self) -> bool {
        self.fill(1).is_err() && self.end == self.pos
    }

    /// The next frame, `None` at the end of the file.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        match self.kind {
            Kind::Pcap { big, .. } => self.next_pcap(big),
            Kind::PcapNg { .. } => self.next_pcapng(),
        }
    }

    fn next_pcap(&mut self, big: bool) -> Result<Option<Frame<'_>>, CaptureError> {
        if self.at_eof() {
            return Ok(None);
        }
        let at = self.offset;
        self.fill(16).map_err(|got| {
            cut_short(
                at,
                format!("truncated packet record header: 16 bytes needed, {got} left"),
            )
        })?;
        let h = &self.buf[self.pos..self.pos + 16];
        let secs = u32_at(h, 0, big) as u64;
        let frac = u32_at(h, 4, big) as u64;
        let incl = u32_at(h, 8, big) as usize;
        let orig = u32_at(h, 12, big);
        if incl > MAX_BLOCK {
            return Err(err(
                at,
                format!("packet record claims {incl} captured bytes (corrupt file?)"),
            ));
        }
        self.fill(16 + incl).map_err(|got| {
            cut_short(
                at,
                format!(
                    "truncated packet record: {} data bytes needed, {} left",
                    incl,
                    got.saturating_sub(16)
                ),
            )
        })?;
        let nanos = matches!(self.kind, Kind::Pcap { nanos: true, .. });
        let ts_ns = secs.saturating_mul(1_000_000_000).saturating_add(if nanos {
            frac
        } else {
            frac.saturating_mul(1000)
        });
        let start = self.pos + 16;
        self.consume(16 + incl);
        Ok(Some(Frame {
            ts_ns,
            iface: 0,
            linktype: self.ifaces[0].linktype,
            iface_name: &self.ifaces[0].name,
            data: &self.buf[start..start + incl],
            orig_len: orig,
            comment: None,
            offset: at,
        }))
    }

    fn big(&self) -> bool {
        matches!(self.kind, Kind::PcapNg { big: true })
    }

    /// Reads a Section Header Block at `pos` (byte order from its magic).
    fn read_shb(&mut self) -> Result<(), CaptureError> {
        let at = self.offset;
        self.fill(12)
            .map_err(|_| err(at, "truncated section header block"))?;
        let b = &self.buf[self.pos..self.pos + 12];
        let big = match [b[8], b[9], b[10], b[11]] {
            [0x4d, 0x3c, 0x2b, 0x1a] => false,
            [0x1a, 0x2b, 0x3c, 0x4d] => true,
            _ => return Err(err(at + 8, "bad byte-order magic in section header")),
        };
        self.kind = Kind::PcapNg { big };
        let len = u32_at(b, 4, big) as usize;
        let body = self.block(at, len)?;
        let major = u16_at(&self.buf[body..], 4, big);
        if major != 1 {
            return Err(err(at + 12, format!("unsupported pcapng version {major}")));
        }
        self.ifaces.clear();
        self.consume(len);
        Ok(())
    }

    /// Checks a block's length fields and buffers it; returns where its body starts.
    fn block(&mut self, at: u64, len: usize) -> Result<usize, CaptureError> {
        if !(12..=MAX_BLOCK).contains(&len) || !len.is_multiple_of(4) {
            return Err(err(at, format!("bad block length {len}")));
        }
        self.fill(len).map_err(|got| {
            cut_short(
                at,
                format!("truncated block: {len} bytes announced, {got} left in file"),
            )
        })?;
        let big = self.big();
        let trailer = u32_at(&self.buf[self.pos..], len - 4, big) as usize;
        if trailer != len {
            return Err(err(
                at,
                format!("block length {len} does not match its trailing copy {trailer}"),
            ));
        }
        Ok(self.pos + 8)
    }

    fn next_pcapng(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        loop {
            if self.at_eof() {
                return Ok(None);
            }
            let at = self.offset;
            self.fill(8).map_err(|got| {
                cut_short(
                    at,
                    format!("truncated block header: 8 bytes needed, {got} left"),
                )
            })?;
            let big = self.big();
            let btype = u32_at(&self.buf[self.pos..], 0, big);
            if btype == SHB {
                self.read_shb()?;
                continue;
            }
            let len = u32_at(&self.buf[self.pos..], 4, big) as usize;
            let body = self.block(at, len)?;
            let body_len = len - 12;
            match btype {
                IDB => {
                    let iface = self.parse_idb(at, body, body_len)?;
                    self.ifaces.push(iface);
                    self.consume(len);
                }
                EPB | OPB => return self.packet_block(at, btype, body, len).map(Some),
                SPB => return self.simple_packet_block(at, body, len).map(Some),
                _ => self.consume(len),
            }
        }
    }

    /// An enhanced (or obsolete) packet block whose body starts at `body`.
    fn packet_block(
        &mut self,
        at: u64,
        btype: u32,
        body: usize,
        len: usize,
    ) -> Result<Frame<'_>, CaptureError> {
        let big = self.big();
        let body_len = len - 12;
        if body_len < 20 {
            return Err(err(at, "packet block too short"));
        }
        let b = &self.buf[body..body + body_len];
        let iface = if btype == EPB {
            u32_at(b, 0, big) as usize
        } else {
            u16_at(b, 0, big) as usize
        };
        let (hi, lo, incl, orig) = (
            u32_at(b, 4, big),
            u32_at(b, 8, big),
            u32_at(b, 12, big) as usize,
            u32_at(b, 16, big),
        );
        let Some(ifc) = self.ifaces.get(iface) else {
            return Err(err(
                at,
                format!("packet refers to interface {iface}, which was not described"),
            ));
        };
        let padded = incl.checked_add(3).map(|v| v & !3).unwrap_or(usize::MAX);
        if padded > body_len - 20 {
            return Err(err(
                at,
                format!(
                    "packet block claims {incl} captured bytes, block has {}",
                    body_len - 20
                ),
            ));
        }
        let ts_ns = ifc.ts_ns(((hi as u64) << 32) | lo as u64);
        let linktype = ifc.linktype;
        let opts = body + 20 + padded;
        let opts_len = body_len - 20 - padded;
        let has_comment = self.read_comment(at, opts, opts_len)?;
        let data_start = body + 20;
        self.consume(len);
        Ok(Frame {
            ts_ns,
            iface,
            linktype,
            iface_name: &self.ifaces[iface].name,
            data: &self.buf[data_start..data_start + incl],
            orig_len: orig,
            comment: has_comment.then_some(self.comment.as_str()),
            offset: at,
        })
    }

    /// A simple packet block (no interface id, no timestamp): the first interface's.
    fn simple_packet_block(
        &mut self,
        at: u64,
        body: usize,
        len: usize,
    ) -> Result<Frame<'_>, CaptureError> {
        let body_len = len - 12;
        if body_len < 4 {
            return Err(err(at, "simple packet block too short"));
        }
        let Some(ifc) = self.ifaces.first() else {
            return Err(err(at, "simple packet block before any interface"));
        };
        let orig = u32_at(&self.buf[body..], 0, self.big());
        let incl = (orig as usize).min(body_len - 4);
        let linktype = ifc.linktype;
        let data_start = body + 4;
        self.consume(len);
        Ok(Frame {
            ts_ns: 0,
            iface: 0,
            linktype,
            iface_name: &self.ifaces[0].name,
            data: &self.buf[data_start..data_start + incl],
            orig_len: orig,
            comment: None,
            offset: at,
        })
    }

    /// Walks an option list, calling `f(code, value)`; errors on overruns.
    fn options(
        &self,
        at: u64,
        start: usize,
        len: usize,
        mut f: impl FnMut(u16, &[u8]),
    ) -> Result<(), CaptureError> {
        let big = self.big();
        let b = &self.buf[start..start + len];
        let mut i = 0;
        while i + 4 <= b.len() {
            let code = u16_at(b, i, big);
            let olen = u16_at(b, i + 2, big) as usize;
            if code == 0 {
                break;
            }
            let vstart = i + 4;
            if vstart + olen > b.len() {
                return Err(err(
                    at,
                    format!("option {code} of length {olen} overruns its block"),
                ));
            }
            f(code, &b[vstart..vstart + olen]);
            i = vstart + ((olen + 3) & !3);
        }
        Ok(())
    }

    fn parse_idb(&self, at: u64, body: usize, body_len: usize) -> Result<Interface, CaptureError> {
        if body_len < 8 {
            return Err(err(at, "interface description block too short"));
        }
        let big = self.big();
        let linktype = u16_at(&self.buf[body..], 0, big);
        let mut iface = Interface {
            name: format!("if{}", self.ifaces.len()),
            linktype,
            tsresol: TsResol::Pow10(6),
            tsoffset_s: 0,
        };
        let mut named = false;
        self.options(at, body + 8, body_len - 8, |code, v| match code {
            2 => {
                iface.name = String::from_utf8_lossy(v)
                    .trim_end_matches('\0')
                    .to_string();
                named = true;
            }
            9 if !v.is_empty() => {
                iface.tsresol = if v[0] & 0x80 != 0 {
                    TsResol::Pow2(v[0] & 0x7f)
                } else {
                    TsResol::Pow10(v[0])
                }
            }
            14 if v.len() == 8 => {
                let raw = [v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]];
                iface.tsoffset_s = if big {
                    i64::from_be_bytes(raw)
                } else {
                    i64::from_le_bytes(raw)
                };
            }
            _ => {}
        })?;
        if !named && self.ifaces.is_empty() {
            // One unnamed interface: call it like a pcap file's.
            iface.name = "capture".to_string();
        }
        Ok(iface)
    }

    /// Copies the first `opt_comment` into `self.comment`; true if there was one.
    fn read_comment(&mut self, at: u64, start: usize, len: usize) -> Result<bool, CaptureError> {
        let mut found: Option<(usize, usize)> = None;
        let base = start;
        let mut idx = 0usize;
        let big = self.big();
        // First pass: validate and find the comment's range.
        {
            let b = &self.buf[base..base + len];
            while idx + 4 <= b.len() {
                let code = u16_at(b, idx, big);
                let olen = u16_at(b, idx + 2, big) as usize;
                if code == 0 {
                    break;
                }
                if idx + 4 + olen > b.len() {
                    return Err(err(
                        at,
                        format!("option {code} of length {olen} overruns its block"),
                    ));
                }
                if code == 1 && found.is_none() {
                    found = Some((base + idx + 4, olen));
                }
                idx += 4 + ((olen + 3) & !3);
            }
        }
        match found {
            Some((s, l)) => {
                self.comment.clear();
                self.comment
                    .push_str(&String::from_utf8_lossy(&self.buf[s..s + l]));
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A classic pcap file (microseconds unless `nanos`), little endian.
    pub fn pcap_file(linktype: u32, nanos: bool, frames: &[(u64, &[u8])]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(if nanos {
            &[0x4d, 0x3c, 0xb2, 0xa1]
        } else {
            &[0xd4, 0xc3, 0xb2, 0xa1]
        });
        f.extend_from_slice(&2u16.to_le_bytes());
        f.extend_from_slice(&4u16.to_le_bytes());
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&65535u32.to_le_bytes());
        f.extend_from_slice(&linktype.to_le_bytes());
        for (ts, data) in frames {
            let (s, frac) = if nanos {
                (ts / 1_000_000_000, ts % 1_000_000_000)
            } else {
                (ts / 1_000_000_000, ts % 1_000_000_000 / 1000)
            };
            f.extend_from_slice(&(s as u32).to_le_bytes());
            f.extend_from_slice(&(frac as u32).to_le_bytes());
            f.extend_from_slice(&(data.len() as u32).to_le_bytes());
            f.extend_from_slice(&(data.len() as u32).to_le_bytes());
            f.extend_from_slice(data);
        }
        f
    }

    fn block(t: u32, body: &[u8]) -> Vec<u8> {
        let len = (12 + body.len()) as u32;
        let mut b = t.to_le_bytes().to_vec();
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(body);
        b.extend_from_slice(&len.to_le_bytes());
        b
    }

    fn opt(code: u16, v: &[u8]) -> Vec<u8> {
        let mut o = code.to_le_bytes().to_vec();
        o.extend_from_slice(&(v.len() as u16).to_le_bytes());
        o.extend_from_slice(v);
        while !o.len().is_multiple_of(4) {
            o.push(0);
        }
        o
    }

    /// A pcapng file: `ifaces` = (name, linktype, tsresol byte); frames =
    /// (iface, timestamp in that interface's units, data, comment).
    pub fn pcapng_file(
        ifaces: &[(&str, u16, u8)],
        frames: &[(u32, u64, &[u8], Option<&str>)],
    ) -> Vec<u8> {
        let mut f = Vec::new();
        let mut shb = 0x1A2B3C4Du32.to_le_bytes().to_vec();
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&u64::MAX.to_le_bytes());
        f.extend(block(SHB, &shb));
        for (name, lt, res) in ifaces {
            let mut b = lt.to_le_bytes().to_vec();
            b.extend_from_slice(&[0, 0]);
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend(opt(2, name.as_bytes()));
            b.extend(opt(9, &[*res]));
            b.extend(opt(0, &[]));
            f.extend(block(IDB, &b));
        }
        for (iface, ts, data, comment) in frames {
            let mut b = iface.to_le_bytes().to_vec();
            b.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
            b.extend_from_slice(&(*ts as u32).to_le_bytes());
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(data);
            while !b.len().is_multiple_of(4) {
                b.push(0);
            }
            if let Some(c) = comment {
                b.extend(opt(1, c.as_bytes()));
                b.extend(opt(0, &[]));
            }
            f.extend(block(EPB, &b));
        }
        f
    }

    type Read = (u64, usize, Vec<u8>, Option<String>);

    fn all(bytes: &[u8]) -> Result<Vec<Read>, CaptureError> {
        let mut r = CaptureReader::new(bytes)?;
        let mut out = Vec::new();
        while let Some(f) = r.next_frame()? {
            out.push((
                f.ts_ns,
                f.iface,
                f.data.to_vec(),
                f.comment.map(str::to_string),
            ));
        }
        Ok(out)
    }

    #[test]
    fn pcap_micro_and_nano() {
        let f = pcap_file(1, false, &[(1_500_000_123_000, b"abc")]);
        assert_eq!(
            all(&f).unwrap(),
            vec![(1_500_000_123_000, 0, b"abc".to_vec(), None)]
        );
        let f = pcap_file(1, true, &[(1_500_000_123_456, b"abcd")]);
        assert_eq!(all(&f).unwrap()[0].0, 1_500_000_123_456);
    }

    #[test]
    fn pcapng_interfaces_resolution_comments() {
        let f = pcapng_file(
            &[
                ("client-port", 1, 9),
                ("server-port", 1, 6),
                ("bin", 1, 0x80 | 10),
            ],
            &[
                (0, 5_000_000_001, b"x", Some("teardown: fault cut")),
                (1, 5_000_002, b"yy", None),
                (2, 1024 * 3, b"z", None),
            ],
        );
        let mut r = CaptureReader::new(&f[..]).unwrap();
        let a = r.next_frame().unwrap().unwrap();
        assert_eq!(
            (a.ts_ns, a.iface, a.comment),
            (5_000_000_001, 0, Some("teardown: fault cut"))
        );
        let b = r.next_frame().unwrap().unwrap();
        assert_eq!((b.ts_ns, b.iface, b.data), (5_000_002_000, 1, &b"yy"[..]));
        let c = r.next_frame().unwrap().unwrap();
        assert_eq!(c.ts_ns, 3_000_000_000);
        assert!(r.next_frame().unwrap().is_none());
        assert_eq!(r.interfaces()[1].name, "server-port");
    }

    #[test]
    fn truncation_reports_offset() {
        let f = pcap_file(1, false, &[(0, b"abcdef"), (1, b"ghijkl")]);
        let cut = &f[..f.len() - 3];
        let e = all(cut).unwrap_err();
        assert_eq!(e.offset, 24 + 16 + 6);
        assert!(e.message.contains("truncated"), "{e}");
        let e = all(&f[..10]).unwrap_err();
        assert_eq!(e.offset, 0);
        let e = all(b"hello world, not a capture").unwrap_err();
        assert!(e.to_string().contains("not a pcap"), "{e}");
    }

    #[test]
    fn pcapng_corruption_reports_offset() {
        let mut f = pcapng_file(&[("a", 1, 9)], &[(0, 1, b"abc", None)]);
        let epb_at = f.len() - 36;
        // Corrupt the EPB's trailing length.
        let n = f.len();
        f[n - 4] = 0x99;
        let e = all(&f).unwrap_err();
        assert_eq!(e.offset as usize, epb_at, "{e}");
        // A packet for an undescribed interface.
        let f = pcapng_file(&[("a", 1, 9)], &[(3, 1, b"abc", None)]);
        assert!(all(&f).unwrap_err().message.contains("interface 3"));
        // Huge block length.
        let mut f = pcapng_file(&[("a", 1, 9)], &[]);
        f.extend_from_slice(&6u32.to_le_bytes());
        f.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert!(all(&f).unwrap_err().message.contains("bad block length"));
    }
}
