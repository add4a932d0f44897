//! The privileged shell of tcp-teardown-lab: everything that touches the kernel.
//!
//! Contract: Linux, root (or CAP_NET_ADMIN). Each module wraps one kernel
//! interface and stays thin; decisions (what a scenario means, whether a
//! check passed) belong to `teardown_core`. Every namespace, link and process
//! created here carries the `td-` prefix and is removed on every path.
//!
//! - [`netns`]: network namespaces (create, enter on a throw-away thread, delete).
//! - [`netlink`], [`rtnl`], [`tc`], [`bpf`]: the netlink request loop, rtnetlink
//!   (links, addresses, neighbours), traffic control, eBPF programs.
//! - [`topology`], [`lab`]: the lab's namespaces, links and addresses; `teardown lab`.
//! - [`capture`], [`sockdiag`], [`steal`], [`record`]: the evidence: packets, socket samples,
//!   the CPUs' stolen time, the recorder.
//! - [`fault`], [`endpoint`], [`exec`], [`account`]: faults on the wire; the processes under test
//!   (built-in, external), and who they run as.
//! - [`runner`]: a scenario's timeline, its artifacts, many scenarios at once.
//! - [`cleanup`], [`doctor`], [`sys`], [`files`]: leftovers, kernel features, the process's environment, input files.

pub mod account;
pub mod bpf;
pub mod capture;
pub mod cleanup;
pub mod doctor;
pub mod endpoint;
pub mod error;
pub mod exec;
pub mod fault;
pub mod files;
pub mod lab;
pub mod netlink;
pub mod netns;
pub mod pace;
pub mod record;
pub mod rtnl;
pub mod runner;
pub mod sockdiag;
pub mod steal;
pub mod sys;
pub mod tc;
pub mod ticks;
pub mod topology;

#[doc(hidden)]
pub use sys::require_privileged;
