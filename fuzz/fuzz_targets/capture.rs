//! Any bytes as a capture file: the reader, the link decoders, the
//! connection analysis and the ladder renderer must not panic.
//! Run: cargo +nightly fuzz run capture (seeds: tests/golden/*.pcap*, tests/corpus/*/).
#![no_main]

use libfuzzer_sys::fuzz_target;
use teardown_core::analysis::{conn::Analyzer, CaptureReader, Frames};

fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = CaptureReader::new(data) {
        let mut a = Analyzer::new(vec![]);
        let mut frames = Frames::default();
        while let Ok(Some(f)) = r.next_frame() {
            if let Some(seg) = frames.segment(f.linktype, f.data, f.orig_len) {
                a.push(f.ts_ns, f.iface, &seg);
            }
        }
        let _ = a.finish();
        let _ = frames.finish();
    }
    if let Ok(d) = teardown_core::analysis::read_capture(data) {
        let ev = teardown_core::analysis::evidence_from_capture(&d);
        let _ = teardown_core::report::ladder::render(&ev, "fuzz");
    }
});
