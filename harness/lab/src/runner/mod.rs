//! The runner: executes scenarios, each in its own lab, and owns cleanup.
//!
//! Split by job: [`discover`] (which scenarios: files, families, shards),
//! [`pool`] (many at once, signals), `gate` (how many start up at once), `one` (one scenario: lab, timeline,
//! evaluation; private), `timeline` (the steps: actions and waits; private),
//! `supervise` (the endpoint processes; private), [`artifacts`] (the run's
//! files, merging runs). Module uses go one way: `one` -> `timeline` ->
//! `supervise`.
//!
//! Contract:
//! - Every scenario file is parsed and validated before anything is created;
//!   one bad file means exit 2 and no lab.
//! - A scenario runs in a lab of its own (unique id), so scenarios run in
//!   parallel (`--jobs`). Its lab is torn down on every path: success,
//!   failure, error, panic (a drop guard), SIGINT and SIGTERM (the waits see
//!   the abort flag and return; the guard then runs).
//! - A verdict is `pass` only when every check passed on complete evidence:
//!   capture drops, capture errors, an endpoint that died on its own, a wait
//!   that timed out or a fault the kernel refused make it `error` with the reason.

pub mod artifacts;
pub mod discover;
mod gate;
mod one;
pub mod pool;
mod signals;
mod supervise;
mod timeline;

pub use discover::{
    check_programs, load_all, parse_shard, scenario_files, shard, with_families, Families,
};
pub use one::{new_run_id, run_scenario_guarded};
pub use pool::{run_all, Observer, Plan};
pub use signals::{aborted, install_watch};
