//! The host write path: whether a host write waits, is refused or is admitted, its update
//! applied to the volume and carried into every mirror the volume feeds, by state and copy
//! mode.

use super::{HostWrite, Output, Pair, Role, StorageSystem};
use crate::ids::MirrorId;
use crate::ids::{VolumeId, VolumeSerial, WriteId};
use crate::table::{CopyMode, Fence, OnFull, PairState, Refusal};
use crate::volume::{blocks_of, BLOCK_BYTES};
use std::ops::Range;

/// An update to a volume's content, as it travels through mirrors.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Update {
    Write {
        first: u64,
        count: u64,
        version: WriteId,
        bytes: u64,
    },
    Replace {
        first: u64,
        end: u64,
        blocks: Vec<(u64, WriteId)>,
    },
}

impl Update {
    pub(super) fn blocks(&self) -> (u64, u64) {
        match self {
            Update::Write { first, count, .. } => (*first, first + count),
            Update::Replace { first, end, .. } => (*first, *end),
        }
    }
}

impl StorageSystem {
    /// A host write arrives: admitted now, or held behind earlier ones or until what
    /// blocks it clears (`admit_held`).
    #[inline]
    pub(super) fn host_write(&mut self, w: HostWrite, out: &mut Vec<Output>) {
        if self.held.is_empty() && !self.blocked(&w) {
            self.admit(w, out);
        } else {
            self.held.push_back(w);
        }
    }

    /// Whether `w` must wait: I/O inhibited, semi-sync transfer outstanding, journal full.
    pub(super) fn blocked(&self, w: &HostWrite) -> bool {
        if self.inhibit > 0 {
            return true;
        }
        self.pairs_of_pvol(w.volume).any(|p| {
            if p.role != Role::Primary || p.state != PairState::Pair || p.hold.diverting {
                return false;
            }
            match p.options.mode {
                CopyMode::SemiSync if self.config.mutant_skips_semi_sync_hold() => false,
                CopyMode::SemiSync => p.tx.unacked.iter().any(|f| f.is_write),
                CopyMode::Async => {
                    p.options.on_full == OnFull::Throttle
                        && p.tx.journal_bytes > 0
                        && p.tx.journal_bytes + w.len > p.options.journal_bytes
                }
                _ => false,
            }
        })
    }

    pub(super) fn admit_held(&mut self, out: &mut Vec<Output>) {
        while let Some(w) = self.held.front() {
            if self.blocked(w) {
                return;
            }
            let w = self.held.pop_front().expect("front exists");
            self.admit(w, out);
        }
    }

    /// The pairs whose PVOL is `vol` here, in mirror order (by the index: a host write's
    /// work grows with the mirrors of its volume, not with every mirror the system holds).
    fn pairs_of_pvol(&self, vol: VolumeSerial) -> impl Iterator<Item = &Pair> {
        let pvol = VolumeId {
            storage: self.serial,
            serial: vol,
        };
        self.pairs
            .of_pvol(pvol)
            .map(move |i| self.pairs.value_at(i))
    }

    /// Why a host may not write `w` at all, if so: the first reason, in mirror order, that a
    /// mirror of the volume gives (`fed`: the positions of the mirrors whose PVOL it is).
    fn write_refusal(&self, w: &HostWrite, fed: Range<usize>) -> Option<Refusal> {
        let id = VolumeId {
            storage: self.serial,
            serial: w.volume,
        };
        let Some(v) = self.volumes.get(&w.volume) else {
            return Some(Refusal::NoSuchVolume(id));
        };
        if w.offset.checked_add(w.len).is_none_or(|end| end > v.size) {
            return Some(Refusal::OutOfRange(id));
        }
        let as_svol = self
            .pairs
            .of_svol(w.volume)
            .iter()
            .find(|m| self.pairs[m].owns_svol())
            .map(|&m| (m, Refusal::SvolProtected(id)));
        let as_pvol = fed.map(|i| self.pairs.value_at(i)).find_map(|p| {
            if p.state == PairState::Copy && p.restore {
                Some((p.mirror, Refusal::Restoring(id)))
            } else if p.role == Role::Primary
                && p.options.mode == CopyMode::Sync
                && p.options.fence == Fence::Refuse
                && p.state == PairState::SuspendedError
            {
                Some((p.mirror, Refusal::Fenced(id)))
            } else {
                None
            }
        });
        match (as_svol, as_pvol) {
            (Some((a, r)), Some((b, _))) if a < b => Some(r),
            (_, Some((_, r))) | (Some((_, r)), None) => Some(r),
            (None, None) => None,
        }
    }

    pub(super) fn admit(&mut self, w: HostWrite, out: &mut Vec<Output>) {
        // The mirrors the volume feeds, found once for the refusal and the write.
        let fed = self.pairs.of_pvol(VolumeId {
            storage: self.serial,
            serial: w.volume,
        });
        if let Some(r) = self.write_refusal(&w, fed.clone()) {
            out.push(Output::FailWrite(w.id, r));
            return;
        }
        let (first, count) = blocks_of(w.offset, w.len);
        let update = Update::Write {
            first,
            count,
            version: w.id,
            bytes: w.len,
        };
        let waits = self.write_fed(w.volume, fed, &update, Some(w.id), None, out);
        if waits == 0 {
            out.push(Output::AckWrite(w.id));
        } else {
            self.sync_waits.insert(w.id, waits);
        }
    }

    /// Applies `update` to volume `vol` and carries it into every mirror whose PVOL it is.
    /// Returns how many sync acknowledgements the host write (if any) must wait for.
    pub(super) fn write_volume(
        &mut self,
        vol: VolumeSerial,
        update: &Update,
        host: Option<WriteId>,
        from: Option<MirrorId>,
        out: &mut Vec<Output>,
    ) -> u32 {
        let fed = self.pairs.of_pvol(VolumeId {
            storage: self.serial,
            serial: vol,
        });
        self.write_fed(vol, fed, update, host, from, out)
    }

    /// [`Self::write_volume`] with the positions of the mirrors `vol` feeds found already.
    fn write_fed(
        &mut self,
        vol: VolumeSerial,
        fed: Range<usize>,
        update: &Update,
        host: Option<WriteId>,
        from: Option<MirrorId>,
        out: &mut Vec<Output>,
    ) -> u32 {
        let Some(v) = self.volumes.get_mut(&vol) else {
            return 0;
        };
        match update {
            Update::Write {
                first,
                count,
                version,
                ..
            } => v.write(*first, *count, *version),
            Update::Replace { first, end, blocks } => v.replace_range(*first, *end, blocks),
        }
        // A change to a split SVOL (auxiliary host, standby after takeover, a restore of a
        // cascaded mirror, a second mirror such as ORA_R2 feeding 106b while ORA_RL is split)
        // is recorded in that end's bitmap (Fig 6 660), so the mirror's resync undoes it.
        self.pairs.each_of_svol_mut(vol, from, |p| {
            let chunks = p.chunks_of(update.blocks());
            match p.role {
                Role::Local => p.svol_pending.set_range(chunks.0, chunks.1),
                _ => p.pending.set_range(chunks.0, chunks.1),
            }
        });
        // The mirrors fed, walked by position since `carry` needs `&mut self`: neither it nor
        // anything it calls adds or removes a pair, so positions hold. (Gathering their ids
        // first cost every simulated write as much again as the walk.)
        let mut waits = 0;
        for i in fed {
            let p = self.pairs.value_at(i);
            if Some(p.mirror) != from {
                waits += self.carry(i, update, host, out);
            }
        }
        waits
    }

    /// Carries an update of a PVOL into one of its mirrors (the `i`th pair), by state and
    /// copy mode.
    fn carry(
        &mut self,
        i: usize,
        update: &Update,
        host: Option<WriteId>,
        out: &mut Vec<Output>,
    ) -> u32 {
        let p = self.pairs.value_at_mut(i);
        let m = p.mirror;
        if let Update::Write { version, .. } = update {
            p.last_write = p.last_write.max(*version);
        }
        // A remote COPY (initial copy, resync) whose secondary has agreed carries writes in
        // order, like PAIR, rather than back into the bitmap: under a steady write stream the
        // bitmap would be re-dirtied faster than chunks are acknowledged and the copy would
        // never reach PAIR. Safe on the FIFO interconnect: a chunk copied before the write
        // arrives before it, a chunk copied after it reads the PVOL with the write in.
        if p.state == PairState::Copy
            && p.role == Role::Primary
            && !p.restore
            && p.command.awaiting_peer.is_none()
            && matches!(
                p.options.mode,
                CopyMode::Sync | CopyMode::SemiSync | CopyMode::Async
            )
        {
            p.send_update(update, None, out);
            return 0;
        }
        // Its chunks are worked out only where it goes to the bitmap (`mark_pending`): two
        // divisions the ordered modes, which send the write itself, need not wait for.
        if p.state != PairState::Pair || p.hold.diverting {
            p.mark_pending(update.blocks());
            return 0;
        }
        if p.role == Role::Local {
            // In-system copy of a PAIR is immediate.
            self.write_volume(m.svol.serial, update, None, Some(m), out);
            return 0;
        }
        match p.options.mode {
            CopyMode::Periodic | CopyMode::Adaptive => {
                p.mark_pending(update.blocks());
                self.send_when_idle(m, out);
                0
            }
            CopyMode::Sync | CopyMode::SemiSync | CopyMode::Async => {
                let sync = p.options.mode == CopyMode::Sync && host.is_some();
                let bytes = update_bytes(update, p.options.chunk_bytes);
                if p.options.mode == CopyMode::Async
                    && p.options.on_full == OnFull::Suspend
                    && p.tx.journal_bytes + bytes > p.options.journal_bytes
                {
                    p.mark_pending(update.blocks());
                    self.suspend(m, out);
                    return 0;
                }
                if p.hold.paused {
                    p.tx.journal_bytes += bytes;
                    p.hold
                        .backlog
                        .push_back((update.clone(), host.unwrap_or(WriteId(0))));
                    return 0;
                }
                let w = host.unwrap_or(p.last_write);
                p.send_update(update, sync.then_some(w), out);
                u32::from(sync)
            }
        }
    }
}

/// Data bytes an update puts on the link: a write's own bytes, a whole chunk otherwise.
pub(super) fn update_bytes(u: &Update, chunk_bytes: u64) -> u64 {
    match u {
        Update::Write { bytes, .. } => *bytes,
        Update::Replace { first, end, .. } => ((end - first) * BLOCK_BYTES).max(chunk_bytes),
    }
}
