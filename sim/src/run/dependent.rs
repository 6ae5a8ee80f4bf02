//! Dependent host writes (`workload.dependent = true`): each write is issued only after the
//! one before it was acknowledged, so it depends on it (a database's data page after its log
//! record). This module holds the host back while a write is outstanding, keeps the stream,
//! and at a disaster judges whether the surviving SVOLs hold a consistent cut of it
//! ([`invariants::consistent_cut`], the definition the model's tests use).

use super::*;
use crate::output::ImageCut;
use mirrorlab_model::invariants::{consistent_cut, Cut, DependentWrite};

/// A dependent host's stream and whether it waits.
#[derive(Default)]
pub(super) struct Dependent {
    stream: Vec<DependentWrite>,
    /// The write issued and not yet acknowledged or failed.
    outstanding: Option<u64>,
    /// An I/O came due while a write was outstanding: it goes at the acknowledgement.
    waiting: bool,
}

impl Dependent {
    /// The state of a host running `def`, if its writes are dependent.
    pub(super) fn of(def: &HostDef) -> Option<Dependent> {
        match &def.workload {
            Some(crate::scenario::WorkloadDef::Poisson(p)) if p.dependent => {
                Some(Dependent::default())
            }
            _ => None,
        }
    }
}

impl Timed<'_> {
    /// Host `h`'s next I/O is due: true if it must wait for the write before it.
    pub(super) fn dependent_holds(&mut self, h: usize) -> bool {
        match self.hosts.list[h].dependent.as_mut() {
            Some(d) if d.outstanding.is_some() => {
                d.waiting = true;
                true
            }
            _ => false,
        }
    }

    /// Host `h` is about to issue write `id` at `offset` of `volume`.
    pub(super) fn dependent_issues(&mut self, h: usize, id: u64, volume: VolumeId, offset: u64) {
        if let Some(d) = self.hosts.list[h].dependent.as_mut() {
            d.outstanding = Some(id);
            d.stream.push(DependentWrite {
                id: WriteId(id),
                volume,
                block: blocks_of(offset, 1).0,
            });
        }
    }

    /// Write `id` of host `h` was acknowledged or failed: a waiting I/O goes now.
    pub(super) fn dependent_done(&mut self, h: usize, id: u64) {
        let now = self.now();
        if let Some(d) = self.hosts.list[h].dependent.as_mut() {
            if d.outstanding == Some(id) {
                d.outstanding = None;
                if std::mem::take(&mut d.waiting) {
                    self.engine.at(now, Ev::Io(h as u32));
                }
            }
        }
    }

    /// For each dependent host of lost system `i` whose volumes all feed remote mirrors: the
    /// cut of its stream their SVOLs hold.
    pub(super) fn disaster_cuts(&self, fab: &Fabric, i: usize) -> Vec<ImageCut> {
        let serial = self.net.serials[i];
        self.cuts(fab, serial, |m| !m.is_local())
    }

    /// For each dependent host whose volumes are all PVOLs of the mirrors of a completed split
    /// (`svols`): the cut of its stream the split SVOLs hold.
    pub(super) fn split_cuts(&self, fab: &Fabric, svols: &[VolumeId]) -> Vec<ImageCut> {
        let mut cuts = Vec::new();
        for s in self.topology.systems() {
            cuts.extend(self.cuts(fab, s, |m| svols.contains(&m.svol)));
        }
        cuts
    }

    /// For each dependent host of system `serial` whose every volume is the PVOL of a mirror
    /// `image` takes: the cut of its stream those mirrors' SVOLs hold.
    fn cuts(
        &self,
        fab: &Fabric,
        serial: StorageSerial,
        image: impl Fn(MirrorId) -> bool,
    ) -> Vec<ImageCut> {
        let mut cuts = Vec::new();
        for host in &self.hosts.list {
            let Some(d) = &host.dependent else { continue };
            if host.def.storage != serial {
                continue;
            }
            let volumes: BTreeSet<VolumeId> = d.stream.iter().map(|w| w.volume).collect();
            let mirror_of = |v: VolumeId| {
                self.topology
                    .mirrors()
                    .find(|m| m.id.pvol == v && image(m.id))
                    .map(|m| m.id)
            };
            let Some(mirrors) = volumes
                .iter()
                .map(|&v| mirror_of(v))
                .collect::<Option<Vec<_>>>()
            else {
                continue;
            };
            let groups: BTreeSet<Option<&str>> = mirrors
                .iter()
                .map(|m| {
                    self.topology
                        .consistency_group_of(*m)
                        .map(|g| g.name.as_str())
                })
                .collect();
            let ctg = match groups.into_iter().collect::<Vec<_>>().as_slice() {
                [Some(g)] => g.to_string(),
                _ => "-".to_string(),
            };
            let cut = consistent_cut(&d.stream, |v, b| {
                let m = mirror_of(v)?;
                fab.system(m.svol.storage)?.volume(m.svol.serial)?.block(b)
            });
            cuts.push(ImageCut::new(
                &host.def.name,
                ctg,
                mirrors.iter().map(|m| m.svol.to_string()).collect(),
                d.stream.len() as u64,
                cut,
            ));
        }
        cuts
    }
}

impl ImageCut {
    fn new(host: &str, ctg: String, svols: Vec<String>, writes: u64, cut: Cut) -> Self {
        let (consistent, upto, missing, present) = match cut {
            Cut::Consistent { upto } => (true, upto.map(|w| w.0), None, None),
            Cut::Inconsistent { missing, present } => {
                (false, None, Some(missing.0), Some(present.0))
            }
        };
        ImageCut {
            host: host.to_string(),
            ctg,
            svols,
            dependent_writes: writes,
            consistent,
            upto,
            missing,
            present,
        }
    }
}
