//! DiskSim's own ASCII trace ("default" input format): one request per line, five fields
//! separated by white space — arrival time in milliseconds as a decimal, device number, block
//! number, request size in blocks, and the request flags as a hexadecimal bit field of which
//! bit 0 is set for a read (DiskSim's `READ` = 0x1, `WRITE` = 0x0; the other bits, such as
//! synchronous or asynchronous, do not change what is written). Blocks are DiskSim's 512-byte
//! sectors.
//!
//! Checked against DiskSim's own documentation and source: the DiskSim 4.0 Reference Manual
//! (Bucy, Schindler, Schlosser, Ganger et al., CMU-PDL-08-101, May 2008), section 4.1 on the
//! default trace format; `iotrace_ascii_get_ioreq_event` in `disksim_iotrace.c`, which reads
//! each line with `sscanf("%lf %d %d %d %x")` into time, devno, blkno, bcount and flags;
//! `disksim_global.h`, which defines `READ` as 0x00000001; and `syssim_driver.h`, which calls
//! DiskSim's time "a double, representing the number of milliseconds from the simulation's
//! initialization". MQSim reads the same five fields with other units: see [`super::mqsim`].

use super::layout::{FieldError, Fields, Layout, RawRecord, Separator, SECTOR};
use super::Op;

pub(super) const LAYOUT: Layout = Layout {
    names: &[
        "arrival_time_ms",
        "device_number",
        "block_number",
        "request_size",
        "request_flags",
    ],
    separator: Separator::Whitespace,
    extra_fields: false,
    header: false,
    time_field: 0,
    time_unit_ns: NS_PER_MS,
    offset_field: 2,
    parse,
};

const NS_PER_MS: u128 = 1_000_000;

/// DiskSim's `READ` flag; a request without it is a write.
const READ: u32 = 0x1;

fn parse(f: &Fields<'_>) -> Result<Option<RawRecord>, FieldError> {
    Ok(Some(RawRecord {
        time_ns: f.time("a time in milliseconds")?,
        device: f.number(1, "a device number")?,
        offset: f.sector(2)?,
        len: f.size(3, SECTOR, "a size in 512-byte blocks")?,
        op: match f.hex(4, 8, "hexadecimal request flags (bit 0 set for a read)")? {
            bits if bits & READ != 0 => Op::Read,
            _ => Op::Write,
        },
    }))
}
