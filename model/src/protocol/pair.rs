//! One mirror as a storage system holds it ([`Pair`]): its Fig 6 table, and the state of
//! its copy machinery, grouped by the part of the protocol that owns it.

use super::commands::{CommandWait, Incarnation};
use super::copier::Copier;
use super::deliver::Receiver;
use super::sender::Sender;
use super::split::SplitHold;
use crate::bitmap::PendingBitmap;
use crate::ids::{MirrorId, StorageSerial, VolumeId, VolumeSerial, WriteId};
use crate::table::{CopyMode, CopyTable, CopyType, PairOptions, PairState};
use crate::volume::BLOCK_BYTES;

/// Which end(s) of a mirror this system holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The PVOL's end of a remote mirror.
    Primary,
    /// The SVOL's end of a remote mirror.
    Secondary,
    /// Both volumes are here (a local mirror).
    Local,
}

/// One mirror as this system holds it: the Fig 6 tables of its volume(s) here plus the
/// copy machinery.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pair {
    /// The mirror.
    pub mirror: MirrorId,
    /// Which end(s) this system holds.
    pub role: Role,
    /// Its copy mode and tunables, fixed at paircreate.
    pub options: PairOptions,
    /// The pair state at this end (changed only by `StorageSystem::set_state`).
    pub state: PairState,
    /// The pending bitmap of this system's end (the PVOL's for a local mirror).
    pub pending: PendingBitmap,
    /// A local mirror's SVOL-side bitmap.
    pub svol_pending: PendingBitmap,
    /// The current COPY runs SVOL -> PVOL (`pairresync --restore`).
    pub restore: bool,
    pub(super) tx: Sender,
    /// Newest write id on this system's volume of the pair, for `Replicated` reports.
    pub(super) last_write: WriteId,
    pub(super) copier: Copier,
    pub(super) hold: SplitHold,
    pub(super) rx: Receiver,
    pub(super) command: CommandWait,
    pub(super) incarnation: Incarnation,
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
            last_write: WriteId(0),
            copier: Copier::default(),
            hold: SplitHold::default(),
            rx: Receiver::default(),
            command: CommandWait::default(),
            incarnation: Incarnation::default(),
        }
    }

    pub(crate) fn chunk_blocks(&self) -> u64 {
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
    pub(crate) fn owns_svol(&self) -> bool {
        match self.state {
            PairState::Copy | PairState::Pair => true,
            PairState::SuspendedError => !self.rx.taken_over,
            PairState::Simplex | PairState::Split => false,
        }
    }

    /// An async mirror still copying, from its bitmap, the writes an earlier atomic split
    /// held (Fig 11 step 1250): those bits are older than any new split point, yet a new
    /// split would divert its own writes into the same bitmap and could no longer tell them
    /// apart, so a new atomic split through this mirror waits until the copy is done.
    pub(super) fn catching_up(&self) -> bool {
        self.options.mode == CopyMode::Async
            && (!self.pending.is_empty() || self.copier.cursor.is_some())
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
