//! A path of the model checker as a scenario `mirrorlab run` replays (issue #4).
//!
//! The scenario is self-contained: the checker's world (Fig 8, or the three-site cascade)
//! with volumes of its chunks, its copy mode and pair options, its split transport and mutant
//! (`[protocol] mutant`), its hosts and links, and a `[replay]` section with one step per
//! action of the path, each followed by the checker's own words for it as a comment. The
//! simulator then applies the very same interleaving through
//! [`mirrorlab_model::StorageSystem::handle`] and judges the result with its own checks.
//! `mirrorlab check --trace-out FILE` writes one beside the JSON counterexample; the tests
//! write one for each of many random paths and compare where both drivers end.

use crate::units::{Bytes, Nanos};
use mirrorlab_model::check::{transport_name, Action, CheckModel, PROD_HOST};
use mirrorlab_model::{AdaptivePass, CopyMode, PairOptions};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Time between two replay steps: enough for the time series to show each step apart.
const STEP_INTERVAL: &str = "1ms";

/// Which keys a pair's options may be written with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// `[defaults]`: any key.
    Defaults,
    /// A remote `[[mirror]]`: the keys of its copy mode.
    Remote,
    /// A local `[[mirror]]`: no copy mode and none of its keys.
    Local,
}

/// A value as TOML writes it (a quoted string for units and kebab-case names).
fn value(v: impl Serialize) -> Result<String, String> {
    toml::Value::try_from(v)
        .map(|v| v.to_string())
        .map_err(|e| e.to_string())
}

/// `key = value` lines for the options of `o` that differ from `base`.
fn option_keys(o: &PairOptions, base: &PairOptions, keys: Keys) -> Result<Vec<String>, String> {
    let of_mode = |m: CopyMode| keys != Keys::Local && o.mode == m;
    let mut out = Vec::new();
    let mut key = |name: &str, differs: bool, v: String| {
        if differs {
            out.push(format!("{name} = {v}"));
        }
    };
    key(
        "mode",
        keys != Keys::Local && o.mode != base.mode,
        value(o.mode)?,
    );
    key(
        "chunk",
        o.chunk_bytes != base.chunk_bytes,
        value(Bytes(o.chunk_bytes))?,
    );
    key(
        "window",
        o.window_bytes != base.window_bytes,
        value(Bytes(o.window_bytes))?,
    );
    let journal = of_mode(CopyMode::Async) && o.journal_bytes != base.journal_bytes;
    key("journal", journal, value(Bytes(o.journal_bytes))?);
    let on_full = of_mode(CopyMode::Async) && o.on_full != base.on_full;
    key("on_full", on_full, value(o.on_full)?);
    key(
        "resume",
        of_mode(CopyMode::Async) && o.resume != base.resume,
        value(o.resume)?,
    );
    key(
        "fence",
        of_mode(CopyMode::Sync) && o.fence != base.fence,
        value(o.fence)?,
    );
    let period = o.period_ns != base.period_ns;
    key(
        "cycle",
        of_mode(CopyMode::Periodic) && period,
        value(Nanos(o.period_ns))?,
    );
    // Only a timed adaptive mirror has a `pass` (without one, passes start when idle).
    key(
        "pass",
        of_mode(CopyMode::Adaptive) && o.pass == AdaptivePass::Timer,
        value(Nanos(o.period_ns))?,
    );
    Ok(out)
}

/// The replay scenario of `actions`, a path of `model` from its initial state: `name` is the
/// scenario's name, `comments` open the file (what produced it, what it shows). `Err` when
/// the path is not one of the model's.
pub fn scenario_text(
    model: &CheckModel,
    name: &str,
    comments: &[String],
    actions: &[Action],
) -> Result<String, String> {
    let steps = model.replay_steps(actions)?;
    let cfg = &model.config;
    let topology = model.start_topology();
    let defaults = model.pair_defaults();
    let mut t = String::new();
    for c in comments {
        let _ = writeln!(t, "# {c}");
    }
    let _ = writeln!(t, "name = {}", value(name)?);
    let _ = writeln!(t, "\n[protocol]");
    let transport = transport_name(cfg.transport);
    let _ = writeln!(t, "split_transport = {}", value(transport)?);
    if let Some(m) = cfg.mutant {
        let _ = writeln!(t, "mutant = {}", value(m.name())?);
    }
    let _ = writeln!(
        t,
        "\n# Options of the mirrors `paircreate` makes, as the checker gives them."
    );
    let _ = writeln!(t, "[defaults]");
    for k in option_keys(
        &defaults,
        &PairOptions::with_mode(CopyMode::Async),
        Keys::Defaults,
    )? {
        let _ = writeln!(t, "{k}");
    }
    let mut storages: BTreeMap<_, Vec<String>> = BTreeMap::new();
    for v in topology.volumes() {
        storages.entry(v.id.storage).or_default().push(format!(
            "{{ id = {}, size = {} }}",
            value(v.id.serial)?,
            value(Bytes(v.size))?
        ));
    }
    for (serial, volumes) in &storages {
        let _ = writeln!(t, "\n[[storage]]\nserial = {serial}");
        let _ = writeln!(t, "volumes = [{}]", volumes.join(", "));
    }
    for (link, a, b) in model.links() {
        let _ = writeln!(
            t,
            "\n[[link]]\nname = {}\nbetween = [{a}, {b}]\nbandwidth = \"1Gbit/s\"\nlatency = \"1ms\"",
            value(link)?
        );
    }
    for (host, volume) in model.hosts() {
        let role = if host == PROD_HOST {
            "production"
        } else {
            "auxiliary"
        };
        let _ = writeln!(
            t,
            "\n[[host]]\nname = {}\nrole = \"{role}\"\nstorage = {}",
            value(host)?,
            volume.storage
        );
    }
    // The mirrors in PAIR from the start (ORA_R2 comes from its `paircreate` step).
    for m in topology.mirrors() {
        let _ = writeln!(
            t,
            "\n[[mirror]]\ngroup = {}\npvol = {}\nsvol = {}",
            value(&m.group)?,
            value(m.id.pvol)?,
            value(m.id.svol)?
        );
        let keys = if m.id.is_local() {
            Keys::Local
        } else {
            Keys::Remote
        };
        for k in option_keys(&m.options, &defaults, keys)? {
            let _ = writeln!(t, "{k}");
        }
    }
    let _ = writeln!(t, "\n[replay]\ninterval = \"{STEP_INTERVAL}\"\nsteps = [");
    for (i, s) in steps.iter().enumerate() {
        let _ = writeln!(
            t,
            "    {},  # {}. {}",
            value(s.step.to_string())?,
            i + 1,
            s.note.replace('\n', " ")
        );
    }
    let _ = writeln!(t, "]");
    Ok(t)
}
