//! The embedded demo that `mirrorlab` with no arguments runs: the Fig 5 + Fig 12
//! walk-through, a small model check of the Fig 8 protocol, a sweep of every copy mode over
//! four link bandwidths on an embedded synthetic workload, a bitmap-granularity study, and
//! the HTML report in `reports/demo/index.html`.
//!
//! This module owns the demo's script only. Its scenarios are compiled in
//! (`scenarios/demo.toml`, `scenarios/demo-bitmap.toml`), so a fresh clone with nothing
//! beside it runs it; everything else is the library's commands called in-process.

use crate::out_dir::{self, Kind, OutDir};
use crate::report::{self, data::Study, Analysis, ReportOptions};
use crate::study::{format_rows, Sweep, SweepOptions};
use mirrorlab_model::check::{check, CheckConfig, CheckModel, CheckReport, Verdict};
use mirrorlab_model::CopyMode;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The demo's main scenario: Fig 8 with a Poisson workload, two simulated minutes.
pub const DEMO_SCENARIO: &str = include_str!("../../scenarios/demo.toml");
/// The bitmap-granularity study: a split, writes, a resync.
pub const BITMAP_SCENARIO: &str = include_str!("../../scenarios/demo-bitmap.toml");

/// The demo's grid: every copy mode over four bandwidths.
pub fn demo_varies() -> Vec<String> {
    vec![
        "mode=sync,semi-sync,async,periodic,adaptive".into(),
        "link.wan.bandwidth=25MB/s,50MB/s,100MB/s,200MB/s".into(),
    ]
}

/// The bitmap study's grid.
pub fn bitmap_varies() -> Vec<String> {
    vec!["mirror.ORA_R1.chunk=4KiB,8KiB,64KiB,1MiB".into()]
}

/// The RPO the demo's answer asks for.
pub const DEMO_RPO_TARGET_NS: u64 = 6_000_000_000;

/// How to run the demo.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Where the report goes (`reports/demo`).
    pub out: PathBuf,
    /// Print the Fig 5 walk-through first.
    pub walkthrough: bool,
    /// Sweep worker threads (`None`: one per core).
    pub threads: Option<usize>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            out: PathBuf::from("reports").join("demo"),
            walkthrough: true,
            threads: None,
        }
    }
}

/// `mirrorlab` with no arguments; returns the exit code (1 when the check or a run fails).
pub fn run() -> anyhow::Result<u8> {
    let stdout = std::io::stdout();
    run_with(&DemoOptions::default(), &mut Lenient(stdout.lock()))
}

/// A writer that ignores a closed stdout (`mirrorlab | head` still writes the report).
struct Lenient<W>(W);

impl<W: Write> Write for Lenient<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}

/// The demo, writing its narrative to `w`.
pub fn run_with(opts: &DemoOptions, w: &mut impl Write) -> anyhow::Result<u8> {
    let start = Instant::now();
    let mut failed = false;
    if opts.walkthrough {
        writeln!(w, "== 1. The Fig 5 + Fig 12 walk-through\n")?;
        mirrorlab_model::walkthrough::fig5(w)?;
        writeln!(w)?;
    }

    writeln!(
        w,
        "== 2. A small model check of the Fig 8 protocol (every interleaving)\n"
    )?;
    let mut check_text = String::new();
    for mode in [CopyMode::Sync, CopyMode::Async] {
        let config = CheckConfig {
            mode,
            ..CheckConfig::default()
        };
        let model = CheckModel::new(config).map_err(|e| anyhow::anyhow!("model check: {e}"))?;
        let r = check(model, 1);
        let text = check_summary(&r);
        write!(w, "{text}")?;
        writeln!(w, "  ({:.2} s)", r.seconds)?;
        check_text.push_str(&text);
        failed |= !r.passed();
    }
    // The whole report directory is built beside reports/demo and renamed into place at the
    // end; it replaces only an earlier demo's.
    let claim = OutDir::claim(&opts.out, Kind::Demo, &[], false)?;
    let staging = claim.stage()?;
    let dir = staging.path();
    std::fs::write(dir.join("check.txt"), &check_text)?;
    writeln!(
        w,
        "  (mirrorlab check runs the full set, with faults and mutants)\n"
    )?;

    writeln!(
        w,
        "== 3. Every copy mode over four link bandwidths (embedded synthetic workload)\n"
    )?;
    let sweep = Sweep::from_text(
        DEMO_SCENARIO,
        Path::new("scenarios/demo.toml"),
        &demo_varies(),
        DEMO_RPO_TARGET_NS,
    )?;
    let sweep_opts = SweepOptions {
        threads: opts.threads,
        progress: true,
        ..SweepOptions::default()
    };
    let t = Instant::now();
    let rows = sweep.write_into(&sweep_opts, dir)?;
    write!(
        w,
        "{}",
        format_rows(&sweep.grid, &rows, sweep.rpo_target_ns)
    )?;
    writeln!(
        w,
        "  ({} runs in {:.1} s)\n",
        rows.len(),
        t.elapsed().as_secs_f64()
    )?;
    failed |= rows.iter().any(|r| !r.result.invariants_ok);

    writeln!(w, "== 4. What a resync sends by bitmap granularity\n")?;
    let bitmap = Sweep::from_text(
        BITMAP_SCENARIO,
        Path::new("scenarios/demo-bitmap.toml"),
        &bitmap_varies(),
        DEMO_RPO_TARGET_NS,
    )?;
    let brows = bitmap.write_into(&sweep_opts, &dir.join("bitmap"))?;
    out_dir::mark(&dir.join("bitmap"), Kind::Sweep)?;
    for r in &brows {
        let x = &r.result;
        writeln!(
            w,
            "  chunk {:>6}: hosts wrote {:>9}, resync sent {:>9} ({:.1}x)",
            r.params[0],
            crate::human::bytes(x.written_bytes),
            crate::human::bytes(x.resync_bytes),
            x.resync_bytes as f64 / x.written_bytes.max(1) as f64
        )?;
    }
    failed |= brows.iter().any(|r| !r.result.invariants_ok);

    writeln!(w, "\n== 5. The report\n")?;
    report::build(dir, &ReportOptions::default())?;
    let study = Study::read(dir, None)?;
    let answer = answer_lines(&Analysis::new(&study));
    claim.publish(staging)?;
    let index = opts.out.join("index.html");
    write!(w, "{answer}")?;
    writeln!(
        w,
        "\nopen {} (charts, tables, pairdisplay; no server needed)",
        index.display()
    )?;
    writeln!(w, "demo finished in {:.1} s", start.elapsed().as_secs_f64())?;
    Ok(u8::from(failed))
}

/// A check's result without timings (so the report stays byte-stable).
fn check_summary(r: &CheckReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", r.config);
    let _ = writeln!(
        s,
        "  {} states explored, depth {}, {}",
        r.unique_states,
        r.max_depth,
        if r.exhaustive {
            "exhaustive"
        } else {
            "stopped at the first violation"
        }
    );
    for p in &r.properties {
        let word = match p.verdict {
            Verdict::Holds => "holds",
            Verdict::Violated => "VIOLATED",
            Verdict::Reached => "reached",
            Verdict::NotReached => "NOT REACHED",
        };
        let _ = writeln!(s, "    {word:<11} {}", p.name);
    }
    s
}

/// The answer, one line per copy mode.
fn answer_lines(a: &Analysis<'_>) -> String {
    let mut s = format!(
        "cheapest bandwidth keeping the RPO under {}:\n",
        crate::human::duration(a.study.rpo_target_ns)
    );
    for ans in a.answers() {
        let _ = match ans.best {
            Some(r) => writeln!(
                s,
                "  {:<10} {:>8}  {:>12}/month  worst RPO {:>9}  write p99 {:>9}",
                ans.label,
                report::rate_of(r),
                report::dollars(r.result.cost_total),
                crate::human::duration(r.result.max_rpo_ns),
                crate::human::duration(r.result.write_p99_ns)
            ),
            None => writeln!(
                s,
                "  {:<10} {}",
                ans.label,
                ans.why_not(a.study.rpo_target_ns)
            ),
        };
    }
    s
}
