//! `[[command]]` lines: when each runs, and each checked against the topology the commands
//! before it leave (a `paircreate` extends it; a no-copy create needs an atomic split of the
//! two volumes first, Fig 12).

use super::diagnostic::Ctx;
use super::file::CommandFile;
use super::rules;
use super::{CommandDef, Scenario, When, WorkloadDef};
use crate::units::Nanos;
use mirrorlab_model::command::{resolve, CommandError, CommandLine};
use mirrorlab_model::{MirrorId, StorageSerial, Topology, VolumeId};
use std::collections::BTreeSet;
use std::ops::Range;
use toml::Spanned;

/// Checks the commands in file order against the topology they will meet.
pub(super) fn commands(
    files: &[Spanned<CommandFile>],
    scenario: &Scenario,
    mut topology: Topology,
    mut check: bool,
    ctx: &mut Ctx<'_>,
) -> Vec<CommandDef> {
    let mut out = Vec::new();
    // Earliest time each command can run, for the no-copy check.
    let mut earliest = 0u64;
    // SVOLs frozen together by an atomic split and not touched since.
    let mut frozen: Vec<BTreeSet<VolumeId>> = Vec::new();
    for (i, c) in files.iter().enumerate() {
        let cf = c.get_ref();
        let when = match (&cf.at, &cf.after) {
            (Some(at), None) => {
                if cf.delay.is_some() {
                    ctx.err(c.span(), "`delay` applies to `after = \"previous\"`; with `at`, give the time itself");
                }
                let t = at.get_ref().0;
                if t >= scenario.duration_ns {
                    ctx.err(
                        at.span(),
                        format!(
                            "expected a time before the end of the run ({}), found {}",
                            Nanos(scenario.duration_ns),
                            at.get_ref()
                        ),
                    );
                }
                earliest = t;
                When::At(t)
            }
            (None, Some(after)) => {
                if after.get_ref() != "previous" {
                    ctx.err(
                        after.span(),
                        format!("expected after = \"previous\", found {:?}", after.get_ref()),
                    );
                }
                if i == 0 {
                    ctx.err(
                        after.span(),
                        "the first command has no previous command to wait for; give `at`",
                    );
                }
                let delay_ns = cf.delay.map_or(0, |d| d.0);
                earliest = earliest.saturating_add(delay_ns);
                When::AfterPrevious { delay_ns }
            }
            _ => {
                ctx.err(
                    c.span(),
                    "expected a [[command]] with either `at = TIME` or `after = \"previous\"`",
                );
                continue;
            }
        };
        let text = cf.run.get_ref().trim().to_string();
        let span = cf.run.span();
        let line = match parse_line(&text) {
            Ok(l) => l,
            Err(e) => {
                ctx.err(span, e);
                check = false;
                continue;
            }
        };
        if check {
            // Later commands meet the world this one would have made: stop checking them.
            check = check_command(
                &line,
                scenario,
                &mut topology,
                &mut frozen,
                earliest,
                span,
                ctx,
            )
            .is_some();
        }
        out.push(CommandDef { when, line, text });
    }
    out
}

/// A command line as [`CommandLine`] parses it (which refuses an option on a verb that takes
/// none, and names the verb in every usage message).
pub(super) fn parse_line(text: &str) -> Result<CommandLine, String> {
    text.parse().map_err(|e: CommandError| e.to_string())
}

/// Checks one command line against the topology it will meet (which a `paircreate` extends);
/// returns how many protocol commands it becomes (0 for a fault), or `None` after reporting
/// why it cannot run.
pub(super) fn check_command(
    line: &CommandLine,
    scenario: &Scenario,
    topology: &mut Topology,
    frozen: &mut Vec<BTreeSet<VolumeId>>,
    earliest: u64,
    span: Range<usize>,
    ctx: &mut Ctx<'_>,
) -> Option<usize> {
    let before = ctx.diagnostics.len();
    let storage_known = |s: StorageSerial| scenario.storages.iter().any(|x| x.serial == s);
    if let CommandLine::PairCreate { group, .. } = line {
        if let Some(why) = rules::unnameable("group", group) {
            ctx.err(span, why);
            return None;
        }
    }
    match line {
        CommandLine::LinkDown { link } | CommandLine::LinkUp { link } => {
            if !scenario.links.iter().any(|l| &l.name == link) {
                let known: Vec<&str> = scenario.links.iter().map(|l| l.name.as_str()).collect();
                ctx.err(
                    span,
                    format!("no link named {link:?} (defined: {})", known.join(", ")),
                );
                return None;
            }
            return Some(0);
        }
        CommandLine::Crash { storage }
        | CommandLine::Restart { storage }
        | CommandLine::Disaster { storage } => {
            if !storage_known(*storage) {
                ctx.err(span, format!("storage {storage} is not defined"));
                return None;
            }
            return Some(0);
        }
        CommandLine::Takeover { storage } if !storage_known(*storage) => {
            ctx.err(span, format!("storage {storage} is not defined"));
            return None;
        }
        CommandLine::PairCreate { pvol, svol, .. }
            if pvol.storage != svol.storage
                && scenario.link_between(pvol.storage, svol.storage).is_none() =>
        {
            ctx.err(
                span.clone(),
                format!(
                    "remote mirror {pvol} -> {svol} needs a [[link]] between {} and {}",
                    pvol.storage, svol.storage
                ),
            );
        }
        _ => {}
    }
    let resolved = match resolve(line, topology, scenario.defaults, scenario.protocol.mutant) {
        Ok(r) => r.unwrap_or_default(),
        Err(e) => {
            ctx.err(span, e);
            return None;
        }
    };
    let mirrors: Vec<MirrorId> = resolved
        .iter()
        .flat_map(|(_, c)| match c {
            mirrorlab_model::Command::Create { mirror, .. }
            | mirrorlab_model::Command::Resync { mirror, .. }
            | mirrorlab_model::Command::Delete { mirror } => vec![*mirror],
            mirrorlab_model::Command::Split { plan } => plan.mirrors(),
            mirrorlab_model::Command::Takeover => Vec::new(),
        })
        .collect();
    match line {
        CommandLine::PairSplit { atomic: true, .. } => {
            frozen.push(mirrors.iter().map(|m| m.svol).collect());
        }
        CommandLine::PairResync { .. } | CommandLine::PairDelete { .. } => {
            for set in frozen.iter_mut() {
                for m in &mirrors {
                    set.remove(&m.svol);
                }
            }
        }
        CommandLine::PairCreate {
            pvol,
            svol,
            nocopy: true,
            ..
        } => {
            if !frozen.iter().any(|s| s.contains(pvol) && s.contains(svol)) {
                ctx.err(span, format!(
                    "no-copy create of {pvol} -> {svol}: the volumes will not be identical; expected an earlier \
                     `pairsplit --atomic` of mirrors whose SVOLs are {pvol} and {svol} (or create with a full copy)"
                ));
                return None;
            }
            for h in &scenario.hosts {
                let Some(start) = h.start_ns else { continue };
                let writes = match &h.workload {
                    Some(WorkloadDef::Poisson(p)) => vec![p.volume],
                    Some(WorkloadDef::Trace(t)) => t.map.iter().map(|m| m.1).collect(),
                    None => Vec::new(),
                };
                if start < earliest {
                    if let Some(v) = writes.iter().find(|v| *v == pvol || *v == svol) {
                        ctx.err(span.clone(), format!(
                            "no-copy create of {pvol} -> {svol}: host {:?} writes {v} from {}, before this command \
                             (at {} or later), so the volumes will differ; start the host after the create",
                            h.name, Nanos(start), Nanos(earliest)
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    (ctx.diagnostics.len() == before).then_some(resolved.len())
}
