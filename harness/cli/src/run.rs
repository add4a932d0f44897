//! `teardown run` and `teardown list`: the options, the plan handed to the
//! lab's runner, the table and the exit code.

use crate::exit::{path_error, stdout_error, under_user_dir};
use crate::progress::Progress;
use std::io::Write;
use std::path::{Path, PathBuf};
use teardown_core::report::{self, Summary, Verdict};
use teardown_core::scenario::Profile;
use teardown_lab::runner::{self, Families};

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

impl From<IpArg> for Families {
    fn from(a: IpArg) -> Families {
        match a {
            IpArg::V4 => Families::V4,
            IpArg::V6 => Families::V6,
            IpArg::Both => Families::Both,
        }
    }
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

pub fn list(args: ListArgs) -> anyhow::Result<i32> {
    let files = runner::scenario_files(&args.paths)?;
    let scenarios = runner::load_all(&files, Profile::Fast)?;
    let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(10);
    let mut w = std::io::stdout().lock();
    for s in &scenarios {
        writeln!(w, "{:<width$}  {:<5} {}", s.name, s.conclusion, s.summary)
            .map_err(stdout_error)?;
    }
    Ok(0)
}

pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let profile: Profile = args.profile.into();
    let files = runner::scenario_files(&args.paths)?;
    let mut scenarios = runner::load_all(&files, profile)?;
    if let Some(glob) = &args.filter {
        let m = globset::Glob::new(glob)
            .map_err(|e| teardown_core::bad_input(format!("--filter `{glob}`: {e}")))?
            .compile_matcher();
        scenarios.retain(|s| m.is_match(&s.name));
    }
    scenarios = runner::with_families(scenarios, args.ip.map(Families::from));
    if let Some(sh) = &args.shard {
        let (k, n) = runner::parse_shard(sh)?;
        scenarios = runner::shard(scenarios, k, n);
    }
    if scenarios.is_empty() {
        return Err(teardown_core::bad_input("no scenario matches").into());
    }
    runner::check_programs(&scenarios)?;
    teardown_lab::sys::require_root()?;
    // The default out/ is under the current directory: the user's choice too.
    let out = match &args.out {
        Some(o) => o.clone(),
        None => {
            runner::artifacts::default_out_dir().map_err(|e| under_user_dir(Path::new("out"), e))?
        }
    };
    let plan = runner::Plan {
        scenarios,
        repeat: args.repeat,
        jobs: args.jobs,
        out: out.clone(),
        profile,
    };
    let progress = Progress::new(!args.quiet, profile, &out);
    let summary = std::thread::scope(|s| {
        s.spawn(|| progress.run());
        let summary = runner::run_all(plan, &progress);
        progress.finish();
        summary
    })
    .map_err(|e| under_user_dir(&out, e))?;
    if let Some(j) = &args.junit {
        std::fs::write(j, report::junit(&summary)).map_err(|e| path_error("writing", j, e))?;
    }
    if args.json {
        writeln!(std::io::stdout(), "{}", report::summary_json(&summary)).map_err(stdout_error)?;
    } else {
        print_table(&summary, &out)?;
    }
    if runner::aborted() {
        eprintln!("teardown: interrupted; every lab was removed");
        return Ok(crate::exit::INTERRUPTED);
    }
    Ok(exit_code(&summary))
}

/// The results table (colour on a terminal unless NO_COLOR), then where the output is.
pub fn print_table(summary: &Summary, out: &Path) -> Result<(), teardown_core::Error> {
    let color = std::env::var_os("NO_COLOR").is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut w = std::io::stdout().lock();
    let mut text = report::table(summary, color);
    if !summary.repeats.is_empty() {
        text.push_str(&report::repeat_table(&summary.repeats));
    }
    writeln!(w, "{text}output: {}", out.display()).map_err(stdout_error)
}

/// 0 all passed (or were skipped: the kernel lacks a feature they need), 1 a
/// check failed, 3 a scenario could not be run (verdict `error`); a failure wins.
pub fn exit_code(summary: &Summary) -> i32 {
    let any_fail = summary.scenarios.iter().any(|s| s.verdict == Verdict::Fail);
    let any_error = summary
        .scenarios
        .iter()
        .any(|s| s.verdict == Verdict::Error);
    if any_fail {
        1
    } else if any_error {
        3
    } else {
        0
    }
}
