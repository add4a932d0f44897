//! The lab's topology over rtnetlink: namespaces, veth, bridge, addresses, sysctls.
//!
//! Contract:
//! - `switched` (default): `td-<id>-client` and `td-<id>-server` each joined by
//!   a veth to a bridge `br0` in `td-<id>-wire` (ports `c-port`, `s-port`).
//!   `direct`: one veth pair between the two hosts (a crossover cable).
//! - Every link is created from a thread inside a lab namespace, with the
//!   peer placed directly into its namespace (IFLA_NET_NS_FD): nothing is ever
//!   created in, or moved through, the root namespace.
//! - Hosts get 198.18.0.1/.2 (/15) and fd00:7d::1/::2 (/64, no DAD), fixed
//!   MACs, loopback up, and no default route.
//! - [`Lab::up`] either returns a complete lab or removes everything it
//!   created and names the step and errno that failed.

use crate::netns::NetNs;
use crate::rtnl::Rtnl;
use anyhow::{anyhow, Context, Result};
use netlink_packet_core::DefaultNla;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoBridge, InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
    LinkProtoInfoBridge,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use teardown_core::evidence::addr;
use teardown_core::scenario::Topology;

/// Fixed MACs, so a powered-on host comes back with the same NIC.
pub const CLIENT_MAC: [u8; 6] = [0x02, 0x7d, 0, 0, 0, 0x01];
pub const SERVER_MAC: [u8; 6] = [0x02, 0x7d, 0, 0, 0, 0x02];

/// A lab host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    Client,
    Server,
}

impl Host {
    pub fn parse(name: &str) -> Option<Host> {
        match name {
            "client" => Some(Host::Client),
            "server" => Some(Host::Server),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Host::Client => "client",
            Host::Server => "server",
        }
    }
    pub fn v4(self) -> std::net::Ipv4Addr {
        match self {
            Host::Client => addr::CLIENT_V4,
            Host::Server => addr::SERVER_V4,
        }
    }
    pub fn v6(self) -> std::net::Ipv6Addr {
        match self {
            Host::Client => addr::CLIENT_V6,
            Host::Server => addr::SERVER_V6,
        }
    }
    pub fn mac(self) -> [u8; 6] {
        match self {
            Host::Client => CLIENT_MAC,
            Host::Server => SERVER_MAC,
        }
    }
    /// The wire port this host is plugged into (switched topology).
    pub fn port(self) -> &'static str {
        match self {
            Host::Client => "c-port",
            Host::Server => "s-port",
        }
    }
    /// The capture interface name for this host's side of the wire.
    pub fn capture_name(self) -> &'static str {
        match self {
            Host::Client => "client-port",
            Host::Server => "server-port",
        }
    }
    pub fn other(self) -> Host {
        match self {
            Host::Client => Host::Server,
            Host::Server => Host::Client,
        }
    }
}

/// The namespace names of a lab with this id.
pub fn ns_name(id: &str, role: &str) -> String {
    format!("td-{id}-{role}")
}

/// A built lab.
#[derive(Debug)]
pub struct Lab {
    pub id: String,
    pub topology: Topology,
    pub client: NetNs,
    pub server: NetNs,
    /// The wire namespace (switched topology only).
    pub wire: Option<NetNs>,
    /// Whether the wire is cut now (a powered-on host's new port starts cut too).
    pub cut: std::sync::atomic::AtomicBool,
}

/// Where a capture port lives: its namespace and interface name.
pub struct PortLocation<'a> {
    pub ns: &'a NetNs,
    pub ifname: &'static str,
}

impl Lab {
    /// Builds the lab. On any failure, removes what it created.
    pub fn up(id: &str, topology: Topology) -> Result<Lab> {
        let mut created: Vec<NetNs> = Vec::new();
        let result = Self::build(id, topology, &mut created);
        if result.is_err() {
            for ns in created.iter().rev() {
                let _ = ns.delete();
            }
        }
        result
    }

    fn build(id: &str, topology: Topology, created: &mut Vec<NetNs>) -> Result<Lab> {
        let mut make = |role: &str| -> Result<NetNs> {
            let ns = NetNs::create(&ns_name(id, role))?;
            created.push(ns.clone());
            Ok(ns)
        };
        let client = make("client")?;
        let server = make("server")?;
        let wire = match topology {
            Topology::Switched => Some(make("wire")?),
            Topology::Direct => None,
        };
        let lab = Lab {
            id: id.to_string(),
            topology,
            client,
            server,
            wire,
            cut: std::sync::atomic::AtomicBool::new(false),
        };
        for ns in lab.namespaces() {
            ns.run(|| -> Result<()> {
                // No IPv6 autoconfiguration noise from links we create, and loopback up.
                write_sysctl("net.ipv6.conf.default.accept_dad", "0")?;
                write_sysctl("net.ipv6.conf.default.router_solicitations", "0")?;
                let mut rt = Rtnl::open()?;
                let lo = link_index(&mut rt, "lo")?;
                set_link_up(&mut rt, lo, true, "setting lo up")
            })??;
        }
        match &lab.wire {
            Some(wire) => {
                let client_fd = lab.client.file()?;
                let server_fd = lab.server.file()?;
                wire.run(|| -> Result<()> {
                    // The wire carries frames, it has no addresses of its own.
                    write_sysctl("net.ipv6.conf.all.disable_ipv6", "1")?;
                    write_sysctl("net.ipv6.conf.default.disable_ipv6", "1")?;
                    let mut rt = Rtnl::open()?;
                    add_bridge(&mut rt, "br0")?;
                    let br = link_index(&mut rt, "br0")?;
                    for (port, fd, host) in [
                        ("c-port", client_fd.as_raw_fd(), Host::Client),
                        ("s-port", server_fd.as_raw_fd(), Host::Server),
                    ] {
                        add_veth(&mut rt, port, None, "eth0", fd, host.mac())?;
                        let idx = link_index(&mut rt, port)?;
                        set_master(&mut rt, idx, br, port)?;
                        set_link_up(&mut rt, idx, true, &format!("setting {port} up"))?;
                    }
                    set_link_up(&mut rt, br, true, "setting br0 up")
                })??;
            }
            None => {
                let server_fd = lab.server.file()?;
                lab.client.run(|| -> Result<()> {
                    let mut rt = Rtnl::open()?;
                    add_veth(
                        &mut rt,
                        "eth0",
                        Some(Host::Client.mac()),
                        "eth0",
                        server_fd.as_raw_fd(),
                        Host::Server.mac(),
                    )
                })??;
            }
        }
        for host in [Host::Client, Host::Server] {
            lab.host(host).run(|| -> Result<()> {
                let mut rt = Rtnl::open()?;
                let idx = link_index(&mut rt, "eth0")?;
                add_address(&mut rt, idx, IpAddr::V4(host.v4()), addr::PREFIX_V4)?;
                add_address(&mut rt, idx, IpAddr::V6(host.v6()), addr::PREFIX_V6)?;
                set_link_up(&mut rt, idx, true, "setting eth0 up")
            })??;
        }
        lab.wait_until_up()?;
        Ok(lab)
    }

    /// Every veth end in order (see [`keep_frames_in_order`]), then every host's
    /// eth0 and (switched) both wire ports operationally up.
    fn wait_until_up(&self) -> Result<()> {
        for host in [Host::Client, Host::Server] {
            self.host(host).run(|| -> Result<()> {
                keep_frames_in_order_or_warn("eth0");
                let mut rt = Rtnl::open()?;
                wait_oper_up(&mut rt, &["eth0"])?;
                wait_solicited_node_joined("eth0", host.v6())
            })??;
        }
        if let Some(w) = &self.wire {
            w.run(|| -> Result<()> {
                keep_frames_in_order_or_warn("c-port");
                keep_frames_in_order_or_warn("s-port");
                let mut rt = Rtnl::open()?;
                // The ports (their carrier makes them forward); the bridge's own
                // operstate follows later and gates nothing.
                wait_oper_up(&mut rt, &["c-port", "s-port"])
            })??;
        }
        Ok(())
    }

    /// The namespaces of the lab, hosts first.
    pub fn namespaces(&self) -> Vec<&NetNs> {
        let mut v = vec![&self.client, &self.server];
        if let Some(w) = &self.wire {
            v.push(w);
        }
        v
    }

    pub fn host(&self, host: Host) -> &NetNs {
        match host {
            Host::Client => &self.client,
            Host::Server => &self.server,
        }
    }

    /// Where the capture (and the wire faults) for a host's side of the wire live.
    pub fn port(&self, host: Host) -> PortLocation<'_> {
        match &self.wire {
            Some(w) => PortLocation {
                ns: w,
                ifname: host.port(),
            },
            None => PortLocation {
                ns: self.host(host),
                ifname: "eth0",
            },
        }
    }

    /// Writes a sysctl in a host's namespace.
    pub fn set_sysctl(&self, host: Host, key: &str, value: &str) -> Result<()> {
        self.host(host).run(|| write_sysctl(key, value))?
    }

    /// Plugs a freshly created (powered-on) host back in: same MAC and addresses.
    pub fn replug(&self, host: Host) -> Result<()> {
        let fd = self.host(host).file()?;
        let wire = self
            .wire
            .as_ref()
            .ok_or_else(|| anyhow!("power on in the direct topology is not supported"))?;
        self.host(host).run(|| -> Result<()> {
            write_sysctl("net.ipv6.conf.default.accept_dad", "0")?;
            write_sysctl("net.ipv6.conf.default.router_solicitations", "0")?;
            let mut rt = Rtnl::open()?;
            let lo = link_index(&mut rt, "lo")?;
            set_link_up(&mut rt, lo, true, "setting lo up")
        })??;
        wire.run(|| -> Result<()> {
            let mut rt = Rtnl::open()?;
            let port = host.port();
            // The old port vanishes with the old namespace; wait for its name to be free.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while link_index(&mut rt, port).is_ok() {
                if std::time::Instant::now() > deadline {
                    return Err(anyhow!(
                        "{port} of the powered-off host still exists after 5 s"
                    ));
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            add_veth(&mut rt, port, None, "eth0", fd.as_raw_fd(), host.mac())?;
            let idx = link_index(&mut rt, port)?;
            let br = link_index(&mut rt, "br0")?;
            set_master(&mut rt, idx, br, port)?;
            set_link_up(&mut rt, idx, true, &format!("setting {port} up"))
        })??;
        self.host(host).run(|| -> Result<()> {
            let mut rt = Rtnl::open()?;
            let idx = link_index(&mut rt, "eth0")?;
            add_address(&mut rt, idx, IpAddr::V4(host.v4()), addr::PREFIX_V4)?;
            add_address(&mut rt, idx, IpAddr::V6(host.v6()), addr::PREFIX_V6)?;
            set_link_up(&mut rt, idx, true, "setting eth0 up")
        })??;
        self.wait_until_up()
    }
}

/// Writes `/proc/sys/<key with dots as slashes>` in the calling thread's namespace.
pub fn write_sysctl(key: &str, value: &str) -> Result<()> {
    if key.contains("..") || key.contains('/') {
        return Err(anyhow!("bad sysctl name {key}"));
    }
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::write(&path, value).map_err(|e| {
        anyhow!(
            "writing sysctl {key} = {value}: {}",
            crate::sys::errno_of_io(&e)
        )
    })
}

/// Reads a sysctl in the calling thread's namespace.
pub fn read_sysctl(key: &str) -> Result<String> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    Ok(std::fs::read_to_string(&path)
        .with_context(|| format!("reading sysctl {key}"))?
        .trim()
        .to_string())
}

/// One dump of the links in the socket's namespace.
pub struct LinkState {
    pub index: u32,
    pub name: String,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Operationally up (carrier and all: IF_OPER_UP).
    pub oper_up: bool,
}

/// Every link in the socket's namespace, with its state.
pub fn link_states(rt: &mut Rtnl) -> Result<Vec<LinkState>> {
    use netlink_packet_route::link::State;
    let mut out = Vec::new();
    for msg in rt.dump(
        RouteNetlinkMessage::GetLink(LinkMessage::default()),
        "listing links",
    )? {
        if let RouteNetlinkMessage::NewLink(link) = msg {
            let name = link
                .attributes
                .iter()
                .find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            out.push(LinkState {
                index: link.header.index,
                name,
                up: link.header.flags.contains(LinkFlags::Up),
                oper_up: link
                    .attributes
                    .iter()
                    .any(|a| matches!(a, LinkAttribute::OperState(State::Up))),
            });
        }
    }
    Ok(out)
}

/// The index of a link by name, in the socket's namespace.
pub fn link_index(rt: &mut Rtnl, name: &str) -> Result<u32> {
    link_states(rt)?
        .into_iter()
        .find(|l| l.name == name)
        .map(|l| l.index)
        .ok_or_else(|| anyhow!("no link named {name}"))
}

/// Names and flags of every link, in the socket's namespace.
pub fn links(rt: &mut Rtnl) -> Result<Vec<(u32, String, bool)>> {
    Ok(link_states(rt)?
        .into_iter()
        .map(|l| (l.index, l.name, l.up))
        .collect())
}

pub fn set_link_up(rt: &mut Rtnl, index: u32, up: bool, step: &str) -> Result<()> {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    msg.header.flags = if up {
        LinkFlags::Up
    } else {
        LinkFlags::empty()
    };
    msg.header.change_mask = LinkFlags::Up;
    rt.request(RouteNetlinkMessage::NewLink(msg), 0, step)
}

pub(crate) fn add_bridge(rt: &mut Rtnl, name: &str) -> Result<()> {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    msg.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Bridge),
        LinkInfo::Data(InfoData::Bridge(vec![
            // No STP (ports forward at once) and no multicast snooping: a plain switch.
            InfoBridge::StpState(netlink_packet_route::link::BridgeStpState::Disabled),
            InfoBridge::ForwardDelay(0),
            InfoBridge::MulticastSnooping(false),
        ])),
    ]));
    rt.request(
        RouteNetlinkMessage::NewLink(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        &format!("adding bridge {name}"),
    )
}

/// Creates a veth pair: `name` in the socket's namespace (MAC `mac` if given),
/// `peer_name` directly in the namespace `peer_ns_fd`, with MAC `peer_mac`.
pub(crate) fn add_veth(
    rt: &mut Rtnl,
    name: &str,
    mac: Option<[u8; 6]>,
    peer_name: &str,
    peer_ns_fd: i32,
    peer_mac: [u8; 6],
) -> Result<()> {
    let mut peer = LinkMessage::default();
    peer.attributes
        .push(LinkAttribute::IfName(peer_name.to_string()));
    peer.attributes.push(LinkAttribute::NetNsFd(peer_ns_fd));
    peer.attributes
        .push(LinkAttribute::Address(peer_mac.to_vec()));
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    if let Some(m) = mac {
        msg.attributes.push(LinkAttribute::Address(m.to_vec()));
    }
    msg.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
    rt.request(
        RouteNetlinkMessage::NewLink(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        &format!("adding veth {name} (peer {peer_name})"),
    )
}

fn set_master(rt: &mut Rtnl, index: u32, master: u32, name: &str) -> Result<()> {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    msg.attributes.push(LinkAttribute::Controller(master));
    rt.request(
        RouteNetlinkMessage::NewLink(msg),
        0,
        &format!("plugging {name} into br0"),
    )
}

/// Sets a bridge port's state, like `bridge link set dev PORT state 0|3`:
/// `disabled` drops every frame through the port (both directions) while both
/// veth ends keep link and carrier; `forwarding` passes. (RTM_SETLINK with
/// family AF_BRIDGE and IFLA_PROTINFO/IFLA_BRPORT_STATE; the same attribute
/// sent as bridge-slave link info is ignored by the kernel when STP is off.)
pub fn set_port_forwarding(rt: &mut Rtnl, index: u32, forwarding: bool, name: &str) -> Result<()> {
    const IFLA_BRPORT_STATE: u16 = 1;
    const BR_STATE_DISABLED: u8 = 0;
    const BR_STATE_FORWARDING: u8 = 3;
    let state = if forwarding {
        BR_STATE_FORWARDING
    } else {
        BR_STATE_DISABLED
    };
    let mut msg = LinkMessage::default();
    msg.header.interface_family = AddressFamily::Bridge;
    msg.header.index = index;
    msg.attributes.push(LinkAttribute::ProtoInfoBridge(vec![
        LinkProtoInfoBridge::Other(DefaultNla::new(IFLA_BRPORT_STATE, vec![state])),
    ]));
    rt.request(
        RouteNetlinkMessage::SetLink(msg),
        0,
        &format!(
            "setting bridge port {name} {}",
            if forwarding { "forwarding" } else { "disabled" }
        ),
    )
}

fn add_address(rt: &mut Rtnl, index: u32, ip: IpAddr, prefix: u8) -> Result<()> {
    let mut msg = AddressMessage::default();
    msg.header.index = index;
    msg.header.prefix_len = prefix;
    msg.header.family = match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    if ip.is_ipv6() {
        msg.header.flags = AddressHeaderFlags::Nodad;
    }
    msg.attributes.push(AddressAttribute::Local(ip));
    msg.attributes.push(AddressAttribute::Address(ip));
    rt.request(
        RouteNetlinkMessage::NewAddress(msg),
        NLM_F_CREATE | NLM_F_REPLACE,
        &format!("adding address {ip}/{prefix}"),
    )
}

impl Lab {
    /// Takes the lab down, in the order that leaks nothing: cut the wire
    /// (so nothing more leaves), kill every process in the lab's namespaces
    /// (by pid, found through /proc/PID/ns/net), destroy the sockets left
    /// (orphans would keep a deleted namespace alive for ~100 s), then delete
    /// the namespaces. Goes on past errors and reports the first one.
    pub fn down(&self) -> Result<()> {
        crate::cleanup::teardown_namespaces(
            &self.namespaces().into_iter().cloned().collect::<Vec<_>>(),
        )
    }

    /// Cuts or restores both wire ports (switched topology).
    pub fn set_wire_forwarding(&self, forwarding: bool) -> Result<()> {
        let wire = self
            .wire
            .as_ref()
            .ok_or_else(|| anyhow!("the direct topology has no wire namespace"))?;
        wire.run(|| -> Result<()> {
            let mut rt = Rtnl::open()?;
            for port in ["c-port", "s-port"] {
                if let Ok(idx) = link_index(&mut rt, port) {
                    set_port_forwarding(&mut rt, idx, forwarding, port)?;
                }
            }
            Ok(())
        })?
    }
}

impl Lab {
    /// Pins `host`'s neighbour entries for its peer (IPv4 and IPv6) as
    /// permanent, like static ARP: address resolution then never fails in a
    /// cut, and what TCP sends keeps reaching the wire. Without it, a cut of
    /// more than ~30 s (base_reachable_time) also fails the neighbour entry,
    /// and later segments die in the neighbour queue instead of the wire.
    pub fn pin_neighbour(&self, host: Host) -> Result<()> {
        use netlink_packet_route::neighbour::{
            NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
        };
        let peer = host.other();
        self.host(host).run(|| -> Result<()> {
            let mut rt = Rtnl::open()?;
            let idx = link_index(&mut rt, "eth0")?;
            for (family, dst) in [
                (AddressFamily::Inet, NeighbourAddress::Inet(peer.v4())),
                (AddressFamily::Inet6, NeighbourAddress::Inet6(peer.v6())),
            ] {
                let mut msg = NeighbourMessage::default();
                msg.header.family = family;
                msg.header.ifindex = idx;
                msg.header.state = NeighbourState::Permanent;
                msg.attributes.push(NeighbourAttribute::Destination(dst));
                msg.attributes
                    .push(NeighbourAttribute::LinkLayerAddress(peer.mac().to_vec()));
                rt.request(
                    RouteNetlinkMessage::NewNeighbour(msg),
                    NLM_F_CREATE | NLM_F_REPLACE,
                    &format!(
                        "pinning {}'s neighbour entry for {}",
                        host.name(),
                        peer.name()
                    ),
                )?;
            }
            Ok(())
        })?
    }
}

/// Makes a veth end deliver what its peer sends in the order it was sent, like
/// a cable: TSO off and GRO on (SIOCETHTOOL, ETHTOOL_STSO / ETHTOOL_SGRO, in
/// the calling thread's namespace).
///
/// By default a veth hands each frame to the receiving side with netif_rx on
/// the CPU that sent it, into that CPU's backlog; two frames a host sends at
/// nearly the same time from two CPUs (a delayed ACK from a softirq, a FIN from
/// the process closing) can then be delivered in the opposite order. Seen
/// under load: a server's pure ACK built before its FIN arrived after it, the
/// client in TIME_WAIT answered the stale ACK, the server (already closed)
/// answered that with RST, and the RST killed the client's TIME_WAIT. With GRO
/// on, the receiving end has a NAPI ring and the sender puts every frame in it
/// (the kernel only bypasses the ring for TSO super-frames, hence TSO off:
/// the stack segments in software before the veth), so frames leave in order.
pub fn keep_frames_in_order(ifname: &str) -> Result<()> {
    ethtool_value(ifname, ETHTOOL_STSO, 0)?;
    ethtool_value(ifname, ETHTOOL_SGRO, 1).map(|_| ())
}

/// True when `ifname` (in the calling thread's namespace) has TSO off and GRO
/// on, as [`keep_frames_in_order`] leaves it.
pub fn frames_kept_in_order(ifname: &str) -> Result<bool> {
    Ok(
        ethtool_value(ifname, ETHTOOL_GTSO, 0)? == 0
            && ethtool_value(ifname, ETHTOOL_GGRO, 0)? == 1,
    )
}

const ETHTOOL_GTSO: u32 = 0x1e;
const ETHTOOL_STSO: u32 = 0x1f;
const ETHTOOL_GGRO: u32 = 0x2b;
const ETHTOOL_SGRO: u32 = 0x2c;

/// [`keep_frames_in_order`], with a warning instead of an error: a lab whose
/// veths may reorder still runs (`teardown doctor` names the missing feature).
fn keep_frames_in_order_or_warn(ifname: &str) {
    if let Err(e) = keep_frames_in_order(ifname) {
        tracing::warn!(
            "{e:#}: frames sent at once from two CPUs may arrive swapped (see teardown doctor)"
        );
    }
}

/// One legacy ethtool command with a `struct ethtool_value` on `ifname`: a
/// "set" sends `data`; a "get" returns the value read.
fn ethtool_value(ifname: &str, cmd: u32, data: u32) -> Result<u32> {
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    #[repr(C)]
    struct IfReq {
        name: [u8; libc::IFNAMSIZ],
        data: *mut EthtoolValue,
        _pad: [u8; 16],
    }
    if ifname.len() >= libc::IFNAMSIZ {
        return Err(anyhow!("interface name {ifname} is too long"));
    }
    let mut value = EthtoolValue { cmd, data };
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        data: &mut value,
        _pad: [0; 16],
    };
    req.name[..ifname.len()].copy_from_slice(ifname.as_bytes());
    let sock = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| {
        anyhow!(
            "socket for ethtool: {}",
            teardown_core::errno::name(e as i32)
        )
    })?;
    // SAFETY: req is a valid ifreq whose data points at `value`, both alive for the call.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL as _, &mut req) };
    let e = std::io::Error::last_os_error();
    if r < 0 {
        return Err(anyhow!(
            "ethtool command {cmd:#x} on {ifname}: {}",
            crate::sys::errno_of_io(&e)
        ));
    }
    Ok(value.data)
}

/// The solicited-node multicast group of an IPv6 address (RFC 4291 2.7.1:
/// ff02::1:ff00:0/104 plus the address's low 24 bits), as /proc/net/igmp6
/// writes it: 32 hex digits.
pub fn solicited_node_hex(ip: std::net::Ipv6Addr) -> String {
    let o = ip.octets();
    let mut g = [0u8; 16];
    g[0] = 0xff;
    g[1] = 0x02;
    g[11] = 0x01;
    g[12] = 0xff;
    g[13..].copy_from_slice(&o[13..]);
    g.iter().map(|b| format!("{b:02x}")).collect()
}

/// True when /proc/net/igmp6 text lists `group_hex` joined on `ifname` (pure).
pub fn igmp6_has(igmp6: &str, ifname: &str, group_hex: &str) -> bool {
    igmp6.lines().any(|l| {
        let mut f = l.split_whitespace();
        let (_, dev, group) = (f.next(), f.next(), f.next());
        dev == Some(ifname) && group == Some(group_hex)
    })
}

/// Waits (bounded, 10 s: only a bound on a hang) until the calling thread's
/// namespace has joined the solicited-node multicast group of `ip` on
/// `ifname`. A neighbour solicitation is sent to that group, and a host that
/// has not joined it yet ignores it: the peer's first NS goes unanswered, its
/// SYN waits a second in the neighbour queue, and the connection's RTO is
/// built from a ~1 s RTT sample (3 s instead of 0.2 s). The join happens in
/// the kernel's address work item (a workqueue that needs the RTNL lock, late
/// under load), even for a NODAD address, which is never tentative. Reads
/// /proc/thread-self/net/igmp6: the thread's own namespace.
pub fn wait_solicited_node_joined(ifname: &str, ip: std::net::Ipv6Addr) -> Result<()> {
    let group = solicited_node_hex(ip);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // Polled: joins have no rtnetlink notification before 6.12 (RTNLGRP_IPV6_MCADDR),
    // and the join comes within milliseconds.
    loop {
        let text = std::fs::read_to_string("/proc/thread-self/net/igmp6").map_err(|e| {
            anyhow!(
                "reading /proc/thread-self/net/igmp6: {}",
                crate::sys::errno_of_io(&e)
            )
        })?;
        if igmp6_has(&text, ifname, &group) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(anyhow!(
                "{ifname} has not joined {ip}'s solicited-node group after 10 s"
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Waits (bounded, 10 s: only a bound on a hang) until every named link in the socket's namespace is
/// operationally up. Carrier changes reach the stack through linkwatch, which
/// may lag by up to a second under load; until then a fresh bridge port is not
/// forwarding and a host's first ARP or neighbour solicitation is lost (and a
/// SYN waits a second and inflates the RTO). So a lab is handed over only once
/// its links are really up.
pub fn wait_oper_up(rt: &mut Rtnl, names: &[&str]) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let states = link_states(rt)?;
        let pending: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !states.iter().any(|l| l.oper_up && l.name == *n))
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(anyhow!(
                "links still not up after 10 s: {}",
                pending.join(", ")
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solicited_node_groups_take_the_low_24_bits() {
        assert_eq!(
            solicited_node_hex("fd00:7d::2".parse().unwrap()),
            "ff0200000000000000000001ff000002"
        );
        assert_eq!(
            solicited_node_hex("2001:db8::1:abcd:ef12".parse().unwrap()),
            "ff0200000000000000000001ffcdef12"
        );
    }

    #[test]
    fn igmp6_lines_match_by_device_and_group() {
        let text = "1    lo              ff020000000000000000000000000001     1 0000000C 0\n\
                    2    eth0            ff0200000000000000000001ff000002     1 00000004 0\n";
        assert!(igmp6_has(text, "eth0", "ff0200000000000000000001ff000002"));
        assert!(!igmp6_has(text, "lo", "ff0200000000000000000001ff000002"));
        assert!(!igmp6_has(text, "eth0", "ff0200000000000000000001ff000001"));
        assert!(!igmp6_has("", "eth0", "ff0200000000000000000001ff000002"));
    }
}
