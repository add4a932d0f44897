//! IP reassembly: the fragments of a datagram put together, so that the
//! TCP inside is seen, as Wireshark sees it (`ip.defragment` and
//! `ipv6.defragment`, on by default), on the frame that completes it.
//!
//! Contract: [`Defrag::push`] takes fragments in file order and returns the
//! whole datagram (an IP packet with the first fragment's addresses and
//! protocol, no options) once every byte from 0 to the last fragment's end
//! is there, in any order, overlaps allowed (the first copy of a byte
//! wins). A fragment cut by the snaplen leaves a hole, so its datagram never
//! completes (as in Wireshark). Memory is bounded: at most
//! [`MAX_PENDING`] datagrams wait, the oldest given up first.

use super::wire::{FragKey, Fragment};
use std::collections::HashMap;
use std::net::IpAddr;

/// Datagrams waiting for fragments, at most.
pub const MAX_PENDING: usize = 4096;

/// A datagram's payload, at most (IPv4's and IPv6's length fields).
pub const MAX_PAYLOAD: u32 = 65535;

#[derive(Debug, Default)]
pub struct Defrag {
    pending: HashMap<FragKey, Pending>,
    /// Fragments whose datagram was given up (too many waiting).
    abandoned: u64,
    /// Order of arrival, to give up the oldest first.
    arrivals: u64,
}

#[derive(Debug)]
struct Pending {
    first_arrival: u64,
    /// (offset, data) as they came.
    parts: Vec<(u32, Vec<u8>)>,
    /// The payload's length, once the last fragment (M bit clear) came.
    total: Option<u32>,
}

impl Defrag {
    /// Adds a fragment; the whole datagram when this one completes it.
    pub fn push(&mut self, f: &Fragment) -> Option<Vec<u8>> {
        if self.pending.len() >= MAX_PENDING && !self.pending.contains_key(&f.key) {
            self.give_up_oldest();
        }
        self.arrivals += 1;
        let p = self.pending.entry(f.key).or_insert_with(|| Pending {
            first_arrival: self.arrivals,
            parts: Vec::new(),
            total: None,
        });
        p.parts.push((f.offset, f.data.to_vec()));
        if !f.more {
            p.total = Some(f.offset.saturating_add(f.wire_len));
        }
        let payload = p.whole()?;
        self.pending.remove(&f.key);
        Some(datagram(&f.key, &payload))
    }

    /// Fragments of datagrams that never completed (given up or still
    /// waiting when the capture ended).
    pub fn unfinished(&self) -> u64 {
        self.abandoned
            + self
                .pending
                .values()
                .map(|p| p.parts.len() as u64)
                .sum::<u64>()
    }

    fn give_up_oldest(&mut self) {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.first_arrival)
            .map(|(k, _)| *k);
        if let Some(k) = oldest {
            let p = self.pending.remove(&k).expect("just found");
            self.abandoned += p.parts.len() as u64;
        }
    }
}

impl Pending {
    /// The payload, if every byte of it is here.
    fn whole(&self) -> Option<Vec<u8>> {
        let total = self.total.filter(|t| *t <= MAX_PAYLOAD)?;
        let mut parts: Vec<&(u32, Vec<u8>)> = self.parts.iter().collect();
        parts.sort_by_key(|(off, _)| *off);
        let mut out = Vec::with_capacity(total as usize);
        for (off, data) in parts {
            let (off, end) = (*off as usize, *off as usize + data.len());
            if off > out.len() {
                return None; // a hole
            }
            if end > out.len() {
                out.extend_from_slice(&data[out.len() - off..]);
            }
        }
        (out.len() >= total as usize).then(|| {
            out.truncate(total as usize);
            out
        })
    }
}

/// An IP packet around a payload (reassembled, or inflated from IPComp).
pub fn datagram(key: &FragKey, payload: &[u8]) -> Vec<u8> {
    // Lengths past the fields' range are cut to it (no real datagram has them).
    let len = payload.len().min(65535) as u16;
    let mut b = match (key.src, key.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut b = vec![0x45, 0];
            b.extend_from_slice(&len.saturating_add(20).to_be_bytes());
            b.extend_from_slice(&(key.id as u16).to_be_bytes());
            b.extend_from_slice(&[0, 0, 64, key.proto, 0, 0]);
            b.extend_from_slice(&s.octets());
            b.extend_from_slice(&d.octets());
            b
        }
        (s, d) => {
            let mut b = vec![0x60, 0, 0, 0];
            b.extend_from_slice(&len.to_be_bytes());
            b.extend_from_slice(&[key.proto, 64]);
            b.extend_from_slice(&v6(s).octets());
            b.extend_from_slice(&v6(d).octets());
            b
        }
    };
    b.extend_from_slice(payload);
    b
}

fn v6(a: IpAddr) -> std::net::Ipv6Addr {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn frag(offset: u32, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            key: FragKey {
                src: Ipv4Addr::new(192, 0, 2, 1).into(),
                dst: Ipv4Addr::new(192, 0, 2, 2).into(),
                id: 7,
                proto: 6,
            },
            offset,
            more,
            data,
            wire_len: data.len() as u32,
        }
    }

    #[test]
    fn completes_on_the_fragment_that_fills_the_last_hole() {
        let mut d = Defrag::default();
        assert_eq!(
            d.push(&frag(16, false, b"cccc")),
            None,
            "the last one first"
        );
        assert_eq!(d.push(&frag(0, true, b"aaaaaaaa")), None);
        assert_eq!(d.unfinished(), 2);
        let whole = d.push(&frag(8, true, b"bbbbbbbb")).expect("complete");
        assert_eq!(&whole[20..], b"aaaaaaaabbbbbbbbcccc");
        assert_eq!(
            u16::from_be_bytes([whole[2], whole[3]]),
            40,
            "IP total length"
        );
        assert_eq!(
            (whole[6], whole[7], whole[9]),
            (0, 0, 6),
            "no fragment bits, protocol kept"
        );
        assert_eq!(d.unfinished(), 0);
    }

    #[test]
    fn a_hole_or_a_snaplen_cut_never_completes() {
        let mut d = Defrag::default();
        assert_eq!(d.push(&frag(0, true, b"aaaaaaaa")), None);
        assert_eq!(d.push(&frag(16, false, b"cccc")), None);
        let mut cut = frag(8, true, b"bbbb");
        cut.wire_len = 8; // captured 4 of its 8 bytes
        assert_eq!(d.push(&cut), None);
        assert_eq!(d.unfinished(), 3);
    }

    #[test]
    fn overlaps_and_copies_keep_the_first_bytes() {
        let mut d = Defrag::default();
        assert_eq!(d.push(&frag(0, true, b"aaaaaaaa")), None);
        assert_eq!(d.push(&frag(0, true, b"xxxxxxxx")), None);
        let whole = d.push(&frag(8, false, b"bb")).expect("complete");
        assert_eq!(&whole[20..], b"aaaaaaaabb");
    }

    #[test]
    fn waiting_datagrams_are_bounded() {
        let mut d = Defrag::default();
        for id in 0..MAX_PENDING as u32 + 10 {
            let mut f = frag(0, true, b"aaaaaaaa");
            f.key.id = id;
            assert_eq!(d.push(&f), None);
        }
        assert_eq!(d.pending.len(), MAX_PENDING);
        assert_eq!(d.unfinished(), MAX_PENDING as u64 + 10);
    }
}
