//! Validation of the file's sections in order (storage, links, mirrors, hosts, then commands
//! or replay steps), each on its `Spanned` values so a problem is reported once, located:
//! duplicate ids, dangling references, mirrors of different sizes or in a cycle, bandwidth 0,
//! pair options that do not suit the mirror's mode, consistency groups that cannot be one.

use super::commands::commands;
use super::diagnostic::Ctx;
use super::file::{GroupFile, PairFile, ProtocolFile, ScenarioFile};
use super::replay::replay_steps;
use super::rules::{self, PairKey, Subject};
use super::workload::workload;
use super::{
    write_latency_problem, HostDef, HostRole, LinkDef, MirrorDef, Replay, Scenario, StorageDef,
    DEFAULT_WRITE_LATENCY_NS,
};
use mirrorlab_model::topology::{
    ConsistencyGroup, MirrorRef, MirrorSpec, TopologyError, VolumeSpec,
};
use mirrorlab_model::{
    AdaptivePass, CopyMode, MirrorId, Mutant, PairOptions, ProtocolConfig, StorageSerial, Topology,
    Transport, VolumeId, BLOCK_BYTES,
};
use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

pub(super) fn validate(file: ScenarioFile, path: &Path, ctx: &mut Ctx<'_>) -> Scenario {
    let replaying = file.replay.is_some();
    let duration_ns = match &file.duration {
        Some(d) if replaying => {
            ctx.err(
                d.span(),
                "a replay lasts one `interval` per step, plus one: remove `duration`",
            );
            0
        }
        Some(d) => {
            if d.get_ref().0 == 0 {
                ctx.err(d.span(), "expected a duration above 0s");
            }
            d.get_ref().0
        }
        // As serde says it of any other missing field.
        None if !replaying => {
            ctx.err(0..0, "missing field `duration`");
            0
        }
        // Set from the steps below.
        None => 0,
    };
    let step_ns = file.replay.as_ref().map(|r| match &r.get_ref().interval {
        Some(i) if i.get_ref().0 == 0 => {
            ctx.err(i.span(), "expected a step interval above 0s");
            1
        }
        Some(i) => i.get_ref().0,
        None => 1_000_000,
    });
    let interval_span = file
        .output
        .as_ref()
        .and_then(|o| o.interval.as_ref().map(Spanned::span));
    let interval_ns = match file.output.and_then(|o| o.interval) {
        Some(i) if i.get_ref().0 == 0 => {
            ctx.err(i.span(), "expected a sampling interval above 0s");
            1
        }
        Some(i) => i.get_ref().0,
        // A replay samples once per step.
        None => step_ns.unwrap_or(1_000_000_000),
    };
    let (protocol, host_latency_ns) = protocol_config(file.protocol, ctx);
    let defaults = match &file.defaults {
        Some(d) => {
            for (name, span) in [
                ("group", d.get_ref().group.as_ref().map(Spanned::span)),
                ("pvol", d.get_ref().pvol.as_ref().map(Spanned::span)),
                ("svol", d.get_ref().svol.as_ref().map(Spanned::span)),
                ("initial", d.get_ref().initial.as_ref().map(Spanned::span)),
            ] {
                if let Some(span) = span {
                    ctx.err(
                        span,
                        format!("`{name}` belongs in a [[mirror]], not in [defaults]"),
                    );
                }
            }
            pair_options(d.get_ref(), base_defaults(), None, ctx).0
        }
        None => base_defaults(),
    };

    // Storage systems and volumes.
    let mut storages: Vec<StorageDef> = Vec::new();
    for s in &file.storage {
        let sf = s.get_ref();
        let serial = StorageSerial(*sf.serial.get_ref());
        if storages.iter().any(|x| x.serial == serial) {
            ctx.err(
                sf.serial.span(),
                format!("storage {serial} is defined twice (serials must be unique)"),
            );
            continue;
        }
        let mut volumes: Vec<VolumeSpec> = Vec::new();
        for v in &sf.volumes {
            let vf = v.get_ref();
            let id = VolumeId {
                storage: serial,
                serial: *vf.id.get_ref(),
            };
            if volumes.iter().any(|x| x.id == id) {
                ctx.err(vf.id.span(), format!("volume {id} is defined twice"));
                continue;
            }
            let size = vf.size.get_ref().0;
            if size == 0 || size % BLOCK_BYTES != 0 {
                ctx.err(
                    vf.size.span(),
                    format!(
                        "expected a volume size that is a positive multiple of 4KiB, found {}",
                        ctx.written(vf.size.span())
                    ),
                );
            }
            let used = match &vf.used {
                Some(u) if u.get_ref().0 > size => {
                    ctx.err(
                        u.span(),
                        format!(
                            "expected `used` at most the volume size {}, found {}",
                            ctx.written(vf.size.span()),
                            ctx.written(u.span())
                        ),
                    );
                    size
                }
                Some(u) => u.get_ref().0,
                None => size,
            };
            volumes.push(VolumeSpec { id, size, used });
        }
        let write_latency_ns = match &sf.write_latency {
            Some(w) => {
                let problem = write_latency_problem(w.get_ref().0, &ctx.written(w.span()));
                if let Some(problem) = problem {
                    ctx.err(w.span(), problem);
                }
                w.get_ref().0
            }
            None => DEFAULT_WRITE_LATENCY_NS,
        };
        storages.push(StorageDef {
            serial,
            site: sf.site.clone().unwrap_or_default(),
            write_latency_ns,
            volumes,
        });
    }
    // Later sections refer to earlier ones: once a section has errors, checking the next
    // would only repeat them as dangling references, so validation stops there.
    if !ctx.diagnostics.is_empty() {
        return placeholder(path);
    }
    let storage_known = |s: StorageSerial| storages.iter().any(|x| x.serial == s);
    let volume_size = |v: VolumeId| {
        storages
            .iter()
            .flat_map(|s| &s.volumes)
            .find(|x| x.id == v)
            .map(|x| x.size)
    };
    let known_storages = || {
        storages
            .iter()
            .map(|s| s.serial.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };

    // Links.
    let mut links: Vec<LinkDef> = Vec::new();
    // The file entry each checked link, mirror and host came from, for [`rules::check`]'s spans.
    let mut link_files = Vec::new();
    for l in &file.link {
        let lf = l.get_ref();
        let name = lf.name.get_ref().clone();
        if links.iter().any(|x| x.name == name) {
            ctx.err(
                lf.name.span(),
                format!("link {name:?} is defined twice (names must be unique)"),
            );
            continue;
        }
        let between = lf.between.get_ref();
        let (a, b) = match between[..] {
            [a, b] if a != b => (StorageSerial(a), StorageSerial(b)),
            _ => {
                ctx.err(
                    lf.between.span(),
                    "expected `between` to name two different storage serials, e.g. [64001, 64002]",
                );
                continue;
            }
        };
        for s in [a, b] {
            if !storage_known(s) {
                ctx.err(
                    lf.between.span(),
                    format!(
                        "link {name:?} names storage {s}, which is not defined (defined: {})",
                        known_storages()
                    ),
                );
            }
        }
        if links
            .iter()
            .any(|x| (x.a, x.b) == (a, b) || (x.b, x.a) == (a, b))
        {
            ctx.err(
                lf.between.span(),
                format!(
                    "a link between {a} and {b} is already defined (one link per pair of systems)"
                ),
            );
        }
        let bandwidth = lf.bandwidth.get_ref().0;
        if bandwidth == 0 {
            ctx.err(
                lf.bandwidth.span(),
                "expected a bandwidth above 0 (a link that carries nothing cannot replicate)",
            );
        }
        let mut price = |p: &Option<Spanned<f64>>| match p {
            Some(p) if !(p.get_ref().is_finite() && *p.get_ref() >= 0.0) => {
                ctx.err(
                    p.span(),
                    format!("expected a price >= 0, found {}", p.get_ref()),
                );
                0.0
            }
            Some(p) => *p.get_ref(),
            None => 0.0,
        };
        let price_per_gb = price(&lf.price_per_gb);
        let price_per_mbps_month = price(&lf.price_per_mbps_month);
        let mut outages = Vec::new();
        for o in &lf.outages {
            let (down, up) = (o.get_ref().0 .0, o.get_ref().1 .0);
            if up <= down {
                ctx.err(
                    o.span(),
                    format!(
                        "expected an outage [start, end] with end after start, found [{}, {}]",
                        o.get_ref().0,
                        o.get_ref().1
                    ),
                );
            } else if outages.iter().any(|&(d, u)| down < u && d < up) {
                ctx.err(o.span(), "outage windows of one link must not overlap");
            } else {
                outages.push((down, up));
            }
        }
        outages.sort();
        let loss = match &lf.loss {
            Some(p) if !(0.0..1.0).contains(p.get_ref()) => {
                ctx.err(
                    p.span(),
                    format!(
                        "expected a message loss probability from 0 up to (not including) 1, found {}",
                        p.get_ref()
                    ),
                );
                0.0
            }
            Some(p) => *p.get_ref(),
            None => 0.0,
        };
        if replaying {
            if let Some(o) = lf.outages.first() {
                ctx.err(
                    o.span(),
                    "a replay takes links down at its own steps (`run linkdown NAME`, \
                     `run linkup NAME`): remove `outages`",
                );
            }
            if let Some(p) = &lf.loss {
                ctx.err(
                    p.span(),
                    "a replay loses no message at random (it takes links down at its own \
                     steps): remove `loss`",
                );
            }
        }
        link_files.push(lf);
        links.push(LinkDef {
            name,
            a,
            b,
            bandwidth,
            latency_ns: lf.latency.0,
            price_per_gb,
            price_per_mbps_month,
            outages,
            loss,
        });
    }
    if !ctx.diagnostics.is_empty() {
        return placeholder(path);
    }
    let linked = |a: StorageSerial, b: StorageSerial| {
        links
            .iter()
            .any(|l| (l.a, l.b) == (a, b) || (l.b, l.a) == (a, b))
    };

    // Mirrors present at t = 0.
    let mut topology = Topology::new();
    for s in &storages {
        for v in &s.volumes {
            // Duplicates were refused above.
            let _ = topology.add_volume(v.clone());
        }
    }
    let mut mirrors: Vec<MirrorDef> = Vec::new();
    let mut mirror_files = Vec::new();
    for m in &file.mirror {
        let mf = m.get_ref();
        let (Some(group), Some(pvol), Some(svol)) = (&mf.group, &mf.pvol, &mf.svol) else {
            ctx.err(
                m.span(),
                "expected a [[mirror]] with `group`, `pvol` and `svol`",
            );
            continue;
        };
        let id = MirrorId::new(*pvol.get_ref(), *svol.get_ref());
        let mut ok = true;
        for v in [pvol, svol] {
            if volume_size(*v.get_ref()).is_none() {
                ctx.err(
                    v.span(),
                    format!("volume {} is not defined in any [[storage]]", v.get_ref()),
                );
                ok = false;
            }
        }
        if !ok {
            continue;
        }
        if !id.is_local() && !linked(id.pvol.storage, id.svol.storage) {
            ctx.err(
                svol.span(),
                format!(
                    "remote mirror {id} needs a [[link]] between {} and {}",
                    id.pvol.storage, id.svol.storage
                ),
            );
        }
        let (options, keys) = pair_options(mf, defaults, Some(id), ctx);
        let initial_copy = match &mf.initial {
            None => false,
            Some(i) => match i.get_ref().as_str() {
                "pair" => false,
                "copy" => true,
                other => {
                    ctx.err(
                        i.span(),
                        format!("expected `initial` to be \"pair\" or \"copy\", found {other:?}"),
                    );
                    false
                }
            },
        };
        match topology.add_mirror(MirrorSpec {
            id,
            group: group.get_ref().clone(),
            options,
        }) {
            Ok(()) => {
                mirror_files.push(m);
                mirrors.push(MirrorDef {
                    group: group.get_ref().clone(),
                    id,
                    options,
                    initial_copy,
                    keys,
                });
            }
            Err(e) => ctx.err(svol.span(), e),
        }
    }

    let groups = file
        .group
        .iter()
        .filter_map(|g| consistency_group(g, &mut topology, ctx))
        .collect();

    // Hosts.
    let mut hosts: Vec<HostDef> = Vec::new();
    let mut host_files = Vec::new();
    for h in &file.host {
        let hf = h.get_ref();
        let name = hf.name.get_ref().clone();
        if hosts.iter().any(|x| x.name == name) {
            ctx.err(
                hf.name.span(),
                format!("host {name:?} is defined twice (names must be unique)"),
            );
            continue;
        }
        let storage = StorageSerial(*hf.storage.get_ref());
        if !storage_known(storage) {
            ctx.err(hf.storage.span(), format!("host {name:?} is attached to storage {storage}, which is not defined (defined: {})", known_storages()));
            continue;
        }
        let workload = match &hf.workload {
            Some(w) if replaying => {
                ctx.err(
                    w.span(),
                    "in a replay, hosts write only at the steps that say so \
                     (`HOST writes wN to VOLUME block B`): remove `workload`",
                );
                None
            }
            Some(w) => workload(w, storage, path, &volume_size, ctx),
            None if hf.role == HostRole::Standby || replaying => None,
            None => {
                ctx.err(
                    h.span(),
                    format!("expected a `workload` for {:?} host {name:?}", hf.role),
                );
                None
            }
        };
        let start_ns = match (&hf.start, hf.role) {
            (Some(s), _) => Some(s.get_ref().0),
            (None, HostRole::Standby) => None,
            (None, _) => Some(0),
        };
        let stop_ns = hf.stop.as_ref().map(|s| s.get_ref().0);
        if let (Some(a), Some(b), Some(stop)) = (start_ns, stop_ns, &hf.stop) {
            if b <= a {
                ctx.err(stop.span(), "expected `stop` after `start`");
            }
        }
        host_files.push(h);
        hosts.push(HostDef {
            name,
            role: hf.role,
            storage,
            workload,
            start_ns,
            stop_ns,
        });
    }

    let mut scenario = Scenario {
        name: file.name,
        path: path.to_path_buf(),
        seed: file.seed.unwrap_or(1),
        duration_ns,
        interval_ns,
        protocol,
        host_latency_ns,
        storages,
        links,
        hosts,
        mirrors,
        groups,
        defaults,
        commands: Vec::new(),
        replay: None,
    };
    // Commands are checked against the topology; after an error above they would only
    // repeat it (a refused mirror makes its group unknown), so they are parsed but not checked.
    let check = ctx.diagnostics.is_empty();
    match (&file.replay, step_ns) {
        (Some(r), Some(interval_ns)) => {
            if let Some(c) = file.command.first() {
                ctx.err(
                    c.span(),
                    "a replay runs its commands as steps (`run COMMAND`): move this \
                     [[command]] into [replay] steps",
                );
            }
            let (commands, steps) =
                replay_steps(&r.get_ref().steps, &scenario, topology, check, ctx);
            scenario.duration_ns = (steps.len() as u64 + 1).saturating_mul(interval_ns);
            scenario.commands = commands;
            scenario.replay = Some(Replay { interval_ns, steps });
        }
        _ => scenario.commands = commands(&file.command, &scenario, topology, check, ctx),
    }
    let whole = file.replay.as_ref().map_or(0..0, Spanned::span);
    let duration_span = file.duration.as_ref().map_or(whole, Spanned::span);
    for p in rules::check(&scenario) {
        let span = match p.subject {
            Subject::Duration => duration_span.clone(),
            Subject::Interval => interval_span.clone().unwrap_or(duration_span.clone()),
            Subject::LinkName(i) => link_files[i].name.span(),
            Subject::HostName(i) => host_files[i].get_ref().name.span(),
            Subject::HostRate(i) => {
                let w = host_files[i].get_ref().workload.as_ref();
                let rate = w.and_then(|w| w.get_ref().poisson.as_ref().map(Spanned::span));
                rate.unwrap_or(host_files[i].span())
            }
            Subject::MirrorGroup(i) => {
                let m = mirror_files[i];
                m.get_ref().group.as_ref().map_or(m.span(), Spanned::span)
            }
            Subject::MirrorKey(i, key) => mode_key_spans(mirror_files[i].get_ref())
                .find(|(k, _)| *k == key)
                .map_or(mirror_files[i].span(), |(_, s)| s),
            Subject::MirrorChunk(i) => {
                let own = mirror_files[i].get_ref().chunk.as_ref();
                let given = own.or(file
                    .defaults
                    .as_ref()
                    .and_then(|d| d.get_ref().chunk.as_ref()));
                given.map_or(mirror_files[i].span(), Spanned::span)
            }
            Subject::MirrorPeriod(i) => {
                let m = mirror_files[i].get_ref();
                let given = m.cycle.as_ref().or(m.pass.as_ref());
                let inherited = file.defaults.as_ref().and_then(|d| {
                    let d = d.get_ref();
                    d.cycle.as_ref().or(d.pass.as_ref())
                });
                given
                    .or(inherited)
                    .map_or(mirror_files[i].span(), Spanned::span)
            }
            Subject::DefaultsPeriod => {
                let d = file.defaults.as_ref();
                let given =
                    d.and_then(|d| d.get_ref().cycle.as_ref().or(d.get_ref().pass.as_ref()));
                given.map_or(d.map_or(0..0, Spanned::span), Spanned::span)
            }
        };
        ctx.err(span, p);
    }
    scenario
}

/// What `validate` returns when it stops early; never run, since diagnostics exist.
fn placeholder(path: &Path) -> Scenario {
    Scenario {
        name: String::new(),
        path: path.to_path_buf(),
        seed: 0,
        duration_ns: 0,
        interval_ns: 1,
        protocol: ProtocolConfig::default(),
        host_latency_ns: 0,
        storages: Vec::new(),
        links: Vec::new(),
        hosts: Vec::new(),
        mirrors: Vec::new(),
        groups: Vec::new(),
        defaults: base_defaults(),
        commands: Vec::new(),
        replay: None,
    }
}

/// A `[[group]]`: its mirrors (each name a `[[mirror]]`'s `group` or `PVOL,SVOL`) resolved
/// and added to `topology` as a consistency group, or the located reason why not.
fn consistency_group(
    g: &Spanned<GroupFile>,
    topology: &mut Topology,
    ctx: &mut Ctx<'_>,
) -> Option<ConsistencyGroup> {
    let gf = g.get_ref();
    let mut mirrors = Vec::new();
    for name in gf.mirrors.get_ref() {
        let resolved = name
            .get_ref()
            .parse::<MirrorRef>()
            .map_err(|e| e.to_string())
            .and_then(|r| topology.resolve(&[r]).map_err(|e| e.to_string()));
        match resolved {
            Ok(ms) => mirrors.extend(ms),
            Err(e) => {
                ctx.err(name.span(), format!("[[group]] mirrors: {e}"));
                return None;
            }
        }
    }
    let name = gf.name.get_ref();
    match topology.add_consistency_group(name, &mirrors) {
        Ok(()) => topology
            .consistency_groups()
            .iter()
            .find(|c| &c.name == name)
            .cloned(),
        Err(e) => {
            let span = match e {
                TopologyError::GroupNameTaken(_) => gf.name.span(),
                _ => gf.mirrors.span(),
            };
            ctx.err(span, e);
            None
        }
    }
}

fn base_defaults() -> PairOptions {
    PairOptions::with_mode(CopyMode::Async)
}

fn protocol_config(p: Option<ProtocolFile>, ctx: &mut Ctx<'_>) -> (ProtocolConfig, u64) {
    let mut config = ProtocolConfig::default();
    let Some(p) = p else {
        return (config, 1_000_000);
    };
    if let Some(t) = &p.split_transport {
        config.split_transport = match t.get_ref().as_str() {
            "interconnect" => Transport::Interconnect,
            "host-network" => Transport::HostNetwork,
            other => {
                ctx.err(t.span(), format!("expected split_transport \"interconnect\" or \"host-network\", found {other:?}"));
                Transport::Interconnect
            }
        };
    }
    if let Some(r) = &p.local_copy {
        if r.get_ref().0 == 0 {
            ctx.err(r.span(), "expected a local copy rate above 0");
        } else {
            config.local_copy_bytes_per_sec = r.get_ref().0;
        }
    }
    if let Some(m) = &p.mutant {
        match m.get_ref().parse::<Mutant>() {
            Ok(m) => config.mutant = Some(m),
            Err(e) => ctx.err(m.span(), e),
        }
    }
    (config, p.host_latency.map_or(1_000_000, |n| n.0))
}

/// Pair options from `f` over `base`, and the mode-specific keys `f` sets (which
/// [`rules::check`] holds against the mirror's mode).
fn pair_options(
    f: &PairFile,
    base: PairOptions,
    id: Option<MirrorId>,
    ctx: &mut Ctx<'_>,
) -> (PairOptions, BTreeSet<PairKey>) {
    let mut o = base;
    if let Some(c) = &f.ctg {
        ctx.err(
            c.span(),
            "a consistency group is declared as a [[group]] with `name` and `mirrors` \
             (e.g. name = \"ORA_DB\", mirrors = [\"ORA_DATA\", \"ORA_LOG\"]), not by `ctg`",
        );
    }
    if let Some(m) = &f.mode {
        if id.is_some_and(|m| m.is_local()) {
            ctx.err(
                m.span(),
                "`mode` applies to remote mirrors; a local mirror copies in-system",
            );
        }
        o.mode = *m.get_ref();
    }
    let keys = mode_key_spans(f).map(|(k, _)| k).collect();
    if let Some(j) = &f.journal {
        if j.get_ref().0 == 0 {
            ctx.err(j.span(), "expected a journal size above 0");
        }
        o.journal_bytes = j.get_ref().0;
    }
    for (p, key) in [(&f.cycle, "cycle"), (&f.pass, "pass")] {
        if let Some(p) = p {
            if p.get_ref().0 == 0 {
                ctx.err(p.span(), format!("expected a `{key}` above 0s"));
            }
            o.period_ns = p.get_ref().0;
        }
    }
    // An adaptive mirror given a `pass` starts its passes on that timer, not when idle.
    if f.pass.is_some() {
        o.pass = AdaptivePass::Timer;
    }
    if let Some(c) = &f.chunk {
        let c0 = c.get_ref().0;
        if c0 == 0 || c0 % BLOCK_BYTES != 0 {
            ctx.err(
                c.span(),
                format!(
                    "expected a chunk that is a positive multiple of 4KiB, found {}",
                    ctx.written(c.span())
                ),
            );
        } else {
            o.chunk_bytes = c0;
        }
    }
    if let Some(w) = &f.window {
        if w.get_ref().0 == 0 {
            ctx.err(w.span(), "expected a copy window above 0");
        }
        o.window_bytes = w.get_ref().0;
    }
    if let Some(x) = &f.on_full {
        o.on_full = *x.get_ref();
    }
    if let Some(x) = &f.fence {
        o.fence = *x.get_ref();
    }
    if let Some(x) = &f.resume {
        o.resume = *x.get_ref();
    }
    (o, keys)
}

/// The mode-specific keys `f` sets, with where each is written.
fn mode_key_spans(f: &PairFile) -> impl Iterator<Item = (PairKey, Range<usize>)> + '_ {
    let span = |s: Option<Range<usize>>, k| s.map(|s| (k, s));
    [
        span(f.journal.as_ref().map(Spanned::span), PairKey::Journal),
        span(f.on_full.as_ref().map(Spanned::span), PairKey::OnFull),
        span(f.resume.as_ref().map(Spanned::span), PairKey::Resume),
        span(f.cycle.as_ref().map(Spanned::span), PairKey::Cycle),
        span(f.pass.as_ref().map(Spanned::span), PairKey::Pass),
        span(f.fence.as_ref().map(Spanned::span), PairKey::Fence),
    ]
    .into_iter()
    .flatten()
}
