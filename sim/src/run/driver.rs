//! The run itself: building the world, the event loop, and the events that feed the fabric
//! (host I/O, arrivals, timers, faults, commands, replay steps). The fabric says what each
//! does; this module says when.

use super::*;

impl<'a> Sim<'a> {
    pub(super) fn new(
        scenario: &'a Scenario,
        stop_on: Option<usize>,
        record: bool,
    ) -> Result<Self, SimError> {
        let topology = scenario.topology();
        let serials: Vec<StorageSerial> = scenario.storages.iter().map(|s| s.serial).collect();
        let n = serials.len();
        let ends: Vec<(StorageSerial, StorageSerial)> =
            scenario.links.iter().map(|l| (l.a, l.b)).collect();
        // Mirrors listed with `initial = "copy"` are made by a full copy at t = 0.
        let fabric = Fabric::install(&topology, scenario.protocol, &serials, &ends, |m| {
            scenario
                .mirrors
                .iter()
                .any(|x| x.id == m.id && !x.initial_copy)
        });
        let idx = |s: StorageSerial| serials.iter().position(|&x| x == s).expect("validated");
        let mut channels = Vec::new();
        let mut inter = vec![None; n * n];
        let mut link_of = Vec::new();
        let mut links = Vec::new();
        for l in &scenario.links {
            let (a, b) = (idx(l.a), idx(l.b));
            let mut chans = [0; 2];
            for (k, (f, t)) in [(a, b), (b, a)].into_iter().enumerate() {
                chans[k] = channels.len();
                inter[f * n + t] = Some(channels.len());
                link_of.push(Some(links.len()));
                channels.push(Channel::new(
                    serials[f],
                    serials[t],
                    l.bandwidth,
                    l.latency_ns,
                    scenario.interval_ns,
                ));
            }
            links.push(LinkRt {
                def: l.clone(),
                channels: chans,
                rng: component_rng(scenario.seed, &format!("link/{}", l.name)),
                lost: 0,
            });
        }
        let mut hosts = Vec::new();
        for h in &scenario.hosts {
            let workload = match &h.workload {
                Some(w) => Some(Workload::new(
                    w,
                    scenario.seed,
                    &format!("host/{}", h.name),
                )?),
                None => None,
            };
            hosts.push(HostRt {
                def: h.clone(),
                sys: idx(h.storage),
                workload,
                next: None,
                start: h.start_ns,
                writes: 0,
                bytes_written: 0,
                acked: 0,
                failed: 0,
                reads: 0,
                read_bytes: 0,
                latency: LogHistogram::new(),
                interval: LogHistogram::new(),
                interval_reads: 0,
                interval_failed: 0,
                first_failure: None,
                dependent: dependent::Dependent::of(h),
            });
        }
        let t = Timed {
            scenario,
            scripted: scenario.replay.is_some(),
            engine: Engine::new(),
            inhibit: vec![Inhibit::default(); n],
            serials,
            channels,
            inter,
            link_of,
            host_net: vec![None; n * n],
            links,
            hosts,
            tracks: Vec::new(),
            feeds: Vec::new(),
            pending: IdMap::default(),
            current: None,
            timers: BTreeMap::new(),
            timer_events: BTreeMap::new(),
            timer_gen: 0,
            topology,
            defaults: scenario.defaults,
            commands: vec![CmdRt::default(); scenario.commands.len()],
            cmd_of: BTreeMap::new(),
            next_command: 0,
            next_write: 0,
            split_control: 0,
            end: scenario.duration_ns,
            stop_on,
            stop: false,
            record,
            series: TimeSeries {
                interval_ns: scenario.interval_ns,
                ..Default::default()
            },
            last_sample: 0,
            deferred: None,
            failed_admitted: BTreeSet::new(),
            disasters: Vec::new(),
        };
        let mut sim = Sim { fabric, t };
        let ids: Vec<MirrorId> = sim.topology.mirrors().map(|m| m.id).collect();
        for id in ids {
            let t = sim.track(id);
            sim.tracks[t].active = scenario
                .mirrors
                .iter()
                .any(|m| m.id == id && !m.initial_copy);
        }
        sim.rebuild_feeds();
        Ok(sim)
    }

    pub(super) fn run(mut self, progress: &mut dyn FnMut(u64, u64)) -> Result<Finished, SimError> {
        self.start()?;
        while let Some((_, ev)) = self.engine.pop() {
            match ev {
                Ev::Io(h) => self.host_io(h as usize)?,
                Ev::Arrive(ch, epoch) => self.arrive(ch as usize, epoch),
                Ev::Timer(gen) => {
                    let (i, timer) = self.timer_events.remove(&gen).expect("scheduled");
                    if self.fabric.is_up(i as usize) && self.timers.get(&(i, timer)) == Some(&gen) {
                        self.timers.remove(&(i, timer));
                        self.input(i as usize, Input::Timer(timer));
                    }
                }
                Ev::Command(k) => self.issue_command(k as usize),
                Ev::Sample => {
                    self.sample();
                    let next = self.now() + self.scenario.interval_ns;
                    if next < self.end {
                        self.engine.at(next, Ev::Sample);
                    }
                }
                Ev::Link(l, up) => {
                    if up {
                        self.link_up(l as usize);
                    } else {
                        self.link_down(l as usize);
                    }
                }
                Ev::Step(n) => self.replay_step(n as usize)?,
                Ev::End => {
                    if self.record && self.last_sample < self.now() {
                        self.sample();
                    }
                    break;
                }
            }
            if let Some(e) = self.deferred.take() {
                return Err(e);
            }
            if self.stop {
                break;
            }
            if self.engine.processed() & 0xffff == 0 {
                progress(self.now(), self.end);
            }
        }
        progress(self.now(), self.end);
        let Sim { fabric, t } = self;
        Ok(t.finish(fabric))
    }

    pub(super) fn start(&mut self) -> Result<(), SimError> {
        let end = self.end;
        self.engine.at(end, Ev::End);
        self.fabric.start(&mut self.t);
        for (l, link) in self.scenario.links.iter().enumerate() {
            for &(down, up) in &link.outages {
                self.engine.at(down, Ev::Link(l as u32, false));
                self.engine.at(up, Ev::Link(l as u32, true));
            }
        }
        for (k, c) in self.scenario.commands.iter().enumerate() {
            if let When::At(t) = c.when {
                self.engine.at(t, Ev::Command(k as u32));
            }
        }
        // Before the first sample: a sample at a step's time then shows the world after it.
        if let Some(r) = &self.scenario.replay {
            for n in 0..r.steps.len() {
                self.engine
                    .at((n as u64 + 1) * r.interval_ns, Ev::Step(n as u32));
            }
        }
        if self.record {
            let first = self.scenario.interval_ns;
            self.engine.at(first, Ev::Sample);
        }
        // Mirrors listed with `initial = "copy"` start with a full copy at t = 0.
        for m in self.scenario.mirrors.iter().filter(|m| m.initial_copy) {
            let i = self.idx(m.id.pvol.storage).expect("validated");
            self.next_command += 1;
            let command = Command::Create {
                mirror: m.id,
                options: m.options,
                nocopy: false,
            };
            self.input(
                i,
                Input::Command {
                    id: CommandId(self.next_command),
                    command,
                },
            );
        }
        for h in 0..self.hosts.len() {
            self.schedule_host(h)?;
        }
        Ok(())
    }

    // ----- protocol plumbing -----

    /// Feeds one input to system `i` through the fabric, which routes what it says.
    pub(super) fn input(&mut self, i: usize, input: Input) {
        self.fabric.input(i, input, &mut self.t);
    }

    pub(super) fn arrive(&mut self, ch: usize, epoch: u32) {
        if self.channels[ch].epoch != epoch {
            return;
        }
        let Some((m, next)) = self.channels[ch].pop() else {
            return;
        };
        if let Some(t) = next {
            self.engine.at(t, Ev::Arrive(ch as u32, epoch));
        }
        if self.lose(ch) {
            return;
        }
        let Some(j) = self.idx(m.to) else { return };
        if self.fabric.is_up(j) {
            self.input(
                j,
                Input::Deliver {
                    from: m.from,
                    via: m.via,
                    msg: m.msg,
                },
            );
        }
    }

    /// Whether the message arriving on channel `ch` is lost (the link's `loss`): the link
    /// layer then reports a link failure, which both ends take as the link going down (what is
    /// in flight is gone, pairs suspend), and the link is back at once.
    pub(super) fn lose(&mut self, ch: usize) -> bool {
        let Some(l) = self.link_of[ch] else {
            return false;
        };
        let link = &mut self.links[l];
        if link.def.loss <= 0.0 || link.rng.gen::<f64>() >= link.def.loss {
            return false;
        }
        link.lost += 1;
        self.channels[ch].dropped += 1;
        self.link_down(l);
        self.link_up(l);
        true
    }

    // ----- hosts -----

    pub(super) fn host_io(&mut self, h: usize) -> Result<(), SimError> {
        if self.t.dependent_holds(h) {
            return Ok(());
        }
        if let Some(io) = self.hosts[h].next.take() {
            match io.op {
                Op::Read => {
                    let host = &mut self.hosts[h];
                    host.reads += 1;
                    host.read_bytes += io.len;
                    host.interval_reads += 1;
                }
                Op::Write => {
                    self.next_write += 1;
                    let id = self.next_write;
                    self.t.dependent_issues(h, id, io.volume, io.offset);
                    self.issue_write(h, WriteId(id), io.volume, io.offset, io.len);
                }
            }
        }
        self.schedule_host(h)
    }

    /// Host `h` writes `len` bytes at `offset` of `volume` as version `id` (numbered in the
    /// workloads' order, or by the replay step).
    pub(super) fn issue_write(
        &mut self,
        h: usize,
        WriteId(id): WriteId,
        volume: VolumeId,
        offset: u64,
        len: u64,
    ) {
        let now = self.now();
        let host = &mut self.hosts[h];
        host.writes += 1;
        let i = host.sys;
        if !self.fabric.is_up(i) {
            self.fail_host(h, "the storage system is down".to_string());
            return;
        }
        self.current = Some((
            id,
            Pending {
                host: h as u32,
                sys: i as u32,
                volume,
                arrival: now,
                offset,
                len,
                admitted: false,
            },
        ));
        let w = HostWrite {
            id: WriteId(id),
            volume: volume.serial,
            offset,
            len,
        };
        self.input(i, Input::Write(w));
        if let Some((id, p)) = self.current.take() {
            self.pending.insert(id, p);
        }
    }

    // ----- links and faults -----

    pub(super) fn link_down(&mut self, l: usize) {
        self.fabric.link_down(l, &mut self.t);
    }

    pub(super) fn link_up(&mut self, l: usize) {
        self.fabric.link_up(l, &mut self.t);
    }

    /// System `i` stops (lost for good when `lost`: a disaster, whose cost is measured first).
    pub(super) fn crash(&mut self, i: usize, lost: bool) -> Result<(), FaultRefusal> {
        self.fabric.may_crash(i, lost)?;
        if lost {
            self.t.record_disaster(&self.fabric, i);
        }
        self.fabric.crash(i, lost, &mut self.t)
    }

    pub(super) fn restart(&mut self, i: usize) -> Result<(), FaultRefusal> {
        self.fabric.restart(i, &mut self.t)
    }

    // ----- commands -----

    /// Runs scenario command `k` whole, at the time the scenario gives it.
    pub(super) fn issue_command(&mut self, k: usize) {
        self.begin_command(k);
        while self.issue_part(k) {}
    }

    /// Starts scenario command `k`: a fault acts and completes at once; a HORCM verb becomes
    /// the protocol commands it resolves to, left in `parts` for [`Self::issue_part`].
    pub(super) fn begin_command(&mut self, k: usize) {
        let now = self.now();
        self.commands[k].issued = Some(now);
        let line = self.scenario.commands[k].line.clone();
        let fault = |sim: &mut Self, s: StorageSerial| sim.idx(s).expect("validated");
        match &line {
            CommandLine::LinkDown { link } | CommandLine::LinkUp { link } => {
                let l = self
                    .links
                    .iter()
                    .position(|x| &x.def.name == link)
                    .expect("validated");
                if matches!(line, CommandLine::LinkDown { .. }) {
                    self.link_down(l);
                } else {
                    self.link_up(l);
                }
                return self.t.complete(&self.fabric, k);
            }
            CommandLine::Crash { storage } | CommandLine::Disaster { storage } => {
                let i = fault(self, *storage);
                let disaster = matches!(line, CommandLine::Disaster { .. });
                if let Err(e) = self.crash(i, disaster) {
                    self.commands[k].refusals.push(e.to_string());
                }
                return self.t.complete(&self.fabric, k);
            }
            CommandLine::Restart { storage } => {
                let i = fault(self, *storage);
                if let Err(e) = self.restart(i) {
                    self.commands[k].refusals.push(e.to_string());
                }
                return self.t.complete(&self.fabric, k);
            }
            CommandLine::Takeover { storage } => {
                let taken = self.idx(*storage).map(|i| self.fabric.take_over(i));
                if let Some(Err(e)) = taken {
                    self.commands[k].refusals.push(e.to_string());
                    return self.t.complete(&self.fabric, k);
                }
            }
            _ => {}
        }
        let t = &mut self.t;
        let cmds = match resolve(
            &line,
            &mut t.topology,
            t.defaults,
            t.scenario.protocol.mutant,
        ) {
            Ok(c) => c.unwrap_or_default(),
            Err(e) => {
                self.commands[k].refusals.push(e.to_string());
                return self.t.complete(&self.fabric, k);
            }
        };
        self.commands[k].outstanding = cmds.len() as u32;
        if cmds.is_empty() {
            return self.t.complete(&self.fabric, k);
        }
        self.commands[k].parts = cmds.into();
    }

    /// Issues the next protocol command of scenario command `k`; false when none is left.
    pub(super) fn issue_part(&mut self, k: usize) -> bool {
        let Some((serial, command)) = self.commands[k].parts.pop_front() else {
            return false;
        };
        let scenario = self.scenario;
        self.t
            .before_command(&self.fabric, k, &scenario.commands[k].line, &command);
        self.next_command += 1;
        let id = CommandId(self.next_command);
        self.cmd_of.insert(id, k);
        match self.idx(serial).filter(|&i| self.fabric.is_up(i)) {
            Some(i) => self.input(i, Input::Command { id, command }),
            None => {
                let down = format!("storage {serial} is down");
                self.t.command_done(&self.fabric, id, Some(down));
            }
        }
        true
    }

    // ----- replay -----

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
        let first = self.commands[k].issued.is_none();
        if first {
            self.begin_command(k);
        }
        if self.issue_part(k) || first {
            return Ok(());
        }
        let c = &self.commands[k];
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
        let (Some(i), Some(j)) = (self.idx(from), self.idx(to)) else {
            return Err(format!("no storage {from} or {to}"));
        };
        let n = self.serials.len();
        let ch = match via {
            Transport::Interconnect => self.inter[i * n + j],
            Transport::HostNetwork => self.host_net[i * n + j],
        };
        let queued: Vec<MessageKey<MirrorId>> = ch.map_or_else(Vec::new, |c| {
            self.channels[c]
                .queue()
                .map(|m| MessageKey::of(&m.msg))
                .collect()
        });
        let at = match via {
            Transport::Interconnect => queued.first().filter(|k| *k == message).map(|_| 0),
            Transport::HostNetwork => queued.iter().position(|k| k == message),
        };
        let Some(m) = ch.zip(at).and_then(|(c, at)| self.channels[c].take(at)) else {
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
        let Some(i) = self.idx(system) else {
            return Err(format!("no storage {system}"));
        };
        if self.timers.remove(&(i as u32, timer)).is_none() {
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
