//! `liveviewer simulate`: writes simulated viewers' events to a file, stdout or a Kafka topic,
//! as fast as they can be made (their timestamps are simulated time), for demos, load tests
//! and benchmarks.

use crate::simulator::Simulator;
use anyhow::Context;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

pub struct Args {
    pub viewers: usize,
    pub seed: u64,
    pub ping_interval_s: u32,
    pub events: u64,
    /// Epoch ms of the first event; `None`: the stream ends now (see `ending_now`).
    pub start_ms: Option<i64>,
    pub out: Option<PathBuf>,
    pub kafka: Option<(String, String)>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let viewers = args.viewers.max(1);
    let start = args.start_ms.unwrap_or_else(|| ending_now(viewers, args.seed, args.ping_interval_s, args.events));
    let mut sim = Simulator::new(viewers, args.seed, args.ping_interval_s, start);
    match &args.kafka {
        Some((brokers, topic)) => to_kafka(&mut sim, args.events, brokers, topic),
        None => {
            let out: Box<dyn Write> = match &args.out {
                Some(p) if p.as_os_str() != "-" => {
                    Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
                }
                _ => Box::new(std::io::stdout().lock()),
            };
            let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
            for _ in 0..args.events {
                let e = sim.next_event();
                out.write_all(e.line.as_bytes())?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
            Ok(())
        }
    }
}

/// The start that makes the stream's last event fall at the current time. Starting at "now"
/// instead would stamp most events in the future, where the host's `max_future_s` guard
/// dead-letters them, and how many depended on when the file was replayed. The simulator is
/// deterministic and its times are relative to the start, so a dry run at 0 gives the span.
fn ending_now(viewers: usize, seed: u64, ping_s: u32, events: u64) -> i64 {
    let mut dry = Simulator::new(viewers, seed, ping_s, 0);
    let span = (0..events).map(|_| dry.next_event().ts).max().unwrap_or(0);
    crate::live::wall_ms() - span - 1000
}

/// Keyed by viewer, as Snowbridge's partition key would be, so a viewer's events stay in order.
fn to_kafka(sim: &mut Simulator, events: u64, brokers: &str, topic: &str) -> anyhow::Result<()> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "200000")
        .set("compression.type", "lz4")
        .set("acks", "all")
        .create()
        .context("creating the producer")?;
    for _ in 0..events {
        let e = sim.next_event();
        let mut record = BaseRecord::to(topic).key(&e.viewer).payload(&e.line);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(e).context("producing"),
            }
        }
    }
    producer.flush(Duration::from_secs(60)).context("flushing to Kafka")?;
    Ok(())
}
