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
    /// The RPO at that instant (`lag_s` in runs written before it was defined as the age of
    /// the oldest acknowledged write not yet on the SVOL).
    #[serde(alias = "lag_s")]
    pub rpo_s: f64,
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
            .map(|l| (l.rpo_s * 1e6).round() as u64)
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

/// `sweep.csv`'s rows as (run, varied values), checked to be exactly the runs `sweep.json`
/// promises (all of the grid, or a shard's share of it) under the columns it names.
fn read_sweep_rows(
    dir: &Path,
    meta: &SweepMeta,
    keys: &[String],
) -> Result<Vec<(usize, Vec<String>)>, DataError> {
    let csv_path = dir.join("sweep.csv");
    let mut r = csv::Reader::from_path(&csv_path)
        .map_err(|e| bad(&csv_path, format!("{e} (an unfinished sweep?)")))?;
    let header = r
        .headers()
        .map_err(|e| bad(&csv_path, format!("line 1: {e}")))?;
    let expected = std::iter::once("run")
        .chain(keys.iter().map(String::as_str))
        .chain(study::RESULT_COLUMNS.iter().copied());
    if !header.iter().eq(expected) {
        return Err(bad(
            &csv_path,
            format!(
                "line 1: its columns are not those of the sweep sweep.json describes \
                 (run, {}, then the results)",
                keys.join(", ")
            ),
        ));
    }
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(&csv_path, format!("line {}: {e}", i + 2)))?;
        let run: usize = rec.get(0).and_then(|x| x.parse().ok()).ok_or_else(|| {
            bad(
                &csv_path,
                format!("line {}: expected a run number first", i + 2),
            )
        })?;
        let params = (0..keys.len())
            .map(|k| rec.get(k + 1).unwrap_or_default().to_string())
            .collect();
        rows.push((run, params));
    }
    let promised: Vec<usize> = meta.shard.rows(meta.runs).collect();
    let got: Vec<usize> = rows.iter().map(|r| r.0).collect();
    if got != promised {
        let missing: Vec<usize> = promised
            .iter()
            .copied()
            .filter(|i| !got.contains(i))
            .collect();
        let mut extra: Vec<usize> = got
            .iter()
            .copied()
            .filter(|i| !promised.contains(i))
            .collect();
        extra.dedup();
        let mut what = Vec::new();
        if !missing.is_empty() {
            what.push(format!("lacks {}", runs_list(&missing)));
        }
        if !extra.is_empty() {
            what.push(format!("holds {} it does not", runs_list(&extra)));
        }
        if what.is_empty() {
            what.push("holds a run twice or out of order".into());
        }
        return Err(bad(
            &csv_path,
            format!(
                "{} of the {} that sweep.json promises{}; the report would answer from a \
                 partial grid: run the sweep again (or `mirrorlab merge` every shard)",
                what.join(" and "),
                promised.len(),
                if meta.shard.is_whole() {
                    String::new()
                } else {
                    format!(" for shard {}/{}", meta.shard.index, meta.shard.count)
                }
            ),
        ));
    }
    Ok(rows)
}

/// Every row's `runs/NNNN`, or an error naming each one that is missing or unreadable.
fn read_sweep_runs(dir: &Path, rows: Vec<(usize, Vec<String>)>) -> Result<Vec<RunData>, DataError> {
    let mut runs = Vec::new();
    let mut broken = Vec::new();
    for (run, params) in rows {
        let run_dir = dir.join("runs").join(study::run_dir_name(run));
        match read_run(&run_dir, run, params) {
            Ok(r) => runs.push(r),
            Err(e) => broken.push(e.to_string()),
        }
    }
    match broken.as_slice() {
        [] if runs.is_empty() => Err(bad(&dir.join("sweep.csv"), "no runs")),
        [] => Ok(runs),
        [one] => Err(bad(
            dir,
            format!("a run that sweep.csv lists cannot be read: {one}"),
        )),
        many => Err(bad(
            dir,
            format!(
                "{} runs that sweep.csv lists cannot be read:\n  {}",
                many.len(),
                many.join("\n  ")
            ),
        )),
    }
}

/// "runs 3, 7 and 9" (at most ten named).
fn runs_list(runs: &[usize]) -> String {
    let mut names: Vec<String> = runs.iter().take(10).map(|r| r.to_string()).collect();
    if runs.len() > 10 {
        names.push(format!("{} more", runs.len() - 10));
    }
    let last = names.pop().unwrap_or_default();
    match names.len() {
        0 => format!("run {last}"),
        _ => format!("runs {} and {last}", names.join(", ")),
    }
}

impl Study {
    /// Reads `dir`: a sweep (`sweep.json` + `sweep.csv` + `runs/`) or one run
    /// (`summary.json` + CSVs). `rpo_target_ns` overrides the sweep's target.
    ///
    /// A sweep whose `sweep.csv` lacks runs its `sweep.json` promises, or whose `runs/NNNN`
    /// are missing or unreadable, is refused (exit 2) with each missing run named, rather
    /// than drawn with a warning: the page's answer is a minimum over the grid ("the
    /// cheapest bandwidth that meets the target"), so a gap can change the answer itself, and
    /// a manager reads the answer box, not a warning above it. The cure — running the sweep
    /// again or merging every shard — is always at hand, and `sweep` and `merge` never draw a
    /// page from a partial grid either.
    pub fn read(dir: &Path, rpo_target_ns: Option<u64>) -> Result<Study, DataError> {
        if dir.join("sweep.json").is_file() {
            let meta = study::read_meta(dir).map_err(|e| bad(dir, e.to_string()))?;
            let keys: Vec<String> = meta.varies.iter().map(|v| v.key.clone()).collect();
            let rows = read_sweep_rows(dir, &meta, &keys)?;
            let runs = read_sweep_runs(dir, rows)?;
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
