//! A `[replay]` run: each step applied as the event it stands for would act in a clocked run
//! (a write, a command part, a delivery, a timer), and what a replay shows of the world — the
//! timers set and the messages in flight as the steps that would fire or deliver them, and
//! every volume's content.

use super::*;

impl Sim<'_> {
    /// Applies replay step `n` (0-based) as the event it stands for would act in a clocked
    /// run, through the same plumbing; `Err` when it cannot be applied where the run stands.
    pub(super) fn replay_step(&mut self, n: usize) -> Result<(), SimError> {
        let scenario = self.scenario;
        let Some(step) = scenario.replay.as_ref().and_then(|r| r.steps.get(n)) else {
            return Ok(());
        };
        let applied = match &step.action {
            &ReplayAction::Write {
                host,
                write,
                volume,
                block,
            } => {
                self.issue_write(host, write, volume, block * BLOCK_BYTES, BLOCK_BYTES);
                Ok(())
            }
            &ReplayAction::Run { command } => self.replay_run(command),
            ReplayAction::Deliver {
                via,
                from,
                to,
                message,
            } => self.replay_deliver(*via, *from, *to, message),
            &ReplayAction::Timer { system, timer } => self.replay_timer(system, timer),
        };
        applied.map_err(|message| {
            SimError::Replay(Box::new(ReplayError {
                path: scenario.path.clone(),
                line: step.line,
                column: step.column,
                step: n + 1,
                message,
            }))
        })
    }

    /// Issues the next protocol command of scenario command `k`, resolving it first if no
    /// step has yet.
    pub(super) fn replay_run(&mut self, k: usize) -> Result<(), String> {
        let first = self.runbook.commands[k].issued.is_none();
        if first {
            self.begin_command(k);
        }
        if self.issue_part(k) || first {
            return Ok(());
        }
        let c = &self.runbook.commands[k];
        let why = if c.refusals.is_empty() {
            String::new()
        } else {
            format!(" (refused: {})", c.refusals.join("; "))
        };
        let text = &self.scenario.commands[k].text;
        Err(format!("`{text}` has no part left to issue{why}"))
    }

    /// Delivers `message` from `from` to `to`: on a link it must be the oldest in flight (FIFO),
    /// on the host network the oldest that is `message` goes.
    pub(super) fn replay_deliver(
        &mut self,
        via: Transport,
        from: StorageSerial,
        to: StorageSerial,
        message: &MessageKey<MirrorId>,
    ) -> Result<(), String> {
        let (Some(i), Some(j)) = (self.net.idx(from), self.net.idx(to)) else {
            return Err(format!("no storage {from} or {to}"));
        };
        let ch = self.net.existing(i, j, via);
        let queued: Vec<MessageKey<MirrorId>> = ch.map_or_else(Vec::new, |c| {
            self.net.channels[c]
                .queue()
                .map(|m| MessageKey::of(&m.msg))
                .collect()
        });
        let at = match via {
            Transport::Interconnect => queued.first().filter(|k| *k == message).map(|_| 0),
            Transport::HostNetwork => queued.iter().position(|k| k == message),
        };
        let Some(m) = ch.zip(at).and_then(|(c, at)| self.net.channels[c].take(at)) else {
            let name = |k: &MessageKey<MirrorId>| self.key_text(k);
            return Err(match (via, queued.first()) {
                (Transport::Interconnect, None) => {
                    format!("no message is in flight on link {from}->{to}")
                }
                (Transport::Interconnect, Some(head)) => format!(
                    "the oldest message on link {from}->{to} is `{}`, not `{}`",
                    name(head),
                    name(message)
                ),
                (Transport::HostNetwork, _) => format!(
                    "no `{}` is in flight on the host network {from}->{to} (in flight there: \
                     {})",
                    name(message),
                    listing(queued.iter().map(name).collect())
                ),
            });
        };
        if self.fabric.is_up(j) {
            let input = Input::Deliver {
                from: m.from,
                via: m.via,
                msg: m.msg,
            };
            self.input(j, input);
        }
        Ok(())
    }

    /// Fires `timer` on `system`, which the protocol must have set there.
    pub(super) fn replay_timer(
        &mut self,
        system: StorageSerial,
        timer: Timer,
    ) -> Result<(), String> {
        let Some(i) = self.net.idx(system) else {
            return Err(format!("no storage {system}"));
        };
        if !self.timers.take(i, timer) {
            return Err(format!(
                "`{}`: that timer is not set (set: {})",
                self.timer_text(i, timer),
                listing(self.timers_set())
            ));
        }
        self.input(i, Input::Timer(timer));
        Ok(())
    }
}

impl Timed<'_> {
    /// A message key with its mirror named as a replay names it.
    pub(super) fn key_text(&self, key: &MessageKey<MirrorId>) -> String {
        key.clone().map(|m| self.topology.mirror_ref(m)).to_string()
    }

    pub(super) fn timer_text(&self, i: usize, timer: Timer) -> String {
        let (kind, m) = TimerKind::of(timer);
        Step::Timer {
            kind,
            mirror: self.topology.mirror_ref(m),
            system: self.net.serials[i],
        }
        .to_string()
    }

    /// The timers set, as the steps that would fire them, sorted.
    pub(super) fn timers_set(&self) -> Vec<String> {
        let mut v: Vec<String> = (self.timers.iter())
            .map(|(i, t)| self.timer_text(i, t))
            .collect();
        v.sort();
        v
    }

    /// The messages in flight, as the steps that would deliver them: the links' in FIFO order
    /// by direction, then the host network's sorted (it has no order).
    pub(super) fn in_flight(&self) -> Vec<String> {
        let mut v: Vec<(Transport, StorageSerial, StorageSerial, usize, String)> = Vec::new();
        for c in &self.net.channels {
            for (k, m) in c.queue().enumerate() {
                let message = MessageKey::of(&m.msg).map(|x| self.topology.mirror_ref(x));
                let text = Step::Deliver {
                    via: m.via,
                    from: m.from,
                    to: m.to,
                    message,
                }
                .to_string();
                let order = if m.via == Transport::Interconnect {
                    k
                } else {
                    0
                };
                v.push((m.via, m.from, m.to, order, text));
            }
        }
        v.sort();
        v.into_iter().map(|x| x.4).collect()
    }
}

/// Every volume's written blocks and digest, by volume id.
pub(super) fn volume_contents(fabric: &Fabric) -> Vec<VolumeContent> {
    let mut v: Vec<(VolumeId, VolumeContent)> = fabric
        .systems
        .values()
        .flat_map(|s| {
            s.volumes().map(|(serial, vol)| {
                let id = VolumeId {
                    storage: s.serial(),
                    serial,
                };
                let content = VolumeContent {
                    volume: id.to_string(),
                    blocks: describe_blocks(&vol.blocks_in(0, u64::MAX), |w| w.to_string()),
                    digest: format!("{:016x}", vol.digest().0),
                };
                (id, content)
            })
        })
        .collect();
    v.sort_by_key(|x| x.0);
    v.into_iter().map(|x| x.1).collect()
}

/// Items for a replay error message: `a`, `b` as `` `a`, `b` ``, or "none".
fn listing(items: Vec<String>) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
