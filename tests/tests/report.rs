//! `mirrorlab report`: the numbers behind the answer and the charts, byte-stable output, a
//! page that needs nothing but the files beside it, and clear refusals of other directories.

mod report_common;

use mirrorlab::report::data::{Series, Study};
use mirrorlab::report::{self, Analysis, ReportOptions};
use mirrorlab::study::{RunResult, Sweep, SweepOptions};
use mirrorlab::{simulate, write_outputs, Overrides};
use report_common::{files, SMALL_FIG8};
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
    let srcs: Vec<&str> = html
        .split("<img src=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert!(srcs.len() >= 8, "{srcs:?}");
    for src in &srcs {
        assert!(
            !src.contains(':') && !src.starts_with('/'),
            "{src}: relative paths only"
        );
        let svg = String::from_utf8(before[*src].clone()).unwrap();
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

#[test]
fn a_run_directory_gets_a_report_too() {
    let scenario = mirrorlab::scenario::parse(SMALL_FIG8, Path::new("small.toml")).unwrap();
    let out = simulate(&scenario, &Overrides::default()).unwrap();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("run");
    write_outputs(&out, &dir).unwrap();
    let index = report::build(&dir, &ReportOptions::default()).unwrap();
    let html = std::fs::read_to_string(index).unwrap();
    assert!(html.contains("small Fig 8") && html.contains("The answer"));
    assert!(dir.join("rpo.svg").is_file() && dir.join("second_mirror.svg").is_file());
    // The pairdisplay table at the end of the run.
    for state in ["ORA_R1", "ORA_R2", "SPLIT", "PAIR"] {
        assert!(html.contains(state), "{state}");
    }
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
