//! This machine's pace: how much slower it runs a fixed piece of work than
//! the development machine did, so that hang guards scale with it.
//!
//! A hang guard bounds a wait for something the harness or a program does
//! (a server listening, a client printing `ready`, PostgreSQL accepting
//! connections), never the kernel's TCP timers: those are judged by the
//! model's checks, whose bounds come from the model and are not scaled. In
//! a guest under QEMU's emulation every instruction is translated, and
//! starting a program takes several times longer than on the machine the
//! guards were written on (issue 14: Python's http.server took ~10 s,
//! PostgreSQL more than 60 s, past their guards). The guards keep their
//! written values on a machine as fast as the development machine and
//! grow in proportion on a slower one.
//!
//! The work is what a program's start costs: fork, exec and exit of
//! `/bin/true`, four times, timed once per process (the best of three
//! rounds, so a moment of contention does not count). A plain CPU loop would
//! not do: QEMU's translated code runs it at the host's speed, while an
//! exec (page faults, the MMU, system calls) is some 65 times slower there.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One fork + exec + wait of /bin/true took 0.74 ms (best of three rounds
/// of four) on the development machine (2 cores of an AMD EPYC, a KVM guest
/// running 6.18), where the guards were set; in a 2-CPU guest under QEMU's
/// emulation there it took 46 to 55 ms.
const REFERENCE: Duration = Duration::from_micros(740);

/// A pace below this is the development machine under load, not a slower
/// machine: `make test`'s own load measured up to 1.4x there (a wait of 1 s
/// then became 1.39 s, and a test of its message failed), while a guest
/// under emulation measures about 65x. Below it, guards keep their values.
const SLOWER: f64 = 2.0;

/// One start of a program, best of three rounds of four; `None` when
/// /bin/true can't be run.
pub fn measure() -> Option<Duration> {
    let mut best: Option<Duration> = None;
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..4 {
            std::process::Command::new("/bin/true")
                .stdin(std::process::Stdio::null())
                .status()
                .ok()?;
        }
        let each = t.elapsed() / 4;
        best = Some(best.map_or(each, |b| b.min(each)));
    }
    best
}

/// How many times slower than the development machine this one is (at least 1).
pub fn slowdown() -> f64 {
    static SLOWDOWN: OnceLock<f64> = OnceLock::new();
    *SLOWDOWN.get_or_init(|| measure().map_or(1.0, factor))
}

/// The slowdown for one measured start of a program.
fn factor(start: Duration) -> f64 {
    let ratio = start.as_secs_f64() / REFERENCE.as_secs_f64();
    if ratio < SLOWER {
        1.0
    } else {
        ratio
    }
}

/// A hang guard written as `d`, on this machine.
pub fn guard(d: Duration) -> Duration {
    d.mul_f64(slowdown())
}

/// A guard as a message says it: `5s`, or `5s x65.2 (this machine's pace)`
/// when it grew.
pub fn describe(written: Duration) -> String {
    let s = slowdown();
    let d = teardown_core::scenario::Dur(written);
    if s > 1.0 {
        format!("{d} x{s:.1} (this machine's pace, lab::pace)")
    } else {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_machine_under_load_keeps_the_guards_and_a_guest_scales_them() {
        assert_eq!(factor(REFERENCE), 1.0);
        assert_eq!(
            factor(REFERENCE / 2),
            1.0,
            "a faster machine never shrinks them"
        );
        assert_eq!(factor(REFERENCE.mul_f64(1.4)), 1.0, "make test's own load");
        let tcg = factor(Duration::from_millis(48));
        assert!((tcg - 48.0 / 0.74).abs() < 1e-9, "{tcg}");
    }

    #[test]
    fn guards_never_shrink_and_grow_with_the_slowdown() {
        let s = slowdown();
        assert!(s >= 1.0);
        assert_eq!(
            guard(Duration::from_secs(5)),
            Duration::from_secs(5).mul_f64(s)
        );
        assert!(guard(Duration::from_secs(5)) >= Duration::from_secs(5));
    }
}
