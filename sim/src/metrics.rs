//! Latency and delay statistics with flat memory, and the time-series rows a run writes.
//!
//! This module owns [`LogHistogram`] (fixed log-spaced buckets: a run of a billion writes
//! costs the same 15 KiB as a run of ten, and percentiles stay within about 3 %) and the row
//! types of `link_usage.csv`, `lag.csv` and `latency.csv`, so a report can read a
//! [`TimeSeries`] in-process without parsing CSV.

use serde::{Deserialize, Serialize};

/// Sub-buckets per power of two: 32 gives a relative bucket width of at most 1/32.
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
/// Values below `SUB` get one exact bucket each; above, 32 buckets per power of two.
const BUCKETS: usize = SUB + (64 - SUB_BITS as usize) * SUB;

/// A histogram of nanosecond values in fixed log-spaced buckets.
#[derive(Clone, Debug)]
pub struct LogHistogram {
    counts: Box<[u64; BUCKETS]>,
    count: u64,
    sum: u128,
    max: u64,
}

impl Default for LogHistogram {
    fn default() -> Self {
        LogHistogram {
            counts: Box::new([0; BUCKETS]),
            count: 0,
            sum: 0,
            max: 0,
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros();
    let mantissa = ((v >> (exp - SUB_BITS)) as usize) & (SUB - 1);
    SUB + (exp - SUB_BITS) as usize * SUB + mantissa
}

/// The smallest value and the width of bucket `b`.
fn bucket_range(b: usize) -> (u64, u64) {
    if b < SUB {
        return (b as u64, 1);
    }
    let exp = (b - SUB) / SUB + SUB_BITS as usize;
    let mantissa = ((b - SUB) % SUB) as u64;
    let width = 1u64 << (exp - SUB_BITS as usize);
    ((SUB as u64 + mantissa) * width, width)
}

impl LogHistogram {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&mut self, v: u64) {
        self.counts[bucket_of(v)] += 1;
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

    /// The value at quantile `q` (0..=1): the middle of the bucket holding it, never above
    /// the largest value recorded.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, width) = bucket_range(b);
                return (lo + width / 2).min(self.max);
            }
        }
        self.max
    }

    pub fn clear(&mut self) {
        if self.count > 0 {
            self.counts.fill(0);
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

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut last = 0;
        for v in (0..5000u64).chain([u64::MAX / 3, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b >= last && b < BUCKETS, "{v}");
            let (lo, w) = bucket_range(b);
            assert!(lo <= v && v - lo < w, "{v}: {lo} {w}");
            last = b;
        }
    }

    #[test]
    fn quantiles_are_within_a_bucket() {
        let mut h = LogHistogram::new();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5) as f64;
        assert!((p50 / 5_000_000.0 - 1.0).abs() < 0.04, "{p50}");
        assert_eq!(h.quantile(1.0), 10_000_000);
        assert_eq!(h.mean(), 5_000_500);
        h.clear();
        assert_eq!(h.summary(), Percentiles::default());
    }
}
