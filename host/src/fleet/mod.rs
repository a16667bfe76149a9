//! The fleet: every host that consumes the same topic, kept on one module through a compacted
//! control topic (default `liveviewer.modules`, see [`records`]). A change made on any host
//! (an upload, a rollback, a promotion, a shadow; an automatic rollback of an unhealthy
//! module) is published there as the new desired state; every host, itself included, reads it
//! ([`agent`]), gates a module it does not have itself (size, compile, imports, ABI, vectors)
//! and swaps at its own batch boundary. A host that refuses keeps its module and says why in
//! its status, which every host publishes and `GET /admin/fleet` shows.
//!
//! Without Kafka there is no fleet: the host's own lifecycle is all there is.

pub mod agent;
pub mod records;

use crate::config::KafkaConfig;
use crate::kafka::topics::MODULES_MAX_MESSAGE_BYTES;
use crate::kafka::Producer;
use crate::live::wall_ms;
use liveviewer_wire::time::format_millis;
use rdkafka::producer::FutureRecord;
use records::{Action, Desired, HostStatus};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

/// A host's status older than this is a host that is gone.
pub const HOST_TIMEOUT_MS: i64 = 30_000;

/// What this host knows of the fleet, from the control topic.
#[derive(Debug, Default)]
pub struct FleetState {
    pub desired: Option<Desired>,
    /// Module bytes by version.
    pub modules: HashMap<String, Vec<u8>>,
    pub hosts: BTreeMap<String, HostStatus>,
}

pub struct Fleet {
    pub host_id: String,
    pub topic: String,
    producer: Producer,
    pub state: Mutex<FleetState>,
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("the module is {0} bytes; the fleet's modules topic takes at most {MODULES_MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
    #[error("publishing to {topic}: {reason}")]
    Publish { topic: String, reason: String },
    #[error("{0}")]
    Conflict(String),
}

impl Fleet {
    pub fn new(cfg: &KafkaConfig, host_id: String) -> anyhow::Result<Self> {
        let max = (MODULES_MAX_MESSAGE_BYTES + (64 << 10)).to_string();
        let producer = crate::kafka::producer(cfg, "liveviewer-fleet", &[("compression.type", "zstd"), ("message.max.bytes", &max)])?;
        Ok(Fleet { host_id, topic: cfg.modules_topic.clone(), producer, state: Mutex::new(FleetState::default()) })
    }

    async fn send(&self, key: &str, value: Option<&[u8]>) -> Result<(), FleetError> {
        let mut record = FutureRecord::<str, [u8]>::to(&self.topic).key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        self.producer
            .send(record, Duration::from_secs(15))
            .await
            .map(|_| ())
            .map_err(|(e, _)| FleetError::Publish { topic: self.topic.clone(), reason: e.to_string() })
    }

    /// Publishes a module's bytes (once per version: the topic is compacted by key).
    pub async fn publish_module(&self, version: &str, bytes: &[u8]) -> Result<(), FleetError> {
        if bytes.len() > MODULES_MAX_MESSAGE_BYTES {
            return Err(FleetError::TooLarge(bytes.len()));
        }
        if self.state.lock().expect("fleet").modules.contains_key(version) {
            return Ok(());
        }
        self.send(&records::module_key(version), Some(bytes)).await?;
        self.state.lock().expect("fleet").modules.insert(version.to_owned(), bytes.to_vec());
        Ok(())
    }

    /// The next desired state, made from the current one by `change`, published.
    pub async fn change(&self, action: Action, reason: Option<String>, change: impl FnOnce(&mut Desired) -> Result<(), String>, fallback_active: &str) -> Result<Desired, FleetError> {
        let mut next = self.state.lock().expect("fleet").desired.clone().unwrap_or_else(|| Desired {
            generation: 0,
            active: fallback_active.to_owned(),
            previous: None,
            shadow: None,
            action,
            by: self.host_id.clone(),
            at: String::new(),
            reason: None,
        });
        change(&mut next).map_err(FleetError::Conflict)?;
        next.generation += 1;
        next.action = action;
        next.by = self.host_id.clone();
        next.at = format_millis(wall_ms());
        next.reason = reason;
        let bytes = serde_json::to_vec(&next).expect("desired serializes");
        self.send(records::DESIRED, Some(&bytes)).await?;
        // Seen at once here; the agent reads it back and applies it like every other host.
        let mut s = self.state.lock().expect("fleet");
        if s.desired.as_ref().is_none_or(|d| d.generation < next.generation) {
            s.desired = Some(next.clone());
        }
        Ok(next)
    }

    pub async fn publish_status(&self, status: &HostStatus) -> Result<(), FleetError> {
        let bytes = serde_json::to_vec(status).expect("status serializes");
        self.send(&records::host_key(&status.host_id), Some(&bytes)).await
    }

    /// The tombstone of this host's status: it stops.
    pub async fn leave(&self) -> Result<(), FleetError> {
        self.send(&records::host_key(&self.host_id), None).await
    }

    /// The hosts heard from recently, and the desired state.
    pub fn view(&self) -> (Option<Desired>, Vec<HostStatus>) {
        let s = self.state.lock().expect("fleet");
        let now = wall_ms();
        let hosts = s.hosts.values().filter(|h| now - h.updated_ms <= HOST_TIMEOUT_MS).cloned().collect();
        (s.desired.clone(), hosts)
    }
}

/// This host's id in the fleet: the configured instance id (stable across restarts), else the
/// machine's name and the process id.
pub fn host_id(cfg: &KafkaConfig) -> String {
    if let Some(id) = &cfg.instance_id {
        return id.clone();
    }
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_owned()).unwrap_or_else(|_| "host".into());
    format!("{name}-{}", std::process::id())
}
