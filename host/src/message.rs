//! A raw event as a source delivered it, and where it came from: the vocabulary every stage
//! shares (the pipeline, the dead letters, the sources), so that none of them imports another.

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
    Kafka {
        topic: String,
        partition: i32,
        offset: i64,
        /// The broker's timestamp of the record (epoch ms), where it has one.
        #[serde(skip_serializing_if = "Option::is_none")]
        timestamp: Option<i64>,
    },
    File { file: String, line: u64 },
    Http { request: u64, index: usize },
    Simulator { seq: u64 },
}

impl Origin {
    /// For sources that redeliver (Kafka), the partition and offset a profile remembers so
    /// that the same message is never merged twice.
    pub fn watermark(&self) -> Option<crate::profile::state::Position> {
        match self {
            Origin::Kafka { topic, partition, offset, timestamp } => {
                Some(crate::profile::state::Position { source: format!("{topic}/{partition}"), offset: *offset, timestamp: *timestamp })
            }
            _ => None,
        }
    }
}
