//! Reading the inputs the core parses: scenario files and captures.
//!
//! Contract: the core takes text and bytes; these helpers read them from the
//! file system and turn a file that can't be read into bad input (exit 2)
//! naming the file.

use std::path::Path;
use teardown_core::analysis::{self, CaptureData};
use teardown_core::scenario::{Profile, Scenario, ScenarioError};

/// Reads and parses a scenario file for a profile.
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

/// Reads a whole capture file; errors are bad input naming the file.
pub fn read_capture_file(path: &Path) -> Result<CaptureData, teardown_core::Error> {
    let file = std::fs::File::open(path)
        .map_err(|e| teardown_core::bad_input(format!("{}: {e}", path.display())))?;
    analysis::read_capture(file)
        .map_err(|e| teardown_core::bad_input(format!("{}: {e}", path.display())))
}
