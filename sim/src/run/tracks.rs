//! Per-mirror metric tracks: for each mirror, the writes on the PVOL not yet on the SVOL (lag),
//! the RPO (the age of the oldest of them a host was told is done), their replication delays
//! and the link bytes the mirror used. Looked up by mirror and by
//! PVOL through indexes, so an event costs the same however many idle mirrors a run holds.

use super::*;

/// Per-mirror bookkeeping: lag of writes not yet on the SVOL, delays, link bytes.
pub(super) struct Track {
    pub(super) id: MirrorId,
    pub(super) group: String,
    pub(super) sync: bool,
    pub(super) active: bool,
    /// (write, time it counts from, bytes, offset), in write order.
    pub(super) lag: VecDeque<(u64, u64, u64, u64)>,
    pub(super) lag_bytes: u64,
    pub(super) max_lag_bytes: u64,
    pub(super) replicated: u64,
    /// Writes of the lag acknowledged to their host, as (time acknowledged, write), in the
    /// order acknowledged: the first still in the lag is the oldest acknowledged write not on
    /// the SVOL. Entries replicated since are dropped when they reach the front.
    acked: VecDeque<(u64, u64)>,
    /// The largest RPO seen so far, and the last one computed (at the end: the final RPO).
    pub(super) max_rpo_ns: u64,
    pub(super) rpo_at_end: u64,
    pub(super) delay: LogHistogram,
    pub(super) data_bytes: u64,
    pub(super) control_bytes: u64,
}

impl Track {
    /// The lag is in write order, so a write at or beyond either end is decided by that end
    /// alone; only one inside needs the binary search. The RPO asks about the front and an
    /// acknowledgement about the newest write nearly always.
    fn in_lag(&self, id: u64) -> bool {
        let (Some(&(first, ..)), Some(&(last, ..))) = (self.lag.front(), self.lag.back()) else {
            return false;
        };
        if id <= first || id >= last {
            return id == first || id == last;
        }
        let at = self.lag.partition_point(|&(w, ..)| w < id);
        self.lag.get(at).is_some_and(|&(w, ..)| w == id)
    }

    /// The RPO at `now`: the age of the oldest acknowledged write not yet on the SVOL (0 when
    /// every acknowledged write is there), counted from its acknowledgement.
    pub(super) fn rpo(&mut self, now: u64) -> u64 {
        while let Some(&(_, w)) = self.acked.front() {
            if self.in_lag(w) {
                break;
            }
            self.acked.pop_front();
        }
        let rpo = self
            .acked
            .front()
            .map_or(0, |&(t, _)| now.saturating_sub(t));
        self.max_rpo_ns = self.max_rpo_ns.max(rpo);
        self.rpo_at_end = rpo;
        rpo
    }

    /// The acknowledged writes of the lag as (time acknowledged, write), oldest first.
    pub(super) fn acked_in_lag(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.acked.iter().copied().filter(|&(_, w)| self.in_lag(w))
    }
}

#[derive(Default)]
pub(super) struct Tracks {
    /// In the order first seen (the topology's mirrors, then those commands create).
    pub(super) list: Vec<Track>,
    /// Mirror -> its track, sorted by mirror (a binary search: a few compares for the usual
    /// handful of mirrors, about 14 for 10,000; a `BTreeMap` cost 50 per lookup for one).
    by_id: Vec<(MirrorId, usize)>,
    /// PVOL -> indexes (ascending) of the active remote tracks it feeds, sorted by PVOL.
    feeds: Vec<(VolumeId, Vec<usize>)>,
}

impl Tracks {
    pub(super) fn find(&self, id: MirrorId) -> Option<usize> {
        let k = self.by_id.binary_search_by_key(&id, |&(m, _)| m).ok()?;
        Some(self.by_id[k].1)
    }

    /// The active remote tracks `volume` feeds, ascending.
    fn feeds_of(feeds: &[(VolumeId, Vec<usize>)], volume: VolumeId) -> Option<&[usize]> {
        let k = feeds.binary_search_by_key(&volume, |(v, _)| *v).ok()?;
        Some(&feeds[k].1)
    }

    /// The track of mirror `id`, made (inactive) if new.
    pub(super) fn track(&mut self, id: MirrorId, topology: &Topology) -> usize {
        if let Some(t) = self.find(id) {
            return t;
        }
        let options = topology.mirror(id).map(|m| m.options);
        self.list.push(Track {
            id,
            group: topology.group_of(id).unwrap_or("-").to_string(),
            sync: !id.is_local() && options.is_some_and(|o| o.mode == CopyMode::Sync),
            active: false,
            lag: VecDeque::new(),
            lag_bytes: 0,
            max_lag_bytes: 0,
            replicated: 0,
            acked: VecDeque::new(),
            max_rpo_ns: 0,
            rpo_at_end: 0,
            delay: LogHistogram::new(),
            data_bytes: 0,
            control_bytes: 0,
        });
        let t = self.list.len() - 1;
        let at = self.by_id.partition_point(|&(m, _)| m < id);
        self.by_id.insert(at, (id, t));
        t
    }

    /// Marks track `t` active (its mirror exists) or not; an inactive one forgets its lag.
    pub(super) fn set_active(&mut self, t: usize, active: bool) {
        let tr = &mut self.list[t];
        if tr.active == active {
            return;
        }
        tr.active = active;
        if !active {
            tr.lag.clear();
            tr.acked.clear();
            tr.lag_bytes = 0;
        }
        if tr.id.is_local() {
            return;
        }
        let pvol = tr.id.pvol;
        let k = match self.feeds.binary_search_by_key(&pvol, |(v, _)| *v) {
            Ok(k) => k,
            Err(k) => {
                self.feeds.insert(k, (pvol, Vec::new()));
                k
            }
        };
        let list = &mut self.feeds[k].1;
        let at = list.partition_point(|&x| x < t);
        if active {
            list.insert(at, t);
        } else {
            if list.get(at) == Some(&t) {
                list.remove(at);
            }
            if list.is_empty() {
                self.feeds.remove(k);
            }
        }
    }

    /// Counts a message of `mirror` on a link.
    pub(super) fn count_bytes(&mut self, mirror: MirrorId, data: u64, control: u64) {
        if let Some(t) = self.find(mirror) {
            self.list[t].data_bytes += data;
            self.list[t].control_bytes += control;
        }
    }

    /// Takes back a message of `mirror` that never left (still queued at the end).
    pub(super) fn uncount_bytes(&mut self, mirror: MirrorId, data: u64, control: u64) {
        if let Some(t) = self.find(mirror) {
            self.list[t].data_bytes -= data;
            self.list[t].control_bytes -= control;
        }
    }

    /// Write `id` (`len` bytes at `offset`, arrived at `arrival`) is on `volume` at `now`:
    /// every mirror the volume feeds lags by it.
    pub(super) fn admit(
        &mut self,
        volume: VolumeId,
        id: u64,
        arrival: u64,
        now: u64,
        len: u64,
        offset: u64,
    ) {
        let Some(feeds) = Self::feeds_of(&self.feeds, volume) else {
            return;
        };
        for &t in feeds {
            let tr = &mut self.list[t];
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

    /// Write `id` on `volume` was acknowledged to its host at `now`: for each mirror still
    /// lacking it on the SVOL, it now counts for the RPO.
    pub(super) fn acked(&mut self, volume: VolumeId, id: u64, now: u64) {
        let Some(feeds) = Self::feeds_of(&self.feeds, volume) else {
            return;
        };
        for &t in feeds {
            let tr = &mut self.list[t];
            if tr.in_lag(id) {
                tr.acked.push_back((now, id));
            }
        }
    }

    /// Every write of `mirror` up to `upto` is on the SVOL at `now`.
    pub(super) fn replicated(&mut self, mirror: MirrorId, upto: WriteId, now: u64) {
        let Some(t) = self.find(mirror) else {
            return;
        };
        let tr = &mut self.list[t];
        // The RPO peaks just before writes reach the SVOL.
        tr.rpo(now);
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

    /// Link data bytes mirror `id` has used so far (0 if it has no track).
    pub(super) fn data_bytes(&self, id: MirrorId) -> Option<u64> {
        self.find(id).map(|t| self.list[t].data_bytes)
    }
}

impl Timed<'_> {
    pub(super) fn state_changed(&mut self, i: usize, mirror: MirrorId, to: PairState) {
        // The PVOL's system speaks for the mirror.
        if self.net.serials[i] != mirror.pvol.storage {
            return;
        }
        let t = self.tracks.track(mirror, &self.topology);
        self.tracks.set_active(t, to != PairState::Simplex);
    }

    pub(super) fn replicated(&mut self, mirror: MirrorId, upto: WriteId) {
        let now = self.engine.now();
        self.tracks.replicated(mirror, upto, now);
    }
}
