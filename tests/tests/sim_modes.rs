//! What crosses the link: sync mode sends exactly the bytes the host wrote, and a resync after
//! an auxiliary host's workload sends exactly the dirty chunks.

mod sim_common;

use mirrorlab::scenario_text::{poisson, trace, ScenarioText};
use mirrorlab::Overrides;
use mirrorlab_model::CopyMode;
use sim_common::{load, parse, run};
use std::fmt::Write as _;

#[test]
fn sync_link_data_bytes_equal_the_bytes_the_host_wrote() {
    let s = load("fig1-basic.toml");
    let o = Overrides {
        mode: Some(CopyMode::Sync),
        duration_ns: Some(120_000_000_000),
        ..Default::default()
    };
    let out = run(&s, o);
    let sum = &out.summary;
    let prod = sum.hosts.iter().find(|h| h.name == "prod").unwrap();
    assert!(prod.bytes_written > 0);
    assert_eq!(sum.links[0].data_bytes, prod.bytes_written);
    assert_eq!(sum.mirrors[0].mode, "sync");
    // A sync write waits for the round trip: two 5 ms latencies at least.
    assert!(
        prod.write_latency_ns.p50 >= 10_000_000,
        "{:?}",
        prod.write_latency_ns
    );
    assert!(sum.invariants.ok, "{:?}", sum.invariants.failures);
}

#[test]
fn async_acknowledges_at_once_and_lags_behind() {
    let s = load("fig1-basic.toml");
    let o = Overrides {
        duration_ns: Some(60_000_000_000),
        ..Default::default()
    };
    let sum = run(&s, o).summary;
    let prod = sum.hosts.iter().find(|h| h.name == "prod").unwrap();
    // Acknowledged once the array has the write in cache: its service time, nothing more.
    let service = mirrorlab::scenario::DEFAULT_WRITE_LATENCY_NS;
    assert_eq!(prod.write_latency_ns.max, service);
    let r1 = &sum.mirrors[0];
    assert!(r1.replication_delay_ns.p50 >= 5_000_000, "{r1:?}");
    assert!(r1.max_lag_bytes > 0);
}

/// An MQSim-format trace (DiskSim-like, times in ns) of `(offset, len)` writes, one a millisecond.
fn disksim(writes: &[(u64, u64)]) -> String {
    let mut t = String::new();
    for (i, (offset, len)) in writes.iter().enumerate() {
        let _ = writeln!(
            t,
            "{} 0 {} {} 0",
            i as u64 * 1_000_000,
            offset / 512,
            len.div_ceil(512)
        );
    }
    t
}

#[test]
fn resync_after_auxiliary_writes_sends_exactly_the_dirty_chunks() {
    const CHUNK: u64 = 16384;
    // Production writes the PVOL while the pair is split; the auxiliary host writes the SVOL.
    let prod2 = [
        (0, 4096),
        (8192, 4096),
        (CHUNK * 10 + 512, 1024),
        (CHUNK * 20 - 4096, 8192),
    ];
    let aux = [
        (CHUNK * 10, 4096),
        (CHUNK * 100, 65536),
        (CHUNK * 5000 + 4096, 512),
    ];
    // Chunks {0, 10, 19, 20} and {10, 100..=103, 5000}.
    let expected_chunks = 9;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("prod2.trace"), dir.path().join("aux.trace"));
    std::fs::write(&a, disksim(&prod2)).unwrap();
    std::fs::write(&b, disksim(&aux)).unwrap();
    let text = ScenarioText::new("resync test", "6min")
        .key("seed", 5)
        .table("defaults")
        .string("chunk", "16KiB")
        .two_sites("100MB/s", "2ms")
        .host("prod", "production", 1, &poisson(200, "8KiB", "1:1"))
        .string("stop", "1min")
        .host("prod2", "production", 1, &trace(&a, "mqsim", "1:1"))
        .string("start", "150s")
        .host("aux", "auxiliary", 2, &trace(&b, "mqsim", "2:1"))
        .string("start", "3min")
        .mirror("R", "1:1", "2:1")
        .string("mode", "async")
        .command("2min", "pairsplit R")
        .command("5min", "pairresync R")
        .build();
    let s = parse(&text).unwrap();
    let sum = run(&s, Overrides::default()).summary;
    assert!(sum.hosts.iter().all(|h| h.failed == 0), "{:?}", sum.hosts);
    let r = &sum.resyncs[0];
    assert_eq!(r.dirty_chunks, expected_chunks, "{r:?}");
    assert!(r.completed_ns.is_some(), "{r:?}");
    assert_eq!(r.data_bytes, Some(expected_chunks * CHUNK), "{r:?}");
    assert_eq!(sum.mirrors[0].final_state, "PAIR");
    // PAIR and quiet at the end: the run checked PVOL == SVOL.
    assert!(sum.invariants.ok, "{:?}", sum.invariants.failures);
}

#[test]
fn standby_host_takes_over_after_a_disaster() {
    let text = ScenarioText::new("takeover", "3min")
        .two_sites("100MB/s", "2ms")
        .host("prod", "production", 1, &poisson(100, "8KiB", "1:1"))
        .host("standby", "standby", 2, &poisson(100, "8KiB", "2:1"))
        .mirror("R", "1:1", "2:1")
        .string("mode", "sync")
        .command("1min", "disaster 1")
        .command_after(Some("10s"), "takeover 2")
        .build();
    let s = parse(&text).unwrap();
    let sum = run(&s, Overrides::default()).summary;
    let prod = &sum.hosts[0];
    let standby = &sum.hosts[1];
    assert!(prod.failed > 0, "writes to the lost site fail: {prod:?}");
    assert!(standby.writes > 0 && standby.failed == 0, "{standby:?}");
    // It starts at the takeover (70 s), so about 110 s of writes at 100/s.
    assert!((9_000..13_000).contains(&standby.writes), "{standby:?}");
    assert_eq!(sum.mirrors[0].svol_state, "SUSPENDED_ERROR");
    assert!(
        sum.commands.iter().all(|c| c.result == "done"),
        "{:?}",
        sum.commands
    );
}
