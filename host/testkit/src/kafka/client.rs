//! Talking to the test broker: topics, producing (counting what the broker refused), committed
//! and end offsets, and reading records back.

use super::Kafka;
use crate::process::wait_until;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication, TopicResult};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::{DeliveryResult, Message as _};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How records are compressed by [`Kafka::produce_with`].
#[derive(Debug, Clone, Copy)]
pub enum Codec {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Codec {
    fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Gzip => "gzip",
            Codec::Snappy => "snappy",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }
}

/// One record as read back.
#[derive(Debug, Clone)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

impl Kafka {
    pub(super) fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.addr).set("log_level", "3");
        c
    }

    pub(super) fn base_consumer(&self, group: &str) -> BaseConsumer {
        self.client().set("group.id", group).set("enable.auto.commit", "false").create().unwrap()
    }

    pub fn create_topic(&self, name: &str, partitions: i32) {
        self.create_topic_with(name, partitions, &[]);
    }

    /// Creates a topic with topic-level settings (e.g. `cleanup.policy=compact`).
    pub fn create_topic_with(&self, name: &str, partitions: i32, configs: &[(&str, &str)]) {
        let admin: AdminClient<DefaultClientContext> = self.client().create().unwrap();
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        for (k, v) in configs {
            topic = topic.set(k, v);
        }
        settled("creating", name, crate::process::block_on(admin.create_topics([&topic], &admin_options())));
        // The leader is elected a moment after the topic exists.
        let c = self.base_consumer("liveviewer-testkit-probe");
        wait_until(&format!("topic {name} to have leaders"), Duration::from_secs(30), || {
            c.fetch_metadata(Some(name), Duration::from_secs(2)).is_ok_and(|m| {
                m.topics().first().is_some_and(|t| t.error().is_none() && t.partitions().len() == partitions as usize && t.partitions().iter().all(|p| p.leader() >= 0))
            })
        });
    }

    /// Deletes a topic and waits until the broker no longer lists it.
    pub fn delete_topic(&self, name: &str) {
        let admin: AdminClient<DefaultClientContext> = self.client().create().unwrap();
        settled("deleting", name, crate::process::block_on(admin.delete_topics(&[name], &admin_options())));
        let c = self.base_consumer("liveviewer-testkit-probe");
        wait_until(&format!("topic {name} gone"), Duration::from_secs(30), || {
            c.fetch_metadata(None, Duration::from_secs(2)).is_ok_and(|m| m.topics().iter().all(|t| t.name() != name))
        });
    }

    /// Produces (key, value) messages the way a producer normally does (record batches of
    /// many messages, a few milliseconds of linger) and waits until every one is acknowledged.
    pub fn produce(&self, topic: &str, messages: &[(String, Vec<u8>)]) {
        self.produce_with(topic, messages, Codec::None, 5);
    }

    pub fn produce_with(&self, topic: &str, messages: &[(String, Vec<u8>)], codec: Codec, linger_ms: u32) {
        produce_to(&self.addr, topic, messages.iter().map(|(k, v)| (k.as_str(), v.as_slice())), codec, linger_ms);
    }

    /// Produces one message to a chosen partition.
    pub fn produce_to_partition(&self, topic: &str, partition: i32, key: &str, value: &[u8]) {
        let producer: ThreadedProducer<Counting> = self.client().set("acks", "all").create_with_context(Counting::default()).unwrap();
        send(&producer, BaseRecord::to(topic).partition(partition).key(key).payload(value));
        producer.flush(Duration::from_secs(30)).unwrap();
        assert_eq!(producer.context().failed.load(Ordering::Relaxed), 0, "{:?}", producer.context().first_error.lock().unwrap());
    }

    /// A consumer of `group` (never subscribed: it only reads offsets) and the group's
    /// committed offsets per partition, `None` when the broker does not answer.
    fn committed(&self, group: &str, topic: &str, partitions: i32) -> (BaseConsumer, Option<TopicPartitionList>) {
        let c = self.base_consumer(group);
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(topic, p);
        }
        let committed = c.committed_offsets(tpl, Duration::from_secs(5)).ok();
        (c, committed)
    }

    /// The group's committed offset per partition (0 where none).
    pub fn committed_offsets(&self, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
        let (_, committed) = self.committed(group, topic, partitions);
        (0..partitions)
            .map(|p| match committed.as_ref().and_then(|c| c.find_partition(topic, p)).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                _ => 0,
            })
            .collect()
    }

    /// Messages the group has committed, over all partitions.
    pub fn committed_total(&self, group: &str, topic: &str, partitions: i32) -> i64 {
        self.committed_offsets(group, topic, partitions).iter().sum()
    }

    /// The end of each partition (the offset the next message will get).
    pub fn end_offsets(&self, topic: &str, partitions: i32) -> Vec<i64> {
        let c = self.base_consumer("liveviewer-testkit-probe");
        (0..partitions).map(|p| c.fetch_watermarks(topic, p, Duration::from_secs(10)).unwrap().1).collect()
    }

    /// Whether the group has committed everything up to the end of every partition.
    pub fn caught_up(&self, group: &str, topic: &str, partitions: i32) -> bool {
        let (c, Some(committed)) = self.committed(group, topic, partitions) else { return false };
        (0..partitions).all(|p| {
            let Ok((_, high)) = c.fetch_watermarks(topic, p, Duration::from_secs(5)) else { return false };
            match committed.find_partition(topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o >= high,
                _ => high == 0,
            }
        })
    }

    /// Every record of a topic, from the start to the end it has now.
    pub fn read_all(&self, topic: &str) -> Vec<Record> {
        let c = self.base_consumer("liveviewer-testkit-reader");
        let metadata = c.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
        let partitions = metadata.topics()[0].partitions().len() as i32;
        let ends = self.end_offsets(topic, partitions);
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
        }
        c.assign(&tpl).unwrap();
        let mut next = vec![0i64; partitions as usize];
        // Compaction and deletion leave gaps: done when every partition has reached its end.
        let start = (0..partitions).map(|p| c.fetch_watermarks(topic, p, Duration::from_secs(5)).unwrap().0).collect::<Vec<_>>();
        for (p, s) in start.iter().enumerate() {
            next[p] = *s;
        }
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while next.iter().zip(&ends).any(|(n, e)| n < e) {
            assert!(Instant::now() < deadline, "reading {topic}: at {next:?} of {ends:?}");
            if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
                next[m.partition() as usize] = m.offset() + 1;
                out.push(Record { partition: m.partition(), offset: m.offset(), key: m.key().map(<[u8]>::to_vec), payload: m.payload().unwrap_or_default().to_vec() });
            }
        }
        out
    }

    /// The record batches of one partition as the broker stored them: (first offset, last
    /// offset) each, read from its log segment files (record batch format v2: base offset,
    /// length, leader epoch, magic, CRC, attributes, last offset delta, ...).
    pub fn record_batches(&self, topic: &str, partition: i32) -> Vec<(i64, i64)> {
        let dir = self.log_dir().join(format!("{topic}-{partition}"));
        let mut segments: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        segments.sort();
        let mut out = Vec::new();
        for segment in segments {
            let bytes = std::fs::read(&segment).unwrap();
            let mut at = 0;
            while at + 27 <= bytes.len() {
                let base = i64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
                let length = i32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
                assert_eq!(bytes[at + 16], 2, "{}: record batch format v2", segment.display());
                let last_delta = i32::from_be_bytes(bytes[at + 23..at + 27].try_into().unwrap()) as i64;
                if length == 0 {
                    break; // preallocated space after the last batch
                }
                out.push((base, base + last_delta));
                at += 12 + length;
            }
        }
        out
    }
}

/// Counts the messages the broker refused, so that a test never believes it produced what it
/// did not.
#[derive(Default)]
struct Counting {
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            self.first_error.lock().unwrap().get_or_insert_with(|| e.to_string());
        }
    }
}

/// Produces to any broker address; panics unless every message was acknowledged.
pub fn produce_to<'a>(addr: &str, topic: &str, messages: impl IntoIterator<Item = (&'a str, &'a [u8])>, codec: Codec, linger_ms: u32) {
    let producer: ThreadedProducer<Counting> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("acks", "all")
        .set("linger.ms", linger_ms.to_string())
        .set("compression.type", codec.name())
        .set("queue.buffering.max.messages", "500000")
        .set("message.max.bytes", "16000000")
        .set("log_level", "3")
        .create_with_context(Counting::default())
        .unwrap();
    let mut n = 0u64;
    for (k, v) in messages {
        send(&producer, BaseRecord::to(topic).key(k).payload(v));
        n += 1;
    }
    producer.flush(Duration::from_secs(300)).unwrap();
    let failed = producer.context().failed.load(Ordering::Relaxed);
    assert_eq!(failed, 0, "{failed} of {n} messages not acknowledged: {:?}", producer.context().first_error.lock().unwrap());
}

/// Sends one record, waiting and trying again while the producer's queue is full.
pub fn send<C: ProducerContext<DeliveryOpaque = ()>, K, P>(p: &ThreadedProducer<C>, mut record: BaseRecord<'_, K, P>)
where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    loop {
        match p.send(record) {
            Ok(()) => return,
            Err((_, r)) => {
                record = r;
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

fn admin_options() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))
}

/// Panics with the broker's reason unless the admin request and each topic's part of it
/// succeeded (`doing`: "creating", "deleting").
fn settled(doing: &str, name: &str, results: KafkaResult<Vec<TopicResult>>) {
    for r in results.unwrap_or_else(|e| panic!("{doing} topic {name}: {e}")) {
        if let Err((topic, code)) = r {
            panic!("{doing} topic {topic}: {code}");
        }
    }
}
