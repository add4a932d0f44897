//! What a run leaves on disk besides each scenario's folder: summary.json,
//! junit.xml, index.html; the default output folder; merging runs (shards).

use crate::sys::now_ns;

use anyhow::Result;

use std::collections::BTreeMap;

use std::path::{Path, PathBuf};

use teardown_core::report::{ScenarioResult, Summary};

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

pub fn default_out_dir() -> Result<PathBuf> {
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
pub fn chrono_like_stamp() -> String {
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

/// Combines run summaries: every scenario once (a name in two parts is an
/// error), sorted by name like a single run; the wall time is the longest
/// part's (shards run side by side).
pub fn merge(parts: &[(PathBuf, Summary)]) -> Result<Summary> {
    let mut scenarios: Vec<ScenarioResult> = Vec::new();
    for (dir, s) in parts {
        for r in &s.scenarios {
            if scenarios.iter().any(|x| x.name == r.name) {
                return Err(crate::error::bad_input(format!(
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

pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
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
