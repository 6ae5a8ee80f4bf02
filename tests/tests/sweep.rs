//! `mirrorlab sweep` and `merge`: a sweep row is the single run with the same parameters,
//! the thread count and sharding change no byte, merge refuses shards that are not one sweep,
//! and bad keys or values are bad input (exit 2) before anything runs.

mod report_common;

use mirrorlab::report::{self, ReportOptions};
use mirrorlab::study::{self as sweep, merge, Shard, Sweep, SweepOptions};
use mirrorlab::sweep_cmd;
use mirrorlab::{simulate, write_outputs, Overrides};
use report_common::{assert_same_files, files, images, run_dir_files, SMALL_FIG8};
use std::path::Path;

fn sweep(varies: &[&str]) -> Sweep {
    let v: Vec<String> = varies.iter().map(|s| s.to_string()).collect();
    Sweep::from_text(SMALL_FIG8, Path::new("small.toml"), &v, 3_000_000_000).unwrap()
}

const GRID: [&str; 2] = [
    "mode=sync,async,periodic",
    "link.wan.bandwidth=25MB/s,100MB/s",
];

#[test]
fn a_sweep_row_is_the_single_run_with_the_same_parameters_and_seed() {
    let s = sweep(&GRID);
    let dir = tempfile::tempdir().unwrap();
    let rows = s.run(&SweepOptions::default(), dir.path()).unwrap();
    assert_eq!(rows.len(), 6);
    let csv = std::fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        sweep::csv_header(&["mode".into(), "link.wan.bandwidth".into()])
    );
    assert_eq!(lines.len(), 7);
    for i in [0, 3, 5] {
        // The same run, made by hand from the scenario file.
        let mut scenario = mirrorlab::scenario::parse(SMALL_FIG8, Path::new("small.toml")).unwrap();
        let (mode, bw) = match rows[i].params.as_slice() {
            [m, b] => (m.clone(), b.clone()),
            _ => unreachable!(),
        };
        scenario.set_mode(mode.parse().unwrap());
        scenario.links[0].bandwidth = bw.parse::<mirrorlab::units::Rate>().unwrap().0;
        let out = simulate(&scenario, &Overrides::default()).unwrap();
        let row = sweep::Row {
            run: i,
            params: vec![mode.clone(), bw.clone()],
            result: sweep::RunResult::from_output(&out),
            label: format!("mode={mode} link.wan.bandwidth={bw}"),
        };
        assert_eq!(lines[i + 1], row.csv_line(), "row {i}");
        assert_eq!(rows[i].result, row.result);
        // And the run directory holds exactly what `mirrorlab run` writes for it but the
        // page: the sweep's page is theirs.
        let single = tempfile::tempdir().unwrap();
        write_outputs(&out, &single.path().join("run")).unwrap();
        let mut whole = run_dir_files(&single.path().join("run"));
        let page = images(&String::from_utf8(whole["index.html"].clone()).unwrap());
        for name in page.iter().map(String::as_str).chain(["index.html"]) {
            whole.remove(name);
        }
        assert_eq!(
            files(&dir.path().join("runs").join(sweep::run_dir_name(i))),
            whole,
            "run {i}"
        );
    }
    // The row's numbers are what the varied parameters say they are.
    let r25 = &rows[0].result;
    let r100 = &rows[1].result;
    assert_eq!(r25.cost_provisioned, 25.0 * 8.0 * 30.0);
    assert_eq!(r100.cost_provisioned, 100.0 * 8.0 * 30.0);
    assert!((r25.cost_total - r25.cost_transfer - r25.cost_provisioned).abs() < 0.011);
    assert!(rows
        .iter()
        .all(|r| r.result.invariants_ok && r.result.has_second));
    assert!(
        rows[0].result.write_p50_ns > 0,
        "sync acknowledges after a round trip"
    );
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let s = sweep(&GRID);
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (dir, threads) in [(&one, 1), (&two, 2)] {
        let opts = SweepOptions {
            threads: Some(threads),
            ..SweepOptions::default()
        };
        s.run(&opts, dir.path()).unwrap();
        report::build(dir.path(), &ReportOptions::default()).unwrap();
    }
    assert_same_files(one.path(), two.path());
}

#[test]
fn shards_merge_into_exactly_the_unsharded_sweep_and_report() {
    let s = sweep(&GRID);
    let whole = tempfile::tempdir().unwrap();
    s.run(&SweepOptions::default(), whole.path()).unwrap();
    report::build(whole.path(), &ReportOptions::default()).unwrap();

    let parts = tempfile::tempdir().unwrap();
    let shard_dirs: Vec<_> = (0..4)
        .map(|i| parts.path().join(format!("shard-{i}")))
        .collect();
    // Any order of running and of naming the shards.
    for i in [2, 0, 3, 1] {
        let opts = SweepOptions {
            shard: Shard { index: i, count: 4 },
            threads: Some(1),
            progress: false,
        };
        let rows = s.run(&opts, &shard_dirs[i]).unwrap();
        assert!(rows.iter().all(|r| r.run % 4 == i));
    }
    let merged = tempfile::tempdir().unwrap();
    let mut given = shard_dirs.clone();
    given.reverse();
    merge(&given, merged.path()).unwrap();
    report::build(merged.path(), &ReportOptions::default()).unwrap();
    assert_same_files(whole.path(), merged.path());
}

#[test]
fn merge_refuses_what_is_not_one_whole_sweep() {
    let s = sweep(&["mode=sync,async"]);
    let d = tempfile::tempdir().unwrap();
    let shard = |i: usize, n: usize, s: &Sweep| {
        let dir = d.path().join(format!("s{i}of{n}-{}", s.grid.len()));
        let opts = SweepOptions {
            shard: Shard { index: i, count: n },
            threads: Some(1),
            progress: false,
        };
        s.run(&opts, &dir).unwrap();
        dir
    };
    let a = shard(0, 2, &s);
    let b = shard(1, 2, &s);
    let out = d.path().join("out");
    let err = |dirs: &[std::path::PathBuf]| merge(dirs, &out).unwrap_err().to_string();
    assert!(err(std::slice::from_ref(&a)).contains("missing shard(s) 1/2"));
    assert!(err(&[a.clone(), a.clone()]).contains("given twice"));
    let other = shard(1, 2, &sweep(&["mode=sync,async,periodic"]));
    assert!(err(&[a.clone(), other]).contains("another sweep"));
    let c = shard(0, 3, &s);
    assert!(err(&[a.clone(), c]).contains("shard 0/3"));
    assert!(err(&[a.clone(), d.path().join("nothing")]).contains("sweep.json"));
    assert!(
        !out.join("sweep.csv").exists(),
        "nothing merged after a refusal"
    );
    merge(&[a, b], &out).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("sweep.csv"))
            .unwrap()
            .lines()
            .count(),
        3
    );
}

#[test]
fn bad_keys_and_values_are_bad_input_before_anything_runs() {
    let d = tempfile::tempdir().unwrap();
    let scenario = d.path().join("small.toml");
    std::fs::write(&scenario, SMALL_FIG8).unwrap();
    for (vary, expect) in [
        (
            "link.lan.bandwidth=1MB/s",
            "no link named \"lan\" (links: wan)",
        ),
        ("link.wan.bandwidth=0MB/s", "bandwidth above 0"),
        ("link.wan.bandwidth=lots", "expected a rate"),
        ("mirror.ORA_R1.chunk=5KiB", "multiple of 4KiB"),
        ("mirror.ORA_L.journal=1GiB", "local mirror"),
        ("mode=sync,warp", "expected a copy mode"),
        ("flux=1", "unknown --vary key \"flux\""),
        ("mode", "KEY=VALUE"),
    ] {
        let out = d.path().join("out");
        let args = sweep_cmd::SweepArgs {
            scenario: scenario.clone(),
            vary: vec![vary.to_string()],
            out: Some(out.clone()),
            shard: None,
            threads: Some(1),
            rpo_target: mirrorlab::units::Nanos(60_000_000_000),
            force: false,
        };
        let e = sweep_cmd::run_sweep_cmd(&args).unwrap_err();
        let e = e.downcast::<sweep::SweepError>().unwrap();
        assert!(e.is_bad_input(), "{vary}");
        assert!(e.to_string().contains(expect), "{vary}: {e}");
        assert!(!out.exists(), "{vary}: nothing written for bad input");
    }
    assert!("4/4".parse::<Shard>().unwrap_err().contains("0 <= I < N"));
    // A missing scenario names the file.
    let e = Sweep::load(&d.path().join("nope.toml"), &[], 1).unwrap_err();
    assert!(e.is_bad_input() && e.to_string().contains("nope.toml"));
}

#[test]
fn bitmap_granularity_rows_show_what_coarse_chunks_cost() {
    let text = mirrorlab::demo::BITMAP_SCENARIO;
    let s = Sweep::from_text(
        text,
        Path::new("demo-bitmap.toml"),
        &["mirror.ORA_R1.chunk=4KiB,8KiB,64KiB,1MiB".into()],
        60_000_000_000,
    )
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    let rows = s.run(&SweepOptions::default(), d.path()).unwrap();
    let written = rows[0].result.written_bytes;
    assert!(written > 0);
    let mut last = 0;
    for r in &rows {
        let x = &r.result;
        assert_eq!(
            x.written_bytes, written,
            "the workload does not depend on the chunk"
        );
        assert!(x.resyncs_completed, "{}", r.label);
        assert!(
            x.resync_dirty_bytes >= last,
            "coarser chunks never mark less: {}",
            r.label
        );
        assert!(x.resync_bytes >= x.resync_dirty_bytes, "{}", r.label);
        last = x.resync_dirty_bytes;
    }
    assert!(
        rows[3].result.resync_bytes > 10 * written,
        "1 MiB chunks resend much more than was written"
    );
}
