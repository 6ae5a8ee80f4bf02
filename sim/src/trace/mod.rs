//! Streaming readers for real block I/O traces (see `../shared/traces/README.md`).
//!
//! This module owns turning a trace file into [`TraceRecord`]s: one file per format holds its
//! field layout and how a line becomes a record; this file holds what all formats share —
//! reading line by line from any `BufRead` (a trace is never loaded whole), comments, headers,
//! making times relative to the first record and scaling them, and the line-numbered errors.
//! Checking that records fit the volume they are replayed on is the caller's job: only it knows
//! the volume size.

mod alibaba;
mod cloudphysics;
mod disksim;
mod msr;
mod umass;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use thiserror::Error;

use crate::units::scale_decimal;

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

/// The trace formats a scenario can name in `workload.format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceFormat {
    CloudPhysics,
    /// DiskSim ASCII as MQSim reads it (times in ns); also named "mqsim".
    DiskSim,
    Msr,
    Umass,
    Alibaba,
}

impl TraceFormat {
    pub const ALL: [TraceFormat; 5] = [
        TraceFormat::CloudPhysics,
        TraceFormat::DiskSim,
        TraceFormat::Msr,
        TraceFormat::Umass,
        TraceFormat::Alibaba,
    ];

    fn name(self) -> &'static str {
        match self {
            TraceFormat::CloudPhysics => "cloudphysics",
            TraceFormat::DiskSim => "disksim",
            TraceFormat::Msr => "msr",
            TraceFormat::Umass => "umass",
            TraceFormat::Alibaba => "alibaba",
        }
    }

    fn layout(self) -> &'static Layout {
        match self {
            TraceFormat::CloudPhysics => &cloudphysics::LAYOUT,
            TraceFormat::DiskSim => &disksim::LAYOUT,
            TraceFormat::Msr => &msr::LAYOUT,
            TraceFormat::Umass => &umass::LAYOUT,
            TraceFormat::Alibaba => &alibaba::LAYOUT,
        }
    }
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for TraceFormat {
    type Err = TraceError;

    fn from_str(s: &str) -> Result<Self, TraceError> {
        if s == "mqsim" {
            return Ok(TraceFormat::DiskSim);
        }
        TraceFormat::ALL
            .into_iter()
            .find(|format| format.name() == s)
            .ok_or_else(|| TraceError::UnknownFormat {
                found: s.to_string(),
            })
    }
}

impl<'de> Deserialize<'de> for TraceFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// A visitor rather than `String::deserialize`, so the error carries the position.
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = TraceFormat;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a trace format name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TraceFormat, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Name)
    }
}

impl Serialize for TraceFormat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
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
    #[error("expected a trace format (cloudphysics, disksim or mqsim, msr, umass, alibaba), found {found:?}")]
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
            | TraceError::UnknownFormat { .. }
            | TraceError::TimeScale { .. } => None,
        }
    }
}

/// Longer lines are refused rather than buffered: real trace lines are under 200 bytes, and a
/// file without newlines must not be read into memory whole.
const MAX_LINE: usize = 64 * 1024;

/// Found text is quoted in messages up to this many characters.
const MAX_EXCERPT: usize = 60;

fn excerpt(text: &str) -> String {
    match text.char_indices().nth(MAX_EXCERPT) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

/// A reader of one trace format from any buffered source, yielding records in file order.
///
/// After an error on a line the reader goes on with the next line, so a caller may report
/// several; after an I/O error it stops. A trace without a single record yields
/// [`TraceError::Empty`] (unless it already yielded a line error).
pub struct TraceReader<R> {
    reader: R,
    layout: &'static Layout,
    options: TraceOptions,
    /// The current line's bytes, reused from line to line.
    buf: Vec<u8>,
    line: u64,
    /// Whether a line other than blanks and comments was seen: a header may only come first.
    seen_content: bool,
    /// Raw time of the first record and of the latest one, in ns as recorded.
    first_time: Option<u128>,
    last_time: u128,
    last_time_text: String,
    records: u64,
    skipped: u64,
    yielded_error: bool,
    /// An error found before reading (a bad option), yielded first.
    pending: Option<TraceError>,
    done: bool,
}

impl TraceReader<BufReader<File>> {
    pub fn open(
        path: &Path,
        format: TraceFormat,
        options: TraceOptions,
    ) -> Result<TraceReader<BufReader<File>>, TraceError> {
        let file = File::open(path).map_err(|error| TraceError::Open {
            path: path.to_path_buf(),
            error,
        })?;
        Ok(TraceReader::new(BufReader::new(file), format, options))
    }
}

impl<R: BufRead> TraceReader<R> {
    /// A bad `time_scale` is not refused here but yielded as the first item, so that building
    /// a reader cannot fail and every problem reaches the caller the same way.
    pub fn new(reader: R, format: TraceFormat, options: TraceOptions) -> Self {
        let scale = options.time_scale;
        let pending = (!(scale.is_finite() && scale >= 0.0))
            .then_some(TraceError::TimeScale { found: scale });
        TraceReader {
            reader,
            layout: format.layout(),
            options,
            buf: Vec::new(),
            line: 0,
            seen_content: false,
            first_time: None,
            last_time: 0,
            last_time_text: String::new(),
            records: 0,
            skipped: 0,
            yielded_error: false,
            pending,
            done: false,
        }
    }

    /// Lines skipped as bad so far (only with `skip_bad_lines`).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The 1-based line of the record (or error) last yielded, for the caller's own checks.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Reads the next line into `buf` without its newline. `Ok(None)` at the end of input;
    /// `Ok(Some(false))` when the line was longer than `MAX_LINE` (its bytes are discarded).
    fn read_line(&mut self) -> io::Result<Option<bool>> {
        self.buf.clear();
        let mut fits = true;
        let mut any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            any = true;
            let newline = available.iter().position(|&b| b == b'\n');
            let chunk = &available[..newline.unwrap_or(available.len())];
            if fits && self.buf.len() + chunk.len() <= MAX_LINE {
                self.buf.extend_from_slice(chunk);
            } else {
                fits = false;
                self.buf.clear();
            }
            let used = newline.map_or(available.len(), |at| at + 1);
            self.reader.consume(used);
            if newline.is_some() {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line += 1;
        Ok(Some(fits))
    }

    /// The record on the current line; `Ok(None)` for lines that hold none (blank, comment,
    /// header, a non-I/O command).
    fn parse_line(&mut self) -> Result<Option<TraceRecord>, TraceError> {
        let line = self.line;
        let text = std::str::from_utf8(&self.buf).map_err(|_| TraceError::NotUtf8 { line })?;
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            return Ok(None);
        }
        let layout = self.layout;
        let fields = Fields::split(text, layout);
        let first_content = !self.seen_content;
        self.seen_content = true;
        if first_content && layout.header && fields.get(0).eq_ignore_ascii_case(layout.names[0]) {
            return layout.check_header(&fields, line, text).map(|()| None);
        }
        if !layout.field_count_fits(fields.count) {
            return Err(TraceError::FieldCount {
                line,
                expected: layout.describe(),
                found: fields.count,
                text: excerpt(text),
            });
        }
        let Some(raw) = (layout.parse)(&fields).map_err(|e| e.at(line))? else {
            return Ok(None);
        };
        if raw.offset.checked_add(raw.len).is_none() {
            let e = fields.error(layout.offset_field, "an extent that ends below 2^64 bytes");
            return Err(e.at(line));
        }
        let time_text = fields.get(layout.time_field);
        if self.first_time.is_some() && raw.time_ns < self.last_time {
            return Err(TraceError::Backwards {
                line,
                field: layout.names[layout.time_field],
                previous: excerpt(&self.last_time_text),
                found: excerpt(time_text),
            });
        }
        let first = *self.first_time.get_or_insert(raw.time_ns);
        let time_ns = u64::try_from(raw.time_ns - first)
            .ok()
            .and_then(|t| scale_time(t, self.options.time_scale))
            .ok_or_else(|| {
                fields
                    .error(
                        layout.time_field,
                        "a time within 584 years of the first record (after time_scale)",
                    )
                    .at(line)
            })?;
        self.last_time = raw.time_ns;
        self.last_time_text.clear();
        self.last_time_text.push_str(time_text);
        Ok(Some(TraceRecord {
            time_ns,
            op: raw.op,
            offset: raw.offset,
            len: raw.len,
            device: raw.device,
        }))
    }
}

/// `time * scale` rounded to the nearest ns; `None` past `u64::MAX`. Exact when scale is 1.
fn scale_time(time: u64, scale: f64) -> Option<u64> {
    if scale == 1.0 {
        return Some(time);
    }
    let scaled = (time as f64 * scale).round();
    // 2^64 as f64; `as` would saturate silently.
    (scaled < 18_446_744_073_709_551_616.0).then_some(scaled as u64)
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<TraceRecord, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(error) = self.pending.take() {
            self.done = true;
            return Some(Err(error));
        }
        loop {
            let result = match self.read_line() {
                Err(error) => {
                    self.done = true;
                    return Some(Err(TraceError::Io {
                        line: self.line + 1,
                        error,
                    }));
                }
                Ok(None) => {
                    self.done = true;
                    let empty = self.records == 0 && !self.yielded_error;
                    return empty.then_some(Err(TraceError::Empty));
                }
                Ok(Some(false)) => Err(TraceError::LineTooLong {
                    line: self.line,
                    max: MAX_LINE,
                }),
                Ok(Some(true)) => self.parse_line(),
            };
            match result {
                Ok(None) => continue,
                Ok(Some(record)) => {
                    self.records += 1;
                    return Some(Ok(record));
                }
                Err(_) if self.options.skip_bad_lines => self.skipped += 1,
                Err(error) => {
                    self.yielded_error = true;
                    return Some(Err(error));
                }
            }
        }
    }
}

/// A record as one line gives it, with its time as recorded (in ns, not yet relative).
struct RawRecord {
    time_ns: u128,
    op: Op,
    offset: u64,
    len: u64,
    device: u64,
}

enum Separator {
    Comma,
    Whitespace,
}

/// What a format's lines look like; each format file defines one.
struct Layout {
    /// Field names as the format's documentation spells them, in order.
    names: &'static [&'static str],
    separator: Separator,
    /// More fields than `names` may follow (the SPC format's optional fields).
    extra_fields: bool,
    /// A header line naming the fields may come first.
    header: bool,
    time_field: usize,
    offset_field: usize,
    /// `Ok(None)` for a well-formed line that is not an I/O.
    parse: fn(&Fields<'_>) -> Result<Option<RawRecord>, FieldError>,
}

impl Layout {
    fn field_count_fits(&self, count: usize) -> bool {
        count == self.names.len() || (self.extra_fields && count > self.names.len())
    }

    fn joined_names(&self) -> String {
        match self.separator {
            Separator::Comma => self.names.join(","),
            Separator::Whitespace => self.names.join(" "),
        }
    }

    fn describe(&self) -> String {
        let at_least = if self.extra_fields { "at least " } else { "" };
        let kind = match self.separator {
            Separator::Comma => "comma-separated",
            Separator::Whitespace => "space-separated",
        };
        format!(
            "{at_least}{} {kind} fields {:?}",
            self.names.len(),
            self.joined_names()
        )
    }

    fn check_header(&self, fields: &Fields<'_>, line: u64, text: &str) -> Result<(), TraceError> {
        let names_match = self.field_count_fits(fields.count)
            && self
                .names
                .iter()
                .enumerate()
                .all(|(i, name)| fields.get(i).eq_ignore_ascii_case(name));
        if names_match {
            Ok(())
        } else {
            Err(TraceError::Header {
                line,
                expected: self.joined_names(),
                found: excerpt(text),
            })
        }
    }
}

/// Most fields any format reads; further fields are only counted.
const MAX_FIELDS: usize = 8;

const SECTOR: u64 = 512;

/// The fields of one line, trimmed, without allocating.
struct Fields<'a> {
    values: [&'a str; MAX_FIELDS],
    count: usize,
    names: &'static [&'static str],
}

/// A bad field, before the reader adds the line number.
struct FieldError {
    field: &'static str,
    expected: &'static str,
    found: String,
}

impl FieldError {
    fn at(self, line: u64) -> TraceError {
        TraceError::Field {
            line,
            field: self.field,
            expected: self.expected,
            found: self.found,
        }
    }
}

impl<'a> Fields<'a> {
    fn split(text: &'a str, layout: &Layout) -> Self {
        let mut fields = Fields {
            values: [""; MAX_FIELDS],
            count: 0,
            names: layout.names,
        };
        let mut push = |value: &'a str| {
            if let Some(slot) = fields.values.get_mut(fields.count) {
                *slot = value;
            }
            fields.count += 1;
        };
        match layout.separator {
            Separator::Comma => text.split(',').map(str::trim).for_each(&mut push),
            Separator::Whitespace => text.split_ascii_whitespace().for_each(&mut push),
        }
        fields
    }

    fn get(&self, i: usize) -> &'a str {
        self.values.get(i).copied().unwrap_or("")
    }

    fn error(&self, i: usize, expected: &'static str) -> FieldError {
        let field = self.names.get(i).copied().unwrap_or("?");
        FieldError {
            field,
            expected,
            found: excerpt(self.get(i)),
        }
    }

    /// A plain decimal integer (no sign, no spaces).
    fn number(&self, i: usize, expected: &'static str) -> Result<u64, FieldError> {
        let text = self.get(i);
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.error(i, expected));
        }
        text.parse().map_err(|_| self.error(i, expected))
    }

    /// A non-zero length, given in units of `unit` bytes.
    fn size(&self, i: usize, unit: u64, expected: &'static str) -> Result<u64, FieldError> {
        match self.number(i, expected)? {
            0 => Err(self.error(i, "a non-zero size")),
            n => n
                .checked_mul(unit)
                .ok_or_else(|| self.error(i, "a size below 2^64 bytes")),
        }
    }

    /// The operation, by the format's own spelling of a read and a write, in any letter case
    /// (traces differ in case even within one format family).
    fn op(
        &self,
        i: usize,
        read: &str,
        write: &str,
        expected: &'static str,
    ) -> Result<Op, FieldError> {
        match self.get(i) {
            t if t.eq_ignore_ascii_case(read) => Ok(Op::Read),
            t if t.eq_ignore_ascii_case(write) => Ok(Op::Write),
            _ => Err(self.error(i, expected)),
        }
    }

    /// A 512-byte sector number, as a byte offset.
    fn sector(&self, i: usize) -> Result<u64, FieldError> {
        self.number(i, "a sector number")?
            .checked_mul(SECTOR)
            .ok_or_else(|| self.error(i, "a sector number below 2^55"))
    }

    /// A non-negative decimal time in units of `unit_ns` nanoseconds, rounded to the ns.
    fn time(&self, i: usize, unit_ns: u128, expected: &'static str) -> Result<u128, FieldError> {
        scale_decimal(self.get(i), unit_ns, 1).map_err(|_| self.error(i, expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::human_bytes;
    use proptest::prelude::*;

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

    #[test]
    fn cloudphysics_2h_trace() {
        let records = read_file(
            "cloudphysics-2h.csv",
            TraceFormat::CloudPhysics,
            TraceOptions::default(),
        );
        let writes: Vec<_> = records.iter().filter(|r| r.op == Op::Write).collect();
        let write_bytes: u64 = writes.iter().map(|r| r.len).sum();
        println!(
            "cloudphysics-2h.csv: {} records, {} written",
            records.len(),
            human_bytes(write_bytes)
        );
        assert_eq!(records.len(), 113_872);
        assert_eq!(writes.len(), 66_898);
        assert_eq!(records.len() - writes.len(), 46_974);
        assert_eq!(write_bytes, 2_408_565_760);
        assert_eq!(human_bytes(write_bytes), "2.4 GB");
        assert_sorted_and_valid(&records);
        assert_eq!(
            records.last().map(|r| r.time_ns),
            Some(7_200_000_000_000),
            "2 hours"
        );
        assert!(records.iter().all(|r| r.device == 0 && r.offset % 512 == 0));
        assert_eq!(
            records[0],
            TraceRecord {
                time_ns: 0,
                op: Op::Write,
                offset: 42_932_745 * 512,
                len: 512,
                device: 0
            }
        );
    }

    #[test]
    fn tpcc_small_trace() {
        let records = read_file(
            "tpcc-small.trace",
            TraceFormat::DiskSim,
            TraceOptions::default(),
        );
        let writes = records.iter().filter(|r| r.op == Op::Write).count();
        assert_eq!(writes, 2_618);
        // The README says 7,000 records; the file holds 6,999 lines.
        assert_eq!(records.len(), 6_999);
        assert_sorted_and_valid(&records);
        assert_eq!(
            records.last().map(|r| r.time_ns),
            Some(1_075_002_000 - 938_513_000),
            "136 ms"
        );
        assert_eq!(
            records[0],
            TraceRecord {
                time_ns: 0,
                op: Op::Write,
                offset: 264_719_034 * 512,
                len: 16 * 512,
                device: 4
            }
        );
        let devices: std::collections::BTreeSet<u64> = records.iter().map(|r| r.device).collect();
        assert!(devices.len() > 1, "{devices:?}");

        let slow = read_file(
            "tpcc-small.trace",
            TraceFormat::DiskSim,
            TraceOptions {
                time_scale: 2.0,
                ..Default::default()
            },
        );
        assert_eq!(slow.len(), records.len());
        assert!(slow
            .iter()
            .zip(&records)
            .all(|(s, r)| s.time_ns == 2 * r.time_ns && s.offset == r.offset));
    }

    #[test]
    fn one_line_of_each_format() {
        let one = |text: &str, format| {
            let all = read_str(text, format, TraceOptions::default());
            assert_eq!(all.len(), 1, "{text}");
            all.into_iter()
                .next()
                .and_then(Result::ok)
                .unwrap_or_else(|| panic!("{text}"))
        };
        let at_zero = |op, offset, len, device| TraceRecord {
            time_ns: 0,
            op,
            offset,
            len,
            device,
        };
        assert_eq!(
            one(
                "version,time,op,size,lbn\n1,5633898,28,6656,40409911\n",
                TraceFormat::CloudPhysics
            ),
            at_zero(Op::Read, 40_409_911 * 512, 6_656, 0)
        );
        assert_eq!(
            one("938513000 4 264719034 16 1\n", TraceFormat::DiskSim),
            at_zero(Op::Read, 264_719_034 * 512, 8_192, 4)
        );
        assert_eq!(
            one(
                "128166372003061629,hm,0,Write,7014912,4096,26\n",
                TraceFormat::Msr
            ),
            at_zero(Op::Write, 7_014_912, 4_096, 0)
        );
        assert_eq!(
            one("0,303567,3584,w,0.000000\n", TraceFormat::Umass),
            at_zero(Op::Write, 303_567 * 512, 3_584, 0)
        );
        assert_eq!(
            one(
                "419,R,8062218240,16384,1577808000000064\n",
                TraceFormat::Alibaba
            ),
            at_zero(Op::Read, 8_062_218_240, 16_384, 419)
        );
        assert_eq!(
            "mqsim".parse::<TraceFormat>().ok(),
            Some(TraceFormat::DiskSim)
        );
    }

    #[test]
    fn times_are_relative_to_the_first_record_and_scaled() {
        let text = "0,1000,4096,w,5\n1,1000,4096,r,5\n0,2000,512,w,7.5\n";
        let times = |scale| -> Vec<u64> {
            read_str(
                text,
                TraceFormat::Umass,
                TraceOptions {
                    time_scale: scale,
                    ..Default::default()
                },
            )
            .into_iter()
            .map(|r| r.map(|r| r.time_ns).unwrap_or(u64::MAX))
            .collect()
        };
        assert_eq!(times(1.0), [0, 0, 2_500_000_000], "equal times are fine");
        assert_eq!(times(2.0), [0, 0, 5_000_000_000]);
        assert_eq!(times(0.1), [0, 0, 250_000_000]);
        assert_eq!(times(0.0), [0, 0, 0]);
        // FILETIME ticks of 100 ns.
        let msr = "128166372003061629,hm,1,Read,0,512,26\n128166372003061639,hm,1,Read,0,512,26\n";
        let t: Vec<u64> = read_str(msr, TraceFormat::Msr, TraceOptions::default())
            .into_iter()
            .filter_map(|r| r.ok().map(|r| r.time_ns))
            .collect();
        assert_eq!(t, [0, 1_000]);
        let alibaba = "1,W,0,512,1577808000000064\n1,W,0,512,1577808000000065\n";
        let t: Vec<u64> = read_str(alibaba, TraceFormat::Alibaba, TraceOptions::default())
            .into_iter()
            .filter_map(|r| r.ok().map(|r| r.time_ns))
            .collect();
        assert_eq!(t, [0, 1_000]);
    }

    #[test]
    fn blank_lines_comments_headers_and_crlf_are_ignored() {
        let text = "\r\n# from libCacheSim\r\nversion,time,op,size,lbn\r\n  \r\n1,7,2a,512,1\r\n#1,8,2a,512,1\n1,7,2A,1024,2";
        let records: Vec<_> = read_str(text, TraceFormat::CloudPhysics, TraceOptions::default())
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].len, 1_024);
        // UMass with or without its header; Alibaba and MSR files have none but one is accepted.
        for text in [
            "ASU,LBA,Size,Opcode,Timestamp\n0,1,512,r,0.5\n",
            "0,1,512,r,0.5\n",
            "0,1,512,R,0.5,extra,fields\n",
        ] {
            assert_eq!(
                read_str(text, TraceFormat::Umass, TraceOptions::default()).len(),
                1,
                "{text}"
            );
        }
        assert_eq!(
            errors(
                "device_id,opcode,offset,length,timestamp\n1,W,0,512,1\n",
                TraceFormat::Alibaba
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn non_io_scsi_commands_are_skipped_silently() {
        let text = "1,1,12,0,0\n1,1,2a,512,8\n1,0,00,0,0\n1,2,28,512,8\n1,3,35,0,0\n";
        let mut reader = TraceReader::new(
            text.as_bytes(),
            TraceFormat::CloudPhysics,
            TraceOptions::default(),
        );
        let ops: Vec<_> = reader
            .by_ref()
            .map(|r| r.map(|r| (r.time_ns, r.op)).map_err(|e| e.to_string()))
            .collect();
        assert_eq!(
            ops,
            [Ok((0, Op::Write)), Ok((1_000_000_000, Op::Read))],
            "the earlier INQUIRY is not a record"
        );
        assert_eq!(reader.skipped(), 0);
        assert_eq!(
            error(
                "version,time,op,size,lbn\n1,1,12,0,0\n",
                TraceFormat::CloudPhysics
            ),
            "trace is empty: no I/O records"
        );
    }

    #[test]
    fn bad_fields_name_line_field_and_expectation() {
        use TraceFormat::*;
        let cases: &[(&str, TraceFormat, &str)] = &[
            (
                "1,1,2a,512,1\n\n#\n1,2,zz,512,1\n",
                CloudPhysics,
                r#"line 4: expected a hex SCSI opcode in field "op", found "zz""#,
            ),
            (
                "1,1,2a,512,1\n1,2,2a,512\n",
                CloudPhysics,
                r#"line 2: expected 5 comma-separated fields "version,time,op,size,lbn", found 4 in "1,2,2a,512""#,
            ),
            (
                "1 2 3 4\n",
                DiskSim,
                r#"line 1: expected 5 space-separated fields "arrival_time_ns device start_sector size_in_sectors type", found 4 in "1 2 3 4""#,
            ),
            (
                "0,1,512,r\n",
                Umass,
                r#"line 1: expected at least 5 comma-separated fields "ASU,LBA,Size,Opcode,Timestamp", found 4 in "0,1,512,r""#,
            ),
            (
                "1,1.5.1,2a,512,1\n",
                CloudPhysics,
                r#"line 1: expected a time in seconds in field "time", found "1.5.1""#,
            ),
            (
                "1,1,2a,-512,1\n",
                CloudPhysics,
                r#"line 1: expected a size in bytes in field "size", found "-512""#,
            ),
            (
                "1,1,2a,512,x1\n",
                CloudPhysics,
                r#"line 1: expected a sector number in field "lbn", found "x1""#,
            ),
            (
                "1,1,2a,0,1\n",
                CloudPhysics,
                r#"line 1: expected a non-zero size in field "size", found "0""#,
            ),
            (
                "1 2 3 0 0\n",
                DiskSim,
                r#"line 1: expected a non-zero size in field "size_in_sectors", found "0""#,
            ),
            (
                "1 2 3 4 2\n",
                DiskSim,
                r#"line 1: expected 0 (write) or 1 (read) in field "type", found "2""#,
            ),
            (
                "1e3 2 3 4 0\n",
                DiskSim,
                r#"line 1: expected a time in nanoseconds in field "arrival_time_ns", found "1e3""#,
            ),
            (
                "1,hm,0,Delete,0,512,1\n",
                Msr,
                r#"line 1: expected "Read" or "Write" in field "Type", found "Delete""#,
            ),
            (
                "1,hm,0,Read,0,0,1\n",
                Msr,
                r#"line 1: expected a non-zero size in field "Size", found "0""#,
            ),
            (
                "0,1,512,x,0.5\n",
                Umass,
                r#"line 1: expected "r" or "w" in field "Opcode", found "x""#,
            ),
            (
                "0,1,512,w,-0.5\n",
                Umass,
                r#"line 1: expected a time in seconds in field "Timestamp", found "-0.5""#,
            ),
            (
                "1,D,0,512,1\n",
                Alibaba,
                r#"line 1: expected "R" or "W" in field "opcode", found "D""#,
            ),
            (
                "1,W,0,512,1e6\n",
                Alibaba,
                r#"line 1: expected a time in microseconds in field "timestamp", found "1e6""#,
            ),
            (
                "1,W,0,512,1000000000000000000000000000000000000000\n",
                Alibaba,
                r#"line 1: expected a time in microseconds in field "timestamp", found "1000000000000000000000000000000000000000""#,
            ),
            (
                "1,W,18446744073709551615,512,1\n",
                Alibaba,
                r#"line 1: expected an extent that ends below 2^64 bytes in field "offset", found "18446744073709551615""#,
            ),
            (
                "1,1,2a,512,36028797018963968\n",
                CloudPhysics,
                r#"line 1: expected a sector number below 2^55 in field "lbn", found "36028797018963968""#,
            ),
            (
                "version,time,size,op,lbn\n",
                CloudPhysics,
                r#"line 1: expected the header "version,time,op,size,lbn", found "version,time,size,op,lbn""#,
            ),
            (
                "1,W,0,512,0\n1,W,0,512,18446744073709551615\n",
                Alibaba,
                r#"line 2: expected a time within 584 years of the first record (after time_scale) in field "timestamp", found "18446744073709551615""#,
            ),
        ];
        for &(text, format, want) in cases {
            assert_eq!(errors(text, format), [want], "{format}: {text:?}");
        }
    }

    #[test]
    fn timestamps_may_not_go_backwards() {
        let text =
            "1,5633898,2a,512,1\n1,5633898,2a,512,2\n1,5633897,28,512,3\n1,5633899,28,512,3\n";
        let results = read_str(text, TraceFormat::CloudPhysics, TraceOptions::default());
        let messages: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().map(|r| r.time_ns).map_err(|e| e.to_string()))
            .collect();
        assert_eq!(
            messages,
            [
                Ok(0),
                Ok(0),
                Err(r#"line 3: expected a time not earlier than the previous record's "5633898" in field "time", found "5633897""#.to_string()),
                Ok(1_000_000_000),
            ],
            "reading goes on after a bad line"
        );
        assert_eq!(
            results[2].as_ref().err().and_then(TraceError::line),
            Some(3)
        );
    }

    #[test]
    fn empty_traces_are_an_error() {
        for text in ["", "\n\n", "# nothing\n", "version,time,op,size,lbn\n"] {
            assert_eq!(
                error(text, TraceFormat::CloudPhysics),
                "trace is empty: no I/O records",
                "{text:?}"
            );
            let skipping = TraceOptions {
                skip_bad_lines: true,
                ..Default::default()
            };
            let all: Vec<_> = read_str(text, TraceFormat::CloudPhysics, skipping)
                .into_iter()
                .map(|r| r.map_err(|e| e.to_string()))
                .collect();
            assert_eq!(all, [Err("trace is empty: no I/O records".to_string())]);
        }
    }

    #[test]
    fn skip_bad_lines_counts_and_goes_on() {
        let text = "0,1,512,w,1\n0,1,0,w,2\nzz\n0,1,512,w,0.5\n\u{0}\u{ff}\n0,1,512,r,3\n";
        let options = TraceOptions {
            skip_bad_lines: true,
            ..Default::default()
        };
        let mut reader = TraceReader::new(text.as_bytes(), TraceFormat::Umass, options);
        let times: Vec<_> = reader
            .by_ref()
            .map(|r| r.map(|r| r.time_ns).map_err(|e| e.to_string()))
            .collect();
        assert_eq!(times, [Ok(0), Ok(2_000_000_000)]);
        assert_eq!(reader.skipped(), 4);

        let mut reader =
            TraceReader::new("zz\n0,1,0,w,2\n".as_bytes(), TraceFormat::Umass, options);
        let all: Vec<_> = reader
            .by_ref()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect();
        assert_eq!(all, [Err("trace is empty: no I/O records".to_string())]);
        assert_eq!(reader.skipped(), 2);
    }

    #[test]
    fn undecodable_and_overlong_lines() {
        let bytes = b"1,W,0,512,1\n1,W,\xff,512,1\n".to_vec();
        let results: Vec<_> =
            TraceReader::new(&bytes[..], TraceFormat::Alibaba, TraceOptions::default()).collect();
        assert_eq!(
            results[1]
                .as_ref()
                .err()
                .map(ToString::to_string)
                .as_deref(),
            Some("line 2: expected UTF-8 text, found other bytes")
        );

        let long = format!("1,W,0,512,1\n{}\n1,W,0,512,2\n", "9".repeat(MAX_LINE + 1));
        let results: Vec<_> = read_str(&long, TraceFormat::Alibaba, TraceOptions::default())
            .into_iter()
            .map(|r| r.map(|r| r.time_ns).map_err(|e| e.to_string()))
            .collect();
        assert_eq!(
            results,
            [
                Ok(0),
                Err(
                    "line 2: expected a line of at most 65536 bytes, found a longer one"
                        .to_string()
                ),
                Ok(1_000)
            ]
        );
    }

    /// Fails after giving `good` bytes.
    struct FailingReader {
        good: &'static [u8],
    }

    impl io::Read for FailingReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.good.is_empty() {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.good.len());
            buf[..n].copy_from_slice(&self.good[..n]);
            self.good = &self.good[n..];
            Ok(n)
        }
    }

    #[test]
    fn io_errors_end_the_trace() {
        let reader = BufReader::new(FailingReader {
            good: b"1,W,0,512,1\n1,W,0,",
        });
        let options = TraceOptions {
            skip_bad_lines: true,
            ..Default::default()
        };
        let results: Vec<_> = TraceReader::new(reader, TraceFormat::Alibaba, options)
            .map(|r| r.map(|r| r.time_ns).map_err(|e| e.to_string()))
            .collect();
        assert_eq!(
            results,
            [
                Ok(0),
                Err("line 2: cannot read the trace: disk on fire".to_string())
            ]
        );

        let missing = shared_trace("no-such-trace.csv");
        let message = TraceReader::open(&missing, TraceFormat::Msr, TraceOptions::default())
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            message,
            Some(format!(
                "cannot open trace {}: No such file or directory (os error 2)",
                missing.display()
            ))
        );
    }

    #[test]
    fn bad_time_scale_is_the_first_item() {
        for scale in [-1.0, f64::NAN, f64::INFINITY] {
            let options = TraceOptions {
                time_scale: scale,
                ..Default::default()
            };
            let all: Vec<_> = read_str("1,W,0,512,1\n", TraceFormat::Alibaba, options)
                .into_iter()
                .map(|r| r.map_err(|e| e.to_string()))
                .collect();
            assert_eq!(
                all,
                [Err(format!(
                    "expected a time_scale that is a finite number >= 0, found {scale}"
                ))]
            );
        }
    }

    #[test]
    fn format_names() {
        for format in TraceFormat::ALL {
            assert_eq!(format.to_string().parse::<TraceFormat>().ok(), Some(format));
            let json = serde_json::to_string(&format).unwrap_or_default();
            assert_eq!(json, format!("\"{format}\""));
            assert_eq!(
                serde_json::from_str::<TraceFormat>(&json).ok(),
                Some(format)
            );
        }
        assert_eq!(
            serde_json::from_str::<TraceFormat>("\"mqsim\"").ok(),
            Some(TraceFormat::DiskSim)
        );
        let expected = r#"expected a trace format (cloudphysics, disksim or mqsim, msr, umass, alibaba), found "CSV""#;
        assert_eq!(
            "CSV"
                .parse::<TraceFormat>()
                .err()
                .map(|e| e.to_string())
                .as_deref(),
            Some(expected)
        );
        assert_eq!(
            serde_json::from_str::<TraceFormat>("\"CSV\"")
                .err()
                .map(|e| e.to_string()),
            Some(format!("{expected} at line 1 column 5"))
        );
    }

    /// How many lines `BufRead::lines` would see: the most items a reader may yield, but an
    /// empty input still yields its one error.
    fn line_count(bytes: &[u8]) -> usize {
        let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
        let tail = usize::from(!bytes.is_empty() && bytes.last() != Some(&b'\n'));
        (newlines + tail).max(1)
    }

    fn check_never_panics(bytes: &[u8]) -> Result<(), TestCaseError> {
        for format in TraceFormat::ALL {
            for skip_bad_lines in [false, true] {
                let options = TraceOptions {
                    skip_bad_lines,
                    time_scale: 1.5,
                };
                let items: Vec<_> = TraceReader::new(bytes, format, options).collect();
                prop_assert!(
                    items.len() <= line_count(bytes),
                    "{format}: {} items",
                    items.len()
                );
                let records: Vec<_> = items.iter().filter_map(|r| r.as_ref().ok()).collect();
                for pair in records.windows(2) {
                    prop_assert!(pair[0].time_ns <= pair[1].time_ns);
                }
                prop_assert!(records
                    .iter()
                    .all(|r| r.len > 0 && r.offset.checked_add(r.len).is_some()));
            }
        }
        Ok(())
    }

    /// Lines made of plausible tokens reach the field parsers, which random bytes rarely do.
    fn token_lines() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            "[0-9]{1,21}",
            "[0-9]{1,12}\\.[0-9]{0,20}",
            Just("2a".to_string()),
            Just("28".to_string()),
            Just("0".to_string()),
            "[rRwW]|Read|Write|version|ASU|-1|0x[0-9a-f]{0,3}",
            "[ -~]{0,6}",
        ];
        let line = (
            proptest::collection::vec(token, 0..9),
            prop_oneof![Just(","), Just(" ")],
        )
            .prop_map(|(tokens, sep)| tokens.join(sep));
        proptest::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            check_never_panics(&bytes)?;
        }

        #[test]
        fn arbitrary_lines_never_panic(text in token_lines()) {
            check_never_panics(text.as_bytes())?;
        }

        #[test]
        fn written_records_read_back(mut records in proptest::collection::vec((0u64..1 << 40, any::<bool>(), 0u64..1 << 40, 1u64..1 << 20, 0u64..1000), 1..40)) {
            records.sort_by_key(|r| r.0);
            let op = |write: bool| if write { Op::Write } else { Op::Read };
            let text: String = records
                .iter()
                .map(|&(t, write, offset, len, device)| format!("{device},{},{offset},{len},{t}\n", if write { "W" } else { "R" }))
                .collect();
            let read: Vec<_> = read_str(&text, TraceFormat::Alibaba, TraceOptions::default())
                .into_iter()
                .map(|r| r.map_err(|e| e.to_string()))
                .collect();
            let first = records[0].0;
            let want: Vec<_> = records
                .iter()
                .map(|&(t, write, offset, len, device)| Ok(TraceRecord { time_ns: (t - first) * 1_000, op: op(write), offset, len, device }))
                .collect();
            prop_assert_eq!(read, want);
        }
    }
}
