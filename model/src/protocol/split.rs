//! Atomic split (seed Figs 7-11): holding the write streams that feed the forward paths,
//! splitting the mirrors named here, forwarding the split once the path is drained, and
//! releasing the holds when every secondary has answered.

use super::write::{update_bytes, Update};
use super::{MarkKind, Message, Output, Role, SplitId, StorageSystem, Transport};
use crate::ids::{MirrorId, StorageSerial, WriteId};
use crate::table::{refusal, AsyncResume, CopyMode, PairState, Refusal, Verb};
use crate::topology::SplitPlan;
use std::collections::VecDeque;

/// How an atomic split holds a pair's write stream while it travels (Fig 10 step 1120,
/// Fig 11 step 1200); released by `finish_split` (Fig 11 step 1250).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct SplitHold {
    /// Fig 11 step 1200 (seed variant): writes go to the bitmap during an atomic split.
    pub(super) diverting: bool,
    /// Writes are journaled but held during an atomic split (ordered variant, host network).
    pub(super) paused: bool,
    /// The writes held while paused, with the host write each came from.
    pub(super) backlog: VecDeque<(Update, WriteId)>,
}

/// An atomic split in progress on this system.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct SplitOp {
    pub(super) id: SplitId,
    /// Who forwarded it here; `None` on the root, which reports to `command`.
    pub(super) parent: Option<(StorageSerial, Transport, MirrorId)>,
    pub(super) forwards: Vec<Forwarding>,
    inhibited: bool,
    pub(super) refused: Option<Refusal>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Forwarding {
    pub(super) via: MirrorId,
    plan: SplitPlan,
    /// Everything sent on `via` up to this sequence number predates the split.
    drain_seq: u64,
    sent: bool,
    pub(super) done: bool,
}

impl StorageSystem {
    /// The root refuses a split up front if any mirror it names here cannot be split now.
    pub(super) fn check_split(&self, plan: &SplitPlan) -> Result<(), Refusal> {
        if !self.splits.is_empty() {
            return Err(Refusal::Busy);
        }
        for m in &plan.here {
            let p = self.pairs.get(m).ok_or(Refusal::State {
                verb: Verb::Split,
                state: PairState::Simplex,
            })?;
            if p.role == Role::Secondary {
                return Err(Refusal::UnknownMirror);
            }
            if let Some(r) = refusal(Verb::Split, p.state) {
                return Err(r);
            }
        }
        for (via, _) in &plan.forwards {
            let p = self.pairs.get(via).ok_or(Refusal::UnknownMirror)?;
            if p.state != PairState::Pair {
                return Err(Refusal::ForwardNotPaired {
                    svol: via.svol,
                    state: p.state,
                });
            }
            if p.catching_up() {
                return Err(Refusal::Busy);
            }
            self.reachable(via.svol.storage)?;
        }
        Ok(())
    }

    /// Fig 10 steps 1120-1140 / Fig 11 steps 1200-1230, on the root or a forwarding system.
    pub(super) fn start_split(
        &mut self,
        id: SplitId,
        parent: Option<(StorageSerial, Transport, MirrorId)>,
        plan: SplitPlan,
        out: &mut Vec<Output>,
    ) {
        let mut op = SplitOp {
            id,
            parent,
            forwards: Vec::new(),
            inhibited: false,
            refused: None,
        };
        // Hold the write stream feeding each forward path (1120 / 1200).
        for (via, sub) in plan.forwards {
            let Some(p) = self.pairs.get_mut(&via) else {
                op.refused = Some(Refusal::UnknownMirror);
                continue;
            };
            if p.state != PairState::Pair {
                // A hop that is not in PAIR (e.g. suspended by a fault further down a
                // cascade) has a stale SVOL: splitting behind it would not be atomic. The
                // root checks its own hops up front; a forwarding system checks its own here.
                op.refused.get_or_insert(Refusal::State {
                    verb: Verb::Split,
                    state: p.state,
                });
                continue;
            }
            if p.catching_up() {
                op.refused.get_or_insert(Refusal::Busy);
                continue;
            }
            match p.options.mode {
                CopyMode::Sync if self.config.mutant_skips_inhibit() => {}
                CopyMode::Sync | CopyMode::SemiSync | CopyMode::Adaptive => op.inhibited = true,
                CopyMode::Async => match p.options.resume {
                    AsyncResume::Bitmap => p.hold.diverting = true,
                    AsyncResume::Journal => {
                        p.hold.paused = self.config.split_transport == Transport::HostNetwork
                    }
                },
                CopyMode::Periodic => p.hold.paused = true,
            }
            let mode = p.options.mode;
            if mode == CopyMode::Periodic {
                self.close_cycle(via, out);
            }
            if mode == CopyMode::Adaptive {
                let p = self.pairs.get_mut(&via).expect("found above");
                p.copier.pass_upto = p.last_write;
                self.start_copier(via, true, out);
            }
            op.forwards.push(Forwarding {
                via,
                plan: sub,
                drain_seq: self.pairs[&via].tx.next_seq,
                sent: false,
                done: false,
            });
        }
        if op.inhibited {
            self.inhibit += 1;
        }
        // Split the mirrors named here (1130 / 1210 / 1150 / 1240).
        for m in plan.here {
            match self.pairs.get(&m).map(|p| (p.role, p.state)) {
                Some((Role::Local, PairState::Pair)) => self.set_state(m, PairState::Split, out),
                Some((Role::Primary, PairState::Pair)) => {
                    self.set_state(m, PairState::Split, out);
                    let msg = Message::Mark {
                        mirror: m,
                        seq: self.next_seq(m),
                        kind: MarkKind::Split,
                        upto: WriteId(0),
                    };
                    self.send_sequenced(m, msg, (0, 0), None, false, out);
                }
                Some((_, state)) => {
                    op.refused.get_or_insert(Refusal::State {
                        verb: Verb::Split,
                        state,
                    });
                }
                None => {
                    op.refused.get_or_insert(Refusal::UnknownMirror);
                }
            }
        }
        self.splits.push(op);
    }

    /// Forwards splits whose data path is drained, and finishes splits whose forwards are done.
    pub(super) fn progress_splits(&mut self, out: &mut Vec<Output>) {
        let mut i = 0;
        while i < self.splits.len() {
            let mut sends = Vec::new();
            {
                let op = &mut self.splits[i];
                let mut refused = None;
                for f in op.forwards.iter_mut().filter(|f| !f.done) {
                    // The path to the indirect mirrors must stay a PAIR until the secondary
                    // has split (deleted or suspended meanwhile: the data before the split
                    // may never arrive, or a resync may send data from after it first).
                    let state = self
                        .pairs
                        .get(&f.via)
                        .map_or(PairState::Simplex, |p| p.state);
                    if state != PairState::Pair {
                        f.done = true;
                        refused.get_or_insert(Refusal::State {
                            verb: Verb::Split,
                            state,
                        });
                    }
                }
                for f in op.forwards.iter_mut().filter(|f| !f.sent && !f.done) {
                    let p = &self.pairs[&f.via];
                    let flushed = p.options.mode != CopyMode::Adaptive
                        || (p.pending.is_empty() && p.copier.cursor.is_none());
                    // Adaptive: the flush after the split command sends pre-split chunks
                    // for a while (host I/O is held meanwhile), all of which must be on the
                    // SVOL before the split; the seq taken at the command covers only the
                    // first window of them.
                    let drain_seq = if p.options.mode == CopyMode::Adaptive
                        && !self.config.mutant_drains_adaptive_early()
                    {
                        p.tx.next_seq
                    } else {
                        f.drain_seq
                    };
                    let drained = p.tx.unacked.front().is_none_or(|u| u.seq > drain_seq)
                        || self.config.mutant_skips_drain();
                    let ready = match self.config.split_transport {
                        Transport::Interconnect => flushed,
                        // Fig 11 step 1220: the host network is not FIFO with the data, so
                        // the split may leave only once the data before it is acknowledged.
                        Transport::HostNetwork => flushed && drained,
                    };
                    if ready {
                        f.sent = true;
                        sends.push((f.via, f.plan.clone()));
                    }
                }
                if op.refused.is_none() {
                    op.refused = refused;
                }
            }
            let split = self.splits[i].id;
            for (via, plan) in sends {
                match self.config.split_transport {
                    Transport::Interconnect => {
                        let msg = Message::Forward {
                            mirror: via,
                            seq: self.next_seq(via),
                            split,
                            plan: Box::new(plan),
                        };
                        self.send_sequenced(via, msg, (0, 0), None, false, out);
                    }
                    Transport::HostNetwork => out.push(Output::Send {
                        to: via.svol.storage,
                        via: Transport::HostNetwork,
                        msg: Message::Forward {
                            mirror: via,
                            seq: 0,
                            split,
                            plan: Box::new(plan),
                        },
                    }),
                }
            }
            if self.splits[i].forwards.iter().all(|f| f.done) {
                let op = self.splits.remove(i);
                self.finish_split(op, out);
            } else {
                i += 1;
            }
        }
    }

    /// Releases the holds (Fig 10 resume, Fig 11 step 1250) and reports completion.
    fn finish_split(&mut self, op: SplitOp, out: &mut Vec<Output>) {
        if op.inhibited {
            self.inhibit -= 1;
        }
        for f in &op.forwards {
            let Some(p) = self.pairs.get_mut(&f.via) else {
                continue;
            };
            p.hold.paused = false;
            let backlog: Vec<(Update, WriteId)> = p.hold.backlog.drain(..).collect();
            // As much as `carry` added for each (a chunk copied into the PVOL by a restore
            // or a cascade counts a whole chunk, not only host writes' bytes).
            for (u, _) in &backlog {
                p.tx.journal_bytes -= update_bytes(u, p.options.chunk_bytes);
            }
            if std::mem::take(&mut p.hold.diverting) && !p.pending.is_empty() {
                // Fig 11 step 1250: copy what was held from the bitmap, in address order.
                p.copier.pass_upto = p.last_write;
                self.start_copier(f.via, true, out);
            }
            for (u, _) in backlog {
                self.send_update(f.via, &u, None, out);
            }
        }
        match op.parent {
            Some((to, via, mirror)) => out.push(Output::Send {
                to,
                via,
                msg: Message::SplitDone {
                    split: op.id,
                    mirror,
                    refused: op.refused,
                },
            }),
            None if op.id.root == self.serial => match op.refused {
                None => out.push(Output::Done(op.id.command)),
                Some(r) => out.push(Output::Refused(op.id.command, r)),
            },
            None => {}
        }
    }
}
