//! Open-loop I/O generators: what a host asks of its storage, and when.
//!
//! This module owns turning a workload definition into a stream of [`Io`]s in time order:
//! Poisson arrivals with a size distribution and uniform, sequential or Zipf addresses drawn
//! from the host's own ChaCha8 stream, or a real trace streamed record by record through
//! [`crate::trace::TraceReader`] with devices mapped to volumes, its records of one timestamp
//! tick either all at the tick's start or spread evenly over it ([`Spread`]). Nothing is
//! buffered beyond the next I/O (with `spread = "uniform"`, beyond the records of one tick), so
//! memory does not grow with trace length. Times are relative to the workload's start; the
//! host adds its start time.

use crate::engine::component_rng;
use crate::scenario::{Addresses, PoissonDef, Spread, TraceDef, WorkloadDef};
use crate::trace::{Op, TraceError, TraceOptions, TraceReader, TraceRecord};
use mirrorlab_model::VolumeId;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

/// One host I/O.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Io {
    /// Nanoseconds since the workload started.
    pub time_ns: u64,
    pub op: Op,
    pub volume: VolumeId,
    pub offset: u64,
    pub len: u64,
}

/// A trace that could not be read, with its path for the message.
#[derive(Debug, thiserror::Error)]
#[error("{}: {error}", .path.display())]
pub struct WorkloadError {
    pub path: PathBuf,
    pub error: TraceError,
}

/// Addresses are drawn in units of this many bytes (one volume block).
const ALIGN: u64 = 4096;

/// One per host and never moved on the hot path, so the Poisson state stays inline.
#[allow(clippy::large_enum_variant)]
pub enum Workload {
    Poisson(Poisson),
    Trace(Box<TraceReplay>),
}

impl Workload {
    /// Builds the generator of `def`; `component` names the random stream (e.g. `host/prod`).
    pub fn new(def: &WorkloadDef, seed: u64, component: &str) -> Result<Self, WorkloadError> {
        Ok(match def {
            WorkloadDef::Poisson(p) => {
                Workload::Poisson(Poisson::new(p, component_rng(seed, component)))
            }
            WorkloadDef::Trace(t) => Workload::Trace(Box::new(TraceReplay::open(t)?)),
        })
    }

    /// The next I/O, or `None` when the workload is over.
    ///
    /// Inlined with the Poisson generator: called, it handed the I/O back through memory
    /// written a field at a time and read whole, a store-forwarding stall on every I/O.
    #[inline]
    pub fn next_io(&mut self) -> Result<Option<Io>, WorkloadError> {
        match self {
            Workload::Poisson(p) => Ok(Some(p.next_io())),
            Workload::Trace(t) => t.next_io(),
        }
    }

    /// Trace lines skipped as unparseable or past the end of their volume
    /// (`skip_bad_lines = true`).
    pub fn skipped_lines(&self) -> u64 {
        match self {
            Workload::Trace(t) => t.reader.skipped() + t.past_end,
            Workload::Poisson(_) => 0,
        }
    }

    /// Trace records whose device maps to no volume.
    pub fn unmapped_records(&self) -> u64 {
        match self {
            Workload::Trace(t) => t.unmapped,
            Workload::Poisson(_) => 0,
        }
    }
}

/// Poisson arrivals (exponential gaps) with sizes and addresses from the host's stream.
pub struct Poisson {
    rng: ChaCha8Rng,
    /// Mean gap between I/Os in ns.
    mean_gap_ns: f64,
    time: f64,
    read_fraction: f64,
    volume: VolumeId,
    volume_size: u64,
    /// (size, cumulative weight).
    sizes: Vec<(u64, u64)>,
    total_weight: u64,
    addresses: Addresses,
    zipf: Option<Zipf>,
    next_sequential: u64,
    /// `volumes`: every volume in turn (`volume` first), and the one the next I/O goes to;
    /// empty for one volume.
    rotation: Vec<VolumeId>,
    turn: usize,
}

impl Poisson {
    fn new(def: &PoissonDef, rng: ChaCha8Rng) -> Self {
        let mut cumulative = 0;
        let sizes = def
            .sizes
            .iter()
            .map(|&(size, weight)| {
                cumulative += weight;
                (size, cumulative)
            })
            .collect();
        let slots = (def.volume_size / ALIGN).max(1);
        let zipf = match def.addresses {
            Addresses::Zipf(s) => Some(Zipf::new(slots, s)),
            _ => None,
        };
        Poisson {
            rng,
            mean_gap_ns: 1e9 / def.rate,
            time: 0.0,
            read_fraction: def.read_fraction,
            volume: def.volume,
            volume_size: def.volume_size,
            sizes,
            total_weight: cumulative,
            addresses: def.addresses,
            zipf,
            next_sequential: 0,
            rotation: if def.more_volumes.is_empty() {
                Vec::new()
            } else {
                std::iter::once(def.volume)
                    .chain(def.more_volumes.iter().copied())
                    .collect()
            },
            turn: 0,
        }
    }

    #[inline]
    fn next_io(&mut self) -> Io {
        let u: f64 = self.rng.gen();
        self.time += -(1.0 - u).ln() * self.mean_gap_ns;
        let op = if self.read_fraction > 0.0 && self.rng.gen::<f64>() < self.read_fraction {
            Op::Read
        } else {
            Op::Write
        };
        let len = if self.sizes.len() == 1 {
            self.sizes[0].0
        } else {
            let w = self.rng.gen_range(0..self.total_weight);
            self.sizes[self.sizes.partition_point(|&(_, c)| c <= w)].0
        };
        let len = len.min(self.volume_size);
        // Slots where an I/O of this length fits.
        let slots = ((self.volume_size - len) / ALIGN + 1).max(1);
        let slot = match self.addresses {
            Addresses::Uniform => self.rng.gen_range(0..slots),
            Addresses::Sequential => {
                let s = self.next_sequential % slots;
                self.next_sequential = s + len.div_ceil(ALIGN);
                s
            }
            Addresses::Zipf(_) => {
                let rank = self.zipf.as_ref().map_or(1, |z| z.sample(&mut self.rng));
                // Scatter ranks over the volume (a multiplicative bijection on 0..slots when the
                // multiplier is coprime), so the hot blocks are not all at offset 0.
                scatter(rank - 1, slots)
            }
        };
        let volume = if self.rotation.is_empty() {
            self.volume
        } else {
            let v = self.rotation[self.turn];
            self.turn = (self.turn + 1) % self.rotation.len();
            v
        };
        Io {
            time_ns: self.time as u64,
            op,
            volume,
            offset: slot * ALIGN,
            len,
        }
    }
}

/// A fixed bijection of `0..n`: multiply by a large odd constant coprime to `n`.
fn scatter(i: u64, n: u64) -> u64 {
    const PRIMES: [u64; 3] = [2_654_435_761, 2_246_822_519, 3_266_489_917];
    let p = PRIMES.iter().copied().find(|p| n % p != 0).unwrap_or(1);
    ((u128::from(i) * u128::from(p)) % u128::from(n)) as u64
}

/// Zipf(s) ranks in `1..=n` by rejection-inversion (Hörmann and Derflinger 1996): O(1) time
/// and memory whatever `n`, so a skewed workload over a 64 TiB volume costs nothing to set up.
pub struct Zipf {
    n: f64,
    s: f64,
    h_x1: f64,
    h_n: f64,
    threshold: f64,
}

impl Zipf {
    pub fn new(n: u64, s: f64) -> Self {
        let mut z = Zipf {
            n: n as f64,
            s,
            h_x1: 0.0,
            h_n: 0.0,
            threshold: 0.0,
        };
        z.h_x1 = z.h_integral(1.5) - 1.0;
        z.h_n = z.h_integral(z.n + 0.5);
        z.threshold = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.s) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        (helper1(t) * x).exp()
    }

    pub fn sample(&self, rng: &mut impl Rng) -> u64 {
        loop {
            let u = self.h_n + rng.gen::<f64>() * (self.h_x1 - self.h_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.threshold || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }
}

/// ln(1 + x) / x, accurate near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// (e^x - 1) / x, accurate near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

/// A trace replayed onto volumes.
pub struct TraceReplay {
    path: PathBuf,
    reader: TraceReader<BufReader<File>>,
    /// device -> (volume, size); `None` device key maps every device.
    map: Vec<(Option<u64>, VolumeId, u64)>,
    unmapped: u64,
    skip_bad_lines: bool,
    /// Records past the end of their volume, skipped (`skip_bad_lines`).
    past_end: u64,
    spread: Spread,
    /// With `Spread::Uniform`: the rest of the current tick's I/Os, times already spread.
    tick: VecDeque<Io>,
    /// With `Spread::Uniform`: the first I/O of the next tick, read to end the current one.
    next_tick: Option<(Io, u64)>,
}

impl TraceReplay {
    fn open(def: &TraceDef) -> Result<Self, WorkloadError> {
        let options = TraceOptions {
            skip_bad_lines: def.skip_bad_lines,
            time_scale: def.time_scale,
        };
        let reader =
            TraceReader::open(&def.path, def.format, options).map_err(|error| WorkloadError {
                path: def.path.clone(),
                error,
            })?;
        Ok(TraceReplay {
            path: def.path.clone(),
            reader,
            map: def.map.clone(),
            unmapped: 0,
            skip_bad_lines: def.skip_bad_lines,
            past_end: 0,
            spread: def.spread,
            tick: VecDeque::new(),
            next_tick: None,
        })
    }

    fn next_io(&mut self) -> Result<Option<Io>, WorkloadError> {
        match self.spread {
            Spread::None => Ok(self.next_record()?.map(|(io, _)| io)),
            Spread::Uniform => self.next_spread(),
        }
    }

    /// The next I/O with its times spread over its tick: reads the whole tick (and the first
    /// record after it) when the previous one is used up.
    fn next_spread(&mut self) -> Result<Option<Io>, WorkloadError> {
        if let Some(io) = self.tick.pop_front() {
            return Ok(Some(io));
        }
        let first = match self.next_tick.take() {
            Some(first) => first,
            None => match self.next_record()? {
                Some(first) => first,
                None => return Ok(None),
            },
        };
        let (first, tick_ns) = first;
        let start = first.time_ns;
        let mut end = start.saturating_add(tick_ns);
        self.tick.push_back(first);
        while let Some((io, tick_ns)) = self.next_record()? {
            if io.time_ns != start {
                end = end.min(io.time_ns);
                self.next_tick = Some((io, tick_ns));
                break;
            }
            self.tick.push_back(io);
        }
        let n = self.tick.len() as u128;
        let span = u128::from(end - start);
        for (k, io) in self.tick.iter_mut().enumerate() {
            // k < n, so the offset is below `span` and fits.
            io.time_ns = start + (k as u128 * span / n) as u64;
        }
        Ok(self.tick.pop_front())
    }

    /// The next record mapped onto its volume, with the tick of its time.
    fn next_record(&mut self) -> Result<Option<(Io, u64)>, WorkloadError> {
        loop {
            let record: TraceRecord = match self.reader.next() {
                None => return Ok(None),
                Some(Err(error)) => {
                    return Err(WorkloadError {
                        path: self.path.clone(),
                        error,
                    })
                }
                Some(Ok(r)) => r,
            };
            let Some(&(_, volume, size)) = self
                .map
                .iter()
                .find(|(d, _, _)| d.is_none_or(|d| d == record.device))
            else {
                self.unmapped += 1;
                continue;
            };
            // The reader checked `offset + len` does not overflow.
            let end = record.offset + record.len;
            if end > size {
                if self.skip_bad_lines {
                    self.past_end += 1;
                    continue;
                }
                return Err(WorkloadError {
                    path: self.path.clone(),
                    error: TraceError::PastEnd {
                        line: self.reader.line(),
                        volume: volume.to_string(),
                        size,
                        end,
                    },
                });
            }
            let io = Io {
                time_ns: record.time_ns,
                op: record.op,
                volume,
                offset: record.offset,
                len: record.len,
            };
            return Ok(Some((io, self.reader.tick_ns())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TraceFormat;

    #[test]
    fn zipf_ranks_are_skewed_and_in_range() {
        let z = Zipf::new(1000, 1.0);
        let mut rng = component_rng(7, "t");
        let mut counts = vec![0u32; 1001];
        for _ in 0..100_000 {
            let k = z.sample(&mut rng) as usize;
            assert!((1..=1000).contains(&k));
            counts[k] += 1;
        }
        // Zipf(1) over 1000: P(1) = 1 / H(1000) ~ 0.134, P(2) ~ 0.067.
        assert!((12_500..14_500).contains(&counts[1]), "{}", counts[1]);
        assert!(counts[1] > counts[2] && counts[2] > counts[10]);
    }

    #[test]
    fn scatter_is_a_bijection() {
        for n in [1u64, 7, 64, 1000] {
            let mut seen: Vec<u64> = (0..n).map(|i| scatter(i, n)).collect();
            seen.sort();
            assert_eq!(seen, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn poisson_rate_and_sizes() {
        let def = PoissonDef {
            rate: 1000.0,
            sizes: vec![(4096, 3), (65536, 1)],
            addresses: Addresses::Uniform,
            read_fraction: 0.25,
            volume: VolumeId::new(1, 1),
            volume_size: 1 << 30,
            more_volumes: Vec::new(),
            dependent: false,
        };
        let mut p = Poisson::new(&def, component_rng(1, "host/x"));
        let ios: Vec<Io> = (0..10_000).map(|_| p.next_io()).collect();
        let secs = ios.last().unwrap().time_ns as f64 / 1e9;
        assert!((9.5..10.5).contains(&secs), "{secs}");
        let reads = ios.iter().filter(|i| i.op == Op::Read).count();
        assert!((2300..2700).contains(&reads), "{reads}");
        let big = ios.iter().filter(|i| i.len == 65536).count();
        assert!((2300..2700).contains(&big), "{big}");
        assert!(ios
            .iter()
            .all(|i| i.offset + i.len <= 1 << 30 && i.offset % 4096 == 0));
        assert!(ios.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
    }

    /// The I/O times of `text` replayed as `format` with `spread`.
    fn replay_times(text: &str, format: TraceFormat, spread: Spread) -> Vec<u64> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.trace");
        std::fs::write(&path, text).unwrap();
        let def = TraceDef {
            path,
            format,
            time_scale: 1.0,
            skip_bad_lines: false,
            spread,
            map: vec![(None, VolumeId::new(1, 1), 1 << 30)],
        };
        let mut replay = TraceReplay::open(&def).unwrap();
        std::iter::from_fn(|| replay.next_io().unwrap())
            .map(|io| io.time_ns)
            .collect()
    }

    #[test]
    fn uniform_spread_puts_the_kth_of_n_records_at_k_ticks_over_n() {
        // CloudPhysics whole seconds: 3 records at 5 s, 1 at 6 s, 4 at 8 s.
        let lines: Vec<String> = [5, 5, 5, 6, 8, 8, 8, 8]
            .iter()
            .enumerate()
            .map(|(i, t)| format!("1,{t},2a,4096,{}\n", i * 8))
            .collect();
        let text = lines.concat();
        let second = 1_000_000_000u64;
        assert_eq!(
            replay_times(&text, TraceFormat::CloudPhysics, Spread::None),
            [
                0,
                0,
                0,
                second,
                3 * second,
                3 * second,
                3 * second,
                3 * second
            ],
            "as written by default"
        );
        let mut want = Vec::new();
        for (t0, n) in [(0, 3), (second, 1), (3 * second, 4)] {
            want.extend((0..n).map(|k| t0 + k * second / n));
        }
        assert_eq!(
            replay_times(&text, TraceFormat::CloudPhysics, Spread::Uniform),
            want
        );
    }

    #[test]
    fn uniform_spread_ends_at_the_next_record_when_it_comes_within_the_tick() {
        // UMass "0.5" has a tick of 100 ms, but the next record is 10 ms later: the two at
        // 0.5 s share those 10 ms. "0.510000" has a tick of 1 us.
        let text = "0,1,512,w,0.5\n0,9,512,w,0.5\n0,17,512,w,0.510000\n0,25,512,w,0.510000\n";
        assert_eq!(
            replay_times(text, TraceFormat::Umass, Spread::Uniform),
            [0, 5_000_000, 10_000_000, 10_000_500]
        );
    }
}
