//! The counting side of the windowed metrics with Kafka. Each host joins a consumer group of its
//! own on the changelog topic (`<group_id>.windows`), only to be given partitions to count: the
//! group gives each changelog partition to one host, and hands it to another when that host
//! leaves. The owner of a partition reads its records (every copy of a profile carries the
//! samples of the events merged into it), counts them ([`Partition`]) and writes each round to
//! the metrics topic: the minutes that changed, then the checkpoint. The owner of partition 0
//! also samples the concurrency series.
//!
//! Taking a partition over: wait until this host's figures hold every record written to the
//! metrics topic so far (the previous owner's last round included), resume from the
//! partition's checkpoint, read the changelog from a little before it (records before the
//! checkpoint rebuild the open sessions and are not counted again), and carry on.

use super::concurrency;
use super::figures::Figures;
use super::partition::{Partition, Settings};
use super::records::Record;
use super::sample;
use super::topic::{self, ReadPosition};
use crate::config::KafkaConfig;
use crate::kafka::{client_config, KafkaContext, Producer};
use crate::live::{wall_ms, Live};
use crate::metrics::Metrics;
use rdkafka::client::OAuthToken;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message as _};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

#[derive(Debug)]
enum Ownership {
    Assigned(Vec<i32>),
    Revoked(Vec<i32>),
}

/// The group member's context: the host's usual one, and the partitions given and taken.
pub struct OwnerContext {
    inner: KafkaContext,
    changes: Mutex<Vec<Ownership>>,
}

impl ClientContext for OwnerContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        self.inner.log(level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.inner.error(error, reason);
    }

    fn generate_oauth_token(&self, config: Option<&str>) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        self.inner.generate_oauth_token(config)
    }
}

impl ConsumerContext for OwnerContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let parts = tpl.elements().iter().map(|e| e.partition()).collect();
            self.changes.lock().expect("ownership").push(Ownership::Revoked(parts));
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            // Nothing is read from a partition before it is resumed and sought.
            if let Err(e) = consumer.pause(tpl) {
                tracing::warn!(error = %e, "pausing newly owned changelog partitions");
            }
            let parts = tpl.elements().iter().map(|e| e.partition()).collect();
            self.changes.lock().expect("ownership").push(Ownership::Assigned(parts));
        }
    }
}

type OwnerConsumer = StreamConsumer<OwnerContext>;

fn consumer(cfg: &KafkaConfig) -> anyhow::Result<OwnerConsumer> {
    let mut c = client_config(cfg, "liveviewer-windows");
    c.set("group.id", format!("{}.windows", cfg.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "latest")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("session.timeout.ms", "10000");
    if let Some(id) = &cfg.instance_id {
        c.set("group.instance.id", format!("{id}.windows"));
    }
    for (k, v) in &cfg.properties {
        c.set(k, v);
    }
    let consumer: OwnerConsumer = c.create_with_context(OwnerContext { inner: KafkaContext::new(cfg)?, changes: Mutex::new(Vec::new()) })?;
    consumer.subscribe(&[&cfg.changelog_topic])?;
    Ok(consumer)
}

enum Slot {
    /// Waiting for the figures and the start offset; the generation tells a stale restore.
    Restoring(u64),
    Counting { partition: Box<Partition>, written_through: i64 },
}

struct Ready {
    partition: i32,
    generation: u64,
    counting: Partition,
    start: i64,
}

pub struct Owner {
    pub cfg: KafkaConfig,
    pub settings: Settings,
    pub figures: Arc<Figures>,
    pub read: Arc<ReadPosition>,
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
    pub interval: Duration,
}

impl Owner {
    /// Counts the partitions the group gives this host until `stop`, then writes a last round.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let (consumer, producer) = loop {
            match consumer(&self.cfg).and_then(|c| Ok((c, crate::kafka::producer(&self.cfg, "liveviewer-windows", &[("compression.type", "zstd")])?))) {
                Ok(r) => break r,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot join the window counting group yet; trying again");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        };
        let consumer = Arc::new(consumer);
        let (ready_tx, mut ready_rx) = mpsc::channel::<Ready>(64);
        let mut slots: HashMap<i32, Slot> = HashMap::new();
        let mut generation = 0u64;
        let mut last_sampled: Option<i64> = None;
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                m = consumer.recv() => match m {
                    Ok(m) => {
                        if let Some(Slot::Counting { partition, .. }) = slots.get_mut(&m.partition()) {
                            take(partition, &m, &self.metrics);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "window counting consumer");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
                Some(r) = ready_rx.recv() => {
                    if !matches!(slots.get(&r.partition), Some(Slot::Restoring(g)) if *g == r.generation) {
                        continue; // taken away meanwhile
                    }
                    let mut tpl = TopicPartitionList::new();
                    let _ = tpl.add_partition_offset(&self.cfg.changelog_topic, r.partition, Offset::Offset(r.start));
                    match consumer.seek_partitions(tpl, Duration::from_secs(10)).and_then(|_| {
                        let mut p = TopicPartitionList::new();
                        p.add_partition(&self.cfg.changelog_topic, r.partition);
                        consumer.resume(&p)
                    }) {
                        Ok(()) => {
                            tracing::info!(partition = r.partition, from = r.start, "counting windows of changelog partition");
                            if r.partition == 0 {
                                last_sampled = self.figures.last_concurrency();
                            }
                            let mut counting = r.counting;
                            counting.seek(r.start);
                            slots.insert(r.partition, Slot::Counting { partition: Box::new(counting), written_through: i64::MIN });
                        }
                        Err(e) => {
                            tracing::warn!(partition = r.partition, error = %e, "cannot start counting; trying again");
                            generation += 1;
                            slots.insert(r.partition, Slot::Restoring(generation));
                            self.restore(r.partition, generation, consumer.clone(), ready_tx.clone());
                        }
                    }
                }
                _ = tick.tick() => {
                    let changes = std::mem::take(&mut *consumer.context().changes.lock().expect("ownership"));
                    for change in changes {
                        match change {
                            Ownership::Revoked(parts) => for p in parts {
                                slots.remove(&p);
                                tracing::info!(partition = p, "no longer counting windows of changelog partition");
                            },
                            Ownership::Assigned(parts) => for p in parts {
                                generation += 1;
                                slots.insert(p, Slot::Restoring(generation));
                                self.restore(p, generation, consumer.clone(), ready_tx.clone());
                            },
                        }
                    }
                    self.write_rounds(&producer, &mut slots, &mut last_sampled).await;
                }
                _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                    self.write_rounds(&producer, &mut slots, &mut last_sampled).await;
                    consumer.unsubscribe();
                    return;
                }
            }
        }
    }

    /// Finds where partition `p` resumes, in the background.
    fn restore(&self, p: i32, generation: u64, consumer: Arc<OwnerConsumer>, ready: mpsc::Sender<Ready>) {
        let (cfg, settings, figures, read) = (self.cfg.clone(), self.settings, self.figures.clone(), self.read.clone());
        tokio::spawn(async move {
            // Every round written before now, the previous owner's last one included.
            let end = {
                let c = cfg.clone();
                tokio::task::spawn_blocking(move || topic::end_offset(&c)).await.ok().and_then(Result::ok)
            };
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while end.is_some_and(|e| read.get() < e) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let resume = figures.resume(p);
            let through = resume.checkpoint.as_ref().map(|c| c.through);
            // From a little before the checkpoint's watermark; a partition never counted begins
            // with what is published from now on (less the allowance).
            let from_ms = match &resume.checkpoint {
                Some(ck) => Partition::replay_from_ms(&settings, ck),
                None => Some(wall_ms() - settings.allowed_lateness_ms - settings.clock_skew_ms),
            };
            let topic = cfg.changelog_topic.clone();
            let start = tokio::task::spawn_blocking(move || -> anyhow::Result<i64> {
                let (_, high) = consumer.fetch_watermarks(&topic, p, Duration::from_secs(10))?;
                let Some(from_ms) = from_ms else {
                    // Nothing counted had an event: nothing to rebuild before the checkpoint.
                    return Ok(through.unwrap_or(high));
                };
                let mut t = TopicPartitionList::new();
                t.add_partition_offset(&topic, p, Offset::Offset(from_ms.max(0)))?;
                let found = consumer.offsets_for_times(t, Duration::from_secs(10))?;
                let at = found.find_partition(&topic, p).and_then(|e| match e.offset() {
                    Offset::Offset(o) if o >= 0 => Some(o),
                    _ => None,
                });
                // No record that recent: from the checkpoint, or from the end.
                let start = at.unwrap_or(high);
                Ok(through.map_or(start, |t| start.min(t)))
            })
            .await;
            let start = match start {
                Ok(Ok(s)) => s,
                other => {
                    tracing::warn!(partition = p, outcome = ?other.map(|r| r.map_err(|e| e.to_string())), "cannot find where to resume counting; from the checkpoint");
                    through.unwrap_or(0)
                }
            };
            let counting = match resume.checkpoint {
                Some(_) => Partition::resume(p, settings, resume),
                None => Partition::new(p, settings),
            };
            let _ = ready.send(Ready { partition: p, generation, counting, start }).await;
        });
    }

    async fn write_rounds(&self, producer: &Producer, slots: &mut HashMap<i32, Slot>, last_sampled: &mut Option<i64>) {
        let mut owned = 0;
        let mut late = 0;
        let mut sessions = 0;
        for slot in slots.values_mut() {
            let Slot::Counting { partition, written_through } = slot else { continue };
            owned += 1;
            let round = partition.round(wall_ms());
            late += round.checkpoint.late_samples;
            sessions += partition.sessions();
            if round.minutes.is_empty() && round.checkpoint.through == *written_through {
                continue;
            }
            let minutes: Vec<Record> = round.minutes.into_iter().map(Record::Minute).collect();
            let written = async {
                topic::write(producer, &self.cfg.metrics_topic, &minutes).await?;
                topic::write(producer, &self.cfg.metrics_topic, &[Record::Checkpoint(round.checkpoint.clone())]).await
            };
            match written.await {
                Ok(()) => *written_through = round.checkpoint.through,
                // The minutes stay counted; the next round writes them again with the rest.
                Err(e) => {
                    tracing::warn!(partition = partition.id, error = %e, "window round not written");
                    partition.redirty(minutes.iter().filter_map(|r| match r {
                        Record::Minute(m) => Some(m.minute),
                        _ => None,
                    }));
                }
            }
        }
        if matches!(slots.get(&0), Some(Slot::Counting { .. })) {
            if let Some(point) = concurrency::due(&self.live, last_sampled) {
                if let Err(e) = topic::write(producer, &self.cfg.metrics_topic, &[Record::Concurrency(point)]).await {
                    tracing::warn!(error = %e, "concurrency point not written");
                }
            }
        }
        self.metrics.set("liveviewer_window_partitions_owned", &[], owned as f64);
        self.metrics.set("liveviewer_window_late_samples", &[], late as f64);
        self.metrics.set("liveviewer_window_sessions", &[], sessions as f64);
    }
}

/// Takes one changelog record's samples into its partition's counts.
fn take(partition: &mut Partition, m: &rdkafka::message::BorrowedMessage<'_>, metrics: &Metrics) {
    if m.offset() < partition.next_position() {
        return; // fetched before the seek
    }
    let Some(viewer) = m.key().and_then(|k| std::str::from_utf8(k).ok()) else { return };
    let Some(bytes) = m.headers().and_then(|h| h.iter().find(|h| h.key == sample::HEADER).and_then(|h| h.value)) else {
        partition.skip(m.offset());
        return;
    };
    match sample::decode(bytes) {
        Ok((batch, samples)) => {
            let ts = m.timestamp().to_millis().unwrap_or_else(wall_ms);
            partition.take(viewer, &samples, m.offset(), ts, batch);
            metrics.inc("liveviewer_window_samples_total", &[], samples.len() as u64);
        }
        Err(e) => {
            partition.skip(m.offset());
            metrics.inc("liveviewer_window_records_unreadable_total", &[], 1);
            tracing::debug!(offset = m.offset(), error = %e, "unreadable samples header");
        }
    }
}
