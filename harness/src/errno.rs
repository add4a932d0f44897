//! errno names: the vocabulary application events and error messages use.
//!
//! Contract: `name(n)` gives the symbolic name of an errno value (`ECONNRESET`),
//! `number(name)` the inverse; both are pure and cover the errors TCP
//! teardown produces plus the ones the harness's syscalls may return.

const TABLE: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("ESRCH", libc::ESRCH),
    ("EINTR", libc::EINTR),
    ("EIO", libc::EIO),
    ("EBADF", libc::EBADF),
    ("EAGAIN", libc::EAGAIN),
    ("ENOMEM", libc::ENOMEM),
    ("EACCES", libc::EACCES),
    ("EBUSY", libc::EBUSY),
    ("EEXIST", libc::EEXIST),
    ("ENODEV", libc::ENODEV),
    ("EINVAL", libc::EINVAL),
    ("ENOSPC", libc::ENOSPC),
    ("EPIPE", libc::EPIPE),
    ("ENOSYS", libc::ENOSYS),
    ("ENOTSUP", libc::ENOTSUP),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("ENOPROTOOPT", libc::ENOPROTOOPT),
    ("EPROTONOSUPPORT", libc::EPROTONOSUPPORT),
    ("EAFNOSUPPORT", libc::EAFNOSUPPORT),
    ("EADDRINUSE", libc::EADDRINUSE),
    ("EADDRNOTAVAIL", libc::EADDRNOTAVAIL),
    ("ENETDOWN", libc::ENETDOWN),
    ("ENETUNREACH", libc::ENETUNREACH),
    ("ENETRESET", libc::ENETRESET),
    ("ECONNABORTED", libc::ECONNABORTED),
    ("ECONNRESET", libc::ECONNRESET),
    ("ENOBUFS", libc::ENOBUFS),
    ("EISCONN", libc::EISCONN),
    ("ENOTCONN", libc::ENOTCONN),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("ECONNREFUSED", libc::ECONNREFUSED),
    ("EHOSTDOWN", libc::EHOSTDOWN),
    ("EHOSTUNREACH", libc::EHOSTUNREACH),
    ("EALREADY", libc::EALREADY),
    ("EINPROGRESS", libc::EINPROGRESS),
    ("ENOLINK", libc::ENOLINK),
    ("EPROTO", libc::EPROTO),
    ("EMSGSIZE", libc::EMSGSIZE),
    ("ENOTSOCK", libc::ENOTSOCK),
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

/// The errno name of an I/O error, if it carries one.
pub fn of_io(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => name(n),
        None => format!("{:?}", e.kind()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_round_trip() {
        assert_eq!(super::name(libc::ECONNRESET), "ECONNRESET");
        assert_eq!(super::number("ETIMEDOUT"), Some(libc::ETIMEDOUT));
        assert_eq!(super::number("EWHATEVER"), None);
        assert_eq!(super::name(9999), "E9999");
    }
}
