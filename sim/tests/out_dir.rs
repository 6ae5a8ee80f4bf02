//! Issue 16, points 1, 2 and 6, through the binary: no command deletes or overwrites what
//! mirrorlab did not write, an output appears only complete (a `kill -9` mid-sweep or
//! mid-merge leaves the earlier result whole, and the next run cleans up), one writer per
//! `--out`, and one exit-code contract (0 done, 1 an invariant broke, 2 bad input or I/O).
//!
//! These live beside `cli.rs` in the package that builds the binary, the only place Cargo
//! names it (`CARGO_BIN_EXE_mirrorlab`) to a test.

mod bin_common;

use bin_common::{mirrorlab, stderr, CATCHING_CHECK};
use mirrorlab::scenario_text::ScenarioText;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn spawn(args: &[&str], cwd: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mirrorlab"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

/// Exit code 2 and one `error:` line containing `what`.
fn refused(o: &Output, what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error: ") && err.contains(what), "{err}");
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// Every file under `dir` (hidden ones too) with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().into(), fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Names in `dir` that start with `prefix`.
fn named(dir: &Path, prefix: &str) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// No temporary directory, leftover or lock file is left in `dir`.
fn nothing_beside(dir: &Path) {
    let left = named(dir, ".");
    assert!(left.is_empty(), "left beside the outputs: {left:?}");
}

/// `check` on a mutant it catches at once, writing the counterexample to `trace_out`.
fn check_writing(trace_out: &str, force: bool, dir: &Path) -> Output {
    let mut args = CATCHING_CHECK.to_vec();
    args.push(trace_out);
    if force {
        args.push("--force");
    }
    mirrorlab(&args, dir)
}

/// `sweep s.toml --vary VARY` in two shards, `shard0` and `shard1`.
fn sweep_in_two_shards(dir: &Path, vary: &str) {
    for i in 0..2 {
        let (shard, out) = (format!("{i}/2"), format!("shard{i}"));
        let o = mirrorlab(
            &[
                "sweep",
                "s.toml",
                "--vary",
                vary,
                "--threads",
                "1",
                "--shard",
                &shard,
                "--out",
                &out,
            ],
            dir,
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
}

/// A small scenario; `rate` writes a second for 30 simulated seconds.
fn scenario_at(dir: &Path, name: &str, rate: u32) -> PathBuf {
    let text = ScenarioText::new("out-dir", "30s")
        .storage(1, &[("a", "1GiB")])
        .storage(2, &[("b", "1GiB")])
        .link("wan", [1, 2], "10MB/s", "1ms")
        .host(
            "prod",
            "production",
            1,
            &format!(r#"{{ poisson = {rate}, volume = "1:a" }}"#),
        )
        .mirror("R", "1:a", "2:b")
        .build();
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

/// A scenario whose runs take a few milliseconds.
fn scenario(dir: &Path, name: &str) -> PathBuf {
    scenario_at(dir, name, 200)
}

/// One whose runs take long enough to kill a sweep of them midway.
fn slow_scenario(dir: &Path) {
    scenario_at(dir, "s.toml", 5_000);
}

/// Waits (at most a minute) until `dir` holds an entry starting with `prefix`.
fn wait_for(dir: &Path, prefix: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if !named(dir, prefix).is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

const SEEDS: &str = "seed=1,2,3,4,5,6";

#[test]
fn an_out_that_is_or_holds_an_input_is_refused_and_left_alone() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let s = scenario(dir, "s.toml");
    let text = fs::read(&s).unwrap();

    // run s.toml --out s.toml: the scenario would become a report directory.
    refused(
        &mirrorlab(&["run", "s.toml", "--out", "s.toml"], dir),
        "is the same path as the input s.toml",
    );
    refused(
        &mirrorlab(&["run", "s.toml", "--out", "s.toml", "--force"], dir),
        "the same path as",
    );
    assert_eq!(fs::read(&s).unwrap(), text);

    // run proj/s.toml --out proj: the project directory would be emptied.
    fs::create_dir(dir.join("proj")).unwrap();
    scenario(&dir.join("proj"), "s.toml");
    fs::write(dir.join("proj/notes.txt"), "mine").unwrap();
    let before = snapshot(&dir.join("proj"));
    for force in [false, true] {
        let mut args = vec!["run", "proj/s.toml", "--out", "proj"];
        if force {
            args.push("--force");
        }
        refused(&mirrorlab(&args, dir), "a directory holding the input");
    }
    // The same through a path spelled another way.
    refused(
        &mirrorlab(&["sweep", "proj/s.toml", "--out", "proj/../proj/."], dir),
        "a directory holding the input",
    );
    assert_eq!(snapshot(&dir.join("proj")), before);

    // merge a b --out a: shard a would be destroyed; --out inside a shard is refused too.
    sweep_in_two_shards(dir, "seed=1,2");
    let shard0 = snapshot(&dir.join("shard0"));
    for out in ["shard0", "shard0/merged", "./shard1/.."] {
        let o = mirrorlab(&["merge", "shard0", "shard1", "--out", out, "--force"], dir);
        refused(&o, "input shard");
    }
    assert_eq!(snapshot(&dir.join("shard0")), shard0);
    nothing_beside(dir);
}

#[test]
fn an_out_that_mirrorlab_did_not_write_is_refused_unless_forced() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let work = dir.join("work");
    fs::create_dir_all(work.join("runs")).unwrap();
    fs::write(work.join("runs/thesis.tex"), "years of work").unwrap();
    scenario(dir, "s.toml");
    let before = snapshot(&work);

    // sweep --out . with the user's ./runs/ there.
    refused(
        &mirrorlab(
            &["sweep", "../s.toml", "--vary", "seed=1,2", "--out", "."],
            &work,
        ),
        "is not a mirrorlab output",
    );
    refused(
        &mirrorlab(&["run", "../s.toml", "--out", "."], &work),
        "add --force",
    );
    refused(&mirrorlab(&["report", "."], &work), "no .mirrorlab marker");
    assert_eq!(snapshot(&work), before);

    // A file is not a directory to replace either.
    fs::write(dir.join("file.txt"), "data").unwrap();
    refused(
        &mirrorlab(&["run", "s.toml", "--out", "file.txt"], dir),
        "is not a directory",
    );
    assert_eq!(fs::read(dir.join("file.txt")).unwrap(), b"data");

    // An output of another kind is not replaced by this one.
    let o = mirrorlab(&["run", "s.toml", "--out", "r"], dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = snapshot(&dir.join("r"));
    refused(
        &mirrorlab(
            &["sweep", "s.toml", "--vary", "seed=1,2", "--out", "r"],
            dir,
        ),
        "holds a mirrorlab run output",
    );
    assert_eq!(snapshot(&dir.join("r")), run);

    // An earlier output of the same kind is replaced; an empty directory is taken.
    let o = mirrorlab(&["run", "s.toml", "--out", "r", "--seed", "2"], dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_ne!(snapshot(&dir.join("r")), run);
    fs::create_dir(dir.join("empty")).unwrap();
    let o = mirrorlab(&["run", "s.toml", "--out", "empty"], dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // --force replaces what the user says may go.
    let o = mirrorlab(&["run", "../s.toml", "--out", "../work", "--force"], &work);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(work.join("summary.json").is_file() && !work.join("runs").exists());
    nothing_beside(dir);
}

#[test]
fn a_trace_out_never_replaces_a_file_without_force() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    fs::write(dir.join("study.toml"), "my study").unwrap();
    fs::write(dir.join("cex.json"), "my json").unwrap();
    for file in ["study.json", "cex.json"] {
        let o = check_writing(file, false, dir);
        refused(&o, "add --force to replace it");
    }
    assert_eq!(fs::read(dir.join("study.toml")).unwrap(), b"my study");
    assert_eq!(fs::read(dir.join("cex.json")).unwrap(), b"my json");

    // An I/O failure writing it is exit 2, not the 1 of the counterexample it found.
    let o = check_writing("missing/dir/cex.json", false, dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot write"), "{}", stderr(&o));

    let o = check_writing("cex.json", true, dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_ne!(fs::read(dir.join("cex.json")).unwrap(), b"my json");
    nothing_beside(dir);
}

/// kill -9 while a sweep runs: the earlier sweep is whole, the leftover is no result, the next
/// sweep succeeds and removes it, and a second writer is refused while one runs.
#[test]
fn a_sweep_killed_midway_leaves_the_earlier_result_and_the_next_cleans_up() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    slow_scenario(dir);
    let args = [
        "sweep",
        "s.toml",
        "--vary",
        SEEDS,
        "--threads",
        "1",
        "--out",
        "out",
    ];
    let o = mirrorlab(&args, dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let earlier = snapshot(&dir.join("out"));
    assert!(earlier.contains_key(Path::new("index.html")));

    let mut first = spawn(&args, dir);
    assert!(
        wait_for(dir, ".out.tmp-"),
        "the sweep builds beside its target"
    );
    // A second writer of the same --out is refused while the first runs.
    refused(
        &mirrorlab(&args, dir),
        "another mirrorlab process is writing it",
    );
    first.kill().unwrap();
    first.wait().unwrap();

    assert_eq!(
        snapshot(&dir.join("out")),
        earlier,
        "the earlier sweep is whole"
    );
    let leftover = named(dir, ".out.tmp-");
    assert_eq!(leftover.len(), 1);
    refused(
        &mirrorlab(&["report", &leftover[0]], dir),
        "unfinished output",
    );
    refused(
        &mirrorlab(&["merge", &leftover[0], "--out", "m"], dir),
        "unfinished output",
    );

    let o = mirrorlab(&args, dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        snapshot(&dir.join("out")),
        earlier,
        "deterministic, and whole"
    );
    nothing_beside(dir);
}

#[test]
fn a_merge_killed_midway_leaves_the_earlier_result_and_the_next_cleans_up() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    slow_scenario(dir);
    sweep_in_two_shards(dir, SEEDS);
    let args = ["merge", "shard0", "shard1", "--out", "out"];
    let o = mirrorlab(&args, dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let earlier = snapshot(&dir.join("out"));

    let mut child = spawn(&args, dir);
    assert!(
        wait_for(dir, ".out.tmp-"),
        "the merge builds beside its target"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        snapshot(&dir.join("out")),
        earlier,
        "the earlier merge is whole"
    );

    // A failed merge (a shard missing) changes nothing either.
    refused(
        &mirrorlab(&["merge", "shard0", "--out", "out"], dir),
        "missing shard",
    );
    assert_eq!(snapshot(&dir.join("out")), earlier);

    let o = mirrorlab(&args, dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(snapshot(&dir.join("out")), earlier);
    nothing_beside(dir);
}

/// 0 done, 1 an invariant broke (cli.rs replays a counterexample), 2 bad input or I/O —
/// for every command that writes.
#[test]
fn io_failures_and_bad_arguments_exit_2_for_every_command() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    scenario(dir, "s.toml");
    fs::write(dir.join("file"), "").unwrap();
    let o = mirrorlab(
        &["sweep", "s.toml", "--vary", "seed=1,2", "--out", "sw"],
        dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for args in [
        vec!["run", "s.toml", "--out", "file/out"],
        vec!["sweep", "s.toml", "--out", "file/out"],
        vec!["merge", "sw", "--out", "file/out"],
        vec!["report", "file"],
        vec!["report", "nowhere"],
        vec!["sweep", "s.toml", "--threads", "10000", "--out", "t"],
        vec!["sweep", "s.toml", "--threads", "0", "--out", "t"],
    ] {
        let o = mirrorlab(&args, dir);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("error"), "{args:?}: {}", stderr(&o));
    }
    let o = mirrorlab(
        &["sweep", "s.toml", "--threads", "10000", "--out", "t"],
        dir,
    );
    assert!(stderr(&o).contains("at most 256"), "{}", stderr(&o));
    assert!(!dir.join("t").exists());
    let help = mirrorlab(&["--help"], dir);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Exit status") && help.contains("2  bad input or an I/O failure"));
}
