//! The Kafka source: a consumer group member (classic protocol, cooperative-sticky
//! assignment). Offsets are stored only for messages whose batch is durable, and committed
//! then; on revocation the stored offsets are committed synchronously before the partitions go,
//! and buffered messages of revoked partitions are dropped for their new owner to read.

use super::{Message, Origin};
use crate::config::KafkaConfig;
use crate::kafka::{client_config, KafkaContext};
use crate::pipeline::in_flight::InFlight;
use crate::pipeline::{Durable, Pipeline, PipelineError};
use anyhow::Context;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub type GroupConsumer = StreamConsumer<KafkaContext>;

pub fn consumer(cfg: &KafkaConfig) -> anyhow::Result<Arc<GroupConsumer>> {
    let mut c = client_config(cfg, "liveviewer");
    c.set("group.id", &cfg.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("session.timeout.ms", "10000");
    if let Some(id) = &cfg.instance_id {
        c.set("group.instance.id", id);
    }
    // The operator's own properties win.
    for (k, v) in &cfg.properties {
        c.set(k, v);
    }
    let consumer: GroupConsumer = c.create_with_context(KafkaContext::new(cfg)?).context("creating the Kafka consumer")?;
    crate::kafka::prime_token(consumer.client(), cfg)?;
    consumer.subscribe(&[&cfg.topic]).with_context(|| format!("subscribing to {}", cfg.topic))?;
    Ok(Arc::new(consumer))
}

/// Batches in flight at once: while one merges, the next ones run the module and read their new
/// viewers' profiles from the store (merges still go one at a time, in order). With two, a
/// store read slower than a merge left the consumer waiting: at 1,000 events/s against moto
/// the changelog's p99 was 1.6-1.9 s with two and 0.8 s with four (store benchmark, 5 s flush).
const IN_FLIGHT: usize = 4;

/// Offsets of batches merged but not yet durable, oldest first.
type Awaiting = std::collections::VecDeque<(u64, BTreeMap<(String, i32), i64>)>;

/// Consumes until shutdown: batch, process, and commit each batch's offsets once the
/// pipeline says it is durable. Returns after everything merged is written and committed.
pub async fn run(
    consumer: Arc<GroupConsumer>,
    pipeline: Arc<Pipeline>,
    batch_max: usize,
    batch_wait: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut in_flight = InFlight::new(pipeline.clone(), IN_FLIGHT);
    let mut awaiting: Awaiting = Default::default();
    let mut durable = pipeline.durable();
    let mut assignment_seen = consumer.context().assignments();
    loop {
        let mut batch: Vec<Message> = Vec::with_capacity(batch_max);
        let mut stopping = *shutdown.borrow();
        let deadline = tokio::time::sleep(batch_wait);
        tokio::pin!(deadline);
        let mut started = false;
        while batch.len() < batch_max && !stopping {
            tokio::select! {
                msg = consumer.recv() => match msg {
                    Ok(m) => {
                        if !started {
                            deadline.as_mut().reset(tokio::time::Instant::now() + batch_wait);
                            started = true;
                        }
                        batch.push(Message {
                            payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                            origin: Origin::Kafka { topic: m.topic().to_owned(), partition: m.partition(), offset: m.offset(), timestamp: m.timestamp().to_millis() },
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Kafka consumer error");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
                _ = &mut deadline, if started => break,
                _ = shutdown.changed() => stopping = true,
                // A batch in flight was merged: its offsets wait for its writes.
                done = in_flight.next(), if !in_flight.is_empty() => {
                    let (accepted, next) = done?;
                    awaiting.push_back((accepted.seq, next));
                    // It may be durable already (the writes can land before the batch
                    // comes back here, and that change was then seen with nothing to commit).
                    let d = durable.borrow().clone();
                    commit_durable(&consumer, &mut awaiting, &d)?;
                }
                // Writes landed: commit what they made durable, now, not with the next batch.
                changed = durable.changed() => {
                    if changed.is_err() {
                        anyhow::bail!("the pipeline's writer is gone");
                    }
                    let d = durable.borrow_and_update().clone();
                    commit_durable(&consumer, &mut awaiting, &d)?;
                }
            }
        }
        // After a rebalance, profiles this host wrote may have been changed by another.
        let assignments = consumer.context().assignments();
        if assignments != assignment_seen {
            assignment_seen = assignments;
            pipeline.forget_written();
        }
        {
            let revoked = consumer.context().revoked.lock().expect("revoked");
            if !revoked.is_empty() {
                let before = batch.len();
                batch.retain(|m| match &m.origin {
                    Origin::Kafka { topic, partition, .. } => !revoked.contains(&(topic.clone(), *partition)),
                    _ => true,
                });
                if before != batch.len() {
                    tracing::info!(dropped = before - batch.len(), "left buffered messages of revoked partitions to their new owner");
                }
            }
        }
        if !batch.is_empty() {
            let next = next_offsets(&batch);
            if tracing::enabled!(tracing::Level::DEBUG) {
                let mut first: BTreeMap<i32, i64> = BTreeMap::new();
                for m in &batch {
                    if let Origin::Kafka { partition, offset, .. } = &m.origin {
                        first.entry(*partition).or_insert(*offset);
                    }
                }
                tracing::debug!(events = batch.len(), ?first, ?next, "batch from Kafka");
            }
            for (accepted, next) in in_flight.push(batch, next).await? {
                awaiting.push_back((accepted.seq, next));
            }
            let d = durable.borrow().clone();
            commit_durable(&consumer, &mut awaiting, &d)?;
        }
        if stopping {
            match drain(&pipeline, &mut in_flight, &mut awaiting).await {
                Ok(()) => {
                    let d = durable.borrow().clone();
                    commit_durable(&consumer, &mut awaiting, &d)?;
                }
                Err(PipelineError::ShuttingDown) => {
                    tracing::warn!("stopping with batches that were not written; they will be delivered again");
                }
                Err(e) => return Err(e.into()),
            }
            if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
                tracing::debug!(error = %e, "final offset commit");
            }
            consumer.unsubscribe();
            return Ok(());
        }
    }
}

/// Finishes the batches in flight and writes everything merged.
async fn drain(pipeline: &Pipeline, in_flight: &mut InFlight<BTreeMap<(String, i32), i64>>, awaiting: &mut Awaiting) -> Result<(), PipelineError> {
    for (accepted, next) in in_flight.drain().await? {
        awaiting.push_back((accepted.seq, next));
    }
    pipeline.flush_all().await
}

/// Stores and commits the offsets of every batch that is durable.
fn commit_durable(consumer: &GroupConsumer, awaiting: &mut Awaiting, durable: &Durable) -> anyhow::Result<()> {
    if let Some(reason) = &durable.failed {
        anyhow::bail!("profile writes stopped: {reason}");
    }
    let mut done = Vec::new();
    while awaiting.front().is_some_and(|(seq, _)| *seq <= durable.seq) {
        done.push(awaiting.pop_front().expect("checked").1);
    }
    commit(consumer, done);
    Ok(())
}

/// Stores the offsets of durable batches and commits them.
fn commit(consumer: &GroupConsumer, done: Vec<BTreeMap<(String, i32), i64>>) {
    if done.is_empty() {
        return;
    }
    for next in done {
        for ((topic, partition), next) in next {
            // librdkafka stores `offset + 1`: hand it the last processed message's offset.
            if let Err(e) = consumer.store_offset(&topic, partition, next - 1) {
                // The partition was revoked meanwhile: its new owner redoes these events,
                // which the profile's watermarks make harmless.
                tracing::debug!(%topic, partition, error = %e, "offset not stored");
            }
        }
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Async) {
        tracing::debug!(error = %e, "offset commit");
    }
}

/// Per partition, the offset after the batch's last message: what to commit.
fn next_offsets(batch: &[Message]) -> BTreeMap<(String, i32), i64> {
    let mut out: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for m in batch {
        if let Origin::Kafka { topic, partition, offset, .. } = &m.origin {
            let e = out.entry((topic.clone(), *partition)).or_insert(offset + 1);
            *e = (*e).max(offset + 1);
        }
    }
    out
}

/// Measures how far behind the end of the topic this member is, every few seconds.
pub async fn watch_lag(consumer: Arc<GroupConsumer>, lag: Arc<AtomicI64>, metrics: Arc<crate::metrics::Metrics>) {
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let c = consumer.clone();
        let total = tokio::task::spawn_blocking(move || -> Option<i64> {
            let positions = c.position().ok()?;
            let committed: TopicPartitionList = positions;
            let mut total = 0;
            for e in committed.elements() {
                let (_, high) = c.fetch_watermarks(e.topic(), e.partition(), Duration::from_secs(2)).ok()?;
                let pos = match e.offset() {
                    Offset::Offset(o) => o,
                    _ => 0,
                };
                total += (high - pos).max(0);
            }
            Some(total)
        })
        .await
        .ok()
        .flatten();
        if let Some(total) = total {
            lag.store(total, Ordering::Relaxed);
            metrics.set("liveviewer_consumer_lag", &[], total as f64);
        }
    }
}
