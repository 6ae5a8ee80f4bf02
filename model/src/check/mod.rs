//! The model checker: a stateright [`Model`] of the Fig 8 world (or a three-site cascade) in
//! which a production host writes, the administrator runs an atomic split, a no-copy
//! `paircreate` of ORA_R2 and a `pairresync`, an auxiliary host writes a split SVOL, messages
//! travel (the replication link FIFO, the host network in any order) and, behind a flag, faults
//! strike — in every possible order. This module owns that model, its properties (README
//! "Model checking"; ARCHITECTURE.md "Invariants"), a shortest-counterexample search and the
//! rendering of a counterexample in domain words. It holds no protocol logic: every step is a call of
//! [`crate::protocol::StorageSystem::handle`] through [`World`], so what is checked is what the
//! simulator runs.

use crate::command::{resolve, CommandLine};
use crate::ids::{CommandId, MirrorId, StorageSerial, VolumeId, WriteId};
use crate::invariants;
use crate::protocol::{
    Command, HostWrite, Input, MarkKind, Message, Mutant, Output, ProtocolConfig, Timer, Transport,
};
use crate::replay::{MessageKey, Part, Step, TimerKind};
use crate::table::Refusal;
use crate::table::{AsyncResume, CopyMode, Fence, PairOptions, PairState};
use crate::topology::{fig8, fig8_volumes, MirrorSpec, Topology, VolumeSpec};
use crate::volume::{describe_blocks, Digest, Volume, BLOCK_BYTES};
use crate::world::World;
use serde::Serialize;
use stateright::{Checker, Expectation, HasDiscoveries, Model, Property};
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

mod path;
mod properties;
mod render;
mod report;
mod step;

pub use render::{Trace, TraceStep};
pub use report::{check, CheckReport, PropertyResult, Verdict};

// ----- properties: each named as the sentence it checks -----

pub use crate::invariants::{
    ENDS_AGREE, FENCE_AT_ACK, NOCOPY_IDENTICAL, NOCOPY_REFUSED_DIFFERENT, PREFIX, PVOL_IN_ORDER,
    QUIET_PAIR, RESYNC_DIRECTION, RESYNC_EQUAL, SEMI_SYNC_WINDOW, SPLIT_AT_A_POINT,
    SPLIT_IDENTICAL, SYNC_ACKED,
};
/// What crosses the link, judged on each chunk a step sends (a function of the message and
/// the world, so kept here): the seed's no-copy create (Fig 12) copies nothing, and a chunk
/// the SVOL already holds is one it need not have sent (only writes to the PVOL since the
/// create was issued may travel).
pub const NOCOPY_SENDS_NO_DATA: &str = "a no-copy create sends no chunk its SVOL already holds";
/// Liveness: nothing waits for ever once the world is stuck.
pub(crate) const NO_HANG: &str =
    "nothing hangs: when nothing more can happen, every host write and command has finished";
/// Reached on some path (a `sometimes` property): the script's split finishes.
pub const SPLIT_COMPLETES: &str = "the atomic split completes";
/// Reached on some path: the no-copy create of Fig 12 succeeds.
pub const NOCOPY_PAIR: &str = "ORA_R2 reaches PAIR by no-copy";
/// Reached on some path: the script's resync finishes.
pub const RESYNC_COMPLETES: &str = "a resync completes";
/// Reached on some path (`--faults`): a suspended mirror is resynced.
pub const FAULT_REPAIRED: &str = "a mirror suspended by a fault is resynced";

/// What to check. The default is Fig 8, sync, the split forwarded on the interconnect, five
/// production writes two at a time, two auxiliary writes, volumes of two chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CheckConfig {
    /// The copy mode of the remote mirrors.
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
    /// A deliberately broken protocol to check (the checker must find its bug).
    pub mutant: Option<Mutant>,
    /// A third system 64003 fed from 105b (ORA_R3), with a local mirror ORA_CL split too.
    pub cascade: bool,
    /// How an async mirror resumes after a split (only with `mode` async).
    pub resume: AsyncResume,
    /// What a sync mirror does with the writes a fault leaves waiting (only with `mode` sync).
    pub fence: Fence,
    /// Chunks a bitmap-driven copy keeps unacknowledged on the link at once.
    pub window: u8,
    /// The script's resync is `pairresync --restore ORA_L` (SVOL -> PVOL) instead.
    pub restore: bool,
    /// The script splits the remote mirror ORA_R1 instead (`pairsplit ORA_R1`), the
    /// auxiliary host writes its SVOL 105b at the secondary, and `pairresync ORA_R1` copies
    /// the chunks dirty on either side.
    pub remote_split: bool,
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
            fence: Fence::Refuse,
            window: 1,
            restore: false,
            remote_split: false,
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
        if self.mode == CopyMode::Sync && self.fence == Fence::Continue {
            s += " fence=continue";
        }
        if self.window != 1 {
            s += &format!(" window={}", self.window);
        }
        if self.restore {
            s += " restore";
        }
        if self.remote_split {
            s += " remote-split";
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
        (
            Mutant::NoDrain | Mutant::NoInhibit | Mutant::AdaptiveDrainEarly,
            Transport::Interconnect,
        ) => Some(
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
pub(crate) enum StepKind {
    /// `pairsplit --atomic ORA_L ORA_RL`.
    Split,
    /// `paircreate ORA_R2 ... --nocopy` (Fig 12).
    NoCopyCreate,
    /// `pairresync` of a split mirror.
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
    /// The auxiliary host writes the split SVOL (106a; 105b under `remote_split`).
    AuxWrite,
    /// The next command of `pairsplit --atomic` (two commands under `no-atomic`).
    IssueSplit,
    /// The next command of the no-copy `paircreate` of ORA_R2.
    IssueNoCopyCreate,
    /// The next command of the script's `pairresync`.
    IssueResync,
    /// `pairresync` of a remote mirror a fault suspended (ORA_R1, or ORA_R2 if created).
    ResyncAfterFault(MirrorId),
    /// The oldest message on the replication link `from -> to` arrives.
    DeliverLink {
        /// The sending system.
        from: StorageSerial,
        /// The receiving system.
        to: StorageSerial,
    },
    /// The `i`-th message on the host network arrives (any may go first).
    DeliverHostNet(usize),
    /// A timer set on `system` fires.
    FireTimer {
        /// The system that set it.
        system: StorageSerial,
        /// Which timer.
        timer: Timer,
    },
    /// `--faults`: the replication link between primary and secondary fails.
    LinkDown,
    /// The failed link is repaired.
    LinkUp,
    /// `--faults`: the secondary crashes.
    Crash,
    /// The crashed secondary restarts.
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
pub(crate) struct History {
    /// The PVOL's content was not the one the writes issued so far give, in order.
    pub(crate) pvol_out_of_order: bool,
    pub(crate) split_done: bool,
    pub(crate) split_differs: bool,
    pub(crate) split_not_a_point: bool,
    pub(crate) nocopy_pair: bool,
    pub(crate) nocopy_differs: bool,
    pub(crate) resynced: bool,
    pub(crate) resync_differs: bool,
    pub(crate) fault_repaired: bool,
    /// Remote SVOLs (bit per entry of the model's list) split or in a resync: not a prefix
    /// meanwhile.
    pub(crate) resyncing: u8,
    /// A sync write was acknowledged while not on the SVOL and the fence did not allow it.
    pub(crate) acked_off_svol: bool,
    /// The no-copy create sent a chunk its SVOL already held.
    pub(crate) nocopy_sent: bool,
    /// A no-copy create was refused as not identical on identical volumes.
    pub(crate) nocopy_refused_identical: bool,
    /// A resync ended with the PVOL not holding what its direction promises.
    pub(crate) wrong_direction: bool,
    /// `--restore`: the SVOL's content when the restore was issued, and the production
    /// writes issued by then (the restore replaces them: acknowledged or not, they are
    /// no longer owed to the remote SVOL, nor is the PVOL a point of the write stream).
    pub(crate) restore: Option<(Digest, u8)>,
}

/// A state of the checked world: the [`World`] plus hosts, script position and history.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckState {
    /// The storage systems, what is in flight and the timers set.
    pub world: World,
    /// Production writes issued, and those not yet acknowledged or failed.
    pub(crate) issued: u8,
    pub(crate) outstanding: u8,
    /// Production writes acknowledged, bit `k - 1` for write `k`.
    pub(crate) acked: u16,
    /// Production writes the PVOL took, and those refused without landing.
    pub(crate) applied: u16,
    pub(crate) refused: u16,
    pub(crate) aux_issued: u8,
    aux_outstanding: bool,
    /// The PVOL 105a's digest before any write and after each write applied to it.
    pub(crate) pvol_points: Vec<Digest>,
    /// Script step in progress and its commands issued so far.
    pub(crate) step: u8,
    step_cmds: Vec<(CommandId, Outcome)>,
    fault_resync: Option<(CommandId, MirrorId, Outcome)>,
    pub(crate) faults_used: u8,
    pub(crate) fault_resyncs: u8,
    pub(crate) history: History,
}

/// The model: configuration, topology and the resolved command script.
pub struct CheckModel {
    /// What is checked.
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
    /// The mirror the script splits whose SVOL the auxiliary host writes (ORA_L; ORA_R1
    /// under `remote_split`).
    aux_mirror: MirrorId,
    r1: MirrorId,
    local_l: MirrorId,
    /// The mirror the script's no-copy `paircreate` makes (ORA_R2).
    nocopy_mirror: MirrorId,
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
/// How a replay names the auxiliary host (it writes the split SVOL 106a, or 105b).
pub(crate) const AUX_HOST: &str = "aux";
/// How a replay names the replication link between the primary and the secondary: the one
/// `--faults` takes down.
pub const FAULT_LINK: &str = "wan";

/// One step of a checked path as a replay scenario tells it, with the checker's own words
/// for it (see [`crate::replay`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathStep {
    /// The step, in the replay grammar.
    pub step: Step,
    /// What the checker says happened.
    pub note: String,
}

impl CheckModel {
    /// The model of `config`, or why the configuration is out of range.
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
        if !(1..=config.chunks).contains(&config.window) {
            return Err(format!(
                "the copy window must be 1..=chunks ({}) chunks, found {}",
                config.chunks, config.window
            ));
        }
        if config.remote_split && (config.restore || config.cascade) {
            return Err(
                "--remote-split splits and resyncs ORA_R1 only: it takes neither \
                        --restore (of ORA_L) nor --cascade"
                    .to_string(),
            );
        }
        let size = u64::from(config.chunks) * BLOCK_BYTES;
        let remote = PairOptions {
            mode: config.mode,
            chunk_bytes: BLOCK_BYTES,
            window_bytes: u64::from(config.window) * BLOCK_BYTES,
            resume: config.resume,
            fence: config.fence,
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
        let lines = if config.remote_split {
            split_svols = vec![b105];
            vec![
                (StepKind::Split, "pairsplit --atomic ORA_R1".to_string()),
                (StepKind::Resync, "pairresync ORA_R1".to_string()),
            ]
        } else {
            vec![
                (
                    StepKind::Split,
                    format!("pairsplit --atomic {}", split_groups.join(" ")),
                ),
                (
                    StepKind::NoCopyCreate,
                    format!("paircreate ORA_R2 {a106} {b106} --nocopy"),
                ),
                (
                    StepKind::Resync,
                    format!(
                        "pairresync {}ORA_L",
                        if config.restore { "--restore " } else { "" }
                    ),
                ),
            ]
        };
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
            aux_mirror: if config.remote_split {
                r1
            } else {
                MirrorId::new(a105, a106)
            },
            r1,
            local_l: MirrorId::new(a105, a106),
            nocopy_mirror: MirrorId::new(a106, b106),
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

    /// Options `paircreate` gives a mirror it makes (ORA_R2): those of the remote mirrors.
    pub fn pair_defaults(&self) -> PairOptions {
        self.defaults
    }

    /// The hosts and the volume each writes, by the names a replay gives them.
    pub fn hosts(&self) -> [(&'static str, VolumeId); 2] {
        [(PROD_HOST, self.pvol), (AUX_HOST, self.aux_mirror.svol)]
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
