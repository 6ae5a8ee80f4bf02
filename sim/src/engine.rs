//! The event queue and the seeded randomness of a run.
//!
//! This module owns simulated time: events ordered by `(time_ns, seq)`, where `seq` counts
//! pushes, so two events at the same nanosecond always pop in the order they were scheduled
//! and a run never depends on heap internals. It also owns how randomness is derived: one
//! ChaCha8 stream per component, seeded from the scenario seed and the component's name, so
//! adding a host does not shift the random numbers another host draws. No wall clock here.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One scheduled event; ordered so the earliest `(time, seq)` is the heap's maximum.
struct Entry<E> {
    time: u64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// A single-threaded discrete-event queue: same pushes, same pops, on every machine.
pub struct Engine<E> {
    heap: BinaryHeap<Entry<E>>,
    now: u64,
    seq: u64,
    processed: u64,
}

impl<E> Default for Engine<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Engine<E> {
    pub fn new() -> Self {
        Engine {
            heap: BinaryHeap::new(),
            now: 0,
            seq: 0,
            processed: 0,
        }
    }

    /// The time of the event being processed.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Events popped so far.
    pub fn processed(&self) -> u64 {
        self.processed
    }

    pub fn pending(&self) -> usize {
        self.heap.len()
    }

    /// Schedules `event` at absolute time `time`; a time in the past is clamped to now, so
    /// time never runs backwards.
    pub fn at(&mut self, time: u64, event: E) {
        self.seq += 1;
        self.heap.push(Entry {
            time: time.max(self.now),
            seq: self.seq,
            event,
        });
    }

    /// Schedules `event` `delay` nanoseconds from now.
    pub fn after(&mut self, delay: u64, event: E) {
        self.at(self.now.saturating_add(delay), event);
    }

    /// The time of the next event, if any.
    pub fn peek_time(&self) -> Option<u64> {
        self.heap.peek().map(|e| e.time)
    }

    /// Pops the next event and advances the clock to it.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        let e = self.heap.pop()?;
        self.now = e.time;
        self.processed += 1;
        Some((e.time, e.event))
    }
}

/// A stable 64-bit hash of a component name (FNV-1a), so seeds never depend on `Hash` impls
/// that may change between Rust versions.
fn name_hash(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// splitmix64: spreads the combined seed so nearby scenario seeds give unrelated streams.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The random stream of one component (e.g. `"host/prod"`) under scenario seed `seed`.
pub fn component_rng(seed: u64, component: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(seed ^ mix(name_hash(component))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn ties_pop_in_push_order() {
        let mut e = Engine::new();
        e.at(5, 'b');
        e.at(1, 'a');
        e.at(5, 'c');
        e.at(5, 'd');
        let order: Vec<char> = std::iter::from_fn(|| e.pop().map(|(_, c)| c)).collect();
        assert_eq!(order, vec!['a', 'b', 'c', 'd']);
        assert_eq!(e.processed(), 4);
    }

    #[test]
    fn past_times_are_clamped_to_now() {
        let mut e = Engine::new();
        e.at(10, 1);
        e.pop();
        e.at(3, 2);
        assert_eq!(e.pop(), Some((10, 2)));
    }

    #[test]
    fn component_streams_are_stable_and_distinct() {
        let a: u64 = component_rng(1, "host/prod").gen();
        assert_eq!(a, component_rng(1, "host/prod").gen::<u64>());
        assert_ne!(a, component_rng(2, "host/prod").gen::<u64>());
        assert_ne!(a, component_rng(1, "host/aux").gen::<u64>());
    }
}
