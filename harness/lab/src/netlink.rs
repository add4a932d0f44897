//! One synchronous netlink socket for every protocol the shell speaks
//! (rtnetlink, sock_diag): a request and its ACK, or a dump until NLMSG_DONE.
//!
//! Contract:
//! - The socket belongs to the network namespace of the thread that opened it
//!   (see [`crate::netns`]); it is closed when dropped.
//! - Only answers carrying the request's sequence number are looked at.
//! - Every failure is an [`NlError`]: the step it was for and the errno, either
//!   the kernel's answer to the request (NLMSG_ERROR, [`NlError::nack`]) or
//!   the errno of the socket call that failed. Callers may tolerate some
//!   (EEXIST, ENOENT); one that reaches `anyhow` becomes a
//!   [`teardown_core::Error`] of kind `Environment`: the kernel refused.
//! - [`messages`] splits a datagram into netlink messages and never panics on
//!   any input.

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable};
use netlink_sys::{Socket, SocketAddr};
use std::fmt;

/// NLMSG_ERROR: an ACK (code 0) or the errno of a refused request.
pub const NLMSG_ERROR: u16 = 2;
/// NLMSG_DONE: the end of a dump.
pub const NLMSG_DONE: u16 = 3;
/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// The receive buffer. A kernel dump datagram is at most 32 KiB
/// (netlink_dump caps its allocation there), so one always fits.
const RECV_BUF: usize = 64 * 1024;

/// A netlink step that failed: its name and the errno, e.g.
/// `adding veth c-port (peer eth0): EEXIST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NlError {
    pub step: String,
    pub errno: i32,
    /// True when the kernel answered the request with this errno (NLMSG_ERROR),
    /// false when a socket call failed (or the answer made no sense: EPROTO).
    pub nack: bool,
}

impl NlError {
    /// The errno of a failed socket call.
    pub fn io(step: impl Into<String>, e: &std::io::Error) -> NlError {
        NlError {
            step: step.into(),
            errno: e.raw_os_error().unwrap_or(libc::EIO),
            nack: false,
        }
    }

    /// The kernel refused the request with `errno`.
    pub fn refused(step: impl Into<String>, errno: i32) -> NlError {
        NlError {
            step: step.into(),
            errno,
            nack: true,
        }
    }

    /// An answer that could not be read.
    pub fn garbled(step: impl Into<String>) -> NlError {
        NlError {
            step: step.into(),
            errno: libc::EPROTO,
            nack: false,
        }
    }
}

impl fmt::Display for NlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.step,
            teardown_core::errno::name(self.errno)
        )
    }
}

/// The kernel or the machine refused: an environment error (exit 3), typed so
/// `anyhow::Error::downcast_ref::<teardown_core::Error>()` finds it; one
/// that means a missing feature or privilege points at `teardown doctor`.
/// (NlError is not a `std::error::Error` itself, so `?` always goes through here.)
impl From<NlError> for anyhow::Error {
    fn from(e: NlError) -> anyhow::Error {
        let message = e.to_string();
        anyhow::Error::new(if crate::sys::means_missing(e.errno) {
            teardown_core::missing(message)
        } else {
            teardown_core::unable(message)
        })
    }
}

/// One netlink message of a datagram, seen through its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// `nlmsg_type`.
    pub kind: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// The whole message, header included.
    pub bytes: &'a [u8],
}

impl<'a> Message<'a> {
    /// What follows the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[NLMSG_HDRLEN..]
    }

    /// The code of an NLMSG_ERROR message, as a positive errno (0: an ACK);
    /// `None` when the payload is too short to hold it.
    pub fn error_code(&self) -> Option<i32> {
        let code = i32::from_ne_bytes(self.payload().get(..4)?.try_into().ok()?);
        Some(code.saturating_neg())
    }
}

/// Splits a datagram into its netlink messages (each `nlmsg_len` long, the
/// next one at the 4-byte aligned offset after it). Stops at the first
/// header that is short or claims more than the buffer holds; never panics.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Message<'_>> {
    let mut off = 0usize;
    std::iter::from_fn(move || {
        let header = buf.get(off..off.checked_add(NLMSG_HDRLEN)?)?;
        let len = u32::from_ne_bytes(header[0..4].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(header[4..6].try_into().ok()?);
        let seq = u32::from_ne_bytes(header[8..12].try_into().ok()?);
        if len < NLMSG_HDRLEN {
            return None;
        }
        let bytes = buf.get(off..off.checked_add(len)?)?;
        off = off.checked_add((len + 3) & !3)?;
        Some(Message { kind, seq, bytes })
    })
}

/// What ends the answers to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Until {
    /// NLMSG_ERROR with code 0 (or NLMSG_DONE).
    Ack,
    /// NLMSG_DONE; an ACK on the way is skipped.
    Done,
}

/// A netlink socket of one protocol, in the calling thread's namespace.
pub struct NlSocket {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl NlSocket {
    /// Opens, binds and connects a socket of `protocol` (NETLINK_ROUTE, ...);
    /// `what` names it in errors (`opening rtnetlink socket: EPERM`).
    pub fn open(protocol: isize, what: &str) -> Result<NlSocket, NlError> {
        let mut socket =
            Socket::new(protocol).map_err(|e| NlError::io(format!("opening {what} socket"), &e))?;
        socket
            .bind_auto()
            .map_err(|e| NlError::io(format!("binding {what} socket"), &e))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(|e| NlError::io(format!("connecting {what} socket"), &e))?;
        Ok(NlSocket {
            socket,
            seq: 0,
            buf: vec![0u8; RECV_BUF],
        })
    }

    /// Makes a receive that waits longer than `timeout` fail (EAGAIN): for a
    /// probe of a protocol that might never answer.
    pub fn set_receive_timeout(&self, timeout: std::time::Duration) -> Result<(), NlError> {
        let tv = nix::sys::time::TimeVal::new(timeout.as_secs() as _, timeout.subsec_micros() as _);
        nix::sys::socket::setsockopt(&self.socket, nix::sys::socket::sockopt::ReceiveTimeout, &tv)
            .map_err(|e| NlError {
                step: "SO_RCVTIMEO".into(),
                errno: e as i32,
                nack: false,
            })
    }

    /// Sends `msg` with `flags` (NLM_F_REQUEST and the rest); returns its sequence number.
    pub fn send<T: NetlinkSerializable>(
        &mut self,
        msg: T,
        flags: u16,
        step: &str,
    ) -> Result<u32, NlError> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket
            .send(&buf, 0)
            .map_err(|e| NlError::io(format!("{step}: sending"), &e))?;
        Ok(self.seq)
    }

    /// Sends `msg` (NLM_F_REQUEST | NLM_F_ACK | `extra_flags`) and waits for
    /// its ACK; messages before the ACK go to `each`.
    pub fn request<T: NetlinkSerializable>(
        &mut self,
        msg: T,
        extra_flags: u16,
        step: &str,
        each: impl FnMut(Message<'_>) -> Result<(), NlError>,
    ) -> Result<(), NlError> {
        use netlink_packet_core::{NLM_F_ACK, NLM_F_REQUEST};
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK | extra_flags, step)?;
        self.answers(seq, Until::Ack, step, each)
    }

    /// Sends a dump request (NLM_F_REQUEST | NLM_F_DUMP) and hands every
    /// answer to `each` until NLMSG_DONE.
    pub fn dump<T: NetlinkSerializable>(
        &mut self,
        msg: T,
        step: &str,
        each: impl FnMut(Message<'_>) -> Result<(), NlError>,
    ) -> Result<(), NlError> {
        use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST};
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_DUMP, step)?;
        self.answers(seq, Until::Done, step, each)
    }

    /// Reads the answers to request `seq` until `until`; an NLMSG_ERROR with
    /// a code is the request's error. Other messages go to `each`.
    fn answers(
        &mut self,
        seq: u32,
        until: Until,
        step: &str,
        mut each: impl FnMut(Message<'_>) -> Result<(), NlError>,
    ) -> Result<(), NlError> {
        loop {
            let n = self
                .socket
                .recv(&mut &mut self.buf[..], libc::MSG_TRUNC)
                .map_err(|e| NlError::io(format!("{step}: receiving"), &e))?;
            if n > self.buf.len() {
                return Err(NlError {
                    step: format!("{step}: receiving a {n}-byte answer"),
                    errno: libc::EMSGSIZE,
                    nack: false,
                });
            }
            for m in messages(&self.buf[..n]).filter(|m| m.seq == seq) {
                match m.kind {
                    NLMSG_ERROR => match m.error_code() {
                        Some(0) if until == Until::Done => {}
                        Some(0) => return Ok(()),
                        Some(errno) => return Err(NlError::refused(step, errno)),
                        None => return Err(NlError::garbled(format!("{step}: a short error"))),
                    },
                    NLMSG_DONE => return Ok(()),
                    _ => each(m)?,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        while !m.len().is_multiple_of(4) {
            m.push(0);
        }
        m
    }

    #[test]
    fn messages_split_a_datagram_and_read_error_codes() {
        let mut buf = message(20, 7, &[1, 2, 3]);
        buf.extend(message(NLMSG_ERROR, 7, &(-libc::EEXIST).to_ne_bytes()));
        buf.extend(message(NLMSG_DONE, 8, &[]));
        let v: Vec<Message> = messages(&buf).collect();
        assert_eq!(v.len(), 3);
        assert_eq!(
            (v[0].kind, v[0].seq, v[0].payload()),
            (20, 7, &[1, 2, 3][..])
        );
        assert_eq!(v[1].error_code(), Some(libc::EEXIST));
        assert_eq!(v[2].kind, NLMSG_DONE);
        assert_eq!(v[2].error_code(), None);
    }

    #[test]
    fn messages_never_panic_on_garbage() {
        for n in 0..120 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 53 + n) as u8).collect();
            for m in messages(&junk) {
                let _ = m.error_code();
                let _ = m.payload();
            }
        }
        let mut b = vec![0u8; 20];
        b[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert_eq!(messages(&b).count(), 0);
        b[0..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(messages(&b).count(), 0);
    }

    #[test]
    fn errors_name_step_and_errno_and_are_environment_errors() {
        let e = NlError::refused("adding cls_bpf filter on ifindex 7", libc::EINVAL);
        assert_eq!(e.to_string(), "adding cls_bpf filter on ifindex 7: EINVAL");
        let any: anyhow::Error = e.into();
        let any = any.context("on the wire");
        let typed = any
            .downcast_ref::<teardown_core::Error>()
            .expect("a typed error");
        assert_eq!(typed.kind, teardown_core::ErrorKind::Environment);
        assert_eq!(
            format!("{any:#}"),
            "on the wire: adding cls_bpf filter on ifindex 7: EINVAL"
        );
    }
}
