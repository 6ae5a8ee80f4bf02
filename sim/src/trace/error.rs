//! What can go wrong reading a trace, and how found text is quoted in the messages.

use std::io;
use std::path::PathBuf;
use thiserror::Error;

/// What went wrong, with the 1-based line number for anything tied to a line. The file name is
/// the caller's to add: it may be reading from something that has none.
#[derive(Debug, Error)]
pub enum TraceError {
    #[error("line {line}: expected {expected}, found {found} in {text:?}")]
    FieldCount {
        line: u64,
        expected: String,
        found: usize,
        text: String,
    },
    #[error("line {line}: expected {expected} in field {field:?}, found {found:?}")]
    Field {
        line: u64,
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("line {line}: expected a time not earlier than the previous record's {previous:?} in field {field:?}, found {found:?}")]
    Backwards {
        line: u64,
        field: &'static str,
        previous: String,
        found: String,
    },
    #[error("line {line}: expected the header {expected:?}, found {found:?}")]
    Header {
        line: u64,
        expected: String,
        found: String,
    },
    #[error("line {line}: expected UTF-8 text, found other bytes")]
    NotUtf8 { line: u64 },
    #[error("line {line}: expected a line of at most {max} bytes, found a longer one")]
    LineTooLong { line: u64, max: usize },
    #[error("line {line}: expected an I/O within volume {volume} ({}), found one ending at byte {end}", crate::units::Bytes(*.size))]
    PastEnd {
        line: u64,
        volume: String,
        size: u64,
        end: u64,
    },
    #[error("trace is empty: no I/O records")]
    Empty,
    #[error("line {line}: cannot read the trace: {error}")]
    Io { line: u64, error: io::Error },
    #[error("cannot open trace {}: {error}", .path.display())]
    Open { path: PathBuf, error: io::Error },
    #[error("cannot read trace {}: expected a regular file, found {kind}", .path.display())]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error("expected a trace format (cloudphysics, disksim, mqsim, msr, umass, alibaba), found {found:?}")]
    UnknownFormat { found: String },
    #[error("expected a time_scale that is a finite number >= 0, found {found}")]
    TimeScale { found: f64 },
}

impl TraceError {
    /// The line the error is about, if it is about one.
    pub fn line(&self) -> Option<u64> {
        match self {
            TraceError::FieldCount { line, .. }
            | TraceError::Field { line, .. }
            | TraceError::Backwards { line, .. }
            | TraceError::Header { line, .. }
            | TraceError::NotUtf8 { line }
            | TraceError::LineTooLong { line, .. }
            | TraceError::PastEnd { line, .. }
            | TraceError::Io { line, .. } => Some(*line),
            TraceError::Empty
            | TraceError::Open { .. }
            | TraceError::NotAFile { .. }
            | TraceError::UnknownFormat { .. }
            | TraceError::TimeScale { .. } => None,
        }
    }
}

/// Found text is quoted in messages up to this many characters.
const MAX_EXCERPT: usize = 60;

pub(super) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(MAX_EXCERPT) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}
