//! Reports: the run summary (`summary.json`), the terminal table, JUnit XML
//! ([`self`]), SVG ladder diagrams ([`ladder`]) and the HTML index ([`html`]).
//!
//! Contract: pure functions from results to text; the runner writes the files.
//! They never panic on any summary (empty, NaN times, any characters in
//! names or evidence): [`junit`] output is always well-formed XML 1.0, with
//! characters XML cannot carry replaced by U+FFFD.
//!
//! - [`table`]: the terminal table `teardown run` prints: one row per
//!   scenario (scenario, conclusion, family, verdict, wall time, predicted and
//!   measured key time: [`ScenarioResult::predicted_seconds`]), and under
//!   each failed or errored scenario one line per failed check with its first
//!   evidence line, or the error's reason.
//! - [`junit`]: JUnit XML, one `<testsuite>` in a `<testsuites>` root, one
//!   `<testcase>` per scenario with `classname` = its conclusion ID; a failed
//!   scenario has a `<failure>` listing its failed checks with their evidence,
//!   an errored one an `<error>` with the reason; every check is listed in
//!   `<system-out>`.
//! - [`summary_json`]: `summary.json`, pretty-printed.

pub mod html;
pub mod ladder;
pub mod matrix;

use crate::evidence::Check;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Error,
    /// Not run: the kernel lacks a feature the scenario needs (the reason
    /// says which, with `teardown doctor`'s words). Not a failure.
    Skip,
}

/// One scenario's result (an entry of `summary.json`'s `scenarios`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: String,
    pub file: String,
    pub conclusion: String,
    pub summary: String,
    /// `v4` or `v6`.
    pub family: String,
    /// `switched` or `direct`.
    pub topology: String,
    pub profile: String,
    pub verdict: Verdict,
    /// Why the verdict is `error` (capture drops, endpoint crashed, wait timed out, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The scenario's run, from its start to its complete result (lab up,
    /// timeline, lab down, evaluation): set once, before any output is
    /// written, so `report.json`, `summary.json`, JUnit and the table show
    /// the same value.
    pub wall_seconds: f64,
    /// The model's time of the key event of the scenario's key check
    /// ([`crate::verdict::key_check`]: the first `dies` expectation, else the
    /// first `schedule` or `gone`), from that check's reference
    /// ([`crate::timing::Timed`]); `None` without a model check or when it could not predict.
    #[serde(default)]
    pub predicted_seconds: Option<f64>,
    /// The same event as the run measured it, from the same reference.
    #[serde(default)]
    pub measured_seconds: Option<f64>,
    pub checks: Vec<Check>,
    /// Who ran each endpoint: its name -> the account (`nobody (uid 65534,
    /// gid 65534)`); endpoints run as root only when the scenario says so.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ran_as: BTreeMap<String, String>,
    /// Artifact name (`pcap`, `report`, `events`, `sockets`, `ladder`) -> path relative to the run directory.
    pub artifacts: BTreeMap<String, String>,
}

/// `summary.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub scenarios: Vec<ScenarioResult>,
    /// With `run --repeat N`: per scenario, how many runs passed and the spread of their times.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repeats: Vec<RepeatStat>,
    pub wall_seconds: f64,
    /// `uname -r` of the kernel that ran it.
    pub kernel: String,
    pub profile: String,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::Skip => "skip",
        }
    }
}

/// `1.234s`, `12.3s`, `15m 24.6s`; `-` when absent.
pub(super) fn secs(s: Option<f64>) -> String {
    match s {
        None => "-".to_string(),
        Some(s) if !s.is_finite() => "?".to_string(),
        Some(s) if s >= 600.0 => format!("{}m {:.1}s", (s / 60.0).floor(), s % 60.0),
        Some(s) if s >= 10.0 => format!("{s:.1}s"),
        Some(s) => format!("{s:.3}s"),
    }
}

const RESET: &str = "\x1b[0m";

fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}{RESET}")
    } else {
        text.to_string()
    }
}

fn verdict_code(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "32",
        Verdict::Fail => "31;1",
        Verdict::Error => "33;1",
        Verdict::Skip => "36",
    }
}

/// The terminal table (ANSI colors when `color`).
pub fn table(summary: &Summary, color: bool) -> String {
    let header = [
        "scenario",
        "conclusion",
        "family",
        "verdict",
        "wall",
        "predicted",
        "measured",
    ];
    let rows: Vec<[String; 7]> = summary
        .scenarios
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.conclusion.clone(),
                r.family.clone(),
                r.verdict.name().to_string(),
                secs(Some(r.wall_seconds)),
                secs(r.predicted_seconds),
                secs(r.measured_seconds),
            ]
        })
        .collect();
    let mut width = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String], v: Option<Verdict>| table_line(cells, &width, v, color);
    let mut out = String::new();
    let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    out.push_str(&paint(&line(&head, None), "1", color));
    out.push('\n');
    for (r, row) in summary.scenarios.iter().zip(&rows) {
        out.push_str(&line(row, Some(r.verdict)));
        out.push('\n');
        if r.verdict != Verdict::Pass {
            out.push_str(&why_not_passed(r, color));
        }
    }
    let count = |v: Verdict| summary.scenarios.iter().filter(|r| r.verdict == v).count();
    let skipped = match count(Verdict::Skip) {
        0 => String::new(),
        n => format!(", {n} skipped"),
    };
    out.push_str(&format!(
        "{} scenarios: {} passed, {} failed, {} errors{skipped} in {} (profile {}, kernel {})\n",
        summary.scenarios.len(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Error),
        secs(Some(summary.wall_seconds)),
        summary.profile,
        summary.kernel
    ));
    out
}

/// A table row padded to the columns' widths: numbers (from column 4)
/// right-aligned, text left-aligned, the verdict (column 3) painted.
fn table_line(
    cells: &[String],
    width: &[usize],
    paint_verdict: Option<Verdict>,
    color: bool,
) -> String {
    let mut out = String::new();
    for (i, cell) in cells.iter().enumerate() {
        let pad = width[i].saturating_sub(cell.chars().count());
        let padded = if i >= 4 {
            format!("{}{cell}", " ".repeat(pad))
        } else {
            format!("{cell}{}", " ".repeat(pad))
        };
        if i > 0 {
            out.push_str("  ");
        }
        match (i, paint_verdict) {
            (3, Some(v)) => out.push_str(&paint(&padded, verdict_code(v), color)),
            _ => out.push_str(&padded),
        }
    }
    out.trim_end().to_string()
}

/// The table's lines under a scenario that did not pass: its error, its
/// failed checks with their first evidence.
fn why_not_passed(r: &ScenarioResult, color: bool) -> String {
    let mut out = String::new();
    if let Some(reason) = &r.reason {
        let (label, v) = match r.verdict {
            Verdict::Skip => ("skipped:", Verdict::Skip),
            _ => ("error:", Verdict::Error),
        };
        out.push_str(&format!(
            "    {} {}\n",
            paint(label, verdict_code(v), color),
            one_line(reason)
        ));
    }
    for c in r.checks.iter().filter(|c| !c.ok) {
        let first = c
            .evidence
            .first()
            .map(|e| format!(": {}", one_line(e)))
            .unwrap_or_default();
        out.push_str(&format!(
            "    {} {}{first}\n",
            paint("x", verdict_code(Verdict::Fail), color),
            one_line(&c.name)
        ));
    }
    if r.reason.is_none() && r.verdict == Verdict::Fail && r.checks.iter().all(|c| c.ok) {
        out.push_str("    (failed without a failed check)\n");
    }
    out
}

/// Newlines and tabs as spaces, so one item stays on one terminal line.
pub(super) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Escapes text for XML 1.0 element content and attribute values (in
/// quotes). Characters XML 1.0 cannot carry at all become U+FFFD; newlines
/// and tabs are written as character references so attributes keep them.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Seconds for JUnit's `time` attributes (finite, non-negative).
fn junit_time(s: f64) -> String {
    if s.is_finite() && s >= 0.0 {
        format!("{s:.3}")
    } else {
        "0.000".to_string()
    }
}

/// JUnit XML for CI: one testsuite, one testcase per scenario.
pub fn junit(summary: &Summary) -> String {
    junit_document(&[("tcp-teardown-lab", summary)])
}

/// A JUnit document of one `<testsuite>` per (name, summary), e.g. one per
/// kernel of a matrix; the root counts them all.
pub fn junit_document(suites: &[(&str, &Summary)]) -> String {
    let count = |v: Verdict| {
        suites
            .iter()
            .flat_map(|(_, s)| &s.scenarios)
            .filter(|r| r.verdict == v)
            .count()
    };
    let n: usize = suites.iter().map(|(_, s)| s.scenarios.len()).sum();
    let (failures, errors) = (count(Verdict::Fail), count(Verdict::Error));
    let time = junit_time(suites.iter().map(|(_, s)| s.wall_seconds).sum());
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"tcp-teardown-lab\" tests=\"{n}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time}\">\n"
    ));
    for (name, summary) in suites {
        x.push_str(&junit_suite(name, summary));
    }
    x.push_str("</testsuites>\n");
    x
}

/// One `<testsuite>`: its counts, the kernel and profile as properties, a
/// testcase per scenario.
fn junit_suite(name: &str, summary: &Summary) -> String {
    let n = summary.scenarios.len();
    let count = |v: Verdict| summary.scenarios.iter().filter(|r| r.verdict == v).count();
    let (failures, errors) = (count(Verdict::Fail), count(Verdict::Error));
    let skipped = count(Verdict::Skip);
    let time = junit_time(summary.wall_seconds);
    let mut x = format!(
        "  <testsuite name=\"{}\" tests=\"{n}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\">\n",
        xml_escape(name)
    );
    x.push_str("    <properties>\n");
    for (k, v) in [("kernel", &summary.kernel), ("profile", &summary.profile)] {
        x.push_str(&format!(
            "      <property name=\"{k}\" value=\"{}\"/>\n",
            xml_escape(v)
        ));
    }
    x.push_str("    </properties>\n");
    for r in &summary.scenarios {
        x.push_str(&junit_testcase(r));
    }
    x.push_str("  </testsuite>\n");
    x
}

/// One scenario's `<testcase>`: its failure or error, and its checks and
/// artifacts as `<system-out>`.
fn junit_testcase(r: &ScenarioResult) -> String {
    let mut x = format!(
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\" file=\"{}\">\n",
        xml_escape(&r.name),
        xml_escape(&r.conclusion),
        junit_time(r.wall_seconds),
        xml_escape(&r.file)
    );
    let failed: Vec<&Check> = r.checks.iter().filter(|c| !c.ok).collect();
    let mut detail = String::new();
    for c in &failed {
        detail.push_str(&format!("FAIL {}\n", c.name));
        for e in &c.evidence {
            detail.push_str(&format!("    {e}\n"));
        }
    }
    match r.verdict {
        Verdict::Pass => {}
        Verdict::Fail => {
            let message = match failed.first() {
                Some(c) => format!(
                    "{} of {} checks failed: {}",
                    failed.len(),
                    r.checks.len(),
                    c.name
                ),
                None => "failed".to_string(),
            };
            x.push_str(&format!(
                "      <failure message=\"{}\" type=\"check\">{}</failure>\n",
                xml_escape(&message),
                xml_escape(&detail)
            ));
        }
        Verdict::Error => {
            let reason = r.reason.clone().unwrap_or_else(|| "error".to_string());
            x.push_str(&format!(
                "      <error message=\"{}\" type=\"error\">{}</error>\n",
                xml_escape(&reason),
                xml_escape(&format!("{reason}\n{detail}"))
            ));
        }
        Verdict::Skip => {
            let reason = r.reason.clone().unwrap_or_else(|| "skipped".to_string());
            x.push_str(&format!(
                "      <skipped message=\"{}\"/>\n",
                xml_escape(&reason)
            ));
        }
    }
    x.push_str(&format!(
        "      <system-out>{}</system-out>\n",
        xml_escape(&junit_system_out(r))
    ));
    x.push_str("    </testcase>\n");
    x
}

/// A scenario's conclusion, run, checks and artifacts, for JUnit's `<system-out>`.
fn junit_system_out(r: &ScenarioResult) -> String {
    let mut out = format!("{}: {}\n", r.conclusion, r.summary);
    out.push_str(&format!(
        "profile {}, {} {}, predicted {}, measured {}\n",
        r.profile,
        r.family,
        r.topology,
        secs(r.predicted_seconds),
        secs(r.measured_seconds)
    ));
    for c in &r.checks {
        out.push_str(&format!(
            "{} {}\n",
            if c.ok { "ok  " } else { "FAIL" },
            c.name
        ));
    }
    for (k, v) in &r.artifacts {
        out.push_str(&format!("{k}: {v}\n"));
    }
    out
}

/// `summary.json`, pretty-printed, with a trailing newline.
pub fn summary_json(summary: &Summary) -> String {
    // Plain structs, string map keys: serialization cannot fail (NaN becomes null).
    let mut s = serde_json::to_string_pretty(summary).expect("a Summary always serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use quick_xml::Reader;

    fn result(name: &str, verdict: Verdict, checks: Vec<Check>) -> ScenarioResult {
        ScenarioResult {
            name: name.into(),
            file: format!("scenarios/{name}.toml"),
            conclusion: "C1".into(),
            summary: "normal close".into(),
            family: "v4".into(),
            topology: "switched".into(),
            profile: "fast".into(),
            verdict,
            reason: None,
            wall_seconds: 1.5,
            predicted_seconds: None,
            measured_seconds: None,
            checks,
            ran_as: Default::default(),
            artifacts: BTreeMap::from([("pcap".to_string(), format!("{name}/capture.pcapng"))]),
        }
    }

    fn check(name: &str, ok: bool, evidence: &[&str]) -> Check {
        Check {
            kernel: None,
            name: name.into(),
            ok,
            evidence: evidence.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn summary() -> Summary {
        let mut c3 = result(
            "c3-retransmit",
            Verdict::Fail,
            vec![
                check(
                    "client gets error ETIMEDOUT",
                    true,
                    &["12.1s client error ETIMEDOUT"],
                ),
                check(
                    "packets on server-port after cut: <none> & \"quotes\"",
                    false,
                    &[
                        "expected item 1 `C>S R`, but packet 1 is 2.0s S>C F.",
                        "actual: S>C F.",
                    ],
                ),
            ],
        );
        c3.conclusion = "C3".into();
        c3.predicted_seconds = Some(11.2);
        c3.measured_seconds = Some(11.46);
        let mut err = result("c6-restart", Verdict::Error, vec![]);
        err.conclusion = "C6".into();
        err.reason = Some("wait for `connected` from client timed out after 5s\u{1}".into());
        Summary {
            repeats: vec![],
            scenarios: vec![
                result("c1-close", Verdict::Pass, vec![check("a", true, &["x"])]),
                c3,
                err,
            ],
            wall_seconds: 14.0,
            kernel: "6.8.0".into(),
            profile: "fast".into(),
        }
    }

    #[test]
    fn table_lists_scenarios_and_failed_checks() {
        let t = table(&summary(), false);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("scenario"), "{t}");
        assert!(lines[0].contains("predicted") && lines[0].contains("measured"));
        assert!(lines[1].starts_with("c1-close") && lines[1].contains("pass"));
        assert!(lines[2].starts_with("c3-retransmit") && lines[2].contains("fail"));
        assert!(
            lines[2].contains("11.2s") && lines[2].contains("11.5s"),
            "{t}"
        );
        assert_eq!(
            lines[3],
            "    x packets on server-port after cut: <none> & \"quotes\": expected item 1 `C>S R`, but packet 1 is 2.0s S>C F."
        );
        assert!(lines[4].starts_with("c6-restart") && lines[4].contains("error"));
        assert!(lines[5].starts_with("    error: wait for `connected`"));
        assert_eq!(
            lines[6],
            "3 scenarios: 1 passed, 1 failed, 1 errors in 14.0s (profile fast, kernel 6.8.0)"
        );
        assert_eq!(lines.len(), 7);
        assert!(!t.contains('\x1b'));
        // Columns line up: the verdict column starts at the same offset.
        let col = lines[0].find("verdict").unwrap();
        assert_eq!(&lines[1][col..col + 4], "pass");
        assert_eq!(&lines[2][col..col + 4], "fail");
    }

    #[test]
    fn table_colors_only_when_asked() {
        let t = table(&summary(), true);
        assert!(t.contains("\x1b[32mpass"));
        assert!(t.contains("\x1b[31;1mfail"));
    }

    /// Parses XML with quick-xml; returns (element names in order, testcase
    /// attributes, text content of failure/error elements).
    fn parse(xml: &str) -> (Vec<String>, Vec<BTreeMap<String, String>>, Vec<String>) {
        let mut reader = Reader::from_str(xml);
        reader.config_mut().check_end_names = true;
        let mut names = Vec::new();
        let mut cases = Vec::new();
        let mut texts = Vec::new();
        let mut in_problem = false;
        let mut depth = 0i32;
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) | Event::Empty(e) => {
                    let name = e.name().as_ref().to_string();
                    let attrs: BTreeMap<String, String> = e
                        .attributes()
                        .map(|a| {
                            let a = a.expect("attribute");
                            (
                                a.key.as_ref().to_string(),
                                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .expect("attribute value")
                                    .into_owned(),
                            )
                        })
                        .collect();
                    if name == "testcase" {
                        cases.push(attrs);
                    }
                    if name == "failure" || name == "error" {
                        in_problem = true;
                        texts.push(String::new());
                    }
                    names.push(name);
                    depth += 1;
                }
                Event::End(e) => {
                    let name = e.name();
                    if name.as_ref() == "failure" || name.as_ref() == "error" {
                        in_problem = false;
                    }
                    depth -= 1;
                }
                Event::Text(t) if in_problem => {
                    texts.last_mut().unwrap().push_str(&t.xml10_content());
                }
                Event::GeneralRef(r) if in_problem => {
                    let s = match r.resolve_char_ref().expect("char ref") {
                        Some(c) => c.to_string(),
                        None => quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                            .expect("predefined entity")
                            .to_string(),
                    };
                    texts.last_mut().unwrap().push_str(&s);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        // Empty elements count as start without end.
        let empties = names.iter().filter(|n| *n == "property").count() as i32;
        assert_eq!(depth, empties, "unbalanced elements");
        (names, cases, texts)
    }

    #[test]
    fn junit_is_well_formed_and_round_trips() {
        let xml = junit(&summary());
        let (names, cases, texts) = parse(&xml);
        assert_eq!(names[0], "testsuites");
        assert_eq!(names.iter().filter(|n| *n == "testsuite").count(), 1);
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[1]["name"], "c3-retransmit");
        assert_eq!(cases[1]["classname"], "C3");
        assert_eq!(cases[1]["time"], "1.500");
        assert_eq!(names.iter().filter(|n| *n == "failure").count(), 1);
        assert_eq!(names.iter().filter(|n| *n == "error").count(), 1);
        assert!(
            texts[0].starts_with("FAIL packets on server-port after cut: <none> & \"quotes\"\n")
        );
        assert!(texts[0].contains("    expected item 1 `C>S R`"));
        // The control character in the reason is replaced, not emitted raw.
        assert!(texts[1].starts_with("wait for `connected` from client timed out after 5s\u{FFFD}"));
        assert!(xml.contains("failures=\"1\" errors=\"1\""));
    }

    #[test]
    fn junit_of_an_empty_summary_is_well_formed() {
        let s = Summary {
            repeats: vec![],
            scenarios: vec![],
            wall_seconds: f64::NAN,
            kernel: "<k>".into(),
            profile: "fast".into(),
        };
        let xml = junit(&s);
        let (names, cases, _) = parse(&xml);
        assert!(cases.is_empty());
        assert_eq!(
            names,
            [
                "testsuites",
                "testsuite",
                "properties",
                "property",
                "property"
            ]
        );
        assert!(xml.contains("tests=\"0\"") && xml.contains("time=\"0.000\""));
    }

    #[test]
    fn xml_escape_covers_markup_and_invalid_chars() {
        assert_eq!(
            xml_escape("a<b>&\"'\n\u{0}z"),
            "a&lt;b&gt;&amp;&quot;&apos;&#10;\u{FFFD}z"
        );
    }

    #[test]
    fn summary_json_has_the_contract_fields() {
        let json = summary_json(&summary());
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let s = &v["scenarios"][1];
        assert_eq!(s["name"], "c3-retransmit");
        assert_eq!(s["conclusion"], "C3");
        assert_eq!(s["verdict"], "fail");
        assert_eq!(s["wall_seconds"], 1.5);
        assert_eq!(s["predicted_seconds"], 11.2);
        assert_eq!(s["checks"][1]["ok"], false);
        assert!(s["checks"][1]["evidence"].is_array());
        assert_eq!(s["artifacts"]["pcap"], "c3-retransmit/capture.pcapng");
        assert_eq!(v["kernel"], "6.8.0");
        assert_eq!(v["wall_seconds"], 14.0);
        assert_eq!(v["scenarios"][2]["verdict"], "error");
        // And it reads back as a Summary.
        let back: Summary = serde_json::from_str(&json).unwrap();
        assert_eq!(back.scenarios.len(), 3);
    }
}

/// One scenario's repetitions (`name#1`, `name#2`, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepeatStat {
    pub name: String,
    pub runs: usize,
    pub passed: usize,
    pub wall_min: f64,
    pub wall_max: f64,
    /// Spread of the measured key time (death, ...), when the scenario has one.
    #[serde(default)]
    pub measured_min: Option<f64>,
    #[serde(default)]
    pub measured_max: Option<f64>,
}

/// Groups `name#k` results by scenario; empty when nothing was repeated.
pub fn repeat_stats(results: &[ScenarioResult]) -> Vec<RepeatStat> {
    let mut groups: BTreeMap<String, Vec<&ScenarioResult>> = BTreeMap::new();
    for r in results {
        if let Some((base, _)) = r.name.rsplit_once('#') {
            groups.entry(base.to_string()).or_default().push(r);
        }
    }
    groups
        .into_iter()
        .map(|(name, rs)| {
            let walls: Vec<f64> = rs.iter().map(|r| r.wall_seconds).collect();
            let measured: Vec<f64> = rs.iter().filter_map(|r| r.measured_seconds).collect();
            let fold = |v: &[f64], f: fn(f64, f64) -> f64| v.iter().copied().reduce(f);
            RepeatStat {
                name,
                runs: rs.len(),
                passed: rs.iter().filter(|r| r.verdict == Verdict::Pass).count(),
                wall_min: fold(&walls, f64::min).unwrap_or(0.0),
                wall_max: fold(&walls, f64::max).unwrap_or(0.0),
                measured_min: fold(&measured, f64::min),
                measured_max: fold(&measured, f64::max),
            }
        })
        .collect()
}

/// The repeat table: pass counts and spreads; scenarios with any failure are flaky.
pub fn repeat_table(stats: &[RepeatStat]) -> String {
    let mut out = String::from("\nrepeats                                  passed   wall min..max      measured min..max\n");
    for s in stats {
        let measured = match (s.measured_min, s.measured_max) {
            (Some(a), Some(b)) => format!("{a:.3}s..{b:.3}s"),
            _ => "-".into(),
        };
        out.push_str(&format!(
            "{:<40} {:>3}/{:<3}  {:<17}  {measured}{}\n",
            s.name,
            s.passed,
            s.runs,
            format!("{:.2}s..{:.2}s", s.wall_min, s.wall_max),
            if s.passed == s.runs { "" } else { "  FLAKY" }
        ));
    }
    let flaky = stats.iter().filter(|s| s.passed != s.runs).count();
    out.push_str(&format!(
        "{flaky} flaky scenario{}\n",
        if flaky == 1 { "" } else { "s" }
    ));
    out
}
