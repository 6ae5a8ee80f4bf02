//! `pairdisplay`: the HORCM-style status table of every mirror, one line per volume end.

use crate::ids::{StorageSerial, VolumeId};
use crate::protocol::{Role, StorageSystem};
use crate::table::PairState;
use crate::topology::Topology;
use serde::Serialize;
use std::fmt::Write;

/// One line of pairdisplay: one volume of one mirror.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairRow {
    /// The mirror's group name (Fig 9).
    pub group: String,
    /// The volume of this end.
    pub volume: VolumeId,
    /// The storage system holding it.
    pub storage: StorageSerial,
    /// "P" for the PVOL end, "S" for the SVOL end.
    pub ps: &'static str,
    /// The pair state at this end.
    pub state: PairState,
    /// Copy mode for remote mirrors, "local" for in-system ones.
    pub mode: String,
    /// The volume at the other end.
    pub mirror_volume: VolumeId,
    /// Share of the volume in sync with its mirror, by pending chunks.
    pub sync_percent: f64,
    /// Bytes still to copy: pending chunks plus ordered writes in flight.
    pub pending_bytes: u64,
    /// The consistency group (CTG) of the mirror, if it is in one; absent from the JSON
    /// otherwise, so outputs without groups keep their bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctg: Option<String>,
}

/// The rows for every mirror `systems` hold, ordered by group then volume.
pub fn pairdisplay<'a>(
    topology: &Topology,
    systems: impl IntoIterator<Item = &'a StorageSystem>,
) -> Vec<PairRow> {
    let mut rows = Vec::new();
    for sys in systems {
        for p in sys.pairs() {
            let group = topology.group_of(p.mirror).unwrap_or("-").to_string();
            let ctg = topology
                .consistency_group_of(p.mirror)
                .map(|g| g.name.clone());
            let mode = if p.mirror.is_local() {
                "local".to_string()
            } else {
                p.options.mode.to_string()
            };
            let size = sys
                .volume(match p.role {
                    Role::Secondary => p.mirror.svol.serial,
                    _ => p.mirror.pvol.serial,
                })
                .map_or(1, |v| v.size.max(1));
            let chunk = p.options.chunk_bytes;
            let ends = match p.role {
                Role::Primary => vec![(
                    p.mirror.pvol,
                    p.mirror.svol,
                    "P",
                    p.pending.count() * chunk + p.journal_bytes(),
                )],
                Role::Secondary => {
                    vec![(p.mirror.svol, p.mirror.pvol, "S", p.pending.count() * chunk)]
                }
                Role::Local => vec![
                    (p.mirror.pvol, p.mirror.svol, "P", p.pending.count() * chunk),
                    (
                        p.mirror.svol,
                        p.mirror.pvol,
                        "S",
                        p.svol_pending.count() * chunk,
                    ),
                ],
            };
            for (volume, other, ps, pending) in ends {
                let sync_percent = if p.state == PairState::Simplex {
                    0.0
                } else {
                    100.0 * (1.0 - (pending as f64 / size as f64).min(1.0))
                };
                rows.push(PairRow {
                    group: group.clone(),
                    volume,
                    storage: volume.storage,
                    ps,
                    state: p.state,
                    mode: mode.clone(),
                    mirror_volume: other,
                    sync_percent,
                    pending_bytes: pending,
                    ctg: ctg.clone(),
                });
            }
        }
    }
    rows.sort_by(|a, b| (&a.group, a.ps, a.volume).cmp(&(&b.group, b.ps, b.volume)));
    rows
}

/// Formats rows as a fixed-width table, with a CTG column when a mirror is in a consistency
/// group.
pub fn format_pairdisplay(rows: &[PairRow]) -> String {
    let mut s = String::new();
    let ctg = rows.iter().any(|r| r.ctg.is_some());
    let ctg_cell = |c: Option<&str>| {
        if ctg {
            format!("{:<8} ", c.unwrap_or("-"))
        } else {
            String::new()
        }
    };
    let _ = writeln!(
        s,
        "{}{:<8} {:<12} {:<7} {:<3} {:<15} {:<9} {:<12} {:>7} {:>14}",
        ctg_cell(Some("CTG")),
        "Group",
        "Volume",
        "Storage",
        "P/S",
        "Status",
        "Mode",
        "Mirror",
        "%Sync",
        "Pending(B)"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{}{:<8} {:<12} {:<7} {:<3} {:<15} {:<9} {:<12} {:>7.1} {:>14}",
            ctg_cell(r.ctg.as_deref()),
            r.group,
            r.volume.to_string(),
            r.storage.to_string(),
            r.ps,
            r.state.to_string(),
            r.mode,
            r.mirror_volume.to_string(),
            r.sync_percent,
            r.pending_bytes
        );
    }
    s
}
