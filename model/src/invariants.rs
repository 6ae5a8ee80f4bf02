//! Every invariant of the replication protocol, defined once as a function of the world's
//! state: the [`Fabric`] (volumes and pairs), what is in flight (asked of the driver), and the
//! history of writes the driver keeps (the PVOL's content after each write, the writes
//! acknowledged). The model checker's properties ([`crate::check`]) and the simulator's
//! `invariants` report call these functions, so a property the checker proves is the one the
//! simulator reports. Each is named by the sentence it checks.

use crate::fabric::Fabric;
use crate::ids::{MirrorId, VolumeId, WriteId};
use crate::protocol::{Message, Role};
use crate::table::{Fence, PairState};
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
/// Judged by [`acked_missing`] in every state (checker only).
pub const SYNC_ACKED: &str = "sync: every acknowledged write is on the remote SVOL";
/// Judged by [`ack_allowed`] at each acknowledgement of a sync write (checker only).
pub const FENCE_AT_ACK: &str = "sync: a write is acknowledged only once it is on the remote \
     SVOL (fence continue: or with the mirror suspended; either: or resyncing)";
/// Judged by [`acked_missing`] in every state (checker only).
pub const SEMI_SYNC_WINDOW: &str =
    "semi-sync: at most one acknowledged write per volume is missing from the remote SVOL while in PAIR";
/// Judged by [`holds`] when a resync completes (checker only).
pub const RESYNC_DIRECTION: &str = "a completed resync copies its way: a restore leaves the PVOL \
     holding what the SVOL held when it was issued, a forward resync leaves the PVOL as the writes made it";
/// Judged by [`identical`] when a secondary refuses a no-copy create (checker only).
pub const NOCOPY_REFUSED_DIFFERENT: &str =
    "a no-copy create is refused as not identical only if the volumes differ";
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

/// Whether `mirror`'s SVOL holds write `w` on `block` (that version or a newer one).
fn on_svol(fab: &Fabric, mirror: MirrorId, (block, w): (u64, WriteId)) -> bool {
    fab.system(mirror.svol.storage)
        .and_then(|s| s.volume(mirror.svol.serial))
        .and_then(|v| v.block(block))
        .is_some_and(|v| v >= w)
}

/// While `mirror` is in PAIR at its PVOL's end, how many acknowledged writes (`(block,
/// version)`) its SVOL lacks: none for [`SYNC_ACKED`], at most one for [`SEMI_SYNC_WINDOW`]
/// (the transfer a semi-sync host does not wait for). 0 outside PAIR.
pub fn acked_missing(
    fab: &Fabric,
    mirror: MirrorId,
    acked: impl IntoIterator<Item = (u64, WriteId)>,
) -> usize {
    let in_pair = fab
        .system(mirror.pvol.storage)
        .is_some_and(|p| p.state(mirror) == PairState::Pair);
    if !in_pair {
        return 0;
    }
    acked
        .into_iter()
        .filter(|&write| !on_svol(fab, mirror, write))
        .count()
}

/// [`FENCE_AT_ACK`], judged the moment sync write `write` (`(block, version)`) of `mirror`'s
/// PVOL is acknowledged: it is on the SVOL; or the mirror is in COPY at its PVOL's end (a
/// resync carries writes in order and answers the host at once); or the fence level is
/// `continue` and the mirror is suspended (the write waits in the bitmap). Fence `refuse`
/// fails a write it cannot get to the SVOL: judging while the pair is in PAIR only would
/// miss a fault that suspends it and a resync that later repairs the SVOL.
pub fn ack_allowed(fab: &Fabric, mirror: MirrorId, write: (u64, WriteId), fence: Fence) -> bool {
    let state = fab
        .system(mirror.pvol.storage)
        .map_or(PairState::Simplex, |p| p.state(mirror));
    on_svol(fab, mirror, write)
        || state == PairState::Copy
        || (fence == Fence::Continue && state == PairState::SuspendedError)
}

/// Whether volumes `a` and `b` exist and hold the same content: [`NOCOPY_REFUSED_DIFFERENT`]
/// for the two volumes of a refused no-copy create.
pub fn identical(fab: &Fabric, a: VolumeId, b: VolumeId) -> bool {
    matches!((digest(fab, a), digest(fab, b)), (Some(x), Some(y)) if x == y)
}

/// Whether volume `v` holds content `d` ([`RESYNC_DIRECTION`]).
pub fn holds(fab: &Fabric, v: VolumeId, d: Digest) -> bool {
    digest(fab, v) == Some(d)
}

/// [`NOCOPY_IDENTICAL`] when a no-copy create completes, [`RESYNC_EQUAL`] when a resync
/// does: `m`'s SVOL reads as its PVOL outside the chunks the PVOL's end still holds pending
/// or has on the link (what a finished copy promises in every mode: the ordered modes hold
/// nothing pending then; a periodic or adaptive copy ends with a delta set, and writes after
/// it wait in the bitmap, or, adaptive, leave at once).
pub fn copy_whole(fab: &Fabric, m: MirrorId) -> bool {
    copy_whole_landed(fab, m, [])
}

/// [`copy_whole`] judged once the ordered writes of `m` still in flight (`in_flight`, the
/// messages on the link to the SVOL's system, oldest first) have landed. A copy completes
/// at its source once every chunk is acknowledged; writes the copy carried in order after
/// its last chunk (a host writing the PVOL during the COPY, Fig 12's 106a) may still be on
/// the FIFO link then, ahead of the "copy complete" that puts the SVOL's end in PAIR, so the
/// SVOL cannot lack them once that end is in PAIR. Judged at the source's completion without
/// them, the promise would be judged too early (the checker's two-chunk window found it).
pub fn copy_whole_landed<'a>(
    fab: &Fabric,
    m: MirrorId,
    in_flight: impl IntoIterator<Item = &'a Message>,
) -> bool {
    let Some(mut svol) = fab
        .system(m.svol.storage)
        .and_then(|s| s.volume(m.svol.serial))
        .cloned()
    else {
        return false;
    };
    for msg in in_flight {
        if let Message::Write {
            mirror,
            write,
            first,
            count,
            ..
        } = msg
        {
            if *mirror == m {
                svol.write(*first, *count, *write);
            }
        }
    }
    fab.system(m.pvol.storage)
        .is_some_and(|p| p.copy_whole(m, &svol))
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
