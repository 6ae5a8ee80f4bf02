//! The event queue and the seeded randomness of a run.
//!
//! This module owns simulated time: events ordered by `(time_ns, class, entity, seq)`. `class`
//! is the rank of the event's kind and `entity` the index of what it happens to (a host, a
//! channel, a system; [`Class`]): at one nanosecond, events pop by kind, then by entity,
//! whenever they were scheduled (e.g. a periodic cycle ends before a host write of the same
//! instant, so the write falls in the next cycle; host 0's I/O before host 1's). `seq` counts
//! pushes, so only two events of one kind for one entity at the same nanosecond pop in the
//! order they were scheduled (each entity's events are FIFO), and a run never depends on heap
//! internals. It also owns how randomness is derived: one
//! ChaCha8 stream per component, seeded from the scenario seed and the component's name, so
//! adding a host does not shift the random numbers another host draws. No wall clock here.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Where an event stands among events at the same nanosecond: lower pops first.
pub trait Class {
    /// The rank of the event's kind, below [`CLASSES`].
    fn class(&self) -> u8;
    /// The index of the host, channel, system, ... the event happens to: within one class,
    /// a lower entity pops first. Indices from [`MAX_ENTITY`] on all rank as [`MAX_ENTITY`].
    fn entity(&self) -> u32;
}

/// Classes fit in 4 bits of the key.
pub const CLASSES: u8 = 16;
/// Entities fit in 20 bits of the key: far more hosts, channels or systems than a scenario has.
pub const MAX_ENTITY: u32 = (1 << ENTITY_BITS) - 1;
const ENTITY_BITS: u32 = 20;
/// `seq` has 40 bits: 10^12 pushes, a hundred times the events a scenario may schedule
/// ([`crate::scenario::MAX_EVENTS`]).
const SEQ_BITS: u32 = 40;

/// One scheduled event.
///
/// The order `(time, class, entity, seq)` is kept packed in one `u128` (time in the high half):
/// a heap step then compares keys with one wide comparison instead of a chain of four, and
/// pops and pushes do several per event.
#[derive(Clone, Copy)]
struct Entry<E> {
    /// `time << 64 | class << 60 | entity << 40 | seq`: unique, since `seq` is.
    key: u128,
    event: E,
}

impl<E> Entry<E> {
    fn time(&self) -> u64 {
        (self.key >> 64) as u64
    }
}

/// A single-threaded discrete-event queue: same pushes, same pops, on every machine.
///
/// A binary min-heap on `(time, class, entity, seq)` written out here rather than `std`'s `BinaryHeap`: that
/// one writes a pushed entry and at once reads it back whole to sift it, a store-to-load
/// stall on every push and pop that cost the simulator several percent of its time. Here an
/// entry is kept in registers while it sifts and written once, where it ends up. Keys are
/// unique, so the pop order is the same as any correct heap's. Events are `Copy` (small).
pub struct Engine<E> {
    /// `heap[i]` is never later than `heap[2i + 1]` or `heap[2i + 2]`.
    heap: Vec<Entry<E>>,
    now: u64,
    seq: u64,
    processed: u64,
}

impl<E: Copy + Class> Default for Engine<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy + Class> Engine<E> {
    pub fn new() -> Self {
        Engine {
            heap: Vec::new(),
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
    ///
    /// Always inlined: called, it received the event through memory just written byte by
    /// byte and read it back whole, a store-forwarding stall on every scheduled event.
    #[inline(always)]
    pub fn at(&mut self, time: u64, event: E) {
        self.seq += 1;
        debug_assert!(event.class() < CLASSES && self.seq < 1 << SEQ_BITS);
        let rank =
            (u64::from(event.class()) << ENTITY_BITS) | u64::from(event.entity().min(MAX_ENTITY));
        let e = Entry {
            key: (u128::from(time.max(self.now)) << 64) | u128::from(rank << SEQ_BITS | self.seq),
            event,
        };
        self.heap.push(e);
        sift_up(&mut self.heap, e);
    }

    /// Schedules `event` `delay` nanoseconds from now.
    pub fn after(&mut self, delay: u64, event: E) {
        self.at(self.now.saturating_add(delay), event);
    }

    /// The time of the next event, if any.
    pub fn peek_time(&self) -> Option<u64> {
        self.heap.first().map(Entry::time)
    }

    /// Pops the next event and advances the clock to it.
    ///
    /// Always inlined into the run loop, its one hot caller: called, it saved and restored
    /// registers and returned the event through memory on every event.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<(u64, E)> {
        let last = self.heap.pop()?;
        let e = match self.heap.first() {
            None => last,
            Some(&first) => {
                sift_down(&mut self.heap, last);
                first
            }
        };
        self.now = e.time();
        self.processed += 1;
        Some((self.now, e.event))
    }
}

/// Places `e`, just pushed as the heap's last entry, by moving later parents down into the gap
/// until `e` fits.
#[inline(always)]
fn sift_up<E: Copy>(heap: &mut [Entry<E>], e: Entry<E>) {
    let mut pos = heap.len() - 1;
    while pos > 0 {
        let parent = (pos - 1) / 2;
        if heap[parent].key <= e.key {
            break;
        }
        heap[pos] = heap[parent];
        pos = parent;
    }
    heap[pos] = e;
}

/// Places `e` (the former last entry) in the gap the popped root left, moving the earlier
/// child up while it is earlier than `e`.
///
/// A plain sift-down that stops as soon as `e` fits, not `std`'s walk of the gap to a leaf
/// followed by a sift back up: the simulator's queue holds a handful of events, where the walk
/// costs more than the comparisons it saves. The children are matched as one subslice, so
/// finding them needs one length check, not one per child.
#[inline(always)]
fn sift_down<E: Copy>(heap: &mut [Entry<E>], e: Entry<E>) {
    let mut pos = 0;
    loop {
        let child = 2 * pos + 1;
        let next = match heap.get(child..) {
            // Which child is earlier is random: select it without a branch.
            Some([a, b, ..]) => child + usize::from(b.key < a.key),
            Some([_]) => child,
            _ => break,
        };
        let c = heap[next];
        if e.key <= c.key {
            break;
        }
        heap[pos] = c;
        pos = next;
    }
    heap[pos] = e;
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

    /// Test events: a char is ranked by case (upper case first), a number all alike.
    impl Class for char {
        fn class(&self) -> u8 {
            u8::from(self.is_ascii_lowercase())
        }
        fn entity(&self) -> u32 {
            0
        }
    }

    impl Class for u64 {
        fn class(&self) -> u8 {
            0
        }
        fn entity(&self) -> u32 {
            0
        }
    }

    /// A test event `(class, entity, name)`.
    impl Class for (u8, u32, char) {
        fn class(&self) -> u8 {
            self.0
        }
        fn entity(&self) -> u32 {
            self.1
        }
    }

    #[test]
    fn ties_pop_by_class_then_entity_whatever_the_push_order() {
        // At one instant: class 0 before class 1, within a class entity 2 before entity 7,
        // and the two events of one (class, entity) in the order pushed. Every push order of
        // the events of different entities gives the same pops.
        let events = [
            (1, 7, 'a'),
            (1, 2, 'b'),
            (0, 9, 'c'),
            (1, MAX_ENTITY + 5, 'd'),
        ];
        let want = ['c', 'b', 'a', 'd'];
        for first in 0..events.len() {
            let mut e = Engine::new();
            for k in 0..events.len() {
                e.at(3, events[(first + k) % events.len()]);
            }
            for k in (0..events.len()).rev() {
                e.at(3, events[(first + k) % events.len()]);
            }
            e.at(2, (9, 9, 'z'));
            let order: Vec<char> = std::iter::from_fn(|| e.pop().map(|(_, (.., c))| c)).collect();
            // Each event was pushed twice: its copies pop together, after 'z' at time 2.
            let twice: Vec<char> = want.iter().flat_map(|&c| [c, c]).collect();
            assert_eq!(order[0], 'z');
            assert_eq!(order[1..], twice[..], "pushed from {first}");
        }
    }

    #[test]
    fn one_entity_is_fifo_and_entities_past_the_last_rank_share_it() {
        // Same class and entity: push order. Entity indices from MAX_ENTITY on rank alike, so
        // they too pop in push order, after every lower entity.
        let mut e = Engine::new();
        for ev in [
            (0, 4, 'a'),
            (0, u32::MAX, 'b'),
            (0, MAX_ENTITY, 'c'),
            (0, 4, 'd'),
        ] {
            e.at(1, ev);
        }
        let order: Vec<char> = std::iter::from_fn(|| e.pop().map(|(_, (.., c))| c)).collect();
        assert_eq!(order, vec!['a', 'd', 'b', 'c']);
    }

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
    fn ties_pop_by_class_then_push_order() {
        // At time 5, the upper-case events pushed last pop first; a later time stays later.
        let mut e = Engine::new();
        e.at(5, 'a');
        e.at(5, 'b');
        e.at(6, 'A');
        e.at(5, 'C');
        e.at(5, 'D');
        let order: Vec<char> = std::iter::from_fn(|| e.pop().map(|(_, c)| c)).collect();
        assert_eq!(order, vec!['C', 'D', 'a', 'b', 'A']);
    }

    #[test]
    fn pops_in_time_then_push_order_like_a_sorted_list() {
        // Random times with many ties, pushes and pops interleaved, against a sorted model.
        let mut e = Engine::new();
        let mut model = std::collections::BTreeSet::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut seq = 0u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 3 == 0 {
                let popped = e.pop();
                let want = model.pop_first();
                assert_eq!(popped, want);
            } else {
                seq += 1;
                let t = e.now() + x % 8;
                e.at(t, seq);
                model.insert((t, seq));
            }
            assert_eq!(e.peek_time(), model.first().map(|&(t, _)| t));
        }
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
