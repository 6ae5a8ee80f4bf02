//! Reading what runs and sweeps wrote: the parts of `summary.json` a report uses, the CSV
//! time series, and a sweep directory as a list of runs with their varied parameters.
//!
//! This module owns the report's view of the output files. It reads `summary.json` into its
//! own lenient structs (fields it does not know are ignored, missing ones default), so the
//! same code serves a run written a moment ago in-process ([`RunSummary::from_output`]) and
//! one read back from disk: the numbers in a sweep row and in the report come from one place.

use crate::metrics::Percentiles;
use crate::output::RunOutput;
use crate::study::{self, SweepMeta};
use serde::Deserialize;
use std::fs;
use std::path::{Path, PathBuf};

/// Why a directory could not be read as a run or a sweep.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: {message}", .path.display())]
    Bad { path: PathBuf, message: String },
}

fn bad(path: &Path, message: impl Into<String>) -> DataError {
    DataError::Bad {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LinkSummary {
    pub name: String,
    pub data_bytes: u64,
    pub control_bytes: u64,
    pub busy_fraction: f64,
    pub bandwidth_bytes_per_s: u64,
    pub latency_ns: u64,
    pub cost: Cost,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Cost {
    pub transfer: f64,
    pub provisioned: f64,
    pub total: f64,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct MirrorSummary {
    pub group: String,
    pub pvol: String,
    pub svol: String,
    pub mode: String,
    pub final_state: String,
    pub max_lag_bytes: u64,
    pub replication_delay_ns: Percentiles,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct HostSummary {
    pub name: String,
    pub role: String,
    pub writes: u64,
    pub bytes_written: u64,
    pub failed: u64,
    pub write_latency_ns: Percentiles,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct SplitSummary {
    pub command: String,
    pub duration_ns: Option<u64>,
    pub host_io_stall_ns: u64,
    pub digests_match: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResyncSummary {
    pub command: String,
    pub completed_ns: Option<u64>,
    pub dirty_chunks: u64,
    pub chunk_bytes: u64,
    pub data_bytes: u64,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct MirrorCost {
    pub completed: bool,
    pub duration_ns: u64,
    pub data_bytes: u64,
    pub control_bytes: u64,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct SecondMirror {
    pub group: String,
    pub mirror: String,
    pub pvol_used_bytes: u64,
    pub nocopy: MirrorCost,
    pub conventional: MirrorCost,
    pub split_duration_ns: u64,
    pub split_host_io_stall_ns: u64,
}

/// A pairdisplay line as `summary.json` holds it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PairLine {
    pub group: String,
    pub volume: String,
    pub storage: u64,
    pub ps: String,
    pub state: String,
    pub mode: String,
    pub mirror_volume: String,
    pub sync_percent: f64,
    pub pending_bytes: u64,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Invariants {
    pub ok: bool,
    pub failures: Vec<String>,
}

/// The parts of `summary.json` a report reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RunSummary {
    pub scenario: String,
    pub seed: u64,
    pub simulated_ns: u64,
    pub links: Vec<LinkSummary>,
    pub mirrors: Vec<MirrorSummary>,
    pub hosts: Vec<HostSummary>,
    pub cost: Cost,
    pub splits: Vec<SplitSummary>,
    pub resyncs: Vec<ResyncSummary>,
    pub second_mirror: Option<SecondMirror>,
    pub pairdisplay: Vec<PairLine>,
    pub invariants: Invariants,
}

impl RunSummary {
    /// The same view of a run still in memory.
    pub fn from_output(out: &RunOutput) -> RunSummary {
        serde_json::to_value(&out.summary)
            .and_then(serde_json::from_value)
            .unwrap_or_default()
    }

    pub fn read(path: &Path) -> Result<RunSummary, DataError> {
        let text = fs::read_to_string(path).map_err(|e| bad(path, e.to_string()))?;
        serde_json::from_str(&text)
            .map_err(|e| bad(path, format!("not a mirrorlab summary.json: {e}")))
    }
}

/// One row of `link_usage.csv`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct LinkUsage {
    pub time_s: f64,
    pub link: String,
    pub direction: String,
    pub data_bytes: u64,
    pub control_bytes: u64,
    pub bytes_per_s: u64,
    pub utilisation: f64,
}

/// One row of `lag.csv`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Lag {
    pub time_s: f64,
    pub group: String,
    pub mirror: String,
    pub lag_bytes: u64,
    pub lag_s: f64,
}

/// A run's time series, as read back from its CSVs.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub link_usage: Vec<LinkUsage>,
    pub lag: Vec<Lag>,
}

fn read_csv<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, DataError> {
    let mut r = csv::Reader::from_path(path).map_err(|e| bad(path, e.to_string()))?;
    r.deserialize()
        .enumerate()
        .map(|(i, row)| row.map_err(|e| bad(path, format!("line {}: {e}", i + 2))))
        .collect()
}

impl Series {
    pub fn read(dir: &Path) -> Result<Series, DataError> {
        Ok(Series {
            link_usage: read_csv(&dir.join("link_usage.csv"))?,
            lag: read_csv(&dir.join("lag.csv"))?,
        })
    }

    /// The largest sampled RPO in microseconds (the precision of `lag.csv`).
    pub fn max_lag_us(&self) -> u64 {
        self.lag
            .iter()
            .map(|l| (l.lag_s * 1e6).round() as u64)
            .max()
            .unwrap_or(0)
    }
}

/// The same maximum from a run in memory, truncated to microseconds as `lag.csv` prints it.
pub fn max_lag_us(out: &RunOutput) -> u64 {
    out.series
        .lag
        .iter()
        .map(|l| l.lag_ns / 1_000)
        .max()
        .unwrap_or(0)
}

/// One run of a study: its varied parameters and its files.
#[derive(Clone, Debug)]
pub struct RunData {
    pub run: usize,
    /// One value per varied key, in [`Study::keys`] order.
    pub params: Vec<String>,
    pub dir: PathBuf,
    pub summary: RunSummary,
    pub result: study::RunResult,
    pub series: Series,
}

/// A sweep (or a single run, as a sweep of one) read from its directory.
#[derive(Clone, Debug)]
pub struct Study {
    pub dir: PathBuf,
    pub title: String,
    /// `None` for a directory `mirrorlab run` wrote.
    pub meta: Option<SweepMeta>,
    pub keys: Vec<String>,
    pub runs: Vec<RunData>,
    pub rpo_target_ns: u64,
}

fn read_run(dir: &Path, run: usize, params: Vec<String>) -> Result<RunData, DataError> {
    let summary = RunSummary::read(&dir.join("summary.json"))?;
    let series = Series::read(dir)?;
    let result = study::RunResult::from_summary(&summary, series.max_lag_us());
    Ok(RunData {
        run,
        params,
        dir: dir.to_path_buf(),
        summary,
        result,
        series,
    })
}

impl Study {
    /// Reads `dir`: a sweep (`sweep.json` + `sweep.csv` + `runs/`) or one run
    /// (`summary.json` + CSVs). `rpo_target_ns` overrides the sweep's target.
    pub fn read(dir: &Path, rpo_target_ns: Option<u64>) -> Result<Study, DataError> {
        if dir.join("sweep.json").is_file() {
            let meta = study::read_meta(dir).map_err(|e| bad(dir, e.to_string()))?;
            let keys: Vec<String> = meta.varies.iter().map(|v| v.key.clone()).collect();
            let csv_path = dir.join("sweep.csv");
            let mut r = csv::Reader::from_path(&csv_path)
                .map_err(|e| bad(&csv_path, format!("{e} (an unfinished sweep?)")))?;
            let mut runs = Vec::new();
            for (i, rec) in r.records().enumerate() {
                let rec = rec.map_err(|e| bad(&csv_path, format!("line {}: {e}", i + 2)))?;
                let run: usize = rec.get(0).and_then(|x| x.parse().ok()).ok_or_else(|| {
                    bad(
                        &csv_path,
                        format!("line {}: expected a run number first", i + 2),
                    )
                })?;
                let params: Vec<String> = (0..keys.len())
                    .map(|k| rec.get(k + 1).unwrap_or_default().to_string())
                    .collect();
                runs.push(read_run(
                    &dir.join("runs").join(study::run_dir_name(run)),
                    run,
                    params,
                )?);
            }
            if runs.is_empty() {
                return Err(bad(&csv_path, "no runs"));
            }
            Ok(Study {
                dir: dir.to_path_buf(),
                title: meta.scenario.clone(),
                rpo_target_ns: rpo_target_ns.unwrap_or(meta.rpo_target_ns),
                meta: Some(meta),
                keys,
                runs,
            })
        } else if dir.join("summary.json").is_file() {
            let run = read_run(dir, 0, Vec::new())?;
            Ok(Study {
                dir: dir.to_path_buf(),
                title: run.summary.scenario.clone(),
                meta: None,
                keys: Vec::new(),
                runs: vec![run],
                rpo_target_ns: rpo_target_ns.unwrap_or(study::DEFAULT_RPO_TARGET_NS),
            })
        } else {
            Err(bad(
                dir,
                "expected a sweep directory (sweep.json, sweep.csv, runs/) or a run directory (summary.json and CSVs)",
            ))
        }
    }

    /// The index of `key` among the varied keys.
    pub fn key(&self, key: &str) -> Option<usize> {
        self.keys.iter().position(|k| k == key)
    }

    pub fn duration_ns(&self) -> u64 {
        self.runs
            .iter()
            .map(|r| r.summary.simulated_ns)
            .max()
            .unwrap_or(0)
    }
}
