//! The options of `teardown lab` and of the internal `teardown endpoint` and `teardown ns-exec`.

use clap::Subcommand;
use teardown_lab as lab;

#[derive(clap::Args, Debug)]
pub struct LabArgs {
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Build the lab (td-lab-client, td-lab-wire, td-lab-server)
    Up {
        /// switched (hosts behind a bridge) or direct (one crossover veth)
        #[arg(long, default_value = "switched")]
        topology: String,
    },
    /// Remove the lab
    Down,
    /// Show the lab's namespaces, links and TCP sockets
    Status,
    /// Run a command on a host: teardown lab exec client -- nc -v 198.18.0.2 8080
    Exec {
        /// client, server or wire
        host: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

impl From<LabCommand> for lab::lab::LabCommand {
    fn from(c: LabCommand) -> Self {
        match c {
            LabCommand::Up { topology } => Self::Up { topology },
            LabCommand::Down => Self::Down,
            LabCommand::Status => Self::Status,
            LabCommand::Exec { host, command } => Self::Exec { host, command },
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct NsExecArgs {
    /// The namespace file (/run/netns/NAME); without it, the caller's
    #[arg(long)]
    pub netns: Option<std::path::PathBuf>,
    /// Drop to this user (a name or uid) after entering: its groups, no capabilities
    #[arg(long)]
    pub user: Option<String>,
    /// Only find the program as exec would, as that user, and print its path
    #[arg(long)]
    pub check: bool,
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

impl NsExecArgs {
    pub fn how(&self) -> teardown_lab::exec::NsExec {
        teardown_lab::exec::NsExec {
            netns: self.netns.clone(),
            user: self.user.clone(),
            check: self.check,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct EndpointArgs {
    /// JSON endpoint configuration
    #[arg(long)]
    pub config: String,
}
