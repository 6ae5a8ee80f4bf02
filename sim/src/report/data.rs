//! Reading what runs and sweeps wrote: the parts of `summary.json` a report uses, the CSV
//! time series, and a sweep directory as a list of runs with their varied parameters.
//!
//! This module owns the report's view of the output files. It reads `summary.json` back into
//! the [`Summary`] type `run` wrote it from (declared once, in [`crate::output`]), so a run
//! in memory and one read from disk give the same numbers: a sweep row and the report come
//! from one place ([`crate::study::RunResult::from_summary`]).

use crate::output::Summary;
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

impl Summary {
    /// Reads a run's `summary.json` back into the type `run` wrote it from.
    pub fn read(path: &Path) -> Result<Summary, DataError> {
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

/// One run of a study: its varied parameters and its files.
#[derive(Clone, Debug)]
pub struct RunData {
    pub run: usize,
    /// One value per varied key, in [`Study::keys`] order.
    pub params: Vec<String>,
    pub dir: PathBuf,
    pub summary: Summary,
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
    let summary = Summary::read(&dir.join("summary.json"))?;
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
