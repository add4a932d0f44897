//! One scenario, start to end: register the run, build its lab, execute the
//! timeline, take the lab down (on every path: a drop guard), evaluate.

use super::supervise::lab_host;
use super::timeline::Run;
use crate::capture::{Capture, CaptureResult};
use crate::cleanup::RunRecord;
use crate::record::{Recorder, Records};
use crate::sys::now_ns;
use crate::topology::Lab;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use teardown_core::evidence::{Event, Evidence};
use teardown_core::report::{ScenarioResult, Verdict};
use teardown_core::scenario::{Family, Host, Scenario, Topology};

/// A fresh lab id: 8 hex digits (interface-name budget). The first four are
/// the process's (its pid mixed with its start time, so labs of concurrent
/// runs and leftovers of a killed one differ), the last four count this
/// process's labs: no two labs of one run share an id. (A flake: the id used
/// to mix the pid, the clock and the count into 32 bits, and two of 1480 labs
/// of one `--repeat 20` once got the same one: EEXIST on its namespace.)
pub fn new_run_id() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    static PROCESS: OnceLock<u16> = OnceLock::new();
    let process = *PROCESS.get_or_init(|| {
        let mix = (u64::from(std::process::id()) << 16) ^ (now_ns() / 1000);
        (mix ^ (mix >> 16) ^ (mix >> 32)) as u16
    });
    let n = COUNTER.fetch_add(1, Ordering::SeqCst) as u16;
    format!("{process:04x}{n:04x}")
}

/// Runs one scenario and writes its `report.json`; a panic inside becomes an
/// `error` verdict (the lab's drop guard has run).
///
/// The one place a result is completed, on every path (pass, fail, error,
/// panic): its wall time is taken here, once, when the scenario's work (lab,
/// timeline, evaluation) is over, and only then is `report.json` written,
/// from that complete result: the same value `summary.json`, `junit.xml`
/// and the table show, since they are all made from the result returned.
pub fn run_scenario_guarded(sc: &Scenario, out: &Path) -> ScenarioResult {
    let started = Instant::now();
    let mut r =
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
                r
            }
        };
    r.wall_seconds = started.elapsed().as_secs_f64();
    write_report(sc, out, &mut r);
    r
}

/// `report.json` of a complete result; the result lists it among its
/// artifacts only when it was written.
fn write_report(sc: &Scenario, out: &Path, r: &mut ScenarioResult) {
    let path = out.join(&sc.name).join("report.json");
    r.artifacts
        .insert("report".into(), format!("{}/report.json", sc.name));
    let written = serde_json::to_string_pretty(&r)
        .map_err(std::io::Error::from)
        .and_then(|j| std::fs::write(&path, j));
    if let Err(e) = written {
        r.artifacts.remove("report");
        eprintln!("teardown: writing {}: {e}", path.display());
    }
}

pub(super) fn empty_result(sc: &Scenario) -> ScenarioResult {
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
        // Set once, by run_scenario_guarded, when the result is complete.
        wall_seconds: 0.0,
        predicted_seconds: None,
        measured_seconds: None,
        checks: vec![],
        ran_as: Default::default(),
        artifacts: BTreeMap::new(),
    }
}

/// Forgets the run in /run/teardown on every path. Declared before the lab,
/// so it drops after it: the record goes only once the lab (which tears itself
/// down on drop, panics included) is gone.
struct Registration(RunRecord);

impl Drop for Registration {
    fn drop(&mut self) {
        self.0.unregister();
    }
}

/// The scenario's result, complete but for its wall time (set by
/// [`run_scenario_guarded`], which writes `report.json`).
pub(super) fn run_scenario(sc: &Scenario, out: &Path) -> ScenarioResult {
    let mut result = empty_result(sc);
    // The accounts the supervisor will resolve the same way (checked before any lab).
    result.ran_as = sc
        .endpoints
        .iter()
        .map(|(name, ep)| {
            let who = crate::account::resolve(&ep.user).map_or_else(|e| e, |a| a.describe());
            (name.clone(), who)
        })
        .collect();
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
    let _registration = match RunRecord::register(&id, names) {
        Ok(r) => Registration(r),
        Err(e) => {
            result.reason = Some(format!("registering the run: {e:#}"));
            return result;
        }
    };
    // Start-up (lab, endpoints, readiness) behind the gate; the timeline
    // gives the permit back once the endpoints are ready.
    let permit = super::gate::enter();
    tracing::info!(scenario = %sc.name, lab = %id, "building the lab");
    let lab = match Lab::up(&id, sc.topology) {
        Ok(l) => l,
        Err(e) => {
            result.reason = Some(format!("building the lab: {e:#}"));
            return result;
        }
    };
    let outcome = execute(sc, &lab, &dir, permit);
    // Everything is recorded; the lab goes now (before writing reports).
    if let Err(e) = lab.down() {
        eprintln!("teardown: removing lab {}: {e:#}", lab.id);
    }
    drop(lab);
    match outcome {
        Ok((evidence, problems)) => finish(sc, &dir, evidence, problems, &mut result),
        Err(e) => result.reason = Some(format!("{e:#}")),
    }
    result
}

/// Sets the hosts' sysctls and pins their neighbour entries.
fn prepare_hosts(sc: &Scenario, lab: &Lab) -> Result<()> {
    for (host, map) in &sc.sysctls {
        for (k, v) in map {
            lab.set_sysctl(lab_host(*host), k, v)
                .with_context(|| format!("on host {host}"))?;
        }
    }
    for host in &sc.static_neighbours {
        lab.pin_neighbour(lab_host(*host))?;
    }
    Ok(())
}

/// Sets sysctls, starts capture, samplers and endpoints, runs the timeline,
/// stops recording. Returns the evidence and the harness problems met.
pub(super) fn execute(
    sc: &Scenario,
    lab: &Lab,
    dir: &Path,
    startup: super::gate::Permit,
) -> Result<(Evidence, Vec<String>)> {
    prepare_hosts(sc, lab)?;
    crate::steal::start();
    crate::ticks::start();
    let recorder = Arc::new(Recorder::new());
    let capture = Capture::start(crate::capture::port_specs(lab), recorder.clone())?;
    let start_ns = now_ns();
    let mut run = Run::new(sc, lab, recorder.clone(), dir, capture.bound(), start_ns);
    run.startup = Some(startup);
    let mut steps = Vec::new();
    if let Err(e) = run.timeline(&mut steps) {
        run.problems.push(format!("{e:#}"));
    }
    // Let the wire go quiet (what was already sent reaches the capture), then stop recording.
    run.settle();
    run.report_budgets();
    run.stop_samplers();
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
    // A crash the timeline already gave as its reason (it names the pid) is not repeated.
    for crash in teardown_core::verdict::endpoint_crashes(&records.events) {
        let pid = crash.rsplit_once("(pid ").map(|(_, p)| format!("(pid {p}"));
        if !pid.is_some_and(|pid| problems.iter().any(|p| p.contains(&pid))) {
            problems.push(crash);
        }
    }
    write_capture(dir, &cap, &records.events)?;
    // By time, as capture.pcapng holds them (each port's thread records its
    // own): the analysis reads packets in their order, like a file's.
    let mut packets = records.packets;
    packets.sort_by_key(|p| p.ts_ns);
    let evidence = Evidence {
        client_ips: host_ips(Host::Client),
        server_ips: host_ips(Host::Server),
        packets,
        events: records.events,
        sockets: records.sockets,
        steps,
        steal: crate::steal::between(start_ns, end_ns),
        ticks: crate::ticks::between(start_ns, end_ns),
        start_ns,
        end_ns,
    };
    Ok((evidence, problems))
}

/// A host's addresses, both families.
fn host_ips(h: Host) -> Vec<IpAddr> {
    let h = lab_host(h);
    vec![IpAddr::V4(h.v4()), IpAddr::V6(h.v6())]
}

/// `capture.pcapng` (every port) and one file per port (`client-port.pcapng`,
/// `server-port.pcapng`), each with the harness's events as packet comments.
fn write_capture(dir: &Path, cap: &CaptureResult, events: &[Event]) -> Result<()> {
    let mut annotations: Vec<(u64, String)> = events
        .iter()
        .filter(|e| e.source == teardown_core::evidence::HARNESS)
        .map(|e| {
            (
                e.ts_ns,
                format!("{} {}", e.kind, e.detail.clone().unwrap_or_default()),
            )
        })
        .collect();
    annotations.sort();
    crate::capture::write_pcapng(&dir.join("capture.pcapng"), cap, &annotations)?;
    for (i, name) in cap.ports.iter().enumerate() {
        let path = dir.join(format!("{name}.pcapng"));
        crate::capture::write_port_pcapng(&path, cap, i, &annotations)?;
    }
    Ok(())
}

/// `events.jsonl` (by time), `sockets.jsonl` and `steal.jsonl`.
fn write_records(dir: &Path, ev: &Evidence) -> Result<()> {
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
    let steal_lines = ev
        .steal
        .iter()
        .filter_map(|s| serde_json::to_string(s).ok())
        .collect();
    let tick_lines = ev
        .ticks
        .iter()
        .filter_map(|t| serde_json::to_string(t).ok())
        .collect();
    write_jsonl("events.jsonl", ev_lines)
        .and_then(|_| write_jsonl("sockets.jsonl", sock_lines))
        .and_then(|_| write_jsonl("steal.jsonl", steal_lines))
        .and_then(|_| write_jsonl("ticks.jsonl", tick_lines))
}

/// Writes the run's records and ladder, evaluates, decides the verdict
/// (`report.json` comes once the result is complete: [`run_scenario_guarded`]).
pub(super) fn finish(
    sc: &Scenario,
    dir: &Path,
    ev: Evidence,
    problems: Vec<String>,
    result: &mut ScenarioResult,
) {
    let mut problems = problems;
    if let Err(e) = write_records(dir, &ev) {
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
        ("pcap_client_port", "client-port.pcapng"),
        ("pcap_server_port", "server-port.pcapng"),
        ("events", "events.jsonl"),
        ("sockets", "sockets.jsonl"),
        ("steal", "steal.jsonl"),
        ("ticks", "ticks.jsonl"),
    ] {
        result
            .artifacts
            .insert(k.into(), format!("{}/{f}", sc.name));
    }
    let o = teardown_core::verdict::outcome(sc, &ev, &problems);
    result.checks = o.checks;
    result.predicted_seconds = o.predicted_seconds;
    result.measured_seconds = o.measured_seconds;
    result.verdict = o.verdict;
    if o.reason.is_some() {
        result.reason = o.reason;
    }
}

#[cfg(test)]
mod tests {
    use super::new_run_id;

    #[test]
    fn run_ids_of_one_process_never_repeat() {
        let ids: std::collections::BTreeSet<String> = (0..20_000).map(|_| new_run_id()).collect();
        assert_eq!(ids.len(), 20_000);
        assert!(ids.iter().all(|i| i.len() == 8));
    }
}
