//! Reports: the run summary (`summary.json`), the terminal table, JUnit XML
//! ([`self`]), SVG ladder diagrams ([`ladder`]) and the HTML index ([`html`]).
//!
//! Contract: pure functions from results to text; the runner writes the files.

pub mod html;
pub mod ladder;

use crate::evidence::Check;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Error,
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
    pub wall_seconds: f64,
    /// What the model predicts for the scenario's key time (death, close), if it has one.
    #[serde(default)]
    pub predicted_seconds: Option<f64>,
    /// The same time as measured.
    #[serde(default)]
    pub measured_seconds: Option<f64>,
    pub checks: Vec<Check>,
    /// Artifact name (`pcap`, `report`, `events`, `sockets`, `ladder`) -> path relative to the run directory.
    pub artifacts: BTreeMap<String, String>,
}

/// `summary.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub scenarios: Vec<ScenarioResult>,
    pub wall_seconds: f64,
    /// `uname -r` of the kernel that ran it.
    pub kernel: String,
    pub profile: String,
}
