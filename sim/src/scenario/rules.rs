//! The rules a scenario keeps whichever way its values arrived — the file, `sweep --vary` or
//! `run --mode` (issue #16): names a command line or a `--vary` key can spell, a `chunk`
//! within its volume, mode-specific keys on a mirror of that mode, and bounded resources
//! (samples per series, scheduled events, timer periods). [`check`] is the one call; the file's
//! validation maps each [`Problem`] to the line and column of the value, an override names
//! the value it changed.
//!
//! The limits, and why (README "Limits"):
//! - [`MAX_SAMPLES`]: every sample of every series is held until the run ends and then
//!   written as a CSV row. Measured on the corpus base (1 link, 3 mirrors, 1 host): 20,000
//!   samples add 13 MB of memory and 3.4 MB of CSV, so 100,000 is about 65 MB and 17 MB.
//! - [`MAX_EVENTS`]: the events the scenario schedules by itself (poisson I/Os, periodic and
//!   timed adaptive (`pass`) timer firings, samples). The simulator does about 2 M writes/s
//!   (3 events each; README "Speed"), so 10^10 events is over an hour of wall time: beyond that a run is
//!   refused rather than left to look hung.
//! - [`MIN_PERIOD_NS`]: a `cycle` or `pass` fires on every mirror for the whole run, busy or
//!   idle; 1 ms is below any link round trip a cycle could be meant to follow.

use super::{Scenario, WorkloadDef};
use crate::units::{Bytes, Nanos};
use mirrorlab_model::{AdaptivePass, CopyMode, PairOptions};
use std::fmt;

/// At most this many samples in one time series (`duration / [output] interval`).
pub const MAX_SAMPLES: u64 = 100_000;
/// At most this many events scheduled by the scenario itself.
pub const MAX_EVENTS: f64 = 1e10;
/// The shortest `cycle` (periodic) or `pass` (adaptive).
pub const MIN_PERIOD_NS: u64 = 1_000_000;

/// A pair-option key that applies to some copy modes only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PairKey {
    Journal,
    OnFull,
    Resume,
    Cycle,
    Pass,
    Fence,
}

impl PairKey {
    /// The key as the file spells it.
    pub fn name(self) -> &'static str {
        match self {
            PairKey::Journal => "journal",
            PairKey::OnFull => "on_full",
            PairKey::Resume => "resume",
            PairKey::Cycle => "cycle",
            PairKey::Pass => "pass",
            PairKey::Fence => "fence",
        }
    }

    /// The one copy mode that uses the key.
    pub fn mode(self) -> CopyMode {
        match self {
            PairKey::Journal | PairKey::OnFull | PairKey::Resume => CopyMode::Async,
            PairKey::Cycle => CopyMode::Periodic,
            PairKey::Pass => CopyMode::Adaptive,
            PairKey::Fence => CopyMode::Sync,
        }
    }

    /// Why the key cannot be set on a mirror of `mode` (a local mirror when `None`).
    pub fn misplaced(self, mode: Option<CopyMode>) -> Option<String> {
        match mode {
            None => Some(format!(
                "`{}` applies to remote mirrors; a local mirror copies in-system",
                self.name()
            )),
            Some(m) if m != self.mode() => Some(format!(
                "`{}` applies to {} mirrors, and this one is {m}",
                self.name(),
                self.mode()
            )),
            Some(_) => None,
        }
    }
}

/// Which value a [`Problem`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Duration,
    /// `[output] interval` (or the default interval, when not given).
    Interval,
    /// `scenario.mirrors[i]`: its group name.
    MirrorGroup(usize),
    MirrorChunk(usize),
    MirrorKey(usize, PairKey),
    /// The mirror's period (`cycle` or `pass`, whichever its mode reads).
    MirrorPeriod(usize),
    /// `[defaults]`' period.
    DefaultsPeriod,
    /// `scenario.hosts[i]`: its name.
    HostName(usize),
    /// `scenario.hosts[i]`'s poisson rate.
    HostRate(usize),
    /// `scenario.links[i]`: its name.
    LinkName(usize),
}

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub subject: Subject,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why `name` cannot name a group, host or link: command lines split on spaces, `--vary`
/// keys on dots, mirror references on `,` and `:`.
pub fn unnameable(what: &str, name: &str) -> Option<String> {
    if name.is_empty() {
        return Some(format!("expected a {what} name, found an empty one"));
    }
    let bad = name
        .chars()
        .find(|&c| !(c.is_alphanumeric() || c == '_' || c == '-'));
    bad.map(|c| {
        format!(
            "expected a {what} name of letters, digits, `_` and `-` (a command line or \
             --vary key must be able to spell it), found {name:?} with {c:?}"
        )
    })
}

/// Every rule over `s`, in a fixed order. Empty: `s` may run.
pub fn check(s: &Scenario) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut problem = |subject, message: String| out.push(Problem { subject, message });
    for (i, l) in s.links.iter().enumerate() {
        if let Some(m) = unnameable("link", &l.name) {
            problem(Subject::LinkName(i), m);
        }
    }
    for (i, h) in s.hosts.iter().enumerate() {
        if let Some(m) = unnameable("host", &h.name) {
            problem(Subject::HostName(i), m);
        }
    }
    for (i, m) in s.mirrors.iter().enumerate() {
        if let Some(msg) = unnameable("group", &m.group) {
            problem(Subject::MirrorGroup(i), msg);
        }
        let mode = (!m.id.is_local()).then_some(m.options.mode);
        for &key in &m.keys {
            if let Some(msg) = key.misplaced(mode) {
                problem(Subject::MirrorKey(i, key), msg);
            }
        }
        let volume = s.volume(m.id.pvol).map_or(0, |v| v.size);
        if m.options.chunk_bytes > volume {
            problem(
                Subject::MirrorChunk(i),
                format!(
                    "expected a chunk at most the volume size {}, found {}",
                    Bytes(volume),
                    Bytes(m.options.chunk_bytes)
                ),
            );
        }
        if !m.id.is_local() && timed(&m.options) {
            if let Some(msg) = short_period(m.options.period_ns, m.options.mode) {
                problem(Subject::MirrorPeriod(i), msg);
            }
        }
    }
    if timed(&s.defaults) {
        if let Some(msg) = short_period(s.defaults.period_ns, s.defaults.mode) {
            problem(Subject::DefaultsPeriod, msg);
        }
    }
    let samples = s.duration_ns / s.interval_ns.max(1);
    if samples > MAX_SAMPLES {
        let shortest = Nanos(s.duration_ns.div_ceil(MAX_SAMPLES));
        problem(
            Subject::Interval,
            format!(
                "a sampling interval of {} over {} is {samples} samples per series; expected at \
                 most {MAX_SAMPLES} (each is held in memory until the run ends): set \
                 [output] interval to {shortest} or more",
                Nanos(s.interval_ns),
                Nanos(s.duration_ns)
            ),
        );
    }
    // A period or interval refused above already explains the count.
    if out.is_empty() {
        out.extend(event_budget(s, samples));
    }
    out
}

/// Periodic remote mirrors run a timer, and adaptive ones given a `pass`.
fn timed(o: &PairOptions) -> bool {
    match o.mode {
        CopyMode::Periodic => true,
        CopyMode::Adaptive => o.pass == AdaptivePass::Timer,
        _ => false,
    }
}

fn short_period(period_ns: u64, mode: CopyMode) -> Option<String> {
    let key = if mode == CopyMode::Periodic {
        "cycle"
    } else {
        "pass"
    };
    (period_ns < MIN_PERIOD_NS).then(|| {
        format!(
            "expected a `{key}` of at least {} (it fires on every {mode} mirror, busy or idle, \
             for the whole run), found {}",
            Nanos(MIN_PERIOD_NS),
            Nanos(period_ns)
        )
    })
}

/// The events the scenario schedules by itself, against [`MAX_EVENTS`]; a problem names the
/// largest contributor.
fn event_budget(s: &Scenario, samples: u64) -> Option<Problem> {
    let seconds = |ns: u64| ns as f64 / 1e9;
    // (events, whose, what they are, what to change)
    let mut parts: Vec<(f64, Subject, String, &str)> = vec![(
        samples as f64,
        Subject::Interval,
        format!("{samples} samples"),
        "raise [output] interval",
    )];
    for (i, h) in s.hosts.iter().enumerate() {
        let Some(WorkloadDef::Poisson(p)) = &h.workload else {
            continue;
        };
        let start = h.start_ns.unwrap_or(0).min(s.duration_ns);
        let stop = h.stop_ns.unwrap_or(s.duration_ns).min(s.duration_ns);
        let active = stop.saturating_sub(start);
        parts.push((
            p.rate * seconds(active),
            Subject::HostRate(i),
            format!(
                "host {:?}: {} I/Os per second for {}",
                h.name,
                count(p.rate),
                Nanos(active)
            ),
            "lower the rate or shorten the run",
        ));
    }
    for (i, m) in s.mirrors.iter().enumerate() {
        if !m.id.is_local() && timed(&m.options) {
            let firings = s.duration_ns / m.options.period_ns.max(1);
            parts.push((
                firings as f64,
                Subject::MirrorPeriod(i),
                format!(
                    "mirror {:?}: a timer every {} for {}",
                    m.group,
                    Nanos(m.options.period_ns),
                    Nanos(s.duration_ns)
                ),
                "lengthen the period or shorten the run",
            ));
        }
    }
    let total: f64 = parts.iter().map(|p| p.0).sum();
    if total <= MAX_EVENTS {
        return None;
    }
    let (_, subject, what, fix) = parts
        .into_iter()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .expect("the samples are always a part");
    Some(Problem {
        subject,
        message: format!(
            "this run schedules about {} events, most of them from {what}; expected at most \
             {} (over an hour at the simulator's 2 M writes per second): {fix}",
            count(total),
            count(MAX_EVENTS)
        ),
    })
}

/// A count or rate as a person reads it: plain up to a million, else `2.0e12`.
fn count(x: f64) -> String {
    if x < 1e6 {
        format!("{x}")
    } else {
        format!("{x:.1e}")
    }
}
