//! The pipeline against Apache Kafka on loopback: throughput of the host consuming into the
//! embedded store against a bare consumer of the same topic that only counts. (Latency at fixed
//! rates is `latency.rs`.)

use liveviewer_testkit::kafka::Codec;
use liveviewer_testkit::{free_port, wait_until, Host, Kafka};
use super::{BenchResult, Figure, Options};
use liveviewer::simulator::Simulator;
use futures::StreamExt;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use std::time::{Duration, Instant};

pub(crate) fn host_config(dir: &std::path::Path, broker: &Kafka, topic: &str, group: &str) -> anyhow::Result<std::path::PathBuf> {
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
    let (mut cpu_per_event, mut cores_busy) = (Vec::new(), Vec::new());
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
        let (t0, c0, cpu0) = (Instant::now(), broker.committed_total(&group, "bench", 4), h.proc.cpu_seconds());
        wait_until("the host to consume the topic", Duration::from_secs(1800), || b.committed_total(&group, "bench", 4) >= n as i64);
        // CPU time per event is the cost apart from how much of the shared machine the host got
        // (the rate mixes the two), and it says how far the host is from the goal's budget.
        let (secs, cpu) = (t0.elapsed().as_secs_f64(), h.proc.cpu_seconds() - cpu0);
        host.push((n as i64 - c0) as f64 / secs);
        cpu_per_event.push(cpu * 1e6 / (n as i64 - c0) as f64);
        cores_busy.push(cpu / secs);
        drop(h);
    }
    let bare_fig = Figure::new("pipeline", format!("bare consumer, {n} events"), "events/s", bare);
    let host_fig = Figure::new("pipeline", format!("host into embedded store, {n} events"), "events/s", host)
        .against("bare consumer", bare_fig.value);
    let ok = host_fig.ratio.unwrap_or(0.0) >= 0.5 && host_fig.value >= 50_000.0;
    let host_fig = host_fig.goal(">= 0.5x bare and >= 50k events/s on this machine", ok);
    let cpu_fig = Figure::new("pipeline", "host CPU time per event (user + system, all threads)", "us/event", cpu_per_event);
    let cores_fig = Figure::new("pipeline", "host cores busy while consuming", "cores", cores_busy);
    Ok((
        vec![bare_fig, host_fig, cpu_fig, cores_fig],
        vec![format!(
            "pipeline: {n} simulated events (5000 viewers) on a 4-partition topic of Apache Kafka (one KRaft node on loopback; produced keyed by viewer, lz4, in batches) (produced in {produce_s:.0} s, not measured); the host's rate is measured from 1% to 100% of committed offsets, so start-up is not counted; its CPU time (from /proc, user and system, all its threads) over the same span."
        )],
    ))
}
