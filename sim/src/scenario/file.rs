//! The scenario file as written: the serde shapes of its sections, with `toml::Spanned` on
//! every value a later check must point at. Unknown keys and bad units fail here
//! (`deny_unknown_fields`, the unit types of [`crate::units`]); every other judgement is
//! [`super::validate`]'s.

use super::{HostRole, Spread};
use crate::trace::TraceFormat;
use crate::units::{Bytes, Nanos, Rate};
use mirrorlab_model::table::{AsyncResume, Fence, OnFull};
use mirrorlab_model::{CopyMode, VolumeId, VolumeSerial};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScenarioFile {
    pub(super) name: String,
    pub(super) seed: Option<u64>,
    /// Required, except in a replay (which lasts one `interval` per step).
    pub(super) duration: Option<Spanned<Nanos>>,
    pub(super) output: Option<OutputFile>,
    pub(super) protocol: Option<ProtocolFile>,
    pub(super) defaults: Option<Spanned<PairFile>>,
    #[serde(default)]
    pub(super) storage: Vec<Spanned<StorageFile>>,
    #[serde(default)]
    pub(super) link: Vec<Spanned<LinkFile>>,
    #[serde(default)]
    pub(super) host: Vec<Spanned<HostFile>>,
    #[serde(default)]
    pub(super) mirror: Vec<Spanned<PairFile>>,
    #[serde(default)]
    pub(super) group: Vec<Spanned<GroupFile>>,
    #[serde(default)]
    pub(super) command: Vec<Spanned<CommandFile>>,
    pub(super) replay: Option<Spanned<ReplayFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplayFile {
    pub(super) interval: Option<Spanned<Nanos>>,
    pub(super) steps: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OutputFile {
    pub(super) interval: Option<Spanned<Nanos>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProtocolFile {
    pub(super) split_transport: Option<Spanned<String>>,
    pub(super) host_latency: Option<Nanos>,
    pub(super) local_copy: Option<Spanned<Rate>>,
    pub(super) mutant: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StorageFile {
    pub(super) serial: Spanned<u32>,
    pub(super) site: Option<String>,
    pub(super) write_latency: Option<Spanned<Nanos>>,
    #[serde(default)]
    pub(super) volumes: Vec<Spanned<VolumeFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VolumeFile {
    pub(super) id: Spanned<VolumeSerial>,
    pub(super) size: Spanned<Bytes>,
    pub(super) used: Option<Spanned<Bytes>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LinkFile {
    pub(super) name: Spanned<String>,
    pub(super) between: Spanned<Vec<u32>>,
    pub(super) bandwidth: Spanned<Rate>,
    pub(super) latency: Nanos,
    pub(super) price_per_gb: Option<Spanned<f64>>,
    pub(super) price_per_mbps_month: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) outages: Vec<Spanned<(Nanos, Nanos)>>,
    pub(super) loss: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HostFile {
    pub(super) name: Spanned<String>,
    pub(super) role: HostRole,
    pub(super) storage: Spanned<u32>,
    pub(super) workload: Option<Spanned<WorkloadFile>>,
    pub(super) start: Option<Spanned<Nanos>>,
    pub(super) stop: Option<Spanned<Nanos>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WorkloadFile {
    pub(super) poisson: Option<Spanned<f64>>,
    pub(super) size: Option<Bytes>,
    pub(super) sizes: Option<Vec<SizeWeight>>,
    pub(super) addresses: Option<Spanned<String>>,
    pub(super) skew: Option<Spanned<f64>>,
    pub(super) reads: Option<Spanned<f64>>,
    pub(super) trace: Option<Spanned<String>>,
    pub(super) format: Option<TraceFormat>,
    pub(super) volume: Option<Spanned<VolumeId>>,
    /// Poisson over several volumes in turn (a database's log, then data).
    pub(super) volumes: Option<Spanned<Vec<Spanned<VolumeId>>>>,
    /// Each write issued only after the one before it was acknowledged.
    pub(super) dependent: Option<Spanned<bool>>,
    pub(super) devices: Option<BTreeMap<String, Spanned<VolumeId>>>,
    pub(super) time_scale: Option<Spanned<f64>>,
    pub(super) skip_bad_lines: Option<bool>,
    pub(super) spread: Option<Spread>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SizeWeight {
    pub(super) size: Bytes,
    pub(super) weight: u64,
}

/// `[defaults]` and `[[mirror]]` share this shape; `[defaults]` may not name volumes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PairFile {
    pub(super) group: Option<Spanned<String>>,
    pub(super) pvol: Option<Spanned<VolumeId>>,
    pub(super) svol: Option<Spanned<VolumeId>>,
    pub(super) initial: Option<Spanned<String>>,
    pub(super) mode: Option<Spanned<CopyMode>>,
    pub(super) journal: Option<Spanned<Bytes>>,
    pub(super) cycle: Option<Spanned<Nanos>>,
    pub(super) pass: Option<Spanned<Nanos>>,
    pub(super) chunk: Option<Spanned<Bytes>>,
    pub(super) on_full: Option<Spanned<OnFull>>,
    pub(super) fence: Option<Spanned<Fence>>,
    pub(super) resume: Option<Spanned<AsyncResume>>,
    pub(super) window: Option<Spanned<Bytes>>,
    /// Read only to be refused with a pointer to `[[group]]`, the one way to form a
    /// consistency group.
    pub(super) ctg: Option<Spanned<toml::Value>>,
}

/// `[[group]]`: a consistency group of `[[mirror]]`s, named by their `group` names or as
/// `PVOL,SVOL`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupFile {
    pub(super) name: Spanned<String>,
    pub(super) mirrors: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CommandFile {
    pub(super) at: Option<Spanned<Nanos>>,
    pub(super) after: Option<Spanned<String>>,
    pub(super) delay: Option<Nanos>,
    pub(super) run: Spanned<String>,
}
