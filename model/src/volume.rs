//! Sparse volume content and its O(1)-update digest.
//!
//! The simulator never stores data: a volume is a map from block number to the [`WriteId`] of
//! the last write that touched it. A block absent from the map still holds the volume's
//! *origin* content (whatever was on it before the study began), named by an origin tag, so
//! two volumes are identical when they share an origin and agree on every written block.
//! The digest is an XOR of a mixed hash of (block, version) over the written blocks, updated
//! per write, so "are these volumes identical" is one comparison at any size.

use crate::ids::WriteId;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// Content is versioned per block of this size; mirror chunks are whole multiples of it.
pub const BLOCK_BYTES: u64 = 4096;

/// A 64-bit summary of a volume's content; equal content gives equal digests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Digest(pub u64);

/// splitmix64's finaliser: cheap, and good enough that XOR-combining is not fooled by
/// structured inputs (consecutive blocks, consecutive write ids).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn entry_hash(block: u64, version: WriteId) -> u64 {
    mix(block.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ mix(version.0))
}

/// Hashes block numbers with [`mix`]: the block map is on every write's path, and a B-tree
/// descent (or SipHash) there cost the simulator most of its time.
#[derive(Clone, Copy, Default)]
struct BlockHasher(u64);

impl Hasher for BlockHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix(self.0 ^ u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = mix(n);
    }
}

/// Block -> version of the last write. A hash map with a fixed hasher: no random seed, so
/// runs are reproducible; ordered views are sorted on demand ([`Volume::blocks_in`]).
type BlockMap = HashMap<u64, WriteId, BuildHasherDefault<BlockHasher>>;

/// The content of one volume.
#[derive(Clone, PartialEq, Eq)]
pub struct Volume {
    /// Size in bytes: writes past it are refused.
    pub size: u64,
    /// Bytes holding data at the start (what a full initial copy must send).
    pub used: u64,
    origin: u64,
    blocks: BlockMap,
    digest: u64,
}

/// Consistent with `Eq`: equal content has equal digests and block counts.
impl Hash for Volume {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (
            self.size,
            self.used,
            self.origin,
            self.digest,
            self.blocks.len(),
        )
            .hash(state);
    }
}

/// Blocks in address order, whatever the map's order.
impl fmt::Debug for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Volume")
            .field("size", &self.size)
            .field("used", &self.used)
            .field("origin", &self.origin)
            .field("blocks", &self.blocks_in(0, u64::MAX))
            .field("digest", &self.digest)
            .finish()
    }
}

impl Volume {
    /// A volume whose unwritten blocks hold the content named `origin`.
    pub fn new(size: u64, used: u64, origin: u64) -> Self {
        Volume {
            size,
            used: used.min(size),
            origin,
            blocks: BlockMap::default(),
            digest: mix(origin),
        }
    }

    pub fn origin(&self) -> u64 {
        self.origin
    }

    pub fn digest(&self) -> Digest {
        Digest(self.digest)
    }

    /// Number of blocks written since the origin: the volume's memory cost.
    pub fn written_blocks(&self) -> usize {
        self.blocks.len()
    }

    pub fn block(&self, block: u64) -> Option<WriteId> {
        self.blocks.get(&block).copied()
    }

    /// Blocks `first..first + count` now hold `version`.
    pub fn write(&mut self, first: u64, count: u64, version: WriteId) {
        for b in first..first + count {
            let new = entry_hash(b, version);
            self.digest ^= new;
            if let Some(old) = self.blocks.insert(b, version) {
                self.digest ^= entry_hash(b, old);
            }
        }
    }

    /// The written blocks in `first..end` in address order, for a chunk copy: a short range
    /// is probed block by block, a long one filtered from the map and sorted.
    pub fn blocks_in(&self, first: u64, end: u64) -> Vec<(u64, WriteId)> {
        let span = end.saturating_sub(first);
        if span <= 4096 || span <= self.blocks.len() as u64 {
            return (first..end)
                .filter_map(|b| self.blocks.get(&b).map(|&v| (b, v)))
                .collect();
        }
        let mut v: Vec<(u64, WriteId)> = self
            .blocks
            .iter()
            .filter(|(&b, _)| first <= b && b < end)
            .map(|(&b, &v)| (b, v))
            .collect();
        v.sort_unstable();
        v
    }

    /// Makes blocks `first..end` read exactly as `blocks` (sorted, all inside the range) do on
    /// the source: a chunk copy replaces the whole chunk, unwritten blocks included.
    pub fn replace_range(&mut self, first: u64, end: u64, blocks: &[(u64, WriteId)]) {
        let stale: Vec<(u64, WriteId)> = self.blocks_in(first, end);
        for (b, v) in stale {
            self.digest ^= entry_hash(b, v);
            self.blocks.remove(&b);
        }
        for &(b, v) in blocks {
            debug_assert!(first <= b && b < end);
            self.digest ^= entry_hash(b, v);
            self.blocks.insert(b, v);
        }
    }

    /// Forgets all content and takes `origin`: the target of a full initial copy starts over as
    /// the source's base, and the copy then brings every written block across.
    pub fn reset_to_origin(&mut self, origin: u64) {
        self.origin = origin;
        self.blocks.clear();
        self.digest = mix(origin);
    }

    /// Full comparison, for tests of the digest.
    pub fn same_content(&self, other: &Volume) -> bool {
        self.origin == other.origin && self.blocks == other.blocks
    }
}

/// Blocks covered by the byte range `offset..offset + len` (a 512-byte write dirties a block).
pub fn blocks_of(offset: u64, len: u64) -> (u64, u64) {
    let first = offset / BLOCK_BYTES;
    let end = (offset + len.max(1)).div_ceil(BLOCK_BYTES);
    (first, end - first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn untouched_volumes_differ_by_origin_only() {
        let a = Volume::new(1 << 40, 0, 1);
        let b = Volume::new(1 << 40, 0, 2);
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest(), Volume::new(8192, 0, 1).digest());
    }

    #[test]
    fn blocks_of_rounds_outwards() {
        assert_eq!(blocks_of(0, 512), (0, 1));
        assert_eq!(blocks_of(4095, 2), (0, 2));
        assert_eq!(blocks_of(8192, 8192), (2, 2));
    }

    proptest! {
        /// The digest agrees with a full comparison after any sequence of writes and copies.
        #[test]
        fn digest_matches_full_comparison(
            ops in proptest::collection::vec((any::<bool>(), 0u8..2, 0u64..16, 1u64..4, 1u64..6), 0..60)
        ) {
            let mut v = [Volume::new(1 << 20, 0, 7), Volume::new(1 << 20, 0, 7)];
            for (i, (which, op, block, count, ver)) in ops.into_iter().enumerate() {
                let (dst, src) = if which { (0, 1) } else { (1, 0) };
                if op == 0 {
                    v[dst].write(block, count, WriteId(ver + i as u64 % 3));
                } else {
                    let chunk = block / 4 * 4;
                    let content = v[src].blocks_in(chunk, chunk + 4);
                    v[dst].replace_range(chunk, chunk + 4, &content);
                }
                prop_assert_eq!(v[0].digest() == v[1].digest(), v[0].same_content(&v[1]));
            }
        }
    }
}
