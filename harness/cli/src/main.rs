//! `teardown`: the command line (see DESIGN.md, "Command line").

mod diagram;
mod exit;
mod lab_args;
mod man;
mod matrix;
mod merge;
mod model;
mod progress;
mod replay;
mod run;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;
use teardown_lab as lab;

#[derive(Parser)]
#[command(
    name = "teardown",
    version,
    about = "Shows, on the real Linux kernel, how TCP connections end, and proves it",
    after_help = "Examples:
  sudo teardown run                          run every scenario in scenarios/ (fast profile)
  sudo teardown run scenarios/c1-*.toml --out out/
  teardown list                              the scenarios and their conclusions
  sudo teardown run --shard 2/4 --out shard2 one of four CI shards, balanced by predicted time
  teardown merge shard1 shard2 shard3 shard4 --out all   one summary of the shards
  sudo teardown run --repeat 20 --quiet      measure flakiness: pass counts and time spreads
  teardown replay out/c2-kill/capture.pcapng how each connection in a capture ended
  teardown model --retries2 15               when a dead path kills a connection
  sudo teardown lab up                       a lab to poke around in by hand
  sudo teardown doctor                       what this kernel offers

Exit codes:
  0    all passed
  1    a check failed (run, merge, replay --scenario)
  2    bad input or usage: an option, a scenario file, a file or directory given that can't be used
  3    the environment can't run it: not root, a missing kernel feature or program, disk full;
       with run, a scenario that could not be run (verdict error)
  4    an internal error: a bug in teardown (please report it)
  130  interrupted by SIGINT or SIGTERM (run removes every lab first)"
)]
struct Cli {
    /// More log output on stderr (-v: info, -vv: debug, -vvv: trace); RUST_LOG overrides
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios, each in its own lab, and check them against their conclusions
    Run(run::RunArgs),
    /// List scenarios with their conclusion IDs
    List(run::ListArgs),
    /// Combine the outputs of several runs (e.g. CI shards) into one summary, JUnit file and index
    Merge(merge::MergeArgs),
    /// Run the suite on several kernels (virtual machines, and the host) into one report
    Matrix(matrix::MatrixArgs),
    /// Show how each connection in a capture ended (no root)
    Replay(replay::ReplayArgs),
    /// Draw a ladder diagram of a capture as SVG (no root)
    Diagram(diagram::DiagramArgs),
    /// Predict the kernel's teardown timings for given knobs (no root)
    Model(model::ModelArgs),
    /// A lab to poke around in by hand: up, down, status, exec
    Lab(lab_args::LabArgs),
    /// Which kernel features are present and what a missing one disables
    Doctor,
    /// Remove leftovers of interrupted runs (never touches a live run)
    Clean,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff)
    #[command(name = "man")]
    Manpage,
    /// (internal) a built-in endpoint process
    #[command(hide = true)]
    Endpoint(lab_args::EndpointArgs),
    /// (internal) run a command inside a network namespace
    #[command(hide = true, name = "ns-exec")]
    NsExec(lab_args::NsExecArgs),
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("teardown={default}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let doctor_hint = !matches!(cli.command, Command::Doctor);
    if prints_only(&cli.command) {
        // Like any Unix filter: `teardown list | head` ends quietly.
        // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    // A panic is a bug like any internal error: exit 4, not Rust's 101. The
    // default hook has already printed where it happened.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli.command)));
    match result {
        Ok(Ok(code)) => ExitCode::from(code as u8),
        Ok(Err(e)) => ExitCode::from(exit::report(&e, doctor_hint)),
        Err(_) => {
            eprintln!("{}", exit::BUG);
            ExitCode::from(teardown_core::ErrorKind::Internal.exit_code())
        }
    }
}

/// The commands that just print. Only these die of SIGPIPE: the runner
/// writes to its endpoints' stdin pipes and must see EPIPE there.
fn prints_only(c: &Command) -> bool {
    matches!(
        c,
        Command::List(_)
            | Command::Replay(_)
            | Command::Diagram(_)
            | Command::Model(_)
            | Command::Completions { .. }
            | Command::Manpage
    )
}

/// Runs a command: its exit code, or an error whose kind decides it (see [`exit`]).
fn dispatch(command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "teardown",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::Manpage => {
            man::render(Cli::command(), &mut std::io::stdout().lock())
                .map_err(exit::stdout_error)?;
            Ok(0)
        }
        Command::Run(a) => run::run(a),
        Command::List(a) => run::list(a),
        Command::Merge(a) => merge::main(a),
        Command::Matrix(a) => matrix::main(a),
        Command::Replay(a) => replay::main(a),
        Command::Diagram(a) => diagram::main(a),
        Command::Model(a) => model::main(a),
        Command::Lab(a) => lab::lab::lab_main(a.command.into()),
        Command::Doctor => lab::doctor::doctor_main(),
        Command::Clean => lab::cleanup::clean_main(),
        Command::Endpoint(a) => lab::endpoint::endpoint_main(&a.config),
        Command::NsExec(a) => lab::exec::ns_exec(&a.how(), &a.command),
    }
}
