//! The simulator driver: one scenario, one seed, one run in simulated time.
//!
//! This module owns routing the protocol's outputs through time: `Send` onto link channels,
//! `SetTimer` onto the event queue, `AckWrite`/`FailWrite` back to the host that waits,
//! `Done`/`Refused` to the command sequencer, `Replicated` into lag and replication-delay
//! statistics. It never decides anything about replication itself: every pair state, copy and
//! split step comes from [`mirrorlab_model::StorageSystem::handle`], the code the checker
//! checks. Entry points: [`simulate`] (in-process, returns a [`RunOutput`]) and
//! [`crate::output::write_outputs`].

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
    simulate_with_progress(scenario, overrides, &mut |_, _| {})
}

/// [`simulate`], calling `progress(simulated_ns, end_ns)` now and then.
pub fn simulate_with_progress(
    scenario: &Scenario,
    overrides: &Overrides,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<RunOutput, SimError> {
    let scenario = apply(scenario, overrides);
    let main = Sim::new(&scenario, None, true)?.run(progress)?;
    // A replay's steps fit one run only: a full-copy rerun would send other messages.
    let second = match second_mirror_command(&scenario).filter(|_| scenario.replay.is_none()) {
        Some(k) => Some(second_mirror(&scenario, &main, k)?),
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
fn second_mirror(scenario: &Scenario, main: &Finished, k: usize) -> Result<SecondMirror, SimError> {
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
    let conv = Sim::new(&cf, Some(k), false)?.run(&mut |_, _| {})?;
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

impl<'a> Sim<'a> {
    fn new(scenario: &'a Scenario, stop_on: Option<usize>, record: bool) -> Result<Self, SimError> {
        let topology = scenario.topology();
        let serials: Vec<StorageSerial> = scenario.storages.iter().map(|s| s.serial).collect();
        let n = serials.len();
        let ends: Vec<(StorageSerial, StorageSerial)> =
            scenario.links.iter().map(|l| (l.a, l.b)).collect();
        // Mirrors listed with `initial = "copy"` are made by a full copy at t = 0.
        let fabric = Fabric::install(&topology, scenario.protocol, &serials, &ends, |m| {
            scenario
                .mirrors
                .iter()
                .any(|x| x.id == m.id && !x.initial_copy)
        });
        let idx = |s: StorageSerial| serials.iter().position(|&x| x == s).expect("validated");
        let mut channels = Vec::new();
        let mut inter = vec![None; n * n];
        let mut link_of = Vec::new();
        let mut links = Vec::new();
        for l in &scenario.links {
            let (a, b) = (idx(l.a), idx(l.b));
            let mut chans = [0; 2];
            for (k, (f, t)) in [(a, b), (b, a)].into_iter().enumerate() {
                chans[k] = channels.len();
                inter[f * n + t] = Some(channels.len());
                link_of.push(Some(links.len()));
                channels.push(Channel::new(
                    serials[f],
                    serials[t],
                    l.bandwidth,
                    l.latency_ns,
                    scenario.interval_ns,
                ));
            }
            links.push(LinkRt {
                def: l.clone(),
                channels: chans,
                rng: component_rng(scenario.seed, &format!("link/{}", l.name)),
                lost: 0,
            });
        }
        let mut hosts = Vec::new();
        for h in &scenario.hosts {
            let workload = match &h.workload {
                Some(w) => Some(Workload::new(
                    w,
                    scenario.seed,
                    &format!("host/{}", h.name),
                )?),
                None => None,
            };
            hosts.push(HostRt {
                def: h.clone(),
                sys: idx(h.storage),
                workload,
                next: None,
                start: h.start_ns,
                writes: 0,
                bytes_written: 0,
                acked: 0,
                failed: 0,
                reads: 0,
                read_bytes: 0,
                latency: LogHistogram::new(),
                interval: LogHistogram::new(),
                interval_reads: 0,
                interval_failed: 0,
                first_failure: None,
            });
        }
        let t = Timed {
            scenario,
            scripted: scenario.replay.is_some(),
            engine: Engine::new(),
            inhibit: vec![Inhibit::default(); n],
            serials,
            channels,
            inter,
            link_of,
            host_net: vec![None; n * n],
            links,
            hosts,
            tracks: Vec::new(),
            feeds: Vec::new(),
            pending: IdMap::default(),
            current: None,
            timers: BTreeMap::new(),
            timer_events: BTreeMap::new(),
            timer_gen: 0,
            topology,
            defaults: scenario.defaults,
            commands: vec![CmdRt::default(); scenario.commands.len()],
            cmd_of: BTreeMap::new(),
            next_command: 0,
            next_write: 0,
            split_control: 0,
            end: scenario.duration_ns,
            stop_on,
            stop: false,
            record,
            series: TimeSeries {
                interval_ns: scenario.interval_ns,
                ..Default::default()
            },
            last_sample: 0,
            deferred: None,
            failed_admitted: BTreeSet::new(),
            disasters: Vec::new(),
        };
        let mut sim = Sim { fabric, t };
        let ids: Vec<MirrorId> = sim.topology.mirrors().map(|m| m.id).collect();
        for id in ids {
            let t = sim.track(id);
            sim.tracks[t].active = scenario
                .mirrors
                .iter()
                .any(|m| m.id == id && !m.initial_copy);
        }
        sim.rebuild_feeds();
        Ok(sim)
    }

    fn run(mut self, progress: &mut dyn FnMut(u64, u64)) -> Result<Finished, SimError> {
        self.start()?;
        while let Some((_, ev)) = self.engine.pop() {
            match ev {
                Ev::Io(h) => self.host_io(h as usize)?,
                Ev::Arrive(ch, epoch) => self.arrive(ch as usize, epoch),
                Ev::Timer(gen) => {
                    let (i, timer) = self.timer_events.remove(&gen).expect("scheduled");
                    if self.fabric.is_up(i as usize) && self.timers.get(&(i, timer)) == Some(&gen) {
                        self.timers.remove(&(i, timer));
                        self.input(i as usize, Input::Timer(timer));
                    }
                }
                Ev::Command(k) => self.issue_command(k as usize),
                Ev::Sample => {
                    self.sample();
                    let next = self.now() + self.scenario.interval_ns;
                    if next < self.end {
                        self.engine.at(next, Ev::Sample);
                    }
                }
                Ev::Link(l, up) => {
                    if up {
                        self.link_up(l as usize);
                    } else {
                        self.link_down(l as usize);
                    }
                }
                Ev::Step(n) => self.replay_step(n as usize)?,
                Ev::End => {
                    if self.record && self.last_sample < self.now() {
                        self.sample();
                    }
                    break;
                }
            }
            if let Some(e) = self.deferred.take() {
                return Err(e);
            }
            if self.stop {
                break;
            }
            if self.engine.processed() & 0xffff == 0 {
                progress(self.now(), self.end);
            }
        }
        progress(self.now(), self.end);
        let Sim { fabric, t } = self;
        Ok(t.finish(fabric))
    }

    fn start(&mut self) -> Result<(), SimError> {
        let end = self.end;
        self.engine.at(end, Ev::End);
        self.fabric.start(&mut self.t);
        for (l, link) in self.scenario.links.iter().enumerate() {
            for &(down, up) in &link.outages {
                self.engine.at(down, Ev::Link(l as u32, false));
                self.engine.at(up, Ev::Link(l as u32, true));
            }
        }
        for (k, c) in self.scenario.commands.iter().enumerate() {
            if let When::At(t) = c.when {
                self.engine.at(t, Ev::Command(k as u32));
            }
        }
        // Before the first sample: a sample at a step's time then shows the world after it.
        if let Some(r) = &self.scenario.replay {
            for n in 0..r.steps.len() {
                self.engine
                    .at((n as u64 + 1) * r.interval_ns, Ev::Step(n as u32));
            }
        }
        if self.record {
            let first = self.scenario.interval_ns;
            self.engine.at(first, Ev::Sample);
        }
        // Mirrors listed with `initial = "copy"` start with a full copy at t = 0.
        for m in self.scenario.mirrors.iter().filter(|m| m.initial_copy) {
            let i = self.idx(m.id.pvol.storage).expect("validated");
            self.next_command += 1;
            let command = Command::Create {
                mirror: m.id,
                options: m.options,
                nocopy: false,
            };
            self.input(
                i,
                Input::Command {
                    id: CommandId(self.next_command),
                    command,
                },
            );
        }
        for h in 0..self.hosts.len() {
            self.schedule_host(h)?;
        }
        Ok(())
    }

    // ----- protocol plumbing -----

    /// Feeds one input to system `i` through the fabric, which routes what it says.
    fn input(&mut self, i: usize, input: Input) {
        self.fabric.input(i, input, &mut self.t);
    }

    fn arrive(&mut self, ch: usize, epoch: u32) {
        if self.channels[ch].epoch != epoch {
            return;
        }
        let Some((m, next)) = self.channels[ch].pop() else {
            return;
        };
        if let Some(t) = next {
            self.engine.at(t, Ev::Arrive(ch as u32, epoch));
        }
        if self.lose(ch) {
            return;
        }
        let Some(j) = self.idx(m.to) else { return };
        if self.fabric.is_up(j) {
            self.input(
                j,
                Input::Deliver {
                    from: m.from,
                    via: m.via,
                    msg: m.msg,
                },
            );
        }
    }

    /// Whether the message arriving on channel `ch` is lost (the link's `loss`): the link
    /// layer then reports a link failure, which both ends take as the link going down (what is
    /// in flight is gone, pairs suspend), and the link is back at once.
    fn lose(&mut self, ch: usize) -> bool {
        let Some(l) = self.link_of[ch] else {
            return false;
        };
        let link = &mut self.links[l];
        if link.def.loss <= 0.0 || link.rng.gen::<f64>() >= link.def.loss {
            return false;
        }
        link.lost += 1;
        self.channels[ch].dropped += 1;
        self.link_down(l);
        self.link_up(l);
        true
    }

    // ----- hosts -----

    fn host_io(&mut self, h: usize) -> Result<(), SimError> {
        if let Some(io) = self.hosts[h].next.take() {
            match io.op {
                Op::Read => {
                    let host = &mut self.hosts[h];
                    host.reads += 1;
                    host.read_bytes += io.len;
                    host.interval_reads += 1;
                }
                Op::Write => {
                    self.next_write += 1;
                    self.issue_write(h, WriteId(self.next_write), io.volume, io.offset, io.len);
                }
            }
        }
        self.schedule_host(h)
    }

    /// Host `h` writes `len` bytes at `offset` of `volume` as version `id` (numbered in the
    /// workloads' order, or by the replay step).
    fn issue_write(
        &mut self,
        h: usize,
        WriteId(id): WriteId,
        volume: VolumeId,
        offset: u64,
        len: u64,
    ) {
        let now = self.now();
        let host = &mut self.hosts[h];
        host.writes += 1;
        let i = host.sys;
        if !self.fabric.is_up(i) {
            self.fail_host(h, "the storage system is down".to_string());
            return;
        }
        self.current = Some((
            id,
            Pending {
                host: h as u32,
                sys: i as u32,
                volume,
                arrival: now,
                offset,
                len,
                admitted: false,
            },
        ));
        let w = HostWrite {
            id: WriteId(id),
            volume: volume.serial,
            offset,
            len,
        };
        self.input(i, Input::Write(w));
        if let Some((id, p)) = self.current.take() {
            self.pending.insert(id, p);
        }
    }

    // ----- links and faults -----

    fn link_down(&mut self, l: usize) {
        self.fabric.link_down(l, &mut self.t);
    }

    fn link_up(&mut self, l: usize) {
        self.fabric.link_up(l, &mut self.t);
    }

    /// System `i` stops (lost for good when `lost`: a disaster, whose cost is measured first).
    fn crash(&mut self, i: usize, lost: bool) -> Result<(), FaultRefusal> {
        self.fabric.may_crash(i, lost)?;
        if lost {
            self.t.record_disaster(&self.fabric, i);
        }
        self.fabric.crash(i, lost, &mut self.t)
    }

    fn restart(&mut self, i: usize) -> Result<(), FaultRefusal> {
        self.fabric.restart(i, &mut self.t)
    }

    // ----- commands -----

    /// Runs scenario command `k` whole, at the time the scenario gives it.
    fn issue_command(&mut self, k: usize) {
        self.begin_command(k);
        while self.issue_part(k) {}
    }

    /// Starts scenario command `k`: a fault acts and completes at once; a HORCM verb becomes
    /// the protocol commands it resolves to, left in `parts` for [`Self::issue_part`].
    fn begin_command(&mut self, k: usize) {
        let now = self.now();
        self.commands[k].issued = Some(now);
        let line = self.scenario.commands[k].line.clone();
        let fault = |sim: &mut Self, s: StorageSerial| sim.idx(s).expect("validated");
        match &line {
            CommandLine::LinkDown { link } | CommandLine::LinkUp { link } => {
                let l = self
                    .links
                    .iter()
                    .position(|x| &x.def.name == link)
                    .expect("validated");
                if matches!(line, CommandLine::LinkDown { .. }) {
                    self.link_down(l);
                } else {
                    self.link_up(l);
                }
                return self.t.complete(&self.fabric, k);
            }
            CommandLine::Crash { storage } | CommandLine::Disaster { storage } => {
                let i = fault(self, *storage);
                let disaster = matches!(line, CommandLine::Disaster { .. });
                if let Err(e) = self.crash(i, disaster) {
                    self.commands[k].refusals.push(e.to_string());
                }
                return self.t.complete(&self.fabric, k);
            }
            CommandLine::Restart { storage } => {
                let i = fault(self, *storage);
                if let Err(e) = self.restart(i) {
                    self.commands[k].refusals.push(e.to_string());
                }
                return self.t.complete(&self.fabric, k);
            }
            CommandLine::Takeover { storage } => {
                let taken = self.idx(*storage).map(|i| self.fabric.take_over(i));
                if let Some(Err(e)) = taken {
                    self.commands[k].refusals.push(e.to_string());
                    return self.t.complete(&self.fabric, k);
                }
            }
            _ => {}
        }
        let t = &mut self.t;
        let cmds = match resolve(
            &line,
            &mut t.topology,
            t.defaults,
            t.scenario.protocol.mutant,
        ) {
            Ok(c) => c.unwrap_or_default(),
            Err(e) => {
                self.commands[k].refusals.push(e.to_string());
                return self.t.complete(&self.fabric, k);
            }
        };
        self.commands[k].outstanding = cmds.len() as u32;
        if cmds.is_empty() {
            return self.t.complete(&self.fabric, k);
        }
        self.commands[k].parts = cmds.into();
    }

    /// Issues the next protocol command of scenario command `k`; false when none is left.
    fn issue_part(&mut self, k: usize) -> bool {
        let Some((serial, command)) = self.commands[k].parts.pop_front() else {
            return false;
        };
        let scenario = self.scenario;
        self.t
            .before_command(&self.fabric, k, &scenario.commands[k].line, &command);
        self.next_command += 1;
        let id = CommandId(self.next_command);
        self.cmd_of.insert(id, k);
        match self.idx(serial).filter(|&i| self.fabric.is_up(i)) {
            Some(i) => self.input(i, Input::Command { id, command }),
            None => {
                let down = format!("storage {serial} is down");
                self.t.command_done(&self.fabric, id, Some(down));
            }
        }
        true
    }

    // ----- replay -----

    /// Applies replay step `n` (0-based) as the event it stands for would act in a clocked
    /// run, through the same plumbing; `Err` when it cannot be applied where the run stands.
    fn replay_step(&mut self, n: usize) -> Result<(), SimError> {
        let scenario = self.scenario;
        let Some(step) = scenario.replay.as_ref().and_then(|r| r.steps.get(n)) else {
            return Ok(());
        };
        let applied = match &step.action {
            &ReplayAction::Write {
                host,
                write,
                volume,
                block,
            } => {
                self.issue_write(host, write, volume, block * BLOCK_BYTES, BLOCK_BYTES);
                Ok(())
            }
            &ReplayAction::Run { command } => self.replay_run(command),
            ReplayAction::Deliver {
                via,
                from,
                to,
                message,
            } => self.replay_deliver(*via, *from, *to, message),
            &ReplayAction::Timer { system, timer } => self.replay_timer(system, timer),
        };
        applied.map_err(|message| {
            SimError::Replay(Box::new(ReplayError {
                path: scenario.path.clone(),
                line: step.line,
                column: step.column,
                step: n + 1,
                message,
            }))
        })
    }

    /// Issues the next protocol command of scenario command `k`, resolving it first if no
    /// step has yet.
    fn replay_run(&mut self, k: usize) -> Result<(), String> {
        let first = self.commands[k].issued.is_none();
        if first {
            self.begin_command(k);
        }
        if self.issue_part(k) || first {
            return Ok(());
        }
        let c = &self.commands[k];
        let why = if c.refusals.is_empty() {
            String::new()
        } else {
            format!(" (refused: {})", c.refusals.join("; "))
        };
        let text = &self.scenario.commands[k].text;
        Err(format!("`{text}` has no part left to issue{why}"))
    }

    /// Delivers `message` from `from` to `to`: on a link it must be the oldest in flight (FIFO),
    /// on the host network the oldest that is `message` goes.
    fn replay_deliver(
        &mut self,
        via: Transport,
        from: StorageSerial,
        to: StorageSerial,
        message: &MessageKey<MirrorId>,
    ) -> Result<(), String> {
        let (Some(i), Some(j)) = (self.idx(from), self.idx(to)) else {
            return Err(format!("no storage {from} or {to}"));
        };
        let n = self.serials.len();
        let ch = match via {
            Transport::Interconnect => self.inter[i * n + j],
            Transport::HostNetwork => self.host_net[i * n + j],
        };
        let queued: Vec<MessageKey<MirrorId>> = ch.map_or_else(Vec::new, |c| {
            self.channels[c]
                .queue()
                .map(|m| MessageKey::of(&m.msg))
                .collect()
        });
        let at = match via {
            Transport::Interconnect => queued.first().filter(|k| *k == message).map(|_| 0),
            Transport::HostNetwork => queued.iter().position(|k| k == message),
        };
        let Some(m) = ch.zip(at).and_then(|(c, at)| self.channels[c].take(at)) else {
            let name = |k: &MessageKey<MirrorId>| self.key_text(k);
            return Err(match (via, queued.first()) {
                (Transport::Interconnect, None) => {
                    format!("no message is in flight on link {from}->{to}")
                }
                (Transport::Interconnect, Some(head)) => format!(
                    "the oldest message on link {from}->{to} is `{}`, not `{}`",
                    name(head),
                    name(message)
                ),
                (Transport::HostNetwork, _) => format!(
                    "no `{}` is in flight on the host network {from}->{to} (in flight there: \
                     {})",
                    name(message),
                    listing(queued.iter().map(name).collect())
                ),
            });
        };
        if self.fabric.is_up(j) {
            let input = Input::Deliver {
                from: m.from,
                via: m.via,
                msg: m.msg,
            };
            self.input(j, input);
        }
        Ok(())
    }

    /// Fires `timer` on `system`, which the protocol must have set there.
    fn replay_timer(&mut self, system: StorageSerial, timer: Timer) -> Result<(), String> {
        let Some(i) = self.idx(system) else {
            return Err(format!("no storage {system}"));
        };
        if self.timers.remove(&(i as u32, timer)).is_none() {
            return Err(format!(
                "`{}`: that timer is not set (set: {})",
                self.timer_text(i, timer),
                listing(self.timers_set())
            ));
        }
        self.input(i, Input::Timer(timer));
        Ok(())
    }
}

impl Timed<'_> {
    fn finish(mut self, fabric: Fabric) -> Finished {
        let end = self.now();
        if self.record {
            let iv = self.scenario.interval_ns;
            let intervals = end.div_ceil(iv) as usize;
            for k in 0..intervals {
                let t0 = k as u64 * iv;
                let t1 = (t0 + iv).min(end);
                for l in &self.links {
                    for (d, &ch) in l.channels.iter().enumerate() {
                        let c = &self.channels[ch];
                        let u = c.intervals().get(k).copied().unwrap_or_default();
                        let (from, to) = if d == 0 {
                            (l.def.a, l.def.b)
                        } else {
                            (l.def.b, l.def.a)
                        };
                        self.series.link_usage.push(LinkSample {
                            time_ns: t1,
                            link: l.def.name.clone(),
                            direction: format!("{from}->{to}"),
                            data_bytes: u.data_bytes,
                            control_bytes: u.control_bytes,
                            utilisation: round(
                                (u.busy_ns as f64 / (t1 - t0).max(1) as f64).min(1.0),
                                4,
                            ),
                        });
                    }
                }
            }
        }
        let replay = self.scenario.replay.as_ref().map(|r| ReplayReport {
            steps: r.steps.len(),
            interval_ns: r.interval_ns,
            broken: Vec::new(),
            volumes: volume_contents(&fabric),
            in_flight: self.in_flight(),
            timers: self.timers_set(),
        });
        Finished {
            replay,
            end,
            events: self.engine.processed(),
            fabric,
            channels: self.channels,
            links: self.links,
            hosts: self.hosts,
            tracks: self.tracks,
            commands: self.commands,
            topology: self.topology,
            series: self.series,
            disasters: self.disasters,
        }
    }

    fn now(&self) -> u64 {
        self.engine.now()
    }

    fn idx(&self, s: StorageSerial) -> Option<usize> {
        self.serials.iter().position(|&x| x == s)
    }

    /// Fetches a host's next I/O (if it has started) and schedules it.
    fn schedule_host(&mut self, h: usize) -> Result<(), SimError> {
        let host = &mut self.hosts[h];
        let (Some(start), Some(w)) = (host.start, host.workload.as_mut()) else {
            return Ok(());
        };
        if let Some(io) = w.next_io()? {
            let t = start.saturating_add(io.time_ns);
            if host.def.stop_ns.is_none_or(|s| t < s) && t < self.end {
                host.next = Some(io);
                self.engine.at(t, Ev::Io(h as u32));
            }
        }
        Ok(())
    }

    /// Puts `msg` on its channel (the link's, or the host network's) with the fate the
    /// fabric gave it: carried, it arrives after the channel's delay; dropped, it is counted.
    #[inline]
    fn carry(&mut self, from: usize, via: Transport, msg: Message, route: Route) {
        let (Route::Carried(j) | Route::Dropped(j)) = route else {
            return;
        };
        let n = self.serials.len();
        let ch = match via {
            Transport::Interconnect => self.inter[from * n + j],
            Transport::HostNetwork => Some(self.host_channel(from, j)),
        };
        let Some(ch) = ch else { return };
        if matches!(route, Route::Dropped(_)) {
            self.channels[ch].dropped += 1;
            return;
        }
        let (data, control) = (msg.data_bytes(), msg.control_bytes());
        if matches!(
            msg,
            Message::Forward { .. }
                | Message::SplitDone { .. }
                | Message::Mark {
                    kind: mirrorlab_model::protocol::MarkKind::Split,
                    ..
                }
        ) {
            self.split_control += data + control;
        }
        if let Some(t) = self.find_track(msg.mirror()) {
            self.tracks[t].data_bytes += data;
            self.tracks[t].control_bytes += control;
        }
        let now = self.now();
        let c = &mut self.channels[ch];
        // A replay delivers a message at the step that names it.
        if let (Some(arrive), false) = (c.send(now, via, msg), self.scripted) {
            let epoch = c.epoch;
            self.engine.at(arrive, Ev::Arrive(ch as u32, epoch));
        }
    }

    fn host_channel(&mut self, from: usize, to: usize) -> usize {
        let n = self.serials.len();
        if let Some(c) = self.host_net[from * n + to] {
            return c;
        }
        let c = self.channels.len();
        self.channels.push(Channel::new(
            self.serials[from],
            self.serials[to],
            0,
            self.scenario.host_latency_ns,
            self.scenario.interval_ns,
        ));
        self.link_of.push(None);
        self.host_net[from * n + to] = Some(c);
        c
    }

    fn pending_mut(&mut self, id: u64) -> Option<&mut Pending> {
        match &mut self.current {
            Some((c, p)) if *c == id => Some(p),
            _ => self.pending.get_mut(&id),
        }
    }

    fn take_pending(&mut self, id: u64) -> Option<Pending> {
        match self.current {
            Some((c, _)) if c == id => self.current.take().map(|(_, p)| p),
            _ => self.pending.remove(&id),
        }
    }

    /// The storage system took write `id` (it is on the PVOL): start counting its lag.
    fn admitted(&mut self, sys: usize, id: u64) {
        let Some(p) = self.pending_mut(id) else {
            return;
        };
        if p.admitted || p.sys as usize != sys {
            return;
        }
        p.admitted = true;
        let (volume, arrival, offset, len, host) = (p.volume, p.arrival, p.offset, p.len, p.host);
        self.hosts[host as usize].bytes_written += len;
        let now = self.engine.now();
        if let Some((_, feeds)) = self.feeds.iter().find(|(v, _)| *v == volume) {
            for &t in feeds {
                let tr = &mut self.tracks[t];
                // Sync counts from the write's arrival, the others from its acknowledgement.
                let from = if tr.sync { arrival } else { now };
                if tr.lag.back().is_some_and(|&(w, ..)| w > id) {
                    let at = tr.lag.partition_point(|&(w, ..)| w < id);
                    tr.lag.insert(at, (id, from, len, offset));
                } else {
                    tr.lag.push_back((id, from, len, offset));
                }
                tr.lag_bytes += len;
                tr.max_lag_bytes = tr.max_lag_bytes.max(tr.lag_bytes);
            }
        }
    }

    fn acked(&mut self, sys: usize, w: WriteId) {
        self.admitted(sys, w.0);
        let Some(p) = self.take_pending(w.0) else {
            return;
        };
        let latency = self.now() - p.arrival;
        let host = &mut self.hosts[p.host as usize];
        host.acked += 1;
        host.latency.record(latency);
        host.interval.record(latency);
    }

    fn failed(&mut self, w: WriteId, reason: String) {
        if let Some(p) = self.take_pending(w.0) {
            if p.admitted {
                // On the PVOL but never acknowledged (a sync fence): not an acked write.
                self.failed_admitted.insert(w.0);
            }
            self.fail_host(p.host as usize, reason);
        }
    }

    fn fail_host(&mut self, h: usize, reason: String) {
        let host = &mut self.hosts[h];
        host.failed += 1;
        host.interval_failed += 1;
        host.first_failure.get_or_insert(reason);
    }

    // ----- mirrors -----

    fn find_track(&self, id: MirrorId) -> Option<usize> {
        self.tracks.iter().position(|t| t.id == id)
    }

    fn track(&mut self, id: MirrorId) -> usize {
        if let Some(t) = self.find_track(id) {
            return t;
        }
        let options = self.topology.mirror(id).map(|m| m.options);
        self.tracks.push(Track {
            id,
            group: self.topology.group_of(id).unwrap_or("-").to_string(),
            sync: !id.is_local() && options.is_some_and(|o| o.mode == CopyMode::Sync),
            active: false,
            lag: VecDeque::new(),
            lag_bytes: 0,
            max_lag_bytes: 0,
            replicated: 0,
            delay: LogHistogram::new(),
            data_bytes: 0,
            control_bytes: 0,
        });
        self.tracks.len() - 1
    }

    fn rebuild_feeds(&mut self) {
        self.feeds.clear();
        for (t, tr) in self.tracks.iter().enumerate() {
            if !tr.active || tr.id.is_local() {
                continue;
            }
            match self.feeds.iter_mut().find(|(v, _)| *v == tr.id.pvol) {
                Some((_, list)) => list.push(t),
                None => self.feeds.push((tr.id.pvol, vec![t])),
            }
        }
    }

    fn state_changed(&mut self, i: usize, mirror: MirrorId, to: PairState) {
        // The PVOL's system speaks for the mirror.
        if self.serials[i] != mirror.pvol.storage {
            return;
        }
        let t = self.track(mirror);
        let active = to != PairState::Simplex;
        if self.tracks[t].active != active {
            let tr = &mut self.tracks[t];
            tr.active = active;
            if !active {
                tr.lag.clear();
                tr.lag_bytes = 0;
            }
            self.rebuild_feeds();
        }
    }

    fn replicated(&mut self, mirror: MirrorId, upto: WriteId) {
        let Some(t) = self.find_track(mirror) else {
            return;
        };
        let now = self.engine.now();
        let tr = &mut self.tracks[t];
        while let Some(&(w, from, len, _)) = tr.lag.front() {
            if w > upto.0 {
                break;
            }
            tr.lag.pop_front();
            tr.lag_bytes -= len;
            tr.replicated += 1;
            tr.delay.record(now.saturating_sub(from));
        }
    }

    /// What the loss of system `i` costs, measured from the protocol's state at this moment
    /// (before its links drop what they carry): for each remote mirror whose PVOL is there,
    /// the acknowledged writes whose data the SVOL does not hold. A write is on the SVOL when
    /// every block it wrote holds that write's version or a newer one there; the candidates
    /// are the writes not yet reported replicated (the lag), so nothing acknowledged escapes.
    fn record_disaster(&mut self, fab: &Fabric, i: usize) {
        let now = self.now();
        let serial = self.serials[i];
        let mut mirrors = Vec::new();
        for tr in &self.tracks {
            if tr.id.is_local() || tr.id.pvol.storage != serial || !tr.active {
                continue;
            }
            let svol = fab.system(tr.id.svol.storage);
            let Some(svol) = svol.and_then(|s| s.volume(tr.id.svol.serial)) else {
                continue;
            };
            let (mut writes, mut bytes, mut unacked) = (0u64, 0u64, 0u64);
            let mut oldest: Option<u64> = None;
            for &(w, from, len, offset) in &tr.lag {
                let pending = self.pending.contains_key(&w)
                    || self.current.as_ref().is_some_and(|(c, _)| *c == w);
                if pending {
                    unacked += 1;
                    continue;
                }
                if self.failed_admitted.contains(&w) {
                    continue;
                }
                let (first, count) = blocks_of(offset, len);
                let on_svol = (first..first + count).all(|b| svol.block(b) >= Some(WriteId(w)));
                if !on_svol {
                    writes += 1;
                    bytes += len;
                    oldest = Some(oldest.map_or(from, |o| o.min(from)));
                }
            }
            let options = self.topology.mirror(tr.id).map(|m| m.options);
            mirrors.push(DisasterMirror {
                group: tr.group.clone(),
                pvol: tr.id.pvol.to_string(),
                svol: tr.id.svol.to_string(),
                mode: options.map_or("-".to_string(), |o| o.mode.to_string()),
                state: fab.at(i).state(tr.id).to_string(),
                acked_writes_lost: writes,
                acked_bytes_lost: bytes,
                rpo_ns: oldest.map_or(0, |t| now.saturating_sub(t)),
                unacked_writes: unacked,
            });
        }
        // The DR copies are the mirrors not split on purpose; the worst of them.
        let dr = || {
            mirrors
                .iter()
                .filter(|m| m.state != PairState::Split.to_string())
        };
        self.disasters.push(DisasterReport {
            at_ns: now,
            storage: serial.0,
            acked_writes_lost: dr().map(|m| m.acked_writes_lost).max().unwrap_or(0),
            acked_bytes_lost: dr().map(|m| m.acked_bytes_lost).max().unwrap_or(0),
            rpo_ns: dr().map(|m| m.rpo_ns).max().unwrap_or(0),
            mirrors,
        });
    }

    /// Notes what the split / resync / create reports need before the command runs.
    fn before_command(&mut self, fab: &Fabric, k: usize, line: &CommandLine, command: &Command) {
        match command {
            Command::Split { plan }
                if matches!(line, CommandLine::PairSplit { atomic: true, .. }) =>
            {
                let svols = plan.mirrors().into_iter().map(|m| m.svol);
                let inhibited = self.inhibited_total();
                match &mut self.commands[k].split {
                    // A split in parts (the `no-atomic` mutant, one per mirror): the SVOLs
                    // the line names are those of all its parts.
                    Some(split) => split.svols.extend(svols),
                    None => {
                        self.commands[k].split = Some(SplitRt {
                            svols: svols.collect(),
                            inhibited_at_issue: inhibited,
                            control_at_issue: self.split_control,
                            stall_ns: 0,
                            control_bytes: 0,
                            digests_match: None,
                        });
                    }
                }
            }
            Command::Resync { mirror, .. } => {
                let mut dirty = PendingBitmap::new();
                let mut chunk_bytes = 0;
                for s in [mirror.pvol.storage, mirror.svol.storage] {
                    if let Some(p) = fab.system(s).and_then(|x| x.pair(*mirror)) {
                        dirty.union_with(&p.pending);
                        dirty.union_with(&p.svol_pending);
                        chunk_bytes = p.options.chunk_bytes;
                    }
                }
                let t = self.track(*mirror);
                self.commands[k].resyncs.push(ResyncRt {
                    mirror: *mirror,
                    dirty_chunks: dirty.count(),
                    chunk_bytes,
                    bytes_at_issue: self.tracks[t].data_bytes,
                    data_bytes: 0,
                });
            }
            Command::Create { mirror, .. } => {
                let t = self.track(*mirror);
                self.tracks[t].sync = !mirror.is_local()
                    && self
                        .topology
                        .mirror(*mirror)
                        .is_some_and(|m| m.options.mode == CopyMode::Sync);
                let tr = &self.tracks[t];
                self.commands[k].create = Some((*mirror, tr.data_bytes, tr.control_bytes));
            }
            _ => {}
        }
    }

    fn command_done(&mut self, fab: &Fabric, c: CommandId, refusal: Option<String>) {
        let Some(k) = self.cmd_of.remove(&c) else {
            return;
        };
        if let Some(r) = refusal {
            self.commands[k].refusals.push(r);
        }
        let rt = &mut self.commands[k];
        rt.outstanding = rt.outstanding.saturating_sub(1);
        if rt.outstanding == 0 {
            self.complete(fab, k);
        }
    }

    fn complete(&mut self, fab: &Fabric, k: usize) {
        let now = self.now();
        self.commands[k].completed = Some(now);
        let inhibited = self.inhibited_total();
        let split_control = self.split_control;
        let digests = self.commands[k]
            .split
            .as_ref()
            .map(|s| invariants::split_identical(fab, &self.topology, &s.svols));
        let refused = !self.commands[k].refusals.is_empty();
        if let (CommandLine::PairCreate { nocopy: true, .. }, Some((m, ..)), false) = (
            &self.scenario.commands[k].line,
            self.commands[k].create,
            refused,
        ) {
            self.commands[k].nocopy_identical = Some(invariants::copy_whole(fab, m));
        }
        if let Some(s) = &mut self.commands[k].split {
            s.stall_ns = inhibited - s.inhibited_at_issue;
            s.control_bytes = split_control - s.control_at_issue;
            s.digests_match = digests.filter(|_| !refused);
        }
        let resyncs: Vec<(usize, u64)> = self.commands[k]
            .resyncs
            .iter()
            .enumerate()
            .filter_map(|(r, x)| {
                self.find_track(x.mirror)
                    .map(|t| (r, self.tracks[t].data_bytes))
            })
            .collect();
        for (r, bytes) in resyncs {
            let x = &mut self.commands[k].resyncs[r];
            x.data_bytes = bytes - x.bytes_at_issue;
        }
        if let Some((m, d0, c0)) = self.commands[k].create {
            if let Some(t) = self.find_track(m) {
                let tr = &self.tracks[t];
                self.commands[k].create_bytes = (tr.data_bytes - d0, tr.control_bytes - c0);
            }
        }
        // A takeover starts the standby hosts of that storage.
        if let CommandLine::Takeover { storage } = self.scenario.commands[k].line {
            for h in 0..self.hosts.len() {
                let host = &mut self.hosts[h];
                if host.def.role == HostRole::Standby
                    && host.def.storage == storage
                    && host.start.is_none()
                {
                    host.start = Some(now);
                    if let Err(e) = self.schedule_host(h) {
                        self.deferred = Some(e);
                    }
                }
            }
        }
        if let Some(next) = self.scenario.commands.get(k + 1) {
            if let When::AfterPrevious { delay_ns } = next.when {
                self.engine.after(delay_ns, Ev::Command(k as u32 + 1));
            }
        }
        if self.stop_on == Some(k) {
            self.stop = true;
        }
    }

    fn inhibited_total(&self) -> u64 {
        let now = self.now();
        self.inhibit
            .iter()
            .map(|s| s.ns + s.since.map_or(0, |t| now - t))
            .sum()
    }

    /// A message key with its mirror named as a replay names it.
    fn key_text(&self, key: &MessageKey<MirrorId>) -> String {
        key.clone().map(|m| self.topology.mirror_ref(m)).to_string()
    }

    fn timer_text(&self, i: usize, timer: Timer) -> String {
        let (kind, m) = TimerKind::of(timer);
        Step::Timer {
            kind,
            mirror: self.topology.mirror_ref(m),
            system: self.serials[i],
        }
        .to_string()
    }

    /// The timers set, as the steps that would fire them, sorted.
    fn timers_set(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .timers
            .keys()
            .map(|&(i, t)| self.timer_text(i as usize, t))
            .collect();
        v.sort();
        v
    }

    /// The messages in flight, as the steps that would deliver them: the links' in FIFO order
    /// by direction, then the host network's sorted (it has no order).
    fn in_flight(&self) -> Vec<String> {
        let mut v: Vec<(Transport, StorageSerial, StorageSerial, usize, String)> = Vec::new();
        for c in &self.channels {
            for (k, m) in c.queue().enumerate() {
                let message = MessageKey::of(&m.msg).map(|x| self.topology.mirror_ref(x));
                let text = Step::Deliver {
                    via: m.via,
                    from: m.from,
                    to: m.to,
                    message,
                }
                .to_string();
                let order = if m.via == Transport::Interconnect {
                    k
                } else {
                    0
                };
                v.push((m.via, m.from, m.to, order, text));
            }
        }
        v.sort();
        v.into_iter().map(|x| x.4).collect()
    }

    // ----- sampling -----

    fn sample(&mut self) {
        let now = self.now();
        self.last_sample = now;
        for tr in &self.tracks {
            if tr.id.is_local() || !tr.active && tr.replicated == 0 {
                continue;
            }
            self.series.lag.push(LagSample {
                time_ns: now,
                group: tr.group.clone(),
                mirror: tr.id.to_string(),
                lag_bytes: tr.lag_bytes,
                lag_ns: tr
                    .lag
                    .front()
                    .map_or(0, |&(_, t, ..)| now.saturating_sub(t)),
                lag_writes: tr.lag.len() as u64,
            });
        }
        for h in &mut self.hosts {
            self.series.latency.push(LatencySample {
                time_ns: now,
                host: h.def.name.clone(),
                writes: h.interval.count(),
                reads: h.interval_reads,
                failed: h.interval_failed,
                mean_ns: h.interval.mean(),
                p50_ns: h.interval.quantile(0.5),
                p99_ns: h.interval.quantile(0.99),
                max_ns: h.interval.max(),
            });
            h.interval.clear();
            h.interval_reads = 0;
            h.interval_failed = 0;
        }
    }
}

impl Wire for Timed<'_> {
    /// Times a host I/O inhibit (Fig 10 step 1120) from the input that set it to the one
    /// that lifted it.
    fn handled(&mut self, fab: &Fabric, i: usize) {
        let now = self.engine.now();
        let slot = &mut self.inhibit[i];
        match (fab.at(i).inhibited(), slot.since) {
            (true, None) => slot.since = Some(now),
            (false, Some(since)) => {
                slot.ns += now - since;
                slot.since = None;
            }
            _ => {}
        }
    }

    fn send(
        &mut self,
        _: &Fabric,
        from: usize,
        _: StorageSerial,
        via: Transport,
        msg: Message,
        route: Route,
    ) {
        if let Message::Write { write, .. } = msg {
            self.admitted(from, write.0);
        }
        self.carry(from, via, msg, route);
    }

    fn set_timer(&mut self, _: &Fabric, i: usize, timer: Timer, after_ns: u64) {
        self.timer_gen += 1;
        self.timers.insert((i as u32, timer), self.timer_gen);
        // A replay fires a timer at the step that names it.
        if !self.scripted {
            self.timer_events.insert(self.timer_gen, (i as u32, timer));
            self.engine.after(after_ns, Ev::Timer(self.timer_gen));
        }
    }

    fn output(&mut self, fab: &Fabric, i: usize, o: Output) {
        match o {
            Output::AckWrite(w) => self.acked(i, w),
            Output::FailWrite(w, r) => self.failed(w, r.to_string()),
            Output::Done(c) => self.command_done(fab, c, None),
            Output::Refused(c, r) => self.command_done(fab, c, Some(r.to_string())),
            Output::StateChanged { mirror, to, .. } => self.state_changed(i, mirror, to),
            Output::Replicated { mirror, upto } => self.replicated(mirror, upto),
            Output::Send { .. } | Output::SetTimer { .. } => {
                unreachable!("the fabric routes these")
            }
        }
    }

    fn link_lost(&mut self, _: &Fabric, l: usize, _: usize, _: usize) {
        let now = self.now();
        for ch in self.links[l].channels {
            self.channels[ch].fail(now);
        }
    }

    /// Every channel touching system `i` loses what it carries, and its timers are gone.
    fn system_lost(&mut self, _: &Fabric, i: usize) {
        let now = self.now();
        let s = self.serials[i];
        for c in &mut self.channels {
            if c.from == s || c.to == s {
                c.fail(now);
            }
        }
        self.timers.retain(|(s, _), _| *s as usize != i);
    }
}

/// Every volume's written blocks and digest, by volume id.
fn volume_contents(fabric: &Fabric) -> Vec<VolumeContent> {
    let mut v: Vec<(VolumeId, VolumeContent)> = fabric
        .systems
        .values()
        .flat_map(|s| {
            s.volumes().map(|(serial, vol)| {
                let id = VolumeId {
                    storage: s.serial(),
                    serial,
                };
                let content = VolumeContent {
                    volume: id.to_string(),
                    blocks: describe_blocks(&vol.blocks_in(0, u64::MAX), |w| w.to_string()),
                    digest: format!("{:016x}", vol.digest().0),
                };
                (id, content)
            })
        })
        .collect();
    v.sort_by_key(|x| x.0);
    v.into_iter().map(|x| x.1).collect()
}

/// Items for a replay error message: `a`, `b` as `` `a`, `b` ``, or "none".
fn listing(items: Vec<String>) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Finished {
    fn system(&self, s: StorageSerial) -> Option<&StorageSystem> {
        self.fabric.system(s)
    }

    /// [`invariants::QUIET_PAIR`] at the end: a mirror in PAIR at both ends with nothing of
    /// it pending or in flight holds identical volumes.
    fn check_quiet_pairs(&self, failures: &mut Vec<String>) {
        let in_flight =
            |m: MirrorId| (self.channels.iter()).any(|c| c.queue().any(|x| x.msg.mirror() == m));
        for m in invariants::quiet_pairs_differing(&self.fabric, in_flight) {
            failures.push(format!(
                "mirror {m} ({}) is in PAIR with nothing in flight, yet {} and {} differ",
                self.topology.group_of(m).unwrap_or("-"),
                m.pvol,
                m.svol
            ));
        }
    }

    /// How often each invariant was judged and broken: the splits and no-copy creates when
    /// they completed, the quiet pairs once at the end (`quiet_broken`).
    fn verdicts(&self, quiet_broken: bool) -> Vec<InvariantVerdict> {
        let tally = |invariant, judged: &mut dyn Iterator<Item = bool>| {
            let (mut n, mut bad) = (0, 0);
            for ok in judged {
                n += 1;
                bad += u64::from(!ok);
            }
            InvariantVerdict {
                invariant,
                judged: n,
                broken: bad,
            }
        };
        let splits = self.commands.iter().filter_map(|c| c.split.as_ref());
        vec![
            tally(
                invariants::SPLIT_IDENTICAL,
                &mut splits.filter_map(|s| s.digests_match),
            ),
            tally(
                invariants::NOCOPY_IDENTICAL,
                &mut self.commands.iter().filter_map(|c| c.nocopy_identical),
            ),
            tally(invariants::QUIET_PAIR, &mut std::iter::once(!quiet_broken)),
        ]
    }

    fn into_output(
        self,
        scenario: &Scenario,
        mode: Option<CopyMode>,
        second: Option<SecondMirror>,
    ) -> RunOutput {
        let end = self.end.max(1);
        let mut total_cost = CostReport::default();
        let links: Vec<LinkReport> = self
            .links
            .iter()
            .map(|l| {
                let [c0, c1] = l.channels.map(|c| &self.channels[c]);
                let data = c0.data_bytes + c1.data_bytes;
                let control = c0.control_bytes + c1.control_bytes;
                let busy = c0.busy_ns_until(end).max(c1.busy_ns_until(end));
                let cost = cost::link_cost(&l.def, data + control, end);
                total_cost.add(&cost);
                LinkReport {
                    name: l.def.name.clone(),
                    data_bytes: data,
                    control_bytes: control,
                    busy_fraction: round(busy as f64 / end as f64, 6),
                    messages: c0.messages + c1.messages,
                    dropped_messages: c0.dropped + c1.dropped,
                    lost_messages: l.lost,
                    bandwidth_bytes_per_s: l.def.bandwidth,
                    latency_ns: l.def.latency_ns,
                    cost,
                }
            })
            .collect();
        let mirrors: Vec<MirrorReport> = self
            .tracks
            .iter()
            .map(|t| {
                let options = self.topology.mirror(t.id).map(|m| m.options);
                let state =
                    |s: StorageSerial| self.system(s).map_or(PairState::Simplex, |x| x.state(t.id));
                MirrorReport {
                    group: t.group.clone(),
                    pvol: t.id.pvol.to_string(),
                    svol: t.id.svol.to_string(),
                    mode: if t.id.is_local() {
                        "local".to_string()
                    } else {
                        options.map_or("-".to_string(), |o| o.mode.to_string())
                    },
                    writes_replicated: t.replicated,
                    final_state: state(t.id.pvol.storage).to_string(),
                    svol_state: state(t.id.svol.storage).to_string(),
                    max_lag_bytes: t.max_lag_bytes,
                    final_lag_bytes: t.lag_bytes,
                    replication_delay_ns: t.delay.summary(),
                    data_bytes: t.data_bytes,
                    control_bytes: t.control_bytes,
                }
            })
            .collect();
        let hosts: Vec<HostReport> = self
            .hosts
            .iter()
            .map(|h| HostReport {
                name: h.def.name.clone(),
                role: h.def.role,
                storage: h.def.storage.0,
                writes: h.writes,
                bytes_written: h.bytes_written,
                acked: h.acked,
                failed: h.failed,
                reads: h.reads,
                read_bytes: h.read_bytes,
                write_latency_ns: h.latency.summary(),
                first_failure: h.first_failure.clone(),
            })
            .collect();
        // What broke, with the time it was seen (a replay names the step of that time).
        let mut broken: Vec<(u64, String)> = Vec::new();
        let mut splits = Vec::new();
        let mut resyncs = Vec::new();
        let mut commands = Vec::new();
        for (c, def) in self.commands.iter().zip(&scenario.commands) {
            let result = match (c.issued, c.completed) {
                (None, _) => "not issued".to_string(),
                (Some(_), None) => "not completed".to_string(),
                (Some(_), Some(_)) if c.refusals.is_empty() => "done".to_string(),
                _ => format!("refused: {}", c.refusals.join("; ")),
            };
            commands.push(CommandReport {
                run: def.text.clone(),
                issued_ns: c.issued,
                completed_ns: c.completed,
                result,
            });
            let seen = c.completed.unwrap_or(self.end);
            if let (Some(false), Some((m, ..))) = (c.nocopy_identical, c.create) {
                broken.push((
                    seen,
                    format!(
                        "no-copy create `{}` completed on volumes that differ: {m} is in PAIR \
                         but {} is not a copy of {}",
                        def.text, m.svol, m.pvol
                    ),
                ));
            }
            if let Some(s) = &c.split {
                if s.digests_match == Some(false) {
                    broken.push((
                        seen,
                        format!(
                            "atomic split `{}` completed but its SVOLs ({}) hold different data",
                            def.text,
                            s.svols
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
                splits.push(SplitReport {
                    command: def.text.clone(),
                    issued_ns: c.issued.unwrap_or(0),
                    completed_ns: c.completed,
                    duration_ns: c.completed.zip(c.issued).map(|(d, i)| d - i),
                    host_io_stall_ns: s.stall_ns,
                    control_bytes: s.control_bytes,
                    svols: s.svols.iter().map(ToString::to_string).collect(),
                    digests_match: s.digests_match,
                    refused: (!c.refusals.is_empty()).then(|| c.refusals.join("; ")),
                });
            }
            for r in &c.resyncs {
                resyncs.push(ResyncReport {
                    command: def.text.clone(),
                    mirror: r.mirror.to_string(),
                    issued_ns: c.issued.unwrap_or(0),
                    completed_ns: c.completed,
                    dirty_chunks: r.dirty_chunks,
                    chunk_bytes: r.chunk_bytes,
                    data_bytes: (!r.mirror.is_local()).then_some(r.data_bytes),
                });
            }
        }
        let mut quiet = Vec::new();
        self.check_quiet_pairs(&mut quiet);
        let verdicts = self.verdicts(!quiet.is_empty());
        broken.extend(quiet.into_iter().map(|f| (self.end, f)));
        let replay = self.replay.map(|mut r| {
            r.broken = broken
                .iter()
                .map(|(t, failure)| {
                    let step = scenario.replay.as_ref().and_then(|x| {
                        let k = usize::try_from(t / x.interval_ns).ok()?;
                        Some((k, x.steps.get(k.checked_sub(1)?)?))
                    });
                    BrokenPromise {
                        step: step.map(|s| s.0),
                        at: step.map(|(_, s)| {
                            format!("{}:{}:{}", scenario.path.display(), s.line, s.column)
                        }),
                        text: step.map(|(_, s)| s.text.clone()),
                        failure: failure.clone(),
                    }
                })
                .collect();
            r
        });
        let failures: Vec<String> = broken.into_iter().map(|x| x.1).collect();
        let skipped = self
            .hosts
            .iter()
            .filter_map(|h| h.workload.as_ref())
            .map(Workload::skipped_lines)
            .sum();
        let unmapped = self
            .hosts
            .iter()
            .filter_map(|h| h.workload.as_ref())
            .map(Workload::unmapped_records)
            .sum();
        let summary = Summary {
            scenario: scenario.name.clone(),
            seed: scenario.seed,
            simulated_ns: self.end,
            mode_override: mode.map(|m| m.to_string()),
            links,
            mirrors,
            hosts,
            cost: total_cost.rounded(),
            events: self.events,
            splits,
            resyncs,
            disasters: self.disasters,
            second_mirror: second,
            commands,
            pairdisplay: pairdisplay(&self.topology, self.fabric.systems.values()),
            skipped_trace_lines: skipped,
            unmapped_trace_records: unmapped,
            invariants: Invariants {
                ok: failures.is_empty(),
                failures,
                verdicts,
            },
            replay,
        };
        RunOutput {
            summary,
            series: self.series,
        }
    }
}
