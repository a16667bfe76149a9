//! Dead letters: every event that cannot become part of a profile (rejected by the module, a
//! module fault, a store refusal, over the size limit) is written with its original bytes, the
//! reason, the module version and where it came from, before its offset is committed.
//! Nothing is silently dropped.

use crate::message::Origin;
use crate::store::StoreError;
use base64::Engine as _;
use crate::kafka::Producer as DeadLetterProducer;
use rdkafka::producer::FutureRecord;
use serde::Serialize;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    /// Set when the payload was cut to [`MAX_PAYLOAD_KEPT`] bytes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub payload_truncated: bool,
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
        }
    }
}

#[derive(Clone)]
pub enum DeadLetterSink {
    /// JSON lines in the data directory, fsynced per batch.
    File(Arc<FileSink>),
    Kafka(Arc<KafkaSink>),
}

impl DeadLetterSink {
    pub fn file(data_dir: &Path) -> Result<Self, StoreError> {
        Ok(DeadLetterSink::File(Arc::new(FileSink::open(data_dir)?)))
    }

    pub fn describe(&self) -> String {
        match self {
            DeadLetterSink::File(f) => format!("file {}", f.path.display()),
            DeadLetterSink::Kafka(k) => format!("topic {}", k.topic),
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
                let lines: Vec<Vec<u8>> = letters.iter().map(|l| serde_json::to_vec(l).expect("serializes")).collect();
                tokio::task::spawn_blocking(move || f.append(&lines))
                    .await
                    .map_err(|e| StoreError::Transient(e.to_string()))?
            }
            DeadLetterSink::Kafka(k) => k.send(letters).await,
        }
    }
}

pub struct FileSink {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl FileSink {
    fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Fatal(format!("{}: {e}", data_dir.display())))?;
        let path = data_dir.join("dead-letters.jsonl");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| StoreError::Fatal(format!("{}: {e}", path.display())))?;
        Ok(FileSink { path, file: Mutex::new(file) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn append(&self, lines: &[Vec<u8>]) -> Result<(), StoreError> {
        let mut buf = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for l in lines {
            buf.extend_from_slice(l);
            buf.push(b'\n');
        }
        let mut f = self.file.lock().expect("dead-letter file lock");
        f.write_all(&buf).and_then(|_| f.sync_data()).map_err(|e| StoreError::Transient(format!("dead-letter file: {e}")))
    }
}

pub struct KafkaSink {
    producer: DeadLetterProducer,
    topic: String,
}

impl KafkaSink {
    pub fn new(producer: DeadLetterProducer, topic: String) -> Self {
        KafkaSink { producer, topic }
    }

    async fn send(&self, letters: &[DeadLetter]) -> Result<(), StoreError> {
        let records: Vec<(String, Vec<u8>)> = letters
            .iter()
            .map(|l| (serde_json::to_string(&l.origin).unwrap_or_default(), serde_json::to_vec(l).expect("serializes")))
            .collect();
        let sends = records.iter().map(|(key, value)| {
            self.producer.send(FutureRecord::to(&self.topic).key(key).payload(value), Duration::from_secs(10))
        });
        for result in futures::future::join_all(sends).await {
            result.map_err(|(e, _)| StoreError::Transient(format!("dead-letter topic {}: {e}", self.topic)))?;
        }
        Ok(())
    }
}
