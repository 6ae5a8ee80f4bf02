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
        let net = Net::new(scenario);
        let ends: Vec<(StorageSerial, StorageSerial)> =
            scenario.links.iter().map(|l| (l.a, l.b)).collect();
        // Mirrors listed with `initial = "copy"` are made by a full copy at t = 0.
        let fabric = Fabric::install(&topology, scenario.protocol, &net.serials, &ends, |m| {
            scenario
                .mirrors
                .iter()
                .any(|x| x.id == m.id && !x.initial_copy)
        });
        let hosts = Hosts::new(scenario, &net.serials)?;
        let mut tracks = Tracks::default();
        for m in topology.mirrors() {
            let t = tracks.track(m.id, &topology);
            let active = (scenario.mirrors.iter()).any(|x| x.id == m.id && !x.initial_copy);
            tracks.set_active(t, active);
        }
        let t = Timed {
            scenario,
            scripted: scenario.replay.is_some(),
            engine: Engine::new(),
            end: scenario.duration_ns,
            topology,
            net,
            timers: Timers::default(),
            hosts,
            tracks,
            runbook: Runbook::new(scenario, stop_on),
            samples: Samples::new(record, scenario.interval_ns),
            deferred: None,
            disasters: Vec::new(),
        };
        Ok(Sim { fabric, t })
    }

    pub(super) fn run(mut self, progress: &mut dyn FnMut(u64, u64)) -> Result<Finished, SimError> {
        self.start()?;
        while let Some((_, ev)) = self.engine.pop() {
            match ev {
                Ev::Io(h) => self.host_io(h as usize)?,
                Ev::Accept(i) => self.accept(i as usize),
                Ev::Land(ch, epoch) => self.land(ch as usize, epoch),
                Ev::Arrive(ch, epoch) => self.arrive(ch as usize, epoch),
                Ev::Timer(generation) => {
                    let (i, timer, current) = self.timers.due(generation);
                    if self.fabric.is_up(i) && current {
                        self.timers.take(i, timer);
                        self.input(i, Input::Timer(timer));
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
                    if self.samples.record && self.samples.last < self.now() {
                        self.sample();
                    }
                    break;
                }
            }
            if let Some(e) = self.deferred.take() {
                return Err(e);
            }
            if self.runbook.stop {
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
        if self.samples.record {
            let first = self.scenario.interval_ns;
            self.engine.at(first, Ev::Sample);
        }
        // Mirrors listed with `initial = "copy"` start with a full copy at t = 0.
        for m in self.scenario.mirrors.iter().filter(|m| m.initial_copy) {
            let i = self.net.idx(m.id.pvol.storage).expect("validated");
            let id = self.runbook.next_id();
            let command = Command::Create {
                mirror: m.id,
                options: m.options,
                nocopy: false,
            };
            self.input(i, Input::Command { id, command });
        }
        for h in 0..self.hosts.list.len() {
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
        if self.net.channels[ch].epoch != epoch {
            return;
        }
        let Some((m, next)) = self.net.channels[ch].pop() else {
            return;
        };
        if let Some(t) = next {
            self.engine.at(t, Ev::Arrive(ch as u32, epoch));
        }
        if self.lose(ch) {
            return;
        }
        let Some(j) = self.net.idx(m.to) else { return };
        // A data message is taken into the receiver's cache after its service time.
        let service = if m.msg.data_bytes() > 0 {
            self.service_ns(j)
        } else {
            0
        };
        let now = self.now();
        match self.net.land(ch, now, service, m) {
            (Some(m), _) => self.deliver(j, m),
            (None, Some((at, epoch))) => self.engine.at(at, Ev::Land(ch as u32, epoch)),
            (None, None) => {}
        }
    }

    /// The oldest message waiting on channel `ch` is taken by its receiver.
    pub(super) fn land(&mut self, ch: usize, epoch: u32) {
        if self.net.landing_epoch[ch] != epoch {
            return;
        }
        let Some((_, m)) = self.net.landing[ch].pop_front() else {
            return;
        };
        if let Some(&(next, _)) = self.net.landing[ch].front() {
            self.engine.at(next, Ev::Land(ch as u32, epoch));
        }
        if let Some(j) = self.net.idx(m.to) {
            self.deliver(j, m);
        }
    }

    /// Hands message `m` to system `j`, if it is up.
    fn deliver(&mut self, j: usize, m: InTransit) {
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

    /// The service time of system `i`'s array for a write; 0 in a replay, whose steps say
    /// when everything happens.
    fn service_ns(&self, i: usize) -> u64 {
        if self.scripted {
            0
        } else {
            self.net.service_ns[i]
        }
    }

    /// Whether the message arriving on channel `ch` is lost (the link's `loss`): the link
    /// layer then reports a link failure, which both ends take as the link going down (what is
    /// in flight is gone, pairs suspend), and the link is back at once.
    pub(super) fn lose(&mut self, ch: usize) -> bool {
        let Some(l) = self.net.lose(ch) else {
            return false;
        };
        self.link_down(l);
        self.link_up(l);
        true
    }

    // ----- hosts -----

    pub(super) fn host_io(&mut self, h: usize) -> Result<(), SimError> {
        if self.t.dependent_holds(h) {
            return Ok(());
        }
        if let Some(io) = self.hosts.list[h].next.take() {
            match io.op {
                Op::Read => {
                    let host = &mut self.hosts.list[h];
                    host.reads += 1;
                    host.read_bytes += io.len;
                    host.interval_reads += 1;
                }
                Op::Write => {
                    let id = self.hosts.next_write_id();
                    self.t.dependent_issues(h, id.0, io.volume, io.offset);
                    self.issue_write(h, id, io.volume, io.offset, io.len);
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
        let host = &mut self.hosts.list[h];
        host.writes += 1;
        let i = host.sys;
        if !self.fabric.is_up(i) {
            self.hosts
                .fail_host(h, "the storage system is down".to_string());
            return;
        }
        let pending = Pending {
            host: h as u32,
            sys: i as u32,
            volume,
            arrival: now,
            offset,
            len,
            admitted: false,
        };
        // The array takes the write into cache after its service time.
        match self.service_ns(i) {
            0 => self.hand_over(i, id, pending),
            service => {
                self.hosts.intake[i].push_back((id, pending));
                self.engine.after(service, Ev::Accept(i as u32));
            }
        }
    }

    /// System `i` has taken its oldest waiting host write into cache: the protocol has it.
    fn accept(&mut self, i: usize) {
        let Some((id, p)) = self.hosts.intake[i].pop_front() else {
            return;
        };
        if self.fabric.is_up(i) {
            self.hand_over(i, id, p);
        } else {
            (self.hosts).fail_host(p.host as usize, "the storage system is down".to_string());
        }
    }

    /// Write `id` enters the protocol at system `i`.
    fn hand_over(&mut self, i: usize, id: u64, p: Pending) {
        let w = HostWrite {
            id: WriteId(id),
            volume: p.volume.serial,
            offset: p.offset,
            len: p.len,
        };
        self.hosts.begin(id, p);
        self.input(i, Input::Write(w));
        self.hosts.end();
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
}
