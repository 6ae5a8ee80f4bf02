//! A host's `workload`: a poisson rate or a trace, checked against the host's storage, and
//! where a relative trace path is found.

use super::diagnostic::Ctx;
use super::file::WorkloadFile;
use super::{Addresses, PoissonDef, TraceDef, WorkloadDef};
use crate::units::Bytes;
use mirrorlab_model::{StorageSerial, VolumeId};
use std::path::{Path, PathBuf};
use toml::Spanned;

pub(super) fn workload(
    w: &Spanned<WorkloadFile>,
    storage: StorageSerial,
    scenario_path: &Path,
    volume_size: &dyn Fn(VolumeId) -> Option<u64>,
    ctx: &mut Ctx<'_>,
) -> Option<WorkloadDef> {
    let wf = w.get_ref();
    // A referenced volume must exist and sit on the host's storage.
    let check_volume = |v: &Spanned<VolumeId>, ctx: &mut Ctx<'_>| -> Option<u64> {
        let id = *v.get_ref();
        match volume_size(id) {
            None => {
                ctx.err(
                    v.span(),
                    format!("volume {id} is not defined in any [[storage]]"),
                );
                None
            }
            Some(_) if id.storage != storage => {
                ctx.err(v.span(), format!("volume {id} is on storage {}, but this host is attached to storage {storage}", id.storage));
                None
            }
            size => size,
        }
    };
    match (&wf.poisson, &wf.trace) {
        (Some(_), Some(t)) => {
            ctx.err(
                t.span(),
                "expected either `poisson` or `trace` in a workload, not both",
            );
            None
        }
        (None, None) => {
            ctx.err(
                w.span(),
                "expected a workload with `poisson = RATE` or `trace = PATH`",
            );
            None
        }
        (Some(rate), None) => {
            for (key, present) in [
                ("format", wf.format.is_some()),
                ("devices", wf.devices.is_some()),
                ("time_scale", wf.time_scale.is_some()),
                ("skip_bad_lines", wf.skip_bad_lines.is_some()),
                ("spread", wf.spread.is_some()),
            ] {
                if present {
                    ctx.err(
                        w.span(),
                        format!("`{key}` applies to trace workloads, and this one is poisson"),
                    );
                }
            }
            if !(rate.get_ref().is_finite() && *rate.get_ref() > 0.0) {
                ctx.err(
                    rate.span(),
                    format!(
                        "expected a poisson rate (I/Os per second) above 0, found {}",
                        rate.get_ref()
                    ),
                );
                return None;
            }
            let (volume, more_volumes, volume_bytes) = match (&wf.volume, &wf.volumes) {
                (Some(_), Some(vs)) => {
                    ctx.err(vs.span(), "expected either `volume` or `volumes`, not both");
                    return None;
                }
                (None, None) => {
                    ctx.err(
                        w.span(),
                        "expected `volume = \"STORAGE:VOLUME\"` (or `volumes = [...]`) for a \
                         poisson workload",
                    );
                    return None;
                }
                (Some(volume), None) => (*volume.get_ref(), Vec::new(), check_volume(volume, ctx)?),
                (None, Some(vs)) => {
                    let sizes: Option<Vec<u64>> =
                        vs.get_ref().iter().map(|v| check_volume(v, ctx)).collect();
                    let ids: Vec<VolumeId> = vs.get_ref().iter().map(|v| *v.get_ref()).collect();
                    let (Some(size), Some((&first, rest))) =
                        (sizes?.into_iter().min(), ids.split_first())
                    else {
                        ctx.err(vs.span(), "expected at least one volume in `volumes`");
                        return None;
                    };
                    (first, rest.to_vec(), size)
                }
            };
            let sizes: Vec<(u64, u64)> = match (&wf.size, &wf.sizes) {
                (Some(_), Some(_)) => {
                    ctx.err(w.span(), "expected either `size` or `sizes`, not both");
                    return None;
                }
                (Some(s), None) => vec![(s.0, 1)],
                (None, Some(list)) => list.iter().map(|s| (s.size.0, s.weight)).collect(),
                (None, None) => vec![(4096, 1)],
            };
            if sizes.is_empty() || sizes.iter().all(|&(_, w)| w == 0) {
                ctx.err(
                    w.span(),
                    "expected `sizes` with at least one positive weight",
                );
                return None;
            }
            if let Some(&(s, _)) = sizes.iter().find(|&&(s, _)| s == 0 || s > volume_bytes) {
                ctx.err(
                    w.span(),
                    format!(
                        "expected I/O sizes between 1 byte and the volume size, found {}",
                        Bytes(s)
                    ),
                );
                return None;
            }
            let addresses = match wf
                .addresses
                .as_ref()
                .map(|a| (a.get_ref().as_str(), a.span()))
            {
                None | Some(("uniform", _)) => Addresses::Uniform,
                Some(("sequential", _)) => Addresses::Sequential,
                Some(("zipf", _)) => {
                    let s = wf.skew.as_ref().map_or(0.99, |s| *s.get_ref());
                    if !(s.is_finite() && s > 0.0) {
                        let span = wf.skew.as_ref().map_or(w.span(), Spanned::span);
                        ctx.err(span, format!("expected a zipf skew above 0, found {s}"));
                    }
                    Addresses::Zipf(s)
                }
                Some((other, span)) => {
                    ctx.err(span, format!("expected addresses \"uniform\", \"sequential\" or \"zipf\", found {other:?}"));
                    Addresses::Uniform
                }
            };
            if let (Some(skew), false) = (&wf.skew, matches!(addresses, Addresses::Zipf(_))) {
                ctx.err(skew.span(), "`skew` applies to addresses = \"zipf\"");
            }
            let read_fraction = wf.reads.as_ref().map_or(0.0, |r| *r.get_ref());
            if !(0.0..=1.0).contains(&read_fraction) {
                let span = wf.reads.as_ref().map_or(w.span(), Spanned::span);
                ctx.err(span, format!("expected `reads` (the share of I/Os that are reads) between 0 and 1, found {read_fraction}"));
            }
            Some(WorkloadDef::Poisson(PoissonDef {
                rate: *rate.get_ref(),
                sizes,
                addresses,
                read_fraction,
                volume,
                volume_size: volume_bytes,
                more_volumes,
                dependent: wf.dependent.as_ref().is_some_and(|d| *d.get_ref()),
            }))
        }
        (None, Some(trace)) => {
            for (key, present) in [
                ("size", wf.size.is_some()),
                ("sizes", wf.sizes.is_some()),
                ("addresses", wf.addresses.is_some()),
                ("skew", wf.skew.is_some()),
                ("reads", wf.reads.is_some()),
                ("volumes", wf.volumes.is_some()),
                ("dependent", wf.dependent.is_some()),
            ] {
                if present {
                    ctx.err(
                        w.span(),
                        format!("`{key}` applies to poisson workloads; a trace brings its own"),
                    );
                }
            }
            let Some(format) = wf.format else {
                ctx.err(trace.span(), "expected `format` (cloudphysics, disksim, mqsim, msr, umass or alibaba) with `trace`");
                return None;
            };
            let path = resolve_trace_path(trace.get_ref(), scenario_path);
            let path = match path {
                Ok(p) => p,
                Err(tried) => {
                    ctx.err(
                        trace.span(),
                        format!("trace {:?} not found (tried {})", trace.get_ref(), tried),
                    );
                    return None;
                }
            };
            if let Some(kind) = crate::trace::not_a_file(&path) {
                let message = format!(
                    "trace {:?}: expected a regular file, found {kind}",
                    trace.get_ref()
                );
                ctx.err(trace.span(), message);
                return None;
            }
            let time_scale = wf.time_scale.as_ref().map_or(1.0, |t| *t.get_ref());
            if !(time_scale.is_finite() && time_scale > 0.0) {
                let span = wf.time_scale.as_ref().map_or(w.span(), Spanned::span);
                ctx.err(span, format!("expected a time_scale above 0 (2.0 replays twice as slow), found {time_scale}"));
            }
            let mut map = Vec::new();
            match (&wf.volume, &wf.devices) {
                (Some(_), Some(_)) | (None, None) => {
                    ctx.err(w.span(), "expected either `volume` (every device onto one volume) or `devices = { \"0\" = \"STORAGE:VOLUME\", ... }`");
                    return None;
                }
                (Some(v), None) => map.push((None, *v.get_ref(), check_volume(v, ctx)?)),
                (None, Some(devices)) => {
                    for (device, v) in devices {
                        let Ok(d) = device.parse::<u64>() else {
                            ctx.err(
                                v.span(),
                                format!("expected a device number as the key, found {device:?}"),
                            );
                            continue;
                        };
                        if let Some(size) = check_volume(v, ctx) {
                            map.push((Some(d), *v.get_ref(), size));
                        }
                    }
                    // Numeric order, so lookups and outputs never depend on key spelling.
                    map.sort_by_key(|&(d, _, _)| d);
                }
            }
            Some(WorkloadDef::Trace(TraceDef {
                path,
                format,
                time_scale,
                skip_bad_lines: wf.skip_bad_lines.unwrap_or(false),
                spread: wf.spread.unwrap_or_default(),
                map,
            }))
        }
    }
}

/// A relative trace path is looked up by its file name in `$MIRRORLAB_TRACES` first (where
/// traces that cannot live in the repository are kept, e.g. the GPL CloudPhysics trace), then
/// relative to the scenario's directory, then to the current directory.
fn resolve_trace_path(given: &str, scenario_path: &Path) -> Result<PathBuf, String> {
    let p = Path::new(given);
    if p.is_absolute() {
        return if p.exists() {
            Ok(p.to_path_buf())
        } else {
            Err(p.display().to_string())
        };
    }
    let library = std::env::var_os("MIRRORLAB_TRACES")
        .filter(|d| !d.is_empty())
        .zip(p.file_name())
        .map(|(d, name)| Path::new(&d).join(name));
    if let Some(l) = library.as_ref().filter(|l| l.exists()) {
        return Ok(l.clone());
    }
    let dir = scenario_path.parent().unwrap_or(Path::new(""));
    let beside = dir.join(p);
    if beside.exists() {
        return Ok(beside);
    }
    if p.exists() {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir().map_or_else(
        |_| p.display().to_string(),
        |d| d.join(p).display().to_string(),
    );
    let first = library.map_or(String::new(), |l| {
        format!("{} in $MIRRORLAB_TRACES, then ", l.display())
    });
    Err(format!(
        "{first}{} relative to the scenario's directory, then {} relative to the current directory",
        beside.display(),
        cwd
    ))
}
