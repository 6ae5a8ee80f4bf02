//! mirrorlab: drives the one replication protocol of `mirrorlab-model` in simulated time
//! (`run`, `sweep`, `bench`), checks it (`check`), and reports on it (`report`). Entry point for
//! in-process callers: [`simulate`] on a [`Scenario`] from [`scenario::load`], then
//! [`write_outputs`].
pub mod bench;
pub mod check_cmd;
pub mod cost;
pub mod demo;
pub mod engine;
pub mod horcm;
pub mod human;
pub mod link;
pub mod metrics;
pub mod out_dir;
pub mod output;
pub mod replay;
pub mod report;
pub mod run;
pub mod run_cmd;
pub mod scenario;
pub mod scenario_text;
pub mod study;
pub mod sweep_cmd;
pub mod trace;
pub mod units;
pub mod workload;

pub use output::{RunOutput, Summary};
pub use run::{simulate, simulate_with_progress, Overrides, Phase, SimError};
pub use run_cmd::write_outputs;
pub use scenario::{Scenario, ScenarioError};
