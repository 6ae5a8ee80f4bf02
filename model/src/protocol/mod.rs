//! The replication protocol of one storage system, as a sans-IO state machine.
//!
//! [`StorageSystem::handle`] takes one [`Input`] (a host write, a message from a peer, an
//! administrator's command, a timer, a link event) and appends [`Output`]s (send a message,
//! acknowledge or fail a host write, finish a command, set a timer). There is no clock and no
//! I/O here: the model checker and the simulator are two drivers of this same code, so what is
//! checked is what is simulated. This is the only place a pair state changes
//! (`StorageSystem::set_state`).
//!
//! Data path, per copy mode of a remote mirror in PAIR (ARCHITECTURE.md "Copy modes"):
//! sync / semi-sync / async send each write in order on the interconnect (`Message::Write`);
//! periodic closes a cycle from the pending bitmap on a timer and sends it whole;
//! adaptive copies the pending bitmap in address order once per pass timer. Initial copy and
//! resync are the same bitmap copier. The receiving end acknowledges every sequenced message
//! it applied (cumulatively); an end that has suspended the pair acknowledges nothing, so the
//! sender never counts lost data as replicated.
//!
//! One [`StorageSystem`], its `impl` spread over files by concern (as quinn-proto's
//! `Connection` keeps its state in sibling modules). This file owns the system's state, the
//! entry point [`StorageSystem::handle`] and the pair state change; then:
//! - `io`, `message`: the interface ([`Input`], [`Output`], [`Command`], [`Timer`]) and the
//!   messages between systems;
//! - `pair`: one mirror as held here, its parts grouped by who owns them;
//! - `pairs`: the pairs held here, by mirror and by volume;
//! - `sender`: sequence numbers, in-flight records, acknowledgements received;
//! - `write`: the host write path (admit, apply, carry into mirrors);
//! - `deliver`: one function per message kind received;
//! - `commands`: paircreate, pairresync, pairdelete, takeover;
//! - `copier`: the bitmap copier, the end of a copy, the copy modes' timers;
//! - `fault`: link down, restart, full journal, suspend notices;
//! - `split`: the atomic split (Figs 7-11);
//! - `group`: consistency groups, pairs that suspend and cycle together;
//! - `mutant`: every deliberate bug, in one place.

mod commands;
mod copier;
mod deliver;
mod fault;
mod group;
mod io;
mod message;
mod mutant;
mod pair;
mod pairs;
mod sender;
mod split;
#[cfg(test)]
mod tests;
mod write;

pub use io::{Command, HostWrite, Input, Output, ProtocolConfig, Timer};
pub use message::{MarkKind, Message, SplitId, Transport};
pub use mutant::Mutant;
pub use pair::{Pair, Role};

use crate::flatmap::FlatMap;
use crate::ids::{MirrorId, StorageSerial, VolumeSerial, WriteId};
use crate::table::{CopyTable, PairOptions, PairState};
use crate::volume::Volume;
use pairs::Pairs;
use split::SplitOp;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// One storage system: its volumes, the mirrors it holds, and the protocol state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StorageSystem {
    serial: StorageSerial,
    config: ProtocolConfig,
    volumes: FlatMap<VolumeSerial, Volume>,
    pairs: Pairs,
    links_down: BTreeSet<StorageSerial>,
    /// Host writes waiting to be admitted (I/O inhibit, semi-sync, journal throttle), in order.
    held: VecDeque<HostWrite>,
    /// Atomic splits holding host I/O (Fig 10 step 1120).
    inhibit: u32,
    splits: Vec<SplitOp>,
    /// Sync writes waiting for this many remote acknowledgements.
    sync_waits: BTreeMap<WriteId, u32>,
    /// paircreate commands run here, numbering the pairs' incarnations ([`Pair::epoch`]).
    epochs: u64,
    /// Consistency groups of the pairs here.
    groups: group::Groups,
}

impl StorageSystem {
    /// A system with no volumes and no pairs yet.
    pub fn new(serial: StorageSerial, config: ProtocolConfig) -> Self {
        StorageSystem {
            serial,
            config,
            volumes: FlatMap::new(),
            pairs: Pairs::default(),
            links_down: BTreeSet::new(),
            held: VecDeque::new(),
            inhibit: 0,
            splits: Vec::new(),
            sync_waits: BTreeMap::new(),
            epochs: 0,
            groups: group::Groups::default(),
        }
    }

    /// Its serial number.
    pub fn serial(&self) -> StorageSerial {
        self.serial
    }

    /// The settings it runs with.
    pub fn config(&self) -> &ProtocolConfig {
        &self.config
    }

    /// Adds a volume (before the first input).
    pub fn add_volume(&mut self, serial: VolumeSerial, volume: Volume) {
        self.volumes.insert(serial, volume);
    }

    /// Installs a mirror that was created and synchronized before the study began (PAIR).
    /// Call on both systems of a remote mirror; the driver guarantees the volumes match.
    pub(crate) fn install_pair(&mut self, mirror: MirrorId, options: PairOptions) {
        let role = self.role_of(mirror);
        self.pairs
            .insert(mirror, Pair::new(mirror, role, options, PairState::Pair));
    }

    /// Arms the timers of installed pairs; call once before the first input.
    pub fn start(&mut self, out: &mut Vec<Output>) {
        let mirrors: Vec<MirrorId> = self.pairs.keys().copied().collect();
        for m in mirrors {
            self.arm_mode_timer(m, out);
        }
    }

    /// Volume `serial` of this system.
    pub fn volume(&self, serial: VolumeSerial) -> Option<&Volume> {
        self.volumes.get(&serial)
    }

    /// Every volume of this system, by serial.
    pub fn volumes(&self) -> impl Iterator<Item = (VolumeSerial, &Volume)> {
        self.volumes.iter().map(|(&s, v)| (s, v))
    }

    /// Whether `svol` reads as the PVOL of mirror `m` (a volume of this system) outside the
    /// chunks this end still holds pending or has unacknowledged on the link: what a finished copy (resync, no-copy create)
    /// promises in every mode (`Volume::same_outside`). The checker and the simulator both
    /// judge a finished copy by this.
    pub fn copy_whole(&self, m: MirrorId, svol: &Volume) -> bool {
        let Some(pvol) = self.volume(m.pvol.serial) else {
            return false;
        };
        match self.pair(m) {
            Some(p) => {
                // An adaptive mirror sends writes made after the copy as soon as it is in
                // PAIR: chunks on their way are owed as much as pending ones.
                let mut owed = p.pending.clone();
                for f in p.tx.unacked.iter().filter(|f| !f.is_write) {
                    let (first, end) = p.chunks_of(f.blocks);
                    if f.blocks.0 < f.blocks.1 {
                        owed.set_range(first, end);
                    }
                }
                pvol.same_outside(svol, &owed, p.chunk_blocks())
            }
            None => pvol.digest() == svol.digest(),
        }
    }

    /// The pair of `mirror`, if this system holds an end of it.
    pub fn pair(&self, mirror: MirrorId) -> Option<&Pair> {
        self.pairs.get(&mirror)
    }

    /// Every pair this system holds, in mirror order.
    pub fn pairs(&self) -> impl Iterator<Item = &Pair> {
        self.pairs.values()
    }

    /// Pair state of `mirror` as this system sees it (SIMPLEX when it holds no table).
    pub fn state(&self, mirror: MirrorId) -> PairState {
        self.pairs
            .get(&mirror)
            .map_or(PairState::Simplex, |p| p.state)
    }

    /// Every Fig 6 table this system holds.
    pub fn tables(&self) -> Vec<CopyTable> {
        self.pairs
            .values()
            .flat_map(|p| p.tables(self.serial))
            .collect()
    }

    /// Host writes waiting to be admitted.
    pub(crate) fn held_writes(&self) -> usize {
        self.held.len()
    }

    /// True while an atomic split holds host I/O on this system.
    pub fn inhibited(&self) -> bool {
        self.inhibit > 0
    }

    /// True while an atomic split is in progress here.
    pub(crate) fn splitting(&self) -> bool {
        !self.splits.is_empty()
    }

    fn role_of(&self, mirror: MirrorId) -> Role {
        if mirror.is_local() {
            Role::Local
        } else if mirror.pvol.storage == self.serial {
            Role::Primary
        } else {
            Role::Secondary
        }
    }

    /// The one entry point: applies `input` and appends what the driver must do to `out`.
    pub fn handle(&mut self, input: Input, out: &mut Vec<Output>) {
        match input {
            Input::Write(w) => self.host_write(w, out),
            Input::Deliver { from, via, msg } => self.deliver(from, via, msg, out),
            Input::Command { id, command } => self.command(id, command, out),
            Input::Timer(t) => self.timer(t, out),
            Input::LinkDown(peer) => self.link_down(peer, out),
            Input::LinkUp(peer) => {
                self.links_down.remove(&peer);
            }
            Input::Restart => self.restart(out),
        }
        self.progress_splits(out);
        self.admit_held(out);
    }

    // ----- pair state: the one place it changes -----

    fn set_state(&mut self, mirror: MirrorId, to: PairState, out: &mut Vec<Output>) {
        let Some(p) = self.pairs.get_mut(&mirror) else {
            return;
        };
        let from = p.state;
        if from == to {
            return;
        }
        p.state = to;
        if to != PairState::SuspendedError {
            p.rx.taken_over = false;
        }
        if to != PairState::Copy {
            p.restore = false;
            p.copier.cursor = None;
            p.command.awaiting_peer = None;
        }
        out.push(Output::StateChanged { mirror, from, to });
        if to == PairState::Simplex {
            self.pairs.remove(&mirror);
        }
        if to == PairState::SuspendedError && matches!(from, PairState::Pair | PairState::Copy) {
            self.suspend_group_with(mirror, out);
        }
    }
}
