//! The trace formats a scenario can name, by name: parsing, printing and serde.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use super::layout::Layout;
use super::{alibaba, cloudphysics, disksim, mqsim, msr, umass, TraceError};

/// The trace formats a scenario can name in `workload.format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceFormat {
    CloudPhysics,
    /// DiskSim's own ASCII format: times in milliseconds, hex flags with read = 1.
    DiskSim,
    /// The DiskSim-like format MQSim reads: times in nanoseconds, type 0 = write, 1 = read.
    MqSim,
    Msr,
    Umass,
    Alibaba,
}

impl TraceFormat {
    pub const ALL: [TraceFormat; 6] = [
        TraceFormat::CloudPhysics,
        TraceFormat::DiskSim,
        TraceFormat::MqSim,
        TraceFormat::Msr,
        TraceFormat::Umass,
        TraceFormat::Alibaba,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            TraceFormat::CloudPhysics => "cloudphysics",
            TraceFormat::DiskSim => "disksim",
            TraceFormat::MqSim => "mqsim",
            TraceFormat::Msr => "msr",
            TraceFormat::Umass => "umass",
            TraceFormat::Alibaba => "alibaba",
        }
    }

    pub(super) fn layout(self) -> &'static Layout {
        match self {
            TraceFormat::CloudPhysics => &cloudphysics::LAYOUT,
            TraceFormat::DiskSim => &disksim::LAYOUT,
            TraceFormat::MqSim => &mqsim::LAYOUT,
            TraceFormat::Msr => &msr::LAYOUT,
            TraceFormat::Umass => &umass::LAYOUT,
            TraceFormat::Alibaba => &alibaba::LAYOUT,
        }
    }
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for TraceFormat {
    type Err = TraceError;

    fn from_str(s: &str) -> Result<Self, TraceError> {
        TraceFormat::ALL
            .into_iter()
            .find(|format| format.name() == s)
            .ok_or_else(|| TraceError::UnknownFormat {
                found: s.to_string(),
            })
    }
}

impl<'de> Deserialize<'de> for TraceFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_name(d, "a trace format name")
    }
}

/// A value named by a string, read with its `FromStr` (whose error is the message). A visitor
/// rather than `String::deserialize`, so the error carries the position.
pub(crate) fn deserialize_name<'de, D, T>(d: D, expecting: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    struct Name<T>(&'static str, PhantomData<T>);
    impl<T: FromStr> serde::de::Visitor<'_> for Name<T>
    where
        T::Err: fmt::Display,
    {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            v.parse().map_err(E::custom)
        }
    }
    d.deserialize_str(Name(expecting, PhantomData))
}

impl Serialize for TraceFormat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}
