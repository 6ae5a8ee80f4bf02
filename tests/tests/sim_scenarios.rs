//! Every bundled scenario runs, keeps the invariants, and every atomic split in it leaves
//! identical SVOLs; the Fig 8 scenario shows what the no-copy second mirror saves.

mod sim_common;

use mirrorlab::Overrides;
use mirrorlab_model::CopyMode;
use sim_common::{cloudphysics, load, run};

fn check(name: &str, overrides: Overrides) -> mirrorlab::RunOutput {
    let s = load(name);
    let out = run(&s, overrides);
    let sum = &out.summary;
    assert!(
        sum.invariants.ok,
        "{name} {overrides:?}: {:?}",
        sum.invariants.failures
    );
    for split in &sum.splits {
        assert_eq!(
            split.digests_match,
            Some(true),
            "{name} {overrides:?}: {split:?}"
        );
    }
    for c in &sum.commands {
        assert_eq!(c.result, "done", "{name} {overrides:?}: {c:?}");
    }
    assert!(sum.events > 0);
    assert_eq!(
        sum.simulated_ns,
        overrides.duration_ns.unwrap_or(s.duration_ns)
    );
    out
}

#[test]
fn fig1_basic_runs() {
    let out = check("fig1-basic.toml", Overrides::default());
    let s = &out.summary;
    assert!(s.links[0].data_bytes > 0);
    assert_eq!(s.mirrors[0].final_state, "PAIR");
    assert!(s.mirrors[0].writes_replicated > 0);
    assert!(!out.series.link_usage.is_empty() && !out.series.lag.is_empty());
}

#[test]
fn fig8_dr_test_builds_the_second_mirror_without_copying() {
    if cloudphysics("fig8_dr_test_builds_the_second_mirror_without_copying").is_none() {
        return;
    }
    let out = check("fig8-dr-test.toml", Overrides::default());
    let s = &out.summary;
    assert_eq!(s.splits.len(), 1);
    assert_eq!(s.skipped_trace_lines, 0);
    // The whole 2-hour trace was replayed: 66,898 writes, less the few at its very end.
    let prod = s.hosts.iter().find(|h| h.name == "prod").unwrap();
    assert!(prod.writes > 66_800, "{}", prod.writes);
    let m = s
        .second_mirror
        .as_ref()
        .expect("the scenario builds ORA_R2 with --nocopy");
    assert_eq!(m.group, "ORA_R2");
    assert!(m.nocopy.completed && m.conventional.completed);
    assert_eq!(m.nocopy.data_bytes, 0, "no-copy sends no data");
    // The full copy sends at least the 64 GiB in use, and takes minutes on 100 MB/s.
    assert!(m.conventional.data_bytes >= m.pvol_used_bytes, "{m:?}");
    assert!(m.conventional.duration_ns > 600_000_000_000, "{m:?}");
    assert!(m.nocopy.duration_ns < 1_000_000_000, "{m:?}");
    let r2 = s.mirrors.iter().find(|x| x.group == "ORA_R2").unwrap();
    assert_eq!(r2.final_state, "PAIR");
    assert!(
        r2.writes_replicated > 0,
        "the auxiliary host's writes to 106a reach 106b"
    );
}

#[test]
fn fig8_atomic_split_keeps_svols_identical_in_every_mode() {
    if cloudphysics("fig8_atomic_split_keeps_svols_identical_in_every_mode").is_none() {
        return;
    }
    for mode in CopyMode::ALL {
        // Past the split and the no-copy create, short of the full trace.
        let o = Overrides {
            mode: Some(mode),
            duration_ns: Some(65 * 60_000_000_000),
            ..Default::default()
        };
        let out = check("fig8-dr-test.toml", o);
        assert_eq!(out.summary.splits.len(), 1, "{mode}");
    }
}

#[test]
fn data_mining_resyncs_the_dirty_chunks() {
    let out = check("data-mining.toml", Overrides::default());
    let s = &out.summary;
    let miner = s.hosts.iter().find(|h| h.name == "miner").unwrap();
    assert!(miner.writes > 0 && miner.reads > miner.writes, "{miner:?}");
    assert_eq!(miner.failed, 0, "the split SVOL takes the miner's writes");
    let r = &s.resyncs[0];
    assert!(r.dirty_chunks > 0 && r.completed_ns.is_some(), "{r:?}");
    assert!(s.mirrors.iter().all(|m| m.final_state == "PAIR"));
}

#[test]
fn bandwidth_study_recovers_from_the_outage() {
    let out = check("bandwidth-study.toml", Overrides::default());
    let s = &out.summary;
    assert!(
        s.links[0].dropped_messages > 0,
        "the outage drops messages in flight"
    );
    let r = &s.resyncs[0];
    assert!(
        r.completed_ns.is_some(),
        "the resync after the outage completes: {r:?}"
    );
    assert!(r.data_bytes.unwrap() >= r.dirty_chunks * r.chunk_bytes);
    assert_eq!(s.mirrors[0].final_state, "PAIR");
}
