//! Network namespaces.

#[derive(clap::Args, Debug)]
pub struct NsExecArgs {
    /// The namespace file (/run/netns/NAME)
    #[arg(long)]
    pub netns: std::path::PathBuf,
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

pub fn ns_exec_main(_args: NsExecArgs) -> anyhow::Result<i32> {
    Err(crate::unable("ns-exec is not written yet"))
}
