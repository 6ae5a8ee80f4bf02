//! `mirrorlab`: the command line. Each subcommand lives in its own library module; this file
//! only parses arguments and maps results to the one exit-code contract of every subcommand
//! ([`EXIT_CODES`]): an `Err` is always 2.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The exit-code contract, shown by `--help` and written in README.md.
const EXIT_CODES: &str = "Exit status, for every subcommand:
  0  done
  1  an invariant or property broke (the outputs were written and say which)
  2  bad input or an I/O failure (an error: message on stderr; no output written or changed)

Outputs: an existing --out must be empty or an earlier mirrorlab output of the same kind
(it holds a .mirrorlab marker), else it is refused (exit 2) unless --force; an --out that
is or holds an input is always refused. A directory appears only complete, and a second
process writing the same --out is refused while the first runs.";

#[derive(Parser)]
#[command(
    name = "mirrorlab",
    version,
    after_help = EXIT_CODES,
    about = "Model checker and discrete-event simulator of storage replication: atomic split, \
             no-copy second remote mirror, and what each copy mode costs.",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Model-check the protocol over every interleaving: exit 0 when every property holds,
    /// 1 with a counterexample when one fails.
    Check(mirrorlab::check_cmd::CheckArgs),
    /// Serve stateright's Explorer web UI on the checked model.
    Explore(mirrorlab::check_cmd::ExploreArgs),
    /// Simulate a scenario: writes summary.json, CSV time series and the run's page
    /// (index.html and its charts), prints a table; exit 1
    /// when an invariant breaks. A scenario with [replay] steps (check --trace-out writes one)
    /// is replayed step by step, and REPLAY: lines name the step that broke a promise.
    Run {
        /// The scenario file (TOML).
        scenario: std::path::PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory (default: reports/<scenario file stem>/).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Copy mode for every remote mirror: sync, semi-sync, async, periodic, adaptive.
        #[arg(long)]
        mode: Option<mirrorlab_model::CopyMode>,
        /// Skip trace lines that do not parse or reach past the end of their volume, and
        /// count them in summary.json (`skipped_trace_lines`), instead of stopping (exit 2).
        #[arg(long)]
        skip_bad_lines: bool,
        /// Replace an --out that exists and is not an earlier run directory (its contents
        /// are deleted).
        #[arg(long)]
        force: bool,
    },
    /// Run a grid of simulations in parallel (--vary KEY=V1,V2 ...): sweep.csv, charts and
    /// index.html.
    Sweep(mirrorlab::sweep_cmd::SweepArgs),
    /// Charts and index.html from what sweep, merge or run wrote.
    Report(mirrorlab::report::ReportArgs),
    /// A scenario from HORCM (CCI) configuration files: the arrays, LDEVs, pairs and groups
    /// they describe, with TODO placeholders for what they do not say.
    Import(mirrorlab::horcm::ImportArgs),
    /// Join the shard directories of one sweep (sweep --shard I/N) into one sweep and report.
    Merge(mirrorlab::sweep_cmd::MergeArgs),
    /// Measure speed; with no target, everything.
    Bench {
        #[arg(value_enum)]
        target: Option<BenchTarget>,
        /// Events for the queue comparison.
        #[arg(long, default_value_t = 20_000_000)]
        events: u64,
        /// Writes for the whole-simulation measurement.
        #[arg(long, default_value_t = 100_000_000)]
        writes: u64,
        /// Idle mirrors beside the busy one in the whole-simulation measurement (on other
        /// volumes of the same systems, never written): a write should cost the same.
        #[arg(long, default_value_t = 0)]
        idle_mirrors: u64,
        /// Simulated time of the scale benchmark (a scenario duration, e.g. "10s", "1h").
        #[arg(long, default_value = "10s")]
        duration: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum BenchTarget {
    /// The simulator: event queue versus a bare heap, and N writes through an async mirror.
    Engine,
    /// The model checker on its default configuration (Fig 8, sync and async, both transports).
    Check,
    /// 512 independent async mirrors over 3 storage systems, 20 k Poisson writes/s spread over
    /// them, for --duration.
    Scale,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<ExitCode> = match cli.command {
        None => mirrorlab::demo::run().map(ExitCode::from),
        Some(Cmd::Check(args)) => {
            let stdout = std::io::stdout();
            mirrorlab::check_cmd::run_check(&args, &mut stdout.lock())
                .map(|code| ExitCode::from(code as u8))
        }
        Some(Cmd::Explore(args)) => {
            let stdout = std::io::stdout();
            mirrorlab::check_cmd::run_explore(&args, &mut stdout.lock())
                .map(|code| ExitCode::from(code as u8))
        }
        Some(Cmd::Run {
            scenario,
            seed,
            out,
            mode,
            skip_bad_lines,
            force,
        }) => {
            let args = mirrorlab::run_cmd::RunArgs {
                scenario,
                seed,
                out,
                mode,
                skip_bad_lines,
                force,
            };
            match mirrorlab::run_cmd::run(&args) {
                Ok(mirrorlab::run_cmd::RunOutcome::Ok) => Ok(ExitCode::SUCCESS),
                Ok(mirrorlab::run_cmd::RunOutcome::InvariantFailed) => Ok(ExitCode::from(1)),
                Err(e) => Err(e.into()),
            }
        }
        Some(Cmd::Sweep(args)) => mirrorlab::sweep_cmd::run_sweep_cmd(&args).map(ExitCode::from),
        Some(Cmd::Report(args)) => mirrorlab::report::run_report_cmd(&args).map(ExitCode::from),
        Some(Cmd::Import(args)) => mirrorlab::horcm::run_import_cmd(&args)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
        Some(Cmd::Merge(args)) => mirrorlab::sweep_cmd::run_merge_cmd(&args).map(ExitCode::from),
        Some(Cmd::Bench {
            target,
            events,
            writes,
            idle_mirrors,
            duration,
        }) => {
            let all = target.is_none();
            let mut result = Ok(ExitCode::SUCCESS);
            if all || target == Some(BenchTarget::Engine) {
                let stdout = std::io::stdout();
                result = mirrorlab::bench::print_engine(
                    events,
                    writes,
                    idle_mirrors,
                    &mut stdout.lock(),
                )
                .map(|()| ExitCode::SUCCESS)
                .map_err(Into::into);
            }
            if result.is_ok() && (all || target == Some(BenchTarget::Scale)) {
                let stdout = std::io::stdout();
                result = mirrorlab::bench::print_scale(&duration, &mut stdout.lock())
                    .map(|()| ExitCode::SUCCESS)
                    .map_err(Into::into);
            }
            if result.is_ok() && (all || target == Some(BenchTarget::Check)) {
                let stdout = std::io::stdout();
                result = mirrorlab::check_cmd::bench_check(2, &mut stdout.lock())
                    .map(|()| ExitCode::SUCCESS);
            }
            result
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
