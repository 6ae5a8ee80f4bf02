//! A checked path in domain words: messages, timers, actions and their effects, and the
//! counterexample [`Trace`] a failed property is shown as.

use super::*;

impl CheckModel {
    pub(super) fn group(&self, m: MirrorId) -> String {
        group_name(&self.topology, m)
    }

    pub(super) fn write_name(id: WriteId) -> String {
        if id.0 > AUX_WRITE_BASE {
            format!("aux write a{}", id.0 - AUX_WRITE_BASE)
        } else {
            format!("w{}", id.0)
        }
    }

    /// A message in domain words.
    pub(crate) fn describe_message(&self, msg: &Message) -> String {
        let g = self.group(msg.mirror());
        match msg {
            Message::Write {
                seq, write, first, ..
            } => format!(
                "{} of {g} (seq {seq}) for block {first}",
                Self::write_name(*write)
            ),
            Message::Chunk {
                seq,
                first,
                end,
                blocks,
                cycle,
                ..
            } => format!(
                "chunk copy of {g} (seq {seq}) blocks {first}..{end} = {}{}",
                content(blocks),
                if *cycle { ", part of a cycle" } else { "" }
            ),
            Message::Mark { seq, kind, .. } => match kind {
                MarkKind::CycleEnd => format!("end-of-cycle mark of {g} (seq {seq})"),
                MarkKind::PassEnd => format!("end-of-pass mark of {g} (seq {seq})"),
                MarkKind::Split => format!("split mark of {g} (seq {seq})"),
            },
            Message::Ack { seq, .. } => format!("ack of {g} up to seq {seq}"),
            Message::Forward { plan, .. } => {
                let names: Vec<String> =
                    plan.mirrors().into_iter().map(|m| self.group(m)).collect();
                format!("atomic split of {} forwarded through {g}", names.join(" "))
            }
            Message::SplitDone { refused, .. } => match refused {
                None => format!("split done (through {g})"),
                Some(r) => format!("split refused (through {g}): {r}"),
            },
            Message::Create { nocopy, .. } => match nocopy {
                Some(_) => format!("paircreate {g} --nocopy"),
                None => format!("paircreate {g} (full copy)"),
            },
            Message::CreateReply { refused, .. } => match refused {
                None => format!("paircreate {g} accepted"),
                Some(r) => format!("paircreate {g} refused: {r}"),
            },
            Message::Resync { restore, .. } => {
                format!("pairresync{} {g}", if *restore { " --restore" } else { "" })
            }
            Message::ResyncBitmap { runs, .. } => {
                format!("secondary's pending bitmap of {g} ({} runs)", runs.len())
            }
            Message::CopyComplete { .. } => format!("copy of {g} complete"),
            Message::Suspend { .. } => format!("suspend {g}"),
            Message::Delete { .. } => format!("pairdelete {g}"),
        }
    }

    pub(super) fn describe_timer(&self, t: &Timer) -> String {
        match t {
            Timer::Cycle(m) => format!("cycle timer of {}", self.group(*m)),
            Timer::Pass(m) => format!("pass timer of {}", self.group(*m)),
            Timer::LocalCopy(m) => format!("in-system copy step of {}", self.group(*m)),
        }
    }

    /// What `action` does, in words, as seen from `s`.
    pub(crate) fn describe_action(&self, s: &CheckState, action: &Action) -> String {
        let (p, b) = (self.primary, self.secondary);
        match action {
            Action::ProdWrite => {
                let (w, block) = self.prod_write(s.issued + 1);
                format!("production host writes {w} to {} block {block}", self.pvol)
            }
            Action::AuxWrite => {
                let (w, block) = self.aux_write(s.aux_issued + 1);
                format!(
                    "auxiliary host writes {} to split SVOL {} block {block}",
                    short_write(w),
                    self.aux_mirror.svol
                )
            }
            Action::IssueSplit | Action::IssueNoCopyCreate | Action::IssueResync => {
                match self.script.get(usize::from(s.step)) {
                    Some(step) if s.step_cmds.len() < step.commands.len() => {
                        let (sys, _, line) = &step.commands[s.step_cmds.len()];
                        format!("administrator runs `{line}` (to storage {sys})")
                    }
                    _ => "administrator has nothing left to run".to_string(),
                }
            }
            Action::ResyncAfterFault(m) => format!(
                "administrator runs `pairresync {}` (to storage {})",
                self.group(*m),
                m.pvol.storage
            ),
            Action::DeliverLink { from, to } => {
                match s.world.links.get(&(*from, *to)).and_then(|q| q.front()) {
                    Some(m) => format!("link {from}->{to} delivers {}", self.describe_message(m)),
                    None => format!("link {from}->{to} has nothing to deliver"),
                }
            }
            Action::DeliverHostNet(i) => match s.world.host_net.get(*i) {
                Some(e) => format!(
                    "host network delivers {} from {} to {}",
                    self.describe_message(&e.msg),
                    e.from,
                    e.to
                ),
                None => "host network has nothing to deliver".to_string(),
            },
            Action::FireTimer { system, timer } => {
                format!("storage {system}: {} fires", self.describe_timer(timer))
            }
            Action::LinkDown => {
                format!("the replication link {p}-{b} goes down (messages in flight are lost)")
            }
            Action::LinkUp => format!("the replication link {p}-{b} comes back"),
            Action::Crash => {
                format!("storage {b} crashes (its links go down, messages to it are lost)")
            }
            Action::Restart => format!("storage {b} restarts and its links come back"),
        }
    }

    /// What changed from `before` to `after` (pair states, volumes, host acks, commands).
    /// `names` are the command lines in issue order (command ids are given out 1, 2, ...).
    pub(super) fn effects(
        &self,
        before: &CheckState,
        after: &CheckState,
        out: &[Output],
        names: &[String],
    ) -> Vec<String> {
        let name = |c: CommandId| {
            usize::try_from(c.0)
                .ok()
                .and_then(|i| names.get(i.wrapping_sub(1)))
                .cloned()
                .unwrap_or_else(|| format!("command #{}", c.0))
        };
        let mut fx = Vec::new();
        for (serial, sys) in after.world.systems.iter() {
            let old = &before.world.systems[&serial];
            let mut mirrors: Vec<MirrorId> = sys.pairs().map(|p| p.mirror).collect();
            mirrors.extend(old.pairs().map(|p| p.mirror));
            mirrors.sort();
            mirrors.dedup();
            for m in mirrors {
                let (from, to) = (old.state(m), sys.state(m));
                if from != to {
                    fx.push(format!(
                        "storage {serial}: {} ({m}) {from} -> {to}",
                        self.group(m)
                    ));
                }
            }
            for (vs, v) in sys.volumes() {
                let changed = old.volume(vs).is_none_or(|o| o.digest() != v.digest());
                if changed {
                    fx.push(format!("{serial}:{vs} now holds {}", volume_content(v)));
                }
            }
            if sys.inhibited() != old.inhibited() {
                fx.push(format!(
                    "storage {serial}: host I/O {}",
                    if sys.inhibited() {
                        "inhibited"
                    } else {
                        "resumed"
                    }
                ));
            }
        }
        for o in out {
            match o {
                Output::AckWrite(w) => {
                    fx.push(format!("{} acknowledged to its host", Self::write_name(*w)))
                }
                Output::FailWrite(w, r) => {
                    fx.push(format!("{} failed to its host: {r}", Self::write_name(*w)))
                }
                Output::Done(c) => fx.push(format!("`{}` completed", name(*c))),
                Output::Refused(c, r) => fx.push(format!("`{}` refused: {r}", name(*c))),
                _ => {}
            }
        }
        let acked_now = out.iter().any(|o| {
            matches!(o, Output::AckWrite(w) | Output::FailWrite(w, _) if w.0 == u64::from(after.issued))
        });
        if before.issued < after.issued && !acked_now {
            let held = after.world.system(self.primary).held_writes()
                > before.world.system(self.primary).held_writes();
            fx.push(format!(
                "w{} waits: {}",
                after.issued,
                if held {
                    "the storage system holds it (host I/O inhibited)"
                } else {
                    "for the remote acknowledgement"
                }
            ));
        }
        fx
    }

    /// Replays `actions` from the initial state and renders every step.
    pub fn render(&self, property: &str, actions: &[Action]) -> Trace {
        let mut s = self.init_state();
        let mut steps = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for (i, a) in actions.iter().enumerate() {
            let text = self.describe_action(&s, a);
            // Remember the command lines in issue order so completions can be named.
            if let Action::IssueSplit | Action::IssueNoCopyCreate | Action::IssueResync = a {
                if let Some(step) = self.script.get(usize::from(s.step)) {
                    names.push(step.commands[s.step_cmds.len()].2.clone());
                }
            }
            if let Action::ResyncAfterFault(m) = a {
                names.push(format!("pairresync {}", self.group(*m)));
            }
            let (next, out) = self.apply(&s, a);
            let effects = self.effects(&s, &next, &out, &names);
            steps.push(TraceStep {
                n: i + 1,
                action: format!("{a:?}"),
                text,
                effects,
            });
            s = next;
        }
        let volumes = s
            .world
            .systems
            .iter()
            .flat_map(|(serial, sys)| {
                sys.volumes()
                    .map(move |(vs, v)| (format!("{serial}:{vs}"), volume_content(v)))
            })
            .collect();
        let mut in_flight: Vec<String> = s
            .world
            .links
            .iter()
            .flat_map(|((from, to), q)| {
                q.iter()
                    .map(move |m| format!("link {from}->{to}: {}", self.describe_message(m)))
            })
            .collect();
        in_flight.extend(s.world.host_net.iter().map(|e| {
            format!(
                "host network {}->{}: {}",
                e.from,
                e.to,
                self.describe_message(&e.msg)
            )
        }));
        Trace {
            property: property.to_string(),
            config: self.config.label(),
            steps,
            volumes,
            in_flight,
        }
    }
}

/// A counterexample as numbered steps in domain words.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    /// The property violated, as its sentence.
    pub property: String,
    /// The configuration checked (`CheckConfig::label`).
    pub config: String,
    /// The path from the initial state to the violation.
    pub steps: Vec<TraceStep>,
    /// Every volume's content at the end: `[b0=w2 b1=w1]`, unwritten blocks omitted.
    pub volumes: Vec<(String, String)>,
    /// Messages still travelling at the end.
    pub in_flight: Vec<String>,
}

/// One step of a counterexample.
#[derive(Clone, Debug, Serialize)]
pub struct TraceStep {
    /// Its number, from 1.
    pub n: usize,
    /// The checker's action, as Rust debug text (for tools).
    pub action: String,
    /// The action in domain words.
    pub text: String,
    /// What it caused: messages sent, acks, state changes, command outcomes.
    pub effects: Vec<String>,
}

impl std::fmt::Display for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "counterexample to \"{}\" ({}):",
            self.property, self.config
        )?;
        for s in &self.steps {
            writeln!(f, "{:>3}. {}", s.n, s.text)?;
            for e in &s.effects {
                writeln!(f, "       - {e}")?;
            }
        }
        writeln!(f, "volumes at the end:")?;
        for (v, c) in &self.volumes {
            writeln!(f, "       {v} {c}")?;
        }
        if !self.in_flight.is_empty() {
            writeln!(f, "still in flight:")?;
            for m in &self.in_flight {
                writeln!(f, "       {m}")?;
            }
        }
        Ok(())
    }
}
