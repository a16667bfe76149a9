//! Dead letters: every event that cannot become part of a profile (rejected by the module, a
//! module fault, a store refusal, over the size limit) is written with its original bytes, the
//! reason, the module version and where it came from, before its offset is committed.
//! Nothing is silently dropped: each letter is bounded in size (`encode`), the file of
//! embedded mode is bounded and rotated (`file`), and a Kafka topic that will not take a
//! letter has it spilled to such a file instead of stalling the host (`kafka`).

mod encode;
mod file;
mod kafka;

pub use file::FileSink;
pub use kafka::KafkaSink;

use crate::config::{Config, SourceKind};
use crate::message::Origin;
use crate::metrics::Metrics;
use crate::store::StoreError;
use base64::Engine as _;
use serde::Serialize;
use std::sync::Arc;

/// Why an event is a dead letter; the label used in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The module rejected it as bad input.
    Rejected,
    /// The module trapped, ran out of budget or returned garbage on it.
    ModuleFault,
    /// The store refused its profile for good (e.g. over the item size limit).
    StoreRefused,
    /// Bigger than the host accepts.
    TooLarge,
    /// Stamped further in the future than the host accepts.
    TooFarAhead,
    /// Would grow its viewer's profile past the size limit.
    ProfileTooLarge,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Rejected => "rejected",
            Kind::ModuleFault => "module_fault",
            Kind::StoreRefused => "store_refused",
            Kind::TooLarge => "too_large",
            Kind::TooFarAhead => "too_far_ahead",
            Kind::ProfileTooLarge => "profile_too_large",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub kind: Kind,
    pub reason: String,
    pub module_version: String,
    pub origin: Origin,
    /// When the host gave up on it (RFC 3339).
    pub at: String,
    /// The original bytes: as text when they are UTF-8, else base64 in `payload_base64`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_base64: Option<String>,
    pub payload_bytes: usize,
    /// Set when the payload was cut: to [`MAX_PAYLOAD_KEPT`] bytes, or to fit the letter in
    /// its size bound.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub payload_truncated: bool,
    /// The SHA-256 of the whole original payload (hex), when the payload was cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_sha256: Option<String>,
    /// Why a letter meant for the dead-letter topic is in the local spill file instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spilled: Option<String>,
}

/// More than this of a payload is not kept (a Kafka message has a size limit too).
pub const MAX_PAYLOAD_KEPT: usize = 256 << 10;

impl DeadLetter {
    pub fn new(kind: Kind, reason: String, module_version: &str, origin: Origin, payload: &[u8], now_ms: i64) -> Self {
        let kept = &payload[..payload.len().min(MAX_PAYLOAD_KEPT)];
        let (text, b64) = match std::str::from_utf8(kept) {
            Ok(s) => (Some(s.to_owned()), None),
            Err(_) => (None, Some(base64::engine::general_purpose::STANDARD.encode(kept))),
        };
        DeadLetter {
            kind,
            reason,
            module_version: module_version.to_owned(),
            origin,
            at: liveviewer_wire::time::format_millis(now_ms),
            payload: text,
            payload_base64: b64,
            payload_bytes: payload.len(),
            payload_truncated: kept.len() < payload.len(),
            payload_sha256: (kept.len() < payload.len()).then(|| encode::sha256_hex(payload)),
            spilled: None,
        }
    }
}

#[derive(Clone)]
pub enum DeadLetterSink {
    /// JSON lines in the data directory, fsynced per batch, rotated.
    File(Arc<FileSink>),
    Kafka(Arc<KafkaSink>),
}

impl DeadLetterSink {
    /// The sink the configuration asks for: the dead-letter topic with a Kafka source, else
    /// the file in the data directory.
    pub fn open(config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        Ok(match config.source.kind {
            SourceKind::Kafka => {
                let producer = crate::kafka::producer(&config.source.kafka, "liveviewer-dead-letters", &[])?;
                let topic = config.source.kafka.dead_letter_topic();
                let sink = KafkaSink::new(producer, topic, config.dead_letters.clone(), config.data_dir.clone(), metrics);
                DeadLetterSink::Kafka(Arc::new(sink))
            }
            _ => {
                let file = FileSink::open(&config.data_dir, &config.dead_letters, metrics).map_err(|e| anyhow::anyhow!("{e}"))?;
                DeadLetterSink::File(Arc::new(file))
            }
        })
    }

    /// Where letters go now (a Kafka topic that refuses them has them spilled to a file).
    pub fn describe(&self) -> String {
        match self {
            DeadLetterSink::File(f) => format!("file {}", f.path().display()),
            DeadLetterSink::Kafka(k) => k.status(),
        }
    }

    /// Durable when it returns Ok.
    pub async fn write(&self, letters: &[DeadLetter]) -> Result<(), StoreError> {
        if letters.is_empty() {
            return Ok(());
        }
        match self {
            DeadLetterSink::File(f) => {
                let f = f.clone();
                let lines: Vec<Vec<u8>> = letters.iter().map(|l| encode::encode(l, f.max_letter_bytes())).collect();
                tokio::task::spawn_blocking(move || f.append(&lines))
                    .await
                    .map_err(|e| StoreError::Transient(e.to_string()))?
            }
            DeadLetterSink::Kafka(k) => k.send(letters).await,
        }
    }
}
