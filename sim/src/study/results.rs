//! The results of a sweep: the row of key results each run contributes ([`RunResult`]), its
//! verdict against the RPO target, the lines of `sweep.csv` and the table `sweep` prints.

use super::grid::Grid;
use crate::human;
use crate::output::{RunOutput, Summary};
use crate::scenario::HostRole;
use std::fmt::Write as _;

/// The key results of one run, as a sweep row holds them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunResult {
    /// All links, both directions.
    pub data_bytes: u64,
    pub control_bytes: u64,
    /// The busiest link's busy fraction.
    pub busy_fraction: f64,
    /// Largest over remote mirrors.
    pub max_lag_bytes: u64,
    /// RPO, largest over the run and remote mirrors: the age of the oldest acknowledged write
    /// not yet on its SVOL (`summary.json` `max_rpo_ns`, and the sampled `lag.csv` `rpo_s`).
    pub max_rpo_ns: u64,
    pub delay_p99_ns: u64,
    /// Production hosts (the largest over them).
    pub write_p50_ns: u64,
    pub write_p99_ns: u64,
    pub write_p999_ns: u64,
    pub writes: u64,
    pub failed_writes: u64,
    /// Host writes (all hosts) the protocol still held when the run ended, and the age of
    /// the oldest.
    pub queued_at_end: u64,
    pub queued_oldest_ns: u64,
    /// Dollars per month.
    pub cost_transfer: f64,
    pub cost_provisioned: f64,
    pub cost_total: f64,
    /// The second remote mirror (Fig 12): full copy versus atomic split + no-copy.
    pub second_conventional_bytes: u64,
    pub second_conventional_ns: u64,
    pub second_conventional_done: bool,
    pub second_nocopy_bytes: u64,
    pub second_nocopy_ns: u64,
    pub has_second: bool,
    pub split_ns: u64,
    pub split_stall_ns: u64,
    /// Data bytes resyncs sent, and bytes every host wrote during the run.
    pub resync_bytes: u64,
    pub resync_dirty_bytes: u64,
    /// Every resync issued completed before the end of the run.
    pub resyncs_completed: bool,
    pub written_bytes: u64,
    /// `GROUP=STATE` for every mirror, by group.
    pub final_states: String,
    pub invariants_ok: bool,
    /// Every remote mirror keeps a consistent SVOL: a prefix of the writes, or the PVOL as of
    /// a whole cycle. All modes but adaptive, whose SVOL is not a consistent image while a
    /// pass runs (ARCHITECTURE.md "Copy modes"), so its RPO is not a point a database restarts from.
    pub consistent_copy: bool,
}

/// Whether a run answers "is this link enough for this RPO target?", and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Meets,
    MissesRpo,
    /// A host write still held when the run ended had waited longer than the target: the
    /// open-loop workload outran what the configuration admits.
    QueuedAtEnd,
    /// Host writes waited longer than the target before the array took them (p99): a write
    /// queued at the host is as much at risk as one acknowledged and not copied, and an
    /// open-loop workload that queues without bound is not a configuration to buy.
    HostWritesWait,
    /// The RPO may be met, but there is no consistent copy to recover to (adaptive).
    NoConsistentCopy,
    InvariantFailed,
}

impl Verdict {
    /// Short words for tables.
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Meets => "meets RPO target",
            Verdict::MissesRpo => "misses RPO target",
            Verdict::QueuedAtEnd => "host writes queued longer than the RPO target at the end",
            Verdict::HostWritesWait => "host writes wait longer than the RPO target",
            Verdict::NoConsistentCopy => "no consistent copy (adaptive)",
            Verdict::InvariantFailed => "INVARIANT FAILED",
        }
    }
}

impl RunResult {
    /// The verdict against `rpo_target_ns`; the first reason that applies.
    pub fn verdict(&self, rpo_target_ns: u64) -> Verdict {
        if !self.invariants_ok {
            Verdict::InvariantFailed
        } else if !self.consistent_copy {
            Verdict::NoConsistentCopy
        } else if self.max_rpo_ns > rpo_target_ns {
            Verdict::MissesRpo
        } else if self.queued_oldest_ns > rpo_target_ns {
            Verdict::QueuedAtEnd
        } else if self.write_p99_ns > rpo_target_ns {
            Verdict::HostWritesWait
        } else {
            Verdict::Meets
        }
    }

    /// The row of a run in memory.
    pub fn from_output(out: &RunOutput) -> RunResult {
        RunResult::from_summary(&out.summary, max_lag_us(out))
    }

    /// The row from a run's summary and its largest sampled lag in microseconds (what
    /// `lag.csv` holds), so a run in memory and one read from disk give the same row.
    pub fn from_summary(s: &Summary, max_lag_us: u64) -> RunResult {
        let remote: Vec<_> = s.mirrors.iter().filter(|m| m.mode != "local").collect();
        let prod: Vec<_> = s
            .hosts
            .iter()
            .filter(|h| h.role == HostRole::Production)
            .collect();
        let rpo = remote.iter().map(|m| m.max_rpo_ns).max().unwrap_or(0);
        let mut states: Vec<(String, String)> = s
            .mirrors
            .iter()
            .map(|m| (m.group.clone(), m.final_state.clone()))
            .collect();
        states.sort();
        states.dedup();
        let second = s.second_mirror.as_ref();
        let split = s.splits.first();
        RunResult {
            data_bytes: s.links.iter().map(|l| l.data_bytes).sum(),
            control_bytes: s.links.iter().map(|l| l.control_bytes).sum(),
            busy_fraction: s.links.iter().map(|l| l.busy_fraction).fold(0.0, f64::max),
            max_lag_bytes: remote.iter().map(|m| m.max_lag_bytes).max().unwrap_or(0),
            max_rpo_ns: (max_lag_us * 1_000).max(rpo),
            delay_p99_ns: remote
                .iter()
                .map(|m| m.replication_delay_ns.p99)
                .max()
                .unwrap_or(0),
            write_p50_ns: prod
                .iter()
                .map(|h| h.write_latency_ns.p50)
                .max()
                .unwrap_or(0),
            write_p99_ns: prod
                .iter()
                .map(|h| h.write_latency_ns.p99)
                .max()
                .unwrap_or(0),
            write_p999_ns: prod
                .iter()
                .map(|h| h.write_latency_ns.p999)
                .max()
                .unwrap_or(0),
            writes: prod.iter().map(|h| h.writes).sum(),
            failed_writes: prod.iter().map(|h| h.failed).sum(),
            queued_at_end: s.queued_at_end.writes,
            queued_oldest_ns: s.queued_at_end.oldest_age_ns,
            cost_transfer: s.cost.transfer,
            cost_provisioned: s.cost.provisioned,
            cost_total: s.cost.total,
            second_conventional_bytes: second.map_or(0, |m| {
                m.conventional.data_bytes + m.conventional.control_bytes
            }),
            second_conventional_ns: second.map_or(0, |m| m.conventional.duration_ns),
            second_conventional_done: second.is_some_and(|m| m.conventional.completed),
            second_nocopy_bytes: second.map_or(0, |m| m.nocopy.data_bytes + m.nocopy.control_bytes),
            second_nocopy_ns: second.map_or(0, |m| m.nocopy.duration_ns),
            has_second: second.is_some(),
            split_ns: split.and_then(|x| x.duration_ns).unwrap_or(0),
            split_stall_ns: split.map_or(0, |x| x.host_io_stall_ns),
            resync_bytes: s.resyncs.iter().filter_map(|r| r.data_bytes).sum(),
            resync_dirty_bytes: s
                .resyncs
                .iter()
                .map(|r| r.dirty_chunks * r.chunk_bytes)
                .sum(),
            resyncs_completed: s.resyncs.iter().all(|r| r.completed_ns.is_some()),
            written_bytes: s.hosts.iter().map(|h| h.bytes_written).sum(),
            final_states: states
                .iter()
                .map(|(g, st)| format!("{g}={st}"))
                .collect::<Vec<_>>()
                .join(" "),
            invariants_ok: s.invariants.ok,
            consistent_copy: remote.iter().all(|m| m.mode != "adaptive"),
        }
    }
}

/// The largest sampled RPO (`lag.csv` `rpo_s`) of a run in memory, truncated to microseconds as `lag.csv` prints
/// it, so a row made in memory equals the one read back from the run directory.
fn max_lag_us(out: &RunOutput) -> u64 {
    out.series
        .lag
        .iter()
        .map(|l| l.lag_ns / 1_000)
        .max()
        .unwrap_or(0)
}

/// The result columns of `sweep.csv`, after `run` and the varied keys.
pub const RESULT_COLUMNS: [&str; 31] = [
    "data_bytes",
    "control_bytes",
    "busy_fraction",
    "max_lag_bytes",
    "max_rpo_s",
    "delay_p99_s",
    "write_p50_ms",
    "write_p99_ms",
    "write_p999_ms",
    "writes",
    "failed_writes",
    "queued_at_end",
    "queued_oldest_s",
    "cost_transfer_usd_month",
    "cost_provisioned_usd_month",
    "cost_total_usd_month",
    "second_conventional_bytes",
    "second_conventional_s",
    "second_conventional_done",
    "second_nocopy_bytes",
    "second_nocopy_s",
    "has_second",
    "split_s",
    "split_stall_ms",
    "resync_bytes",
    "resync_dirty_bytes",
    "resyncs_completed",
    "written_bytes",
    "final_states",
    "invariants",
    "label",
];

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One row of `sweep.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub run: usize,
    pub params: Vec<String>,
    pub result: RunResult,
    pub label: String,
}

impl Row {
    /// The CSV line, without the newline.
    pub fn csv_line(&self) -> String {
        let r = &self.result;
        let mut f: Vec<String> = vec![self.run.to_string()];
        f.extend(self.params.iter().map(|p| csv_field(p)));
        f.extend([
            r.data_bytes.to_string(),
            r.control_bytes.to_string(),
            format!("{:.4}", r.busy_fraction),
            r.max_lag_bytes.to_string(),
            human::seconds_6(r.max_rpo_ns),
            human::seconds_6(r.delay_p99_ns),
            human::millis_3(r.write_p50_ns),
            human::millis_3(r.write_p99_ns),
            human::millis_3(r.write_p999_ns),
            r.writes.to_string(),
            r.failed_writes.to_string(),
            r.queued_at_end.to_string(),
            human::seconds_6(r.queued_oldest_ns),
            format!("{:.2}", r.cost_transfer),
            format!("{:.2}", r.cost_provisioned),
            format!("{:.2}", r.cost_total),
            r.second_conventional_bytes.to_string(),
            human::seconds_6(r.second_conventional_ns),
            r.second_conventional_done.to_string(),
            r.second_nocopy_bytes.to_string(),
            human::seconds_6(r.second_nocopy_ns),
            r.has_second.to_string(),
            human::seconds_6(r.split_ns),
            human::millis_3(r.split_stall_ns),
            r.resync_bytes.to_string(),
            r.resync_dirty_bytes.to_string(),
            r.resyncs_completed.to_string(),
            r.written_bytes.to_string(),
            csv_field(&r.final_states),
            if r.invariants_ok { "ok" } else { "FAILED" }.to_string(),
            csv_field(&self.label),
        ]);
        f.join(",")
    }
}

/// The header line of `sweep.csv` for `keys`.
pub fn csv_header(keys: &[String]) -> String {
    let mut h = vec!["run".to_string()];
    h.extend(keys.iter().map(|k| csv_field(k)));
    h.extend(RESULT_COLUMNS.iter().map(|c| c.to_string()));
    h.join(",")
}

/// The table `sweep` prints: one line a run.
pub fn format_rows(grid: &Grid, rows: &[Row], rpo_target_ns: u64) -> String {
    let mut t = String::new();
    let keys: Vec<&str> = grid.varies.iter().map(|v| v.key.as_str()).collect();
    let widths: Vec<usize> = keys
        .iter()
        .enumerate()
        .map(|(k, key)| {
            rows.iter()
                .map(|r| r.params[k].len())
                .chain([key.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let _ = write!(t, "{:>4}", "run");
    for (k, key) in keys.iter().enumerate() {
        let _ = write!(t, "  {:<w$}", key, w = widths[k]);
    }
    let _ = writeln!(
        t,
        "  {:>10} {:>12} {:>10} {:>12}  verdict",
        "data", "worst RPO", "write p99", "$/month"
    );
    for r in rows {
        let _ = write!(t, "{:>4}", r.run);
        for (k, p) in r.params.iter().enumerate() {
            let _ = write!(t, "  {:<w$}", p, w = widths[k]);
        }
        let x = &r.result;
        let verdict = x.verdict(rpo_target_ns).text();
        let _ = writeln!(
            t,
            "  {:>10} {:>12} {:>10} {:>12}  {verdict}",
            human::bytes(x.data_bytes),
            human::duration(x.max_rpo_ns),
            human::duration(x.write_p99_ns),
            format!("{:.2}", x.cost_total)
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_gives_the_first_reason_that_applies() {
        let s = 1_000_000_000;
        let ok = RunResult {
            max_rpo_ns: 2 * s,
            write_p99_ns: s,
            invariants_ok: true,
            consistent_copy: true,
            ..Default::default()
        };
        assert_eq!(ok.verdict(2 * s), Verdict::Meets);
        assert_eq!(ok.verdict(s), Verdict::MissesRpo);
        let slow = RunResult {
            write_p99_ns: 3 * s,
            ..ok.clone()
        };
        assert_eq!(slow.verdict(2 * s), Verdict::HostWritesWait);
        let adaptive = RunResult {
            consistent_copy: false,
            ..slow.clone()
        };
        assert_eq!(adaptive.verdict(2 * s), Verdict::NoConsistentCopy);
        let broken = RunResult {
            invariants_ok: false,
            ..adaptive
        };
        assert_eq!(broken.verdict(2 * s), Verdict::InvariantFailed);
    }

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
