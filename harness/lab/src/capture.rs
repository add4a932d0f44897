//! Capture: AF_PACKET sockets on the wire ports, kernel nanosecond
//! timestamps, pcapng out.
//!
//! Contract:
//! - One thread per port, inside the namespace that holds the port (the wire
//!   namespace when switched, the host's when direct). Each frame keeps its
//!   kernel timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME) and its first
//!   [`SNAPLEN`] bytes; TCP segments are also decoded into [`Packet`]s and
//!   handed to the run's [`Recorder`] as they arrive, so steps can wait on them.
//! - A port that goes down (ENETDOWN) or disappears (power off deletes its
//!   veth) is transient: the thread rebinds when a port of that name exists again.
//! - [`Capture::stop`] reads the kernel's drop counters (PACKET_STATISTICS);
//!   a capture with drops is reported, never silently trusted.
//! - [`write_pcapng`] writes one interface per port, named, with nanosecond
//!   resolution; harness events become packet comments (`teardown: ...`).

use crate::netns::NetNs;
use crate::record::Recorder;
use crate::rtnl::Rtnl;
use anyhow::{anyhow, Result};
use std::borrow::Cow;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use teardown_core::evidence::Packet;

/// Bytes kept of each frame: every header of a TCP/IPv6 segment with options fits.
pub const SNAPLEN: usize = 256;

/// One captured frame.
#[derive(Clone, Debug)]
pub struct Frame {
    pub ts_ns: u64,
    /// Index of the port in the capture (0 = client-port, 1 = server-port).
    pub port: usize,
    pub orig_len: u32,
    pub data: Vec<u8>,
}

/// What a finished capture holds.
#[derive(Debug, Default)]
pub struct CaptureResult {
    /// Interface names, in interface-id order.
    pub ports: Vec<String>,
    /// Frames of all ports, in timestamp order.
    pub frames: Vec<Frame>,
    /// Frames the kernel dropped before we read them (PACKET_STATISTICS), per port.
    pub drops: Vec<u64>,
    /// Errors a port thread met (other than transient ENETDOWN).
    pub errors: Vec<String>,
}

/// A running capture.
pub struct Capture {
    stop: Arc<AtomicBool>,
    /// Per port, the ifindex its socket is bound to now (0: none, the port is gone).
    bound: Arc<Vec<AtomicU32>>,
    ports: Vec<String>,
    threads: Vec<JoinHandle<PortOutput>>,
}

/// Where to capture: (capture name, namespace, interface name).
pub struct PortSpec {
    pub name: String,
    pub ns: NetNs,
    pub ifname: String,
}

/// The lab's two capture ports, `client-port` and `server-port`, where they live.
pub fn port_specs(lab: &crate::topology::Lab) -> Vec<PortSpec> {
    use crate::topology::Host;
    [Host::Client, Host::Server]
        .into_iter()
        .map(|h| {
            let loc = lab.port(h);
            PortSpec {
                name: h.capture_name().to_string(),
                ns: loc.ns.clone(),
                ifname: loc.ifname.to_string(),
            }
        })
        .collect()
}

impl Capture {
    /// Starts one capture thread per port; returns once every socket is bound,
    /// so no frame sent after this returns is missed.
    pub fn start(ports: Vec<PortSpec>, recorder: Arc<Recorder>) -> Result<Capture> {
        let stop = Arc::new(AtomicBool::new(false));
        let bound: Arc<Vec<AtomicU32>> =
            Arc::new(ports.iter().map(|_| AtomicU32::new(0)).collect());
        let mut threads = Vec::new();
        let names: Vec<String> = ports.iter().map(|p| p.name.clone()).collect();
        for (index, spec) in ports.into_iter().enumerate() {
            let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
            let thread_stop = stop.clone();
            let thread_bound = bound.clone();
            let recorder = recorder.clone();
            let name = spec.name.clone();
            let ifname = spec.ifname.clone();
            let handle = spec.ns.spawn(&format!("cap-{name}"), move || {
                let port = Port {
                    index,
                    name: &name,
                    ifname: &ifname,
                    bound_index: &thread_bound[index],
                    recorder: &recorder,
                };
                port.run(&thread_stop, ready_tx)
            })?;
            match ready_rx.recv_timeout(Duration::from_secs(5)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    stop.store(true, Ordering::SeqCst);
                    return Err(e.context(format!("capture on {}", spec.name)));
                }
                Err(_) => {
                    stop.store(true, Ordering::SeqCst);
                    return Err(anyhow!("capture on {} did not start", spec.name));
                }
            }
            threads.push(handle);
        }
        Ok(Capture {
            stop,
            bound,
            ports: names,
            threads,
        })
    }

    /// The ifindex each port's socket is bound to now (0 while its port is gone).
    pub fn bound(&self) -> Arc<Vec<AtomicU32>> {
        self.bound.clone()
    }

    /// Stops every port thread and returns the frames and counters.
    pub fn stop(self) -> CaptureResult {
        self.stop.store(true, Ordering::SeqCst);
        let mut result = CaptureResult {
            ports: self.ports.clone(),
            ..Default::default()
        };
        for (i, t) in self.threads.into_iter().enumerate() {
            match t.join() {
                Ok(Ok((frames, drops, errors))) => {
                    result.frames.extend(frames);
                    result.drops.push(drops);
                    result.errors.extend(errors);
                }
                Ok(Err(e)) => {
                    result.drops.push(0);
                    result.errors.push(format!("{}: {e:#}", self.ports[i]));
                }
                Err(_) => {
                    result.drops.push(0);
                    result
                        .errors
                        .push(format!("{}: capture thread panicked", self.ports[i]));
                }
            }
        }
        result.frames.sort_by_key(|f| (f.ts_ns, f.port));
        result
    }
}

type PortOutput = Result<(Vec<Frame>, u64, Vec<String>)>;

/// One port's capture thread: what it reads and where it reports.
struct Port<'a> {
    index: usize,
    name: &'a str,
    ifname: &'a str,
    /// The ifindex the socket is bound to now (0: none).
    bound_index: &'a AtomicU32,
    recorder: &'a Recorder,
}

/// What a port thread holds while it runs.
struct PortState {
    rt: Rtnl,
    /// The socket and the ifindex it is bound to; `None` while the port is gone.
    bound: Option<(OwnedFd, u32)>,
    frames: Vec<Frame>,
    drops: u64,
    errors: Vec<String>,
    buf: Vec<u8>,
    idle_rounds: u32,
}

impl Port<'_> {
    /// Binds the port (telling `ready` whether that worked), then reads
    /// frames until `stop`, following the port through downs and re-creations.
    fn run(&self, stop: &AtomicBool, ready: std::sync::mpsc::Sender<Result<()>>) -> PortOutput {
        let mut rt = match Rtnl::open() {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready.send(Err(e.into()));
                return Err(anyhow!("{}: no capture", self.name));
            }
        };
        let bound = match open_port(&mut rt, self.ifname) {
            Ok(b) => b,
            Err(e) => {
                let _ = ready.send(Err(e));
                return Err(anyhow!("{}: no capture", self.name));
            }
        };
        self.bound_index.store(bound.1, Ordering::SeqCst);
        let _ = ready.send(Ok(()));
        let mut st = PortState {
            rt,
            bound: Some(bound),
            frames: Vec::new(),
            drops: 0,
            errors: Vec::new(),
            buf: vec![0u8; SNAPLEN],
            idle_rounds: 0,
        };
        loop {
            let stopping = stop.load(Ordering::SeqCst);
            if st.bound.is_none() {
                // The port is gone (powered-off host): rebind once it is back.
                if stopping {
                    break;
                }
                self.rebind(&mut st);
                continue;
            }
            if !self.read_round(&mut st, stopping) {
                break;
            }
        }
        if let Some((fd, _)) = &st.bound {
            st.drops += port_drops(fd.as_fd());
        }
        Ok((st.frames, st.drops, st.errors))
    }

    /// Waits a little, then binds again if a port of that name exists.
    fn rebind(&self, st: &mut PortState) {
        std::thread::sleep(Duration::from_millis(2));
        if let Ok(b) = open_port(&mut st.rt, self.ifname) {
            self.bound_index.store(b.1, Ordering::SeqCst);
            st.bound = Some(b);
            // Whoever waits for the capture to follow a re-created port.
            self.recorder.notify();
        }
    }

    /// Forgets the socket: the port is gone (its drops counted first).
    fn unbind(&self, st: &mut PortState) {
        if let Some((fd, _)) = st.bound.take() {
            st.drops += port_drops(fd.as_fd());
        }
        self.bound_index.store(0, Ordering::SeqCst);
    }

    /// One poll (and read) of the bound socket; false when the thread is done.
    fn read_round(&self, st: &mut PortState, stopping: bool) -> bool {
        let Some((fd, ifindex)) = &st.bound else {
            return true;
        };
        let ifindex = *ifindex;
        // After stop is asked, drain what the socket holds, then finish.
        let timeout_ms = if stopping { 0 } else { 20 };
        match poll_readable(fd.as_fd(), timeout_ms) {
            Ok(true) => self.read_frame(st, ifindex),
            Ok(false) => {
                if stopping {
                    return false;
                }
                st.idle_rounds += 1;
                // Every ~200 ms of silence, check the device is still the one we bound.
                if st.idle_rounds.is_multiple_of(10)
                    && link_index_of(&mut st.rt, self.ifname) != Some(ifindex)
                {
                    self.unbind(st);
                }
            }
            Err(e) => {
                st.errors.push(format!(
                    "{}: poll: {}",
                    self.name,
                    teardown_core::errno::name(e as i32)
                ));
                return false;
            }
        }
        true
    }

    /// Reads the frame waiting on the socket bound to `ifindex`.
    fn read_frame(&self, st: &mut PortState, ifindex: u32) {
        let Some((fd, _)) = &st.bound else { return };
        match recv_frame(fd.as_fd(), &mut st.buf) {
            Ok((ts_ns, orig_len, caplen)) => {
                let data = st.buf[..caplen].to_vec();
                if let Some(p) = teardown_core::analysis::decode_ethernet(ts_ns, self.name, &data) {
                    self.recorder.push_packet(fix_len(p, &data, orig_len));
                }
                st.frames.push(Frame {
                    ts_ns,
                    port: self.index,
                    orig_len,
                    data,
                });
            }
            Err(nix::Error::ENETDOWN) | Err(nix::Error::ENODEV) | Err(nix::Error::ENXIO) => {
                st.drops += port_drops(fd.as_fd());
                // Still the same device? Then it only went down; keep the socket.
                if link_index_of(&mut st.rt, self.ifname) != Some(ifindex) {
                    self.bound_index.store(0, Ordering::SeqCst);
                    st.bound = None;
                }
            }
            Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => {}
            Err(e) => {
                st.errors.push(format!(
                    "{}: recvmsg: {}",
                    self.name,
                    teardown_core::errno::name(e as i32)
                ));
                st.bound = None;
            }
        }
    }
}

/// The decoder sees at most SNAPLEN bytes; a segment's real payload length
/// comes from the IP header's length fields, which survive truncation.
fn fix_len(mut p: Packet, data: &[u8], orig_len: u32) -> Packet {
    if data.len() as u32 >= orig_len {
        return p;
    }
    if let Some(len) = tcp_payload_len(data) {
        p.len = len;
    }
    p
}

/// TCP payload length from the IP and TCP headers of an Ethernet frame
/// (possibly truncated). Never panics; `None` when the headers are not all there.
pub fn tcp_payload_len(frame: &[u8]) -> Option<u32> {
    let mut off = 12;
    let mut ethertype = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    off += 2;
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        ethertype = u16::from_be_bytes([*frame.get(off + 2)?, *frame.get(off + 3)?]);
        off += 4;
    }
    let (ip_payload, tcp_off) = match ethertype {
        0x0800 => {
            let ihl = ((*frame.get(off)? & 0x0f) as usize) * 4;
            let total = u16::from_be_bytes([*frame.get(off + 2)?, *frame.get(off + 3)?]) as usize;
            (total.checked_sub(ihl)?, off + ihl)
        }
        0x86dd => {
            let plen = u16::from_be_bytes([*frame.get(off + 4)?, *frame.get(off + 5)?]) as usize;
            (plen, off + 40)
        }
        _ => return None,
    };
    let doff = ((*frame.get(tcp_off + 12)? >> 4) as usize) * 4;
    Some(ip_payload.checked_sub(doff)? as u32)
}

fn link_index_of(rt: &mut Rtnl, ifname: &str) -> Option<u32> {
    rt.link_index(ifname).ok()
}

fn open_port(rt: &mut Rtnl, ifname: &str) -> Result<(OwnedFd, u32)> {
    let ifindex = rt.link_index(ifname)?;
    let fd = packet_socket(ifindex)
        .map_err(|e| crate::sys::refused(format_args!("AF_PACKET socket on {ifname}"), e))?;
    Ok((fd, ifindex))
}

/// Opens an AF_PACKET socket bound to one interface, all protocols, with
/// nanosecond kernel timestamps and a large receive buffer. The socket is
/// created with protocol 0 (receives nothing) and only starts receiving at
/// bind, so no frame of another interface slips in.
fn packet_socket(ifindex: u32) -> Result<OwnedFd, nix::Error> {
    use nix::sys::socket::{setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType};
    let fd = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    setsockopt(&fd, sockopt::ReceiveTimestampns, &true)?;
    let rcvbuf: usize = 64 << 20;
    // FORCE needs CAP_NET_ADMIN (we have it); fall back to the capped size if refused.
    if setsockopt(&fd, sockopt::RcvBufForce, &rcvbuf).is_err() {
        let _ = setsockopt(&fd, sockopt::RcvBuf, &rcvbuf);
    }
    bind_packet(fd.as_fd(), ifindex)?;
    Ok(fd)
}

/// bind(2) of an AF_PACKET socket to one interface, every protocol (ETH_P_ALL).
/// (nix and socket2 build no `sockaddr_ll` safely, so this one call stays raw.)
fn bind_packet(fd: BorrowedFd<'_>, ifindex: u32) -> Result<(), nix::Error> {
    let sll = libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: (libc::ETH_P_ALL as u16).to_be(),
        sll_ifindex: ifindex as i32,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    };
    // SAFETY: `fd` is an open socket for the call; the address points at a
    // live `sockaddr_ll` of the size passed.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    nix::errno::Errno::result(r).map(drop)
}

/// poll(2) for readability; `Ok(false)` on timeout (or a signal).
fn poll_readable(fd: BorrowedFd<'_>, timeout_ms: u16) -> Result<bool, nix::Error> {
    use nix::poll::{poll, PollFd, PollFlags};
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    match poll(&mut fds, timeout_ms) {
        Ok(n) => Ok(n > 0),
        Err(nix::Error::EINTR) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Receives one frame into `buf` (truncated to its size) with MSG_TRUNC, so
/// the frame's real length comes back too. Returns (ts_ns, orig_len, caplen).
fn recv_frame(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<(u64, u32, usize), nix::Error> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut control = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let room = buf.len();
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        fd.as_raw_fd(),
        &mut iov,
        Some(&mut control),
        MsgFlags::MSG_TRUNC | MsgFlags::MSG_DONTWAIT,
    )?;
    let mut ts_ns = 0u64;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmTimestampns(ts) = c {
            ts_ns = ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64;
        }
    }
    if ts_ns == 0 {
        ts_ns = crate::sys::now_ns();
    }
    let orig = msg.bytes;
    let caplen = orig.min(room);
    Ok((ts_ns, orig as u32, caplen))
}

/// Frames the kernel dropped on this socket since the last call (PACKET_STATISTICS resets on read).
fn port_drops(fd: BorrowedFd<'_>) -> u64 {
    let mut stats = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: `fd` is open for the call; stats and len are live locals of the
    // sizes given. (nix has no PACKET_STATISTICS option.)
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            &mut stats as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    if r < 0 {
        0
    } else {
        stats.tp_drops as u64
    }
}

/// Writes a capture as pcapng: one Ethernet interface per port (named, if_tsresol = 9),
/// frames in time order, and each annotation `(ts_ns, text)` as the comment of the first
/// frame at or after it (the last frame for annotations after the capture's end).
pub fn write_pcapng(
    path: &std::path::Path,
    result: &CaptureResult,
    annotations: &[(u64, String)],
) -> Result<()> {
    write_pcapng_of(path, result, annotations, None)
}

/// Writes one port of a capture as pcapng, the port its only interface
/// (id 0), with every annotation (as [`write_pcapng`]) on that port's
/// frames: a file Wireshark's TCP analysis reads as one cable, where the
/// merged file shows each frame twice (once per port) and flags the second
/// copy a retransmission or a duplicate ACK.
pub fn write_port_pcapng(
    path: &std::path::Path,
    result: &CaptureResult,
    port: usize,
    annotations: &[(u64, String)],
) -> Result<()> {
    write_pcapng_of(path, result, annotations, Some(port))
}

/// [`write_pcapng`] of every port (`None`) or of one.
fn write_pcapng_of(
    path: &std::path::Path,
    result: &CaptureResult,
    annotations: &[(u64, String)],
    only: Option<usize>,
) -> Result<()> {
    use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
    use pcap_file::pcapng::blocks::interface_description::{
        InterfaceDescriptionBlock, InterfaceDescriptionOption,
    };
    use pcap_file::pcapng::PcapNgWriter;
    use pcap_file::DataLink;

    let file = std::fs::File::create(path)
        .map_err(|e| crate::sys::refused_io(format_args!("creating {}", path.display()), &e))?;
    let failed =
        |e: pcap_file::PcapError| crate::error::unable(format!("writing {}: {e}", path.display()));
    let mut writer = PcapNgWriter::new(std::io::BufWriter::new(file)).map_err(failed)?;
    let wanted = |port: usize| only.is_none_or(|o| o == port);
    for (_, name) in result.ports.iter().enumerate().filter(|(i, _)| wanted(*i)) {
        let idb = InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: SNAPLEN as u32,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Owned(name.clone())),
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        };
        writer.write_pcapng_block(idb).map_err(failed)?;
    }
    let mut notes: Vec<(u64, String)> = annotations.to_vec();
    notes.sort_by_key(|n| n.0);
    let mut next_note = 0;
    let frames: Vec<&Frame> = result.frames.iter().filter(|f| wanted(f.port)).collect();
    let last = frames.len().saturating_sub(1);
    for (i, f) in frames.into_iter().enumerate() {
        let mut options = Vec::new();
        while next_note < notes.len() && (notes[next_note].0 <= f.ts_ns || i == last) {
            options.push(EnhancedPacketOption::Comment(Cow::Owned(format!(
                "teardown: {}",
                notes[next_note].1
            ))));
            next_note += 1;
        }
        let epb = EnhancedPacketBlock {
            interface_id: if only.is_some() { 0 } else { f.port as u32 },
            timestamp: Duration::from_nanos(f.ts_ns),
            original_len: f.orig_len,
            data: Cow::Borrowed(&f.data),
            options,
        };
        writer.write_pcapng_block(epb).map_err(failed)?;
    }
    Ok(())
}

/// Frames grouped by port, for callers that want them (kept for diagnostics).
pub fn frames_per_port(result: &CaptureResult) -> Vec<usize> {
    let mut counts = vec![0; result.ports.len()];
    for f in &result.frames {
        if let Some(c) = counts.get_mut(f.port) {
            *c += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_length_from_truncated_headers() {
        // Ethernet + IPv4 (total 40+100) + TCP (doff 5) carrying 100 bytes, truncated to 54 bytes.
        let mut f = vec![0u8; 54];
        f[12] = 0x08;
        f[13] = 0x00;
        f[14] = 0x45;
        let total: u16 = 20 + 20 + 100;
        f[16..18].copy_from_slice(&total.to_be_bytes());
        f[14 + 20 + 12] = 5 << 4;
        assert_eq!(tcp_payload_len(&f), Some(100));
        assert_eq!(tcp_payload_len(&f[..20]), None);
        assert_eq!(tcp_payload_len(&[]), None);
    }
}
