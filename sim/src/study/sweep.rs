//! Running a sweep: every row of this shard's grid in parallel, each single-threaded and
//! deterministic, written in grid order, so the output is byte-identical whatever the thread
//! count or the sharding.

use super::grid::{Grid, Shard};
use super::layout::{rows_text, run_dir_name, write_sweep_files, SweepMeta, VaryMeta};
use super::results::{Row, RunResult};
use super::{bad, SweepError, FORMAT};
use crate::out_dir::{inputs_of, mark, Kind, OutDir};
use crate::output::{write_run_files, RunOutput};
use crate::run::{simulate, Overrides};
use crate::scenario::{self, Scenario, ScenarioError};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::fs;
use std::io::IsTerminal;
use std::path::Path;

/// A sweep ready to run.
#[derive(Clone, Debug)]
pub struct Sweep {
    pub scenario: Scenario,
    /// The scenario file's text, copied into the sweep directory.
    pub scenario_text: String,
    pub grid: Grid,
    pub rpo_target_ns: u64,
}

/// The most worker threads a sweep starts (`--threads`).
pub const MAX_THREADS: usize = 256;

/// How to run it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SweepOptions {
    pub shard: Shard,
    /// Worker threads, at most [`MAX_THREADS`]; `None`: rayon's default (one per core).
    pub threads: Option<usize>,
    /// A progress bar on stderr when it is a terminal.
    pub progress: bool,
}

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

    /// Runs the sweep into `out`, which appears only complete and replaces only an earlier
    /// sweep or an empty directory ([`crate::out_dir`]). Returns the rows in grid order.
    pub fn run(&self, opts: &SweepOptions, out: &Path) -> Result<Vec<Row>, SweepError> {
        let claim = self.claim(out, false)?;
        let staging = claim.stage()?;
        let rows = self.write_into(opts, staging.path())?;
        claim.publish(staging)?;
        Ok(rows)
    }

    /// Claims `out` for this sweep (see [`OutDir::claim`]): its scenario and traces are inputs.
    pub fn claim(&self, out: &Path, force: bool) -> Result<OutDir, SweepError> {
        Ok(OutDir::claim(
            out,
            Kind::Sweep,
            &inputs_of(&self.scenario),
            force,
        )?)
    }

    /// Runs this shard's rows in parallel, writes each run's directory under `dir/runs/` and
    /// then `sweep.json`, `scenario.toml` and `sweep.csv`. `dir` is a directory being built
    /// (a claimed output's staging, or a study nested in one); it is created if missing.
    pub fn write_into(&self, opts: &SweepOptions, dir: &Path) -> Result<Vec<Row>, SweepError> {
        let write_err = |path: &Path| {
            let path = path.to_path_buf();
            move |error| SweepError::Write { path, error }
        };
        if let Some(n) = opts.threads.filter(|&n| n == 0 || n > MAX_THREADS) {
            return Err(bad(format!(
                "--threads {n}: expected at least 1 and at most {MAX_THREADS} (each thread runs \
                 one simulation with its own memory; more threads than cores add memory, not \
                 speed)"
            )));
        }
        let runs_dir = dir.join("runs");
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
                    let run_dir = runs_dir.join(run_dir_name(i));
                    fs::create_dir(&run_dir)
                        .and_then(|()| write_run_files(&output, &run_dir))
                        .map_err(write_err(&run_dir))?;
                    // A run directory as `mirrorlab run` writes it, marker included, so
                    // `report` takes it on its own.
                    mark(&run_dir, Kind::Run)?;
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
                .num_threads(n)
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
            dir,
            &self.meta(opts.shard),
            &self.scenario_text,
            &keys,
            &rows_text(&rows),
        )?;
        Ok(rows)
    }
}
