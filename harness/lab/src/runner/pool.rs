//! Many scenarios at once: each in its own lab, on a pool of worker threads,
//! longest predicted first so the suite ends with the longest; SIGINT and
//! SIGTERM abort every wait, and every lab comes down.

use super::artifacts::write_run_outputs;
use super::one::run_scenario_guarded;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use teardown_core::report::{ScenarioResult, Summary};
use teardown_core::scenario::{Profile, Scenario};

/// What to run, and where its outputs go.
pub struct Plan {
    pub scenarios: Vec<Scenario>,
    /// Each scenario this many times (each in its own lab); names get `#2`, `#3`, ...
    pub repeat: usize,
    /// Scenarios at once (default: all of them, at most 32).
    pub jobs: Option<usize>,
    pub out: PathBuf,
    pub profile: Profile,
}

/// Told as the run goes (the CLI's progress display).
pub trait Observer: Sync {
    /// Before the first scenario starts.
    fn planned(&self, total: usize, jobs: usize);
    /// A scenario starts; the model predicts how long it takes.
    fn started(&self, name: &str, predicted: Duration);
    /// The `done`-th of `total` scenarios finished.
    fn finished(&self, done: usize, total: usize, result: &ScenarioResult);
}

/// Runs the plan and writes summary.json, junit.xml and index.html into its
/// `out`. Needs root. After SIGINT/SIGTERM the summary holds what finished
/// and [`super::aborted`] is true.
pub fn run_all(plan: Plan, observer: &dyn Observer) -> Result<Summary> {
    crate::sys::require_root()?;
    let out = plan.out;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    super::signals::install_watch()?;
    let started = Instant::now();
    let work = repetitions(plan.scenarios, plan.repeat.max(1));
    let jobs = plan.jobs.unwrap_or(work.len().min(32)).max(1);
    let total = work.len();
    observer.planned(total, jobs);
    // Longest predicted first (popped from the end), so the suite ends with the longest.
    let mut queue: Vec<(usize, Scenario, Duration)> = work
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let d = teardown_core::timing::predicted_run(&s);
            (i, s, d)
        })
        .collect();
    queue.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| b.1.name.cmp(&a.1.name)));
    let queue = Mutex::new(queue);
    let results: Mutex<Vec<ScenarioResult>> = Mutex::new(Vec::new());
    let done = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let next = queue.lock().unwrap().pop();
                let Some((_, sc, predicted)) = next else {
                    break;
                };
                if super::signals::aborted() {
                    break;
                }
                observer.started(&sc.name, predicted);
                let r = run_scenario_guarded(&sc, &out);
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                observer.finished(n, total, &r);
                results.lock().unwrap().push(r);
            });
        }
    });
    let mut scenarios = results.into_inner().unwrap();
    // By name: the same order whatever ran in parallel, and what `merge` produces.
    scenarios.sort_by(|a, b| a.name.cmp(&b.name));
    let summary = Summary {
        repeats: teardown_core::report::repeat_stats(&scenarios),
        scenarios,
        wall_seconds: started.elapsed().as_secs_f64(),
        kernel: crate::sys::kernel_release(),
        profile: plan.profile.name().to_string(),
    };
    write_run_outputs(&out, &summary)?;
    Ok(summary)
}

/// Repetitions run as their own scenarios (`name#2`, ...), each in its own lab.
fn repetitions(scenarios: Vec<Scenario>, repeat: usize) -> Vec<Scenario> {
    let mut work = Vec::new();
    for sc in scenarios {
        for r in 1..=repeat {
            let mut s = sc.clone();
            if repeat > 1 {
                s.name = format!("{}#{r}", sc.name);
            }
            work.push(s);
        }
    }
    work
}
