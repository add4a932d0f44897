//! errno names: the vocabulary application events and error messages use.
//!
//! Contract: `name(n)` gives the symbolic name of a Linux errno value
//! (`ECONNRESET`), `number(name)` the inverse; both are pure and cover the
//! errors TCP teardown produces plus the ones the harness's syscalls may
//! return. The numbers are Linux's (asm-generic/errno*.h, x86 and arm64
//! alike), written out so the core builds anywhere: the evidence comes from a
//! Linux kernel whatever machine reads it. The lab's tests check the table
//! against libc.

pub const TABLE: &[(&str, i32)] = &[
    ("EPERM", 1),
    ("ENOENT", 2),
    ("ESRCH", 3),
    ("EINTR", 4),
    ("EIO", 5),
    ("EBADF", 9),
    ("EAGAIN", 11),
    ("ENOMEM", 12),
    ("EACCES", 13),
    ("EBUSY", 16),
    ("EEXIST", 17),
    ("ENODEV", 19),
    ("EINVAL", 22),
    ("ENOSPC", 28),
    ("EPIPE", 32),
    ("ENOSYS", 38),
    ("ENOTSUP", 95),
    ("EOPNOTSUPP", 95),
    ("ENOPROTOOPT", 92),
    ("EPROTONOSUPPORT", 93),
    ("EAFNOSUPPORT", 97),
    ("EADDRINUSE", 98),
    ("EADDRNOTAVAIL", 99),
    ("ENETDOWN", 100),
    ("ENETUNREACH", 101),
    ("ENETRESET", 102),
    ("ECONNABORTED", 103),
    ("ECONNRESET", 104),
    ("ENOBUFS", 105),
    ("EISCONN", 106),
    ("ENOTCONN", 107),
    ("ETIMEDOUT", 110),
    ("ECONNREFUSED", 111),
    ("EHOSTDOWN", 112),
    ("EHOSTUNREACH", 113),
    ("EALREADY", 114),
    ("EINPROGRESS", 115),
    ("ENOLINK", 67),
    ("EPROTO", 71),
    ("EMSGSIZE", 90),
    ("ENOTSOCK", 88),
];

/// The symbolic name of an errno value, or `E<number>` when unknown.
pub fn name(n: i32) -> String {
    TABLE
        .iter()
        .find(|(_, v)| *v == n)
        .map(|(k, _)| k.to_string())
        .unwrap_or_else(|| format!("E{n}"))
}

/// The value of a symbolic errno name.
pub fn number(name: &str) -> Option<i32> {
    TABLE.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_round_trip() {
        assert_eq!(super::name(104), "ECONNRESET");
        assert_eq!(super::number("ETIMEDOUT"), Some(110));
        assert_eq!(super::number("EWHATEVER"), None);
        assert_eq!(super::name(9999), "E9999");
    }
}
