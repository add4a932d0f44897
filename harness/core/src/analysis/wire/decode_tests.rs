//! Decoder tests: hand-built frames of every kind this module reads.

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

#[test]
fn more_links_and_tunnels_give_the_tcp_inside() {
    let ip4 = v4seg();
    let want = decode(LINKTYPE_RAW, &ip4).unwrap();
    let cat = |parts: &[&[u8]]| parts.concat();
    let snap = |ty: u16| cat(&[&[0xAA, 0xAA, 0x03, 0, 0, 0], &ty.to_be_bytes()]);
    let inner_eth = eth(0x0800, &ip4);
    // 802.11 QoS data, to the AP (one address set), then LLC/SNAP.
    let mut wlan = vec![0x88, 0x01];
    wlan.extend_from_slice(&[0; 22]);
    wlan.extend_from_slice(&[0, 0]); // QoS control
    wlan.extend_from_slice(&snap(0x0800));
    wlan.extend_from_slice(&ip4);
    let mut protected = wlan.clone();
    protected[1] |= 0x40;
    let ipoib = cat(&[&[0; 40], &[0x08, 0x00, 0, 0], &ip4]);
    let mut gtp = vec![0x30, 0xFF];
    gtp.extend_from_slice(&(ip4.len() as u16).to_be_bytes());
    gtp.extend_from_slice(&[0, 0, 0, 1]);
    let gtp_ext = cat(&[
        &[0x34, 0xFF, 0, 0, 0, 0, 0, 1],
        &[0, 0, 0, 0x85],
        &[1, 0, 0, 0],
        &ip4,
    ]);
    let ayiya = cat(&[&[0x41, 0x52, 0x11, 4], &[0; 4], &[0; 16], &[0; 20], &ip4]);
    let ah = cat(&[&[6, 4, 0, 0], &[0; 20], &ip4[20..]]);
    let mut ah_v4 = ipv4_bytes([10, 0, 0, 1], [10, 0, 0, 2], &ah);
    ah_v4[9] = 51;
    let ppi = cat(&[&[0, 0, 8, 0], &1u32.to_le_bytes(), &inner_eth]);
    let juniper = cat(&[b"MGC", &[0x80, 0, 2, 0, 0], &inner_eth]);
    let cases: Vec<(&str, u16, Vec<u8>)> = vec![
        (
            "802.3 + LLC/SNAP",
            LINKTYPE_ETHERNET,
            eth(ip4.len() as u16 + 8, &cat(&[&snap(0x0800), &ip4])),
        ),
        (
            "FDDI",
            LINKTYPE_FDDI,
            cat(&[&[0x50], &[0; 12], &snap(0x0800), &ip4]),
        ),
        (
            "VN-Tag",
            LINKTYPE_ETHERNET,
            eth(0x8926, &cat(&[&[0, 0, 0, 0x33, 0x08, 0], &ip4])),
        ),
        (
            "PBB",
            LINKTYPE_ETHERNET,
            eth(0x88E7, &cat(&[&[0, 0, 0, 1], &inner_eth])),
        ),
        (
            "FabricPath",
            LINKTYPE_ETHERNET,
            eth(0x8903, &cat(&[&[0, 0], &inner_eth])),
        ),
        (
            "PPP + MPLS",
            LINKTYPE_PPP,
            cat(&[&[0xff, 0x03, 0x02, 0x81, 0, 0, 0x11, 64], &ip4]),
        ),
        ("IPoIB", LINKTYPE_IPOIB, ipoib),
        ("802.11", LINKTYPE_IEEE802_11, wlan.clone()),
        ("PPI", LINKTYPE_PPI, ppi),
        ("Juniper", LINKTYPE_JUNIPER_ETHER, juniper),
        (
            "ARCNET RFC 1051",
            LINKTYPE_ARCNET_LINUX,
            cat(&[&[1, 2, 0, 0, 240], &ip4]),
        ),
        (
            "ARCNET RFC 1201",
            LINKTYPE_ARCNET_LINUX,
            cat(&[&[1, 2, 0, 0, 212, 0, 0, 0], &ip4]),
        ),
        ("IP in IP", LINKTYPE_IPV4, ipv4_of(4, &ip4)),
        ("AH", LINKTYPE_IPV4, ah_v4),
        (
            "Aruba GRE",
            LINKTYPE_IPV4,
            ipv4_of(47, &cat(&[&[0, 0, 0x82, 0x00], &wlan])),
        ),
        (
            "ERSPAN I",
            LINKTYPE_IPV4,
            ipv4_of(47, &cat(&[&[0, 0, 0x88, 0xBE], &inner_eth])),
        ),
        (
            "ERSPAN II",
            LINKTYPE_IPV4,
            ipv4_of(
                47,
                &cat(&[&[0x10, 0, 0x88, 0xBE], &[0; 4], &[0; 8], &inner_eth]),
            ),
        ),
        (
            "WCCP",
            LINKTYPE_IPV4,
            ipv4_of(47, &cat(&[&[0, 0, 0x88, 0x3E], &[0; 4], &ip4])),
        ),
        (
            "GTP-U",
            LINKTYPE_IPV4,
            ipv4_of(17, &udp_to(2152, &cat(&[&gtp, &ip4]))),
        ),
        (
            "GTP-U with an extension header",
            LINKTYPE_IPV4,
            ipv4_of(17, &udp_to(2152, &gtp_ext)),
        ),
        (
            "GRE in UDP",
            LINKTYPE_IPV4,
            ipv4_of(17, &udp_to(4754, &cat(&[&[0, 0, 0x08, 0], &ip4]))),
        ),
        (
            "Teredo",
            LINKTYPE_IPV4,
            ipv4_of(17, &udp_to(3544, &ipv6_seg())),
        ),
        ("AYIYA", LINKTYPE_IPV4, ipv4_of(17, &udp_to(5072, &ayiya))),
    ];
    let want6 = decode(LINKTYPE_IPV6, &ipv6_seg()).unwrap();
    for (what, lt, frame) in cases {
        // Teredo carries IPv6 (the AYIYA case here carries IPv4: next header 4).
        let expected = if what == "Teredo" { want6 } else { want };
        assert_eq!(decode(lt, &frame), Some(expected), "{what}");
    }
    // What may carry TCP but is not read is named, never a silent nothing.
    assert_eq!(
        not_understood(LINKTYPE_IEEE802_11, &protected),
        Some("802.11 protected (encrypted)".into())
    );
    assert_eq!(
        not_understood(
            LINKTYPE_IPV4,
            &ipv4_of(47, &cat(&[&[0, 0, 0x12, 0x34], &ip4]))
        ),
        Some("GRE protocol 0x1234".into())
    );
    assert_eq!(
        not_understood(LINKTYPE_IPV4, &ipv4_of(108, &[4, 0, 0, 3, 1, 2, 3])),
        Some("IPComp (OUI, LZS or LZJH)".into())
    );
}

/// An IPv6 TCP segment (what the Teredo case carries).
fn ipv6_seg() -> Vec<u8> {
    ipv6_bytes(
        [0xfd; 16],
        [0xfe; 16],
        &tcp_bytes(40000, 80, 0x18, 1000, 2000, 512, b"hello"),
    )
}

#[test]
fn fragments_and_compressed_payloads_are_handed_up() {
    let t = tcp_bytes(40000, 80, 0x18, 1000, 2000, 512, b"hello");
    // The first of two IPv4 fragments (MF set), and the second.
    let mut first = ipv4_bytes([10, 0, 0, 1], [10, 0, 0, 2], &t[..16]);
    first[6] = 0x20;
    let Some(Decoded::Fragment(f)) = decode_frame(LINKTYPE_RAW, &first) else {
        panic!("not a fragment")
    };
    assert_eq!(
        (f.offset, f.more, f.data.len(), f.key.proto),
        (0, true, 16, 6)
    );
    let mut second = ipv4_bytes([10, 0, 0, 1], [10, 0, 0, 2], &t[16..]);
    second[6] = 0x00;
    second[7] = 2; // offset 16 bytes
    let Some(Decoded::Fragment(g)) = decode_frame(LINKTYPE_RAW, &second) else {
        panic!("not a fragment")
    };
    assert_eq!((g.offset, g.more, g.key), (16, false, f.key));
    // A first fragment the snaplen cut is read as it is (Wireshark: it
    // reassembles only what it holds whole).
    let mut cut = ipv4_bytes([10, 0, 0, 1], [10, 0, 0, 2], &t);
    cut[6] = 0x20;
    assert_eq!(decode(LINKTYPE_RAW, &cut[..42]).map(|s| s.seq), Some(1000));
    // IPv6: a fragment header with M set, and an atomic one (M clear, offset 0).
    let frag_hdr = |m: u8| [&[6u8, 0, 0, m][..], &[0, 0, 0, 9]].concat();
    let mut b = ipv6_bytes([0xfd; 16], [0xfe; 16], &[&frag_hdr(1)[..], &t].concat());
    b[6] = 44;
    assert!(matches!(
        decode_frame(LINKTYPE_IPV6, &b),
        Some(Decoded::Fragment(_))
    ));
    let mut atomic = ipv6_bytes([0xfd; 16], [0xfe; 16], &[&frag_hdr(0)[..], &t].concat());
    atomic[6] = 44;
    assert_eq!(decode(LINKTYPE_IPV6, &atomic).map(|s| s.len), Some(5));
    // IPComp with DEFLATE: the compressed bytes, for the caller to inflate.
    let comp = ipv4_of(108, &[6, 0, 0, 2, 0xAB, 0xCD]);
    let Some(Decoded::Compressed(c)) = decode_frame(LINKTYPE_RAW, &comp) else {
        panic!("not compressed")
    };
    assert_eq!((c.key.proto, c.data), (6, &[0xAB, 0xCD][..]));
}

#[test]
fn a_frame_shorter_on_the_wire_than_its_ip_length_carries_what_it_had() {
    // IP says 5 payload bytes; the frame on the wire ended after the header
    // (tcpdump and tshark both print length 0).
    let ip4 = v4seg();
    let d = decode_frame(LINKTYPE_RAW, &ip4[..40]).unwrap();
    let Decoded::Tcp(s, _) = d.on_wire(40, 40) else {
        panic!()
    };
    assert_eq!(s.len, 0);
    // Cut by the snaplen instead (the wire had all 45): the IP length holds.
    let Decoded::Tcp(s, _) = d.on_wire(40, 45) else {
        panic!()
    };
    assert_eq!(s.len, 5);
}
