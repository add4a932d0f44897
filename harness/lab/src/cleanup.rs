//! Cleanup: tearing namespaces down without leaks, the run registry under
//! /run/teardown, and `teardown clean` for leftovers of interrupted runs.
//!
//! Contract: only names with the `td-` prefix are ever removed; a run whose
//! owner process is alive is never touched; processes are ended by pid, found
//! through their network namespace, never by a name pattern.

use crate::netns::NetNs;
use anyhow::Result;
use std::time::{Duration, Instant};

/// Takes namespaces down in the order that leaks nothing (what `Lab::down`
/// does): every link down, every process killed, the sockets left destroyed,
/// the names deleted. Goes on past errors and reports the first one.
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
        note(ns.run(links_down));
    }
    // 2. Kill every process in the namespaces, and reap what we can.
    kill_all_in(namespaces);
    // 3. Destroy the sockets left (orphans hold a reference on the namespace).
    for ns in namespaces {
        note(ns.run(destroy_sockets));
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
    for (idx, name, up) in rt.links()? {
        if up && name != "lo" {
            rt.set_link_up(idx, false, &format!("taking {name} down"))?;
        }
    }
    Ok(())
}

/// SIGKILLs every process in the namespace and waits (up to 2 s) until they are gone.
pub fn kill_all(ns: &NetNs) {
    kill_all_in(std::slice::from_ref(ns))
}

/// [`kill_all`] for several namespaces at once (one /proc pass per round).
pub fn kill_all_in(namespaces: &[NetNs]) {
    let inodes: Vec<u64> = namespaces.iter().filter_map(|n| n.inode().ok()).collect();
    if inodes.is_empty() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let pids = crate::netns::pids_in_any_netns(&inodes);
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

/// Destroys every TCP socket in the calling thread's namespace. The kernel's
/// per-namespace counters say first whether there is any: a sock_diag dump
/// walks the whole host-wide established hash (milliseconds, per family), so
/// a namespace whose counters are all zero is not dumped.
fn destroy_sockets() -> Result<()> {
    if tcp_sockets_here() == Some(0) {
        return Ok(());
    }
    crate::sockdiag::destroy_all_tcp().map(|_| ())
}

/// TCP sockets in the calling thread's namespace, from
/// /proc/thread-self/net/sockstat{,6}; `None` when they can't be read.
fn tcp_sockets_here() -> Option<u64> {
    let v4 = std::fs::read_to_string("/proc/thread-self/net/sockstat").ok()?;
    // No sockstat6: the kernel has no IPv6, so no TCP6 socket either.
    let v6 = std::fs::read_to_string("/proc/thread-self/net/sockstat6").unwrap_or_default();
    count_tcp_sockets(&v4, &v6)
}

/// Hashed TCP sockets (`inuse`: listening, connecting, established and
/// orphans still closing) plus TIME_WAIT ones (`tw`), for IPv4 and IPv6.
/// These counters are per namespace (`alloc`, `orphan` and `mem` are
/// host-wide and not used). `None` when the IPv4 line is not understood.
pub fn count_tcp_sockets(sockstat: &str, sockstat6: &str) -> Option<u64> {
    let field = |line: &str, key: &str| -> Option<u64> {
        let mut words = line.split_whitespace();
        while let Some(w) = words.next() {
            if w == key {
                return words.next()?.parse().ok();
            }
        }
        None
    };
    let tcp = sockstat.lines().find(|l| l.starts_with("TCP: "))?;
    let mut n = field(tcp, "inuse")? + field(tcp, "tw")?;
    if let Some(tcp6) = sockstat6.lines().find(|l| l.starts_with("TCP6: ")) {
        n += field(tcp6, "inuse")?;
    }
    Some(n)
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

/// Where run `id`'s endpoints keep their `{scratch}` directories (one per
/// endpoint), removed with the run's record.
pub fn scratch_dir(id: &str) -> std::path::PathBuf {
    std::path::Path::new(RUN_DIR).join("scratch").join(id)
}

/// Where this process's endpoints keep their `{shared}` directories (one per
/// account): `shared/<pid>-<start time>`, so [`clean`] can tell a dead
/// owner's; removed by [`SharedDirs`] when the process's runs are over.
pub fn shared_dir() -> std::path::PathBuf {
    let pid = std::process::id();
    std::path::Path::new(RUN_DIR)
        .join("shared")
        .join(format!("{pid}-{}", start_time(pid).unwrap_or(0)))
}

/// Removes this process's `{shared}` directories on drop (the end of a
/// suite, a panic included; after a kill, [`clean`] does).
pub struct SharedDirs;

impl Drop for SharedDirs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(shared_dir());
    }
}

/// Whether a `shared/<pid>-<start>` directory's owner is alive.
fn shared_owner_alive(name: &str) -> bool {
    let Some((pid, start)) = name.split_once('-') else {
        return false;
    };
    match (pid.parse::<u32>(), start.parse::<u64>()) {
        (Ok(pid), Ok(start)) => alive(pid, start),
        _ => false,
    }
}

/// Whether process `pid` is alive and is the one that started at `start`
/// (not a later process given the same pid).
fn alive(pid: u32, start: u64) -> bool {
    start_time(pid) == Some(start)
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
        std::fs::create_dir_all(RUN_DIR)
            .map_err(|e| crate::sys::refused_io(format_args!("creating {RUN_DIR}"), &e))?;
        std::fs::write(rec.path(), serde_json::to_vec_pretty(&rec)?).map_err(|e| {
            crate::sys::refused_io(format_args!("writing {}", rec.path().display()), &e)
        })?;
        Ok(rec)
    }

    pub fn path(&self) -> std::path::PathBuf {
        std::path::Path::new(RUN_DIR).join(format!("{}.json", self.id))
    }

    /// Forgets the run: its record, and its endpoints' scratch directories.
    pub fn unregister(&self) {
        let _ = std::fs::remove_dir_all(scratch_dir(&self.id));
        let _ = std::fs::remove_file(self.path());
    }

    /// Whether the process that owns this run is still alive.
    pub fn owner_alive(&self) -> bool {
        alive(self.owner_pid, self.owner_start)
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

/// Whether `name` is a probe namespace (`td-doctor-<pid>`, or tc's
/// `td-probe-<what>-<pid>-<n>`) whose process is still alive: such a
/// namespace lives for a moment and belongs to a running `doctor` or probe.
fn probe_owner_alive(name: &str) -> bool {
    let pid = if let Some(rest) = name.strip_prefix("td-doctor-") {
        rest.parse::<u32>().ok()
    } else if name.starts_with("td-probe-") {
        let mut fields = name.rsplit('-');
        fields.next();
        fields.next().and_then(|p| p.parse::<u32>().ok())
    } else {
        None
    };
    pid.map(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
        .unwrap_or(false)
}

/// What `teardown clean` would remove / removed.
#[derive(Debug, Default)]
pub struct CleanReport {
    pub removed_namespaces: Vec<String>,
    pub removed_records: Vec<String>,
    pub skipped_live_runs: Vec<String>,
    /// Run ids whose stray scratch directories were removed, and the
    /// `shared/<pid>-<start>` directories of processes that are gone.
    pub removed_scratch: Vec<String>,
}

/// Removes leftovers: namespaces of runs whose owner is dead, and `td-`
/// namespaces no record accounts for (except the manual lab's `td-lab-*` and
/// the probe namespaces of a live `doctor` or probe).
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
        .filter(|n| !probe_owner_alive(n))
        .filter_map(|n| NetNs::open(&n).ok())
        .collect();
    teardown_namespaces(&strays)?;
    report
        .removed_namespaces
        .extend(strays.iter().map(|n| n.name().to_string()));
    // Scratch directories no live run's record accounts for.
    let live: Vec<&str> = recs
        .iter()
        .filter(|r| r.owner_alive())
        .map(|r| r.id.as_str())
        .collect();
    if let Ok(dir) = std::fs::read_dir(std::path::Path::new(RUN_DIR).join("scratch")) {
        for e in dir.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if !live.contains(&id.as_str()) && std::fs::remove_dir_all(e.path()).is_ok() {
                report.removed_scratch.push(id);
            }
        }
    }
    // Shared directories of processes that are gone.
    if let Ok(dir) = std::fs::read_dir(std::path::Path::new(RUN_DIR).join("shared")) {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !shared_owner_alive(&name) && std::fs::remove_dir_all(e.path()).is_ok() {
                report.removed_scratch.push(format!("shared/{name}"));
            }
        }
    }
    Ok(report)
}

pub fn clean_main() -> anyhow::Result<i32> {
    crate::sys::require_root()?;
    let report = clean()?;
    if report.removed_namespaces.is_empty()
        && report.removed_records.is_empty()
        && report.removed_scratch.is_empty()
    {
        println!("nothing to clean");
    }
    for n in &report.removed_namespaces {
        println!("removed namespace {n}");
    }
    for r in &report.removed_records {
        println!("removed record of run {r}");
    }
    for r in &report.removed_scratch {
        println!("removed scratch directories of run {r}");
    }
    for r in &report.skipped_live_runs {
        println!("left alone: run {r} (its owner is alive)");
    }
    Ok(0)
}

/// SIGKILLs the process group whose leader is `leader`, a child this process
/// started in a group of its own (`CommandExt::process_group(0)`): e.g. a
/// guest's vng with the shell, virtme-run and QEMU it starts. The group is
/// found by the leader's pid, never by a name.
pub fn kill_group(leader: u32) {
    if let Ok(pid) = i32::try_from(leader) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn killing_a_group_ends_its_leader_and_what_the_leader_started() {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        // A leader that starts a grandchild (as vng starts QEMU) and waits.
        let mut leader = std::process::Command::new("sh")
            .args(["-c", "sleep 300 & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(leader.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let grandchild: i32 = line.trim().parse().unwrap();
        kill_group(leader.id());
        let deadline = Instant::now() + Duration::from_secs(2);
        let status = loop {
            if let Some(s) = leader.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = leader.kill();
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(grandchild),
                    nix::sys::signal::Signal::SIGKILL,
                );
                panic!("the group's leader outlived its SIGKILL");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        // The grandchild got SIGKILL too: gone, or a zombie until reaped.
        let deadline = Instant::now() + Duration::from_secs(2);
        let dead = loop {
            let stat = std::fs::read_to_string(format!("/proc/{grandchild}/stat"));
            let dead = stat.as_deref().map_or(true, |s| {
                s.rsplit_once(") ")
                    .is_some_and(|(_, rest)| rest.starts_with('Z'))
            });
            if dead || Instant::now() > deadline {
                break dead;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if !dead {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(grandchild),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        assert!(dead, "sleep {grandchild} outlived its group's SIGKILL");
    }

    #[test]
    fn tcp_socket_counts_come_from_the_per_namespace_fields() {
        let v4 =
            "sockets: used 3\nTCP: inuse 2 orphan 7 tw 1 alloc 9 mem 172\nUDP: inuse 0 mem 0\n";
        let v6 = "TCP6: inuse 4\nUDP6: inuse 0\n";
        assert_eq!(count_tcp_sockets(v4, v6), Some(7));
        assert_eq!(count_tcp_sockets(v4, ""), Some(3));
        let empty = "TCP: inuse 0 orphan 12 tw 0 alloc 40 mem 172\n";
        assert_eq!(count_tcp_sockets(empty, "TCP6: inuse 0\n"), Some(0));
        assert_eq!(count_tcp_sockets("garbage", ""), None);
        assert_eq!(count_tcp_sockets("TCP: inuse x tw 0", ""), None);
        assert_eq!(count_tcp_sockets(empty, "TCP6: inuse"), None);
    }

    #[test]
    fn probe_namespaces_of_live_processes_are_recognised() {
        let me = std::process::id();
        assert!(probe_owner_alive(&format!("td-doctor-{me}")));
        assert!(probe_owner_alive(&format!("td-probe-netem-{me}-3")));
        assert!(!probe_owner_alive("td-doctor-4294967295"));
        assert!(!probe_owner_alive("td-probe-netem-4294967295-0"));
        assert!(!probe_owner_alive(&format!("td-{me}-client")));
        assert!(!probe_owner_alive("td-probe-x"));
    }
}
