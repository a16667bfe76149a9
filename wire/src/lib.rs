//! The module contract, shared by the viewer-profile module and the host so that the two
//! cannot drift. `docs/abi.md` specifies it byte by byte.
//!
//! - [`frames`]: how the host hands a batch of raw Kafka messages to the module.
//! - [`outcome`]: what the module returns for each event: apply (viewer + deltas), skip, reject.
//! - [`v2`]: the binary form of those outcomes (ABI v2); ABI v1 is their JSON (serde) form.
//! - [`time`]: the timestamp formats Snowplow uses, to and from epoch milliseconds.
//!
//! The contract in one paragraph: the module exports `abi` (no input; returns [`AbiInfo`] as
//! JSON) and `transform_batch` (input: [`frames::encode`] of the raw messages; output: one
//! outcome per message, in order: a JSON array of [`Outcome`] for v1, [`v2`] bytes for v2).
//! The module is a pure function: no clock, no I/O, no state between calls.

pub mod frames;
pub mod outcome;
pub mod time;
pub mod v2;

pub use outcome::{Delta, OrderKey, Outcome, SessionId};

/// The versions of the contract, all of which a host speaks; the one a module reports decides
/// how its output is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum AbiVersion {
    /// Outcomes as a JSON array.
    V1 = 1,
    /// Outcomes as [`v2`] bytes, names from the table in [`AbiInfo::names`].
    V2 = 2,
}

impl AbiVersion {
    pub fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(AbiVersion::V1),
            2 => Some(AbiVersion::V2),
            _ => None,
        }
    }
}

/// Name of the export that reports [`AbiInfo`].
pub const EXPORT_ABI: &str = "abi";
/// Name of the export that transforms a batch of events.
pub const EXPORT_TRANSFORM_BATCH: &str = "transform_batch";

/// What a module says about itself.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AbiInfo {
    pub abi_version: u32,
    /// Human name of the logic, e.g. `viewer-profile`.
    pub name: String,
    /// The logic's own version (its crate version); the host identifies a module by sha256.
    pub version: String,
    /// v2: the name table ([`v2::NameTable`]); reference `n` in the output is `names[n - 1]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}
