//! `mirrorlab report`: the numbers behind the answer and the charts, byte-stable output, a
//! page that needs nothing but the files beside it, and clear refusals of other directories.

mod report_common;

use mirrorlab::report::data::{Series, Study};
use mirrorlab::report::{self, Analysis, ReportOptions};
use mirrorlab::run_cmd::{self, RunArgs, RunOutcome};
use mirrorlab::study::{RunResult, Shard, Sweep, SweepOptions, DEFAULT_RPO_TARGET_NS};
use mirrorlab::{simulate, write_outputs, Overrides};
use report_common::{files, images, page_top, run_dir_files, SMALL_FIG8};
use std::path::Path;

const TARGET_NS: u64 = 2_500_000_000;

fn swept() -> (tempfile::TempDir, Sweep) {
    let varies = vec![
        "mode=sync,async,periodic".to_string(),
        "link.wan.bandwidth=20MB/s,50MB/s,200MB/s".to_string(),
    ];
    let s = Sweep::from_text(SMALL_FIG8, Path::new("small.toml"), &varies, TARGET_NS).unwrap();
    let d = tempfile::tempdir().unwrap();
    s.run(&SweepOptions::default(), d.path()).unwrap();
    report::build(d.path(), &ReportOptions::default()).unwrap();
    (d, s)
}

#[test]
fn the_answer_is_the_cheapest_run_that_meets_the_rpo_target() {
    let (d, _) = swept();
    let study = Study::read(d.path(), None).unwrap();
    assert_eq!(study.rpo_target_ns, TARGET_NS);
    let a = Analysis::new(&study);
    let answers = a.answers();
    assert_eq!(
        answers.iter().map(|x| x.label.as_str()).collect::<Vec<_>>(),
        ["sync", "async", "periodic"]
    );
    for ans in &answers {
        assert_eq!(ans.runs.len(), 3, "{}: one run per bandwidth", ans.label);
        let bws: Vec<u64> = ans.runs.iter().map(|r| report::bandwidth(r)).collect();
        assert_eq!(
            bws,
            [20_000_000, 50_000_000, 200_000_000],
            "{}: by bandwidth",
            ans.label
        );
        let passing: Vec<_> = ans.runs.iter().filter(|r| a.meets_target(r)).collect();
        match ans.best {
            Some(best) => {
                assert!(a.meets_target(best));
                assert!(best.result.max_rpo_ns <= TARGET_NS);
                for p in passing {
                    assert!(
                        best.result.cost_total <= p.result.cost_total,
                        "{}: a cheaper run meets the target",
                        ans.label
                    );
                }
            }
            None => assert!(
                passing.is_empty(),
                "{}: a run meets the target but no answer",
                ans.label
            ),
        }
    }
    // Sync keeps the RPO near one round trip at any bandwidth: its answer is the smallest link.
    let sync = &answers[0];
    assert_eq!(sync.best.map(report::bandwidth), Some(20_000_000));
    // A looser target never makes an answer more expensive.
    let loose = Study::read(d.path(), Some(600_000_000_000)).unwrap();
    let la = Analysis::new(&loose);
    for (tight, loose) in answers.iter().zip(la.answers()) {
        let cost = |x: Option<&mirrorlab::report::data::RunData>| {
            x.map_or(f64::INFINITY, |r| r.result.cost_total)
        };
        assert!(cost(loose.best) <= cost(tight.best));
        assert!(
            loose.best.is_some(),
            "{}: every mode meets a 10 min RPO",
            loose.label
        );
    }
    // The page leads with the answer, then the charts, then the pairdisplay tables.
    let html = std::fs::read_to_string(d.path().join("index.html")).unwrap();
    let pos = |s: &str| {
        html.find(s)
            .unwrap_or_else(|| panic!("{s:?} not in index.html"))
    };
    assert!(pos("The answer") < pos("<h2>Charts</h2>"));
    assert!(pos("<h2>Charts</h2>") < pos("pairdisplay at the end of each run"));
    assert!(html.contains("ORA_R2: full copy versus atomic split + no-copy"));
}

#[test]
fn rows_read_back_from_disk_equal_rows_made_in_memory() {
    let mut scenario = mirrorlab::scenario::parse(SMALL_FIG8, Path::new("small.toml")).unwrap();
    scenario.set_mode(mirrorlab_model::CopyMode::Periodic);
    let out = simulate(&scenario, &Overrides::default()).unwrap();
    let d = tempfile::tempdir().unwrap();
    write_outputs(&out, d.path()).unwrap();
    let summary = mirrorlab::Summary::read(&d.path().join("summary.json")).unwrap();
    let series = Series::read(d.path()).unwrap();
    let from_disk = RunResult::from_summary(&summary, series.max_lag_us());
    assert_eq!(from_disk, RunResult::from_output(&out));
    // The worst RPO covers every sampled lag and every write's replication delay.
    let sampled = out.series.lag.iter().map(|l| l.lag_ns).max().unwrap();
    assert!(from_disk.max_rpo_ns + 1_000 > sampled);
    let delay = out
        .summary
        .mirrors
        .iter()
        .map(|m| m.replication_delay_ns.max)
        .max()
        .unwrap();
    assert!(from_disk.max_rpo_ns >= delay);
    assert!(
        from_disk.max_rpo_ns >= 1_000_000_000,
        "periodic with 2 s cycles lags by seconds"
    );
    // The chart data add up to the link counters: throughput (bytes/s per 1 s interval)
    // summed over time is the bytes the link carried.
    let carried: u64 = series
        .link_usage
        .iter()
        .map(|u| u.data_bytes + u.control_bytes)
        .sum();
    let link = &out.summary.links[0];
    assert_eq!(carried, link.data_bytes + link.control_bytes);
    let per_second: u64 = series.link_usage.iter().map(|u| u.bytes_per_s).sum();
    assert_eq!(
        per_second, carried,
        "1 s intervals: bytes per second = bytes"
    );
}

#[test]
fn a_report_is_byte_identical_when_made_again_and_needs_no_network() {
    let (d, _) = swept();
    let before = files(d.path());
    report::build(d.path(), &ReportOptions::default()).unwrap();
    assert_eq!(before, files(d.path()));
    let html = String::from_utf8(before["index.html"].clone()).unwrap();
    let srcs = images(&html);
    assert!(srcs.len() >= 8, "{srcs:?}");
    for src in &srcs {
        assert!(
            !src.contains(':') && !src.starts_with('/'),
            "{src}: relative paths only"
        );
        let svg = String::from_utf8(before[src.as_str()].clone()).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{src}");
        assert!(
            !svg.contains("NaN") && !svg.contains("inf"),
            "{src}: a number went wrong"
        );
    }
    for needle in ["http://", "https://", "//cdn", "@import"] {
        assert!(!html.contains(needle), "index.html refers to {needle}");
    }
    for title in [
        "Link throughput over time",
        "Link utilisation over time",
        "Replication lag over time",
        "RPO over time",
        "Host write latency",
        "Monthly link cost by bandwidth",
        "Worst RPO by bandwidth",
        "Building the second remote mirror ORA_R2",
    ] {
        assert!(
            before
                .iter()
                .any(|(n, b)| n.ends_with(".svg") && String::from_utf8_lossy(b).contains(title)),
            "no chart titled {title:?}"
        );
    }
    // Axis labels carry units.
    let throughput = String::from_utf8(before["throughput.svg"].clone()).unwrap();
    assert!(throughput.contains("MB/s") && throughput.contains("simulated time (s)"));
}

/// `mirrorlab run` writes the run's page beside its numbers: self-contained, naming the
/// scenario and leading with the run's verdict; it is the page `report` draws from the same
/// files, also for a run directory an older mirrorlab wrote (no page, no marker: `--force`).
#[test]
fn a_run_writes_its_page_the_one_report_draws_from_its_files() {
    let d = tempfile::tempdir().unwrap();
    let scenario = d.path().join("small.toml");
    std::fs::write(&scenario, SMALL_FIG8).unwrap();
    let dir = d.path().join("run");
    let args = RunArgs {
        scenario,
        seed: None,
        out: Some(dir.clone()),
        mode: None,
        skip_bad_lines: false,
        force: false,
    };
    assert_eq!(run_cmd::run(&args).unwrap(), RunOutcome::Ok);
    let written = run_dir_files(&dir);
    let html = String::from_utf8(written["index.html"].clone()).unwrap();
    // As readable as the numbers beside it (a shared file system, a web server).
    #[cfg(unix)]
    for name in ["index.html", "rpo.svg"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = |n: &str| dir.join(n).metadata().unwrap().permissions().mode();
        assert_eq!(mode(name), mode("summary.json"), "{name}");
    }
    // Self-contained: its style inline, its charts beside it, nothing fetched.
    for needle in [
        "http://",
        "https://",
        "//cdn",
        "@import",
        "<link",
        "<script src",
    ] {
        assert!(!html.contains(needle), "index.html refers to {needle}");
    }
    let charts = images(&html);
    for src in &charts {
        assert!(
            !src.contains(':') && !src.contains('/'),
            "{src}: a file beside the page"
        );
    }
    assert!(
        charts.iter().any(|c| c == "second_mirror.svg"),
        "{charts:?}"
    );
    // The scenario's name and the verdict a sweep row of this run would carry, first.
    let summary = mirrorlab::Summary::read(&dir.join("summary.json")).unwrap();
    let max_lag_us = Series::read(&dir).unwrap().max_lag_us();
    let verdict = RunResult::from_summary(&summary, max_lag_us).verdict(DEFAULT_RPO_TARGET_NS);
    let top = page_top(&html);
    assert!(top.contains("<h1>small Fig 8</h1>"), "{top}");
    assert!(
        top.contains(&format!("Verdict: {}", verdict.text())),
        "{top}"
    );
    assert!(top.contains("every invariant held"), "{top}");
    // The pairdisplay table at the end of the run.
    for state in ["ORA_R1", "ORA_R2", "SPLIT", "PAIR"] {
        assert!(html.contains(state), "{state}");
    }
    // `report` on it draws the same bytes.
    report::build(&dir, &ReportOptions::default()).unwrap();
    assert_eq!(files(&dir), written);
    // What an older mirrorlab wrote: the numbers alone, no marker. `report` asks for --force,
    // then draws the same page.
    for name in charts
        .iter()
        .map(String::as_str)
        .chain(["index.html", ".mirrorlab"])
    {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    let mut args = report::ReportArgs {
        dir: dir.clone(),
        rpo_target: None,
        force: false,
    };
    let e = report::run_report_cmd(&args).unwrap_err();
    assert!(e.to_string().contains("--force"), "{e}");
    args.force = true;
    assert_eq!(report::run_report_cmd(&args).unwrap(), 0);
    let mut expected = written;
    expected.remove(".mirrorlab");
    assert_eq!(files(&dir), expected);
}

/// Issue 16: `report` on a sweep that lacks runs its sweep.json promises refuses (exit 2),
/// naming each, and leaves the page drawn from the whole sweep as it was; a shard, which
/// promises only its share, is reported.
#[test]
fn a_sweep_missing_runs_is_refused_naming_each() {
    let varies = vec!["mode=sync,async,periodic".to_string()];
    let s = Sweep::from_text(SMALL_FIG8, Path::new("small.toml"), &varies, TARGET_NS).unwrap();
    let d = tempfile::tempdir().unwrap();
    let shard = d.path().join("shard");
    let opts = SweepOptions {
        shard: Shard { index: 1, count: 2 },
        ..SweepOptions::default()
    };
    s.run(&opts, &shard).unwrap();
    report::build(&shard, &ReportOptions::default()).unwrap();
    let dir = d.path().join("whole");
    s.run(&SweepOptions::default(), &dir).unwrap();
    report::build(&dir, &ReportOptions::default()).unwrap();
    let page = std::fs::read(dir.join("index.html")).unwrap();
    let refused = |what: &str| {
        let e = report::build(&dir, &ReportOptions::default()).unwrap_err();
        assert!(e.is_bad_input(), "{what}: {e}");
        let args = report::ReportArgs {
            dir: dir.clone(),
            rpo_target: None,
            force: false,
        };
        assert!(report::run_report_cmd(&args).is_err(), "{what}: exit 2");
        assert_eq!(
            std::fs::read(dir.join("index.html")).unwrap(),
            page,
            "{what}: the page is left as it was"
        );
        e.to_string()
    };
    let csv_path = dir.join("sweep.csv");
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "a header and three runs");
    let write_csv = |rows: &[&str]| std::fs::write(&csv_path, rows.join("\n") + "\n").unwrap();
    write_csv(&[lines[0], lines[1], lines[3]]);
    let e = refused("a row lost");
    assert!(e.contains("lacks run 1 of the 3"), "{e}");
    write_csv(&[lines[0], lines[1], lines[2], lines[2], lines[3]]);
    let e = refused("a row twice");
    assert!(e.contains("twice"), "{e}");
    write_csv(&[
        lines[0].replace("mode", "mood").as_str(),
        lines[1],
        lines[2],
        lines[3],
    ]);
    let e = refused("other columns");
    assert!(e.contains("columns"), "{e}");
    std::fs::write(&csv_path, &csv).unwrap();
    let runs = dir.join("runs");
    std::fs::remove_dir_all(runs.join("0000")).unwrap();
    std::fs::write(runs.join("0002").join("summary.json"), "{").unwrap();
    let e = refused("runs missing and unreadable");
    for run in ["0000", "0002"] {
        assert!(e.contains(&format!("runs/{run}/summary.json")), "{e}");
    }
    assert!(!e.contains("runs/0001"), "{e}");
}

#[test]
fn other_directories_are_refused_with_a_reason() {
    let d = tempfile::tempdir().unwrap();
    let e = report::build(d.path(), &ReportOptions::default()).unwrap_err();
    assert!(e.is_bad_input());
    assert!(e.to_string().contains("expected a sweep directory"), "{e}");
    std::fs::write(d.path().join("summary.json"), "{ not json").unwrap();
    let e = report::build(d.path(), &ReportOptions::default()).unwrap_err();
    assert!(
        e.is_bad_input() && e.to_string().contains("summary.json"),
        "{e}"
    );
    let args = report::ReportArgs {
        dir: d.path().join("missing"),
        rpo_target: None,
        force: false,
    };
    assert!(report::run_report_cmd(&args).is_err(), "bad input: exit 2");
}
