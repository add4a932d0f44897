//! Network namespaces: create, enter on a dedicated thread, find processes, delete.
//!
//! Contract:
//! - A namespace is named like iproute2's (a bind mount of the nsfs file under
//!   `/run/netns/NAME`), so `ip netns exec NAME ...` works on it too.
//! - `setns` is per thread. This module only ever calls it on threads it spawns
//!   itself ([`NetNs::run`], [`NetNs::spawn`]) or in a freshly exec'd
//!   single-threaded process ([`ns_exec`]); the caller's thread never changes
//!   namespace. Sockets opened on such a thread stay in that namespace for good.
//! - Creating never touches the root network namespace. Errors carry the step
//!   and the errno name.

use crate::sys::{refused, refused_io};
use anyhow::{anyhow, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use std::fs::{self, File, OpenOptions};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// Where iproute2 keeps named namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// A named network namespace.
#[derive(Clone, Debug)]
pub struct NetNs {
    name: String,
    path: PathBuf,
}

/// Makes `/run/netns` exist and be a shared mount point, exactly as
/// `ip netns add` does, so mounts under it behave the same for both tools.
fn ensure_run_dir() -> Result<()> {
    fs::create_dir_all(NETNS_RUN_DIR)
        .map_err(|e| refused_io(format_args!("creating {NETNS_RUN_DIR}"), &e))?;
    let flags = MsFlags::MS_SHARED | MsFlags::MS_REC;
    match mount(
        None::<&str>,
        NETNS_RUN_DIR,
        None::<&str>,
        flags,
        None::<&str>,
    ) {
        Ok(()) => Ok(()),
        Err(nix::Error::EINVAL) => {
            mount(
                Some(NETNS_RUN_DIR),
                NETNS_RUN_DIR,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| refused(format_args!("bind-mounting {NETNS_RUN_DIR} onto itself"), e))?;
            mount(
                None::<&str>,
                NETNS_RUN_DIR,
                None::<&str>,
                flags,
                None::<&str>,
            )
            .map_err(|e| refused(format_args!("making {NETNS_RUN_DIR} shared"), e))
        }
        Err(e) => Err(refused(format_args!("making {NETNS_RUN_DIR} shared"), e)),
    }
}

/// Buckets of each lab namespace's own TCP established hash.
const CHILD_EHASH_ENTRIES: &str = "1024";

/// An unnamed namespace of this process (held by a file descriptor, gone
/// with the process) in which lab namespaces are created: its
/// `net.ipv4.tcp_child_ehash_entries` gives each of them a private TCP
/// established hash (kernel 5.19+). Otherwise every namespace shares the
/// host's hash (262144 buckets on the development machine), and every
/// sock_diag dump (the socket sampler, teardown) walks all of it: ~2 ms of
/// kernel time per family and round. `None` when the kernel lacks the sysctl.
fn nursery() -> Option<&'static File> {
    static NURSERY: std::sync::OnceLock<Option<File>> = std::sync::OnceLock::new();
    NURSERY
        .get_or_init(|| {
            std::thread::Builder::new()
                .name("td-netns-nursery".into())
                .spawn(|| -> Option<File> {
                    unshare(CloneFlags::CLONE_NEWNET).ok()?;
                    fs::write(
                        "/proc/sys/net/ipv4/tcp_child_ehash_entries",
                        CHILD_EHASH_ENTRIES,
                    )
                    .ok()?;
                    File::open("/proc/thread-self/ns/net").ok()
                })
                .ok()?
                .join()
                .ok()
                .flatten()
        })
        .as_ref()
}

impl NetNs {
    /// Creates a new, empty namespace named `name` (fails if it exists), with
    /// a TCP established hash of its own where the kernel allows (see [`nursery`]).
    pub fn create(name: &str) -> Result<NetNs> {
        if name.is_empty() || name.contains('/') || name.len() > 200 {
            return Err(anyhow!("bad namespace name `{name}`"));
        }
        ensure_run_dir()?;
        let path = Path::new(NETNS_RUN_DIR).join(name);
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .open(&path)
            .map_err(|e| {
                refused_io(
                    format_args!("creating namespace file {}", path.display()),
                    &e,
                )
            })?;
        let target = path.clone();
        // A throw-away thread: it moves itself into a new namespace, pins the
        // namespace with a bind mount and exits, so no thread of ours is left in it.
        let made = std::thread::Builder::new()
            .name("td-netns-create".into())
            .spawn(move || -> Result<()> {
                if let Some(n) = nursery() {
                    // Best effort: without it the namespace shares the host's TCP hash.
                    let _ = setns(n.as_fd(), CloneFlags::CLONE_NEWNET);
                }
                unshare(CloneFlags::CLONE_NEWNET)
                    .map_err(|e| refused("unshare(CLONE_NEWNET)", e))?;
                mount(
                    Some("/proc/thread-self/ns/net"),
                    &target,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(|e| {
                    refused(
                        format_args!("bind-mounting the namespace on {}", target.display()),
                        e,
                    )
                })
            })
            .map_err(|e| refused_io("spawning the namespace thread", &e))?
            .join()
            .map_err(|_| anyhow!("the namespace thread panicked"))?;
        if let Err(e) = made {
            let _ = fs::remove_file(&path);
            return Err(e.context(format!("creating namespace {name}")));
        }
        Ok(NetNs {
            name: name.to_string(),
            path,
        })
    }

    /// An existing namespace by name.
    pub fn open(name: &str) -> Result<NetNs> {
        let path = Path::new(NETNS_RUN_DIR).join(name);
        if !path.exists() {
            return Err(crate::error::unable(format!("no namespace named {name}")));
        }
        Ok(NetNs {
            name: name.to_string(),
            path,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The namespace file, opened (for setns or IFLA_NET_NS_FD).
    pub fn file(&self) -> Result<File> {
        File::open(&self.path)
            .map_err(|e| refused_io(format_args!("opening {}", self.path.display()), &e))
    }

    /// The namespace's inode number (what /proc/PID/ns/net links to).
    pub fn inode(&self) -> Result<u64> {
        Ok(fs::metadata(&self.path)
            .map_err(|e| refused_io(format_args!("reading {}", self.path.display()), &e))?
            .ino())
    }

    /// Runs `f` on a fresh thread inside the namespace and returns its result:
    /// `f`'s own error, or why it could not run there (setns refused, no
    /// thread), or that the thread panicked. The caller's thread never moves.
    pub fn run<R: Send>(&self, f: impl FnOnce() -> Result<R> + Send) -> Result<R> {
        let file = self.file()?;
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name(format!("ns-{}", self.name))
                .spawn_scoped(s, move || -> Result<R> {
                    setns(file.as_fd(), CloneFlags::CLONE_NEWNET)
                        .map_err(|e| refused(format_args!("setns into {}", self.name), e))?;
                    f()
                })
                .map_err(|e| refused_io("spawning a namespace thread", &e))?
                .join()
                .map_err(|_| anyhow!("a thread in namespace {} panicked", self.name))?
        })
    }

    /// Spawns a long-lived thread inside the namespace; joining it gives
    /// `f`'s result, or why it could not enter the namespace.
    pub fn spawn<R: Send + 'static>(
        &self,
        thread_name: &str,
        f: impl FnOnce() -> Result<R> + Send + 'static,
    ) -> Result<JoinHandle<Result<R>>> {
        let file = self.file()?;
        let name = self.name.clone();
        std::thread::Builder::new()
            .name(thread_name.to_string())
            .spawn(move || -> Result<R> {
                setns(file.as_fd(), CloneFlags::CLONE_NEWNET)
                    .map_err(|e| refused(format_args!("setns into {name}"), e))?;
                drop(file);
                f()
            })
            .map_err(|e| refused_io("spawning a namespace thread", &e))
    }

    /// Pids of every process whose network namespace this is.
    pub fn pids(&self) -> Vec<i32> {
        let Ok(ino) = self.inode() else { return vec![] };
        pids_in_netns(ino)
    }

    /// Unmounts and removes the name. The kernel frees the namespace once no
    /// process, socket or mount holds it any more.
    pub fn delete(&self) -> Result<()> {
        match umount2(&self.path, MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
            Err(e) => {
                return Err(refused(
                    format_args!("unmounting {}", self.path.display()),
                    e,
                ))
            }
        }
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(refused_io(
                format_args!("removing {}", self.path.display()),
                &e,
            )),
        }
    }
}

/// Pids of every process in the network namespace with inode `ino`.
pub fn pids_in_netns(ino: u64) -> Vec<i32> {
    pids_in_any_netns(&[ino])
}

/// Pids of every process in any of the network namespaces with these
/// inodes: one pass over /proc, however many namespaces.
pub fn pids_in_any_netns(inos: &[u64]) -> Vec<i32> {
    let wanted: Vec<String> = inos.iter().map(|i| format!("net:[{i}]")).collect();
    let mut pids = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Ok(link) = fs::read_link(format!("/proc/{pid}/ns/net")) {
            if wanted.iter().any(|w| *w == *link.to_string_lossy()) {
                pids.push(pid);
            }
        }
    }
    pids
}

/// Names of every namespace under /run/netns.
pub fn list() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(NETNS_RUN_DIR)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[ignore = "privileged: needs root (make test runs it)"]
    fn thread_namespace_differs_and_caller_stays() {
        crate::require_privileged();
        let before = fs::read_link("/proc/thread-self/ns/net").unwrap();
        let name = format!("td-unit-{}", std::process::id());
        let ns = NetNs::create(&name).unwrap();
        let inside = ns
            .run(|| Ok(fs::read_link("/proc/thread-self/ns/net")?))
            .unwrap();
        assert_ne!(inside, before);
        assert_eq!(
            inside.to_string_lossy(),
            format!("net:[{}]", ns.inode().unwrap())
        );
        assert_eq!(fs::read_link("/proc/thread-self/ns/net").unwrap(), before);
        // A private TCP hash where the kernel has tcp_child_ehash_entries (5.19+).
        if Path::new("/proc/sys/net/ipv4/tcp_child_ehash_entries").exists() {
            let entries = ns
                .run(|| Ok(fs::read_to_string("/proc/sys/net/ipv4/tcp_ehash_entries")?))
                .unwrap();
            assert_eq!(entries.trim(), CHILD_EHASH_ENTRIES);
        }
        // One Result: the closure's own error, and a panic on the thread as an error.
        let err = ns
            .run(|| -> Result<()> { Err(anyhow!("from inside")) })
            .unwrap_err();
        assert_eq!(err.to_string(), "from inside");
        let err = ns.run(|| -> Result<()> { panic!("boom") }).unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err:#}");
        assert_eq!(fs::read_link("/proc/thread-self/ns/net").unwrap(), before);
        assert!(
            NetNs::create(&name).is_err(),
            "a second create of the same name must fail"
        );
        ns.delete().unwrap();
        assert!(!ns.path().exists());
    }
}
