//! The `mirrorlab run` binary on bad input (issue #7): exit code 2, one `error: FILE:LINE:COL:`
//! message on stderr, and no output directory written or changed. The messages themselves are
//! checked in-process against `tests/corpus/expected.txt` by `tests/tests/bad_input.rs`.

mod bin_common;

use bin_common::{mirrorlab, stderr, CATCHING_CHECK};
use mirrorlab::scenario_text::{self, ScenarioText};
use std::fs;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus")
}

/// Whether `rest` starts with `LINE:COL: ` (both numbers).
fn line_col_prefix(rest: &str) -> bool {
    let mut parts = rest.splitn(3, ':');
    let (Some(l), Some(c), Some(m)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    number(l) && number(c) && m.starts_with(' ')
}

#[test]
fn every_malformed_scenario_exits_2_with_one_located_message_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut names: Vec<PathBuf> = fs::read_dir(corpus().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert!(names.len() > 30);
    for path in names {
        let out = dir.path().join("out");
        let o = mirrorlab(
            &[
                "run",
                path.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            dir.path(),
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", path.display());
        assert!(o.stdout.is_empty(), "{}", path.display());
        let rest = err
            .strip_prefix(&format!("error: {}:", path.display()))
            .unwrap_or_else(|| panic!("{err}"));
        assert!(line_col_prefix(rest), "{err}");
        assert_eq!(err.lines().count(), 1, "one message: {err}");
        assert!(!out.exists(), "{}", path.display());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing written"
        );
    }
}

#[test]
fn a_bad_trace_line_exits_2_names_file_and_line_and_keeps_the_old_report() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.trace");
    let mut text = String::new();
    for i in 1..=30_000u64 {
        if i == 25_000 {
            text.push_str("25000000000 0 8 0 0\n");
        } else {
            text.push_str(&format!("{} 0 {} 8 0\n", i * 1_000_000, i * 8));
        }
    }
    fs::write(&trace, text).unwrap();
    let scenario = dir.path().join("s.toml");
    let text = ScenarioText::new("cli", "1min")
        .storage(1, &[("1", "1GiB")])
        .host(
            "prod",
            "production",
            1,
            &scenario_text::trace(Path::new("t.trace"), "mqsim", "1:1"),
        )
        .build();
    fs::write(&scenario, text).unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("summary.json"), "earlier\n").unwrap();
    // An earlier run's output, which a run may replace.
    mirrorlab::out_dir::mark(&out, mirrorlab::out_dir::Kind::Run).unwrap();

    let o = mirrorlab(&["run", "s.toml", "--out", "out"], dir.path());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: t.trace: line 25000: expected a non-zero size"),
        "{err}"
    );
    assert_eq!(fs::read(out.join("summary.json")).unwrap(), b"earlier\n");
    assert_eq!(
        fs::read_dir(&out).unwrap().count(),
        2,
        "summary.json and the marker"
    );
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        3,
        "no temporary left"
    );

    let o = mirrorlab(
        &["run", "s.toml", "--out", "out", "--skip-bad-lines"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["skipped_trace_lines"], 1);
    assert_eq!(summary["hosts"][0]["writes"], 29_999);
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        3,
        "no temporary left"
    );
}

#[test]
fn a_missing_scenario_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = mirrorlab(&["run", "nowhere.toml", "--out", "out"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("error: cannot read scenario nowhere.toml"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("out").exists());
}

/// Issue #4 end to end: `check --trace-out` writes the JSON and the replay scenario beside it;
/// `run` on the scenario writes the usual outputs and exits 1 with a `REPLAY:` line naming
/// the step that broke the promise; a replay refuses `--mode` and `sweep` (exit 2).
#[test]
fn a_counterexample_replays_with_exit_1_and_its_step_named() {
    let dir = tempfile::tempdir().unwrap();
    let o = mirrorlab(&[&CATCHING_CHECK[..], &["cex.json"]].concat(), dir.path());
    let printed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{printed}{}", stderr(&o));
    assert!(printed.contains("`mirrorlab run cex.toml`"), "{printed}");
    assert!(dir.path().join("cex.json").is_file());

    let o = mirrorlab(&["run", "cex.toml", "--out", "out"], dir.path());
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{table}{}", stderr(&o));
    assert!(table.contains("REPLAY: step 5 of 5 (cex.toml:"), "{table}");
    assert!(table.contains("SVOLs identical: NO"), "{table}");
    let summary: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["invariants"]["ok"], false);
    assert_eq!(summary["replay"]["broken"][0]["step"], 5);
    assert_eq!(summary["splits"][0]["digests_match"], false);
    for csv in ["link_usage.csv", "lag.csv", "latency.csv"] {
        assert!(dir.path().join("out").join(csv).is_file(), "{csv}");
    }

    for flag in [["--mode", "async"], ["--seed", "2"]] {
        let o = mirrorlab(&["run", "cex.toml", flag[0], flag[1]], dir.path());
        assert_eq!(o.status.code(), Some(2), "{flag:?}");
        let err = stderr(&o);
        assert!(
            err.contains(&format!("{}: cex.toml is a replay", flag[0])),
            "{err}"
        );
    }
    let o = mirrorlab(
        &["sweep", "cex.toml", "--vary", "seed=1,2", "--out", "sw"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is a replay"), "{}", stderr(&o));
    assert!(!dir.path().join("sw").exists());
}
