//! Scenario files: their TOML form (the contract in DESIGN.md), validation, and the checked
//! [`Scenario`] a run is built from.
//!
//! This module owns every judgement about input before a run starts. Unknown keys and bad
//! units fail in serde (`deny_unknown_fields`, the unit types of [`crate::units`]); the rest
//! (duplicate ids, dangling references, mirrors of different sizes or in a cycle, bandwidth 0,
//! commands naming unknown groups, a no-copy create on volumes that will not be identical) is
//! checked here on `toml::Spanned` fields, so each problem is reported once with
//! `file:line:column` and what was expected. A [`Scenario`] that exists is runnable.
//!
//! Defaults: seed 1, sampling interval 1 s, remote mirrors `async` unless `[defaults]` or the
//! mirror says otherwise, other pair options as [`PairOptions::default`].
//!
//! A `[replay]` section (issue #4; what `mirrorlab check --trace-out` writes) makes the run a
//! script of steps instead of a study driven by the clock, so it can follow the model checker's
//! interleaving exactly, which timed links could not force:
//!
//! ```toml
//! [replay]
//! interval = "1ms"   # step k (from 1) at k * interval; the end one interval after the last
//! steps = [
//!     "prod writes w1 to 64001:105a block 1",
//!     "run pairsplit --atomic ORA_L ORA_RL",
//!     "host network 64001->64002 delivers forward of ORA_R1 split 64001/1",
//!     "link 64001->64002 delivers write of ORA_R1 seq 1",
//!     "timer local-copy of ORA_L fires at 64001",
//!     "run linkdown wan",
//! ]
//! ```
//!
//! The grammar is [`mirrorlab_model::replay`]'s. In a replay, messages wait on their link or
//! the host network until a step delivers them (a link delivers its oldest, which must be the
//! one named), timers fire only at the step that names them, hosts write only at steps, and
//! commands and link faults are `run` steps; so `duration`, `[[command]]`, workloads, link
//! `outages` and `loss` are refused, and the sampling interval defaults to the step interval.
//! Validation resolves every step's host, volume and block, mirror, link and command line
//! (against the topology the steps before it make) and refuses a write version used twice; what
//! only the run can tell (is the message in flight, is the timer set) is checked at the step,
//! and a step that cannot be applied stops the run with `file:line:col: step N: ...`.

use crate::trace::TraceFormat;
use crate::units::{Bytes, Nanos, Rate};
use crate::workload::Spread;
use mirrorlab_model::command::{resolve, CommandLine};
use mirrorlab_model::replay::{MessageKey, Part, Step};
use mirrorlab_model::table::{AsyncResume, Fence, OnFull};
use mirrorlab_model::topology::{MirrorSpec, VolumeSpec};
use mirrorlab_model::{
    CopyMode, MirrorId, MirrorRef, Mutant, PairOptions, ProtocolConfig, StorageSerial, Timer,
    Topology, Transport, VolumeId, VolumeSerial, WriteId, BLOCK_BYTES,
};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

// ----- the file as written -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    seed: Option<u64>,
    /// Required, except in a replay (which lasts one `interval` per step).
    duration: Option<Spanned<Nanos>>,
    output: Option<OutputFile>,
    protocol: Option<ProtocolFile>,
    defaults: Option<Spanned<PairFile>>,
    #[serde(default)]
    storage: Vec<Spanned<StorageFile>>,
    #[serde(default)]
    link: Vec<Spanned<LinkFile>>,
    #[serde(default)]
    host: Vec<Spanned<HostFile>>,
    #[serde(default)]
    mirror: Vec<Spanned<PairFile>>,
    #[serde(default)]
    command: Vec<Spanned<CommandFile>>,
    replay: Option<Spanned<ReplayFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayFile {
    interval: Option<Spanned<Nanos>>,
    steps: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputFile {
    interval: Option<Spanned<Nanos>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtocolFile {
    split_transport: Option<Spanned<String>>,
    host_latency: Option<Nanos>,
    local_copy: Option<Spanned<Rate>>,
    mutant: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageFile {
    serial: Spanned<u32>,
    site: Option<String>,
    #[serde(default)]
    volumes: Vec<Spanned<VolumeFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VolumeFile {
    id: Spanned<VolumeSerial>,
    size: Spanned<Bytes>,
    used: Option<Spanned<Bytes>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkFile {
    name: Spanned<String>,
    between: Spanned<Vec<u32>>,
    bandwidth: Spanned<Rate>,
    latency: Nanos,
    price_per_gb: Option<Spanned<f64>>,
    price_per_mbps_month: Option<Spanned<f64>>,
    #[serde(default)]
    outages: Vec<Spanned<(Nanos, Nanos)>>,
    loss: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostFile {
    name: Spanned<String>,
    role: HostRole,
    storage: Spanned<u32>,
    workload: Option<Spanned<WorkloadFile>>,
    start: Option<Spanned<Nanos>>,
    stop: Option<Spanned<Nanos>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadFile {
    poisson: Option<Spanned<f64>>,
    size: Option<Bytes>,
    sizes: Option<Vec<SizeWeight>>,
    addresses: Option<Spanned<String>>,
    skew: Option<Spanned<f64>>,
    reads: Option<Spanned<f64>>,
    trace: Option<Spanned<String>>,
    format: Option<TraceFormat>,
    volume: Option<Spanned<VolumeId>>,
    devices: Option<BTreeMap<String, Spanned<VolumeId>>>,
    time_scale: Option<Spanned<f64>>,
    skip_bad_lines: Option<bool>,
    spread: Option<Spread>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SizeWeight {
    size: Bytes,
    weight: u64,
}

/// `[defaults]` and `[[mirror]]` share this shape; `[defaults]` may not name volumes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PairFile {
    group: Option<Spanned<String>>,
    pvol: Option<Spanned<VolumeId>>,
    svol: Option<Spanned<VolumeId>>,
    initial: Option<Spanned<String>>,
    mode: Option<Spanned<CopyMode>>,
    journal: Option<Spanned<Bytes>>,
    cycle: Option<Spanned<Nanos>>,
    pass: Option<Spanned<Nanos>>,
    chunk: Option<Spanned<Bytes>>,
    on_full: Option<Spanned<OnFull>>,
    fence: Option<Spanned<Fence>>,
    resume: Option<Spanned<AsyncResume>>,
    window: Option<Spanned<Bytes>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandFile {
    at: Option<Spanned<Nanos>>,
    after: Option<Spanned<String>>,
    delay: Option<Nanos>,
    run: Spanned<String>,
}

// ----- the checked scenario -----

/// A validated scenario: every reference resolves and every value is in range.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    /// The file it came from (for messages and relative paths).
    pub path: PathBuf,
    pub seed: u64,
    pub duration_ns: u64,
    /// Time-series sampling interval.
    pub interval_ns: u64,
    pub protocol: ProtocolConfig,
    /// One-way latency of the host network (split forwarded by host agents).
    pub host_latency_ns: u64,
    pub storages: Vec<StorageDef>,
    pub links: Vec<LinkDef>,
    pub hosts: Vec<HostDef>,
    /// Mirrors that exist at t = 0.
    pub mirrors: Vec<MirrorDef>,
    /// Options for mirrors `paircreate` makes.
    pub defaults: PairOptions,
    pub commands: Vec<CommandDef>,
    /// A scripted run (`[replay]`): its steps instead of the clock.
    pub replay: Option<Replay>,
}

#[derive(Clone, Debug)]
pub struct StorageDef {
    pub serial: StorageSerial,
    pub site: String,
    pub volumes: Vec<VolumeSpec>,
}

#[derive(Clone, Debug)]
pub struct LinkDef {
    pub name: String,
    pub a: StorageSerial,
    pub b: StorageSerial,
    /// Bytes per second.
    pub bandwidth: u64,
    pub latency_ns: u64,
    pub price_per_gb: f64,
    pub price_per_mbps_month: f64,
    /// `[down, up)` windows.
    pub outages: Vec<(u64, u64)>,
    /// Probability that a message on the link is lost; the link layer then reports a link
    /// failure (both ends suspend their pairs) and comes straight back up.
    pub loss: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HostRole {
    Production,
    Standby,
    Auxiliary,
}

#[derive(Clone, Debug)]
pub struct HostDef {
    pub name: String,
    pub role: HostRole,
    pub storage: StorageSerial,
    pub workload: Option<WorkloadDef>,
    /// `None` for a standby host without `start`: it starts when its storage takes over.
    pub start_ns: Option<u64>,
    pub stop_ns: Option<u64>,
}

#[derive(Clone, Debug)]
pub enum WorkloadDef {
    Poisson(PoissonDef),
    Trace(TraceDef),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Addresses {
    Uniform,
    Sequential,
    /// Zipf with this exponent over the volume's 4 KiB blocks.
    Zipf(f64),
}

#[derive(Clone, Debug)]
pub struct PoissonDef {
    /// I/Os per second.
    pub rate: f64,
    /// (bytes, weight).
    pub sizes: Vec<(u64, u64)>,
    pub addresses: Addresses,
    pub read_fraction: f64,
    pub volume: VolumeId,
    pub volume_size: u64,
}

#[derive(Clone, Debug)]
pub struct TraceDef {
    pub path: PathBuf,
    pub format: TraceFormat,
    pub time_scale: f64,
    pub skip_bad_lines: bool,
    pub spread: Spread,
    /// (device or any, volume, volume size).
    pub map: Vec<(Option<u64>, VolumeId, u64)>,
}

#[derive(Clone, Debug)]
pub struct MirrorDef {
    pub group: String,
    pub id: MirrorId,
    pub options: PairOptions,
    /// Start with a full initial copy (COPY) rather than in PAIR.
    pub initial_copy: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    At(u64),
    /// When the previous command has completed, plus a delay.
    AfterPrevious {
        delay_ns: u64,
    },
    /// At the replay steps that run it (one per protocol command it becomes).
    Replay,
}

/// A `[replay]` section: the run is these steps, step `k` (from 1) at `k * interval_ns` and
/// the end one interval after the last, instead of workloads, timed deliveries and timers.
/// The grammar of a step is [`mirrorlab_model::replay`]'s.
#[derive(Clone, Debug)]
pub struct Replay {
    pub interval_ns: u64,
    pub steps: Vec<ReplayStep>,
}

#[derive(Clone, Debug)]
pub struct ReplayStep {
    /// Where the step is written (1-based), for messages.
    pub line: usize,
    pub column: usize,
    /// The step as written.
    pub text: String,
    pub action: ReplayAction,
}

/// A step resolved against its scenario: hosts by index, mirrors by id, command lines by their
/// index in [`Scenario::commands`].
#[derive(Clone, Debug)]
pub enum ReplayAction {
    Write {
        host: usize,
        write: WriteId,
        volume: VolumeId,
        block: u64,
    },
    /// The next protocol command of `commands[command]` (the first resolves the line, as a
    /// `[[command]]` does when its time comes).
    Run {
        command: usize,
    },
    Deliver {
        via: Transport,
        from: StorageSerial,
        to: StorageSerial,
        message: MessageKey<MirrorId>,
    },
    Timer {
        system: StorageSerial,
        timer: Timer,
    },
}

#[derive(Clone, Debug)]
pub struct CommandDef {
    pub when: When,
    pub line: CommandLine,
    /// The command as written.
    pub text: String,
}

impl Scenario {
    /// The configured world at t = 0: every volume and every `[[mirror]]`.
    pub fn topology(&self) -> Topology {
        let mut t = Topology::new();
        for s in &self.storages {
            for v in &s.volumes {
                t.add_volume(v.clone())
                    .expect("validated: volumes are distinct");
            }
        }
        for m in &self.mirrors {
            t.add_mirror(MirrorSpec {
                id: m.id,
                group: m.group.clone(),
                options: m.options,
            })
            .expect("validated: mirrors are consistent");
        }
        t
    }

    /// Makes every remote mirror, and every mirror `paircreate` will make, use `mode`.
    pub fn set_mode(&mut self, mode: CopyMode) {
        for m in &mut self.mirrors {
            if !m.id.is_local() {
                m.options.mode = mode;
            }
        }
        self.defaults.mode = mode;
    }

    /// Makes every trace workload skip and count bad lines (`run --skip-bad-lines`).
    pub fn skip_bad_trace_lines(&mut self) {
        for h in &mut self.hosts {
            if let Some(WorkloadDef::Trace(t)) = &mut h.workload {
                t.skip_bad_lines = true;
            }
        }
    }

    pub fn link_between(&self, a: StorageSerial, b: StorageSerial) -> Option<&LinkDef> {
        self.links
            .iter()
            .find(|l| (l.a, l.b) == (a, b) || (l.b, l.a) == (a, b))
    }

    pub fn volume(&self, v: VolumeId) -> Option<&VolumeSpec> {
        self.storages
            .iter()
            .filter(|s| s.serial == v.storage)
            .flat_map(|s| &s.volumes)
            .find(|s| s.id == v)
    }

    /// The file name without extension, for the default output directory.
    pub fn stem(&self) -> String {
        self.path.file_stem().map_or_else(
            || "scenario".to_string(),
            |s| s.to_string_lossy().into_owned(),
        )
    }
}

// ----- errors -----

/// One problem in a scenario file, at a 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {}: {error}", .path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}", format_diagnostics(.path, .diagnostics))]
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
}

fn format_diagnostics(path: &Path, diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("{}:{}:{}: {}", path.display(), d.line, d.column, d.message))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ScenarioError {
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ScenarioError::Invalid { diagnostics, .. } => diagnostics,
            ScenarioError::Read { .. } => &[],
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary_compat(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// `str::floor_char_boundary` is unstable; this is the same for our use.
trait FloorBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while i > 0 && !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

struct Ctx<'a> {
    text: &'a str,
    diagnostics: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn err(&mut self, span: Range<usize>, message: impl fmt::Display) {
        let (line, column) = line_column(self.text, span.start);
        self.diagnostics.push(Diagnostic {
            line,
            column,
            message: message.to_string(),
        });
    }
}

// ----- loading -----

/// Reads, parses and validates the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|error| ScenarioError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse(&text, path)
}

/// Parses and validates scenario `text`; `path` names it in messages and anchors relative
/// trace paths (tried relative to its directory first, then to the current directory).
pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let invalid = |diagnostics| ScenarioError::Invalid {
        path: path.to_path_buf(),
        diagnostics,
    };
    let file: ScenarioFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_column(text, s.start));
        invalid(vec![Diagnostic {
            line,
            column,
            message: e.message().trim().to_string(),
        }])
    })?;
    let mut ctx = Ctx {
        text,
        diagnostics: Vec::new(),
    };
    let scenario = validate(file, path, &mut ctx);
    if ctx.diagnostics.is_empty() {
        Ok(scenario)
    } else {
        Err(invalid(ctx.diagnostics))
    }
}

fn validate(file: ScenarioFile, path: &Path, ctx: &mut Ctx<'_>) -> Scenario {
    let replaying = file.replay.is_some();
    let duration_ns = match &file.duration {
        Some(d) if replaying => {
            ctx.err(
                d.span(),
                "a replay lasts one `interval` per step, plus one: remove `duration`",
            );
            0
        }
        Some(d) => {
            if d.get_ref().0 == 0 {
                ctx.err(d.span(), "expected a duration above 0s");
            }
            d.get_ref().0
        }
        // As serde says it of any other missing field.
        None if !replaying => {
            ctx.err(0..0, "missing field `duration`");
            0
        }
        // Set from the steps below.
        None => 0,
    };
    let step_ns = file.replay.as_ref().map(|r| match &r.get_ref().interval {
        Some(i) if i.get_ref().0 == 0 => {
            ctx.err(i.span(), "expected a step interval above 0s");
            1
        }
        Some(i) => i.get_ref().0,
        None => 1_000_000,
    });
    let interval_ns = match file.output.and_then(|o| o.interval) {
        Some(i) if i.get_ref().0 == 0 => {
            ctx.err(i.span(), "expected a sampling interval above 0s");
            1
        }
        Some(i) => i.get_ref().0,
        // A replay samples once per step.
        None => step_ns.unwrap_or(1_000_000_000),
    };
    let (protocol, host_latency_ns) = protocol_config(file.protocol, ctx);
    let defaults = match &file.defaults {
        Some(d) => {
            for (name, span) in [
                ("group", d.get_ref().group.as_ref().map(Spanned::span)),
                ("pvol", d.get_ref().pvol.as_ref().map(Spanned::span)),
                ("svol", d.get_ref().svol.as_ref().map(Spanned::span)),
                ("initial", d.get_ref().initial.as_ref().map(Spanned::span)),
            ] {
                if let Some(span) = span {
                    ctx.err(
                        span,
                        format!("`{name}` belongs in a [[mirror]], not in [defaults]"),
                    );
                }
            }
            pair_options(d.get_ref(), base_defaults(), None, ctx)
        }
        None => base_defaults(),
    };

    // Storage systems and volumes.
    let mut storages: Vec<StorageDef> = Vec::new();
    for s in &file.storage {
        let sf = s.get_ref();
        let serial = StorageSerial(*sf.serial.get_ref());
        if storages.iter().any(|x| x.serial == serial) {
            ctx.err(
                sf.serial.span(),
                format!("storage {serial} is defined twice (serials must be unique)"),
            );
            continue;
        }
        let mut volumes: Vec<VolumeSpec> = Vec::new();
        for v in &sf.volumes {
            let vf = v.get_ref();
            let id = VolumeId {
                storage: serial,
                serial: *vf.id.get_ref(),
            };
            if volumes.iter().any(|x| x.id == id) {
                ctx.err(vf.id.span(), format!("volume {id} is defined twice"));
                continue;
            }
            let size = vf.size.get_ref().0;
            if size == 0 || size % BLOCK_BYTES != 0 {
                ctx.err(
                    vf.size.span(),
                    format!(
                        "expected a volume size that is a positive multiple of 4KiB, found {}",
                        vf.size.get_ref()
                    ),
                );
            }
            let used = match &vf.used {
                Some(u) if u.get_ref().0 > size => {
                    ctx.err(
                        u.span(),
                        format!(
                            "expected `used` at most the volume size {}, found {}",
                            vf.size.get_ref(),
                            u.get_ref()
                        ),
                    );
                    size
                }
                Some(u) => u.get_ref().0,
                None => size,
            };
            volumes.push(VolumeSpec { id, size, used });
        }
        storages.push(StorageDef {
            serial,
            site: sf.site.clone().unwrap_or_default(),
            volumes,
        });
    }
    // Later sections refer to earlier ones: once a section has errors, checking the next
    // would only repeat them as dangling references, so validation stops there.
    if !ctx.diagnostics.is_empty() {
        return placeholder(path);
    }
    let storage_known = |s: StorageSerial| storages.iter().any(|x| x.serial == s);
    let volume_size = |v: VolumeId| {
        storages
            .iter()
            .flat_map(|s| &s.volumes)
            .find(|x| x.id == v)
            .map(|x| x.size)
    };
    let known_storages = || {
        storages
            .iter()
            .map(|s| s.serial.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };

    // Links.
    let mut links: Vec<LinkDef> = Vec::new();
    for l in &file.link {
        let lf = l.get_ref();
        let name = lf.name.get_ref().clone();
        if links.iter().any(|x| x.name == name) {
            ctx.err(
                lf.name.span(),
                format!("link {name:?} is defined twice (names must be unique)"),
            );
            continue;
        }
        let between = lf.between.get_ref();
        let (a, b) = match between[..] {
            [a, b] if a != b => (StorageSerial(a), StorageSerial(b)),
            _ => {
                ctx.err(
                    lf.between.span(),
                    "expected `between` to name two different storage serials, e.g. [64001, 64002]",
                );
                continue;
            }
        };
        for s in [a, b] {
            if !storage_known(s) {
                ctx.err(
                    lf.between.span(),
                    format!(
                        "link {name:?} names storage {s}, which is not defined (defined: {})",
                        known_storages()
                    ),
                );
            }
        }
        if links
            .iter()
            .any(|x| (x.a, x.b) == (a, b) || (x.b, x.a) == (a, b))
        {
            ctx.err(
                lf.between.span(),
                format!(
                    "a link between {a} and {b} is already defined (one link per pair of systems)"
                ),
            );
        }
        let bandwidth = lf.bandwidth.get_ref().0;
        if bandwidth == 0 {
            ctx.err(
                lf.bandwidth.span(),
                "expected a bandwidth above 0 (a link that carries nothing cannot replicate)",
            );
        }
        let mut price = |p: &Option<Spanned<f64>>| match p {
            Some(p) if !(p.get_ref().is_finite() && *p.get_ref() >= 0.0) => {
                ctx.err(
                    p.span(),
                    format!("expected a price >= 0, found {}", p.get_ref()),
                );
                0.0
            }
            Some(p) => *p.get_ref(),
            None => 0.0,
        };
        let price_per_gb = price(&lf.price_per_gb);
        let price_per_mbps_month = price(&lf.price_per_mbps_month);
        let mut outages = Vec::new();
        for o in &lf.outages {
            let (down, up) = (o.get_ref().0 .0, o.get_ref().1 .0);
            if up <= down {
                ctx.err(
                    o.span(),
                    format!(
                        "expected an outage [start, end] with end after start, found [{}, {}]",
                        o.get_ref().0,
                        o.get_ref().1
                    ),
                );
            } else if outages.iter().any(|&(d, u)| down < u && d < up) {
                ctx.err(o.span(), "outage windows of one link must not overlap");
            } else {
                outages.push((down, up));
            }
        }
        outages.sort();
        let loss = match &lf.loss {
            Some(p) if !(0.0..1.0).contains(p.get_ref()) => {
                ctx.err(
                    p.span(),
                    format!(
                        "expected a message loss probability from 0 up to (not including) 1, found {}",
                        p.get_ref()
                    ),
                );
                0.0
            }
            Some(p) => *p.get_ref(),
            None => 0.0,
        };
        if replaying {
            if let Some(o) = lf.outages.first() {
                ctx.err(
                    o.span(),
                    "a replay takes links down at its own steps (`run linkdown NAME`, \
                     `run linkup NAME`): remove `outages`",
                );
            }
            if let Some(p) = &lf.loss {
                ctx.err(
                    p.span(),
                    "a replay loses no message at random (it takes links down at its own \
                     steps): remove `loss`",
                );
            }
        }
        links.push(LinkDef {
            name,
            a,
            b,
            bandwidth,
            latency_ns: lf.latency.0,
            price_per_gb,
            price_per_mbps_month,
            outages,
            loss,
        });
    }
    if !ctx.diagnostics.is_empty() {
        return placeholder(path);
    }
    let linked = |a: StorageSerial, b: StorageSerial| {
        links
            .iter()
            .any(|l| (l.a, l.b) == (a, b) || (l.b, l.a) == (a, b))
    };

    // Mirrors present at t = 0.
    let mut topology = Topology::new();
    for s in &storages {
        for v in &s.volumes {
            // Duplicates were refused above.
            let _ = topology.add_volume(v.clone());
        }
    }
    let mut mirrors: Vec<MirrorDef> = Vec::new();
    for m in &file.mirror {
        let mf = m.get_ref();
        let (Some(group), Some(pvol), Some(svol)) = (&mf.group, &mf.pvol, &mf.svol) else {
            ctx.err(
                m.span(),
                "expected a [[mirror]] with `group`, `pvol` and `svol`",
            );
            continue;
        };
        let id = MirrorId::new(*pvol.get_ref(), *svol.get_ref());
        let mut ok = true;
        for v in [pvol, svol] {
            if volume_size(*v.get_ref()).is_none() {
                ctx.err(
                    v.span(),
                    format!("volume {} is not defined in any [[storage]]", v.get_ref()),
                );
                ok = false;
            }
        }
        if !ok {
            continue;
        }
        if !id.is_local() && !linked(id.pvol.storage, id.svol.storage) {
            ctx.err(
                svol.span(),
                format!(
                    "remote mirror {id} needs a [[link]] between {} and {}",
                    id.pvol.storage, id.svol.storage
                ),
            );
        }
        let options = pair_options(mf, defaults, Some(id), ctx);
        let initial_copy = match &mf.initial {
            None => false,
            Some(i) => match i.get_ref().as_str() {
                "pair" => false,
                "copy" => true,
                other => {
                    ctx.err(
                        i.span(),
                        format!("expected `initial` to be \"pair\" or \"copy\", found {other:?}"),
                    );
                    false
                }
            },
        };
        match topology.add_mirror(MirrorSpec {
            id,
            group: group.get_ref().clone(),
            options,
        }) {
            Ok(()) => mirrors.push(MirrorDef {
                group: group.get_ref().clone(),
                id,
                options,
                initial_copy,
            }),
            Err(e) => ctx.err(svol.span(), e),
        }
    }

    // Hosts.
    let mut hosts: Vec<HostDef> = Vec::new();
    for h in &file.host {
        let hf = h.get_ref();
        let name = hf.name.get_ref().clone();
        if hosts.iter().any(|x| x.name == name) {
            ctx.err(
                hf.name.span(),
                format!("host {name:?} is defined twice (names must be unique)"),
            );
            continue;
        }
        let storage = StorageSerial(*hf.storage.get_ref());
        if !storage_known(storage) {
            ctx.err(hf.storage.span(), format!("host {name:?} is attached to storage {storage}, which is not defined (defined: {})", known_storages()));
            continue;
        }
        let workload = match &hf.workload {
            Some(w) if replaying => {
                ctx.err(
                    w.span(),
                    "in a replay, hosts write only at the steps that say so \
                     (`HOST writes wN to VOLUME block B`): remove `workload`",
                );
                None
            }
            Some(w) => workload(w, storage, path, &volume_size, ctx),
            None if hf.role == HostRole::Standby || replaying => None,
            None => {
                ctx.err(
                    h.span(),
                    format!("expected a `workload` for {:?} host {name:?}", hf.role),
                );
                None
            }
        };
        let start_ns = match (&hf.start, hf.role) {
            (Some(s), _) => Some(s.get_ref().0),
            (None, HostRole::Standby) => None,
            (None, _) => Some(0),
        };
        let stop_ns = hf.stop.as_ref().map(|s| s.get_ref().0);
        if let (Some(a), Some(b), Some(stop)) = (start_ns, stop_ns, &hf.stop) {
            if b <= a {
                ctx.err(stop.span(), "expected `stop` after `start`");
            }
        }
        hosts.push(HostDef {
            name,
            role: hf.role,
            storage,
            workload,
            start_ns,
            stop_ns,
        });
    }

    let mut scenario = Scenario {
        name: file.name,
        path: path.to_path_buf(),
        seed: file.seed.unwrap_or(1),
        duration_ns,
        interval_ns,
        protocol,
        host_latency_ns,
        storages,
        links,
        hosts,
        mirrors,
        defaults,
        commands: Vec::new(),
        replay: None,
    };
    // Commands are checked against the topology; after an error above they would only
    // repeat it (a refused mirror makes its group unknown), so they are parsed but not checked.
    let check = ctx.diagnostics.is_empty();
    match (&file.replay, step_ns) {
        (Some(r), Some(interval_ns)) => {
            if let Some(c) = file.command.first() {
                ctx.err(
                    c.span(),
                    "a replay runs its commands as steps (`run COMMAND`): move this \
                     [[command]] into [replay] steps",
                );
            }
            let (commands, steps) =
                replay_steps(&r.get_ref().steps, &scenario, topology, check, ctx);
            scenario.duration_ns = (steps.len() as u64 + 1).saturating_mul(interval_ns);
            scenario.commands = commands;
            scenario.replay = Some(Replay { interval_ns, steps });
        }
        _ => scenario.commands = commands(&file.command, &scenario, topology, check, ctx),
    }
    scenario
}

/// What `validate` returns when it stops early; never run, since diagnostics exist.
fn placeholder(path: &Path) -> Scenario {
    Scenario {
        name: String::new(),
        path: path.to_path_buf(),
        seed: 0,
        duration_ns: 0,
        interval_ns: 1,
        protocol: ProtocolConfig::default(),
        host_latency_ns: 0,
        storages: Vec::new(),
        links: Vec::new(),
        hosts: Vec::new(),
        mirrors: Vec::new(),
        defaults: base_defaults(),
        commands: Vec::new(),
        replay: None,
    }
}

fn base_defaults() -> PairOptions {
    PairOptions::with_mode(CopyMode::Async)
}

fn protocol_config(p: Option<ProtocolFile>, ctx: &mut Ctx<'_>) -> (ProtocolConfig, u64) {
    let mut config = ProtocolConfig::default();
    let Some(p) = p else {
        return (config, 1_000_000);
    };
    if let Some(t) = &p.split_transport {
        config.split_transport = match t.get_ref().as_str() {
            "interconnect" => Transport::Interconnect,
            "host-network" => Transport::HostNetwork,
            other => {
                ctx.err(t.span(), format!("expected split_transport \"interconnect\" or \"host-network\", found {other:?}"));
                Transport::Interconnect
            }
        };
    }
    if let Some(r) = &p.local_copy {
        if r.get_ref().0 == 0 {
            ctx.err(r.span(), "expected a local copy rate above 0");
        } else {
            config.local_copy_bytes_per_sec = r.get_ref().0;
        }
    }
    if let Some(m) = &p.mutant {
        match m.get_ref().parse::<Mutant>() {
            Ok(m) => config.mutant = Some(m),
            Err(e) => ctx.err(m.span(), e),
        }
    }
    (config, p.host_latency.map_or(1_000_000, |n| n.0))
}

/// A key that applies to some copy modes only: (name, where it is, the modes).
type ModeSpecificKey<'a> = (&'static str, Option<Range<usize>>, &'a [CopyMode]);

/// Pair options from `f` over `base`; for a mirror (`id` given), keys must suit its mode.
fn pair_options(
    f: &PairFile,
    base: PairOptions,
    id: Option<MirrorId>,
    ctx: &mut Ctx<'_>,
) -> PairOptions {
    let mut o = base;
    let local = id.is_some_and(|m| m.is_local());
    if let Some(m) = &f.mode {
        if local {
            ctx.err(
                m.span(),
                "`mode` applies to remote mirrors; a local mirror copies in-system",
            );
        }
        o.mode = *m.get_ref();
    }
    let mode = o.mode;
    let specific: [ModeSpecificKey; 6] = [
        (
            "journal",
            f.journal.as_ref().map(Spanned::span),
            &[CopyMode::Async],
        ),
        (
            "on_full",
            f.on_full.as_ref().map(Spanned::span),
            &[CopyMode::Async],
        ),
        (
            "resume",
            f.resume.as_ref().map(Spanned::span),
            &[CopyMode::Async],
        ),
        (
            "cycle",
            f.cycle.as_ref().map(Spanned::span),
            &[CopyMode::Periodic],
        ),
        (
            "pass",
            f.pass.as_ref().map(Spanned::span),
            &[CopyMode::Adaptive],
        ),
        (
            "fence",
            f.fence.as_ref().map(Spanned::span),
            &[CopyMode::Sync],
        ),
    ];
    if id.is_some() {
        for (key, span, modes) in specific {
            let Some(span) = span else { continue };
            if local {
                ctx.err(
                    span,
                    format!("`{key}` applies to remote mirrors; a local mirror copies in-system"),
                );
            } else if !modes.contains(&mode) {
                ctx.err(
                    span,
                    format!(
                        "`{key}` applies to {} mirrors, and this one is {mode}",
                        modes[0]
                    ),
                );
            }
        }
    }
    if let Some(j) = &f.journal {
        if j.get_ref().0 == 0 {
            ctx.err(j.span(), "expected a journal size above 0");
        }
        o.journal_bytes = j.get_ref().0;
    }
    for (p, key) in [(&f.cycle, "cycle"), (&f.pass, "pass")] {
        if let Some(p) = p {
            if p.get_ref().0 == 0 {
                ctx.err(p.span(), format!("expected a `{key}` above 0s"));
            }
            o.period_ns = p.get_ref().0;
        }
    }
    if let Some(c) = &f.chunk {
        let c0 = c.get_ref().0;
        if c0 == 0 || c0 % BLOCK_BYTES != 0 {
            ctx.err(
                c.span(),
                format!(
                    "expected a chunk that is a positive multiple of 4KiB, found {}",
                    c.get_ref()
                ),
            );
        } else {
            o.chunk_bytes = c0;
        }
    }
    if let Some(w) = &f.window {
        if w.get_ref().0 == 0 {
            ctx.err(w.span(), "expected a copy window above 0");
        }
        o.window_bytes = w.get_ref().0;
    }
    if let Some(x) = &f.on_full {
        o.on_full = *x.get_ref();
    }
    if let Some(x) = &f.fence {
        o.fence = *x.get_ref();
    }
    if let Some(x) = &f.resume {
        o.resume = *x.get_ref();
    }
    o
}

fn workload(
    w: &Spanned<WorkloadFile>,
    storage: StorageSerial,
    scenario_path: &Path,
    volume_size: &dyn Fn(VolumeId) -> Option<u64>,
    ctx: &mut Ctx<'_>,
) -> Option<WorkloadDef> {
    let wf = w.get_ref();
    // A referenced volume must exist and sit on the host's storage.
    let check_volume = |v: &Spanned<VolumeId>, ctx: &mut Ctx<'_>| -> Option<u64> {
        let id = *v.get_ref();
        match volume_size(id) {
            None => {
                ctx.err(
                    v.span(),
                    format!("volume {id} is not defined in any [[storage]]"),
                );
                None
            }
            Some(_) if id.storage != storage => {
                ctx.err(v.span(), format!("volume {id} is on storage {}, but this host is attached to storage {storage}", id.storage));
                None
            }
            size => size,
        }
    };
    match (&wf.poisson, &wf.trace) {
        (Some(_), Some(t)) => {
            ctx.err(
                t.span(),
                "expected either `poisson` or `trace` in a workload, not both",
            );
            None
        }
        (None, None) => {
            ctx.err(
                w.span(),
                "expected a workload with `poisson = RATE` or `trace = PATH`",
            );
            None
        }
        (Some(rate), None) => {
            for (key, present) in [
                ("format", wf.format.is_some()),
                ("devices", wf.devices.is_some()),
                ("time_scale", wf.time_scale.is_some()),
                ("skip_bad_lines", wf.skip_bad_lines.is_some()),
                ("spread", wf.spread.is_some()),
            ] {
                if present {
                    ctx.err(
                        w.span(),
                        format!("`{key}` applies to trace workloads, and this one is poisson"),
                    );
                }
            }
            if !(rate.get_ref().is_finite() && *rate.get_ref() > 0.0) {
                ctx.err(
                    rate.span(),
                    format!(
                        "expected a poisson rate (I/Os per second) above 0, found {}",
                        rate.get_ref()
                    ),
                );
                return None;
            }
            let Some(volume) = &wf.volume else {
                ctx.err(
                    w.span(),
                    "expected `volume = \"STORAGE:VOLUME\"` for a poisson workload",
                );
                return None;
            };
            let volume_bytes = check_volume(volume, ctx)?;
            let sizes: Vec<(u64, u64)> = match (&wf.size, &wf.sizes) {
                (Some(_), Some(_)) => {
                    ctx.err(w.span(), "expected either `size` or `sizes`, not both");
                    return None;
                }
                (Some(s), None) => vec![(s.0, 1)],
                (None, Some(list)) => list.iter().map(|s| (s.size.0, s.weight)).collect(),
                (None, None) => vec![(4096, 1)],
            };
            if sizes.is_empty() || sizes.iter().all(|&(_, w)| w == 0) {
                ctx.err(
                    w.span(),
                    "expected `sizes` with at least one positive weight",
                );
                return None;
            }
            if let Some(&(s, _)) = sizes.iter().find(|&&(s, _)| s == 0 || s > volume_bytes) {
                ctx.err(
                    w.span(),
                    format!(
                        "expected I/O sizes between 1 byte and the volume size, found {}",
                        Bytes(s)
                    ),
                );
                return None;
            }
            let addresses = match wf
                .addresses
                .as_ref()
                .map(|a| (a.get_ref().as_str(), a.span()))
            {
                None | Some(("uniform", _)) => Addresses::Uniform,
                Some(("sequential", _)) => Addresses::Sequential,
                Some(("zipf", _)) => {
                    let s = wf.skew.as_ref().map_or(0.99, |s| *s.get_ref());
                    if !(s.is_finite() && s > 0.0) {
                        let span = wf.skew.as_ref().map_or(w.span(), Spanned::span);
                        ctx.err(span, format!("expected a zipf skew above 0, found {s}"));
                    }
                    Addresses::Zipf(s)
                }
                Some((other, span)) => {
                    ctx.err(span, format!("expected addresses \"uniform\", \"sequential\" or \"zipf\", found {other:?}"));
                    Addresses::Uniform
                }
            };
            if let (Some(skew), false) = (&wf.skew, matches!(addresses, Addresses::Zipf(_))) {
                ctx.err(skew.span(), "`skew` applies to addresses = \"zipf\"");
            }
            let read_fraction = wf.reads.as_ref().map_or(0.0, |r| *r.get_ref());
            if !(0.0..=1.0).contains(&read_fraction) {
                let span = wf.reads.as_ref().map_or(w.span(), Spanned::span);
                ctx.err(span, format!("expected `reads` (the share of I/Os that are reads) between 0 and 1, found {read_fraction}"));
            }
            Some(WorkloadDef::Poisson(PoissonDef {
                rate: *rate.get_ref(),
                sizes,
                addresses,
                read_fraction,
                volume: *volume.get_ref(),
                volume_size: volume_bytes,
            }))
        }
        (None, Some(trace)) => {
            for (key, present) in [
                ("size", wf.size.is_some()),
                ("sizes", wf.sizes.is_some()),
                ("addresses", wf.addresses.is_some()),
                ("skew", wf.skew.is_some()),
                ("reads", wf.reads.is_some()),
            ] {
                if present {
                    ctx.err(
                        w.span(),
                        format!("`{key}` applies to poisson workloads; a trace brings its own"),
                    );
                }
            }
            let Some(format) = wf.format else {
                ctx.err(trace.span(), "expected `format` (cloudphysics, disksim, mqsim, msr, umass or alibaba) with `trace`");
                return None;
            };
            let path = resolve_trace_path(trace.get_ref(), scenario_path);
            let path = match path {
                Ok(p) => p,
                Err(tried) => {
                    ctx.err(
                        trace.span(),
                        format!("trace {:?} not found (tried {})", trace.get_ref(), tried),
                    );
                    return None;
                }
            };
            if let Some(kind) = crate::trace::not_a_file(&path) {
                let message = format!(
                    "trace {:?}: expected a regular file, found {kind}",
                    trace.get_ref()
                );
                ctx.err(trace.span(), message);
                return None;
            }
            let time_scale = wf.time_scale.as_ref().map_or(1.0, |t| *t.get_ref());
            if !(time_scale.is_finite() && time_scale > 0.0) {
                let span = wf.time_scale.as_ref().map_or(w.span(), Spanned::span);
                ctx.err(span, format!("expected a time_scale above 0 (2.0 replays twice as slow), found {time_scale}"));
            }
            let mut map = Vec::new();
            match (&wf.volume, &wf.devices) {
                (Some(_), Some(_)) | (None, None) => {
                    ctx.err(w.span(), "expected either `volume` (every device onto one volume) or `devices = { \"0\" = \"STORAGE:VOLUME\", ... }`");
                    return None;
                }
                (Some(v), None) => map.push((None, *v.get_ref(), check_volume(v, ctx)?)),
                (None, Some(devices)) => {
                    for (device, v) in devices {
                        let Ok(d) = device.parse::<u64>() else {
                            ctx.err(
                                v.span(),
                                format!("expected a device number as the key, found {device:?}"),
                            );
                            continue;
                        };
                        if let Some(size) = check_volume(v, ctx) {
                            map.push((Some(d), *v.get_ref(), size));
                        }
                    }
                    // Numeric order, so lookups and outputs never depend on key spelling.
                    map.sort_by_key(|&(d, _, _)| d);
                }
            }
            Some(WorkloadDef::Trace(TraceDef {
                path,
                format,
                time_scale,
                skip_bad_lines: wf.skip_bad_lines.unwrap_or(false),
                spread: wf.spread.unwrap_or_default(),
                map,
            }))
        }
    }
}

/// A trace path relative to the scenario's directory, else to the current directory.
fn resolve_trace_path(given: &str, scenario_path: &Path) -> Result<PathBuf, String> {
    let p = Path::new(given);
    if p.is_absolute() {
        return if p.exists() {
            Ok(p.to_path_buf())
        } else {
            Err(p.display().to_string())
        };
    }
    let dir = scenario_path.parent().unwrap_or(Path::new(""));
    let beside = dir.join(p);
    if beside.exists() {
        return Ok(beside);
    }
    if p.exists() {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir().map_or_else(
        |_| p.display().to_string(),
        |d| d.join(p).display().to_string(),
    );
    Err(format!(
        "{} relative to the scenario's directory, then {} relative to the current directory",
        beside.display(),
        cwd
    ))
}

/// Checks the commands in file order against the topology they will meet.
fn commands(
    files: &[Spanned<CommandFile>],
    scenario: &Scenario,
    mut topology: Topology,
    mut check: bool,
    ctx: &mut Ctx<'_>,
) -> Vec<CommandDef> {
    let mut out = Vec::new();
    // Earliest time each command can run, for the no-copy check.
    let mut earliest = 0u64;
    // SVOLs frozen together by an atomic split and not touched since.
    let mut frozen: Vec<BTreeSet<VolumeId>> = Vec::new();
    for (i, c) in files.iter().enumerate() {
        let cf = c.get_ref();
        let when = match (&cf.at, &cf.after) {
            (Some(at), None) => {
                if cf.delay.is_some() {
                    ctx.err(c.span(), "`delay` applies to `after = \"previous\"`; with `at`, give the time itself");
                }
                let t = at.get_ref().0;
                if t >= scenario.duration_ns {
                    ctx.err(
                        at.span(),
                        format!(
                            "expected a time before the end of the run ({}), found {}",
                            Nanos(scenario.duration_ns),
                            at.get_ref()
                        ),
                    );
                }
                earliest = t;
                When::At(t)
            }
            (None, Some(after)) => {
                if after.get_ref() != "previous" {
                    ctx.err(
                        after.span(),
                        format!("expected after = \"previous\", found {:?}", after.get_ref()),
                    );
                }
                if i == 0 {
                    ctx.err(
                        after.span(),
                        "the first command has no previous command to wait for; give `at`",
                    );
                }
                let delay_ns = cf.delay.map_or(0, |d| d.0);
                earliest = earliest.saturating_add(delay_ns);
                When::AfterPrevious { delay_ns }
            }
            _ => {
                ctx.err(
                    c.span(),
                    "expected a [[command]] with either `at = TIME` or `after = \"previous\"`",
                );
                continue;
            }
        };
        let text = cf.run.get_ref().trim().to_string();
        let span = cf.run.span();
        let line: CommandLine = match text.parse() {
            Ok(l) => l,
            Err(e) => {
                ctx.err(span, e);
                check = false;
                continue;
            }
        };
        if check {
            // Later commands meet the world this one would have made: stop checking them.
            check = check_command(
                &line,
                scenario,
                &mut topology,
                &mut frozen,
                earliest,
                span,
                ctx,
            )
            .is_some();
        }
        out.push(CommandDef { when, line, text });
    }
    out
}

/// Parses and checks the `[replay]` steps in order, each against the world the steps before it
/// make (a `run paircreate` adds a mirror); returns the command lines the `run` steps issue,
/// in order, and the resolved steps. What only the run can tell (is that message in flight? is
/// that timer set?) is checked when the step runs.
fn replay_steps(
    steps: &Spanned<Vec<Spanned<String>>>,
    scenario: &Scenario,
    topology: Topology,
    mut check: bool,
    ctx: &mut Ctx<'_>,
) -> (Vec<CommandDef>, Vec<ReplayStep>) {
    if steps.get_ref().is_empty() {
        ctx.err(steps.span(), "expected at least one step in a replay");
    }
    let mut checker = StepChecker {
        scenario,
        topology,
        frozen: Vec::new(),
        writes: BTreeMap::new(),
        open: Vec::new(),
        commands: Vec::new(),
    };
    let mut out = Vec::new();
    for (i, spanned) in steps.get_ref().iter().enumerate() {
        let at = At {
            span: spanned.span(),
            n: i + 1,
        };
        let text = spanned.get_ref().trim().to_string();
        let action = match text.parse::<Step>() {
            Err(e) => at.err(ctx, e),
            Ok(_) if !check => continue,
            Ok(step) => checker.step(step, &at, ctx),
        };
        match action {
            Some(action) => {
                let (line, column) = line_column(ctx.text, at.span.start);
                out.push(ReplayStep {
                    line,
                    column,
                    text,
                    action,
                });
            }
            // Later steps meet the world this one would have made: stop checking them.
            None => check = false,
        }
    }
    (checker.commands, out)
}

/// Which replay step is being checked, for its messages.
struct At {
    span: Range<usize>,
    /// From 1.
    n: usize,
}

impl At {
    /// Reports a problem with the step; `None` for the step it leaves out.
    fn err<T>(&self, ctx: &mut Ctx<'_>, message: impl fmt::Display) -> Option<T> {
        ctx.err(self.span.clone(), format!("step {}: {message}", self.n));
        None
    }
}

/// What checking the replay steps in order keeps track of.
struct StepChecker<'s> {
    scenario: &'s Scenario,
    /// The mirrors as the steps so far leave them.
    topology: Topology,
    /// SVOLs frozen together by an atomic split (see [`check_command`]).
    frozen: Vec<BTreeSet<VolumeId>>,
    /// Write versions given out so far, with the step that wrote each.
    writes: BTreeMap<WriteId, usize>,
    /// Command lines being issued in parts: (command, parts issued, parts).
    open: Vec<(usize, u32, u32)>,
    /// The command lines the `run` steps issue, in order.
    commands: Vec<CommandDef>,
}

impl StepChecker<'_> {
    fn step(&mut self, step: Step, at: &At, ctx: &mut Ctx<'_>) -> Option<ReplayAction> {
        match step {
            Step::Write {
                host,
                write,
                volume,
                block,
            } => self.write(&host, write, volume, block, at, ctx),
            Step::Run { line, part } => self.run(line, part, at, ctx),
            Step::Deliver {
                via,
                from,
                to,
                message,
            } => {
                if let Some(s) = [from, to].into_iter().find(|&s| !self.storage_known(s)) {
                    at.err(ctx, format!("storage {s} is not defined"))
                } else if via == Transport::Interconnect
                    && self.scenario.link_between(from, to).is_none()
                {
                    at.err(ctx, format!("no [[link]] between {from} and {to}"))
                } else {
                    let m = self.mirror(&message.mirror, at, ctx)?;
                    Some(ReplayAction::Deliver {
                        via,
                        from,
                        to,
                        message: message.map(|_| m),
                    })
                }
            }
            Step::Timer {
                kind,
                mirror,
                system,
            } => {
                if !self.storage_known(system) {
                    return at.err(ctx, format!("storage {system} is not defined"));
                }
                let m = self.mirror(&mirror, at, ctx)?;
                Some(ReplayAction::Timer {
                    system,
                    timer: kind.timer(m),
                })
            }
        }
    }

    fn storage_known(&self, s: StorageSerial) -> bool {
        self.scenario.storages.iter().any(|x| x.serial == s)
    }

    /// The one mirror `r` names.
    fn mirror(&self, r: &MirrorRef, at: &At, ctx: &mut Ctx<'_>) -> Option<MirrorId> {
        match self.topology.resolve(std::slice::from_ref(r)) {
            Ok(ms) if ms.len() == 1 => Some(ms[0]),
            Ok(ms) => at.err(
                ctx,
                format!(
                    "group {r} names {} mirrors; name one as PVOL,SVOL",
                    ms.len()
                ),
            ),
            Err(e) => at.err(ctx, e),
        }
    }

    fn write(
        &mut self,
        host: &str,
        write: WriteId,
        volume: VolumeId,
        block: u64,
        at: &At,
        ctx: &mut Ctx<'_>,
    ) -> Option<ReplayAction> {
        let hosts = &self.scenario.hosts;
        let Some(h) = hosts.iter().position(|h| h.name == host) else {
            let known: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            return at.err(
                ctx,
                format!("no host named {host:?} (defined: {})", known.join(", ")),
            );
        };
        let Some(size) = self.scenario.volume(volume).map(|v| v.size) else {
            return at.err(
                ctx,
                format!("volume {volume} is not defined in any [[storage]]"),
            );
        };
        if hosts[h].storage != volume.storage {
            return at.err(
                ctx,
                format!(
                    "host {host:?} is attached to storage {}, so it cannot write {volume}",
                    hosts[h].storage
                ),
            );
        }
        let blocks = size / BLOCK_BYTES;
        if block >= blocks {
            return at.err(
                ctx,
                format!(
                    "expected a block of {volume} from 0 to {} (it holds {blocks} blocks of \
                     4KiB), found {block}",
                    blocks - 1
                ),
            );
        }
        if let Some(first) = self.writes.insert(write, at.n) {
            return at.err(
                ctx,
                format!(
                    "{write} is written at step {first} already; each write needs its own version"
                ),
            );
        }
        Some(ReplayAction::Write {
            host: h,
            write,
            volume,
            block,
        })
    }

    /// `run LINE`, or a part of it: the first part checks the line against the topology (as
    /// a `[[command]]` is) and counts the protocol commands it becomes; a later part must
    /// continue an earlier `run` of the same line.
    fn run(
        &mut self,
        line: CommandLine,
        part: Option<Part>,
        at: &At,
        ctx: &mut Ctx<'_>,
    ) -> Option<ReplayAction> {
        if let Some(p) = part.filter(|p| p.k > 1) {
            let text = line.to_string();
            let Some(i) = self.open.iter().position(|&(c, issued, of)| {
                self.commands[c].text == text && issued + 1 == p.k && of == p.of
            }) else {
                return at.err(
                    ctx,
                    format!(
                        "(part {} of {}) continues `run {text} (part {} of {})`, and no step \
                         before it ran that part",
                        p.k,
                        p.of,
                        p.k - 1,
                        p.of
                    ),
                );
            };
            let command = self.open[i].0;
            self.open[i].1 += 1;
            if self.open[i].1 == self.open[i].2 {
                self.open.remove(i);
            }
            return Some(ReplayAction::Run { command });
        }
        let span = at.span.clone();
        let parts = check_command(
            &line,
            self.scenario,
            &mut self.topology,
            &mut self.frozen,
            0,
            span,
            ctx,
        )?;
        match (parts, part) {
            (k, None) if k > 1 => at.err(
                ctx,
                format!(
                    "`{line}` is {k} protocol commands here (one per mirror): run each at its \
                     own step, `run {line} (part 1 of {k})` to `(part {k} of {k})`"
                ),
            ),
            (k, Some(p)) if k != p.of as usize => at.err(
                ctx,
                match k {
                    0 | 1 => format!("`{line}` is one command: remove the (part ...)"),
                    _ => format!("`{line}` is {k} protocol commands here, not {}", p.of),
                },
            ),
            (k, _) => {
                let command = self.commands.len();
                if k > 1 {
                    self.open.push((command, 1, k as u32));
                }
                self.commands.push(CommandDef {
                    when: When::Replay,
                    text: line.to_string(),
                    line,
                });
                Some(ReplayAction::Run { command })
            }
        }
    }
}

/// Checks one command line against the topology it will meet (which a `paircreate` extends);
/// returns how many protocol commands it becomes (0 for a fault), or `None` after reporting
/// why it cannot run.
fn check_command(
    line: &CommandLine,
    scenario: &Scenario,
    topology: &mut Topology,
    frozen: &mut Vec<BTreeSet<VolumeId>>,
    earliest: u64,
    span: Range<usize>,
    ctx: &mut Ctx<'_>,
) -> Option<usize> {
    let before = ctx.diagnostics.len();
    let storage_known = |s: StorageSerial| scenario.storages.iter().any(|x| x.serial == s);
    match line {
        CommandLine::LinkDown { link } | CommandLine::LinkUp { link } => {
            if !scenario.links.iter().any(|l| &l.name == link) {
                let known: Vec<&str> = scenario.links.iter().map(|l| l.name.as_str()).collect();
                ctx.err(
                    span,
                    format!("no link named {link:?} (defined: {})", known.join(", ")),
                );
                return None;
            }
            return Some(0);
        }
        CommandLine::Crash { storage }
        | CommandLine::Restart { storage }
        | CommandLine::Disaster { storage } => {
            if !storage_known(*storage) {
                ctx.err(span, format!("storage {storage} is not defined"));
                return None;
            }
            return Some(0);
        }
        CommandLine::Takeover { storage } if !storage_known(*storage) => {
            ctx.err(span, format!("storage {storage} is not defined"));
            return None;
        }
        CommandLine::PairCreate { pvol, svol, .. }
            if pvol.storage != svol.storage
                && scenario.link_between(pvol.storage, svol.storage).is_none() =>
        {
            ctx.err(
                span.clone(),
                format!(
                    "remote mirror {pvol} -> {svol} needs a [[link]] between {} and {}",
                    pvol.storage, svol.storage
                ),
            );
        }
        _ => {}
    }
    let resolved = match resolve(line, topology, scenario.defaults, scenario.protocol.mutant) {
        Ok(r) => r.unwrap_or_default(),
        Err(e) => {
            ctx.err(span, e);
            return None;
        }
    };
    let mirrors: Vec<MirrorId> = resolved
        .iter()
        .flat_map(|(_, c)| match c {
            mirrorlab_model::Command::Create { mirror, .. }
            | mirrorlab_model::Command::Resync { mirror, .. }
            | mirrorlab_model::Command::Delete { mirror } => vec![*mirror],
            mirrorlab_model::Command::Split { plan } => plan.mirrors(),
            mirrorlab_model::Command::Takeover => Vec::new(),
        })
        .collect();
    match line {
        CommandLine::PairSplit { atomic: true, .. } => {
            frozen.push(mirrors.iter().map(|m| m.svol).collect());
        }
        CommandLine::PairResync { .. } | CommandLine::PairDelete { .. } => {
            for set in frozen.iter_mut() {
                for m in &mirrors {
                    set.remove(&m.svol);
                }
            }
        }
        CommandLine::PairCreate {
            pvol,
            svol,
            nocopy: true,
            ..
        } => {
            if !frozen.iter().any(|s| s.contains(pvol) && s.contains(svol)) {
                ctx.err(span, format!(
                    "no-copy create of {pvol} -> {svol}: the volumes will not be identical; expected an earlier \
                     `pairsplit --atomic` of mirrors whose SVOLs are {pvol} and {svol} (or create with a full copy)"
                ));
                return None;
            }
            for h in &scenario.hosts {
                let Some(start) = h.start_ns else { continue };
                let writes = match &h.workload {
                    Some(WorkloadDef::Poisson(p)) => vec![p.volume],
                    Some(WorkloadDef::Trace(t)) => t.map.iter().map(|m| m.1).collect(),
                    None => Vec::new(),
                };
                if start < earliest {
                    if let Some(v) = writes.iter().find(|v| *v == pvol || *v == svol) {
                        ctx.err(span.clone(), format!(
                            "no-copy create of {pvol} -> {svol}: host {:?} writes {v} from {}, before this command \
                             (at {} or later), so the volumes will differ; start the host after the create",
                            h.name, Nanos(start), Nanos(earliest)
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    (ctx.diagnostics.len() == before).then_some(resolved.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let t = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_column(t, 0), (1, 1));
        assert_eq!(line_column(t, 6), (2, 1));
        assert_eq!(line_column(t, 11), (2, 5));
    }
}
