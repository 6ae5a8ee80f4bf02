//! Read-only configuration: storage systems, volumes, mirrors and groups, and the mirror graph
//! (petgraph) on which indirect mirrors and atomic-split routes are found (Fig 10 step 1100).

use crate::ids::{IdError, MirrorId, StorageSerial, VolumeId};
use crate::table::{CopyMode, CopyType, PairOptions};
use crate::volume::BLOCK_BYTES;
use petgraph::graphmap::DiGraphMap;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use thiserror::Error;

/// A volume of the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeSpec {
    /// Where it is.
    pub id: VolumeId,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes holding data at the start: what a full initial copy sends.
    pub used: u64,
}

/// A mirror of the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorSpec {
    /// Its two volumes.
    pub id: MirrorId,
    /// Its group name (Fig 9), how commands name it.
    pub group: String,
    /// Its copy mode and tunables.
    pub options: PairOptions,
}

/// A consistency group (CTG, Figs 8-9: "a name may be defined for a group of mirrors"):
/// remote mirrors between the same two storage systems, in the same copy mode, whose SVOLs
/// must together hold one point of the write stream of their PVOLs (a database's data and
/// log volumes). What that asks of each mode is `protocol::group`'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyGroup {
    /// Its name, which commands may use like a mirror's name (`pairsplit ORA_DB`).
    pub name: String,
    /// Its mirrors, in id order.
    pub mirrors: Vec<MirrorId>,
}

/// Why a topology or a mirror name is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TopologyError {
    /// Two volumes with one id.
    #[error("volume {0} is defined twice")]
    DuplicateVolume(VolumeId),
    /// A mirror or command names a volume that is not defined.
    #[error("volume {0} does not exist")]
    UnknownVolume(VolumeId),
    /// Two mirrors with one pair of volumes.
    #[error("mirror {0} is defined twice")]
    DuplicateMirror(MirrorId),
    /// A mirror's volumes differ in size.
    #[error("mirror {mirror}: volumes differ in size ({pvol_size} vs {svol_size} bytes)")]
    SizeMismatch {
        /// The mirror.
        mirror: MirrorId,
        /// Its PVOL's size in bytes.
        pvol_size: u64,
        /// Its SVOL's size in bytes.
        svol_size: u64,
    },
    /// The mirror would close a cycle.
    #[error("mirror {0} would close a cycle of mirrors (a volume would copy onto itself)")]
    Cycle(MirrorId),
    /// A mirror from a volume to itself.
    #[error("mirror {0} mirrors a volume onto itself")]
    SelfMirror(MirrorId),
    /// The chunk size is not a positive multiple of the block size.
    #[error("mirror {0}: chunk size must be a positive multiple of 4KiB")]
    BadChunk(MirrorId),
    /// A command names a group no mirror has.
    #[error("unknown group {0:?}")]
    UnknownGroup(String),
    /// `PVOL,SVOL` names no mirror.
    #[error("no mirror from {pvol} to {svol}")]
    UnknownMirror {
        /// The PVOL named.
        pvol: VolumeId,
        /// The SVOL named.
        svol: VolumeId,
    },
    #[error(
        "mirrors {0} cannot be split atomically: no storage system feeds all of them through \
         mirrors, so they share no point in one write stream"
    )]
    /// The mirrors of an atomic split share no source (Fig 10 step 1100 finds no route).
    NoCommonStream(String),
    /// A consistency group named twice, or named like a mirror.
    #[error("consistency group {0:?}: the name is already taken (by a group or a mirror)")]
    GroupNameTaken(String),
    /// A consistency group with no mirror.
    #[error("consistency group {0:?} has no mirror")]
    EmptyGroup(String),
    /// A local mirror in a consistency group.
    #[error(
        "consistency group {group:?}: mirror {mirror} is local; a consistency group holds \
         remote mirrors"
    )]
    LocalInGroup {
        /// The group.
        group: String,
        /// The local mirror.
        mirror: MirrorId,
    },
    /// A mirror in two consistency groups.
    #[error("consistency group {group:?}: mirror {mirror} is already in group {other:?}")]
    InTwoGroups {
        /// The group refused.
        group: String,
        /// The mirror.
        mirror: MirrorId,
        /// The group it is in already.
        other: String,
    },
    /// Mirrors of a consistency group between different storage systems.
    #[error(
        "consistency group {group:?}: mirror {mirror} runs {} -> {}, the group's first mirror \
         {} -> {}; a group's mirrors join the same two storage systems",
        mirror.pvol.storage, mirror.svol.storage, first.pvol.storage, first.svol.storage
    )]
    GroupSpansSystems {
        /// The group.
        group: String,
        /// The group's first mirror.
        first: MirrorId,
        /// The mirror that differs.
        mirror: MirrorId,
    },
    /// Mirrors of a consistency group in different copy modes.
    #[error(
        "consistency group {group:?}: mirror {mirror} is {mode}, the group's first mirror is \
         {first_mode}; a group's mirrors share one copy mode"
    )]
    GroupModes {
        /// The group.
        group: String,
        /// The mirror that differs.
        mirror: MirrorId,
        /// Its mode.
        mode: CopyMode,
        /// The first mirror's mode.
        first_mode: CopyMode,
    },
    /// An adaptive mirror in a consistency group.
    #[error(
        "consistency group {0:?}: adaptive mirrors copy in address order, with no write order \
         to keep across volumes; use sync, semi-sync, async or periodic"
    )]
    AdaptiveGroup(String),
}

/// One step of an atomic split (Figs 7-11): the mirrors to split on this system, and the
/// sub-plans to forward through remote mirrors to the systems holding indirect mirrors.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SplitPlan {
    /// The system that splits `here` and forwards `forwards` (`None` in an empty plan).
    pub system: Option<StorageSerial>,
    /// Mirrors whose PVOL is on this system (local ones, and remote ones split at this end).
    pub here: Vec<MirrorId>,
    /// (remote mirror the split travels through, plan for its secondary system).
    pub forwards: Vec<(MirrorId, SplitPlan)>,
}

impl SplitPlan {
    /// Every mirror the plan splits, in a stable order.
    pub fn mirrors(&self) -> Vec<MirrorId> {
        let mut all = self.here.clone();
        for (_, sub) in &self.forwards {
            all.extend(sub.mirrors());
        }
        all.sort();
        all
    }
}

/// The configured world. Mirrors can be added (paircreate of a new group) but never change.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    volumes: BTreeMap<VolumeId, VolumeSpec>,
    mirrors: BTreeMap<MirrorId, MirrorSpec>,
    graph: DiGraphMap<VolumeId, CopyType>,
    groups: Vec<ConsistencyGroup>,
}

impl Topology {
    /// The origin tag of a volume's content at t = 0: volumes joined by a mirror then hold
    /// the same data, so they share the tag of the volume at the head of their chain (the
    /// mirror graph has no cycles: validation refuses them).
    pub(crate) fn origin_of(&self, v: VolumeId) -> u64 {
        let mut head = v;
        while let Some(m) = self.mirrors().find(|m| m.id.svol == head) {
            head = m.id.pvol;
        }
        (u64::from(head.storage.0) << 32) | u64::from(head.serial.0)
    }

    /// An empty topology.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a volume; its id must be new.
    pub fn add_volume(&mut self, spec: VolumeSpec) -> Result<(), TopologyError> {
        if self.volumes.contains_key(&spec.id) {
            return Err(TopologyError::DuplicateVolume(spec.id));
        }
        self.graph.add_node(spec.id);
        self.volumes.insert(spec.id, spec);
        Ok(())
    }

    /// Checks a mirror before it exists: volumes known, same size, no cycle, sane chunk.
    pub(crate) fn check_mirror(
        &self,
        id: MirrorId,
        options: &PairOptions,
    ) -> Result<(), TopologyError> {
        let p = self.volume(id.pvol)?;
        let s = self.volume(id.svol)?;
        if id.pvol == id.svol {
            return Err(TopologyError::SelfMirror(id));
        }
        if self.mirrors.contains_key(&id) {
            return Err(TopologyError::DuplicateMirror(id));
        }
        if p.size != s.size {
            return Err(TopologyError::SizeMismatch {
                mirror: id,
                pvol_size: p.size,
                svol_size: s.size,
            });
        }
        if options.chunk_bytes == 0 || options.chunk_bytes % BLOCK_BYTES != 0 {
            return Err(TopologyError::BadChunk(id));
        }
        if self.path(id.svol, id.pvol).is_some() {
            return Err(TopologyError::Cycle(id));
        }
        Ok(())
    }

    /// Adds a mirror: volumes known, same size, no cycle, sane chunk (`check_mirror`).
    pub fn add_mirror(&mut self, spec: MirrorSpec) -> Result<(), TopologyError> {
        self.check_mirror(spec.id, &spec.options)?;
        let ty = if spec.id.is_local() {
            CopyType::Local
        } else {
            CopyType::Remote
        };
        self.graph.add_edge(spec.id.pvol, spec.id.svol, ty);
        self.mirrors.insert(spec.id, spec);
        Ok(())
    }

    /// Volume `id`, or why not.
    pub fn volume(&self, id: VolumeId) -> Result<&VolumeSpec, TopologyError> {
        self.volumes
            .get(&id)
            .ok_or(TopologyError::UnknownVolume(id))
    }

    /// Every volume, in id order.
    pub fn volumes(&self) -> impl Iterator<Item = &VolumeSpec> {
        self.volumes.values()
    }

    /// Every mirror, in id order.
    pub fn mirrors(&self) -> impl Iterator<Item = &MirrorSpec> {
        self.mirrors.values()
    }

    /// Mirror `id`, if defined.
    pub fn mirror(&self, id: MirrorId) -> Option<&MirrorSpec> {
        self.mirrors.get(&id)
    }

    /// Every storage system holding a volume.
    pub fn systems(&self) -> BTreeSet<StorageSerial> {
        self.volumes.keys().map(|v| v.storage).collect()
    }

    /// The mirrors of a group (Fig 9 name), or else of a consistency group, in id order.
    pub fn group(&self, name: &str) -> Result<Vec<MirrorId>, TopologyError> {
        let m: Vec<MirrorId> = self
            .mirrors
            .values()
            .filter(|m| m.group == name)
            .map(|m| m.id)
            .collect();
        if !m.is_empty() {
            return Ok(m);
        }
        self.groups
            .iter()
            .find(|g| g.name == name)
            .map(|g| g.mirrors.clone())
            .ok_or_else(|| TopologyError::UnknownGroup(name.to_string()))
    }

    /// Adds a consistency group of `mirrors`: a new name, remote mirrors between the same two
    /// storage systems in one copy mode (not adaptive), each in no other group.
    pub fn add_consistency_group(
        &mut self,
        name: &str,
        mirrors: &[MirrorId],
    ) -> Result<(), TopologyError> {
        let taken = self.groups.iter().any(|g| g.name == name)
            || self.mirrors.values().any(|m| m.group == name);
        if taken {
            return Err(TopologyError::GroupNameTaken(name.to_string()));
        }
        let mut members: Vec<MirrorId> = mirrors.to_vec();
        members.sort();
        members.dedup();
        let Some(&first) = members.first() else {
            return Err(TopologyError::EmptyGroup(name.to_string()));
        };
        let first_mode = self.mirror_spec(first)?.options.mode;
        for &m in &members {
            let spec = self.mirror_spec(m)?;
            let group = name.to_string();
            if m.is_local() {
                return Err(TopologyError::LocalInGroup { group, mirror: m });
            }
            if let Some(other) = self.consistency_group_of(m) {
                let other = other.name.clone();
                return Err(TopologyError::InTwoGroups {
                    group,
                    mirror: m,
                    other,
                });
            }
            if (m.pvol.storage, m.svol.storage) != (first.pvol.storage, first.svol.storage) {
                return Err(TopologyError::GroupSpansSystems {
                    group,
                    first,
                    mirror: m,
                });
            }
            let mode = spec.options.mode;
            if mode != first_mode {
                return Err(TopologyError::GroupModes {
                    group,
                    mirror: m,
                    mode,
                    first_mode,
                });
            }
            if mode == CopyMode::Adaptive {
                return Err(TopologyError::AdaptiveGroup(group));
            }
        }
        self.groups.push(ConsistencyGroup {
            name: name.to_string(),
            mirrors: members,
        });
        Ok(())
    }

    fn mirror_spec(&self, id: MirrorId) -> Result<&MirrorSpec, TopologyError> {
        self.mirrors.get(&id).ok_or(TopologyError::UnknownMirror {
            pvol: id.pvol,
            svol: id.svol,
        })
    }

    /// Every consistency group, in the order defined.
    pub fn consistency_groups(&self) -> &[ConsistencyGroup] {
        &self.groups
    }

    /// Whether `name` is a consistency group's name (rather than mirrors').
    pub fn names_consistency_group(&self, name: &MirrorRef) -> bool {
        match name {
            MirrorRef::Group(g) => self.groups.iter().any(|c| &c.name == g),
            MirrorRef::Ids(..) => false,
        }
    }

    /// The consistency group mirror `id` belongs to, if any.
    pub fn consistency_group_of(&self, id: MirrorId) -> Option<&ConsistencyGroup> {
        self.groups.iter().find(|g| g.mirrors.contains(&id))
    }

    /// The group name of mirror `id`.
    pub fn group_of(&self, id: MirrorId) -> Option<&str> {
        self.mirrors.get(&id).map(|m| m.group.as_str())
    }

    /// How a command line or a replay step names mirror `id`: by its group, or as
    /// `PVOL,SVOL` when it has none.
    pub fn mirror_ref(&self, id: MirrorId) -> MirrorRef {
        match self.group_of(id) {
            Some(g) => MirrorRef::Group(g.to_string()),
            None => MirrorRef::Ids(id.pvol, id.svol),
        }
    }

    /// The shortest path of mirrors from `from` to `to` (volumes along it, both ends included),
    /// walking neighbours in id order so the answer is deterministic.
    pub fn path(&self, from: VolumeId, to: VolumeId) -> Option<Vec<VolumeId>> {
        let mut prev: BTreeMap<VolumeId, VolumeId> = BTreeMap::new();
        let mut queue = VecDeque::from([from]);
        let mut seen = BTreeSet::from([from]);
        while let Some(v) = queue.pop_front() {
            if v == to {
                let mut path = vec![to];
                let mut cur = to;
                while let Some(&p) = prev.get(&cur) {
                    path.push(p);
                    cur = p;
                }
                path.reverse();
                return Some(path);
            }
            if !self.graph.contains_node(v) {
                continue;
            }
            let mut next: Vec<VolumeId> = self.graph.neighbors(v).collect();
            next.sort();
            for n in next {
                if seen.insert(n) {
                    prev.insert(n, v);
                    queue.push_back(n);
                }
            }
        }
        None
    }

    /// Indirect mirrors (Fig 10 step 1100): volume pairs joined by a path of two or more
    /// mirrors through intermediate volumes (105a -> 105b -> 106b), with the path.
    pub fn indirect_mirrors(&self) -> Vec<Vec<VolumeId>> {
        let mut out = Vec::new();
        for &a in self.volumes.keys() {
            for &c in self.volumes.keys() {
                if a == c || self.graph.contains_edge(a, c) {
                    continue;
                }
                if let Some(p) = self.path(a, c) {
                    if p.len() >= 3 {
                        out.push(p);
                    }
                }
            }
        }
        out
    }

    /// Mirrors named by groups (Fig 9) or by PVOL/SVOL id pairs (Fig 7).
    pub fn resolve(&self, names: &[MirrorRef]) -> Result<Vec<MirrorId>, TopologyError> {
        let mut out = BTreeSet::new();
        for n in names {
            match n {
                MirrorRef::Group(g) => out.extend(self.group(g)?),
                MirrorRef::Ids(pvol, svol) => {
                    let id = MirrorId::new(*pvol, *svol);
                    if !self.mirrors.contains_key(&id) {
                        return Err(TopologyError::UnknownMirror {
                            pvol: *pvol,
                            svol: *svol,
                        });
                    }
                    out.insert(id);
                }
            }
        }
        Ok(out.into_iter().collect())
    }

    /// Routes an atomic split of `mirrors` (Fig 10 step 1100): finds the storage system whose
    /// write stream feeds every named mirror, splits what is local there, and forwards the rest
    /// through the remote mirrors on the path to each indirect mirror.
    pub(crate) fn split_plan(&self, mirrors: &[MirrorId]) -> Result<SplitPlan, TopologyError> {
        let names = || {
            mirrors
                .iter()
                .map(|m| self.group_of(*m).map_or(m.to_string(), str::to_string))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        };
        let candidates: BTreeSet<StorageSerial> = mirrors.iter().map(|m| m.pvol.storage).collect();
        'root: for root in candidates {
            let mut plan = SplitPlan {
                system: Some(root),
                ..Default::default()
            };
            // Sources: the PVOLs of the named mirrors on the root system.
            let sources: Vec<VolumeId> = mirrors
                .iter()
                .filter(|m| m.pvol.storage == root)
                .map(|m| m.pvol)
                .collect();
            for &m in mirrors {
                if m.pvol.storage == root {
                    plan.here.push(m);
                    continue;
                }
                let Some(path) = sources.iter().find_map(|&s| self.path(s, m.pvol)) else {
                    continue 'root;
                };
                // The remote hops along the path, in order.
                let hops: Vec<MirrorId> = path
                    .windows(2)
                    .map(|w| MirrorId::new(w[0], w[1]))
                    .filter(|h| !h.is_local())
                    .collect();
                insert_route(&mut plan, &hops, m);
            }
            return Ok(plan);
        }
        Err(TopologyError::NoCommonStream(names()))
    }
}

fn insert_route(plan: &mut SplitPlan, hops: &[MirrorId], m: MirrorId) {
    match hops.split_first() {
        None => plan.here.push(m),
        Some((&hop, rest)) => {
            let i = match plan.forwards.iter().position(|(via, _)| *via == hop) {
                Some(i) => i,
                None => {
                    plan.forwards.push((
                        hop,
                        SplitPlan {
                            system: Some(hop.svol.storage),
                            ..Default::default()
                        },
                    ));
                    plan.forwards.len() - 1
                }
            };
            insert_route(&mut plan.forwards[i].1, rest, m);
        }
    }
}

/// How a command names a mirror.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MirrorRef {
    /// A group name (Fig 9).
    Group(String),
    /// `PVOL,SVOL` ids (Fig 7).
    Ids(VolumeId, VolumeId),
}

/// Why a mirror name does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MirrorRefError {
    /// A bad volume id in `PVOL,SVOL`.
    #[error(transparent)]
    Volume(#[from] IdError),
    /// Neither a group name nor `PVOL,SVOL`.
    #[error("expected a group name or PVOL,SVOL (e.g. 64001:105a,64001:106a), found {0:?}")]
    Neither(String),
}

/// `ORA_L` (a group) or `64001:105a,64001:106a` (PVOL,SVOL): how command lines and replay
/// steps name a mirror.
impl std::str::FromStr for MirrorRef {
    type Err = MirrorRefError;

    fn from_str(s: &str) -> Result<Self, MirrorRefError> {
        match s.split_once(',') {
            Some((p, v)) => Ok(MirrorRef::Ids(p.parse()?, v.parse()?)),
            None if s.contains(':') => Err(MirrorRefError::Neither(s.to_string())),
            None => Ok(MirrorRef::Group(s.to_string())),
        }
    }
}

impl std::fmt::Display for MirrorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MirrorRef::Group(g) => f.write_str(g),
            MirrorRef::Ids(p, s) => write!(f, "{p},{s}"),
        }
    }
}

/// The volumes of Fig 8 and the first remote mirror ORA_R1 (Fig 2): where Fig 5 starts.
pub fn fig2(size: u64, remote: PairOptions) -> Topology {
    let mut t = Topology::new();
    for id in fig8_volumes() {
        t.add_volume(VolumeSpec {
            id,
            size,
            used: size,
        })
        .expect("distinct volumes");
    }
    let [a105, _, b105, _] = fig8_volumes();
    t.add_mirror(MirrorSpec {
        id: MirrorId::new(a105, b105),
        group: "ORA_R1".to_string(),
        options: remote,
    })
    .expect("one mirror");
    t
}

/// The topology of Fig 8 (without ORA_R2, which the Fig 12 flow creates): 64001 holds 105a
/// and 106a, 64002 holds 105b and 106b; ORA_R1 remote, ORA_L and ORA_RL local.
pub fn fig8(size: u64, remote: PairOptions) -> Topology {
    let mut t = fig2(size, remote);
    let [a105, a106, b105, b106] = fig8_volumes();
    let local = PairOptions {
        chunk_bytes: remote.chunk_bytes,
        ..PairOptions::default()
    };
    for (group, p, s) in [("ORA_L", a105, a106), ("ORA_RL", b105, b106)] {
        t.add_mirror(MirrorSpec {
            id: MirrorId::new(p, s),
            group: group.to_string(),
            options: local,
        })
        .expect("Fig 8 is acyclic");
    }
    t
}

/// Volumes 105a, 106a (storage 64001) and 105b, 106b (storage 64002) of Fig 8.
pub fn fig8_volumes() -> [VolumeId; 4] {
    [
        VolumeId::new(64001, 0x105a),
        VolumeId::new(64001, 0x106a),
        VolumeId::new(64002, 0x105b),
        VolumeId::new(64002, 0x106b),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fig8_has_the_indirect_mirror_105a_106b() {
        let t = fig8(1 << 30, PairOptions::default());
        let [a105, _, b105, b106] = fig8_volumes();
        assert_eq!(t.indirect_mirrors(), vec![vec![a105, b105, b106]]);
    }

    #[test]
    fn atomic_split_of_ora_l_and_ora_rl_forwards_through_ora_r1() {
        let t = fig8(1 << 30, PairOptions::default());
        let [a105, a106, b105, b106] = fig8_volumes();
        let ms = t
            .resolve(&[
                MirrorRef::Group("ORA_L".into()),
                MirrorRef::Group("ORA_RL".into()),
            ])
            .unwrap();
        let plan = t.split_plan(&ms).unwrap();
        assert_eq!(plan.system, Some(StorageSerial(64001)));
        assert_eq!(plan.here, vec![MirrorId::new(a105, a106)]);
        assert_eq!(plan.forwards.len(), 1);
        assert_eq!(plan.forwards[0].0, MirrorId::new(a105, b105));
        assert_eq!(plan.forwards[0].1.here, vec![MirrorId::new(b105, b106)]);
    }

    #[test]
    fn three_site_cascade_routes_through_every_hop() {
        let mut t = fig8(1 << 30, PairOptions::default());
        let c = VolumeId::new(64003, 0x105c);
        let c2 = VolumeId::new(64003, 0x106c);
        for id in [c, c2] {
            t.add_volume(VolumeSpec {
                id,
                size: 1 << 30,
                used: 0,
            })
            .unwrap();
        }
        let [a105, a106, b105, _] = fig8_volumes();
        for (g, p, s) in [("R3", b105, c), ("L3", c, c2)] {
            t.add_mirror(MirrorSpec {
                id: MirrorId::new(p, s),
                group: g.into(),
                options: PairOptions::default(),
            })
            .unwrap();
        }
        let plan = t
            .split_plan(&[MirrorId::new(a105, a106), MirrorId::new(c, c2)])
            .unwrap();
        let (via1, p1) = &plan.forwards[0];
        assert_eq!(*via1, MirrorId::new(a105, b105));
        assert!(p1.here.is_empty());
        assert_eq!(p1.forwards[0].0, MirrorId::new(b105, c));
        assert_eq!(p1.forwards[0].1.here, vec![MirrorId::new(c, c2)]);
    }

    #[test]
    fn bad_mirrors_are_refused_with_reasons() {
        let mut t = fig8(1 << 30, PairOptions::default());
        let [a105, a106, _, b106] = fig8_volumes();
        let opts = PairOptions::default();
        assert!(matches!(
            t.check_mirror(MirrorId::new(b106, a105), &opts),
            Err(TopologyError::Cycle(_))
        ));
        t.add_volume(VolumeSpec {
            id: VolumeId::new(64002, 0x1),
            size: 5,
            used: 0,
        })
        .unwrap();
        assert!(matches!(
            t.check_mirror(MirrorId::new(a106, VolumeId::new(64002, 1)), &opts),
            Err(TopologyError::SizeMismatch { .. })
        ));
        let bad_chunk = PairOptions {
            chunk_bytes: 1000,
            ..opts
        };
        assert!(matches!(
            t.check_mirror(MirrorId::new(a106, b106), &bad_chunk),
            Err(TopologyError::BadChunk(_))
        ));
        // Two unrelated local mirrors on different systems share no write stream.
        let e = t
            .split_plan(&[
                MirrorId::new(a105, a106),
                MirrorId::new(VolumeId::new(64002, 1), b106),
            ])
            .unwrap_err();
        assert!(e.to_string().contains("cannot be split atomically"), "{e}");
    }

    #[test]
    fn consistency_groups_hold_remote_mirrors_between_two_systems_in_one_mode() {
        let mut t = fig8(1 << 30, PairOptions::default());
        let [a105, a106, b105, b106] = fig8_volumes();
        let r1 = MirrorId::new(a105, b105);
        let r2 = MirrorId::new(a106, b106);
        t.add_mirror(MirrorSpec {
            id: r2,
            group: "ORA_R2".into(),
            options: PairOptions::with_mode(CopyMode::Async),
        })
        .unwrap();
        let e = |t: &Topology, name: &str, ms: &[MirrorId]| {
            t.clone().add_consistency_group(name, ms).unwrap_err()
        };
        assert!(matches!(
            e(&t, "ORA_L", &[r1]),
            TopologyError::GroupNameTaken(_)
        ));
        assert!(matches!(e(&t, "G", &[]), TopologyError::EmptyGroup(_)));
        let local = MirrorId::new(a105, a106);
        assert!(matches!(
            e(&t, "G", &[r1, local]),
            TopologyError::LocalInGroup { .. }
        ));
        assert!(matches!(
            e(&t, "G", &[r1, r2]),
            TopologyError::GroupModes { .. }
        ));
        let back = MirrorId::new(b106, a106);
        let mut t2 = Topology::new();
        for v in fig8_volumes() {
            t2.add_volume(t.volume(v).unwrap().clone()).unwrap();
        }
        for id in [r1, back] {
            t2.add_mirror(MirrorSpec {
                id,
                group: id.to_string(),
                options: PairOptions::default(),
            })
            .unwrap();
        }
        assert!(matches!(
            e(&t2, "G", &[r1, back]),
            TopologyError::GroupSpansSystems { .. }
        ));
        let adaptive = PairOptions::with_mode(CopyMode::Adaptive);
        let mut t3 = Topology::new();
        for v in fig8_volumes() {
            t3.add_volume(t.volume(v).unwrap().clone()).unwrap();
        }
        t3.add_mirror(MirrorSpec {
            id: r1,
            group: "A".into(),
            options: adaptive,
        })
        .unwrap();
        assert!(matches!(
            e(&t3, "G", &[r1]),
            TopologyError::AdaptiveGroup(_)
        ));

        t.add_consistency_group("ORA_DB", &[r1]).unwrap();
        assert!(matches!(
            e(&t, "G2", &[r1]),
            TopologyError::InTwoGroups { .. }
        ));
        assert_eq!(t.group("ORA_DB").unwrap(), vec![r1]);
        assert_eq!(
            t.consistency_group_of(r1).map(|g| g.name.as_str()),
            Some("ORA_DB")
        );
        assert!(t.names_consistency_group(&MirrorRef::Group("ORA_DB".into())));
        assert!(!t.names_consistency_group(&MirrorRef::Group("ORA_R1".into())));
    }
}
