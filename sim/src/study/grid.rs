//! The grid of a sweep: which keys `--vary` accepts and how each changes a cloned
//! [`Scenario`] (a bad key or value is refused before anything runs), the grid order (the
//! first `--vary` changes slowest), and shards (`--shard I/N` runs the rows whose index is I
//! modulo N).

use super::{bad, SweepError};
use crate::scenario::{self, PairKey, Scenario, WorkloadDef};
use crate::units::{Bytes, Nanos, Rate};
use mirrorlab_model::{AdaptivePass, CopyMode, StorageSerial, BLOCK_BYTES};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// The keys `--vary` accepts, for help and error messages.
pub const KEYS: &str = "mode, seed, duration, link.NAME.bandwidth, link.NAME.latency, \
     link.NAME.price_per_gb, link.NAME.price_per_mbps_month, mirror.GROUP.mode, \
     mirror.GROUP.chunk, mirror.GROUP.journal, mirror.GROUP.cycle, mirror.GROUP.pass, \
     mirror.GROUP.window, host.NAME.rate, storage.SERIAL.write_latency";

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
    /// An array's service time for a write (`[[storage]] write_latency`).
    StorageWriteLatency(StorageSerial),
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
            ["storage", serial, "write_latency"] => {
                match s.storages.iter().find(|x| x.serial.to_string() == serial) {
                    Some(x) => Param::StorageWriteLatency(x.serial),
                    None => {
                        let known: Vec<String> =
                            s.storages.iter().map(|x| x.serial.to_string()).collect();
                        return Err(bad(format!(
                            "--vary {key}: the scenario has no storage {serial} (storages: {})",
                            known.join(", ")
                        )));
                    }
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
            Param::StorageWriteLatency(_) => {
                let n = Nanos::from_str(v).map_err(|e| wrong(&e))?;
                if let Some(problem) = scenario::write_latency_problem(n.0, v) {
                    return Err(bad(format!("--vary {key}: {problem}")));
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
            Param::StorageWriteLatency(x) => {
                Nanos(s.storages.iter().find(|y| y.serial == *x)?.write_latency_ns).to_string()
            }
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
                        Param::MirrorJournal(_) => {
                            o.journal_bytes = bytes();
                            m.keys.insert(PairKey::Journal);
                        }
                        Param::MirrorPeriod(_) => {
                            o.period_ns = nanos();
                            // `cycle` and `pass` are one period; the mode names the key.
                            m.keys.insert(if o.mode == CopyMode::Adaptive {
                                // An adaptive pass given a period runs on a timer.
                                o.pass = AdaptivePass::Timer;
                                PairKey::Pass
                            } else {
                                PairKey::Cycle
                            });
                        }
                        _ => o.window_bytes = bytes(),
                    }
                }
            }
            Param::StorageWriteLatency(x) => {
                for y in s.storages.iter_mut().filter(|y| y.serial == *x) {
                    y.write_latency_ns = nanos();
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
        let grid = Grid { varies };
        // Every row keeps the rules the file would (scenario::check), however the value
        // arrived: refused here, before anything runs, naming the row.
        for i in 0..grid.len() {
            let problems = scenario::check(&grid.scenario(s, i));
            if !problems.is_empty() {
                let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
                return Err(bad(format!(
                    "--vary {}: {}",
                    grid.label(i),
                    problems.join("; ")
                )));
            }
        }
        Ok(grid)
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

    /// A copy of `base` with row `i` applied: modes first, so that a mode-specific key set in
    /// the same row is judged against the mode it runs with.
    pub fn scenario(&self, base: &Scenario, i: usize) -> Scenario {
        let mut s = base.clone();
        let row: Vec<_> = self.varies.iter().zip(self.point(i)).collect();
        let (modes, rest): (Vec<_>, Vec<_>) = row
            .into_iter()
            .partition(|(v, _)| matches!(v.param, Param::Mode | Param::MirrorMode(_)));
        for (v, value) in modes.into_iter().chain(rest) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;
    use crate::scenario_text::ScenarioText;
    use std::path::Path;

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
    fn every_row_keeps_the_files_rules() {
        let s = scenario();
        let err = |specs: &[&str]| {
            let specs: Vec<String> = specs.iter().map(|x| x.to_string()).collect();
            Grid::parse(&specs, &s).unwrap_err().to_string()
        };
        // A period below the floor, a run with too many samples, a chunk over the volume.
        assert!(err(&["mode=periodic", "mirror.R.cycle=1ns"]).contains("cycle"));
        assert!(err(&["duration=5119000h"]).contains("samples per series"));
        assert!(err(&["mirror.R.chunk=2GiB"]).contains("at most the volume size"));
        // The mode is applied first, so a cycle on a periodic row is judged as periodic's,
        // and the same cycle on an async row is refused as a key of another mode.
        assert!(Grid::parse(&["mirror.R.cycle=1s".into(), "mode=periodic".into()], &s).is_ok());
        let wrong_mode = err(&["mode=async", "mirror.R.cycle=1s"]);
        assert!(wrong_mode.contains("mode=async"), "{wrong_mode}");
    }

    #[test]
    fn a_pass_puts_adaptive_passes_on_its_timer() {
        let s = scenario();
        let vary = |specs: &[&str]| {
            let specs: Vec<String> = specs.iter().map(|x| x.to_string()).collect();
            let g = Grid::parse(&specs, &s).unwrap();
            g.scenario(&s, 0).mirrors[0].options
        };
        let idle = vary(&["mode=adaptive"]);
        assert_eq!(idle.pass, AdaptivePass::Idle);
        let timed = vary(&["mode=adaptive", "mirror.R.pass=2s"]);
        assert_eq!(
            (timed.pass, timed.period_ns),
            (AdaptivePass::Timer, 2_000_000_000)
        );
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
}
