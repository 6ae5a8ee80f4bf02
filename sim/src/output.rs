//! What a run produces and how it is written: `summary.json` (its keys: README "Simulation"),
//! the CSV time series, and the short table printed to stdout.
//!
//! The summary types are declared once, here, and read back by the report and a sweep
//! (`Deserialize`) as they are written.
//!
//! This module owns the output contract and its byte stability: structs (never maps) give
//! JSON keys a fixed order, floats are rounded where they are made, and an output directory
//! appears only complete ([`crate::run_cmd`] builds it beside its target and renames it in).

use crate::human;
use crate::metrics::{Percentiles, TimeSeries};
use crate::scenario::HostRole;
use mirrorlab_model::{PairRow, PairState, StorageSerial, VolumeId};
use serde::{Deserialize, Deserializer, Serialize};
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

#[derive(Clone, Debug, Serialize, Deserialize)]
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
    /// Host writes issued that the storage had not taken when the run ended.
    #[serde(default)]
    pub queued_at_end: QueuedAtEnd,
    /// Fig 5/12: the second remote mirror built with atomic split + no-copy versus a full copy.
    pub second_mirror: Option<SecondMirror>,
    pub commands: Vec<CommandReport>,
    #[serde(deserialize_with = "pairdisplay_rows")]
    pub pairdisplay: Vec<PairRow>,
    pub skipped_trace_lines: u64,
    pub unmapped_trace_records: u64,
    pub invariants: Invariants,
    /// Only for a `[replay]` scenario (absent otherwise, so other outputs keep their bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayReport>,
}

/// Reads pairdisplay rows back: the model's [`PairRow`] is only written (its `ps` is a
/// `&'static str`), so its fields are read here and it is built from them.
fn pairdisplay_rows<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PairRow>, D::Error> {
    #[derive(Deserialize)]
    struct Line {
        group: String,
        volume: VolumeId,
        storage: StorageSerial,
        ps: String,
        state: PairState,
        mode: String,
        mirror_volume: VolumeId,
        sync_percent: f64,
        pending_bytes: u64,
        #[serde(default)]
        ctg: Option<String>,
    }
    Vec::<Line>::deserialize(d)?
        .into_iter()
        .map(|l| {
            let ps = match l.ps.as_str() {
                "P" => "P",
                "S" => "S",
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "pairdisplay: expected ps \"P\" or \"S\", found {other:?}"
                    )))
                }
            };
            Ok(PairRow {
                group: l.group,
                volume: l.volume,
                storage: l.storage,
                ps,
                state: l.state,
                mode: l.mode,
                mirror_volume: l.mirror_volume,
                sync_percent: l.sync_percent,
                pending_bytes: l.pending_bytes,
                ctg: l.ctg,
            })
        })
        .collect()
}

/// What a replay shows beyond the usual outputs: each promise it saw broken with the step
/// that broke it, and the world at the end, to set beside the checker's counterexample.
#[derive(Clone, Debug, Serialize, Deserialize)]
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

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BrokenPromise {
    /// The step (from 1) during which it broke; `None` when seen at the end of the run.
    pub step: Option<usize>,
    /// Where that step is written (`file:line:column`), and the step itself.
    pub at: Option<String>,
    pub text: Option<String>,
    pub failure: String,
}

/// A volume at the end of a replay: written blocks (`[b0=w2 b1=w1]`) and content digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeContent {
    pub volume: String,
    pub blocks: String,
    pub digest: String,
}

/// Host writes the protocol held, not yet admitted, when the run ended (semi-sync over a long
/// link, a throttled journal, an inhibit): they are in neither the latency percentiles nor the
/// lag. Writes still within the array's service time are in progress and not counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedAtEnd {
    pub writes: u64,
    /// Age of the oldest of them at the end.
    pub oldest_age_ns: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LinkReport {
    pub name: String,
    /// Bytes that left on the link (both directions), counted when their transmission began;
    /// the cost bills these.
    pub data_bytes: u64,
    pub control_bytes: u64,
    /// Bytes queued for the link at the end and never sent.
    #[serde(default)]
    pub queued_data_bytes: u64,
    #[serde(default)]
    pub queued_control_bytes: u64,
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

#[derive(Clone, Debug, Serialize, Deserialize)]
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
    /// RPO: the age of the oldest write acknowledged to its host and not yet on the SVOL
    /// (0 for sync in PAIR), the largest during the run and at its end.
    #[serde(default)]
    pub max_rpo_ns: u64,
    #[serde(default)]
    pub final_rpo_ns: u64,
    /// Replication delay: from a write's arrival (sync) or acknowledgement (other modes) to
    /// its being on the SVOL, over every write that got there.
    pub replication_delay_ns: Percentiles,
    /// Link bytes of this mirror's messages (both directions).
    pub data_bytes: u64,
    pub control_bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
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
    /// Over the acknowledged writes (`latency_writes` of them); writes failed or still queued
    /// at the end are not in it.
    pub write_latency_ns: Percentiles,
    #[serde(default)]
    pub latency_writes: u64,
    pub first_failure: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
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
    /// Per dependent host whose volumes the split covers: the cut the split SVOLs hold
    /// (absent without dependent hosts, so other outputs keep their bytes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consistency: Vec<ImageCut>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DisasterReport {
    pub at_ns: u64,
    pub storage: u32,
    /// The worst over the DR copies (the mirrors below not in SPLIT): acknowledged writes
    /// whose data is not on the SVOL (0 in sync mode), their bytes, and the RPO: the age of
    /// the oldest of them, from its acknowledgement.
    pub acked_writes_lost: u64,
    pub acked_bytes_lost: u64,
    pub rpo_ns: u64,
    pub mirrors: Vec<DisasterMirror>,
    /// Per dependent host of the lost system: the cut its surviving SVOLs hold (absent
    /// without dependent hosts, so other outputs keep their bytes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consistency: Vec<ImageCut>,
}

/// Whether the SVOLs a dependent host's volumes feed hold a consistent cut of its writes
/// (every write present has every write issued before it present): a copy a database
/// recovers from, or not.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageCut {
    pub host: String,
    /// The consistency group of the mirrors, `-` when they are in none (or in several).
    pub ctg: String,
    pub svols: Vec<String>,
    /// Dependent writes the host issued.
    pub dependent_writes: u64,
    pub consistent: bool,
    /// Consistent: the newest write of the stream on the SVOLs.
    pub upto: Option<u64>,
    /// Inconsistent: the oldest write missing, and a later one present without it.
    pub missing: Option<u64>,
    pub present: Option<u64>,
}

impl ImageCut {
    /// One line: whose image, and whether a database recovers from it.
    pub fn describe(&self) -> String {
        let verdict = match (self.consistent, self.upto, self.missing, self.present) {
            (true, Some(upto), ..) => format!("consistent cut (up to write {upto})"),
            (true, None, ..) => "consistent cut (none of its writes)".to_string(),
            (false, _, Some(missing), Some(present)) => format!(
                "INCONSISTENT: write {present} is there without write {missing}, issued before it"
            ),
            (false, ..) => "INCONSISTENT".to_string(),
        };
        format!(
            "{} (CTG {}, SVOLs {}, {} dependent writes): {verdict}",
            self.host,
            self.ctg,
            self.svols.join(", "),
            self.dependent_writes
        )
    }
}

/// One remote mirror whose PVOL was on the lost system.
#[derive(Clone, Debug, Serialize, Deserialize)]
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

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommandReport {
    pub run: String,
    pub issued_ns: Option<u64>,
    pub completed_ns: Option<u64>,
    /// "done", "refused: ...", "not issued" or "not completed".
    pub result: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
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

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct MirrorCost {
    pub completed: bool,
    pub duration_ns: u64,
    pub data_bytes: u64,
    pub control_bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Invariants {
    pub ok: bool,
    pub failures: Vec<String>,
    /// Each invariant the run judged (`mirrorlab_model::invariants`): how often, how often broken.
    /// Absent from a summary.json written before it existed.
    #[serde(default)]
    pub verdicts: Vec<InvariantVerdict>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InvariantVerdict {
    pub invariant: String,
    pub judged: u64,
    pub broken: u64,
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
            human::seconds_3(r.time_ns),
            r.link,
            r.direction,
            r.data_bytes,
            r.control_bytes,
            rate,
            r.utilisation
        );
    }
    fs::write(dir.join("link_usage.csv"), s)?;
    let mut s = String::from("time_s,group,mirror,lag_bytes,rpo_s,lag_writes\n");
    for r in &series.lag {
        let _ = writeln!(
            s,
            "{},{},{},{},{}.{:06},{}",
            human::seconds_3(r.time_ns),
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
            human::seconds_3(r.time_ns),
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

/// Writes `summary.json` and the CSVs into `dir`, an existing directory being built (a run
/// directory's staging, where [`crate::run_cmd`] adds the page, or a sweep's `runs/NNNN`).
pub fn write_run_files(out: &RunOutput, dir: &Path) -> io::Result<()> {
    let mut json = serde_json::to_string_pretty(&out.summary).map_err(io::Error::other)?;
    json.push('\n');
    fs::write(dir.join("summary.json"), json)?;
    write_csvs(&out.series, dir)
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
        human::duration(s.simulated_ns),
        s.events
    );
    let _ = writeln!(
        t,
        "\n{:<10} {:>12} {:>12} {:>7} {:>12} {:>12}",
        "link", "data", "control", "busy", "$/month", "queued"
    );
    for l in &s.links {
        let _ = writeln!(
            t,
            "{:<10} {:>12} {:>12} {:>6.1}% {:>12.2} {:>12}",
            l.name,
            human::bytes(l.data_bytes),
            human::bytes(l.control_bytes),
            l.busy_fraction * 100.0,
            l.cost.total,
            human::bytes(l.queued_data_bytes + l.queued_control_bytes)
        );
    }
    let _ = writeln!(
        t,
        "\n{:<8} {:<25} {:<9} {:<15} {:>12} {:>10} {:>10} {:>10}",
        "group", "mirror", "mode", "state", "max lag", "max RPO", "delay p50", "delay p99"
    );
    for m in &s.mirrors {
        let _ = writeln!(
            t,
            "{:<8} {:<25} {:<9} {:<15} {:>12} {:>10} {:>10} {:>10}",
            m.group,
            format!("{}->{}", m.pvol, m.svol),
            m.mode,
            m.final_state,
            human::bytes(m.max_lag_bytes),
            human::duration(m.max_rpo_ns),
            human::duration(m.replication_delay_ns.p50),
            human::duration(m.replication_delay_ns.p99)
        );
    }
    let _ = writeln!(
        t,
        "\n{:<10} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "host", "writes", "failed", "acked", "lat p50", "lat p99", "lat p99.9"
    );
    for h in &s.hosts {
        let _ = writeln!(
            t,
            "{:<10} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10}",
            h.name,
            h.writes,
            h.failed,
            h.latency_writes,
            human::duration(h.write_latency_ns.p50),
            human::duration(h.write_latency_ns.p99),
            human::duration(h.write_latency_ns.p999)
        );
    }
    let _ = writeln!(
        t,
        "(latency over the acked writes; failed ones, and any still queued at the end, are not \
         in it)"
    );
    if s.queued_at_end.writes > 0 {
        let _ = writeln!(
            t,
            "queued at end: {} host writes the storage had not admitted, the oldest {} old",
            s.queued_at_end.writes,
            human::duration(s.queued_at_end.oldest_age_ns)
        );
    }
    for sp in &s.splits {
        let _ = writeln!(
            t,
            "\nsplit `{}`: {}, host I/O stall {}, SVOLs identical: {}",
            sp.command,
            sp.duration_ns
                .map_or("not completed".to_string(), human::duration),
            human::duration(sp.host_io_stall_ns),
            match sp.digests_match {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            }
        );
        for c in &sp.consistency {
            let _ = writeln!(t, "  {}", c.describe());
        }
    }
    for d in &s.disasters {
        let _ = writeln!(
            t,
            "\ndisaster at {} (storage {}): {} acknowledged writes lost ({}), RPO {}",
            human::duration(d.at_ns),
            d.storage,
            d.acked_writes_lost,
            human::bytes(d.acked_bytes_lost),
            human::duration(d.rpo_ns)
        );
        for c in &d.consistency {
            let _ = writeln!(t, "  {}", c.describe());
        }
    }
    if let Some(m) = &s.second_mirror {
        let _ = writeln!(
            t,
            "\nsecond remote mirror {} ({}):\n  atomic split + no-copy: {} on the link, {}\n  conventional full copy: {} on the link, {}{}",
            m.group,
            m.mirror,
            human::bytes(m.nocopy.data_bytes + m.nocopy.control_bytes),
            human::duration(m.nocopy.duration_ns),
            human::bytes(m.conventional.data_bytes + m.conventional.control_bytes),
            human::duration(m.conventional.duration_ns),
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
pub(crate) fn format_replay(r: &ReplayReport, t: &mut String) {
    let _ = writeln!(
        t,
        "\nreplay: {} steps, {} apart; volumes at the end:",
        r.steps,
        human::duration(r.interval_ns)
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
