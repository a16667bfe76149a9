//! What the windowed metrics keep, as records: each minute's counts per changelog partition,
//! how far each partition's counts go, and the concurrent viewers of each minute. The same
//! records go to the compacted metrics topic (with Kafka) or the embedded store, and every
//! host builds its figures from them ([`super::figures`]).

use super::counts::Counts;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The content key under which a minute's counts beyond its bound of contents are kept.
pub const OTHER_CONTENT: &str = "(other)";

/// One minute of one partition: the counts of the events whose time falls in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinuteRecord {
    pub partition: i32,
    pub minute: i64,
    /// Every changelog record of the partition before this position is in these counts.
    pub through: i64,
    pub overall: Counts,
    #[serde(default)]
    pub content: BTreeMap<String, Counts>,
}

/// How far a partition's counts go: written after every minute record of a round, so a host
/// taking the partition over replays from `through`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub partition: i32,
    pub through: i64,
    /// The partition's event-time watermark at `through` (epoch ms).
    pub watermark: i64,
    /// Wall-clock time of the write (epoch ms), for freshness.
    pub written_at: i64,
    #[serde(default)]
    pub late_samples: u64,
}

/// The viewers active at the start of a minute, by status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConcurrencyPoint {
    pub minute: i64,
    pub total: u64,
    pub by_status: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Minute(MinuteRecord),
    Checkpoint(Checkpoint),
    Concurrency(ConcurrencyPoint),
}

impl Record {
    /// The record's key: one per minute and partition, one per partition, one per minute.
    pub fn key(&self) -> String {
        match self {
            Record::Minute(m) => format!("m/{}/{}", m.partition, m.minute),
            Record::Checkpoint(c) => format!("c/{}", c.partition),
            Record::Concurrency(n) => format!("n/{}", n.minute),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        match self {
            Record::Minute(m) => serde_json::to_vec(m),
            Record::Checkpoint(c) => serde_json::to_vec(c),
            Record::Concurrency(n) => serde_json::to_vec(n),
        }
        .expect("records serialize")
    }

    pub fn decode(key: &str, value: &[u8]) -> Result<Record, String> {
        let err = |e: serde_json::Error| format!("metrics record {key}: {e}");
        match key.split('/').next() {
            Some("m") => serde_json::from_slice(value).map(Record::Minute).map_err(err),
            Some("c") => serde_json::from_slice(value).map(Record::Checkpoint).map_err(err),
            Some("n") => serde_json::from_slice(value).map(Record::Concurrency).map_err(err),
            _ => Err(format!("metrics record with an unknown key {key:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_under_their_keys() {
        let records = [
            Record::Minute(MinuteRecord {
                partition: 2,
                minute: 120_000,
                through: 17,
                overall: Counts { plays_started: 1, ..Counts::default() },
                content: BTreeMap::from([("Sintel".to_string(), Counts { plays_started: 1, ..Counts::default() })]),
            }),
            Record::Checkpoint(Checkpoint { partition: 2, through: 17, watermark: 130_000, written_at: 5, late_samples: 1 }),
            Record::Concurrency(ConcurrencyPoint { minute: 60_000, total: 3, by_status: BTreeMap::from([("WATCHING_VIDEO".into(), 3)]) }),
        ];
        let keys: Vec<String> = records.iter().map(Record::key).collect();
        assert_eq!(keys, ["m/2/120000", "c/2", "n/60000"]);
        for r in records {
            assert_eq!(Record::decode(&r.key(), &r.encode()).unwrap(), r);
        }
        assert!(Record::decode("x/1", b"{}").is_err());
    }
}
