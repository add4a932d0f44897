//! Reading the inputs the core parses: scenario files and captures.
//!
//! Contract: the core takes text and bytes; these helpers read them from the
//! file system and turn a file that can't be read into bad input (exit 2)
//! naming the file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use teardown_core::analysis::{self, CaptureData};
use teardown_core::scenario::{Profile, Program, Scenario, ScenarioError};

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

/// Every external endpoint's program exists and is executable; the error
/// points at its `command`. With `shell = true` the program is `/bin/sh`.
/// Checked for the scenarios a run will run, before any lab: `list`, or a
/// `--filter` that leaves a scenario out, does not need its program.
pub fn check_programs(sc: &Scenario) -> Result<(), ScenarioError> {
    for (name, ep) in &sc.endpoints {
        let Program::External { argv, shell, at } = &ep.program else {
            continue;
        };
        let program = if *shell { "/bin/sh" } else { argv[0].as_str() };
        if let Err(why) = resolve_program(program) {
            return Err(at.error(format!("endpoint `{name}`: {why}")));
        }
    }
    Ok(())
}

/// Where a program is, as exec finds it: a name with a `/` from the working
/// directory (the harness runs endpoints from its own), a bare name from
/// the first PATH entry that has it executable.
pub fn resolve_program(program: &str) -> Result<PathBuf, String> {
    if program.contains('/') {
        let p = Path::new(program);
        return executable(p).map(|()| p.to_path_buf()).map_err(|why| {
            let cwd = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "?".into());
            format!(
                "`{program}` {why} (a name with a `/` is taken from the working directory, {cwd})"
            )
        });
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| executable(p).is_ok())
        .ok_or_else(|| {
            format!(
                "`{program}` is not in PATH ({}); is it installed? (`make deps` installs what the catalogue's scenarios run)",
                path.to_string_lossy()
            )
        })
}

/// Whether `p` is a file someone may execute.
fn executable(p: &Path) -> Result<(), String> {
    let m = std::fs::metadata(p)
        .map_err(|e| format!("cannot be run: {}", crate::sys::errno_of_io(&e)))?;
    if !m.is_file() {
        return Err("is not a file".into());
    }
    if m.permissions().mode() & 0o111 == 0 {
        return Err("is not executable".into());
    }
    Ok(())
}

/// Reads a whole capture file; errors are bad input naming the file.
pub fn read_capture_file(path: &Path) -> Result<CaptureData, teardown_core::Error> {
    let file = std::fs::File::open(path)
        .map_err(|e| teardown_core::bad_input(format!("{}: {e}", path.display())))?;
    analysis::read_capture(file)
        .map_err(|e| teardown_core::bad_input(format!("{}: {e}", path.display())))
}
