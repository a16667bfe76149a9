//! What DynamoDB is asked to write, priced: 10 000 simulated viewers pinging every 10 s, sent
//! in real time through Apache Kafka to the real host writing to the DynamoDB-API server
//! (moto), for each `store.flush_interval_ms` of 0 (a write per viewer per batch), 1 s and
//! 5 s. Per event: profile writes, history rows; per written item: its bytes and the write
//! capacity units on-demand DynamoDB bills for it; and how far the changelog (what every
//! dashboard and downstream service sees) is behind the events.

use super::{percentile, restamp, BenchResult, Figure, Options};
use futures::StreamExt;
use liveviewer::simulator::Simulator;
use liveviewer_testkit::kafka::send;
use liveviewer_testkit::{free_port, wait_until, Host, Kafka, Moto};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Attributes written beside the state blob, in bytes (names and values: status, its time,
/// media label, first and last seen, module version, revision, rev, TTL, key).
const ATTRIBUTE_BYTES: f64 = 260.0;

/// How often each simulated viewer pings.
const PING_MS: i64 = 10_000;

/// One profile as the changelog's reader saw it: its last event's time (ms), then the lag
/// from that event to the reader, to the host's send, and from the send to the reader (ms).
type Lag = (i64, f64, f64, f64);
/// The sender's result: the host's counters over the measured part (events, profile writes,
/// history rows, written bytes), how late each event was sent (ms), the wall clock at the start.
type Sent = ((f64, f64, f64, f64), Vec<f64>, i64);

struct Run {
    events: f64,
    writes: f64,
    history_rows: f64,
    state_bytes: f64,
    changelog_lag_ms: Vec<f64>,
    /// The lag of the first round, when each viewer's first event has the host read its
    /// profile from the store (a host's cold start).
    first_round_lag_ms: Vec<f64>,
    /// The same lag in two parts: from the event's time until the host sent the profile (the
    /// changelog record's create time), and from there until the consumer had it.
    host_part_ms: Vec<f64>,
    delivery_part_ms: Vec<f64>,
    /// How late the sender put each event on Kafka against its stamped time: part of the lag
    /// that is the benchmark's, not the host's.
    sender_late_ms: Vec<f64>,
}

async fn run_interval(o: &Options, kafka: &Kafka, moto: &Moto, interval_ms: u64, viewers: usize, seconds: u64) -> anyhow::Result<Run> {
    let topic = format!("store-{interval_ms}");
    kafka.create_topic(&topic, 4);
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("host.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[source]\nkind = \"kafka\"\n[source.kafka]\nbrokers = \"{}\"\ntopic = \"{topic}\"\ngroup_id = \"{topic}\"\nchangelog_topic = \"{topic}.profiles\"\nmodules_topic = \"{topic}.modules\"\n\
             [store]\nkind = \"dynamodb\"\nflush_interval_ms = {interval_ms}\n[store.dynamodb]\nregion = \"us-east-1\"\nendpoint = \"{}\"\nprofiles_table = \"p{interval_ms}\"\nhistory_table = \"h{interval_ms}\"\n{}\
             [http]\nlisten = \"127.0.0.1:{}\"\n",
            dir.path().join("data").display().to_string(),
            kafka.addr,
            moto.endpoint,
            std::env::var("LIVEVIEWER_BENCH_STORE_DYNAMODB").unwrap_or_default().replace(';', "\n"),
            free_port()
        ),
    )?;
    // LIVEVIEWER_BENCH_STORE_RECORD=1 counts moto's requests by operation over the whole run
    // (moto's recorder slows it down, so not in the figures' runs).
    let census = std::env::var_os("LIVEVIEWER_BENCH_STORE_RECORD").is_some();
    if census {
        moto.start_recording();
    }
    let host = Host::start(&["run", "--config", config.to_str().unwrap()], &[("LIVEVIEWER_LOG", &std::env::var("LIVEVIEWER_BENCH_HOST_LOG").unwrap_or_else(|_| "warn".into()))]);

    // The changelog as a downstream consumer reads it: how long after its event each
    // profile arrives.
    let lag: Arc<Mutex<Vec<Lag>>> = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let (addr, topic, lag) = (kafka.addr.clone(), format!("{topic}.profiles"), lag.clone());
        tokio::spawn(async move {
            let c: StreamConsumer = ClientConfig::new()
                .set("bootstrap.servers", &addr)
                .set("group.id", format!("bench-{topic}"))
                .set("auto.offset.reset", "latest")
                .create()
                .expect("consumer");
            c.subscribe(&[&topic]).expect("subscribe");
            let mut stream = c.stream();
            while let Some(Ok(m)) = stream.next().await {
                let now = liveviewer::live::wall_ms();
                let Some(p) = m.payload().and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok()) else { continue };
                if let Some(last) = p["last_seen"].as_str().and_then(liveviewer_wire::time::parse_millis) {
                    let sent = m.timestamp().to_millis().unwrap_or(now);
                    lag.lock().unwrap().push((last, (now - last) as f64, (sent - last) as f64, (now - sent) as f64));
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Steady state: every viewer watching and pinging (the arrivals skipped), sent when its
    // time comes, stamped with the moment it is sent.
    let (addr, t, metrics_url) = (kafka.addr.clone(), topic.clone(), format!("{}metrics", host.url));
    let smoke = o.smoke;
    let measured = tokio::task::spawn_blocking(move || -> anyhow::Result<Sent> {
        let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new().set("bootstrap.servers", &addr).set("linger.ms", "5").create()?;
        let mut sim = Simulator::new(viewers, 17, (PING_MS / 1000) as u32, 1_763_000_000_000);
        let warm = viewers * if smoke { 4 } else { 6 };
        let mut first = None;
        for _ in 0..warm {
            first = Some(sim.next_event().ts);
        }
        let base = first.unwrap_or(0);
        let metric = |name: &str| -> f64 {
            liveviewer_testkit::http_get(&metrics_url)
                .lines()
                .filter(|l| l.starts_with(name) && (l[name.len()..].starts_with('{') || l[name.len()..].starts_with(' ')))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        // Measured from a tenth in, when the host's working set holds every viewer.
        let start = Instant::now();
        let now0 = liveviewer::live::wall_ms();
        let mut marks: Option<(f64, f64, f64, f64)> = None;
        let mut late = Vec::new();
        loop {
            let e = sim.next_event();
            let due = Duration::from_millis((e.ts - base).max(0) as u64);
            if due > Duration::from_secs(seconds) {
                break;
            }
            if marks.is_none() && due > Duration::from_secs(seconds / 10) {
                marks = Some((metric("liveviewer_events_total"), metric("liveviewer_store_writes_total"), metric("liveviewer_store_history_rows_total"), metric("liveviewer_store_written_bytes_total")));
            }
            while start.elapsed() < due {
                std::thread::sleep(Duration::from_millis(1));
            }
            let stamp = now0 + due.as_millis() as i64;
            let line = restamp(&e.line, stamp);
            send(&p, BaseRecord::to(&t).key(&e.viewer).payload(&line));
            if marks.is_some() {
                late.push((liveviewer::live::wall_ms() - stamp) as f64);
            }
        }
        p.flush(Duration::from_secs(30))?;
        // Counted up to the end of the sending, before the pause makes the host write all.
        std::thread::sleep(Duration::from_millis(300));
        let end = (metric("liveviewer_events_total"), metric("liveviewer_store_writes_total"), metric("liveviewer_store_history_rows_total"), metric("liveviewer_store_written_bytes_total"));
        let m = marks.unwrap_or((0.0, 0.0, 0.0, 0.0));
        Ok(((end.0 - m.0, end.1 - m.1, end.2 - m.2, end.3 - m.3), late, now0))
    })
    .await??;
    let ((events, writes, history_rows, state_bytes), sender_late_ms, now0) = measured;
    // Without write-behind the backlog is a write per event, at moto's pace (a few hundred a
    // second): it drains long after the sending ends. Drained before the next interval starts,
    // so that runs do not share moto.
    wait_until("the host to write everything", Duration::from_secs(1800), || kafka.caught_up(&topic, &topic, 4));
    reader.abort();
    drop(host);
    if census {
        let mut by_op = std::collections::BTreeMap::<String, (usize, usize)>::new();
        for r in moto.recorded() {
            let e = by_op.entry(r.operation).or_default();
            e.0 += 1;
            e.1 += r.bytes;
        }
        eprintln!("store census, interval {interval_ms} ms: {by_op:?}");
    }
    // Steady state once every viewer has been seen: a ping round and a little more.
    let steady_from = now0 + PING_MS + 2_000;
    let (steady, first): (Vec<_>, Vec<_>) = lag.lock().unwrap().iter().copied().partition(|p| p.0 >= steady_from);
    let changelog_lag_ms = steady.iter().map(|p| p.1).collect();
    let first_round_lag_ms = first.iter().map(|p| p.1).collect();
    let host_part_ms = steady.iter().map(|p| p.2).collect();
    let delivery_part_ms = steady.iter().map(|p| p.3).collect();
    Ok(Run { events, writes, history_rows, state_bytes, changelog_lag_ms, first_round_lag_ms, host_part_ms, delivery_part_ms, sender_late_ms })
}

pub async fn run(o: Options) -> BenchResult {
    // The smoke run lasts past a ping round and the 2 s after it, so that its steady-state
    // figures have samples too (8 s printed them as NaN).
    let (viewers, seconds) = if o.smoke { (300, 14) } else { (10_000, 60) };
    let kafka = Kafka::start();
    let moto = Moto::start();
    let mut figures = Vec::new();
    // LIVEVIEWER_BENCH_STORE_INTERVALS=5000 runs one interval alone (while looking into one).
    let intervals: Vec<u64> = match std::env::var("LIVEVIEWER_BENCH_STORE_INTERVALS") {
        Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) => vec![0, 1_000, 5_000],
    };
    for interval in intervals {
        let r = run_interval(&o, &kafka, &moto, interval, viewers, seconds).await?;
        let label = if interval == 0 { "no write-behind (0)".to_owned() } else { format!("flush_interval {} s", interval / 1000) };
        let per_event = r.writes / r.events.max(1.0);
        let item_bytes = r.state_bytes / r.writes.max(1.0) + ATTRIBUTE_BYTES;
        // On-demand DynamoDB bills a standard write one unit per KB (rounded up) of the item.
        let wcu_per_write = (item_bytes / 1024.0).ceil();
        let mut lag = r.changelog_lag_ms.clone();
        let (p50, p99) = (percentile(&mut lag.clone(), 50.0), percentile(&mut lag, 99.0));
        let writes_fig = Figure::new("store", format!("profile writes per event, {label}"), "writes/event", vec![per_event]);
        figures.push(if interval == 5_000 { writes_fig.goal("<= 0.2 at 5 s", per_event <= 0.2) } else { writes_fig });
        figures.push(Figure::new("store", format!("history rows per event, {label}"), "rows/event", vec![r.history_rows / r.events.max(1.0)]));
        figures.push(Figure::new("store", format!("bytes per written profile item, {label}"), "bytes", vec![item_bytes]));
        figures.push(Figure::new("store", format!("write capacity units per event, {label}"), "WCU/event", vec![per_event * wcu_per_write]));
        figures.push(Figure::new("store", format!("changelog behind the events, p50, {label}"), "ms", vec![p50]));
        let p99_fig = Figure::new("store", format!("changelog behind the events, p99, {label}"), "ms", vec![p99]);
        figures.push(if interval == 5_000 { p99_fig.goal("< 1000 ms at 5 s", p99 < 1000.0) } else { p99_fig });
        let mut first = r.first_round_lag_ms.clone();
        figures.push(Figure::new("store", format!("changelog behind the events, first round (cold), p50, {label}"), "ms", vec![percentile(&mut first.clone(), 50.0)]));
        figures.push(Figure::new("store", format!("changelog behind the events, first round (cold), p99, {label}"), "ms", vec![percentile(&mut first, 99.0)]));
        for (part, values) in [("event to the host's send", &r.host_part_ms), ("the host's send to the consumer", &r.delivery_part_ms), ("the sender late against the event's time", &r.sender_late_ms)] {
            let mut v = values.clone();
            figures.push(Figure::new("store", format!("of the lag, {part}, p50, {label}"), "ms", vec![percentile(&mut v.clone(), 50.0)]));
            figures.push(Figure::new("store", format!("of the lag, {part}, p99, {label}"), "ms", vec![percentile(&mut v, 99.0)]));
        }
        figures.push(Figure::new("store", format!("events measured, {label}"), "events", vec![r.events]));
    }
    Ok((
        figures,
        vec![format!(
            "store: {viewers} simulated viewers pinging every 10 s in steady state, sent in real time for {seconds} s to Apache Kafka (4 partitions), one host writing to moto (the DynamoDB API, in memory); counted from a tenth in to the end of the sending. A profile with a status, media session or ad change is written within store.flush_interval_ms, one with progress only within store.progress_flush_interval_ms (60 s); WCU per write from the item's size (state + about {ATTRIBUTE_BYTES} bytes of readable attributes), rounded up to a KB as on-demand DynamoDB bills it. Changelog lag: when a downstream consumer receives each profile, minus its last event's time, in steady state (events from a ping round and 2 s after the start of the sending, when the host holds the profiles of the viewers there from the start; those arriving later, about 25 a second, are read from the store on first sight) and, apart, in the first round, when each viewer's first event makes the host read its profile from the store first; the steady-state lag split at the changelog record's create time (event -> the host's send -> the consumer), and how late the sender itself was."
        )],
    ))
}
