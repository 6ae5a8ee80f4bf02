//! Streaming readers for real block I/O traces (formats: the README's "Trace formats"; the
//! sample kept in the repository: `traces/README.md`).
//!
//! This module owns turning a trace file into [`TraceRecord`]s. It is split by concern: one
//! file per format holds its field layout and how a line becomes a record; [`layout`] holds
//! how any line splits into fields and how a field parses; [`reader`] reads line by line from
//! any `BufRead` (a trace is never loaded whole), skips comments and headers, and makes times
//! relative to the first record and scales them; [`format`] names the formats; [`error`] holds
//! the line-numbered errors. Checking that records fit the volume they are replayed on is the
//! caller's job: only it knows the volume size.

mod alibaba;
mod cloudphysics;
mod disksim;
mod error;
mod format;
mod layout;
mod mqsim;
mod msr;
mod reader;
mod umass;

#[cfg(test)]
mod tests;

pub use error::TraceError;
pub(crate) use format::deserialize_name;
pub use format::TraceFormat;
pub use reader::{not_a_file, TraceReader};

/// One block I/O, with its time relative to the trace's first record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceRecord {
    /// Nanoseconds since the first record, after `time_scale`.
    pub time_ns: u64,
    pub op: Op,
    /// Byte offset on the device.
    pub offset: u64,
    /// Length in bytes, never zero.
    pub len: u64,
    /// The device (disk, ASU, volume) as the trace numbers it; 0 where the format has none.
    pub device: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Read,
    Write,
}

/// How to read a trace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceOptions {
    /// Count and skip lines that do not parse instead of yielding an error for each, for real
    /// traces with a few damaged records. I/O errors and an empty trace still fail.
    pub skip_bad_lines: bool,
    /// Multiplies every time: 1.0 replays as recorded, 2.0 twice as slow, 0.5 twice as fast.
    pub time_scale: f64,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            skip_bad_lines: false,
            time_scale: 1.0,
        }
    }
}
