//! Latency and delay statistics with bounded memory, and the time-series rows a run writes.
//!
//! This module owns [`LogHistogram`] (HdrHistogram's bucket layout at 3 significant digits:
//! percentiles are within 0.1 % of the exact nearest-rank value, and memory grows only with
//! the logarithm of the largest value, at most a few hundred KiB whatever the number of
//! writes) and the row types of `link_usage.csv`, `lag.csv` and `latency.csv`, so a report can
//! read a [`TimeSeries`] in-process without parsing CSV.

use serde::{Deserialize, Serialize};

/// HdrHistogram's layout at 3 significant digits (unit 1 ns): values below 2,048 have a bucket
/// each; above, each power of two has 1,024 (the upper half of 2,048 sub-buckets).
const HALF_MAGNITUDE: u32 = 10;

/// Bits of the largest value of the first bucket (2,047), the base of the bucket number.
const LEADING_ZERO_BASE: u32 = 64 - (HALF_MAGNITUDE + 1);

/// The highest value HdrHistogram can track (292 years in ns), more than any run lasts.
const HIGHEST_TRACKABLE: u64 = u64::MAX / 2;

/// The power of two (0 for values below 2,048) whose buckets hold `v`.
#[inline]
fn magnitude(v: u64) -> u32 {
    LEADING_ZERO_BASE - (v | ((2 << HALF_MAGNITUDE) - 1)).leading_zeros()
}

/// The bucket of `v` (at most [`HIGHEST_TRACKABLE`]): HdrHistogram's `index_for`.
#[inline]
fn index_of(v: u64) -> usize {
    let b = magnitude(v);
    ((u64::from(b) << HALF_MAGNITUDE) + (v >> b)) as usize
}

/// The lowest value of bucket `i` and the power of two of its width.
fn bucket_floor(i: usize) -> (u64, u32) {
    let half = 1u64 << HALF_MAGNITUDE;
    let b = (i >> HALF_MAGNITUDE) as u32;
    let sub = (i as u64 & (half - 1)) + half;
    match b.checked_sub(1) {
        None => (sub - half, 0),
        Some(b) => (sub << b, b),
    }
}

/// A histogram of nanosecond values with 3 significant digits, plus the exact count, sum and
/// maximum (the mean and max are exact, not bucketed).
///
/// The buckets, the quantile walk and the values it reports are HdrHistogram's
/// (`Histogram::<u64>::new(3)`, auto-resizing), which this replaced; recorded here directly,
/// a value costs an index computation and an increment, where the crate's `record` (bounds,
/// resize and min/max bookkeeping, three times per simulated write) cost about 80
/// instructions. A test holds the two to the same answers.
#[derive(Clone, Debug, Default)]
pub struct LogHistogram {
    /// Counts by bucket, as long as the largest value recorded needs (whole powers of two).
    counts: Vec<u64>,
    count: u64,
    sum: u128,
    max: u64,
}

impl LogHistogram {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts `v`; a value above [`HIGHEST_TRACKABLE`] is bucketed as that (the sum and the
    /// maximum keep it whole).
    #[inline]
    pub fn record(&mut self, v: u64) {
        let i = index_of(v.min(HIGHEST_TRACKABLE));
        match self.counts.get_mut(i) {
            Some(c) => *c += 1,
            None => self.grow_to(i),
        }
        self.count += 1;
        self.sum += u128::from(v);
        self.max = self.max.max(v);
    }

    /// Extends the counts to the end of the power of two holding bucket `i`, and counts one
    /// there.
    #[cold]
    fn grow_to(&mut self, i: usize) {
        self.counts.resize((i | ((1 << HALF_MAGNITUDE) - 1)) + 1, 0);
        self.counts[i] += 1;
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
    /// significant digits: the top of the bucket holding it (the bottom for `q = 0`), never
    /// above the largest value recorded. HdrHistogram's `value_at_quantile`.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let q = if q > 1.0 { 1.0 } else { q };
        let rank = ((q * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        let Some(i) = self.counts.iter().position(|&c| {
            seen += c;
            seen >= rank
        }) else {
            return 0;
        };
        let (floor, width) = bucket_floor(i);
        let value = if q == 0.0 {
            floor
        } else {
            floor.saturating_add(1 << width) - 1
        };
        value.min(self.max)
    }

    pub fn clear(&mut self) {
        if self.count > 0 {
            let top = index_of(self.max.min(HIGHEST_TRACKABLE));
            self.counts[..=top].fill(0);
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
    /// Age of the oldest of them (the RPO at this instant).
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

    proptest::proptest! {
        /// The same buckets, counts and quantiles as the HdrHistogram it replaced, over values of
        /// every magnitude, with the interval histograms' clearing in between.
        #[test]
        fn answers_as_hdrhistogram_did(
            rounds in proptest::collection::vec(
                proptest::collection::vec((0u32..64, proptest::num::u64::ANY), 1..200),
                1..4,
            )
        ) {
            let mut h = LogHistogram::new();
            let mut hdr = hdrhistogram::Histogram::<u64>::new(3).unwrap();
            for values in rounds {
                let mut max = 0;
                for (bits, x) in values {
                    // Spread over magnitudes: `bits` significant bits.
                    let v = if bits == 0 { 0 } else { x >> (64 - bits) };
                    h.record(v);
                    hdr.record(v.min(HIGHEST_TRACKABLE)).unwrap();
                    max = max.max(v);
                }
                for q in [0.0, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0, 1.5] {
                    proptest::prop_assert_eq!(
                        h.quantile(q),
                        hdr.value_at_quantile(q).min(max),
                        "q = {}", q
                    );
                }
                h.clear();
                hdr.reset();
            }
        }
    }
}
