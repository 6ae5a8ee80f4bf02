//! The replication protocol of one storage system, as a sans-IO state machine.
//!
//! [`StorageSystem::handle`] takes one [`Input`] (a host write, a message from a peer, an
//! administrator's command, a timer, a link event) and appends [`Output`]s (send a message,
//! acknowledge or fail a host write, finish a command, set a timer). There is no clock and no
//! I/O here: the model checker and the simulator are two drivers of this same code, so what is
//! checked is what is simulated. This is the only place a pair state changes
//! ([`StorageSystem::set_state`]).
//!
//! Data path, per copy mode of a remote mirror in PAIR (DESIGN.md "Copy modes"):
//! sync / semi-sync / async send each write in order on the interconnect (`Message::Write`);
//! periodic closes a cycle from the pending bitmap on a timer and sends it whole;
//! adaptive copies the pending bitmap in address order once per pass timer. Initial copy and
//! resync are the same bitmap copier. The receiving end acknowledges every sequenced message
//! it applied (cumulatively); an end that has suspended the pair acknowledges nothing, so the
//! sender never counts lost data as replicated.

use crate::bitmap::PendingBitmap;
use crate::flatmap::FlatMap;
use crate::ids::{CommandId, MirrorId, StorageSerial, VolumeId, VolumeSerial, WriteId};
use crate::table::{
    refusal, AsyncResume, CopyMode, CopyTable, CopyType, Fence, OnFull, PairOptions, PairState,
    Refusal, Verb,
};
use crate::topology::SplitPlan;
use crate::volume::{blocks_of, Digest, Volume, BLOCK_BYTES};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Bytes of header on every message: counted as control traffic, apart from data.
pub const HEADER_BYTES: u64 = 64;

/// Which path a message takes between two storage systems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    /// The replication link (Fig 1 path 150): FIFO with the copy data.
    Interconnect,
    /// Host agents on the host network (Fig 11 remark): not FIFO with the copy data.
    HostNetwork,
}

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
}

impl Mutant {
    pub const ALL: [Mutant; 4] = [
        Mutant::NoAtomic,
        Mutant::NoDrain,
        Mutant::NoInhibit,
        Mutant::NocopyUnchecked,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mutant::NoAtomic => "no-atomic",
            Mutant::NoDrain => "no-drain",
            Mutant::NoInhibit => "no-inhibit",
            Mutant::NocopyUnchecked => "nocopy-unchecked",
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
                format!(
                    "expected a mutant (no-atomic, no-drain, no-inhibit, nocopy-unchecked), found {s:?}"
                )
            })
    }
}

/// System-wide settings of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProtocolConfig {
    /// How an atomic split travels to the secondary (Fig 11 remark on steps 1140/1230).
    pub split_transport: Transport,
    /// In-system copy speed, bytes per second (local initial copy and resync).
    pub local_copy_bytes_per_sec: u64,
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

/// An atomic split is named by its root system and the command that started it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SplitId {
    pub root: StorageSerial,
    pub command: CommandId,
}

/// Marker messages sequenced with the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MarkKind {
    /// Periodic: the cycle sent before this marker is whole; apply it.
    CycleEnd,
    /// Adaptive: a pass is over; every write up to `upto` is on the SVOL.
    PassEnd,
    /// The remote mirror itself is split here.
    Split,
}

/// Messages between storage systems.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Message {
    /// An ordered write (sync, semi-sync, async): blocks `first..first + count` get `write`.
    Write {
        mirror: MirrorId,
        seq: u64,
        write: WriteId,
        first: u64,
        count: u64,
        bytes: u64,
    },
    /// A whole chunk copied from the bitmap: blocks `first..end` read as `blocks`, so it
    /// carries `(end - first) * BLOCK_BYTES` bytes of data.
    ///
    /// A boxed slice and no byte count, to keep every message at 64 bytes: messages are moved
    /// through queues many times per simulated write, and this was the largest variant.
    Chunk {
        mirror: MirrorId,
        seq: u64,
        first: u64,
        end: u64,
        blocks: Box<[(u64, WriteId)]>,
        /// Part of a periodic cycle: buffer until the cycle is whole.
        cycle: bool,
    },
    Mark {
        mirror: MirrorId,
        seq: u64,
        kind: MarkKind,
        upto: WriteId,
    },
    /// Cumulative acknowledgement of every sequenced message up to `seq`.
    Ack {
        mirror: MirrorId,
        seq: u64,
    },
    /// An atomic split forwarded through remote mirror `mirror` (Fig 10 1140, Fig 11 1230).
    Forward {
        mirror: MirrorId,
        seq: u64,
        split: SplitId,
        plan: Box<SplitPlan>,
    },
    /// The secondary split its part (Fig 10 1150, Fig 11 1240).
    SplitDone {
        split: SplitId,
        mirror: MirrorId,
        refused: Option<Refusal>,
    },
    Create {
        mirror: MirrorId,
        /// Boxed, as `Forward`'s plan and `nocopy`: messages are moved through queues many
        /// times per simulated write, and these rare fields would make every message larger
        /// than the 64 bytes of a write.
        options: Box<PairOptions>,
        size: u64,
        origin: u64,
        /// No-copy (Fig 12): the PVOL's digest when the command ran.
        nocopy: Option<Box<Digest>>,
        /// The incarnation of the pair at the primary (see [`Pair::epoch`]).
        epoch: u64,
    },
    CreateReply {
        mirror: MirrorId,
        refused: Option<Refusal>,
        epoch: u64,
    },
    Resync {
        mirror: MirrorId,
        restore: bool,
        runs: Vec<(u64, u64)>,
        epoch: u64,
        /// Which resync of the pair this is (see [`Pair::copy_gen`]).
        copy: u64,
    },
    /// The secondary's answer to a forward resync: its bitmap, or why it refuses.
    ResyncBitmap {
        mirror: MirrorId,
        runs: Vec<(u64, u64)>,
        refused: Option<Refusal>,
        copy: u64,
    },
    /// The copy is complete; the pair is in PAIR.
    CopyComplete {
        mirror: MirrorId,
        upto: WriteId,
        copy: u64,
    },
    /// One end suspended the pair (the primary's journal filled; the secondary restarted or
    /// its standby host took over): the other end suspends it too.
    Suspend {
        mirror: MirrorId,
        /// The sender's [`Pair::copy_gen`] when it suspended: a notice older than the copy
        /// the receiver has since asked for is stale.
        copy: u64,
    },
    Delete {
        mirror: MirrorId,
    },
}

impl Message {
    /// Payload bytes (write data or chunk data).
    pub fn data_bytes(&self) -> u64 {
        match self {
            Message::Write { bytes, .. } => *bytes,
            Message::Chunk { first, end, .. } => (end - first) * BLOCK_BYTES,
            _ => 0,
        }
    }

    /// Header and metadata bytes.
    pub fn control_bytes(&self) -> u64 {
        match self {
            Message::Resync { runs, .. } | Message::ResyncBitmap { runs, .. } => {
                HEADER_BYTES + 16 * runs.len() as u64
            }
            _ => HEADER_BYTES,
        }
    }

    pub fn mirror(&self) -> MirrorId {
        match self {
            Message::Write { mirror, .. }
            | Message::Chunk { mirror, .. }
            | Message::Mark { mirror, .. }
            | Message::Ack { mirror, .. }
            | Message::Forward { mirror, .. }
            | Message::SplitDone { mirror, .. }
            | Message::Create { mirror, .. }
            | Message::CreateReply { mirror, .. }
            | Message::Resync { mirror, .. }
            | Message::ResyncBitmap { mirror, .. }
            | Message::CopyComplete { mirror, .. }
            | Message::Suspend { mirror, .. }
            | Message::Delete { mirror } => *mirror,
        }
    }
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

/// Which end(s) of a mirror this system holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Primary,
    Secondary,
    /// Both volumes are here (a local mirror).
    Local,
}

/// A sequenced message not yet acknowledged.
///
/// Kept small (64 bytes), as one is queued and dequeued per replicated write: its blocks stay
/// blocks, turned into chunks only in the rare event of a loss, which spares every send two
/// divisions; the rare periodic cycle is boxed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct InFlight {
    seq: u64,
    data_bytes: u64,
    /// Blocks `first..end` the message carries (none for a mark), whose chunks are marked
    /// pending again if it is lost.
    blocks: (u64, u64),
    /// A sync write whose host waits for this acknowledgement.
    sync_write: Option<WriteId>,
    is_write: bool,
    /// Periodic end-of-cycle mark: the cycle's chunks, pending again if the mark is lost
    /// (its chunks may be acknowledged yet unapplied at the secondary).
    cycle: Option<Box<PendingBitmap>>,
}

/// The sending end of a mirror's data stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Sender {
    next_seq: u64,
    unacked: VecDeque<InFlight>,
    unacked_data: u64,
    /// Ordered writes sent but not yet acknowledged, plus held back: the async journal.
    journal_bytes: u64,
}

/// A chunk's blocks `first..end` and the written ones among them.
type ChunkCopy = (u64, u64, Vec<(u64, WriteId)>);

/// An update to a volume's content, as it travels through mirrors.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Update {
    Write {
        first: u64,
        count: u64,
        version: WriteId,
        bytes: u64,
    },
    Replace {
        first: u64,
        end: u64,
        blocks: Vec<(u64, WriteId)>,
    },
}

impl Update {
    fn blocks(&self) -> (u64, u64) {
        match self {
            Update::Write { first, count, .. } => (*first, first + count),
            Update::Replace { first, end, .. } => (*first, *end),
        }
    }
}

/// One mirror as this system holds it: the Fig 6 tables of its volume(s) here plus the
/// copy machinery.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pair {
    pub mirror: MirrorId,
    pub role: Role,
    pub options: PairOptions,
    pub state: PairState,
    /// The pending bitmap of this system's end (the PVOL's for a local mirror).
    pub pending: PendingBitmap,
    /// A local mirror's SVOL-side bitmap.
    pub svol_pending: PendingBitmap,
    /// The current COPY runs SVOL -> PVOL (`pairresync --restore`).
    pub restore: bool,
    tx: Sender,
    /// Bitmap copier position (address order); `None` when idle.
    cursor: Option<u64>,
    /// Start over at chunk 0 until the bitmap is empty (initial copy, resync, catch-up).
    wrap: bool,
    /// Newest write id on this system's volume of the pair, for `Replicated` reports.
    last_write: WriteId,
    pass_upto: WriteId,
    /// A copy that ends with a delta set ([`Pair::copy_ends_with_delta`]) has sent it: the
    /// SVOL is whole as of this write once the delta is acknowledged, and writes since wait
    /// in the bitmap for the first cycle or pass in PAIR.
    closing: Option<WriteId>,
    /// Fig 11 step 1200 (seed variant): writes go to the bitmap during an atomic split.
    diverting: bool,
    /// Writes are journaled but held during an atomic split (ordered variant, host network).
    paused: bool,
    backlog: VecDeque<(Update, WriteId)>,
    /// Secondary, periodic: the cycle being received.
    rx_cycle: Vec<ChunkCopy>,
    /// The command waiting for this pair to reach PAIR (create, resync).
    command: Option<CommandId>,
    /// Primary in COPY: the secondary has not answered the create or sent its bitmap yet,
    /// so the copy cannot be complete whatever this end's bitmap says. Holds the state to
    /// go back to if the secondary refuses.
    awaiting_peer: Option<PairState>,
    /// Secondary: the standby host took over ([`Command::Takeover`]); a SUSPENDED_ERROR SVOL
    /// is writable only then.
    taken_over: bool,
    /// Which copy of the pair is running (0: the initial one, then one more per resync,
    /// numbered by the primary): a resync a fault aborted may still have its last messages
    /// in flight, and the next resync must not take them for its own (a stale "copy
    /// complete" would end a restore before its chunks arrive).
    pub copy_gen: u64,
    /// Which paircreate made this pair (numbered by the primary): a mirror deleted and
    /// created again while replies to the old one are in flight must not take them for its
    /// own (a stale "no-copy accepted" would pair volumes that differ).
    pub epoch: u64,
}

impl Pair {
    fn new(mirror: MirrorId, role: Role, options: PairOptions, state: PairState) -> Self {
        Pair {
            mirror,
            role,
            options,
            state,
            pending: PendingBitmap::new(),
            svol_pending: PendingBitmap::new(),
            restore: false,
            tx: Sender::default(),
            cursor: None,
            wrap: false,
            last_write: WriteId(0),
            pass_upto: WriteId(0),
            closing: None,
            diverting: false,
            paused: false,
            backlog: VecDeque::new(),
            rx_cycle: Vec::new(),
            command: None,
            awaiting_peer: None,
            taken_over: false,
            copy_gen: 0,
            epoch: 0,
        }
    }

    pub fn chunk_blocks(&self) -> u64 {
        self.options.chunk_bytes / BLOCK_BYTES
    }

    /// Chunks covering blocks `first..end`.
    fn chunks_of(&self, (first, end): (u64, u64)) -> (u64, u64) {
        let cb = self.chunk_blocks();
        (first / cb, end.div_ceil(cb).max(first / cb + 1))
    }

    /// Marks the chunks of blocks `first..end` pending; an empty range (a mark's) marks none.
    fn mark_pending(&mut self, blocks: (u64, u64)) {
        if blocks.0 < blocks.1 {
            let chunks = self.chunks_of(blocks);
            self.pending.set_range(chunks.0, chunks.1);
        }
    }

    fn peer(&self) -> StorageSerial {
        match self.role {
            Role::Primary => self.mirror.svol.storage,
            Role::Secondary | Role::Local => self.mirror.pvol.storage,
        }
    }

    /// This system's volume of a remote pair (both ends' PVOL for a local one).
    fn my_volume(&self) -> VolumeSerial {
        match self.role {
            Role::Secondary => self.mirror.svol.serial,
            Role::Primary | Role::Local => self.mirror.pvol.serial,
        }
    }

    /// True when a copy (initial copy, resync) of this pair ends with one delta set rather
    /// than by walking the bitmap until it is empty: a remote periodic or adaptive pair copying
    /// forwards. Those modes hold writes made during the copy in the bitmap (they are not
    /// carried in order, as the ordered modes carry them), so under a steady write stream the
    /// bitmap is never empty at the instant the walk ends, and a copy that waited for that
    /// never reached PAIR. Instead the walk goes over the volume once, and the chunks written
    /// meanwhile close as a cycle (a snapshot applied whole at the secondary) just ahead of
    /// `CopyComplete`: the SVOL then equals the PVOL as of that close.
    fn copy_ends_with_delta(&self) -> bool {
        self.role == Role::Primary
            && !self.restore
            && matches!(self.options.mode, CopyMode::Periodic | CopyMode::Adaptive)
    }

    /// True when the copier sends from here: normally the PVOL end, the SVOL end in restore.
    fn is_source(&self) -> bool {
        match self.role {
            Role::Primary => !self.restore,
            Role::Secondary => self.restore,
            Role::Local => true,
        }
    }

    /// Whether the mirror owns its SVOL, so no host and no other mirror may write it: in
    /// COPY and PAIR, and in SUSPENDED_ERROR too until a takeover (HORCM: an SVOL suspended
    /// by a fault stays write-protected; only `horctakeover` makes it writable, SSWS). Only
    /// a split (SPLIT, by command) hands the SVOL to the auxiliary host.
    pub fn owns_svol(&self) -> bool {
        match self.state {
            PairState::Copy | PairState::Pair => true,
            PairState::SuspendedError => !self.taken_over,
            PairState::Simplex | PairState::Split => false,
        }
    }

    /// An async mirror still copying, from its bitmap, the writes an earlier atomic split
    /// held (Fig 11 step 1250): those bits are older than any new split point, yet a new
    /// split would divert its own writes into the same bitmap and could no longer tell them
    /// apart, so a new atomic split through this mirror waits until the copy is done.
    fn catching_up(&self) -> bool {
        self.options.mode == CopyMode::Async && (!self.pending.is_empty() || self.cursor.is_some())
    }

    /// Bytes of ordered writes not yet on the SVOL (the async journal's fill).
    pub fn journal_bytes(&self) -> u64 {
        self.tx.journal_bytes
    }

    /// Sequenced messages sent and not yet acknowledged.
    pub fn unacked(&self) -> usize {
        self.tx.unacked.len()
    }

    /// Bytes still to copy for this pair to be in sync: pending chunks plus in-flight data.
    pub fn pending_bytes(&self) -> u64 {
        (self.pending.count() + self.svol_pending.count()) * self.options.chunk_bytes
            + self.tx.journal_bytes
    }

    /// Fig 6 rows for the volume(s) of this pair held here.
    pub fn tables(&self, me: StorageSerial) -> Vec<CopyTable> {
        let copy_type = if self.mirror.is_local() {
            CopyType::Local
        } else {
            CopyType::Remote
        };
        let row =
            |volume: VolumeId, other: VolumeId, primary: bool, pending: &PendingBitmap| CopyTable {
                volume,
                copy_type,
                pair_system: if self.mirror.is_local() {
                    me
                } else {
                    other.storage
                },
                mirror_volume: other,
                primary,
                status: self.state,
                pending: pending.clone(),
                mode: (!self.mirror.is_local()).then_some(self.options.mode),
                chunk_bytes: self.options.chunk_bytes,
            };
        let (p, s) = (self.mirror.pvol, self.mirror.svol);
        match self.role {
            Role::Primary => vec![row(p, s, true, &self.pending)],
            Role::Secondary => vec![row(s, p, false, &self.pending)],
            Role::Local => vec![
                row(p, s, true, &self.pending),
                row(s, p, false, &self.svol_pending),
            ],
        }
    }

    /// [`StorageSystem::discard`] for this pair.
    fn discards(&mut self, (first, end): (u64, u64)) -> bool {
        // (Which end is the source is no guide here: a restore aborted by a fault has
        // already turned the direction back.)
        if matches!(self.state, PairState::Pair | PairState::Copy) {
            return false;
        }
        self.mark_pending((first, end));
        true
    }

    /// Sends an update as a sequenced message on the interconnect. (On the pair, not the
    /// system: the caller holds the pair already, and this is on every write's path.)
    fn send_update(&mut self, update: &Update, sync_write: Option<WriteId>, out: &mut Vec<Output>) {
        let seq = self.tx.next_seq + 1;
        let (msg, is_write) = match update {
            Update::Write {
                first,
                count,
                version,
                bytes,
            } => (
                Message::Write {
                    mirror: self.mirror,
                    seq,
                    write: *version,
                    first: *first,
                    count: *count,
                    bytes: *bytes,
                },
                true,
            ),
            Update::Replace { first, end, blocks } => (
                Message::Chunk {
                    mirror: self.mirror,
                    seq,
                    first: *first,
                    end: *end,
                    blocks: blocks.as_slice().into(),
                    cycle: false,
                },
                false,
            ),
        };
        let data = msg.data_bytes();
        if is_write {
            self.tx.journal_bytes += data;
        }
        self.send_sequenced(msg, update.blocks(), sync_write, is_write, out);
    }

    fn send_sequenced(
        &mut self,
        msg: Message,
        blocks: (u64, u64),
        sync_write: Option<WriteId>,
        is_write: bool,
        out: &mut Vec<Output>,
    ) {
        self.tx.next_seq += 1;
        let data_bytes = msg.data_bytes();
        self.tx.unacked_data += data_bytes;
        self.tx.unacked.push_back(InFlight {
            seq: self.tx.next_seq,
            data_bytes,
            blocks,
            sync_write,
            is_write,
            cycle: None,
        });
        out.push(Output::Send {
            to: self.peer(),
            via: Transport::Interconnect,
            msg,
        });
    }
}

/// An atomic split in progress on this system.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SplitOp {
    id: SplitId,
    /// Who forwarded it here; `None` on the root, which reports to `command`.
    parent: Option<(StorageSerial, Transport, MirrorId)>,
    forwards: Vec<Forwarding>,
    inhibited: bool,
    refused: Option<Refusal>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Forwarding {
    via: MirrorId,
    plan: SplitPlan,
    /// Everything sent on `via` up to this sequence number predates the split.
    drain_seq: u64,
    sent: bool,
    done: bool,
}

/// One storage system: its volumes, the mirrors it holds, and the protocol state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StorageSystem {
    serial: StorageSerial,
    config: ProtocolConfig,
    volumes: FlatMap<VolumeSerial, Volume>,
    pairs: FlatMap<MirrorId, Pair>,
    links_down: BTreeSet<StorageSerial>,
    /// Host writes waiting to be admitted (I/O inhibit, semi-sync, journal throttle), in order.
    held: VecDeque<HostWrite>,
    /// Atomic splits holding host I/O (Fig 10 step 1120).
    inhibit: u32,
    splits: Vec<SplitOp>,
    /// Sync writes waiting for this many remote acknowledgements.
    sync_waits: BTreeMap<WriteId, u32>,
    /// paircreate commands run here, numbering the pairs' incarnations ([`Pair::epoch`]).
    epochs: u64,
}

impl StorageSystem {
    pub fn new(serial: StorageSerial, config: ProtocolConfig) -> Self {
        StorageSystem {
            serial,
            config,
            volumes: FlatMap::new(),
            pairs: FlatMap::new(),
            links_down: BTreeSet::new(),
            held: VecDeque::new(),
            inhibit: 0,
            splits: Vec::new(),
            sync_waits: BTreeMap::new(),
            epochs: 0,
        }
    }

    pub fn serial(&self) -> StorageSerial {
        self.serial
    }

    pub fn config(&self) -> &ProtocolConfig {
        &self.config
    }

    pub fn add_volume(&mut self, serial: VolumeSerial, volume: Volume) {
        self.volumes.insert(serial, volume);
    }

    /// Installs a mirror that was created and synchronized before the study began (PAIR).
    /// Call on both systems of a remote mirror; the driver guarantees the volumes match.
    pub fn install_pair(&mut self, mirror: MirrorId, options: PairOptions) {
        let role = self.role_of(mirror);
        self.pairs
            .insert(mirror, Pair::new(mirror, role, options, PairState::Pair));
    }

    /// Arms the timers of installed pairs; call once before the first input.
    pub fn start(&mut self, out: &mut Vec<Output>) {
        let mirrors: Vec<MirrorId> = self.pairs.keys().copied().collect();
        for m in mirrors {
            self.arm_mode_timer(m, out);
        }
    }

    pub fn volume(&self, serial: VolumeSerial) -> Option<&Volume> {
        self.volumes.get(&serial)
    }

    pub fn volumes(&self) -> impl Iterator<Item = (VolumeSerial, &Volume)> {
        self.volumes.iter().map(|(&s, v)| (s, v))
    }

    /// Whether `svol` reads as the PVOL of mirror `m` (a volume of this system) outside the
    /// chunks this end still holds pending: what a finished copy (resync, no-copy create)
    /// promises in every mode (`Volume::same_outside`). The checker and the simulator both
    /// judge a finished copy by this.
    pub fn copy_whole(&self, m: MirrorId, svol: &Volume) -> bool {
        let Some(pvol) = self.volume(m.pvol.serial) else {
            return false;
        };
        match self.pair(m) {
            Some(p) => pvol.same_outside(svol, &p.pending, p.chunk_blocks()),
            None => pvol.digest() == svol.digest(),
        }
    }

    pub fn pair(&self, mirror: MirrorId) -> Option<&Pair> {
        self.pairs.get(&mirror)
    }

    pub fn pairs(&self) -> impl Iterator<Item = &Pair> {
        self.pairs.values()
    }

    /// Pair state of `mirror` as this system sees it (SIMPLEX when it holds no table).
    pub fn state(&self, mirror: MirrorId) -> PairState {
        self.pairs
            .get(&mirror)
            .map_or(PairState::Simplex, |p| p.state)
    }

    /// Every Fig 6 table this system holds.
    pub fn tables(&self) -> Vec<CopyTable> {
        self.pairs
            .values()
            .flat_map(|p| p.tables(self.serial))
            .collect()
    }

    /// Host writes waiting to be admitted.
    pub fn held_writes(&self) -> usize {
        self.held.len()
    }

    /// True while an atomic split holds host I/O on this system.
    pub fn inhibited(&self) -> bool {
        self.inhibit > 0
    }

    /// True while an atomic split is in progress here.
    pub fn splitting(&self) -> bool {
        !self.splits.is_empty()
    }

    fn role_of(&self, mirror: MirrorId) -> Role {
        if mirror.is_local() {
            Role::Local
        } else if mirror.pvol.storage == self.serial {
            Role::Primary
        } else {
            Role::Secondary
        }
    }

    /// The one entry point: applies `input` and appends what the driver must do to `out`.
    pub fn handle(&mut self, input: Input, out: &mut Vec<Output>) {
        match input {
            Input::Write(w) => {
                if self.held.is_empty() && !self.blocked(&w) {
                    self.admit(w, out);
                } else {
                    self.held.push_back(w);
                }
            }
            Input::Deliver { from, via, msg } => self.deliver(from, via, msg, out),
            Input::Command { id, command } => self.command(id, command, out),
            Input::Timer(t) => self.timer(t, out),
            Input::LinkDown(peer) => {
                self.links_down.insert(peer);
                self.lose_peer(peer, out);
            }
            Input::LinkUp(peer) => {
                self.links_down.remove(&peer);
            }
            Input::Restart => {
                let peers: BTreeSet<StorageSerial> = self
                    .pairs
                    .values()
                    .filter(|p| p.role != Role::Local)
                    .map(|p| p.peer())
                    .collect();
                let active: Vec<MirrorId> = self
                    .pairs
                    .values()
                    .filter(|p| p.role != Role::Local)
                    .filter(|p| matches!(p.state, PairState::Pair | PairState::Copy))
                    .map(|p| p.mirror)
                    .collect();
                for peer in peers {
                    self.lose_peer(peer, out);
                }
                // The peers may not have lost the link: tell them the pairs are suspended.
                self.notify_suspended(&active, out);
                for w in std::mem::take(&mut self.held) {
                    out.push(Output::FailWrite(w.id, Refusal::Unreachable(self.serial)));
                }
            }
        }
        self.progress_splits(out);
        self.admit_held(out);
    }

    // ----- pair state: the one place it changes -----

    fn set_state(&mut self, mirror: MirrorId, to: PairState, out: &mut Vec<Output>) {
        let Some(p) = self.pairs.get_mut(&mirror) else {
            return;
        };
        let from = p.state;
        if from == to {
            return;
        }
        p.state = to;
        if to != PairState::SuspendedError {
            p.taken_over = false;
        }
        if to != PairState::Copy {
            p.restore = false;
            p.cursor = None;
            p.awaiting_peer = None;
        }
        out.push(Output::StateChanged { mirror, from, to });
        if to == PairState::Simplex {
            self.pairs.remove(&mirror);
        }
    }

    // ----- host writes -----

    /// Whether `w` must wait: I/O inhibited, semi-sync transfer outstanding, journal full.
    fn blocked(&self, w: &HostWrite) -> bool {
        if self.inhibit > 0 {
            return true;
        }
        self.pairs_of_pvol(w.volume).any(|p| {
            if p.role != Role::Primary || p.state != PairState::Pair || p.diverting {
                return false;
            }
            match p.options.mode {
                CopyMode::SemiSync => p.tx.unacked.iter().any(|f| f.is_write),
                CopyMode::Async => {
                    p.options.on_full == OnFull::Throttle
                        && p.tx.journal_bytes > 0
                        && p.tx.journal_bytes + w.len > p.options.journal_bytes
                }
                _ => false,
            }
        })
    }

    fn admit_held(&mut self, out: &mut Vec<Output>) {
        while let Some(w) = self.held.front() {
            if self.blocked(w) {
                return;
            }
            let w = self.held.pop_front().expect("front exists");
            self.admit(w, out);
        }
    }

    /// The pairs whose PVOL is `vol` here, in mirror order. A scan, not a B-tree range: a
    /// system holds a handful of pairs, the range descent cost more than the scan on every
    /// host write, and the callers scan every pair anyway.
    fn pairs_of_pvol(&self, vol: VolumeSerial) -> impl Iterator<Item = &Pair> {
        let pvol = VolumeId {
            storage: self.serial,
            serial: vol,
        };
        self.pairs.values().filter(move |p| p.mirror.pvol == pvol)
    }

    /// Why a host may not write `w` at all, if so.
    fn write_refusal(&self, w: &HostWrite) -> Option<Refusal> {
        let id = VolumeId {
            storage: self.serial,
            serial: w.volume,
        };
        let Some(v) = self.volumes.get(&w.volume) else {
            return Some(Refusal::NoSuchVolume(id));
        };
        if w.offset.checked_add(w.len).is_none_or(|end| end > v.size) {
            return Some(Refusal::OutOfRange(id));
        }
        for p in self.pairs.values() {
            let svol_here = p.mirror.svol == id;
            if svol_here && p.owns_svol() {
                return Some(Refusal::SvolProtected(id));
            }
            if p.mirror.pvol == id && p.state == PairState::Copy && p.restore {
                return Some(Refusal::Restoring(id));
            }
            if p.mirror.pvol == id
                && p.role == Role::Primary
                && p.options.mode == CopyMode::Sync
                && p.options.fence == Fence::Refuse
                && p.state == PairState::SuspendedError
            {
                return Some(Refusal::Fenced(id));
            }
        }
        None
    }

    fn admit(&mut self, w: HostWrite, out: &mut Vec<Output>) {
        if let Some(r) = self.write_refusal(&w) {
            out.push(Output::FailWrite(w.id, r));
            return;
        }
        let (first, count) = blocks_of(w.offset, w.len);
        let update = Update::Write {
            first,
            count,
            version: w.id,
            bytes: w.len,
        };
        let waits = self.write_volume(w.volume, &update, Some(w.id), None, out);
        if waits == 0 {
            out.push(Output::AckWrite(w.id));
        } else {
            self.sync_waits.insert(w.id, waits);
        }
    }

    /// Applies `update` to volume `vol` and carries it into every mirror whose PVOL it is.
    /// Returns how many sync acknowledgements the host write (if any) must wait for.
    fn write_volume(
        &mut self,
        vol: VolumeSerial,
        update: &Update,
        host: Option<WriteId>,
        from: Option<MirrorId>,
        out: &mut Vec<Output>,
    ) -> u32 {
        let Some(v) = self.volumes.get_mut(&vol) else {
            return 0;
        };
        match update {
            Update::Write {
                first,
                count,
                version,
                ..
            } => v.write(*first, *count, *version),
            Update::Replace { first, end, blocks } => v.replace_range(*first, *end, blocks),
        }
        // A change to a split SVOL (auxiliary host, standby after takeover, a restore of a
        // cascaded mirror, a second mirror such as ORA_R2 feeding 106b while ORA_RL is split)
        // is recorded in that end's bitmap (Fig 6 660), so the mirror's resync undoes it.
        let id = VolumeId {
            storage: self.serial,
            serial: vol,
        };
        for p in self.pairs.values_mut() {
            if p.mirror.svol == id && Some(p.mirror) != from {
                let chunks = p.chunks_of(update.blocks());
                match p.role {
                    Role::Local => p.svol_pending.set_range(chunks.0, chunks.1),
                    _ => p.pending.set_range(chunks.0, chunks.1),
                }
            }
        }
        // The mirrors fed, walked by position since `carry` needs `&mut self`: neither it nor
        // anything it calls adds or removes a pair, so positions hold. (Gathering their ids
        // first cost every simulated write as much again as the walk.)
        let mut waits = 0;
        for i in 0..self.pairs.len() {
            let p = self.pairs.value_at(i);
            if p.mirror.pvol == id && Some(p.mirror) != from && p.role != Role::Secondary {
                waits += self.carry(i, update, host, out);
            }
        }
        waits
    }

    /// Carries an update of a PVOL into one of its mirrors (the `i`th pair), by state and
    /// copy mode.
    fn carry(
        &mut self,
        i: usize,
        update: &Update,
        host: Option<WriteId>,
        out: &mut Vec<Output>,
    ) -> u32 {
        let p = self.pairs.value_at_mut(i);
        let m = p.mirror;
        if let Update::Write { version, .. } = update {
            p.last_write = p.last_write.max(*version);
        }
        // A remote COPY (initial copy, resync) whose secondary has agreed carries writes in
        // order, like PAIR, rather than back into the bitmap: under a steady write stream the
        // bitmap would be re-dirtied faster than chunks are acknowledged and the copy would
        // never reach PAIR. Safe on the FIFO interconnect: a chunk copied before the write
        // arrives before it, a chunk copied after it reads the PVOL with the write in.
        if p.state == PairState::Copy
            && p.role == Role::Primary
            && !p.restore
            && p.awaiting_peer.is_none()
            && matches!(
                p.options.mode,
                CopyMode::Sync | CopyMode::SemiSync | CopyMode::Async
            )
        {
            p.send_update(update, None, out);
            return 0;
        }
        // Its chunks are worked out only where it goes to the bitmap (`mark_pending`): two
        // divisions the ordered modes, which send the write itself, need not wait for.
        if p.state != PairState::Pair || p.diverting {
            p.mark_pending(update.blocks());
            return 0;
        }
        if p.role == Role::Local {
            // In-system copy of a PAIR is immediate.
            self.write_volume(m.svol.serial, update, None, Some(m), out);
            return 0;
        }
        match p.options.mode {
            CopyMode::Periodic | CopyMode::Adaptive => {
                p.mark_pending(update.blocks());
                0
            }
            CopyMode::Sync | CopyMode::SemiSync | CopyMode::Async => {
                let sync = p.options.mode == CopyMode::Sync && host.is_some();
                let bytes = update_bytes(update, p.options.chunk_bytes);
                if p.options.mode == CopyMode::Async
                    && p.options.on_full == OnFull::Suspend
                    && p.tx.journal_bytes + bytes > p.options.journal_bytes
                {
                    p.mark_pending(update.blocks());
                    self.suspend(m, out);
                    return 0;
                }
                if p.paused {
                    p.tx.journal_bytes += bytes;
                    p.backlog
                        .push_back((update.clone(), host.unwrap_or(WriteId(0))));
                    return 0;
                }
                let w = host.unwrap_or(p.last_write);
                p.send_update(update, sync.then_some(w), out);
                u32::from(sync)
            }
        }
    }

    /// Sends an update as a sequenced message on the interconnect.
    fn send_update(
        &mut self,
        m: MirrorId,
        update: &Update,
        sync_write: Option<WriteId>,
        out: &mut Vec<Output>,
    ) {
        let p = self.pairs.get_mut(&m).expect("pair exists");
        p.send_update(update, sync_write, out);
    }

    fn send_sequenced(
        &mut self,
        m: MirrorId,
        msg: Message,
        blocks: (u64, u64),
        sync_write: Option<WriteId>,
        is_write: bool,
        out: &mut Vec<Output>,
    ) {
        let p = self.pairs.get_mut(&m).expect("pair exists");
        p.send_sequenced(msg, blocks, sync_write, is_write, out);
    }

    fn next_seq(&self, m: MirrorId) -> u64 {
        self.pairs[&m].tx.next_seq + 1
    }

    // ----- messages -----

    fn deliver(
        &mut self,
        from: StorageSerial,
        via: Transport,
        msg: Message,
        out: &mut Vec<Output>,
    ) {
        let m = msg.mirror();
        // Where the pair is, found once: a write arriving at the secondary, every other
        // message, then needs no further lookup.
        let at = self.pairs.position(&m);
        let awaiting_create =
            at.is_some_and(|i| self.pairs.value_at(i).awaiting_peer == Some(PairState::Simplex));
        if awaiting_create
            && !matches!(msg, Message::CreateReply { .. } | Message::SplitDone { .. })
        {
            // The secondary answers a create before anything else about the pair, so this is
            // left over from an incarnation deleted since (FIFO interconnect).
            return;
        }
        match msg {
            Message::Write {
                seq,
                write,
                first,
                count,
                bytes,
                ..
            } => {
                let Some(i) = at else {
                    // No table here: acknowledged, as `ack` would.
                    Self::send_ack(from, m, seq, out);
                    return;
                };
                let p = self.pairs.value_at_mut(i);
                if p.discards((first, first + count)) {
                    return;
                }
                // Past `discards`, the pair is in PAIR or COPY, so it is receiving unless it is
                // the copy's source: what `receiving` says.
                if !p.is_source() {
                    let (vol, in_pair) = (p.my_volume(), p.state == PairState::Pair);
                    let update = Update::Write {
                        first,
                        count,
                        version: write,
                        bytes,
                    };
                    self.write_volume(vol, &update, None, Some(m), out);
                    // In COPY, earlier writes may still be only in the bitmap: the prefix is
                    // whole at CopyComplete, which reports it.
                    if in_pair {
                        out.push(Output::Replicated {
                            mirror: m,
                            upto: write,
                        });
                    }
                }
                // What `ack` checks: the pair is not SUSPENDED_ERROR, it is still in PAIR or
                // COPY (`write_volume` changes only the mirrors fed by this one's SVOL).
                Self::send_ack(from, m, seq, out);
            }
            Message::Chunk {
                seq,
                first,
                end,
                blocks,
                cycle,
                ..
            } => {
                if self.discard(m, (first, end)) {
                    return;
                }
                if self.receiving(m) {
                    let p = self.pairs.get_mut(&m).expect("receiving implies a pair");
                    let blocks = blocks.into_vec();
                    if cycle {
                        p.rx_cycle.push((first, end, blocks));
                    } else {
                        let vol = p.my_volume();
                        let update = Update::Replace { first, end, blocks };
                        self.write_volume(vol, &update, None, Some(m), out);
                    }
                }
                self.ack(from, m, seq, out);
            }
            Message::Mark {
                seq, kind, upto, ..
            } => {
                if kind == MarkKind::CycleEnd && self.discard(m, (0, 0)) {
                    return;
                }
                match kind {
                    MarkKind::CycleEnd if self.receiving(m) => {
                        let p = self.pairs.get_mut(&m).expect("receiving implies a pair");
                        let vol = p.my_volume();
                        for (first, end, blocks) in std::mem::take(&mut p.rx_cycle) {
                            let update = Update::Replace { first, end, blocks };
                            self.write_volume(vol, &update, None, Some(m), out);
                        }
                        out.push(Output::Replicated { mirror: m, upto });
                    }
                    MarkKind::PassEnd if self.receiving(m) => {
                        out.push(Output::Replicated { mirror: m, upto });
                    }
                    // An end that suspended the pair meanwhile (restart, takeover) stays
                    // suspended: its SVOL missed data the split point includes.
                    MarkKind::Split
                        if matches!(self.state(m), PairState::Pair | PairState::Copy) =>
                    {
                        self.set_state(m, PairState::Split, out)
                    }
                    _ => {}
                }
                self.ack(from, m, seq, out);
            }
            Message::Ack { seq, .. } => {
                if let Some(i) = at {
                    self.on_ack(i, seq, out);
                }
            }
            Message::Forward {
                seq, split, plan, ..
            } => {
                if via == Transport::Interconnect {
                    self.ack(from, m, seq, out);
                }
                let state = self.state(m);
                if state != PairState::Pair {
                    // This end suspended the path (a restart, a takeover) before the split
                    // arrived: data sent before it may be lost, so the split must fail.
                    out.push(Output::Send {
                        to: from,
                        via,
                        msg: Message::SplitDone {
                            split,
                            mirror: m,
                            refused: Some(Refusal::State {
                                verb: Verb::Split,
                                state,
                            }),
                        },
                    });
                    return;
                }
                self.start_split(split, Some((from, via, m)), *plan, out);
            }
            Message::SplitDone { split, refused, .. } => {
                if let Some(op) = self.splits.iter_mut().find(|o| o.id == split) {
                    if let Some(f) = op.forwards.iter_mut().find(|f| f.via == m) {
                        f.done = true;
                    }
                    if op.refused.is_none() {
                        op.refused = refused;
                    }
                }
            }
            Message::Create {
                options,
                size,
                origin,
                nocopy,
                epoch,
                ..
            } => self.on_create(
                from,
                m,
                *options,
                size,
                origin,
                nocopy.map(|d| *d),
                epoch,
                out,
            ),
            Message::CreateReply { epoch, .. }
                if self.pairs.get(&m).is_none_or(|p| p.epoch != epoch) =>
            {
                // A reply to a create of a pair deleted since: not ours.
            }
            Message::CreateReply { refused, .. } => match refused {
                None => {
                    // Only while the create waits for it: a fault may have suspended the
                    // pair meanwhile and a resync be waiting for the secondary's bitmap.
                    if let Some(p) = self.pairs.get_mut(&m) {
                        if p.awaiting_peer != Some(PairState::Simplex) {
                            return;
                        }
                        p.awaiting_peer = None;
                    }
                    self.check_copy_complete(m, out)
                }
                Some(r) => {
                    let cmd = self.pairs.get(&m).and_then(|p| p.command);
                    self.set_state(m, PairState::Simplex, out);
                    if let Some(c) = cmd {
                        out.push(Output::Refused(c, r));
                    }
                }
            },
            Message::Resync {
                restore,
                runs,
                epoch,
                copy,
                ..
            } => {
                if self.pairs.get(&m).is_none_or(|p| p.epoch != epoch) {
                    // No table here (the create was lost with the link): answer, or the
                    // primary would wait in COPY for ever. It goes back to SIMPLEX.
                    // A table of an older incarnation (its pairdelete was lost with the link
                    // too) is not this pair: resyncing against it would skip the no-copy
                    // check or the full copy the primary's create asked for. It goes.
                    self.set_state(m, PairState::Simplex, out);
                    out.push(Output::Send {
                        to: from,
                        via: Transport::Interconnect,
                        msg: Message::CreateReply {
                            mirror: m,
                            refused: Some(Refusal::UnknownMirror),
                            epoch,
                        },
                    });
                    return;
                }
                // The SVOL is held here: only this end knows whether another mirror feeds
                // it (ORA_RL and ORA_R2 both end at 106b); the pair ends in PAIR feeding it,
                // restore or not.
                if let Err(r) = self.svol_free(m) {
                    out.push(Output::Send {
                        to: from,
                        via: Transport::Interconnect,
                        msg: Message::ResyncBitmap {
                            mirror: m,
                            runs: Vec::new(),
                            refused: Some(r),
                            copy,
                        },
                    });
                    return;
                }
                // Whatever this end still had unacknowledged (an aborted restore) goes back
                // to its bitmap, which the resync then copies.
                self.drop_in_flight(m, out);
                self.set_state(m, PairState::Copy, out);
                let p = self.pairs.get_mut(&m).expect("checked");
                p.restore = restore;
                p.copy_gen = copy;
                if restore {
                    p.pending.union_with(&PendingBitmap::from_runs(runs));
                    self.start_copier(m, true, out);
                } else {
                    // The bits stay set until the copy completes: if the link fails first,
                    // the next resync still knows these chunks differ.
                    let runs: Vec<(u64, u64)> = p.pending.runs().collect();
                    out.push(Output::Send {
                        to: from,
                        via: Transport::Interconnect,
                        msg: Message::ResyncBitmap {
                            mirror: m,
                            runs,
                            refused: None,
                            copy,
                        },
                    });
                }
            }
            Message::ResyncBitmap { copy, .. } | Message::CopyComplete { copy, .. }
                if self.pairs.get(&m).is_none_or(|p| p.copy_gen != copy) =>
            {
                // The answer to a resync a fault aborted: not this copy's.
            }
            Message::ResyncBitmap {
                refused: Some(r), ..
            } => {
                // The secondary refused the resync: back to where the pair was.
                let Some(back) = self.pairs.get_mut(&m).and_then(|p| p.awaiting_peer.take()) else {
                    return;
                };
                let cmd = self.pairs.get_mut(&m).and_then(|p| p.command.take());
                self.drop_in_flight(m, out);
                self.set_state(m, back, out);
                if let Some(c) = cmd {
                    out.push(Output::Refused(c, r));
                }
            }
            Message::ResyncBitmap { runs, .. } => {
                if let Some(p) = self.pairs.get_mut(&m) {
                    p.awaiting_peer = None;
                    p.pending.union_with(&PendingBitmap::from_runs(runs));
                    self.start_copier(m, true, out);
                }
            }
            Message::CopyComplete { upto, .. } => {
                // Only the receiving end of a copy hears it is complete; at the source it is
                // left over from a copy in the other direction that a fault aborted.
                if self.state(m) == PairState::Copy && !self.pairs[&m].is_source() {
                    // This end's bits went to the source at the resync's start and are all
                    // copied now.
                    if let Some(p) = self.pairs.get_mut(&m) {
                        p.pending.clear_all();
                    }
                    self.set_state(m, PairState::Pair, out);
                    if self.pairs[&m].role == Role::Secondary {
                        out.push(Output::Replicated { mirror: m, upto });
                    }
                    self.finish_command(m, out);
                }
            }
            // The peer suspended the pair before it saw the resync this end has since asked
            // for (e.g. the notice of a restart just before a `pairresync`): that resync's
            // answer decides. Acting on the stale notice refused the resync while the peer
            // went ahead into COPY alone.
            Message::Suspend { copy, .. }
                if self.pairs.get(&m).is_some_and(|p| copy < p.copy_gen) => {}
            Message::Suspend { .. } => {
                if matches!(self.state(m), PairState::Pair | PairState::Copy) {
                    // As for a lost link: what is unacknowledged goes back to the bitmap,
                    // waiting sync hosts get their fence's answer, a waiting command fails.
                    self.drop_in_flight(m, out);
                    self.set_state(m, PairState::SuspendedError, out);
                    if let Some(c) = self.pairs.get_mut(&m).and_then(|p| p.command.take()) {
                        out.push(Output::Refused(c, Refusal::Unreachable(from)));
                    }
                }
            }
            Message::Delete { .. } => self.set_state(m, PairState::Simplex, out),
        }
    }

    /// Data for `m` arriving at an end that has suspended the pair (a restart or a takeover
    /// the sender has not heard of yet) is not applied and not acknowledged: the sender must
    /// not count it as on the SVOL (a sync host would be told a lost write is safe). Its
    /// blocks `first..end` are marked pending here so the next resync copies them. The end
    /// that suspended the pair has told the sender ([`Message::Suspend`]), which drops and
    /// re-marks everything unacknowledged.
    fn discard(&mut self, m: MirrorId, blocks: (u64, u64)) -> bool {
        self.pairs.get_mut(&m).is_some_and(|p| p.discards(blocks))
    }

    /// Whether data for `m` arriving here is to be applied to this system's volume.
    fn receiving(&self, m: MirrorId) -> bool {
        self.pairs
            .get(&m)
            .is_some_and(|p| !p.is_source() && matches!(p.state, PairState::Pair | PairState::Copy))
    }

    /// Acknowledges every sequenced message of `mirror` up to `seq`, except at an end that
    /// has suspended the pair: acknowledgements are cumulative, so acknowledging a later
    /// message (a split marker, a forwarded split) would also confirm data it discarded.
    fn ack(&self, to: StorageSerial, mirror: MirrorId, seq: u64, out: &mut Vec<Output>) {
        if self.state(mirror) == PairState::SuspendedError {
            return;
        }
        Self::send_ack(to, mirror, seq, out);
    }

    fn send_ack(to: StorageSerial, mirror: MirrorId, seq: u64, out: &mut Vec<Output>) {
        out.push(Output::Send {
            to,
            via: Transport::Interconnect,
            msg: Message::Ack { mirror, seq },
        });
    }

    /// An acknowledgement for the `i`th pair.
    fn on_ack(&mut self, i: usize, seq: u64, out: &mut Vec<Output>) {
        let p = self.pairs.value_at_mut(i);
        let m = p.mirror;
        let mut acked_writes = Vec::new();
        while p.tx.unacked.front().is_some_and(|f| f.seq <= seq) {
            let f = p.tx.unacked.pop_front().expect("front exists");
            p.tx.unacked_data -= f.data_bytes;
            if f.is_write {
                p.tx.journal_bytes -= f.data_bytes;
            }
            acked_writes.extend(f.sync_write);
        }
        // As `pump` would find, with the pair at hand: an ordered mirror in PAIR with no
        // copier walk has nothing to pump, and that is nearly every acknowledgement.
        let idle = p.state == PairState::Pair && p.cursor.is_none();
        for w in acked_writes {
            self.sync_acked(w, out);
        }
        if !idle {
            self.pump(m, out);
        }
    }

    fn sync_acked(&mut self, w: WriteId, out: &mut Vec<Output>) {
        if let Some(n) = self.sync_waits.get_mut(&w) {
            *n -= 1;
            if *n == 0 {
                self.sync_waits.remove(&w);
                out.push(Output::AckWrite(w));
            }
        }
    }

    // ----- commands -----

    fn command(&mut self, id: CommandId, command: Command, out: &mut Vec<Output>) {
        let result = match command {
            Command::Create {
                mirror,
                options,
                nocopy,
            } => self.create(id, mirror, options, nocopy, out),
            Command::Split { plan } => {
                let split = SplitId {
                    root: self.serial,
                    command: id,
                };
                self.check_split(&plan).map(|()| {
                    self.start_split(split, None, plan, out);
                })
            }
            Command::Resync { mirror, restore } => self.resync(id, mirror, restore, out),
            Command::Delete { mirror } => self.delete(mirror, out).map(|()| {
                out.push(Output::Done(id));
            }),
            Command::Takeover => {
                let mirrors: Vec<MirrorId> = self
                    .pairs
                    .values()
                    .filter(|p| p.role == Role::Secondary)
                    .map(|p| p.mirror)
                    .collect();
                let mut taken = Vec::new();
                for m in mirrors {
                    if matches!(self.state(m), PairState::Pair | PairState::Copy) {
                        // A periodic cycle half received is dropped; its sender still has
                        // it unacknowledged and marks it pending on the notice below.
                        self.drop_in_flight(m, out);
                        self.set_state(m, PairState::SuspendedError, out);
                        taken.push(m);
                    }
                }
                self.notify_suspended(&taken, out);
                // Suspended by the command or earlier by a fault (the usual disaster): the
                // SVOLs are the standby host's now, writes tracked in the bitmap.
                for p in self.pairs.values_mut() {
                    if p.role == Role::Secondary && p.state == PairState::SuspendedError {
                        p.taken_over = true;
                    }
                }
                out.push(Output::Done(id));
                Ok(())
            }
        };
        if let Err(r) = result {
            out.push(Output::Refused(id, r));
        }
    }

    /// A volume takes data from one mirror at a time: refuse to start copying into `mirror`'s
    /// SVOL while another mirror in COPY or PAIR feeds it (106b of Fig 8 is the SVOL of both
    /// ORA_RL and ORA_R2, but only one of them is ever active).
    fn svol_free(&self, mirror: MirrorId) -> Result<(), Refusal> {
        self.feed_free(mirror.svol, mirror)
    }

    /// Whether `mirror` may start writing volume `target` (held here): no other mirror in
    /// COPY or PAIR feeds it, and no `pairresync --restore` is writing it.
    fn feed_free(&self, target: VolumeId, mirror: MirrorId) -> Result<(), Refusal> {
        for p in self.pairs.values().filter(|p| p.mirror != mirror) {
            if p.mirror.svol == target && p.owns_svol() {
                return Err(Refusal::SvolProtected(target));
            }
            if p.mirror.pvol == target && p.state == PairState::Copy && p.restore {
                return Err(Refusal::Restoring(target));
            }
        }
        Ok(())
    }

    fn reachable(&self, peer: StorageSerial) -> Result<(), Refusal> {
        if self.links_down.contains(&peer) {
            Err(Refusal::Unreachable(peer))
        } else {
            Ok(())
        }
    }

    fn create(
        &mut self,
        id: CommandId,
        mirror: MirrorId,
        options: PairOptions,
        nocopy: bool,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        if let Some(r) = refusal(Verb::Create, self.state(mirror)) {
            return Err(r);
        }
        self.svol_free(mirror)?;
        if options.chunk_bytes == 0 || options.chunk_bytes % BLOCK_BYTES != 0 {
            return Err(Refusal::BadChunk);
        }
        let pv = self
            .volumes
            .get(&mirror.pvol.serial)
            .ok_or(Refusal::NoSuchVolume(mirror.pvol))?;
        let (size, origin, digest) = (pv.size, pv.origin(), pv.digest());
        let unchecked = self.config.mutant == Some(Mutant::NocopyUnchecked);
        let role = self.role_of(mirror);
        if role == Role::Local {
            let sv = self
                .volumes
                .get(&mirror.svol.serial)
                .ok_or(Refusal::NoSuchVolume(mirror.svol))?;
            if sv.size != size {
                return Err(Refusal::SizeMismatch);
            }
            if nocopy && !unchecked && sv.digest() != digest {
                return Err(Refusal::NotIdentical);
            }
        } else {
            self.reachable(mirror.svol.storage)?;
        }
        let mut pair = Pair::new(mirror, role, options, PairState::Simplex);
        pair.command = Some(id);
        self.epochs += 1;
        pair.epoch = self.epochs;
        let epoch = pair.epoch;
        if !nocopy {
            pair.pending = self.full_copy_bitmap(mirror.pvol.serial, options.chunk_bytes);
            if role == Role::Local {
                let sv = self.volumes.get_mut(&mirror.svol.serial).expect("checked");
                sv.reset_to_origin(origin);
            }
        }
        self.pairs.insert(mirror, pair);
        match role {
            Role::Local if nocopy => {
                // Fig 12 steps 1300-1310: a new table, status PAIR, bitmap all zero.
                self.set_state(mirror, PairState::Pair, out);
                self.finish_command(mirror, out);
            }
            Role::Local => {
                self.set_state(mirror, PairState::Copy, out);
                self.start_copier(mirror, true, out);
            }
            _ => {
                self.set_state(mirror, PairState::Copy, out);
                self.pairs.get_mut(&mirror).expect("inserted").awaiting_peer =
                    Some(PairState::Simplex);
                out.push(Output::Send {
                    to: mirror.svol.storage,
                    via: Transport::Interconnect,
                    msg: Message::Create {
                        mirror,
                        options: Box::new(options),
                        size,
                        origin,
                        nocopy: nocopy.then(|| Box::new(digest)),
                        epoch,
                    },
                });
                if !nocopy {
                    self.start_copier(mirror, true, out);
                }
            }
        }
        self.arm_mode_timer(mirror, out);
        Ok(())
    }

    /// Chunks a full copy of `vol` sends: its used extent plus every block written since.
    fn full_copy_bitmap(&self, vol: VolumeSerial, chunk_bytes: u64) -> PendingBitmap {
        let v = &self.volumes[&vol];
        let mut b = PendingBitmap::new();
        b.set_range(0, v.used.div_ceil(chunk_bytes));
        let cb = chunk_bytes / BLOCK_BYTES;
        for (block, _) in v.blocks_in(0, u64::MAX) {
            b.set(block / cb);
        }
        b
    }

    #[allow(clippy::too_many_arguments)]
    fn on_create(
        &mut self,
        from: StorageSerial,
        mirror: MirrorId,
        options: PairOptions,
        size: u64,
        origin: u64,
        nocopy: Option<Digest>,
        epoch: u64,
        out: &mut Vec<Output>,
    ) {
        let unchecked = self.config.mutant == Some(Mutant::NocopyUnchecked);
        let refused = match self.volumes.get(&mirror.svol.serial) {
            None => Some(Refusal::NoSuchVolume(mirror.svol)),
            Some(_) if self.state(mirror) != PairState::Simplex => {
                refusal(Verb::Create, self.state(mirror))
            }
            Some(v) if v.size != size => Some(Refusal::SizeMismatch),
            Some(_) if self.svol_free(mirror).is_err() => self.svol_free(mirror).err(),
            Some(v) if nocopy.is_some_and(|d| d != v.digest() && !unchecked) => {
                Some(Refusal::NotIdentical)
            }
            Some(_) => None,
        };
        if refused.is_none() {
            let mut pair = Pair::new(mirror, Role::Secondary, options, PairState::Simplex);
            pair.epoch = epoch;
            if nocopy.is_none() {
                let v = self.volumes.get_mut(&mirror.svol.serial).expect("checked");
                v.reset_to_origin(origin);
            }
            pair.restore = false;
            self.pairs.insert(mirror, pair);
            let to = if nocopy.is_some() {
                PairState::Pair
            } else {
                PairState::Copy
            };
            self.set_state(mirror, to, out);
        }
        out.push(Output::Send {
            to: from,
            via: Transport::Interconnect,
            msg: Message::CreateReply {
                mirror,
                refused,
                epoch,
            },
        });
    }

    fn resync(
        &mut self,
        id: CommandId,
        mirror: MirrorId,
        restore: bool,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        // A mirror this system holds no table for is SIMPLEX: the matrix says why not.
        let p = self.pairs.get(&mirror).ok_or(Refusal::State {
            verb: Verb::Resync,
            state: PairState::Simplex,
        })?;
        if p.role == Role::Secondary {
            return Err(Refusal::UnknownMirror);
        }
        if let Some(r) = refusal(Verb::Resync, p.state) {
            return Err(r);
        }
        let before = p.state;
        // The pair ends in PAIR, feeding its SVOL: no other mirror may be feeding it.
        self.svol_free(mirror)?;
        if restore {
            // The restore writes the PVOL: not while another mirror feeds that volume (a
            // restore of ORA_RL would change 105b under ORA_R1 without its bitmaps knowing).
            self.feed_free(mirror.pvol, mirror)?;
        }
        if p.role == Role::Primary {
            self.reachable(mirror.svol.storage)?;
            // Whatever is still unacknowledged from before (sent to a secondary that had
            // suspended the pair, which never acknowledges it) goes back to the bitmap: the
            // resync copies it, and a sync host still waiting gets its fence's answer.
            self.drop_in_flight(mirror, out);
        }
        self.set_state(mirror, PairState::Copy, out);
        let p = self.pairs.get_mut(&mirror).expect("checked");
        p.command = Some(id);
        p.restore = restore;
        p.copy_gen += 1;
        // A forward resync copies the union of both bitmaps: wait for the secondary's (a
        // restore is driven by the secondary; either may be refused there).
        p.awaiting_peer = (p.role == Role::Primary).then_some(before);
        if p.role == Role::Local {
            let s = std::mem::take(&mut p.svol_pending);
            p.pending.union_with(&s);
            self.start_copier(mirror, true, out);
        } else {
            let runs = if restore {
                // Kept until the restore completes (as the secondary keeps its bits in a
                // forward resync): a link failure must not lose them.
                p.pending.runs().collect()
            } else {
                Vec::new()
            };
            out.push(Output::Send {
                to: mirror.svol.storage,
                via: Transport::Interconnect,
                msg: Message::Resync {
                    mirror,
                    restore,
                    runs,
                    epoch: p.epoch,
                    copy: p.copy_gen,
                },
            });
        }
        Ok(())
    }

    fn delete(&mut self, mirror: MirrorId, out: &mut Vec<Output>) -> Result<(), Refusal> {
        let p = self.pairs.get(&mirror).ok_or(Refusal::State {
            verb: Verb::Delete,
            state: PairState::Simplex,
        })?;
        if let Some(r) = refusal(Verb::Delete, p.state) {
            return Err(r);
        }
        if p.role == Role::Primary && !self.links_down.contains(&mirror.svol.storage) {
            out.push(Output::Send {
                to: mirror.svol.storage,
                via: Transport::Interconnect,
                msg: Message::Delete { mirror },
            });
        }
        // Sync writes waiting on this mirror are acknowledged: it no longer protects them.
        let waiting: Vec<WriteId> = self.pairs[&mirror]
            .tx
            .unacked
            .iter()
            .filter_map(|f| f.sync_write)
            .collect();
        // A create or resync still copying is answered: it will never reach PAIR.
        if let Some(c) = self.pairs.get_mut(&mirror).and_then(|p| p.command.take()) {
            out.push(Output::Refused(c, Refusal::Deleted));
        }
        self.set_state(mirror, PairState::Simplex, out);
        for w in waiting {
            self.sync_acked(w, out);
        }
        Ok(())
    }

    /// Reports the command that waited for `m` to reach PAIR.
    fn finish_command(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        if let Some(c) = self.pairs.get_mut(&m).and_then(|p| p.command.take()) {
            out.push(Output::Done(c));
        }
    }

    // ----- bitmap copier (initial copy, resync, adaptive passes, catch-up) -----

    fn start_copier(&mut self, m: MirrorId, wrap: bool, out: &mut Vec<Output>) {
        let p = self.pairs.get_mut(&m).expect("pair exists");
        if p.cursor.is_none() {
            p.cursor = Some(0);
        }
        p.wrap |= wrap && !(p.state == PairState::Copy && p.copy_ends_with_delta());
        if p.role == Role::Local {
            self.local_copy_step(m, out);
        } else {
            self.pump(m, out);
        }
    }

    /// Takes the next pending chunk in address order, or `None` when the walk is over.
    fn next_chunk(p: &mut Pair) -> Option<u64> {
        let cursor = p.cursor?;
        let next = p.pending.first_at_or_after(cursor).or_else(|| {
            (p.wrap && !p.pending.is_empty()).then(|| p.pending.first_at_or_after(0))?
        });
        match next {
            Some(c) => {
                p.pending.clear(c);
                p.cursor = Some(c + 1);
                Some(c)
            }
            None => {
                p.cursor = None;
                p.wrap = false;
                None
            }
        }
    }

    /// Sends pending chunks of a remote pair while its window allows.
    fn pump(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let Some(p) = self.pairs.get(&m) else {
            return;
        };
        if !p.is_source() || p.role == Role::Local {
            return;
        }
        if p.state == PairState::Pair && p.cursor.is_none() {
            // No copier walk and no copy to complete: what follows would do nothing, and
            // this is every acknowledgement of an ordered mirror in PAIR.
            return;
        }
        let was_copying = p.cursor.is_some();
        if matches!(p.state, PairState::Copy | PairState::Pair) {
            self.send_chunks(m, out);
        }
        let p = &self.pairs[&m];
        if was_copying && p.cursor.is_none() && p.state == PairState::Pair {
            // An adaptive pass (or a catch-up after an atomic split) is over.
            let upto = p.pass_upto;
            let msg = Message::Mark {
                mirror: m,
                seq: self.next_seq(m),
                kind: MarkKind::PassEnd,
                upto,
            };
            self.send_sequenced(m, msg, (0, 0), None, false, out);
        }
        self.check_copy_complete(m, out);
    }

    /// Sends pending chunks in address order until the window is full or the walk ends.
    fn send_chunks(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        loop {
            let p = self.pairs.get_mut(&m).expect("pair exists");
            if p.tx.unacked_data >= p.options.window_bytes.max(p.options.chunk_bytes) {
                return;
            }
            let Some(c) = Self::next_chunk(p) else {
                return;
            };
            let cb = p.chunk_blocks();
            let (first, end) = (c * cb, (c + 1) * cb);
            let msg = Message::Chunk {
                mirror: m,
                seq: p.tx.next_seq + 1,
                first,
                end,
                blocks: self.volumes[&p.my_volume()].blocks_in(first, end).into(),
                cycle: false,
            };
            self.send_sequenced(m, msg, (first, end), None, false, out);
        }
    }

    /// COPY -> PAIR once every chunk is copied and acknowledged (and the peer agreed).
    fn check_copy_complete(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let Some(p) = self.pairs.get(&m) else {
            return;
        };
        if p.state != PairState::Copy || !p.is_source() || p.cursor.is_some() {
            return;
        }
        // Writes during the copy dirtied chunks after the walk ended.
        let dirty = p.closing.is_none() && !p.pending.is_empty();
        if dirty && !p.copy_ends_with_delta() {
            self.start_copier(m, true, out);
            return;
        }
        if p.awaiting_peer.is_some() || p.tx.unacked.iter().any(|f| !f.is_write) {
            return;
        }
        if dirty {
            let upto = p.last_write;
            self.close_cycle(m, out);
            self.pairs.get_mut(&m).expect("pair exists").closing = Some(upto);
            return;
        }
        let p = self.pairs.get_mut(&m).expect("pair exists");
        let upto = p.closing.take().unwrap_or(p.last_write);
        let role = p.role;
        if role != Role::Local {
            out.push(Output::Send {
                to: p.peer(),
                via: Transport::Interconnect,
                msg: Message::CopyComplete {
                    mirror: m,
                    upto,
                    copy: p.copy_gen,
                },
            });
        }
        self.set_state(m, PairState::Pair, out);
        self.finish_command(m, out);
    }

    /// One step of an in-system copy: a window of chunks, then a timer for the next.
    fn local_copy_step(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let Some(p) = self.pairs.get_mut(&m) else {
            return;
        };
        if p.state != PairState::Copy {
            return;
        }
        let per_step = (p.options.window_bytes / p.options.chunk_bytes).max(1);
        let cb = p.chunk_blocks();
        let (src, dst) = if p.restore {
            (m.svol.serial, m.pvol.serial)
        } else {
            (m.pvol.serial, m.svol.serial)
        };
        let mut copied = 0;
        while copied < per_step {
            let p = self.pairs.get_mut(&m).expect("pair exists");
            let Some(c) = Self::next_chunk(p) else {
                break;
            };
            let (first, end) = (c * cb, (c + 1) * cb);
            let blocks = self.volumes[&src].blocks_in(first, end);
            let update = Update::Replace { first, end, blocks };
            self.write_volume(dst, &update, None, Some(m), out);
            copied += 1;
        }
        let p = &self.pairs[&m];
        if p.pending.is_empty() {
            self.set_state(m, PairState::Pair, out);
            self.finish_command(m, out);
        } else {
            let bytes = per_step * p.options.chunk_bytes;
            out.push(Output::SetTimer {
                timer: Timer::LocalCopy(m),
                after_ns: bytes * 1_000_000_000 / self.config.local_copy_bytes_per_sec.max(1),
            });
        }
    }

    // ----- timers -----

    fn arm_mode_timer(&self, m: MirrorId, out: &mut Vec<Output>) {
        let p = &self.pairs[&m];
        if p.role != Role::Primary {
            return;
        }
        let timer = match p.options.mode {
            CopyMode::Periodic => Timer::Cycle(m),
            CopyMode::Adaptive => Timer::Pass(m),
            _ => return,
        };
        out.push(Output::SetTimer {
            timer,
            after_ns: p.options.period_ns,
        });
    }

    fn timer(&mut self, t: Timer, out: &mut Vec<Output>) {
        match t {
            Timer::LocalCopy(m) => self.local_copy_step(m, out),
            Timer::Cycle(m) => {
                let Some(p) = self.pairs.get(&m) else {
                    return;
                };
                let idle = p.tx.unacked.is_empty();
                if p.state == PairState::Pair && !p.paused && idle {
                    self.close_cycle(m, out);
                }
                self.arm_mode_timer(m, out);
            }
            Timer::Pass(m) => {
                let Some(p) = self.pairs.get_mut(&m) else {
                    return;
                };
                if p.state == PairState::Pair && p.cursor.is_none() && !p.pending.is_empty() {
                    p.pass_upto = p.last_write;
                    self.start_copier(m, false, out);
                }
                self.arm_mode_timer(m, out);
            }
        }
    }

    /// Periodic mode: the pending chunks become one cycle (delta set), sent whole and applied
    /// at the secondary only when its end marker arrives.
    fn close_cycle(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let p = self.pairs.get_mut(&m).expect("pair exists");
        if p.pending.is_empty() {
            return;
        }
        let upto = p.last_write;
        let cb = p.chunk_blocks();
        let runs: Vec<(u64, u64)> = p.pending.runs().collect();
        let cycle = std::mem::take(&mut p.pending);
        let vol = p.my_volume();
        for (s, e) in runs {
            for c in s..e {
                let (first, end) = (c * cb, (c + 1) * cb);
                let msg = Message::Chunk {
                    mirror: m,
                    seq: self.next_seq(m),
                    first,
                    end,
                    blocks: self.volumes[&vol].blocks_in(first, end).into(),
                    cycle: true,
                };
                self.send_sequenced(m, msg, (first, end), None, false, out);
            }
        }
        let msg = Message::Mark {
            mirror: m,
            seq: self.next_seq(m),
            kind: MarkKind::CycleEnd,
            upto,
        };
        self.send_sequenced(m, msg, (0, 0), None, false, out);
        let p = self.pairs.get_mut(&m).expect("pair exists");
        if let Some(f) = p.tx.unacked.back_mut() {
            f.cycle = Some(Box::new(cycle));
        }
    }

    // ----- faults -----

    /// The journal filled with `on_full = suspend`: fall back to bitmap tracking.
    fn suspend(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let (peer, copy) = (self.pairs[&m].peer(), self.pairs[&m].copy_gen);
        self.drop_in_flight(m, out);
        self.set_state(m, PairState::SuspendedError, out);
        if !self.links_down.contains(&peer) {
            out.push(Output::Send {
                to: peer,
                via: Transport::Interconnect,
                msg: Message::Suspend { mirror: m, copy },
            });
        }
    }

    /// Tells the peer of each of `mirrors` that this end has suspended the pair (a restart
    /// or a takeover), so it stops counting on this end and tracks in its bitmap.
    fn notify_suspended(&self, mirrors: &[MirrorId], out: &mut Vec<Output>) {
        for p in mirrors.iter().filter_map(|m| self.pairs.get(m)) {
            let peer = p.peer();
            if p.state == PairState::SuspendedError && !self.links_down.contains(&peer) {
                out.push(Output::Send {
                    to: peer,
                    via: Transport::Interconnect,
                    msg: Message::Suspend {
                        mirror: p.mirror,
                        copy: p.copy_gen,
                    },
                });
            }
        }
    }

    /// Everything unacknowledged on `m` may be lost: mark it pending, release waiting hosts.
    fn drop_in_flight(&mut self, m: MirrorId, out: &mut Vec<Output>) {
        let p = self.pairs.get_mut(&m).expect("pair exists");
        let mut sync_writes = Vec::new();
        for f in std::mem::take(&mut p.tx.unacked) {
            p.mark_pending(f.blocks);
            if let Some(cycle) = &f.cycle {
                p.pending.union_with(cycle);
            }
            sync_writes.extend(f.sync_write);
        }
        for (u, _) in std::mem::take(&mut p.backlog) {
            p.mark_pending(u.blocks());
        }
        p.tx.unacked_data = 0;
        p.tx.journal_bytes = 0;
        // A cycle half received is dropped, and its chunks are pending here: the sender may
        // have had them acknowledged already (the marker is what makes the cycle whole).
        let cb = p.chunk_blocks();
        for (first, end, _) in std::mem::take(&mut p.rx_cycle) {
            p.pending.set_range(first / cb, end.div_ceil(cb));
        }
        p.cursor = None;
        p.wrap = false;
        p.closing = None;
        let fence = p.options.fence;
        for w in sync_writes {
            match fence {
                // The write is on the PVOL but not on the SVOL: the host must not be told
                // it is safe.
                Fence::Refuse => {
                    if self.sync_waits.remove(&w).is_some() {
                        out.push(Output::FailWrite(w, Refusal::Fenced(m.pvol)));
                    }
                }
                Fence::Continue => self.sync_acked(w, out),
            }
        }
    }

    fn lose_peer(&mut self, peer: StorageSerial, out: &mut Vec<Output>) {
        let mirrors: Vec<MirrorId> = self
            .pairs
            .values()
            .filter(|p| p.role != Role::Local && p.peer() == peer)
            .map(|p| p.mirror)
            .collect();
        for m in mirrors {
            self.drop_in_flight(m, out);
            if matches!(self.state(m), PairState::Pair | PairState::Copy) {
                self.set_state(m, PairState::SuspendedError, out);
            }
            if let Some(c) = self.pairs.get_mut(&m).and_then(|p| p.command.take()) {
                out.push(Output::Refused(c, Refusal::Unreachable(peer)));
            }
        }
        // Splits waiting on the lost peer cannot complete atomically.
        for op in &mut self.splits {
            for f in &mut op.forwards {
                if f.via.svol.storage == peer && !f.done {
                    f.done = true;
                    op.refused = Some(Refusal::Unreachable(peer));
                }
            }
            if op.parent.is_some_and(|(from, ..)| from == peer) {
                op.parent = None;
            }
        }
    }

    // ----- atomic split (Figs 7-11) -----

    /// The root refuses a split up front if any mirror it names here cannot be split now.
    fn check_split(&self, plan: &SplitPlan) -> Result<(), Refusal> {
        if !self.splits.is_empty() {
            return Err(Refusal::Busy);
        }
        for m in &plan.here {
            let p = self.pairs.get(m).ok_or(Refusal::State {
                verb: Verb::Split,
                state: PairState::Simplex,
            })?;
            if p.role == Role::Secondary {
                return Err(Refusal::UnknownMirror);
            }
            if let Some(r) = refusal(Verb::Split, p.state) {
                return Err(r);
            }
        }
        for (via, _) in &plan.forwards {
            let p = self.pairs.get(via).ok_or(Refusal::UnknownMirror)?;
            if p.state != PairState::Pair {
                return Err(Refusal::Unreachable(via.svol.storage));
            }
            if p.catching_up() {
                return Err(Refusal::Busy);
            }
            self.reachable(via.svol.storage)?;
        }
        Ok(())
    }

    /// Fig 10 steps 1120-1140 / Fig 11 steps 1200-1230, on the root or a forwarding system.
    fn start_split(
        &mut self,
        id: SplitId,
        parent: Option<(StorageSerial, Transport, MirrorId)>,
        plan: SplitPlan,
        out: &mut Vec<Output>,
    ) {
        let mut op = SplitOp {
            id,
            parent,
            forwards: Vec::new(),
            inhibited: false,
            refused: None,
        };
        // Hold the write stream feeding each forward path (1120 / 1200).
        for (via, sub) in plan.forwards {
            let Some(p) = self.pairs.get_mut(&via) else {
                op.refused = Some(Refusal::UnknownMirror);
                continue;
            };
            if p.state != PairState::Pair {
                // A hop that is not in PAIR (e.g. suspended by a fault further down a
                // cascade) has a stale SVOL: splitting behind it would not be atomic. The
                // root checks its own hops up front; a forwarding system checks its own here.
                op.refused.get_or_insert(Refusal::State {
                    verb: Verb::Split,
                    state: p.state,
                });
                continue;
            }
            if p.catching_up() {
                op.refused.get_or_insert(Refusal::Busy);
                continue;
            }
            match p.options.mode {
                CopyMode::Sync if self.config.mutant == Some(Mutant::NoInhibit) => {}
                CopyMode::Sync | CopyMode::SemiSync | CopyMode::Adaptive => op.inhibited = true,
                CopyMode::Async => match p.options.resume {
                    AsyncResume::Bitmap => p.diverting = true,
                    AsyncResume::Journal => {
                        p.paused = self.config.split_transport == Transport::HostNetwork
                    }
                },
                CopyMode::Periodic => p.paused = true,
            }
            let mode = p.options.mode;
            if mode == CopyMode::Periodic {
                self.close_cycle(via, out);
            }
            if mode == CopyMode::Adaptive {
                let p = self.pairs.get_mut(&via).expect("found above");
                p.pass_upto = p.last_write;
                self.start_copier(via, true, out);
            }
            op.forwards.push(Forwarding {
                via,
                plan: sub,
                drain_seq: self.pairs[&via].tx.next_seq,
                sent: false,
                done: false,
            });
        }
        if op.inhibited {
            self.inhibit += 1;
        }
        // Split the mirrors named here (1130 / 1210 / 1150 / 1240).
        for m in plan.here {
            match self.pairs.get(&m).map(|p| (p.role, p.state)) {
                Some((Role::Local, PairState::Pair)) => self.set_state(m, PairState::Split, out),
                Some((Role::Primary, PairState::Pair)) => {
                    self.set_state(m, PairState::Split, out);
                    let msg = Message::Mark {
                        mirror: m,
                        seq: self.next_seq(m),
                        kind: MarkKind::Split,
                        upto: WriteId(0),
                    };
                    self.send_sequenced(m, msg, (0, 0), None, false, out);
                }
                Some((_, state)) => {
                    op.refused.get_or_insert(Refusal::State {
                        verb: Verb::Split,
                        state,
                    });
                }
                None => {
                    op.refused.get_or_insert(Refusal::UnknownMirror);
                }
            }
        }
        self.splits.push(op);
    }

    /// Forwards splits whose data path is drained, and finishes splits whose forwards are done.
    fn progress_splits(&mut self, out: &mut Vec<Output>) {
        let mut i = 0;
        while i < self.splits.len() {
            let mut sends = Vec::new();
            {
                let op = &mut self.splits[i];
                let mut refused = None;
                for f in op.forwards.iter_mut().filter(|f| !f.done) {
                    // The path to the indirect mirrors must stay a PAIR until the secondary
                    // has split (deleted or suspended meanwhile: the data before the split
                    // may never arrive, or a resync may send data from after it first).
                    let state = self
                        .pairs
                        .get(&f.via)
                        .map_or(PairState::Simplex, |p| p.state);
                    if state != PairState::Pair {
                        f.done = true;
                        refused.get_or_insert(Refusal::State {
                            verb: Verb::Split,
                            state,
                        });
                    }
                }
                for f in op.forwards.iter_mut().filter(|f| !f.sent && !f.done) {
                    let p = &self.pairs[&f.via];
                    let flushed = p.options.mode != CopyMode::Adaptive
                        || (p.pending.is_empty() && p.cursor.is_none());
                    // Adaptive: the flush after the split command sends pre-split chunks
                    // for a while (host I/O is held meanwhile), all of which must be on the
                    // SVOL before the split; the seq taken at the command covers only the
                    // first window of them.
                    let drain_seq = if p.options.mode == CopyMode::Adaptive {
                        p.tx.next_seq
                    } else {
                        f.drain_seq
                    };
                    let drained = p.tx.unacked.front().is_none_or(|u| u.seq > drain_seq)
                        || self.config.mutant == Some(Mutant::NoDrain);
                    let ready = match self.config.split_transport {
                        Transport::Interconnect => flushed,
                        // Fig 11 step 1220: the host network is not FIFO with the data, so
                        // the split may leave only once the data before it is acknowledged.
                        Transport::HostNetwork => flushed && drained,
                    };
                    if ready {
                        f.sent = true;
                        sends.push((f.via, f.plan.clone()));
                    }
                }
                if op.refused.is_none() {
                    op.refused = refused;
                }
            }
            let split = self.splits[i].id;
            for (via, plan) in sends {
                match self.config.split_transport {
                    Transport::Interconnect => {
                        let msg = Message::Forward {
                            mirror: via,
                            seq: self.next_seq(via),
                            split,
                            plan: Box::new(plan),
                        };
                        self.send_sequenced(via, msg, (0, 0), None, false, out);
                    }
                    Transport::HostNetwork => out.push(Output::Send {
                        to: via.svol.storage,
                        via: Transport::HostNetwork,
                        msg: Message::Forward {
                            mirror: via,
                            seq: 0,
                            split,
                            plan: Box::new(plan),
                        },
                    }),
                }
            }
            if self.splits[i].forwards.iter().all(|f| f.done) {
                let op = self.splits.remove(i);
                self.finish_split(op, out);
            } else {
                i += 1;
            }
        }
    }

    /// Releases the holds (Fig 10 resume, Fig 11 step 1250) and reports completion.
    fn finish_split(&mut self, op: SplitOp, out: &mut Vec<Output>) {
        if op.inhibited {
            self.inhibit -= 1;
        }
        for f in &op.forwards {
            let Some(p) = self.pairs.get_mut(&f.via) else {
                continue;
            };
            p.paused = false;
            let backlog: Vec<(Update, WriteId)> = p.backlog.drain(..).collect();
            // As much as `carry` added for each (a chunk copied into the PVOL by a restore
            // or a cascade counts a whole chunk, not only host writes' bytes).
            for (u, _) in &backlog {
                p.tx.journal_bytes -= update_bytes(u, p.options.chunk_bytes);
            }
            if std::mem::take(&mut p.diverting) && !p.pending.is_empty() {
                // Fig 11 step 1250: copy what was held from the bitmap, in address order.
                p.pass_upto = p.last_write;
                self.start_copier(f.via, true, out);
            }
            for (u, _) in backlog {
                self.send_update(f.via, &u, None, out);
            }
        }
        match op.parent {
            Some((to, via, mirror)) => out.push(Output::Send {
                to,
                via,
                msg: Message::SplitDone {
                    split: op.id,
                    mirror,
                    refused: op.refused,
                },
            }),
            None if op.id.root == self.serial => match op.refused {
                None => out.push(Output::Done(op.id.command)),
                Some(r) => out.push(Output::Refused(op.id.command, r)),
            },
            None => {}
        }
    }
}

/// Data bytes an update puts on the link: a write's own bytes, a whole chunk otherwise.
fn update_bytes(u: &Update, chunk_bytes: u64) -> u64 {
    match u {
        Update::Write { bytes, .. } => *bytes,
        Update::Replace { first, end, .. } => ((end - first) * BLOCK_BYTES).max(chunk_bytes),
    }
}

#[cfg(test)]
mod tests {
    //! Each copy mode's data path and each fault, driven through a two-system world (the
    //! Fig 2 remote mirror ORA_R1, 105a -> 105b) one message at a time.

    use super::*;
    use crate::topology::{fig2, fig8_volumes, Topology, VolumeSpec};
    use crate::world::World;

    const CHUNK: u64 = 8192;
    const CB: u64 = CHUNK / BLOCK_BYTES;
    const SIZE: u64 = 16 * CHUNK;
    const P: StorageSerial = StorageSerial(64001);
    const S: StorageSerial = StorageSerial(64002);

    fn vols() -> (VolumeId, VolumeId) {
        let [a105, _, b105, _] = fig8_volumes();
        (a105, b105)
    }

    fn r1() -> MirrorId {
        let (a, b) = vols();
        MirrorId::new(a, b)
    }

    fn opts(mode: CopyMode) -> PairOptions {
        PairOptions {
            mode,
            chunk_bytes: CHUNK,
            ..PairOptions::default()
        }
    }

    /// ORA_R1 in PAIR between 64001 and 64002.
    fn world(o: PairOptions) -> World {
        World::new(&fig2(SIZE, o), ProtocolConfig::default())
    }

    fn same(w: &World) -> bool {
        let (a, b) = vols();
        w.volume(a).same_content(w.volume(b))
    }

    fn state(w: &World, s: StorageSerial) -> PairState {
        w.system(s).state(r1())
    }

    /// The chunk numbers of the Chunk messages in `out`, in order.
    fn chunks_sent(out: &[Output]) -> Vec<u64> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send {
                    msg: Message::Chunk { first, .. },
                    ..
                } => Some(first / CB),
                _ => None,
            })
            .collect()
    }

    fn resync(w: &mut World, restore: bool) -> Vec<Output> {
        let (id, mut out) = w.command(
            P,
            Command::Resync {
                mirror: r1(),
                restore,
            },
        );
        out.extend(w.settle(false));
        assert!(
            out.contains(&Output::Done(id)),
            "resync never done: {out:?}"
        );
        out
    }

    fn split(w: &mut World) {
        let plan = SplitPlan {
            system: Some(P),
            here: vec![r1()],
            forwards: Vec::new(),
        };
        let (id, out) = w.command(P, Command::Split { plan });
        assert!(out.contains(&Output::Done(id)), "{out:?}");
        w.settle(false);
        assert_eq!(
            (state(w, P), state(w, S)),
            (PairState::Split, PairState::Split)
        );
    }

    #[test]
    fn hot_records_keep_their_size() {
        // Moved or queued several times per simulated write: see `Message::Chunk`, `InFlight`.
        assert_eq!(std::mem::size_of::<Message>(), 64);
        assert_eq!(std::mem::size_of::<InFlight>(), 64);
    }

    #[test]
    fn sync_acknowledges_only_after_the_remote_ack() {
        let mut w = world(opts(CopyMode::Sync));
        let (a, b) = vols();
        let (id, out) = w.write(a, 0, 4096);
        assert!(
            !out.contains(&Output::AckWrite(id)),
            "acked before the SVOL has it"
        );
        let out = w.deliver_link(P, S);
        assert_eq!(w.volume(b).block(0), Some(id), "the SVOL applies the write");
        assert!(!out.contains(&Output::AckWrite(id)));
        let out = w.deliver_link(S, P);
        assert!(out.contains(&Output::AckWrite(id)), "{out:?}");
        assert!(same(&w));
    }

    #[test]
    fn semi_sync_holds_the_next_write_until_the_previous_transfer_is_acked() {
        let mut w = world(opts(CopyMode::SemiSync));
        let (a, _) = vols();
        let (w1, out) = w.write(a, 0, 4096);
        assert!(
            out.contains(&Output::AckWrite(w1)),
            "semi-sync acks at once"
        );
        let (w2, out) = w.write(a, 4096, 4096);
        assert!(out.is_empty(), "the second write waits: {out:?}");
        assert_eq!(w.system(P).held_writes(), 1);
        w.deliver_link(P, S);
        let out = w.deliver_link(S, P);
        assert!(out.contains(&Output::AckWrite(w2)), "{out:?}");
        assert!(
            out.iter().any(|o| matches!(o, Output::Send { msg: Message::Write { write, .. }, .. } if *write == w2)),
            "{out:?}"
        );
        w.settle(false);
        assert!(same(&w));
    }

    #[test]
    fn async_full_journal_throttles_the_host() {
        let mut w = world(PairOptions {
            journal_bytes: 2 * 4096,
            on_full: OnFull::Throttle,
            ..opts(CopyMode::Async)
        });
        let (a, _) = vols();
        for i in 0..2 {
            let (id, out) = w.write(a, i * 4096, 4096);
            assert!(out.contains(&Output::AckWrite(id)));
        }
        assert_eq!(w.system(P).pair(r1()).unwrap().journal_bytes(), 8192);
        let (w3, out) = w.write(a, 2 * 4096, 4096);
        assert!(
            !out.contains(&Output::AckWrite(w3)),
            "the journal is full: hold the host"
        );
        assert_eq!(w.system(P).held_writes(), 1);
        w.deliver_link(P, S);
        let out = w.deliver_link(S, P);
        assert!(out.contains(&Output::AckWrite(w3)), "room again: {out:?}");
        w.settle(false);
        assert_eq!(state(&w, P), PairState::Pair);
        assert!(same(&w));
    }

    #[test]
    fn async_full_journal_can_suspend_and_track_in_the_bitmap() {
        let mut w = world(PairOptions {
            journal_bytes: 2 * 4096,
            on_full: OnFull::Suspend,
            ..opts(CopyMode::Async)
        });
        let (a, _) = vols();
        w.write(a, 0, 4096);
        w.write(a, 4096, 4096);
        let (w3, out) = w.write(a, 5 * CHUNK, 4096);
        assert!(
            out.contains(&Output::AckWrite(w3)),
            "never hold: suspend instead"
        );
        assert_eq!(state(&w, P), PairState::SuspendedError);
        let p = w.system(P).pair(r1()).unwrap();
        // The write that did not fit and the two in flight are all pending.
        assert!(
            p.pending.contains(5) && p.pending.contains(0),
            "{:?}",
            p.pending
        );
        assert_eq!(p.journal_bytes(), 0);
        w.settle(false);
        assert_eq!(
            state(&w, S),
            PairState::SuspendedError,
            "the secondary is told"
        );
        assert!(!same(&w));
        resync(&mut w, false);
        assert!(same(&w));
    }

    #[test]
    fn periodic_applies_a_cycle_only_when_whole() {
        let mut w = world(opts(CopyMode::Periodic));
        let (a, b) = vols();
        let m = r1();
        w.write(a, 0, 4096);
        assert!(
            w.links.is_empty(),
            "periodic sends nothing until the cycle closes"
        );
        w.fire(P, Timer::Cycle(m));
        w.settle(false);
        assert!(same(&w), "cycle 1 applied");
        let cycle1 = w.volume(b).digest();
        w.write(a, 3 * CHUNK, 4096);
        w.write(a, 9 * CHUNK, 4096);
        let out = w.fire(P, Timer::Cycle(m));
        assert_eq!(chunks_sent(&out), vec![3, 9]);
        // The first chunk of cycle 2 arrives; the link fails before the rest.
        w.deliver_link(P, S);
        assert_eq!(
            w.volume(b).digest(),
            cycle1,
            "a partial cycle is not applied"
        );
        w.cut(P, S);
        assert_eq!(state(&w, S), PairState::SuspendedError);
        assert_eq!(
            w.volume(b).digest(),
            cycle1,
            "the SVOL stays at the last whole cycle"
        );
        w.heal(P, S);
        resync(&mut w, false);
        assert!(same(&w));
    }

    #[test]
    fn adaptive_copies_each_dirty_chunk_once_per_pass_in_address_order() {
        let mut w = world(opts(CopyMode::Adaptive));
        let (a, _) = vols();
        let m = r1();
        for chunk in [9, 3, 7, 3, 3] {
            let (id, out) = w.write(a, chunk * CHUNK, 4096);
            assert!(out.contains(&Output::AckWrite(id)));
        }
        assert!(w.links.is_empty());
        let mut out = w.fire(P, Timer::Pass(m));
        out.extend(w.settle(false));
        assert_eq!(chunks_sent(&out), vec![3, 7, 9]);
        assert!(same(&w));
        // Nothing dirty: the next pass sends nothing.
        let out = w.fire(P, Timer::Pass(m));
        assert!(chunks_sent(&out).is_empty());
    }

    #[test]
    fn full_initial_copy_with_host_writes_during_copy_ends_identical() {
        let (a, b) = vols();
        let mut t = Topology::new();
        for id in [a, b] {
            t.add_volume(VolumeSpec {
                id,
                size: SIZE,
                used: SIZE,
            })
            .unwrap();
        }
        let mut w = World::new(&t, ProtocolConfig::default());
        w.write(a, 5 * CHUNK, 4096);
        let o = PairOptions {
            window_bytes: 2 * CHUNK,
            ..opts(CopyMode::Async)
        };
        let (id, out) = w.command(
            P,
            Command::Create {
                mirror: r1(),
                options: o,
                nocopy: false,
            },
        );
        assert_eq!(state(&w, P), PairState::Copy);
        assert_eq!(
            chunks_sent(&out),
            vec![0, 1],
            "a window of chunks at a time"
        );
        // Writes to a chunk already sent, to one not yet sent, and to the SVOL (refused).
        w.deliver_link(P, S);
        w.deliver_link(P, S);
        w.deliver_link(P, S);
        w.write(a, 0, 4096);
        w.write(a, 12 * CHUNK + 4096, 4096);
        let (_, out) = w.write(b, 0, 4096);
        assert!(
            matches!(out[..], [Output::FailWrite(_, Refusal::SvolProtected(_))]),
            "{out:?}"
        );
        let mut all = w.settle(false);
        all.extend(out);
        assert!(all.contains(&Output::Done(id)), "{all:?}");
        assert_eq!(
            (state(&w, P), state(&w, S)),
            (PairState::Pair, PairState::Pair)
        );
        assert!(same(&w));
        assert_eq!(w.volume(a).digest(), w.volume(b).digest());
    }

    #[test]
    fn resync_sends_exactly_the_dirty_chunks_of_both_sides() {
        let mut w = world(opts(CopyMode::Async));
        let (a, b) = vols();
        split(&mut w);
        // Production writes chunks 1 (twice) and 5; the auxiliary host writes 5 and 9.
        w.write(a, CHUNK, 512);
        w.write(a, CHUNK + 4096, 512);
        w.write(a, 5 * CHUNK, 512);
        w.write(b, 5 * CHUNK, 512);
        w.write(b, 9 * CHUNK + 4096, 512);
        assert_eq!(w.system(P).pair(r1()).unwrap().pending.count(), 2);
        assert_eq!(w.system(S).pair(r1()).unwrap().pending.count(), 2);
        let out = resync(&mut w, false);
        let mut sent = chunks_sent(&out);
        sent.sort();
        assert_eq!(
            sent,
            vec![1, 5, 9],
            "the union of both bitmaps, nothing more"
        );
        assert!(same(&w));
        for s in [P, S] {
            assert!(w.system(s).pair(r1()).unwrap().pending.is_empty());
        }
    }

    #[test]
    fn restore_copies_the_svol_back_onto_the_pvol() {
        let mut w = world(opts(CopyMode::Async));
        let (a, b) = vols();
        split(&mut w);
        let (prod, _) = w.write(a, 4 * CHUNK, 4096);
        let (aux, _) = w.write(b, 2 * CHUNK, 4096);
        let (id, out) = w.command(
            P,
            Command::Resync {
                mirror: r1(),
                restore: true,
            },
        );
        assert!(
            !out.iter().any(|o| matches!(o, Output::Refused(..))),
            "{out:?}"
        );
        // The PVOL takes no host writes while it is being restored.
        let (_, out) = w.write(a, 0, 4096);
        assert!(
            matches!(out[..], [Output::FailWrite(_, Refusal::Restoring(_))]),
            "{out:?}"
        );
        let out = w.settle(false);
        assert!(out.contains(&Output::Done(id)), "{out:?}");
        assert!(same(&w));
        assert_eq!(
            w.volume(a).block(2 * CB),
            Some(aux),
            "the SVOL's write came back"
        );
        assert_ne!(
            w.volume(a).block(4 * CB),
            Some(prod),
            "the PVOL-only write is undone"
        );
        assert_eq!(
            (state(&w, P), state(&w, S)),
            (PairState::Pair, PairState::Pair)
        );
        // Back in PAIR in the normal direction.
        let (id, _) = w.write(a, 0, 4096);
        w.settle(false);
        assert_eq!(w.volume(b).block(0), Some(id));
    }

    #[test]
    fn link_down_suspends_tracks_in_the_bitmap_and_resyncs_after_link_up() {
        let mut w = world(opts(CopyMode::Async));
        let (a, _) = vols();
        w.write(a, 0, 4096);
        w.cut(P, S);
        assert_eq!(
            (state(&w, P), state(&w, S)),
            (PairState::SuspendedError, PairState::SuspendedError)
        );
        let (id, out) = w.write(a, 3 * CHUNK, 4096);
        assert!(out.contains(&Output::AckWrite(id)));
        let pending = &w.system(P).pair(r1()).unwrap().pending;
        assert!(
            pending.contains(0) && pending.contains(3),
            "lost in flight and new: {pending:?}"
        );
        let (id, out) = w.command(
            P,
            Command::Resync {
                mirror: r1(),
                restore: false,
            },
        );
        assert!(
            out.contains(&Output::Refused(id, Refusal::Unreachable(S))),
            "{out:?}"
        );
        w.heal(P, S);
        resync(&mut w, false);
        assert!(same(&w));
    }

    #[test]
    fn secondary_restart_suspends_both_ends_and_loses_nothing() {
        let mut w = world(opts(CopyMode::Sync));
        let (a, b) = vols();
        let (w1, _) = w.write(a, 0, 4096);
        let out = w.input(S, Input::Restart);
        assert!(out.contains(&Output::StateChanged {
            mirror: r1(),
            from: PairState::Pair,
            to: PairState::SuspendedError
        }));
        // The write in flight reaches a secondary that no longer applies it: no ack, so the
        // sync host is never told it is safe; the primary hears of the restart and fails it.
        let out = w.deliver_link(P, S);
        assert_eq!(w.volume(b).block(0), None);
        assert!(out.is_empty(), "{out:?}");
        let out = w.settle(false);
        assert!(
            out.contains(&Output::FailWrite(w1, Refusal::Fenced(a))),
            "{out:?}"
        );
        assert_eq!(state(&w, P), PairState::SuspendedError);
        resync(&mut w, false);
        assert!(same(&w));
    }

    #[test]
    fn takeover_makes_the_svols_writable() {
        let mut w = world(opts(CopyMode::Async));
        let (_, b) = vols();
        let (_, out) = w.write(b, 0, 4096);
        assert!(matches!(
            out[..],
            [Output::FailWrite(_, Refusal::SvolProtected(_))]
        ));
        // A fault alone does not hand the SVOL to the standby host.
        w.cut(P, S);
        let (_, out) = w.write(b, 0, 4096);
        assert!(
            matches!(out[..], [Output::FailWrite(_, Refusal::SvolProtected(_))]),
            "{out:?}"
        );
        let (id, out) = w.command(S, Command::Takeover);
        assert!(out.contains(&Output::Done(id)));
        let (wid, out) = w.write(b, 0, 4096);
        assert!(out.contains(&Output::AckWrite(wid)), "{out:?}");
        assert!(
            w.system(S).pair(r1()).unwrap().pending.contains(0),
            "tracked for resync"
        );
        // Failback: the primary's resync copies the standby's writes away again.
        w.heal(P, S);
        resync(&mut w, false);
        assert!(same(&w));
        let (_, out) = w.write(b, 0, 4096);
        assert!(matches!(
            out[..],
            [Output::FailWrite(_, Refusal::SvolProtected(_))]
        ));
    }

    #[test]
    fn sync_fence_refuse_fails_writes_and_continue_tracks_them() {
        for fence in [Fence::Refuse, Fence::Continue] {
            let mut w = world(PairOptions {
                fence,
                ..opts(CopyMode::Sync)
            });
            let (a, _) = vols();
            let (w1, _) = w.write(a, 0, 4096);
            let out = w.cut(P, S);
            let (w2, out2) = w.write(a, 4096, 4096);
            match fence {
                Fence::Refuse => {
                    assert!(
                        out.contains(&Output::FailWrite(w1, Refusal::Fenced(a))),
                        "{out:?}"
                    );
                    assert!(
                        out2.contains(&Output::FailWrite(w2, Refusal::Fenced(a))),
                        "{out2:?}"
                    );
                }
                Fence::Continue => {
                    assert!(out.contains(&Output::AckWrite(w1)), "{out:?}");
                    assert!(out2.contains(&Output::AckWrite(w2)), "{out2:?}");
                    assert!(w.system(P).pair(r1()).unwrap().pending.contains(0));
                }
            }
            w.heal(P, S);
            resync(&mut w, false);
            assert!(same(&w), "{fence:?}");
        }
    }
}
