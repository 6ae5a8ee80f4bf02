//! MQSim's variant of the DiskSim ASCII trace (the TPC-C trace in `traces/` is one):
//! `arrival_time_ns device start_sector size_in_sectors type`, separated by spaces, the time in
//! whole nanoseconds and type 0 = write, 1 = read. Real DiskSim traces differ in the unit of
//! time and in the flags: see [`super::disksim`].

use super::layout::{FieldError, Fields, Layout, RawRecord, Separator, SECTOR};

pub(super) const LAYOUT: Layout = Layout {
    names: &[
        "arrival_time_ns",
        "device",
        "start_sector",
        "size_in_sectors",
        "type",
    ],
    separator: Separator::Whitespace,
    extra_fields: false,
    header: false,
    time_field: 0,
    time_unit_ns: 1,
    offset_field: 2,
    parse,
};

fn parse(f: &Fields<'_>) -> Result<Option<RawRecord>, FieldError> {
    // A decimal time is DiskSim's milliseconds, not MQSim's nanoseconds: say so.
    if f.get(0).contains('.') {
        return Err(f.error(
            0,
            "a time in whole nanoseconds (a decimal time suggests format = \"disksim\", in milliseconds)",
        ));
    }
    Ok(Some(RawRecord {
        time_ns: f.time("a time in nanoseconds")?,
        device: f.number(1, "a device number")?,
        offset: f.sector(2)?,
        len: f.size(3, SECTOR, "a size in 512-byte sectors")?,
        op: f.op(4, "1", "0", "0 (write) or 1 (read)")?,
    }))
}
