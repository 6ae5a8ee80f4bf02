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

    /// Periodic: the cycle timer of `m`. In a group, only the group's first mirror's timer (of
    /// those still here)
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
        let leader = members.iter().find(|x| self.pair(**x).is_some()) == Some(&m);
        if leader && ready && any_pending {
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
    /// write: `m` alone outside a group, or in COPY (the delta set that ends a resync, sent
    /// alone); in a group, nothing until the marker of every pair in PAIR is in, then each of
    /// those pairs (one delta set applied as one unit).
    pub(super) fn cycle_complete(
        &mut self,
        m: MirrorId,
        upto: WriteId,
    ) -> Vec<(MirrorId, WriteId)> {
        let members = match self.group_members(m) {
            Some(members) if self.state(m) == PairState::Pair => members,
            _ => return vec![(m, upto)],
        };
        if let Some(p) = self.pairs.get_mut(&m) {
            p.rx.cycle_end = Some(upto);
        }
        let ends: Option<Vec<(MirrorId, WriteId)>> = members
            .iter()
            .filter(|x| self.state(**x) == PairState::Pair)
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

#[cfg(test)]
mod tests {
    //! Each mode's group rule against the same two mirrors without a group, on a database's
    //! data (105a -> 105b) and log (105c -> 105d) volumes written dependently: the log
    //! record, then the data page.
    use super::super::{Command, Input, Message, Output, ProtocolConfig, Timer, Transport};
    use crate::ids::{MirrorId, StorageSerial, VolumeId, WriteId};
    use crate::invariants::{consistent_cut, Cut, DependentWrite};
    use crate::table::{CopyMode, Fence, OnFull, PairOptions, PairState};
    use crate::topology::{MirrorSpec, Topology, VolumeSpec};
    use crate::world::World;

    const CHUNK: u64 = 8192;
    const SIZE: u64 = 16 * CHUNK;
    const P: StorageSerial = StorageSerial(64001);
    const S: StorageSerial = StorageSerial(64002);

    fn data() -> MirrorId {
        MirrorId::new(VolumeId::new(64001, 0x105a), VolumeId::new(64002, 0x105b))
    }

    fn log() -> MirrorId {
        MirrorId::new(VolumeId::new(64001, 0x105c), VolumeId::new(64002, 0x105d))
    }

    fn topology(log_options: PairOptions, data_options: PairOptions, grouped: bool) -> Topology {
        let mut t = Topology::new();
        for m in [data(), log()] {
            for id in [m.pvol, m.svol] {
                t.add_volume(VolumeSpec {
                    id,
                    size: SIZE,
                    used: SIZE,
                })
                .unwrap();
            }
        }
        for (m, name, options) in [
            (data(), "ORA_DATA", data_options),
            (log(), "ORA_LOG", log_options),
        ] {
            t.add_mirror(MirrorSpec {
                id: m,
                group: name.to_string(),
                options,
            })
            .unwrap();
        }
        if grouped {
            t.add_consistency_group("ORA_DB", &[data(), log()]).unwrap();
        }
        t
    }

    fn opts(mode: CopyMode) -> PairOptions {
        PairOptions {
            mode,
            chunk_bytes: CHUNK,
            ..PairOptions::default()
        }
    }

    /// The dependent stream so far, one write at a time: a write goes to `volume` block `b`.
    struct Stream(Vec<DependentWrite>);

    impl Stream {
        fn write(&mut self, w: &mut World, volume: VolumeId, block: u64) -> (WriteId, Vec<Output>) {
            let (id, out) = w.write(volume, block * 4096, 4096);
            self.0.push(DependentWrite { id, volume, block });
            (id, out)
        }

        /// The cut with the stream's `missing`th write absent and its `present`th there.
        fn gap(&self, missing: usize, present: usize) -> Cut {
            Cut::Inconsistent {
                missing: self.0[missing].id,
                present: self.0[present].id,
            }
        }

        /// The consistent cut up to the stream's `upto`th write.
        fn upto(&self, upto: usize) -> Cut {
            Cut::Consistent {
                upto: Some(self.0[upto].id),
            }
        }

        /// What the SVOLs hold of the stream.
        fn cut(&self, w: &World) -> Cut {
            consistent_cut(&self.0, |v, b| {
                let m = if v == data().pvol { data() } else { log() };
                w.volume(m.svol).block(b)
            })
        }
    }

    /// After a log record, the secondary fails the data mirror alone (a secondary volume
    /// error) and its notice reaches the primary; then a data page and the next log record.
    /// (Fence `continue`: the data page is acknowledged on the PVOL alone.)
    fn data_pair_fails(mode: CopyMode, grouped: bool) -> (World, Stream) {
        let o = PairOptions {
            fence: Fence::Continue,
            ..opts(mode)
        };
        let mut w = World::new(&topology(o, o, grouped), ProtocolConfig::default());
        let mut s = Stream(Vec::new());
        s.write(&mut w, log().pvol, 0);
        w.settle(false);
        let out = w.input(
            P,
            Input::Deliver {
                from: S,
                via: Transport::Interconnect,
                msg: Message::Suspend {
                    mirror: data(),
                    copy: 0,
                },
            },
        );
        assert_eq!(w.system(P).state(data()), PairState::SuspendedError);
        let log_state = w.system(P).state(log());
        if grouped {
            // The log pair suspends in the same step, and its secondary is told.
            assert_eq!(log_state, PairState::SuspendedError, "{out:?}");
            assert!(out.iter().any(|o| matches!(o, Output::Send {
                msg: Message::Suspend { mirror, .. }, ..
            } if *mirror == log())));
        } else {
            assert_eq!(log_state, PairState::Pair);
        }
        for (v, b) in [(data().pvol, 0), (log().pvol, 1)] {
            let (id, mut out) = s.write(&mut w, v, b);
            out.extend(w.settle(false));
            assert!(out.contains(&Output::AckWrite(id)), "{mode}: {out:?}");
        }
        (w, s)
    }

    #[test]
    fn sync_and_semi_sync_groups_suspend_together_and_keep_a_consistent_cut() {
        for mode in [CopyMode::Sync, CopyMode::SemiSync] {
            let (w, s) = data_pair_fails(mode, true);
            assert_eq!(s.cut(&w), s.upto(0), "{mode}");
            let (w, s) = data_pair_fails(mode, false);
            assert_eq!(
                s.cut(&w),
                s.gap(1, 2),
                "{mode}: without a group the second log record outruns the data page"
            );
        }
    }

    /// Async, the log mirror's journal holding one write: the log record, then a data page
    /// and a second log record that overflows the log journal, then a data page. Nothing is
    /// delivered until the end.
    fn async_log_journal_fills(grouped: bool) -> (World, Stream) {
        let small = PairOptions {
            journal_bytes: 4096,
            on_full: OnFull::Suspend,
            ..opts(CopyMode::Async)
        };
        let mut w = World::new(
            &topology(small, opts(CopyMode::Async), grouped),
            ProtocolConfig::default(),
        );
        let mut s = Stream(Vec::new());
        s.write(&mut w, log().pvol, 0);
        s.write(&mut w, data().pvol, 0);
        let (_, out) = s.write(&mut w, log().pvol, 1);
        assert!(out.iter().any(|o| matches!(o, Output::StateChanged { mirror, to: PairState::SuspendedError, .. } if *mirror == log())));
        let data_state = w.system(P).state(data());
        assert_eq!(
            data_state == PairState::SuspendedError,
            grouped,
            "a full journal suspends the whole group, and only the group"
        );
        s.write(&mut w, data().pvol, 1);
        w.settle(false);
        (w, s)
    }

    #[test]
    fn async_journal_full_suspends_the_whole_group() {
        let (w, s) = async_log_journal_fills(true);
        assert_eq!(s.cut(&w), s.upto(1));
        let (w, s) = async_log_journal_fills(false);
        assert_eq!(
            s.cut(&w),
            s.gap(2, 3),
            "without a group the data mirror goes on past the log record its journal lost"
        );
    }

    /// Periodic: a log record and a data page, then the cycle timers fire and the messages
    /// go over one at a time; returns the cut the SVOLs held after each delivery.
    fn periodic_cuts(grouped: bool) -> Vec<Cut> {
        let o = opts(CopyMode::Periodic);
        let mut w = World::new(&topology(o, o, grouped), ProtocolConfig::default());
        let mut s = Stream(Vec::new());
        s.write(&mut w, log().pvol, 0);
        s.write(&mut w, data().pvol, 0);
        // The data mirror is the group's first: in a group its timer closes both cycles, and
        // the log mirror's alone closes none.
        w.fire(P, Timer::Cycle(data()));
        let out = w.fire(P, Timer::Cycle(log()));
        let sent = out.iter().any(|o| matches!(o, Output::Send { .. }));
        assert_eq!(sent, !grouped, "{out:?}");
        let mut cuts = Vec::new();
        while w.links.get(&(P, S)).is_some_and(|q| !q.is_empty()) {
            w.deliver_link(P, S);
            cuts.push(s.cut(&w));
        }
        w.settle(false);
        cuts.push(s.cut(&w));
        cuts
    }

    #[test]
    fn periodic_group_applies_one_cycle_for_all_its_pairs() {
        let cuts = periodic_cuts(true);
        assert!(
            cuts.iter().all(|c| matches!(c, Cut::Consistent { .. })),
            "{cuts:?}"
        );
        assert_eq!(
            cuts.last(),
            Some(&Cut::Consistent {
                upto: Some(WriteId(2))
            })
        );
        let cuts = periodic_cuts(false);
        assert!(
            cuts.iter().any(|c| matches!(c, Cut::Inconsistent { .. })),
            "each pair's cycle applied alone shows the data page before its log record: {cuts:?}"
        );
    }

    #[test]
    fn a_group_is_split_atomically_by_its_name() {
        let o = opts(CopyMode::Async);
        let mut t = topology(o, o, true);
        let line = "pairsplit ORA_DB".parse().unwrap();
        let cmds = crate::command::resolve(&line, &mut t, o, None)
            .unwrap()
            .unwrap();
        assert_eq!(cmds.len(), 1, "one atomic split: {cmds:?}");
        let Command::Split { plan } = &cmds[0].1 else {
            panic!("{cmds:?}")
        };
        assert_eq!(plan.mirrors(), vec![data(), log()]);
    }

    #[test]
    fn a_periodic_pair_of_a_group_resyncs_alone() {
        // One pair of a suspended group resyncs to PAIR while the other stays suspended.
        let o = opts(CopyMode::Periodic);
        let mut w = World::new(&topology(o, o, true), ProtocolConfig::default());
        let mut s = Stream(Vec::new());
        w.cut(P, S);
        w.heal(P, S);
        s.write(&mut w, data().pvol, 0);
        let (id, mut out) = w.command(
            P,
            Command::Resync {
                mirror: data(),
                restore: false,
            },
        );
        out.extend(w.settle(true));
        assert!(out.contains(&Output::Done(id)), "{out:?}");
        assert_eq!(w.system(P).state(data()), PairState::Pair);
        assert_eq!(w.system(P).state(log()), PairState::SuspendedError);
        assert_eq!(w.volume(data().svol).block(0), Some(s.0[0].id));
    }
}
