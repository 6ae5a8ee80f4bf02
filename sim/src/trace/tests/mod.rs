//! Tests of the trace readers: [`formats`] reads good traces, [`errors`] bad ones, and
//! [`properties`] holds the property tests over arbitrary input.

mod errors;
mod formats;
mod properties;

use super::*;
use std::path::{Path, PathBuf};

/// Reads `text` whole.
fn read_str(
    text: &str,
    format: TraceFormat,
    options: TraceOptions,
) -> Vec<Result<TraceRecord, TraceError>> {
    TraceReader::new(text.as_bytes(), format, options).collect()
}

fn shared_trace(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/traces/")
        .join(name)
}

fn read_file(name: &str, format: TraceFormat, options: TraceOptions) -> Vec<TraceRecord> {
    let reader = TraceReader::open(&shared_trace(name), format, options)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    reader
        .map(|r| r.unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect()
}

fn errors(text: &str, format: TraceFormat) -> Vec<String> {
    read_str(text, format, TraceOptions::default())
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect()
}

/// The only message reading `text` gives.
fn error(text: &str, format: TraceFormat) -> String {
    let all = errors(text, format);
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].clone()
}

fn assert_sorted_and_valid(records: &[TraceRecord]) {
    assert_eq!(records[0].time_ns, 0, "first record at t = 0");
    for pair in records.windows(2) {
        assert!(pair[0].time_ns <= pair[1].time_ns, "{pair:?}");
    }
    assert!(records.iter().all(|r| r.len > 0));
}
