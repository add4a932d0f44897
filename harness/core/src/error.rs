//! The kinds of failure, and the exit code each one means.
//!
//! Contract: every error the harness reports is one of these kinds (or wraps
//! one); the kind alone decides the process's exit code. An error of no known
//! kind is an internal error (a bug), never blamed on the environment.

use std::fmt;

/// Why a command failed; the exit code follows from it ([`ErrorKind::exit_code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input or usage: a scenario file, an option, a capture that can't be read (exit 2).
    BadInput,
    /// The environment can't run it: not root, a missing kernel feature or program (exit 3).
    Environment,
    /// A bug in the harness (exit 4).
    Internal,
}

impl ErrorKind {
    /// The documented exit code: 2 bad input, 3 environment, 4 internal error.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::BadInput => 2,
            ErrorKind::Environment => 3,
            ErrorKind::Internal => 4,
        }
    }
}

/// An error of a known kind, with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Whether `teardown doctor` explains it (a missing kernel feature or
    /// privilege): only then does the message point at doctor.
    pub doctor_explains: bool,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Bad input or usage (exit 2).
pub fn bad_input(msg: impl Into<String>) -> Error {
    Error {
        kind: ErrorKind::BadInput,
        message: msg.into(),
        doctor_explains: false,
    }
}

/// The environment can't run it (exit 3).
pub fn unable(msg: impl Into<String>) -> Error {
    Error {
        kind: ErrorKind::Environment,
        message: msg.into(),
        doctor_explains: false,
    }
}

/// The environment lacks a kernel feature or a privilege that `teardown
/// doctor` reports (exit 3, with a pointer to doctor).
pub fn missing(msg: impl Into<String>) -> Error {
    Error {
        doctor_explains: true,
        ..unable(msg)
    }
}

/// A bug in the harness (exit 4).
pub fn internal(msg: impl Into<String>) -> Error {
    Error {
        kind: ErrorKind::Internal,
        message: msg.into(),
        doctor_explains: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_the_documented_codes() {
        assert_eq!(bad_input("x").kind.exit_code(), 2);
        assert_eq!(unable("x").kind.exit_code(), 3);
        assert_eq!(internal("x").kind.exit_code(), 4);
        assert_eq!(missing("x").kind.exit_code(), 3);
        assert!(missing("x").doctor_explains && !unable("x").doctor_explains);
    }
}
