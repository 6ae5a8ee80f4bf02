//! Consistency groups (CTG) at one storage system: which of its pairs keep one point of their
//! PVOLs' write stream together on their SVOLs (a database's data and log volumes), and what
//! that asks of each copy mode (README "Consistency groups"). A group's mirrors join the same
//! two storage systems (`Topology::add_consistency_group`), so their writes share the one FIFO
//! interconnect direction between them: that is the group's sequence order, and the secondary
//! applies ordered writes in it as they arrive. What a group adds is that its pairs never part:
//! - every mode: when one pair of the group suspends here (a full journal, a fault, a peer's
//!   notice), every other pair of the group suspends in the same step, before any later host
//!   write is admitted, so no later write of the group reaches one SVOL and not another
//!   (`suspend_group_with`);
//! - periodic: the group closes one cycle (delta set) for all its pairs at one instant, and the
//!   secondary applies the pairs' cycles together, once the last pair's end marker is in
//!   (`group_cycle`, `cycle_complete`).
//!
//! An atomic split naming a group splits its mirrors at one point (`crate::command`).

use super::{MarkKind, Message, Output, StorageSystem};
use crate::ids::{MirrorId, WriteId};
use crate::table::PairState;

/// The consistency groups this system holds pairs of: each a list of mirrors in id order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Groups(Vec<Vec<MirrorId>>);

impl StorageSystem {
    /// Makes `mirrors` a consistency group here (before the first input; call on both systems).
    pub(crate) fn join_group(&mut self, mirrors: &[MirrorId]) {
        let mut g = mirrors.to_vec();
        g.sort();
        self.groups.0.push(g);
    }

    /// The group of mirror `m`, if it is in one (all its mirrors, `m` included).
    fn group_members(&self, m: MirrorId) -> Option<Vec<MirrorId>> {
        if self.groups.0.is_empty() {
            return None;
        }
        self.groups.0.iter().find(|g| g.contains(&m)).cloned()
    }

    /// Pair `m` has just suspended here: every other pair of its group still in PAIR or COPY
    /// suspends too, in this same step, as a full journal suspends a pair (what is in flight
    /// goes back to the bitmap, waiting sync hosts get their fence's answer, the peer is told).
    pub(super) fn suspend_group_with(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let Some(members) = self.group_members(m) else {
            return;
        };
        for other in members {
            if matches!(self.state(other), PairState::Pair | PairState::Copy) {
                self.suspend(other, out);
            }
        }
    }

    /// Periodic: the cycle timer of `m`. In a group, only the group's first mirror's timer
    /// closes cycles, and it closes one for every pair at once, when all of them are in PAIR,
    /// not held by a split and idle (their previous cycle acknowledged); a pair with nothing
    /// pending still sends its end marker, so the secondary knows the group's cycle is whole.
    /// Returns false for a mirror in no group (the caller closes its cycle alone).
    pub(super) fn group_cycle(&mut self, m: MirrorId, out: &mut Vec<Output>) -> bool {
        let Some(members) = self.group_members(m) else {
            return false;
        };
        let ready = members.iter().all(|x| {
            self.pair(*x).is_some_and(|p| {
                p.state == PairState::Pair && !p.hold.paused && p.tx.unacked.is_empty()
            })
        });
        let any_pending = members
            .iter()
            .any(|x| self.pair(*x).is_some_and(|p| !p.pending.is_empty()));
        if members[0] == m && ready && any_pending {
            for x in members {
                if self.pairs[&x].pending.is_empty() {
                    let msg = Message::Mark {
                        mirror: x,
                        seq: self.next_seq(x),
                        kind: MarkKind::CycleEnd,
                        upto: self.pairs[&x].last_write,
                    };
                    self.send_sequenced(x, msg, (0, 0), None, false, out);
                } else {
                    self.close_cycle(x, out);
                }
            }
        }
        self.arm_mode_timer(m, out);
        true
    }

    /// Periodic, at the secondary: the end marker of `m`'s cycle (newest write `upto`) is in.
    /// Returns the pairs whose received cycle is now to be applied, each with its newest
    /// write: `m` alone outside a group; in a group, nothing until every pair's marker is in,
    /// then every pair of the group (one delta set applied as one unit).
    pub(super) fn cycle_complete(
        &mut self,
        m: MirrorId,
        upto: WriteId,
    ) -> Vec<(MirrorId, WriteId)> {
        let Some(members) = self.group_members(m) else {
            return vec![(m, upto)];
        };
        if let Some(p) = self.pairs.get_mut(&m) {
            p.rx.cycle_end = Some(upto);
        }
        let ends: Option<Vec<(MirrorId, WriteId)>> = members
            .iter()
            .filter(|x| self.pair(**x).is_some())
            .map(|x| self.pair(*x).and_then(|p| p.rx.cycle_end).map(|u| (*x, u)))
            .collect();
        let Some(ends) = ends else {
            return Vec::new();
        };
        for (x, _) in &ends {
            if let Some(p) = self.pairs.get_mut(x) {
                p.rx.cycle_end = None;
            }
        }
        ends
    }
}
