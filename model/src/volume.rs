//! Sparse volume content and its O(1)-update digest.
//!
//! The simulator never stores data: a volume is a map from block number to the [`WriteId`] of
//! the last write that touched it. A block absent from the map still holds the volume's
//! *origin* content (whatever was on it before the study began), named by an origin tag, so
//! two volumes are identical when they share an origin and agree on every written block.
//! The digest is an XOR of a mixed hash of (block, version) over the written blocks, updated
//! per write, so "are these volumes identical" is one comparison at any size.

use crate::bitmap::PendingBitmap;
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

/// Hashes page numbers with [`mix`]: the block map is on every write's path, and a B-tree
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

/// Blocks per page of the block map (256 KiB of volume).
const PAGE_BLOCKS: u64 = 64;
/// A page with at most this many written blocks keeps them inline in the page table.
const FEW: usize = 3;

/// The versions of the written blocks of one page, by offset in the page.
///
/// Why pages: a simulated write touches one random block of the PVOL and then of the SVOL, and
/// a hash map with one entry per block (two cache lines per probe, 34 bytes a block) spent
/// most of a long run waiting on cache misses. A page of 64 slots keeps a densely written
/// volume at about 4 bytes a block in a table small enough to stay in cache. Why three forms:
/// a page a scattered workload writes once would cost hundreds of bytes for one block, so the
/// `Few` form keeps such pages inline in the table and memory stays proportional to written
/// blocks; write ids fit in 32 bits in any run shorter than four billion writes, and halving
/// the dense form (`Many` over `Wide`) made long runs about a tenth faster.
#[derive(Clone, Debug)]
enum Page {
    /// Up to [`FEW`] written blocks, sorted by offset; slots past `len` are unused.
    Few {
        len: u8,
        offsets: [u8; FEW],
        versions: [WriteId; FEW],
    },
    /// Any number of blocks, every version below 2^32: bit `i` of `written` says whether
    /// `versions[i]` holds one. The bits stay in the table, not with the versions, so a write
    /// touches one line of the page's memory rather than two.
    Many {
        written: u64,
        versions: Box<[u32; PAGE_BLOCKS as usize]>,
    },
    /// As `Many`, for a page that was given a version of 2^32 or more.
    Wide {
        written: u64,
        versions: Box<[WriteId; PAGE_BLOCKS as usize]>,
    },
}

impl Page {
    fn new() -> Self {
        Page::Few {
            len: 0,
            offsets: [0; FEW],
            versions: [WriteId(0); FEW],
        }
    }

    fn get(&self, off: usize) -> Option<WriteId> {
        match self {
            Page::Few {
                len,
                offsets,
                versions,
            } => (0..*len as usize)
                .find(|&i| offsets[i] as usize == off)
                .map(|i| versions[i]),
            Page::Many { written, versions } => {
                (written >> off & 1 == 1).then(|| WriteId(u64::from(versions[off])))
            }
            Page::Wide { written, versions } => (written >> off & 1 == 1).then(|| versions[off]),
        }
    }

    /// Sets block `off` to `version`; returns the version it replaces. Inlined into the write
    /// path (a call cost a fifth of it); changing the page's form is the cold [`Self::grow`].
    #[inline]
    fn set(&mut self, off: usize, version: WriteId) -> Option<WriteId> {
        match self {
            Page::Few {
                len,
                offsets,
                versions,
            } => {
                let n = *len as usize;
                let at = offsets[..n].partition_point(|&o| (o as usize) < off);
                if at < n && offsets[at] as usize == off {
                    return Some(std::mem::replace(&mut versions[at], version));
                }
                if n == FEW {
                    return self.grow(off, version);
                }
                offsets.copy_within(at..n, at + 1);
                versions.copy_within(at..n, at + 1);
                offsets[at] = off as u8;
                versions[at] = version;
                *len += 1;
                None
            }
            Page::Many { written, versions } => {
                let Ok(short) = u32::try_from(version.0) else {
                    return self.grow(off, version);
                };
                let was = *written >> off & 1 == 1;
                *written |= 1 << off;
                let old = std::mem::replace(&mut versions[off], short);
                was.then_some(WriteId(u64::from(old)))
            }
            Page::Wide { written, versions } => {
                let was = *written >> off & 1 == 1;
                *written |= 1 << off;
                let old = std::mem::replace(&mut versions[off], version);
                was.then_some(old)
            }
        }
    }

    /// [`Self::set`] where the page must change form first: a full `Few` page becomes dense,
    /// a `Many` page given a version of 2^32 or more becomes `Wide`.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, off: usize, version: WriteId) -> Option<WriteId> {
        match self {
            Page::Few {
                len,
                offsets,
                versions,
            } => {
                let mut dense = Page::Many {
                    written: 0,
                    versions: Box::new([0; PAGE_BLOCKS as usize]),
                };
                for i in 0..*len as usize {
                    dense.set(offsets[i] as usize, versions[i]);
                }
                *self = dense;
            }
            Page::Many { written, versions } => {
                let mut wide = [WriteId(0); PAGE_BLOCKS as usize];
                for (w, &v) in wide.iter_mut().zip(versions.iter()) {
                    *w = WriteId(u64::from(v));
                }
                *self = Page::Wide {
                    written: *written,
                    versions: Box::new(wide),
                };
            }
            Page::Wide { .. } => {}
        }
        self.set(off, version)
    }

    /// Forgets block `off` (it reads as the origin again); returns its version.
    fn remove(&mut self, off: usize) -> Option<WriteId> {
        let old = self.get(off)?;
        match self {
            Page::Few {
                len,
                offsets,
                versions,
            } => {
                let n = *len as usize;
                let at = (0..n).find(|&i| offsets[i] as usize == off)?;
                offsets.copy_within(at + 1..n, at);
                versions.copy_within(at + 1..n, at);
                *len -= 1;
            }
            Page::Many { written, .. } | Page::Wide { written, .. } => *written &= !(1 << off),
        }
        Some(old)
    }

    fn is_empty(&self) -> bool {
        match self {
            Page::Few { len, .. } => *len == 0,
            Page::Many { written, .. } | Page::Wide { written, .. } => *written == 0,
        }
    }

    /// Appends the written blocks of this page (number `page`) inside `first..end`, in
    /// address order.
    fn append_in(&self, page: u64, first: u64, end: u64, out: &mut Vec<(u64, WriteId)>) {
        let base = page * PAGE_BLOCKS;
        let inside = |off: usize| (first..end).contains(&(base + off as u64));
        match self {
            Page::Few {
                len,
                offsets,
                versions,
            } => {
                for i in 0..*len as usize {
                    if inside(offsets[i] as usize) {
                        out.push((base + u64::from(offsets[i]), versions[i]));
                    }
                }
            }
            Page::Many { written, .. } | Page::Wide { written, .. } => {
                let mut bits = *written;
                while bits != 0 {
                    let off = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if inside(off) {
                        let v = self.get(off).expect("bit set");
                        out.push((base + off as u64, v));
                    }
                }
            }
        }
    }
}

/// Equal when the same blocks hold the same versions, whichever form either page is in.
impl PartialEq for Page {
    fn eq(&self, other: &Self) -> bool {
        (0..PAGE_BLOCKS as usize).all(|off| self.get(off) == other.get(off))
    }
}

impl Eq for Page {}

/// Block -> version of the last write, as a hash map of pages with a fixed hasher: no random
/// seed, so runs are reproducible; ordered views are sorted on demand ([`Volume::blocks_in`]).
/// A page is removed once none of its blocks is written, so equal maps have equal page sets.
#[derive(Clone, Default, PartialEq, Eq)]
struct BlockMap {
    pages: HashMap<u64, Page, BuildHasherDefault<BlockHasher>>,
    /// Written blocks.
    len: usize,
}

fn page_of(block: u64) -> (u64, usize) {
    (block / PAGE_BLOCKS, (block % PAGE_BLOCKS) as usize)
}

impl BlockMap {
    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, block: u64) -> Option<WriteId> {
        let (page, off) = page_of(block);
        self.pages.get(&page)?.get(off)
    }

    /// Sets `block` to `version`; returns the version it replaces.
    fn insert(&mut self, block: u64, version: WriteId) -> Option<WriteId> {
        let (page, off) = page_of(block);
        let old = self
            .pages
            .entry(page)
            .or_insert_with(Page::new)
            .set(off, version);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    fn remove(&mut self, block: u64) -> Option<WriteId> {
        let (page, off) = page_of(block);
        let p = self.pages.get_mut(&page)?;
        let old = p.remove(off)?;
        if p.is_empty() {
            self.pages.remove(&page);
        }
        self.len -= 1;
        Some(old)
    }

    fn clear(&mut self) {
        self.pages.clear();
        self.len = 0;
    }

    /// The written blocks in `first..end` in address order: the pages of a short range are
    /// probed one by one, those of a long one filtered from the map and sorted.
    fn range(&self, first: u64, end: u64) -> Vec<(u64, WriteId)> {
        let mut out = Vec::new();
        if first >= end {
            return out;
        }
        let (p0, p1) = (first / PAGE_BLOCKS, (end - 1) / PAGE_BLOCKS);
        if p1 - p0 < self.pages.len() as u64 {
            for page in p0..=p1 {
                if let Some(p) = self.pages.get(&page) {
                    p.append_in(page, first, end, &mut out);
                }
            }
        } else {
            let mut pages: Vec<(u64, &Page)> = self
                .pages
                .iter()
                .filter(|(&page, _)| p0 <= page && page <= p1)
                .map(|(&page, p)| (page, p))
                .collect();
            pages.sort_unstable_by_key(|&(page, _)| page);
            for (page, p) in pages {
                p.append_in(page, first, end, &mut out);
            }
        }
        out
    }
}

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

    /// The origin tag: what the unwritten blocks hold.
    pub(crate) fn origin(&self) -> u64 {
        self.origin
    }

    /// The content digest: equal digests mean identical volumes.
    pub fn digest(&self) -> Digest {
        Digest(self.digest)
    }

    /// Number of blocks written since the origin: the volume's memory cost.
    pub fn written_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// The version block `block` holds (`None`: origin content).
    pub fn block(&self, block: u64) -> Option<WriteId> {
        self.blocks.get(block)
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

    /// The written blocks in `first..end` in address order, for a chunk copy.
    pub fn blocks_in(&self, first: u64, end: u64) -> Vec<(u64, WriteId)> {
        self.blocks.range(first, end)
    }

    /// Makes blocks `first..end` read exactly as `blocks` (sorted, all inside the range) do on
    /// the source: a chunk copy replaces the whole chunk, unwritten blocks included.
    pub(crate) fn replace_range(&mut self, first: u64, end: u64, blocks: &[(u64, WriteId)]) {
        let stale: Vec<(u64, WriteId)> = self.blocks_in(first, end);
        for (b, v) in stale {
            self.digest ^= entry_hash(b, v);
            self.blocks.remove(b);
        }
        for &(b, v) in blocks {
            debug_assert!(first <= b && b < end);
            self.digest ^= entry_hash(b, v);
            self.blocks.insert(b, v);
        }
    }

    /// Forgets all content and takes `origin`: the target of a full initial copy starts over as
    /// the source's base, and the copy then brings every written block across.
    pub(crate) fn reset_to_origin(&mut self, origin: u64) {
        self.origin = origin;
        self.blocks.clear();
        self.digest = mix(origin);
    }

    /// Whether this volume and `other` read the same outside the chunks of `pending` (chunks
    /// of `chunk_blocks` blocks): what a copy that finished with writes still pending promises
    /// (a periodic or adaptive copy ends with a delta set; writes after it wait in the bitmap).
    /// With nothing pending, the digests decide.
    pub(crate) fn same_outside(
        &self,
        other: &Volume,
        pending: &PendingBitmap,
        chunk_blocks: u64,
    ) -> bool {
        if pending.is_empty() {
            return self.digest == other.digest;
        }
        let settled = |v: &Volume| -> Vec<(u64, WriteId)> {
            let mut blocks = v.blocks_in(0, u64::MAX);
            blocks.retain(|&(b, _)| !pending.contains(b / chunk_blocks));
            blocks
        };
        // Unwritten blocks read as the origin: a pending chunk may hide a block written on one
        // side only, so the origins must match as well.
        self.origin == other.origin && settled(self) == settled(other)
    }

    /// Full comparison, for tests of the digest.
    pub fn same_content(&self, other: &Volume) -> bool {
        self.origin == other.origin && self.blocks == other.blocks
    }
}

/// Written blocks as `[b0=w2 b1=w1]`, each version named by `name`, or `[original data]` when
/// none is written: how counterexamples and replays show a volume (unwritten blocks hold the
/// origin's data and are left out).
pub fn describe_blocks(blocks: &[(u64, WriteId)], name: impl Fn(WriteId) -> String) -> String {
    if blocks.is_empty() {
        return "[original data]".to_string();
    }
    let parts: Vec<String> = blocks
        .iter()
        .map(|&(b, w)| format!("b{b}={}", name(w)))
        .collect();
    format!("[{}]", parts.join(" "))
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
    fn dense_pages_widen_for_large_versions_and_compare_by_content() {
        let big = WriteId(5 << 32);
        let mut a = Volume::new(1 << 30, 0, 1);
        for b in 0..10 {
            a.write(b, 1, WriteId(b + 1));
        }
        a.write(3, 1, big);
        let mut b = Volume::new(1 << 30, 0, 1);
        b.write(3, 1, big);
        for b_ in (0..10).filter(|&x| x != 3) {
            b.write(b_, 1, WriteId(b_ + 1));
        }
        assert_eq!(a.block(3), Some(big));
        assert_eq!(a.block(4), Some(WriteId(5)));
        assert_eq!(
            a.blocks_in(2, 5),
            vec![(2, WriteId(3)), (3, big), (4, WriteId(5))]
        );
        assert!(a.same_content(&b) && a == b && a.digest() == b.digest());
        a.replace_range(0, 64, &[(7, WriteId(1))]);
        assert_eq!(a.blocks_in(0, u64::MAX), vec![(7, WriteId(1))]);
        assert_eq!(a.written_blocks(), 1);
    }

    #[test]
    fn same_outside_ignores_only_the_pending_chunks() {
        let mut a = Volume::new(1 << 20, 0, 1);
        let mut b = Volume::new(1 << 20, 0, 1);
        a.write(0, 1, WriteId(1));
        b.write(0, 1, WriteId(1));
        a.write(9, 1, WriteId(2)); // chunk 2 of 4-block chunks, on one side only
        let mut pending = PendingBitmap::new();
        assert!(!a.same_outside(&b, &pending, 4));
        pending.set(2);
        assert!(a.same_outside(&b, &pending, 4));
        b.write(1, 1, WriteId(3)); // chunk 0, not pending
        assert!(!a.same_outside(&b, &pending, 4));
        // Another origin reads differently in every unwritten block.
        assert!(!a.same_outside(&Volume::new(1 << 20, 0, 2), &pending, 4));
    }

    #[test]
    fn blocks_of_rounds_outwards() {
        assert_eq!(blocks_of(0, 512), (0, 1));
        assert_eq!(blocks_of(4095, 2), (0, 2));
        assert_eq!(blocks_of(8192, 8192), (2, 2));
    }

    proptest! {
        /// The paged block map behaves like a plain ordered map of blocks, in both page forms.
        #[test]
        fn block_map_behaves_like_an_ordered_map(
            ops in proptest::collection::vec((0u8..3, 0u64..300, 1u64..200), 0..300)
        ) {
            let mut m = BlockMap::default();
            let mut model = std::collections::BTreeMap::new();
            for (i, (op, block, span)) in ops.into_iter().enumerate() {
                // Now and then a version past 32 bits, which widens a dense page.
                let v = WriteId(if i % 97 == 96 { (1 << 32) + i as u64 } else { i as u64 });
                match op {
                    0 => prop_assert_eq!(m.insert(block, v), model.insert(block, v)),
                    1 => prop_assert_eq!(m.remove(block), model.remove(&block)),
                    _ => {
                        let want: Vec<(u64, WriteId)> =
                            model.range(block..block + span).map(|(&b, &v)| (b, v)).collect();
                        prop_assert_eq!(m.range(block, block + span), want);
                    }
                }
                prop_assert_eq!(m.len(), model.len());
                prop_assert_eq!(m.get(block), model.get(&block).copied());
                let all: Vec<(u64, WriteId)> = model.iter().map(|(&b, &v)| (b, v)).collect();
                prop_assert_eq!(m.range(0, u64::MAX), all);
                // No empty pages are kept, so maps with the same blocks compare equal.
                let mut rebuilt = BlockMap::default();
                for (&b, &v) in &model {
                    rebuilt.insert(b, v);
                }
                prop_assert!(m == rebuilt);
            }
        }

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
