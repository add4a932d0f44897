//! The runner: executes scenarios, each in its own lab, and owns cleanup.
//!
//! Contract:
//! - Every scenario file is parsed and validated before anything is created;
//!   one bad file means exit 2 and no lab.
//! - A scenario runs in a lab of its own (unique id), so scenarios run in
//!   parallel (`--jobs`). Its lab is torn down on every path: success,
//!   failure, error, panic (a drop guard), SIGINT and SIGTERM (the waits see
//!   the abort flag and return; the guard then runs).
//! - A verdict is `pass` only when every check passed on complete evidence:
//!   capture drops, capture errors, an endpoint that died on its own, a wait
//!   that timed out or a fault the kernel refused make it `error` with the reason.

use crate::capture::Capture;
use crate::cleanup::RunRecord;
use crate::record::{Recorder, Records};
use crate::sys::now_ns;
use crate::topology::{Host, Lab};
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use teardown_core::evidence::{Event, Evidence, StepRecord, TcpFlags};
use teardown_core::report::{ScenarioResult, Summary, Verdict};
use teardown_core::scenario::{
    Action, Dur, Family, Profile, Program, Scenario, ShutdownHow, Step, Topology, Wait,
};

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Scenario files or directories (default: scenarios/)
    pub paths: Vec<PathBuf>,
    /// fast compresses the kernel's timers (seconds); faithful uses Linux defaults (C3 ~15 min, C4 ~2 h)
    #[arg(long, value_enum, default_value = "fast")]
    pub profile: ProfileArg,
    /// Scenarios run at once, each in its own lab (default: all of them, at most 32)
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Only scenarios whose name matches this glob (e.g. 'c1-*')
    #[arg(long)]
    pub filter: Option<String>,
    /// Run the K-th of N shards (1-based), e.g. --shard 2/4
    #[arg(long)]
    pub shard: Option<String>,
    /// Output directory (default: out/<date-time>/, with out/latest pointing at it)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print summary.json on stdout instead of the table
    #[arg(long)]
    pub json: bool,
    /// Also write the JUnit XML here
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Address family: as each file says (default), v4, v6, or both (each
    /// scenario twice; the IPv6 run's name ends in `-v6`)
    #[arg(long, value_enum)]
    pub ip: Option<IpArg>,
    /// Run each scenario N times (each in its own lab) and report pass counts and the spread of times
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Only the final table (no progress, no per-scenario lines)
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpArg {
    V4,
    V6,
    Both,
}

/// Applies `--ip`: every scenario in that family, or in both.
pub fn with_families(scenarios: Vec<Scenario>, ip: Option<IpArg>) -> Vec<Scenario> {
    let Some(ip) = ip else { return scenarios };
    let mut out = Vec::new();
    for s in scenarios {
        match ip {
            IpArg::V4 => out.push(Scenario {
                ip: Family::V4,
                ..s
            }),
            IpArg::V6 => out.push(Scenario {
                ip: Family::V6,
                ..s
            }),
            IpArg::Both => {
                let v6 = Scenario {
                    ip: Family::V6,
                    name: format!("{}-v6", s.name),
                    ..s.clone()
                };
                out.push(Scenario {
                    ip: Family::V4,
                    ..s
                });
                out.push(v6);
            }
        }
    }
    out
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ProfileArg {
    Fast,
    Faithful,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Profile {
        match p {
            ProfileArg::Fast => Profile::Fast,
            ProfileArg::Faithful => Profile::Faithful,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Scenario files or directories (default: scenarios/)
    pub paths: Vec<PathBuf>,
}

/// Scenario files under the given paths (directories: their `*.toml`, sorted).
pub fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let defaults = [PathBuf::from("scenarios")];
    let paths = if paths.is_empty() {
        &defaults[..]
    } else {
        paths
    };
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading {}", p.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.extension().map(|e| e == "toml").unwrap_or(false))
                .collect();
            v.sort();
            files.extend(v);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            return Err(crate::bad_input(format!(
                "{}: no such file or directory",
                p.display()
            )));
        }
    }
    if files.is_empty() {
        return Err(crate::bad_input("no scenario files found"));
    }
    Ok(files)
}

/// Parses every file; all errors are reported together (exit 2).
pub fn load_all(files: &[PathBuf], profile: Profile) -> Result<Vec<Scenario>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match crate::files::load_scenario(f, profile) {
            Ok(s) => out.push(s),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let mut seen = BTreeMap::new();
    for s in &out {
        if let Some(other) = seen.insert(s.name.clone(), s.file.clone()) {
            errors.push(format!(
                "{}: scenario name `{}` is also used by {other}",
                s.file, s.name
            ));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(crate::bad_input(errors.join("\n")))
    }
}

pub fn list_main(args: ListArgs) -> Result<i32> {
    let files = scenario_files(&args.paths)?;
    let scenarios = load_all(&files, Profile::Fast)?;
    let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(10);
    for s in &scenarios {
        println!("{:<width$}  {:<5} {}", s.name, s.conclusion, s.summary);
    }
    Ok(0)
}

/// `--shard K/N`: parsed and checked.
pub fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let bad = || crate::bad_input(format!("--shard wants K/N with 1 <= K <= N, not `{text}`"));
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let k: usize = k.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// Keeps the scenarios of shard k of n. Deterministic and balanced by the
/// model's predicted duration: longest first, each to the shard with the least
/// predicted time so far (ties: the lower shard), names breaking ties in order.
pub fn shard(scenarios: Vec<Scenario>, k: usize, n: usize) -> Vec<Scenario> {
    let mut order: Vec<(Duration, Scenario)> = scenarios
        .into_iter()
        .map(|s| (teardown_core::timing::predicted_run(&s), s))
        .collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
    let mut load = vec![Duration::ZERO; n];
    let mut mine = Vec::new();
    for (d, s) in order {
        let target = (0..n).min_by_key(|i| (load[*i], *i)).unwrap_or(0);
        load[target] += d;
        if target == k - 1 {
            mine.push(s);
        }
    }
    mine.sort_by(|a, b| a.name.cmp(&b.name));
    mine
}

static ABORT: AtomicBool = AtomicBool::new(false);

/// Whether SIGINT or SIGTERM arrived.
pub fn aborted() -> bool {
    ABORT.load(Ordering::SeqCst)
}

pub fn run_main(args: RunArgs) -> Result<i32> {
    let profile: Profile = args.profile.into();
    let files = scenario_files(&args.paths)?;
    let mut scenarios = load_all(&files, profile)?;
    if let Some(glob) = &args.filter {
        let m = globset::Glob::new(glob)
            .map_err(|e| crate::bad_input(format!("--filter `{glob}`: {e}")))?
            .compile_matcher();
        scenarios.retain(|s| m.is_match(&s.name));
    }
    scenarios = with_families(scenarios, args.ip);
    if let Some(sh) = &args.shard {
        let (k, n) = parse_shard(sh)?;
        scenarios = shard(scenarios, k, n);
    }
    if scenarios.is_empty() {
        return Err(crate::bad_input("no scenario matches"));
    }
    crate::sys::require_root()?;
    let out = match &args.out {
        Some(o) => o.clone(),
        None => default_out_dir()?,
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    // SIGINT/SIGTERM set the flag; every wait notices it, and the labs come down.
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, flag.clone()).context("installing signal handlers")?;
    }
    let watcher_flag = flag.clone();
    std::thread::spawn(move || loop {
        if watcher_flag.load(Ordering::SeqCst) {
            ABORT.store(true, Ordering::SeqCst);
            crate::record::abort_all();
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    });

    let started = Instant::now();
    let repeat = args.repeat.max(1);
    // Repetitions run as their own scenarios (`name#2`, ...), each in its own lab.
    let mut work: Vec<Scenario> = Vec::new();
    for sc in scenarios {
        for r in 1..=repeat {
            let mut s = sc.clone();
            if repeat > 1 {
                s.name = format!("{}#{r}", sc.name);
            }
            work.push(s);
        }
    }
    let jobs = args.jobs.unwrap_or(work.len().min(32)).max(1);
    let total = work.len();
    if !args.quiet {
        eprintln!(
            "running {total} scenario{} ({} profile, {jobs} at a time) into {}",
            if total == 1 { "" } else { "s" },
            profile.name(),
            out.display()
        );
    }
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
    let results: Mutex<Vec<(usize, ScenarioResult)>> = Mutex::new(Vec::new());
    let done = AtomicUsize::new(0);
    let progress = Progress::new(!args.quiet);
    std::thread::scope(|s| {
        s.spawn(|| progress.run());
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                s.spawn(|| loop {
                    let next = queue.lock().unwrap().pop();
                    let Some((i, sc, predicted)) = next else {
                        break;
                    };
                    if aborted() {
                        break;
                    }
                    progress.begin(&sc.name, predicted);
                    let r = run_scenario_guarded(&sc, &out);
                    progress.end(&sc.name);
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    if !args.quiet {
                        progress.println(&format!(
                            "[{n}/{total}] {:<44} {:<5} {:<5} {:>7.2}s{}",
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
                    results.lock().unwrap().push((i, r));
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        progress.finish();
    });
    let results = results.into_inner().unwrap();
    let mut scenarios: Vec<ScenarioResult> = results.into_iter().map(|(_, r)| r).collect();
    // By name: the same order whatever ran in parallel, and what `merge` produces.
    scenarios.sort_by(|a, b| a.name.cmp(&b.name));
    let summary = Summary {
        repeats: teardown_core::report::repeat_stats(&scenarios),
        scenarios,
        wall_seconds: started.elapsed().as_secs_f64(),
        kernel: crate::sys::kernel_release(),
        profile: profile.name().to_string(),
    };
    write_run_outputs(&out, &summary)?;
    if let Some(j) = &args.junit {
        std::fs::write(j, teardown_core::report::junit(&summary))
            .with_context(|| format!("writing {}", j.display()))?;
    }
    if args.json {
        println!("{}", teardown_core::report::summary_json(&summary));
    } else {
        let color = std::env::var_os("NO_COLOR").is_none()
            && std::io::IsTerminal::is_terminal(&std::io::stdout());
        print!("{}", teardown_core::report::table(&summary, color));
        if !summary.repeats.is_empty() {
            print!("{}", teardown_core::report::repeat_table(&summary.repeats));
        }
        println!("output: {}", out.display());
    }
    if aborted() {
        eprintln!("teardown: interrupted; every lab was removed");
        return Ok(130);
    }
    let any_error = summary
        .scenarios
        .iter()
        .any(|s| s.verdict == Verdict::Error);
    let any_fail = summary.scenarios.iter().any(|s| s.verdict == Verdict::Fail);
    Ok(if any_fail {
        1
    } else if any_error {
        3
    } else {
        0
    })
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::Error => "ERROR",
    }
}

/// Writes summary.json, junit.xml and index.html of a run.
pub fn write_run_outputs(out: &Path, summary: &Summary) -> Result<()> {
    std::fs::write(
        out.join("summary.json"),
        teardown_core::report::summary_json(summary),
    )?;
    std::fs::write(out.join("junit.xml"), teardown_core::report::junit(summary))?;
    let mut ladders = BTreeMap::new();
    for s in &summary.scenarios {
        if let Some(l) = s.artifacts.get("ladder") {
            if let Ok(svg) = std::fs::read_to_string(out.join(l)) {
                ladders.insert(s.name.clone(), svg);
            }
        }
    }
    std::fs::write(
        out.join("index.html"),
        teardown_core::report::html::render_index(summary, &ladders),
    )?;
    Ok(())
}

fn default_out_dir() -> Result<PathBuf> {
    let stamp = chrono_like_stamp();
    let base = PathBuf::from("out");
    let dir = base.join(&stamp);
    std::fs::create_dir_all(&dir)?;
    let latest = base.join("latest");
    let _ = std::fs::remove_file(&latest);
    let _ = std::os::unix::fs::symlink(&stamp, &latest);
    Ok(dir)
}

/// `YYYYmmdd-HHMMSS` in UTC, without a date crate.
fn chrono_like_stamp() -> String {
    let secs = now_ns() / 1_000_000_000;
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        std::process::id()
    )
}

/// A fresh lab id: short (interface-name budget), unique per process and call.
pub fn new_run_id() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let mix =
        ((std::process::id() as u64) << 20) ^ ((now_ns() / 1000) & 0xfffff) ^ ((n as u64) << 40);
    format!("{:x}", mix % 0xffff_ffff)
}

/// Runs one scenario; a panic inside becomes an `error` verdict (the lab's drop guard has run).
pub fn run_scenario_guarded(sc: &Scenario, out: &Path) -> ScenarioResult {
    let started = Instant::now();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_scenario(sc, out))) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            let mut r = empty_result(sc);
            r.verdict = Verdict::Error;
            r.reason = Some(format!("harness panicked: {msg}"));
            r.wall_seconds = started.elapsed().as_secs_f64();
            r
        }
    }
}

fn empty_result(sc: &Scenario) -> ScenarioResult {
    ScenarioResult {
        name: sc.name.clone(),
        file: sc.file.clone(),
        conclusion: sc.conclusion.clone(),
        summary: sc.summary.clone(),
        family: match sc.ip {
            Family::V4 => "v4".into(),
            Family::V6 => "v6".into(),
        },
        topology: match sc.topology {
            Topology::Switched => "switched".into(),
            Topology::Direct => "direct".into(),
        },
        profile: sc.profile.name().into(),
        verdict: Verdict::Error,
        reason: None,
        wall_seconds: 0.0,
        predicted_seconds: None,
        measured_seconds: None,
        checks: vec![],
        artifacts: BTreeMap::new(),
    }
}

/// Tears the lab down and forgets the run, whatever happens (drop guard).
struct LabGuard {
    lab: Option<Lab>,
    record: RunRecord,
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        if let Some(lab) = self.lab.take() {
            if let Err(e) = lab.down() {
                eprintln!("teardown: removing lab {}: {e:#}", lab.id);
            }
        }
        self.record.unregister();
    }
}

/// A running endpoint process.
struct EndpointProc {
    pid: i32,
    stdin: Option<ChildStdin>,
    /// Set when the harness itself ended it (kill, restart, power off).
    killed_by_harness: Arc<AtomicBool>,
}

/// Everything a running scenario holds.
struct Run<'a> {
    sc: &'a Scenario,
    lab: &'a Lab,
    recorder: Arc<Recorder>,
    dir: PathBuf,
    endpoints: BTreeMap<String, EndpointProc>,
    /// Samplers per host (stopped at power off, restarted at power on).
    samplers: BTreeMap<&'static str, crate::sockdiag::Sampler>,
    /// Harness-side problems that make the verdict `error`.
    problems: Vec<String>,
    /// When the latest step acted (packet waits look from there on).
    last_acted_ns: u64,
    /// The ifindex each capture port is bound to (client-port, server-port).
    capture_bound: Arc<Vec<std::sync::atomic::AtomicU32>>,
    generation: usize,
    /// Counted drops in force: (`td_drop_fl01 from client`, its budget), reported
    /// at `undrop` and at the end of the timeline.
    budgets: Vec<(String, crate::bpf::Budget)>,
}

fn harness_event(kind: &str, detail: String) -> Event {
    Event {
        ts_ns: now_ns(),
        source: "harness".into(),
        kind: kind.into(),
        detail: Some(detail),
        ..Default::default()
    }
}

/// The addresses the connection uses.
fn server_ip(sc: &Scenario) -> IpAddr {
    match sc.ip {
        Family::V4 => IpAddr::V4(Host::Server.v4()),
        Family::V6 => IpAddr::V6(Host::Server.v6()),
    }
}

fn host_ip(sc: &Scenario, host: Host) -> IpAddr {
    match sc.ip {
        Family::V4 => IpAddr::V4(host.v4()),
        Family::V6 => IpAddr::V6(host.v6()),
    }
}

fn run_scenario(sc: &Scenario, out: &Path) -> ScenarioResult {
    let started = Instant::now();
    let mut result = empty_result(sc);
    let dir = out.join(&sc.name);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        result.reason = Some(format!("creating {}: {e}", dir.display()));
        return result;
    }
    let id = new_run_id();
    let names: Vec<String> = ["client", "server", "wire"]
        .iter()
        .map(|r| crate::topology::ns_name(&id, r))
        .collect();
    let record = match RunRecord::register(&id, names) {
        Ok(r) => r,
        Err(e) => {
            result.reason = Some(format!("registering the run: {e:#}"));
            return result;
        }
    };
    tracing::info!(scenario = %sc.name, lab = %id, "building the lab");
    let mut guard = LabGuard { lab: None, record };
    match Lab::up(&id, sc.topology) {
        Ok(l) => guard.lab = Some(l),
        Err(e) => {
            result.reason = Some(format!("building the lab: {e:#}"));
            result.wall_seconds = started.elapsed().as_secs_f64();
            return result;
        }
    }
    let lab = guard.lab.as_ref().expect("lab was just built");
    let outcome = execute(sc, lab, &dir);
    // Everything is recorded; the lab goes now (before writing reports).
    drop(guard);
    match outcome {
        Ok((evidence, problems)) => finish(sc, &dir, evidence, problems, &mut result),
        Err(e) => result.reason = Some(format!("{e:#}")),
    }
    result.wall_seconds = started.elapsed().as_secs_f64();
    result
}

/// Sets sysctls, starts capture, samplers and endpoints, runs the timeline,
/// stops recording. Returns the evidence and the harness problems met.
fn execute(sc: &Scenario, lab: &Lab, dir: &Path) -> Result<(Evidence, Vec<String>)> {
    for (host, map) in &sc.sysctls {
        let h = Host::parse(host).ok_or_else(|| anyhow!("unknown host {host}"))?;
        for (k, v) in map {
            lab.set_sysctl(h, k, v)
                .with_context(|| format!("on host {host}"))?;
        }
    }
    let recorder = Arc::new(Recorder::new());
    for host in &sc.static_neighbours {
        let h = Host::parse(host).ok_or_else(|| anyhow!("unknown host {host}"))?;
        lab.pin_neighbour(h)?;
    }
    let capture = Capture::start(crate::capture::port_specs(lab), recorder.clone())?;
    let start_ns = now_ns();
    let mut run = Run {
        sc,
        lab,
        recorder: recorder.clone(),
        dir: dir.to_path_buf(),
        endpoints: BTreeMap::new(),
        samplers: BTreeMap::new(),
        problems: Vec::new(),
        last_acted_ns: start_ns,
        capture_bound: capture.bound(),
        generation: 0,
        budgets: Vec::new(),
    };
    let mut steps = Vec::new();
    let timeline = run.timeline(&mut steps);
    if let Err(e) = &timeline {
        run.problems.push(format!("{e:#}"));
    }
    // Let the wire go quiet (what was already sent reaches the capture), then stop recording.
    run.settle();
    run.report_budgets();
    for (host, s) in std::mem::take(&mut run.samplers) {
        if let Err(e) = s.stop() {
            run.problems
                .push(format!("socket sampler on {host}: {e:#}"));
        }
    }
    let end_ns = now_ns();
    let mut problems = std::mem::take(&mut run.problems);
    // Stop capturing before the endpoints go (their exit would close sockets on the record).
    let cap = capture.stop();
    drop(run);
    for (port, d) in cap.ports.iter().zip(&cap.drops) {
        if *d > 0 {
            problems.push(format!("capture on {port} dropped {d} frames"));
        }
    }
    problems.extend(cap.errors.iter().map(|e| format!("capture: {e}")));
    let records: Records = recorder.take();
    // Endpoints that died on their own make the evidence incomplete; a built-in
    // client whose connect() failed exits 1 by contract (the `error` op=connect
    // event is the evidence), which is no crash.
    let connect_failed = |src: &str| {
        records
            .events
            .iter()
            .any(|x| x.source == src && x.kind == "error" && x.op.as_deref() == Some("connect"))
    };
    for e in &records.events {
        let detail = e.detail.as_deref().unwrap_or("");
        if e.kind == "exited"
            && detail.starts_with("crashed")
            && !(detail.starts_with("crashed: exit 1 ") && connect_failed(&e.source))
        {
            problems.push(format!(
                "endpoint {} {}",
                e.source,
                e.detail.clone().unwrap_or_default()
            ));
        }
    }
    let mut annotations: Vec<(u64, String)> = records
        .events
        .iter()
        .filter(|e| e.source == "harness")
        .map(|e| {
            (
                e.ts_ns,
                format!("{} {}", e.kind, e.detail.clone().unwrap_or_default()),
            )
        })
        .collect();
    annotations.sort();
    crate::capture::write_pcapng(&dir.join("capture.pcapng"), &cap, &annotations)?;
    let evidence = Evidence {
        client_ips: vec![IpAddr::V4(Host::Client.v4()), IpAddr::V6(Host::Client.v6())],
        server_ips: vec![IpAddr::V4(Host::Server.v4()), IpAddr::V6(Host::Server.v6())],
        packets: records.packets,
        events: records.events,
        sockets: records.sockets,
        steps,
        start_ns,
        end_ns,
    };
    Ok((evidence, problems))
}

fn finish(
    sc: &Scenario,
    dir: &Path,
    ev: Evidence,
    problems: Vec<String>,
    result: &mut ScenarioResult,
) {
    let write_jsonl = |name: &str, lines: Vec<String>| -> Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join(name))?);
        for l in lines {
            writeln!(f, "{l}")?;
        }
        Ok(())
    };
    let mut events: Vec<&Event> = ev.events.iter().collect();
    events.sort_by_key(|e| e.ts_ns);
    let ev_lines = events
        .iter()
        .filter_map(|e| serde_json::to_string(e).ok())
        .collect();
    let sock_lines = ev
        .sockets
        .iter()
        .filter_map(|s| serde_json::to_string(s).ok())
        .collect();
    let mut problems = problems;
    if let Err(e) =
        write_jsonl("events.jsonl", ev_lines).and_then(|_| write_jsonl("sockets.jsonl", sock_lines))
    {
        problems.push(format!("writing artifacts: {e:#}"));
    }
    let title = format!("{} ({})", sc.name, sc.conclusion);
    if std::fs::write(
        dir.join("ladder.svg"),
        teardown_core::report::ladder::render(&ev, &title),
    )
    .is_ok()
    {
        result
            .artifacts
            .insert("ladder".into(), format!("{}/ladder.svg", sc.name));
    }
    for (k, f) in [
        ("pcap", "capture.pcapng"),
        ("events", "events.jsonl"),
        ("sockets", "sockets.jsonl"),
        ("report", "report.json"),
    ] {
        result
            .artifacts
            .insert(k.into(), format!("{}/{f}", sc.name));
    }
    result.checks = teardown_core::expect::evaluate(sc, &ev);
    // The key time the report shows next to the model's: the first `dies` expectation's.
    if let Some(e) = sc.expects.iter().find(|e| e.dies.is_some()) {
        let anchor = e
            .after
            .as_ref()
            .and_then(|a| ev.step_time(a.get_ref()))
            .unwrap_or(ev.start_ns);
        let d = teardown_core::timing::dies(sc, &ev, e, anchor);
        result.predicted_seconds = d.predicted;
        result.measured_seconds = d.measured;
    }
    if !problems.is_empty() {
        result.verdict = Verdict::Error;
        result.reason = Some(problems.join("; "));
    } else if result.checks.iter().all(|c| c.ok) {
        result.verdict = Verdict::Pass;
    } else {
        result.verdict = Verdict::Fail;
    }
    if let Ok(j) = serde_json::to_string_pretty(&result) {
        let _ = std::fs::write(dir.join("report.json"), j);
    }
}

impl Run<'_> {
    /// One harness event per counted drop: how many frames it dropped, and how
    /// many matched after its budget was spent. Forgets the budgets.
    fn report_budgets(&mut self) {
        for (what, b) in std::mem::take(&mut self.budgets) {
            let detail = match b.used() {
                Ok((dropped, passed)) => format!(
                    "{what}: dropped {dropped} (count {}), then let {passed} matching frame(s) pass",
                    b.count()
                ),
                Err(e) => format!("{what}: {e:#}"),
            };
            self.recorder.push_event(harness_event("drops", detail));
        }
    }

    fn timeline(&mut self, steps: &mut Vec<StepRecord>) -> Result<()> {
        for host in [Host::Client, Host::Server] {
            self.start_sampler(host)?;
        }
        // Servers first, each listening before anything else starts.
        let mut names: Vec<(bool, String)> = self
            .sc
            .endpoints
            .iter()
            .filter(|(_, e)| e.start)
            .map(|(n, e)| (e.program != Program::Server, n.clone()))
            .collect();
        names.sort();
        for (_, n) in names {
            self.start_endpoint(&n)?;
        }
        for (i, step) in self.sc.steps.iter().enumerate() {
            let started_ns = now_ns();
            if let Some(w) = &step.wait {
                self.wait(i, w.get_ref())?;
            }
            let mut action = String::new();
            // A step's time: for an endpoint action, when it began (what it causes,
            // a FIN, an RST, comes after); for a wire fault, when it is in force
            // (frames already on their way while it was being applied are not its doing).
            let mut acted_ns = now_ns();
            if let Some(a) = &step.action {
                let act = *a.get_ref();
                action = describe(step, act);
                self.last_acted_ns = acted_ns;
                tracing::debug!(scenario = %self.sc.name, step = i + 1, action = %action, "acting");
                let result = self.act(step, act);
                if !act.needs_endpoint() {
                    acted_ns = now_ns();
                    self.last_acted_ns = acted_ns;
                }
                let detail = match &step.name {
                    Some(n) => format!("{n}: {action}"),
                    None => action.clone(),
                };
                self.recorder.push_event(Event {
                    ts_ns: acted_ns,
                    ..harness_event("step", detail)
                });
                result.with_context(|| format!("step {} ({action})", i + 1))?;
            }
            steps.push(StepRecord {
                index: i,
                name: step.name.clone(),
                action: action.clone(),
                started_ns,
                acted_ns,
            });
        }
        Ok(())
    }

    fn start_sampler(&mut self, host: Host) -> Result<()> {
        let recorder = self.recorder.clone();
        let name = host.name();
        let sampler = crate::sockdiag::Sampler::start_timed(
            self.lab.host(host),
            name,
            crate::sockdiag::DEFAULT_PERIOD,
            move |ts, mut round: Vec<teardown_core::evidence::SockSample>| {
                if round.is_empty() {
                    // A round that found no socket still counts as a round (state NONE,
                    // no addresses): `expect` then knows the connection is gone.
                    round.push(crate::sockdiag::empty_round(ts, name));
                }
                recorder.push_round(name, ts, round);
            },
        )?;
        self.samplers.insert(name, sampler);
        Ok(())
    }

    fn settle(&self) {
        // Quiet means no new frame for 100 ms (a delayed ACK is 40 ms); give up after 2 s.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let before = self.recorder.with(|r| r.packets.len());
            let quiet = !self
                .recorder
                .wait_for(Instant::now() + Duration::from_millis(100), |r| {
                    r.packets.len() > before
                });
            if quiet || Instant::now() > deadline || aborted() {
                return;
            }
        }
    }

    fn start_endpoint(&mut self, name: &str) -> Result<()> {
        let spec = self
            .sc
            .endpoints
            .get(name)
            .ok_or_else(|| anyhow!("no endpoint {name}"))?;
        let host = Host::parse(spec.host.get_ref()).ok_or_else(|| anyhow!("bad host"))?;
        let ns_path = self.lab.host(host).path().to_path_buf();
        let exe = std::env::current_exe().context("finding the teardown binary")?;
        self.generation += 1;
        // `<name>.<n>.stdout` / `.stderr`: one pair per process start in this scenario.
        let log_path = |ext: &str| self.dir.join(format!("{name}.{}.{ext}", self.generation));
        let mut cmd = match spec.program {
            Program::Client | Program::Server => {
                let port = spec.port;
                let addr = match spec.program {
                    Program::Server => SocketAddr::new(host_ip(self.sc, host), port),
                    _ => SocketAddr::new(server_ip(self.sc), port),
                };
                let config = crate::endpoint::EndpointConfig {
                    name: name.to_string(),
                    role: if spec.program == Program::Server {
                        crate::endpoint::Role::Server
                    } else {
                        crate::endpoint::Role::Client
                    },
                    addr,
                    options: spec.options.clone(),
                    autoread: spec.autoread,
                    on_eof: spec.on_eof,
                    on_eof_delay_ms: spec.on_eof_delay.map(|d| d.0.as_millis() as u64),
                    netns: Some(ns_path),
                };
                let mut c = Command::new(&exe);
                c.arg("endpoint").arg("--config").arg(config.to_json());
                c
            }
            Program::External => {
                let argv: Vec<String> = spec
                    .command
                    .clone()
                    .unwrap_or_default()
                    .iter()
                    .map(|a| self.substitute(a, spec.port))
                    .collect();
                let mut c = Command::new(&exe);
                c.arg("ns-exec").arg("--netns").arg(&ns_path).arg("--");
                if spec.shell {
                    c.arg("/bin/sh").arg("-c").arg(argv.join(" "));
                } else {
                    c.args(&argv);
                }
                c
            }
        };
        let external = spec.program == Program::External;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(log_path("stderr"))
                    .or_else(|_| std::fs::File::create("/dev/null"))?,
            ));
        let listening_before = self.recorder.with(|r| {
            r.events
                .iter()
                .filter(|e| e.source == name && e.kind == "listening")
                .count()
        });
        let mut child: Child = cmd
            .spawn()
            .with_context(|| format!("starting endpoint {name}"))?;
        let pid = child.id() as i32;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let recorder = self.recorder.clone();
        let src = name.to_string();
        let stdout_log = log_path("stdout");
        std::thread::spawn(move || {
            let mut log = std::fs::File::create(stdout_log).ok();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !external {
                    if let Ok(mut e) = serde_json::from_str::<Event>(&line) {
                        e.source = src.clone();
                        recorder.push_event(e);
                        continue;
                    }
                }
                if external {
                    // What an external program prints is evidence too: an event per line.
                    recorder.push_event(Event {
                        ts_ns: now_ns(),
                        source: src.clone(),
                        kind: "stdout".into(),
                        detail: Some(line.clone()),
                        ..Default::default()
                    });
                }
                if let Some(l) = log.as_mut() {
                    let _ = writeln!(l, "{line}");
                }
            }
        });
        let killed = Arc::new(AtomicBool::new(false));
        let killed2 = killed.clone();
        let recorder = self.recorder.clone();
        let src = name.to_string();
        std::thread::spawn(move || {
            let status = child.wait();
            let detail = match status {
                Ok(st) => {
                    use std::os::unix::process::ExitStatusExt;
                    let by_harness = killed2.load(Ordering::SeqCst);
                    match (st.code(), st.signal()) {
                        (Some(0), _) => "exit 0".to_string(),
                        (_, Some(sig)) if by_harness => format!("killed by signal {sig}"),
                        // The harness ends endpoints at teardown; only a death during the run counts.
                        (_, Some(sig)) if aborted() => format!("killed by signal {sig}"),
                        (Some(c), _) if external || by_harness => format!("exit {c}"),
                        (Some(c), _) => format!("crashed: exit {c}"),
                        (_, Some(sig)) => format!("crashed: signal {sig}"),
                        _ => "exited".to_string(),
                    }
                }
                Err(e) => format!("wait failed: {e}"),
            };
            let detail = format!("{detail} (pid {pid})");
            recorder.push_event(Event {
                ts_ns: now_ns(),
                source: src,
                kind: "exited".into(),
                detail: Some(detail),
                ..Default::default()
            });
        });
        self.recorder
            .push_event(harness_event("started", format!("{name} pid {pid}")));
        if spec.program == Program::Server {
            // A new `listening` from this endpoint name, or this very process's exit.
            let src = name.to_string();
            let exited = format!("(pid {pid})");
            let ready = self
                .recorder
                .wait_for(Instant::now() + Duration::from_secs(5), |r| {
                    r.events
                        .iter()
                        .filter(|e| e.source == src && e.kind == "listening")
                        .count()
                        > listening_before
                        || r.events.iter().any(|e| {
                            e.source == src
                                && e.kind == "exited"
                                && e.detail.as_deref().unwrap_or("").ends_with(&exited)
                        })
                });
            if !ready {
                return Err(anyhow!(
                    "server endpoint {name} did not start listening within 5 s"
                ));
            }
        }
        self.endpoints.insert(
            name.to_string(),
            EndpointProc {
                pid,
                stdin,
                killed_by_harness: killed,
            },
        );
        Ok(())
    }

    fn substitute(&self, arg: &str, port: u16) -> String {
        arg.replace("{server_ip}", &server_ip(self.sc).to_string())
            .replace("{server_port}", &port.to_string())
            .replace("{client_ip}", &host_ip(self.sc, Host::Client).to_string())
    }

    fn command(&mut self, endpoint: &str, line: &str) -> Result<()> {
        let ep = self
            .endpoints
            .get_mut(endpoint)
            .ok_or_else(|| anyhow!("endpoint {endpoint} is not running"))?;
        let stdin = ep
            .stdin
            .as_mut()
            .ok_or_else(|| anyhow!("endpoint {endpoint} has no control pipe"))?;
        // One write for the whole line: a program that acts on the first bytes and
        // exits (nc on a reset) must not make a second write fail with EPIPE.
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .with_context(|| format!("telling {endpoint} to {line}"))?;
        stdin.flush()?;
        Ok(())
    }

    fn signal(&mut self, endpoint: &str, sig: nix::sys::signal::Signal) -> Result<()> {
        let ep = self
            .endpoints
            .get(endpoint)
            .ok_or_else(|| anyhow!("endpoint {endpoint} is not running"))?;
        if matches!(
            sig,
            nix::sys::signal::Signal::SIGKILL
                | nix::sys::signal::Signal::SIGTERM
                | nix::sys::signal::Signal::SIGINT
                | nix::sys::signal::Signal::SIGHUP
        ) {
            ep.killed_by_harness.store(true, Ordering::SeqCst);
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(ep.pid), sig).map_err(|e| {
            anyhow!(
                "kill({}, {sig}): {}",
                ep.pid,
                teardown_core::errno::name(e as i32)
            )
        })
    }

    /// Kills an endpoint and waits until its process is gone.
    fn kill_and_wait(&mut self, endpoint: &str) -> Result<()> {
        let src = endpoint.to_string();
        // Counted before the signal: a process may be gone (and its `exited` recorded) at once.
        let before = self.recorder.with(|r| {
            r.events
                .iter()
                .filter(|e| e.source == src && e.kind == "exited")
                .count()
        });
        self.signal(endpoint, nix::sys::signal::Signal::SIGKILL)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        let gone = self.recorder.wait_for(deadline, |r| {
            r.events
                .iter()
                .filter(|e| e.source == src && e.kind == "exited")
                .count()
                > before
        });
        if !gone {
            return Err(anyhow!("endpoint {endpoint} did not exit after SIGKILL"));
        }
        self.endpoints.remove(endpoint);
        Ok(())
    }

    fn act(&mut self, step: &Step, action: Action) -> Result<()> {
        let endpoint = step
            .endpoint
            .as_ref()
            .map(|e| e.get_ref().clone())
            .unwrap_or_default();
        let host = step.host.as_ref().and_then(|h| Host::parse(h.get_ref()));
        match action {
            Action::Send => self.command(&endpoint, &format!("send {}", step.bytes.unwrap_or(0))),
            Action::Stream => match &step.rate {
                Some(r) => self.command(&endpoint, &format!("stream {}", r.get_ref())),
                None => self.command(&endpoint, "stream"),
            },
            Action::Close => self.command(&endpoint, "close"),
            Action::Shutdown => {
                let how = match step.how.unwrap_or(ShutdownHow::Wr) {
                    ShutdownHow::Wr => "wr",
                    ShutdownHow::Rd => "rd",
                    ShutdownHow::Rdwr => "rdwr",
                };
                self.command(&endpoint, &format!("shutdown {how}"))
            }
            Action::Kill => {
                let name = step
                    .signal
                    .as_ref()
                    .map(|s| s.get_ref().as_str())
                    .unwrap_or("KILL");
                let sig: nix::sys::signal::Signal = format!("SIG{name}")
                    .parse()
                    .map_err(|_| anyhow!("bad signal {name}"))?;
                if sig == nix::sys::signal::Signal::SIGKILL {
                    self.kill_and_wait(&endpoint)
                } else {
                    self.signal(&endpoint, sig)
                }
            }
            Action::Start => self.start_endpoint(&endpoint),
            Action::Restart => {
                if self.endpoints.contains_key(&endpoint) {
                    self.kill_and_wait(&endpoint)?;
                }
                self.start_endpoint(&endpoint)
            }
            Action::Cut | Action::Restore => {
                let cut = action == Action::Cut;
                crate::fault::set_cut(self.lab, cut)?;
                self.recorder.push_event(harness_event(
                    "fault",
                    (if cut { "cut" } else { "restore" }).to_string(),
                ));
                Ok(())
            }
            Action::LinkDown | Action::LinkUp => {
                let h = host.ok_or_else(|| anyhow!("no host"))?;
                let up = action == Action::LinkUp;
                crate::fault::set_link(self.lab, h, up)?;
                self.recorder.push_event(harness_event(
                    "fault",
                    format!("{} {}", if up { "link_up" } else { "link_down" }, h.name()),
                ));
                Ok(())
            }
            Action::PowerOff => {
                let h = host.ok_or_else(|| anyhow!("no host"))?;
                for (name, ep) in self.endpoints.iter() {
                    if self
                        .sc
                        .endpoints
                        .get(name)
                        .map(|s| s.host.get_ref() == h.name())
                        .unwrap_or(false)
                    {
                        ep.killed_by_harness.store(true, Ordering::SeqCst);
                    }
                }
                // The sampler's netlink socket holds the namespace: stop it first.
                if let Some(s) = self.samplers.remove(h.name()) {
                    s.stop()?;
                }
                crate::fault::power_off(self.lab, h)?;
                let on_host: Vec<String> = self
                    .sc
                    .endpoints
                    .iter()
                    .filter(|(_, s)| s.host.get_ref() == h.name())
                    .map(|(n, _)| n.clone())
                    .collect();
                for n in on_host {
                    self.endpoints.remove(&n);
                }
                self.recorder
                    .push_event(harness_event("fault", format!("power_off {}", h.name())));
                Ok(())
            }
            Action::Drop => {
                let flags = step.flags.as_ref().map(|f| f.get_ref().as_str());
                let probability = step.probability.as_ref().map(|p| *p.get_ref());
                let rule = crate::fault::rule_for(flags, probability);
                let count = step.count.as_ref().map(|c| *c.get_ref());
                let (from, hosts) = senders(step);
                for h in hosts {
                    if let Some(b) = crate::fault::drop_first(self.lab, h, &rule, count)? {
                        self.budgets
                            .push((format!("{} from {}", rule.name(), h.name()), b));
                    }
                }
                let first = count
                    .map(|c| format!(", the first {c}"))
                    .unwrap_or_default();
                self.recorder.push_event(harness_event(
                    "fault",
                    format!("drop {} from {from}{first}", rule.name()),
                ));
                Ok(())
            }
            Action::Impair => {
                let (from, hosts) = senders(step);
                let delay = step.delay.map(|d| d.0).unwrap_or_default();
                let jitter = step.jitter.map(|d| d.0).unwrap_or_default();
                let loss = step
                    .probability
                    .as_ref()
                    .map(|p| *p.get_ref())
                    .unwrap_or(0.0);
                for h in hosts {
                    crate::fault::impair(self.lab, h, delay, jitter, loss)?;
                }
                self.recorder.push_event(harness_event(
                    "fault",
                    format!(
                        "impair from {from}: delay {} jitter {} loss {loss}",
                        Dur(delay),
                        Dur(jitter)
                    ),
                ));
                Ok(())
            }
            Action::Unimpair => {
                crate::fault::unimpair(self.lab)?;
                self.recorder
                    .push_event(harness_event("fault", "unimpair".into()));
                Ok(())
            }
            Action::Undrop => {
                crate::fault::undrop(self.lab)?;
                self.recorder
                    .push_event(harness_event("fault", "undrop".into()));
                self.report_budgets();
                Ok(())
            }
            Action::PowerOn => {
                let h = host.ok_or_else(|| anyhow!("no host"))?;
                crate::fault::power_on(self.lab, h)?;
                self.start_sampler(h)?;
                // The capture must be on the new port before anything is sent through it.
                let loc = self.lab.port(h);
                let ifname = loc.ifname;
                let idx = loc.ns.run(|| crate::tc::ifindex(ifname))?;
                let slot = if h == Host::Client { 0 } else { 1 };
                let bound = self.capture_bound.clone();
                let following = self
                    .recorder
                    .wait_for(Instant::now() + Duration::from_secs(2), |_| {
                        bound[slot].load(Ordering::SeqCst) == idx
                    });
                if !following {
                    return Err(anyhow!(
                        "the capture did not follow {}'s new port within 2 s",
                        h.name()
                    ));
                }
                self.recorder
                    .push_event(harness_event("fault", format!("power_on {}", h.name())));
                Ok(())
            }
        }
    }

    fn wait(&mut self, index: usize, w: &Wait) -> Result<()> {
        let timeout = match &w.model_timeout {
            // The wait only bounds a hang (the timing itself is checked by `dies`): the model's
            // lifetime plus 10 s.
            Some(m) => {
                let server_port = self.sc.server_port();
                let host = w
                    .source
                    .as_ref()
                    .and_then(|s| self.sc.endpoints.get(s.get_ref()))
                    .map(|e| e.host.get_ref().clone())
                    .unwrap_or_else(|| "client".into());
                // The larger of the RTOs the connection showed: the model's death scales with it.
                let rto = self.recorder.with(|r| {
                    r.sockets
                        .iter()
                        .filter(|s| s.host == host && is_conn(s, server_port))
                        .filter_map(|s| s.tcp.as_ref().map(|t| t.rto_us))
                        .max()
                        .filter(|us| *us > 0)
                        .map(|us| Duration::from_micros(us as u64))
                });
                teardown_core::timing::model_life(self.sc, w, m.get_ref(), rto)
                    + Duration::from_secs(10)
            }
            None => w.timeout.unwrap_or(Dur(Duration::from_secs(5))).0,
        };
        if let Some(d) = w.duration {
            // A duration is the condition itself: time passing (abortable).
            let deadline = Instant::now() + d.0;
            self.recorder.wait_for(deadline, |_| false);
            return if aborted() {
                Err(anyhow!("interrupted"))
            } else {
                Ok(())
            };
        }
        let deadline = Instant::now() + timeout;
        let what = describe_wait(w);
        tracing::debug!(scenario = %self.sc.name, step = index + 1, "waiting up to {} for {what}", Dur(timeout));
        let server_port = self.sc.server_port();
        // Socket and `gone` waits need a sampler round taken after this wait began: an
        // older round may predate the connection itself, or the step that this wait
        // follows (a state seen before an `undrop` says nothing about after it).
        let from_ns = now_ns();
        let ok = if let Some(kind) = &w.event {
            let src = w
                .source
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default();
            let errno = w.errno.clone();
            let bytes = w.bytes;
            self.recorder.wait_for(deadline, |r| {
                r.events.iter().any(|e| {
                    e.source == src
                        && &e.kind == kind
                        && errno
                            .as_ref()
                            .map(|x| e.errno.as_ref() == Some(x))
                            .unwrap_or(true)
                        && bytes.map(|b| e.bytes.unwrap_or(0) >= b).unwrap_or(true)
                })
            })
        } else if let Some(state) = &w.socket {
            let host = w
                .host
                .as_ref()
                .map(|h| h.get_ref().clone())
                .unwrap_or_default();
            let state = state.clone();
            self.recorder.wait_for(deadline, |r| {
                r.round_after(&host, from_ns).is_some_and(|mut round| {
                    round.any(|s| {
                        s.state == state
                            && if state == "LISTEN" {
                                // The server program's listener on the scenario's port.
                                s.local.ends_with(&format!(":{server_port}"))
                            } else {
                                is_conn(s, server_port)
                            }
                    })
                })
            })
        } else if w.gone == Some(true) {
            let host = w
                .host
                .as_ref()
                .map(|h| h.get_ref().clone())
                .unwrap_or_default();
            self.recorder.wait_for(deadline, |r| {
                r.round_after(&host, from_ns)
                    .is_some_and(|mut round| !round.any(|s| is_conn(s, server_port)))
            })
        } else if let Some(pattern) = &w.packet {
            let port = w
                .port
                .as_ref()
                .map(|p| p.get_ref().clone())
                .unwrap_or_else(|| "server-port".into());
            let alts = parse_alternatives(pattern);
            let client_ips = [IpAddr::V4(Host::Client.v4()), IpAddr::V6(Host::Client.v6())];
            // Packets since the previous step acted count: one may come between that
            // action and the start of this wait.
            let since = self.last_acted_ns;
            let want = w.count.unwrap_or(1) as usize;
            let mut seen = 0;
            let mut hits = 0;
            self.recorder.wait_for(deadline, |r| {
                hits += r.packets[seen..]
                    .iter()
                    .filter(|p| {
                        p.ts_ns >= since
                            && p.port == port
                            && alts.iter().any(|(from_client, flags)| {
                                client_ips.contains(&p.src.ip()) == *from_client
                                    && p.flags == *flags
                            })
                    })
                    .count();
                seen = r.packets.len();
                hits >= want
            })
        } else {
            true
        };
        if ok {
            Ok(())
        } else if aborted() {
            Err(anyhow!("interrupted"))
        } else {
            Err(anyhow!(
                "step {}: waited {} for {what}: not seen",
                index + 1,
                Dur(timeout)
            ))
        }
    }
}

/// A step's `from` (`client`, `server`, default `both`) and the hosts it names.
fn senders(step: &Step) -> (&str, Vec<Host>) {
    let from = step
        .from
        .as_ref()
        .map(|f| f.get_ref().as_str())
        .unwrap_or("both");
    let hosts = match from {
        "client" => vec![Host::Client],
        "server" => vec![Host::Server],
        _ => vec![Host::Client, Host::Server],
    };
    (from, hosts)
}

/// A sample of the scenario's connection (not a listener, not another socket).
fn is_conn(s: &teardown_core::evidence::SockSample, server_port: u16) -> bool {
    s.state != "LISTEN"
        && (s.local.ends_with(&format!(":{server_port}"))
            || s.remote.ends_with(&format!(":{server_port}")))
}

/// `C>S F.|S>C .` to (from_client, flags) alternatives (validated earlier).
fn parse_alternatives(pattern: &str) -> Vec<(bool, TcpFlags)> {
    pattern
        .split('|')
        .filter_map(|alt| {
            let alt = alt.trim().trim_end_matches('+').trim();
            let (dir, flags) = alt.split_once(' ')?;
            Some((dir == "C>S", TcpFlags::parse_tcpdump(flags.trim())?))
        })
        .collect()
}

fn describe_wait(w: &Wait) -> String {
    if let Some(e) = &w.event {
        let src = w
            .source
            .as_ref()
            .map(|s| s.get_ref().as_str())
            .unwrap_or("?");
        let mut s = format!("event `{e}` from {src}");
        if let Some(x) = &w.errno {
            s.push_str(&format!(" ({x})"));
        }
        if let Some(b) = w.bytes {
            s.push_str(&format!(" ({b} bytes)"));
        }
        s
    } else if let Some(st) = &w.socket {
        format!(
            "{} socket in {st}",
            w.host.as_ref().map(|h| h.get_ref().as_str()).unwrap_or("?")
        )
    } else if w.gone.is_some() {
        format!(
            "{} socket gone",
            w.host.as_ref().map(|h| h.get_ref().as_str()).unwrap_or("?")
        )
    } else if let Some(p) = &w.packet {
        format!(
            "packet {p} on {}",
            w.port
                .as_ref()
                .map(|h| h.get_ref().as_str())
                .unwrap_or("server-port")
        )
    } else {
        "nothing".into()
    }
}

fn describe(step: &Step, action: Action) -> String {
    let mut s = action.name().to_string();
    if let Some(e) = &step.endpoint {
        s.push(' ');
        s.push_str(e.get_ref());
    }
    if let Some(h) = &step.host {
        s.push(' ');
        s.push_str(h.get_ref());
    }
    if let Some(b) = step.bytes {
        s.push_str(&format!(" {b} bytes"));
    }
    if let Some(sig) = &step.signal {
        s.push_str(&format!(" SIG{}", sig.get_ref()));
    }
    if let Some(h) = step.how {
        s.push_str(&format!(" {h:?}").to_lowercase());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_set() {
        let text = |n: &str| {
            format!(
                "name = \"{n}\"\nconclusion = \"C1\"\nsummary = \"s\"\n[endpoints.server]\nhost = \"server\"\nprogram = \"server\"\n"
            )
        };
        let all: Vec<Scenario> = (0..7)
            .map(|i| Scenario::parse("x.toml", &text(&format!("s{i}")), Profile::Fast).unwrap())
            .collect();
        let mut union: Vec<String> = Vec::new();
        for k in 1..=3 {
            let part = shard(all.clone(), k, 3);
            assert!(part.len() == 2 || part.len() == 3);
            union.extend(part.into_iter().map(|s| s.name));
        }
        union.sort();
        let mut names: Vec<String> = all.iter().map(|s| s.name.clone()).collect();
        names.sort();
        assert_eq!(union, names);
        assert!(parse_shard("0/3").is_err());
        assert!(parse_shard("4/3").is_err());
        assert!(parse_shard("x").is_err());
        assert_eq!(parse_shard("2/3").unwrap(), (2, 3));
    }
}

/// Progress while scenarios run: on a terminal, one live line per running
/// scenario (elapsed, and the model's predicted remaining time), redrawn every
/// second; elsewhere (CI logs) a plain line per running scenario every 30 s,
/// and only for scenarios that run that long.
struct Progress {
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
    fn new(enabled: bool) -> Progress {
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr())
            && std::env::var_os("NO_COLOR").is_none();
        Progress {
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

    fn run(&self) {
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

    fn finish(&self) {
        self.done.store(true, Ordering::SeqCst);
        if self.tty {
            let mut st = self.state.lock().unwrap();
            Self::clear(&mut std::io::stderr().lock(), &mut st);
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

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Output directories of runs (e.g. one per CI shard)
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where the merged summary.json, junit.xml, index.html and scenario directories go
    #[arg(long)]
    pub out: PathBuf,
}

/// `teardown merge DIR... --out DIR`: one summary, JUnit file and index for
/// several runs (shards); each scenario's directory is copied along.
pub fn merge_main(args: MergeArgs) -> Result<i32> {
    let mut parts = Vec::new();
    for d in &args.dirs {
        let path = d.join("summary.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| crate::bad_input(format!("{}: {e}", path.display())))?;
        let summary: Summary = serde_json::from_str(&text)
            .map_err(|e| crate::bad_input(format!("{}: not a run summary: {e}", path.display())))?;
        parts.push((d.clone(), summary));
    }
    let merged = merge(&parts)?;
    std::fs::create_dir_all(&args.out)?;
    for (dir, s) in &parts {
        for r in &s.scenarios {
            let from = dir.join(&r.name);
            let to = args.out.join(&r.name);
            if from.is_dir() && std::fs::canonicalize(&from).ok() != std::fs::canonicalize(&to).ok()
            {
                copy_dir(&from, &to).with_context(|| format!("copying {}", from.display()))?;
            }
        }
    }
    write_run_outputs(&args.out, &merged)?;
    let color = std::env::var_os("NO_COLOR").is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stdout());
    print!("{}", teardown_core::report::table(&merged, color));
    println!("output: {}", args.out.display());
    let any_fail = merged.scenarios.iter().any(|s| s.verdict == Verdict::Fail);
    let any_error = merged.scenarios.iter().any(|s| s.verdict == Verdict::Error);
    Ok(if any_fail {
        1
    } else if any_error {
        3
    } else {
        0
    })
}

/// Combines run summaries: every scenario once (a name in two parts is an
/// error), sorted by name like a single run; the wall time is the longest
/// part's (shards run side by side).
pub fn merge(parts: &[(PathBuf, Summary)]) -> Result<Summary> {
    let mut scenarios: Vec<ScenarioResult> = Vec::new();
    for (dir, s) in parts {
        for r in &s.scenarios {
            if scenarios.iter().any(|x| x.name == r.name) {
                return Err(crate::bad_input(format!(
                    "scenario {} appears in more than one run ({})",
                    r.name,
                    dir.display()
                )));
            }
            scenarios.push(r.clone());
        }
    }
    scenarios.sort_by(|a, b| a.name.cmp(&b.name));
    let first = parts.first().map(|(_, s)| s);
    Ok(Summary {
        repeats: teardown_core::report::repeat_stats(&scenarios),
        scenarios,
        wall_seconds: parts
            .iter()
            .map(|(_, s)| s.wall_seconds)
            .fold(0.0, f64::max),
        kernel: first.map(|s| s.kernel.clone()).unwrap_or_default(),
        profile: first.map(|s| s.profile.clone()).unwrap_or_default(),
    })
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}
