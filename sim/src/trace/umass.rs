//! UMass SPC traces (Financial1, WebSearch): CSV `ASU,LBA,Size,Opcode,Timestamp`, LBA in
//! 512-byte sectors, size in bytes, opcode `r`/`w`, timestamp in seconds. The SPC format allows
//! optional fields after these, which are ignored; device is the ASU.

use super::layout::{FieldError, Fields, Layout, RawRecord, Separator};

pub(super) const LAYOUT: Layout = Layout {
    names: &["ASU", "LBA", "Size", "Opcode", "Timestamp"],
    separator: Separator::Comma,
    extra_fields: true,
    header: true,
    time_field: 4,
    time_unit_ns: NS_PER_S,
    offset_field: 1,
    parse,
};

const NS_PER_S: u128 = 1_000_000_000;

fn parse(f: &Fields<'_>) -> Result<Option<RawRecord>, FieldError> {
    Ok(Some(RawRecord {
        device: f.number(0, "an ASU number")?,
        offset: f.sector(1)?,
        len: f.size(2, 1, "a size in bytes")?,
        op: f.op(3, "r", "w", "\"r\" or \"w\"")?,
        time_ns: f.time("a time in seconds")?,
    }))
}
