//! Running a program as an endpoint: `teardown ns-exec` (enter a host's
//! namespace, drop to the endpoint's account, exec), and finding a program
//! the way exec will, as that account.
//!
//! Contract: a program that can't be run is no error of the harness's: its
//! message goes to stderr after [`EXEC_FAILED`] and the status is a
//! shell's (127 not found, 126 not executable), so the supervisor can tell
//! a failed start from the program's own words.

use crate::sys::{refused, refused_io};
use anyhow::Result;
use nix::sched::{setns, unshare, CloneFlags};
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What `teardown ns-exec` does: where, as whom, and whether it only checks.
#[derive(Clone, Debug, Default)]
pub struct NsExec {
    /// The namespace file to enter; none: stay in the caller's.
    pub netns: Option<PathBuf>,
    /// The account to drop to after entering ([`crate::account`]); none: stay root.
    pub user: Option<String>,
    /// Only find the program as exec would, as that account; print its path.
    pub check: bool,
}

/// The exit status of an `ns-exec` whose program could not be run, like a
/// shell's: 127 not found, 126 found but not executable.
pub const EXEC_NOT_FOUND: i32 = 127;
pub const EXEC_NOT_EXECUTABLE: i32 = 126;

/// What `ns-exec` prints on stderr before an exec failure's message, so a
/// supervisor can tell that failure from the program's own words.
pub const EXEC_FAILED: &str = "teardown ns-exec: ";

/// `teardown ns-exec [--netns FILE] [--user U] [--check] -- CMD...`: enter
/// the namespace, drop to the account, and exec the command. Runs in a
/// fresh single-threaded process, so the setns and the drop on the main
/// thread cover the whole program that replaces it. A program that can't
/// be run is no error of the harness's: its message goes to stderr (after
/// [`EXEC_FAILED`]) and the status is 127 or 126, as a shell's.
pub fn ns_exec(how: &NsExec, command: &[String]) -> Result<i32> {
    use std::os::unix::process::CommandExt;
    if let Some(netns) = &how.netns {
        let file = File::open(netns)
            .map_err(|e| refused_io(format_args!("opening {}", netns.display()), &e))?;
        setns(file.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| refused("setns", e))?;
        // System V IPC of its own (shared memory, semaphores, message queues):
        // a program killed with its host (postgres's shared memory segment)
        // leaves nothing on the machine, since the namespace goes with its
        // last process.
        unshare(CloneFlags::CLONE_NEWIPC).map_err(|e| refused("unshare(CLONE_NEWIPC)", e))?;
    }
    let account = match &how.user {
        Some(u) => Some(crate::account::Account::lookup(u).map_err(crate::error::bad_input)?),
        None => None,
    };
    if let Some(a) = &account {
        crate::account::drop_to(a)?;
    }
    let as_whom = account
        .filter(|a| !a.is_root())
        .map(|a| format!(" by {}", a.describe()))
        .unwrap_or_default();
    if how.check {
        return Ok(match resolve_program(&command[0], &as_whom) {
            Ok(path) => {
                println!("{}", path.display());
                0
            }
            Err(why) => {
                eprintln!("{EXEC_FAILED}{}", why.message);
                why.status
            }
        });
    }
    let err = std::process::Command::new(&command[0])
        .args(&command[1..])
        .exec();
    let status = if err.kind() == std::io::ErrorKind::NotFound {
        EXEC_NOT_FOUND
    } else {
        EXEC_NOT_EXECUTABLE
    };
    eprintln!(
        "{EXEC_FAILED}exec {}{as_whom}: {}",
        command[0],
        crate::sys::errno_of_io(&err)
    );
    Ok(status)
}

/// Why a program can't be run, and the status a shell would exit with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotRunnable {
    pub message: String,
    /// 127: not found; 126: found, but not executable.
    pub status: i32,
}

/// Where a program is, as exec finds it for the calling process's user
/// (`by`: who that is, for the message, e.g. ` by nobody (uid 65534, gid
/// 65534)`, or empty): a name with a `/` from the working directory (the
/// harness runs endpoints from its own), a bare name from the first PATH
/// entry that has it executable.
pub fn resolve_program(program: &str, by: &str) -> Result<PathBuf, NotRunnable> {
    if program.contains('/') {
        let p = Path::new(program);
        return executable(p).map(|()| p.to_path_buf()).map_err(|why| {
            let cwd = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "?".into());
            NotRunnable {
                message: format!(
                    "`{program}` {} (a name with a `/` is taken from the working directory, {cwd})",
                    why.says(by)
                ),
                status: why.status(),
            }
        });
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| executable(p).is_ok())
        .ok_or_else(|| NotRunnable {
            message: format!(
                "`{program}` is not in PATH ({}){by}; is it installed? (`make deps` installs what the catalogue's scenarios run)",
                path.to_string_lossy()
            ),
            status: EXEC_NOT_FOUND,
        })
}

/// Why a file can't be executed.
enum NotExecutable {
    /// stat(2) or access(2) failed with this errno.
    Errno(String),
    NotAFile,
    NoExecuteBit,
}

impl NotExecutable {
    fn says(&self, by: &str) -> String {
        match self {
            NotExecutable::Errno(e) => format!("cannot be run{by}: {e}"),
            NotExecutable::NotAFile => "is not a file".into(),
            NotExecutable::NoExecuteBit => "is not executable".into(),
        }
    }

    fn status(&self) -> i32 {
        match self {
            NotExecutable::Errno(e) if e == "ENOENT" => EXEC_NOT_FOUND,
            _ => EXEC_NOT_EXECUTABLE,
        }
    }
}

/// Whether the calling process's user may execute `p` (access(2) with X_OK
/// asks with the real ids: the account's after a drop, so search permission
/// on every directory of the path counts too).
fn executable(p: &Path) -> Result<(), NotExecutable> {
    let m = std::fs::metadata(p).map_err(|e| NotExecutable::Errno(crate::sys::errno_of_io(&e)))?;
    if !m.is_file() {
        return Err(NotExecutable::NotAFile);
    }
    // Root may execute a file with any x bit, and only one with an x bit.
    if m.permissions().mode() & 0o111 == 0 {
        return Err(NotExecutable::NoExecuteBit);
    }
    nix::unistd::access(p, nix::unistd::AccessFlags::X_OK)
        .map_err(|e| NotExecutable::Errno(teardown_core::errno::name(e as i32)))
}
