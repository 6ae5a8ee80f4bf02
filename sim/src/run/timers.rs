//! The protocol timers a run holds: which timer of which system is set, and the events
//! scheduled for them. A timer set again replaces the earlier one, whose event then finds it
//! stale and does nothing.

use super::*;

#[derive(Default)]
pub(super) struct Timers {
    /// (system, timer) -> generation of its newest setting.
    set: BTreeMap<(u32, Timer), u64>,
    /// Timer events scheduled and not yet fired: generation -> (system, timer).
    events: BTreeMap<u64, (u32, Timer)>,
    /// Timers armed so far.
    armed: u64,
}

/// A generation is `system << SYSTEM_SHIFT | timers armed`, so a timer's event tells the queue
/// whose it is (same-instant order) and stays 16 bytes.
const SYSTEM_SHIFT: u32 = 40;

impl Timers {
    /// The system of a timer event's generation.
    pub(super) fn system(generation: u64) -> u32 {
        (generation >> SYSTEM_SHIFT) as u32
    }

    /// Sets `timer` on system `i`; returns the generation to schedule an event for, or `None`
    /// in a scripted run (a replay fires a timer at the step that names it).
    pub(super) fn arm(&mut self, i: usize, timer: Timer, scripted: bool) -> Option<u64> {
        self.armed += 1;
        let generation = (i as u64) << SYSTEM_SHIFT | self.armed;
        self.set.insert((i as u32, timer), generation);
        if scripted {
            return None;
        }
        self.events.insert(generation, (i as u32, timer));
        Some(generation)
    }

    /// The event of generation `generation` is due: the (system, timer) to fire, if that
    /// setting still stands (it is then no longer set).
    pub(super) fn due(&mut self, generation: u64) -> (usize, Timer, bool) {
        let (i, timer) = self.events.remove(&generation).expect("scheduled");
        let current = self.set.get(&(i, timer)) == Some(&generation);
        (i as usize, timer, current)
    }

    /// Takes `timer` of system `i` off; false if it was not set.
    pub(super) fn take(&mut self, i: usize, timer: Timer) -> bool {
        self.set.remove(&(i as u32, timer)).is_some()
    }

    /// System `i` stopped: its timers are gone.
    pub(super) fn drop_system(&mut self, i: usize) {
        self.set.retain(|(s, _), _| *s as usize != i);
    }

    /// The timers set, as (system, timer).
    pub(super) fn iter(&self) -> impl Iterator<Item = (usize, Timer)> + '_ {
        self.set.keys().map(|&(i, t)| (i as usize, t))
    }
}
