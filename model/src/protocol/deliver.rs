//! Delivery: what a message from a peer storage system does here, one function per message
//! kind, and the acknowledgements the receiving end returns.

use super::write::Update;
use super::{MarkKind, Message, Output, Pair, Role, SplitId, StorageSystem, Transport};
use crate::bitmap::PendingBitmap;
use crate::ids::{MirrorId, StorageSerial, WriteId};
use crate::table::{refusal, PairOptions, PairState, Refusal, Verb};
use crate::topology::SplitPlan;
use crate::volume::Digest;

/// A chunk's blocks `first..end` and the written ones among them.
type ChunkCopy = (u64, u64, Vec<(u64, WriteId)>);

/// The receiving (secondary) end of a pair.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Receiver {
    /// Periodic: the cycle being received, applied whole at its end marker.
    pub(super) cycle: Vec<ChunkCopy>,
    /// Periodic, in a consistency group: the cycle received is whole (its end marker, with
    /// its newest write, is in) and waits for the group's other pairs' (`cycle_complete`).
    pub(super) cycle_end: Option<WriteId>,
    /// The standby host took over (`Command::Takeover`); a SUSPENDED_ERROR SVOL is
    /// writable only then.
    pub(super) taken_over: bool,
}

/// Where a delivered message comes from and which pair it concerns.
#[derive(Clone, Copy)]
struct Envelope {
    from: StorageSerial,
    via: Transport,
    mirror: MirrorId,
    /// The pair's position, found once: a write arriving at the secondary, an
    /// acknowledgement at the primary, then need no further lookup.
    at: Option<usize>,
}

impl StorageSystem {
    /// Hands a message to the function for its kind. Inlined into `handle`, as it was when
    /// both were one file (since `handle` inlines the rarer inputs too, a plain `#[inline]`
    /// left it a call): every write's path goes through it twice (data, acknowledgement).
    #[inline(always)]
    pub(super) fn deliver(
        &mut self,
        from: StorageSerial,
        via: Transport,
        msg: Message,
        out: &mut Vec<Output>,
    ) {
        let m = msg.mirror();
        let at = self.pairs.position(&m);
        let awaiting_create = at.is_some_and(|i| {
            self.pairs.value_at(i).command.awaiting_peer == Some(PairState::Simplex)
        });
        if awaiting_create
            && !matches!(msg, Message::CreateReply { .. } | Message::SplitDone { .. })
        {
            // The secondary answers a create before anything else about the pair, so this is
            // left over from an incarnation deleted since (FIFO interconnect).
            return;
        }
        let env = Envelope {
            from,
            via,
            mirror: m,
            at,
        };
        match msg {
            Message::Write {
                seq,
                write,
                first,
                count,
                bytes,
                ..
            } => self.on_write(env, seq, write, (first, count), bytes, out),
            Message::Chunk {
                seq,
                first,
                end,
                blocks,
                cycle,
                ..
            } => self.on_chunk(env, seq, (first, end), blocks, cycle, out),
            Message::Mark {
                seq, kind, upto, ..
            } => self.on_mark(env, seq, kind, upto, out),
            Message::Ack { seq, .. } => {
                if let Some(i) = at {
                    self.on_ack(i, seq, out);
                }
            }
            Message::Forward {
                seq, split, plan, ..
            } => self.on_forward(env, seq, split, *plan, out),
            Message::SplitDone { split, refused, .. } => self.on_split_done(m, split, refused),
            Message::Create {
                options,
                size,
                origin,
                nocopy,
                epoch,
                ..
            } => self.on_create(
                env,
                *options,
                (size, origin),
                nocopy.map(|d| *d),
                epoch,
                out,
            ),
            Message::CreateReply { refused, epoch, .. } => {
                self.on_create_reply(m, refused, epoch, out)
            }
            Message::Resync {
                restore,
                runs,
                epoch,
                copy,
                ..
            } => self.on_resync(env, restore, runs, epoch, copy, out),
            Message::ResyncBitmap {
                runs,
                refused,
                copy,
                ..
            } => self.on_resync_bitmap(m, runs, refused, copy, out),
            Message::CopyComplete { upto, copy, .. } => self.on_copy_complete(m, upto, copy, out),
            Message::Suspend { copy, .. } => self.on_suspend(env, copy, out),
            Message::Delete { .. } => self.set_state(m, PairState::Simplex, out),
        }
    }

    /// An ordered write (sync, semi-sync, async) of blocks `first..first + count`. (Forced
    /// inline into `handle` it cost 30 more instructions per simulated write, not fewer.)
    #[inline]
    fn on_write(
        &mut self,
        env: Envelope,
        seq: u64,
        write: WriteId,
        (first, count): (u64, u64),
        bytes: u64,
        out: &mut Vec<Output>,
    ) {
        let (from, m) = (env.from, env.mirror);
        let Some(i) = env.at else {
            // No table here: acknowledged, as `ack` would.
            Self::send_ack(from, m, seq, out);
            return;
        };
        let p = self.pairs.value_at_mut(i);
        if p.discards((first, first + count)) {
            return;
        }
        // Past `discards`, the pair is in PAIR or COPY, so it is receiving unless it is
        // the copy's source: what `receiving` says.
        if !p.is_source() {
            let (vol, in_pair) = (p.my_volume(), p.state == PairState::Pair);
            let update = Update::Write {
                first,
                count,
                version: write,
                bytes,
            };
            self.write_volume(vol, &update, None, Some(m), out);
            // In COPY, earlier writes may still be only in the bitmap: the prefix is
            // whole at CopyComplete, which reports it.
            if in_pair {
                out.push(Output::Replicated {
                    mirror: m,
                    upto: write,
                });
            }
        }
        // What `ack` checks: the pair is not SUSPENDED_ERROR, it is still in PAIR or
        // COPY (`write_volume` changes only the mirrors fed by this one's SVOL).
        Self::send_ack(from, m, seq, out);
    }

    /// A chunk copied from the bitmap (or part of a periodic cycle): blocks `first..end`.
    #[inline]
    fn on_chunk(
        &mut self,
        env: Envelope,
        seq: u64,
        (first, end): (u64, u64),
        blocks: Box<[(u64, WriteId)]>,
        cycle: bool,
        out: &mut Vec<Output>,
    ) {
        let m = env.mirror;
        if self.discard(m, (first, end)) {
            return;
        }
        if self.receiving(m) {
            let p = self.pairs.get_mut(&m).expect("receiving implies a pair");
            let blocks = blocks.into_vec();
            if cycle {
                p.rx.cycle.push((first, end, blocks));
            } else {
                let vol = p.my_volume();
                let update = Update::Replace { first, end, blocks };
                self.write_volume(vol, &update, None, Some(m), out);
            }
        }
        self.ack(env.from, m, seq, out);
    }

    /// A marker sequenced with the data: a periodic cycle's end, an adaptive pass's end, the
    /// remote mirror's split point.
    fn on_mark(
        &mut self,
        env: Envelope,
        seq: u64,
        kind: MarkKind,
        upto: WriteId,
        out: &mut Vec<Output>,
    ) {
        let m = env.mirror;
        if kind == MarkKind::CycleEnd && self.discard(m, (0, 0)) {
            return;
        }
        match kind {
            MarkKind::CycleEnd if self.receiving(m) => {
                for (m, upto) in self.cycle_complete(m, upto) {
                    let p = self.pairs.get_mut(&m).expect("receiving implies a pair");
                    let vol = p.my_volume();
                    for (first, end, blocks) in std::mem::take(&mut p.rx.cycle) {
                        let update = Update::Replace { first, end, blocks };
                        self.write_volume(vol, &update, None, Some(m), out);
                    }
                    out.push(Output::Replicated { mirror: m, upto });
                }
            }
            MarkKind::PassEnd if self.receiving(m) => {
                out.push(Output::Replicated { mirror: m, upto });
            }
            // An end that suspended the pair meanwhile (restart, takeover) stays
            // suspended: its SVOL missed data the split point includes.
            MarkKind::Split if matches!(self.state(m), PairState::Pair | PairState::Copy) => {
                self.set_state(m, PairState::Split, out)
            }
            _ => {}
        }
        self.ack(env.from, m, seq, out);
    }

    /// An atomic split forwarded through this pair (Fig 10 step 1140, Fig 11 step 1230).
    fn on_forward(
        &mut self,
        env: Envelope,
        seq: u64,
        split: SplitId,
        plan: SplitPlan,
        out: &mut Vec<Output>,
    ) {
        let Envelope {
            from, via, mirror, ..
        } = env;
        if via == Transport::Interconnect {
            self.ack(from, mirror, seq, out);
        }
        let state = self.state(mirror);
        if state != PairState::Pair {
            // This end suspended the path (a restart, a takeover) before the split
            // arrived: data sent before it may be lost, so the split must fail.
            out.push(Output::Send {
                to: from,
                via,
                msg: Message::SplitDone {
                    split,
                    mirror,
                    refused: Some(Refusal::State {
                        verb: Verb::Split,
                        state,
                    }),
                },
            });
            return;
        }
        self.start_split(split, Some((from, via, mirror)), plan, out);
    }

    /// The secondary behind `m` split its part (Fig 10 step 1150, Fig 11 step 1240).
    fn on_split_done(&mut self, m: MirrorId, split: SplitId, refused: Option<Refusal>) {
        if let Some(op) = self.splits.iter_mut().find(|o| o.id == split) {
            if let Some(f) = op.forwards.iter_mut().find(|f| f.via == m) {
                f.done = true;
            }
            if op.refused.is_none() {
                op.refused = refused;
            }
        }
    }

    /// The secondary's side of a paircreate: check the SVOL, make the table, answer.
    fn on_create(
        &mut self,
        env: Envelope,
        options: PairOptions,
        (size, origin): (u64, u64),
        nocopy: Option<Digest>,
        epoch: u64,
        out: &mut Vec<Output>,
    ) {
        let mirror = env.mirror;
        let unchecked = self.config.mutant_skips_nocopy_check();
        let refused = match self.volumes.get(&mirror.svol.serial) {
            None => Some(Refusal::NoSuchVolume(mirror.svol)),
            Some(_) if self.state(mirror) != PairState::Simplex => {
                refusal(Verb::Create, self.state(mirror))
            }
            Some(v) if v.size != size => Some(Refusal::SizeMismatch),
            Some(_) if self.svol_free(mirror).is_err() => self.svol_free(mirror).err(),
            Some(v) if nocopy.is_some_and(|d| d != v.digest() && !unchecked) => {
                Some(Refusal::NotIdentical)
            }
            Some(_) => None,
        };
        if refused.is_none() {
            let mut pair = Pair::new(mirror, Role::Secondary, options, PairState::Simplex);
            pair.incarnation.epoch = epoch;
            if nocopy.is_none() {
                let v = self.volumes.get_mut(&mirror.svol.serial).expect("checked");
                v.reset_to_origin(origin);
            }
            pair.restore = false;
            self.pairs.insert(mirror, pair);
            let to = if nocopy.is_some() {
                PairState::Pair
            } else {
                PairState::Copy
            };
            self.set_state(mirror, to, out);
        }
        out.push(Output::Send {
            to: env.from,
            via: Transport::Interconnect,
            msg: Message::CreateReply {
                mirror,
                refused,
                epoch,
            },
        });
    }

    /// The secondary's answer to a paircreate.
    fn on_create_reply(
        &mut self,
        m: MirrorId,
        refused: Option<Refusal>,
        epoch: u64,
        out: &mut Vec<Output>,
    ) {
        if self
            .pairs
            .get(&m)
            .is_none_or(|p| p.incarnation.epoch != epoch)
        {
            // A reply to a create of a pair deleted since: not ours.
            return;
        }
        match refused {
            None => {
                // Only while the create waits for it: a fault may have suspended the
                // pair meanwhile and a resync be waiting for the secondary's bitmap.
                if let Some(p) = self.pairs.get_mut(&m) {
                    if p.command.awaiting_peer != Some(PairState::Simplex) {
                        return;
                    }
                    p.command.awaiting_peer = None;
                }
                self.check_copy_complete(m, out)
            }
            Some(r) => {
                let cmd = self.pairs.get(&m).and_then(|p| p.command.id);
                self.set_state(m, PairState::Simplex, out);
                if let Some(c) = cmd {
                    out.push(Output::Refused(c, r));
                }
            }
        }
    }

    /// A pairresync reaching the secondary: a restore starts copying from here, a forward
    /// resync answers with this end's bitmap.
    fn on_resync(
        &mut self,
        env: Envelope,
        restore: bool,
        runs: Vec<(u64, u64)>,
        epoch: u64,
        copy: u64,
        out: &mut Vec<Output>,
    ) {
        let (from, m) = (env.from, env.mirror);
        if self
            .pairs
            .get(&m)
            .is_none_or(|p| p.incarnation.epoch != epoch)
        {
            // No table here (the create was lost with the link): answer, or the
            // primary would wait in COPY for ever. It goes back to SIMPLEX.
            // A table of an older incarnation (its pairdelete was lost with the link
            // too) is not this pair: resyncing against it would skip the no-copy
            // check or the full copy the primary's create asked for. It goes.
            self.set_state(m, PairState::Simplex, out);
            out.push(Output::Send {
                to: from,
                via: Transport::Interconnect,
                msg: Message::CreateReply {
                    mirror: m,
                    refused: Some(Refusal::UnknownMirror),
                    epoch,
                },
            });
            return;
        }
        // The SVOL is held here: only this end knows whether another mirror feeds
        // it (ORA_RL and ORA_R2 both end at 106b); the pair ends in PAIR feeding it,
        // restore or not.
        if let Err(r) = self.svol_free(m) {
            out.push(Output::Send {
                to: from,
                via: Transport::Interconnect,
                msg: Message::ResyncBitmap {
                    mirror: m,
                    runs: Vec::new(),
                    refused: Some(r),
                    copy,
                },
            });
            return;
        }
        // Whatever this end still had unacknowledged (an aborted restore) goes back
        // to its bitmap, which the resync then copies.
        self.drop_in_flight(m, out);
        self.set_state(m, PairState::Copy, out);
        let p = self.pairs.get_mut(&m).expect("checked");
        p.restore = restore;
        p.incarnation.copy_gen = copy;
        if restore {
            p.pending.union_with(&PendingBitmap::from_runs(runs));
            self.start_copier(m, true, out);
        } else {
            // The bits stay set until the copy completes: if the link fails first,
            // the next resync still knows these chunks differ.
            let runs: Vec<(u64, u64)> = p.pending.runs().collect();
            out.push(Output::Send {
                to: from,
                via: Transport::Interconnect,
                msg: Message::ResyncBitmap {
                    mirror: m,
                    runs,
                    refused: None,
                    copy,
                },
            });
        }
    }

    /// Whether a copy's message belongs to a copy other than the pair's current one (the
    /// answer to a resync a fault aborted), or to no pair here.
    fn stale_copy(&self, m: MirrorId, copy: u64) -> bool {
        self.pairs
            .get(&m)
            .is_none_or(|p| p.incarnation.copy_gen != copy)
    }

    /// The secondary's answer to a forward resync: its bitmap, or why it refuses.
    fn on_resync_bitmap(
        &mut self,
        m: MirrorId,
        runs: Vec<(u64, u64)>,
        refused: Option<Refusal>,
        copy: u64,
        out: &mut Vec<Output>,
    ) {
        if self.stale_copy(m, copy) {
            return;
        }
        if let Some(r) = refused {
            // The secondary refused the resync: back to where the pair was.
            let Some(back) = self
                .pairs
                .get_mut(&m)
                .and_then(|p| p.command.awaiting_peer.take())
            else {
                return;
            };
            let cmd = self.pairs.get_mut(&m).and_then(|p| p.command.id.take());
            self.drop_in_flight(m, out);
            self.set_state(m, back, out);
            if let Some(c) = cmd {
                out.push(Output::Refused(c, r));
            }
            return;
        }
        if let Some(p) = self.pairs.get_mut(&m) {
            p.command.awaiting_peer = None;
            if !self.config.mutant_skips_peer_bitmap() {
                p.pending.union_with(&PendingBitmap::from_runs(runs));
            }
            self.start_copier(m, true, out);
        }
    }

    /// The copy is complete: the receiving end goes to PAIR.
    fn on_copy_complete(&mut self, m: MirrorId, upto: WriteId, copy: u64, out: &mut Vec<Output>) {
        if self.stale_copy(m, copy) {
            return;
        }
        // Only the receiving end of a copy hears it is complete; at the source it is
        // left over from a copy in the other direction that a fault aborted.
        if self.state(m) == PairState::Copy && !self.pairs[&m].is_source() {
            // This end's bits went to the source at the resync's start and are all
            // copied now.
            if let Some(p) = self.pairs.get_mut(&m) {
                p.pending.clear_all();
            }
            self.set_state(m, PairState::Pair, out);
            if self.pairs[&m].role == Role::Secondary {
                out.push(Output::Replicated { mirror: m, upto });
            }
            self.finish_command(m, out);
        }
    }

    /// The peer suspended the pair.
    fn on_suspend(&mut self, env: Envelope, copy: u64, out: &mut Vec<Output>) {
        let m = env.mirror;
        if self
            .pairs
            .get(&m)
            .is_some_and(|p| copy < p.incarnation.copy_gen)
        {
            // The peer suspended the pair before it saw the resync this end has since asked
            // for (e.g. the notice of a restart just before a `pairresync`): that resync's
            // answer decides. Acting on the stale notice refused the resync while the peer
            // went ahead into COPY alone.
            return;
        }
        if matches!(self.state(m), PairState::Pair | PairState::Copy) {
            // As for a lost link: what is unacknowledged goes back to the bitmap,
            // waiting sync hosts get their fence's answer, a waiting command fails.
            self.drop_in_flight(m, out);
            self.set_state(m, PairState::SuspendedError, out);
            if let Some(c) = self.pairs.get_mut(&m).and_then(|p| p.command.id.take()) {
                out.push(Output::Refused(c, Refusal::Unreachable(env.from)));
            }
        }
    }

    /// Data for `m` arriving at an end that has suspended the pair (a restart or a takeover
    /// the sender has not heard of yet) is not applied and not acknowledged: the sender must
    /// not count it as on the SVOL (a sync host would be told a lost write is safe). Its
    /// blocks `first..end` are marked pending here so the next resync copies them. The end
    /// that suspended the pair has told the sender ([`Message::Suspend`]), which drops and
    /// re-marks everything unacknowledged.
    fn discard(&mut self, m: MirrorId, blocks: (u64, u64)) -> bool {
        self.pairs.get_mut(&m).is_some_and(|p| p.discards(blocks))
    }

    /// Whether data for `m` arriving here is to be applied to this system's volume.
    fn receiving(&self, m: MirrorId) -> bool {
        self.pairs
            .get(&m)
            .is_some_and(|p| !p.is_source() && matches!(p.state, PairState::Pair | PairState::Copy))
    }

    /// Acknowledges every sequenced message of `mirror` up to `seq`, except at an end that
    /// has suspended the pair: acknowledgements are cumulative, so acknowledging a later
    /// message (a split marker, a forwarded split) would also confirm data it discarded.
    fn ack(&self, to: StorageSerial, mirror: MirrorId, seq: u64, out: &mut Vec<Output>) {
        if self.state(mirror) == PairState::SuspendedError {
            return;
        }
        Self::send_ack(to, mirror, seq, out);
    }

    fn send_ack(to: StorageSerial, mirror: MirrorId, seq: u64, out: &mut Vec<Output>) {
        out.push(Output::Send {
            to,
            via: Transport::Interconnect,
            msg: Message::Ack { mirror, seq },
        });
    }
}
