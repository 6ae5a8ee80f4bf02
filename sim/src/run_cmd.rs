//! `mirrorlab run SCENARIO.toml [--seed N] [--out DIR] [--mode MODE]`: load, validate, simulate,
//! write the run directory, print the table.
//!
//! This module owns the command's flow and its outcome, and what a run directory holds: the
//! files of [`crate::output`] and, drawn from them by [`crate::report`], the page `index.html`
//! with its charts, so one command gives something to look at. `main.rs` maps the outcome to
//! exit codes (0 ok, 1 an invariant failed — for a replay, the promise its `REPLAY:` lines
//! name —, 2 bad input, or a replay step that cannot be applied). Validation happens before
//! anything is written, and the output directory only ever appears complete, page included,
//! and replaces only an earlier run directory ([`crate::out_dir`]).

use crate::out_dir::{inputs_of, Kind, OutDir, OutDirError};
use crate::output::{format_table, write_run_files, RunOutput};
use crate::report::{self, ReportError, ReportOptions};
use crate::run::{simulate_with_progress, Overrides, Phase, SimError};
use crate::scenario::{self, ScenarioError};
use indicatif::{ProgressBar, ProgressStyle};
use mirrorlab_model::CopyMode;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct RunArgs {
    pub scenario: PathBuf,
    pub seed: Option<u64>,
    /// Default: `reports/<scenario file stem>/`.
    pub out: Option<PathBuf>,
    pub mode: Option<CopyMode>,
    /// Skip (and count in summary.json) trace lines that do not parse or reach past the end of
    /// their volume, in every trace workload, instead of stopping at the first.
    pub skip_bad_lines: bool,
    /// Replace an `--out` that is not an earlier run directory.
    pub force: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    Ok,
    /// The run completed and its report was written, but an invariant failed.
    InvariantFailed,
}

#[derive(Debug, thiserror::Error)]
pub enum RunCmdError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Sim(#[from] SimError),
    /// `--mode` or `--seed` on a replay: its steps fix the copy mode and every choice a seed
    /// would make, so the flag could only be silently ignored.
    #[error("{flag}: {} is a replay, whose steps fix {what}; {hint}", .path.display())]
    FlagOnReplay {
        flag: &'static str,
        path: PathBuf,
        what: &'static str,
        hint: &'static str,
    },
    #[error(transparent)]
    Out(#[from] OutDirError),
    /// `--mode` makes a scenario the file's rules refuse ([`scenario::check`]).
    #[error("--mode {mode}: {}: {problems}", .path.display())]
    ModeRefused {
        mode: CopyMode,
        path: PathBuf,
        problems: String,
    },
    #[error(transparent)]
    Page(#[from] ReportError),
}

/// Runs the command; prints the table to stdout and a progress bar to stderr when it is a
/// terminal.
pub fn run(args: &RunArgs) -> Result<RunOutcome, RunCmdError> {
    let mut s = scenario::load(&args.scenario)?;
    if s.replay.is_some() {
        let refuse = |flag, what, hint| RunCmdError::FlagOnReplay {
            flag,
            path: args.scenario.clone(),
            what,
            hint,
        };
        if args.mode.is_some() {
            return Err(refuse(
                "--mode",
                "the copy mode it was written for",
                "change the modes in the file instead",
            ));
        }
        if args.seed.is_some() {
            return Err(refuse(
                "--seed",
                "every interleaving a seed would choose",
                "it has no randomness to seed",
            ));
        }
    }
    if let Some(mode) = args.mode {
        // The same rules as the file's, on the values the flag changes.
        s.set_mode(mode);
        let problems = scenario::check(&s);
        if !problems.is_empty() {
            return Err(RunCmdError::ModeRefused {
                mode,
                path: args.scenario.clone(),
                problems: problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
    }
    if args.skip_bad_lines {
        s.skip_bad_trace_lines();
    }
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(s.stem()));
    // Refused before simulating, so a long run is not wasted on an --out it may not write.
    let claim = OutDir::claim(&out_dir, Kind::Run, &inputs_of(&s), args.force)?;
    let overrides = Overrides {
        seed: args.seed,
        mode: args.mode,
        duration_ns: None,
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new(1000);
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg} {bar:40} {percent}% [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_message("simulating");
        b
    });
    let mut phase = Phase::Run;
    let mut progress = |p: Phase, now: u64, end: u64| {
        if let Some(b) = &bar {
            if p != phase {
                phase = p;
                // Up to two simulated days past the end: the bar jumps to the end when the
                // copy completes.
                b.set_message("simulating the full-copy alternative (Fig 12 comparison)");
            }
            b.set_position((now.min(end) as u128 * 1000 / end.max(1) as u128) as u64);
        }
    };
    let result = simulate_with_progress(&s, &overrides, &mut progress);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let out = result?;
    publish(&out, claim)?;
    // A closed stdout (`| head`) is not an error of the run.
    let table = format!("{}\nwrote {}\n", format_table(&out), out_dir.display());
    let _ = std::io::stdout().lock().write_all(table.as_bytes());
    Ok(if out.failed() {
        RunOutcome::InvariantFailed
    } else {
        RunOutcome::Ok
    })
}

/// Writes `out` as the run directory `dir`, as `mirrorlab run` does: `summary.json`, the CSVs
/// and the page. It appears only complete and replaces only an earlier run directory or an
/// empty one (see [`crate::out_dir`]).
pub fn write_outputs(out: &RunOutput, dir: &Path) -> Result<(), ReportError> {
    publish(out, OutDir::claim(dir, Kind::Run, &[], false)?)
}

/// Builds the run directory beside the claimed target, the page drawn from the files just
/// written there (what `mirrorlab report` draws for it), and renames it into place: a page
/// that cannot be drawn leaves the target as it was.
fn publish(out: &RunOutput, claim: OutDir) -> Result<(), ReportError> {
    let staging = claim.stage()?;
    write_run_files(out, staging.path()).map_err(|error| OutDirError::Io {
        path: staging.path().to_path_buf(),
        error,
    })?;
    report::build(staging.path(), &ReportOptions::default())?;
    Ok(claim.publish(staging)?)
}
