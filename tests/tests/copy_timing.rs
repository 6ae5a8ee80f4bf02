//! When the bitmap-driven modes send (README "Copy modes"): a periodic cycle covers
//! `[(k−1)C, kC)` whatever order same-instant events were scheduled in, a cycle due while the
//! previous one is in flight leaves when that one is acknowledged, and an adaptive mirror sends
//! a burst at once. Each expectation is computed here from the trace, not taken from a run.

mod sim_common;

use mirrorlab::scenario_text::{trace, ScenarioText};
use mirrorlab::{Overrides, RunOutput};
use sim_common::{parse, run};
use std::collections::BTreeSet;
use std::fmt::Write as _;

const CHUNK: u64 = 64 * 1024;
const SECOND: u64 = 1_000_000_000;

/// An MQSim-format trace (times in ns) of whole-chunk writes `(time_ns, chunk)`; the first at
/// 0 (a trace's times count from its first record).
fn writes(records: &[(u64, u64)]) -> String {
    assert_eq!(records[0].0, 0);
    let mut t = String::new();
    for (time, chunk) in records {
        let _ = writeln!(t, "{time} 0 {} {} 0", chunk * CHUNK / 512, CHUNK / 512);
    }
    t
}

/// One host writing `records` through a remote mirror of `mode` (with `keys` on the mirror).
fn simulate(
    records: &[(u64, u64)],
    bandwidth: &str,
    mode: &str,
    keys: &[(&str, &str)],
) -> RunOutput {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("writes.trace");
    std::fs::write(&path, writes(records)).unwrap();
    let mut text = ScenarioText::new("copy timing", "8s")
        .table("output")
        .string("interval", "100ms")
        .two_sites(bandwidth, "5ms")
        .host("prod", "production", 1, &trace(&path, "mqsim", "1:1"))
        .mirror("R", "1:1", "2:1")
        .string("mode", mode)
        .string("chunk", "64KiB");
    for (k, v) in keys {
        text = text.string(k, v);
    }
    let out = run(&parse(&text.build()).unwrap(), Overrides::default());
    assert!(
        out.summary.invariants.ok,
        "{:?}",
        out.summary.invariants.failures
    );
    out
}

#[test]
fn periodic_writes_at_a_cycle_end_fall_in_the_next_cycle_and_each_chunk_leaves_once() {
    // Two writes of chunk 0 (and one of chunk 1) at exactly 2 s, a cycle end: the first was
    // scheduled (at 0) before the cycle timer was re-armed at 1 s, the others after.
    let records = [
        (0, 5),
        (2 * SECOND, 0),
        (2 * SECOND, 0),
        (2 * SECOND, 1),
        (3 * SECOND + SECOND / 5, 0),
    ];
    // Cycle k is [(k-1) s, k s): each chunk once per cycle it was written in.
    let per_cycle: BTreeSet<(u64, u64)> = records.iter().map(|&(t, c)| (t / SECOND, c)).collect();
    let out = simulate(&records, "100MB/s", "periodic", &[("cycle", "1s")]);
    let link = &out.summary.links[0];
    assert_eq!(link.data_bytes, per_cycle.len() as u64 * CHUNK, "{link:?}");
}

#[test]
fn periodic_cycle_due_during_the_previous_one_leaves_when_it_is_acknowledged() {
    // Cycle 1 (20 chunks written at 0) takes 20 * 64 KiB / 1 MB/s = 1.31 s to send from
    // 1 s; a write at 1.5 s is in cycle 2, due at 2 s while cycle 1 is still on the link.
    let mut records: Vec<(u64, u64)> = (0..20).map(|c| (0, c)).collect();
    records.push((SECOND + SECOND / 2, 100));
    let out = simulate(&records, "1MB/s", "periodic", &[("cycle", "1s")]);
    let bw = 1_000_000;
    let latency = 5_000_000;
    // Cycle 1 is acknowledged after its bytes and a round trip (plus a few control bytes);
    // cycle 2's chunk then takes its own transfer and latency: on the SVOL well before the
    // next cycle end at 3 s, where waiting for the next timer would put it.
    let cycle1_acked = SECOND + 20 * CHUNK * SECOND / bw + 2 * latency;
    let cycle2_applied = cycle1_acked + CHUNK * SECOND / bw + latency;
    let slack = 100_000_000;
    assert!(cycle2_applied + slack < 3 * SECOND);
    let lag_at = |t: u64| {
        out.series
            .lag
            .iter()
            .find(|s| s.time_ns == t)
            .map(|s| s.lag_writes)
            .unwrap()
    };
    assert_eq!(lag_at(2 * SECOND), 21, "cycle 1 still in flight at 2 s");
    let after = (cycle2_applied + slack).div_ceil(100_000_000) * 100_000_000;
    assert_eq!(lag_at(after), 0, "cycle 2 on the SVOL by {after} ns");
}

#[test]
fn adaptive_sends_a_burst_back_to_back_on_an_idle_link() {
    // A burst of distinct chunks on an idle link: no timer, every chunk leaves at once, so the
    // link carries exactly the burst's bytes, all in the first 100 ms interval.
    let burst = [7u64, 3, 11, 0, 42];
    let records: Vec<(u64, u64)> = burst.iter().map(|&c| (0, c)).collect();
    let out = simulate(&records, "100MB/s", "adaptive", &[]);
    let bytes = burst.len() as u64 * CHUNK;
    assert_eq!(out.summary.links[0].data_bytes, bytes);
    let forward: Vec<_> = out
        .series
        .link_usage
        .iter()
        .filter(|s| s.data_bytes > 0)
        .collect();
    assert_eq!(forward.len(), 1, "{forward:?}");
    assert_eq!(forward[0].data_bytes, bytes);
    assert_eq!(forward[0].time_ns, 100_000_000);
    // All replicated in the same interval: a round trip plus the burst's transfer.
    let r = &out.summary.mirrors[0];
    assert_eq!(r.final_lag_bytes, 0);
    assert!(r.replication_delay_ns.max < 100_000_000, "{r:?}");
}

#[test]
fn adaptive_with_a_pass_runs_on_its_timer() {
    // The same burst with `pass = "2s"`: nothing leaves before the pass at 2 s.
    let records: Vec<(u64, u64)> = [7u64, 3].iter().map(|&c| (0, c)).collect();
    let out = simulate(&records, "100MB/s", "adaptive", &[("pass", "2s")]);
    let first = out
        .series
        .link_usage
        .iter()
        .find(|s| s.data_bytes > 0)
        .map(|s| s.time_ns);
    assert_eq!(first, Some(2 * SECOND + 100_000_000));
    assert_eq!(out.summary.links[0].data_bytes, 2 * CHUNK);
}
