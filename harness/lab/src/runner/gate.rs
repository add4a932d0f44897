//! The start-up gate: at most as many scenarios start up at once as the
//! machine has CPUs.
//!
//! Starting up is the CPU-heavy part of a scenario: building the lab
//! (namespaces, veths, a bridge, BPF programs, capture sockets), exec'ing its
//! endpoints and waiting until they are ready (listening, connected). The
//! rest of a scenario mostly waits for the kernel's timers. With every lab of
//! a suite starting at the same instant (the pool starts up to 32), a slow
//! machine spent seconds in each start-up: in a guest under QEMU's emulation
//! on 2 CPUs, 104 of 132 runs ended in `error` because a server took more
//! than its readiness bound to listen (issue 14). Behind the gate, a
//! scenario's start-up shares the CPUs with at most `CPUs - 1` others, so its
//! readiness depends on the machine's speed, not on the suite's size, and
//! `--jobs` still bounds only how many labs exist at once.
//!
//! A scenario holds its [`Permit`] from before its lab is built until its
//! endpoints are ready: its first step, when that step only waits for a
//! readiness event (an event, socket state or output line under a fixed
//! timeout); otherwise, once its endpoints are started. The permit is a
//! drop guard, so every early return releases it.

use std::sync::{Condvar, Mutex, OnceLock};

/// Counts free start-up slots.
struct Gate {
    free: Mutex<usize>,
    freed: Condvar,
}

/// One start-up slot, given back when dropped.
pub(super) struct Permit(());

fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| Gate {
        free: Mutex::new(slots()),
        freed: Condvar::new(),
    })
}

/// The machine's CPUs (at least 1): how many start-ups run at once.
pub(super) fn slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Blocks until a start-up slot is free and takes it.
pub(super) fn enter() -> Permit {
    let g = gate();
    let mut free = g.free.lock().unwrap_or_else(|e| e.into_inner());
    while *free == 0 {
        free = g.freed.wait(free).unwrap_or_else(|e| e.into_inner());
    }
    *free -= 1;
    Permit(())
}

impl Drop for Permit {
    fn drop(&mut self) {
        let g = gate();
        *g.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        g.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn no_more_start_ups_at_once_than_cpus() {
        let inside = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 * slots() + 2 {
                s.spawn(|| {
                    let _p = enter();
                    let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    inside.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        let most = most.load(Ordering::SeqCst);
        assert!(
            most >= 1 && most <= slots(),
            "{most} start-ups at once on {} CPUs",
            slots()
        );
    }
}
