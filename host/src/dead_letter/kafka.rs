//! Dead letters to the Kafka dead-letter topic, and what happens when the topic will not have
//! them. A refusal that retrying cannot fix must not stall the host: a letter the topic refuses
//! (too large for it) and every letter while the topic itself refuses (missing, not
//! authorised) go to a spill file in the data directory, bounded and rotated like embedded
//! mode's, each saying why it is there. Anything else (brokers down, replicas short) is
//! transient: retried by the pipeline, which readiness reports once it has gone on too long.

use super::file::FileSink;
use super::{encode, DeadLetter};
use crate::config::DeadLetterConfig;
use crate::metrics::Metrics;
use crate::kafka::Producer as DeadLetterProducer;
use crate::store::StoreError;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureRecord;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// While the topic refuses for good, letters go straight to the spill file; it is tried again
/// after this long.
const RETRY_TOPIC_AFTER: Duration = Duration::from_secs(60);

/// How a refused letter must be handled.
#[derive(Debug, PartialEq)]
enum Refusal {
    /// This letter will never be taken (too large for the topic): spill it.
    Letter,
    /// The topic takes nothing (missing, not authorised): spill, and stop trying for a while.
    Topic,
    /// Brokers, leaders or replicas not there for now: retry.
    Transient,
}

fn classify(e: &KafkaError) -> Refusal {
    use RDKafkaErrorCode as C;
    match e.rdkafka_error_code() {
        Some(C::MessageSizeTooLarge | C::MessageBatchTooLarge | C::InvalidMessageSize | C::InvalidMessage | C::InvalidRecord) => {
            Refusal::Letter
        }
        Some(
            C::UnknownTopicOrPartition
            | C::UnknownTopic
            | C::UnknownPartition
            | C::InvalidTopic
            | C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::PolicyViolation,
        ) => Refusal::Topic,
        _ => Refusal::Transient,
    }
}

pub struct KafkaSink {
    producer: DeadLetterProducer,
    pub(super) topic: String,
    limits: DeadLetterConfig,
    data_dir: PathBuf,
    metrics: Arc<Metrics>,
    /// Opened on the first spill: a host whose topic takes everything writes no file.
    spill: Mutex<Option<Arc<FileSink>>>,
    /// Since when and why the topic refuses every letter.
    refusing: Mutex<Option<(Instant, String)>>,
}

impl KafkaSink {
    pub fn new(producer: DeadLetterProducer, topic: String, limits: DeadLetterConfig, data_dir: PathBuf, metrics: Arc<Metrics>) -> Self {
        KafkaSink { producer, topic, limits, data_dir, metrics, spill: Mutex::new(None), refusing: Mutex::new(None) }
    }

    fn spill_path(&self) -> PathBuf {
        self.data_dir.join("dead-letters.jsonl")
    }

    /// Where letters go now, for readiness and the start-up log.
    pub fn status(&self) -> String {
        match &*self.refusing.lock().expect("dead-letter state") {
            Some((_, why)) => format!("spilling to {} ({why})", self.spill_path().display()),
            None => format!("topic {}", self.topic),
        }
    }

    /// The reason the topic refuses everything, while it is too soon to try it again.
    fn refusing_now(&self) -> Option<String> {
        let refusing = self.refusing.lock().expect("dead-letter state");
        refusing.as_ref().filter(|(since, _)| since.elapsed() < RETRY_TOPIC_AFTER).map(|(_, why)| why.clone())
    }

    fn set_refusing(&self, why: Option<String>) {
        let mut refusing = self.refusing.lock().expect("dead-letter state");
        match (&*refusing, &why) {
            (None, Some(w)) => {
                tracing::warn!(topic = %self.topic, reason = %w, spill = %self.spill_path().display(), "the dead-letter topic refuses letters: they are spilled to a local file")
            }
            (Some(_), None) => tracing::info!(topic = %self.topic, "the dead-letter topic takes letters again"),
            _ => {}
        }
        *refusing = why.map(|w| (Instant::now(), w));
    }

    pub(super) async fn send(&self, letters: &[DeadLetter]) -> Result<(), StoreError> {
        if let Some(why) = self.refusing_now() {
            let spilled: Vec<(&DeadLetter, String)> = letters.iter().map(|l| (l, why.clone())).collect();
            return self.spill(spilled).await;
        }
        let records: Vec<(String, Vec<u8>)> = letters
            .iter()
            .map(|l| (serde_json::to_string(&l.origin).unwrap_or_default(), encode::encode(l, self.limits.max_letter_bytes)))
            .collect();
        let sends = records.iter().map(|(key, value)| {
            self.producer.send(FutureRecord::to(&self.topic).key(key).payload(value), Duration::from_secs(10))
        });
        let results = futures::future::join_all(sends).await;
        let mut spilled = Vec::new();
        let mut transient = None;
        let mut topic_took_one = false;
        for (letter, result) in letters.iter().zip(results) {
            let Err((e, _)) = result else {
                topic_took_one = true;
                continue;
            };
            let why = format!("dead-letter topic {} refused it: {e}", self.topic);
            match classify(&e) {
                Refusal::Letter => spilled.push((letter, why)),
                Refusal::Topic => {
                    self.set_refusing(Some(why.clone()));
                    spilled.push((letter, why));
                }
                Refusal::Transient => transient = Some(why),
            }
        }
        if topic_took_one {
            self.set_refusing(None);
        }
        self.spill(spilled).await?;
        // The whole batch is tried again: letters already taken may then be there twice, as
        // with any redelivery (their origin tells them apart).
        transient.map_or(Ok(()), |why| Err(StoreError::Transient(why)))
    }

    async fn spill(&self, letters: Vec<(&DeadLetter, String)>) -> Result<(), StoreError> {
        if letters.is_empty() {
            return Ok(());
        }
        let file = self.spill_file()?;
        let max = self.limits.max_letter_bytes;
        let lines: Vec<Vec<u8>> = letters
            .into_iter()
            .map(|(l, why)| {
                let mut l = l.clone();
                l.spilled = Some(why);
                encode::encode(&l, max)
            })
            .collect();
        let n = lines.len() as u64;
        let f = file.clone();
        tokio::task::spawn_blocking(move || f.append(&lines)).await.map_err(|e| StoreError::Transient(e.to_string()))??;
        self.metrics.inc("liveviewer_dead_letters_spilled_total", &[], n);
        Ok(())
    }

    fn spill_file(&self) -> Result<Arc<FileSink>, StoreError> {
        let mut spill = self.spill.lock().expect("dead-letter spill");
        if let Some(f) = &*spill {
            return Ok(f.clone());
        }
        // A data directory that cannot be written may be fixed: not fatal, retried.
        let f = Arc::new(FileSink::open(&self.data_dir, &self.limits, self.metrics.clone()).map_err(|e| StoreError::Transient(e.to_string()))?);
        *spill = Some(f.clone());
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_sorted_by_what_retrying_can_fix() {
        let produce = |c| KafkaError::MessageProduction(c);
        assert_eq!(classify(&produce(RDKafkaErrorCode::MessageSizeTooLarge)), Refusal::Letter);
        assert_eq!(classify(&produce(RDKafkaErrorCode::UnknownTopicOrPartition)), Refusal::Topic);
        assert_eq!(classify(&produce(RDKafkaErrorCode::UnknownTopic)), Refusal::Topic);
        assert_eq!(classify(&produce(RDKafkaErrorCode::TopicAuthorizationFailed)), Refusal::Topic);
        for transient in [
            RDKafkaErrorCode::NotEnoughReplicas,
            RDKafkaErrorCode::MessageTimedOut,
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::LeaderNotAvailable,
            RDKafkaErrorCode::QueueFull,
        ] {
            assert_eq!(classify(&produce(transient)), Refusal::Transient, "{transient:?}");
        }
    }
}
