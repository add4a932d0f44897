//! (to be written)

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Scenario files or directories (default: scenarios/)
    pub paths: Vec<std::path::PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Scenario files or directories (default: scenarios/)
    pub paths: Vec<std::path::PathBuf>,
}

pub fn run_main(_args: RunArgs) -> anyhow::Result<i32> {
    Err(crate::unable("run is not written yet"))
}
pub fn list_main(_args: ListArgs) -> anyhow::Result<i32> {
    Err(crate::unable("list is not written yet"))
}
