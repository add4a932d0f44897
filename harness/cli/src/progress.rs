//! Progress while scenarios run (stderr).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use teardown_core::report::{ScenarioResult, Verdict};
use teardown_core::scenario::Profile;

/// Progress while scenarios run: on a terminal, one live line per running
/// scenario (elapsed, and the model's predicted remaining time), redrawn every
/// second; elsewhere (CI logs) a plain line per running scenario every 30 s,
/// and only for scenarios that run that long.
pub struct Progress {
    profile: Profile,
    out: PathBuf,
    enabled: bool,
    tty: bool,
    state: Mutex<ProgressState>,
    done: AtomicBool,
}

#[derive(Default)]
struct ProgressState {
    running: BTreeMap<String, (Instant, Duration)>,
    /// Lines of the live block currently on screen.
    drawn: usize,
}

impl Progress {
    pub fn new(enabled: bool, profile: Profile, out: &Path) -> Progress {
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr())
            && std::env::var_os("NO_COLOR").is_none();
        Progress {
            profile,
            out: out.to_path_buf(),
            enabled,
            tty,
            state: Mutex::new(ProgressState::default()),
            done: AtomicBool::new(false),
        }
    }

    fn begin(&self, name: &str, predicted: Duration) {
        self.state
            .lock()
            .unwrap()
            .running
            .insert(name.to_string(), (Instant::now(), predicted));
    }

    fn end(&self, name: &str) {
        self.state.lock().unwrap().running.remove(name);
    }

    /// Prints a line above the live block.
    fn println(&self, line: &str) {
        let mut st = self.state.lock().unwrap();
        let mut err = std::io::stderr().lock();
        if self.tty {
            Self::clear(&mut err, &mut st);
        }
        let _ = writeln!(err, "{line}");
    }

    fn clear(err: &mut impl Write, st: &mut ProgressState) {
        if st.drawn > 0 {
            // Up to the block's first line, then clear to the end of the screen.
            let _ = write!(err, "\x1b[{}A\x1b[J", st.drawn);
            st.drawn = 0;
        }
    }

    fn line(name: &str, started: Instant, predicted: Duration) -> String {
        let elapsed = started.elapsed();
        let left = predicted.saturating_sub(elapsed);
        format!(
            "  running {name:<44} {:>8}  predicted remaining {:>8}",
            hms(elapsed),
            if left.is_zero() {
                "-".to_string()
            } else {
                hms(left)
            }
        )
    }

    pub fn run(&self) {
        if !self.enabled {
            return;
        }
        let mut last_plain = Instant::now();
        while !self.done.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(250));
            let mut st = self.state.lock().unwrap();
            let mut err = std::io::stderr().lock();
            if self.tty {
                Self::clear(&mut err, &mut st);
                let lines: Vec<String> = st
                    .running
                    .iter()
                    .map(|(n, (t, p))| Self::line(n, *t, *p))
                    .collect();
                for l in &lines {
                    let _ = writeln!(err, "{l}");
                }
                st.drawn = lines.len();
            } else if last_plain.elapsed() >= Duration::from_secs(30) {
                last_plain = Instant::now();
                for (n, (t, p)) in &st.running {
                    if t.elapsed() >= Duration::from_secs(30) {
                        let _ = writeln!(err, "{}", Self::line(n, *t, *p));
                    }
                }
            }
        }
    }

    pub fn finish(&self) {
        self.done.store(true, Ordering::SeqCst);
        if self.tty {
            let mut st = self.state.lock().unwrap();
            Self::clear(&mut std::io::stderr().lock(), &mut st);
        }
    }
}

impl teardown_lab::runner::Observer for Progress {
    fn planned(&self, total: usize, jobs: usize) {
        if self.enabled {
            eprintln!(
                "running {total} scenario{} ({} profile, {jobs} at a time) into {}",
                if total == 1 { "" } else { "s" },
                self.profile.name(),
                self.out.display()
            );
        }
    }

    fn started(&self, name: &str, predicted: Duration) {
        self.begin(name, predicted);
    }

    fn finished(&self, done: usize, total: usize, r: &ScenarioResult) {
        self.end(&r.name);
        if self.enabled {
            self.println(&format!(
                "[{done}/{total}] {:<44} {:<5} {:<5} {:>7.2}s{}",
                r.name,
                r.conclusion,
                verdict_name(r.verdict),
                r.wall_seconds,
                r.reason
                    .as_ref()
                    .map(|x| format!("  ({x})"))
                    .unwrap_or_default()
            ));
        }
    }
}

/// `1h02m03s`, `2m03s`, `4.2s`.
fn hms(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// A finished scenario's verdict in its progress line: failures stand out.
fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::Error => "ERROR",
        Verdict::Skip => "skip",
    }
}
