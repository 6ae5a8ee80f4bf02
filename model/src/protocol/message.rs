//! The messages storage systems exchange, and the two paths they travel (the replication
//! interconnect, the host network); what each counts as data and as control traffic.

use crate::ids::{CommandId, MirrorId, StorageSerial, WriteId};
use crate::table::{PairOptions, Refusal};
use crate::topology::SplitPlan;
use crate::volume::{Digest, BLOCK_BYTES};

/// Bytes of header on every message: counted as control traffic, apart from data.
const HEADER_BYTES: u64 = 64;

/// Which path a message takes between two storage systems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    /// The replication link (Fig 1 path 150): FIFO with the copy data.
    Interconnect,
    /// Host agents on the host network (Fig 11 remark): not FIFO with the copy data.
    HostNetwork,
}

/// An atomic split is named by its root system and the command that started it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SplitId {
    pub root: StorageSerial,
    pub command: CommandId,
}

/// Marker messages sequenced with the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MarkKind {
    /// Periodic: the cycle sent before this marker is whole; apply it.
    CycleEnd,
    /// Adaptive: a pass is over; every write up to `upto` is on the SVOL.
    PassEnd,
    /// The remote mirror itself is split here.
    Split,
}

/// Messages between storage systems.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Message {
    /// An ordered write (sync, semi-sync, async): blocks `first..first + count` get `write`.
    Write {
        mirror: MirrorId,
        seq: u64,
        write: WriteId,
        first: u64,
        count: u64,
        bytes: u64,
    },
    /// A whole chunk copied from the bitmap: blocks `first..end` read as `blocks`, so it
    /// carries `(end - first) * BLOCK_BYTES` bytes of data.
    ///
    /// A boxed slice and no byte count, to keep every message at 64 bytes: messages are moved
    /// through queues many times per simulated write, and this was the largest variant.
    Chunk {
        mirror: MirrorId,
        seq: u64,
        first: u64,
        end: u64,
        blocks: Box<[(u64, WriteId)]>,
        /// Part of a periodic cycle: buffer until the cycle is whole.
        cycle: bool,
    },
    Mark {
        mirror: MirrorId,
        seq: u64,
        kind: MarkKind,
        upto: WriteId,
    },
    /// Cumulative acknowledgement of every sequenced message up to `seq`.
    Ack {
        mirror: MirrorId,
        seq: u64,
    },
    /// An atomic split forwarded through remote mirror `mirror` (Fig 10 1140, Fig 11 1230).
    Forward {
        mirror: MirrorId,
        seq: u64,
        split: SplitId,
        plan: Box<SplitPlan>,
    },
    /// The secondary split its part (Fig 10 1150, Fig 11 1240).
    SplitDone {
        split: SplitId,
        mirror: MirrorId,
        refused: Option<Refusal>,
    },
    Create {
        mirror: MirrorId,
        /// Boxed, as `Forward`'s plan and `nocopy`: messages are moved through queues many
        /// times per simulated write, and these rare fields would make every message larger
        /// than the 64 bytes of a write.
        options: Box<PairOptions>,
        size: u64,
        origin: u64,
        /// No-copy (Fig 12): the PVOL's digest when the command ran.
        nocopy: Option<Box<Digest>>,
        /// The incarnation of the pair at the primary (see the pair's `Incarnation::epoch`).
        epoch: u64,
    },
    CreateReply {
        mirror: MirrorId,
        refused: Option<Refusal>,
        epoch: u64,
    },
    Resync {
        mirror: MirrorId,
        restore: bool,
        runs: Vec<(u64, u64)>,
        epoch: u64,
        /// Which resync of the pair this is (see the pair's `Incarnation::copy_gen`).
        copy: u64,
    },
    /// The secondary's answer to a forward resync: its bitmap, or why it refuses.
    ResyncBitmap {
        mirror: MirrorId,
        runs: Vec<(u64, u64)>,
        refused: Option<Refusal>,
        copy: u64,
    },
    /// The copy is complete; the pair is in PAIR.
    CopyComplete {
        mirror: MirrorId,
        upto: WriteId,
        copy: u64,
    },
    /// One end suspended the pair (the primary's journal filled; the secondary restarted or
    /// its standby host took over): the other end suspends it too.
    Suspend {
        mirror: MirrorId,
        /// The sender's copy (`Incarnation::copy_gen`) when it suspended: a notice older than the copy
        /// the receiver has since asked for is stale.
        copy: u64,
    },
    Delete {
        mirror: MirrorId,
    },
}

impl Message {
    /// Payload bytes (write data or chunk data).
    pub fn data_bytes(&self) -> u64 {
        match self {
            Message::Write { bytes, .. } => *bytes,
            Message::Chunk { first, end, .. } => (end - first) * BLOCK_BYTES,
            _ => 0,
        }
    }

    /// Header and metadata bytes.
    pub fn control_bytes(&self) -> u64 {
        match self {
            Message::Resync { runs, .. } | Message::ResyncBitmap { runs, .. } => {
                HEADER_BYTES + 16 * runs.len() as u64
            }
            _ => HEADER_BYTES,
        }
    }

    pub fn mirror(&self) -> MirrorId {
        match self {
            Message::Write { mirror, .. }
            | Message::Chunk { mirror, .. }
            | Message::Mark { mirror, .. }
            | Message::Ack { mirror, .. }
            | Message::Forward { mirror, .. }
            | Message::SplitDone { mirror, .. }
            | Message::Create { mirror, .. }
            | Message::CreateReply { mirror, .. }
            | Message::Resync { mirror, .. }
            | Message::ResyncBitmap { mirror, .. }
            | Message::CopyComplete { mirror, .. }
            | Message::Suspend { mirror, .. }
            | Message::Delete { mirror } => *mirror,
        }
    }
}
