//! The pairs a set of HORCM files describe together: a dev_group/dev_name found in two
//! instances' files is one pair, its two lines the two volumes. What kind of mirror it is comes
//! from the serials (one array: in-system ShadowImage; two: TrueCopy or Universal Replicator)
//! and from MU# (`1`-`2` only ShadowImage, `h0`-`h3` only Universal Replicator).
//!
//! Which side is the PVOL is not in the files: the pair's line in the file given first (after
//! `--primary`) is taken as the PVOL. A `HORCM_DEV` volume's LDEV number is not in the file
//! either; it gets a placeholder id above any LDEV number (`10000`, `10001`, ...).

use super::conf::{At, Conf, Device, Located, MirrorUnit, Volume};
use mirrorlab_model::topology::{MirrorSpec, VolumeSpec};
use mirrorlab_model::{MirrorId, PairOptions, Topology, VolumeId};

/// First placeholder LDEV number for a `HORCM_DEV` volume: above every 16-bit LDEV number,
/// so it never names a real one.
const PLACEHOLDER_LDEV: u32 = 0x1_0000;

/// What a pair copies with, as far as the files tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Both volumes on one array: ShadowImage.
    InSystem,
    /// Two arrays, MU#0 (none or `0`): TrueCopy, taken as synchronous.
    TrueCopy,
    /// Two arrays, MU# `hN`: Universal Replicator, asynchronous through journals.
    Journal,
}

/// One side of a pair as a file gives it.
#[derive(Clone, Debug)]
pub struct Side {
    /// Index of the file in the import order.
    pub file: usize,
    pub line: usize,
    pub volume: VolumeId,
    pub mu: MirrorUnit,
    /// The `HORCM_DEV` path when the LDEV number is a placeholder.
    pub path: Option<(String, u32, u32)>,
}

#[derive(Clone, Debug)]
pub struct Pair {
    pub group: String,
    pub name: String,
    pub kind: Kind,
    pub primary: Side,
    pub secondary: Side,
    /// (ip_address, service) the primary file's `HORCM_INST` gives for the group.
    pub remote: Option<(String, String)>,
}

/// The pairs of the files, in the order of the primary sides' lines.
#[derive(Clone, Debug)]
pub struct Layout {
    /// File names, in the import order.
    pub files: Vec<String>,
    pub pairs: Vec<Pair>,
}

impl Layout {
    /// Every volume a pair names, in order of first mention.
    pub fn volumes(&self) -> Vec<&Side> {
        let mut out: Vec<&Side> = Vec::new();
        for p in &self.pairs {
            for s in [&p.primary, &p.secondary] {
                if !out.iter().any(|x| x.volume == s.volume) {
                    out.push(s);
                }
            }
        }
        out
    }
}

/// Joins the files' entries into pairs; `confs` in the import order (the first is primary).
pub fn pair(confs: &[Conf]) -> Result<Layout, Vec<Located>> {
    let mut errors = Vec::new();
    let located = |conf: &Conf, at: At, message: String| Located {
        path: conf.path.clone(),
        line: at.line,
        column: Some(at.column),
        message,
    };
    // Each file's devices with their volume ids.
    let mut placeholders: Vec<(u32, String, u32, u32)> = Vec::new();
    let mut sides: Vec<Vec<(&Device, Side)>> = Vec::new();
    for (i, conf) in confs.iter().enumerate() {
        let mut v = Vec::new();
        for d in &conf.devices {
            let (volume, path) = match &d.volume {
                Volume::Ldev { serial, ldev } => (VolumeId::new(*serial, *ldev), None),
                Volume::Path { port, target, lu } => {
                    let serial = match conf.command_serials.as_slice() {
                        [s] => *s,
                        [s, rest @ ..] if rest.iter().all(|x| x == s) => *s,
                        other => {
                            let said = if other.is_empty() {
                                "HORCM_CMD names no serial".to_string()
                            } else {
                                format!(
                                    "HORCM_CMD names several ({})",
                                    other
                                        .iter()
                                        .map(u32::to_string)
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            };
                            errors.push(located(
                                conf,
                                d.at,
                                format!(
                                    "which array holds ({port}, {target}, {lu}) of {} {}? {said}: \
                                     name one command device as \\\\.\\CMD-Serial#-LDEV#-Port#, or \
                                     list the volume in HORCM_LDEV with its Serial#",
                                    d.group, d.name
                                ),
                            ));
                            continue;
                        }
                    };
                    let key = (serial, port.clone(), *target, *lu);
                    let n = match placeholders.iter().position(|p| *p == key) {
                        Some(n) => n,
                        None => {
                            placeholders.push(key);
                            placeholders.len() - 1
                        }
                    };
                    (
                        VolumeId::new(serial, PLACEHOLDER_LDEV + n as u32),
                        Some((port.clone(), *target, *lu)),
                    )
                }
            };
            v.push((
                d,
                Side {
                    file: i,
                    line: d.at.line,
                    volume,
                    mu: d.mu,
                    path,
                },
            ));
        }
        sides.push(v);
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut pairs: Vec<Pair> = Vec::new();
    for (i, conf) in confs.iter().enumerate() {
        for (d, side) in &sides[i] {
            let others: Vec<(usize, &Device, &Side)> = sides
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .flat_map(|(j, v)| {
                    v.iter()
                        .filter(|(o, _)| o.group == d.group && o.name == d.name)
                        .map(move |(o, s)| (j, *o, s))
                })
                .collect();
            let (j, od, os) = match others.as_slice() {
                [] => {
                    let with_group: Vec<String> = confs
                        .iter()
                        .enumerate()
                        .filter(|&(j, c)| j != i && c.devices.iter().any(|o| o.group == d.group))
                        .map(|(_, c)| c.name())
                        .collect();
                    let why = if with_group.is_empty() {
                        format!("no other file given has group {}", d.group)
                    } else {
                        format!(
                            "{} has group {} but no dev_name {}",
                            with_group.join(", "),
                            d.group,
                            d.name
                        )
                    };
                    errors.push(located(
                        conf,
                        d.at,
                        format!(
                            "{} {} has no other side: {why} (a pair is one dev_name of a group \
                             in two instances' files)",
                            d.group, d.name
                        ),
                    ));
                    continue;
                }
                [one] => *one,
                _ => {
                    // Reported once, from the first file that has it.
                    if others.iter().all(|o| o.0 > i) {
                        errors.push(located(
                            conf,
                            d.at,
                            format!(
                                "{} {} is in {} files; a pair joins two instances",
                                d.group,
                                d.name,
                                others.len() + 1
                            ),
                        ));
                    }
                    continue;
                }
            };
            // Each pair once, from its primary (earlier) file.
            if j < i {
                continue;
            }
            let where_is = |s: &Side| format!("{}:{}", confs[s.file].name(), s.line);
            if side.volume == os.volume {
                errors.push(located(
                    &confs[j],
                    od.at,
                    format!(
                        "both sides of {} {} are {} (here and at {})",
                        d.group,
                        d.name,
                        side.volume,
                        where_is(side)
                    ),
                ));
                continue;
            }
            let in_system = side.volume.storage == os.volume.storage;
            let said = [side.mu.local_only(), os.mu.local_only()];
            let conflict = if said.contains(&Some(true)) && said.contains(&Some(false)) {
                Some(format!(
                    "MU# {} here and MU# {} at {} disagree: 1-2 are ShadowImage (in-system), \
                     h0-h3 Universal Replicator (remote)",
                    os.mu,
                    side.mu,
                    where_is(side)
                ))
            } else if in_system && said.contains(&Some(false)) {
                let journal = if os.mu.local_only() == Some(false) {
                    os.mu
                } else {
                    side.mu
                };
                Some(format!(
                    "conflicting serials: MU# {journal} is a Universal Replicator mirror between \
                     two arrays, but both sides of {} {} are on {} (here and at {})",
                    d.group,
                    d.name,
                    side.volume.storage,
                    where_is(side)
                ))
            } else if !in_system && said.contains(&Some(true)) {
                Some(format!(
                    "conflicting serials: MU# 1-2 is a ShadowImage (in-system) mirror, but {} {} \
                     joins {} (at {}) and {} (here)",
                    d.group,
                    d.name,
                    side.volume.storage,
                    where_is(side),
                    os.volume.storage
                ))
            } else {
                None
            };
            if let Some(message) = conflict {
                errors.push(located(&confs[j], od.at, message));
                continue;
            }
            let kind = if in_system {
                Kind::InSystem
            } else if said.contains(&Some(false)) {
                Kind::Journal
            } else {
                Kind::TrueCopy
            };
            if let Some(p) = pairs
                .iter()
                .find(|p| p.group == d.group && (p.kind == Kind::InSystem) != in_system)
            {
                errors.push(located(
                    conf,
                    d.at,
                    format!(
                        "group {} mixes in-system and remote pairs ({} is {}): a group is \
                         ShadowImage or TrueCopy/Universal Replicator",
                        d.group,
                        p.name,
                        if p.kind == Kind::InSystem {
                            "in-system"
                        } else {
                            "remote"
                        }
                    ),
                ));
                continue;
            }
            pairs.push(Pair {
                group: d.group.clone(),
                name: d.name.clone(),
                kind,
                primary: side.clone(),
                secondary: os.clone(),
                remote: conf
                    .remotes
                    .iter()
                    .find(|r| r.group == d.group)
                    .map(|r| (r.address.clone(), r.service.clone())),
            });
        }
    }
    if errors.is_empty() {
        let layout = Layout {
            files: confs.iter().map(Conf::name).collect(),
            pairs,
        };
        check_topology(&layout, confs)?;
        Ok(layout)
    } else {
        Err(errors)
    }
}

/// What mirrorlab itself refuses (a cycle of mirrors, one pair twice), located at the
/// primary side's line, so a written scenario always loads.
fn check_topology(layout: &Layout, confs: &[Conf]) -> Result<(), Vec<Located>> {
    let mut t = Topology::new();
    for s in layout.volumes() {
        // Distinct ids, one size: nothing to refuse.
        let _ = t.add_volume(VolumeSpec {
            id: s.volume,
            size: 1 << 30,
            used: 1 << 30,
        });
    }
    let mut errors = Vec::new();
    for p in &layout.pairs {
        let spec = MirrorSpec {
            id: MirrorId::new(p.primary.volume, p.secondary.volume),
            group: p.group.clone(),
            options: PairOptions::default(),
        };
        if let Err(e) = t.add_mirror(spec) {
            errors.push(Located {
                path: confs[p.primary.file].path.clone(),
                line: p.primary.line,
                column: Some(1),
                message: format!("{} {}: {e}", p.group, p.name),
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
