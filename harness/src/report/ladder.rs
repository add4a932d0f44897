//! SVG ladder (sequence) diagrams of a connection's segments.

/// `teardown diagram CAPTURE -o FILE.svg`.
#[derive(clap::Args, Debug)]
pub struct DiagramArgs {
    /// A pcap or pcapng file
    pub capture: std::path::PathBuf,
    /// The SVG file to write
    #[arg(short = 'o', long = "output")]
    pub output: std::path::PathBuf,
}

pub fn diagram_main(_args: DiagramArgs) -> anyhow::Result<i32> {
    Err(crate::unable("diagram is not written yet"))
}

/// (placeholder until the ladder renderer lands)
pub fn render(_ev: &crate::evidence::Evidence, title: &str) -> String {
    format!("<svg xmlns=\"http://www.w3.org/2000/svg\"><text>{title}</text></svg>")
}
