//! The reader shared by every format: lines from any `BufRead`, one at a time and bounded in
//! length; blanks, comments and a leading header skipped; times made relative to the first
//! record, checked never to go backwards, and scaled.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use super::error::excerpt;
use super::layout::{Fields, Layout};
use super::{TraceError, TraceFormat, TraceOptions, TraceRecord};

/// Longer lines are refused rather than buffered: real trace lines are under 200 bytes, and a
/// file without newlines must not be read into memory whole.
pub(super) const MAX_LINE: usize = 64 * 1024;

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
    /// The resolution of the latest record's time, in ns after time_scale.
    tick_ns: u64,
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
        // Checked before opening: opening a FIFO would wait for a writer.
        if let Some(kind) = not_a_file(path) {
            return Err(TraceError::NotAFile {
                path: path.to_path_buf(),
                kind,
            });
        }
        let file = File::open(path).map_err(|error| TraceError::Open {
            path: path.to_path_buf(),
            error,
        })?;
        Ok(TraceReader::new(BufReader::new(file), format, options))
    }
}

/// What `path` is when it exists but is not a regular file ("a directory", "a FIFO (named
/// pipe)", "a character device", ...): a trace is read more than once (a sweep replays it per
/// run) and must end. `None` for a regular file, or for a path that cannot be looked at
/// (opening it says why).
pub fn not_a_file(path: &Path) -> Option<&'static str> {
    let kind = std::fs::metadata(path).ok()?.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if kind.is_char_device() {
            return Some("a character device");
        }
        if kind.is_block_device() {
            return Some("a block device");
        }
        if kind.is_socket() {
            return Some("a socket");
        }
    }
    if kind.is_dir() {
        Some("a directory")
    } else if kind.is_file() {
        None
    } else {
        Some("neither a file nor a directory")
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
            tick_ns: 0,
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

    /// The resolution of the time of the record last yielded, as the trace wrote it, in ns after
    /// `time_scale`: 1 s for CloudPhysics' whole seconds, 1 us for a UMass time written with six
    /// decimals, 1 ns for MQSim's integers. Records with one time were issued somewhere within
    /// one such tick.
    pub fn tick_ns(&self) -> u64 {
        self.tick_ns
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
        // The byte order mark spreadsheet programs put at the start of a UTF-8 CSV is not data.
        let text = match line {
            1 => text.strip_prefix('\u{feff}').unwrap_or(text),
            _ => text,
        };
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
        self.tick_ns = tick(time_text, layout.time_unit_ns, self.options.time_scale);
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

/// The resolution of a time written as `text` in units of `unit_ns`: the unit divided by ten
/// for each decimal digit, at least 1 ns, then scaled.
fn tick(text: &str, unit_ns: u128, scale: f64) -> u64 {
    let decimals = text
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.len());
    let tick = u32::try_from(decimals)
        .ok()
        .and_then(|d| 10u128.checked_pow(d))
        .map_or(1, |divisor| (unit_ns / divisor).max(1));
    scale_time(u64::try_from(tick).unwrap_or(u64::MAX), scale).unwrap_or(u64::MAX)
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
