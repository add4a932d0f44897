//! The CPUs' stolen time (`/proc/stat`), recorded for the whole process by
//! one thread, so each scenario's evidence can carry the records of its span
//! ([`teardown_core::evidence::CpuSteal`] says why the checks need them).
//!
//! Contract: [`start`] is idempotent and cheap to call from every scenario;
//! the thread reads `/proc/stat` every [`PERIOD`] and keeps a record only
//! when a counter moved (plus the first), so an idle or bare-metal machine
//! keeps one. [`between`] returns the records that bracket a span. A machine
//! without `/proc/stat` steal (or an unreadable one) records nothing, which
//! the checks read as no steal.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use teardown_core::evidence::CpuSteal;

/// How often the counters are read: the sampler's period, finer than the
/// counters' own tick.
pub const PERIOD: Duration = teardown_core::evidence::SAMPLE_PERIOD;

/// At most this many records are kept (oldest dropped): an hour of a
/// counter that moves every period.
const KEEP: usize = 360_000;

fn records() -> &'static Mutex<std::collections::VecDeque<CpuSteal>> {
    static RECORDS: OnceLock<Mutex<std::collections::VecDeque<CpuSteal>>> = OnceLock::new();
    RECORDS.get_or_init(Default::default)
}

/// Starts the recording thread (once per process).
pub fn start() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let _ = std::thread::Builder::new()
            .name("td-steal".into())
            .spawn(|| loop {
                if let Some(steal_ns) = read() {
                    let mut r = records().lock().unwrap_or_else(|e| e.into_inner());
                    if r.back().is_none_or(|last| last.steal_ns != steal_ns) {
                        if r.len() == KEEP {
                            r.pop_front();
                        }
                        r.push_back(CpuSteal {
                            ts_ns: crate::sys::now_ns(),
                            steal_ns,
                        });
                    }
                }
                std::thread::sleep(PERIOD);
            });
    });
}

/// The records from the last at or before `from_ns` to the first after
/// `to_ns` (with the newest reading appended, so a span that ends now is bracketed).
pub fn between(from_ns: u64, to_ns: u64) -> Vec<CpuSteal> {
    let now = read().map(|steal_ns| CpuSteal {
        ts_ns: crate::sys::now_ns(),
        steal_ns,
    });
    let r = records().lock().unwrap_or_else(|e| e.into_inner());
    let first = r.iter().rposition(|s| s.ts_ns <= from_ns).unwrap_or(0);
    let mut out: Vec<CpuSteal> = r
        .iter()
        .skip(first)
        .take_while(|s| s.ts_ns <= to_ns)
        .cloned()
        .collect();
    if let Some(after) = r.iter().find(|s| s.ts_ns > to_ns) {
        out.push(after.clone());
    } else if let Some(now) = now {
        out.push(now);
    }
    out
}

/// Each CPU's steal so far, in ns; `None` if `/proc/stat` can't be read.
fn read() -> Option<Vec<u64>> {
    parse(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The `steal` column (the 8th number) of every `cpuN` line, ticks to ns.
fn parse(stat: &str) -> Option<Vec<u64>> {
    let tick = teardown_core::evidence::STEAL_TICK.as_nanos() as u64;
    let cpus: Vec<u64> = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            l.split_ascii_whitespace()
                .nth(8)
                .and_then(|v| v.parse::<u64>().ok())
                .map(|t| t * tick)
        })
        .collect::<Option<_>>()?;
    (!cpus.is_empty()).then_some(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_the_eighth_number_of_each_cpu_line_in_ticks() {
        let stat = "cpu  1177007 150837 302109 874070 4773 0 5256 191725 0 0\n\
                    cpu0 585087 78007 151526 437740 2801 0 2470 95058 0 0\n\
                    cpu1 591919 72830 150582 436330 1972 0 2785 96667 0 0\n\
                    intr 1 2 3\n";
        assert_eq!(
            parse(stat),
            Some(vec![95058 * 10_000_000, 96667 * 10_000_000])
        );
        assert_eq!(parse("intr 1 2\n"), None);
        assert_eq!(parse("cpu0 1 2 3\n"), None, "a line without a steal column");
    }

    #[test]
    fn the_clock_tick_of_proc_stat_is_the_one_the_core_assumes() {
        // /proc/stat counts in USER_HZ; the core's STEAL_TICK must be one of them.
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .unwrap()
            .unwrap() as u64;
        assert_eq!(
            Duration::from_nanos(1_000_000_000 / hz),
            teardown_core::evidence::STEAL_TICK
        );
    }

    #[test]
    fn a_span_is_bracketed_by_records() {
        start();
        let (from, to) = (crate::sys::now_ns(), crate::sys::now_ns());
        let r = between(from, to);
        assert!(read().is_some(), "/proc/stat has steal columns");
        // A span that ends now is closed by a reading taken after it.
        assert!(r.last().is_some_and(|s| s.ts_ns >= to), "{r:?}");
    }
}
