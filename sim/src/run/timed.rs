//! The timed side's bookkeeping, fed by the fabric through [`Wire`]: host writes waiting for
//! their acknowledgement, per-mirror lag and bytes, the command sequence and what the split,
//! resync and create reports need, and the samples of the time series.

use super::*;

impl Timed<'_> {
    pub(super) fn now(&self) -> u64 {
        self.engine.now()
    }

    pub(super) fn idx(&self, s: StorageSerial) -> Option<usize> {
        self.serials.iter().position(|&x| x == s)
    }

    /// Fetches a host's next I/O (if it has started) and schedules it.
    pub(super) fn schedule_host(&mut self, h: usize) -> Result<(), SimError> {
        let now = self.now();
        let host = &mut self.hosts[h];
        let (Some(start), Some(w)) = (host.start, host.workload.as_mut()) else {
            return Ok(());
        };
        if let Some(io) = w.next_io()? {
            // (Past due only for a dependent host that waited for an acknowledgement.)
            let t = start.saturating_add(io.time_ns).max(now);
            if host.def.stop_ns.is_none_or(|s| t < s) && t < self.end {
                host.next = Some(io);
                self.engine.at(t, Ev::Io(h as u32));
            }
        }
        Ok(())
    }

    /// Puts `msg` on its channel (the link's, or the host network's) with the fate the
    /// fabric gave it: carried, it arrives after the channel's delay; dropped, it is counted.
    #[inline]
    pub(super) fn carry(&mut self, from: usize, via: Transport, msg: Message, route: Route) {
        let (Route::Carried(j) | Route::Dropped(j)) = route else {
            return;
        };
        let n = self.serials.len();
        let ch = match via {
            Transport::Interconnect => self.inter[from * n + j],
            Transport::HostNetwork => Some(self.host_channel(from, j)),
        };
        let Some(ch) = ch else { return };
        if matches!(route, Route::Dropped(_)) {
            self.channels[ch].dropped += 1;
            return;
        }
        let (data, control) = (msg.data_bytes(), msg.control_bytes());
        if matches!(
            msg,
            Message::Forward { .. }
                | Message::SplitDone { .. }
                | Message::Mark {
                    kind: mirrorlab_model::protocol::MarkKind::Split,
                    ..
                }
        ) {
            self.split_control += data + control;
        }
        if let Some(t) = self.find_track(msg.mirror()) {
            self.tracks[t].data_bytes += data;
            self.tracks[t].control_bytes += control;
        }
        let now = self.now();
        let c = &mut self.channels[ch];
        // A replay delivers a message at the step that names it.
        if let (Some(arrive), false) = (c.send(now, via, msg), self.scripted) {
            let epoch = c.epoch;
            self.engine.at(arrive, Ev::Arrive(ch as u32, epoch));
        }
    }

    pub(super) fn host_channel(&mut self, from: usize, to: usize) -> usize {
        let n = self.serials.len();
        if let Some(c) = self.host_net[from * n + to] {
            return c;
        }
        let c = self.channels.len();
        self.channels.push(Channel::new(
            self.serials[from],
            self.serials[to],
            0,
            self.scenario.host_latency_ns,
            self.scenario.interval_ns,
        ));
        self.link_of.push(None);
        self.host_net[from * n + to] = Some(c);
        c
    }

    pub(super) fn pending_mut(&mut self, id: u64) -> Option<&mut Pending> {
        match &mut self.current {
            Some((c, p)) if *c == id => Some(p),
            _ => self.pending.get_mut(&id),
        }
    }

    pub(super) fn take_pending(&mut self, id: u64) -> Option<Pending> {
        match self.current {
            Some((c, _)) if c == id => self.current.take().map(|(_, p)| p),
            _ => self.pending.remove(&id),
        }
    }

    /// The storage system took write `id` (it is on the PVOL): start counting its lag.
    pub(super) fn admitted(&mut self, sys: usize, id: u64) {
        let Some(p) = self.pending_mut(id) else {
            return;
        };
        if p.admitted || p.sys as usize != sys {
            return;
        }
        p.admitted = true;
        let (volume, arrival, offset, len, host) = (p.volume, p.arrival, p.offset, p.len, p.host);
        self.hosts[host as usize].bytes_written += len;
        let now = self.engine.now();
        if let Some((_, feeds)) = self.feeds.iter().find(|(v, _)| *v == volume) {
            for &t in feeds {
                let tr = &mut self.tracks[t];
                // Sync counts from the write's arrival, the others from its acknowledgement.
                let from = if tr.sync { arrival } else { now };
                if tr.lag.back().is_some_and(|&(w, ..)| w > id) {
                    let at = tr.lag.partition_point(|&(w, ..)| w < id);
                    tr.lag.insert(at, (id, from, len, offset));
                } else {
                    tr.lag.push_back((id, from, len, offset));
                }
                tr.lag_bytes += len;
                tr.max_lag_bytes = tr.max_lag_bytes.max(tr.lag_bytes);
            }
        }
    }

    pub(super) fn acked(&mut self, sys: usize, w: WriteId) {
        self.admitted(sys, w.0);
        let Some(p) = self.take_pending(w.0) else {
            return;
        };
        let latency = self.now() - p.arrival;
        let host = &mut self.hosts[p.host as usize];
        host.acked += 1;
        host.latency.record(latency);
        host.interval.record(latency);
        self.dependent_done(p.host as usize, w.0);
    }

    pub(super) fn failed(&mut self, w: WriteId, reason: String) {
        if let Some(p) = self.take_pending(w.0) {
            if p.admitted {
                // On the PVOL but never acknowledged (a sync fence): not an acked write.
                self.failed_admitted.insert(w.0);
            }
            self.fail_host(p.host as usize, reason);
            self.dependent_done(p.host as usize, w.0);
        }
    }

    pub(super) fn fail_host(&mut self, h: usize, reason: String) {
        let host = &mut self.hosts[h];
        host.failed += 1;
        host.interval_failed += 1;
        host.first_failure.get_or_insert(reason);
    }

    // ----- mirrors -----

    pub(super) fn find_track(&self, id: MirrorId) -> Option<usize> {
        self.tracks.iter().position(|t| t.id == id)
    }

    pub(super) fn track(&mut self, id: MirrorId) -> usize {
        if let Some(t) = self.find_track(id) {
            return t;
        }
        let options = self.topology.mirror(id).map(|m| m.options);
        self.tracks.push(Track {
            id,
            group: self.topology.group_of(id).unwrap_or("-").to_string(),
            sync: !id.is_local() && options.is_some_and(|o| o.mode == CopyMode::Sync),
            active: false,
            lag: VecDeque::new(),
            lag_bytes: 0,
            max_lag_bytes: 0,
            replicated: 0,
            delay: LogHistogram::new(),
            data_bytes: 0,
            control_bytes: 0,
        });
        self.tracks.len() - 1
    }

    pub(super) fn rebuild_feeds(&mut self) {
        self.feeds.clear();
        for (t, tr) in self.tracks.iter().enumerate() {
            if !tr.active || tr.id.is_local() {
                continue;
            }
            match self.feeds.iter_mut().find(|(v, _)| *v == tr.id.pvol) {
                Some((_, list)) => list.push(t),
                None => self.feeds.push((tr.id.pvol, vec![t])),
            }
        }
    }

    pub(super) fn state_changed(&mut self, i: usize, mirror: MirrorId, to: PairState) {
        // The PVOL's system speaks for the mirror.
        if self.serials[i] != mirror.pvol.storage {
            return;
        }
        let t = self.track(mirror);
        let active = to != PairState::Simplex;
        if self.tracks[t].active != active {
            let tr = &mut self.tracks[t];
            tr.active = active;
            if !active {
                tr.lag.clear();
                tr.lag_bytes = 0;
            }
            self.rebuild_feeds();
        }
    }

    pub(super) fn replicated(&mut self, mirror: MirrorId, upto: WriteId) {
        let Some(t) = self.find_track(mirror) else {
            return;
        };
        let now = self.engine.now();
        let tr = &mut self.tracks[t];
        while let Some(&(w, from, len, _)) = tr.lag.front() {
            if w > upto.0 {
                break;
            }
            tr.lag.pop_front();
            tr.lag_bytes -= len;
            tr.replicated += 1;
            tr.delay.record(now.saturating_sub(from));
        }
    }

    /// What the loss of system `i` costs, measured from the protocol's state at this moment
    /// (before its links drop what they carry): for each remote mirror whose PVOL is there,
    /// the acknowledged writes whose data the SVOL does not hold. A write is on the SVOL when
    /// every block it wrote holds that write's version or a newer one there; the candidates
    /// are the writes not yet reported replicated (the lag), so nothing acknowledged escapes.
    pub(super) fn record_disaster(&mut self, fab: &Fabric, i: usize) {
        let now = self.now();
        let serial = self.serials[i];
        let mut mirrors = Vec::new();
        for tr in &self.tracks {
            if tr.id.is_local() || tr.id.pvol.storage != serial || !tr.active {
                continue;
            }
            let svol = fab.system(tr.id.svol.storage);
            let Some(svol) = svol.and_then(|s| s.volume(tr.id.svol.serial)) else {
                continue;
            };
            let (mut writes, mut bytes, mut unacked) = (0u64, 0u64, 0u64);
            let mut oldest: Option<u64> = None;
            for &(w, from, len, offset) in &tr.lag {
                let pending = self.pending.contains_key(&w)
                    || self.current.as_ref().is_some_and(|(c, _)| *c == w);
                if pending {
                    unacked += 1;
                    continue;
                }
                if self.failed_admitted.contains(&w) {
                    continue;
                }
                let (first, count) = blocks_of(offset, len);
                let on_svol = (first..first + count).all(|b| svol.block(b) >= Some(WriteId(w)));
                if !on_svol {
                    writes += 1;
                    bytes += len;
                    oldest = Some(oldest.map_or(from, |o| o.min(from)));
                }
            }
            let options = self.topology.mirror(tr.id).map(|m| m.options);
            mirrors.push(DisasterMirror {
                group: tr.group.clone(),
                pvol: tr.id.pvol.to_string(),
                svol: tr.id.svol.to_string(),
                mode: options.map_or("-".to_string(), |o| o.mode.to_string()),
                state: fab.at(i).state(tr.id).to_string(),
                acked_writes_lost: writes,
                acked_bytes_lost: bytes,
                rpo_ns: oldest.map_or(0, |t| now.saturating_sub(t)),
                unacked_writes: unacked,
            });
        }
        // The DR copies are the mirrors not split on purpose; the worst of them.
        let dr = || {
            mirrors
                .iter()
                .filter(|m| m.state != PairState::Split.to_string())
        };
        self.disasters.push(DisasterReport {
            at_ns: now,
            storage: serial.0,
            acked_writes_lost: dr().map(|m| m.acked_writes_lost).max().unwrap_or(0),
            acked_bytes_lost: dr().map(|m| m.acked_bytes_lost).max().unwrap_or(0),
            rpo_ns: dr().map(|m| m.rpo_ns).max().unwrap_or(0),
            mirrors,
            consistency: self.disaster_cuts(fab, i),
        });
    }

    /// Notes what the split / resync / create reports need before the command runs.
    pub(super) fn before_command(
        &mut self,
        fab: &Fabric,
        k: usize,
        line: &CommandLine,
        command: &Command,
    ) {
        match command {
            // (A split naming a consistency group is atomic without `--atomic`.)
            Command::Split { plan }
                if matches!(line, CommandLine::PairSplit { atomic, targets }
                    if *atomic || targets.iter().any(|t| self.topology.names_consistency_group(t))) =>
            {
                let svols = plan.mirrors().into_iter().map(|m| m.svol);
                let inhibited = self.inhibited_total();
                match &mut self.commands[k].split {
                    // A split in parts (the `no-atomic` mutant, one per mirror): the SVOLs
                    // the line names are those of all its parts.
                    Some(split) => split.svols.extend(svols),
                    None => {
                        self.commands[k].split = Some(SplitRt {
                            svols: svols.collect(),
                            inhibited_at_issue: inhibited,
                            control_at_issue: self.split_control,
                            stall_ns: 0,
                            control_bytes: 0,
                            digests_match: None,
                            consistency: Vec::new(),
                        });
                    }
                }
            }
            Command::Resync { mirror, .. } => {
                let mut dirty = PendingBitmap::new();
                let mut chunk_bytes = 0;
                for s in [mirror.pvol.storage, mirror.svol.storage] {
                    if let Some(p) = fab.system(s).and_then(|x| x.pair(*mirror)) {
                        dirty.union_with(&p.pending);
                        dirty.union_with(&p.svol_pending);
                        chunk_bytes = p.options.chunk_bytes;
                    }
                }
                let t = self.track(*mirror);
                self.commands[k].resyncs.push(ResyncRt {
                    mirror: *mirror,
                    dirty_chunks: dirty.count(),
                    chunk_bytes,
                    bytes_at_issue: self.tracks[t].data_bytes,
                    data_bytes: 0,
                });
            }
            Command::Create { mirror, .. } => {
                let t = self.track(*mirror);
                self.tracks[t].sync = !mirror.is_local()
                    && self
                        .topology
                        .mirror(*mirror)
                        .is_some_and(|m| m.options.mode == CopyMode::Sync);
                let tr = &self.tracks[t];
                self.commands[k].create = Some((*mirror, tr.data_bytes, tr.control_bytes));
            }
            _ => {}
        }
    }

    pub(super) fn command_done(&mut self, fab: &Fabric, c: CommandId, refusal: Option<String>) {
        let Some(k) = self.cmd_of.remove(&c) else {
            return;
        };
        if let Some(r) = refusal {
            self.commands[k].refusals.push(r);
        }
        let rt = &mut self.commands[k];
        rt.outstanding = rt.outstanding.saturating_sub(1);
        if rt.outstanding == 0 {
            self.complete(fab, k);
        }
    }

    pub(super) fn complete(&mut self, fab: &Fabric, k: usize) {
        let now = self.now();
        self.commands[k].completed = Some(now);
        let inhibited = self.inhibited_total();
        let split_control = self.split_control;
        let digests = self.commands[k]
            .split
            .as_ref()
            .map(|s| invariants::split_identical(fab, &self.topology, &s.svols));
        let refused = !self.commands[k].refusals.is_empty();
        let cuts = match &self.commands[k].split {
            Some(s) if !refused => self.split_cuts(fab, &s.svols),
            _ => Vec::new(),
        };
        if let (CommandLine::PairCreate { nocopy: true, .. }, Some((m, ..)), false) = (
            &self.scenario.commands[k].line,
            self.commands[k].create,
            refused,
        ) {
            self.commands[k].nocopy_identical = Some(invariants::copy_whole(fab, m));
        }
        if let Some(s) = &mut self.commands[k].split {
            s.stall_ns = inhibited - s.inhibited_at_issue;
            s.control_bytes = split_control - s.control_at_issue;
            s.digests_match = digests.filter(|_| !refused);
            s.consistency = cuts;
        }
        let resyncs: Vec<(usize, u64)> = self.commands[k]
            .resyncs
            .iter()
            .enumerate()
            .filter_map(|(r, x)| {
                self.find_track(x.mirror)
                    .map(|t| (r, self.tracks[t].data_bytes))
            })
            .collect();
        for (r, bytes) in resyncs {
            let x = &mut self.commands[k].resyncs[r];
            x.data_bytes = bytes - x.bytes_at_issue;
        }
        if let Some((m, d0, c0)) = self.commands[k].create {
            if let Some(t) = self.find_track(m) {
                let tr = &self.tracks[t];
                self.commands[k].create_bytes = (tr.data_bytes - d0, tr.control_bytes - c0);
            }
        }
        // A takeover starts the standby hosts of that storage.
        if let CommandLine::Takeover { storage } = self.scenario.commands[k].line {
            for h in 0..self.hosts.len() {
                let host = &mut self.hosts[h];
                if host.def.role == HostRole::Standby
                    && host.def.storage == storage
                    && host.start.is_none()
                {
                    host.start = Some(now);
                    if let Err(e) = self.schedule_host(h) {
                        self.deferred = Some(e);
                    }
                }
            }
        }
        if let Some(next) = self.scenario.commands.get(k + 1) {
            if let When::AfterPrevious { delay_ns } = next.when {
                self.engine.after(delay_ns, Ev::Command(k as u32 + 1));
            }
        }
        if self.stop_on == Some(k) {
            self.stop = true;
        }
    }

    pub(super) fn inhibited_total(&self) -> u64 {
        let now = self.now();
        self.inhibit
            .iter()
            .map(|s| s.ns + s.since.map_or(0, |t| now - t))
            .sum()
    }

    // ----- sampling -----

    pub(super) fn sample(&mut self) {
        let now = self.now();
        self.last_sample = now;
        for tr in &self.tracks {
            if tr.id.is_local() || !tr.active && tr.replicated == 0 {
                continue;
            }
            self.series.lag.push(LagSample {
                time_ns: now,
                group: tr.group.clone(),
                mirror: tr.id.to_string(),
                lag_bytes: tr.lag_bytes,
                lag_ns: tr
                    .lag
                    .front()
                    .map_or(0, |&(_, t, ..)| now.saturating_sub(t)),
                lag_writes: tr.lag.len() as u64,
            });
        }
        for h in &mut self.hosts {
            self.series.latency.push(LatencySample {
                time_ns: now,
                host: h.def.name.clone(),
                writes: h.interval.count(),
                reads: h.interval_reads,
                failed: h.interval_failed,
                mean_ns: h.interval.mean(),
                p50_ns: h.interval.quantile(0.5),
                p99_ns: h.interval.quantile(0.99),
                max_ns: h.interval.max(),
            });
            h.interval.clear();
            h.interval_reads = 0;
            h.interval_failed = 0;
        }
    }
}

impl Wire for Timed<'_> {
    /// Times a host I/O inhibit (Fig 10 step 1120) from the input that set it to the one
    /// that lifted it.
    #[inline]
    fn handled(&mut self, fab: &Fabric, i: usize) {
        let slot = &mut self.inhibit[i];
        match (fab.at(i).inhibited(), slot.since) {
            (true, None) => slot.since = Some(self.engine.now()),
            (false, Some(since)) => {
                slot.ns += self.engine.now() - since;
                slot.since = None;
            }
            _ => {}
        }
    }

    #[inline]
    fn send(
        &mut self,
        _: &Fabric,
        from: usize,
        _: StorageSerial,
        via: Transport,
        msg: Message,
        route: Route,
    ) {
        if let Message::Write { write, .. } = msg {
            self.admitted(from, write.0);
        }
        self.carry(from, via, msg, route);
    }

    fn set_timer(&mut self, _: &Fabric, i: usize, timer: Timer, after_ns: u64) {
        self.timer_gen += 1;
        self.timers.insert((i as u32, timer), self.timer_gen);
        // A replay fires a timer at the step that names it.
        if !self.scripted {
            self.timer_events.insert(self.timer_gen, (i as u32, timer));
            self.engine.after(after_ns, Ev::Timer(self.timer_gen));
        }
    }

    #[inline]
    fn output(&mut self, fab: &Fabric, i: usize, o: &Output) {
        match *o {
            Output::AckWrite(w) => self.acked(i, w),
            Output::FailWrite(w, ref r) => self.failed(w, r.to_string()),
            Output::Done(c) => self.command_done(fab, c, None),
            Output::Refused(c, ref r) => self.command_done(fab, c, Some(r.to_string())),
            Output::StateChanged { mirror, to, .. } => self.state_changed(i, mirror, to),
            Output::Replicated { mirror, upto } => self.replicated(mirror, upto),
            Output::Send { .. } | Output::SetTimer { .. } => {
                unreachable!("the fabric routes these")
            }
        }
    }

    fn link_lost(&mut self, _: &Fabric, l: usize, _: usize, _: usize) {
        let now = self.now();
        for ch in self.links[l].channels {
            self.channels[ch].fail(now);
        }
    }

    /// Every channel touching system `i` loses what it carries, and its timers are gone.
    fn system_lost(&mut self, _: &Fabric, i: usize) {
        let now = self.now();
        let s = self.serials[i];
        for c in &mut self.channels {
            if c.from == s || c.to == s {
                c.fail(now);
            }
        }
        self.timers.retain(|(s, _), _| *s as usize != i);
    }
}
