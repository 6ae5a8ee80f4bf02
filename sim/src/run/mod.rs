//! The simulator driver: one scenario, one seed, one run in simulated time.
//!
//! This module owns routing the protocol's outputs through time: `Send` onto link channels,
//! `SetTimer` onto the event queue, `AckWrite`/`FailWrite` back to the host that waits,
//! `Done`/`Refused` to the command sequencer, `Replicated` into lag and replication-delay
//! statistics. It never decides anything about replication itself: every pair state, copy and
//! split step comes from [`mirrorlab_model::StorageSystem::handle`], the code the checker
//! checks. Entry points: [`simulate`] (in-process, returns a [`RunOutput`]) and
//! [`crate::write_outputs`].

use crate::cost;
use crate::engine::{component_rng, Engine};
use crate::link::Channel;
use crate::metrics::{round, LagSample, LatencySample, LinkSample, LogHistogram, TimeSeries};
use crate::output::{
    BrokenPromise, CommandReport, CostReport, DisasterMirror, DisasterReport, HostReport,
    InvariantVerdict, Invariants, LinkReport, MirrorCost, MirrorReport, ReplayReport, ResyncReport,
    RunOutput, SecondMirror, SplitReport, Summary, VolumeContent,
};
use crate::scenario::{HostDef, HostRole, LinkDef, ReplayAction, Scenario, When};
use crate::trace::Op;
use crate::workload::{Io, Workload, WorkloadError};
use mirrorlab_model::command::{resolve, CommandLine};
use mirrorlab_model::display::pairdisplay;
use mirrorlab_model::fabric::{Fabric, FaultRefusal, Route, Wire};
use mirrorlab_model::invariants;
use mirrorlab_model::replay::{MessageKey, Step, TimerKind};
use mirrorlab_model::volume::blocks_of;
use mirrorlab_model::volume::describe_blocks;
use mirrorlab_model::{
    Command, CommandId, CopyMode, HostWrite, Input, Message, MirrorId, Output, PairOptions,
    PairState, PendingBitmap, StorageSerial, StorageSystem, Timer, Topology, Transport, VolumeId,
    WriteId, BLOCK_BYTES,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// What a caller may change about a scenario for one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub seed: Option<u64>,
    /// Copy mode of every remote mirror, including those `paircreate` makes.
    pub mode: Option<CopyMode>,
    pub duration_ns: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A trace went bad during the run (bad input: exit code 2). Boxed: errors are rare and
    /// callers keep `Result<_, SimError>` small.
    #[error(transparent)]
    Workload(#[from] Box<WorkloadError>),
    /// A replay step that cannot be applied where the run stands (bad input: exit code 2).
    #[error(transparent)]
    Replay(Box<ReplayError>),
}

/// A replay step that cannot be applied: the message it delivers is not queued, the timer it
/// fires is not set, the command it continues has no part left. The run stops there, and
/// nothing is written.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}:{column}: step {step}: {message}", .path.display())]
pub struct ReplayError {
    pub path: std::path::PathBuf,
    pub line: usize,
    pub column: usize,
    /// 1-based.
    pub step: usize,
    pub message: String,
}

impl From<WorkloadError> for SimError {
    fn from(e: WorkloadError) -> Self {
        SimError::Workload(Box::new(e))
    }
}

/// Runs `scenario` and, when it builds a second remote mirror with `--nocopy` (Fig 12), a
/// second simulation of the same scenario building it conventionally (full copy), to compare.
pub fn simulate(scenario: &Scenario, overrides: &Overrides) -> Result<RunOutput, SimError> {
    simulate_with_progress(scenario, overrides, &mut |_, _, _| {})
}

/// Which simulation a progress report is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The scenario itself.
    Run,
    /// The conventional full-copy build of the second remote mirror, simulated to compare with
    /// the no-copy one: it takes as long as copying the PVOL's used bytes, which for a large
    /// volume is most of the wall time, so it reports its own progress.
    FullCopyComparison,
}

/// [`simulate`], calling `progress(phase, simulated_ns, end_ns)` now and then.
pub fn simulate_with_progress(
    scenario: &Scenario,
    overrides: &Overrides,
    progress: &mut dyn FnMut(Phase, u64, u64),
) -> Result<RunOutput, SimError> {
    let scenario = apply(scenario, overrides);
    let main = Sim::new(&scenario, None, true)?.run(&mut |n, e| progress(Phase::Run, n, e))?;
    // A replay's steps fit one run only: a full-copy rerun would send other messages.
    // Only a no-copy create that was issued and completed has a cost to compare.
    let second = second_mirror_command(&scenario)
        .filter(|_| scenario.replay.is_none())
        .filter(|&k| {
            let c = &main.commands[k];
            c.issued.is_some() && c.completed.is_some() && c.refusals.is_empty()
        });
    let second = match second {
        Some(k) => Some(second_mirror(&scenario, &main, k, progress)?),
        None => None,
    };
    Ok(main.into_output(&scenario, overrides.mode, second))
}

fn apply(scenario: &Scenario, o: &Overrides) -> Scenario {
    let mut s = scenario.clone();
    if let Some(seed) = o.seed {
        s.seed = seed;
    }
    if let Some(mode) = o.mode {
        s.set_mode(mode);
    }
    if let Some(d) = o.duration_ns {
        s.duration_ns = d;
    }
    s
}

/// The first `paircreate --nocopy` of a remote mirror: the Fig 12 second remote mirror.
fn second_mirror_command(s: &Scenario) -> Option<usize> {
    s.commands.iter().position(|c| {
        matches!(&c.line, CommandLine::PairCreate { pvol, svol, nocopy: true, .. } if pvol.storage != svol.storage)
    })
}

/// Simulates the conventional alternative: the same run with the create doing a full copy,
/// stopped when that copy completes (or two days of simulated time past the end: a copy that
/// has not finished by then is reported as not completed, with the bytes it sent).
fn second_mirror(
    scenario: &Scenario,
    main: &Finished,
    k: usize,
    progress: &mut dyn FnMut(Phase, u64, u64),
) -> Result<SecondMirror, SimError> {
    let mut cf = scenario.clone();
    let CommandLine::PairCreate {
        group, pvol, svol, ..
    } = cf.commands[k].line.clone()
    else {
        unreachable!("second_mirror_command found a paircreate")
    };
    if let CommandLine::PairCreate { nocopy, .. } = &mut cf.commands[k].line {
        *nocopy = false;
    }
    // The copy may outlast the study: hosts stop at its end and the copy goes on alone.
    for h in &mut cf.hosts {
        let end = scenario.duration_ns;
        h.stop_ns = Some(h.stop_ns.map_or(end, |s| s.min(end)));
    }
    cf.duration_ns = scenario
        .duration_ns
        .saturating_add(2 * 24 * 3_600_000_000_000);
    let conv = Sim::new(&cf, Some(k), false)?
        .run(&mut |n, e| progress(Phase::FullCopyComparison, n, e))?;
    let cost = |f: &Finished| {
        let c = &f.commands[k];
        let done = c.completed.filter(|_| c.refusals.is_empty());
        MirrorCost {
            completed: done.is_some(),
            duration_ns: done.or(Some(f.end)).zip(c.issued).map_or(0, |(d, i)| d - i),
            data_bytes: c.create_bytes.0,
            control_bytes: c.create_bytes.1,
        }
    };
    let mut nocopy = cost(main);
    // The no-copy way also pays for the atomic split that made the volumes identical.
    let split = main.commands[..k]
        .iter()
        .rev()
        .find(|c| c.split.is_some())
        .and_then(|c| c.split.as_ref().map(|s| (c, s)));
    let (split_ns, stall_ns) = match split {
        Some((c, s)) => {
            nocopy.control_bytes += s.control_bytes;
            let split_start = c.issued.unwrap_or(0);
            if let (Some(done), Some(create_issued)) =
                (main.commands[k].completed, main.commands[k].issued)
            {
                nocopy.duration_ns = done - split_start.min(create_issued);
            }
            (
                c.completed.zip(c.issued).map_or(0, |(d, i)| d - i),
                s.stall_ns,
            )
        }
        None => (0, 0),
    };
    let used = scenario.volume(pvol).map_or(0, |v| v.used);
    let conventional = cost(&conv);
    Ok(SecondMirror {
        group,
        mirror: MirrorId::new(pvol, svol).to_string(),
        pvol_used_bytes: used,
        split_duration_ns: split_ns,
        split_host_io_stall_ns: stall_ns,
        bytes_saved: link_total(&conventional).saturating_sub(link_total(&nocopy)),
        time_saved_ns: conventional.duration_ns.saturating_sub(nocopy.duration_ns),
        nocopy,
        conventional,
    })
}

/// Bytes a way of building the mirror put on the link.
fn link_total(c: &MirrorCost) -> u64 {
    c.data_bytes + c.control_bytes
}

mod dependent;
mod driver;
mod finish;
mod replay_text;
mod timed;

use replay_text::{listing, volume_contents};

// ----- the simulation -----

#[derive(Clone, Copy, Debug)]
enum Ev {
    /// A host's next I/O is due.
    Io(u32),
    /// The head message of a channel arrives (channel, epoch).
    Arrive(u32, u32),
    /// A protocol timer, by its generation: which timer of which system waits in
    /// `Sim::timer_events`, so events stay 16 bytes and `Copy` for the queue.
    Timer(u64),
    Command(u32),
    Sample,
    /// A link outage window starts (`false`) or ends (`true`).
    Link(u32, bool),
    /// Replay step `n` (0-based) is due.
    Step(u32),
    End,
}

/// Write ids are sequential: hashing them is wasted work, a multiply spreads them enough.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// How long a system has held host I/O inhibited (Fig 10 step 1120).
#[derive(Clone, Copy, Default)]
struct Inhibit {
    since: Option<u64>,
    ns: u64,
}

struct LinkRt {
    def: LinkDef,
    channels: [usize; 2],
    /// Draws message losses (`loss`), one stream per link.
    rng: ChaCha8Rng,
    lost: u64,
}

struct HostRt {
    def: HostDef,
    sys: usize,
    workload: Option<Workload>,
    next: Option<Io>,
    start: Option<u64>,
    writes: u64,
    bytes_written: u64,
    acked: u64,
    failed: u64,
    reads: u64,
    read_bytes: u64,
    latency: LogHistogram,
    interval: LogHistogram,
    interval_reads: u64,
    interval_failed: u64,
    first_failure: Option<String>,
    /// `dependent = true`: the stream and whether the host waits.
    dependent: Option<dependent::Dependent>,
}

/// A host write not yet acknowledged.
struct Pending {
    host: u32,
    sys: u32,
    volume: VolumeId,
    arrival: u64,
    offset: u64,
    len: u64,
    admitted: bool,
}

/// Per-mirror bookkeeping: lag of writes not yet on the SVOL, delays, link bytes.
struct Track {
    id: MirrorId,
    group: String,
    sync: bool,
    active: bool,
    /// (write, time it counts from, bytes, offset), in write order.
    lag: VecDeque<(u64, u64, u64, u64)>,
    lag_bytes: u64,
    max_lag_bytes: u64,
    replicated: u64,
    delay: LogHistogram,
    data_bytes: u64,
    control_bytes: u64,
}

#[derive(Clone, Debug)]
struct SplitRt {
    svols: Vec<VolumeId>,
    inhibited_at_issue: u64,
    control_at_issue: u64,
    stall_ns: u64,
    control_bytes: u64,
    digests_match: Option<bool>,
    /// Per dependent host whose volumes the split covers: the cut its split SVOLs hold.
    consistency: Vec<crate::output::ImageCut>,
}

#[derive(Clone, Debug)]
struct ResyncRt {
    mirror: MirrorId,
    dirty_chunks: u64,
    chunk_bytes: u64,
    bytes_at_issue: u64,
    data_bytes: u64,
}

#[derive(Clone, Debug, Default)]
struct CmdRt {
    issued: Option<u64>,
    completed: Option<u64>,
    /// Protocol commands the line became and not yet issued: a replay issues them one step
    /// at a time.
    parts: VecDeque<(StorageSerial, Command)>,
    outstanding: u32,
    refusals: Vec<String>,
    split: Option<SplitRt>,
    resyncs: Vec<ResyncRt>,
    /// (mirror, data, control at issue) of a paircreate.
    create: Option<(MirrorId, u64, u64)>,
    /// Link bytes the created mirror used until the command completed.
    create_bytes: (u64, u64),
    /// A `paircreate --nocopy` that completed: whether its volumes were identical then
    /// (Fig 12 relies on it; the protocol must refuse otherwise).
    nocopy_identical: Option<bool>,
}

/// One run: the [`Fabric`] (the systems, what is down, what a delivery or fault does) and the
/// timed side that decides when things happen. `Sim` derefs to its timed side.
struct Sim<'a> {
    fabric: Fabric,
    t: Timed<'a>,
}

impl<'a> std::ops::Deref for Sim<'a> {
    type Target = Timed<'a>;
    fn deref(&self) -> &Timed<'a> {
        &self.t
    }
}

impl std::ops::DerefMut for Sim<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.t
    }
}

/// The timed side of a run: the clock and event queue, the link channels, the hosts, the
/// per-mirror tracks, the command sequence and the samples. It is the fabric's [`Wire`].
struct Timed<'a> {
    scenario: &'a Scenario,
    /// Driven by `[replay]` steps: links hold messages and timers wait until a step names
    /// them.
    scripted: bool,
    engine: Engine<Ev>,
    inhibit: Vec<Inhibit>,
    serials: Vec<StorageSerial>,
    channels: Vec<Channel>,
    /// Interconnect channel from system i to j at `i * n + j`.
    inter: Vec<Option<usize>>,
    /// The link of each channel (`None` on the host network): every message sent and
    /// arriving asks, and a search of the links cost each about as much as its queueing.
    link_of: Vec<Option<usize>>,
    host_net: Vec<Option<usize>>,
    links: Vec<LinkRt>,
    hosts: Vec<HostRt>,
    tracks: Vec<Track>,
    /// PVOL -> indexes of active remote tracks fed by it.
    feeds: Vec<(VolumeId, Vec<usize>)>,
    pending: IdMap<Pending>,
    /// The write being issued: most are acknowledged inside the same protocol call, so they
    /// never touch `pending`.
    current: Option<(u64, Pending)>,
    timers: BTreeMap<(u32, Timer), u64>,
    /// Timer events scheduled and not yet fired: generation -> (system, timer).
    timer_events: BTreeMap<u64, (u32, Timer)>,
    timer_gen: u64,
    topology: Topology,
    defaults: PairOptions,
    commands: Vec<CmdRt>,
    cmd_of: BTreeMap<CommandId, usize>,
    next_command: u64,
    next_write: u64,
    /// Bytes of split messages (Forward, SplitDone, split marks) on any channel.
    split_control: u64,
    end: u64,
    stop_on: Option<usize>,
    stop: bool,
    record: bool,
    series: TimeSeries,
    last_sample: u64,
    /// A trace error met where it cannot be returned at once (a standby host's first I/O).
    deferred: Option<SimError>,
    /// Writes the storage took (on the PVOL) and then failed to the host: never acknowledged.
    failed_admitted: BTreeSet<u64>,
    disasters: Vec<DisasterReport>,
}

/// What a finished run leaves for reporting.
struct Finished {
    end: u64,
    events: u64,
    fabric: Fabric,
    channels: Vec<Channel>,
    links: Vec<LinkRt>,
    hosts: Vec<HostRt>,
    tracks: Vec<Track>,
    commands: Vec<CmdRt>,
    topology: Topology,
    series: TimeSeries,
    disasters: Vec<DisasterReport>,
    /// A replay's world at the end (its broken promises are judged later, with the others).
    replay: Option<ReplayReport>,
}
