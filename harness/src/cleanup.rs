//! Cleanup: tearing namespaces down without leaks, the run registry under
//! /run/teardown, and `teardown clean` for leftovers of interrupted runs.
//!
//! Contract: only names with the `td-` prefix are ever removed; a run whose
//! owner process is alive is never touched; processes are ended by pid, found
//! through their network namespace, never by a name pattern.

use crate::netns::NetNs;
use anyhow::Result;
use std::time::{Duration, Instant};

/// Cut, kill, destroy sockets, delete: see [`crate::topology::Lab::down`].
pub fn teardown_namespaces(namespaces: &[NetNs]) -> Result<()> {
    // A powered-off host's namespace is already gone.
    let namespaces: Vec<NetNs> = namespaces
        .iter()
        .filter(|n| n.path().exists())
        .cloned()
        .collect();
    let namespaces = &namespaces[..];
    let mut first_error: Option<anyhow::Error> = None;
    let mut note = |r: Result<()>| {
        if let Err(e) = r {
            first_error.get_or_insert(e);
        }
    };
    // 1. Nothing leaves any more: every link in every lab namespace down.
    for ns in namespaces {
        note(ns.run(links_down).and_then(|r| r));
    }
    // 2. Kill every process in the namespaces, and reap what we can.
    for ns in namespaces {
        kill_all(ns);
    }
    // 3. Destroy the sockets left (orphans hold a reference on the namespace).
    for ns in namespaces {
        note(ns.run(destroy_sockets).and_then(|r| r));
    }
    // 4. Delete the names.
    for ns in namespaces {
        note(ns.delete());
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn links_down() -> Result<()> {
    let mut rt = crate::rtnl::Rtnl::open()?;
    for (idx, name, up) in crate::topology::links(&mut rt)? {
        if up && name != "lo" {
            crate::topology::set_link_up(&mut rt, idx, false, &format!("taking {name} down"))?;
        }
    }
    Ok(())
}

/// SIGKILLs every process in the namespace and waits (up to 2 s) until they are gone.
pub fn kill_all(ns: &NetNs) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let pids = ns.pids();
        if pids.is_empty() || Instant::now() > deadline {
            return;
        }
        for pid in pids {
            if pid as u32 == std::process::id() {
                continue;
            }
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            // Reap our own children so they do not linger as zombies holding the namespace.
            let _ = nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Destroys every TCP socket in the calling thread's namespace.
fn destroy_sockets() -> Result<()> {
    crate::sockdiag::destroy_all_tcp().map(|_| ())
}

/// Where runs record themselves while alive.
pub const RUN_DIR: &str = "/run/teardown";

/// A live run's record: `/run/teardown/<id>.json`.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
pub struct RunRecord {
    pub id: String,
    pub owner_pid: u32,
    /// The owner's start time (field 22 of /proc/PID/stat), so a reused pid is not mistaken for the owner.
    pub owner_start: u64,
    pub namespaces: Vec<String>,
}

fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl RunRecord {
    /// Records a run before it creates anything, so every namespace it makes is accounted for.
    pub fn register(id: &str, namespaces: Vec<String>) -> Result<RunRecord> {
        let pid = std::process::id();
        let rec = RunRecord {
            id: id.to_string(),
            owner_pid: pid,
            owner_start: start_time(pid).unwrap_or(0),
            namespaces,
        };
        std::fs::create_dir_all(RUN_DIR)?;
        std::fs::write(rec.path(), serde_json::to_vec_pretty(&rec)?)?;
        Ok(rec)
    }

    pub fn path(&self) -> std::path::PathBuf {
        std::path::Path::new(RUN_DIR).join(format!("{}.json", self.id))
    }

    pub fn unregister(&self) {
        let _ = std::fs::remove_file(self.path());
    }

    /// Whether the process that owns this run is still alive.
    pub fn owner_alive(&self) -> bool {
        start_time(self.owner_pid)
            .map(|s| s == self.owner_start)
            .unwrap_or(false)
    }
}

fn records() -> Vec<RunRecord> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir(RUN_DIR) {
        for e in dir.flatten() {
            if let Ok(text) = std::fs::read(e.path()) {
                if let Ok(r) = serde_json::from_slice::<RunRecord>(&text) {
                    out.push(r);
                }
            }
        }
    }
    out
}

/// What `teardown clean` would remove / removed.
#[derive(Debug, Default)]
pub struct CleanReport {
    pub removed_namespaces: Vec<String>,
    pub removed_records: Vec<String>,
    pub skipped_live_runs: Vec<String>,
}

/// Removes leftovers: namespaces of runs whose owner is dead, and `td-`
/// namespaces no record accounts for (except the manual lab's `td-lab-*`).
pub fn clean() -> Result<CleanReport> {
    let mut report = CleanReport::default();
    let recs = records();
    let mut accounted: Vec<String> = Vec::new();
    for r in &recs {
        accounted.extend(r.namespaces.iter().cloned());
        if r.owner_alive() {
            report.skipped_live_runs.push(r.id.clone());
            continue;
        }
        let existing: Vec<NetNs> = r
            .namespaces
            .iter()
            .filter(|n| n.starts_with("td-"))
            .filter_map(|n| NetNs::open(n).ok())
            .collect();
        teardown_namespaces(&existing)?;
        report
            .removed_namespaces
            .extend(existing.iter().map(|n| n.name().to_string()));
        r.unregister();
        report.removed_records.push(r.id.clone());
    }
    let strays: Vec<NetNs> = crate::netns::list()
        .into_iter()
        .filter(|n| n.starts_with("td-") && !n.starts_with("td-lab-") && !accounted.contains(n))
        .filter_map(|n| NetNs::open(&n).ok())
        .collect();
    teardown_namespaces(&strays)?;
    report
        .removed_namespaces
        .extend(strays.iter().map(|n| n.name().to_string()));
    Ok(report)
}

pub fn clean_main() -> anyhow::Result<i32> {
    crate::doctor::require_root()?;
    let report = clean()?;
    if report.removed_namespaces.is_empty() && report.removed_records.is_empty() {
        println!("nothing to clean");
    }
    for n in &report.removed_namespaces {
        println!("removed namespace {n}");
    }
    for r in &report.removed_records {
        println!("removed record of run {r}");
    }
    for r in &report.skipped_live_runs {
        println!("left alone: run {r} (its owner is alive)");
    }
    Ok(0)
}
