//! The stateright model: what can happen next, and the properties, each named as the
//! sentence it checks and each judged by a function of [`crate::invariants`] where it is an
//! invariant of the world.

use super::*;

fn pvol_in_order(_: &CheckModel, s: &CheckState) -> bool {
    !s.history.pvol_out_of_order
}

fn split_identical(_: &CheckModel, s: &CheckState) -> bool {
    !s.history.split_differs
}

fn split_at_a_point(_: &CheckModel, s: &CheckState) -> bool {
    !s.history.split_not_a_point
}

/// How many acknowledged production writes ORA_R1's SVOL lacks while it is in PAIR (those
/// a restore replaced are not owed).
fn acked_missing(m: &CheckModel, s: &CheckState) -> usize {
    let from = s.history.restore.map_or(1, |(_, at)| at + 1);
    let acked = (from..=s.issued)
        .filter(|k| s.acked & (1 << (k - 1)) != 0)
        .map(|k| (m.block_of(k), WriteId(u64::from(k))));
    invariants::acked_missing(&s.world, m.r1, acked)
}

fn sync_acked(m: &CheckModel, s: &CheckState) -> bool {
    acked_missing(m, s) == 0
}

fn fence_at_ack(_: &CheckModel, s: &CheckState) -> bool {
    !s.history.acked_off_svol
}

/// Judged outside ORA_R1's resync windows: a resync carries the writes it admits without
/// holding the host, and they may still be in flight when it reaches PAIR.
fn semi_sync_window(m: &CheckModel, s: &CheckState) -> bool {
    s.history.resyncing & 1 != 0 || acked_missing(m, s) <= 1
}

fn prefix(m: &CheckModel, s: &CheckState) -> bool {
    s.history.restore.is_some()
        || m.remote.iter().enumerate().all(|(i, (mirror, _))| {
            s.history.resyncing & (1 << i) != 0
                || invariants::at_a_point(&s.world, mirror.svol, &s.pvol_points)
        })
}

fn nocopy_sends_no_data(_: &CheckModel, s: &CheckState) -> bool {
    !s.history.nocopy_sent
}

fn nocopy_refused_different(_: &CheckModel, s: &CheckState) -> bool {
    !s.history.nocopy_refused_identical
}

fn resync_direction(_: &CheckModel, s: &CheckState) -> bool {
    !s.history.wrong_direction
}

fn nocopy_identical(_: &CheckModel, s: &CheckState) -> bool {
    !s.history.nocopy_differs
}

fn resync_equal(_: &CheckModel, s: &CheckState) -> bool {
    !s.history.resync_differs
}

fn quiet_pair(_: &CheckModel, s: &CheckState) -> bool {
    invariants::quiet_pairs_differing(&s.world, |m| s.world.carries(m)).is_empty()
}

fn ends_agree(m: &CheckModel, s: &CheckState) -> bool {
    !m.quiet(s) || m.link_down(s) || m.crashed(s) || invariants::ends_agree(&s.world)
}

fn no_hang(m: &CheckModel, s: &CheckState) -> bool {
    let finished = s.outstanding == 0
        && !s.aux_outstanding
        && usize::from(s.step) == m.script.len()
        && s.fault_resync.is_none();
    if finished || !s.world.quiet() || !s.world.timers.is_empty() {
        return true;
    }
    let mut actions = Vec::new();
    m.actions(s, &mut actions);
    !actions.is_empty()
}

fn split_completes(_: &CheckModel, s: &CheckState) -> bool {
    s.history.split_done
}

fn nocopy_pair(_: &CheckModel, s: &CheckState) -> bool {
    s.history.nocopy_pair
}

fn resync_completes(_: &CheckModel, s: &CheckState) -> bool {
    s.history.resynced
}

fn fault_repaired(_: &CheckModel, s: &CheckState) -> bool {
    s.history.fault_repaired
}

impl Model for CheckModel {
    type State = CheckState;
    type Action = Action;

    fn init_states(&self) -> Vec<CheckState> {
        vec![self.init_state()]
    }

    fn actions(&self, s: &CheckState, actions: &mut Vec<Action>) {
        if s.issued < self.config.writes && s.outstanding < self.config.queue_depth {
            actions.push(Action::ProdWrite);
        }
        if s.aux_issued < self.config.aux_writes
            && !s.aux_outstanding
            && s.history.split_done
            && s.world
                .system(self.aux_mirror.svol.storage)
                .state(self.aux_mirror)
                == PairState::Split
        {
            actions.push(Action::AuxWrite);
        }
        match self.next_kind(s) {
            Some(StepKind::Split) => actions.push(Action::IssueSplit),
            Some(StepKind::NoCopyCreate) => actions.push(Action::IssueNoCopyCreate),
            Some(StepKind::Resync) => actions.push(Action::IssueResync),
            None => {}
        }
        if self.config.faults
            && s.fault_resync.is_none()
            && s.fault_resyncs < 2 * s.faults_used
            && !self.link_down(s)
            && !self.crashed(s)
        {
            for sys in s.world.systems.values() {
                for p in sys.pairs() {
                    let primary_end = p.mirror.pvol.storage == sys.serial();
                    if primary_end && !p.mirror.is_local() && p.state == PairState::SuspendedError {
                        actions.push(Action::ResyncAfterFault(p.mirror));
                    }
                }
            }
        }
        for (&(from, to), q) in &s.world.links {
            if !q.is_empty() {
                actions.push(Action::DeliverLink { from, to });
            }
        }
        for i in 0..s.world.host_net.len() {
            actions.push(Action::DeliverHostNet(i));
        }
        for (sys, t) in &s.world.timers {
            actions.push(Action::FireTimer {
                system: *sys,
                timer: *t,
            });
        }
        if self.config.faults {
            let budget = s.faults_used < 1 && !self.link_down(s) && !self.crashed(s);
            if budget {
                actions.push(Action::LinkDown);
                actions.push(Action::Crash);
            }
            if self.link_down(s) {
                actions.push(Action::LinkUp);
            }
            if self.crashed(s) {
                actions.push(Action::Restart);
            }
        }
    }

    fn next_state(&self, s: &CheckState, action: Action) -> Option<CheckState> {
        Some(self.apply(s, &action).0)
    }

    fn format_action(&self, action: &Action) -> String {
        format!("{action:?}")
    }

    fn format_step(&self, s: &CheckState, action: Action) -> Option<String> {
        let text = self.describe_action(s, &action);
        let (next, out) = self.apply(s, &action);
        let fx = self.effects(s, &next, &out, &[]);
        Some(format!("{text}\n  {}", fx.join("\n  ")))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut p = vec![
            Property::always(PVOL_IN_ORDER, pvol_in_order),
            Property::always(SPLIT_IDENTICAL, split_identical),
            Property::always(SPLIT_AT_A_POINT, split_at_a_point),
        ];
        if self.config.mode == CopyMode::Sync {
            p.push(Property::always(SYNC_ACKED, sync_acked));
            p.push(Property::always(FENCE_AT_ACK, fence_at_ack));
        }
        if self.config.mode == CopyMode::SemiSync {
            p.push(Property::always(SEMI_SYNC_WINDOW, semi_sync_window));
        }
        if self.ordered() {
            p.push(Property::always(PREFIX, prefix));
        }
        p.push(Property::always(NOCOPY_IDENTICAL, nocopy_identical));
        p.push(Property::always(NOCOPY_SENDS_NO_DATA, nocopy_sends_no_data));
        p.push(Property::always(
            NOCOPY_REFUSED_DIFFERENT,
            nocopy_refused_different,
        ));
        p.push(Property::always(RESYNC_EQUAL, resync_equal));
        p.push(Property::always(RESYNC_DIRECTION, resync_direction));
        p.push(Property::always(QUIET_PAIR, quiet_pair));
        if self.config.faults {
            p.push(Property::always(ENDS_AGREE, ends_agree));
        }
        p.push(Property::always(NO_HANG, no_hang));
        p.push(Property::sometimes(SPLIT_COMPLETES, split_completes));
        if self.script.iter().any(|x| x.kind == StepKind::NoCopyCreate) {
            p.push(Property::sometimes(NOCOPY_PAIR, nocopy_pair));
        }
        p.push(Property::sometimes(RESYNC_COMPLETES, resync_completes));
        if self.config.faults {
            p.push(Property::sometimes(FAULT_REPAIRED, fault_repaired));
        }
        p
    }
}
