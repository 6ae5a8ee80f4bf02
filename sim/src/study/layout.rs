//! The layout of a sweep directory: `sweep.json` (what was varied, the RPO target, the shard:
//! [`SweepMeta`]), `scenario.toml` (the scenario as given), `sweep.csv` (one row a run, written
//! last, so a complete `sweep.csv` means a complete sweep) and `runs/NNNN/` (the `summary.json`
//! and CSV time series of run NNNN, as `mirrorlab run` writes them).

use super::grid::Shard;
use super::results::{csv_header, Row};
use super::{bad, SweepError, FORMAT};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

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

/// The RPO target when none is given.
pub const DEFAULT_RPO_TARGET_NS: u64 = 60_000_000_000;

/// `runs/NNNN`.
pub fn run_dir_name(i: usize) -> String {
    format!("{i:04}")
}

pub(super) fn rows_text(rows: &[Row]) -> Vec<(usize, String)> {
    rows.iter().map(|r| (r.run, r.csv_line())).collect()
}

fn write(path: &Path, text: &str) -> Result<(), SweepError> {
    fs::write(path, text).map_err(|error| SweepError::Write {
        path: path.to_path_buf(),
        error,
    })
}

/// Writes the sweep's own files into `out`, a directory being built (its rows' directories
/// are already there).
pub(super) fn write_sweep_files(
    out: &Path,
    meta: &SweepMeta,
    scenario_text: &str,
    keys: &[String],
    rows: &[(usize, String)],
) -> Result<(), SweepError> {
    let mut json = serde_json::to_string_pretty(meta).map_err(|e| bad(e.to_string()))?;
    json.push('\n');
    write(&out.join("sweep.json"), &json)?;
    write(&out.join("scenario.toml"), scenario_text)?;
    let mut csv = csv_header(keys);
    csv.push('\n');
    for (_, line) in rows {
        let _ = writeln!(csv, "{line}");
    }
    write(&out.join("sweep.csv"), &csv)
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
pub(super) fn read_rows(dir: &Path) -> Result<(String, Vec<(usize, String)>), SweepError> {
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
