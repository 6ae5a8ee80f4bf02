//! What a run produces and how it is written: `summary.json` (the DESIGN.md keys and more),
//! the CSV time series, and the short table printed to stdout.
//!
//! This module owns the output contract and its byte stability: structs (never maps) give
//! JSON keys a fixed order, floats are rounded where they are made, and an output directory
//! appears only complete (written beside it under a temporary name, then renamed).

use crate::metrics::{Percentiles, TimeSeries};
use crate::scenario::HostRole;
use crate::units::human_bytes;
use mirrorlab_model::PairRow;
use serde::Serialize;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

pub use crate::cost::CostReport;

/// Everything a run produces, for writing or for a report/sweep in the same process.
#[derive(Clone, Debug, Serialize)]
pub struct RunOutput {
    pub summary: Summary,
    pub series: TimeSeries,
}

impl RunOutput {
    /// True when the run broke an invariant (exit code 1).
    pub fn failed(&self) -> bool {
        !self.summary.invariants.ok
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    pub simulated_ns: u64,
    /// `--mode` given on the command line, if any.
    pub mode_override: Option<String>,
    pub links: Vec<LinkReport>,
    pub mirrors: Vec<MirrorReport>,
    pub hosts: Vec<HostReport>,
    /// Per month, all links.
    pub cost: CostReport,
    pub events: u64,
    pub splits: Vec<SplitReport>,
    pub resyncs: Vec<ResyncReport>,
    /// One per `disaster` command: what the lost site's acknowledged writes cost.
    pub disasters: Vec<DisasterReport>,
    /// Fig 5/12: the second remote mirror built with atomic split + no-copy versus a full copy.
    pub second_mirror: Option<SecondMirror>,
    pub commands: Vec<CommandReport>,
    pub pairdisplay: Vec<PairRow>,
    pub skipped_trace_lines: u64,
    pub unmapped_trace_records: u64,
    pub invariants: Invariants,
    /// Only for a `[replay]` scenario (absent otherwise, so other outputs keep their bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayReport>,
}

/// What a replay shows beyond the usual outputs: each promise it saw broken with the step
/// that broke it, and the world at the end, to set beside the checker's counterexample.
#[derive(Clone, Debug, Serialize)]
pub struct ReplayReport {
    pub steps: usize,
    pub interval_ns: u64,
    /// The `invariants.failures`, each with the step during which the simulator saw it.
    pub broken: Vec<BrokenPromise>,
    pub volumes: Vec<VolumeContent>,
    /// Messages still in flight, as the steps that would deliver them.
    pub in_flight: Vec<String>,
    /// Timers still set, as the steps that would fire them.
    pub timers: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BrokenPromise {
    /// The step (from 1) during which it broke; `None` when seen at the end of the run.
    pub step: Option<usize>,
    /// Where that step is written (`file:line:column`), and the step itself.
    pub at: Option<String>,
    pub text: Option<String>,
    pub failure: String,
}

/// A volume at the end of a replay: written blocks (`[b0=w2 b1=w1]`) and content digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VolumeContent {
    pub volume: String,
    pub blocks: String,
    pub digest: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct LinkReport {
    pub name: String,
    pub data_bytes: u64,
    pub control_bytes: u64,
    /// Share of the run the busier direction spent serializing.
    pub busy_fraction: f64,
    pub messages: u64,
    /// Messages dropped by a failure: lost ones and whatever a link failure or a crash
    /// took with it.
    pub dropped_messages: u64,
    /// Messages lost on the link (`loss`), each a link failure.
    pub lost_messages: u64,
    pub bandwidth_bytes_per_s: u64,
    pub latency_ns: u64,
    /// Per month.
    pub cost: CostReport,
}

#[derive(Clone, Debug, Serialize)]
pub struct MirrorReport {
    pub group: String,
    pub pvol: String,
    pub svol: String,
    /// Copy mode, or "local".
    pub mode: String,
    pub writes_replicated: u64,
    /// As the PVOL's system sees it.
    pub final_state: String,
    pub svol_state: String,
    pub max_lag_bytes: u64,
    pub final_lag_bytes: u64,
    pub replication_delay_ns: Percentiles,
    /// Link bytes of this mirror's messages (both directions).
    pub data_bytes: u64,
    pub control_bytes: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct HostReport {
    pub name: String,
    pub role: HostRole,
    pub storage: u32,
    /// Writes issued.
    pub writes: u64,
    /// Bytes of writes the storage took.
    pub bytes_written: u64,
    pub acked: u64,
    pub failed: u64,
    pub reads: u64,
    pub read_bytes: u64,
    pub write_latency_ns: Percentiles,
    pub first_failure: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SplitReport {
    pub command: String,
    pub issued_ns: u64,
    pub completed_ns: Option<u64>,
    pub duration_ns: Option<u64>,
    /// Time host I/O was inhibited (Fig 10 step 1120), summed over storage systems.
    pub host_io_stall_ns: u64,
    /// Bytes of split messages on the links (forwarded split, replies, split marks).
    pub control_bytes: u64,
    pub svols: Vec<String>,
    /// Whether SVOLs fed by one source held identical data when the split completed.
    pub digests_match: Option<bool>,
    pub refused: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ResyncReport {
    pub command: String,
    pub mirror: String,
    pub issued_ns: u64,
    pub completed_ns: Option<u64>,
    /// Chunks pending on either end when the resync was issued.
    pub dirty_chunks: u64,
    pub chunk_bytes: u64,
    /// Data bytes the mirror sent on its link until the resync completed (`None` for a local
    /// mirror, which copies in-system).
    pub data_bytes: Option<u64>,
}

/// A site lost for good (`disaster STORAGE`), measured at that moment.
#[derive(Clone, Debug, Serialize)]
pub struct DisasterReport {
    pub at_ns: u64,
    pub storage: u32,
    /// The worst over the DR copies (the mirrors below not in SPLIT): acknowledged writes
    /// whose data is not on the SVOL (0 in sync mode), their bytes, and the RPO: the age of
    /// the oldest of them (from its acknowledgement; from its arrival for sync).
    pub acked_writes_lost: u64,
    pub acked_bytes_lost: u64,
    pub rpo_ns: u64,
    pub mirrors: Vec<DisasterMirror>,
}

/// One remote mirror whose PVOL was on the lost system.
#[derive(Clone, Debug, Serialize)]
pub struct DisasterMirror {
    pub group: String,
    pub pvol: String,
    pub svol: String,
    pub mode: String,
    /// The pair's state at the PVOL just before the disaster.
    pub state: String,
    pub acked_writes_lost: u64,
    pub acked_bytes_lost: u64,
    pub rpo_ns: u64,
    /// Writes on the PVOL whose host was still waiting (never acknowledged, so not lost).
    pub unacked_writes: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CommandReport {
    pub run: String,
    pub issued_ns: Option<u64>,
    pub completed_ns: Option<u64>,
    /// "done", "refused: ...", "not issued" or "not completed".
    pub result: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SecondMirror {
    pub group: String,
    pub mirror: String,
    /// What a full copy must send at least: the PVOL's used bytes at t = 0.
    pub pvol_used_bytes: u64,
    /// Atomic split + no-copy: bytes and time from the split's issue to the create's end.
    pub nocopy: MirrorCost,
    /// Full initial copy over the same link, simulated with the same production traffic.
    pub conventional: MirrorCost,
    pub split_duration_ns: u64,
    pub split_host_io_stall_ns: u64,
    pub bytes_saved: u64,
    pub time_saved_ns: u64,
}

#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct MirrorCost {
    pub completed: bool,
    pub duration_ns: u64,
    pub data_bytes: u64,
    pub control_bytes: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Invariants {
    pub ok: bool,
    pub failures: Vec<String>,
    /// Each invariant the run judged (`mirrorlab_model::invariants`): how often, how often broken.
    pub verdicts: Vec<InvariantVerdict>,
}

#[derive(Clone, Debug, Serialize)]
pub struct InvariantVerdict {
    pub invariant: &'static str,
    pub judged: u64,
    pub broken: u64,
}

/// Seconds with millisecond precision, for CSV time columns.
fn secs(ns: u64) -> String {
    format!(
        "{}.{:03}",
        ns / 1_000_000_000,
        ns % 1_000_000_000 / 1_000_000
    )
}

fn write_csvs(series: &TimeSeries, dir: &Path) -> io::Result<()> {
    let mut s =
        String::from("time_s,link,direction,data_bytes,control_bytes,bytes_per_s,utilisation\n");
    let iv = series.interval_ns.max(1);
    for r in &series.link_usage {
        // The last interval may be short.
        let len = match r.time_ns % iv {
            0 => iv,
            rest => rest,
        };
        let rate = u128::from(r.data_bytes + r.control_bytes) * 1_000_000_000 / u128::from(len);
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{:.4}",
            secs(r.time_ns),
            r.link,
            r.direction,
            r.data_bytes,
            r.control_bytes,
            rate,
            r.utilisation
        );
    }
    fs::write(dir.join("link_usage.csv"), s)?;
    let mut s = String::from("time_s,group,mirror,lag_bytes,lag_s,lag_writes\n");
    for r in &series.lag {
        let _ = writeln!(
            s,
            "{},{},{},{},{}.{:06},{}",
            secs(r.time_ns),
            r.group,
            r.mirror,
            r.lag_bytes,
            r.lag_ns / 1_000_000_000,
            r.lag_ns % 1_000_000_000 / 1_000,
            r.lag_writes
        );
    }
    fs::write(dir.join("lag.csv"), s)?;
    let mut s = String::from("time_s,host,writes,reads,failed,mean_ns,p50_ns,p99_ns,max_ns\n");
    for r in &series.latency {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{}",
            secs(r.time_ns),
            r.host,
            r.writes,
            r.reads,
            r.failed,
            r.mean_ns,
            r.p50_ns,
            r.p99_ns,
            r.max_ns
        );
    }
    fs::write(dir.join("latency.csv"), s)
}

/// Writes `summary.json` and the CSVs into `dir`, replacing it whole: the files go into a
/// temporary directory beside it first, so a crash never leaves a half-written report.
///
/// The old `dir` is not deleted before the new one is in place: it is renamed aside (into a
/// fresh `.NAME.old-*` directory beside it), the new one is renamed in, and only then is the
/// old one deleted. Between the two renames `dir` is missing for a moment, but both results
/// are on disk (`.NAME.old-*/NAME` and `.NAME.tmp-*`), so a crash there loses nothing; if the
/// second rename fails, the old one is moved back. (A single atomic exchange of two directories
/// needs `renameat2(RENAME_EXCHANGE)`, which is Linux-only.)
pub fn write_outputs(out: &RunOutput, dir: &Path) -> io::Result<()> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    fs::create_dir_all(&parent)?;
    let name = dir
        .file_name()
        .map_or_else(|| "out".to_string(), |n| n.to_string_lossy().into_owned());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempdir_in(&parent)?;
    let mut json = serde_json::to_string_pretty(&out.summary).map_err(io::Error::other)?;
    json.push('\n');
    fs::write(tmp.path().join("summary.json"), json)?;
    write_csvs(&out.series, tmp.path())?;
    let old = match fs::symlink_metadata(dir) {
        Ok(_) => {
            let holder = tempfile::Builder::new()
                .prefix(&format!(".{name}.old-"))
                .tempdir_in(&parent)?;
            let aside = holder.path().join(&name);
            fs::rename(dir, &aside)?;
            Some((holder, aside))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let kept = tmp.keep();
    if let Err(e) = fs::rename(&kept, dir) {
        let _ = fs::remove_dir_all(&kept);
        if let Some((_, aside)) = &old {
            let _ = fs::rename(aside, dir);
        }
        return Err(e);
    }
    // The new results are in place; an old directory that cannot be deleted is only disk
    // space, not a reason to call the run failed.
    if let Some((holder, _)) = old {
        let _ = holder.close();
    }
    Ok(())
}

/// Nanoseconds as a short human duration ("1.2 ms", "3.4 s", "1.5 h").
pub fn human_ns(ns: u64) -> String {
    let f = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} us", f / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.1} ms", f / 1e6)
    } else if ns < 120_000_000_000 {
        format!("{:.1} s", f / 1e9)
    } else if ns < 7_200_000_000_000 {
        format!("{:.1} min", f / 6e10)
    } else {
        format!("{:.2} h", f / 3.6e12)
    }
}

/// The short table `mirrorlab run` prints.
pub fn format_table(out: &RunOutput) -> String {
    let s = &out.summary;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{} (seed {}, {} simulated, {} events)",
        s.scenario,
        s.seed,
        human_ns(s.simulated_ns),
        s.events
    );
    let _ = writeln!(
        t,
        "\n{:<10} {:>12} {:>12} {:>7} {:>12}",
        "link", "data", "control", "busy", "$/month"
    );
    for l in &s.links {
        let _ = writeln!(
            t,
            "{:<10} {:>12} {:>12} {:>6.1}% {:>12.2}",
            l.name,
            human_bytes(l.data_bytes),
            human_bytes(l.control_bytes),
            l.busy_fraction * 100.0,
            l.cost.total
        );
    }
    let _ = writeln!(
        t,
        "\n{:<8} {:<25} {:<9} {:<15} {:>12} {:>10} {:>10}",
        "group", "mirror", "mode", "state", "max lag", "delay p50", "delay p99"
    );
    for m in &s.mirrors {
        let _ = writeln!(
            t,
            "{:<8} {:<25} {:<9} {:<15} {:>12} {:>10} {:>10}",
            m.group,
            format!("{}->{}", m.pvol, m.svol),
            m.mode,
            m.final_state,
            human_bytes(m.max_lag_bytes),
            human_ns(m.replication_delay_ns.p50),
            human_ns(m.replication_delay_ns.p99)
        );
    }
    let _ = writeln!(
        t,
        "\n{:<10} {:>10} {:>8} {:>10} {:>10} {:>10}",
        "host", "writes", "failed", "lat p50", "lat p99", "lat p99.9"
    );
    for h in &s.hosts {
        let _ = writeln!(
            t,
            "{:<10} {:>10} {:>8} {:>10} {:>10} {:>10}",
            h.name,
            h.writes,
            h.failed,
            human_ns(h.write_latency_ns.p50),
            human_ns(h.write_latency_ns.p99),
            human_ns(h.write_latency_ns.p999)
        );
    }
    for sp in &s.splits {
        let _ = writeln!(
            t,
            "\nsplit `{}`: {}, host I/O stall {}, SVOLs identical: {}",
            sp.command,
            sp.duration_ns.map_or("not completed".to_string(), human_ns),
            human_ns(sp.host_io_stall_ns),
            match sp.digests_match {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            }
        );
    }
    for d in &s.disasters {
        let _ = writeln!(
            t,
            "\ndisaster at {} (storage {}): {} acknowledged writes lost ({}), RPO {}",
            human_ns(d.at_ns),
            d.storage,
            d.acked_writes_lost,
            human_bytes(d.acked_bytes_lost),
            human_ns(d.rpo_ns)
        );
    }
    if let Some(m) = &s.second_mirror {
        let _ = writeln!(
            t,
            "\nsecond remote mirror {} ({}):\n  atomic split + no-copy: {} on the link, {}\n  conventional full copy: {} on the link, {}{}",
            m.group,
            m.mirror,
            human_bytes(m.nocopy.data_bytes + m.nocopy.control_bytes),
            human_ns(m.nocopy.duration_ns),
            human_bytes(m.conventional.data_bytes + m.conventional.control_bytes),
            human_ns(m.conventional.duration_ns),
            if m.conventional.completed { "" } else { " (not completed)" }
        );
    }
    let _ = writeln!(t, "\ncost: ${:.2}/month", s.cost.total);
    for f in &s.invariants.failures {
        let _ = writeln!(t, "INVARIANT FAILED: {f}");
    }
    if let Some(r) = &s.replay {
        format_replay(r, &mut t);
    }
    t
}

/// A replay's lines of the table: the volumes at the end, then one `REPLAY:` line per
/// broken promise naming the step that broke it.
fn format_replay(r: &ReplayReport, t: &mut String) {
    let _ = writeln!(
        t,
        "\nreplay: {} steps, {} apart; volumes at the end:",
        r.steps,
        human_ns(r.interval_ns)
    );
    for v in &r.volumes {
        let _ = writeln!(t, "  {} {}", v.volume, v.blocks);
    }
    for b in &r.broken {
        let _ = match (b.step, &b.at, &b.text) {
            (Some(n), Some(at), Some(text)) => writeln!(
                t,
                "REPLAY: step {n} of {} ({at}: `{text}`) broke it: {}",
                r.steps, b.failure
            ),
            _ => writeln!(
                t,
                "REPLAY: at the end, after step {}: {}",
                r.steps, b.failure
            ),
        };
    }
    if r.broken.is_empty() {
        let _ = writeln!(t, "replay: every step applied, no invariant broken");
    }
}

/// Prints the table to `w`.
pub fn print_table(out: &RunOutput, w: &mut impl Write) -> io::Result<()> {
    w.write_all(format_table(out).as_bytes())
}
