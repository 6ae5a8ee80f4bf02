//! `mirrorlab sweep` and `mirrorlab merge`: the commands' flow, over [`crate::study`] (which
//! runs, lays out and merges) and [`crate::report`] (which draws).

use crate::study::{format_rows, merge, Shard, Sweep, SweepOptions};
use crate::units::Nanos;
use std::path::PathBuf;

/// `println!` that ignores a closed stdout (`mirrorlab sweep ... | head` must still finish
/// the sweep and its report).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `mirrorlab sweep SCENARIO.toml --vary KEY=V1,V2 ...`
#[derive(Clone, Debug, clap::Args)]
pub struct SweepArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// KEY=V1,V2,...: one axis of the grid (repeat for more; the first changes slowest).
    /// Keys: mode, seed, duration, link.NAME.bandwidth, link.NAME.latency,
    /// link.NAME.price_per_gb, link.NAME.price_per_mbps_month, mirror.GROUP.mode,
    /// mirror.GROUP.chunk, mirror.GROUP.journal, mirror.GROUP.cycle, mirror.GROUP.pass,
    /// mirror.GROUP.window, host.NAME.rate.
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub vary: Vec<String>,
    /// Output directory (default: reports/<scenario file stem>-sweep/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only rows I, I+N, I+2N, ... (one slice of the grid; join slices with `merge`).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// The RPO a copy mode must keep for the report's answer, e.g. 30s or 5min.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub rpo_target: Nanos,
}

/// `mirrorlab merge DIR... --out DIR`
#[derive(Clone, Debug, clap::Args)]
pub struct MergeArgs {
    /// The shard directories (`sweep --shard I/N --out DIR` of one sweep, every I once).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Where the merged sweep and its report go.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `mirrorlab sweep`: exit code 0, or 1 when a run broke an invariant or a file could not
/// be written; `Err` is bad input (exit 2).
pub fn run_sweep_cmd(args: &SweepArgs) -> anyhow::Result<u8> {
    let sweep = Sweep::load(&args.scenario, &args.vary, args.rpo_target.0)?;
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!("{}-sweep", sweep.scenario.stem()))
    });
    let shard = args.shard.unwrap_or_default();
    let opts = SweepOptions {
        shard,
        threads: args.threads,
        progress: true,
    };
    let start = std::time::Instant::now();
    let rows = match sweep.run(&opts, &out) {
        Ok(r) => r,
        Err(e) if e.is_bad_input() => return Err(e.into()),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    };
    say!(
        "{}",
        format_rows(&sweep.grid, &rows, sweep.rpo_target_ns).trim_end()
    );
    say!(
        "\n{} run{} in {:.1} s (wall clock)",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        start.elapsed().as_secs_f64()
    );
    if shard.is_whole() {
        match crate::report::build(&out, &crate::report::ReportOptions::default()) {
            Ok(index) => say!(
                "wrote {} and {}",
                out.join("sweep.csv").display(),
                index.display()
            ),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(1);
            }
        }
    } else {
        say!(
            "shard {}/{}: wrote {} (join every shard with `mirrorlab merge DIR... --out DIR`)",
            shard.index,
            shard.count,
            out.display()
        );
    }
    let failed = rows.iter().filter(|r| !r.result.invariants_ok).count();
    if failed > 0 {
        eprintln!("{failed} run(s) broke an invariant: see the report");
        return Ok(1);
    }
    Ok(0)
}

/// Runs `mirrorlab merge`.
pub fn run_merge_cmd(args: &MergeArgs) -> anyhow::Result<u8> {
    let meta = match merge(&args.shards, &args.out) {
        Ok(m) => m,
        Err(e) if e.is_bad_input() => return Err(e.into()),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    };
    match crate::report::build(&args.out, &crate::report::ReportOptions::default()) {
        Ok(index) => {
            say!(
                "merged {} shard{} ({} runs) into {} and {}",
                args.shards.len(),
                if args.shards.len() == 1 { "" } else { "s" },
                meta.runs,
                args.out.join("sweep.csv").display(),
                index.display()
            );
            Ok(0)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(1)
        }
    }
}
