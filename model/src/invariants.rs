//! Every invariant of the replication protocol, defined once as a function of the world's
//! state: the [`Fabric`] (volumes and pairs), what is in flight (asked of the driver), and the
//! history of writes the driver keeps (the PVOL's content after each write, the writes
//! acknowledged). The model checker's properties ([`crate::check`]) and the simulator's
//! `invariants` report call these functions, so a property the checker proves is the one the
//! simulator reports. Each is named by the sentence it checks.

use crate::fabric::Fabric;
use crate::ids::{MirrorId, VolumeId, WriteId};
use crate::protocol::Role;
use crate::table::PairState;
use crate::topology::Topology;
use crate::volume::Digest;
use std::collections::BTreeMap;

/// The PVOL's content is the issued writes applied in order (checker only).
pub const PVOL_IN_ORDER: &str = "the PVOL takes the production writes in the order issued";
/// Judged by [`split_identical`] when an atomic split completes.
pub const SPLIT_IDENTICAL: &str = "the SVOLs of a completed atomic split are identical";
/// Judged by [`at_a_point`] when an atomic split completes (checker only).
pub const SPLIT_AT_A_POINT: &str =
    "the SVOLs of a completed atomic split equal the PVOL at one point of the write stream";
/// Judged by [`acked_on_svol`] in every state (checker only).
pub const SYNC_ACKED: &str = "sync: every acknowledged write is on the remote SVOL";
/// Judged by [`at_a_point`] on every remote SVOL outside a resync (checker only).
pub const PREFIX: &str = "the remote SVOL holds a prefix of the writes (outside a resync)";
/// Judged by [`copy_whole`] when a no-copy create completes.
pub const NOCOPY_IDENTICAL: &str = "a no-copy pair is created only on identical volumes";
/// Judged by [`copy_whole`] when a resync completes (checker only).
pub const RESYNC_EQUAL: &str = "a completed resync leaves the SVOL equal to the PVOL";
/// Judged by [`quiet_pairs_differing`]: in every state by the checker, at the end by the simulator.
pub const QUIET_PAIR: &str = "a mirror in PAIR holds identical volumes once nothing is in flight";
/// Judged by [`ends_agree`] when the network is quiet and no fault stands (checker only).
pub const ENDS_AGREE: &str =
    "once the network is quiet, a remote mirror in PAIR at one end is in PAIR at the other";

fn digest(fab: &Fabric, v: VolumeId) -> Option<Digest> {
    Some(fab.system(v.storage)?.volume(v.serial)?.digest())
}

/// [`SPLIT_IDENTICAL`], judged when the split completes: SVOLs fed by the same source volume
/// (through any chain of mirrors of `topology`) are identical. SVOLs of different sources are
/// not compared: a split of mirrors of two PVOLs freezes two different volumes.
pub fn split_identical(fab: &Fabric, topology: &Topology, svols: &[VolumeId]) -> bool {
    let mut by_head: BTreeMap<VolumeId, Digest> = BTreeMap::new();
    for &v in svols {
        let mut head = v;
        let mut hops = 0;
        while let Some(m) = topology.mirrors().find(|m| m.id.svol == head) {
            head = m.id.pvol;
            hops += 1;
            if hops > 64 {
                break;
            }
        }
        let Some(d) = digest(fab, v) else {
            continue;
        };
        if *by_head.entry(head).or_insert(d) != d {
            return false;
        }
    }
    true
}

/// Whether volume `v` holds one of `points` (the PVOL's contents before any write and after
/// each write it took, in order): [`SPLIT_AT_A_POINT`] for each SVOL of a completed split,
/// [`PREFIX`] for a remote SVOL of an ordered mode outside a resync.
pub fn at_a_point(fab: &Fabric, v: VolumeId, points: &[Digest]) -> bool {
    digest(fab, v).is_some_and(|d| points.contains(&d))
}

/// [`SYNC_ACKED`]: while `mirror` is in PAIR at its PVOL's end, every acknowledged write
/// (`(block, version)`) is on its SVOL, that version or a newer one.
pub fn acked_on_svol(
    fab: &Fabric,
    mirror: MirrorId,
    acked: impl IntoIterator<Item = (u64, WriteId)>,
) -> bool {
    let Some(p) = fab.system(mirror.pvol.storage) else {
        return true;
    };
    if p.state(mirror) != PairState::Pair {
        return true;
    }
    let Some(svol) = fab
        .system(mirror.svol.storage)
        .and_then(|s| s.volume(mirror.svol.serial))
    else {
        return false;
    };
    acked
        .into_iter()
        .all(|(block, w)| svol.block(block).is_some_and(|v| v >= w))
}

/// [`NOCOPY_IDENTICAL`] when a no-copy create completes, [`RESYNC_EQUAL`] when a resync
/// does: `m`'s SVOL reads as its PVOL outside the chunks the PVOL's end still holds pending
/// (what a finished copy promises in every mode: the ordered modes hold nothing pending then;
/// a periodic or adaptive copy ends with a delta set, and writes after it wait in the bitmap).
pub fn copy_whole(fab: &Fabric, m: MirrorId) -> bool {
    let svol = fab
        .system(m.svol.storage)
        .and_then(|s| s.volume(m.svol.serial));
    match (fab.system(m.pvol.storage), svol) {
        (Some(p), Some(svol)) => p.copy_whole(m, svol),
        _ => false,
    }
}

/// [`QUIET_PAIR`]: the mirrors (looked at from their PVOL's end) in PAIR at both ends with
/// nothing pending or unacknowledged at either end and no message of theirs in flight
/// (`in_flight`), whose volumes differ. Quiet is per mirror, in every mode: traffic of other
/// mirrors does not excuse this one, and a periodic or adaptive mirror with nothing pending
/// owes a whole copy as an ordered one does.
pub fn quiet_pairs_differing(fab: &Fabric, in_flight: impl Fn(MirrorId) -> bool) -> Vec<MirrorId> {
    let mut bad = Vec::new();
    for sys in fab.systems.values() {
        for pp in sys.pairs() {
            let m = pp.mirror;
            if m.pvol.storage != sys.serial() || pp.role == Role::Secondary {
                continue;
            }
            let Some(sp) = fab.system(m.svol.storage).and_then(|s| s.pair(m)) else {
                continue;
            };
            let quiet = |x: &crate::protocol::Pair| {
                x.state == PairState::Pair && x.pending_bytes() == 0 && x.unacked() == 0
            };
            if !(quiet(pp) && quiet(sp)) || in_flight(m) {
                continue;
            }
            let (Some(a), Some(b)) = (digest(fab, m.pvol), digest(fab, m.svol)) else {
                continue;
            };
            if a != b {
                bad.push(m);
            }
        }
    }
    bad
}

/// [`ENDS_AGREE`], for a world with nothing in flight and no fault standing: every remote
/// mirror in PAIR at one end is in PAIR at the other.
pub fn ends_agree(fab: &Fabric) -> bool {
    fab.systems.values().all(|sys| {
        sys.pairs().filter(|p| !p.mirror.is_local()).all(|p| {
            let ends = [p.mirror.pvol.storage, p.mirror.svol.storage].map(|e| {
                fab.system(e)
                    .is_some_and(|x| x.state(p.mirror) == PairState::Pair)
            });
            ends[0] == ends[1]
        })
    })
}

/// Judged by [`consistent_cut`] on the SVOLs of each consistency group.
pub const GROUP_CUT: &str =
    "the SVOLs of a consistency group always hold a consistent cut of the dependent writes";

/// One write of a dependent stream (a database's log record, then its data page): issued
/// only after the write before it in the stream was acknowledged, so it depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DependentWrite {
    /// The write.
    pub id: WriteId,
    /// The production volume it went to.
    pub volume: VolumeId,
    /// A block it wrote.
    pub block: u64,
}

/// What an image (SVOLs after a disaster, a split's copies) holds of a dependent stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cut {
    /// Every write present has every write before it present: the stream up to `upto`
    /// (`None`: none of it), a point a database recovers from.
    Consistent {
        /// The newest write of the stream in the image.
        upto: Option<WriteId>,
    },
    /// `present` is in the image and `missing`, issued before it, is not: a data page
    /// without its log record.
    Inconsistent {
        /// The oldest write of the stream missing.
        missing: WriteId,
        /// A later write present.
        present: WriteId,
    },
}

/// Whether an image holds a consistent cut of `stream` (in issue order): every write present
/// has all writes before it present. A write is present when its block reads it or a newer
/// version; `read(volume, block)` reads the image's copy of production volume `volume`.
pub fn consistent_cut(
    stream: &[DependentWrite],
    read: impl Fn(VolumeId, u64) -> Option<WriteId>,
) -> Cut {
    let mut missing = None;
    let mut upto = None;
    for w in stream {
        if read(w.volume, w.block).is_some_and(|v| v >= w.id) {
            if let Some(missing) = missing {
                return Cut::Inconsistent {
                    missing,
                    present: w.id,
                };
            }
            upto = Some(w.id);
        } else if missing.is_none() {
            missing = Some(w.id);
        }
    }
    Cut::Consistent { upto }
}
