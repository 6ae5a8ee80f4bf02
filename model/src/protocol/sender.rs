//! The sending end of a mirror's data stream: sequence numbers, the records of messages in
//! flight until acknowledged (the async journal's fill), and what an acknowledgement
//! releases (sync hosts waiting for it, the copier's window).

use super::write::Update;
use super::{Message, Output, Pair, StorageSystem, Transport};
use crate::bitmap::PendingBitmap;
use crate::ids::{MirrorId, WriteId};
use crate::table::PairState;
use std::collections::VecDeque;

/// A sequenced message not yet acknowledged.
///
/// Kept small (64 bytes), as one is queued and dequeued per replicated write: its blocks stay
/// blocks, turned into chunks only in the rare event of a loss, which spares every send two
/// divisions; the rare periodic cycle is boxed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct InFlight {
    pub(super) seq: u64,
    data_bytes: u64,
    /// Blocks `first..end` the message carries (none for a mark), whose chunks are marked
    /// pending again if it is lost.
    pub(super) blocks: (u64, u64),
    /// A sync write whose host waits for this acknowledgement.
    pub(super) sync_write: Option<WriteId>,
    pub(super) is_write: bool,
    /// Periodic end-of-cycle mark: the cycle's chunks, pending again if the mark is lost
    /// (its chunks may be acknowledged yet unapplied at the secondary).
    pub(super) cycle: Option<Box<PendingBitmap>>,
}

/// The sending end of a mirror's data stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Sender {
    pub(super) next_seq: u64,
    pub(super) unacked: VecDeque<InFlight>,
    pub(super) unacked_data: u64,
    /// Ordered writes sent but not yet acknowledged, plus held back: the async journal.
    pub(super) journal_bytes: u64,
}

impl Pair {
    /// Sends an update as a sequenced message on the interconnect. (On the pair, not the
    /// system: the caller holds the pair already, and this is on every write's path.)
    pub(super) fn send_update(
        &mut self,
        update: &Update,
        sync_write: Option<WriteId>,
        out: &mut Vec<Output>,
    ) {
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

    pub(super) fn send_sequenced(
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

impl StorageSystem {
    /// Sends an update as a sequenced message on the interconnect.
    pub(super) fn send_update(
        &mut self,
        m: MirrorId,
        update: &Update,
        sync_write: Option<WriteId>,
        out: &mut Vec<Output>,
    ) {
        let p = self.pairs.get_mut(&m).expect("pair exists");
        p.send_update(update, sync_write, out);
    }

    pub(super) fn send_sequenced(
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

    pub(super) fn next_seq(&self, m: MirrorId) -> u64 {
        self.pairs[&m].tx.next_seq + 1
    }

    /// An acknowledgement for the `i`th pair.
    pub(super) fn on_ack(&mut self, i: usize, seq: u64, out: &mut Vec<Output>) {
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
        // copier walk (and no periodic cycle due) has nothing to pump, and that is nearly
        // every acknowledgement.
        let idle = p.state == PairState::Pair && p.copier.cursor.is_none() && !p.copier.cycle_due;
        for w in acked_writes {
            self.sync_acked(w, out);
        }
        if !idle {
            self.pump(m, out);
        }
    }

    pub(super) fn sync_acked(&mut self, w: WriteId, out: &mut Vec<Output>) {
        if let Some(n) = self.sync_waits.get_mut(&w) {
            *n -= 1;
            if *n == 0 {
                self.sync_waits.remove(&w);
                out.push(Output::AckWrite(w));
            }
        }
    }
}
