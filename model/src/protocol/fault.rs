//! Faults: a link down, a restart, a full journal (a peer's suspend notice is delivered in
//! `deliver`, to the same end). What was in flight goes back to the bitmap, waiting hosts get
//! their fence's answer, pairs suspend and the peers that can be reached are told.

use super::{Message, Output, Role, StorageSystem, Transport};
use crate::ids::{MirrorId, StorageSerial};
use crate::table::{Fence, PairState, Refusal};
use std::collections::BTreeSet;

impl StorageSystem {
    /// The replication link to `peer` failed: its pairs suspend.
    pub(super) fn link_down(&mut self, peer: StorageSerial, out: &mut Vec<Output>) {
        self.links_down.insert(peer);
        self.lose_peer(peer, out);
    }

    /// This system restarts after a crash: every remote pair is suspended as if each peer's
    /// link had failed, the peers are told, and the host writes held here fail.
    pub(super) fn restart(&mut self, out: &mut Vec<Output>) {
        let peers: BTreeSet<StorageSerial> = self
            .pairs
            .values()
            .filter(|p| p.role != Role::Local)
            .map(|p| p.peer())
            .collect();
        let active: Vec<MirrorId> = self
            .pairs
            .values()
            .filter(|p| p.role != Role::Local)
            .filter(|p| matches!(p.state, PairState::Pair | PairState::Copy))
            .map(|p| p.mirror)
            .collect();
        for peer in peers {
            self.lose_peer(peer, out);
        }
        // The peers may not have lost the link: tell them the pairs are suspended.
        self.notify_suspended(&active, out);
        for w in std::mem::take(&mut self.held) {
            out.push(Output::FailWrite(w.id, Refusal::Unreachable(self.serial)));
        }
    }

    /// The journal filled with `on_full = suspend`: fall back to bitmap tracking.
    pub(super) fn suspend(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let (peer, copy) = (self.pairs[&m].peer(), self.pairs[&m].incarnation.copy_gen);
        self.drop_in_flight(m, out);
        self.set_state(m, PairState::SuspendedError, out);
        if !self.links_down.contains(&peer) {
            out.push(Output::Send {
                to: peer,
                via: Transport::Interconnect,
                msg: Message::Suspend { mirror: m, copy },
            });
        }
    }

    /// Tells the peer of each of `mirrors` that this end has suspended the pair (a restart
    /// or a takeover), so it stops counting on this end and tracks in its bitmap.
    pub(super) fn notify_suspended(&self, mirrors: &[MirrorId], out: &mut Vec<Output>) {
        for p in mirrors.iter().filter_map(|m| self.pairs.get(m)) {
            let peer = p.peer();
            if p.state == PairState::SuspendedError && !self.links_down.contains(&peer) {
                out.push(Output::Send {
                    to: peer,
                    via: Transport::Interconnect,
                    msg: Message::Suspend {
                        mirror: p.mirror,
                        copy: p.incarnation.copy_gen,
                    },
                });
            }
        }
    }

    /// Everything unacknowledged on `m` may be lost: mark it pending, release waiting hosts.
    pub(super) fn drop_in_flight(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let p = self.pairs.get_mut(&m).expect("pair exists");
        let mut sync_writes = Vec::new();
        for f in std::mem::take(&mut p.tx.unacked) {
            p.mark_pending(f.blocks);
            if let Some(cycle) = &f.cycle {
                p.pending.union_with(cycle);
            }
            sync_writes.extend(f.sync_write);
        }
        for (u, _) in std::mem::take(&mut p.hold.backlog) {
            p.mark_pending(u.blocks());
        }
        p.tx.unacked_data = 0;
        p.tx.journal_bytes = 0;
        // A cycle half received is dropped, and its chunks are pending here: the sender may
        // have had them acknowledged already (the marker is what makes the cycle whole).
        let cb = p.chunk_blocks();
        for (first, end, _) in std::mem::take(&mut p.rx.cycle) {
            p.pending.set_range(first / cb, end.div_ceil(cb));
        }
        p.rx.cycle_end = None;
        p.copier.cursor = None;
        p.copier.wrap = false;
        p.copier.closing = None;
        let fence = self.config.mutant_fence(p.options.fence);
        for w in sync_writes {
            match fence {
                // The write is on the PVOL but not on the SVOL: the host must not be told
                // it is safe.
                Fence::Refuse => {
                    if self.sync_waits.remove(&w).is_some() {
                        out.push(Output::FailWrite(w, Refusal::Fenced(m.pvol)));
                    }
                }
                Fence::Continue => self.sync_acked(w, out),
            }
        }
    }

    pub(super) fn lose_peer(&mut self, peer: StorageSerial, out: &mut Vec<Output>) {
        let mirrors: Vec<MirrorId> = self
            .pairs
            .values()
            .filter(|p| p.role != Role::Local && p.peer() == peer)
            .map(|p| p.mirror)
            .collect();
        for m in mirrors {
            self.drop_in_flight(m, out);
            if matches!(self.state(m), PairState::Pair | PairState::Copy) {
                self.set_state(m, PairState::SuspendedError, out);
            }
            if let Some(c) = self.pairs.get_mut(&m).and_then(|p| p.command.id.take()) {
                out.push(Output::Refused(c, Refusal::Unreachable(peer)));
            }
        }
        // Splits waiting on the lost peer cannot complete atomically.
        for op in &mut self.splits {
            for f in &mut op.forwards {
                if f.via.svol.storage == peer && !f.done {
                    f.done = true;
                    op.refused = Some(Refusal::Unreachable(peer));
                }
            }
            if op.parent.is_some_and(|(from, ..)| from == peer) {
                op.parent = None;
            }
        }
    }
}
