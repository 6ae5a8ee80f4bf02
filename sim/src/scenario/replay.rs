//! `[replay]` steps (issue #4): each parsed with [`mirrorlab_model::replay`]'s grammar and
//! resolved against the world the steps before it make.

use super::commands::{check_command, parse_line};
use super::diagnostic::{line_column, Ctx};
use super::{CommandDef, ReplayAction, ReplayStep, Scenario, When};
use mirrorlab_model::command::CommandLine;
use mirrorlab_model::replay::{Part, Step};
use mirrorlab_model::{
    MirrorId, MirrorRef, StorageSerial, Topology, Transport, VolumeId, WriteId, BLOCK_BYTES,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use toml::Spanned;

/// Parses and checks the `[replay]` steps in order, each against the world the steps before it
/// make (a `run paircreate` adds a mirror); returns the command lines the `run` steps issue,
/// in order, and the resolved steps. What only the run can tell (is that message in flight? is
/// that timer set?) is checked when the step runs.
pub(super) fn replay_steps(
    steps: &Spanned<Vec<Spanned<String>>>,
    scenario: &Scenario,
    topology: Topology,
    mut check: bool,
    ctx: &mut Ctx<'_>,
) -> (Vec<CommandDef>, Vec<ReplayStep>) {
    if steps.get_ref().is_empty() {
        ctx.err(steps.span(), "expected at least one step in a replay");
    }
    let mut checker = StepChecker {
        scenario,
        topology,
        frozen: Vec::new(),
        writes: BTreeMap::new(),
        open: Vec::new(),
        commands: Vec::new(),
    };
    let mut out = Vec::new();
    for (i, spanned) in steps.get_ref().iter().enumerate() {
        let at = At {
            span: spanned.span(),
            n: i + 1,
        };
        let text = spanned.get_ref().trim().to_string();
        // A `run` step's line, up to a `(part K of N)`, by the rules of a [[command]]'s.
        let run = text
            .strip_prefix("run ")
            .map(|r| r.split(" (part").next().unwrap_or(r));
        let action = match (run.map(parse_line), text.parse::<Step>()) {
            (Some(Err(e)), _) => at.err(ctx, e),
            (_, Err(e)) => at.err(ctx, e),
            (_, Ok(_)) if !check => continue,
            (_, Ok(step)) => checker.step(step, &at, ctx),
        };
        match action {
            Some(action) => {
                let (line, column) = line_column(ctx.text, at.span.start);
                out.push(ReplayStep {
                    line,
                    column,
                    text,
                    action,
                });
            }
            // Later steps meet the world this one would have made: stop checking them.
            None => check = false,
        }
    }
    (checker.commands, out)
}

/// Which replay step is being checked, for its messages.
struct At {
    span: Range<usize>,
    /// From 1.
    n: usize,
}

impl At {
    /// Reports a problem with the step; `None` for the step it leaves out.
    fn err<T>(&self, ctx: &mut Ctx<'_>, message: impl fmt::Display) -> Option<T> {
        ctx.err(self.span.clone(), format!("step {}: {message}", self.n));
        None
    }
}

/// What checking the replay steps in order keeps track of.
struct StepChecker<'s> {
    scenario: &'s Scenario,
    /// The mirrors as the steps so far leave them.
    topology: Topology,
    /// SVOLs frozen together by an atomic split (see [`check_command`]).
    frozen: Vec<BTreeSet<VolumeId>>,
    /// Write versions given out so far, with the step that wrote each.
    writes: BTreeMap<WriteId, usize>,
    /// Command lines being issued in parts: (command, parts issued, parts).
    open: Vec<(usize, u32, u32)>,
    /// The command lines the `run` steps issue, in order.
    commands: Vec<CommandDef>,
}

impl StepChecker<'_> {
    fn step(&mut self, step: Step, at: &At, ctx: &mut Ctx<'_>) -> Option<ReplayAction> {
        match step {
            Step::Write {
                host,
                write,
                volume,
                block,
            } => self.write(&host, write, volume, block, at, ctx),
            Step::Run { line, part } => self.run(line, part, at, ctx),
            Step::Deliver {
                via,
                from,
                to,
                message,
            } => {
                if let Some(s) = [from, to].into_iter().find(|&s| !self.storage_known(s)) {
                    at.err(ctx, format!("storage {s} is not defined"))
                } else if via == Transport::Interconnect
                    && self.scenario.link_between(from, to).is_none()
                {
                    at.err(ctx, format!("no [[link]] between {from} and {to}"))
                } else {
                    let m = self.mirror(&message.mirror, at, ctx)?;
                    Some(ReplayAction::Deliver {
                        via,
                        from,
                        to,
                        message: message.map(|_| m),
                    })
                }
            }
            Step::Timer {
                kind,
                mirror,
                system,
            } => {
                if !self.storage_known(system) {
                    return at.err(ctx, format!("storage {system} is not defined"));
                }
                let m = self.mirror(&mirror, at, ctx)?;
                Some(ReplayAction::Timer {
                    system,
                    timer: kind.timer(m),
                })
            }
        }
    }

    fn storage_known(&self, s: StorageSerial) -> bool {
        self.scenario.storages.iter().any(|x| x.serial == s)
    }

    /// The one mirror `r` names.
    fn mirror(&self, r: &MirrorRef, at: &At, ctx: &mut Ctx<'_>) -> Option<MirrorId> {
        match self.topology.resolve(std::slice::from_ref(r)) {
            Ok(ms) if ms.len() == 1 => Some(ms[0]),
            Ok(ms) => at.err(
                ctx,
                format!(
                    "group {r} names {} mirrors; name one as PVOL,SVOL",
                    ms.len()
                ),
            ),
            Err(e) => at.err(ctx, e),
        }
    }

    fn write(
        &mut self,
        host: &str,
        write: WriteId,
        volume: VolumeId,
        block: u64,
        at: &At,
        ctx: &mut Ctx<'_>,
    ) -> Option<ReplayAction> {
        let hosts = &self.scenario.hosts;
        let Some(h) = hosts.iter().position(|h| h.name == host) else {
            let known: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            return at.err(
                ctx,
                format!("no host named {host:?} (defined: {})", known.join(", ")),
            );
        };
        let Some(size) = self.scenario.volume(volume).map(|v| v.size) else {
            return at.err(
                ctx,
                format!("volume {volume} is not defined in any [[storage]]"),
            );
        };
        if hosts[h].storage != volume.storage {
            return at.err(
                ctx,
                format!(
                    "host {host:?} is attached to storage {}, so it cannot write {volume}",
                    hosts[h].storage
                ),
            );
        }
        let blocks = size / BLOCK_BYTES;
        if block >= blocks {
            return at.err(
                ctx,
                format!(
                    "expected a block of {volume} from 0 to {} (it holds {blocks} blocks of \
                     4KiB), found {block}",
                    blocks - 1
                ),
            );
        }
        if let Some(first) = self.writes.insert(write, at.n) {
            return at.err(
                ctx,
                format!(
                    "{write} is written at step {first} already; each write needs its own version"
                ),
            );
        }
        Some(ReplayAction::Write {
            host: h,
            write,
            volume,
            block,
        })
    }

    /// `run LINE`, or a part of it: the first part checks the line against the topology (as
    /// a `[[command]]` is) and counts the protocol commands it becomes; a later part must
    /// continue an earlier `run` of the same line.
    fn run(
        &mut self,
        line: CommandLine,
        part: Option<Part>,
        at: &At,
        ctx: &mut Ctx<'_>,
    ) -> Option<ReplayAction> {
        if let Some(p) = part.filter(|p| p.k > 1) {
            let text = line.to_string();
            let Some(i) = self.open.iter().position(|&(c, issued, of)| {
                self.commands[c].text == text && issued + 1 == p.k && of == p.of
            }) else {
                return at.err(
                    ctx,
                    format!(
                        "(part {} of {}) continues `run {text} (part {} of {})`, and no step \
                         before it ran that part",
                        p.k,
                        p.of,
                        p.k - 1,
                        p.of
                    ),
                );
            };
            let command = self.open[i].0;
            self.open[i].1 += 1;
            if self.open[i].1 == self.open[i].2 {
                self.open.remove(i);
            }
            return Some(ReplayAction::Run { command });
        }
        let span = at.span.clone();
        let parts = check_command(
            &line,
            self.scenario,
            &mut self.topology,
            &mut self.frozen,
            0,
            span,
            ctx,
        )?;
        match (parts, part) {
            (k, None) if k > 1 => at.err(
                ctx,
                format!(
                    "`{line}` is {k} protocol commands here (one per mirror): run each at its \
                     own step, `run {line} (part 1 of {k})` to `(part {k} of {k})`"
                ),
            ),
            (k, Some(p)) if k != p.of as usize => at.err(
                ctx,
                match k {
                    0 | 1 => format!("`{line}` is one command: remove the (part ...)"),
                    _ => format!("`{line}` is {k} protocol commands here, not {}", p.of),
                },
            ),
            (k, _) => {
                let command = self.commands.len();
                if k > 1 {
                    self.open.push((command, 1, k as u32));
                }
                self.commands.push(CommandDef {
                    when: When::Replay,
                    text: line.to_string(),
                    line,
                });
                Some(ReplayAction::Run { command })
            }
        }
    }
}
