//! SIGINT and SIGTERM during a run: a flag every wait of every scenario checks.

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

static ABORT: AtomicBool = AtomicBool::new(false);

/// Whether SIGINT or SIGTERM arrived.
pub fn aborted() -> bool {
    ABORT.load(Ordering::SeqCst)
}

/// SIGINT/SIGTERM set a flag; a watcher thread turns it into [`aborted`] and
/// aborts every recorder, so every wait notices and the labs come down.
pub fn install_watch() -> Result<()> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, flag.clone()).context("installing signal handlers")?;
    }
    std::thread::spawn(move || loop {
        if flag.load(Ordering::SeqCst) {
            ABORT.store(true, Ordering::SeqCst);
            crate::record::abort_all();
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    });
    Ok(())
}
