//! The copy management table of Fig 6, pair states, copy modes and the command-acceptance
//! matrix (which verb each pair state accepts, and why not otherwise).

use crate::bitmap::PendingBitmap;
use crate::ids::{StorageSerial, VolumeId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Fig 6 "Copy Type" (610).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CopyType {
    /// Both volumes in one storage system (an in-system copy).
    Local,
    /// The volumes in two storage systems, joined by a replication link.
    Remote,
}

/// Fig 6 "Mirror Status" (650), with HORCM's names; `SuspendedError` is a split caused by a
/// fault rather than a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PairState {
    /// No pair: the volume is on its own (a deleted pair ends here).
    Simplex,
    /// The initial copy or a resync is running.
    Copy,
    /// The SVOL follows the PVOL by the copy mode.
    Pair,
    /// Split by a command: both volumes writable, differences tracked in the bitmap.
    Split,
    /// Split by a fault (link, crash, full journal): differences tracked, resync needed.
    SuspendedError,
}

/// How a remote mirror moves host writes (ARCHITECTURE.md "Copy modes").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CopyMode {
    /// The host is acknowledged once the SVOL has the write.
    Sync,
    /// The host is acknowledged at once; its next write waits for the remote acknowledgement.
    SemiSync,
    /// Writes are journalled and sent in order; the host never waits (unless the journal is full).
    Async,
    /// Writes go to the bitmap; a cycle timer sends the delta set whole.
    Periodic,
    /// Writes go to the bitmap; a pass timer copies it in address order.
    Adaptive,
}

/// What a full async journal does to the next write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFull {
    /// Hold host writes until the journal drains (host latency grows, nothing is lost).
    Throttle,
    /// Suspend the pair (SUSPENDED_ERROR) and track writes in the bitmap.
    Suspend,
}

/// What a sync mirror does with a write it cannot get to the SVOL (link down).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fence {
    /// Fail the host write: the SVOL never lags an acknowledged write.
    Refuse,
    /// Suspend the pair, acknowledge, and track the write in the bitmap.
    Continue,
}

/// How the protocol resumes an async mirror after an atomic split held its writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AsyncResume {
    /// The seed's Fig 11: writes during the split go to the pending bitmap (1200) and are
    /// copied in address order afterwards (1250); the remote SVOL is not a prefix meanwhile.
    Bitmap,
    /// Writes during the split stay in the ordered journal: the SVOL stays a prefix.
    Journal,
}

/// When an adaptive mirror sends its pending chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdaptivePass {
    /// The seed: pending data is copied "while the storage system is idle" (Fig 10 remark on
    /// step 1110b). A pass starts as soon as a chunk is dirty and none is under way, each
    /// acknowledgement sends the next chunks its window allows, and a pass that ends starts
    /// the next at once while chunks are dirty: the copier is self-clocked by the link.
    Idle,
    /// A pass starts every `period_ns` (the scenario's `pass` key) over what is dirty then.
    Timer,
}

/// Per-mirror settings, fixed at paircreate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PairOptions {
    /// How writes reach the SVOL.
    pub mode: CopyMode,
    /// Pending-bitmap granularity in bytes, a multiple of [`crate::volume::BLOCK_BYTES`].
    pub chunk_bytes: u64,
    /// Async: journal capacity in bytes.
    pub journal_bytes: u64,
    /// Async: what a full journal does.
    pub on_full: OnFull,
    /// Sync: what a write that cannot reach the SVOL does.
    pub fence: Fence,
    /// Periodic: cycle length; adaptive with [`AdaptivePass::Timer`]: pass interval.
    pub period_ns: u64,
    /// Adaptive: when a pass starts.
    pub pass: AdaptivePass,
    /// Bitmap-driven copies keep at most this many bytes unacknowledged on the link.
    pub window_bytes: u64,
    /// Async: how writes held by an atomic split are sent afterwards.
    pub resume: AsyncResume,
}

impl Default for PairOptions {
    fn default() -> Self {
        PairOptions {
            mode: CopyMode::Sync,
            chunk_bytes: 8192,
            journal_bytes: 8 << 30,
            on_full: OnFull::Throttle,
            fence: Fence::Refuse,
            period_ns: 30_000_000_000,
            pass: AdaptivePass::Idle,
            window_bytes: 16 << 20,
            resume: AsyncResume::Journal,
        }
    }
}

impl PairOptions {
    /// The defaults with copy mode `mode`.
    pub fn with_mode(mode: CopyMode) -> Self {
        PairOptions {
            mode,
            ..Default::default()
        }
    }
}

/// The verbs a pair state accepts or refuses (HORCM-style).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Verb {
    /// paircreate.
    Create,
    /// pairsplit.
    Split,
    /// pairresync.
    Resync,
    /// pairdelete.
    Delete,
}

/// Why a command or write was not carried out, in words a storage administrator uses.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Refusal {
    /// The acceptance matrix says no.
    State {
        /// The verb refused.
        verb: Verb,
        /// The pair state that refuses it.
        state: PairState,
    },
    /// The named volume does not exist on this system.
    NoSuchVolume(VolumeId),
    /// A no-copy create on volumes whose content differs (`invariants::NOCOPY_IDENTICAL`).
    NotIdentical,
    /// The two volumes of a paircreate differ in size.
    SizeMismatch,
    /// The volume is the SVOL of a pair in COPY or PAIR (or SUSPENDED_ERROR before a
    /// takeover): only the mirror may write it.
    SvolProtected(VolumeId),
    /// A write beyond the end of the volume.
    OutOfRange(VolumeId),
    /// The remote system cannot be reached (link down).
    Unreachable(StorageSerial),
    /// An atomic split must be forwarded over the remote mirror to this SVOL (Fig 10 step
    /// 1140), which is not in PAIR (e.g. suspended because its journal filled), so the
    /// indirect mirrors behind it cannot be split at the same point. (The SVOL, not the whole
    /// mirror id, keeps in-flight records at 64 bytes.)
    ForwardNotPaired {
        /// The SVOL of the remote mirror the split must cross.
        svol: VolumeId,
        /// That mirror's state.
        state: PairState,
    },
    /// A sync mirror with fence `refuse` could not reach its SVOL.
    Fenced(VolumeId),
    /// Another atomic split is in progress on this system (or the async catch-up after one).
    Busy,
    /// The chunk size is not a positive multiple of the block size.
    BadChunk,
    /// The PVOL is being restored from its SVOL (`pairresync --restore`).
    Restoring(VolumeId),
    /// The command names a mirror this system does not hold.
    UnknownMirror,
    /// The pair was deleted while the command waited for it (paircreate or pairresync still
    /// copying when pairdelete ran).
    Deleted,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::State { verb, state } => f.write_str(acceptance_reason(*verb, *state)),
            Refusal::NoSuchVolume(v) => write!(f, "volume {v} does not exist"),
            Refusal::NotIdentical => f.write_str(
                "no-copy create refused: the two volumes do not hold identical data \
                 (split them atomically first, or create with a full copy)",
            ),
            Refusal::SizeMismatch => f.write_str("the two volumes differ in size"),
            Refusal::SvolProtected(v) => write!(
                f,
                "volume {v} is the SVOL of a mirror that is not split (COPY, PAIR, or SUSPENDED_ERROR \
                 before a takeover) and only the mirror writes it (split the pair, or take over, to use it)"
            ),
            Refusal::OutOfRange(v) => write!(f, "write past the end of volume {v}"),
            Refusal::Unreachable(s) => write!(f, "storage system {s} cannot be reached"),
            Refusal::ForwardNotPaired { svol, state } => write!(
                f,
                "the split must be forwarded over the remote mirror to {svol}, which is \
                 {state}, not PAIR (resync it first: its SVOL does not hold the point to split at)"
            ),
            Refusal::Fenced(v) => write!(
                f,
                "sync mirror of {v} cannot reach its SVOL and its fence level refuses writes"
            ),
            Refusal::Busy => f.write_str(
                "another atomic split is in progress on this system, or an async mirror it goes \
                 through is still copying the writes the last split held (try again when done)",
            ),
            Refusal::BadChunk => f.write_str("chunk size must be a positive multiple of 4KiB"),
            Refusal::Restoring(v) => write!(
                f,
                "volume {v} is being restored from its SVOL (pairresync --restore) and takes no host writes"
            ),
            Refusal::UnknownMirror => f.write_str("no such mirror on this storage system"),
            Refusal::Deleted => {
                f.write_str("the pair was deleted (pairdelete) before the command completed")
            }
        }
    }
}

/// The acceptance matrix: `None` when `verb` is accepted in `state`, else why not.
pub fn refusal(verb: Verb, state: PairState) -> Option<Refusal> {
    use PairState::*;
    let ok = match verb {
        Verb::Create => state == Simplex,
        Verb::Split => matches!(state, Pair),
        Verb::Resync => matches!(state, Split | SuspendedError),
        Verb::Delete => state != Simplex,
    };
    (!ok).then_some(Refusal::State { verb, state })
}

fn acceptance_reason(verb: Verb, state: PairState) -> &'static str {
    use PairState::*;
    match (verb, state) {
        (Verb::Create, _) => "paircreate refused: the volume is already paired (pairdelete it first)",
        (Verb::Split, Simplex) => "pairsplit refused: the volume is not paired",
        (Verb::Split, Copy) => {
            "pairsplit refused: the pair is still copying and the SVOL is not yet consistent (wait for PAIR)"
        }
        (Verb::Split, Split) => "pairsplit refused: the pair is already split",
        (Verb::Split, SuspendedError) => {
            "pairsplit refused: the pair is suspended by an error and already diverging (pairresync it first)"
        }
        (Verb::Resync, Simplex) => "pairresync refused: the volume is not paired (paircreate it)",
        (Verb::Resync, Copy) => "pairresync refused: the pair is already copying",
        (Verb::Resync, Pair) => "pairresync refused: the pair is already in sync",
        (Verb::Delete, Simplex) => "pairdelete refused: the volume is not paired",
        _ => "accepted",
    }
}

/// One row of Fig 6: the copy management table a volume holds for one mirror.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyTable {
    /// The volume holding this row.
    pub volume: VolumeId,
    /// Fig 6 610: local or remote.
    pub copy_type: CopyType,
    /// Fig 6 620: the system holding the paired volume (itself for a local copy).
    pub pair_system: StorageSerial,
    /// Fig 6 630: the paired volume.
    pub mirror_volume: VolumeId,
    /// Fig 6 640.
    pub primary: bool,
    /// Fig 6 650.
    pub status: PairState,
    /// Fig 6 660.
    pub pending: PendingBitmap,
    /// The copy mode of a remote mirror (`None` for a local one).
    pub mode: Option<CopyMode>,
    /// The bitmap's chunk size in bytes.
    pub chunk_bytes: u64,
}

impl fmt::Display for PairState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PairState::Simplex => "SIMPLEX",
            PairState::Copy => "COPY",
            PairState::Pair => "PAIR",
            PairState::Split => "SPLIT",
            PairState::SuspendedError => "SUSPENDED_ERROR",
        })
    }
}

impl fmt::Display for CopyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CopyMode::Sync => "sync",
            CopyMode::SemiSync => "semi-sync",
            CopyMode::Async => "async",
            CopyMode::Periodic => "periodic",
            CopyMode::Adaptive => "adaptive",
        })
    }
}

impl CopyMode {
    /// Every mode, in the order reports list them.
    pub const ALL: [CopyMode; 5] = [
        CopyMode::Sync,
        CopyMode::SemiSync,
        CopyMode::Async,
        CopyMode::Periodic,
        CopyMode::Adaptive,
    ];
}

impl FromStr for CopyMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CopyMode::ALL
            .into_iter()
            .find(|m| m.to_string() == s)
            .ok_or_else(|| {
                format!("expected a copy mode (sync, semi-sync, async, periodic, adaptive), found {s:?}")
            })
    }
}

impl fmt::Display for CopyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CopyType::Local => "Local Copy",
            CopyType::Remote => "Remote Copy",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [PairState; 5] = [
        PairState::Simplex,
        PairState::Copy,
        PairState::Pair,
        PairState::Split,
        PairState::SuspendedError,
    ];

    /// Every state x verb pair, spelled out: the table is the specification.
    #[test]
    fn acceptance_matrix() {
        use PairState::*;
        #[rustfmt::skip]
        let table: [(Verb, [bool; 5]); 4] = [
            //                     SIMPLEX COPY   PAIR   SPLIT  SUSP_ERR
            (Verb::Create, [true,  false, false, false, false]),
            (Verb::Split,  [false, false, true,  false, false]),
            (Verb::Resync, [false, false, false, true,  true ]),
            (Verb::Delete, [false, true,  true,  true,  true ]),
        ];
        for (verb, row) in table {
            for (state, accepted) in STATES.into_iter().zip(row) {
                let r = refusal(verb, state);
                assert_eq!(r.is_none(), accepted, "{verb:?} in {state}");
                if let Some(r) = r {
                    let msg = r.to_string();
                    assert!(msg.contains("refused"), "{verb:?} in {state}: {msg}");
                    assert_ne!(msg, "accepted");
                }
            }
        }
        assert!(refusal(Verb::Split, Copy)
            .unwrap()
            .to_string()
            .contains("still copying"));
    }

    #[test]
    fn copy_modes_round_trip() {
        for m in CopyMode::ALL {
            assert_eq!(m.to_string().parse::<CopyMode>().unwrap(), m);
        }
        assert!("fast"
            .parse::<CopyMode>()
            .unwrap_err()
            .contains("expected a copy mode"));
    }
}
