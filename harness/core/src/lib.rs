//! The pure core of tcp-teardown-lab: data in, data out.
//!
//! Contract: nothing here touches the kernel, a file, a process or a clock.
//! Callers hand it bytes (captures, scenario text) and records (packets,
//! socket samples, application events) and get back typed values, checks
//! with their evidence, and report text. It builds and runs anywhere
//! (`#![forbid(unsafe_code)]`; no libc, nix, netlink or socket2 below it),
//! so `teardown replay` works on a laptop.
//!
//! - [`scenario`]: the scenario file format, validated into typed values (errors at file:line:col).
//! - [`model`]: the kernel's teardown timing rules (KERNEL-FACTS.md).
//! - [`icmp`]: ICMP soft errors (destination unreachable) in the model.
//! - [`analysis`]: capture bytes to per-connection TCP events and verdicts.
//! - [`expect`], [`timing`]: a scenario's expectations evaluated on the evidence.
//! - [`verdict`]: a run's checks, key times and verdict; [`waits`]: the timeline's waits as predicates on [`records`].
//! - [`report`]: summaries, JUnit, ladder SVGs, the HTML index.
//! - [`evidence`], [`records`], [`errno`]: the records a run produces, as plain data.
//! - [`error`]: the kinds of failure, which decide the exit code.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod errno;
pub mod error;
pub mod evidence;
pub mod expect;
pub mod icmp;
pub mod model;
pub mod records;
pub mod report;
pub mod scenario;
pub mod timing;
pub mod verdict;
pub mod waits;

pub use error::{bad_input, internal, missing, unable, Error, ErrorKind};
