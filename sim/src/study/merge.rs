//! `merge`: shard directories of one sweep joined into the exact files one unsharded sweep
//! writes.

use super::grid::Shard;
use super::layout::{read_meta, read_rows, run_dir_name, write_sweep_files, SweepMeta};
use super::results::csv_header;
use super::SweepError;
use crate::out_dir::{refuse_leftover, Kind, OutDir};
use std::fs;
use std::path::{Path, PathBuf};

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
/// writes; `out` appears only complete and replaces only an earlier sweep or an empty
/// directory ([`crate::out_dir`]).
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<SweepMeta, SweepError> {
    let m = Merge::plan(shards)?;
    let claim = m.claim(out, false)?;
    let staging = claim.stage()?;
    m.write_into(staging.path())?;
    claim.publish(staging)?;
    Ok(m.meta)
}

/// Shards checked to make one whole sweep, ready to be written as it.
#[derive(Clone, Debug)]
pub struct Merge {
    shards: Vec<PathBuf>,
    metas: Vec<SweepMeta>,
    /// The merged sweep's `sweep.json`.
    pub meta: SweepMeta,
    scenario_text: String,
    /// `sweep.csv`'s lines by run, in grid order.
    rows: Vec<(usize, String)>,
}

impl Merge {
    /// Reads and checks the shards: every shard of the sweep must be there, once, complete,
    /// with the same scenario and grid. Nothing is written.
    pub fn plan(shards: &[PathBuf]) -> Result<Merge, SweepError> {
        if shards.is_empty() {
            return Err(SweepError::Merge(
                "merge: expected at least one shard directory".into(),
            ));
        }
        let mut metas = Vec::new();
        for d in shards {
            refuse_leftover(d)?;
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
        let scenario_text =
            fs::read_to_string(shards[0].join("scenario.toml")).map_err(|e| SweepError::Read {
                path: shards[0].join("scenario.toml"),
                error: e.to_string(),
            })?;
        let merged = same(first);
        let keys: Vec<String> = merged.varies.iter().map(|v| v.key.clone()).collect();
        if header.as_deref() != Some(csv_header(&keys).as_str()) {
            return Err(SweepError::Merge(format!(
                "{}: sweep.csv's header does not match its sweep.json",
                shards[0].display()
            )));
        }
        Ok(Merge {
            shards: shards.to_vec(),
            metas,
            meta: merged,
            scenario_text,
            rows,
        })
    }

    /// Claims `out` for the merged sweep: the shards are its inputs.
    pub fn claim(&self, out: &Path, force: bool) -> Result<OutDir, SweepError> {
        Ok(OutDir::claim(out, Kind::Sweep, &self.shards, force)?)
    }

    /// Writes the merged sweep into `dir`, a directory being built.
    pub fn write_into(&self, dir: &Path) -> Result<(), SweepError> {
        let runs_dir = dir.join("runs");
        fs::create_dir_all(&runs_dir).map_err(|error| SweepError::Write {
            path: runs_dir.clone(),
            error,
        })?;
        for (d, m) in self.shards.iter().zip(&self.metas) {
            for i in m.shard.rows(m.runs) {
                let from = d.join("runs").join(run_dir_name(i));
                let to = runs_dir.join(run_dir_name(i));
                copy_dir(&from, &to).map_err(|e| SweepError::Read {
                    path: from.clone(),
                    error: e.to_string(),
                })?;
            }
        }
        let keys: Vec<String> = self.meta.varies.iter().map(|v| v.key.clone()).collect();
        write_sweep_files(dir, &self.meta, &self.scenario_text, &keys, &self.rows)
    }
}
