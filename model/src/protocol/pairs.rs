//! The pairs one system holds ([`Pairs`]): by mirror, and by volume, so that a host write or
//! a delivery does work in proportion to the mirrors of the volume it touches, never to every
//! mirror the system holds (a system with 10,000 idle mirrors writes a busy volume as fast as
//! one with none).

use super::{Pair, Role};
use crate::flatmap::FlatMap;
use crate::ids::{MirrorId, VolumeId, VolumeSerial};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, Range};

/// The pairs of one system, in mirror order, with the index of the mirrors whose SVOL is a
/// volume here. (Those whose PVOL is a given volume need no index: mirrors sort by PVOL first,
/// so they are one run of the map, [`Pairs::of_pvol`].)
///
/// Reads go to the map itself (`Deref`); changes go through here, which keeps the index.
/// Equality, hashing and `Debug` are the map's: the index follows from it.
#[derive(Clone, Default)]
pub(crate) struct Pairs {
    by_mirror: FlatMap<MirrorId, Pair>,
    /// For each volume here that is the SVOL of a mirror held here (a secondary or a local
    /// mirror), those mirrors in mirror order.
    by_svol: FlatMap<VolumeSerial, Vec<MirrorId>>,
}

impl Pairs {
    /// Inserts or replaces the pair of `mirror`; returns the pair replaced.
    pub(crate) fn insert(&mut self, mirror: MirrorId, pair: Pair) -> Option<Pair> {
        if pair.role != Role::Primary {
            let list = self
                .by_svol
                .get_or_insert_with(mirror.svol.serial, Vec::new);
            if let Err(at) = list.binary_search(&mirror) {
                list.insert(at, mirror);
            }
        }
        self.by_mirror.insert(mirror, pair)
    }

    /// Removes the pair of `mirror`, if held.
    pub(crate) fn remove(&mut self, mirror: &MirrorId) -> Option<Pair> {
        let pair = self.by_mirror.remove(mirror)?;
        if pair.role != Role::Primary {
            if let Some(list) = self.by_svol.get_mut(&mirror.svol.serial) {
                list.retain(|m| m != mirror);
                if list.is_empty() {
                    self.by_svol.remove(&mirror.svol.serial);
                }
            }
        }
        Some(pair)
    }

    pub(crate) fn get_mut(&mut self, mirror: &MirrorId) -> Option<&mut Pair> {
        self.by_mirror.get_mut(mirror)
    }

    pub(crate) fn value_at_mut(&mut self, i: usize) -> &mut Pair {
        self.by_mirror.value_at_mut(i)
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut Pair> {
        self.by_mirror.values_mut()
    }

    /// The positions of the pairs whose PVOL is `pvol` (a volume here), in mirror order.
    #[inline]
    pub(crate) fn of_pvol(&self, pvol: VolumeId) -> Range<usize> {
        self.by_mirror.run(|m| m.pvol < pvol, |m| m.pvol == pvol)
    }

    /// The mirrors whose SVOL is volume `svol` of this system, in mirror order.
    #[inline]
    pub(crate) fn of_svol(&self, svol: VolumeSerial) -> &[MirrorId] {
        self.by_svol.get(&svol).map_or(&[], Vec::as_slice)
    }

    /// Calls `f` on each pair whose SVOL is volume `svol` here, other than `except`.
    #[inline]
    pub(crate) fn each_of_svol_mut(
        &mut self,
        svol: VolumeSerial,
        except: Option<MirrorId>,
        mut f: impl FnMut(&mut Pair),
    ) {
        let Some(list) = self.by_svol.get(&svol) else {
            return;
        };
        for m in list.iter().filter(|&&m| Some(m) != except) {
            if let Some(p) = self.by_mirror.get_mut(m) {
                f(p);
            }
        }
    }
}

impl Deref for Pairs {
    type Target = FlatMap<MirrorId, Pair>;

    fn deref(&self) -> &Self::Target {
        &self.by_mirror
    }
}

impl PartialEq for Pairs {
    fn eq(&self, o: &Self) -> bool {
        self.by_mirror == o.by_mirror
    }
}

impl Eq for Pairs {}

impl Hash for Pairs {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.by_mirror.hash(h);
    }
}

impl fmt::Debug for Pairs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.by_mirror.fmt(f)
    }
}
