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
    /// The system the `pairsplit --atomic` was issued to.
    pub root: StorageSerial,
    /// The command there.
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
        /// The mirror the message belongs to.
        mirror: MirrorId,
        /// Position in the mirror's sequenced stream (acknowledged cumulatively).
        seq: u64,
        /// The version the blocks get.
        write: WriteId,
        /// First block written.
        first: u64,
        /// Blocks written.
        count: u64,
        /// Bytes the host wrote (data on the link).
        bytes: u64,
    },
    /// A whole chunk copied from the bitmap: blocks `first..end` read as `blocks`, so it
    /// carries `(end - first) * BLOCK_BYTES` bytes of data.
    ///
    /// A boxed slice and no byte count, to keep every message at 64 bytes: messages are moved
    /// through queues many times per simulated write, and this was the largest variant.
    Chunk {
        /// The mirror the message belongs to.
        mirror: MirrorId,
        /// Position in the mirror's sequenced stream (acknowledged cumulatively).
        seq: u64,
        /// First block of the chunk.
        first: u64,
        /// One past its last block.
        end: u64,
        /// The written blocks of the range and their versions (absent: origin content).
        blocks: Box<[(u64, WriteId)]>,
        /// Part of a periodic cycle: buffer until the cycle is whole.
        cycle: bool,
    },
    /// A marker sequenced with the data: a cycle or pass end, or a split.
    Mark {
        /// The mirror the message belongs to.
        mirror: MirrorId,
        /// Position in the mirror's sequenced stream (acknowledged cumulatively).
        seq: u64,
        /// What the marker closes.
        kind: MarkKind,
        /// The newest write the stream before the marker holds.
        upto: WriteId,
    },
    /// Cumulative acknowledgement of every sequenced message up to `seq`.
    Ack {
        /// The mirror the message belongs to.
        mirror: MirrorId,
        /// Every sequenced message up to this one was applied.
        seq: u64,
    },
    /// An atomic split forwarded through remote mirror `mirror` (Fig 10 1140, Fig 11 1230).
    Forward {
        /// The mirror the message belongs to.
        mirror: MirrorId,
        /// Position in the mirror's sequenced stream (acknowledged cumulatively).
        seq: u64,
        /// The split being forwarded.
        split: SplitId,
        /// The rest of the split's plan, for the system it reaches.
        plan: Box<SplitPlan>,
    },
    /// The secondary split its part (Fig 10 1150, Fig 11 1240).
    SplitDone {
        /// The split answered.
        split: SplitId,
        /// The remote mirror the split was forwarded over.
        mirror: MirrorId,
        /// Why the secondary could not split its part, if it could not.
        refused: Option<Refusal>,
    },
    /// paircreate at the secondary: make the table (and the no-copy check, Fig 12).
    Create {
        /// The mirror the message belongs to.
        mirror: MirrorId,
        /// Boxed, as `Forward`'s plan and `nocopy`: messages are moved through queues many
        /// times per simulated write, and these rare fields would make every message larger
        /// than the 64 bytes of a write.
        options: Box<PairOptions>,
        /// PVOL size in bytes: the SVOL must match.
        size: u64,
        /// The PVOL's origin tag: what its unwritten blocks hold.
        origin: u64,
        /// No-copy (Fig 12): the PVOL's digest when the command ran.
        nocopy: Option<Box<Digest>>,
        /// The incarnation of the pair at the primary (see the pair's `Incarnation::epoch`).
        epoch: u64,
    },
    /// The secondary's answer to `Create`.
    CreateReply {
        /// The mirror the message belongs to.
        mirror: MirrorId,
        /// Why the secondary refused the pair, if it did.
        refused: Option<Refusal>,
        /// The incarnation the reply answers (a stale reply is ignored).
        epoch: u64,
    },
    /// pairresync at the secondary: the primary's bitmap, to merge with its own.
    Resync {
        /// The mirror the message belongs to.
        mirror: MirrorId,
        /// `--restore`: the copy runs SVOL -> PVOL.
        restore: bool,
        /// The primary's pending chunks, as `(first, end)` runs.
        runs: Vec<(u64, u64)>,
        /// The incarnation of the pair at the primary.
        epoch: u64,
        /// Which resync of the pair this is (see the pair's `Incarnation::copy_gen`).
        copy: u64,
    },
    /// The secondary's answer to a forward resync: its bitmap, or why it refuses.
    ResyncBitmap {
        /// The mirror the message belongs to.
        mirror: MirrorId,
        /// The secondary's pending chunks, as `(first, end)` runs.
        runs: Vec<(u64, u64)>,
        /// Why the secondary refuses the resync, if it does.
        refused: Option<Refusal>,
        /// The resync answered (`Incarnation::copy_gen`).
        copy: u64,
    },
    /// The copy is complete; the pair is in PAIR.
    CopyComplete {
        /// The mirror the message belongs to.
        mirror: MirrorId,
        /// The newest write the copy carried.
        upto: WriteId,
        /// The copy that completed (`Incarnation::copy_gen`).
        copy: u64,
    },
    /// One end suspended the pair (the primary's journal filled; the secondary restarted or
    /// its standby host took over): the other end suspends it too.
    Suspend {
        /// The mirror the message belongs to.
        mirror: MirrorId,
        /// The sender's copy (`Incarnation::copy_gen`) when it suspended: a notice older than the copy
        /// the receiver has since asked for is stale.
        copy: u64,
    },
    /// pairdelete at the secondary: the pair goes SMPL.
    Delete {
        /// The mirror the message belongs to.
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

    /// The mirror the message belongs to (what the receiver looks its pair up by).
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
