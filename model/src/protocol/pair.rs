//! One mirror as a storage system holds it ([`Pair`]): its Fig 6 table, and the state of
//! its copy machinery, grouped by the part of the protocol that owns it.

use super::sender::Sender;
use super::write::Update;
use crate::bitmap::PendingBitmap;
use crate::ids::{CommandId, MirrorId, StorageSerial, VolumeId, VolumeSerial, WriteId};
use crate::table::{CopyMode, CopyTable, CopyType, PairOptions, PairState};
use crate::volume::BLOCK_BYTES;
use std::collections::VecDeque;

/// Which end(s) of a mirror this system holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Primary,
    Secondary,
    /// Both volumes are here (a local mirror).
    Local,
}

/// A chunk's blocks `first..end` and the written ones among them.
type ChunkCopy = (u64, u64, Vec<(u64, WriteId)>);

/// One mirror as this system holds it: the Fig 6 tables of its volume(s) here plus the
/// copy machinery.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pair {
    pub mirror: MirrorId,
    pub role: Role,
    pub options: PairOptions,
    pub state: PairState,
    /// The pending bitmap of this system's end (the PVOL's for a local mirror).
    pub pending: PendingBitmap,
    /// A local mirror's SVOL-side bitmap.
    pub svol_pending: PendingBitmap,
    /// The current COPY runs SVOL -> PVOL (`pairresync --restore`).
    pub restore: bool,
    pub(super) tx: Sender,
    /// Bitmap copier position (address order); `None` when idle.
    pub(super) cursor: Option<u64>,
    /// Start over at chunk 0 until the bitmap is empty (initial copy, resync, catch-up).
    pub(super) wrap: bool,
    /// Newest write id on this system's volume of the pair, for `Replicated` reports.
    pub(super) last_write: WriteId,
    pub(super) pass_upto: WriteId,
    /// A copy that ends with a delta set ([`Pair::copy_ends_with_delta`]) has sent it: the
    /// SVOL is whole as of this write once the delta is acknowledged, and writes since wait
    /// in the bitmap for the first cycle or pass in PAIR.
    pub(super) closing: Option<WriteId>,
    /// Fig 11 step 1200 (seed variant): writes go to the bitmap during an atomic split.
    pub(super) diverting: bool,
    /// Writes are journaled but held during an atomic split (ordered variant, host network).
    pub(super) paused: bool,
    pub(super) backlog: VecDeque<(Update, WriteId)>,
    /// Secondary, periodic: the cycle being received.
    pub(super) rx_cycle: Vec<ChunkCopy>,
    /// The command waiting for this pair to reach PAIR (create, resync).
    pub(super) command: Option<CommandId>,
    /// Primary in COPY: the secondary has not answered the create or sent its bitmap yet,
    /// so the copy cannot be complete whatever this end's bitmap says. Holds the state to
    /// go back to if the secondary refuses.
    pub(super) awaiting_peer: Option<PairState>,
    /// Secondary: the standby host took over ([`Command::Takeover`]); a SUSPENDED_ERROR SVOL
    /// is writable only then.
    pub(super) taken_over: bool,
    /// Which copy of the pair is running (0: the initial one, then one more per resync,
    /// numbered by the primary): a resync a fault aborted may still have its last messages
    /// in flight, and the next resync must not take them for its own (a stale "copy
    /// complete" would end a restore before its chunks arrive).
    pub copy_gen: u64,
    /// Which paircreate made this pair (numbered by the primary): a mirror deleted and
    /// created again while replies to the old one are in flight must not take them for its
    /// own (a stale "no-copy accepted" would pair volumes that differ).
    pub epoch: u64,
}

impl Pair {
    pub(super) fn new(
        mirror: MirrorId,
        role: Role,
        options: PairOptions,
        state: PairState,
    ) -> Self {
        Pair {
            mirror,
            role,
            options,
            state,
            pending: PendingBitmap::new(),
            svol_pending: PendingBitmap::new(),
            restore: false,
            tx: Sender::default(),
            cursor: None,
            wrap: false,
            last_write: WriteId(0),
            pass_upto: WriteId(0),
            closing: None,
            diverting: false,
            paused: false,
            backlog: VecDeque::new(),
            rx_cycle: Vec::new(),
            command: None,
            awaiting_peer: None,
            taken_over: false,
            copy_gen: 0,
            epoch: 0,
        }
    }

    pub fn chunk_blocks(&self) -> u64 {
        self.options.chunk_bytes / BLOCK_BYTES
    }

    /// Chunks covering blocks `first..end`.
    pub(super) fn chunks_of(&self, (first, end): (u64, u64)) -> (u64, u64) {
        let cb = self.chunk_blocks();
        (first / cb, end.div_ceil(cb).max(first / cb + 1))
    }

    /// Marks the chunks of blocks `first..end` pending; an empty range (a mark's) marks none.
    pub(super) fn mark_pending(&mut self, blocks: (u64, u64)) {
        if blocks.0 < blocks.1 {
            let chunks = self.chunks_of(blocks);
            self.pending.set_range(chunks.0, chunks.1);
        }
    }

    pub(super) fn peer(&self) -> StorageSerial {
        match self.role {
            Role::Primary => self.mirror.svol.storage,
            Role::Secondary | Role::Local => self.mirror.pvol.storage,
        }
    }

    /// This system's volume of a remote pair (both ends' PVOL for a local one).
    pub(super) fn my_volume(&self) -> VolumeSerial {
        match self.role {
            Role::Secondary => self.mirror.svol.serial,
            Role::Primary | Role::Local => self.mirror.pvol.serial,
        }
    }

    /// True when a copy (initial copy, resync) of this pair ends with one delta set rather
    /// than by walking the bitmap until it is empty: a remote periodic or adaptive pair copying
    /// forwards. Those modes hold writes made during the copy in the bitmap (they are not
    /// carried in order, as the ordered modes carry them), so under a steady write stream the
    /// bitmap is never empty at the instant the walk ends, and a copy that waited for that
    /// never reached PAIR. Instead the walk goes over the volume once, and the chunks written
    /// meanwhile close as a cycle (a snapshot applied whole at the secondary) just ahead of
    /// `CopyComplete`: the SVOL then equals the PVOL as of that close.
    pub(super) fn copy_ends_with_delta(&self) -> bool {
        self.role == Role::Primary
            && !self.restore
            && matches!(self.options.mode, CopyMode::Periodic | CopyMode::Adaptive)
    }

    /// True when the copier sends from here: normally the PVOL end, the SVOL end in restore.
    pub(super) fn is_source(&self) -> bool {
        match self.role {
            Role::Primary => !self.restore,
            Role::Secondary => self.restore,
            Role::Local => true,
        }
    }

    /// Whether the mirror owns its SVOL, so no host and no other mirror may write it: in
    /// COPY and PAIR, and in SUSPENDED_ERROR too until a takeover (HORCM: an SVOL suspended
    /// by a fault stays write-protected; only `horctakeover` makes it writable, SSWS). Only
    /// a split (SPLIT, by command) hands the SVOL to the auxiliary host.
    pub fn owns_svol(&self) -> bool {
        match self.state {
            PairState::Copy | PairState::Pair => true,
            PairState::SuspendedError => !self.taken_over,
            PairState::Simplex | PairState::Split => false,
        }
    }

    /// An async mirror still copying, from its bitmap, the writes an earlier atomic split
    /// held (Fig 11 step 1250): those bits are older than any new split point, yet a new
    /// split would divert its own writes into the same bitmap and could no longer tell them
    /// apart, so a new atomic split through this mirror waits until the copy is done.
    pub(super) fn catching_up(&self) -> bool {
        self.options.mode == CopyMode::Async && (!self.pending.is_empty() || self.cursor.is_some())
    }

    /// Bytes of ordered writes not yet on the SVOL (the async journal's fill).
    pub fn journal_bytes(&self) -> u64 {
        self.tx.journal_bytes
    }

    /// Sequenced messages sent and not yet acknowledged.
    pub fn unacked(&self) -> usize {
        self.tx.unacked.len()
    }

    /// Bytes still to copy for this pair to be in sync: pending chunks plus in-flight data.
    pub fn pending_bytes(&self) -> u64 {
        (self.pending.count() + self.svol_pending.count()) * self.options.chunk_bytes
            + self.tx.journal_bytes
    }

    /// Fig 6 rows for the volume(s) of this pair held here.
    pub fn tables(&self, me: StorageSerial) -> Vec<CopyTable> {
        let copy_type = if self.mirror.is_local() {
            CopyType::Local
        } else {
            CopyType::Remote
        };
        let row =
            |volume: VolumeId, other: VolumeId, primary: bool, pending: &PendingBitmap| CopyTable {
                volume,
                copy_type,
                pair_system: if self.mirror.is_local() {
                    me
                } else {
                    other.storage
                },
                mirror_volume: other,
                primary,
                status: self.state,
                pending: pending.clone(),
                mode: (!self.mirror.is_local()).then_some(self.options.mode),
                chunk_bytes: self.options.chunk_bytes,
            };
        let (p, s) = (self.mirror.pvol, self.mirror.svol);
        match self.role {
            Role::Primary => vec![row(p, s, true, &self.pending)],
            Role::Secondary => vec![row(s, p, false, &self.pending)],
            Role::Local => vec![
                row(p, s, true, &self.pending),
                row(s, p, false, &self.svol_pending),
            ],
        }
    }

    /// [`StorageSystem::discard`] for this pair.
    pub(super) fn discards(&mut self, (first, end): (u64, u64)) -> bool {
        // (Which end is the source is no guide here: a restore aborted by a fault has
        // already turned the direction back.)
        if matches!(self.state, PairState::Pair | PairState::Copy) {
            return false;
        }
        self.mark_pending((first, end));
        true
    }
}
