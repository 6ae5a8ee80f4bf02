//! mirrorlab simulator crate (placeholder, filled in by the simulator work).
pub mod units;
pub mod trace;
pub mod demo;
