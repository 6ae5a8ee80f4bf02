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
    /// The version this write gives the blocks it covers (drivers number writes in order).
    pub id: WriteId,
    /// The volume written, on this system.
    pub volume: VolumeSerial,
    /// Byte offset in the volume.
    pub offset: u64,
    /// Bytes written.
    pub len: u64,
}

/// Administrator commands (HORCM verbs), already resolved to mirror ids.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// paircreate, issued to the PVOL's system.
    Create {
        /// The mirror to create.
        mirror: MirrorId,
        /// Its copy mode and tunables.
        options: PairOptions,
        /// `--nocopy` (Fig 12): PAIR at once, refused unless the volumes are identical.
        nocopy: bool,
    },
    /// pairsplit (one mirror or `--atomic`), issued to the plan's root system.
    ///
    /// `Done` means every named mirror split at one point of the write stream. `Refused`
    /// (a hop suspended, deleted or unreachable while the split travelled, a mirror on a
    /// secondary not in PAIR) means no such guarantee: mirrors already split stay split (the
    /// root splits its own at once and cannot wait for the secondaries' answer), so resync
    /// them and split again.
    Split {
        /// Which mirrors split on which system, and the forward routes (Fig 10 step 1100).
        plan: SplitPlan,
    },
    /// pairresync, issued to the PVOL's system.
    Resync {
        /// The mirror to resync.
        mirror: MirrorId,
        /// `--restore`: copy SVOL -> PVOL instead.
        restore: bool,
    },
    /// pairdelete, issued to the PVOL's system.
    Delete {
        /// The mirror to delete (both ends go SMPL).
        mirror: MirrorId,
    },
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
    /// A host attached to this system writes.
    Write(HostWrite),
    /// A message from a peer system arrives.
    Deliver {
        /// The sending system.
        from: StorageSerial,
        /// The path it came by.
        via: Transport,
        /// What it says.
        msg: Message,
    },
    /// The administrator issues a command here; its answer is `Done` or `Refused` with `id`.
    Command {
        /// Names the command in its answer.
        id: CommandId,
        /// What to do.
        command: Command,
    },
    /// A timer this system asked for (`Output::SetTimer`) fires.
    Timer(Timer),
    /// The replication link to a peer failed (or lost a message, which a link layer treats
    /// the same way); in-flight messages are gone.
    LinkDown(StorageSerial),
    /// The replication link to a peer is back; suspended pairs wait for a resync.
    LinkUp(StorageSerial),
    /// This system restarts after a crash: tables and volumes survive, in-flight state not.
    /// Its remote pairs go SUSPENDED_ERROR and the peers it can reach are told.
    Restart,
}

/// What the system asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Output {
    /// Send `msg` to system `to` over `via`.
    Send {
        /// The receiving system.
        to: StorageSerial,
        /// The path to use.
        via: Transport,
        /// The message.
        msg: Message,
    },
    /// Acknowledge the host write: it is as durable as its mirrors' modes promise.
    AckWrite(WriteId),
    /// Fail the host write, with why (e.g. a fenced sync mirror that cannot reach its SVOL).
    FailWrite(WriteId, Refusal),
    /// The command finished as asked.
    Done(CommandId),
    /// The command was refused or failed, with why.
    Refused(CommandId, Refusal),
    /// Fire `timer` at this system after `after_ns` (replacing one already set).
    SetTimer {
        /// Which timer.
        timer: Timer,
        /// Delay in simulated nanoseconds.
        after_ns: u64,
    },
    /// A pair state changed here (emitted only by `StorageSystem::set_state`).
    StateChanged {
        /// The mirror.
        mirror: MirrorId,
        /// The state before.
        from: PairState,
        /// The state now.
        to: PairState,
    },
    /// Every write to the mirror's PVOL up to `upto` is now on its SVOL.
    Replicated {
        /// The mirror.
        mirror: MirrorId,
        /// The newest write now on the SVOL.
        upto: WriteId,
    },
}
