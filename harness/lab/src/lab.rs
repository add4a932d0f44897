//! `teardown lab`: a lab to poke around in by hand, like the article's two computers.
//!
//! Contract: the manual lab has fixed names (`td-lab-client`, `td-lab-server`,
//! `td-lab-wire`), the same topology as a scenario's, and lives until
//! `teardown lab down`; `teardown clean` leaves it alone. `netns-setup.sh`
//! builds the same thing with iproute2.

use crate::netns::NetNs;
use crate::topology::{ns_name, Lab};
use anyhow::Result;
use teardown_core::scenario::Topology;

/// The manual lab's id: its namespaces are `td-lab-*`.
pub const LAB_ID: &str = "lab";

/// What `teardown lab` is asked to do.
#[derive(Debug)]
pub enum LabCommand {
    /// Build the lab (`switched` or `direct`) and leave it up.
    Up { topology: String },
    /// Remove the lab.
    Down,
    /// Show the lab's namespaces, links and TCP sockets.
    Status,
    /// Run a command on a host (`client`, `server` or `wire`).
    Exec { host: String, command: Vec<String> },
}

fn lab_namespaces() -> Vec<String> {
    ["client", "server", "wire"]
        .iter()
        .map(|r| ns_name(LAB_ID, r))
        .collect()
}

pub fn lab_main(command: LabCommand) -> Result<i32> {
    crate::sys::require_root()?;
    match command {
        LabCommand::Up { topology } => lab_up(&topology),
        LabCommand::Down => lab_down(),
        LabCommand::Status => lab_status(),
        LabCommand::Exec { host, command } => lab_exec(&host, command),
    }
}

/// `teardown lab up`: builds the lab and leaves it up.
fn lab_up(topology: &str) -> Result<i32> {
    let topology = match topology {
        "switched" => Topology::Switched,
        "direct" => Topology::Direct,
        other => {
            return Err(crate::error::bad_input(format!(
                "unknown topology `{other}` (switched, direct)"
            )))
        }
    };
    if lab_namespaces().iter().any(|n| NetNs::open(n).is_ok()) {
        return Err(crate::error::bad_input(
            "the lab is already up (teardown lab down removes it)",
        ));
    }
    let lab = Lab::up(LAB_ID, topology)?;
    print!("{}", how_to(&lab));
    // It outlives this command: `teardown lab down` removes it.
    lab.leave_up();
    Ok(0)
}

/// `teardown lab down`.
fn lab_down() -> Result<i32> {
    let existing: Vec<NetNs> = lab_namespaces()
        .iter()
        .filter_map(|n| NetNs::open(n).ok())
        .collect();
    if existing.is_empty() {
        println!("the lab is not up");
        return Ok(0);
    }
    crate::cleanup::teardown_namespaces(&existing)?;
    println!(
        "removed {}",
        existing
            .iter()
            .map(|n| n.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(0)
}

/// `teardown lab status`: each namespace's links and TCP sockets.
fn lab_status() -> Result<i32> {
    let mut any = false;
    for name in lab_namespaces() {
        let Ok(ns) = NetNs::open(&name) else { continue };
        any = true;
        println!("{name}");
        let (links, sockets) = ns.run(|| -> Result<_> {
            let mut rt = crate::rtnl::Rtnl::open()?;
            let links = rt.links()?;
            let sockets = crate::sockdiag::dump_tcp().unwrap_or_default();
            Ok((links, sockets))
        })?;
        for (idx, l, up) in links {
            println!("  link {idx}: {l} {}", if up { "UP" } else { "DOWN" });
        }
        for s in sockets {
            let state = match s.tcp_state() {
                Ok(st) => st.to_string(),
                Err(e) => e.to_string(),
            };
            println!("  tcp {state:<12} {} -> {}", s.local(), s.remote());
        }
    }
    if !any {
        println!("the lab is not up (teardown lab up builds it)");
    }
    Ok(0)
}

/// `teardown lab exec HOST -- CMD...`.
fn lab_exec(host: &str, command: Vec<String>) -> Result<i32> {
    if !["client", "server", "wire"].contains(&host) {
        return Err(crate::error::bad_input(format!(
            "unknown host `{host}` (client, server, wire)"
        )));
    }
    let ns = NetNs::open(&ns_name(LAB_ID, host))
        .map_err(|_| crate::error::unable("the lab is not up (teardown lab up)"))?;
    let how = crate::exec::NsExec {
        netns: Some(ns.path().to_path_buf()),
        ..Default::default()
    };
    crate::exec::ns_exec(&how, &command)
}

fn how_to(lab: &Lab) -> String {
    let port = if lab.wire.is_some() {
        "teardown lab exec wire -- tcpdump -nn -S -i c-port tcp"
    } else {
        "teardown lab exec client -- tcpdump -nn -S -i eth0 tcp"
    };
    format!(
        "lab up: {names}
  client 198.18.0.1 fd00:7d::1   server 198.18.0.2 fd00:7d::2

Reproduce the article by hand (one terminal each):
  teardown lab exec server -- nc -l 198.18.0.2 8080        # or: python3 -m http.server 8080
  teardown lab exec client -- nc -v 198.18.0.2 8080
  {port}
  teardown lab exec client -- ss -tino                      # socket state, timers, retransmits
  teardown lab exec wire -- ip link set c-port down         # pull the cable (switched topology)
Remove it with: teardown lab down
",
        names = lab
            .namespaces()
            .iter()
            .map(|n| n.name())
            .collect::<Vec<_>>()
            .join(", ")
    )
}
