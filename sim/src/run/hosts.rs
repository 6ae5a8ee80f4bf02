//! The hosts of a run and their writes in progress: each host's workload and counters, the
//! writes issued and not yet acknowledged, the writes the storage took and then failed, and
//! how long each system held host I/O inhibited.

use super::*;

/// How long a system has held host I/O inhibited (Fig 10 step 1120).
#[derive(Clone, Copy, Default)]
pub(super) struct Inhibit {
    since: Option<u64>,
    ns: u64,
}

pub(super) struct HostRt {
    pub(super) def: HostDef,
    pub(super) sys: usize,
    pub(super) workload: Option<Workload>,
    pub(super) next: Option<Io>,
    pub(super) start: Option<u64>,
    pub(super) writes: u64,
    pub(super) bytes_written: u64,
    pub(super) acked: u64,
    pub(super) failed: u64,
    pub(super) reads: u64,
    pub(super) read_bytes: u64,
    pub(super) latency: LogHistogram,
    pub(super) interval: LogHistogram,
    pub(super) interval_reads: u64,
    pub(super) interval_failed: u64,
    pub(super) first_failure: Option<String>,
    /// `dependent = true`: the stream and whether the host waits.
    pub(super) dependent: Option<dependent::Dependent>,
}

/// A host write not yet acknowledged.
#[derive(Clone, Copy)]
pub(super) struct Pending {
    pub(super) host: u32,
    pub(super) sys: u32,
    pub(super) volume: VolumeId,
    pub(super) arrival: u64,
    pub(super) offset: u64,
    pub(super) len: u64,
    pub(super) admitted: bool,
}

pub(super) struct Hosts {
    pub(super) list: Vec<HostRt>,
    /// Per system: host writes arrived and waiting the array's service time, in arrival order
    /// (the delay is fixed per system, so the first in is the first due).
    pub(super) intake: Vec<VecDeque<(u64, Pending)>>,
    /// Per system, by index.
    inhibit: Vec<Inhibit>,
    pending: IdMap<Pending>,
    /// The write being issued: most are acknowledged inside the same protocol call, so they
    /// never touch `pending`.
    current: Option<(u64, Pending)>,
    next_write: u64,
    /// Writes the storage took (on the PVOL) and then failed to the host: never acknowledged.
    failed_admitted: BTreeSet<u64>,
}

impl Hosts {
    pub(super) fn new(scenario: &Scenario, serials: &[StorageSerial]) -> Result<Hosts, SimError> {
        let idx = |s: StorageSerial| serials.iter().position(|&x| x == s).expect("validated");
        let mut list = Vec::new();
        for h in &scenario.hosts {
            let workload = match &h.workload {
                Some(w) => Some(Workload::new(
                    w,
                    scenario.seed,
                    &format!("host/{}", h.name),
                )?),
                None => None,
            };
            list.push(HostRt {
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
        Ok(Hosts {
            list,
            intake: (0..serials.len()).map(|_| VecDeque::new()).collect(),
            inhibit: vec![Inhibit::default(); serials.len()],
            pending: IdMap::default(),
            current: None,
            next_write: 0,
            failed_admitted: BTreeSet::new(),
        })
    }

    /// The id of the next write a workload issues.
    pub(super) fn next_write_id(&mut self) -> WriteId {
        self.next_write += 1;
        WriteId(self.next_write)
    }

    /// Write `id` is being handed to the storage now.
    pub(super) fn begin(&mut self, id: u64, p: Pending) {
        self.current = Some((id, p));
    }

    /// The protocol call of [`Self::begin`] returned: a write it did not settle waits.
    pub(super) fn end(&mut self) {
        if let Some((id, p)) = self.current.take() {
            self.pending.insert(id, p);
        }
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

    /// Whether write `id` waits for its acknowledgement.
    pub(super) fn is_pending(&self, id: u64) -> bool {
        self.pending.contains_key(&id) || self.current.as_ref().is_some_and(|(c, _)| *c == id)
    }

    /// Whether write `id` was taken by the storage and then failed to the host.
    pub(super) fn failed_after_admission(&self, id: u64) -> bool {
        self.failed_admitted.contains(&id)
    }

    /// Write `id` was acknowledged: its latency is recorded on its host; the volume it
    /// wrote and its host, if it was waiting.
    pub(super) fn acked(&mut self, id: u64, now: u64) -> Option<(VolumeId, usize)> {
        let p = self.take_pending(id)?;
        let latency = now - p.arrival;
        let host = &mut self.list[p.host as usize];
        host.acked += 1;
        host.latency.record(latency);
        host.interval.record(latency);
        Some((p.volume, p.host as usize))
    }

    /// Host writes the protocol holds at `now`, not yet admitted (semi-sync, a throttled
    /// journal, an inhibit): how many, and the age of the oldest. Those still within the
    /// array's service time are in progress, not queued.
    pub(super) fn queued(&self, now: u64) -> (u64, u64) {
        let waiting = (self.pending.values())
            .chain(self.current.as_ref().map(|(_, p)| p))
            .filter(|p| !p.admitted);
        let (mut n, mut oldest) = (0, None::<u64>);
        for p in waiting {
            n += 1;
            oldest = Some(oldest.map_or(p.arrival, |o| o.min(p.arrival)));
        }
        (n, oldest.map_or(0, |t| now.saturating_sub(t)))
    }

    /// Write `id` failed to its host; that host, if the write was waiting.
    pub(super) fn failed(&mut self, id: u64, reason: String) -> Option<usize> {
        let p = self.take_pending(id)?;
        if p.admitted {
            // On the PVOL but never acknowledged (a sync fence): not an acked write.
            self.failed_admitted.insert(id);
        }
        self.fail_host(p.host as usize, reason);
        Some(p.host as usize)
    }

    pub(super) fn fail_host(&mut self, h: usize, reason: String) {
        let host = &mut self.list[h];
        host.failed += 1;
        host.interval_failed += 1;
        host.first_failure.get_or_insert(reason);
    }

    /// System `i` says whether it holds host I/O inhibited after an input at `now`.
    pub(super) fn note_inhibit(&mut self, i: usize, inhibited: bool, now: u64) {
        let slot = &mut self.inhibit[i];
        match (inhibited, slot.since) {
            (true, None) => slot.since = Some(now),
            (false, Some(since)) => {
                slot.ns += now - since;
                slot.since = None;
            }
            _ => {}
        }
    }

    /// Host I/O inhibit time so far, over all systems.
    pub(super) fn inhibited_total(&self, now: u64) -> u64 {
        self.inhibit
            .iter()
            .map(|s| s.ns + s.since.map_or(0, |t| now - t))
            .sum()
    }
}

impl Timed<'_> {
    /// Fetches a host's next I/O (if it has started) and schedules it.
    pub(super) fn schedule_host(&mut self, h: usize) -> Result<(), SimError> {
        let now = self.now();
        let host = &mut self.hosts.list[h];
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

    /// Starts the standby hosts of `storage` (a takeover there completed).
    pub(super) fn start_standby(&mut self, storage: StorageSerial) {
        let now = self.now();
        for h in 0..self.hosts.list.len() {
            let host = &mut self.hosts.list[h];
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

    /// The storage system took write `id` (it is on the PVOL): start counting its lag.
    pub(super) fn admitted(&mut self, sys: usize, id: u64) {
        let Some(p) = self.hosts.pending_mut(id) else {
            return;
        };
        if p.admitted || p.sys as usize != sys {
            return;
        }
        p.admitted = true;
        let (volume, arrival, offset, len, host) = (p.volume, p.arrival, p.offset, p.len, p.host);
        self.hosts.list[host as usize].bytes_written += len;
        let now = self.engine.now();
        self.tracks.admit(volume, id, arrival, now, len, offset);
    }

    pub(super) fn acked(&mut self, sys: usize, w: WriteId) {
        self.admitted(sys, w.0);
        let now = self.now();
        if let Some((volume, h)) = self.hosts.acked(w.0, now) {
            self.tracks.acked(volume, w.0, now);
            self.dependent_done(h, w.0);
        }
    }

    pub(super) fn failed(&mut self, w: WriteId, reason: String) {
        if let Some(h) = self.hosts.failed(w.0, reason) {
            self.dependent_done(h, w.0);
        }
    }
}
