//! `mirrorlab sweep` and `mirrorlab merge`: a grid of runs of one scenario, each with some
//! parameters changed (`--vary mode=sync,async --vary link.wan.bandwidth=50MB/s,100MB/s`),
//! run in parallel and written as one `sweep.csv` with a directory per run.
//!
//! This module owns the grid: which keys can vary and how each changes a cloned
//! [`Scenario`] (a bad key or value is refused before anything runs), the grid order (the
//! first `--vary` changes slowest), shards (`--shard I/N` runs the rows whose index is I
//! modulo N), the row of key results each run contributes, and merging shards back into the
//! exact files one unsharded sweep writes. Every run is single-threaded and deterministic and
//! rows are written in grid order, so the output is byte-identical whatever the thread count
//! or the sharding.
//!
//! A sweep directory holds `sweep.json` (what was varied, the RPO target, the shard),
//! `scenario.toml` (the scenario as given), `sweep.csv` (one row a run) and `runs/NNNN/` (the
//! `summary.json` and CSV time series of run NNNN, as `mirrorlab run` writes them).

use crate::output::{write_outputs, RunOutput};
use crate::report::data::{self, RunSummary};
use crate::run::{simulate, Overrides, SimError};
use crate::scenario::{self, Scenario, ScenarioError, WorkloadDef};
use crate::units::{Bytes, Nanos, Rate};
use indicatif::{ProgressBar, ProgressStyle};
use mirrorlab_model::{CopyMode, BLOCK_BYTES};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// `println!` that ignores a closed stdout (`mirrorlab sweep ... | head` must still finish
/// the sweep and its report).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Bumped when the layout of a sweep directory changes.
pub const FORMAT: u32 = 1;

/// The keys `--vary` accepts, for help and error messages.
pub const KEYS: &str = "mode, seed, duration, link.NAME.bandwidth, link.NAME.latency, \
     link.NAME.price_per_gb, link.NAME.price_per_mbps_month, mirror.GROUP.mode, \
     mirror.GROUP.chunk, mirror.GROUP.journal, mirror.GROUP.cycle, mirror.GROUP.pass, \
     mirror.GROUP.window, host.NAME.rate";

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A `--vary`, `--shard` or `--rpo-target` the scenario cannot take.
    #[error("{0}")]
    BadInput(String),
    /// Shards that do not make one sweep.
    #[error("{0}")]
    Merge(String),
    #[error("run {run} ({params}): {error}")]
    Sim {
        run: usize,
        params: String,
        error: SimError,
    },
    #[error("cannot write {}: {error}", .path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot read {}: {error}", .path.display())]
    Read { path: PathBuf, error: String },
}

impl SweepError {
    /// Bad input exits with 2, anything else with 1.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            SweepError::Scenario(_)
                | SweepError::BadInput(_)
                | SweepError::Merge(_)
                | SweepError::Sim { .. }
                | SweepError::Read { .. }
        )
    }
}

fn bad(msg: impl Into<String>) -> SweepError {
    SweepError::BadInput(msg.into())
}

// ----- parameters -----

/// One thing a sweep can change about a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Param {
    /// Copy mode of every remote mirror (and of those `paircreate` makes).
    Mode,
    Seed,
    Duration,
    LinkBandwidth(String),
    LinkLatency(String),
    LinkPricePerGb(String),
    LinkPricePerMbpsMonth(String),
    MirrorMode(String),
    MirrorChunk(String),
    MirrorJournal(String),
    /// Periodic cycle or adaptive pass interval (one setting in the protocol).
    MirrorPeriod(String),
    MirrorWindow(String),
    HostRate(String),
}

impl Param {
    /// Reads a key such as `link.wan.bandwidth`, checking names against `s`.
    pub fn parse(key: &str, s: &Scenario) -> Result<Param, SweepError> {
        let parts: Vec<&str> = key.split('.').collect();
        let unknown = || {
            bad(format!(
                "unknown --vary key {key:?}: expected one of {KEYS}"
            ))
        };
        let link = |name: &str| -> Result<String, SweepError> {
            if s.links.iter().any(|l| l.name == name) {
                Ok(name.to_string())
            } else {
                let known: Vec<&str> = s.links.iter().map(|l| l.name.as_str()).collect();
                Err(bad(format!(
                    "--vary {key}: the scenario has no link named {name:?} (links: {})",
                    known.join(", ")
                )))
            }
        };
        let mirror = |group: &str| -> Result<String, SweepError> {
            if s.mirrors.iter().any(|m| m.group == group) {
                Ok(group.to_string())
            } else {
                let known: Vec<&str> = s.mirrors.iter().map(|m| m.group.as_str()).collect();
                Err(bad(format!(
                    "--vary {key}: the scenario has no [[mirror]] in group {group:?} (groups: {})",
                    known.join(", ")
                )))
            }
        };
        Ok(match parts[..] {
            ["mode"] => Param::Mode,
            ["seed"] => Param::Seed,
            ["duration"] => Param::Duration,
            ["link", name, field] => match field {
                "bandwidth" => Param::LinkBandwidth(link(name)?),
                "latency" => Param::LinkLatency(link(name)?),
                "price_per_gb" => Param::LinkPricePerGb(link(name)?),
                "price_per_mbps_month" => Param::LinkPricePerMbpsMonth(link(name)?),
                _ => return Err(unknown()),
            },
            ["mirror", group, field] => {
                let g = mirror(group)?;
                let remote = s.mirrors.iter().any(|m| m.group == group && !m.id.is_local());
                let remote_only = |p: Param| {
                    if remote {
                        Ok(p)
                    } else {
                        Err(bad(format!(
                            "--vary {key}: group {group:?} is a local mirror, and `{field}` applies to remote mirrors"
                        )))
                    }
                };
                match field {
                    "mode" => remote_only(Param::MirrorMode(g))?,
                    "chunk" => Param::MirrorChunk(g),
                    "journal" => remote_only(Param::MirrorJournal(g))?,
                    "cycle" | "pass" => remote_only(Param::MirrorPeriod(g))?,
                    "window" => Param::MirrorWindow(g),
                    _ => return Err(unknown()),
                }
            }
            ["host", name, "rate"] => match s.hosts.iter().find(|h| h.name == name) {
                Some(h) if matches!(h.workload, Some(WorkloadDef::Poisson(_))) => Param::HostRate(name.to_string()),
                Some(_) => {
                    return Err(bad(format!(
                        "--vary {key}: host {name:?} does not have a poisson workload (a trace sets its own rate)"
                    )))
                }
                None => {
                    let known: Vec<&str> = s.hosts.iter().map(|h| h.name.as_str()).collect();
                    return Err(bad(format!(
                        "--vary {key}: the scenario has no host named {name:?} (hosts: {})",
                        known.join(", ")
                    )));
                }
            },
            _ => return Err(unknown()),
        })
    }

    /// Checks `value` and returns it in canonical form ("100MB/s", "8KiB", "semi-sync").
    pub fn canonical(&self, key: &str, value: &str) -> Result<String, SweepError> {
        let v = value.trim();
        let wrong = |e: &dyn std::fmt::Display| bad(format!("--vary {key}: {e}"));
        let positive = |x: u64, what: &str| {
            if x == 0 {
                Err(bad(format!(
                    "--vary {key}: expected {what} above 0, found {v:?}"
                )))
            } else {
                Ok(())
            }
        };
        Ok(match self {
            Param::Mode | Param::MirrorMode(_) => {
                CopyMode::from_str(v).map_err(|e| wrong(&e))?.to_string()
            }
            Param::Seed => v
                .parse::<u64>()
                .map_err(|_| {
                    bad(format!(
                        "--vary {key}: expected a seed (a whole number), found {v:?}"
                    ))
                })?
                .to_string(),
            Param::Duration | Param::LinkLatency(_) | Param::MirrorPeriod(_) => {
                let n = Nanos::from_str(v).map_err(|e| wrong(&e))?;
                if !matches!(self, Param::LinkLatency(_)) {
                    positive(n.0, "a duration")?;
                }
                n.to_string()
            }
            Param::LinkBandwidth(_) => {
                let r = Rate::from_str(v).map_err(|e| wrong(&e))?;
                positive(r.0, "a bandwidth")?;
                r.to_string()
            }
            Param::MirrorChunk(_) => {
                let b = Bytes::from_str(v).map_err(|e| wrong(&e))?;
                if b.0 == 0 || b.0 % BLOCK_BYTES != 0 {
                    return Err(bad(format!(
                        "--vary {key}: expected a chunk that is a positive multiple of 4KiB, found {v:?}"
                    )));
                }
                b.to_string()
            }
            Param::MirrorJournal(_) | Param::MirrorWindow(_) => {
                let b = Bytes::from_str(v).map_err(|e| wrong(&e))?;
                positive(b.0, "a size")?;
                b.to_string()
            }
            Param::LinkPricePerGb(_) | Param::LinkPricePerMbpsMonth(_) | Param::HostRate(_) => {
                let x: f64 = v
                    .parse()
                    .map_err(|_| bad(format!("--vary {key}: expected a number, found {v:?}")))?;
                let ok = x.is_finite()
                    && if matches!(self, Param::HostRate(_)) {
                        x > 0.0
                    } else {
                        x >= 0.0
                    };
                if !ok {
                    return Err(bad(format!(
                        "--vary {key}: expected a number above 0, found {v:?}"
                    )));
                }
                format!("{x}")
            }
        })
    }

    /// The scenario's own value, canonical (for the mode: the first remote mirror's).
    pub fn value_in(&self, s: &Scenario) -> Option<String> {
        let link = |n: &str| s.links.iter().find(|l| l.name == n);
        let mirror = |g: &str| s.mirrors.iter().find(|m| m.group == g).map(|m| m.options);
        Some(match self {
            Param::Mode => s
                .mirrors
                .iter()
                .find(|m| !m.id.is_local())?
                .options
                .mode
                .to_string(),
            Param::Seed => s.seed.to_string(),
            Param::Duration => Nanos(s.duration_ns).to_string(),
            Param::LinkBandwidth(n) => Rate(link(n)?.bandwidth).to_string(),
            Param::LinkLatency(n) => Nanos(link(n)?.latency_ns).to_string(),
            Param::LinkPricePerGb(n) => format!("{}", link(n)?.price_per_gb),
            Param::LinkPricePerMbpsMonth(n) => format!("{}", link(n)?.price_per_mbps_month),
            Param::MirrorMode(g) => mirror(g)?.mode.to_string(),
            Param::MirrorChunk(g) => Bytes(mirror(g)?.chunk_bytes).to_string(),
            Param::MirrorJournal(g) => Bytes(mirror(g)?.journal_bytes).to_string(),
            Param::MirrorPeriod(g) => Nanos(mirror(g)?.period_ns).to_string(),
            Param::MirrorWindow(g) => Bytes(mirror(g)?.window_bytes).to_string(),
            Param::HostRate(n) => match &s.hosts.iter().find(|h| &h.name == n)?.workload {
                Some(WorkloadDef::Poisson(p)) => format!("{}", p.rate),
                _ => return None,
            },
        })
    }

    /// Sets the (canonical) `value` on `s`.
    pub fn apply(&self, s: &mut Scenario, value: &str) {
        let bytes = || Bytes::from_str(value).map_or(0, |b| b.0);
        let nanos = || Nanos::from_str(value).map_or(0, |n| n.0);
        let number = || value.parse::<f64>().unwrap_or(0.0);
        match self {
            Param::Mode => {
                if let Ok(m) = CopyMode::from_str(value) {
                    s.set_mode(m);
                }
            }
            Param::Seed => s.seed = value.parse().unwrap_or(s.seed),
            Param::Duration => s.duration_ns = nanos(),
            Param::LinkBandwidth(n)
            | Param::LinkLatency(n)
            | Param::LinkPricePerGb(n)
            | Param::LinkPricePerMbpsMonth(n) => {
                for l in s.links.iter_mut().filter(|l| &l.name == n) {
                    match self {
                        Param::LinkBandwidth(_) => {
                            l.bandwidth = Rate::from_str(value).map_or(1, |r| r.0)
                        }
                        Param::LinkLatency(_) => l.latency_ns = nanos(),
                        Param::LinkPricePerGb(_) => l.price_per_gb = number(),
                        _ => l.price_per_mbps_month = number(),
                    }
                }
            }
            Param::MirrorMode(g)
            | Param::MirrorChunk(g)
            | Param::MirrorJournal(g)
            | Param::MirrorPeriod(g)
            | Param::MirrorWindow(g) => {
                for m in s.mirrors.iter_mut().filter(|m| &m.group == g) {
                    let o = &mut m.options;
                    match self {
                        Param::MirrorMode(_) => {
                            if let Ok(mode) = CopyMode::from_str(value) {
                                o.mode = mode;
                            }
                        }
                        Param::MirrorChunk(_) => o.chunk_bytes = bytes(),
                        Param::MirrorJournal(_) => o.journal_bytes = bytes(),
                        Param::MirrorPeriod(_) => o.period_ns = nanos(),
                        _ => o.window_bytes = bytes(),
                    }
                }
            }
            Param::HostRate(n) => {
                for h in s.hosts.iter_mut().filter(|h| &h.name == n) {
                    if let Some(WorkloadDef::Poisson(p)) = &mut h.workload {
                        p.rate = number();
                    }
                }
            }
        }
    }
}

/// One `--vary KEY=V1,V2,...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vary {
    pub key: String,
    pub param: Param,
    /// Canonical values, in the order given.
    pub values: Vec<String>,
}

impl Vary {
    /// Parses `KEY=V1,V2,...` against scenario `s`.
    pub fn parse(spec: &str, s: &Scenario) -> Result<Vary, SweepError> {
        let Some((key, values)) = spec.split_once('=') else {
            return Err(bad(format!(
                "--vary {spec:?}: expected KEY=VALUE,VALUE,... e.g. mode=sync,async or link.wan.bandwidth=50MB/s,100MB/s"
            )));
        };
        let key = key.trim();
        let param = Param::parse(key, s)?;
        let mut out: Vec<String> = Vec::new();
        for v in values.split(',') {
            if v.trim().is_empty() {
                return Err(bad(format!("--vary {key}: empty value in {values:?}")));
            }
            let c = param.canonical(key, v)?;
            if out.contains(&c) {
                return Err(bad(format!("--vary {key}: value {c} is given twice")));
            }
            out.push(c);
        }
        Ok(Vary {
            key: key.to_string(),
            param,
            values: out,
        })
    }
}

/// The cartesian product of the varies, the first changing slowest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    pub varies: Vec<Vary>,
}

impl Grid {
    /// Parses every `--vary`; keys must be distinct. No vary: a grid of one run.
    pub fn parse(specs: &[String], s: &Scenario) -> Result<Grid, SweepError> {
        let mut varies: Vec<Vary> = Vec::new();
        for spec in specs {
            let v = Vary::parse(spec, s)?;
            if varies.iter().any(|x| x.param == v.param) {
                return Err(bad(format!(
                    "--vary {} is given twice; list every value in one --vary",
                    v.key
                )));
            }
            varies.push(v);
        }
        Ok(Grid { varies })
    }

    pub fn len(&self) -> usize {
        self.varies.iter().map(|v| v.values.len()).product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values of row `i`, one per vary.
    pub fn point(&self, i: usize) -> Vec<&str> {
        let mut rest = i;
        let mut out = vec![""; self.varies.len()];
        for (k, v) in self.varies.iter().enumerate().rev() {
            let n = v.values.len();
            out[k] = v.values[rest % n].as_str();
            rest /= n;
        }
        out
    }

    /// A copy of `base` with row `i` applied.
    pub fn scenario(&self, base: &Scenario, i: usize) -> Scenario {
        let mut s = base.clone();
        for (v, value) in self.varies.iter().zip(self.point(i)) {
            v.param.apply(&mut s, value);
        }
        s
    }

    /// "mode=sync link.wan.bandwidth=50MB/s" for row `i`.
    pub fn label(&self, i: usize) -> String {
        let p = self.point(i);
        if p.is_empty() {
            return "base scenario".to_string();
        }
        self.varies
            .iter()
            .zip(p)
            .map(|(v, x)| format!("{}={x}", v.key))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `--shard I/N`: this process runs rows whose index is `index` modulo `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let parsed = s.split_once('/').and_then(|(i, n)| {
            Some((
                i.trim().parse::<usize>().ok()?,
                n.trim().parse::<usize>().ok()?,
            ))
        });
        match parsed {
            Some((index, count)) if count > 0 && index < count => Ok(Shard { index, count }),
            _ => Err(format!(
                "expected a shard I/N with 0 <= I < N (e.g. 0/4, or $SLURM_ARRAY_TASK_ID/4), found {s:?}"
            )),
        }
    }
}

impl Shard {
    pub fn rows(&self, len: usize) -> impl Iterator<Item = usize> + '_ {
        (self.index..len).step_by(self.count)
    }

    pub fn is_whole(&self) -> bool {
        self.count == 1
    }
}

// ----- results -----

/// The key results of one run, as a sweep row holds them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunResult {
    /// All links, both directions.
    pub data_bytes: u64,
    pub control_bytes: u64,
    /// The busiest link's busy fraction.
    pub busy_fraction: f64,
    /// Largest over remote mirrors.
    pub max_lag_bytes: u64,
    /// The oldest write not yet on its SVOL, largest over the run and remote mirrors (from
    /// the sampled lag and from every write's replication delay).
    pub max_rpo_ns: u64,
    pub delay_p99_ns: u64,
    /// Production hosts (the largest over them).
    pub write_p50_ns: u64,
    pub write_p99_ns: u64,
    pub write_p999_ns: u64,
    pub writes: u64,
    pub failed_writes: u64,
    /// Dollars per month.
    pub cost_transfer: f64,
    pub cost_provisioned: f64,
    pub cost_total: f64,
    /// The second remote mirror (Fig 12): full copy versus atomic split + no-copy.
    pub second_conventional_bytes: u64,
    pub second_conventional_ns: u64,
    pub second_conventional_done: bool,
    pub second_nocopy_bytes: u64,
    pub second_nocopy_ns: u64,
    pub has_second: bool,
    pub split_ns: u64,
    pub split_stall_ns: u64,
    /// Data bytes resyncs sent, and bytes every host wrote during the run.
    pub resync_bytes: u64,
    pub resync_dirty_bytes: u64,
    /// Every resync issued completed before the end of the run.
    pub resyncs_completed: bool,
    pub written_bytes: u64,
    /// `GROUP=STATE` for every mirror, by group.
    pub final_states: String,
    pub invariants_ok: bool,
    /// Every remote mirror keeps a consistent SVOL: a prefix of the writes, or the PVOL as of
    /// a whole cycle. All modes but adaptive, whose SVOL is not a consistent image while a
    /// pass runs (DESIGN.md, copy modes), so its RPO is not a point a database restarts from.
    pub consistent_copy: bool,
}

/// Whether a run answers "is this link enough for this RPO target?", and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Meets,
    MissesRpo,
    /// Host writes waited longer than the target before the array took them (p99): a write
    /// queued at the host is as much at risk as one acknowledged and not copied, and an
    /// open-loop workload that queues without bound is not a configuration to buy.
    HostWritesWait,
    /// The RPO may be met, but there is no consistent copy to recover to (adaptive).
    NoConsistentCopy,
    InvariantFailed,
}

impl Verdict {
    /// Short words for tables.
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Meets => "meets RPO target",
            Verdict::MissesRpo => "misses RPO target",
            Verdict::HostWritesWait => "host writes wait longer than the RPO target",
            Verdict::NoConsistentCopy => "no consistent copy (adaptive)",
            Verdict::InvariantFailed => "INVARIANT FAILED",
        }
    }
}

impl RunResult {
    /// The verdict against `rpo_target_ns`; the first reason that applies.
    pub fn verdict(&self, rpo_target_ns: u64) -> Verdict {
        if !self.invariants_ok {
            Verdict::InvariantFailed
        } else if !self.consistent_copy {
            Verdict::NoConsistentCopy
        } else if self.max_rpo_ns > rpo_target_ns {
            Verdict::MissesRpo
        } else if self.write_p99_ns > rpo_target_ns {
            Verdict::HostWritesWait
        } else {
            Verdict::Meets
        }
    }

    /// The row of a run in memory.
    pub fn from_output(out: &RunOutput) -> RunResult {
        RunResult::from_summary(&RunSummary::from_output(out), data::max_lag_us(out))
    }

    /// The row from a run's summary and its largest sampled lag in microseconds (what
    /// `lag.csv` holds), so a run in memory and one read from disk give the same row.
    pub fn from_summary(s: &RunSummary, max_lag_us: u64) -> RunResult {
        let remote: Vec<_> = s.mirrors.iter().filter(|m| m.mode != "local").collect();
        let prod: Vec<_> = s.hosts.iter().filter(|h| h.role == "production").collect();
        let delay_rpo = remote
            .iter()
            .map(|m| m.replication_delay_ns.max)
            .max()
            .unwrap_or(0);
        let mut states: Vec<(String, String)> = s
            .mirrors
            .iter()
            .map(|m| (m.group.clone(), m.final_state.clone()))
            .collect();
        states.sort();
        states.dedup();
        let second = s.second_mirror.as_ref();
        let split = s.splits.first();
        RunResult {
            data_bytes: s.links.iter().map(|l| l.data_bytes).sum(),
            control_bytes: s.links.iter().map(|l| l.control_bytes).sum(),
            busy_fraction: s.links.iter().map(|l| l.busy_fraction).fold(0.0, f64::max),
            max_lag_bytes: remote.iter().map(|m| m.max_lag_bytes).max().unwrap_or(0),
            max_rpo_ns: (max_lag_us * 1_000).max(delay_rpo),
            delay_p99_ns: remote
                .iter()
                .map(|m| m.replication_delay_ns.p99)
                .max()
                .unwrap_or(0),
            write_p50_ns: prod
                .iter()
                .map(|h| h.write_latency_ns.p50)
                .max()
                .unwrap_or(0),
            write_p99_ns: prod
                .iter()
                .map(|h| h.write_latency_ns.p99)
                .max()
                .unwrap_or(0),
            write_p999_ns: prod
                .iter()
                .map(|h| h.write_latency_ns.p999)
                .max()
                .unwrap_or(0),
            writes: prod.iter().map(|h| h.writes).sum(),
            failed_writes: prod.iter().map(|h| h.failed).sum(),
            cost_transfer: s.cost.transfer,
            cost_provisioned: s.cost.provisioned,
            cost_total: s.cost.total,
            second_conventional_bytes: second.map_or(0, |m| {
                m.conventional.data_bytes + m.conventional.control_bytes
            }),
            second_conventional_ns: second.map_or(0, |m| m.conventional.duration_ns),
            second_conventional_done: second.is_some_and(|m| m.conventional.completed),
            second_nocopy_bytes: second.map_or(0, |m| m.nocopy.data_bytes + m.nocopy.control_bytes),
            second_nocopy_ns: second.map_or(0, |m| m.nocopy.duration_ns),
            has_second: second.is_some(),
            split_ns: split.and_then(|x| x.duration_ns).unwrap_or(0),
            split_stall_ns: split.map_or(0, |x| x.host_io_stall_ns),
            resync_bytes: s.resyncs.iter().map(|r| r.data_bytes).sum(),
            resync_dirty_bytes: s
                .resyncs
                .iter()
                .map(|r| r.dirty_chunks * r.chunk_bytes)
                .sum(),
            resyncs_completed: s.resyncs.iter().all(|r| r.completed_ns.is_some()),
            written_bytes: s.hosts.iter().map(|h| h.bytes_written).sum(),
            final_states: states
                .iter()
                .map(|(g, st)| format!("{g}={st}"))
                .collect::<Vec<_>>()
                .join(" "),
            invariants_ok: s.invariants.ok,
            consistent_copy: remote.iter().all(|m| m.mode != "adaptive"),
        }
    }
}

/// The result columns of `sweep.csv`, after `run` and the varied keys.
pub const RESULT_COLUMNS: [&str; 29] = [
    "data_bytes",
    "control_bytes",
    "busy_fraction",
    "max_lag_bytes",
    "max_rpo_s",
    "delay_p99_s",
    "write_p50_ms",
    "write_p99_ms",
    "write_p999_ms",
    "writes",
    "failed_writes",
    "cost_transfer_usd_month",
    "cost_provisioned_usd_month",
    "cost_total_usd_month",
    "second_conventional_bytes",
    "second_conventional_s",
    "second_conventional_done",
    "second_nocopy_bytes",
    "second_nocopy_s",
    "has_second",
    "split_s",
    "split_stall_ms",
    "resync_bytes",
    "resync_dirty_bytes",
    "resyncs_completed",
    "written_bytes",
    "final_states",
    "invariants",
    "label",
];

/// Nanoseconds as seconds with 6 decimals, from integers (byte-stable).
pub fn ns_as_s(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, ns % 1_000_000_000 / 1_000)
}

/// Nanoseconds as milliseconds with 3 decimals.
pub fn ns_as_ms(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000_000, ns % 1_000_000 / 1_000)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One row of `sweep.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub run: usize,
    pub params: Vec<String>,
    pub result: RunResult,
    pub label: String,
}

impl Row {
    /// The CSV line, without the newline.
    pub fn csv_line(&self) -> String {
        let r = &self.result;
        let mut f: Vec<String> = vec![self.run.to_string()];
        f.extend(self.params.iter().map(|p| csv_field(p)));
        f.extend([
            r.data_bytes.to_string(),
            r.control_bytes.to_string(),
            format!("{:.4}", r.busy_fraction),
            r.max_lag_bytes.to_string(),
            ns_as_s(r.max_rpo_ns),
            ns_as_s(r.delay_p99_ns),
            ns_as_ms(r.write_p50_ns),
            ns_as_ms(r.write_p99_ns),
            ns_as_ms(r.write_p999_ns),
            r.writes.to_string(),
            r.failed_writes.to_string(),
            format!("{:.2}", r.cost_transfer),
            format!("{:.2}", r.cost_provisioned),
            format!("{:.2}", r.cost_total),
            r.second_conventional_bytes.to_string(),
            ns_as_s(r.second_conventional_ns),
            r.second_conventional_done.to_string(),
            r.second_nocopy_bytes.to_string(),
            ns_as_s(r.second_nocopy_ns),
            r.has_second.to_string(),
            ns_as_s(r.split_ns),
            ns_as_ms(r.split_stall_ns),
            r.resync_bytes.to_string(),
            r.resync_dirty_bytes.to_string(),
            r.resyncs_completed.to_string(),
            r.written_bytes.to_string(),
            csv_field(&r.final_states),
            if r.invariants_ok { "ok" } else { "FAILED" }.to_string(),
            csv_field(&self.label),
        ]);
        f.join(",")
    }
}

/// The header line of `sweep.csv` for `keys`.
pub fn csv_header(keys: &[String]) -> String {
    let mut h = vec!["run".to_string()];
    h.extend(keys.iter().map(|k| csv_field(k)));
    h.extend(RESULT_COLUMNS.iter().map(|c| c.to_string()));
    h.join(",")
}

// ----- the sweep -----

/// What a sweep directory's `sweep.json` records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepMeta {
    pub format: u32,
    pub scenario: String,
    pub scenario_path: String,
    pub base_seed: u64,
    pub duration_ns: u64,
    pub varies: Vec<VaryMeta>,
    pub runs: usize,
    /// The RPO a copy mode must keep to count as good enough, for the report's answer.
    pub rpo_target_ns: u64,
    pub shard: Shard,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VaryMeta {
    pub key: String,
    pub values: Vec<String>,
}

/// A sweep ready to run.
#[derive(Clone, Debug)]
pub struct Sweep {
    pub scenario: Scenario,
    /// The scenario file's text, copied into the sweep directory.
    pub scenario_text: String,
    pub grid: Grid,
    pub rpo_target_ns: u64,
}

/// How to run it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SweepOptions {
    pub shard: Shard,
    /// Worker threads; `None`: rayon's default (one per core).
    pub threads: Option<usize>,
    /// A progress bar on stderr when it is a terminal.
    pub progress: bool,
}

/// The RPO target when none is given.
pub const DEFAULT_RPO_TARGET_NS: u64 = 60_000_000_000;

impl Sweep {
    /// Loads the scenario at `path` and parses the varies against it.
    pub fn load(path: &Path, varies: &[String], rpo_target_ns: u64) -> Result<Sweep, SweepError> {
        let text = fs::read_to_string(path).map_err(|error| ScenarioError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Sweep::from_text(&text, path, varies, rpo_target_ns)
    }

    /// As [`Sweep::load`], for a scenario given as text (`path` names it in messages).
    pub fn from_text(
        text: &str,
        path: &Path,
        varies: &[String],
        rpo_target_ns: u64,
    ) -> Result<Sweep, SweepError> {
        let scenario = scenario::parse(text, path)?;
        if scenario.replay.is_some() {
            return Err(bad(format!(
                "{} is a replay: its steps fit one run, which `mirrorlab run` replays; a sweep \
                 varies a scenario driven by the clock",
                path.display()
            )));
        }
        let grid = Grid::parse(varies, &scenario)?;
        Ok(Sweep {
            scenario,
            scenario_text: text.to_string(),
            grid,
            rpo_target_ns,
        })
    }

    pub fn meta(&self, shard: Shard) -> SweepMeta {
        SweepMeta {
            format: FORMAT,
            scenario: self.scenario.name.clone(),
            scenario_path: self.scenario.path.display().to_string(),
            base_seed: self.scenario.seed,
            duration_ns: self.scenario.duration_ns,
            varies: self
                .grid
                .varies
                .iter()
                .map(|v| VaryMeta {
                    key: v.key.clone(),
                    values: v.values.clone(),
                })
                .collect(),
            runs: self.grid.len(),
            rpo_target_ns: self.rpo_target_ns,
            shard,
        }
    }

    /// Runs row `i` alone (what a sweep row holds, and what a test compares it with).
    pub fn run_one(&self, i: usize) -> Result<RunOutput, SweepError> {
        let s = self.grid.scenario(&self.scenario, i);
        simulate(&s, &Overrides::default()).map_err(|error| SweepError::Sim {
            run: i,
            params: self.grid.label(i),
            error,
        })
    }

    /// Runs this shard's rows in parallel, writes each run's directory under `out/runs/` and
    /// then `sweep.json`, `scenario.toml` and `sweep.csv` (last, so a complete `sweep.csv`
    /// means a complete sweep). Returns the rows in grid order.
    pub fn run(&self, opts: &SweepOptions, out: &Path) -> Result<Vec<Row>, SweepError> {
        let write_err = |path: &Path| {
            let path = path.to_path_buf();
            move |error| SweepError::Write { path, error }
        };
        fs::create_dir_all(out).map_err(write_err(out))?;
        // A previous sweep's results must not mix with this one's.
        for stale in ["sweep.csv", "index.html"] {
            let p = out.join(stale);
            if p.exists() {
                fs::remove_file(&p).map_err(write_err(&p))?;
            }
        }
        let runs_dir = out.join("runs");
        if runs_dir.exists() {
            fs::remove_dir_all(&runs_dir).map_err(write_err(&runs_dir))?;
        }
        fs::create_dir_all(&runs_dir).map_err(write_err(&runs_dir))?;
        let indices: Vec<usize> = opts.shard.rows(self.grid.len()).collect();
        let bar = (opts.progress && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(indices.len() as u64);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} sweep {bar:40} {pos}/{len} runs [{elapsed}] {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        });
        let work = || -> Result<Vec<Row>, SweepError> {
            indices
                .par_iter()
                .map(|&i| {
                    let output = self.run_one(i)?;
                    let dir = runs_dir.join(run_dir_name(i));
                    write_outputs(&output, &dir).map_err(write_err(&dir))?;
                    if let Some(b) = &bar {
                        b.inc(1);
                    }
                    Ok(Row {
                        run: i,
                        params: self.grid.point(i).into_iter().map(String::from).collect(),
                        result: RunResult::from_output(&output),
                        label: self.grid.label(i),
                    })
                })
                .collect()
        };
        let rows = match opts.threads {
            Some(n) => rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .map_err(|e| bad(format!("cannot start {n} threads: {e}")))?
                .install(work),
            None => work(),
        };
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        let rows = rows?;
        let keys: Vec<String> = self.grid.varies.iter().map(|v| v.key.clone()).collect();
        write_sweep_files(
            out,
            &self.meta(opts.shard),
            &self.scenario_text,
            &keys,
            &rows_text(&rows),
        )?;
        Ok(rows)
    }
}

/// `runs/NNNN`.
pub fn run_dir_name(i: usize) -> String {
    format!("{i:04}")
}

fn rows_text(rows: &[Row]) -> Vec<(usize, String)> {
    rows.iter().map(|r| (r.run, r.csv_line())).collect()
}

fn write_atomic(path: &Path, text: &str) -> Result<(), SweepError> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text)
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|error| SweepError::Write {
            path: path.to_path_buf(),
            error,
        })
}

fn write_sweep_files(
    out: &Path,
    meta: &SweepMeta,
    scenario_text: &str,
    keys: &[String],
    rows: &[(usize, String)],
) -> Result<(), SweepError> {
    let mut json = serde_json::to_string_pretty(meta).map_err(|e| bad(e.to_string()))?;
    json.push('\n');
    write_atomic(&out.join("sweep.json"), &json)?;
    write_atomic(&out.join("scenario.toml"), scenario_text)?;
    let mut csv = csv_header(keys);
    csv.push('\n');
    for (_, line) in rows {
        let _ = writeln!(csv, "{line}");
    }
    write_atomic(&out.join("sweep.csv"), &csv)
}

/// Reads a sweep directory's `sweep.json`.
pub fn read_meta(dir: &Path) -> Result<SweepMeta, SweepError> {
    let path = dir.join("sweep.json");
    let text = fs::read_to_string(&path).map_err(|e| SweepError::Read {
        path: path.clone(),
        error: e.to_string(),
    })?;
    let meta: SweepMeta = serde_json::from_str(&text).map_err(|e| SweepError::Read {
        path: path.clone(),
        error: format!("not a mirrorlab sweep.json: {e}"),
    })?;
    if meta.format != FORMAT {
        return Err(SweepError::Read {
            path,
            error: format!(
                "written by another mirrorlab (format {}, expected {FORMAT})",
                meta.format
            ),
        });
    }
    Ok(meta)
}

/// `sweep.csv`'s header and its lines keyed by run index.
fn read_rows(dir: &Path) -> Result<(String, Vec<(usize, String)>), SweepError> {
    let path = dir.join("sweep.csv");
    let text = fs::read_to_string(&path).map_err(|e| SweepError::Read {
        path: path.clone(),
        error: format!("{e} (an unfinished shard?)"),
    })?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().to_string();
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let run = line
            .split(',')
            .next()
            .and_then(|r| r.parse::<usize>().ok())
            .ok_or_else(|| SweepError::Read {
                path: path.clone(),
                error: format!("line {}: expected a run number first", n + 2),
            })?;
        rows.push((run, line.to_string()));
    }
    Ok((header, rows))
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    let mut entries: Vec<_> = fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

/// Joins shard directories into `out`, which then holds exactly what one unsharded sweep
/// writes. Every shard of the sweep must be there, once, with the same scenario and grid.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<SweepMeta, SweepError> {
    if shards.is_empty() {
        return Err(SweepError::Merge(
            "merge: expected at least one shard directory".into(),
        ));
    }
    let mut metas = Vec::new();
    for d in shards {
        metas.push(read_meta(d)?);
    }
    let first = &metas[0];
    let same = |m: &SweepMeta| SweepMeta {
        shard: Shard::default(),
        ..m.clone()
    };
    for (d, m) in shards.iter().zip(&metas).skip(1) {
        if same(m) != same(first) {
            return Err(SweepError::Merge(format!(
                "{} is a shard of another sweep than {} (scenario, grid, seed or RPO target differ)",
                d.display(),
                shards[0].display()
            )));
        }
    }
    let count = first.shard.count;
    let mut seen = vec![None::<&PathBuf>; count];
    for (d, m) in shards.iter().zip(&metas) {
        if m.shard.count != count {
            return Err(SweepError::Merge(format!(
                "{} is shard {}/{}, but {} is shard {}/{count}",
                d.display(),
                m.shard.index,
                m.shard.count,
                shards[0].display(),
                first.shard.index
            )));
        }
        if let Some(prev) = seen[m.shard.index] {
            return Err(SweepError::Merge(format!(
                "shard {}/{count} is given twice: {} and {}",
                m.shard.index,
                prev.display(),
                d.display()
            )));
        }
        seen[m.shard.index] = Some(d);
    }
    let missing: Vec<String> = (0..count)
        .filter(|&i| seen[i].is_none())
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(SweepError::Merge(format!(
            "missing shard(s) {}",
            missing.join(", ")
        )));
    }
    let mut header = None::<String>;
    let mut rows: Vec<(usize, String)> = Vec::new();
    for (d, m) in shards.iter().zip(&metas) {
        let (h, r) = read_rows(d)?;
        if header.as_ref().is_some_and(|x| x != &h) {
            return Err(SweepError::Merge(format!(
                "{}: sweep.csv has other columns",
                d.display()
            )));
        }
        header = Some(h);
        let expected: Vec<usize> = m.shard.rows(m.runs).collect();
        let got: Vec<usize> = r.iter().map(|x| x.0).collect();
        if expected != got {
            return Err(SweepError::Merge(format!(
                "{}: sweep.csv holds runs {:?}, expected shard {}/{}'s runs {:?}",
                d.display(),
                got,
                m.shard.index,
                count,
                expected
            )));
        }
        rows.extend(r);
    }
    rows.sort_by_key(|r| r.0);
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |error| SweepError::Write { path, error }
    };
    let runs_dir = out.join("runs");
    if runs_dir.exists() {
        fs::remove_dir_all(&runs_dir).map_err(write_err(&runs_dir))?;
    }
    for stale in ["sweep.csv", "index.html"] {
        let p = out.join(stale);
        if p.exists() {
            fs::remove_file(&p).map_err(write_err(&p))?;
        }
    }
    fs::create_dir_all(&runs_dir).map_err(write_err(&runs_dir))?;
    for (d, m) in shards.iter().zip(&metas) {
        for i in m.shard.rows(m.runs) {
            let from = d.join("runs").join(run_dir_name(i));
            let to = runs_dir.join(run_dir_name(i));
            copy_dir(&from, &to).map_err(|e| SweepError::Read {
                path: from.clone(),
                error: e.to_string(),
            })?;
        }
    }
    let scenario_text =
        fs::read_to_string(shards[0].join("scenario.toml")).map_err(|e| SweepError::Read {
            path: shards[0].join("scenario.toml"),
            error: e.to_string(),
        })?;
    let merged = same(first);
    let keys: Vec<String> = merged.varies.iter().map(|v| v.key.clone()).collect();
    let h = csv_header(&keys);
    if header.as_deref() != Some(h.as_str()) {
        return Err(SweepError::Merge(format!(
            "{}: sweep.csv's header does not match its sweep.json",
            shards[0].display()
        )));
    }
    write_sweep_files(out, &merged, &scenario_text, &keys, &rows)?;
    Ok(merged)
}

// ----- the commands -----

/// `mirrorlab sweep SCENARIO.toml --vary KEY=V1,V2 ...`
#[derive(Clone, Debug, clap::Args)]
pub struct SweepArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// KEY=V1,V2,...: one axis of the grid (repeat for more; the first changes slowest).
    /// Keys: mode, seed, duration, link.NAME.bandwidth, link.NAME.latency,
    /// link.NAME.price_per_gb, link.NAME.price_per_mbps_month, mirror.GROUP.mode,
    /// mirror.GROUP.chunk, mirror.GROUP.journal, mirror.GROUP.cycle, mirror.GROUP.pass,
    /// mirror.GROUP.window, host.NAME.rate.
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub vary: Vec<String>,
    /// Output directory (default: reports/<scenario file stem>-sweep/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only rows I, I+N, I+2N, ... (one slice of the grid; join slices with `merge`).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// The RPO a copy mode must keep for the report's answer, e.g. 30s or 5min.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub rpo_target: Nanos,
}

/// `mirrorlab merge DIR... --out DIR`
#[derive(Clone, Debug, clap::Args)]
pub struct MergeArgs {
    /// The shard directories (`sweep --shard I/N --out DIR` of one sweep, every I once).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Where the merged sweep and its report go.
    #[arg(long)]
    pub out: PathBuf,
}

/// The table `sweep` prints: one line a run.
pub fn format_rows(grid: &Grid, rows: &[Row], rpo_target_ns: u64) -> String {
    let mut t = String::new();
    let keys: Vec<&str> = grid.varies.iter().map(|v| v.key.as_str()).collect();
    let widths: Vec<usize> = keys
        .iter()
        .enumerate()
        .map(|(k, key)| {
            rows.iter()
                .map(|r| r.params[k].len())
                .chain([key.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let _ = write!(t, "{:>4}", "run");
    for (k, key) in keys.iter().enumerate() {
        let _ = write!(t, "  {:<w$}", key, w = widths[k]);
    }
    let _ = writeln!(
        t,
        "  {:>10} {:>12} {:>10} {:>12}  verdict",
        "data", "worst RPO", "write p99", "$/month"
    );
    for r in rows {
        let _ = write!(t, "{:>4}", r.run);
        for (k, p) in r.params.iter().enumerate() {
            let _ = write!(t, "  {:<w$}", p, w = widths[k]);
        }
        let x = &r.result;
        let verdict = x.verdict(rpo_target_ns).text();
        let _ = writeln!(
            t,
            "  {:>10} {:>12} {:>10} {:>12}  {verdict}",
            crate::units::human_bytes(x.data_bytes),
            crate::output::human_ns(x.max_rpo_ns),
            crate::output::human_ns(x.write_p99_ns),
            format!("{:.2}", x.cost_total)
        );
    }
    t
}

/// Runs `mirrorlab sweep`: exit code 0, or 1 when a run broke an invariant or a file could not
/// be written; `Err` is bad input (exit 2).
pub fn run_sweep_cmd(args: &SweepArgs) -> anyhow::Result<u8> {
    let sweep = Sweep::load(&args.scenario, &args.vary, args.rpo_target.0)?;
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!("{}-sweep", sweep.scenario.stem()))
    });
    let shard = args.shard.unwrap_or_default();
    let opts = SweepOptions {
        shard,
        threads: args.threads,
        progress: true,
    };
    let start = std::time::Instant::now();
    let rows = match sweep.run(&opts, &out) {
        Ok(r) => r,
        Err(e) if e.is_bad_input() => return Err(e.into()),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    };
    say!(
        "{}",
        format_rows(&sweep.grid, &rows, sweep.rpo_target_ns).trim_end()
    );
    say!(
        "\n{} run{} in {:.1} s (wall clock)",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        start.elapsed().as_secs_f64()
    );
    if shard.is_whole() {
        match crate::report::build(&out, &crate::report::ReportOptions::default()) {
            Ok(index) => say!(
                "wrote {} and {}",
                out.join("sweep.csv").display(),
                index.display()
            ),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(1);
            }
        }
    } else {
        say!(
            "shard {}/{}: wrote {} (join every shard with `mirrorlab merge DIR... --out DIR`)",
            shard.index,
            shard.count,
            out.display()
        );
    }
    let failed = rows.iter().filter(|r| !r.result.invariants_ok).count();
    if failed > 0 {
        eprintln!("{failed} run(s) broke an invariant: see the report");
        return Ok(1);
    }
    Ok(0)
}

/// Runs `mirrorlab merge`.
pub fn run_merge_cmd(args: &MergeArgs) -> anyhow::Result<u8> {
    let meta = match merge(&args.shards, &args.out) {
        Ok(m) => m,
        Err(e) if e.is_bad_input() => return Err(e.into()),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    };
    match crate::report::build(&args.out, &crate::report::ReportOptions::default()) {
        Ok(index) => {
            say!(
                "merged {} shard{} ({} runs) into {} and {}",
                args.shards.len(),
                if args.shards.len() == 1 { "" } else { "s" },
                meta.runs,
                args.out.join("sweep.csv").display(),
                index.display()
            );
            Ok(0)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario_text::ScenarioText;

    #[test]
    fn a_verdict_gives_the_first_reason_that_applies() {
        let s = 1_000_000_000;
        let ok = RunResult {
            max_rpo_ns: 2 * s,
            write_p99_ns: s,
            invariants_ok: true,
            consistent_copy: true,
            ..Default::default()
        };
        assert_eq!(ok.verdict(2 * s), Verdict::Meets);
        assert_eq!(ok.verdict(s), Verdict::MissesRpo);
        let slow = RunResult {
            write_p99_ns: 3 * s,
            ..ok.clone()
        };
        assert_eq!(slow.verdict(2 * s), Verdict::HostWritesWait);
        let adaptive = RunResult {
            consistent_copy: false,
            ..slow.clone()
        };
        assert_eq!(adaptive.verdict(2 * s), Verdict::NoConsistentCopy);
        let broken = RunResult {
            invariants_ok: false,
            ..adaptive
        };
        assert_eq!(broken.verdict(2 * s), Verdict::InvariantFailed);
    }

    fn scenario() -> Scenario {
        let text = ScenarioText::new("t", "10s")
            .storage(1, &[("a", "1GiB")])
            .storage(2, &[("b", "1GiB")])
            .link("wan", [1, 2], "10MB/s", "1ms")
            .host(
                "prod",
                "production",
                1,
                r#"{ poisson = 10, volume = "1:a" }"#,
            )
            .mirror("R", "1:a", "2:b")
            .build();
        scenario::parse(&text, Path::new("t.toml")).unwrap()
    }

    #[test]
    fn grid_is_row_major_first_vary_slowest() {
        let s = scenario();
        let g = Grid::parse(
            &[
                "mode=sync,async".into(),
                "link.wan.bandwidth=1MB/s,2000kB/s,3MB/s".into(),
            ],
            &s,
        )
        .unwrap();
        assert_eq!(g.len(), 6);
        assert_eq!(g.point(0), ["sync", "1MB/s"]);
        assert_eq!(g.point(1), ["sync", "2MB/s"]);
        assert_eq!(g.point(3), ["async", "1MB/s"]);
        let s4 = g.scenario(&s, 4);
        assert_eq!(s4.links[0].bandwidth, 2_000_000);
        assert_eq!(s4.mirrors[0].options.mode, CopyMode::Async);
        assert_eq!(g.label(5), "mode=async link.wan.bandwidth=3MB/s");
    }

    #[test]
    fn bad_keys_and_values_are_refused_with_a_reason() {
        let s = scenario();
        let err = |v: &str| Vary::parse(v, &s).unwrap_err().to_string();
        assert!(err("colour=red").contains("unknown --vary key"));
        assert!(err("link.lan.bandwidth=1MB/s").contains("no link named \"lan\""));
        assert!(err("link.wan.bandwidth=0MB/s").contains("above 0"));
        assert!(err("link.wan.bandwidth=fast").contains("rate"));
        assert!(err("mirror.R.chunk=6KiB").contains("multiple of 4KiB"));
        assert!(err("mirror.X.chunk=8KiB").contains("no [[mirror]]"));
        assert!(err("mode=sync,turbo").contains("copy mode"));
        assert!(err("mode").contains("KEY=VALUE"));
        assert!(err("mode=sync,sync").contains("twice"));
        assert!(Grid::parse(&["mode=sync".into(), "mode=async".into()], &s).is_err());
    }

    #[test]
    fn shards_partition_the_rows() {
        let s: Shard = "1/3".parse().unwrap();
        assert_eq!(s.rows(8).collect::<Vec<_>>(), [1, 4, 7]);
        assert!("3/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
        let mut all: Vec<usize> = (0..3)
            .flat_map(|i| Shard { index: i, count: 3 }.rows(8).collect::<Vec<_>>())
            .collect();
        all.sort();
        assert_eq!(all, (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn times_print_from_integers() {
        assert_eq!(ns_as_s(1_500_000_123), "1.500000");
        assert_eq!(ns_as_ms(12_345_678), "12.345");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
