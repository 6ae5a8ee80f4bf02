//! One direction of a replication link (or of the host network) as a FIFO server.
//!
//! This module owns message timing and link accounting: a message waits for the messages
//! ahead of it, occupies the channel for `bytes / bandwidth` (serialization), then arrives one
//! latency later, so transfers pipeline like on a real WAN. Data and control bytes are
//! counted apart, per sampling interval, for `link_usage.csv`. A failure drops what is queued
//! or propagating (the protocol is told by the driver; the channel only forgets).

use mirrorlab_model::{Message, MirrorId, StorageSerial, Transport};
use std::collections::VecDeque;

/// A message on its way. Kept within 128 bytes (its byte counts are recomputed from the
/// message when a failure takes it back): larger, every queue move became a `memcpy` call.
#[derive(Debug)]
pub struct InTransit {
    pub arrive: u64,
    pub from: StorageSerial,
    pub to: StorageSerial,
    pub via: Transport,
    pub msg: Message,
    start: u64,
    end: u64,
}

/// Use of a channel in one sampling interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntervalUse {
    pub data_bytes: u64,
    pub control_bytes: u64,
    pub busy_ns: u64,
}

#[derive(Debug)]
pub struct Channel {
    pub from: StorageSerial,
    pub to: StorageSerial,
    /// Bytes per second; 0 means no serialization delay (the host network).
    pub bandwidth: u64,
    pub latency_ns: u64,
    busy_until: u64,
    queue: VecDeque<InTransit>,
    /// Bumped when the channel fails, so arrival events scheduled before are ignored.
    pub epoch: u32,
    pub data_bytes: u64,
    pub control_bytes: u64,
    pub messages: u64,
    pub dropped: u64,
    interval_ns: u64,
    intervals: Vec<IntervalUse>,
    /// The span `lo..hi` of the newest interval (empty before the first), where nearly every
    /// message falls.
    newest: (u64, u64),
}

impl Channel {
    pub fn new(
        from: StorageSerial,
        to: StorageSerial,
        bandwidth: u64,
        latency_ns: u64,
        interval_ns: u64,
    ) -> Self {
        Channel {
            from,
            to,
            bandwidth,
            latency_ns,
            busy_until: 0,
            queue: VecDeque::new(),
            epoch: 0,
            data_bytes: 0,
            control_bytes: 0,
            messages: 0,
            dropped: 0,
            interval_ns: interval_ns.max(1),
            intervals: Vec::new(),
            newest: (0, 0),
        }
    }

    /// Nanoseconds to put `bytes` on the wire, rounded up.
    pub fn serialization_ns(&self, bytes: u64) -> u64 {
        if self.bandwidth == 0 {
            return 0;
        }
        // In 64 bits whenever the product fits (any message under 18 GB), which spares every
        // message a 128-bit division; the result is the same.
        if let Some(n) = bytes.checked_mul(1_000_000_000) {
            return n.div_ceil(self.bandwidth);
        }
        let ns = (u128::from(bytes) * 1_000_000_000).div_ceil(u128::from(self.bandwidth));
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// Queues `msg` at `now`, `(data, control)` its [`Message::data_bytes`] and
    /// [`Message::control_bytes`] (the caller has counted them already: computed once per
    /// message); returns its arrival time when it is the only message on the channel (the
    /// caller then schedules one arrival event for the head).
    pub fn send(
        &mut self,
        now: u64,
        via: Transport,
        msg: Message,
        (data, control): (u64, u64),
    ) -> Option<u64> {
        debug_assert_eq!((data, control), (msg.data_bytes(), msg.control_bytes()));
        let start = now.max(self.busy_until);
        let end = start.saturating_add(self.serialization_ns(data + control));
        self.busy_until = end;
        let arrive = end.saturating_add(self.latency_ns);
        self.data_bytes += data;
        self.control_bytes += control;
        self.messages += 1;
        self.add_use(start, end, data, control);
        let was_empty = self.queue.is_empty();
        self.queue.push_back(InTransit {
            arrive,
            from: self.from,
            to: self.to,
            via,
            msg,
            start,
            end,
        });
        was_empty.then_some(arrive)
    }

    /// Takes the head message (its arrival time has come); returns it and the arrival time of
    /// the next one, if any.
    #[inline]
    pub fn pop(&mut self) -> Option<(InTransit, Option<u64>)> {
        let head = self.queue.pop_front()?;
        Some((head, self.queue.front().map(|m| m.arrive)))
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The messages on their way, oldest first.
    pub fn queue(&self) -> impl Iterator<Item = &InTransit> {
        self.queue.iter()
    }

    /// Takes the `i`-th message out of turn: a replay delivers what its step names (the host
    /// network delivers in any order). Its bytes stay counted: it was sent.
    pub fn take(&mut self, i: usize) -> Option<InTransit> {
        self.queue.remove(i)
    }

    /// Drops every message at `now`: those not yet started are taken back from the counters,
    /// the one being serialized keeps the time it used, those propagating stay counted.
    pub fn fail(&mut self, now: u64) {
        self.epoch = self.epoch.wrapping_add(1);
        for m in std::mem::take(&mut self.queue) {
            self.dropped += 1;
            if m.start >= now {
                let (data, control) = (m.msg.data_bytes(), m.msg.control_bytes());
                self.data_bytes -= data;
                self.control_bytes -= control;
                self.messages -= 1;
                self.account(m.start, m.end, data, control, false);
            } else if m.end > now {
                let (data, control) = (m.msg.data_bytes(), m.msg.control_bytes());
                self.cut(m.start, m.end, data, control, now);
            }
        }
        self.busy_until = now;
    }

    /// Closes the books at `now`, the end of a run: a message counts when it leaves, so those
    /// not yet started are taken back from the counters (they stay queued: in flight) and
    /// returned as (mirror, data, control); the one being serialized counts whole, in the
    /// time it used before `now`. Afterwards the counters equal the sum of the intervals.
    pub fn close(&mut self, now: u64) -> Vec<(MirrorId, u64, u64)> {
        let mut unsent = Vec::new();
        for k in 0..self.queue.len() {
            let m = &self.queue[k];
            let (start, end) = (m.start, m.end);
            let (data, control) = (m.msg.data_bytes(), m.msg.control_bytes());
            if start >= now {
                unsent.push((m.msg.mirror(), data, control));
                self.data_bytes -= data;
                self.control_bytes -= control;
                self.messages -= 1;
                self.account(start, end, data, control, false);
            } else if end > now {
                self.cut(start, end, data, control, now);
            }
        }
        unsent
    }

    /// A transmission over `start..end` stopped at `now`: its bytes move into the time it
    /// used, `start..now`, and the rest of its time is no longer busy.
    fn cut(&mut self, start: u64, end: u64, data: u64, control: u64, now: u64) {
        self.account(start, end, data, control, false);
        self.account(start, now, data, control, true);
    }

    /// Adds a transmission over `start..end` to the intervals it overlaps. Nearly every
    /// message falls inside the newest interval: those are added here, inlined into `send`,
    /// with no division; the others by [`Self::account`].
    #[inline]
    fn add_use(&mut self, start: u64, end: u64, data: u64, control: u64) {
        let (lo, hi) = self.newest;
        if lo <= start && start < hi && end <= hi {
            if let Some(u) = self.intervals.last_mut() {
                u.data_bytes += data;
                u.control_bytes += control;
                u.busy_ns += end - start;
                return;
            }
        }
        self.account(start, end, data, control, true);
    }

    /// Adds (or removes) a transmission over `start..end` to the intervals it overlaps; bytes
    /// are split in proportion to the time in each.
    fn account(&mut self, start: u64, end: u64, data: u64, control: u64, add: bool) {
        let iv = self.interval_ns;
        let total = end - start;
        let mut t = start;
        let (mut data_left, mut control_left) = (data, control);
        loop {
            let k = (t / iv) as usize;
            let boundary = (k as u64 + 1).saturating_mul(iv);
            let part_end = end.min(boundary);
            let last = part_end >= end;
            let (d, c) = if last || total == 0 {
                (data_left, control_left)
            } else {
                let share =
                    |b: u64| (u128::from(b) * u128::from(part_end - t) / u128::from(total)) as u64;
                (share(data), share(control))
            };
            data_left -= d;
            control_left -= c;
            if self.intervals.len() <= k {
                self.intervals.resize(k + 1, IntervalUse::default());
                self.newest = (k as u64 * iv, (k as u64 + 1).saturating_mul(iv));
            }
            let u = &mut self.intervals[k];
            if add {
                u.data_bytes += d;
                u.control_bytes += c;
                u.busy_ns += part_end - t;
            } else {
                u.data_bytes -= d;
                u.control_bytes -= c;
                u.busy_ns -= part_end - t;
            }
            if last {
                return;
            }
            t = part_end;
        }
    }

    /// Per-interval use, interval `k` covering `k * interval .. (k + 1) * interval`.
    pub fn intervals(&self) -> &[IntervalUse] {
        &self.intervals
    }

    /// Time spent serializing within `0..end`.
    pub fn busy_ns_until(&self, end: u64) -> u64 {
        let full = (end / self.interval_ns) as usize;
        let mut busy: u64 = self.intervals.iter().take(full).map(|u| u.busy_ns).sum();
        if let Some(u) = self.intervals.get(full) {
            busy += u.busy_ns.min(end % self.interval_ns);
        }
        busy.min(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mirrorlab_model::{MirrorId, VolumeId, WriteId};

    /// Sends a write of `bytes` on `c` at `now`.
    fn send(c: &mut Channel, now: u64, bytes: u64) -> Option<u64> {
        let m = write(bytes);
        let counted = (m.data_bytes(), m.control_bytes());
        c.send(now, Transport::Interconnect, m, counted)
    }

    fn write(bytes: u64) -> Message {
        let m = MirrorId::new(VolumeId::new(1, 1), VolumeId::new(2, 1));
        Message::Write {
            mirror: m,
            seq: 1,
            write: WriteId(1),
            first: 0,
            count: 1,
            bytes,
        }
    }

    #[test]
    fn messages_queue_then_pipeline() {
        // 1 MB/s, 5 ms: a 936-byte write plus its 64-byte header takes 1 ms on the wire.
        let mut c = Channel::new(
            StorageSerial(1),
            StorageSerial(2),
            1_000_000,
            5_000_000,
            1_000_000_000,
        );
        assert_eq!(send(&mut c, 0, 936), Some(6_000_000));
        assert_eq!(send(&mut c, 0, 936), None);
        let (first, next) = c.pop().unwrap();
        assert_eq!(first.arrive, 6_000_000);
        assert_eq!(
            next,
            Some(7_000_000),
            "the second waits one serialization time"
        );
        assert_eq!((c.data_bytes, c.control_bytes), (1872, 128));
        assert_eq!(c.busy_ns_until(1_000_000_000), 2_000_000);
    }

    #[test]
    fn bytes_split_across_intervals() {
        let mut c = Channel::new(StorageSerial(1), StorageSerial(2), 1000, 0, 1_000_000_000);
        // 1936 data + 64 control bytes = 2 s at 1000 B/s, starting at 0.5 s.
        send(&mut c, 500_000_000, 1936);
        let u = c.intervals();
        assert_eq!(u.len(), 3);
        assert_eq!(u.iter().map(|u| u.data_bytes).sum::<u64>(), 1936);
        assert_eq!(u[0].busy_ns, 500_000_000);
        assert_eq!(u[1].busy_ns, 1_000_000_000);
    }

    #[test]
    fn failure_forgets_unsent_messages() {
        let mut c = Channel::new(
            StorageSerial(1),
            StorageSerial(2),
            1_000_000,
            0,
            1_000_000_000,
        );
        send(&mut c, 0, 936);
        send(&mut c, 0, 936);
        c.fail(500_000);
        assert_eq!(c.queued(), 0);
        assert_eq!(c.dropped, 2);
        assert_eq!(c.data_bytes, 936, "the first had started");
        assert_eq!(c.busy_ns_until(1_000_000_000), 500_000);
    }

    #[test]
    fn closing_keeps_what_left_and_returns_what_did_not() {
        // 1 MB/s: each 936 + 64 byte write takes 1 ms. Three queued at 0, closed at 1.5 ms:
        // the first left, the second is half on the wire, the third never started.
        let mut c = Channel::new(StorageSerial(1), StorageSerial(2), 1_000_000, 0, 1_000_000);
        for _ in 0..3 {
            send(&mut c, 0, 936);
        }
        let unsent = c.close(1_500_000);
        assert_eq!(unsent.len(), 1);
        assert_eq!((unsent[0].1, unsent[0].2), (936, 64));
        assert_eq!((c.data_bytes, c.control_bytes), (1872, 128));
        let sum = |f: fn(&IntervalUse) -> u64| c.intervals().iter().map(f).sum::<u64>();
        assert_eq!(sum(|u| u.data_bytes), c.data_bytes);
        assert_eq!(sum(|u| u.control_bytes), c.control_bytes);
        assert_eq!(
            sum(|u| u.busy_ns),
            1_500_000,
            "busy until the close, no further"
        );
    }
}
