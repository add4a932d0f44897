//! Privileged: one run's four outputs, `report.json`, `summary.json`,
//! `junit.xml` and the table `teardown run` prints, show the same wall time
//! and the same key times (predicted, measured) for each scenario: one whose
//! key check is a `dies` (c4-keepalive-cut) and one whose only model check is
//! a `gone` (x-orphan-fin-wait2), run together through the `teardown` binary.
//!
//! The JSON files carry the numbers themselves and must be equal; JUnit
//! (`time`: 3 decimals) and the table (`1.234s`, `12.3s`) round them, so they
//! are compared at their precision.

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const SCENARIOS: [&str; 2] = ["c4-keepalive-cut", "x-orphan-fin-wait2"];

fn tmp() -> PathBuf {
    let d = std::env::temp_dir().join(format!("td-test-times-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A time as the table or JUnit prints it (`5.585s`, `13.9s`, `5.585`): the
/// value and half its last digit, the rounding it can carry.
fn shown(cell: &str) -> (f64, f64) {
    let number = cell.strip_suffix('s').unwrap_or(cell);
    let value: f64 = number
        .parse()
        .unwrap_or_else(|e| panic!("`{cell}` is not a time: {e}"));
    let decimals = number.split_once('.').map(|(_, d)| d.len()).unwrap_or(0);
    (value, 0.5 * 10f64.powi(-(decimals as i32)) + 1e-9)
}

fn assert_shown(what: &str, cell: &str, exact: f64) {
    let (value, rounding) = shown(cell);
    assert!(
        (value - exact).abs() <= rounding,
        "{what}: shown `{cell}`, the result says {exact}"
    );
}

/// The table's rows by scenario: its cells after the name (conclusion,
/// family, verdict, wall, predicted, measured).
fn table_rows(stdout: &str) -> BTreeMap<String, Vec<String>> {
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "scenario",
            "conclusion",
            "family",
            "verdict",
            "wall",
            "predicted",
            "measured"
        ],
        "{stdout}"
    );
    lines
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .filter(|cells| cells.len() == 7)
        .map(|mut cells| (cells.remove(0), cells))
        .collect()
}

/// A `<testcase>`'s attributes and the text of its `<system-out>`.
#[derive(Default)]
struct Case {
    attrs: BTreeMap<String, String>,
    system_out: String,
}

fn junit_cases(xml: &str) -> BTreeMap<String, Case> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut cases = BTreeMap::new();
    let mut current: Option<Case> = None;
    let mut in_out = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) if e.name().as_ref() == "testcase" => {
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.expect("attribute");
                        let value = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .expect("attribute value");
                        (a.key.as_ref().to_string(), value.into_owned())
                    })
                    .collect();
                current = Some(Case {
                    attrs,
                    ..Case::default()
                });
            }
            Event::Start(e) if e.name().as_ref() == "system-out" => in_out = true,
            Event::End(e) if e.name().as_ref() == "system-out" => in_out = false,
            Event::End(e) if e.name().as_ref() == "testcase" => {
                let case = current.take().expect("a testcase ends after it starts");
                cases.insert(case.attrs["name"].clone(), case);
            }
            Event::Text(t) if in_out => {
                let c = current.as_mut().expect("system-out inside a testcase");
                c.system_out.push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) if in_out => {
                let s = match r.resolve_char_ref().expect("char ref") {
                    Some(ch) => ch.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                        .expect("predefined entity")
                        .to_string(),
                };
                let c = current.as_mut().expect("system-out inside a testcase");
                c.system_out.push_str(&s);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    cases
}

/// `predicted X, measured Y` from a testcase's `<system-out>`.
fn junit_key_times(system_out: &str) -> (String, String) {
    let line = system_out
        .lines()
        .find(|l| l.contains(", predicted "))
        .unwrap_or_else(|| panic!("no predicted/measured line in:\n{system_out}"));
    let (_, rest) = line.split_once(", predicted ").unwrap();
    let (predicted, measured) = rest.split_once(", measured ").unwrap();
    (predicted.to_string(), measured.trim().to_string())
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn report_summary_junit_and_table_agree_on_the_times() {
    teardown_lab::require_privileged();
    let dir = tmp();
    let files: Vec<String> = SCENARIOS
        .iter()
        .map(|s| format!("scenarios/{s}.toml"))
        .collect();
    let run = Command::new(env!("CARGO_BIN_EXE_teardown"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .arg("run")
        .args(&files)
        .args(["--quiet", "--out"])
        .arg(&dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr);
    // Pass or a failed check: either way the scenarios ran and have their times.
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "{:?}\n{stdout}\n{stderr}",
        run.status
    );
    let rows = table_rows(&stdout);
    let summary = json(&dir.join("summary.json"));
    let cases = junit_cases(&std::fs::read_to_string(dir.join("junit.xml")).unwrap());
    for name in SCENARIOS {
        let s = summary["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in summary.json"));
        let report = json(&dir.join(name).join("report.json"));
        for key in [
            "verdict",
            "wall_seconds",
            "predicted_seconds",
            "measured_seconds",
        ] {
            assert_eq!(
                report[key], s[key],
                "{name}: {key} of report.json and summary.json"
            );
        }
        let wall = s["wall_seconds"].as_f64().unwrap();
        assert!(wall > 0.5, "{name}: a wall time of {wall} s");
        let predicted = s["predicted_seconds"]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: no predicted time: {s}"));
        let measured = s["measured_seconds"]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: no measured time: {s}"));

        let row = rows
            .get(name)
            .unwrap_or_else(|| panic!("{name} not in the table:\n{stdout}"));
        assert_eq!(
            row[2],
            s["verdict"].as_str().unwrap(),
            "{name}: table verdict"
        );
        assert_shown(&format!("{name}: table wall"), &row[3], wall);
        assert_shown(&format!("{name}: table predicted"), &row[4], predicted);
        assert_shown(&format!("{name}: table measured"), &row[5], measured);

        let case = cases
            .get(name)
            .unwrap_or_else(|| panic!("{name} not in junit.xml"));
        assert_eq!(
            case.attrs["time"],
            format!("{wall:.3}"),
            "{name}: JUnit time"
        );
        assert_shown(&format!("{name}: JUnit time"), &case.attrs["time"], wall);
        let (p, m) = junit_key_times(&case.system_out);
        assert_shown(&format!("{name}: JUnit predicted"), &p, predicted);
        assert_shown(&format!("{name}: JUnit measured"), &m, measured);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
