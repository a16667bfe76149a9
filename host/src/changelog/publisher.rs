//! Publishing changed profiles to the changelog topic, in the order they were merged, and
//! waiting until the broker has them: a batch is not done before its profiles are published,
//! so a crash can repeat a publication (the same revision again) but never lose one.

use crate::config::KafkaConfig;
use crate::kafka::Producer;
use rdkafka::producer::FutureRecord;
use std::time::Duration;

pub struct ChangelogPublisher {
    producer: Producer,
    topic: String,
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
        Ok(ChangelogPublisher { producer, topic: cfg.changelog_topic.clone() })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Sends every (key, value) and waits for the broker's acknowledgements.
    pub async fn publish(&self, records: &[(&str, &[u8])]) -> Result<(), PublishError> {
        let sends = records.iter().map(|(key, value)| {
            self.producer.send(FutureRecord::to(&self.topic).key(*key).payload(*value), Duration::from_secs(10))
        });
        for result in futures::future::join_all(sends).await {
            result.map_err(|(e, _)| PublishError { topic: self.topic.clone(), reason: e.to_string() })?;
        }
        Ok(())
    }
}
