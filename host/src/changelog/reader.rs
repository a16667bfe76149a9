//! Reading the changelog into this host's live view: every partition, outside the consumer
//! group (each host reads all of it), from a little before the active window so that a new or
//! restarted host has every live viewer within seconds, then on as profiles change.

use crate::config::KafkaConfig;
use crate::kafka::{client_config, KafkaContext};
use crate::live::{Live, ProfileRecord};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers as _, Message as _};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::Arc;
use std::time::Duration;

/// How far back, beyond the active window, the view starts: viewers seen just before the
/// window are kept (a viewer who pauses for a while comes back), at little cost.
const LOOKBACK_BEYOND_WINDOW_MS: i64 = 60_000;

pub type Reader = StreamConsumer<KafkaContext>;

/// A consumer assigned to every partition of the changelog, each from the first record at or
/// after `since_ms`; and the end offsets at the moment it started, to know when it has
/// caught up.
pub fn reader(cfg: &KafkaConfig, since_ms: i64) -> anyhow::Result<(Reader, Vec<(i32, i64)>)> {
    let mut c = client_config(cfg, "liveviewer-view");
    // A group id of its own routes librdkafka's events (errors, token refreshes) to the queue
    // this consumer polls; it never joins a group nor commits.
    c.set("group.id", format!("liveviewer-view-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    for (k, v) in &cfg.properties {
        c.set(k, v);
    }
    let consumer: Reader = c.create_with_context(KafkaContext::new(cfg)?)?;
    crate::kafka::prime_token(consumer.client(), cfg)?;
    let topic = &cfg.changelog_topic;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let partitions: Vec<i32> = metadata.topics().first().map(|t| t.partitions().iter().map(|p| p.id()).collect()).unwrap_or_default();
    anyhow::ensure!(!partitions.is_empty(), "changelog topic {topic} has no partitions");
    let mut times = TopicPartitionList::new();
    for p in &partitions {
        times.add_partition_offset(topic, *p, Offset::Offset(since_ms))?;
    }
    let starts = consumer.offsets_for_times(times, Duration::from_secs(10))?;
    let mut assignment = TopicPartitionList::new();
    let mut ends = Vec::new();
    for p in &partitions {
        let (_, high) = consumer.fetch_watermarks(topic, *p, Duration::from_secs(10))?;
        let start = match starts.find_partition(topic, *p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) if o >= 0 => Offset::Offset(o),
            // No record that recent: only what comes from now on.
            _ => Offset::Offset(high),
        };
        assignment.add_partition_offset(topic, *p, start)?;
        ends.push((*p, high));
    }
    consumer.assign(&assignment)?;
    Ok((consumer, ends))
}

/// Whether a record came from the live view `origin` (this host's: already applied).
fn sent_by(m: &impl rdkafka::message::Message, origin: u64) -> bool {
    m.headers()
        .and_then(|h| h.iter().find(|h| h.key == super::ORIGIN_HEADER))
        .and_then(|h| h.value)
        .is_some_and(|v| v == origin.to_be_bytes())
}

/// Follows the changelog into `live` for as long as the host runs. The view is marked
/// complete once every partition has been read up to where it ended at start.
pub async fn follow(cfg: KafkaConfig, live: Arc<Live>, metrics: Arc<crate::metrics::Metrics>) {
    let since = crate::clock::wall_ms() - live.active_window_ms - LOOKBACK_BEYOND_WINDOW_MS;
    let (consumer, ends) = loop {
        let c = cfg.clone();
        match tokio::task::spawn_blocking(move || reader(&c, since)).await.expect("reader set-up") {
            Ok(r) => break r,
            Err(e) => {
                tracing::warn!(topic = %cfg.changelog_topic, error = %e, "cannot read the changelog yet; trying again");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    };
    let mut behind: Vec<(i32, i64)> = ends.into_iter().filter(|(_, end)| *end > 0).collect();
    let started = std::time::Instant::now();
    let mut read = 0u64;
    let mark_complete = |behind: &Vec<(i32, i64)>, read: u64| {
        if behind.is_empty() && !live.complete() {
            live.set_complete();
            tracing::info!(records = read, seconds = started.elapsed().as_secs_f64(), viewers = live.tracked(), "live view caught up with the changelog");
        }
    };
    // Partitions whose start was already their end are caught up from the outset.
    {
        let position = consumer.position().ok();
        behind.retain(|(p, end)| match position.as_ref().and_then(|t| t.find_partition(&cfg.changelog_topic, *p)).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o < *end,
            _ => true,
        });
    }
    mark_complete(&behind, read);
    loop {
        match consumer.recv().await {
            Ok(m) => {
                read += 1;
                metrics.inc("liveviewer_changelog_records_total", &[], 1);
                let own = sent_by(&m, live.origin());
                match m.payload() {
                    // Applied to this view when this host sent it.
                    Some(_) if own => {}
                    // A tombstone: the viewer is gone from the changelog.
                    None => {
                        if let Some(key) = m.key().and_then(|k| std::str::from_utf8(k).ok()) {
                            live.remove(key);
                        }
                    }
                    Some(payload) => match serde_json::from_slice::<ProfileRecord>(payload) {
                        Ok(record) => {
                            let json: Arc<str> = Arc::from(String::from_utf8_lossy(payload).as_ref());
                            live.apply(&record, json);
                        }
                        Err(e) => {
                            metrics.inc("liveviewer_changelog_unreadable_total", &[], 1);
                            tracing::debug!(partition = m.partition(), offset = m.offset(), error = %e, "unreadable changelog record");
                        }
                    },
                }
                if !behind.is_empty() {
                    let (p, o) = (m.partition(), m.offset());
                    behind.retain(|(bp, end)| !(*bp == p && o + 1 >= *end));
                    mark_complete(&behind, read);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "changelog reader");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};

    fn record(headers: Option<OwnedHeaders>) -> OwnedMessage {
        OwnedMessage::new(Some(b"{}".to_vec()), Some(b"v".to_vec()), "t".into(), Timestamp::NotAvailable, 0, 0, headers)
    }

    #[test]
    fn only_records_naming_this_view_are_its_own() {
        let mine = 0x0123_4567_89ab_cdef_u64;
        let named = |origin: &[u8]| OwnedHeaders::new().insert(Header { key: "liveviewer-samples-v1", value: Some("{}") }).insert(Header { key: crate::changelog::ORIGIN_HEADER, value: Some(origin) });
        assert!(sent_by(&record(Some(named(&mine.to_be_bytes()))), mine));
        assert!(!sent_by(&record(Some(named(&(mine + 1).to_be_bytes()))), mine), "another host's");
        assert!(!sent_by(&record(Some(named(&mine.to_be_bytes()[..4]))), mine), "a truncated name");
        assert!(!sent_by(&record(None), mine), "no headers: an older host or another producer");
    }
}
