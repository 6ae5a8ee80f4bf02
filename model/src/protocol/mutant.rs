//! Deliberately broken protocols ([`Mutant`]), kept so tests can show the model checker
//! catches each, and every place one changes what the protocol does: the hot paths ask the
//! predicates below (`self.config.mutant_skips_*()`), so each deliberate bug is read here.
//! `no-atomic` acts before the protocol, where `crate::command` resolves `pairsplit
//! --atomic` into one split command per mirror.

use super::{ProtocolConfig, StorageSystem};
use crate::ids::MirrorId;
use crate::table::Fence;
use crate::volume::Digest;

/// Deliberately broken protocols, kept so tests can show the model checker catches each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mutant {
    /// Each mirror of an atomic split is split by its own command (see [`crate::command`]).
    NoAtomic,
    /// The split is forwarded on the host network without waiting for copy data in flight.
    NoDrain,
    /// Sync mirrors do not inhibit host I/O during an atomic split (Fig 10 step 1120 skipped).
    NoInhibit,
    /// `paircreate --nocopy` does not check the volumes are identical.
    NocopyUnchecked,
    /// A sync mirror with fence `refuse` acknowledges the writes a fault left waiting, as
    /// fence `continue` does.
    FenceIgnored,
    /// A semi-sync mirror admits the next write before the previous transfer is acknowledged.
    SemiSyncWindow,
    /// `pairresync --restore` of a local mirror copies PVOL -> SVOL, as a forward resync does.
    RestoreWrongWay,
    /// `paircreate --nocopy` starts with a full bitmap: it copies the whole volume.
    NocopyFullCopy,
    /// `paircreate --nocopy` compares the SVOL with the volume feeding the PVOL (the PVOL of
    /// the local mirror whose SVOL it is) instead of the PVOL itself.
    NocopyWrongVolumes,
    /// An adaptive flush before a split forwarded on the host network waits only for the
    /// chunks in flight when the split was issued, not for the whole flush.
    AdaptiveDrainEarly,
    /// A resync of a local mirror copies the chunks of the PVOL's bitmap only, not those the
    /// SVOL's bitmap holds (writes to the split SVOL are left in place).
    ResyncOneBitmap,
    /// A forward resync of a remote mirror copies the chunks of the PVOL's bitmap only, not
    /// those the secondary sends back (writes to the split remote SVOL are left in place).
    ResyncRemoteOneBitmap,
}

impl Mutant {
    pub(crate) const ALL: [Mutant; 12] = [
        Mutant::NoAtomic,
        Mutant::NoDrain,
        Mutant::NoInhibit,
        Mutant::NocopyUnchecked,
        Mutant::FenceIgnored,
        Mutant::SemiSyncWindow,
        Mutant::RestoreWrongWay,
        Mutant::NocopyFullCopy,
        Mutant::NocopyWrongVolumes,
        Mutant::AdaptiveDrainEarly,
        Mutant::ResyncOneBitmap,
        Mutant::ResyncRemoteOneBitmap,
    ];

    /// The name `--mutant` and `[protocol] mutant` take.
    pub fn name(self) -> &'static str {
        match self {
            Mutant::NoAtomic => "no-atomic",
            Mutant::NoDrain => "no-drain",
            Mutant::NoInhibit => "no-inhibit",
            Mutant::NocopyUnchecked => "nocopy-unchecked",
            Mutant::FenceIgnored => "fence-ignored",
            Mutant::SemiSyncWindow => "semi-sync-window",
            Mutant::RestoreWrongWay => "restore-wrong-way",
            Mutant::NocopyFullCopy => "nocopy-full-copy",
            Mutant::NocopyWrongVolumes => "nocopy-wrong-volumes",
            Mutant::AdaptiveDrainEarly => "adaptive-drain-early",
            Mutant::ResyncOneBitmap => "resync-one-bitmap",
            Mutant::ResyncRemoteOneBitmap => "resync-remote-one-bitmap",
        }
    }
}

impl std::str::FromStr for Mutant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Mutant::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
                format!("expected a mutant ({}), found {s:?}", names.join(", "))
            })
    }
}

/// The mutants' effects, one predicate each: true only under that mutant.
impl ProtocolConfig {
    /// `paircreate --nocopy` pairs volumes without checking they are identical (Fig 12), at
    /// a local mirror's system and at a remote mirror's secondary ([`Mutant::NocopyUnchecked`]).
    #[inline]
    pub(super) fn mutant_skips_nocopy_check(&self) -> bool {
        self.mutant == Some(Mutant::NocopyUnchecked)
    }

    /// An atomic split through a sync mirror does not inhibit host I/O (Fig 10 step 1120
    /// skipped: [`Mutant::NoInhibit`]).
    #[inline]
    pub(super) fn mutant_skips_inhibit(&self) -> bool {
        self.mutant == Some(Mutant::NoInhibit)
    }

    /// A split forwarded on the host network leaves without waiting for the copy data sent
    /// before it to be acknowledged (Fig 11 step 1220 skipped: [`Mutant::NoDrain`]).
    #[inline]
    pub(super) fn mutant_skips_drain(&self) -> bool {
        self.mutant == Some(Mutant::NoDrain)
    }
}

impl ProtocolConfig {
    /// The fence level a fault answers the writes waiting on a sync mirror with: `fence`, or
    /// `continue` whatever it is under [`Mutant::FenceIgnored`].
    #[inline]
    pub(super) fn mutant_fence(&self, fence: Fence) -> Fence {
        match self.mutant {
            Some(Mutant::FenceIgnored) => Fence::Continue,
            _ => fence,
        }
    }

    /// A semi-sync mirror does not hold the next host write while a transfer is
    /// unacknowledged ([`Mutant::SemiSyncWindow`]).
    #[inline]
    pub(super) fn mutant_skips_semi_sync_hold(&self) -> bool {
        self.mutant == Some(Mutant::SemiSyncWindow)
    }

    /// A local restore copies PVOL -> SVOL ([`Mutant::RestoreWrongWay`]).
    #[inline]
    pub(super) fn mutant_restores_forward(&self) -> bool {
        self.mutant == Some(Mutant::RestoreWrongWay)
    }

    /// `paircreate --nocopy` copies the whole volume ([`Mutant::NocopyFullCopy`]).
    #[inline]
    pub(super) fn mutant_nocopy_copies(&self) -> bool {
        self.mutant == Some(Mutant::NocopyFullCopy)
    }

    /// An adaptive split drain waits only for the seq taken at the split command
    /// ([`Mutant::AdaptiveDrainEarly`]).
    #[inline]
    pub(super) fn mutant_drains_adaptive_early(&self) -> bool {
        self.mutant == Some(Mutant::AdaptiveDrainEarly)
    }

    /// A local resync leaves the SVOL's bitmap out ([`Mutant::ResyncOneBitmap`]).
    #[inline]
    pub(super) fn mutant_skips_svol_bitmap(&self) -> bool {
        self.mutant == Some(Mutant::ResyncOneBitmap)
    }

    /// A remote forward resync leaves the secondary's bitmap out
    /// ([`Mutant::ResyncRemoteOneBitmap`]).
    #[inline]
    pub(super) fn mutant_skips_peer_bitmap(&self) -> bool {
        self.mutant == Some(Mutant::ResyncRemoteOneBitmap)
    }
}

impl StorageSystem {
    /// The digest a no-copy `paircreate` of `mirror` compares the SVOL with: `digest`, the
    /// PVOL's, or under [`Mutant::NocopyWrongVolumes`] that of the volume mirrored onto the
    /// PVOL here (105a for 106a), when there is one.
    pub(super) fn nocopy_digest(&self, mirror: MirrorId, digest: Digest) -> Digest {
        if self.config.mutant != Some(Mutant::NocopyWrongVolumes) {
            return digest;
        }
        self.pairs
            .values()
            .find(|p| p.mirror.svol == mirror.pvol)
            .and_then(|p| self.volumes.get(&p.mirror.pvol.serial))
            .map_or(digest, |v| v.digest())
    }
}
