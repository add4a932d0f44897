//! Benchmark (make bench): setup plus teardown of the three-namespace lab,
//! median of N runs, the harness (rtnetlink, in-process) side by side with
//! `netns-setup.sh up` + `down` (iproute2) doing the same. Needs root.
//!
//! Usage: lab_bench [N] [path/to/netns-setup.sh]

use std::process::Command;
use std::time::{Duration, Instant};
use teardown_core::scenario::Topology;
use teardown_lab::topology::Lab;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let script = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "./netns-setup.sh".into());
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("lab_bench needs root");
        std::process::exit(3);
    }
    let mut ours = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("b{}{i}", std::process::id() % 10000);
        let t = Instant::now();
        let lab = Lab::up(&id, Topology::Switched).expect("lab up");
        lab.down().expect("lab down");
        ours.push(t.elapsed());
    }
    let mut theirs = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let up = Command::new("bash")
            .arg(&script)
            .arg("up")
            .env("QUIET", "1")
            .status()
            .expect("netns-setup.sh up");
        let down = Command::new("bash")
            .arg(&script)
            .arg("down")
            .status()
            .expect("netns-setup.sh down");
        assert!(up.success() && down.success(), "netns-setup.sh failed");
        theirs.push(t.elapsed());
    }
    let (a, b) = (median(ours), median(theirs));
    println!("lab setup+teardown, median of {n}:");
    println!(
        "  teardown (rtnetlink)      {:>9.2} ms",
        a.as_secs_f64() * 1e3
    );
    println!(
        "  netns-setup.sh (iproute2) {:>9.2} ms",
        b.as_secs_f64() * 1e3
    );
    println!(
        "  ratio ours/iproute2       {:>9.3}  (goal <= 0.20)",
        a.as_secs_f64() / b.as_secs_f64()
    );
}
