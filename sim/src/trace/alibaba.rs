//! Alibaba block traces (2020): CSV `device_id,opcode,offset,length,timestamp` without a
//! header, opcode `R`/`W`, offset and length in bytes, timestamp in microseconds.

use super::layout::{FieldError, Fields, Layout, RawRecord, Separator};

pub(super) const LAYOUT: Layout = Layout {
    names: &["device_id", "opcode", "offset", "length", "timestamp"],
    separator: Separator::Comma,
    extra_fields: false,
    header: true,
    time_field: 4,
    time_unit_ns: NS_PER_US,
    offset_field: 2,
    parse,
};

const NS_PER_US: u128 = 1_000;

fn parse(f: &Fields<'_>) -> Result<Option<RawRecord>, FieldError> {
    Ok(Some(RawRecord {
        device: f.number(0, "a device id")?,
        op: f.op(1, "R", "W", "\"R\" or \"W\"")?,
        offset: f.number(2, "an offset in bytes")?,
        len: f.size(3, 1, "a length in bytes")?,
        time_ns: f.time("a time in microseconds")?,
    }))
}
