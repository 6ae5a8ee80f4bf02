//! One step of the checked world: an action applied to a state through the [`World`], and
//! the bookkeeping of what it caused (host acks, command outcomes, the PVOL's points of the
//! write stream, resync windows) with the history flags the properties read.

use super::*;

impl CheckModel {
    /// Applies `action` and returns the next state with the outputs it caused.
    pub(super) fn apply(&self, s: &CheckState, action: &Action) -> (CheckState, Vec<Output>) {
        let mut n = s.clone();
        let (p, b) = (self.primary, self.secondary);
        let out = match action {
            Action::ProdWrite => {
                n.issued += 1;
                n.outstanding += 1;
                let (id, block) = self.prod_write(n.issued);
                let w = HostWrite {
                    id,
                    volume: self.pvol.serial,
                    offset: block * BLOCK_BYTES,
                    len: BLOCK_BYTES,
                };
                n.world.input(self.pvol.storage, Input::Write(w))
            }
            Action::AuxWrite => {
                n.aux_issued += 1;
                n.aux_outstanding = true;
                let (id, block) = self.aux_write(n.aux_issued);
                let w = HostWrite {
                    id,
                    volume: self.aux_mirror.svol.serial,
                    offset: block * BLOCK_BYTES,
                    len: BLOCK_BYTES,
                };
                n.world.input(self.aux_mirror.svol.storage, Input::Write(w))
            }
            Action::IssueSplit | Action::IssueNoCopyCreate | Action::IssueResync => {
                let step = &self.script[usize::from(n.step)];
                if step.kind == StepKind::Resync && self.config.restore {
                    let source = n.world.volume(self.local_l.svol).digest();
                    n.history.restore = Some((source, n.issued));
                }
                let (sys, cmd, _) = step.commands[n.step_cmds.len()].clone();
                let (id, out) = n.world.command(sys, cmd);
                n.step_cmds.push((id, Outcome::Pending));
                out
            }
            Action::ResyncAfterFault(mirror) => {
                n.fault_resyncs += 1;
                let cmd = Command::Resync {
                    mirror: *mirror,
                    restore: false,
                };
                let (id, out) = n.world.command(mirror.pvol.storage, cmd);
                n.fault_resync = Some((id, *mirror, Outcome::Pending));
                out
            }
            Action::DeliverLink { from, to } => n.world.deliver_link(*from, *to),
            Action::DeliverHostNet(i) => n.world.deliver_host_net(*i),
            Action::FireTimer { system, timer } => n.world.fire(*system, *timer),
            Action::LinkDown => {
                n.faults_used += 1;
                n.world.cut(p, b)
            }
            Action::LinkUp => n.world.heal(p, b),
            Action::Crash => {
                n.faults_used += 1;
                n.world.crash(b)
            }
            Action::Restart => n.world.restart(b),
        };
        self.absorb(&mut n, &out);
        (n, out)
    }

    /// Finds the production writes the PVOL took in this step and records the PVOL content
    /// after each, in issue order: several held writes can be admitted in one step, and each
    /// is a point of the write stream. Outstanding writes hit distinct blocks (queue depth <=
    /// chunks), so a write is applied exactly when its block holds it, or refused when it
    /// failed without landing.
    pub(super) fn book_applied(&self, n: &mut CheckState, out: &[Output]) {
        let pvol = n.world.volume(self.pvol).clone();
        for k in 1..=n.issued {
            let bit = 1u16 << (k - 1);
            if (n.applied | n.refused) & bit != 0 {
                continue;
            }
            let id = WriteId(u64::from(k));
            if pvol.block(self.block_of(k)) == Some(id) {
                n.applied |= bit;
                let mut point = self.init.volume(self.pvol).clone();
                for j in (1..=k).filter(|j| n.applied & (1 << (j - 1)) != 0) {
                    point.write(self.block_of(j), 1, WriteId(u64::from(j)));
                }
                n.pvol_points.push(point.digest());
            } else if out
                .iter()
                .any(|o| matches!(o, Output::FailWrite(w, _) if *w == id))
            {
                n.refused |= bit;
            }
        }
        if n.history.restore.is_none() && n.pvol_points.last() != Some(&pvol.digest()) {
            n.history.pvol_out_of_order = true;
        }
    }

    /// Whether the script's no-copy create has been issued and has not finished.
    fn nocopy_in_progress(&self, s: &CheckState) -> bool {
        let step = self.script.get(usize::from(s.step));
        step.is_some_and(|x| x.kind == StepKind::NoCopyCreate) && !s.step_cmds.is_empty()
    }

    /// Judges what a step sent: chunks of a no-copy create ([`NOCOPY_SENDS_NO_DATA`]) and a
    /// secondary's "not identical" ([`NOCOPY_REFUSED_DIFFERENT`]), both judged when sent.
    fn judge_traffic(&self, n: &mut CheckState, out: &[Output]) {
        let nocopy = self.nocopy_in_progress(n);
        for o in out {
            match o {
                Output::Send {
                    msg:
                        Message::Chunk {
                            mirror,
                            first,
                            end,
                            blocks,
                            ..
                        },
                    ..
                } if nocopy && *mirror == self.nocopy_mirror => {
                    let svol = n.world.volume(mirror.svol).blocks_in(*first, *end);
                    n.history.nocopy_sent |= svol[..] == blocks[..];
                }
                Output::Send {
                    msg:
                        Message::CreateReply {
                            mirror,
                            refused: Some(Refusal::NotIdentical),
                            ..
                        },
                    ..
                } => {
                    n.history.nocopy_refused_identical |=
                        invariants::identical(&n.world, mirror.pvol, mirror.svol);
                }
                _ => {}
            }
        }
    }

    /// [`FENCE_AT_ACK`] for production write `id`, acknowledged in this step (sync only;
    /// writes a restore replaced are not owed).
    fn judge_ack(&self, n: &mut CheckState, id: WriteId) {
        let replaced = n
            .history
            .restore
            .is_some_and(|(_, at)| id.0 <= u64::from(at));
        // A write to the PVOL of a split mirror is owed to the SVOL only by the resync
        // (`remote_split`: the administrator split ORA_R1, no fence applies).
        let split = n.world.system(self.primary).state(self.r1) == PairState::Split;
        if self.config.mode != CopyMode::Sync || replaced || split {
            return;
        }
        let k = u8::try_from(id.0).expect("a production write");
        let write = (self.block_of(k), id);
        if !invariants::ack_allowed(&n.world, self.r1, write, self.config.fence) {
            n.history.acked_off_svol = true;
        }
    }

    /// [`RESYNC_DIRECTION`] when a resync of `m` completes: after a restore the PVOL holds
    /// what the SVOL held when it was issued; after a forward resync of a mirror of the
    /// production PVOL, the PVOL is still the last point of the write stream.
    fn judge_direction(&self, n: &mut CheckState, m: MirrorId) {
        let held = match n.history.restore {
            Some((source, _)) if m == self.local_l => Some(source),
            Some(_) => None,
            None => (m.pvol == self.pvol).then(|| *n.pvol_points.last().expect("initial point")),
        };
        if let Some(d) = held {
            n.history.wrong_direction |= !invariants::holds(&n.world, m.pvol, d);
        }
    }

    /// [`invariants::copy_whole_landed`] with the messages on the link to `m`'s SVOL.
    fn copy_whole_landed(&self, n: &CheckState, m: MirrorId) -> bool {
        let link = n.world.links.get(&(m.pvol.storage, m.svol.storage));
        invariants::copy_whole_landed(&n.world, m, link.into_iter().flatten())
    }

    /// Books the outputs (acks, command results) and judges what can be judged now.
    pub(super) fn absorb(&self, n: &mut CheckState, out: &[Output]) {
        self.judge_traffic(n, out);
        for o in out {
            match *o {
                Output::AckWrite(id) | Output::FailWrite(id, _) => {
                    if id.0 > AUX_WRITE_BASE {
                        n.aux_outstanding = false;
                    } else if id.0 >= 1 {
                        n.outstanding -= 1;
                        if matches!(o, Output::AckWrite(_)) {
                            self.judge_ack(n, id);
                            n.acked |= 1 << (id.0 - 1);
                        }
                    }
                }
                Output::Done(c) | Output::Refused(c, _) => {
                    let result = if matches!(o, Output::Done(_)) {
                        Outcome::Done
                    } else {
                        Outcome::Refused
                    };
                    let resync = n.fault_resync.as_mut().map(|(id, _, o)| (id, o));
                    let cmds = n.step_cmds.iter_mut().map(|(id, o)| (&*id, o));
                    for (id, outcome) in cmds.chain(resync.map(|(id, o)| (&*id, o))) {
                        if *id == c && *outcome == Outcome::Pending {
                            *outcome = result;
                        }
                    }
                }
                _ => {}
            }
        }
        self.book_applied(n, out);
        // Resync windows of the remote SVOLs (a COPY at the secondary, or upstream); a split
        // remote SVOL (`remote_split`) is the auxiliary host's until its resync completes.
        for (i, &(m, up)) in self.remote.iter().enumerate() {
            let bit = 1u8 << i;
            let state = n.world.system(m.svol.storage).state(m);
            let upstream = up.is_some_and(|u| n.history.resyncing & (1 << u) != 0);
            // Downstream of a resync, its chunks may still be on the hop (or held in its
            // split backlog): the window closes once the hop has drained.
            let drained = up.is_none()
                || n.world
                    .system(m.pvol.storage)
                    .pair(m)
                    .is_some_and(|p| p.unacked() == 0 && p.pending_bytes() == 0);
            if matches!(state, PairState::Copy | PairState::Split) || upstream {
                n.history.resyncing |= bit;
            } else if state == PairState::Pair && drained {
                n.history.resyncing &= !bit;
            }
        }
        // A fault resync that finished.
        if let Some((_, mirror, outcome)) = n.fault_resync {
            if outcome != Outcome::Pending {
                if outcome == Outcome::Done {
                    n.history.fault_repaired = true;
                    if !self.copy_whole_landed(n, mirror) {
                        n.history.resync_differs = true;
                    }
                    self.judge_direction(n, mirror);
                }
                n.fault_resync = None;
            }
        }
        // A script step that finished.
        let Some(step) = self.script.get(usize::from(n.step)) else {
            return;
        };
        if n.step_cmds.len() < step.commands.len()
            || n.step_cmds.iter().any(|(_, o)| *o == Outcome::Pending)
        {
            return;
        }
        let all_done = n.step_cmds.iter().all(|(_, o)| *o == Outcome::Done);
        if all_done {
            match step.kind {
                StepKind::Split => {
                    let w = &n.world;
                    let identical =
                        invariants::split_identical(w, &self.topology, &self.split_svols);
                    let at_points = (self.split_svols.iter())
                        .all(|&v| invariants::at_a_point(w, v, &n.pvol_points));
                    let h = &mut n.history;
                    h.split_done = true;
                    h.split_differs |= !identical;
                    h.split_not_a_point |= !at_points;
                }
                StepKind::NoCopyCreate => {
                    let m = command_mirror(&step.commands[0].1);
                    n.history.nocopy_pair = true;
                    n.history.nocopy_differs |= !self.copy_whole_landed(n, m);
                }
                StepKind::Resync => {
                    let m = command_mirror(&step.commands[0].1);
                    n.history.resynced = true;
                    n.history.resync_differs |= !self.copy_whole_landed(n, m);
                    self.judge_direction(n, m);
                }
            }
        }
        n.step += 1;
        n.step_cmds.clear();
    }
}
