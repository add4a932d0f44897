//! Reading the inputs the core parses: scenario files and captures.
//!
//! Contract: the core takes text and bytes; these helpers read them from the
//! file system and turn a file that can't be read into bad input (exit 2)
//! naming the file.

use crate::account::Account;
use std::path::Path;
use teardown_core::analysis::{self, CaptureData};
use teardown_core::scenario::{Profile, Program, RunAs, Scenario, ScenarioError};

/// Reads and parses a scenario file for a profile. (Its programs are found
/// by [`check_programs`] once the run knows which scenarios it runs.)
pub fn load_scenario(path: &Path, profile: Profile) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        line: 0,
        col: 0,
        message: format!("cannot read: {e}"),
    })?;
    Scenario::parse(&file, &text, profile)
}

/// Every endpoint's account exists, and every external endpoint's program
/// exists and may be executed by that account (checked as it: a process
/// that drops to the account and looks the program up as exec would); the
/// error points at the endpoint's `user`, else its `command`. With
/// `shell = true` the program is `/bin/sh`. Checked for the scenarios a run
/// will run, before any lab: `list`, or a `--filter` that leaves a scenario
/// out, does not need its program. Not as root, the check is made as the
/// caller (the run stops at its need for root next).
pub fn check_programs(sc: &Scenario) -> Result<(), ScenarioError> {
    for (name, ep) in &sc.endpoints {
        let account = crate::account::resolve(&ep.user);
        let account = match (account, &ep.user, &ep.program) {
            (Ok(a), _, _) => a,
            (Err(why), RunAs::Named { at, .. }, _) => {
                return Err(at.error(format!("endpoint `{name}`: {why}")))
            }
            (Err(why), RunAs::Invoker, Program::External { at, .. }) => {
                return Err(at.error(format!("endpoint `{name}`: {why}")))
            }
            (Err(why), RunAs::Invoker, _) => {
                return Err(ScenarioError {
                    file: sc.file.clone(),
                    line: 0,
                    col: 0,
                    message: format!("endpoint `{name}`: {why}"),
                })
            }
        };
        let Program::External { argv, shell, at } = &ep.program else {
            continue;
        };
        let program = if *shell { "/bin/sh" } else { argv[0].as_str() };
        if let Err(why) = runnable_by(&account, program) {
            return Err(at.error(format!("endpoint `{name}`: {why}")));
        }
    }
    Ok(())
}

/// Whether `account` may run `program`, asked as that account
/// (`teardown ns-exec --user U --check`); not as root, asked as ourselves.
fn runnable_by(account: &Account, program: &str) -> Result<(), String> {
    if !nix::unistd::Uid::effective().is_root() {
        return crate::exec::resolve_program(program, "")
            .map(|_| ())
            .map_err(|e| e.message);
    }
    let exe = std::env::current_exe().map_err(|e| format!("finding the teardown binary: {e}"))?;
    let out = std::process::Command::new(exe)
        .args([
            "ns-exec",
            "--check",
            "--user",
            &account.uid.to_string(),
            "--",
        ])
        .arg(program)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("checking `{program}` as {}: {e}", account.describe()))?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let said = said.trim();
    Err(said
        .strip_prefix(crate::exec::EXEC_FAILED)
        .unwrap_or(said)
        .to_string())
}

/// Reads a whole capture file; errors are bad input naming the file.
pub fn read_capture_file(path: &Path) -> Result<CaptureData, teardown_core::Error> {
    let file = std::fs::File::open(path)
        .map_err(|e| teardown_core::bad_input(format!("{}: {e}", path.display())))?;
    analysis::read_capture(file)
        .map_err(|e| teardown_core::bad_input(format!("{}: {e}", path.display())))
}
