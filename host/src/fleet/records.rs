//! The records of the fleet's control topic (compacted, one partition, so every host reads
//! them in the same order):
//!
//! | key | value |
//! | --- | --- |
//! | `module/<version>` | the module's wasm bytes |
//! | `desired` | [`Desired`]: the module every host must run, the one before it, the shadow |
//! | `host/<id>` | [`HostStatus`], every few seconds; empty (a tombstone) when the host stops |

use crate::lifecycle::Refusal;
use serde::{Deserialize, Serialize};

pub const DESIRED: &str = "desired";
pub const MODULE_PREFIX: &str = "module/";
pub const HOST_PREFIX: &str = "host/";

/// What changed the desired state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Push,
    Shadow,
    Promote,
    DropShadow,
    Rollback,
    /// A host found the active module unhealthy within its probation.
    AutoRollback,
}

/// The module lifecycle every host of the fleet converges to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desired {
    /// Grows with each change; hosts report the generation they run.
    pub generation: u64,
    pub active: String,
    pub previous: Option<String>,
    pub shadow: Option<String>,
    pub action: Action,
    /// The host that made the change, when and why.
    pub by: String,
    pub at: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// What one host reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostStatus {
    pub host_id: String,
    /// Where its HTTP side listens (as it sees it).
    pub listen: String,
    pub started_at: String,
    pub updated_at: String,
    /// Epoch ms of `updated_at`: a host silent for long is gone.
    pub updated_ms: i64,
    pub module: ModuleState,
    /// The fleet generation this host has applied.
    pub generation: u64,
    /// Source partitions this host owns in the consumer group.
    pub partitions: Vec<i32>,
    pub events_per_s: f64,
    /// Messages behind the end of its partitions.
    pub lag: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleState {
    pub active: String,
    pub previous: Option<String>,
    pub shadow: Option<String>,
    pub healthy: bool,
    /// The last candidate this host refused, with the step and the reason.
    pub refused: Option<Refusal>,
}

pub fn module_key(version: &str) -> String {
    format!("{MODULE_PREFIX}{version}")
}

pub fn host_key(id: &str) -> String {
    format!("{HOST_PREFIX}{id}")
}

/// A record of the control topic, by its key.
#[derive(Debug)]
pub enum Record<'a> {
    Module { version: &'a str, bytes: &'a [u8] },
    Desired(Desired),
    Host(HostStatus),
    /// A host that stopped.
    HostGone(&'a str),
    /// A key or value this host does not read (a newer host's record, or damage).
    Other,
}

pub fn parse<'a>(key: &'a str, value: Option<&'a [u8]>) -> Record<'a> {
    if let Some(version) = key.strip_prefix(MODULE_PREFIX) {
        return match value {
            Some(bytes) => Record::Module { version, bytes },
            None => Record::Other,
        };
    }
    if key == DESIRED {
        return value.and_then(|v| serde_json::from_slice(v).ok()).map_or(Record::Other, Record::Desired);
    }
    if let Some(id) = key.strip_prefix(HOST_PREFIX) {
        return match value {
            None => Record::HostGone(id),
            Some(v) => serde_json::from_slice(v).map_or(Record::Other, Record::Host),
        };
    }
    Record::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_told_apart_by_their_key() {
        let d = Desired {
            generation: 3,
            active: "sha256:a".into(),
            previous: Some("sha256:b".into()),
            shadow: None,
            action: Action::Rollback,
            by: "h1".into(),
            at: "t".into(),
            reason: None,
        };
        let bytes = serde_json::to_vec(&d).unwrap();
        assert!(matches!(parse(DESIRED, Some(&bytes)), Record::Desired(x) if x == d));
        assert!(matches!(parse("module/sha256:a", Some(b"\0asm")), Record::Module { version: "sha256:a", .. }));
        assert!(matches!(parse("host/h1", None), Record::HostGone("h1")));
        assert!(matches!(parse(DESIRED, Some(b"{garbage")), Record::Other));
        assert!(matches!(parse("future/thing", Some(b"x")), Record::Other));
        assert!(serde_json::to_string(&d).unwrap().contains("\"action\":\"rollback\""));
    }
}
