//! `mirrorlab sweep` and `mirrorlab merge`: the commands' flow, over [`crate::study`] (which
//! runs, lays out and merges) and [`crate::report`] (which draws).

use crate::report::{self, ReportOptions};
use crate::study::{format_rows, Merge, Shard, Sweep, SweepOptions};
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
    /// Worker threads (default: one per core; at most 256). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// The RPO a copy mode must keep for the report's answer, e.g. 30s or 5min.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub rpo_target: Nanos,
    /// Replace an --out that exists and is not an earlier sweep (its contents are deleted).
    #[arg(long)]
    pub force: bool,
}

/// `mirrorlab merge DIR... --out DIR`
#[derive(Clone, Debug, clap::Args)]
pub struct MergeArgs {
    /// The shard directories (`sweep --shard I/N --out DIR` of one sweep, every I once).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Where the merged sweep and its report go (not one of the shards).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an --out that exists and is not an earlier sweep (its contents are deleted).
    #[arg(long)]
    pub force: bool,
}

/// Runs `mirrorlab sweep`: exit code 0, or 1 when a run broke an invariant; `Err` is bad input
/// or an I/O failure (exit 2), and leaves `--out` as it was.
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
    let claim = sweep.claim(&out, args.force)?;
    let start = std::time::Instant::now();
    let staging = claim.stage()?;
    let rows = sweep.write_into(&opts, staging.path())?;
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
        report::build(staging.path(), &ReportOptions::default())?;
        claim.publish(staging)?;
        say!(
            "wrote {} and {}",
            out.join("sweep.csv").display(),
            out.join("index.html").display()
        );
    } else {
        claim.publish(staging)?;
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

/// Runs `mirrorlab merge`: the merged sweep and its report appear together, or nothing.
pub fn run_merge_cmd(args: &MergeArgs) -> anyhow::Result<u8> {
    let m = Merge::plan(&args.shards)?;
    let claim = m.claim(&args.out, args.force)?;
    let staging = claim.stage()?;
    m.write_into(staging.path())?;
    report::build(staging.path(), &ReportOptions::default())?;
    claim.publish(staging)?;
    say!(
        "merged {} shard{} ({} runs) into {} and {}",
        args.shards.len(),
        if args.shards.len() == 1 { "" } else { "s" },
        m.meta.runs,
        args.out.join("sweep.csv").display(),
        args.out.join("index.html").display()
    );
    Ok(0)
}
