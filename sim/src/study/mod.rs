//! A study: a grid of runs of one scenario, each with some parameters changed
//! (`--vary mode=sync,async --vary link.wan.bandwidth=50MB/s,100MB/s`), run in parallel and
//! written as one `sweep.csv` with a directory per run; and shards of one grid merged back.
//!
//! This module owns the grid ([`grid`]), the row of key results each run contributes
//! ([`results`]), the layout of a sweep directory ([`layout`]), running a sweep ([`sweep`]) and
//! merging shards ([`merge`]). It does not draw reports: `report/` reads what it writes, and
//! the commands (`sweep_cmd`) call both.

pub mod grid;
pub mod layout;
pub mod merge;
pub mod results;
pub mod sweep;

pub use grid::{Grid, Param, Shard, Vary, KEYS};
pub use layout::{read_meta, run_dir_name, SweepMeta, VaryMeta, DEFAULT_RPO_TARGET_NS};
pub use merge::{merge, Merge};
pub use results::{csv_header, format_rows, Row, RunResult, Verdict, RESULT_COLUMNS};
pub use sweep::{Sweep, SweepOptions, MAX_THREADS};

use crate::out_dir::OutDirError;
use crate::run::SimError;
use crate::scenario::ScenarioError;
use std::path::PathBuf;

/// Bumped when the layout of a sweep directory changes.
pub const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// An `--out` that may not be written, or a shard that is a killed writer's leftover.
    #[error(transparent)]
    OutDir(#[from] OutDirError),
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
    /// Whether the input was at fault rather than the disk (both exit with 2; a message may
    /// say which).
    pub fn is_bad_input(&self) -> bool {
        !matches!(
            self,
            SweepError::Write { .. }
                | SweepError::OutDir(OutDirError::Io { .. } | OutDirError::Busy { .. })
        )
    }
}

fn bad(msg: impl Into<String>) -> SweepError {
    SweepError::BadInput(msg.into())
}
