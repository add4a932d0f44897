//! The kernel matrix's report: the same suite on several kernels, merged
//! into one `summary.json`, one JUnit file and one `index.html` with a
//! column per kernel (`teardown matrix`).
//!
//! Contract: pure functions from each kernel's run ([`KernelRun`]: its
//! `summary.json`, how it ran, its boot time) to text. A scenario missing
//! from a kernel's run shows as not run there (`–`), never as a pass. A
//! conclusion *held* on a kernel when every scenario of it that ran there
//! (not skipped) passed, and at least one ran. The kernel-dependent checks
//! (an expectation with a kernel range: [`crate::scenario::KernelRange`])
//! are listed per kernel, so the differences between kernels are read off
//! the report, each with the upstream change it names.

use super::{secs, xml_escape, ScenarioResult, Summary, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// How a kernel's suite ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// On the machine itself.
    Host,
    /// In a guest under KVM.
    Kvm,
    /// In a guest under QEMU's software emulation (TCG).
    Tcg,
}

impl Accel {
    pub fn describe(self) -> &'static str {
        match self {
            Accel::Host => "the host itself",
            Accel::Kvm => "guest, KVM",
            Accel::Tcg => "guest, QEMU emulation (TCG)",
        }
    }
}

/// One kernel's run, as the matrix collected it.
#[derive(Clone, Debug)]
pub struct KernelRun {
    /// The column's name (`6.1.0-57-amd64`, `host`).
    pub label: String,
    pub accel: Accel,
    /// Boot to the guest's first command (the guest's uptime then); none on the host.
    pub boot_seconds: Option<f64>,
    /// The run's folder, relative to the matrix's.
    pub dir: String,
    pub summary: Summary,
}

/// `summary.json` of a matrix.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MatrixSummary {
    pub kernels: Vec<KernelColumn>,
    /// Every scenario run on any kernel, by name; its cells in `kernels`' order.
    pub scenarios: Vec<MatrixRow>,
    /// Per conclusion, whether it held on each kernel.
    pub conclusions: Vec<ConclusionRow>,
    pub profile: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KernelColumn {
    pub label: String,
    /// `uname -r` inside.
    pub kernel: String,
    pub accel: Accel,
    pub boot_seconds: Option<f64>,
    /// The suite's wall time on that kernel.
    pub wall_seconds: f64,
    /// `wall_seconds` over the host's (when the host ran too).
    pub vs_host: Option<f64>,
    pub dir: String,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MatrixRow {
    pub name: String,
    pub conclusion: String,
    pub family: String,
    pub cells: Vec<Cell>,
}

/// A scenario on one kernel.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cell {
    /// None: not run on that kernel.
    pub verdict: Option<Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_seconds: Option<f64>,
    /// The kernel-dependent checks that applied there (their names carry the range and the change).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel_checks: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConclusionRow {
    pub conclusion: String,
    pub cells: Vec<Held>,
}

/// A conclusion on one kernel: of the scenarios of it that ran (not skipped), how many passed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub passed: usize,
    pub ran: usize,
    pub skipped: usize,
}

impl Held {
    pub fn held(self) -> bool {
        self.ran > 0 && self.passed == self.ran
    }

    fn text(self) -> String {
        match (self.ran, self.skipped) {
            (0, 0) => "–".to_string(),
            (0, s) => format!("skipped ({s})"),
            (r, _) if self.held() => format!("held ({r}/{r})"),
            (r, _) => format!("NOT held ({}/{r})", self.passed),
        }
    }
}

/// Merges the kernels' runs.
pub fn merge(runs: &[KernelRun]) -> MatrixSummary {
    let host_wall = runs
        .iter()
        .find(|r| r.accel == Accel::Host)
        .map(|r| r.summary.wall_seconds);
    let kernels = runs.iter().map(|r| column(r, host_wall)).collect();
    let names: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.summary.scenarios.iter().map(|s| s.name.as_str()))
        .collect();
    let scenarios: Vec<MatrixRow> = names.iter().map(|name| row(runs, name)).collect();
    let conclusion_ids: BTreeSet<&str> = scenarios.iter().map(|r| r.conclusion.as_str()).collect();
    let conclusions = conclusion_ids
        .iter()
        .map(|id| ConclusionRow {
            conclusion: id.to_string(),
            cells: (0..runs.len())
                .map(|k| held_on(&scenarios, id, k))
                .collect(),
        })
        .collect();
    MatrixSummary {
        kernels,
        scenarios,
        conclusions,
        profile: runs
            .first()
            .map(|r| r.summary.profile.clone())
            .unwrap_or_default(),
    }
}

/// A kernel's column head: how it ran, its times, its counts.
fn column(r: &KernelRun, host_wall: Option<f64>) -> KernelColumn {
    let count = |v: Verdict| {
        r.summary
            .scenarios
            .iter()
            .filter(|s| s.verdict == v)
            .count()
    };
    KernelColumn {
        label: r.label.clone(),
        kernel: r.summary.kernel.clone(),
        accel: r.accel,
        boot_seconds: r.boot_seconds,
        wall_seconds: r.summary.wall_seconds,
        vs_host: host_wall
            .filter(|h| *h > 0.0 && r.accel != Accel::Host)
            .map(|h| r.summary.wall_seconds / h),
        dir: r.dir.clone(),
        passed: count(Verdict::Pass),
        failed: count(Verdict::Fail),
        errors: count(Verdict::Error),
        skipped: count(Verdict::Skip),
    }
}

/// Scenario `name` on every kernel (at least one of `runs` ran it).
fn row(runs: &[KernelRun], name: &str) -> MatrixRow {
    fn find<'a>(r: &'a KernelRun, name: &str) -> Option<&'a ScenarioResult> {
        r.summary.scenarios.iter().find(|s| s.name == name)
    }
    let any = runs
        .iter()
        .find_map(|r| find(r, name))
        .expect("named by a run");
    MatrixRow {
        name: name.to_string(),
        conclusion: any.conclusion.clone(),
        family: any.family.clone(),
        cells: runs
            .iter()
            .map(|r| match find(r, name) {
                Some(s) => Cell {
                    verdict: Some(s.verdict),
                    reason: s.reason.clone(),
                    measured_seconds: s.measured_seconds,
                    kernel_checks: s
                        .checks
                        .iter()
                        .filter(|c| c.kernel.is_some())
                        .map(|c| c.name.clone())
                        .collect(),
                },
                None => Cell {
                    verdict: None,
                    reason: None,
                    measured_seconds: None,
                    kernel_checks: vec![],
                },
            })
            .collect(),
    }
}

/// Conclusion `id` on kernel column `k`: its scenarios that ran, passed, were skipped.
fn held_on(scenarios: &[MatrixRow], id: &str, k: usize) -> Held {
    let mut h = Held::default();
    for row in scenarios.iter().filter(|r| r.conclusion == id) {
        match row.cells[k].verdict {
            Some(Verdict::Skip) => h.skipped += 1,
            Some(Verdict::Pass) => {
                h.ran += 1;
                h.passed += 1
            }
            Some(_) => h.ran += 1,
            None => {}
        }
    }
    h
}

/// The JUnit file: one `<testsuite>` per kernel, named after it.
pub fn junit(runs: &[KernelRun]) -> String {
    let names: Vec<String> = runs
        .iter()
        .map(|r| format!("kernel {} ({})", r.summary.kernel, r.accel.describe()))
        .collect();
    let suites: Vec<(&str, &Summary)> = names
        .iter()
        .zip(runs)
        .map(|(n, r)| (n.as_str(), &r.summary))
        .collect();
    super::junit_document(&suites)
}

fn verdict_text(v: Option<Verdict>) -> (&'static str, &'static str) {
    match v {
        Some(Verdict::Pass) => ("pass", "pass"),
        Some(Verdict::Fail) => ("FAIL", "fail"),
        Some(Verdict::Error) => ("ERROR", "error"),
        Some(Verdict::Skip) => ("skip", "skip"),
        None => ("–", "muted"),
    }
}

fn esc(s: &str) -> String {
    xml_escape(s)
}

fn ratio(r: Option<f64>) -> String {
    r.map(|x| format!("{x:.2}x")).unwrap_or_else(|| "–".into())
}

/// The matrix's `index.html`: the kernels, the conclusions by kernel, every
/// scenario by kernel (each cell links to that kernel's report of it), and
/// the kernel-dependent checks.
pub fn render_index(m: &MatrixSummary) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>tcp-teardown-lab kernel matrix</title><style>{}</style></head><body>\n<h1>tcp-teardown-lab kernel matrix</h1>\n<p class=\"muted\">profile {} · {} kernels · {} scenarios</p>\n",
        super::html::STYLE,
        esc(&m.profile),
        m.kernels.len(),
        m.scenarios.len()
    );
    kernels_table(&mut o, m);
    let head: String = m
        .kernels
        .iter()
        .map(|k| format!("<th>{}</th>", esc(&k.label)))
        .collect();
    conclusions_table(&mut o, m, &head);
    scenarios_table(&mut o, m, &head);
    kernel_checks(&mut o, m);
    skip_reasons(&mut o, m);
    o.push_str("</body></html>\n");
    o
}

fn kernels_table(o: &mut String, m: &MatrixSummary) {
    o.push_str("<h2>Kernels</h2>\n<table><tr><th>kernel</th><th>ran as</th><th>boot to first command</th><th>suite wall</th><th>vs host</th><th>pass</th><th>fail</th><th>error</th><th>skip</th></tr>\n");
    for k in &m.kernels {
        let _ = writeln!(
            o,
            "<tr><td><a href=\"{}/index.html\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&k.dir),
            esc(&k.kernel),
            k.accel.describe(),
            secs(k.boot_seconds),
            secs(Some(k.wall_seconds)),
            ratio(k.vs_host),
            k.passed,
            k.failed,
            k.errors,
            k.skipped
        );
    }
    o.push_str("</table>\n");
}

fn conclusions_table(o: &mut String, m: &MatrixSummary, head: &str) {
    let _ = write!(
        o,
        "<h2>Conclusions by kernel</h2>\n<table><tr><th>conclusion</th>{head}</tr>\n"
    );
    for c in &m.conclusions {
        let cells: String = c
            .cells
            .iter()
            .map(|h| {
                let class = match (h.ran, h.held()) {
                    (0, _) => "muted",
                    (_, true) => "pass",
                    (_, false) => "fail",
                };
                format!("<td class=\"{class}\">{}</td>", esc(&h.text()))
            })
            .collect();
        let _ = writeln!(o, "<tr><td>{}</td>{cells}</tr>", esc(&c.conclusion));
    }
    o.push_str("</table>\n");
}

fn scenarios_table(o: &mut String, m: &MatrixSummary, head: &str) {
    let _ = write!(
        o,
        "<h2>Scenarios by kernel</h2>\n<table><tr><th>scenario</th><th>conclusion</th>{head}</tr>\n"
    );
    for row in &m.scenarios {
        let cells: String = row
            .cells
            .iter()
            .zip(&m.kernels)
            .map(|(c, k)| {
                let (text, class) = verdict_text(c.verdict);
                let title = c.reason.as_deref().map(esc).unwrap_or_default();
                match c.verdict {
                    Some(_) => format!(
                        "<td class=\"{class}\" title=\"{title}\"><a class=\"{class}\" href=\"{}/index.html#{}\">{text}</a></td>",
                        esc(&k.dir),
                        super::html::anchor(&row.name)
                    ),
                    None => format!("<td class=\"{class}\">{text}</td>"),
                }
            })
            .collect();
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td>{cells}</tr>",
            esc(&row.name),
            esc(&row.conclusion)
        );
    }
    o.push_str("</table>\n");
}

fn kernel_checks(o: &mut String, m: &MatrixSummary) {
    o.push_str("<h2>Kernel-dependent checks</h2>\n<p class=\"muted\">Expectations that hold only on some kernels, as each kernel's run checked them; each names the upstream change behind the difference.</p>\n<ul>\n");
    for row in m
        .scenarios
        .iter()
        .filter(|r| r.cells.iter().any(|c| !c.kernel_checks.is_empty()))
    {
        for (c, k) in row.cells.iter().zip(&m.kernels) {
            for name in &c.kernel_checks {
                let (text, class) = verdict_text(c.verdict);
                let _ = writeln!(
                    o,
                    "<li>{} on {}: {} <span class=\"{class}\">{text}</span></li>",
                    esc(&row.name),
                    esc(&k.label),
                    esc(name)
                );
            }
        }
    }
    o.push_str("</ul>\n");
}

fn skip_reasons(o: &mut String, m: &MatrixSummary) {
    let skips: Vec<(&MatrixRow, &KernelColumn, &str)> = m
        .scenarios
        .iter()
        .flat_map(|r| {
            r.cells
                .iter()
                .zip(&m.kernels)
                .filter(|(c, _)| c.verdict == Some(Verdict::Skip))
                .map(move |(c, k)| (r, k, c.reason.as_deref().unwrap_or("")))
        })
        .collect();
    if !skips.is_empty() {
        o.push_str("<h2>Skipped, with the reason</h2>\n<ul>\n");
        for (r, k, why) in skips {
            let _ = writeln!(
                o,
                "<li>{} on {}: {}</li>",
                esc(&r.name),
                esc(&k.label),
                esc(why)
            );
        }
        o.push_str("</ul>\n");
    }
}

/// The terminal table: a row per kernel (how it ran, boot, wall, the
/// ratio to the host's wall, the counts), then every scenario that did not
/// pass everywhere, with its verdict per kernel.
pub fn table(m: &MatrixSummary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<24} {:<28} {:>8} {:>9} {:>8} {:>5} {:>5} {:>5} {:>5}",
        "kernel", "ran as", "boot", "suite", "vs host", "pass", "fail", "error", "skip"
    );
    for k in &m.kernels {
        let _ = writeln!(
            o,
            "{:<24} {:<28} {:>8} {:>9} {:>8} {:>5} {:>5} {:>5} {:>5}",
            k.label,
            k.accel.describe(),
            secs(k.boot_seconds),
            secs(Some(k.wall_seconds)),
            ratio(k.vs_host),
            k.passed,
            k.failed,
            k.errors,
            k.skipped
        );
    }
    let odd: Vec<&MatrixRow> = m
        .scenarios
        .iter()
        .filter(|r| r.cells.iter().any(|c| c.verdict != Some(Verdict::Pass)))
        .collect();
    if !odd.is_empty() {
        let _ = writeln!(o, "\nnot a pass on every kernel:");
        for r in odd {
            let cells: Vec<String> = r
                .cells
                .iter()
                .zip(&m.kernels)
                .map(|(c, k)| format!("{} {}", k.label, verdict_text(c.verdict).0))
                .collect();
            let _ = writeln!(o, "  {:<40} {}", r.name, cells.join(", "));
            for (c, k) in r.cells.iter().zip(&m.kernels) {
                if let (Some(Verdict::Fail | Verdict::Error | Verdict::Skip), Some(why)) =
                    (c.verdict, &c.reason)
                {
                    let _ = writeln!(o, "      {}: {}", k.label, super::one_line(why));
                }
            }
        }
    }
    o
}

/// 1 when a check failed on any kernel, 3 when a scenario errored, else 0
/// (skips are not failures), as `teardown run`.
pub fn exit_code(m: &MatrixSummary) -> i32 {
    let any = |v: Verdict| {
        m.scenarios
            .iter()
            .any(|r| r.cells.iter().any(|c| c.verdict == Some(v)))
    };
    if any(Verdict::Fail) {
        1
    } else if any(Verdict::Error) {
        3
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Check;
    use std::collections::BTreeMap;

    fn result(name: &str, conclusion: &str, v: Verdict, checks: Vec<Check>) -> ScenarioResult {
        ScenarioResult {
            name: name.into(),
            file: format!("scenarios/{name}.toml"),
            conclusion: conclusion.into(),
            summary: "s".into(),
            family: "v4".into(),
            topology: "switched".into(),
            profile: "fast".into(),
            verdict: v,
            reason: (v == Verdict::Skip).then(|| "kernel lacks sch_netem".to_string()),
            wall_seconds: 1.0,
            predicted_seconds: None,
            measured_seconds: None,
            checks,
            ran_as: BTreeMap::new(),
            artifacts: BTreeMap::new(),
        }
    }

    fn run(label: &str, accel: Accel, wall: f64, scenarios: Vec<ScenarioResult>) -> KernelRun {
        KernelRun {
            label: label.into(),
            accel,
            boot_seconds: (accel != Accel::Host).then_some(25.0),
            dir: label.into(),
            summary: Summary {
                scenarios,
                repeats: vec![],
                wall_seconds: wall,
                kernel: format!("{label}-amd64"),
                profile: "fast".into(),
            },
        }
    }

    /// A passed check; `name [kernels ...: change]` carries its range in the field too.
    fn check(name: &str) -> Check {
        Check {
            kernel: name
                .split_once(" [")
                .map(|(_, k)| k.trim_end_matches(']').to_string()),
            name: name.into(),
            ok: true,
            evidence: vec![],
        }
    }

    #[test]
    fn a_column_per_kernel_and_conclusions_held_per_kernel() {
        let old = check(
            "client gets error ETIMEDOUT after connect [kernels before 6.5, IPv4: ccce324dabfe]",
        );
        let new = check(
            "client gets error EHOSTUNREACH after connect [kernels 6.5 and later: ccce324dabfe]",
        );
        let runs = vec![
            run(
                "6.1.0-57",
                Accel::Tcg,
                300.0,
                vec![
                    result(
                        "x-connect-powered-off",
                        "X-CONNECT-OFF",
                        Verdict::Pass,
                        vec![old.clone()],
                    ),
                    result("x-netem-delay", "X-NETEM", Verdict::Pass, vec![]),
                    result("c3-cut-while-sending", "C3", Verdict::Fail, vec![]),
                ],
            ),
            run(
                "host",
                Accel::Host,
                100.0,
                vec![
                    result(
                        "x-connect-powered-off",
                        "X-CONNECT-OFF",
                        Verdict::Pass,
                        vec![new.clone()],
                    ),
                    result("x-netem-delay", "X-NETEM", Verdict::Skip, vec![]),
                    result("c3-cut-while-sending", "C3", Verdict::Pass, vec![]),
                ],
            ),
        ];
        let m = merge(&runs);
        assert_eq!(m.kernels.len(), 2);
        assert_eq!(m.kernels[0].vs_host, Some(3.0));
        assert_eq!(
            m.kernels[1].vs_host, None,
            "the host is not compared with itself"
        );
        assert_eq!((m.kernels[0].passed, m.kernels[0].failed), (2, 1));
        assert_eq!(m.kernels[1].skipped, 1);
        let c3 = m.conclusions.iter().find(|c| c.conclusion == "C3").unwrap();
        assert!(!c3.cells[0].held() && c3.cells[1].held());
        let netem = m
            .conclusions
            .iter()
            .find(|c| c.conclusion == "X-NETEM")
            .unwrap();
        assert!(netem.cells[0].held());
        assert_eq!(
            netem.cells[1],
            Held {
                passed: 0,
                ran: 0,
                skipped: 1
            }
        );
        assert!(!netem.cells[1].held(), "a skip is not a held conclusion");
        let off = m
            .scenarios
            .iter()
            .find(|r| r.name == "x-connect-powered-off")
            .unwrap();
        assert_eq!(off.cells[0].kernel_checks, vec![old.name.clone()]);
        assert_eq!(off.cells[1].kernel_checks, vec![new.name.clone()]);
        assert_eq!(exit_code(&m), 1);
        let html = render_index(&m);
        assert!(
            html.contains("<th>6.1.0-57</th><th>host</th>"),
            "a column per kernel"
        );
        assert!(
            html.contains("href=\"6.1.0-57/index.html#"),
            "cells link to the kernel's run"
        );
        assert!(
            html.contains("ccce324dabfe"),
            "the kernel-dependent checks name their change"
        );
        assert!(html.contains("kernel lacks sch_netem"), "skips say why");
        let junit = junit(&runs);
        assert_eq!(junit.matches("<testsuite ").count(), 2);
        assert!(junit.contains("skipped=\"1\""));
        let table = table(&m);
        assert!(table.contains("3.00x"), "{table}");
        assert!(table.contains("c3-cut-while-sending"), "{table}");
    }

    #[test]
    fn a_scenario_missing_from_a_kernel_is_not_run_there_not_a_pass() {
        let runs = vec![
            run(
                "a",
                Accel::Tcg,
                1.0,
                vec![result("s", "C1", Verdict::Pass, vec![])],
            ),
            run("b", Accel::Tcg, 1.0, vec![]),
        ];
        let m = merge(&runs);
        assert_eq!(m.scenarios[0].cells[1].verdict, None);
        assert_eq!(m.conclusions[0].cells[1], Held::default());
        assert!(!m.conclusions[0].cells[1].held());
        assert!(render_index(&m).contains("<td class=\"muted\">–</td>"));
    }
}
