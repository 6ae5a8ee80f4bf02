//! mirrorlab-model: the domain of storage-based replication (volumes, mirrors, the copy
//! management table of Fig 6) and the one replication protocol, as a deterministic sans-IO
//! state machine. No clock, no I/O, no randomness: the model checker ([`check`]) and the
//! simulator crate both drive [`protocol::StorageSystem`], so what is checked is what runs.
#![warn(unreachable_pub)]
#![warn(missing_docs)]

pub mod bitmap;
pub mod check;
pub mod command;
pub mod display;
pub mod fabric;
mod flatmap;
pub mod ids;
pub mod invariants;
pub mod protocol;
pub mod replay;
pub mod table;
pub mod topology;
pub mod volume;
pub mod walkthrough;
pub mod world;

pub use bitmap::PendingBitmap;
pub use display::{format_pairdisplay, pairdisplay, PairRow};
pub use ids::{CommandId, MirrorId, StorageSerial, VolumeId, VolumeSerial, WriteId};
pub use protocol::{
    Command, HostWrite, Input, Message, Mutant, Output, ProtocolConfig, StorageSystem, Timer,
    Transport,
};
pub use table::{AdaptivePass, CopyMode, CopyTable, CopyType, PairOptions, PairState, Refusal};
pub use topology::{MirrorRef, SplitPlan, Topology};
pub use volume::{Digest, Volume, BLOCK_BYTES};
pub use world::World;
