//! The bitmap copier (initial copy, resync, adaptive passes, catch-up after a split), the
//! end of a copy (COPY -> PAIR), the in-system copy of a local mirror, and when the copy modes
//! send: periodic cycles (a timer, and a cycle that came due while the previous one was in
//! flight), adaptive passes (self-clocked while chunks are dirty, or a timer).

use super::write::Update;
use super::{MarkKind, Message, Output, Pair, Role, StorageSystem, Timer, Transport};
use crate::ids::{MirrorId, WriteId};
use crate::table::{AdaptivePass, CopyMode, PairState};

/// A pair's bitmap copier: where its walk is, and the points of the write stream its
/// marks report.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Copier {
    /// Position in address order; `None` when idle.
    pub(super) cursor: Option<u64>,
    /// Start over at chunk 0 until the bitmap is empty (initial copy, resync, catch-up).
    pub(super) wrap: bool,
    /// Adaptive pass (or catch-up): every write up to this one is on the SVOL once it ends.
    pub(super) pass_upto: WriteId,
    /// A copy that ends with a delta set ([`Pair::copy_ends_with_delta`]) has sent it: the
    /// SVOL is whole as of this write once the delta is acknowledged, and writes since wait
    /// in the bitmap for the first cycle or pass in PAIR.
    pub(super) closing: Option<WriteId>,
    /// Periodic: a cycle came due while the previous one was still unacknowledged; it closes
    /// as soon as that one is acknowledged (not a whole period later).
    pub(super) cycle_due: bool,
}

impl Default for Copier {
    fn default() -> Self {
        Copier {
            cursor: None,
            wrap: false,
            pass_upto: WriteId(0),
            closing: None,
            cycle_due: false,
        }
    }
}

impl StorageSystem {
    pub(super) fn start_copier(&mut self, m: MirrorId, wrap: bool, out: &mut Vec<Output>) {
        let p = self.pairs.get_mut(&m).expect("pair exists");
        if p.copier.cursor.is_none() {
            p.copier.cursor = Some(0);
        }
        p.copier.wrap |= wrap && !(p.state == PairState::Copy && p.copy_ends_with_delta());
        if p.role == Role::Local {
            self.local_copy_step(m, out);
        } else {
            self.pump(m, out);
        }
    }

    /// Takes the next pending chunk in address order, or `None` when the walk is over.
    fn next_chunk(p: &mut Pair) -> Option<u64> {
        let cursor = p.copier.cursor?;
        let next = p.pending.first_at_or_after(cursor).or_else(|| {
            (p.copier.wrap && !p.pending.is_empty()).then(|| p.pending.first_at_or_after(0))?
        });
        match next {
            Some(c) => {
                p.pending.clear(c);
                p.copier.cursor = Some(c + 1);
                Some(c)
            }
            None => {
                p.copier.cursor = None;
                p.copier.wrap = false;
                None
            }
        }
    }

    /// Sends pending chunks of a remote pair while its window allows.
    pub(super) fn pump(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let Some(p) = self.pairs.get(&m) else {
            return;
        };
        if !p.is_source() || p.role == Role::Local {
            return;
        }
        if p.copier.cycle_due && p.tx.unacked.is_empty() {
            self.close_due_cycle(m, out);
        }
        let p = &self.pairs[&m];
        if p.state == PairState::Pair && p.copier.cursor.is_none() {
            // No copier walk and no copy to complete: what follows would do nothing, and
            // this is every acknowledgement of an ordered mirror in PAIR.
            return;
        }
        let was_copying = p.copier.cursor.is_some();
        if matches!(p.state, PairState::Copy | PairState::Pair) {
            self.send_chunks(m, out);
        }
        let p = &self.pairs[&m];
        if was_copying && p.copier.cursor.is_none() && p.state == PairState::Pair {
            // An adaptive pass (or a catch-up after an atomic split) is over.
            let upto = p.copier.pass_upto;
            let msg = Message::Mark {
                mirror: m,
                seq: self.next_seq(m),
                kind: MarkKind::PassEnd,
                upto,
            };
            self.send_sequenced(m, msg, (0, 0), None, false, out);
            self.send_when_idle(m, out);
        }
        self.check_copy_complete(m, out);
    }

    /// Adaptive mode sends pending data "while the storage system is idle" (Fig 10 remark on
    /// step 1110b), under [`AdaptivePass::Idle`]: when a chunk is dirty, a pass starts if none
    /// is under way, and the one under way sends what its window allows. Called where chunks
    /// become dirty (a write, the end of a copy) and where a pass ends.
    pub(super) fn send_when_idle(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let p = self.pairs.get_mut(&m).expect("pair exists");
        let idle_sender = p.options.mode == CopyMode::Adaptive
            && p.options.pass == AdaptivePass::Idle
            && p.role == Role::Primary
            && p.state == PairState::Pair;
        if !idle_sender || p.pending.is_empty() {
            return;
        }
        if p.copier.cursor.is_none() {
            p.copier.pass_upto = p.last_write;
            self.start_copier(m, false, out);
        } else {
            self.pump(m, out);
        }
    }

    /// Sends pending chunks in address order until the window is full or the walk ends.
    fn send_chunks(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        loop {
            let p = self.pairs.get_mut(&m).expect("pair exists");
            if p.tx.unacked_data >= p.options.window_bytes.max(p.options.chunk_bytes) {
                return;
            }
            let Some(c) = Self::next_chunk(p) else {
                return;
            };
            let cb = p.chunk_blocks();
            let (first, end) = (c * cb, (c + 1) * cb);
            let msg = Message::Chunk {
                mirror: m,
                seq: p.tx.next_seq + 1,
                first,
                end,
                blocks: self.volumes[&p.my_volume()].blocks_in(first, end).into(),
                cycle: false,
            };
            self.send_sequenced(m, msg, (first, end), None, false, out);
        }
    }

    /// COPY -> PAIR once every chunk is copied and acknowledged (and the peer agreed).
    pub(super) fn check_copy_complete(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let Some(p) = self.pairs.get(&m) else {
            return;
        };
        if p.state != PairState::Copy || !p.is_source() || p.copier.cursor.is_some() {
            return;
        }
        // Writes during the copy dirtied chunks after the walk ended.
        let dirty = p.copier.closing.is_none() && !p.pending.is_empty();
        if dirty && !p.copy_ends_with_delta() {
            self.start_copier(m, true, out);
            return;
        }
        if p.command.awaiting_peer.is_some() || p.tx.unacked.iter().any(|f| !f.is_write) {
            return;
        }
        if dirty {
            let upto = p.last_write;
            self.close_cycle(m, out);
            self.pairs.get_mut(&m).expect("pair exists").copier.closing = Some(upto);
            return;
        }
        let p = self.pairs.get_mut(&m).expect("pair exists");
        let upto = p.copier.closing.take().unwrap_or(p.last_write);
        let role = p.role;
        if role != Role::Local {
            out.push(Output::Send {
                to: p.peer(),
                via: Transport::Interconnect,
                msg: Message::CopyComplete {
                    mirror: m,
                    upto,
                    copy: p.incarnation.copy_gen,
                },
            });
        }
        self.set_state(m, PairState::Pair, out);
        self.finish_command(m, out);
        // Writes during the copy's closing delta wait in the bitmap.
        self.send_when_idle(m, out);
    }

    /// One step of an in-system copy: a window of chunks, then a timer for the next.
    fn local_copy_step(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let Some(p) = self.pairs.get_mut(&m) else {
            return;
        };
        if p.state != PairState::Copy {
            return;
        }
        let per_step = (p.options.window_bytes / p.options.chunk_bytes).max(1);
        let cb = p.chunk_blocks();
        let (src, dst) = if p.restore && !self.config.mutant_restores_forward() {
            (m.svol.serial, m.pvol.serial)
        } else {
            (m.pvol.serial, m.svol.serial)
        };
        let mut copied = 0;
        while copied < per_step {
            let p = self.pairs.get_mut(&m).expect("pair exists");
            let Some(c) = Self::next_chunk(p) else {
                break;
            };
            let (first, end) = (c * cb, (c + 1) * cb);
            let blocks = self.volumes[&src].blocks_in(first, end);
            let update = Update::Replace { first, end, blocks };
            self.write_volume(dst, &update, None, Some(m), out);
            copied += 1;
        }
        let p = &self.pairs[&m];
        if p.pending.is_empty() {
            self.set_state(m, PairState::Pair, out);
            self.finish_command(m, out);
        } else {
            let bytes = per_step * p.options.chunk_bytes;
            out.push(Output::SetTimer {
                timer: Timer::LocalCopy(m),
                after_ns: bytes * 1_000_000_000 / self.config.local_copy_bytes_per_sec.max(1),
            });
        }
    }

    // ----- timers -----

    pub(super) fn arm_mode_timer(&self, m: MirrorId, out: &mut Vec<Output>) {
        let p = &self.pairs[&m];
        if p.role != Role::Primary {
            return;
        }
        let timer = match (p.options.mode, p.options.pass) {
            (CopyMode::Periodic, _) => Timer::Cycle(m),
            (CopyMode::Adaptive, AdaptivePass::Timer) => Timer::Pass(m),
            _ => return,
        };
        out.push(Output::SetTimer {
            timer,
            after_ns: p.options.period_ns,
        });
    }

    pub(super) fn timer(&mut self, t: Timer, out: &mut Vec<Output>) {
        match t {
            Timer::LocalCopy(m) => self.local_copy_step(m, out),
            Timer::Cycle(m) => {
                if self.group_cycle(m, out) {
                    return;
                }
                let Some(p) = self.pairs.get_mut(&m) else {
                    return;
                };
                // Cycles end at k * period from when the timer was first armed, whatever
                // happened in between; one still in flight makes the next wait for its ack.
                if p.state == PairState::Pair && !p.hold.paused {
                    p.copier.cycle_due = true;
                    if p.tx.unacked.is_empty() {
                        self.close_due_cycle(m, out);
                    }
                }
                self.arm_mode_timer(m, out);
            }
            Timer::Pass(m) => {
                let Some(p) = self.pairs.get_mut(&m) else {
                    return;
                };
                if p.state == PairState::Pair && p.copier.cursor.is_none() && !p.pending.is_empty()
                {
                    p.copier.pass_upto = p.last_write;
                    self.start_copier(m, false, out);
                }
                self.arm_mode_timer(m, out);
            }
        }
    }

    /// Periodic mode, nothing in flight: the cycle that came due closes, if the pair may send
    /// one (in PAIR, not held by a split).
    fn close_due_cycle(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let p = self.pairs.get_mut(&m).expect("pair exists");
        p.copier.cycle_due = false;
        if p.state == PairState::Pair && !p.hold.paused {
            self.close_cycle(m, out);
        }
    }

    /// Periodic mode: the pending chunks become one cycle (delta set), sent whole and applied
    /// at the secondary only when its end marker arrives.
    pub(super) fn close_cycle(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let p = self.pairs.get_mut(&m).expect("pair exists");
        p.copier.cycle_due = false;
        if p.pending.is_empty() {
            return;
        }
        let upto = p.last_write;
        let cb = p.chunk_blocks();
        let runs: Vec<(u64, u64)> = p.pending.runs().collect();
        let cycle = std::mem::take(&mut p.pending);
        let vol = p.my_volume();
        for (s, e) in runs {
            for c in s..e {
                let (first, end) = (c * cb, (c + 1) * cb);
                let msg = Message::Chunk {
                    mirror: m,
                    seq: self.next_seq(m),
                    first,
                    end,
                    blocks: self.volumes[&vol].blocks_in(first, end).into(),
                    cycle: true,
                };
                self.send_sequenced(m, msg, (first, end), None, false, out);
            }
        }
        let msg = Message::Mark {
            mirror: m,
            seq: self.next_seq(m),
            kind: MarkKind::CycleEnd,
            upto,
        };
        self.send_sequenced(m, msg, (0, 0), None, false, out);
        let p = self.pairs.get_mut(&m).expect("pair exists");
        if let Some(f) = p.tx.unacked.back_mut() {
            f.cycle = Some(Box::new(cycle));
        }
    }
}
