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
use crate::engine::{component_rng, Class, Engine};
use crate::link::{Channel, InTransit};
use crate::metrics::{round, LagSample, LatencySample, LinkSample, LogHistogram, TimeSeries};
use crate::output::{
    BrokenPromise, CommandReport, CostReport, DisasterMirror, DisasterReport, HostReport,
    InvariantVerdict, Invariants, LinkReport, MirrorCost, MirrorReport, QueuedAtEnd, ReplayReport,
    ResyncReport, RunOutput, SecondMirror, SplitReport, Summary, VolumeContent,
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
mod disaster;
mod driver;
mod finish;
mod hosts;
mod net;
mod replay;
mod runbook;
mod sampling;
mod timed;
mod timers;
mod tracks;

use hosts::{HostRt, Hosts, Pending};
use net::{LinkRt, Net};
use replay::volume_contents;
use runbook::Runbook;
use sampling::Samples;
use timers::Timers;
use tracks::{Track, Tracks};

// ----- the simulation -----

#[derive(Clone, Copy, Debug)]
enum Ev {
    /// A host's next I/O is due.
    Io(u32),
    /// System `i` has taken the oldest host write waiting for its service time into cache.
    Accept(u32),
    /// The oldest message waiting on a channel for the receiver's service time is taken
    /// (channel, landing epoch).
    Land(u32, u32),
    /// The head message of a channel arrives (channel, epoch).
    Arrive(u32, u32),
    /// A protocol timer, by its generation: which timer of which system waits in
    /// [`Timers`], so events stay 16 bytes and `Copy` for the queue.
    Timer(u64),
    Command(u32),
    Sample,
    /// A link outage window starts (`false`) or ends (`true`).
    Link(u32, bool),
    /// Replay step `n` (0-based) is due.
    Step(u32),
    End,
}

/// Events at the same nanosecond, whatever order they were scheduled in (README "Same-instant
/// order"). First what closes an interval `[t0, t)`, so that everything at `t` belongs to the
/// next one: the end of the run (a run covers `[0, duration)`), a replay step (step n is what
/// happened by its instant), the sample (a CSV row covers `[t - interval, t)`). Then what sets
/// the state the instant runs in: link outages (a window `[down, up)` holds from its first
/// instant), protocol timers (a cycle `[(k-1)C, kC)` closes, so a host write at `kC` falls in
/// the next one), commands. Then work finishing before work starting: messages landing and
/// arriving, arrays taking host writes into cache, hosts issuing I/O. Within a kind, by the
/// index of what the event happens to; only two events of one kind for one entity at one
/// instant keep the order they were scheduled in.
impl Class for Ev {
    #[inline(always)]
    fn class(&self) -> u8 {
        match self {
            Ev::End => 0,
            Ev::Step(_) => 1,
            Ev::Sample => 2,
            Ev::Link(..) => 3,
            Ev::Timer(_) => 4,
            Ev::Command(_) => 5,
            Ev::Land(..) => 6,
            Ev::Arrive(..) => 7,
            Ev::Accept(_) => 8,
            Ev::Io(_) => 9,
        }
    }

    /// The link, the system whose timer it is, the command, the channel, the system, the host.
    #[inline(always)]
    fn entity(&self) -> u32 {
        match *self {
            Ev::Link(l, _) => l,
            Ev::Timer(generation) => Timers::system(generation),
            Ev::Command(k) => k,
            Ev::Land(ch, _) | Ev::Arrive(ch, _) => ch,
            Ev::Accept(i) | Ev::Io(i) => i,
            Ev::Step(n) => n,
            Ev::End | Ev::Sample => 0,
        }
    }
}

#[cfg(test)]
mod same_instant {
    use super::*;

    #[test]
    fn events_at_one_instant_pop_by_kind_then_entity_whatever_the_push_order() {
        // The README's rule, written out by hand: end, sample, link, timer by system, command,
        // arrival by channel, host I/O by host.
        let mut timers = Timers::default();
        let timer_of = |timers: &mut Timers, i| {
            timers
                .arm(
                    i,
                    Timer::Cycle(MirrorId::new(VolumeId::new(1, 1), VolumeId::new(2, 1))),
                    false,
                )
                .expect("not scripted")
        };
        // System 1's timer is set before system 0's.
        let (t1, t0) = (timer_of(&mut timers, 1), timer_of(&mut timers, 0));
        let want = [
            Ev::End,
            Ev::Sample,
            Ev::Link(0, false),
            Ev::Timer(t0),
            Ev::Timer(t1),
            Ev::Command(0),
            Ev::Arrive(2, 0),
            Ev::Arrive(3, 0),
            Ev::Io(0),
            Ev::Io(1),
        ];
        for reversed in [false, true] {
            let mut engine = Engine::new();
            let mut pushes = want.to_vec();
            if reversed {
                pushes.reverse();
            } else {
                pushes.rotate_left(3);
            }
            for ev in pushes {
                engine.at(7, ev);
            }
            let got: Vec<String> = std::iter::from_fn(|| engine.pop())
                .map(|(_, ev)| format!("{ev:?}"))
                .collect();
            let want: Vec<String> = want.iter().map(|ev| format!("{ev:?}")).collect();
            assert_eq!(got, want, "reversed: {reversed}");
        }
    }
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

/// The timed side of a run, the fabric's [`Wire`]: the clock, and the parts it is built from,
/// each in its own module — the wire ([`Net`]: channels and links), the protocol timers
/// ([`Timers`]), the hosts and their writes in progress ([`Hosts`]), the per-mirror metric
/// tracks ([`Tracks`]), the command sequence ([`Runbook`]) and the time series ([`Samples`]).
/// What crosses parts (a write admitted feeds the tracks of its PVOL; a command completing
/// reads the tracks and starts hosts) is an `impl Timed` next to the part it serves.
struct Timed<'a> {
    scenario: &'a Scenario,
    /// Driven by `[replay]` steps: links hold messages and timers wait until a step names
    /// them.
    scripted: bool,
    engine: Engine<Ev>,
    end: u64,
    topology: Topology,
    net: Net,
    timers: Timers,
    hosts: Hosts,
    tracks: Tracks,
    runbook: Runbook,
    samples: Samples,
    /// A trace error met where it cannot be returned at once (a standby host's first I/O).
    deferred: Option<SimError>,
    disasters: Vec<DisasterReport>,
}

/// What a finished run leaves for reporting.
struct Finished {
    end: u64,
    events: u64,
    fabric: Fabric,
    channels: Vec<Channel>,
    /// Per channel: (data, control) bytes still queued at the end, never sent.
    queued: Vec<(u64, u64)>,
    queued_at_end: QueuedAtEnd,
    /// Messages arrived and not yet taken by the receiver, per channel: in flight still.
    landing: Vec<VecDeque<(u64, InTransit)>>,
    links: Vec<LinkRt>,
    hosts: Vec<HostRt>,
    tracks: Vec<Track>,
    commands: Vec<runbook::CmdRt>,
    topology: Topology,
    series: TimeSeries,
    disasters: Vec<DisasterReport>,
    /// A replay's world at the end (its broken promises are judged later, with the others).
    replay: Option<ReplayReport>,
}
