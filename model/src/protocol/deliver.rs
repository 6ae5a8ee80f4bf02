//! Delivery: what a message from a peer storage system does here, and the acknowledgements
//! the receiving end returns.

use super::write::Update;
use super::{MarkKind, Message, Output, Role, StorageSystem, Transport};
use crate::bitmap::PendingBitmap;
use crate::ids::{MirrorId, StorageSerial, WriteId};
use crate::table::{PairState, Refusal, Verb};

/// A chunk's blocks `first..end` and the written ones among them.
type ChunkCopy = (u64, u64, Vec<(u64, WriteId)>);

/// The receiving (secondary) end of a pair.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Receiver {
    /// Periodic: the cycle being received, applied whole at its end marker.
    pub(super) cycle: Vec<ChunkCopy>,
    /// The standby host took over ([`Command::Takeover`]); a SUSPENDED_ERROR SVOL is
    /// writable only then.
    pub(super) taken_over: bool,
}

impl StorageSystem {
    // ----- messages -----

    pub(super) fn deliver(
        &mut self,
        from: StorageSerial,
        via: Transport,
        msg: Message,
        out: &mut Vec<Output>,
    ) {
        let m = msg.mirror();
        // Where the pair is, found once: a write arriving at the secondary, every other
        // message, then needs no further lookup.
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
        match msg {
            Message::Write {
                seq,
                write,
                first,
                count,
                bytes,
                ..
            } => {
                let Some(i) = at else {
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
            Message::Chunk {
                seq,
                first,
                end,
                blocks,
                cycle,
                ..
            } => {
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
                self.ack(from, m, seq, out);
            }
            Message::Mark {
                seq, kind, upto, ..
            } => {
                if kind == MarkKind::CycleEnd && self.discard(m, (0, 0)) {
                    return;
                }
                match kind {
                    MarkKind::CycleEnd if self.receiving(m) => {
                        let p = self.pairs.get_mut(&m).expect("receiving implies a pair");
                        let vol = p.my_volume();
                        for (first, end, blocks) in std::mem::take(&mut p.rx.cycle) {
                            let update = Update::Replace { first, end, blocks };
                            self.write_volume(vol, &update, None, Some(m), out);
                        }
                        out.push(Output::Replicated { mirror: m, upto });
                    }
                    MarkKind::PassEnd if self.receiving(m) => {
                        out.push(Output::Replicated { mirror: m, upto });
                    }
                    // An end that suspended the pair meanwhile (restart, takeover) stays
                    // suspended: its SVOL missed data the split point includes.
                    MarkKind::Split
                        if matches!(self.state(m), PairState::Pair | PairState::Copy) =>
                    {
                        self.set_state(m, PairState::Split, out)
                    }
                    _ => {}
                }
                self.ack(from, m, seq, out);
            }
            Message::Ack { seq, .. } => {
                if let Some(i) = at {
                    self.on_ack(i, seq, out);
                }
            }
            Message::Forward {
                seq, split, plan, ..
            } => {
                if via == Transport::Interconnect {
                    self.ack(from, m, seq, out);
                }
                let state = self.state(m);
                if state != PairState::Pair {
                    // This end suspended the path (a restart, a takeover) before the split
                    // arrived: data sent before it may be lost, so the split must fail.
                    out.push(Output::Send {
                        to: from,
                        via,
                        msg: Message::SplitDone {
                            split,
                            mirror: m,
                            refused: Some(Refusal::State {
                                verb: Verb::Split,
                                state,
                            }),
                        },
                    });
                    return;
                }
                self.start_split(split, Some((from, via, m)), *plan, out);
            }
            Message::SplitDone { split, refused, .. } => {
                if let Some(op) = self.splits.iter_mut().find(|o| o.id == split) {
                    if let Some(f) = op.forwards.iter_mut().find(|f| f.via == m) {
                        f.done = true;
                    }
                    if op.refused.is_none() {
                        op.refused = refused;
                    }
                }
            }
            Message::Create {
                options,
                size,
                origin,
                nocopy,
                epoch,
                ..
            } => self.on_create(
                from,
                m,
                *options,
                size,
                origin,
                nocopy.map(|d| *d),
                epoch,
                out,
            ),
            Message::CreateReply { epoch, .. }
                if self
                    .pairs
                    .get(&m)
                    .is_none_or(|p| p.incarnation.epoch != epoch) =>
            {
                // A reply to a create of a pair deleted since: not ours.
            }
            Message::CreateReply { refused, .. } => match refused {
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
            },
            Message::Resync {
                restore,
                runs,
                epoch,
                copy,
                ..
            } => {
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
            Message::ResyncBitmap { copy, .. } | Message::CopyComplete { copy, .. }
                if self
                    .pairs
                    .get(&m)
                    .is_none_or(|p| p.incarnation.copy_gen != copy) =>
            {
                // The answer to a resync a fault aborted: not this copy's.
            }
            Message::ResyncBitmap {
                refused: Some(r), ..
            } => {
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
            }
            Message::ResyncBitmap { runs, .. } => {
                if let Some(p) = self.pairs.get_mut(&m) {
                    p.command.awaiting_peer = None;
                    p.pending.union_with(&PendingBitmap::from_runs(runs));
                    self.start_copier(m, true, out);
                }
            }
            Message::CopyComplete { upto, .. } => {
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
            // The peer suspended the pair before it saw the resync this end has since asked
            // for (e.g. the notice of a restart just before a `pairresync`): that resync's
            // answer decides. Acting on the stale notice refused the resync while the peer
            // went ahead into COPY alone.
            Message::Suspend { copy, .. }
                if self
                    .pairs
                    .get(&m)
                    .is_some_and(|p| copy < p.incarnation.copy_gen) => {}
            Message::Suspend { .. } => {
                if matches!(self.state(m), PairState::Pair | PairState::Copy) {
                    // As for a lost link: what is unacknowledged goes back to the bitmap,
                    // waiting sync hosts get their fence's answer, a waiting command fails.
                    self.drop_in_flight(m, out);
                    self.set_state(m, PairState::SuspendedError, out);
                    if let Some(c) = self.pairs.get_mut(&m).and_then(|p| p.command.id.take()) {
                        out.push(Output::Refused(c, Refusal::Unreachable(from)));
                    }
                }
            }
            Message::Delete { .. } => self.set_state(m, PairState::Simplex, out),
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
