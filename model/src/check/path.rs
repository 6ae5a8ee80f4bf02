//! Paths of the model: a checked path as replay steps (what `--trace-out` writes), and the
//! shortest counterexample by a deterministic breadth-first search.

use super::*;

impl CheckModel {
    /// `actions` (a path of this model from its initial state) as replay steps, each with the
    /// checker's words for it; `Err` names the first action that is not possible where it
    /// stands. The messages a step delivers are named by content ([`MessageKey`]), as the
    /// simulator finds them in its own queues.
    pub fn replay_steps(&self, actions: &[Action]) -> Result<Vec<PathStep>, String> {
        let mut s = self.init_state();
        let mut steps = Vec::with_capacity(actions.len());
        for (i, a) in actions.iter().enumerate() {
            let step = self
                .replay_step(&s, a)
                .ok_or_else(|| format!("action {} ({a:?}) is not possible there", i + 1))?;
            steps.push(PathStep {
                step,
                note: self.describe_action(&s, a),
            });
            s = self.apply(&s, a).0;
        }
        Ok(steps)
    }

    pub(super) fn replay_step(&self, s: &CheckState, action: &Action) -> Option<Step> {
        let run = |line| Step::Run { line, part: None };
        let write = |host: &str, (write, block): (WriteId, u64), volume| Step::Write {
            host: host.to_string(),
            write,
            volume,
            block,
        };
        let deliver = |via, from, to, msg: &Message| Step::Deliver {
            via,
            from,
            to,
            message: MessageKey::of(msg).map(|m| self.topology.mirror_ref(m)),
        };
        Some(match action {
            Action::ProdWrite => write(PROD_HOST, self.prod_write(s.issued + 1), self.pvol),
            Action::AuxWrite => write(
                AUX_HOST,
                self.aux_write(s.aux_issued + 1),
                self.aux_mirror.svol,
            ),
            Action::IssueSplit | Action::IssueNoCopyCreate | Action::IssueResync => {
                let step = self.script.get(usize::from(s.step))?;
                let (k, of) = (s.step_cmds.len(), step.commands.len());
                Step::Run {
                    line: step.line.clone(),
                    // A handful of commands per line: the casts cannot truncate.
                    part: (of > 1).then_some(Part {
                        k: k as u32 + 1,
                        of: of as u32,
                    }),
                }
            }
            Action::ResyncAfterFault(m) => run(CommandLine::PairResync {
                restore: false,
                targets: vec![self.topology.mirror_ref(*m)],
            }),
            Action::DeliverLink { from, to } => {
                let head = s.world.links.get(&(*from, *to))?.front()?;
                deliver(Transport::Interconnect, *from, *to, head)
            }
            Action::DeliverHostNet(i) => {
                let e = s.world.host_net.get(*i)?;
                deliver(Transport::HostNetwork, e.from, e.to, &e.msg)
            }
            Action::FireTimer { system, timer } => {
                let (kind, m) = TimerKind::of(*timer);
                Step::Timer {
                    kind,
                    mirror: self.topology.mirror_ref(m),
                    system: *system,
                }
            }
            Action::LinkDown => run(CommandLine::LinkDown {
                link: FAULT_LINK.to_string(),
            }),
            Action::LinkUp => run(CommandLine::LinkUp {
                link: FAULT_LINK.to_string(),
            }),
            Action::Crash => run(CommandLine::Crash {
                storage: self.secondary,
            }),
            Action::Restart => run(CommandLine::Restart {
                storage: self.secondary,
            }),
        })
    }

    /// A shortest path to a state violating the `always` property `name`, found by a
    /// deterministic breadth-first search (stateright's own paths are neither shortest nor
    /// stable between runs). Only the frontier's states are kept, with a parent link per state
    /// seen. `None` when the property holds or is not an `always` one.
    pub fn shortest_counterexample(&self, name: &str) -> Option<Vec<Action>> {
        let prop = self.properties().into_iter().find(|p| p.name == name)?;
        if prop.expectation != Expectation::Always {
            return None;
        }
        let cond = prop.condition;
        let init = self.init_state();
        let mut links: Vec<Option<(usize, Action)>> = vec![None];
        let mut seen = HashSet::from([fingerprint(&init)]);
        let mut frontier = vec![(init, 0usize)];
        let mut actions = Vec::new();
        while !frontier.is_empty() {
            let mut next_frontier = Vec::new();
            for (state, at) in frontier {
                if !cond(self, &state) {
                    let mut path = Vec::new();
                    let mut at = at;
                    while let Some((parent, a)) = links[at].take() {
                        path.push(a);
                        at = parent;
                    }
                    path.reverse();
                    return Some(path);
                }
                actions.clear();
                self.actions(&state, &mut actions);
                for a in actions.drain(..) {
                    let (next, _) = self.apply(&state, &a);
                    if seen.insert(fingerprint(&next)) {
                        links.push(Some((at, a)));
                        next_frontier.push((next, links.len() - 1));
                    }
                }
            }
            frontier = next_frontier;
        }
        None
    }
}
