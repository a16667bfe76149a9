//! Apache Kafka itself, one KRaft node (broker and controller in one JVM) on loopback, from the
//! jars `scripts/setup.sh` fetched (`LIVEVIEWER_KAFKA_LIBS`). Its log directory lives as long
//! as the handle, so the broker can be stopped and started again on the same data.
//!
//! A plaintext listener serves the test's own set-up (topics, producing, reading offsets); a
//! broker started [`Kafka::start_secure`] also has a SASL_SSL listener (SCRAM-SHA-256 and
//! -512, a certificate from a throwaway CA, for the host name `localhost` only) that the host
//! under test connects through.

use crate::process::{free_port, log_path, port_open, tool, wait_until, Proc};
use crate::tls::Ca;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{DeliveryResult, Message as _};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The SCRAM user the secure listener knows, and its password.
pub const SCRAM_USER: &str = "liveviewer";
pub const SCRAM_PASSWORD: &str = "correct-horse-battery-staple";

pub struct Kafka {
    proc: Option<Proc>,
    /// The plaintext listener, `127.0.0.1:port`.
    pub addr: String,
    port: u16,
    secure: Option<Secure>,
    dir: tempfile::TempDir,
}

/// The SASL_SSL listener of a secure broker.
pub struct Secure {
    pub port: u16,
    /// The CA that signed the broker's certificate: what a client must trust.
    pub ca: Ca,
}

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

fn java() -> PathBuf {
    match std::env::var_os("JAVA_HOME") {
        Some(home) if Path::new(&home).join("bin/java").exists() => Path::new(&home).join("bin/java"),
        _ => PathBuf::from("java"),
    }
}

fn classpath() -> String {
    format!("{}/*", tool("LIVEVIEWER_KAFKA_LIBS", "Apache Kafka's jars").display())
}

/// A KRaft cluster id: 16 random bytes, base64url without padding, not starting with `-`: the
/// storage tool would take such an id for an option (one start in 64 failed so); Kafka's own
/// ids are drawn again in that case too.
fn cluster_id() -> String {
    loop {
        let id = random_id();
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    use std::io::Read;
    std::fs::File::open("/dev/urandom").unwrap().read_exact(&mut bytes).unwrap();
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(A[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(A[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

impl Kafka {
    /// A plaintext broker.
    pub fn start() -> Kafka {
        Self::launch(false)
    }

    /// A broker with a SASL_SSL listener besides the plaintext one.
    pub fn start_secure() -> Kafka {
        Self::launch(true)
    }

    fn launch(secure: bool) -> Kafka {
        let dir = tempfile::Builder::new().prefix("kafka-").tempdir().unwrap();
        let port = free_port();
        let controller = free_port();
        let secure = secure.then(|| {
            let ca = Ca::new(&dir.path().join("tls"), "ca");
            Secure { port: free_port(), ca }
        });
        let mut listeners = format!("PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}");
        let mut advertised = format!("PLAINTEXT://127.0.0.1:{port}");
        let mut extra = String::new();
        if let Some(s) = &secure {
            let leaf = s.ca.issue("broker", &["localhost"]);
            listeners.push_str(&format!(",SASL_SSL://127.0.0.1:{}", s.port));
            // Advertised by name: the certificate is for `localhost`, so a client that
            // connects by address fails its host name check, as it should.
            advertised.push_str(&format!(",SASL_SSL://localhost:{}", s.port));
            // SCRAM (credentials made at format time), PLAIN (one user), and OAUTHBEARER with
            // Kafka's own validator of unsecured tokens (a token endpoint in the test makes
            // them: what an identity provider does, without its signature).
            extra = format!(
                "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN,OAUTHBEARER\n\
                 listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
                 listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
                 listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_{SCRAM_USER}=\"{SCRAM_PASSWORD}\";\n\
                 listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"broker\";\n\
                 ssl.keystore.type=PEM\n\
                 ssl.keystore.location={}\n\
                 ssl.client.auth=none\n",
                leaf.pem.display()
            );
        }
        let properties = format!(
            "process.roles=broker,controller\n\
             node.id=1\n\
             controller.quorum.voters=1@127.0.0.1:{controller}\n\
             listeners={listeners}\n\
             advertised.listeners={advertised}\n\
             inter.broker.listener.name=PLAINTEXT\n\
             controller.listener.names=CONTROLLER\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL\n\
             log.dirs={log}\n\
             num.partitions=1\n\
             auto.create.topics.enable=false\n\
             offsets.topic.replication.factor=1\n\
             offsets.topic.num.partitions=4\n\
             transaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\n\
             transaction.state.log.num.partitions=4\n\
             share.coordinator.state.topic.replication.factor=1\n\
             share.coordinator.state.topic.min.isr=1\n\
             group.initial.rebalance.delay.ms=0\n\
             message.max.bytes=16777216\n\
             num.network.threads=2\n\
             num.io.threads=2\n\
             {extra}",
            log = dir.path().join("log").display(),
        );
        std::fs::write(dir.path().join("server.properties"), properties).unwrap();
        let mut format = Command::new(java());
        format
            .args(["-cp", &classpath(), "kafka.tools.StorageTool", "format", "-t", &cluster_id(), "-c"])
            .arg(dir.path().join("server.properties"));
        if secure.is_some() {
            for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
                format.args(["--add-scram", &format!("{mechanism}=[name={SCRAM_USER},password={SCRAM_PASSWORD}]")]);
            }
        }
        let out = format.output().expect("running Kafka's storage tool");
        assert!(out.status.success(), "formatting the Kafka log dir: {}", String::from_utf8_lossy(&out.stderr));
        let mut k = Kafka { proc: None, addr: format!("127.0.0.1:{port}"), port, secure, dir };
        k.restart();
        k
    }

    /// Starts the broker process on its log directory (again, after [`Kafka::stop`]).
    pub fn restart(&mut self) {
        assert!(self.proc.is_none(), "the broker is running");
        let log = std::fs::File::create(log_path("kafka")).unwrap();
        let child = Command::new(java())
            .args(["-Xms256m", "-Xmx768m", "-XX:+UseSerialGC", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"])
            .args(["-cp", &classpath(), "kafka.Kafka"])
            .arg(self.dir.path().join("server.properties"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting the Kafka broker");
        self.proc = Some(Proc::new(child, "kafka"));
        let port = self.port;
        wait_until("Kafka to listen", Duration::from_secs(60), || port_open(port));
        // Listening is not serving yet: wait until it answers metadata with itself in it.
        let c = self.base_consumer("liveviewer-testkit-probe");
        wait_until("Kafka to serve metadata", Duration::from_secs(60), || {
            c.fetch_metadata(None, Duration::from_secs(2)).is_ok_and(|m| !m.brokers().is_empty())
        });
    }

    /// Stops the broker cleanly (SIGTERM: it closes its logs), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            if p.terminate(Duration::from_secs(60)).is_none() {
                p.kill9();
            }
        }
    }

    /// Kills the broker (SIGKILL), keeping whatever reached its log files.
    pub fn kill9(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    pub fn running(&self) -> bool {
        self.proc.is_some()
    }

    pub fn log_dir(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    pub fn secure(&self) -> &Secure {
        self.secure.as_ref().expect("a broker started with start_secure")
    }

    /// The SASL_SSL listener by the name its certificate is for.
    pub fn secure_addr(&self) -> String {
        format!("localhost:{}", self.secure().port)
    }

    fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.addr).set("log_level", "3");
        c
    }

    fn base_consumer(&self, group: &str) -> BaseConsumer {
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
        let results = crate::process::block_on(admin.create_topics([&topic], &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))))
            .unwrap_or_else(|e| panic!("creating topic {name}: {e}"));
        for r in results {
            if let Err((topic, code)) = r {
                panic!("creating topic {topic}: {code}");
            }
        }
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
        let results = crate::process::block_on(admin.delete_topics(&[name], &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))))
            .unwrap_or_else(|e| panic!("deleting topic {name}: {e}"));
        for r in results {
            if let Err((topic, code)) = r {
                panic!("deleting topic {topic}: {code}");
            }
        }
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

impl Drop for Kafka {
    fn drop(&mut self) {
        // Quick: the log directory goes with the handle.
        self.kill9();
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
