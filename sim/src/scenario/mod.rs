//! Scenario files: their TOML form (README "Simulation"), validation, and the checked
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
//!
//! The submodules, by concern: `file` (the serde shapes of the file), `parse` (reading and the
//! located [`Diagnostic`]s), `validate` (the sections in order), `workload` (a host's
//! workload), `commands` (`[[command]]` lines against the topology), `replay` (`[replay]`
//! steps). This file holds the checked [`Scenario`] a run is built from.

mod commands;
mod diagnostic;
mod file;
mod parse;
mod replay;
mod rules;
mod validate;
mod workload;

pub use diagnostic::{line_column, Diagnostic};
pub use parse::{load, parse, ScenarioError};
pub use rules::{check, PairKey, Problem, Subject, MAX_EVENTS, MAX_SAMPLES, MIN_PERIOD_NS};

use crate::trace::TraceFormat;
use mirrorlab_model::command::CommandLine;
use mirrorlab_model::replay::MessageKey;
use mirrorlab_model::topology::{ConsistencyGroup, MirrorSpec, VolumeSpec};
use mirrorlab_model::{
    CopyMode, MirrorId, PairOptions, ProtocolConfig, StorageSerial, Timer, Topology, Transport,
    VolumeId, WriteId,
};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::PathBuf;

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
    /// Consistency groups of those mirrors (`[[group]]`).
    pub groups: Vec<ConsistencyGroup>,
    /// Options for mirrors `paircreate` makes.
    pub defaults: PairOptions,
    pub commands: Vec<CommandDef>,
    /// A scripted run (`[replay]`): its steps instead of the clock.
    pub replay: Option<Replay>,
}

/// `write_latency` when a `[[storage]]` gives none: 250 us, a cache-hit write on an enterprise
/// array at low load (the README's "Array service time" says where the figure comes from).
pub const DEFAULT_WRITE_LATENCY_NS: u64 = 250_000;

/// The largest `write_latency` accepted: an array that takes a second to accept a write is
/// failing, which a scenario models as an outage instead.
pub const MAX_WRITE_LATENCY_NS: u64 = 1_000_000_000;

/// Why `write_latency` cannot be `ns` (`written` as the user wrote it), if it cannot: the one
/// rule for the file's key and `--vary storage.SERIAL.write_latency`.
pub fn write_latency_problem(ns: u64, written: &str) -> Option<String> {
    (ns > MAX_WRITE_LATENCY_NS).then(|| {
        format!(
            "expected `write_latency` at most 1s (the time the array takes to accept a write \
             into cache; a slower array is failing: model an outage), found {written}"
        )
    })
}

#[derive(Clone, Debug)]
pub struct StorageDef {
    pub serial: StorageSerial,
    pub site: String,
    /// Array service time: how long the array takes to accept a write into its cache, a fixed
    /// delay per write (no queue), paid by a host write at the primary and by a replicated
    /// write at the secondary. [`DEFAULT_WRITE_LATENCY_NS`] unless `write_latency` says.
    pub write_latency_ns: u64,
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
    /// `volumes`: the I/Os go to `volume` and these in turn (`volume` is the first of the
    /// list; `volume_size` the smallest), empty for one volume.
    pub more_volumes: Vec<VolumeId>,
    /// `dependent = true`: each write is issued only after the one before it was
    /// acknowledged, so it depends on it (a data page after its log record).
    pub dependent: bool,
}

/// When the records that share one timestamp are issued (`workload.spread`). A trace that
/// writes whole seconds (CloudPhysics) records every I/O of a second with the same time;
/// replayed as written they arrive as one burst in one nanosecond.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Spread {
    /// All at the time written, in file order: the trace as recorded (the default, so that a
    /// scenario's figures do not change unless it asks).
    #[default]
    None,
    /// The N records of one tick (the resolution the time is written with: 1 s for whole
    /// seconds, 1 us for six decimals of a second) at t0 + k * tick / N, k = 0..N, in file
    /// order; over less than a tick when the next record comes sooner, so times never go
    /// backwards. Buffers the records of one tick.
    Uniform,
}

impl std::str::FromStr for Spread {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Spread::None),
            "uniform" => Ok(Spread::Uniform),
            _ => Err(format!(
                "expected a spread of \"none\" (records of one timestamp at once) or \"uniform\" (evenly over the timestamp's tick), found {s:?}"
            )),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Spread {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::trace::deserialize_name(d, "\"none\" or \"uniform\"")
    }
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
    /// The mode-specific keys set for this mirror (by the file, or by an override that sets
    /// one): [`rules::check`] refuses those its mode does not use.
    pub keys: BTreeSet<PairKey>,
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
        for g in &self.groups {
            t.add_consistency_group(&g.name, &g.mirrors)
                .expect("validated: groups are consistent");
        }
        t
    }

    /// Makes every remote mirror, and every mirror `paircreate` will make, use `mode`.
    /// The file's keys for the mode it replaces have no effect in the run, so they are no
    /// longer counted as set (a study of modes keeps, say, a `journal` for its async runs).
    pub fn set_mode(&mut self, mode: CopyMode) {
        for m in &mut self.mirrors {
            if !m.id.is_local() {
                m.options.mode = mode;
                m.keys.retain(|k| k.mode() == mode);
            }
        }
        self.defaults.mode = mode;
        if mode == CopyMode::Adaptive {
            // Adaptive copies in address order and keeps no write order across volumes, so
            // it has no consistency groups (`Topology::add_consistency_group`).
            self.groups.clear();
        }
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
