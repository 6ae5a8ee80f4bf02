//! The state machine's interface: its settings ([`ProtocolConfig`]), what can happen to a
//! storage system ([`Input`]: host writes, administrator commands, timers, link events) and
//! what it asks its driver to do ([`Output`]).

use super::{Message, Mutant, Transport};
use crate::ids::{CommandId, MirrorId, StorageSerial, VolumeSerial, WriteId};
use crate::table::{PairOptions, PairState, Refusal};
use crate::topology::SplitPlan;

/// System-wide settings of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProtocolConfig {
    /// How an atomic split travels to the secondary (Fig 11 remark on steps 1140/1230).
    pub split_transport: Transport,
    /// In-system copy speed, bytes per second (local initial copy and resync).
    pub local_copy_bytes_per_sec: u64,
    /// A deliberate bug to run with (see `mutant.rs` for where each acts); `None` in earnest.
    pub mutant: Option<Mutant>,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        ProtocolConfig {
            split_transport: Transport::Interconnect,
            local_copy_bytes_per_sec: 2_000_000_000,
            mutant: None,
        }
    }
}

/// A write from a host attached to this system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostWrite {
    pub id: WriteId,
    pub volume: VolumeSerial,
    pub offset: u64,
    pub len: u64,
}

/// Administrator commands (HORCM verbs), already resolved to mirror ids.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// paircreate, issued to the PVOL's system.
    Create {
        mirror: MirrorId,
        options: PairOptions,
        nocopy: bool,
    },
    /// pairsplit (one mirror or `--atomic`), issued to the plan's root system.
    ///
    /// `Done` means every named mirror split at one point of the write stream. `Refused`
    /// (a hop suspended, deleted or unreachable while the split travelled, a mirror on a
    /// secondary not in PAIR) means no such guarantee: mirrors already split stay split (the
    /// root splits its own at once and cannot wait for the secondaries' answer), so resync
    /// them and split again.
    Split { plan: SplitPlan },
    /// pairresync, issued to the PVOL's system.
    Resync { mirror: MirrorId, restore: bool },
    /// pairdelete, issued to the PVOL's system.
    Delete { mirror: MirrorId },
    /// The standby host takes over the SVOLs of this (secondary) system.
    Takeover,
}

/// Timers the protocol asks its driver for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// Periodic mode: close the current cycle (delta set) and send it.
    Cycle(MirrorId),
    /// Adaptive mode: start a copy pass over the pending bitmap.
    Pass(MirrorId),
    /// Local mirror: copy the next window of chunks in-system.
    LocalCopy(MirrorId),
}

/// Everything that can happen to a storage system.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    Write(HostWrite),
    Deliver {
        from: StorageSerial,
        via: Transport,
        msg: Message,
    },
    Command {
        id: CommandId,
        command: Command,
    },
    Timer(Timer),
    /// The replication link to a peer failed (or lost a message, which a link layer treats
    /// the same way); in-flight messages are gone.
    LinkDown(StorageSerial),
    LinkUp(StorageSerial),
    /// This system restarts after a crash: tables and volumes survive, in-flight state not.
    /// Its remote pairs go SUSPENDED_ERROR and the peers it can reach are told.
    Restart,
}

/// What the system asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Output {
    Send {
        to: StorageSerial,
        via: Transport,
        msg: Message,
    },
    AckWrite(WriteId),
    FailWrite(WriteId, Refusal),
    Done(CommandId),
    Refused(CommandId, Refusal),
    SetTimer {
        timer: Timer,
        after_ns: u64,
    },
    StateChanged {
        mirror: MirrorId,
        from: PairState,
        to: PairState,
    },
    /// Every write to the mirror's PVOL up to `upto` is now on its SVOL.
    Replicated {
        mirror: MirrorId,
        upto: WriteId,
    },
}
