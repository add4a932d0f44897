//! `teardown merge DIR... --out DIR`: one summary of several runs (CI shards).

use crate::exit::{path_error, under_user_dir};
use std::path::PathBuf;
use teardown_core::report::Summary;
use teardown_lab::runner::artifacts;

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
pub fn main(args: MergeArgs) -> anyhow::Result<i32> {
    let mut parts = Vec::new();
    for d in &args.dirs {
        let path = d.join("summary.json");
        let text = std::fs::read_to_string(&path).map_err(|e| path_error("reading", &path, e))?;
        let summary: Summary = serde_json::from_str(&text).map_err(|e| {
            teardown_core::bad_input(format!("{}: not a run summary: {e}", path.display()))
        })?;
        parts.push((d.clone(), summary));
    }
    let merged = artifacts::merge(&parts)?;
    std::fs::create_dir_all(&args.out).map_err(|e| path_error("creating", &args.out, e))?;
    for (dir, s) in &parts {
        for r in &s.scenarios {
            let from = dir.join(&r.name);
            let to = args.out.join(&r.name);
            if from.is_dir() && std::fs::canonicalize(&from).ok() != std::fs::canonicalize(&to).ok()
            {
                artifacts::copy_dir(&from, &to)
                    .map_err(|e| path_error(&format!("copying {} to", from.display()), &to, e))?;
            }
        }
    }
    artifacts::write_run_outputs(&args.out, &merged).map_err(|e| under_user_dir(&args.out, e))?;
    crate::run::print_table(&merged, &args.out)?;
    Ok(crate::run::exit_code(&merged))
}
