//! Latency and delay statistics with bounded memory, and the time-series rows a run writes.
//!
//! This module owns [`LogHistogram`] (an HdrHistogram at 3 significant digits: percentiles are
//! within 0.1 % of the exact nearest-rank value, and memory grows only with the logarithm of
//! the largest value, at most a few hundred KiB whatever the number of writes) and the row
//! types of `link_usage.csv`, `lag.csv` and `latency.csv`, so a report can read a
//! [`TimeSeries`] in-process without parsing CSV.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Significant decimal digits the histogram keeps: 3 tells p99 from p99.9 when they differ by
/// 0.2 % or more (the 1/32 log buckets it replaced merged values 3 % apart).
const SIGNIFICANT_DIGITS: u8 = 3;

/// The highest value HdrHistogram can track (292 years in ns), more than any run lasts.
const HIGHEST_TRACKABLE: u64 = u64::MAX / 2;

/// A histogram of nanosecond values with 3 significant digits, plus the exact count, sum and
/// maximum (the mean and max are exact, not bucketed).
#[derive(Clone, Debug)]
pub struct LogHistogram {
    /// Resizes itself to the largest value seen; a value above [`HIGHEST_TRACKABLE`] is
    /// counted as that.
    counts: Histogram<u64>,
    count: u64,
    sum: u128,
    max: u64,
}

impl Default for LogHistogram {
    fn default() -> Self {
        LogHistogram {
            counts: Histogram::new(SIGNIFICANT_DIGITS)
                .expect("3 significant digits is within HdrHistogram's 0..=5"),
            count: 0,
            sum: 0,
            max: 0,
        }
    }
}

impl LogHistogram {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&mut self, v: u64) {
        // Recording resizes the histogram to cover `v`; it can fail only where `usize` is too
        // small to index the counts, and then the value is kept at the largest one covered.
        let v_kept = v.min(HIGHEST_TRACKABLE);
        if self.counts.record(v_kept).is_err() {
            self.counts.saturating_record(v_kept);
        }
        self.count += 1;
        self.sum += u128::from(v);
        self.max = self.max.max(v);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// Integer mean (0 when empty).
    pub fn mean(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            (self.sum / u128::from(self.count)) as u64
        }
    }

    /// The value at quantile `q` (0..=1) by nearest rank (the `ceil(q * n)`-th smallest), to 3
    /// significant digits: the top of the bucket holding it, never above the largest value
    /// recorded.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        self.counts.value_at_quantile(q).min(self.max)
    }

    pub fn clear(&mut self) {
        if self.count > 0 {
            self.counts.reset();
            self.count = 0;
            self.sum = 0;
            self.max = 0;
        }
    }

    pub fn summary(&self) -> Percentiles {
        Percentiles {
            mean: self.mean(),
            p50: self.quantile(0.5),
            p99: self.quantile(0.99),
            p999: self.quantile(0.999),
            max: self.max,
        }
    }
}

/// Summary statistics in nanoseconds, as summary.json prints them; the report reads them back
/// with this type too (leniently: a missing field is 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Percentiles {
    pub mean: u64,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// One row of `link_usage.csv`: one direction of one link over one interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinkSample {
    /// End of the interval.
    pub time_ns: u64,
    pub link: String,
    /// `"A->B"` by storage serial.
    pub direction: String,
    pub data_bytes: u64,
    pub control_bytes: u64,
    /// Share of the interval the link spent serializing messages.
    pub utilisation: f64,
}

/// One row of `lag.csv`: one remote mirror at one sampling instant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LagSample {
    pub time_ns: u64,
    pub group: String,
    pub mirror: String,
    /// Bytes of host writes on the PVOL not yet on the SVOL.
    pub lag_bytes: u64,
    /// The RPO at this instant: the age of the oldest *acknowledged* write not yet on the SVOL
    /// (README "RPO and replication delay"; 0 for sync in PAIR). Written as `rpo_s`.
    pub lag_ns: u64,
    pub lag_writes: u64,
}

/// One row of `latency.csv`: one host over one interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencySample {
    pub time_ns: u64,
    pub host: String,
    /// Writes acknowledged in the interval.
    pub writes: u64,
    pub reads: u64,
    pub failed: u64,
    pub mean_ns: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

/// The time series of a run, in time order then by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TimeSeries {
    pub interval_ns: u64,
    pub link_usage: Vec<LinkSample>,
    pub lag: Vec<LagSample>,
    pub latency: Vec<LatencySample>,
}

/// Rounds to `decimals` places so printed floats are short and byte-stable.
pub fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nearest-rank quantile of `sorted`, computed directly: the `ceil(q * n)`-th value.
    fn exact(sorted: &[u64], q: f64) -> u64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    /// Agreement to 3 significant digits: within one part in a thousand.
    fn assert_3_digits(found: u64, want: u64, what: &str) {
        let error = found.abs_diff(want) as f64 / want as f64;
        assert!(error <= 1e-3, "{what}: found {found}, exact {want}");
    }

    #[test]
    fn percentiles_agree_with_the_sorted_samples_to_3_digits() {
        // A long-tailed set: 10,000 values from a fixed quadratic congruential walk, spanning
        // 1 us to about 1 s, so every percentile lands on a different power of two.
        let mut samples: Vec<u64> = (1..=10_000u64)
            .map(|i| 1_000 + (i * i * 7_919 + i * 104_729) % 1_000_000_000)
            .collect();
        let mut h = LogHistogram::new();
        for &v in &samples {
            h.record(v);
        }
        samples.sort_unstable();
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_3_digits(h.quantile(q), exact(&samples, q), &format!("q = {q}"));
        }
        assert_eq!(
            h.quantile(1.0),
            samples[samples.len() - 1],
            "never above the max"
        );
        let sum: u64 = samples.iter().sum();
        assert_eq!(h.mean(), sum / samples.len() as u64);
        assert_eq!(h.max(), samples[samples.len() - 1]);
    }

    #[test]
    fn p99_and_p999_two_percent_apart_are_told_apart() {
        // 1,000 writes: 989 at 100 us, 9 at 1.00 ms and 2 at 1.02 ms, so p99 (the 990th
        // smallest) is 1.00 ms and p99.9 (the 999th) 1.02 ms, 2 % more.
        let mut h = LogHistogram::new();
        let mut samples = Vec::new();
        for (value, n) in [(100_000u64, 989), (1_000_000, 9), (1_020_000, 2)] {
            for _ in 0..n {
                h.record(value);
                samples.push(value);
            }
        }
        samples.sort_unstable();
        let (p99, p999) = (exact(&samples, 0.99), exact(&samples, 0.999));
        assert_eq!(
            (p99, p999),
            (1_000_000, 1_020_000),
            "the set is as intended"
        );
        let s = h.summary();
        assert_3_digits(s.p99, p99, "p99");
        assert_3_digits(s.p999, p999, "p99.9");
        assert_ne!(s.p99, s.p999);
    }

    #[test]
    fn small_values_are_exact_and_clear_empties() {
        let mut h = LogHistogram::new();
        for v in 0..=1_000u64 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), 500);
        assert_eq!(h.quantile(0.0), 0);
        h.clear();
        assert_eq!(h.summary(), Percentiles::default());
        h.record(u64::MAX);
        assert!(
            h.quantile(0.5) >= u64::MAX / 4,
            "saturates near the trackable maximum"
        );
        assert_eq!(h.max(), u64::MAX);
    }
}
