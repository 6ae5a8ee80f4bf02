//! An ordered map kept as a sorted `Vec`, for the pairs and volumes one storage system holds.
//!
//! Why not `BTreeMap`: the protocol looks a pair up several times per message. With a few
//! entries, a B-tree lookup or walk costs several times a binary search or a slice walk, and
//! that was a large share of the simulator's time. The interface is the subset of `BTreeMap`
//! the protocol uses, with the same order (ascending keys), so iteration order, and with it
//! every run, is unchanged. Insertion and removal are O(n), which is fine for entries that
//! change only on paircreate / pairdelete; a lookup scans a small map and binary-searches a
//! large one (a system with thousands of mirrors).

use std::fmt;
use std::ops::Index;

/// Up to this many entries a lookup scans (see [`FlatMap::position`]).
const SCAN_UP_TO: usize = 8;

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct FlatMap<K, V> {
    /// Sorted by key, keys unique.
    entries: Vec<(K, V)>,
}

impl<K, V> Default for FlatMap<K, V> {
    fn default() -> Self {
        FlatMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> FlatMap<K, V> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn find(&self, key: &K) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    /// Where `key` is: by a scan for equality in a small map, a binary search in a large one.
    /// With the usual one or two entries, the scan is a compare or two, where the search's
    /// chain of three-way comparisons of every key field cost a pair lookup several times as
    /// much, and lookups are several per simulated message; a system with thousands of
    /// mirrors must not pay a scan of them all.
    #[inline]
    pub(crate) fn position(&self, key: &K) -> Option<usize> {
        if self.entries.len() <= SCAN_UP_TO {
            self.entries.iter().position(|(k, _)| k == key)
        } else {
            self.find(key).ok()
        }
    }

    /// The positions of the entries whose key is `within`, a run of keys in order all
    /// `above` which are not (`above` holds for a prefix of the keys): found by a scan in a
    /// small map, by a binary search in a large one.
    #[inline]
    pub(crate) fn run(
        &self,
        above: impl Fn(&K) -> bool,
        within: impl Fn(&K) -> bool,
    ) -> std::ops::Range<usize> {
        let start = if self.entries.len() <= SCAN_UP_TO {
            // Equality tests only: cheaper than ordering ones, and the run is contiguous.
            match self.entries.iter().position(|(k, _)| within(k)) {
                Some(start) => start,
                None => return 0..0,
            }
        } else {
            self.entries.partition_point(|(k, _)| above(k))
        };
        let len = self.entries[start..]
            .iter()
            .take_while(|(k, _)| within(k))
            .count();
        start..start + len
    }

    /// The value of `key`, inserted by `make` first if absent.
    pub(crate) fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        let i = self.position(key)?;
        Some(&self.entries[i].1)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let i = self.position(key)?;
        Some(&mut self.entries[i].1)
    }

    /// Inserts or replaces; returns the value replaced.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.position(key)?;
        Some(self.entries.remove(i).1)
    }

    /// The value of entry `i` in key order, for walks that need the map's owner mutably
    /// between entries.
    pub(crate) fn value_at(&self, i: usize) -> &V {
        &self.entries[i].1
    }

    pub(crate) fn value_at_mut(&mut self, i: usize) -> &mut V {
        &mut self.entries[i].1
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl<K: Ord, V> Index<&K> for FlatMap<K, V> {
    type Output = V;

    fn index(&self, key: &K) -> &V {
        self.get(key).expect("key in FlatMap")
    }
}

/// Printed like a `BTreeMap`: `{key: value, ...}`.
impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for FlatMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// Same answers, same order and same `Debug` as a `BTreeMap`.
        #[test]
        fn behaves_like_a_btree_map(ops in proptest::collection::vec((0u8..3, 0u8..12), 0..100)) {
            let mut f = FlatMap::new();
            let mut b = BTreeMap::new();
            for (i, (op, k)) in ops.into_iter().enumerate() {
                match op {
                    0 => prop_assert_eq!(f.insert(k, i), b.insert(k, i)),
                    1 => prop_assert_eq!(f.remove(&k), b.remove(&k)),
                    _ => {
                        if let (Some(x), Some(y)) = (f.get_mut(&k), b.get_mut(&k)) {
                            *x += 100;
                            *y += 100;
                        }
                    }
                }
                prop_assert_eq!(f.get(&k), b.get(&k));
                prop_assert!(f.iter().eq(b.iter()));
                prop_assert!(f.keys().eq(b.keys()));
                prop_assert!(f.values().eq(b.values()));
                prop_assert_eq!(format!("{f:?}"), format!("{b:?}"));
            }
        }
    }
}
