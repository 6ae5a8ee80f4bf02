//! Administrator commands (paircreate, pairresync, pairdelete, takeover) at the system they
//! are issued to; atomic splits are in `split`, the peer's side of each in `deliver`.

use super::{Command, Message, Output, Pair, Role, SplitId, StorageSystem, Transport};
use crate::bitmap::PendingBitmap;
use crate::ids::{CommandId, MirrorId, StorageSerial, VolumeId, VolumeSerial, WriteId};
use crate::table::{refusal, PairOptions, PairState, Refusal, Verb};
use crate::volume::BLOCK_BYTES;

/// The command a pair's copy answers, and what it waits for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct CommandWait {
    /// The command waiting for this pair to reach PAIR (create, resync).
    pub(super) id: Option<CommandId>,
    /// Primary in COPY: the secondary has not answered the create or sent its bitmap yet,
    /// so the copy cannot be complete whatever this end's bitmap says. Holds the state to
    /// go back to if the secondary refuses.
    pub(super) awaiting_peer: Option<PairState>,
}

/// Which incarnation of a pair, and which copy of it, a message belongs to: both numbered
/// by the primary, so that replies to an earlier one still in flight are told apart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Incarnation {
    /// Which paircreate made this pair: a mirror deleted and created again while replies
    /// to the old one are in flight must not take them for its own (a stale "no-copy
    /// accepted" would pair volumes that differ).
    pub(super) epoch: u64,
    /// Which copy of the pair is running (0: the initial one, then one more per resync): a
    /// resync a fault aborted may still have its last messages in flight, and the next
    /// resync must not take them for its own (a stale "copy complete" would end a restore
    /// before its chunks arrive).
    pub(super) copy_gen: u64,
}

impl StorageSystem {
    /// Runs an administrator command issued to this system; it ends in `Done` or `Refused`,
    /// at once or when the copy or split it starts is over.
    pub(super) fn command(&mut self, id: CommandId, command: Command, out: &mut Vec<Output>) {
        let result = match command {
            Command::Create {
                mirror,
                options,
                nocopy,
            } => self.create(id, mirror, options, nocopy, out),
            Command::Split { plan } => {
                let split = SplitId {
                    root: self.serial,
                    command: id,
                };
                self.check_split(&plan).map(|()| {
                    self.start_split(split, None, plan, out);
                })
            }
            Command::Resync { mirror, restore } => self.resync(id, mirror, restore, out),
            Command::Delete { mirror } => self.delete(mirror, out).map(|()| {
                out.push(Output::Done(id));
            }),
            Command::Takeover => {
                let mirrors: Vec<MirrorId> = self
                    .pairs
                    .values()
                    .filter(|p| p.role == Role::Secondary)
                    .map(|p| p.mirror)
                    .collect();
                let mut taken = Vec::new();
                for m in mirrors {
                    if matches!(self.state(m), PairState::Pair | PairState::Copy) {
                        // A periodic cycle half received is dropped; its sender still has
                        // it unacknowledged and marks it pending on the notice below.
                        self.drop_in_flight(m, out);
                        self.set_state(m, PairState::SuspendedError, out);
                        taken.push(m);
                    }
                }
                self.notify_suspended(&taken, out);
                // Suspended by the command or earlier by a fault (the usual disaster): the
                // SVOLs are the standby host's now, writes tracked in the bitmap.
                for p in self.pairs.values_mut() {
                    if p.role == Role::Secondary && p.state == PairState::SuspendedError {
                        p.rx.taken_over = true;
                    }
                }
                out.push(Output::Done(id));
                Ok(())
            }
        };
        if let Err(r) = result {
            out.push(Output::Refused(id, r));
        }
    }

    /// A volume takes data from one mirror at a time: refuse to start copying into `mirror`'s
    /// SVOL while another mirror in COPY or PAIR feeds it (106b of Fig 8 is the SVOL of both
    /// ORA_RL and ORA_R2, but only one of them is ever active).
    pub(super) fn svol_free(&self, mirror: MirrorId) -> Result<(), Refusal> {
        self.feed_free(mirror.svol, mirror)
    }

    /// Whether `mirror` may start writing volume `target` (held here): no other mirror in
    /// COPY or PAIR feeds it, and no `pairresync --restore` is writing it.
    fn feed_free(&self, target: VolumeId, mirror: MirrorId) -> Result<(), Refusal> {
        for p in self.pairs.values().filter(|p| p.mirror != mirror) {
            if p.mirror.svol == target && p.owns_svol() {
                return Err(Refusal::SvolProtected(target));
            }
            if p.mirror.pvol == target && p.state == PairState::Copy && p.restore {
                return Err(Refusal::Restoring(target));
            }
        }
        Ok(())
    }

    pub(super) fn reachable(&self, peer: StorageSerial) -> Result<(), Refusal> {
        if self.links_down.contains(&peer) {
            Err(Refusal::Unreachable(peer))
        } else {
            Ok(())
        }
    }

    fn create(
        &mut self,
        id: CommandId,
        mirror: MirrorId,
        options: PairOptions,
        nocopy: bool,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        if let Some(r) = refusal(Verb::Create, self.state(mirror)) {
            return Err(r);
        }
        self.svol_free(mirror)?;
        if options.chunk_bytes == 0 || options.chunk_bytes % BLOCK_BYTES != 0 {
            return Err(Refusal::BadChunk);
        }
        let pv = self
            .volumes
            .get(&mirror.pvol.serial)
            .ok_or(Refusal::NoSuchVolume(mirror.pvol))?;
        let (size, origin, digest) = (pv.size, pv.origin(), pv.digest());
        let role = self.role_of(mirror);
        if role == Role::Local {
            let sv = self
                .volumes
                .get(&mirror.svol.serial)
                .ok_or(Refusal::NoSuchVolume(mirror.svol))?;
            if sv.size != size {
                return Err(Refusal::SizeMismatch);
            }
            if nocopy && !self.config.mutant_skips_nocopy_check() && sv.digest() != digest {
                return Err(Refusal::NotIdentical);
            }
        } else {
            self.reachable(mirror.svol.storage)?;
        }
        let mut pair = Pair::new(mirror, role, options, PairState::Simplex);
        pair.command.id = Some(id);
        self.epochs += 1;
        pair.incarnation.epoch = self.epochs;
        let epoch = pair.incarnation.epoch;
        if !nocopy || self.config.mutant_nocopy_copies() {
            pair.pending = self.full_copy_bitmap(mirror.pvol.serial, options.chunk_bytes);
            if role == Role::Local {
                let sv = self.volumes.get_mut(&mirror.svol.serial).expect("checked");
                sv.reset_to_origin(origin);
            }
        }
        self.pairs.insert(mirror, pair);
        match role {
            Role::Local if nocopy => {
                // Fig 12 steps 1300-1310: a new table, status PAIR, bitmap all zero.
                self.set_state(mirror, PairState::Pair, out);
                self.finish_command(mirror, out);
            }
            Role::Local => {
                self.set_state(mirror, PairState::Copy, out);
                self.start_copier(mirror, true, out);
            }
            _ => {
                self.set_state(mirror, PairState::Copy, out);
                self.pairs
                    .get_mut(&mirror)
                    .expect("inserted")
                    .command
                    .awaiting_peer = Some(PairState::Simplex);
                out.push(Output::Send {
                    to: mirror.svol.storage,
                    via: Transport::Interconnect,
                    msg: Message::Create {
                        mirror,
                        options: Box::new(options),
                        size,
                        origin,
                        nocopy: nocopy.then(|| Box::new(self.nocopy_digest(mirror, digest))),
                        epoch,
                    },
                });
                if !nocopy {
                    self.start_copier(mirror, true, out);
                }
            }
        }
        self.arm_mode_timer(mirror, out);
        Ok(())
    }

    /// Chunks a full copy of `vol` sends: its used extent plus every block written since.
    fn full_copy_bitmap(&self, vol: VolumeSerial, chunk_bytes: u64) -> PendingBitmap {
        let v = &self.volumes[&vol];
        let mut b = PendingBitmap::new();
        b.set_range(0, v.used.div_ceil(chunk_bytes));
        let cb = chunk_bytes / BLOCK_BYTES;
        for (block, _) in v.blocks_in(0, u64::MAX) {
            b.set(block / cb);
        }
        b
    }

    fn resync(
        &mut self,
        id: CommandId,
        mirror: MirrorId,
        restore: bool,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        // A mirror this system holds no table for is SIMPLEX: the matrix says why not.
        let p = self.pairs.get(&mirror).ok_or(Refusal::State {
            verb: Verb::Resync,
            state: PairState::Simplex,
        })?;
        if p.role == Role::Secondary {
            return Err(Refusal::UnknownMirror);
        }
        if let Some(r) = refusal(Verb::Resync, p.state) {
            return Err(r);
        }
        let before = p.state;
        // The pair ends in PAIR, feeding its SVOL: no other mirror may be feeding it.
        self.svol_free(mirror)?;
        if restore {
            // The restore writes the PVOL: not while another mirror feeds that volume (a
            // restore of ORA_RL would change 105b under ORA_R1 without its bitmaps knowing).
            self.feed_free(mirror.pvol, mirror)?;
        }
        if p.role == Role::Primary {
            self.reachable(mirror.svol.storage)?;
            // Whatever is still unacknowledged from before (sent to a secondary that had
            // suspended the pair, which never acknowledges it) goes back to the bitmap: the
            // resync copies it, and a sync host still waiting gets its fence's answer.
            self.drop_in_flight(mirror, out);
        }
        self.set_state(mirror, PairState::Copy, out);
        let p = self.pairs.get_mut(&mirror).expect("checked");
        p.command.id = Some(id);
        p.restore = restore;
        p.incarnation.copy_gen += 1;
        // A forward resync copies the union of both bitmaps: wait for the secondary's (a
        // restore is driven by the secondary; either may be refused there).
        p.command.awaiting_peer = (p.role == Role::Primary).then_some(before);
        if p.role == Role::Local {
            let s = std::mem::take(&mut p.svol_pending);
            if !self.config.mutant_skips_svol_bitmap() {
                p.pending.union_with(&s);
            }
            self.start_copier(mirror, true, out);
        } else {
            let runs = if restore {
                // Kept until the restore completes (as the secondary keeps its bits in a
                // forward resync): a link failure must not lose them.
                p.pending.runs().collect()
            } else {
                Vec::new()
            };
            out.push(Output::Send {
                to: mirror.svol.storage,
                via: Transport::Interconnect,
                msg: Message::Resync {
                    mirror,
                    restore,
                    runs,
                    epoch: p.incarnation.epoch,
                    copy: p.incarnation.copy_gen,
                },
            });
        }
        Ok(())
    }

    fn delete(&mut self, mirror: MirrorId, out: &mut Vec<Output>) -> Result<(), Refusal> {
        let p = self.pairs.get(&mirror).ok_or(Refusal::State {
            verb: Verb::Delete,
            state: PairState::Simplex,
        })?;
        if let Some(r) = refusal(Verb::Delete, p.state) {
            return Err(r);
        }
        if p.role == Role::Primary && !self.links_down.contains(&mirror.svol.storage) {
            out.push(Output::Send {
                to: mirror.svol.storage,
                via: Transport::Interconnect,
                msg: Message::Delete { mirror },
            });
        }
        // Sync writes waiting on this mirror are acknowledged: it no longer protects them.
        let waiting: Vec<WriteId> = self.pairs[&mirror]
            .tx
            .unacked
            .iter()
            .filter_map(|f| f.sync_write)
            .collect();
        // A create or resync still copying is answered: it will never reach PAIR.
        if let Some(c) = self
            .pairs
            .get_mut(&mirror)
            .and_then(|p| p.command.id.take())
        {
            out.push(Output::Refused(c, Refusal::Deleted));
        }
        self.set_state(mirror, PairState::Simplex, out);
        for w in waiting {
            self.sync_acked(w, out);
        }
        Ok(())
    }

    /// Reports the command that waited for `m` to reach PAIR.
    pub(super) fn finish_command(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        if let Some(c) = self.pairs.get_mut(&m).and_then(|p| p.command.id.take()) {
            out.push(Output::Done(c));
        }
    }
}
