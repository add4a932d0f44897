//! The lag of the kernel's jiffies clock behind real time, recorded for the
//! whole process by one thread, so each scenario's evidence can carry the
//! records of its span ([`teardown_core::evidence::TickLag`] says why the
//! timing checks need them).
//!
//! Contract: [`start`] is idempotent and cheap to call from every scenario;
//! the thread reads `CLOCK_MONOTONIC` and then `CLOCK_MONOTONIC_COARSE` every
//! [`PERIOD`] and keeps a record only when the difference exceeds
//! [`teardown_core::model::EARLY_SLACK`], so a machine whose ticks come on
//! time keeps none. [`between`] returns the records of a span.

use nix::time::{clock_gettime, ClockId};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use teardown_core::evidence::TickLag;

/// How often the clocks are read.
pub const PERIOD: Duration = teardown_core::evidence::TICK_SAMPLE_PERIOD;

/// At most this many records are kept (oldest dropped).
const KEEP: usize = 100_000;

fn records() -> &'static Mutex<std::collections::VecDeque<TickLag>> {
    static RECORDS: OnceLock<Mutex<std::collections::VecDeque<TickLag>>> = OnceLock::new();
    RECORDS.get_or_init(Default::default)
}

/// Starts the recording thread (once per process).
pub fn start() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let threshold = teardown_core::model::EARLY_SLACK.as_nanos() as u64;
        let _ = std::thread::Builder::new()
            .name("td-ticks".into())
            .spawn(move || loop {
                if let Some(lag_ns) = lag_ns() {
                    if lag_ns > threshold {
                        let mut r = records().lock().unwrap_or_else(|e| e.into_inner());
                        if r.len() == KEEP {
                            r.pop_front();
                        }
                        r.push_back(TickLag {
                            ts_ns: crate::sys::now_ns(),
                            lag_ns,
                        });
                    }
                }
                std::thread::sleep(PERIOD);
            });
    });
}

/// The records from `from_ns` to `to_ns`.
pub fn between(from_ns: u64, to_ns: u64) -> Vec<TickLag> {
    let r = records().lock().unwrap_or_else(|e| e.into_inner());
    r.iter()
        .filter(|t| t.ts_ns >= from_ns && t.ts_ns <= to_ns)
        .cloned()
        .collect()
}

/// `CLOCK_MONOTONIC - CLOCK_MONOTONIC_COARSE` now, in ns (0 when the coarse
/// clock is ahead: it was updated between the reads); `None` if a clock
/// can't be read.
fn lag_ns() -> Option<u64> {
    let fine = Duration::from(clock_gettime(ClockId::CLOCK_MONOTONIC).ok()?);
    let coarse = Duration::from(clock_gettime(ClockId::CLOCK_MONOTONIC_COARSE).ok()?);
    Some(fine.saturating_sub(coarse).as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_clock_trails_the_fine_one_by_less_than_a_second() {
        // Read in this order, the coarse clock is never far ahead or behind:
        // a few jiffies at most on any machine running this test.
        let lag = lag_ns().expect("both clocks read");
        assert!(lag < 1_000_000_000, "{lag} ns");
    }

    #[test]
    fn a_span_returns_only_its_records() {
        {
            let mut r = records().lock().unwrap();
            r.push_back(TickLag {
                ts_ns: 10,
                lag_ns: 9_000_000,
            });
            r.push_back(TickLag {
                ts_ns: 20,
                lag_ns: 12_000_000,
            });
        }
        assert_eq!(
            between(15, 25),
            vec![TickLag {
                ts_ns: 20,
                lag_ns: 12_000_000
            }]
        );
    }
}
