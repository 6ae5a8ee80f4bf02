//! The command sequence of a run: each scenario command's issue and completion, the protocol
//! commands it became, and what the split, resync and create reports need. A command whose
//! successor waits for it (`after = "previous"`) schedules that one when it completes.

use super::*;

#[derive(Clone, Debug)]
pub(super) struct SplitRt {
    pub(super) svols: Vec<VolumeId>,
    inhibited_at_issue: u64,
    control_at_issue: u64,
    pub(super) stall_ns: u64,
    pub(super) control_bytes: u64,
    pub(super) digests_match: Option<bool>,
    /// Per dependent host whose volumes the split covers: the cut its split SVOLs hold.
    pub(super) consistency: Vec<crate::output::ImageCut>,
}

#[derive(Clone, Debug)]
pub(super) struct ResyncRt {
    pub(super) mirror: MirrorId,
    pub(super) dirty_chunks: u64,
    pub(super) chunk_bytes: u64,
    bytes_at_issue: u64,
    pub(super) data_bytes: u64,
}

#[derive(Clone, Debug, Default)]
pub(super) struct CmdRt {
    pub(super) issued: Option<u64>,
    pub(super) completed: Option<u64>,
    /// Protocol commands the line became and not yet issued: a replay issues them one step
    /// at a time.
    parts: VecDeque<(StorageSerial, Command)>,
    outstanding: u32,
    pub(super) refusals: Vec<String>,
    pub(super) split: Option<SplitRt>,
    pub(super) resyncs: Vec<ResyncRt>,
    /// (mirror, data, control at issue) of a paircreate.
    pub(super) create: Option<(MirrorId, u64, u64)>,
    /// Link bytes the created mirror used until the command completed.
    pub(super) create_bytes: (u64, u64),
    /// A `paircreate --nocopy` that completed: whether its volumes were identical then
    /// (Fig 12 relies on it; the protocol must refuse otherwise).
    pub(super) nocopy_identical: Option<bool>,
}

pub(super) struct Runbook {
    /// One per scenario command, in the scenario's order.
    pub(super) commands: Vec<CmdRt>,
    /// Protocol commands in progress -> the scenario command they belong to.
    cmd_of: BTreeMap<CommandId, usize>,
    next_command: u64,
    defaults: PairOptions,
    /// Stop the run when this scenario command completes (the full-copy comparison).
    stop_on: Option<usize>,
    pub(super) stop: bool,
}

impl Runbook {
    pub(super) fn new(scenario: &Scenario, stop_on: Option<usize>) -> Runbook {
        Runbook {
            commands: vec![CmdRt::default(); scenario.commands.len()],
            cmd_of: BTreeMap::new(),
            next_command: 0,
            defaults: scenario.defaults,
            stop_on,
            stop: false,
        }
    }

    /// A fresh protocol command id.
    pub(super) fn next_id(&mut self) -> CommandId {
        self.next_command += 1;
        CommandId(self.next_command)
    }
}

impl Timed<'_> {
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
                let control = self.net.split_control;
                match &mut self.runbook.commands[k].split {
                    // A split in parts (the `no-atomic` mutant, one per mirror): the SVOLs
                    // the line names are those of all its parts.
                    Some(split) => split.svols.extend(svols),
                    None => {
                        self.runbook.commands[k].split = Some(SplitRt {
                            svols: svols.collect(),
                            inhibited_at_issue: inhibited,
                            control_at_issue: control,
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
                let t = self.tracks.track(*mirror, &self.topology);
                let bytes_at_issue = self.tracks.list[t].data_bytes;
                self.runbook.commands[k].resyncs.push(ResyncRt {
                    mirror: *mirror,
                    dirty_chunks: dirty.count(),
                    chunk_bytes,
                    bytes_at_issue,
                    data_bytes: 0,
                });
            }
            Command::Create { mirror, .. } => {
                let t = self.tracks.track(*mirror, &self.topology);
                let tr = &mut self.tracks.list[t];
                tr.sync = !mirror.is_local()
                    && self
                        .topology
                        .mirror(*mirror)
                        .is_some_and(|m| m.options.mode == CopyMode::Sync);
                self.runbook.commands[k].create = Some((*mirror, tr.data_bytes, tr.control_bytes));
            }
            _ => {}
        }
    }

    pub(super) fn command_done(&mut self, fab: &Fabric, c: CommandId, refusal: Option<String>) {
        let Some(k) = self.runbook.cmd_of.remove(&c) else {
            return;
        };
        let rt = &mut self.runbook.commands[k];
        if let Some(r) = refusal {
            rt.refusals.push(r);
        }
        rt.outstanding = rt.outstanding.saturating_sub(1);
        if rt.outstanding == 0 {
            self.complete(fab, k);
        }
    }

    pub(super) fn complete(&mut self, fab: &Fabric, k: usize) {
        let now = self.now();
        let inhibited = self.inhibited_total();
        let split_control = self.net.split_control;
        let scenario = self.scenario;
        let line = &scenario.commands[k].line;
        let cuts = match &self.runbook.commands[k].split {
            Some(s) if self.runbook.commands[k].refusals.is_empty() => {
                self.split_cuts(fab, &s.svols)
            }
            _ => Vec::new(),
        };
        let rt = &mut self.runbook.commands[k];
        rt.completed = Some(now);
        let digests = rt
            .split
            .as_ref()
            .map(|s| invariants::split_identical(fab, &self.topology, &s.svols));
        let refused = !rt.refusals.is_empty();
        if let (CommandLine::PairCreate { nocopy: true, .. }, Some((m, ..)), false) =
            (line, rt.create, refused)
        {
            rt.nocopy_identical = Some(invariants::copy_whole(fab, m));
        }
        if let Some(s) = &mut rt.split {
            s.stall_ns = inhibited - s.inhibited_at_issue;
            s.control_bytes = split_control - s.control_at_issue;
            s.digests_match = digests.filter(|_| !refused);
            s.consistency = cuts;
        }
        for x in &mut rt.resyncs {
            if let Some(bytes) = self.tracks.data_bytes(x.mirror) {
                x.data_bytes = bytes - x.bytes_at_issue;
            }
        }
        if let Some((m, d0, c0)) = rt.create {
            if let Some(t) = self.tracks.find(m) {
                let tr = &self.tracks.list[t];
                rt.create_bytes = (tr.data_bytes - d0, tr.control_bytes - c0);
            }
        }
        // A takeover starts the standby hosts of that storage.
        if let CommandLine::Takeover { storage } = *line {
            self.start_standby(storage);
        }
        if let Some(next) = self.scenario.commands.get(k + 1) {
            if let When::AfterPrevious { delay_ns } = next.when {
                self.engine.after(delay_ns, Ev::Command(k as u32 + 1));
            }
        }
        if self.runbook.stop_on == Some(k) {
            self.runbook.stop = true;
        }
    }

    pub(super) fn inhibited_total(&self) -> u64 {
        self.hosts.inhibited_total(self.now())
    }
}

impl Sim<'_> {
    /// Runs scenario command `k` whole, at the time the scenario gives it.
    pub(super) fn issue_command(&mut self, k: usize) {
        self.begin_command(k);
        while self.issue_part(k) {}
    }

    /// Starts scenario command `k`: a fault acts and completes at once; a HORCM verb becomes
    /// the protocol commands it resolves to, left in `parts` for [`Self::issue_part`].
    pub(super) fn begin_command(&mut self, k: usize) {
        let now = self.now();
        self.runbook.commands[k].issued = Some(now);
        let line = self.scenario.commands[k].line.clone();
        let fault = |sim: &mut Self, s: StorageSerial| sim.net.idx(s).expect("validated");
        match &line {
            CommandLine::LinkDown { link } | CommandLine::LinkUp { link } => {
                let l = (self.net.links.iter())
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
                    self.runbook.commands[k].refusals.push(e.to_string());
                }
                return self.t.complete(&self.fabric, k);
            }
            CommandLine::Restart { storage } => {
                let i = fault(self, *storage);
                if let Err(e) = self.restart(i) {
                    self.runbook.commands[k].refusals.push(e.to_string());
                }
                return self.t.complete(&self.fabric, k);
            }
            CommandLine::Takeover { storage } => {
                let taken = self.net.idx(*storage).map(|i| self.fabric.take_over(i));
                if let Some(Err(e)) = taken {
                    self.runbook.commands[k].refusals.push(e.to_string());
                    return self.t.complete(&self.fabric, k);
                }
            }
            _ => {}
        }
        let t = &mut self.t;
        let cmds = match resolve(
            &line,
            &mut t.topology,
            t.runbook.defaults,
            t.scenario.protocol.mutant,
        ) {
            Ok(c) => c.unwrap_or_default(),
            Err(e) => {
                self.runbook.commands[k].refusals.push(e.to_string());
                return self.t.complete(&self.fabric, k);
            }
        };
        self.runbook.commands[k].outstanding = cmds.len() as u32;
        if cmds.is_empty() {
            return self.t.complete(&self.fabric, k);
        }
        self.runbook.commands[k].parts = cmds.into();
    }

    /// Issues the next protocol command of scenario command `k`; false when none is left.
    pub(super) fn issue_part(&mut self, k: usize) -> bool {
        let Some((serial, command)) = self.runbook.commands[k].parts.pop_front() else {
            return false;
        };
        let scenario = self.scenario;
        self.t
            .before_command(&self.fabric, k, &scenario.commands[k].line, &command);
        let id = self.runbook.next_id();
        self.runbook.cmd_of.insert(id, k);
        match self.net.idx(serial).filter(|&i| self.fabric.is_up(i)) {
            Some(i) => self.input(i, Input::Command { id, command }),
            None => {
                let down = format!("storage {serial} is down");
                self.t.command_done(&self.fabric, id, Some(down));
            }
        }
        true
    }
}
