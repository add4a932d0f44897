//! Helpers shared by the lifecycle tests: watching a `teardown run` child's
//! namespaces through its run record, and asserting that nothing of it is left.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_teardown");

/// A scenario that connects, starts an external `sleep 300` on the server,
/// then waits `secs` seconds: something to interrupt.
pub fn long_wait_scenario(dir: &Path, name: &str, secs: u32) -> PathBuf {
    let text = format!(
        r#"name = "{name}"
conclusion = "C1"
summary = "A connection and an external process, then a long wait (lifecycle tests)."

[endpoints.server]
host = "server"
program = "server"

[endpoints.client]
host = "client"
program = "client"

[endpoints.sleeper]
host = "server"
program = "external"
command = ["sleep", "300"]

[[step]]
wait = {{ event = "connected", source = "client" }}

[[step]]
wait = {{ duration = "{secs}s" }}
"#
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A fresh temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "td-lifecycle-{tag}-{}-{}",
        std::process::id(),
        teardown_lab::sys::now_ns()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts `teardown run FILE --out DIR` (output to DIR/run.log).
/// Starts `teardown run FILE --out OUT` from the project's root, as
/// `make scenarios` does: the catalogue names its programs from there
/// (`programs/bin/go-keepalive`).
pub fn start_run(file: &Path, out: &Path) -> Child {
    let log = std::fs::File::create(out.with_extension("log")).unwrap();
    let mut cmd = Command::new(BIN);
    // SIGINT and SIGTERM at their default, as from a terminal: a test run
    // started in the background of a non-interactive shell inherits SIGINT
    // ignored (bash does that to `&` jobs without job control), and a
    // signal before the run's handler exists would then be lost, not fatal.
    // SAFETY: between fork and exec only sigaction runs, which is
    // async-signal-safe; no memory is allocated or locked.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            use nix::sys::signal::{signal, SigHandler, Signal};
            for sig in [Signal::SIGINT, Signal::SIGTERM] {
                signal(sig, SigHandler::SigDfl).map_err(std::io::Error::from)?;
            }
            Ok(())
        });
    }
    cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("starting teardown run")
}

/// The run records under /run/teardown: (file, owner pid, namespaces).
pub fn records() -> Vec<(PathBuf, u32, Vec<String>)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/run/teardown") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(text) = std::fs::read(e.path()) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else {
            continue;
        };
        let pid = v["owner_pid"].as_u64().unwrap_or(0) as u32;
        let names = v["namespaces"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        out.push((e.path(), pid, names));
    }
    out
}

/// What was seen of one process's runs: its namespaces (with inode numbers
/// taken while they existed), its record files and the pids seen inside.
#[derive(Default, Debug, Clone)]
pub struct Seen {
    pub namespaces: BTreeMap<String, u64>,
    pub records: BTreeSet<PathBuf>,
    pub pids: BTreeSet<i32>,
}

/// Polls (every millisecond) the records owned by `pid` and the namespaces
/// they name, until stopped. The record is written before its namespaces
/// are created and removed after they are deleted, and the namespaces are
/// read before the records, so every namespace seen is attributed.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    pub fn start(pid: u32) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (s2, seen2) = (stop.clone(), seen.clone());
        let mut round = 0u64;
        let thread = std::thread::spawn(move || loop {
            round += 1;
            let present: BTreeSet<String> = teardown_lab::netns::list().into_iter().collect();
            let recs: Vec<_> = records().into_iter().filter(|r| r.1 == pid).collect();
            {
                let mut seen = seen2.lock().unwrap();
                for (file, _, names) in recs {
                    seen.records.insert(file);
                    for n in names {
                        if present.contains(&n) {
                            if let Some(ino) = nsfs_inode(&Path::new("/run/netns").join(&n)) {
                                seen.namespaces.entry(n).or_insert(ino);
                            }
                        }
                    }
                }
                // Scanning /proc is dearer: every 20 rounds, and at the end.
                let inodes: Vec<u64> = if round % 20 == 1 || s2.load(Ordering::SeqCst) {
                    seen.namespaces.values().copied().collect()
                } else {
                    vec![]
                };
                for ino in inodes {
                    for p in teardown_lab::netns::pids_in_netns(ino) {
                        seen.pids.insert(p);
                    }
                }
            }
            if s2.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        });
        Watcher {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }

    /// Stops polling (after one last round) and returns what was seen.
    pub fn finish(mut self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.seen()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The namespace inode behind a /run/netns name, once it is mounted there
/// (before the bind mount the name is a plain file on tmpfs).
pub fn nsfs_inode(path: &Path) -> Option<u64> {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    let fs = nix::sys::statfs::statfs(path).ok()?;
    if fs.filesystem_type().0 as i64 != NSFS_MAGIC {
        return None;
    }
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Polls `f` every 5 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until the run has all `count` namespaces and `min_pids` processes inside them.
/// On failure the run is killed and its leftovers removed.
pub fn wait_for_lab(
    child: &mut Child,
    w: &Watcher,
    count: usize,
    min_pids: usize,
    timeout: Duration,
) -> Seen {
    let ok = wait_until(timeout, || {
        let s = w.seen();
        s.namespaces.len() >= count
            && s.namespaces
                .values()
                .map(|i| teardown_lab::netns::pids_in_netns(*i).len())
                .sum::<usize>()
                >= min_pids
    });
    let s = w.seen();
    if !ok {
        let _ = child.kill();
        let _ = child.wait();
        remove_seen(&w.seen());
        panic!("the run's lab did not come up in {timeout:?}: {s:?}");
    }
    s
}

/// Mount points under /run/netns in our mount namespace.
pub fn netns_mounts() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with("/run/netns/"))
        .map(String::from)
        .collect()
}

pub fn pid_alive(pid: i32) -> bool {
    // A zombie is dead for our purposes (it holds no namespace).
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(") ")
                .map(|(_, rest)| !rest.starts_with('Z'))
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

/// Asserts nothing of `seen` remains: no namespace name, no mount, no
/// process inside one of them, none of the pids seen inside, no record.
pub fn assert_all_gone(seen: &Seen, what: &str) {
    let mounts = netns_mounts();
    for (name, ino) in &seen.namespaces {
        assert!(
            !Path::new("/run/netns").join(name).exists(),
            "{what}: namespace {name} left behind"
        );
        assert!(
            !mounts.contains(&format!("/run/netns/{name}")),
            "{what}: mount /run/netns/{name} left behind"
        );
        let inside = teardown_lab::netns::pids_in_netns(*ino);
        assert!(
            inside.is_empty(),
            "{what}: processes {inside:?} left in {name}"
        );
    }
    for pid in &seen.pids {
        assert!(
            !pid_alive(*pid),
            "{what}: process {pid} (seen inside the lab) still alive"
        );
    }
    for r in &seen.records {
        assert!(
            !r.exists(),
            "{what}: run record {} left behind",
            r.display()
        );
    }
}

/// Waits up to `timeout` for the child to exit. Otherwise kills it, removes
/// what the watcher saw of it (so a failing test leaks nothing) and fails.
pub fn wait_exit(
    child: &mut Child,
    timeout: Duration,
    watcher: &Watcher,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            remove_seen(&watcher.seen());
            panic!("{what}: teardown run did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Tears down what a killed run left (its namespaces, its records).
pub fn remove_seen(seen: &Seen) {
    let existing: Vec<teardown_lab::netns::NetNs> = seen
        .namespaces
        .keys()
        .filter_map(|n| teardown_lab::netns::NetNs::open(n).ok())
        .collect();
    let _ = teardown_lab::cleanup::teardown_namespaces(&existing);
    for r in &seen.records {
        let _ = std::fs::remove_file(r);
    }
}

pub fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}
