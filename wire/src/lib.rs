//! The module contract (ABI v1), shared by the viewer-profile module and the host so that the
//! two cannot drift.
//!
//! - [`frames`]: how the host hands a batch of raw Kafka messages to the module.
//! - [`outcome`]: what the module returns for each event: apply (viewer + deltas), skip, reject.
//! - [`v2`]: the binary form of those outcomes (ABI v2).
//! - [`time`]: the timestamp formats Snowplow uses, to and from epoch milliseconds.
//!
//! The contract in one paragraph: the module exports `abi` (no input; returns [`AbiInfo`] as
//! JSON) and `transform_batch` (input: [`frames::encode`] of the raw messages; output: a JSON
//! array of [`Outcome`], one per message, in order). The module is a pure function: no clock,
//! no I/O, no state between calls.

pub mod frames;
pub mod outcome;
pub mod time;
pub mod v2;

pub use outcome::{Delta, OrderKey, Outcome};

/// The ABI version this crate describes. A host refuses a module reporting another one.
pub const ABI_VERSION: u32 = 1;

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
}
