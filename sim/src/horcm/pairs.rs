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

/// A pair line with its volume resolved.
struct Entry<'a> {
    device: &'a Device,
    side: Side,
}

/// Joins the files' entries into pairs; `confs` in the import order (the first is primary).
pub fn pair(confs: &[Conf]) -> Result<Layout, Vec<Located>> {
    let entries = resolve(confs)?;
    let mut errors = Vec::new();
    let mut pairs: Vec<Pair> = Vec::new();
    for (i, conf) in confs.iter().enumerate() {
        for e in &entries[i] {
            let d = e.device;
            let others: Vec<&Entry> = entries
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .flat_map(|(_, v)| v)
                .filter(|o| o.device.group == d.group && o.device.name == d.name)
                .collect();
            let other = match others.as_slice() {
                [] => {
                    errors.push(located(conf, d.at, no_other_side(confs, i, d)));
                    continue;
                }
                [one] => *one,
                // Reported once, from the first file that has it.
                _ if others.iter().all(|o| o.side.file > i) => {
                    let message = format!(
                        "{} {} is in {} files; a pair joins two instances",
                        d.group,
                        d.name,
                        others.len() + 1
                    );
                    errors.push(located(conf, d.at, message));
                    continue;
                }
                _ => continue,
            };
            // Each pair once, from its primary (earlier) file.
            if other.side.file < i {
                continue;
            }
            let secondary = &confs[other.side.file];
            let kind = match kind(confs, d, &e.side, &other.side) {
                Ok(k) => k,
                Err(message) => {
                    errors.push(located(secondary, other.device.at, message));
                    continue;
                }
            };
            if let Some(p) = pairs.iter().find(|p| {
                p.group == d.group && (p.kind == Kind::InSystem) != (kind == Kind::InSystem)
            }) {
                let was = if p.kind == Kind::InSystem {
                    "in-system"
                } else {
                    "remote"
                };
                let message = format!(
                    "group {} mixes in-system and remote pairs ({} is {was}): a group is \
                     ShadowImage or TrueCopy/Universal Replicator",
                    d.group, p.name
                );
                errors.push(located(conf, d.at, message));
                continue;
            }
            pairs.push(Pair {
                group: d.group.clone(),
                name: d.name.clone(),
                kind,
                primary: e.side.clone(),
                secondary: other.side.clone(),
                remote: conf
                    .remotes
                    .iter()
                    .find(|r| r.group == d.group)
                    .map(|r| (r.address.clone(), r.service.clone())),
            });
        }
    }
    if let (true, Some(first)) = (pairs.is_empty() && errors.is_empty(), confs.first()) {
        errors.push(Located {
            path: first.path.clone(),
            line: 1,
            column: None,
            message: "no pairs: no HORCM_LDEV or HORCM_DEV line is in any of the files".to_string(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let layout = Layout {
        files: confs.iter().map(Conf::name).collect(),
        pairs,
    };
    check_topology(&layout, confs)?;
    Ok(layout)
}

fn located(conf: &Conf, at: At, message: String) -> Located {
    Located {
        path: conf.path.clone(),
        line: at.line,
        column: Some(at.column),
        message,
    }
}

/// Each file's pair lines with their volume ids; a `HORCM_DEV` path gets a placeholder LDEV
/// on the array its file's command device names.
fn resolve(confs: &[Conf]) -> Result<Vec<Vec<Entry<'_>>>, Vec<Located>> {
    let mut errors = Vec::new();
    let mut placeholders: Vec<(u32, &str, u32, u32)> = Vec::new();
    let mut out = Vec::new();
    for (file, conf) in confs.iter().enumerate() {
        let mut v = Vec::new();
        for d in &conf.devices {
            let (volume, path) = match &d.volume {
                Volume::Ldev { serial, ldev } => (VolumeId::new(*serial, *ldev), None),
                Volume::Path { port, target, lu } => {
                    let serial = match path_serial(conf) {
                        Ok(s) => s,
                        Err(said) => {
                            let message = format!(
                                "which array holds ({port}, {target}, {lu}) of {} {}? {said}: \
                                 name one command device as \\\\.\\CMD-Serial#-LDEV#-Port#, \
                                 or list the volume in HORCM_LDEV with its Serial#",
                                d.group, d.name
                            );
                            errors.push(located(conf, d.at, message));
                            continue;
                        }
                    };
                    let key = (serial, port.as_str(), *target, *lu);
                    let n = placeholders
                        .iter()
                        .position(|p| *p == key)
                        .unwrap_or_else(|| {
                            placeholders.push(key);
                            placeholders.len() - 1
                        });
                    (
                        VolumeId::new(serial, PLACEHOLDER_LDEV + n as u32),
                        Some((port.clone(), *target, *lu)),
                    )
                }
            };
            let side = Side {
                file,
                line: d.at.line,
                volume,
                mu: d.mu,
                path,
            };
            v.push(Entry { device: d, side });
        }
        out.push(v);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The one array a file's command devices name, or what they say instead.
fn path_serial(conf: &Conf) -> Result<u32, String> {
    let mut serials = conf.command_serials.clone();
    serials.sort_unstable();
    serials.dedup();
    match serials.as_slice() {
        [s] => Ok(*s),
        [] => Err("HORCM_CMD names no serial".to_string()),
        several => Err(format!(
            "HORCM_CMD names several ({})",
            several
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Why the line `d` of file `i` pairs with nothing.
fn no_other_side(confs: &[Conf], i: usize, d: &Device) -> String {
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
    format!(
        "{} {} has no other side: {why} (a pair is one dev_name of a group in two instances' \
         files)",
        d.group, d.name
    )
}

/// The kind of the pair `d` joining `primary` and `secondary`, or why the two lines (their
/// serials, their MU#s) contradict each other, said from the secondary's line.
fn kind(confs: &[Conf], d: &Device, primary: &Side, secondary: &Side) -> Result<Kind, String> {
    let there = format!("{}:{}", confs[primary.file].name(), primary.line);
    let (group, name) = (&d.group, &d.name);
    if primary.volume == secondary.volume {
        return Err(format!(
            "both sides of {group} {name} are {} (here and at {there})",
            primary.volume
        ));
    }
    let in_system = primary.volume.storage == secondary.volume.storage;
    let said = [primary.mu.local_only(), secondary.mu.local_only()];
    let journal = [primary.mu, secondary.mu]
        .into_iter()
        .find(|m| m.local_only() == Some(false));
    if said.contains(&Some(true)) && journal.is_some() {
        return Err(format!(
            "MU# {} here and MU# {} at {there} disagree: 1-2 are ShadowImage (in-system), \
             h0-h3 Universal Replicator (remote)",
            secondary.mu, primary.mu
        ));
    }
    match (in_system, journal) {
        (true, Some(mu)) => Err(format!(
            "conflicting serials: MU# {mu} is a Universal Replicator mirror between two arrays, \
             but both sides of {group} {name} are on {} (here and at {there})",
            primary.volume.storage
        )),
        (false, _) if said.contains(&Some(true)) => Err(format!(
            "conflicting serials: MU# 1-2 is a ShadowImage (in-system) mirror, but {group} {name} \
             joins {} (at {there}) and {} (here)",
            primary.volume.storage, secondary.volume.storage
        )),
        (true, None) => Ok(Kind::InSystem),
        (false, Some(_)) => Ok(Kind::Journal),
        (false, None) => Ok(Kind::TrueCopy),
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
