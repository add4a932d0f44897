//! The streamed replay's reader thread: reads and decodes the capture
//! ([`for_each_frame`]) and hands its frames over in batches, in file order.

use std::sync::mpsc::SyncSender;
use teardown_core::analysis::wire::Segment;
use teardown_core::analysis::{for_each_frame, CaptureError, Streamed};

/// Frames handed over at once.
pub const BATCH: usize = 4096;

/// One frame: its number, time, interface (an index into the names the
/// reader has sent, in their order), comment and segment.
pub struct Frame {
    pub frame: u64,
    pub ts_ns: u64,
    pub name: usize,
    pub comment: Option<Box<str>>,
    pub seg: Option<Segment>,
}

/// Frames in file order, and the interface names first seen in them.
pub struct Batch {
    pub names: Vec<String>,
    pub frames: Vec<Frame>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            names: Vec::new(),
            frames: Vec::with_capacity(BATCH),
        }
    }
}

/// Reads `file`, sending its frames to `tx`; returns what
/// [`for_each_frame`] does. Stops sending when nobody receives.
pub fn read_batches(file: std::fs::File, tx: &SyncSender<Batch>) -> Result<Streamed, CaptureError> {
    let mut names: Vec<String> = Vec::new();
    let mut last = usize::MAX;
    let mut batch = Batch::new();
    let mut gone = false;
    let read = for_each_frame(file, |f| {
        if gone {
            return;
        }
        if names.get(last).is_none_or(|n| n != f.port) {
            last = match names.iter().position(|n| n == f.port) {
                Some(i) => i,
                None => {
                    names.push(f.port.to_string());
                    batch.names.push(f.port.to_string());
                    names.len() - 1
                }
            };
        }
        batch.frames.push(Frame {
            frame: f.frame,
            ts_ns: f.ts_ns,
            name: last,
            comment: f.comment.map(Box::from),
            seg: f.seg,
        });
        if batch.frames.len() == BATCH {
            gone = tx
                .send(std::mem::replace(&mut batch, Batch::new()))
                .is_err();
        }
    })?;
    if !gone && !batch.frames.is_empty() {
        let _ = tx.send(batch);
    }
    Ok(read)
}
