//! rtnetlink: one request and its ACK, or a dump, and the link, address and
//! neighbour operations the lab is built from (over [`crate::netlink`]).
//!
//! Contract: the socket belongs to the network namespace of the thread that
//! opened it (see [`crate::netns`]); every error names the step it was for
//! and the kernel's errno name (`adding veth c-port: EEXIST`), and is an
//! environment error once it reaches `anyhow` (see [`NlError`]).

use crate::netlink::{NlError, NlSocket};
use anyhow::{anyhow, Result};
use netlink_packet_core::{DefaultNla, NetlinkMessage, NetlinkPayload};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoBridge, InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
    LinkProtoInfoBridge,
};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// A NETLINK_ROUTE socket in the namespace of the thread that opened it.
pub struct Rtnl {
    nl: NlSocket,
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

impl Rtnl {
    /// Opens a NETLINK_ROUTE socket in the calling thread's namespace.
    pub fn open() -> Result<Rtnl, NlError> {
        Ok(Rtnl {
            nl: NlSocket::open(NETLINK_ROUTE, "rtnetlink")?,
        })
    }

    /// Sends a request with `extra_flags` (e.g. NLM_F_CREATE | NLM_F_EXCL) and waits for its ACK.
    pub fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        extra_flags: u16,
        step: &str,
    ) -> Result<(), NlError> {
        self.nl.request(msg, extra_flags, step, |_| Ok(()))
    }

    /// Sends a dump request and collects every answer until NLMSG_DONE.
    pub fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
        step: &str,
    ) -> Result<Vec<RouteNetlinkMessage>, NlError> {
        let mut out = Vec::new();
        self.nl.dump(msg, step, |m| {
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(m.bytes)
                .map_err(|e| NlError::garbled(format!("{step}: bad netlink answer ({e})")))?;
            if let NetlinkPayload::InnerMessage(inner) = reply.payload {
                out.push(inner);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Every link in the socket's namespace, with its state.
    pub fn link_states(&mut self) -> Result<Vec<LinkState>, NlError> {
        use netlink_packet_route::link::State;
        let mut out = Vec::new();
        for msg in self.dump(
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
    pub fn link_index(&mut self, name: &str) -> Result<u32> {
        self.link_states()?
            .into_iter()
            .find(|l| l.name == name)
            .map(|l| l.index)
            .ok_or_else(|| crate::error::unable(format!("no link named {name}")))
    }

    /// Names and flags of every link, in the socket's namespace.
    pub fn links(&mut self) -> Result<Vec<(u32, String, bool)>, NlError> {
        Ok(self
            .link_states()?
            .into_iter()
            .map(|l| (l.index, l.name, l.up))
            .collect())
    }

    /// Sets a link administratively up or down.
    pub fn set_link_up(&mut self, index: u32, up: bool, step: &str) -> Result<(), NlError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = if up {
            LinkFlags::Up
        } else {
            LinkFlags::empty()
        };
        msg.header.change_mask = LinkFlags::Up;
        self.request(RouteNetlinkMessage::NewLink(msg), 0, step)
    }

    /// Creates a bridge named `name`.
    pub fn add_bridge(&mut self, name: &str) -> Result<(), NlError> {
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
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("adding bridge {name}"),
        )
    }

    /// Creates a veth pair: `name` in the socket's namespace (MAC `mac` if given),
    /// `peer_name` directly in the namespace `peer_ns`, with MAC `peer_mac`.
    pub fn add_veth(
        &mut self,
        name: &str,
        mac: Option<[u8; 6]>,
        peer_name: &str,
        peer_ns: BorrowedFd<'_>,
        peer_mac: [u8; 6],
    ) -> Result<(), NlError> {
        let mut peer = LinkMessage::default();
        peer.attributes
            .push(LinkAttribute::IfName(peer_name.to_string()));
        // The fd is borrowed for this call, which is all the kernel needs it for.
        peer.attributes
            .push(LinkAttribute::NetNsFd(peer_ns.as_raw_fd()));
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
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("adding veth {name} (peer {peer_name})"),
        )
    }

    /// Plugs link `index` (named `name`) into the bridge `master` (br0).
    pub fn set_master(&mut self, index: u32, master: u32, name: &str) -> Result<(), NlError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::Controller(master));
        self.request(
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
    pub fn set_port_forwarding(
        &mut self,
        index: u32,
        forwarding: bool,
        name: &str,
    ) -> Result<(), NlError> {
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
        self.request(
            RouteNetlinkMessage::SetLink(msg),
            0,
            &format!(
                "setting bridge port {name} {}",
                if forwarding { "forwarding" } else { "disabled" }
            ),
        )
    }

    /// Sets link `index`'s GRO size limits, for IPv6 (IFLA_GRO_MAX_SIZE,
    /// 5.19+) and IPv4 (IFLA_GRO_IPV4_MAX_SIZE, 6.3+; before, the first
    /// covers both). A kernel without one ignores it: read them back
    /// ([`Rtnl::gro_max_sizes`]).
    pub fn set_gro_max_size(&mut self, index: u32, size: u32, name: &str) -> Result<(), NlError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::GroMaxSize(size));
        msg.attributes.push(LinkAttribute::GroIpv4MaxSize(size));
        self.request(
            RouteNetlinkMessage::SetLink(msg),
            0,
            &format!("setting the GRO size limit of {name}"),
        )
    }

    /// Link `index`'s GRO size limits as the kernel reports them: (IPv6 or
    /// both, IPv4 where the kernel keeps it apart); `None` for an attribute
    /// the kernel does not have.
    pub fn gro_max_sizes(&mut self, index: u32) -> Result<(Option<u32>, Option<u32>), NlError> {
        let links = self.dump(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            "listing links",
        )?;
        let mut sizes = (None, None);
        for m in &links {
            let RouteNetlinkMessage::NewLink(l) = m else {
                continue;
            };
            if l.header.index != index {
                continue;
            }
            for a in &l.attributes {
                match a {
                    LinkAttribute::GroMaxSize(v) => sizes.0 = Some(*v),
                    LinkAttribute::GroIpv4MaxSize(v) => sizes.1 = Some(*v),
                    _ => {}
                }
            }
        }
        Ok(sizes)
    }

    /// Adds `ip/prefix` to link `index` (IPv6 without DAD).
    pub fn add_address(&mut self, index: u32, ip: IpAddr, prefix: u8) -> Result<(), NlError> {
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
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
            &format!("adding address {ip}/{prefix}"),
        )
    }

    /// A permanent neighbour entry (static ARP / NDP) for `ip` at `mac` on link `index`.
    pub fn add_permanent_neighbour(
        &mut self,
        index: u32,
        ip: IpAddr,
        mac: [u8; 6],
        step: &str,
    ) -> Result<(), NlError> {
        let (family, dst) = match ip {
            IpAddr::V4(a) => (AddressFamily::Inet, NeighbourAddress::Inet(a)),
            IpAddr::V6(a) => (AddressFamily::Inet6, NeighbourAddress::Inet6(a)),
        };
        let mut msg = NeighbourMessage::default();
        msg.header.family = family;
        msg.header.ifindex = index;
        msg.header.state = NeighbourState::Permanent;
        msg.attributes.push(NeighbourAttribute::Destination(dst));
        msg.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
        self.request(
            RouteNetlinkMessage::NewNeighbour(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
            step,
        )
    }

    /// Waits (bounded, 10 s: only a bound on a hang) until every named link in the socket's namespace is
    /// operationally up. Carrier changes reach the stack through linkwatch, which
    /// may lag by up to a second under load; until then a fresh bridge port is not
    /// forwarding and a host's first ARP or neighbour solicitation is lost (and a
    /// SYN waits a second and inflates the RTO). So a lab is handed over only once
    /// its links are really up.
    pub fn wait_oper_up(&mut self, names: &[&str]) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let states = self.link_states()?;
            let pending: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| !states.iter().any(|l| l.oper_up && l.name == *n))
                .collect();
            if pending.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(crate::error::unable(format!(
                    "links still not up after 10 s: {}",
                    pending.join(", ")
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The index of interface `name` in the calling thread's namespace
/// (if_nametoindex); a missing interface is an environment error.
pub fn ifindex(name: &str) -> Result<u32> {
    nix::net::if_::if_nametoindex(name).map_err(|e| match e {
        nix::Error::EINVAL if name.contains('\0') => anyhow!("bad interface name {name:?}"),
        e => crate::error::unable(format!(
            "no interface {name}: {}",
            teardown_core::errno::name(e as i32)
        )),
    })
}
