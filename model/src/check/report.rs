//! Running a check: the exhaustive search and its report, property by property.

use super::*;

/// How a property came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// An `always` property held in every state explored.
    Holds,
    /// An `always` property failed in some state.
    Violated,
    /// A `sometimes` property was seen to happen.
    Reached,
    /// A `sometimes` property never happened: the check would be vacuous.
    NotReached,
}

/// One property's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct PropertyResult {
    /// The property, as its sentence.
    pub name: &'static str,
    /// `always` (an invariant) or `sometimes` (a state some path must reach).
    pub always: bool,
    /// How it came out.
    pub verdict: Verdict,
}

/// The outcome of one check.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// The configuration checked (`CheckConfig::label`).
    pub config: String,
    /// Distinct states visited.
    pub unique_states: usize,
    /// States generated, repeats included.
    pub states: usize,
    /// The longest path explored.
    pub max_depth: usize,
    /// Wall-clock time of the search (printed, never part of a verdict).
    pub seconds: f64,
    /// True when every reachable state was visited (no early stop at a violation).
    pub exhaustive: bool,
    /// Every property with its verdict.
    pub properties: Vec<PropertyResult>,
}

impl CheckReport {
    /// Unique states per wall-clock second.
    pub fn states_per_sec(&self) -> f64 {
        self.unique_states as f64 / self.seconds.max(1e-9)
    }

    /// The `always` properties violated.
    pub fn violated(&self) -> Vec<&'static str> {
        self.properties
            .iter()
            .filter(|p| p.verdict == Verdict::Violated)
            .map(|p| p.name)
            .collect()
    }

    /// Passed: nothing violated, and every `sometimes` property reached (not vacuous).
    pub fn passed(&self) -> bool {
        self.properties
            .iter()
            .all(|p| matches!(p.verdict, Verdict::Holds | Verdict::Reached))
    }
}

/// Checks `model` exhaustively with `threads` (depth-first: the fastest search of stateright
/// 0.31 on two cores), stopping at the first violation of an `always` property.
pub fn check(model: CheckModel, threads: usize) -> CheckReport {
    let config = model.config.label();
    let props = model.properties();
    let start = Instant::now();
    let checker = model
        .checker()
        .threads(threads.max(1))
        .finish_when(HasDiscoveries::AnyFailures)
        .spawn_dfs()
        .join();
    let elapsed: Duration = start.elapsed();
    let discoveries = checker.discoveries();
    let mut any_failure = false;
    let properties: Vec<PropertyResult> = props
        .iter()
        .map(|p| {
            let found = discoveries.contains_key(p.name);
            let always = p.expectation == Expectation::Always;
            any_failure |= always && found;
            PropertyResult {
                name: p.name,
                always,
                verdict: match (always, found) {
                    (true, false) => Verdict::Holds,
                    (true, true) => Verdict::Violated,
                    (false, true) => Verdict::Reached,
                    (false, false) => Verdict::NotReached,
                },
            }
        })
        .collect();
    CheckReport {
        config,
        unique_states: checker.unique_state_count(),
        states: checker.state_count(),
        max_depth: checker.max_depth(),
        seconds: elapsed.as_secs_f64(),
        exhaustive: !any_failure,
        properties,
    }
}
