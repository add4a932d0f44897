//! Many scenarios at once: each in its own lab, on a pool of worker threads,
//! longest predicted first so the suite ends with the longest; SIGINT and
//! SIGTERM abort every wait, and every lab comes down.

use super::artifacts::write_run_outputs;
use super::one::run_scenario_guarded;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use teardown_core::report::{ScenarioResult, Summary, Verdict};
use teardown_core::scenario::{Feature, KernelFacts, KernelVersion, Profile, Scenario};

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
    // The endpoints' `{shared}` directories go when the suite does.
    let _shared = crate::cleanup::SharedDirs;
    let started = Instant::now();
    let work = repetitions(plan.scenarios, plan.repeat.max(1));
    let jobs = plan.jobs.unwrap_or(work.len().min(32)).max(1);
    let total = work.len();
    let kernel = Kernel::probe(&work);
    observer.planned(total, jobs);
    let queue = Mutex::new(queue_order(work));
    let results: Mutex<Vec<ScenarioResult>> = Mutex::new(Vec::new());
    let done = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let next = queue.lock().unwrap().pop();
                let Some(Queued {
                    scenario: sc,
                    predicted,
                    ..
                }) = next
                else {
                    break;
                };
                if super::signals::aborted() {
                    break;
                }
                observer.started(&sc.name, predicted);
                let r = match kernel.admit(&sc) {
                    Ok(sc) => run_scenario_guarded(&sc, &out),
                    Err(done) => *done,
                };
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

/// The running kernel as the scenarios see it: its version (for
/// kernel-dependent expectations) and which of the features they need it
/// has, each probed once (as `teardown doctor` does).
struct Kernel {
    release: String,
    version: Option<KernelVersion>,
    facts: KernelFacts,
    features: BTreeMap<Feature, std::result::Result<String, String>>,
}

impl Kernel {
    fn probe(work: &[Queued]) -> Kernel {
        let release = crate::sys::kernel_release();
        let mut features = BTreeMap::new();
        // Each probe builds and deletes a scratch namespace, which a loaded
        // machine can make slow: after SIGINT/SIGTERM no more are made (no
        // scenario runs then, so nothing reads them).
        for f in work.iter().flat_map(|q| q.scenario.needs()) {
            if super::signals::aborted() {
                break;
            }
            if let std::collections::btree_map::Entry::Vacant(slot) = features.entry(f) {
                let found = crate::doctor::probe_feature(slot.key());
                slot.insert(found);
            }
        }
        // Kernels before 6.5 have no tcp_syn_linear_timeouts: their SYN
        // backoff doubles from the first retransmission (0 linear timeouts).
        let facts = if super::signals::aborted() {
            KernelFacts::default()
        } else {
            KernelFacts {
                syn_linear_timeouts: crate::doctor::default_sysctl(
                    "net.ipv4.tcp_syn_linear_timeouts",
                )
                .map_or(0, |v| {
                    v.parse()
                        .unwrap_or(KernelFacts::default().syn_linear_timeouts)
                }),
            }
        };
        Kernel {
            version: KernelVersion::parse(&release),
            release,
            facts,
            features,
        }
    }

    /// The scenario as it holds on this kernel, or its result when it
    /// cannot run here: `skip` when a feature it needs is missing (with
    /// doctor's reason), `error` when it has kernel-dependent expectations
    /// and the kernel's version is unreadable.
    fn admit(&self, sc: &Scenario) -> std::result::Result<Scenario, Box<ScenarioResult>> {
        let missing: Vec<String> = sc
            .needs()
            .into_iter()
            .filter_map(|f| match self.features.get(&f) {
                Some(Err(why)) => Some(format!("{f} ({why})")),
                _ => None,
            })
            .collect();
        if !missing.is_empty() {
            let mut r = super::one::empty_result(sc);
            r.verdict = Verdict::Skip;
            r.reason = Some(format!(
                "kernel {} lacks what this scenario needs: {} (see `teardown doctor`)",
                self.release,
                missing.join("; ")
            ));
            return Err(Box::new(r));
        }
        match self.version {
            Some(v) => Ok(sc.for_kernel(v, self.facts)),
            None if sc.kernel_dependent() => {
                let mut r = super::one::empty_result(sc);
                r.reason = Some(format!(
                    "kernel-dependent expectations, and no version in this kernel's release `{}`",
                    self.release
                ));
                Err(Box::new(r))
            }
            None => Ok(sc.clone()),
        }
    }
}

/// A scenario waiting in the queue: which repetition it is, and how long the
/// model says it takes.
struct Queued {
    round: usize,
    scenario: Scenario,
    predicted: Duration,
}

/// Repetitions run as their own scenarios (`name#2`, ...), each in its own lab.
fn repetitions(scenarios: Vec<Scenario>, repeat: usize) -> Vec<Queued> {
    let mut work = Vec::new();
    for sc in scenarios {
        for round in 1..=repeat {
            let mut s = sc.clone();
            if repeat > 1 {
                s.name = format!("{}#{round}", sc.name);
            }
            work.push(Queued {
                round,
                predicted: teardown_core::timing::predicted_run(&s),
                scenario: s,
            });
        }
    }
    work
}

/// The order scenarios start in (the queue is popped from its end): round by
/// round, and in each round the longest predicted first, so a run ends with
/// its longest scenario.
///
/// Round by round, not every copy of a scenario together: with the copies
/// side by side, `--repeat 20` started 32 copies of the same program at one
/// instant on 2 cores, and Python's http.server (~0.3 s of CPU to start
/// alone) then took ~10 s to listen, past its scenario's readiness bound
/// (17 of 40 runs of x-python-http-server-kill-client). Round by round, the
/// labs running at once are different scenarios, as in a plain run.
fn queue_order(work: Vec<Queued>) -> Vec<Queued> {
    let mut queue = work;
    queue.sort_by(|a, b| {
        b.round
            .cmp(&a.round)
            .then(a.predicted.cmp(&b.predicted))
            .then_with(|| b.scenario.name.cmp(&a.scenario.name))
    });
    queue
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(name: &str, wait: &str) -> Scenario {
        let text = format!(
            "name = \"{name}\"\nconclusion = \"C2\"\nsummary = \"s\"\n[endpoints.server]\nhost = \"server\"\nprogram = \"server\"\n[endpoints.client]\nhost = \"client\"\nprogram = \"client\"\n[[step]]\nwait = {{ duration = \"{wait}\" }}\n"
        );
        Scenario::parse("t.toml", &text, Profile::Fast).unwrap()
    }

    #[test]
    fn repetitions_start_round_by_round_longest_first() {
        let work = repetitions(vec![scenario("short", "1s"), scenario("long", "5s")], 3);
        let mut queue = queue_order(work);
        let mut started = Vec::new();
        while let Some(q) = queue.pop() {
            started.push(q.scenario.name);
        }
        assert_eq!(
            started,
            ["long#1", "short#1", "long#2", "short#2", "long#3", "short#3"]
        );
    }
}
