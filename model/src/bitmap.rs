//! The pending bitmap of Fig 6 (660): one bit per chunk written on one side and not the other.
//!
//! Stored as disjoint runs of set chunks, so a fresh full copy of a 64 TiB volume is one run
//! and scattered writes cost one entry each: memory follows dirty chunks, never volume size.

use std::collections::BTreeMap;

/// A set of chunk numbers kept as `start -> end` (exclusive) runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PendingBitmap {
    runs: BTreeMap<u64, u64>,
    count: u64,
}

impl PendingBitmap {
    /// An empty bitmap: nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of set chunks.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether no chunk is pending.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether `chunk` is pending.
    pub fn contains(&self, chunk: u64) -> bool {
        self.runs
            .range(..=chunk)
            .next_back()
            .is_some_and(|(_, &end)| chunk < end)
    }

    /// Marks `chunk` pending.
    pub fn set(&mut self, chunk: u64) {
        self.set_range(chunk, chunk + 1);
    }

    /// Sets every chunk in `start..end`, merging touching runs.
    pub(crate) fn set_range(&mut self, mut start: u64, mut end: u64) {
        if start >= end {
            return;
        }
        // Absorb a run that starts before `start` and reaches it.
        if let Some((&s, &e)) = self.runs.range(..=start).next_back() {
            if e >= start {
                if e >= end {
                    return;
                }
                start = s;
                self.count -= e - s;
                self.runs.remove(&s);
            }
        }
        // Absorb runs that start inside `start..=end`.
        while let Some((&s, &e)) = self.runs.range(start..=end).next() {
            self.count -= e - s;
            self.runs.remove(&s);
            end = end.max(e);
        }
        self.count += end - start;
        self.runs.insert(start, end);
    }

    /// Clears `chunk` (its copy is done).
    pub fn clear(&mut self, chunk: u64) {
        let Some((&s, &e)) = self.runs.range(..=chunk).next_back() else {
            return;
        };
        if chunk >= e {
            return;
        }
        self.runs.remove(&s);
        if s < chunk {
            self.runs.insert(s, chunk);
        }
        if chunk + 1 < e {
            self.runs.insert(chunk + 1, e);
        }
        self.count -= 1;
    }

    /// Clears every chunk.
    pub(crate) fn clear_all(&mut self) {
        self.runs.clear();
        self.count = 0;
    }

    /// The lowest set chunk at or after `from`: the copier walks the bitmap in address order.
    pub(crate) fn first_at_or_after(&self, from: u64) -> Option<u64> {
        if let Some((_, &e)) = self.runs.range(..=from).next_back() {
            if from < e {
                return Some(from);
            }
        }
        self.runs.range(from..).next().map(|(&s, _)| s)
    }

    /// Adds every chunk of `other` (resync copies the union of both sides' bitmaps).
    pub fn union_with(&mut self, other: &PendingBitmap) {
        for (&s, &e) in &other.runs {
            self.set_range(s, e);
        }
    }

    /// The runs, for messages and display.
    pub fn runs(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.runs.iter().map(|(&s, &e)| (s, e))
    }

    /// The bitmap of these `(first, end)` runs of chunks, as a peer sent them.
    pub(crate) fn from_runs(runs: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut b = Self::new();
        for (s, e) in runs {
            b.set_range(s, e);
        }
        b
    }

    /// Number of runs: the bitmap's memory and message size follow this.
    pub fn run_count(&self) -> usize {
        self.runs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn full_copy_of_a_huge_volume_is_one_run() {
        let mut b = PendingBitmap::new();
        let chunks = (64u64 << 40) / 8192;
        b.set_range(0, chunks);
        assert_eq!(b.count(), chunks);
        assert_eq!(b.run_count(), 1);
        b.clear(5);
        assert_eq!(b.run_count(), 2);
        assert_eq!(b.first_at_or_after(5), Some(6));
    }

    proptest! {
        /// The run representation behaves exactly like a plain set of chunks.
        #[test]
        fn behaves_like_a_set(ops in proptest::collection::vec((0u8..3, 0u64..64, 0u64..8), 0..200)) {
            let mut b = PendingBitmap::new();
            let mut s = BTreeSet::new();
            for (op, a, len) in ops {
                match op {
                    0 => { b.set_range(a, a + len); s.extend(a..a + len); }
                    1 => { b.clear(a); s.remove(&a); }
                    _ => { b.set(a); s.insert(a); }
                }
                prop_assert_eq!(b.count(), s.len() as u64);
                for c in 0..72 {
                    prop_assert_eq!(b.contains(c), s.contains(&c));
                    prop_assert_eq!(b.first_at_or_after(c), s.range(c..).next().copied());
                }
                // Runs are disjoint and never touch.
                let runs: Vec<_> = b.runs().collect();
                for w in runs.windows(2) { prop_assert!(w[0].1 < w[1].0); }
            }
        }
    }
}
