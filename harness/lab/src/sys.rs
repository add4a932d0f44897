//! The process's environment: who we are, which kernel, the evidence clock.
//!
//! Contract: small reads of the process's own state, no side effects. The
//! root check every privileged command makes before it creates anything.

use anyhow::Result;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Exit 3 with a clear message unless we may administer network namespaces.
pub fn require_root() -> Result<()> {
    if nix::unistd::Uid::effective().is_root() || has_cap_net_admin() {
        Ok(())
    } else {
        Err(crate::error::missing(
            "needs root or CAP_NET_ADMIN (it creates network namespaces): run it with sudo",
        ))
    }
}

/// CAP_NET_ADMIN (bit 12) in the effective set, from /proc/self/status.
fn has_cap_net_admin() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .map(|caps| caps & (1 << 12) != 0)
        .unwrap_or(false)
}

/// The running kernel's release (`uname -r`).
pub fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// Current time on the evidence clock (CLOCK_REALTIME, ns), the clock
/// AF_PACKET stamps packets with.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The errno name of an I/O error, if it carries one (Linux numbering).
pub fn errno_of_io(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => teardown_core::errno::name(n),
        None => format!("{:?}", e.kind()),
    }
}

/// The machine refused `step` with this I/O error: an environment error
/// (exit 3) naming the step and the errno, e.g. `reading /proc/x: ENOENT`.
pub fn refused_io(step: impl std::fmt::Display, e: &std::io::Error) -> anyhow::Error {
    environment(
        format!("{step}: {}", errno_of_io(e)),
        e.raw_os_error().unwrap_or(0),
    )
}

/// The kernel refused `step` with this errno: an environment error (exit 3).
pub fn refused(step: impl std::fmt::Display, e: nix::Error) -> anyhow::Error {
    environment(
        format!("{step}: {}", teardown_core::errno::name(e as i32)),
        e as i32,
    )
}

/// Whether the kernel's errno means a missing feature or privilege (what
/// `teardown doctor` reports), not a failing machine.
pub fn means_missing(errno: i32) -> bool {
    matches!(
        errno,
        libc::EPERM
            | libc::EACCES
            | libc::EOPNOTSUPP
            | libc::ENOSYS
            | libc::EAFNOSUPPORT
            | libc::EPROTONOSUPPORT
    )
}

/// An environment error; one doctor explains when `errno` means a missing
/// feature or privilege.
fn environment(message: String, errno: i32) -> anyhow::Error {
    if means_missing(errno) {
        crate::error::missing(message)
    } else {
        crate::error::unable(message)
    }
}

/// TCP_RTO_MAX_MS (include/uapi/linux/tcp.h, 6.15+; the installed headers may
/// predate it): a socket's cap on its RTO, IPPROTO_TCP level, in ms.
const TCP_RTO_MAX_MS: libc::c_int = 44;

/// setsockopt(IPPROTO_TCP, TCP_RTO_MAX_MS) on a TCP socket.
pub fn set_tcp_rto_max_ms(sock: BorrowedFd<'_>, ms: u32) -> std::io::Result<()> {
    set_tcp_int(sock, TCP_RTO_MAX_MS, ms as libc::c_int)
}

/// setsockopt(IPPROTO_TCP, TCP_SYNCNT): the socket's own SYN retries (1..127).
/// (socket2 and nix have no call for it.)
pub fn set_tcp_syncnt(sock: BorrowedFd<'_>, n: u32) -> std::io::Result<()> {
    set_tcp_int(sock, libc::TCP_SYNCNT, n as libc::c_int)
}

/// setsockopt at IPPROTO_TCP level with an int value.
fn set_tcp_int(sock: BorrowedFd<'_>, opt: libc::c_int, v: libc::c_int) -> std::io::Result<()> {
    // SAFETY: `sock` is open for the call; passes a pointer to a live c_int and its exact size.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            opt,
            &v as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// getsockopt(IPPROTO_TCP, TCP_RTO_MAX_MS): the cap in ms.
pub fn tcp_rto_max_ms(sock: BorrowedFd<'_>) -> std::io::Result<u32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `sock` is open for the call; v and len are live and len holds v's size.
    let r = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            TCP_RTO_MAX_MS,
            &mut v as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(v as u32)
    }
}

/// The first line of every privileged test. Such tests carry
/// `#[ignore = "privileged: ..."]`, so a plain `cargo test` without root
/// reports them as ignored, never as passed; `make test` adds
/// `--include-ignored` as root or under `CI=true`, and then a privileged test
/// that is not root fails here instead of passing by skipping.
#[doc(hidden)]
pub fn require_privileged() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "privileged test run without root: run `make test` as root, or plain `cargo test` to have it ignored"
    );
}

#[cfg(test)]
mod tests {
    /// The core's errno table is written out (it builds off Linux); it must
    /// agree with the C library's values here.
    #[test]
    fn core_errno_table_matches_libc() {
        for (name, n) in teardown_core::errno::TABLE {
            let want = match *name {
                "EPERM" => libc::EPERM,
                "ENOENT" => libc::ENOENT,
                "ESRCH" => libc::ESRCH,
                "EINTR" => libc::EINTR,
                "EIO" => libc::EIO,
                "EBADF" => libc::EBADF,
                "EAGAIN" => libc::EAGAIN,
                "ENOMEM" => libc::ENOMEM,
                "EACCES" => libc::EACCES,
                "EBUSY" => libc::EBUSY,
                "EEXIST" => libc::EEXIST,
                "ENODEV" => libc::ENODEV,
                "EINVAL" => libc::EINVAL,
                "ENOSPC" => libc::ENOSPC,
                "EPIPE" => libc::EPIPE,
                "ENOSYS" => libc::ENOSYS,
                "ENOTSUP" => libc::ENOTSUP,
                "EOPNOTSUPP" => libc::EOPNOTSUPP,
                "ENOPROTOOPT" => libc::ENOPROTOOPT,
                "EPROTONOSUPPORT" => libc::EPROTONOSUPPORT,
                "EAFNOSUPPORT" => libc::EAFNOSUPPORT,
                "EADDRINUSE" => libc::EADDRINUSE,
                "EADDRNOTAVAIL" => libc::EADDRNOTAVAIL,
                "ENETDOWN" => libc::ENETDOWN,
                "ENETUNREACH" => libc::ENETUNREACH,
                "ENETRESET" => libc::ENETRESET,
                "ECONNABORTED" => libc::ECONNABORTED,
                "ECONNRESET" => libc::ECONNRESET,
                "ENOBUFS" => libc::ENOBUFS,
                "EISCONN" => libc::EISCONN,
                "ENOTCONN" => libc::ENOTCONN,
                "ETIMEDOUT" => libc::ETIMEDOUT,
                "ECONNREFUSED" => libc::ECONNREFUSED,
                "EHOSTDOWN" => libc::EHOSTDOWN,
                "EHOSTUNREACH" => libc::EHOSTUNREACH,
                "EALREADY" => libc::EALREADY,
                "EINPROGRESS" => libc::EINPROGRESS,
                "ENOLINK" => libc::ENOLINK,
                "EPROTO" => libc::EPROTO,
                "EMSGSIZE" => libc::EMSGSIZE,
                "ENOTSOCK" => libc::ENOTSOCK,
                other => panic!("{other}: add it to this test"),
            };
            assert_eq!(*n, want, "{name}");
        }
    }
}
