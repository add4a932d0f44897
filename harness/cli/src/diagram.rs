//! `teardown diagram CAPTURE -o FILE.svg`: a ladder diagram of a capture.

use teardown_core::{analysis, report::ladder};
use teardown_lab::files::read_capture_file;

/// `teardown diagram CAPTURE -o FILE.svg`.
#[derive(clap::Args, Debug)]
pub struct DiagramArgs {
    /// A pcap or pcapng file
    pub capture: std::path::PathBuf,
    /// The SVG file to write
    #[arg(short = 'o', long = "output")]
    pub output: std::path::PathBuf,
}

pub fn main(args: DiagramArgs) -> anyhow::Result<i32> {
    let data = read_capture_file(&args.capture)?;
    let ev = analysis::evidence_from_capture(&data);
    let title = args
        .capture
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let svg = ladder::render(&ev, &title);
    std::fs::write(&args.output, svg)
        .map_err(|e| crate::exit::path_error("writing", &args.output, e))?;
    // A cut or damaged capture: drawn up to there, said so, exit 2 (as replay).
    Ok(crate::replay::report_stopped(
        &args.capture,
        data.stopped.as_ref(),
        data.frames,
    ))
}
