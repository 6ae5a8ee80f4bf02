//! Identifiers of the domain: storage systems, volumes, mirrors, writes.
//!
//! A volume is addressed as in Fig 7 of the seed: the serial number of its storage system plus
//! a volume serial within it. Volume serials are LDEV numbers, written in hex the way array
//! tools print them (`105a` is 0x105a), so `"64001:105a"` is a `VolumeId`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The unique serial number of a storage system (Fig 6 "Pair System ID").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StorageSerial(pub u32);

/// A volume's serial within its storage system (an LDEV number, shown in hex).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VolumeSerial(pub u32);

/// A volume: storage serial + volume serial (Fig 7 PVOL ID / SVOL ID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VolumeId {
    /// The storage system holding it.
    pub storage: StorageSerial,
    /// Its LDEV number there.
    pub serial: VolumeSerial,
}

/// A mirror (pair) is named by its two volumes; one PVOL may have several mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MirrorId {
    /// The primary volume (the source of the copy).
    pub pvol: VolumeId,
    /// The secondary volume.
    pub svol: VolumeId,
}

impl VolumeId {
    /// Storage then serial as one number: its order is the order of the fields.
    fn rank(&self) -> u64 {
        u64::from(self.storage.0) << 32 | u64::from(self.serial.0)
    }
}

impl MirrorId {
    /// PVOL then SVOL as one number: its order is the order of the fields.
    fn rank(&self) -> u128 {
        u128::from(self.pvol.rank()) << 64 | u128::from(self.svol.rank())
    }
}

// Ordered by the fields in turn, as a derived ordering would be, compared as one number: a
// system with thousands of mirrors finds one by binary search, and the derived chain of
// three-way comparisons cost each step several times as much.
impl Ord for VolumeId {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&o.rank())
    }
}

impl PartialOrd for VolumeId {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for MirrorId {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&o.rank())
    }
}

impl PartialOrd for MirrorId {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// A host write, numbered by whoever issues it. The number doubles as the block version the
/// write leaves behind, so two volumes hold the same data exactly when their versions agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WriteId(pub u64);

/// A command issued to a storage system, numbered by the issuer so completions can be matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommandId(pub u64);

/// Why an id does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// Not `STORAGE:HEX`.
    #[error("expected a volume id like \"64001:105a\" (storage serial : hex volume serial), found {0:?}")]
    Volume(String),
    /// Not a decimal storage serial.
    #[error("expected a storage serial (a decimal number like 64001), found {0:?}")]
    Storage(String),
    /// Not a hex volume serial.
    #[error("expected a hex volume serial like \"105a\", found {0:?}")]
    VolumeSerial(String),
}

impl VolumeId {
    /// Volume `serial` of storage `storage` (`VolumeId::new(64001, 0x105a)` is `64001:105a`).
    pub const fn new(storage: u32, serial: u32) -> Self {
        VolumeId {
            storage: StorageSerial(storage),
            serial: VolumeSerial(serial),
        }
    }
}

impl MirrorId {
    /// The mirror from `pvol` to `svol`.
    pub const fn new(pvol: VolumeId, svol: VolumeId) -> Self {
        MirrorId { pvol, svol }
    }

    /// Local when both volumes sit in one storage system (in-system copy), else remote.
    pub fn is_local(&self) -> bool {
        self.pvol.storage == self.svol.storage
    }
}

impl fmt::Display for StorageSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for VolumeSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

impl fmt::Display for VolumeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.storage, self.serial)
    }
}

impl fmt::Display for MirrorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}->{}", self.pvol, self.svol)
    }
}

impl fmt::Display for WriteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w{}", self.0)
    }
}

impl FromStr for StorageSerial {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        s.trim()
            .parse()
            .map(StorageSerial)
            .map_err(|_| IdError::Storage(s.to_string()))
    }
}

impl FromStr for VolumeSerial {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let t = s.trim();
        let t = t.strip_prefix("0x").unwrap_or(t);
        if t.is_empty() || t.len() > 8 {
            return Err(IdError::VolumeSerial(s.to_string()));
        }
        u32::from_str_radix(t, 16)
            .map(VolumeSerial)
            .map_err(|_| IdError::VolumeSerial(s.to_string()))
    }
}

impl FromStr for VolumeId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let (st, vol) = s
            .split_once(':')
            .ok_or_else(|| IdError::Volume(s.to_string()))?;
        Ok(VolumeId {
            storage: st.parse().map_err(|_| IdError::Volume(s.to_string()))?,
            serial: vol.parse().map_err(|_| IdError::Volume(s.to_string()))?,
        })
    }
}

macro_rules! serde_via_display {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_via_display!(VolumeSerial);
serde_via_display!(VolumeId);

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The packed ordering is the fields' order, as the derived one was.
        #[test]
        fn ids_order_by_their_fields_in_turn(a: [u32; 4], b: [u32; 4]) {
            let m = |x: [u32; 4]| MirrorId::new(VolumeId::new(x[0], x[1]), VolumeId::new(x[2], x[3]));
            proptest::prop_assert_eq!(m(a).cmp(&m(b)), a.cmp(&b));
            proptest::prop_assert_eq!(m(a).pvol.cmp(&m(b).pvol), a[..2].cmp(&b[..2]));
        }
    }

    #[test]
    fn volume_ids_round_trip_in_hex() {
        let v: VolumeId = "64001:105a".parse().unwrap();
        assert_eq!(v, VolumeId::new(64001, 0x105a));
        assert_eq!(v.to_string(), "64001:105a");
    }

    #[test]
    fn bad_volume_ids_say_what_was_expected() {
        for bad in ["64001", "x:105a", "64001:zz", ":1", "64001:123456789"] {
            let e = bad.parse::<VolumeId>().unwrap_err().to_string();
            assert!(e.contains("expected a volume id"), "{bad}: {e}");
        }
    }

    #[test]
    fn local_and_remote_mirrors() {
        let a = VolumeId::new(1, 1);
        assert!(MirrorId::new(a, VolumeId::new(1, 2)).is_local());
        assert!(!MirrorId::new(a, VolumeId::new(2, 1)).is_local());
    }
}
