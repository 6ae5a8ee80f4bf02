//! Tests of the trace readers: [`formats`] reads good traces, [`errors`] bad ones, and
//! [`properties`] holds the property tests over arbitrary input.

mod errors;
mod formats;
mod properties;

use super::*;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Reads `text` whole.
fn read_str(
    text: &str,
    format: TraceFormat,
    options: TraceOptions,
) -> Vec<Result<TraceRecord, TraceError>> {
    TraceReader::new(text.as_bytes(), format, options).collect()
}

/// A trace kept in the repository (`traces/`: the MIT-licensed TPC-C sample).
fn repo_trace(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../traces")
        .join(name)
}

/// A trace that cannot live in the repository (the GPL-3.0 CloudPhysics trace): in
/// `$MIRRORLAB_TRACES`, else `../shared/traces/` beside the clone. `None` when absent, after
/// a banner saying which test did not run; in CI (`CI=true`) a missing trace fails instead,
/// so a skip never passes there.
fn library_trace(test: &str, name: &str) -> Option<PathBuf> {
    let found = [
        std::env::var_os("MIRRORLAB_TRACES").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces")),
    ]
    .into_iter()
    .flatten()
    .map(|d| d.join(name))
    .find(|p| p.is_file());
    if found.is_none() {
        let why = format!(
            "{test} did not run: it needs {name} (not in the repository); set \
             MIRRORLAB_TRACES to its directory or put ../shared/traces beside the clone"
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "in CI: {why}");
        // Straight to the process's stderr: the test harness captures `eprintln!` of a test
        // that passes, and a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n======== SKIPPED ========\n{why}\n=========================\n"
        );
    }
    found
}

fn read_file(path: &Path, format: TraceFormat, options: TraceOptions) -> Vec<TraceRecord> {
    let name = path.display();
    let reader = TraceReader::open(path, format, options).unwrap_or_else(|e| panic!("{name}: {e}"));
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
