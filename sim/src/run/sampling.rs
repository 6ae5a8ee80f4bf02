//! The time series of a run: every `interval`, one `lag.csv` row per remote mirror (its lag
//! and RPO) and one `latency.csv` row per host (`link_usage.csv` is built from the channels
//! at the end).

use super::*;

pub(super) struct Samples {
    /// Whether this run keeps a series at all (the full-copy comparison run does not).
    pub(super) record: bool,
    pub(super) series: TimeSeries,
    pub(super) last: u64,
}

impl Samples {
    pub(super) fn new(record: bool, interval_ns: u64) -> Samples {
        Samples {
            record,
            series: TimeSeries {
                interval_ns,
                ..Default::default()
            },
            last: 0,
        }
    }
}

impl Timed<'_> {
    pub(super) fn sample(&mut self) {
        let now = self.now();
        self.samples.last = now;
        let series = &mut self.samples.series;
        for tr in &mut self.tracks.list {
            if tr.id.is_local() || !tr.active && tr.replicated == 0 {
                continue;
            }
            // `lag_ns` holds the RPO (README "RPO and replication delay").
            let rpo = tr.rpo(now);
            series.lag.push(LagSample {
                time_ns: now,
                group: tr.group.clone(),
                mirror: tr.id.to_string(),
                lag_bytes: tr.lag_bytes,
                lag_ns: rpo,
                lag_writes: tr.lag.len() as u64,
            });
        }
        for h in &mut self.hosts.list {
            series.latency.push(LatencySample {
                time_ns: now,
                host: h.def.name.clone(),
                writes: h.interval.count(),
                reads: h.interval_reads,
                failed: h.interval_failed,
                mean_ns: h.interval.mean(),
                p50_ns: h.interval.quantile(0.5),
                p99_ns: h.interval.quantile(0.99),
                max_ns: h.interval.max(),
            });
            h.interval.clear();
            h.interval_reads = 0;
            h.interval_failed = 0;
        }
    }
}
