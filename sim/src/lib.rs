//! mirrorlab simulator crate (placeholder, filled in by the simulator work).
pub mod units;
pub mod trace;
pub mod demo;
pub mod bench;
pub mod check_cmd;
pub mod cost;
pub mod engine;
pub mod link;
pub mod metrics;
pub mod output;
pub mod report;
pub mod run;
pub mod run_cmd;
pub mod scenario;
pub mod sweep;
pub mod workload;

pub use output::{write_outputs, RunOutput, Summary};
pub use run::{simulate, simulate_with_progress, Overrides, SimError};
pub use scenario::{Scenario, ScenarioError};
