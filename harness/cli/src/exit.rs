//! How a command's outcome becomes the process's exit code and message.
//!
//! Contract (DESIGN.md, "Command line"): the code says who has to act.
//!
//! | code | meaning                                   | decided by |
//! |------|-------------------------------------------|------------|
//! | 0    | all passed                                | the command (`Ok(0)`) |
//! | 1    | a check failed                            | the command: `run`/`merge` ([`crate::run::exit_code`]), `replay --scenario` |
//! | 2    | bad input or usage                        | clap (usage), or an error of kind [`ErrorKind::BadInput`] / a [`ScenarioError`] |
//! | 3    | the environment can't run it              | an error of kind [`ErrorKind::Environment`]; `run`: a scenario's verdict `error` |
//! | 4    | an internal error: a bug in teardown      | an error of kind [`ErrorKind::Internal`], an error of no known kind, a panic |
//! | 130  | interrupted (SIGINT, SIGTERM)             | `run`, after every lab was removed |
//!
//! Files: a path the user gave that can't be used (missing, not permitted,
//! a directory where a file belongs, not a capture) is bad input (2), since
//! the fix is a different argument; the machine failing a valid request
//! (disk full, I/O error, a broken stdout) is the environment (3). See
//! [`path_error`]. An error of no kind is never blamed on the environment:
//! it is a bug (4), reported as one.

use std::io;
use std::path::Path;
use teardown_core::scenario::ScenarioError;
use teardown_core::{Error, ErrorKind};

/// `teardown run` after SIGINT/SIGTERM (128 + SIGINT, like a shell).
pub const INTERRUPTED: i32 = 130;

/// The kind of a failed command's error: the outermost typed error in its
/// chain (a caller's context may classify what it wraps); a scenario file's
/// error is bad input; an error of no kind is internal (a bug).
pub fn kind(e: &anyhow::Error) -> ErrorKind {
    typed_kind(e).unwrap_or(ErrorKind::Internal)
}

/// The kind an error was given, if any.
fn typed_kind(e: &anyhow::Error) -> Option<ErrorKind> {
    if let Some(err) = e.downcast_ref::<Error>() {
        return Some(err.kind);
    }
    e.chain().find_map(|cause| {
        if let Some(err) = cause.downcast_ref::<Error>() {
            Some(err.kind)
        } else {
            cause
                .downcast_ref::<ScenarioError>()
                .map(|_| ErrorKind::BadInput)
        }
    })
}

/// Prints a failed command's error on stderr, with what to do next, and
/// returns its exit code. `doctor_hint`: whether an error doctor explains
/// ([`doctor_explains`]) may point at `teardown doctor` (not when doctor
/// itself failed).
pub fn report(e: &anyhow::Error, doctor_hint: bool) -> u8 {
    let k = kind(e);
    eprintln!("teardown: {e:#}");
    match k {
        ErrorKind::Environment if doctor_hint && doctor_explains(e) => eprintln!("{DOCTOR_HINT}"),
        ErrorKind::Internal => eprintln!("{BUG}"),
        _ => {}
    }
    k.exit_code()
}

/// What follows an error [`doctor_explains`].
pub const DOCTOR_HINT: &str =
    "hint: `sudo teardown doctor` shows what this machine's kernel offers and what is missing";

/// Whether a typed error in the chain is one `teardown doctor` explains (a
/// missing kernel feature or privilege): a full disk or a program that
/// failed to start is no business of doctor's.
pub fn doctor_explains(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<Error>())
        .any(|err| err.doctor_explains)
}

/// What follows an internal error's message.
pub const BUG: &str = "teardown: this is an internal error, a bug in teardown (exit 4), not a \
problem with your input or machine: please report it with the command line and the messages above";

/// An I/O error on a path the user gave (`doing`: "reading", "writing",
/// "creating"): bad input when the path is the problem, the environment when
/// the machine is.
pub fn path_error(doing: &str, path: &Path, e: io::Error) -> Error {
    let message = format!("{doing} {}: {e}", path.display());
    if blames_path(e.kind()) {
        teardown_core::bad_input(message)
    } else {
        teardown_core::unable(message)
    }
}

/// Whether an I/O error on a user's path means the path is wrong (bad input)
/// rather than the machine failing (the environment).
fn blames_path(k: io::ErrorKind) -> bool {
    matches!(
        k,
        io::ErrorKind::NotFound
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::AlreadyExists
            | io::ErrorKind::InvalidInput
            | io::ErrorKind::InvalidData
            | io::ErrorKind::IsADirectory
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::DirectoryNotEmpty
            | io::ErrorKind::ReadOnlyFilesystem
            | io::ErrorKind::InvalidFilename
            | io::ErrorKind::NotSeekable
    )
}

/// An error of a lab call whose only file access is under a directory the
/// user gave (`run --out`, `merge --out`): a typed error keeps its kind, an
/// untyped one carrying an I/O error is classified like [`path_error`], and
/// anything else stays untyped (a bug).
pub fn under_user_dir(dir: &Path, e: anyhow::Error) -> anyhow::Error {
    if typed_kind(&e).is_some() {
        return e;
    }
    let Some(io) = e.chain().find_map(|c| c.downcast_ref::<io::Error>()) else {
        return e;
    };
    let message = format!("{e:#} (under {})", dir.display());
    if blames_path(io.kind()) {
        teardown_core::bad_input(message).into()
    } else {
        teardown_core::unable(message).into()
    }
}

/// A failure to write the command's output on stdout: the environment
/// (a full disk behind a redirection; a closed pipe ends the commands that
/// print quietly, by SIGPIPE).
pub fn stdout_error(e: io::Error) -> Error {
    teardown_core::unable(format!("writing to stdout: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    fn code(e: anyhow::Error) -> u8 {
        kind(&e).exit_code()
    }

    #[test]
    fn typed_errors_keep_their_kind_through_context() {
        assert_eq!(code(teardown_core::bad_input("x").into()), 2);
        assert_eq!(code(teardown_core::unable("x").into()), 3);
        assert_eq!(code(teardown_core::internal("x").into()), 4);
        let wrapped = Err::<(), _>(teardown_core::unable("no netem"))
            .context("step 3")
            .context("scenario c5")
            .unwrap_err();
        assert_eq!(code(wrapped), 3);
        let wrapped = Err::<(), anyhow::Error>(teardown_core::bad_input("bad").into())
            .context("loading")
            .unwrap_err();
        assert_eq!(code(wrapped), 2);
    }

    #[test]
    fn the_outermost_kind_wins() {
        let inner: anyhow::Error = teardown_core::internal("parser state").into();
        let e = inner.context(teardown_core::bad_input("capture x: truncated"));
        assert_eq!(code(e), 2);
    }

    #[test]
    fn only_what_doctor_explains_points_at_doctor() {
        let lacks: anyhow::Error = teardown_core::missing("this kernel lacks sch_netem").into();
        assert!(doctor_explains(&lacks.context("step 3")));
        let full: anyhow::Error = teardown_core::unable("writing out/x: ENOSPC").into();
        assert!(!doctor_explains(&full));
        assert!(!doctor_explains(&anyhow::anyhow!("a bug")));
    }

    #[test]
    fn a_scenario_files_error_is_bad_input() {
        let e = ScenarioError {
            file: "a.toml".into(),
            line: 1,
            col: 1,
            message: "unknown key".into(),
        };
        assert_eq!(code(e.into()), 2);
    }

    #[test]
    fn untyped_errors_are_bugs_not_the_environment() {
        assert_eq!(code(anyhow::anyhow!("index out of range")), 4);
        let io = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(code(anyhow::Error::from(io).context("open")), 4);
    }

    #[test]
    fn path_errors_blame_the_path_or_the_machine() {
        let p = Path::new("/x/y.pcap");
        for k in [
            io::ErrorKind::NotFound,
            io::ErrorKind::PermissionDenied,
            io::ErrorKind::IsADirectory,
            io::ErrorKind::NotADirectory,
        ] {
            assert_eq!(path_error("reading", p, k.into()).kind, ErrorKind::BadInput);
        }
        for k in [io::ErrorKind::StorageFull, io::ErrorKind::Other] {
            assert_eq!(
                path_error("writing", p, k.into()).kind,
                ErrorKind::Environment
            );
        }
        let e = path_error("reading", p, io::ErrorKind::NotFound.into());
        assert!(e.message.starts_with("reading /x/y.pcap: "), "{e}");
    }

    #[test]
    fn untyped_io_under_a_users_directory_is_classified() {
        let dir = Path::new("out/x");
        let io: anyhow::Error = io::Error::from(io::ErrorKind::PermissionDenied).into();
        let e = under_user_dir(dir, io.context("creating out/x/a"));
        assert_eq!(kind(&e), ErrorKind::BadInput);
        assert!(format!("{e:#}").contains("creating out/x/a"), "{e:#}");
        let full: anyhow::Error = io::Error::from(io::ErrorKind::StorageFull).into();
        assert_eq!(kind(&under_user_dir(dir, full)), ErrorKind::Environment);
        let typed: anyhow::Error = teardown_core::unable("not root").into();
        assert_eq!(kind(&under_user_dir(dir, typed)), ErrorKind::Environment);
        let bug = anyhow::Error::from(io::Error::from(io::ErrorKind::NotFound))
            .context(teardown_core::internal("lost track of a file"));
        assert_eq!(kind(&under_user_dir(dir, bug)), ErrorKind::Internal);
        assert_eq!(
            kind(&under_user_dir(dir, anyhow::anyhow!("logic"))),
            ErrorKind::Internal
        );
    }
}
