//! Shared helpers of the simulator tests: paths to the scenarios and traces, and running a
//! scenario file in-process.
#![allow(dead_code)]

use mirrorlab::{scenario, simulate, Overrides, RunOutput, Scenario};
use std::io::Write as _;
use std::path::PathBuf;

/// The CloudPhysics trace `fig8-dr-test.toml` replays: GPL-3.0, so not in the repository.
pub const CLOUDPHYSICS: &str = "cloudphysics-2h.csv";

/// Where the CloudPhysics trace is: `$MIRRORLAB_TRACES`, else `../shared/traces/` beside the
/// clone (as the scenario resolves it). `None` when absent, after [`skip`] says so for `test`.
pub fn cloudphysics(test: &str) -> Option<PathBuf> {
    let dirs = [
        std::env::var_os("MIRRORLAB_TRACES").map(PathBuf::from),
        Some(root().join("../shared/traces")),
    ];
    let found = dirs
        .into_iter()
        .flatten()
        .map(|d| d.join(CLOUDPHYSICS))
        .find(|p| p.is_file());
    if found.is_none() {
        skip(
            test,
            CLOUDPHYSICS,
            &format!(
                "{CLOUDPHYSICS} (GPL-3.0, not in the repository); set MIRRORLAB_TRACES to its \
                 directory or put ../shared/traces beside the clone"
            ),
        );
    }
    found
}

/// Says loudly that `test` did not run because it lacks `needs` (`why`: what it is and how to
/// provide it), and lists it in `skipped-tests.txt` in cargo's test temporary directory (the
/// summary). In CI (`CI=true`) it fails the test instead, so a skip never passes there.
pub fn skip(test: &str, needs: &str, why: &str) {
    let why = format!("{test} did not run: it needs {why}");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "in CI: {why}");
    // Straight to the process's stderr: the test harness captures `eprintln!` of a test
    // that passes, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n======== SKIPPED ========\n{why}\n=========================\n"
    );
    let summary = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.txt");
    let line = format!("{test}: needs {needs}\n");
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&summary)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    let _ = writeln!(
        std::io::stderr(),
        "(skipped tests are listed in {})",
        summary.display()
    );
}

/// The workspace root (`/work/main` in development, the clone in CI).
pub fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

pub fn scenario_path(name: &str) -> PathBuf {
    root().join("scenarios").join(name)
}

/// Scenario files name traces relative to the workspace root (where `cargo run` runs), so
/// the tests run from there too (every test sets the same directory, so order is harmless).
pub fn load(name: &str) -> Scenario {
    std::env::set_current_dir(root()).expect("workspace root");
    let path = scenario_path(name);
    scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn run(s: &Scenario, overrides: Overrides) -> RunOutput {
    simulate(s, &overrides).unwrap_or_else(|e| panic!("{}: {e}", s.name))
}

/// Parses a scenario given as text (named `test.toml` in messages).
pub fn parse(text: &str) -> Result<Scenario, scenario::ScenarioError> {
    scenario::parse(text, &root().join("test.toml"))
}
