//! Where events come from: a Kafka consumer group, files (replay), the simulator, or HTTP
//! (Snowbridge's HTTP target). Each yields [`Message`]s that remember where they came from, so
//! that a dead letter can point back at its origin and a redelivery can be recognised.

pub mod kafka;
pub mod replay;
pub mod simulated;

use serde::Serialize;

/// A raw event as delivered, with its coordinates.
#[derive(Debug, Clone)]
pub struct Message {
    pub payload: Vec<u8>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Kafka { topic: String, partition: i32, offset: i64 },
    File { file: String, line: u64 },
    Http { request: u64, index: usize },
    Simulator { seq: u64 },
}

impl Origin {
    /// For sources that redeliver (Kafka), the partition and offset a profile remembers so
    /// that the same message is never merged twice.
    pub fn watermark(&self) -> Option<(String, i64)> {
        match self {
            Origin::Kafka { topic, partition, offset } => Some((format!("{topic}/{partition}"), *offset)),
            _ => None,
        }
    }
}
