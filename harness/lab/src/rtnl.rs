//! A synchronous rtnetlink socket: one request, its ACK or its dump.
//!
//! Contract: the socket belongs to the network namespace of the thread that
//! opened it (see [`crate::netns`]); every error names the step it was for
//! and the kernel's errno name (`adding veth c-port: EEXIST`).

use anyhow::{anyhow, Result};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

pub struct Rtnl {
    socket: Socket,
    seq: u32,
}

/// A kernel error answer, kept apart so callers can tolerate some (EEXIST, ENOENT).
#[derive(Debug)]
pub struct NlError {
    pub step: String,
    pub errno: i32,
}

impl std::fmt::Display for NlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            self.step,
            teardown_core::errno::name(self.errno)
        )
    }
}

impl std::error::Error for NlError {}

impl Rtnl {
    /// Opens a NETLINK_ROUTE socket in the calling thread's namespace.
    pub fn open() -> Result<Rtnl> {
        let mut socket = Socket::new(NETLINK_ROUTE)
            .map_err(|e| anyhow!("opening rtnetlink socket: {}", crate::sys::errno_of_io(&e)))?;
        socket
            .bind_auto()
            .map_err(|e| anyhow!("binding rtnetlink socket: {}", crate::sys::errno_of_io(&e)))?;
        socket.connect(&SocketAddr::new(0, 0)).map_err(|e| {
            anyhow!(
                "connecting rtnetlink socket: {}",
                crate::sys::errno_of_io(&e)
            )
        })?;
        Ok(Rtnl { socket, seq: 0 })
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16, step: &str) -> Result<u32> {
        self.seq += 1;
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket
            .send(&buf, 0)
            .map_err(|e| anyhow!("{step}: sending: {}", crate::sys::errno_of_io(&e)))?;
        Ok(self.seq)
    }

    fn receive(&mut self, step: &str) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = self
            .socket
            .recv(&mut &mut buf[..], 0)
            .map_err(|e| anyhow!("{step}: receiving: {}", crate::sys::errno_of_io(&e)))?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Sends a request with `extra_flags` (e.g. NLM_F_CREATE | NLM_F_EXCL) and waits for its ACK.
    pub fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        extra_flags: u16,
        step: &str,
    ) -> Result<()> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK | extra_flags, step)?;
        loop {
            let buf = self.receive(step)?;
            let mut offset = 0;
            while offset < buf.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[offset..])
                    .map_err(|e| anyhow!("{step}: bad netlink answer: {e}"))?;
                let len = reply.header.length as usize;
                if reply.header.sequence_number == seq {
                    if let NetlinkPayload::Error(err) = &reply.payload {
                        return match err.code {
                            None => Ok(()),
                            Some(code) => Err(NlError {
                                step: step.to_string(),
                                errno: -code.get(),
                            }
                            .into()),
                        };
                    }
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }

    /// Sends a dump request and collects every answer until NLMSG_DONE.
    pub fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
        step: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_DUMP, step)?;
        let mut out = Vec::new();
        loop {
            let buf = self.receive(step)?;
            let mut offset = 0;
            while offset < buf.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[offset..])
                    .map_err(|e| anyhow!("{step}: bad netlink answer: {e}"))?;
                let len = reply.header.length as usize;
                if reply.header.sequence_number == seq {
                    match reply.payload {
                        NetlinkPayload::Done(_) => return Ok(out),
                        NetlinkPayload::Error(err) => {
                            if let Some(code) = err.code {
                                return Err(NlError {
                                    step: step.to_string(),
                                    errno: -code.get(),
                                }
                                .into());
                            }
                        }
                        NetlinkPayload::InnerMessage(m) => out.push(m),
                        _ => {}
                    }
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }
}

/// The errno of a failed request, if that is what the error is.
pub fn errno_of(e: &anyhow::Error) -> Option<i32> {
    e.downcast_ref::<NlError>().map(|n| n.errno)
}
