//! Bad input explains itself (issue #7): every malformed scenario and trace in `tests/corpus/`
//! fails with the message `tests/corpus/expected.txt` gives for it (file, line, column for a
//! scenario; file and line for a trace; what was expected), and a failed run leaves the output
//! directory as it was. The binary's exit codes are tested in `sim/tests/cli.rs`.

use mirrorlab::run_cmd::{run, RunArgs, RunCmdError};
use mirrorlab::scenario_text::{trace, ScenarioText};
use mirrorlab::{scenario, simulate, Overrides, Scenario, SimError};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// What `--skip-bad-lines` does with a trace.
#[derive(Debug, PartialEq)]
enum Skip {
    Skipped(u64),
    Error,
}

struct Expected {
    message: String,
    skip: Option<Skip>,
}

/// `expected.txt`: file (relative to the corpus) -> expectation.
fn expectations() -> BTreeMap<String, Expected> {
    let text = fs::read_to_string(corpus().join("expected.txt")).unwrap();
    let mut map = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (file, _) = line
            .split_once([':', ' '])
            .unwrap_or_else(|| panic!("no file name in {line:?}"));
        let (message, skip) = match line.rsplit_once(" [skip: ") {
            Some((m, s)) => {
                let s = s.strip_suffix(']').expect("[skip: ...] closes");
                let skip = match s {
                    "error" => Skip::Error,
                    n => Skip::Skipped(n.parse().expect("a count")),
                };
                (m, Some(skip))
            }
            None => (line, None),
        };
        let old = map.insert(
            file.to_string(),
            Expected {
                message: message.to_string(),
                skip,
            },
        );
        assert!(old.is_none(), "{file} is listed twice");
    }
    map
}

/// Whether `text` is `pattern`, where `...` in the pattern stands for any text.
fn matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split("...").collect();
    let Some(mut rest) = text.strip_prefix(parts[0]) else {
        return false;
    };
    for (i, part) in parts.iter().enumerate().skip(1) {
        if i == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

fn files_in(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(corpus().join(dir))
        .unwrap()
        .map(|e| format!("{dir}/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    v.sort();
    v
}

/// The message as the user sees it, with the corpus directory taken off the front.
fn relative(message: &str) -> String {
    let prefix = format!("{}/", corpus().display());
    message.strip_prefix(&prefix).unwrap_or(message).to_string()
}

#[test]
fn every_corpus_file_has_one_expectation() {
    let expected: Vec<String> = expectations().into_keys().collect();
    let mut files = files_in("scenarios");
    files.extend(files_in("traces"));
    files.sort();
    assert_eq!(
        files, expected,
        "tests/corpus/expected.txt and the files differ"
    );
    assert!(files.len() >= 60, "{}", files.len());
}

#[test]
fn the_base_of_the_malformed_scenarios_is_valid_and_runs() {
    let s = scenario::load(&corpus().join("base.toml")).unwrap();
    let out = simulate(&s, &Overrides::default()).unwrap();
    assert!(out.summary.invariants.ok);
    assert_eq!(out.summary.commands.len(), 2);
}

#[test]
fn the_base_of_the_malformed_replays_is_valid_and_replays_every_step() {
    let s = scenario::load(&corpus().join("replay-base.toml")).unwrap();
    let out = simulate(&s, &Overrides::default()).unwrap();
    assert!(out.summary.invariants.ok, "{:?}", out.summary.invariants);
    let r = out.summary.replay.expect("a replay");
    assert_eq!(r.steps, 16);
    assert!(r.in_flight.is_empty() && r.timers.is_empty(), "{r:?}");
}

/// A malformed scenario's one message: from validation, or, for a replay that validates, from
/// the step the run cannot apply.
fn first_error(path: &Path) -> Result<String, String> {
    let s = match scenario::load(path) {
        Ok(s) => s,
        Err(err) => {
            let n = err.diagnostics().len();
            return match n {
                1 => Ok(relative(&err.to_string())),
                _ => Err(format!("{n} diagnostics:\n{err}")),
            };
        }
    };
    match simulate(&s, &Overrides::default()) {
        Err(e @ SimError::Replay(_)) => Ok(relative(&e.to_string())),
        Err(e) => Err(format!("not a replay step error: {e}")),
        Ok(_) => Err("accepted".to_string()),
    }
}

#[test]
fn each_malformed_scenario_gets_one_message_with_file_line_and_column() {
    let mut failures = String::new();
    for (file, e) in expectations() {
        if !file.starts_with("scenarios/") {
            continue;
        }
        assert!(e.skip.is_none(), "{file}: [skip] is for traces");
        let message = match first_error(&corpus().join(&file)) {
            Ok(m) => m,
            Err(e) => {
                let _ = writeln!(failures, "{file}: {e}");
                continue;
            }
        };
        if !matches(&e.message, &message) {
            let _ = writeln!(
                failures,
                "{file}:\n  expected {}\n  found    {message}",
                e.message
            );
        }
    }
    assert!(failures.is_empty(), "\n{failures}");
}

/// A host replaying `trace_path` (format from the file name) onto a 1 GiB volume.
fn replay(trace_path: &Path) -> Scenario {
    let name = trace_path.file_name().unwrap().to_string_lossy();
    let format = name.split('-').next().unwrap();
    let text = ScenarioText::new(&format!("replay {name}"), "1min")
        .storage(1, &[("1", "1GiB")])
        .host("prod", "production", 1, &trace(trace_path, format, "1:1"))
        .build();
    scenario::parse(&text, &corpus().join("replay.toml")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn each_malformed_trace_names_file_and_line_or_is_skipped_and_counted() {
    let mut failures = String::new();
    for (file, e) in expectations() {
        if !file.starts_with("traces/") {
            continue;
        }
        let mut s = replay(&corpus().join(&file));
        match simulate(&s, &Overrides::default()) {
            Ok(_) => {
                let _ = writeln!(failures, "{file}: replayed without an error");
            }
            Err(err) => {
                assert!(matches!(err, SimError::Workload(_)), "{err:?}");
                let message = relative(&err.to_string());
                if !matches(&e.message, &message) {
                    let _ = writeln!(
                        failures,
                        "{file}:\n  expected {}\n  found    {message}",
                        e.message
                    );
                }
            }
        }
        s.skip_bad_trace_lines();
        let skipped = match simulate(&s, &Overrides::default()) {
            Ok(out) => Skip::Skipped(out.summary.skipped_trace_lines),
            Err(err) => {
                let message = relative(&err.to_string());
                if !matches(&e.message, &message) {
                    let _ = writeln!(failures, "{file} skipping: {message}");
                }
                Skip::Error
            }
        };
        if Some(&skipped) != e.skip.as_ref() {
            let _ = writeln!(
                failures,
                "{file}: with skip_bad_lines expected {:?}, found {skipped:?}",
                e.skip
            );
        }
    }
    assert!(failures.is_empty(), "\n{failures}");
}

// ----- the output directory after a failure -----

/// An MQSim-format trace of `n` good writes with line `bad` (1-based) replaced by `bad_line`.
fn long_trace(n: u64, bad: u64, bad_line: &str) -> String {
    let mut t = String::with_capacity(n as usize * 24);
    for i in 1..=n {
        if i == bad {
            t.push_str(bad_line);
            t.push('\n');
        } else {
            let _ = writeln!(t, "{} 0 {} 8 0", i * 1_000_000, (i * 8) % 2_000_000);
        }
    }
    t
}

fn scenario_file(dir: &Path, trace_path: &Path) -> PathBuf {
    let path = dir.join("long.toml");
    let text = ScenarioText::new("long trace", "2min")
        .two_sites("100MB/s", "5ms")
        .host("prod", "production", 1, &trace(trace_path, "mqsim", "1:1"))
        .mirror("R", "1:1", "2:1")
        .build();
    fs::write(&path, text).unwrap();
    path
}

/// Everything under `dir`, as (relative path, bytes), sorted.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            for (n, b) in snapshot(&e.path()) {
                v.push((format!("{name}/{n}"), b));
            }
        } else {
            v.push((name, fs::read(e.path()).unwrap()));
        }
    }
    v.sort();
    v
}

fn args(scenario: PathBuf, out: &Path, skip_bad_lines: bool) -> RunArgs {
    RunArgs {
        scenario,
        seed: None,
        out: Some(out.to_path_buf()),
        mode: None,
        skip_bad_lines,
        force: false,
    }
}

/// Line 50,000 of 60,000 is bad: the run fails 50 s into simulated time, after writing
/// nothing; an earlier report in `--out` is still there, whole, and nothing is left beside it.
#[test]
fn a_bad_line_deep_in_a_trace_leaves_the_output_directory_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("long.trace");
    fs::write(
        &trace,
        long_trace(60_000, 50_000, "50000000000 0 16 8 0 extra"),
    )
    .unwrap();
    let scenario = scenario_file(dir.path(), &trace);
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("summary.json"), "{\"from\": \"an earlier run\"}\n").unwrap();
    fs::write(out.join("lag.csv"), "time_s\n").unwrap();
    mirrorlab::out_dir::mark(&out, mirrorlab::out_dir::Kind::Run).unwrap();
    let before = snapshot(dir.path());

    let err = run(&args(scenario.clone(), &out, false)).unwrap_err();
    assert!(matches!(err, RunCmdError::Sim(_)), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("{}: line 50000: expected 5", trace.display())),
        "{message}"
    );
    assert_eq!(
        snapshot(dir.path()),
        before,
        "a failed run changed the directory"
    );

    // Skipping the bad line, the run completes and replaces the report whole.
    run(&args(scenario, &out, true)).unwrap();
    let summary: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["skipped_trace_lines"], 1);
    assert_eq!(summary["hosts"][0]["writes"], 59_999);
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temporary directories left: {names:?}"
    );
}

#[test]
fn a_bad_scenario_leaves_an_existing_output_directory_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("summary.json"), "{}\n").unwrap();
    mirrorlab::out_dir::mark(&out, mirrorlab::out_dir::Kind::Run).unwrap();
    let before = snapshot(dir.path());
    for file in [
        "bandwidth-zero.toml",
        "nocopy-not-split.toml",
        "toml-syntax.toml",
        "replay-not-oldest.toml",
    ] {
        let scenario = corpus().join("scenarios").join(file);
        let err = run(&args(scenario, &out, false)).unwrap_err();
        assert!(
            matches!(
                err,
                RunCmdError::Scenario(_) | RunCmdError::Sim(SimError::Replay(_))
            ),
            "{err}"
        );
        assert_eq!(snapshot(dir.path()), before, "{file}");
    }
}

/// An address past the end of the volume is caught on the record that has it, at any depth,
/// and named with the volume and its size.
#[test]
fn an_address_past_the_end_of_the_volume_is_an_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("past.trace");
    // 1 GiB = 2,097,152 sectors: the write at the last 4 sectors ends exactly at the end
    // (good); one sector further is past it.
    let mut t = long_trace(20_000, 0, "");
    let _ = writeln!(t, "20001000000 0 2097148 4 0");
    let _ = writeln!(t, "20002000000 0 2097149 4 0");
    fs::write(&trace, t).unwrap();
    let s = scenario::load(&scenario_file(dir.path(), &trace)).unwrap();
    let err = simulate(&s, &Overrides::default()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: line 20002: expected an I/O within volume 1:1 (1GiB), found one ending at byte 1073742336",
            trace.display()
        )
    );
}

#[test]
fn the_pattern_matcher_means_what_expected_txt_says() {
    assert!(matches("a:1:2: x", "a:1:2: x"));
    assert!(!matches("a:1:2: x", "a:1:2: xy"));
    assert!(matches("a:1:2: x ...", "a:1:2: x and more"));
    assert!(matches("a ... c ... e", "a b c d e"));
    assert!(!matches("a ... c", "a b d"));
    assert!(!matches("b ...", "a b c"));
}

/// The corpus base with `from` replaced by `to` (once), parsed as `name`.
fn base_with(from: &str, to: &str) -> Result<Scenario, scenario::ScenarioError> {
    let text = fs::read_to_string(corpus().join("base.toml")).unwrap();
    assert!(text.contains(from), "{from}");
    scenario::parse(&text.replacen(from, to, 1), &corpus().join("base.toml"))
}

/// A value that arrives by `run --mode` meets the rules the file's values meet: `[defaults]`
/// keeps a 100 µs cycle that only periodic mirrors read, so the file is valid, and
/// `--mode periodic` makes every remote mirror read it.
#[test]
fn run_mode_is_held_to_the_rules_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(corpus().join("base.toml"))
        .unwrap()
        .replacen(
            "duration = \"20s\"\n",
            "duration = \"20s\"\n\n[defaults]\ncycle = \"100us\"\n",
            1,
        );
    let path = dir.path().join("s.toml");
    fs::write(&path, &text).unwrap();
    scenario::load(&path).expect("valid while the mirrors are async");
    let out = dir.path().join("out");
    let mut a = args(path.clone(), &out, false);
    a.mode = Some(mirrorlab_model::CopyMode::Periodic);
    let e = run(&a).unwrap_err();
    assert!(matches!(e, RunCmdError::ModeRefused { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with("--mode periodic: ") && msg.contains("of at least 1ms"),
        "{msg}"
    );
    assert!(!out.exists(), "nothing written");
    // The file's own async keys stay legal under another mode: they are the async settings.
    let s = base_with("mode = \"async\"", "mode = \"async\"\njournal = \"1GiB\"").unwrap();
    let mut synced = s.clone();
    synced.set_mode(mirrorlab_model::CopyMode::Sync);
    assert!(scenario::check(&synced).is_empty());
}

/// A change an override could make.
type Change = fn(&mut Scenario);

/// An override that breaks a rule is refused by the same call the file goes through
/// ([`scenario::check`]); what `sweep --vary` must call on each row.
#[test]
fn check_refuses_what_an_override_breaks() {
    let s = base_with("", "").unwrap();
    assert!(scenario::check(&s).is_empty());
    let broken: [(&str, Change); 5] = [
        ("samples per series", |s| s.interval_ns = 1),
        ("I/Os per second", |s| {
            if let Some(scenario::WorkloadDef::Poisson(p)) = &mut s.hosts[0].workload {
                p.rate = 1e300;
            }
        }),
        ("chunk at most the volume size", |s| {
            s.mirrors[0].options.chunk_bytes = 4 << 30
        }),
        ("`cycle` of at least 1ms", |s| {
            s.mirrors[0].options.mode = mirrorlab_model::CopyMode::Periodic;
            s.mirrors[0].options.period_ns = 1;
        }),
        ("`journal` applies to async mirrors", |s| {
            s.mirrors[0].options.mode = mirrorlab_model::CopyMode::Sync;
            s.mirrors[0].keys.insert(scenario::PairKey::Journal);
        }),
    ];
    for (expect, change) in broken {
        let mut t = s.clone();
        change(&mut t);
        let problems = scenario::check(&t);
        assert_eq!(problems.len(), 1, "{expect}: {problems:?}");
        assert!(problems[0].message.contains(expect), "{problems:?}");
    }
}

/// 16 TiB and 15 EiB volumes are legal: memory grows with written blocks, not the volume.
#[test]
fn huge_volumes_are_accepted_and_a_run_without_a_full_copy_stays_small() {
    for size in ["16TiB", "15EiB"] {
        let text = fs::read_to_string(corpus().join("base.toml"))
            .unwrap()
            .replace("\"1GiB\"", &format!("{size:?}"));
        // Without the no-copy create there is no full-copy comparison run to make.
        let text = &text[..text.find("[[command]]").unwrap()];
        let s = scenario::parse(text, Path::new("huge.toml")).unwrap_or_else(|e| panic!("{e}"));
        let out = simulate(&s, &Overrides::default()).unwrap();
        assert!(out.summary.hosts[0].writes > 1_000, "{size}");
    }
}
