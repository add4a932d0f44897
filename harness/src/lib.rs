//! tcp-teardown-lab: shows, on the real Linux kernel, how TCP connections end, and proves it.
//!
//! Pure core (no root, no I/O besides what it is handed): [`scenario`],
//! [`model`], [`analysis`], [`expect`], [`report`], [`evidence`], [`errno`].
//! Privileged shell (root, Linux): [`netns`], [`topology`], [`capture`],
//! [`sockdiag`], [`endpoint`], [`fault`], [`bpf`], [`tc`], [`runner`],
//! [`lab`], [`doctor`], [`cleanup`].

pub mod analysis;
pub mod errno;
pub mod evidence;
pub mod expect;
pub mod model;
pub mod record;
pub mod report;
pub mod scenario;
#[cfg(test)]
mod scenario_tests;
pub mod timing;

pub mod bpf;
pub mod capture;
pub mod cleanup;
pub mod doctor;
pub mod endpoint;
pub mod fault;
pub mod lab;
pub mod netns;
pub mod rtnl;
pub mod runner;
pub mod sockdiag;
pub mod tc;
pub mod topology;

use std::fmt;

/// An error that carries the process exit code: 1 a check failed, 2 bad
/// input or usage, 3 the environment can't run it.
#[derive(Debug)]
pub struct Exit(pub i32, pub String);

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for Exit {}

/// Bad input or usage (exit 2).
pub fn bad_input(msg: impl Into<String>) -> anyhow::Error {
    Exit(2, msg.into()).into()
}

/// The environment can't run it (exit 3).
pub fn unable(msg: impl Into<String>) -> anyhow::Error {
    Exit(3, msg.into()).into()
}

/// The exit code an error maps to.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    if let Some(Exit(code, _)) = e.downcast_ref::<Exit>() {
        return *code;
    }
    if e.downcast_ref::<scenario::ScenarioError>().is_some() {
        return 2;
    }
    3
}

/// For privileged tests: true when they can run (root). Without root they
/// skip, except under `CI=true`, where a privileged test must never pass by
/// skipping: there this panics.
#[doc(hidden)]
pub fn privileged() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    // An explicit request to skip (a CI job that runs the pure core without root).
    if std::env::var("TEARDOWN_SKIP_PRIVILEGED")
        .map(|v| v == "1")
        .unwrap_or(false)
    {
        eprintln!("skipped: privileged test (TEARDOWN_SKIP_PRIVILEGED=1)");
        return false;
    }
    if std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
    {
        panic!("privileged test cannot run: not root (CI=true requires privileged tests)");
    }
    eprintln!("skipped: privileged test needs root");
    false
}
