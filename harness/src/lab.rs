//! `teardown lab`: a lab to poke around in by hand.

#[derive(clap::Args, Debug)]
pub struct LabArgs {
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum LabCommand {
    /// Build the lab (td-lab-client, td-lab-wire, td-lab-server)
    Up,
    /// Remove the lab
    Down,
    /// Show the lab's namespaces, links and sockets
    Status,
    /// Run a command on a host: teardown lab exec client -- nc -v 198.18.0.2 8080
    Exec {
        /// client, server or wire
        host: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

pub fn lab_main(_args: LabArgs) -> anyhow::Result<i32> {
    Err(crate::unable("lab is not written yet"))
}
