//! Publishing changed profiles to the changelog topic, in the order they were merged, and
//! waiting until the broker has them: a batch is not done before its profiles are published,
//! so a crash can repeat a publication (the same revision again) but never lose one.

use crate::config::KafkaConfig;
use crate::kafka::Producer;
use crate::windows::sample::{self, Sample};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;

pub struct ChangelogPublisher {
    producer: Producer,
    topic: String,
    batches: std::sync::atomic::AtomicU64,
}

#[derive(Debug, thiserror::Error)]
#[error("changelog topic {topic}: {reason}")]
pub struct PublishError {
    pub topic: String,
    pub reason: String,
}

impl ChangelogPublisher {
    pub fn new(cfg: &KafkaConfig) -> anyhow::Result<Self> {
        // Keyed by viewer with the Java clients' partitioner, so every producer of the topic
        // puts a viewer on the same partition (compaction keeps one copy per viewer); zstd,
        // because profiles are repetitive JSON and Kafka is priced by the byte.
        let producer = crate::kafka::producer(
            cfg,
            "liveviewer-changelog",
            &[("partitioner", "murmur2_random"), ("compression.type", "zstd"), ("linger.ms", "5")],
        )?;
        Ok(ChangelogPublisher { producer, topic: cfg.changelog_topic.clone(), batches: sample::batch_numbers() })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// A number for the next batch of records: their samples arrived together.
    pub fn next_batch(&self) -> u64 {
        self.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends every record and waits for the broker's acknowledgements.
    pub async fn publish(&self, records: &[Outgoing<'_>]) -> Result<(), PublishError> {
        self.send(records)?.acknowledged().await
    }

    /// Hands every record to the producer, in order (the producer keeps each partition's
    /// order), without waiting for the broker: a batch's turn to merge ends here, and the
    /// acknowledgements are awaited after it, while the next batch merges.
    pub fn send(&self, records: &[Outgoing<'_>]) -> Result<Sent, PublishError> {
        let mut acks = Vec::with_capacity(records.len());
        for r in records {
            let origin = r.origin.to_be_bytes();
            let mut headers = OwnedHeaders::new().insert(Header { key: super::ORIGIN_HEADER, value: Some(&origin) });
            if let Some(samples) = &r.samples {
                headers = headers.insert(Header { key: sample::HEADER, value: Some(samples) });
            }
            let record = FutureRecord::to(&self.topic).key(r.key).payload(r.value).headers(headers);
            // A full queue (the broker away for a while) is a failed publish: the caller
            // retries, waiting as long as it takes.
            acks.push(self.producer.send_result(record).map_err(|(e, _)| self.error(e.to_string()))?);
        }
        Ok(Sent { topic: self.topic.clone(), acks })
    }

    fn error(&self, reason: String) -> PublishError {
        PublishError { topic: self.topic.clone(), reason }
    }
}

/// Records handed to the producer, their acknowledgements still to come.
pub struct Sent {
    topic: String,
    acks: Vec<rdkafka::producer::DeliveryFuture>,
}

impl Sent {
    /// Ok once the broker has every record (the producer retries within its delivery timeout).
    pub async fn acknowledged(self) -> Result<(), PublishError> {
        for ack in self.acks {
            let reason = match ack.await {
                Ok(Ok(_)) => continue,
                Ok(Err((e, _))) => e.to_string(),
                Err(_) => "the producer dropped the record".to_owned(),
            };
            return Err(PublishError { topic: self.topic, reason });
        }
        Ok(())
    }
}

/// A changelog record: the viewer, the profile's JSON (rendered once, as the live view holds
/// it), and the samples header.
pub struct Outgoing<'a> {
    pub key: &'a str,
    pub value: &'a [u8],
    pub samples: Option<Vec<u8>>,
    /// The live view that already holds it ([`super::ORIGIN_HEADER`]).
    pub origin: u64,
}

impl<'a> Outgoing<'a> {
    /// A profile's record, with the samples of the events just merged into it in `batch` (none:
    /// a copy published again, whose events were published before), from the live view
    /// `origin`.
    pub fn new(key: &'a str, value: &'a [u8], samples: Option<&[Sample]>, batch: u64, origin: u64) -> Outgoing<'a> {
        Outgoing { key, value, samples: samples.filter(|s| !s.is_empty()).map(|s| sample::encode(batch, s)), origin }
    }
}
