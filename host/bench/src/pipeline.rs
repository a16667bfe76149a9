//! The pipeline against Apache Kafka on loopback: throughput of the host consuming into the
//! embedded store against a bare consumer of the same topic that only counts; and latency from
//! a produced event to its profile on the push channel, at fixed rates.

use liveviewer_testkit::kafka::{send, Codec};
use liveviewer_testkit::{free_port, wait_until, Host, Kafka};
use super::{percentile, BenchResult, Figure, Options};
use liveviewer::simulator::Simulator;
use futures::StreamExt;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn host_config(dir: &std::path::Path, broker: &Kafka, topic: &str, group: &str) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join(format!("{group}.toml"));
    std::fs::write(
        &path,
        format!(
            "data_dir = {:?}\n[source]\nkind = \"kafka\"\n[source.kafka]\nbrokers = \"{}\"\ntopic = \"{topic}\"\ngroup_id = \"{group}\"\n[http]\nlisten = \"127.0.0.1:{}\"\n",
            dir.join(group).display().to_string(),
            broker.addr,
            free_port()
        ),
    )?;
    Ok(path)
}

fn simulated(n: u64, viewers: usize) -> impl Iterator<Item = (String, Vec<u8>)> {
    let mut sim = Simulator::new(viewers, 9, 10, 1_763_000_000_000);
    (0..n).map(move |_| {
        let e = sim.next_event();
        (e.viewer, e.line.into_bytes())
    })
}

pub async fn throughput(o: Options) -> BenchResult {
    let n: u64 = if o.smoke { 5_000 } else { 1_000_000 };
    // LIVEVIEWER_BENCH_PIPELINE_RUNS=1 for a quick look (with LIVEVIEWER_BENCH_HOST_LOG for the
    // host's per-batch timings at debug level).
    let runs = std::env::var("LIVEVIEWER_BENCH_PIPELINE_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(if o.smoke { 1 } else { 3 });
    let broker = Kafka::start();
    broker.create_topic("bench", 4);
    broker.create_topic("bench.dead-letter", 1);
    let produce_started = Instant::now();
    let addr = broker.addr.clone();
    // As Snowbridge produces: keyed by viewer, batched, lz4.
    tokio::task::spawn_blocking(move || {
        let events: Vec<(String, Vec<u8>)> = simulated(n, 5_000).collect();
        liveviewer_testkit::kafka::produce_to(&addr, "bench", events.iter().map(|(k, v)| (k.as_str(), v.as_slice())), Codec::Lz4, 10)
    })
    .await?;
    let produce_s = produce_started.elapsed().as_secs_f64();
    let dir = tempfile::tempdir()?;
    let (mut bare, mut host) = (Vec::new(), Vec::new());
    for run in 0..runs {
        // The bare consumer: counts messages, nothing else.
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &broker.addr)
            .set("group.id", format!("bare-{run}"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()?;
        consumer.subscribe(&["bench"])?;
        let mut stream = consumer.stream();
        let mut count = 0u64;
        let mut started = None;
        while count < n {
            let m = tokio::time::timeout(Duration::from_secs(60), stream.next()).await?;
            if matches!(m, Some(Ok(_))) {
                started.get_or_insert_with(Instant::now);
                count += 1;
            }
        }
        bare.push(n as f64 / started.expect("messages came").elapsed().as_secs_f64());
        drop(stream);
        drop(consumer);

        // The host: everything a real deployment does, into the embedded store.
        let group = format!("host-{run}");
        let config = host_config(dir.path(), &broker, "bench", &group)?;
        let log = std::env::var("LIVEVIEWER_BENCH_HOST_LOG").unwrap_or_else(|_| "warn".into());
        let h = Host::start(&["run", "--config", config.to_str().unwrap()], &[("LIVEVIEWER_LOG", &log)]);
        let warm = (n / 100).max(1) as i64;
        let b = &broker;
        wait_until("the host to start consuming", Duration::from_secs(120), || b.committed_total(&group, "bench", 4) >= warm);
        let (t0, c0) = (Instant::now(), broker.committed_total(&group, "bench", 4));
        wait_until("the host to consume the topic", Duration::from_secs(1800), || b.committed_total(&group, "bench", 4) >= n as i64);
        host.push((n as i64 - c0) as f64 / t0.elapsed().as_secs_f64());
        drop(h);
    }
    let bare_fig = Figure::new("pipeline", format!("bare consumer, {n} events"), "events/s", bare);
    let host_fig = Figure::new("pipeline", format!("host into embedded store, {n} events"), "events/s", host)
        .against("bare consumer", bare_fig.value);
    let ok = host_fig.ratio.unwrap_or(0.0) >= 0.5 && host_fig.value >= 50_000.0;
    let host_fig = host_fig.goal(">= 0.5x bare and >= 50k events/s on this machine", ok);
    Ok((
        vec![bare_fig, host_fig],
        vec![format!(
            "pipeline: {n} simulated events (5000 viewers) on a 4-partition topic of Apache Kafka (one KRaft node on loopback; produced keyed by viewer, lz4, in batches) (produced in {produce_s:.0} s, not measured); the host's rate is measured from 1% to 100% of committed offsets, so start-up is not counted."
        )],
    ))
}

/// Sends `rate` events per second for `secs` seconds, each stamped with the time it is sent;
/// returns when each media event was sent, by viewer.
type Sent = Arc<Mutex<HashMap<String, VecDeque<(i64, Instant)>>>>;

fn restamp(line: &str, ms: i64) -> String {
    let t = liveviewer::simulator::tsv::tsv_time(ms);
    let mut f: Vec<&str> = line.split('\t').collect();
    for i in [3, 4, 119, 124] {
        f[i] = &t;
    }
    f.join("\t")
}

pub async fn latency(o: Options) -> BenchResult {
    let broker = Kafka::start();
    broker.create_topic("latency", 4);
    broker.create_topic("latency.dead-letter", 1);
    let dir = tempfile::tempdir()?;
    let config = host_config(dir.path(), &broker, "latency", "latency")?;
    let log = std::env::var("LIVEVIEWER_BENCH_HOST_LOG").unwrap_or_else(|_| "warn".into());
    let host = Host::start(&["run", "--config", config.to_str().unwrap()], &[("LIVEVIEWER_LOG", &log)]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rates: Vec<u64> = if o.smoke { vec![200] } else { vec![1_000, 10_000] };
    let secs = if o.smoke { 2 } else { 15 };
    let mut figures = Vec::new();
    for rate in rates {
        let sent: Sent = Arc::new(Mutex::new(HashMap::new()));
        let latencies: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(Vec::new()));
        // The push channel, matching each profile update to the events it makes visible.
        let listener = {
            let (url, sent, latencies) = (host.url.clone(), sent.clone(), latencies.clone());
            tokio::spawn(async move {
                let Ok(r) = reqwest::get(format!("{url}api/events")).await else { return };
                let mut body = r.bytes_stream();
                let mut buf = String::new();
                let mut profile = false;
                while let Some(Ok(chunk)) = body.next().await {
                    buf.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(i) = buf.find('\n') {
                        let line: String = buf.drain(..=i).collect();
                        if line.starts_with("event: profile") {
                            profile = true;
                        } else if let (true, Some(data)) = (profile, line.strip_prefix("data: ")) {
                            profile = false;
                            let now = Instant::now();
                            let Ok(p) = serde_json::from_str::<serde_json::Value>(data) else { continue };
                            let (Some(viewer), Some(last)) = (p["viewer_id"].as_str(), p["last_seen"].as_str()) else { continue };
                            let Some(last) = liveviewer_wire::time::parse_millis(last) else { continue };
                            let mut sent = sent.lock().unwrap();
                            if let Some(q) = sent.get_mut(viewer) {
                                let mut l = latencies.lock().unwrap();
                                while q.front().is_some_and(|(ts, _)| *ts <= last) {
                                    let (_, at) = q.pop_front().unwrap();
                                    l.push(now.duration_since(at).as_secs_f64() * 1000.0);
                                }
                            }
                        }
                    }
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (addr, s) = (broker.addr.clone(), sent.clone());
        let produced = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
            let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new().set("bootstrap.servers", &addr).set("linger.ms", "1").create()?;
            let mut sim = Simulator::new((rate as usize / 4).max(50), 3, 10, 1_763_000_000_000);
            let start = Instant::now();
            let total = rate * secs;
            let mut n = 0u64;
            let mut last_ms = 0i64;
            while n < total {
                let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
                if n >= due {
                    std::thread::sleep(Duration::from_micros(200));
                    continue;
                }
                let e = sim.next_event();
                // Strictly increasing stamps, so that "visible" is well defined per viewer.
                let ms = liveviewer::live::wall_ms().max(last_ms + 1);
                last_ms = ms;
                let line = restamp(&e.line, ms);
                if line.split('\t').nth(125) == Some("com.snowplowanalytics.snowplow.media") {
                    s.lock().unwrap().entry(e.viewer.clone()).or_default().push_back((ms, Instant::now()));
                }
                send(&p, BaseRecord::to("latency").key(&e.viewer).payload(&line));
                n += 1;
            }
            p.flush(Duration::from_secs(30))?;
            Ok(n)
        })
        .await??;
        tokio::time::sleep(Duration::from_secs(3)).await;
        listener.abort();
        let mut l = latencies.lock().unwrap().clone();
        let unmatched: usize = sent.lock().unwrap().values().map(VecDeque::len).sum();
        let (p50, p99) = (percentile(&mut l, 50.0), percentile(&mut l, 99.0));
        figures.push(Figure::new("latency", format!("p50 at {rate} events/s"), "ms", vec![p50]));
        let p99_fig = Figure::new("latency", format!("p99 at {rate} events/s"), "ms", vec![p99]);
        figures.push(if rate == 10_000 { p99_fig.goal("<= 250 ms", p99 <= 250.0) } else { p99_fig });
        figures.push(Figure::new("latency", format!("events seen at {rate} events/s ({produced} sent)"), "media events", vec![l.len() as f64]));
        if unmatched > 0 {
            figures.push(Figure::new("latency", format!("events not seen within 3 s at {rate}/s"), "events", vec![unmatched as f64]));
        }
    }
    drop(host);
    Ok((figures, vec![format!("latency: from the moment an event is handed to the Kafka producer (stamped with that time) to its profile on the push channel (/api/events), {secs} s per rate; Kafka, embedded store, one host.")]))
}
