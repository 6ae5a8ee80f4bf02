//! MSR Cambridge traces (SNIA IOTTA 388): CSV `Timestamp,Hostname,DiskNumber,Type,Offset,Size,
//! ResponseTime` without a header, times in Windows FILETIME ticks of 100 ns, Type
//! `Read`/`Write`, offset and size in bytes. Device is the DiskNumber; the hostname and
//! response time are not used.

use super::layout::{FieldError, Fields, Layout, RawRecord, Separator};

pub(super) const LAYOUT: Layout = Layout {
    names: &[
        "Timestamp",
        "Hostname",
        "DiskNumber",
        "Type",
        "Offset",
        "Size",
        "ResponseTime",
    ],
    separator: Separator::Comma,
    extra_fields: false,
    header: true,
    time_field: 0,
    time_unit_ns: NS_PER_TICK,
    offset_field: 4,
    parse,
};

const NS_PER_TICK: u128 = 100;

fn parse(f: &Fields<'_>) -> Result<Option<RawRecord>, FieldError> {
    Ok(Some(RawRecord {
        time_ns: f.time("a time in FILETIME ticks (100 ns)")?,
        device: f.number(2, "a disk number")?,
        op: f.op(3, "Read", "Write", "\"Read\" or \"Write\"")?,
        offset: f.number(4, "an offset in bytes")?,
        len: f.size(5, 1, "a size in bytes")?,
    }))
}
