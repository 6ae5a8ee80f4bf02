//! What the loss of a storage system costs, measured when a `disaster` command strikes.

use super::*;

impl Timed<'_> {
    /// What the loss of system `i` costs, measured from the protocol's state at this moment
    /// (before its links drop what they carry): for each remote mirror whose PVOL is there,
    /// the acknowledged writes whose data the SVOL does not hold, and the RPO (the age of the
    /// oldest of them, from its acknowledgement: the definition `lag.csv` and the summary use). A write is on the SVOL when
    /// every block it wrote holds that write's version or a newer one there; the candidates
    /// are the writes not yet reported replicated (the lag), so nothing acknowledged escapes.
    pub(super) fn record_disaster(&mut self, fab: &Fabric, i: usize) {
        let now = self.now();
        let serial = self.net.serials[i];
        let mut mirrors = Vec::new();
        for tr in &self.tracks.list {
            if tr.id.is_local() || tr.id.pvol.storage != serial || !tr.active {
                continue;
            }
            let svol = fab.system(tr.id.svol.storage);
            let Some(svol) = svol.and_then(|s| s.volume(tr.id.svol.serial)) else {
                continue;
            };
            let on_svol = |w: u64, offset: u64, len: u64| {
                let (first, count) = blocks_of(offset, len);
                (first..first + count).all(|b| svol.block(b) >= Some(WriteId(w)))
            };
            let (mut writes, mut bytes, mut unacked) = (0u64, 0u64, 0u64);
            let mut lost = BTreeSet::new();
            for &(w, _, len, offset) in &tr.lag {
                if self.hosts.is_pending(w) {
                    unacked += 1;
                    continue;
                }
                if self.hosts.failed_after_admission(w) {
                    continue;
                }
                if !on_svol(w, offset, len) {
                    writes += 1;
                    bytes += len;
                    lost.insert(w);
                }
            }
            // The RPO: the oldest lost write's age, from its acknowledgement.
            let oldest = tr
                .acked_in_lag()
                .find(|(_, w)| lost.contains(w))
                .map(|(t, _)| t);
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
}
