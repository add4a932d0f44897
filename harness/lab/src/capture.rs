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
use anyhow::{anyhow, Result};
use std::borrow::Cow;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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

struct PortThread {
    handle: JoinHandle<PortOutput>,
}

/// A running capture.
pub struct Capture {
    stop: Arc<AtomicBool>,
    /// Per port, the ifindex its socket is bound to now (0: none, the port is gone).
    bound: Arc<Vec<AtomicU32>>,
    ports: Vec<String>,
    threads: Vec<PortThread>,
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
            let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
            let thread_stop = stop.clone();
            let thread_bound = bound.clone();
            let recorder = recorder.clone();
            let name = spec.name.clone();
            let ifname = spec.ifname.clone();
            let handle = spec.ns.spawn(&format!("cap-{name}"), move || {
                port_loop(
                    index,
                    &name,
                    &ifname,
                    &thread_stop,
                    &thread_bound[index],
                    &recorder,
                    ready_tx,
                )
            })?;
            match ready_rx.recv_timeout(Duration::from_secs(5)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    stop.store(true, Ordering::SeqCst);
                    return Err(anyhow!("capture on {}: {e}", spec.name));
                }
                Err(_) => {
                    stop.store(true, Ordering::SeqCst);
                    return Err(anyhow!("capture on {} did not start", spec.name));
                }
            }
            threads.push(PortThread {
                handle: handle_flatten(handle),
            });
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
            match t.handle.join() {
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

fn handle_flatten(h: JoinHandle<Result<PortOutput>>) -> JoinHandle<PortOutput> {
    std::thread::spawn(move || match h.join() {
        Ok(r) => r.and_then(|x| x),
        Err(_) => Err(anyhow!("capture thread panicked")),
    })
}

fn port_loop(
    index: usize,
    name: &str,
    ifname: &str,
    stop: &AtomicBool,
    bound_index: &AtomicU32,
    recorder: &Recorder,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) -> PortOutput {
    let mut frames = Vec::new();
    let mut drops = 0u64;
    let mut errors = Vec::new();
    let mut rt = crate::rtnl::Rtnl::open()?;
    let mut bound: Option<(OwnedFd, u32)> = match open_port(&mut rt, ifname) {
        Ok(b) => {
            bound_index.store(b.1, Ordering::SeqCst);
            let _ = ready.send(Ok(()));
            Some(b)
        }
        Err(e) => {
            let _ = ready.send(Err(format!("{e:#}")));
            return Err(e);
        }
    };
    let mut buf = vec![0u8; SNAPLEN];
    let mut idle_rounds = 0u32;
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        let Some((fd, ifindex)) = &bound else {
            // The port is gone (powered-off host): rebind once it is back.
            if stopping {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
            if let Ok(b) = open_port(&mut rt, ifname) {
                bound_index.store(b.1, Ordering::SeqCst);
                bound = Some(b);
                // Whoever waits for the capture to follow a re-created port.
                recorder.notify();
            }
            continue;
        };
        // After stop is asked, drain what the socket holds, then finish.
        let timeout_ms = if stopping { 0 } else { 20 };
        match poll_readable(fd.as_raw_fd(), timeout_ms) {
            Ok(true) => match recv_frame(fd.as_raw_fd(), &mut buf) {
                Ok((ts_ns, orig_len, caplen)) => {
                    let data = buf[..caplen].to_vec();
                    if let Some(p) = teardown_core::analysis::decode_ethernet(ts_ns, name, &data) {
                        recorder.push_packet(fix_len(p, &data, orig_len));
                    }
                    frames.push(Frame {
                        ts_ns,
                        port: index,
                        orig_len,
                        data,
                    });
                }
                Err(libc::ENETDOWN) | Err(libc::ENODEV) | Err(libc::ENXIO) => {
                    drops += port_drops(fd.as_raw_fd());
                    // Still the same device? Then it only went down; keep the socket.
                    if link_index_of(&mut rt, ifname) != Some(*ifindex) {
                        bound_index.store(0, Ordering::SeqCst);
                        bound = None;
                    }
                }
                Err(libc::EAGAIN) | Err(libc::EINTR) => {}
                Err(e) => {
                    errors.push(format!(
                        "{name}: recvmsg: {}",
                        teardown_core::errno::name(e)
                    ));
                    bound = None;
                }
            },
            Ok(false) => {
                if stopping {
                    break;
                }
                idle_rounds += 1;
                // Every ~200 ms of silence, check the device is still the one we bound.
                if idle_rounds.is_multiple_of(10)
                    && link_index_of(&mut rt, ifname) != Some(*ifindex)
                {
                    drops += port_drops(fd.as_raw_fd());
                    bound_index.store(0, Ordering::SeqCst);
                    bound = None;
                }
            }
            Err(e) => {
                errors.push(format!("{name}: poll: {}", teardown_core::errno::name(e)));
                break;
            }
        }
    }
    if let Some((fd, _)) = &bound {
        drops += port_drops(fd.as_raw_fd());
    }
    Ok((frames, drops, errors))
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

fn link_index_of(rt: &mut crate::rtnl::Rtnl, ifname: &str) -> Option<u32> {
    crate::topology::link_index(rt, ifname).ok()
}

fn open_port(rt: &mut crate::rtnl::Rtnl, ifname: &str) -> Result<(OwnedFd, u32)> {
    let ifindex = crate::topology::link_index(rt, ifname)?;
    let fd = packet_socket(ifindex).map_err(|e| {
        anyhow!(
            "AF_PACKET socket on {ifname}: {}",
            teardown_core::errno::name(e)
        )
    })?;
    Ok((fd, ifindex))
}

/// Opens an AF_PACKET socket bound to one interface, all protocols, with
/// nanosecond kernel timestamps and a large receive buffer. The socket is
/// created with protocol 0 (receives nothing) and only starts receiving at
/// bind, so no frame of another interface slips in.
fn packet_socket(ifindex: u32) -> Result<OwnedFd, i32> {
    let errno = || {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    };
    // SAFETY: plain syscalls on an fd we own; every pointer refers to a live
    // local of the size passed.
    unsafe {
        let raw = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0);
        if raw < 0 {
            return Err(errno());
        }
        let fd = OwnedFd::from_raw_fd(raw);
        let one: libc::c_int = 1;
        if libc::setsockopt(
            raw,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            &one as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as u32,
        ) < 0
        {
            return Err(errno());
        }
        let rcvbuf: libc::c_int = 64 << 20;
        // FORCE needs CAP_NET_ADMIN (we have it); fall back to the capped size if refused.
        if libc::setsockopt(
            raw,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &rcvbuf as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as u32,
        ) < 0
        {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                &rcvbuf as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as u32,
            );
        }
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex as i32;
        if libc::bind(
            raw,
            &sll as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        ) < 0
        {
            return Err(errno());
        }
        Ok(fd)
    }
}

/// poll(2) for readability; `Ok(false)` on timeout.
fn poll_readable(fd: i32, timeout_ms: i32) -> Result<bool, i32> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if n < 0 {
        let e = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        return if e == libc::EINTR { Ok(false) } else { Err(e) };
    }
    Ok(n > 0)
}

/// Receives one frame into `buf` (truncated to its size) with MSG_TRUNC, so
/// the frame's real length comes back too. Returns (ts_ns, orig_len, caplen).
fn recv_frame(fd: i32, buf: &mut [u8]) -> Result<(u64, u32, usize), i32> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: msghdr points at live locals (iov, control) of the sizes given;
    // cmsg walking uses the libc macros within msg_controllen.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = std::mem::size_of_val(&control);
        let n = libc::recvmsg(fd, &mut msg, libc::MSG_TRUNC | libc::MSG_DONTWAIT);
        if n < 0 {
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO));
        }
        let mut ts_ns = 0u64;
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::timespec);
                ts_ns = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        if ts_ns == 0 {
            ts_ns = crate::sys::now_ns();
        }
        let orig = n as usize;
        Ok((ts_ns, orig as u32, orig.min(buf.len())))
    }
}

/// Frames the kernel dropped on this socket since the last call (PACKET_STATISTICS resets on read).
fn port_drops(fd: i32) -> u64 {
    let mut stats = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: stats and len are live locals of the sizes given.
    let r = unsafe {
        libc::getsockopt(
            fd,
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
    use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
    use pcap_file::pcapng::blocks::interface_description::{
        InterfaceDescriptionBlock, InterfaceDescriptionOption,
    };
    use pcap_file::pcapng::PcapNgWriter;
    use pcap_file::DataLink;

    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut writer =
        PcapNgWriter::new(file).map_err(|e| anyhow!("writing {}: {e}", path.display()))?;
    for name in &result.ports {
        let idb = InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: SNAPLEN as u32,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Owned(name.clone())),
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        };
        writer
            .write_pcapng_block(idb)
            .map_err(|e| anyhow!("writing {}: {e}", path.display()))?;
    }
    let mut notes: Vec<(u64, String)> = annotations.to_vec();
    notes.sort_by_key(|n| n.0);
    let mut next_note = 0;
    let last = result.frames.len().saturating_sub(1);
    for (i, f) in result.frames.iter().enumerate() {
        let mut options = Vec::new();
        while next_note < notes.len() && (notes[next_note].0 <= f.ts_ns || i == last) {
            options.push(EnhancedPacketOption::Comment(Cow::Owned(format!(
                "teardown: {}",
                notes[next_note].1
            ))));
            next_note += 1;
        }
        let epb = EnhancedPacketBlock {
            interface_id: f.port as u32,
            timestamp: Duration::from_nanos(f.ts_ns),
            original_len: f.orig_len,
            data: Cow::Borrowed(&f.data),
            options,
        };
        writer
            .write_pcapng_block(epb)
            .map_err(|e| anyhow!("writing {}: {e}", path.display()))?;
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
