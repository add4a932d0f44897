//! The process's environment: who we are, which kernel, the evidence clock.
//!
//! Contract: small reads of the process's own state, no side effects. The
//! root check every privileged command makes before it creates anything.

use anyhow::Result;

/// Exit 3 with a clear message unless we may administer network namespaces.
pub fn require_root() -> Result<()> {
    if nix::unistd::Uid::effective().is_root() || has_cap_net_admin() {
        Ok(())
    } else {
        Err(crate::unable(
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
