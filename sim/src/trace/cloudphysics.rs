//! CloudPhysics VMware vSCSI traces (Waldspurger et al.) as libCacheSim distributes them:
//! CSV `version,time,op,size,lbn`, time in whole seconds, op the SCSI opcode in hex, size in
//! bytes, lbn in 512-byte sectors. The volume is the traced virtual disk, so device is 0.

use super::layout::{FieldError, Fields, Layout, RawRecord, Separator};
use super::Op;

pub(super) const LAYOUT: Layout = Layout {
    names: &["version", "time", "op", "size", "lbn"],
    separator: Separator::Comma,
    extra_fields: false,
    header: true,
    time_field: 1,
    time_unit_ns: NS_PER_S,
    offset_field: 4,
    parse,
};

const NS_PER_S: u128 = 1_000_000_000;

fn parse(f: &Fields<'_>) -> Result<Option<RawRecord>, FieldError> {
    // READ and WRITE in their 6-, 10-, 12- and 16-byte CDB forms; any other command (INQUIRY,
    // TEST UNIT READY, ...) moves no block data and is not a record.
    let op = match f.hex(2, 2, "a hex SCSI opcode")? {
        0x08 | 0x28 | 0xa8 | 0x88 => Op::Read,
        0x0a | 0x2a | 0xaa | 0x8a => Op::Write,
        _ => return Ok(None),
    };
    Ok(Some(RawRecord {
        time_ns: f.time("a time in seconds")?,
        op,
        len: f.size(3, 1, "a size in bytes")?,
        offset: f.sector(4)?,
        device: 0,
    }))
}
