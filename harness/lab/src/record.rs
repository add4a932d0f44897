//! The run's recorder: where packets, socket samples and application events
//! arrive while a scenario runs, and where the timeline waits for them.
//!
//! Contract: every push wakes the waiters; [`Recorder::wait_for`] returns as
//! soon as its predicate holds (event driven, no polling sleeps), or `false`
//! at the deadline or when the run is aborted: [`Recorder::abort`] for one
//! recorder, [`abort_all`] for every live and future one (SIGINT, SIGTERM).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Instant;
use teardown_core::evidence::{Event, Packet, SockSample};
pub use teardown_core::records::Records;
use teardown_core::scenario::Host;

pub struct Recorder {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    records: Mutex<Records>,
    changed: Condvar,
    aborted: AtomicBool,
}

/// Set by [`abort_all`]: recorders made afterwards start aborted.
static ALL_ABORTED: AtomicBool = AtomicBool::new(false);
/// Every live recorder, so [`abort_all`] can wake their waiters.
static LIVE: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// Aborts every recorder of the process, now and later (the runner calls it
/// on SIGINT/SIGTERM): every wait returns `false` at once.
pub fn abort_all() {
    ALL_ABORTED.store(true, Ordering::SeqCst);
    let live: Vec<Arc<Shared>> = LIVE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for s in live {
        s.aborted.store(true, Ordering::SeqCst);
        // Take the lock so a waiter between its check and its wait is not missed.
        drop(s.records.lock().unwrap_or_else(|p| p.into_inner()));
        s.changed.notify_all();
    }
}

impl Default for Recorder {
    fn default() -> Recorder {
        Recorder::new()
    }
}

impl Recorder {
    pub fn new() -> Recorder {
        let shared = Arc::new(Shared::default());
        let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&shared));
        drop(live);
        if ALL_ABORTED.load(Ordering::SeqCst) {
            shared.aborted.store(true, Ordering::SeqCst);
        }
        Recorder { shared }
    }

    fn lock(&self) -> MutexGuard<'_, Records> {
        self.shared
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub fn push_packet(&self, p: Packet) {
        self.lock().packets.push(p);
        self.shared.changed.notify_all();
    }

    pub fn push_event(&self, e: Event) {
        self.lock().events.push(e);
        self.shared.changed.notify_all();
    }

    /// One sock_diag round of a host (possibly empty: the host has no socket).
    pub fn push_round(&self, host: Host, ts_ns: u64, samples: Vec<SockSample>) {
        self.lock().add_round(host, ts_ns, samples);
        self.shared.changed.notify_all();
    }

    /// Wakes the waiters without recording anything (a state they read elsewhere changed).
    pub fn notify(&self) {
        self.shared.changed.notify_all();
    }

    /// Makes every current and future wait return `false` (signal, fatal error).
    pub fn abort(&self) {
        self.shared.aborted.store(true, Ordering::SeqCst);
        drop(self.lock());
        self.shared.changed.notify_all();
    }

    pub fn is_aborted(&self) -> bool {
        self.shared.aborted.load(Ordering::SeqCst)
    }

    /// Waits until `pred` holds on the records (checked at once and after every
    /// push), the deadline passes, or the run is aborted.
    pub fn wait_for(&self, deadline: Instant, mut pred: impl FnMut(&Records) -> bool) -> bool {
        let mut guard = self.lock();
        loop {
            if pred(&guard) {
                return true;
            }
            if self.is_aborted() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            guard = self
                .shared
                .changed
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// A copy of everything recorded so far.
    pub fn with<R>(&self, f: impl FnOnce(&Records) -> R) -> R {
        f(&self.lock())
    }

    /// Takes everything out (at the end of a run).
    pub fn take(&self) -> Records {
        std::mem::take(&mut *self.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;
    use teardown_core::scenario::EventKind;

    #[test]
    fn wait_wakes_on_push_and_times_out_without() {
        let r = Arc::new(Recorder::new());
        let r2 = r.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            r2.push_event(Event::new(0, "client", EventKind::Eof));
        });
        let ok = r.wait_for(Instant::now() + Duration::from_secs(5), |rec| {
            rec.events.iter().any(|e| e.kind == EventKind::Eof)
        });
        t.join().unwrap();
        assert!(ok);
        let start = Instant::now();
        let ok = r.wait_for(start + Duration::from_millis(30), |rec| {
            rec.events.len() > 1
        });
        assert!(!ok);
        assert!(start.elapsed() >= Duration::from_millis(30));
        r.abort();
        assert!(!r.wait_for(Instant::now() + Duration::from_secs(5), |_| false));
    }
}
