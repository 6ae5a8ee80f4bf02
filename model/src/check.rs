//! The model checker: a stateright [`Model`] of the Fig 8 world (or a three-site cascade) in
//! which a production host writes, the administrator runs an atomic split, a no-copy
//! `paircreate` of ORA_R2 and a `pairresync`, an auxiliary host writes a split SVOL, messages
//! travel (the replication link FIFO, the host network in any order) and, behind a flag, faults
//! strike — in every possible order. This module owns that model, the properties of DESIGN.md
//! "Invariants the checker proves", a shortest-counterexample search and the rendering of a
//! counterexample in domain words. It holds no protocol logic: every step is a call of
//! [`crate::protocol::StorageSystem::handle`] through [`World`], so what is checked is what the
//! simulator runs.

use crate::command::{resolve, CommandLine};
use crate::ids::{CommandId, MirrorId, StorageSerial, VolumeId, WriteId};
use crate::invariants;
use crate::protocol::{
    Command, HostWrite, Input, MarkKind, Message, Mutant, Output, ProtocolConfig, Timer, Transport,
};
use crate::replay::{MessageKey, Part, Step, TimerKind};
use crate::table::{AsyncResume, CopyMode, PairOptions, PairState};
use crate::topology::{fig8, fig8_volumes, MirrorSpec, Topology, VolumeSpec};
use crate::volume::{describe_blocks, Digest, Volume, BLOCK_BYTES};
use crate::world::World;
use serde::Serialize;
use stateright::{Checker, Expectation, HasDiscoveries, Model, Property};
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

/// What to check. The default is Fig 8, sync, the split forwarded on the interconnect, five
/// production writes two at a time, two auxiliary writes, volumes of two chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CheckConfig {
    pub mode: CopyMode,
    /// How the atomic split travels to the secondary.
    pub transport: Transport,
    /// Production writes, one block each, to chunks in descending address order (so a copy in
    /// address order reorders them).
    pub writes: u8,
    /// Production writes the host keeps outstanding at once (1: a dependent write stream).
    pub queue_depth: u8,
    /// Writes of the auxiliary host to the split SVOL 106a, after the split.
    pub aux_writes: u8,
    /// Chunks (= blocks) per volume.
    pub chunks: u8,
    /// Link down and secondary crash (one fault per path), then repair and resync of ORA_R1.
    pub faults: bool,
    pub mutant: Option<Mutant>,
    /// A third system 64003 fed from 105b (ORA_R3), with a local mirror ORA_CL split too.
    pub cascade: bool,
    pub resume: AsyncResume,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            mode: CopyMode::Sync,
            transport: Transport::Interconnect,
            writes: 5,
            queue_depth: 2,
            aux_writes: 2,
            chunks: 2,
            faults: false,
            mutant: None,
            cascade: false,
            resume: AsyncResume::Journal,
        }
    }
}

impl CheckConfig {
    /// One line naming the configuration, for summaries and bench output.
    pub fn label(&self) -> String {
        let mut s = format!(
            "mode={} transport={} writes={} queue-depth={} aux-writes={} chunks={}",
            self.mode,
            transport_name(self.transport),
            self.writes,
            self.queue_depth,
            self.aux_writes,
            self.chunks
        );
        if self.mode == CopyMode::Async {
            s += match self.resume {
                AsyncResume::Journal => " resume=journal",
                AsyncResume::Bitmap => " resume=bitmap",
            };
        }
        if self.faults {
            s += " faults";
        }
        if self.cascade {
            s += " cascade";
        }
        if let Some(m) = self.mutant {
            s += &format!(" mutant={}", m.name());
        }
        s
    }
}

/// The `--transport` spelling of a transport.
pub fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Interconnect => "interconnect",
        Transport::HostNetwork => "host-network",
    }
}

/// Why a mutant escapes on the FIFO interconnect, told with the summary.
pub fn mutant_note(mutant: Mutant, transport: Transport) -> Option<&'static str> {
    match (mutant, transport) {
        (Mutant::NoDrain | Mutant::NoInhibit, Transport::Interconnect) => Some(
            "over the interconnect the split travels in the same FIFO as the copy data, so it \
             can neither overtake data sent before it nor be overtaken by data sent after it: \
             the drain (Fig 11 step 1220) and the I/O inhibit (Fig 10 step 1120) only matter \
             when the split takes the host network; check with --transport host-network",
        ),
        _ => None,
    }
}

/// One step of the administrator's script; each waits for the previous to finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepKind {
    Split,
    NoCopyCreate,
    Resync,
}

#[derive(Clone, Debug)]
struct ScriptStep {
    kind: StepKind,
    /// The command line as the administrator types it.
    line: CommandLine,
    /// The protocol commands, each issued as its own action, and the command line of each.
    commands: Vec<(StorageSerial, Command, String)>,
}

/// Everything that can happen next.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// The production host writes its next block to 105a.
    ProdWrite,
    /// The auxiliary host writes the split SVOL 106a.
    AuxWrite,
    /// The next command of `pairsplit --atomic` (two commands under `no-atomic`).
    IssueSplit,
    IssueNoCopyCreate,
    IssueResync,
    /// `pairresync` of a remote mirror a fault suspended (ORA_R1, or ORA_R2 if created).
    ResyncAfterFault(MirrorId),
    /// The oldest message on the replication link `from -> to` arrives.
    DeliverLink {
        from: StorageSerial,
        to: StorageSerial,
    },
    /// The `i`-th message on the host network arrives (any may go first).
    DeliverHostNet(usize),
    FireTimer {
        system: StorageSerial,
        timer: Timer,
    },
    LinkDown,
    LinkUp,
    Crash,
    Restart,
}

/// Where a command stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Outcome {
    Pending,
    Done,
    Refused,
}

/// Facts of the past the properties need; flags that a violation was seen at the moment it
/// could be judged (e.g. when a command finished) stay set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct History {
    /// The PVOL's content was not the one the writes issued so far give, in order.
    pub pvol_out_of_order: bool,
    pub split_done: bool,
    pub split_differs: bool,
    pub split_not_a_point: bool,
    pub nocopy_pair: bool,
    pub nocopy_differs: bool,
    pub resynced: bool,
    pub resync_differs: bool,
    pub fault_repaired: bool,
    /// Remote SVOLs (bit per entry of the model's list) in a resync: not a prefix meanwhile.
    pub resyncing: u8,
}

/// A state of the checked world: the [`World`] plus hosts, script position and history.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckState {
    pub world: World,
    /// Production writes issued, and those not yet acknowledged or failed.
    pub issued: u8,
    pub outstanding: u8,
    /// Production writes acknowledged, bit `k - 1` for write `k`.
    pub acked: u16,
    /// Production writes the PVOL took, and those refused without landing.
    pub applied: u16,
    pub refused: u16,
    pub aux_issued: u8,
    aux_outstanding: bool,
    /// The PVOL 105a's digest before any write and after each write applied to it.
    pub pvol_points: Vec<Digest>,
    /// Script step in progress and its commands issued so far.
    pub step: u8,
    step_cmds: Vec<(CommandId, Outcome)>,
    fault_resync: Option<(CommandId, MirrorId, Outcome)>,
    pub faults_used: u8,
    pub fault_resyncs: u8,
    pub history: History,
}

/// The model: configuration, topology and the resolved command script.
pub struct CheckModel {
    pub config: CheckConfig,
    /// The topology before the script runs (without ORA_R2, which its `paircreate` makes).
    start: Topology,
    /// Every mirror the world may hold, ORA_R2 included: the names of all of them.
    topology: Topology,
    init: World,
    script: Vec<ScriptStep>,
    /// Options `paircreate` gives a new mirror (ORA_R2): those of the remote mirrors.
    defaults: PairOptions,
    pvol: VolumeId,
    aux_vol: VolumeId,
    r1: MirrorId,
    local_l: MirrorId,
    split_svols: Vec<VolumeId>,
    /// Remote mirrors fed by the production stream, with the index of the one upstream.
    remote: Vec<(MirrorId, Option<usize>)>,
    primary: StorageSerial,
    secondary: StorageSerial,
    /// The secondary's index in the fabric, and the link `--faults` takes down.
    secondary_at: usize,
    fault_link: usize,
}

const AUX_WRITE_BASE: u64 = 100;

/// How a replay of a checked path names the production host (it writes the PVOL 105a).
pub const PROD_HOST: &str = "prod";
/// How a replay names the auxiliary host (it writes the split SVOL 106a).
pub const AUX_HOST: &str = "aux";
/// How a replay names the replication link between the primary and the secondary: the one
/// `--faults` takes down.
pub const FAULT_LINK: &str = "wan";

/// One step of a checked path as a replay scenario tells it, with the checker's own words
/// for it (see [`crate::replay`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathStep {
    pub step: Step,
    pub note: String,
}

impl CheckModel {
    pub fn new(config: CheckConfig) -> Result<Self, String> {
        if !(1..=8).contains(&config.queue_depth) {
            return Err(format!(
                "queue depth must be 1..=8, found {}",
                config.queue_depth
            ));
        }
        if config.queue_depth > config.chunks {
            return Err(format!(
                "queue depth ({}) must not exceed chunks ({}): outstanding writes must hit \
                 distinct chunks for the checker to tell them apart",
                config.queue_depth, config.chunks
            ));
        }
        if !(1..=12).contains(&config.writes) {
            return Err(format!("writes must be 1..=12, found {}", config.writes));
        }
        if !(1..=8).contains(&config.chunks) {
            return Err(format!("chunks must be 1..=8, found {}", config.chunks));
        }
        if config.aux_writes > 4 {
            return Err(format!(
                "aux writes must be 0..=4, found {}",
                config.aux_writes
            ));
        }
        let size = u64::from(config.chunks) * BLOCK_BYTES;
        let remote = PairOptions {
            mode: config.mode,
            chunk_bytes: BLOCK_BYTES,
            window_bytes: BLOCK_BYTES,
            resume: config.resume,
            ..PairOptions::default()
        };
        let mut topology = fig8(size, remote);
        let [a105, a106, b105, b106] = fig8_volumes();
        let r1 = MirrorId::new(a105, b105);
        let mut split_groups = vec!["ORA_L", "ORA_RL"];
        let mut split_svols = vec![a106, b106];
        let mut remote_mirrors = vec![(r1, None)];
        if config.cascade {
            let (c105, c106) = (VolumeId::new(64003, 0x105c), VolumeId::new(64003, 0x106c));
            for id in [c105, c106] {
                topology
                    .add_volume(VolumeSpec {
                        id,
                        size,
                        used: size,
                    })
                    .map_err(|e| e.to_string())?;
            }
            let local = PairOptions {
                chunk_bytes: BLOCK_BYTES,
                ..PairOptions::default()
            };
            for (group, id, options) in [
                ("ORA_R3", MirrorId::new(b105, c105), remote),
                ("ORA_CL", MirrorId::new(c105, c106), local),
            ] {
                topology
                    .add_mirror(MirrorSpec {
                        id,
                        group: group.to_string(),
                        options,
                    })
                    .map_err(|e| e.to_string())?;
            }
            split_groups.push("ORA_CL");
            split_svols.push(c106);
            remote_mirrors.push((MirrorId::new(b105, c105), Some(0)));
        }
        let protocol = ProtocolConfig {
            split_transport: config.transport,
            mutant: config.mutant,
            ..ProtocolConfig::default()
        };
        let init = World::new(&topology, protocol);
        let (p, b) = (
            init.index(a105.storage).expect("the primary"),
            init.index(b105.storage).expect("the secondary"),
        );
        let fault_link = init.link_between(p, b).expect("ORA_R1's link");
        let start = topology.clone();
        let lines = [
            (
                StepKind::Split,
                format!("pairsplit --atomic {}", split_groups.join(" ")),
            ),
            (
                StepKind::NoCopyCreate,
                format!("paircreate ORA_R2 {a106} {b106} --nocopy"),
            ),
            (StepKind::Resync, "pairresync ORA_L".to_string()),
        ];
        let mut script = Vec::new();
        for (kind, line) in lines {
            let parsed: CommandLine = line.parse().map_err(|e| format!("{line}: {e}"))?;
            let cmds = resolve(&parsed, &mut topology, remote, config.mutant)
                .map_err(|e| format!("{line}: {e}"))?
                .ok_or_else(|| format!("{line}: not a protocol command"))?;
            let single = cmds.len() == 1;
            let commands = cmds
                .into_iter()
                .map(|(s, c)| {
                    let label = match (&c, single) {
                        (_, true) => line.clone(),
                        (Command::Split { plan }, false) => {
                            let names: Vec<String> = plan
                                .mirrors()
                                .into_iter()
                                .map(|m| group_name(&topology, m))
                                .collect();
                            format!("pairsplit {} (one mirror per command)", names.join(" "))
                        }
                        _ => format!("{line} (part)"),
                    };
                    (s, c, label)
                })
                .collect();
            script.push(ScriptStep {
                kind,
                line: parsed,
                commands,
            });
        }
        Ok(CheckModel {
            config,
            start,
            topology,
            init,
            script,
            defaults: remote,
            pvol: a105,
            aux_vol: a106,
            r1,
            local_l: MirrorId::new(a105, a106),
            split_svols,
            remote: remote_mirrors,
            primary: a105.storage,
            secondary: b105.storage,
            secondary_at: b,
            fault_link,
        })
    }

    /// Every mirror the world may hold, ORA_R2 (which the script creates) included.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The world before the script runs: the mirrors in PAIR at the start.
    pub fn start_topology(&self) -> &Topology {
        &self.start
    }

    /// The command lines of the script, in order.
    pub fn script_lines(&self) -> Vec<String> {
        self.script
            .iter()
            .flat_map(|s| s.commands.iter().map(|c| c.2.clone()))
            .collect()
    }

    /// Options `paircreate` gives a mirror it makes (ORA_R2): those of the remote mirrors.
    pub fn pair_defaults(&self) -> PairOptions {
        self.defaults
    }

    /// The hosts and the volume each writes, by the names a replay gives them.
    pub fn hosts(&self) -> [(&'static str, VolumeId); 2] {
        [(PROD_HOST, self.pvol), (AUX_HOST, self.aux_vol)]
    }

    /// The replication links (one per pair of systems a remote mirror joins), as a replay
    /// names them: [`FAULT_LINK`] between the primary and the secondary, then `wan2`, `wan3`
    /// in order of the systems they join (the cascade's 64002-64003).
    pub fn links(&self) -> Vec<(String, StorageSerial, StorageSerial)> {
        let (p, b) = (self.primary, self.secondary);
        let others: BTreeSet<(StorageSerial, StorageSerial)> = self
            .topology
            .mirrors()
            .filter(|m| !m.id.is_local())
            .map(|m| {
                let (x, y) = (m.id.pvol.storage, m.id.svol.storage);
                (x.min(y), x.max(y))
            })
            .filter(|&ends| ends != (p.min(b), p.max(b)))
            .collect();
        let mut links = vec![(FAULT_LINK.to_string(), p, b)];
        links.extend(
            others
                .into_iter()
                .enumerate()
                .map(|(i, (x, y))| (format!("wan{}", i + 2), x, y)),
        );
        links
    }

    fn block_of(&self, k: u8) -> u64 {
        let c = u64::from(self.config.chunks);
        c - 1 - (u64::from(k) - 1) % c
    }

    /// The `k`-th production write (from 1): its version and block of 105a.
    fn prod_write(&self, k: u8) -> (WriteId, u64) {
        (WriteId(u64::from(k)), self.block_of(k))
    }

    /// The `k`-th auxiliary write (from 1): its version and block of 106a, block by block.
    fn aux_write(&self, k: u8) -> (WriteId, u64) {
        (
            WriteId(AUX_WRITE_BASE + u64::from(k)),
            u64::from(k - 1) % u64::from(self.config.chunks),
        )
    }

    fn ordered(&self) -> bool {
        matches!(
            self.config.mode,
            CopyMode::Sync | CopyMode::SemiSync | CopyMode::Async | CopyMode::Periodic
        )
    }

    fn quiet(&self, s: &CheckState) -> bool {
        s.world.quiet()
            && s.world.timers.is_empty()
            && s.world
                .systems
                .values()
                .all(|sys| !sys.splitting() && sys.held_writes() == 0)
    }

    /// The kind of the script's next command, if one may be issued now (not to a crashed
    /// system: the administrator's command would not reach it).
    fn next_kind(&self, s: &CheckState) -> Option<StepKind> {
        let step = self.script.get(usize::from(s.step))?;
        let (target, ..) = step.commands.get(s.step_cmds.len())?;
        (!(self.crashed(s) && *target == self.secondary)).then_some(step.kind)
    }

    /// Whether the fault link (primary-secondary) is down, as the fabric holds it.
    fn link_down(&self, s: &CheckState) -> bool {
        !s.world.link_is_up(self.fault_link)
    }

    /// Whether the secondary is crashed, as the fabric holds it.
    fn crashed(&self, s: &CheckState) -> bool {
        !s.world.is_up(self.secondary_at)
    }

    /// Applies `action` and returns the next state with the outputs it caused.
    fn apply(&self, s: &CheckState, action: &Action) -> (CheckState, Vec<Output>) {
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
                    volume: self.aux_vol.serial,
                    offset: block * BLOCK_BYTES,
                    len: BLOCK_BYTES,
                };
                n.world.input(self.aux_vol.storage, Input::Write(w))
            }
            Action::IssueSplit | Action::IssueNoCopyCreate | Action::IssueResync => {
                let step = &self.script[usize::from(n.step)];
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
    fn book_applied(&self, n: &mut CheckState, out: &[Output]) {
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
        if n.pvol_points.last() != Some(&pvol.digest()) {
            n.history.pvol_out_of_order = true;
        }
    }

    /// Books the outputs (acks, command results) and judges what can be judged now.
    fn absorb(&self, n: &mut CheckState, out: &[Output]) {
        for o in out {
            match *o {
                Output::AckWrite(id) | Output::FailWrite(id, _) => {
                    if id.0 > AUX_WRITE_BASE {
                        n.aux_outstanding = false;
                    } else if id.0 >= 1 {
                        n.outstanding -= 1;
                        if matches!(o, Output::AckWrite(_)) {
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
        // Resync windows of the remote SVOLs (a COPY at the secondary, or upstream).
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
            if state == PairState::Copy || upstream {
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
                    if !invariants::copy_whole(&n.world, mirror) {
                        n.history.resync_differs = true;
                    }
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
                    n.history.nocopy_differs |= !invariants::copy_whole(&n.world, m);
                }
                StepKind::Resync => {
                    let m = command_mirror(&step.commands[0].1);
                    n.history.resynced = true;
                    n.history.resync_differs |= !invariants::copy_whole(&n.world, m);
                }
            }
        }
        n.step += 1;
        n.step_cmds.clear();
    }

    // ----- rendering -----

    fn group(&self, m: MirrorId) -> String {
        group_name(&self.topology, m)
    }

    fn write_name(id: WriteId) -> String {
        if id.0 > AUX_WRITE_BASE {
            format!("aux write a{}", id.0 - AUX_WRITE_BASE)
        } else {
            format!("w{}", id.0)
        }
    }

    /// A message in domain words.
    pub fn describe_message(&self, msg: &Message) -> String {
        let g = self.group(msg.mirror());
        match msg {
            Message::Write {
                seq, write, first, ..
            } => format!(
                "{} of {g} (seq {seq}) for block {first}",
                Self::write_name(*write)
            ),
            Message::Chunk {
                seq,
                first,
                end,
                blocks,
                cycle,
                ..
            } => format!(
                "chunk copy of {g} (seq {seq}) blocks {first}..{end} = {}{}",
                content(blocks),
                if *cycle { ", part of a cycle" } else { "" }
            ),
            Message::Mark { seq, kind, .. } => match kind {
                MarkKind::CycleEnd => format!("end-of-cycle mark of {g} (seq {seq})"),
                MarkKind::PassEnd => format!("end-of-pass mark of {g} (seq {seq})"),
                MarkKind::Split => format!("split mark of {g} (seq {seq})"),
            },
            Message::Ack { seq, .. } => format!("ack of {g} up to seq {seq}"),
            Message::Forward { plan, .. } => {
                let names: Vec<String> =
                    plan.mirrors().into_iter().map(|m| self.group(m)).collect();
                format!("atomic split of {} forwarded through {g}", names.join(" "))
            }
            Message::SplitDone { refused, .. } => match refused {
                None => format!("split done (through {g})"),
                Some(r) => format!("split refused (through {g}): {r}"),
            },
            Message::Create { nocopy, .. } => match nocopy {
                Some(_) => format!("paircreate {g} --nocopy"),
                None => format!("paircreate {g} (full copy)"),
            },
            Message::CreateReply { refused, .. } => match refused {
                None => format!("paircreate {g} accepted"),
                Some(r) => format!("paircreate {g} refused: {r}"),
            },
            Message::Resync { restore, .. } => {
                format!("pairresync{} {g}", if *restore { " --restore" } else { "" })
            }
            Message::ResyncBitmap { runs, .. } => {
                format!("secondary's pending bitmap of {g} ({} runs)", runs.len())
            }
            Message::CopyComplete { .. } => format!("copy of {g} complete"),
            Message::Suspend { .. } => format!("suspend {g}"),
            Message::Delete { .. } => format!("pairdelete {g}"),
        }
    }

    fn describe_timer(&self, t: &Timer) -> String {
        match t {
            Timer::Cycle(m) => format!("cycle timer of {}", self.group(*m)),
            Timer::Pass(m) => format!("pass timer of {}", self.group(*m)),
            Timer::LocalCopy(m) => format!("in-system copy step of {}", self.group(*m)),
        }
    }

    /// What `action` does, in words, as seen from `s`.
    pub fn describe_action(&self, s: &CheckState, action: &Action) -> String {
        let (p, b) = (self.primary, self.secondary);
        match action {
            Action::ProdWrite => {
                let (w, block) = self.prod_write(s.issued + 1);
                format!("production host writes {w} to {} block {block}", self.pvol)
            }
            Action::AuxWrite => {
                let (w, block) = self.aux_write(s.aux_issued + 1);
                format!(
                    "auxiliary host writes {} to split SVOL {} block {block}",
                    short_write(w),
                    self.aux_vol
                )
            }
            Action::IssueSplit | Action::IssueNoCopyCreate | Action::IssueResync => {
                match self.script.get(usize::from(s.step)) {
                    Some(step) if s.step_cmds.len() < step.commands.len() => {
                        let (sys, _, line) = &step.commands[s.step_cmds.len()];
                        format!("administrator runs `{line}` (to storage {sys})")
                    }
                    _ => "administrator has nothing left to run".to_string(),
                }
            }
            Action::ResyncAfterFault(m) => format!(
                "administrator runs `pairresync {}` (to storage {})",
                self.group(*m),
                m.pvol.storage
            ),
            Action::DeliverLink { from, to } => {
                match s.world.links.get(&(*from, *to)).and_then(|q| q.front()) {
                    Some(m) => format!("link {from}->{to} delivers {}", self.describe_message(m)),
                    None => format!("link {from}->{to} has nothing to deliver"),
                }
            }
            Action::DeliverHostNet(i) => match s.world.host_net.get(*i) {
                Some(e) => format!(
                    "host network delivers {} from {} to {}",
                    self.describe_message(&e.msg),
                    e.from,
                    e.to
                ),
                None => "host network has nothing to deliver".to_string(),
            },
            Action::FireTimer { system, timer } => {
                format!("storage {system}: {} fires", self.describe_timer(timer))
            }
            Action::LinkDown => {
                format!("the replication link {p}-{b} goes down (messages in flight are lost)")
            }
            Action::LinkUp => format!("the replication link {p}-{b} comes back"),
            Action::Crash => {
                format!("storage {b} crashes (its links go down, messages to it are lost)")
            }
            Action::Restart => format!("storage {b} restarts and its links come back"),
        }
    }

    /// What changed from `before` to `after` (pair states, volumes, host acks, commands).
    /// `names` are the command lines in issue order (command ids are given out 1, 2, ...).
    fn effects(
        &self,
        before: &CheckState,
        after: &CheckState,
        out: &[Output],
        names: &[String],
    ) -> Vec<String> {
        let name = |c: CommandId| {
            usize::try_from(c.0)
                .ok()
                .and_then(|i| names.get(i.wrapping_sub(1)))
                .cloned()
                .unwrap_or_else(|| format!("command #{}", c.0))
        };
        let mut fx = Vec::new();
        for (serial, sys) in after.world.systems.iter() {
            let old = &before.world.systems[&serial];
            let mut mirrors: Vec<MirrorId> = sys.pairs().map(|p| p.mirror).collect();
            mirrors.extend(old.pairs().map(|p| p.mirror));
            mirrors.sort();
            mirrors.dedup();
            for m in mirrors {
                let (from, to) = (old.state(m), sys.state(m));
                if from != to {
                    fx.push(format!(
                        "storage {serial}: {} ({m}) {from} -> {to}",
                        self.group(m)
                    ));
                }
            }
            for (vs, v) in sys.volumes() {
                let changed = old.volume(vs).is_none_or(|o| o.digest() != v.digest());
                if changed {
                    fx.push(format!("{serial}:{vs} now holds {}", volume_content(v)));
                }
            }
            if sys.inhibited() != old.inhibited() {
                fx.push(format!(
                    "storage {serial}: host I/O {}",
                    if sys.inhibited() {
                        "inhibited"
                    } else {
                        "resumed"
                    }
                ));
            }
        }
        for o in out {
            match o {
                Output::AckWrite(w) => {
                    fx.push(format!("{} acknowledged to its host", Self::write_name(*w)))
                }
                Output::FailWrite(w, r) => {
                    fx.push(format!("{} failed to its host: {r}", Self::write_name(*w)))
                }
                Output::Done(c) => fx.push(format!("`{}` completed", name(*c))),
                Output::Refused(c, r) => fx.push(format!("`{}` refused: {r}", name(*c))),
                _ => {}
            }
        }
        let acked_now = out.iter().any(|o| {
            matches!(o, Output::AckWrite(w) | Output::FailWrite(w, _) if w.0 == u64::from(after.issued))
        });
        if before.issued < after.issued && !acked_now {
            let held = after.world.system(self.primary).held_writes()
                > before.world.system(self.primary).held_writes();
            fx.push(format!(
                "w{} waits: {}",
                after.issued,
                if held {
                    "the storage system holds it (host I/O inhibited)"
                } else {
                    "for the remote acknowledgement"
                }
            ));
        }
        fx
    }

    /// Replays `actions` from the initial state and renders every step.
    pub fn render(&self, property: &str, actions: &[Action]) -> Trace {
        let mut s = self.init_state();
        let mut steps = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for (i, a) in actions.iter().enumerate() {
            let text = self.describe_action(&s, a);
            // Remember the command lines in issue order so completions can be named.
            if let Action::IssueSplit | Action::IssueNoCopyCreate | Action::IssueResync = a {
                if let Some(step) = self.script.get(usize::from(s.step)) {
                    names.push(step.commands[s.step_cmds.len()].2.clone());
                }
            }
            if let Action::ResyncAfterFault(m) = a {
                names.push(format!("pairresync {}", self.group(*m)));
            }
            let (next, out) = self.apply(&s, a);
            let effects = self.effects(&s, &next, &out, &names);
            steps.push(TraceStep {
                n: i + 1,
                action: format!("{a:?}"),
                text,
                effects,
            });
            s = next;
        }
        let volumes = s
            .world
            .systems
            .iter()
            .flat_map(|(serial, sys)| {
                sys.volumes()
                    .map(move |(vs, v)| (format!("{serial}:{vs}"), volume_content(v)))
            })
            .collect();
        let mut in_flight: Vec<String> = s
            .world
            .links
            .iter()
            .flat_map(|((from, to), q)| {
                q.iter()
                    .map(move |m| format!("link {from}->{to}: {}", self.describe_message(m)))
            })
            .collect();
        in_flight.extend(s.world.host_net.iter().map(|e| {
            format!(
                "host network {}->{}: {}",
                e.from,
                e.to,
                self.describe_message(&e.msg)
            )
        }));
        Trace {
            property: property.to_string(),
            config: self.config.label(),
            steps,
            volumes,
            in_flight,
        }
    }

    /// `actions` (a path of this model from its initial state) as replay steps, each with the
    /// checker's words for it; `Err` names the first action that is not possible where it
    /// stands. The messages a step delivers are named by content ([`MessageKey`]), as the
    /// simulator finds them in its own queues.
    pub fn replay_steps(&self, actions: &[Action]) -> Result<Vec<PathStep>, String> {
        let mut s = self.init_state();
        let mut steps = Vec::with_capacity(actions.len());
        for (i, a) in actions.iter().enumerate() {
            let step = self
                .replay_step(&s, a)
                .ok_or_else(|| format!("action {} ({a:?}) is not possible there", i + 1))?;
            steps.push(PathStep {
                step,
                note: self.describe_action(&s, a),
            });
            s = self.apply(&s, a).0;
        }
        Ok(steps)
    }

    fn replay_step(&self, s: &CheckState, action: &Action) -> Option<Step> {
        let run = |line| Step::Run { line, part: None };
        let write = |host: &str, (write, block): (WriteId, u64), volume| Step::Write {
            host: host.to_string(),
            write,
            volume,
            block,
        };
        let deliver = |via, from, to, msg: &Message| Step::Deliver {
            via,
            from,
            to,
            message: MessageKey::of(msg).map(|m| self.topology.mirror_ref(m)),
        };
        Some(match action {
            Action::ProdWrite => write(PROD_HOST, self.prod_write(s.issued + 1), self.pvol),
            Action::AuxWrite => write(AUX_HOST, self.aux_write(s.aux_issued + 1), self.aux_vol),
            Action::IssueSplit | Action::IssueNoCopyCreate | Action::IssueResync => {
                let step = self.script.get(usize::from(s.step))?;
                let (k, of) = (s.step_cmds.len(), step.commands.len());
                Step::Run {
                    line: step.line.clone(),
                    // A handful of commands per line: the casts cannot truncate.
                    part: (of > 1).then_some(Part {
                        k: k as u32 + 1,
                        of: of as u32,
                    }),
                }
            }
            Action::ResyncAfterFault(m) => run(CommandLine::PairResync {
                restore: false,
                targets: vec![self.topology.mirror_ref(*m)],
            }),
            Action::DeliverLink { from, to } => {
                let head = s.world.links.get(&(*from, *to))?.front()?;
                deliver(Transport::Interconnect, *from, *to, head)
            }
            Action::DeliverHostNet(i) => {
                let e = s.world.host_net.get(*i)?;
                deliver(Transport::HostNetwork, e.from, e.to, &e.msg)
            }
            Action::FireTimer { system, timer } => {
                let (kind, m) = TimerKind::of(*timer);
                Step::Timer {
                    kind,
                    mirror: self.topology.mirror_ref(m),
                    system: *system,
                }
            }
            Action::LinkDown => run(CommandLine::LinkDown {
                link: FAULT_LINK.to_string(),
            }),
            Action::LinkUp => run(CommandLine::LinkUp {
                link: FAULT_LINK.to_string(),
            }),
            Action::Crash => run(CommandLine::Crash {
                storage: self.secondary,
            }),
            Action::Restart => run(CommandLine::Restart {
                storage: self.secondary,
            }),
        })
    }

    fn init_state(&self) -> CheckState {
        CheckState {
            world: self.init.clone(),
            issued: 0,
            outstanding: 0,
            acked: 0,
            applied: 0,
            refused: 0,
            aux_issued: 0,
            aux_outstanding: false,
            pvol_points: vec![self.init.volume(self.pvol).digest()],
            step: 0,
            step_cmds: Vec::new(),
            fault_resync: None,
            faults_used: 0,
            fault_resyncs: 0,
            history: History::default(),
        }
    }

    /// A shortest path to a state violating the `always` property `name`, found by a
    /// deterministic breadth-first search (stateright's own paths are neither shortest nor
    /// stable between runs). Only the frontier's states are kept, with a parent link per state
    /// seen. `None` when the property holds or is not an `always` one.
    pub fn shortest_counterexample(&self, name: &str) -> Option<Vec<Action>> {
        let prop = self.properties().into_iter().find(|p| p.name == name)?;
        if prop.expectation != Expectation::Always {
            return None;
        }
        let cond = prop.condition;
        let init = self.init_state();
        let mut links: Vec<Option<(usize, Action)>> = vec![None];
        let mut seen = HashSet::from([fingerprint(&init)]);
        let mut frontier = vec![(init, 0usize)];
        let mut actions = Vec::new();
        while !frontier.is_empty() {
            let mut next_frontier = Vec::new();
            for (state, at) in frontier {
                if !cond(self, &state) {
                    let mut path = Vec::new();
                    let mut at = at;
                    while let Some((parent, a)) = links[at].take() {
                        path.push(a);
                        at = parent;
                    }
                    path.reverse();
                    return Some(path);
                }
                actions.clear();
                self.actions(&state, &mut actions);
                for a in actions.drain(..) {
                    let (next, _) = self.apply(&state, &a);
                    if seen.insert(fingerprint(&next)) {
                        links.push(Some((at, a)));
                        next_frontier.push((next, links.len() - 1));
                    }
                }
            }
            frontier = next_frontier;
        }
        None
    }
}

fn fingerprint(s: &CheckState) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

fn command_mirror(c: &Command) -> MirrorId {
    match c {
        Command::Create { mirror, .. }
        | Command::Resync { mirror, .. }
        | Command::Delete { mirror } => *mirror,
        Command::Split { plan } => plan.mirrors()[0],
        Command::Takeover => unreachable!("the script has no takeover"),
    }
}

fn group_name(t: &Topology, m: MirrorId) -> String {
    t.group_of(m).map_or_else(|| m.to_string(), str::to_string)
}

fn content(blocks: &[(u64, WriteId)]) -> String {
    describe_blocks(blocks, short_write)
}

fn short_write(w: WriteId) -> String {
    if w.0 > AUX_WRITE_BASE {
        format!("a{}", w.0 - AUX_WRITE_BASE)
    } else {
        format!("w{}", w.0)
    }
}

fn volume_content(v: &Volume) -> String {
    content(&v.blocks_in(0, u64::MAX))
}

// ----- properties: each named as the sentence it checks -----

pub use crate::invariants::{
    ENDS_AGREE, NOCOPY_IDENTICAL, PREFIX, PVOL_IN_ORDER, QUIET_PAIR, RESYNC_EQUAL,
    SPLIT_AT_A_POINT, SPLIT_IDENTICAL, SYNC_ACKED,
};
pub const NO_HANG: &str =
    "nothing hangs: when nothing more can happen, every host write and command has finished";
pub const SPLIT_COMPLETES: &str = "the atomic split completes";
pub const NOCOPY_PAIR: &str = "ORA_R2 reaches PAIR by no-copy";
pub const RESYNC_COMPLETES: &str = "a resync completes";
pub const FAULT_REPAIRED: &str = "a mirror suspended by a fault is resynced";

fn pvol_in_order(_: &CheckModel, s: &CheckState) -> bool {
    !s.history.pvol_out_of_order
}

fn split_identical(_: &CheckModel, s: &CheckState) -> bool {
    !s.history.split_differs
}

fn split_at_a_point(_: &CheckModel, s: &CheckState) -> bool {
    !s.history.split_not_a_point
}

fn sync_acked(m: &CheckModel, s: &CheckState) -> bool {
    let acked = (1..=s.issued)
        .filter(|k| s.acked & (1 << (k - 1)) != 0)
        .map(|k| (m.block_of(k), WriteId(u64::from(k))));
    invariants::acked_on_svol(&s.world, m.r1, acked)
}

fn prefix(m: &CheckModel, s: &CheckState) -> bool {
    m.remote.iter().enumerate().all(|(i, (mirror, _))| {
        s.history.resyncing & (1 << i) != 0
            || invariants::at_a_point(&s.world, mirror.svol, &s.pvol_points)
    })
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
            && s.world.system(self.primary).state(self.local_l) == PairState::Split
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
        }
        if self.ordered() {
            p.push(Property::always(PREFIX, prefix));
        }
        p.push(Property::always(NOCOPY_IDENTICAL, nocopy_identical));
        p.push(Property::always(RESYNC_EQUAL, resync_equal));
        p.push(Property::always(QUIET_PAIR, quiet_pair));
        if self.config.faults {
            p.push(Property::always(ENDS_AGREE, ends_agree));
        }
        p.push(Property::always(NO_HANG, no_hang));
        p.push(Property::sometimes(SPLIT_COMPLETES, split_completes));
        p.push(Property::sometimes(NOCOPY_PAIR, nocopy_pair));
        p.push(Property::sometimes(RESYNC_COMPLETES, resync_completes));
        if self.config.faults {
            p.push(Property::sometimes(FAULT_REPAIRED, fault_repaired));
        }
        p
    }
}

// ----- running -----

/// How a property came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// An `always` property held in every state explored.
    Holds,
    Violated,
    /// A `sometimes` property was seen to happen.
    Reached,
    /// A `sometimes` property never happened: the check would be vacuous.
    NotReached,
}

#[derive(Clone, Debug, Serialize)]
pub struct PropertyResult {
    pub name: &'static str,
    pub always: bool,
    pub verdict: Verdict,
}

/// The outcome of one check.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    pub config: String,
    pub unique_states: usize,
    pub states: usize,
    pub max_depth: usize,
    pub seconds: f64,
    /// True when every reachable state was visited (no early stop at a violation).
    pub exhaustive: bool,
    pub properties: Vec<PropertyResult>,
}

impl CheckReport {
    pub fn states_per_sec(&self) -> f64 {
        self.unique_states as f64 / self.seconds.max(1e-9)
    }

    /// The `always` properties violated.
    pub fn violated(&self) -> Vec<&'static str> {
        self.properties
            .iter()
            .filter(|p| p.verdict == Verdict::Violated)
            .map(|p| p.name)
            .collect()
    }

    /// Passed: nothing violated, and every `sometimes` property reached (not vacuous).
    pub fn passed(&self) -> bool {
        self.properties
            .iter()
            .all(|p| matches!(p.verdict, Verdict::Holds | Verdict::Reached))
    }
}

/// Checks `model` exhaustively with `threads` (depth-first: the fastest search of stateright
/// 0.31 on two cores), stopping at the first violation of an `always` property.
pub fn check(model: CheckModel, threads: usize) -> CheckReport {
    let config = model.config.label();
    let props = model.properties();
    let start = Instant::now();
    let checker = model
        .checker()
        .threads(threads.max(1))
        .finish_when(HasDiscoveries::AnyFailures)
        .spawn_dfs()
        .join();
    let elapsed: Duration = start.elapsed();
    let discoveries = checker.discoveries();
    let mut any_failure = false;
    let properties: Vec<PropertyResult> = props
        .iter()
        .map(|p| {
            let found = discoveries.contains_key(p.name);
            let always = p.expectation == Expectation::Always;
            any_failure |= always && found;
            PropertyResult {
                name: p.name,
                always,
                verdict: match (always, found) {
                    (true, false) => Verdict::Holds,
                    (true, true) => Verdict::Violated,
                    (false, true) => Verdict::Reached,
                    (false, false) => Verdict::NotReached,
                },
            }
        })
        .collect();
    CheckReport {
        config,
        unique_states: checker.unique_state_count(),
        states: checker.state_count(),
        max_depth: checker.max_depth(),
        seconds: elapsed.as_secs_f64(),
        exhaustive: !any_failure,
        properties,
    }
}

/// A counterexample as numbered steps in domain words.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    pub property: String,
    pub config: String,
    pub steps: Vec<TraceStep>,
    /// Every volume's content at the end: `[b0=w2 b1=w1]`, unwritten blocks omitted.
    pub volumes: Vec<(String, String)>,
    /// Messages still travelling at the end.
    pub in_flight: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TraceStep {
    pub n: usize,
    /// The checker's action, as Rust debug text (for tools).
    pub action: String,
    pub text: String,
    pub effects: Vec<String>,
}

impl std::fmt::Display for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "counterexample to \"{}\" ({}):",
            self.property, self.config
        )?;
        for s in &self.steps {
            writeln!(f, "{:>3}. {}", s.n, s.text)?;
            for e in &s.effects {
                writeln!(f, "       - {e}")?;
            }
        }
        writeln!(f, "volumes at the end:")?;
        for (v, c) in &self.volumes {
            writeln!(f, "       {v} {c}")?;
        }
        if !self.in_flight.is_empty() {
            writeln!(f, "still in flight:")?;
            for m in &self.in_flight {
                writeln!(f, "       {m}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_go_to_chunks_in_descending_address_order() {
        let m = CheckModel::new(CheckConfig::default()).unwrap();
        let blocks: Vec<u64> = (1..=4).map(|k| m.block_of(k)).collect();
        assert_eq!(blocks, vec![1, 0, 1, 0]);
    }

    #[test]
    fn the_smallest_world_passes_and_is_not_vacuous() {
        let cfg = CheckConfig {
            writes: 1,
            queue_depth: 1,
            aux_writes: 0,
            ..CheckConfig::default()
        };
        let r = check(CheckModel::new(cfg).unwrap(), 1);
        assert!(r.passed() && r.exhaustive, "{:?}", r.properties);
        assert!(r.unique_states > 50, "{}", r.unique_states);
    }

    #[test]
    fn a_rendered_step_names_hosts_messages_and_pair_states() {
        let m = CheckModel::new(CheckConfig::default()).unwrap();
        let path = [Action::ProdWrite, Action::IssueSplit];
        let text = m.render("example", &path).to_string();
        assert!(
            text.contains("1. production host writes w1 to 64001:105a block 1"),
            "{text}"
        );
        assert!(
            text.contains("ORA_L (64001:105a->64001:106a) PAIR -> SPLIT"),
            "{text}"
        );
        assert!(text.contains("link 64001->64002: w1 of ORA_R1"), "{text}");
    }
}
