//! The shell's errors as `anyhow` errors of a known kind (teardown_core::ErrorKind).

/// Bad input or usage (exit 2), as an `anyhow` error.
pub fn bad_input(msg: impl Into<String>) -> anyhow::Error {
    teardown_core::bad_input(msg).into()
}

/// The environment can't run it (exit 3), as an `anyhow` error.
pub fn unable(msg: impl Into<String>) -> anyhow::Error {
    teardown_core::unable(msg).into()
}

/// A missing kernel feature or privilege, which `teardown doctor` explains
/// (exit 3, with the hint), as an `anyhow` error.
pub fn missing(msg: impl Into<String>) -> anyhow::Error {
    teardown_core::missing(msg).into()
}
