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
//! - A [`Lab`] takes itself down when dropped (panics included); [`Lab::down`]
//!   does it explicitly and reports the first error; either is done once.
//!   [`Lab::leave_up`] keeps a lab for good (`teardown lab up`).

use crate::netns::NetNs;
use crate::rtnl::Rtnl;
use crate::sys::refused_io;
use anyhow::{anyhow, Result};
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
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

/// A built lab. Dropping it takes it down (see [`Lab::down`]).
#[derive(Debug)]
pub struct Lab {
    pub id: String,
    pub topology: Topology,
    pub client: NetNs,
    pub server: NetNs,
    /// The wire namespace (switched topology only).
    pub wire: Option<NetNs>,
    /// Whether the wire is cut now (a powered-on host's new port starts cut too).
    pub cut: AtomicBool,
    /// Set once the lab was taken down (or is to be left up): nothing more to do.
    done: AtomicBool,
}

/// Where a capture port lives: its namespace and interface name.
pub struct PortLocation<'a> {
    pub ns: &'a NetNs,
    pub ifname: &'static str,
}

/// No IPv6 autoconfiguration noise from links we create, and loopback up
/// (in the calling thread's namespace: a host's or the wire's).
fn prepare_namespace() -> Result<()> {
    write_sysctl("net.ipv6.conf.default.accept_dad", "0")?;
    write_sysctl("net.ipv6.conf.default.router_solicitations", "0")?;
    let mut rt = Rtnl::open()?;
    let lo = rt.link_index("lo")?;
    Ok(rt.set_link_up(lo, true, "setting lo up")?)
}

/// Plugs `host` into the bridge: its port (`c-port`, `s-port`) in the
/// socket's namespace (the wire), its `eth0` directly in `host_ns`.
fn plug_port(rt: &mut Rtnl, host: Host, host_ns: &std::fs::File, bridge: u32) -> Result<()> {
    let port = host.port();
    rt.add_veth(port, None, "eth0", host_ns.as_fd(), host.mac())?;
    let idx = rt.link_index(port)?;
    rt.set_master(idx, bridge, port)?;
    Ok(rt.set_link_up(idx, true, &format!("setting {port} up"))?)
}

/// A host's addresses on its eth0, and eth0 up (in the host's namespace).
fn address_host(host: Host) -> Result<()> {
    let mut rt = Rtnl::open()?;
    let idx = rt.link_index("eth0")?;
    rt.add_address(idx, IpAddr::V4(host.v4()), addr::PREFIX_V4)?;
    rt.add_address(idx, IpAddr::V6(host.v6()), addr::PREFIX_V6)?;
    Ok(rt.set_link_up(idx, true, "setting eth0 up")?)
}

impl Lab {
    /// Builds the lab. On any failure, removes what it created.
    pub fn up(id: &str, topology: Topology) -> Result<Lab> {
        let lab = Self::create_namespaces(id, topology)?;
        // From here on an error drops `lab`, which takes it down.
        for ns in lab.namespaces() {
            ns.run(prepare_namespace)?;
        }
        match &lab.wire {
            Some(wire) => lab.build_wire(wire)?,
            None => lab.build_cable()?,
        }
        for host in [Host::Client, Host::Server] {
            lab.host(host).run(|| address_host(host))?;
        }
        lab.wait_until_up()?;
        Ok(lab)
    }

    /// The lab's empty namespaces; on a failure, deletes those it made.
    fn create_namespaces(id: &str, topology: Topology) -> Result<Lab> {
        let mut roles = vec!["client", "server"];
        if topology == Topology::Switched {
            roles.push("wire");
        }
        let mut created: Vec<NetNs> = Vec::new();
        for role in roles {
            match NetNs::create(&ns_name(id, role)) {
                Ok(ns) => created.push(ns),
                Err(e) => {
                    for ns in created.iter().rev() {
                        let _ = ns.delete();
                    }
                    return Err(e);
                }
            }
        }
        let mut made = created.into_iter();
        let (Some(client), Some(server), wire) = (made.next(), made.next(), made.next()) else {
            unreachable!("two or three namespaces were just created");
        };
        Ok(Lab {
            id: id.to_string(),
            topology,
            client,
            server,
            wire,
            cut: AtomicBool::new(false),
            done: AtomicBool::new(false),
        })
    }

    /// Switched: the bridge br0 in the wire, and both hosts plugged into it.
    fn build_wire(&self, wire: &NetNs) -> Result<()> {
        let client_fd = self.client.file()?;
        let server_fd = self.server.file()?;
        wire.run(|| -> Result<()> {
            // The wire carries frames, it has no addresses of its own.
            write_sysctl("net.ipv6.conf.all.disable_ipv6", "1")?;
            write_sysctl("net.ipv6.conf.default.disable_ipv6", "1")?;
            let mut rt = Rtnl::open()?;
            rt.add_bridge("br0")?;
            let br = rt.link_index("br0")?;
            plug_port(&mut rt, Host::Client, &client_fd, br)?;
            plug_port(&mut rt, Host::Server, &server_fd, br)?;
            Ok(rt.set_link_up(br, true, "setting br0 up")?)
        })
    }

    /// Direct: one veth pair from the client's eth0 to the server's.
    fn build_cable(&self) -> Result<()> {
        let server_fd = self.server.file()?;
        self.client.run(|| -> Result<()> {
            let mut rt = Rtnl::open()?;
            Ok(rt.add_veth(
                "eth0",
                Some(Host::Client.mac()),
                "eth0",
                server_fd.as_fd(),
                Host::Server.mac(),
            )?)
        })
    }

    /// Every veth end in order (see [`keep_frames_in_order`]) and the capture
    /// ports cable-true ([`make_cable_port`]: the wire ports when switched,
    /// each host's eth0 when direct), then every host's eth0 and (switched)
    /// both wire ports operationally up.
    fn wait_until_up(&self) -> Result<()> {
        let direct = self.wire.is_none();
        for host in [Host::Client, Host::Server] {
            self.host(host).run(|| -> Result<()> {
                if direct {
                    make_cable_port_or_warn("eth0");
                } else {
                    keep_frames_in_order_or_warn("eth0");
                }
                let mut rt = Rtnl::open()?;
                rt.wait_oper_up(&["eth0"])?;
                wait_solicited_node_joined("eth0", host.v6())
            })?;
        }
        if let Some(w) = &self.wire {
            w.run(|| -> Result<()> {
                make_cable_port_or_warn("c-port");
                make_cable_port_or_warn("s-port");
                let mut rt = Rtnl::open()?;
                // The ports (their carrier makes them forward); the bridge's own
                // operstate follows later and gates nothing.
                rt.wait_oper_up(&["c-port", "s-port"])
            })?;
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
        self.host(host).run(|| write_sysctl(key, value))
    }

    /// Plugs a freshly created (powered-on) host back in: same MAC and addresses.
    pub fn replug(&self, host: Host) -> Result<()> {
        let fd = self.host(host).file()?;
        let wire = self
            .wire
            .as_ref()
            .ok_or_else(|| anyhow!("power on in the direct topology is not supported"))?;
        self.host(host).run(prepare_namespace)?;
        wire.run(|| -> Result<()> {
            let mut rt = Rtnl::open()?;
            let port = host.port();
            // The old port vanishes with the old namespace; wait for its name to be free.
            let deadline = Instant::now() + Duration::from_secs(5);
            while rt.link_index(port).is_ok() {
                if Instant::now() > deadline {
                    return Err(crate::error::unable(format!(
                        "{port} of the powered-off host still exists after 5 s"
                    )));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let br = rt.link_index("br0")?;
            plug_port(&mut rt, host, &fd, br)
        })?;
        self.host(host).run(|| address_host(host))?;
        self.wait_until_up()
    }

    /// Takes the lab down, in the order that leaks nothing: cut the wire
    /// (so nothing more leaves), kill every process in the lab's namespaces
    /// (by pid, found through /proc/PID/ns/net), destroy the sockets left
    /// (orphans would keep a deleted namespace alive for ~100 s), then delete
    /// the namespaces. Goes on past errors and reports the first one. Only
    /// the first call (or the drop) does it; later ones return Ok.
    pub fn down(&self) -> Result<()> {
        if self.done.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        crate::cleanup::teardown_namespaces(
            &self.namespaces().into_iter().cloned().collect::<Vec<_>>(),
        )
    }

    /// Leaves the lab up after this value is gone (the manual lab of
    /// `teardown lab up`, removed by `teardown lab down`).
    pub fn leave_up(self) {
        self.done.store(true, Ordering::SeqCst);
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
                if let Ok(idx) = rt.link_index(port) {
                    rt.set_port_forwarding(idx, forwarding, port)?;
                }
            }
            Ok(())
        })
    }

    /// Pins `host`'s neighbour entries for its peer (IPv4 and IPv6) as
    /// permanent, like static ARP: address resolution then never fails in a
    /// cut, and what TCP sends keeps reaching the wire. Without it, a cut of
    /// more than ~30 s (base_reachable_time) also fails the neighbour entry,
    /// and later segments die in the neighbour queue instead of the wire.
    pub fn pin_neighbour(&self, host: Host) -> Result<()> {
        let peer = host.other();
        self.host(host).run(|| -> Result<()> {
            let mut rt = Rtnl::open()?;
            let idx = rt.link_index("eth0")?;
            let step = format!(
                "pinning {}'s neighbour entry for {}",
                host.name(),
                peer.name()
            );
            for ip in [IpAddr::V4(peer.v4()), IpAddr::V6(peer.v6())] {
                rt.add_permanent_neighbour(idx, ip, peer.mac(), &step)?;
            }
            Ok(())
        })
    }
}

impl Drop for Lab {
    /// Takes the lab down unless that was done (or it is to be left up).
    fn drop(&mut self) {
        if let Err(e) = self.down() {
            tracing::warn!(lab = %self.id, "removing lab {}: {e:#}", self.id);
        }
    }
}

/// Writes `/proc/sys/<key with dots as slashes>` in the calling thread's namespace.
pub fn write_sysctl(key: &str, value: &str) -> Result<()> {
    if key.contains("..") || key.contains('/') {
        return Err(anyhow!("bad sysctl name {key}"));
    }
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::write(&path, value)
        .map_err(|e| refused_io(format_args!("writing sysctl {key} = {value}"), &e))
}

/// Reads a sysctl in the calling thread's namespace.
pub fn read_sysctl(key: &str) -> Result<String> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    Ok(std::fs::read_to_string(&path)
        .map_err(|e| refused_io(format_args!("reading sysctl {key}"), &e))?
        .trim()
        .to_string())
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
    ethtool::value(ifname, ethtool::STSO, 0)?;
    ethtool::value(ifname, ethtool::SGRO, 1).map(|_| ())
}

/// Makes a capture port (a veth end the capture reads) carry frames as a
/// cable does: each frame as its sender put it on the wire, no longer than
/// the MTU plus the Ethernet header, in the order sent. As
/// [`keep_frames_in_order`] (TSO off, GRO on: the NAPI ring keeps the
/// order), with a GRO size limit of one byte, so GRO merges nothing.
///
/// With GRO free to merge, the end's NAPI poll coalesces a burst of a
/// flow's segments into one large frame before the capture sees it (7,240
/// to 17,376 bytes on the client port of c3, against 1,448-byte segments on
/// the server port), and Wireshark, tcpdump and the ladder then read one
/// segment where the cable carried five. `skb_gro_receive` refuses a merge
/// that would reach the device's limit (`netif_get_gro_max_size`), and a
/// segment is always more than one byte. (An XDP program on the port would
/// also stop GRO and keep the ring, but attaching and detaching it waits
/// for an RCU grace period under the RTNL lock: with 32 labs at once every
/// other lab's link change queued behind it, a second per scenario.)
pub fn make_cable_port(ifname: &str) -> Result<()> {
    keep_frames_in_order(ifname)?;
    let mut rt = Rtnl::open()?;
    let index = rt.link_index(ifname)?;
    rt.set_gro_max_size(index, CABLE_GRO_MAX_SIZE, ifname)?;
    if !gro_merges_nothing(rt.gro_max_sizes(index)?) {
        return Err(crate::error::missing(format!(
            "{ifname}: this kernel has no GRO size limit (IFLA_GRO_MAX_SIZE, 5.19+)"
        )));
    }
    Ok(())
}

/// The GRO size limit of a capture port: smaller than any segment.
const CABLE_GRO_MAX_SIZE: u32 = 1;

/// Whether the limits the kernel reports stop every merge: the first (IPv6,
/// or both before 6.3) at [`CABLE_GRO_MAX_SIZE`], the IPv4 one too where the
/// kernel keeps it apart (pure).
pub fn gro_merges_nothing(sizes: (Option<u32>, Option<u32>)) -> bool {
    sizes.0 == Some(CABLE_GRO_MAX_SIZE) && sizes.1.is_none_or(|v| v == CABLE_GRO_MAX_SIZE)
}

/// True when `ifname` (in the calling thread's namespace) is a capture port
/// as [`make_cable_port`] leaves it: in order, and GRO merging nothing.
pub fn is_cable_port(ifname: &str) -> Result<bool> {
    let mut rt = Rtnl::open()?;
    let index = rt.link_index(ifname)?;
    Ok(frames_kept_in_order(ifname)? && gro_merges_nothing(rt.gro_max_sizes(index)?))
}

/// [`make_cable_port`], with a warning instead of an error: the capture may
/// then hold coalesced frames (`teardown doctor` names the missing feature).
fn make_cable_port_or_warn(ifname: &str) {
    if let Err(e) = make_cable_port(ifname) {
        tracing::warn!(
            "{e:#}: the capture on {ifname} may show coalesced frames (GRO) instead of the segments sent (see teardown doctor)"
        );
    }
}

/// True when `ifname` (in the calling thread's namespace) has TSO off and GRO
/// on, as [`keep_frames_in_order`] leaves it.
pub fn frames_kept_in_order(ifname: &str) -> Result<bool> {
    Ok(ethtool::value(ifname, ethtool::GTSO, 0)? == 0
        && ethtool::value(ifname, ethtool::GGRO, 0)? == 1)
}

/// [`keep_frames_in_order`], with a warning instead of an error: a lab whose
/// veths may reorder still runs (`teardown doctor` names the missing feature).
fn keep_frames_in_order_or_warn(ifname: &str) {
    if let Err(e) = keep_frames_in_order(ifname) {
        tracing::warn!(
            "{e:#}: frames sent at once from two CPUs may arrive swapped (see teardown doctor)"
        );
    }
}

/// The legacy ethtool ioctl (SIOCETHTOOL with a `struct ethtool_value`).
mod ethtool {
    use anyhow::{anyhow, Result};
    use std::os::fd::AsRawFd;

    pub const GTSO: u32 = 0x1e;
    pub const STSO: u32 = 0x1f;
    pub const GGRO: u32 = 0x2b;
    pub const SGRO: u32 = 0x2c;

    #[repr(C)]
    pub struct EthtoolValue {
        cmd: u32,
        data: u32,
    }

    /// `struct ifreq` whose `ifr_data` points at an ethtool command (40 bytes).
    #[repr(C)]
    pub struct IfReq {
        name: [u8; libc::IFNAMSIZ],
        data: *mut EthtoolValue,
        _pad: [u8; 16],
    }

    nix::ioctl_readwrite_bad!(siocethtool, libc::SIOCETHTOOL, IfReq);

    /// One legacy ethtool command with a `struct ethtool_value` on `ifname`: a
    /// "set" sends `data`; a "get" returns the value read.
    pub fn value(ifname: &str, cmd: u32, data: u32) -> Result<u32> {
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
        .map_err(|e| crate::sys::refused("socket for ethtool", e))?;
        // SAFETY: `sock` is an open socket we own for the whole call; `req` is a
        // valid ifreq whose data points at `value`, both alive for the call.
        unsafe { siocethtool(sock.as_raw_fd(), &mut req) }.map_err(|e| {
            crate::sys::refused(format_args!("ethtool command {cmd:#x} on {ifname}"), e)
        })?;
        Ok(value.data)
    }
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
    let deadline = Instant::now() + Duration::from_secs(10);
    // Polled: joins have no rtnetlink notification before 6.12 (RTNLGRP_IPV6_MCADDR),
    // and the join comes within milliseconds.
    loop {
        let text = std::fs::read_to_string("/proc/thread-self/net/igmp6")
            .map_err(|e| refused_io("reading /proc/thread-self/net/igmp6", &e))?;
        if igmp6_has(&text, ifname, &group) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(crate::error::unable(format!(
                "{ifname} has not joined {ip}'s solicited-node group after 10 s"
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
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
