//! Shared helpers of the simulator tests: paths to the scenarios and traces, and running a
//! scenario file in-process.
#![allow(dead_code)]

use mirrorlab::{scenario, simulate, Overrides, RunOutput, Scenario};
use std::path::PathBuf;

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
