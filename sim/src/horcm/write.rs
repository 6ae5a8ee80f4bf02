//! The scenario text an imported [`Layout`] becomes: `[[storage]]` with the LDEVs, `[[link]]`
//! between arrays that remote pairs join, a production `[[host]]` on each PVOL no mirror feeds,
//! and a `[[mirror]]` per pair, in PAIR at t = 0, with its group. Each value the files do not
//! give is a placeholder that runs, on a line marked `TODO`; comments say which file line each
//! volume and pair came from.

use super::pairs::{Kind, Layout, Pair, Side};
use crate::scenario_text::quote;
use mirrorlab_model::{StorageSerial, VolumeId};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Placeholders for what a HORCM file does not say; chosen so the scenario runs quickly.
const VOLUME_SIZE: &str = "1GiB";
const DURATION: &str = "1min";
const BANDWIDTH: &str = "1Gbit/s";
const LATENCY: &str = "1ms";
const JOURNAL: &str = "8GiB";
const WORKLOAD_IOPS: u32 = 100;
const WORKLOAD_SIZE: &str = "8KiB";

/// Control characters cannot stand in a TOML comment; the parser refuses them in fields, this
/// keeps file names safe too.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The scenario text of `layout`.
pub fn scenario(layout: &Layout) -> String {
    let files = printable(&layout.files.join(", "));
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Imported by `mirrorlab import` from {files}.\n\
         # A pair is a dev_group/dev_name found in two of these files. Which side is the PVOL is not\n\
         # in a HORCM file: the side in the file given first ({}) is taken as the PVOL\n\
         # (`--primary FILE` names another). Lines marked TODO are placeholders for what the files\n\
         # do not say (sizes, links, journals, workload, how long to run): they run as they are,\n\
         # but a study needs the real values.",
        printable(&layout.files[0])
    );
    let _ = writeln!(t, "name = {}", quote(&format!("Imported from {files}")));
    let _ = writeln!(t, "seed = 1");
    let _ = writeln!(
        t,
        "duration = {} # TODO: how long to simulate (placeholder)",
        quote(DURATION)
    );

    let volumes = layout.volumes();
    let roots: Vec<VolumeId> = volumes
        .iter()
        .map(|s| s.volume)
        .filter(|v| !layout.pairs.iter().any(|p| p.secondary.volume == *v))
        .collect();
    let storages: BTreeSet<StorageSerial> = volumes.iter().map(|s| s.volume.storage).collect();
    for serial in &storages {
        let site = if roots.iter().any(|v| v.storage == *serial) {
            "primary"
        } else {
            "secondary"
        };
        let _ = writeln!(
            t,
            "\n[[storage]]\nserial = {serial}\nsite = {}\nvolumes = [",
            quote(site)
        );
        for s in volumes.iter().filter(|s| s.volume.storage == *serial) {
            let _ = writeln!(
                t,
                "    {{ id = {}, size = {} }}, # {}; TODO: size (placeholder){}",
                quote(&s.volume.serial.to_string()),
                quote(VOLUME_SIZE),
                mentions(layout, s.volume),
                placeholder_note(s)
            );
        }
        let _ = writeln!(t, "]");
    }

    let links: BTreeSet<(StorageSerial, StorageSerial)> = layout
        .pairs
        .iter()
        .filter(|p| p.kind != Kind::InSystem)
        .map(|p| {
            let (a, b) = (p.primary.volume.storage, p.secondary.volume.storage);
            (a.min(b), a.max(b))
        })
        .collect();
    for (a, b) in &links {
        let _ = writeln!(
            t,
            "\n# TODO: the link between {a} and {b} is not in a HORCM file (placeholder).\n\
             [[link]]\nname = {}\nbetween = [{a}, {b}]\nbandwidth = {} # TODO: placeholder\n\
             latency = {} # TODO: placeholder",
            quote(&format!("{a}-{b}")),
            quote(BANDWIDTH),
            quote(LATENCY)
        );
    }

    for v in &roots {
        let _ = writeln!(
            t,
            "\n# TODO: the workload is not in a HORCM file: a small Poisson workload (placeholder).\n\
             [[host]]\nname = {}\nrole = \"production\"\nstorage = {}\n\
             workload = {{ poisson = {WORKLOAD_IOPS}, size = {}, volume = {} }} # TODO: placeholder",
            quote(&format!("prod-{}-{}", v.storage, v.serial)),
            v.storage,
            quote(WORKLOAD_SIZE),
            quote(&v.to_string())
        );
    }

    for p in &layout.pairs {
        mirror(&mut t, layout, p);
    }
    t
}

fn mirror(t: &mut String, layout: &Layout, p: &Pair) {
    let at = |s: &Side| format!("{}:{} (MU# {})", layout.files[s.file], s.line, s.mu);
    let remote = p.remote.as_ref().map_or(String::new(), |(ip, service)| {
        format!("; HORCM_INST: {ip} {service}")
    });
    let _ = writeln!(
        t,
        "\n# {} {}: {} -> {}{}",
        p.group,
        p.name,
        at(&p.primary),
        at(&p.secondary),
        printable(&remote)
    );
    let _ = writeln!(
        t,
        "[[mirror]]\ngroup = {}\npvol = {}\nsvol = {}",
        quote(&p.group),
        quote(&p.primary.volume.to_string()),
        quote(&p.secondary.volume.to_string())
    );
    match p.kind {
        Kind::InSystem => {
            let _ = writeln!(
                t,
                "# ShadowImage: both volumes on {}",
                p.primary.volume.storage
            );
        }
        Kind::TrueCopy => {
            let _ = writeln!(
                t,
                "mode = \"sync\" # TODO: MU#0 between two arrays is TrueCopy, taken as synchronous; \
                 \"async\" if it is TrueCopy Async or Universal Replicator at MU#0\n\
                 # TODO: the fence level (paircreate -f data|status|never) is not in a HORCM file; \
                 the default applies"
            );
        }
        Kind::Journal => {
            let _ = writeln!(
                t,
                "mode = \"async\" # MU# hN: Universal Replicator\n\
                 journal = {} # TODO: the journal volumes are not in a HORCM file (placeholder)",
                quote(JOURNAL)
            );
        }
    }
}

/// Which entries name volume `v`: `GROUP dev_name (file:line)`, in pair order.
fn mentions(layout: &Layout, v: VolumeId) -> String {
    let mut out: Vec<String> = Vec::new();
    for p in &layout.pairs {
        for s in [&p.primary, &p.secondary] {
            if s.volume == v {
                out.push(format!(
                    "{} {} ({}:{})",
                    p.group, p.name, layout.files[s.file], s.line
                ));
            }
        }
    }
    printable(&out.join(", "))
}

/// For a `HORCM_DEV` volume: its LDEV number is a placeholder.
fn placeholder_note(s: &Side) -> String {
    match &s.path {
        None => String::new(),
        Some((port, target, lu)) => printable(&format!(
            "; TODO: HORCM_DEV ({port}, {target}, {lu}) gives no LDEV#: id {} is a placeholder \
             (raidscan -p {port} -fx shows the LDEV)",
            s.volume.serial
        )),
    }
}
