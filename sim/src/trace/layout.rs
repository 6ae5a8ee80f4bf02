//! What a format's lines look like ([`Layout`]) and how the fields of one line parse
//! ([`Fields`]): the building blocks each format file combines.

use super::error::excerpt;
use super::{Op, TraceError};
use crate::units::scale_decimal;

/// A record as one line gives it, with its time as recorded (in ns, not yet relative).
pub(super) struct RawRecord {
    pub(super) time_ns: u128,
    pub(super) op: Op,
    pub(super) offset: u64,
    pub(super) len: u64,
    pub(super) device: u64,
}

pub(super) enum Separator {
    Comma,
    Whitespace,
}

/// What a format's lines look like; each format file defines one.
pub(super) struct Layout {
    /// Field names as the format's documentation spells them, in order.
    pub(super) names: &'static [&'static str],
    pub(super) separator: Separator,
    /// More fields than `names` may follow (the SPC format's optional fields).
    pub(super) extra_fields: bool,
    /// A header line naming the fields may come first.
    pub(super) header: bool,
    pub(super) time_field: usize,
    /// What one unit of the time field is in ns (1e9 for seconds): with the decimals a time is
    /// written with, its resolution, the tick `spread` spreads records over.
    pub(super) time_unit_ns: u128,
    pub(super) offset_field: usize,
    /// `Ok(None)` for a well-formed line that is not an I/O.
    pub(super) parse: fn(&Fields<'_>) -> Result<Option<RawRecord>, FieldError>,
}

impl Layout {
    pub(super) fn field_count_fits(&self, count: usize) -> bool {
        count == self.names.len() || (self.extra_fields && count > self.names.len())
    }

    pub(super) fn joined_names(&self) -> String {
        match self.separator {
            Separator::Comma => self.names.join(","),
            Separator::Whitespace => self.names.join(" "),
        }
    }

    pub(super) fn describe(&self) -> String {
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

    pub(super) fn check_header(
        &self,
        fields: &Fields<'_>,
        line: u64,
        text: &str,
    ) -> Result<(), TraceError> {
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

pub(super) const SECTOR: u64 = 512;

/// The fields of one line, trimmed, without allocating.
pub(super) struct Fields<'a> {
    pub(super) values: [&'a str; MAX_FIELDS],
    pub(super) count: usize,
    layout: &'static Layout,
}

/// A bad field, before the reader adds the line number.
pub(super) struct FieldError {
    field: &'static str,
    expected: &'static str,
    found: String,
}

impl FieldError {
    pub(super) fn at(self, line: u64) -> TraceError {
        TraceError::Field {
            line,
            field: self.field,
            expected: self.expected,
            found: self.found,
        }
    }
}

impl<'a> Fields<'a> {
    pub(super) fn split(text: &'a str, layout: &'static Layout) -> Self {
        let mut fields = Fields {
            values: [""; MAX_FIELDS],
            count: 0,
            layout,
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

    pub(super) fn get(&self, i: usize) -> &'a str {
        self.values.get(i).copied().unwrap_or("")
    }

    pub(super) fn error(&self, i: usize, expected: &'static str) -> FieldError {
        let field = self.layout.names.get(i).copied().unwrap_or("?");
        FieldError {
            field,
            expected,
            found: excerpt(self.get(i)),
        }
    }

    /// A plain decimal integer (no sign, no spaces).
    pub(super) fn number(&self, i: usize, expected: &'static str) -> Result<u64, FieldError> {
        let text = self.get(i);
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.error(i, expected));
        }
        text.parse().map_err(|_| self.error(i, expected))
    }

    /// A non-zero length, given in units of `unit` bytes.
    pub(super) fn size(
        &self,
        i: usize,
        unit: u64,
        expected: &'static str,
    ) -> Result<u64, FieldError> {
        match self.number(i, expected)? {
            0 => Err(self.error(i, "a non-zero size")),
            n => n
                .checked_mul(unit)
                .ok_or_else(|| self.error(i, "a size below 2^64 bytes")),
        }
    }

    /// The operation, by the format's own spelling of a read and a write, in any letter case
    /// (traces differ in case even within one format family).
    pub(super) fn op(
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

    /// A hexadecimal number of at most `digits` digits, with or without `0x`, as C's `%x`
    /// reads one (SCSI opcodes, DiskSim's request flags).
    pub(super) fn hex(
        &self,
        i: usize,
        digits: usize,
        expected: &'static str,
    ) -> Result<u32, FieldError> {
        let text = self.get(i);
        let hex = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .unwrap_or(text);
        let valid =
            (1..=digits.min(8)).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit());
        valid
            .then(|| u32::from_str_radix(hex, 16).ok())
            .flatten()
            .ok_or_else(|| self.error(i, expected))
    }

    /// A 512-byte sector number, as a byte offset.
    pub(super) fn sector(&self, i: usize) -> Result<u64, FieldError> {
        self.number(i, "a sector number")?
            .checked_mul(SECTOR)
            .ok_or_else(|| self.error(i, "a sector number below 2^55"))
    }

    /// The time field: a non-negative decimal in the layout's time unit, in ns (rounded).
    pub(super) fn time(&self, expected: &'static str) -> Result<u128, FieldError> {
        let i = self.layout.time_field;
        scale_decimal(self.get(i), self.layout.time_unit_ns, 1).map_err(|_| self.error(i, expected))
    }
}
