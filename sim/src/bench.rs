//! `mirrorlab bench engine`: how fast the simulator runs, measured, not assumed.
//!
//! This module owns two measurements. The event queue of [`crate::engine`] against a bare
//! `BinaryHeap` loop doing the same hold-model work (pop one event, schedule one), in the same
//! process, so the ratio shows what `(time, class, entity, seq)` ordering and typed events cost. And a whole
//! simulation: N Poisson writes through one async remote mirror, every write a protocol call at
//! each end plus its acknowledgement, reporting wall time and events per second (beside idle
//! mirrors, optionally); and the scale benchmark, 512 async mirrors over three systems.

use crate::engine::{Class, Engine};
use crate::run::{simulate, Overrides};
use crate::scenario;
use crate::scenario_text::{poisson, ScenarioText};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;
use std::time::Instant;

/// Events kept pending in the hold model (a busy simulation's queue depth).
const HOLD: u64 = 1024;

/// A payload the size of the simulator's own events (16 bytes).
#[derive(Clone, Copy)]
#[allow(dead_code)]
enum BenchEv {
    A(u32),
    B(u32, u32),
    C(u32, u64),
}

impl Class for BenchEv {
    fn class(&self) -> u8 {
        match self {
            BenchEv::A(_) => 0,
            BenchEv::B(..) => 1,
            BenchEv::C(..) => 2,
        }
    }

    /// The simulated host, as the simulator ranks its own events by entity.
    fn entity(&self) -> u32 {
        match *self {
            BenchEv::A(h) | BenchEv::B(h, _) | BenchEv::C(h, _) => h,
        }
    }
}

/// xorshift64*: a delay stream both loops share, cheap enough not to dominate.
fn next_delay(x: &mut u64) -> u64 {
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 44) + 1
}

#[derive(Clone, Copy, Debug)]
pub struct QueueBench {
    pub events: u64,
    pub engine_per_s: f64,
    pub bare_per_s: f64,
}

impl QueueBench {
    pub fn ratio(&self) -> f64 {
        self.engine_per_s / self.bare_per_s
    }
}

/// Runs both loops for `events` pops each.
pub fn queue(events: u64) -> QueueBench {
    let mut checksum = 0u64;
    let t = Instant::now();
    let mut e: Engine<BenchEv> = Engine::new();
    let mut x = 88_172_645_463_325_252u64;
    for i in 0..HOLD {
        e.after(next_delay(&mut x), BenchEv::A(i as u32));
    }
    while e.processed() < events {
        let Some((time, ev)) = e.pop() else { break };
        checksum = checksum.wrapping_add(time);
        let next = match ev {
            BenchEv::A(h) => BenchEv::B(h, 1),
            BenchEv::B(h, _) => BenchEv::C(h, time),
            BenchEv::C(h, ..) => BenchEv::A(h),
        };
        e.after(next_delay(&mut x), next);
    }
    let engine_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut heap: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::new();
    let mut x = 88_172_645_463_325_252u64;
    for i in 0..HOLD {
        heap.push(Reverse((next_delay(&mut x), i as u32)));
    }
    let mut popped = 0;
    while popped < events {
        let Some(Reverse((time, h))) = heap.pop() else {
            break;
        };
        popped += 1;
        checksum = checksum.wrapping_add(time);
        heap.push(Reverse((time + next_delay(&mut x), h)));
    }
    let bare_s = t.elapsed().as_secs_f64();
    std::hint::black_box(checksum);
    QueueBench {
        events,
        engine_per_s: events as f64 / engine_s,
        bare_per_s: events as f64 / bare_s,
    }
}

#[derive(Clone, Copy, Debug)]
pub struct WritesBench {
    pub writes: u64,
    pub events: u64,
    pub wall_s: f64,
}

impl WritesBench {
    /// `in S s wall (E events, R events/s, W writes/s)`.
    fn rates(&self) -> String {
        format!(
            "in {:.1} s wall ({} events, {:.0} events/s, {:.0} writes/s)",
            self.wall_s,
            self.events,
            self.events as f64 / self.wall_s,
            self.writes as f64 / self.wall_s
        )
    }
}

/// The scenario of the write benchmark: 200k writes/s of 4 KiB, uniform over a 1 GiB volume,
/// through one async mirror on a 10 Gbit/s link (about two thirds busy), beside `idle` more
/// async mirrors between other volumes of the same two systems that never see a write.
fn writes_scenario(writes: u64, idle: u64) -> String {
    const RATE: u64 = 200_000;
    let duration_ms = (writes * 1000).div_ceil(RATE).max(1);
    // Volume 1 is the busy one; the idle mirrors pair volumes 2, 3, ... (hex serials).
    let serials: Vec<String> = (1..=idle + 1).map(|v| format!("{v:x}")).collect();
    let volumes: Vec<(&str, &str)> = serials.iter().map(|v| (v.as_str(), "1GiB")).collect();
    let mut text = ScenarioText::new(
        &format!("bench: {writes} writes through one async remote mirror"),
        &format!("{duration_ms}ms"),
    )
    .key("seed", 1)
    .key("output", r#"{ interval = "10s" }"#)
    .storage(1, &volumes)
    .storage(2, &volumes)
    .link("wan", [1, 2], "10Gbit/s", "2ms")
    .host("prod", "production", 1, &poisson(RATE, "4KiB", "1:1"));
    for v in &serials {
        let group = if v == "1" { "R" } else { "idle" };
        text = text
            .mirror(group, &format!("1:{v}"), &format!("2:{v}"))
            .string("mode", "async");
    }
    text.build()
}

/// Simulates about `writes` writes (Poisson, so within a fraction of a percent) beside `idle`
/// idle mirrors.
pub fn writes(writes: u64, idle: u64) -> Result<WritesBench, String> {
    run_bench(&writes_scenario(writes, idle))
}

/// Parses and simulates a benchmark scenario, timing the simulation alone.
fn run_bench(text: &str) -> Result<WritesBench, String> {
    let s = scenario::parse(text, Path::new("bench.toml")).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let out = simulate(&s, &Overrides::default()).map_err(|e| e.to_string())?;
    let wall_s = t.elapsed().as_secs_f64();
    Ok(WritesBench {
        writes: out.summary.hosts.iter().map(|h| h.writes).sum(),
        events: out.summary.events,
        wall_s,
    })
}

/// Independent async mirrors of the scale benchmark (#17: an array's worth of volumes).
pub const SCALE_MIRRORS: u64 = 512;

/// Host writes per second over all of them.
const SCALE_RATE: u64 = 20_000;

/// The scenario of the scale benchmark: [`SCALE_MIRRORS`] async mirrors over three storage
/// systems joined in a triangle of 10 Gbit/s links, volume `v` of system `v % 3 + 1` mirrored
/// to the next system, each written by its own host at an equal share of [`SCALE_RATE`]
/// (Poisson 4 KiB, uniform over a 1 GiB volume), for `duration`.
fn scale_scenario(duration: &str) -> String {
    let system = |v: u64| v % 3 + 1;
    let mut text = ScenarioText::new(
        &format!("bench: {SCALE_MIRRORS} async mirrors on 3 systems"),
        duration,
    )
    .key("seed", 1)
    .key("output", r#"{ interval = "10s" }"#);
    for s in 1..=3 {
        let serials: Vec<String> = (0..SCALE_MIRRORS)
            .filter(|&v| system(v) == s || system(v) % 3 + 1 == s)
            .map(|v| format!("{:x}", v + 1))
            .collect();
        let volumes: Vec<(&str, &str)> = serials.iter().map(|v| (v.as_str(), "1GiB")).collect();
        text = text.storage(s, &volumes);
    }
    for (name, a, b) in [("ab", 1, 2), ("bc", 2, 3), ("ca", 3, 1)] {
        text = text.link(name, [a, b], "10Gbit/s", "2ms");
    }
    let rate = SCALE_RATE as f64 / SCALE_MIRRORS as f64;
    for v in 0..SCALE_MIRRORS {
        let (p, serial) = (system(v), format!("{:x}", v + 1));
        let workload =
            format!("{{ poisson = {rate}, size = \"4KiB\", volume = \"{p}:{serial}\" }}");
        text = text
            .host(&format!("h{serial}"), "production", p, &workload)
            .mirror(
                "scale",
                &format!("{p}:{serial}"),
                &format!("{}:{serial}", p % 3 + 1),
            )
            .string("mode", "async");
    }
    text.build()
}

/// Simulates the scale benchmark for `duration` (a scenario duration, e.g. `"10s"`).
pub fn scale(duration: &str) -> Result<WritesBench, String> {
    run_bench(&scale_scenario(duration))
}

/// Prints the scale benchmark's line, the one `mirrorlab bench scale` shows; a `duration` the
/// scenario refuses is an error (bad input), not a line.
pub fn print_scale(duration: &str, w: &mut impl std::io::Write) -> std::io::Result<()> {
    let b = scale(duration).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("bench scale --duration {duration:?}: {e}"),
        )
    })?;
    writeln!(
        w,
        "scale: {} writes over {SCALE_MIRRORS} async mirrors on 3 systems {}",
        b.writes,
        b.rates()
    )
}

/// Runs both measurements and prints them, the lines `mirrorlab bench engine` shows.
pub fn print_engine(
    events: u64,
    write_count: u64,
    idle: u64,
    w: &mut impl std::io::Write,
) -> std::io::Result<()> {
    // A rate over nothing is NaN: refuse it rather than print it.
    for (flag, n) in [("--events", events), ("--writes", write_count)] {
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bench engine {flag}: expected at least 1, found 0"),
            ));
        }
    }
    let q = queue(events);
    writeln!(
        w,
        "engine: {:.0} events/s; bare heap: {:.0} events/s; ratio: {:.2} ({} events each, hold model, {} pending)",
        q.engine_per_s,
        q.bare_per_s,
        q.ratio(),
        q.events,
        HOLD
    )?;
    w.flush()?;
    let beside = match idle {
        0 => String::new(),
        n => format!(" beside {n} idle mirrors"),
    };
    match writes(write_count, idle) {
        Ok(b) => writeln!(
            w,
            "simulation: {} writes through one async remote mirror{beside} {}",
            b.writes,
            b.rates()
        ),
        Err(e) => writeln!(w, "simulation: failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_loops_pop_the_same_count() {
        let b = queue(10_000);
        assert_eq!(b.events, 10_000);
        assert!(b.engine_per_s > 0.0 && b.bare_per_s > 0.0);
    }

    #[test]
    fn zero_events_or_writes_are_refused_before_anything_runs() {
        for (events, writes) in [(0, 10), (10, 0)] {
            let mut out = Vec::new();
            let e = print_engine(events, writes, 0, &mut out).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
            assert!(e.to_string().contains("expected at least 1"), "{e}");
            assert!(out.is_empty(), "nothing printed");
        }
    }

    #[test]
    fn write_bench_scenario_is_valid_and_runs() {
        let b = writes(2_000, 0).unwrap();
        assert!((1_800..2_200).contains(&b.writes), "{}", b.writes);
        // Each write is an arrival, a delivery and an acknowledgement, less those in flight at the end.
        assert!(b.events >= 2 * b.writes, "{b:?}");
    }

    #[test]
    fn scale_bench_writes_every_mirror_at_its_share() {
        let text = scale_scenario("1s");
        assert_eq!(text.matches("[[mirror]]").count() as u64, SCALE_MIRRORS);
        let b = scale("1s").unwrap();
        // 20,000 writes/s for 1 s, Poisson: within a few percent.
        assert!((19_000..21_000).contains(&b.writes), "{b:?}");
    }

    #[test]
    fn idle_mirrors_take_no_writes_of_the_busy_one() {
        let busy = writes(2_000, 0).unwrap();
        let beside = writes(2_000, 3).unwrap();
        assert_eq!(beside.writes, busy.writes, "the same workload");
        assert_eq!(beside.events, busy.events, "idle mirrors add no events");
    }
}
