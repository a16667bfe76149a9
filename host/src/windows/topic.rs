//! The metrics topic (default `liveviewer.metrics`; compacted, one partition, records older
//! than a day and an hour deleted): where the owner of each changelog partition writes its
//! minutes and checkpoints, and the concurrency series is kept. Every host reads all of it into
//! its figures, from the beginning at start, then as it is written.

use super::figures::Figures;
use super::records::Record;
use crate::config::KafkaConfig;
use crate::kafka::{client_config, KafkaContext, Producer};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How far this host has read the metrics topic (the next offset), for an owner that must
/// have read every record written before it takes a partition over.
#[derive(Default)]
pub struct ReadPosition(AtomicI64);

impl ReadPosition {
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Acquire)
    }
}

fn reader(cfg: &KafkaConfig) -> anyhow::Result<(StreamConsumer<KafkaContext>, i64)> {
    let mut c = client_config(cfg, "liveviewer-windows-view");
    c.set("group.id", format!("liveviewer-windows-view-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    for (k, v) in &cfg.properties {
        c.set(k, v);
    }
    let consumer: StreamConsumer<KafkaContext> = c.create_with_context(KafkaContext::new(cfg)?)?;
    let (_, high) = consumer.fetch_watermarks(&cfg.metrics_topic, 0, Duration::from_secs(10))?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&cfg.metrics_topic, 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    Ok((consumer, high))
}

/// The topic's end now (what an owner waits for this host to have read).
pub fn end_offset(cfg: &KafkaConfig) -> anyhow::Result<i64> {
    let consumer: rdkafka::consumer::BaseConsumer<KafkaContext> =
        client_config(cfg, "liveviewer-windows-end").create_with_context(KafkaContext::new(cfg)?)?;
    Ok(consumer.fetch_watermarks(&cfg.metrics_topic, 0, Duration::from_secs(10))?.1)
}

/// Follows the metrics topic into `figures` for as long as the host runs.
pub async fn follow(cfg: KafkaConfig, figures: Arc<Figures>, position: Arc<ReadPosition>, metrics: Arc<crate::metrics::Metrics>) {
    let (consumer, end) = loop {
        let c = cfg.clone();
        match tokio::task::spawn_blocking(move || reader(&c)).await.expect("windows reader set-up") {
            Ok(r) => break r,
            Err(e) => {
                tracing::warn!(topic = %cfg.metrics_topic, error = %e, "cannot read the metrics topic yet; trying again");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    };
    if end <= 0 {
        figures.set_complete();
    }
    loop {
        match consumer.recv().await {
            Ok(m) => {
                let key = m.key().and_then(|k| std::str::from_utf8(k).ok());
                match (key, m.payload()) {
                    (Some(k), Some(v)) => match Record::decode(k, v) {
                        Ok(r) => figures.apply(r),
                        Err(e) => {
                            metrics.inc("liveviewer_window_records_unreadable_total", &[], 1);
                            tracing::debug!(error = %e, "unreadable metrics record");
                        }
                    },
                    _ => metrics.inc("liveviewer_window_records_unreadable_total", &[], 1),
                }
                position.0.store(m.offset() + 1, Ordering::Release);
                if m.offset() + 1 >= end && !figures.complete() {
                    figures.set_complete();
                    tracing::info!(records = m.offset() + 1, "window figures caught up with the metrics topic");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics topic reader");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Writes records, in order, and waits until the broker has them all.
pub async fn write(producer: &Producer, topic: &str, records: &[Record]) -> anyhow::Result<()> {
    let encoded: Vec<(String, Vec<u8>)> = records.iter().map(|r| (r.key(), r.encode())).collect();
    let sends = encoded.iter().map(|(k, v)| producer.send(FutureRecord::to(topic).key(k).payload(v), Duration::from_secs(10)));
    for r in futures::future::join_all(sends).await {
        r.map_err(|(e, _)| anyhow::anyhow!("metrics topic {topic}: {e}"))?;
    }
    Ok(())
}
