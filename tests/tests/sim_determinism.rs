//! Same scenario and seed give byte-identical output directories (a replay's too); another seed
//! changes the synthetic results.

mod report_common;
mod sim_common;

use mirrorlab::{write_outputs, Overrides};
use report_common::{page_top, run_dir_files};
use sim_common::{cloudphysics, load, run};
use std::fs;
use std::path::Path;

#[test]
fn two_runs_write_identical_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let fig8 = cloudphysics("two_runs_write_identical_bytes (fig8-dr-test.toml)")
        .map(|_| "fig8-dr-test.toml");
    for name in fig8.into_iter().chain(["data-mining.toml"]) {
        let s = load(name);
        let a = tmp.path().join(format!("{name}-a"));
        let b = tmp.path().join(format!("{name}-b"));
        write_outputs(&run(&s, Overrides::default()), &a).unwrap();
        write_outputs(&run(&s, Overrides::default()), &b).unwrap();
        let (fa, fb) = (run_dir_files(&a), run_dir_files(&b));
        for ((n, x), (_, y)) in fa.iter().zip(&fb) {
            assert!(
                x == y,
                "{name}: {n} differs between two runs with the same seed"
            );
        }
        // Nothing else is left beside the outputs (the temporary directories are renamed).
        let left: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

/// A second run into the same directory replaces the first whole (a file only the first
/// wrote is gone) and leaves nothing beside it: the old directory, moved aside while the new
/// one moved in, is deleted.
#[test]
fn a_second_run_replaces_the_first_and_leaves_nothing_beside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let s = load("fig1-basic.toml");
    let out = tmp.path().join("out");
    let short = Overrides {
        duration_ns: Some(10_000_000_000),
        ..Default::default()
    };
    write_outputs(&run(&s, short), &out).unwrap();
    let first = run_dir_files(&out);
    fs::write(out.join("notes.txt"), "not written by the second run").unwrap();
    let longer = Overrides {
        duration_ns: Some(20_000_000_000),
        ..Default::default()
    };
    write_outputs(&run(&s, longer), &out).unwrap();
    let second = run_dir_files(&out);
    assert_ne!(first, second);
    let beside: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(beside, ["out"]);
}

#[test]
fn a_replay_writes_identical_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/replay-base.toml");
    let s = mirrorlab::scenario::load(&path).unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    write_outputs(&run(&s, Overrides::default()), &a).unwrap();
    write_outputs(&run(&s, Overrides::default()), &b).unwrap();
    let fa = run_dir_files(&a);
    assert_eq!(fa, run_dir_files(&b));
    // Its page says first that it is a replay, and what became of it.
    let html = String::from_utf8(fa["index.html"].clone()).unwrap();
    let top = page_top(&html);
    assert!(top.contains("This run is a replay"), "{top}");
    assert!(top.contains("every invariant held"), "{top}");
    assert!(
        !html.contains("The answer"),
        "no bandwidth answer from a replay"
    );
}

#[test]
fn another_seed_changes_synthetic_results() {
    let s = load("data-mining.toml");
    let a = run(&s, Overrides::default());
    let b = run(
        &s,
        Overrides {
            seed: Some(s.seed + 1),
            ..Default::default()
        },
    );
    assert_ne!(a.summary.hosts[0].writes, b.summary.hosts[0].writes);
    assert_ne!(a.summary.links[0].data_bytes, b.summary.links[0].data_bytes);
}
