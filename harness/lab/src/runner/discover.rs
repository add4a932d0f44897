//! Which scenarios a run holds: files under the paths given, parsed before
//! anything is created (all errors together, exit 2), the address families,
//! and CI shards balanced by the model's predicted durations.

use anyhow::{Context, Result};

use std::collections::BTreeMap;

use std::path::PathBuf;

use std::time::Duration;

use teardown_core::scenario::{Family, Profile, Scenario};

/// `--ip`: which address families to run each scenario in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Families {
    /// Every scenario over IPv4.
    V4,
    /// Every scenario over IPv6.
    V6,
    /// Each scenario twice; the IPv6 run's name ends in `-v6`.
    Both,
}

/// Applies `--ip`: every scenario in that family, or in both.
pub fn with_families(scenarios: Vec<Scenario>, ip: Option<Families>) -> Vec<Scenario> {
    let Some(ip) = ip else { return scenarios };
    let mut out = Vec::new();
    for s in scenarios {
        match ip {
            Families::V4 => out.push(Scenario {
                ip: Family::V4,
                ..s
            }),
            Families::V6 => out.push(Scenario {
                ip: Family::V6,
                ..s
            }),
            Families::Both => {
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
            return Err(crate::error::bad_input(format!(
                "{}: no such file or directory",
                p.display()
            )));
        }
    }
    if files.is_empty() {
        return Err(crate::error::bad_input("no scenario files found"));
    }
    Ok(files)
}

/// Finds the programs of the scenarios to run ([`crate::files::check_programs`]);
/// every error together (exit 2).
pub fn check_programs(scenarios: &[Scenario]) -> Result<()> {
    let errors: Vec<String> = scenarios
        .iter()
        .filter_map(|s| crate::files::check_programs(s).err())
        .map(|e| e.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(crate::error::bad_input(errors.join("\n")))
    }
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
        Err(crate::error::bad_input(errors.join("\n")))
    }
}

/// `--shard K/N`: parsed and checked.
pub fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let bad =
        || crate::error::bad_input(format!("--shard wants K/N with 1 <= K <= N, not `{text}`"));
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
