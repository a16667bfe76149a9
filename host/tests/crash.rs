//! Crashes and outages against Apache Kafka and a DynamoDB-API server, compared with an
//! uninterrupted run of the same events: nothing lost, nothing counted twice.

use liveviewer::store::{DynamoStore, EmbeddedStore, HistoryCursor, HistoryRow};
use liveviewer_testkit::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 4;

/// `flush_ms`, `progress_ms`: the write-behind intervals (short ones make commits frequent,
/// so that kills fall between commits while the host makes progress).
fn config(dir: &std::path::Path, kafka: &Kafka, endpoint: &str, name: &str, flush_ms: u64, progress_ms: u64) -> std::path::PathBuf {
    write_config(
        dir,
        name,
        &format!(
            r#"
data_dir = "{data}"
[source]
kind = "kafka"
[source.kafka]
brokers = "{brokers}"
topic = "{name}"
group_id = "{name}"
instance_id = "{name}-host"
[store]
kind = "dynamodb"
flush_interval_ms = {flush_ms}
progress_flush_interval_ms = {progress_ms}
[store.dynamodb]
region = "us-east-1"
endpoint = "{endpoint}"
profiles_table = "{name}_p"
history_table = "{name}_h"
[pipeline]
batch_max = 128
retry_max_ms = 1000
[http]
listen = "127.0.0.1:0"
"#,
            data = dir.join("data").display(),
            brokers = kafka.addr,
        ),
    )
}

/// A small deterministic generator, so that a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The history rows of `viewers` in a store, as comparable sets.
fn history(rows: impl IntoIterator<Item = HistoryRow>) -> BTreeSet<(String, i64, u64, String)> {
    rows.into_iter().map(|r| (r.viewer_id, r.ts, r.event_hash, r.status)).collect()
}

#[test]
fn kill_dash_nine_at_twenty_random_moments_loses_nothing_and_counts_nothing_twice() {
    let _serial = serial();
    let kafka = Kafka::start();
    let name = "crashes";
    kafka.create_topic(name, PARTITIONS);
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &kafka, &moto.endpoint, name, 200, 1_000);

    // Simulated viewers, with a tenth of the events sent twice (a producer's retry) and bad
    // lines among them.
    let (events, _) = workload(16_000, 91);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut msgs: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, e) in events.into_iter().enumerate() {
        msgs.push(e.clone());
        if rng.next().is_multiple_of(10) {
            msgs.push(e);
        }
        if i % 997 == 0 {
            msgs.push(("bad".into(), format!("not an event {i}").into_bytes()));
        }
    }
    let bad_lines = msgs.iter().filter(|(k, _)| k == "bad").count();

    // Produced while the host runs, so that it is killed in the middle of real traffic.
    let producer = {
        let (addr, msgs) = (kafka.addr.clone(), msgs.clone());
        std::thread::spawn(move || {
            // Spread over about a minute, most of the twenty kills: the host consumes faster
            // than this, so the kills fall while there is traffic to lose.
            for chunk in msgs.chunks(100) {
                liveviewer_testkit::kafka::produce_to(&addr, name, chunk.iter().map(|(k, v)| (k.as_str(), v.as_slice())), Codec::Lz4, 5);
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    let args = ["run", "--config", config.to_str().unwrap()];
    let mut kills = Vec::new();
    for _ in 0..20 {
        let mut host = Host::start(&args, &[]);
        // Anywhere from just after start-up to well into consuming: not at a commit.
        let after = Duration::from_millis(1_000 + rng.next() % 5_000);
        std::thread::sleep(after);
        kills.push((after, kafka.committed_total(name, name, PARTITIONS)));
        host.proc.kill9();
    }
    producer.join().unwrap();
    let host = Host::start(&args, &[]);
    wait_until("the last host to catch up", Duration::from_secs(300), || kafka.caught_up(name, name, PARTITIONS));
    drop(host);
    let progressed = kills.windows(2).filter(|w| w[1].1 > w[0].1).count();
    assert!(progressed >= 5, "the kills fell while the host made progress: {kills:?}");

    // Profiles as an uninterrupted replay of the same messages.
    let file = events_file(&msgs);
    let expected = replayed_profiles(file.path());
    assert_same_profiles(&expected, &profiles(&config), "after twenty kill -9");

    // History rows: the same rows, each once.
    let replay_dir = tempfile::tempdir().unwrap();
    cli(&["replay", "--data-dir", replay_dir.path().to_str().unwrap(), file.path().to_str().unwrap()], &[]);
    let viewers: Vec<String> = expected.as_array().unwrap().iter().map(|p| p["viewer_id"].as_str().unwrap().to_owned()).collect();
    let embedded = EmbeddedStore::open(replay_dir.path()).unwrap();
    // Each store answers a page at a time, newest first; every page of every viewer.
    const PAGE: usize = 1000;
    let after = |page: &[HistoryRow]| page.last().map(|r| HistoryCursor { ts: r.ts, event_hash: r.event_hash });
    let mut want = Vec::new();
    for v in &viewers {
        let mut before = None;
        loop {
            let page = embedded.history(v, before, PAGE).unwrap();
            before = after(&page);
            let last = page.len() < PAGE;
            want.extend(page);
            if last {
                break;
            }
        }
    }
    let want = history(want);
    let cfg = liveviewer::config::DynamoConfig {
        region: Some("us-east-1".into()),
        endpoint: Some(moto.endpoint.clone()),
        profiles_table: format!("{name}_p"),
        history_table: format!("{name}_h"),
        create_tables: false,
        ..Default::default()
    };
    let got = block_on(async {
        for (k, v) in aws_env() {
            unsafe { std::env::set_var(k, v) };
        }
        let store = DynamoStore::connect(&cfg).await.unwrap();
        let mut rows = Vec::new();
        for v in &viewers {
            let mut before = None;
            loop {
                let page = store.history(v, before, PAGE).await.unwrap();
                before = after(&page);
                let last = page.len() < PAGE;
                rows.extend(page);
                if last {
                    break;
                }
            }
        }
        rows
    });
    let got = history(got);
    let missing: Vec<_> = want.difference(&got).take(10).collect();
    let extra: Vec<_> = got.difference(&want).take(10).collect();
    assert!(missing.is_empty() && extra.is_empty(), "the status history, each change once: {} rows missing, e.g. {missing:?}; {} extra, e.g. {extra:?}", want.difference(&got).count(), got.difference(&want).count());

    // Dead letters: every bad line's, keyed by where it came from (at least once: a letter
    // written just before a kill is written again with its batch; its origin is its key).
    let letters = kafka.read_all(&format!("{name}.dead-letter"));
    let origins: BTreeMap<String, usize> = letters.iter().fold(BTreeMap::new(), |mut m, r| {
        let l: Value = serde_json::from_slice(&r.payload).unwrap();
        *m.entry(l["origin"].to_string()).or_insert(0) += 1;
        m
    });
    assert_eq!(origins.len(), bad_lines, "each bad line dead-lettered");
    eprintln!(
        "crash: {} messages, 20 kills ({progressed} while progressing), {} dead letters for {bad_lines} bad lines",
        msgs.len(),
        letters.len()
    );
}

#[test]
fn the_store_unreachable_for_thirty_seconds_under_load_commits_nothing_bounds_memory_and_then_lands_everything() {
    let _serial = serial();
    let kafka = Kafka::start();
    let name = "outage30";
    kafka.create_topic(name, PARTITIONS);
    let mut dynalite = Dynalite::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &kafka, &dynalite.endpoint(), name, 1_000, 60_000);
    let token = "outage-ingest-token-0123456789";
    let mut host = Host::start(&["run", "--config", config.to_str().unwrap()], &[("LIVEVIEWER__HTTP__INGEST_TOKEN", token)]);
    let (msgs, _) = workload(9_000, 92);
    let (first, rest) = msgs.split_at(msgs.len() / 4);
    kafka.produce(name, first);
    wait_until("the first quarter", Duration::from_secs(120), || kafka.caught_up(name, name, PARTITIONS));
    let rss_before = host.proc.rss_bytes();

    dynalite.stop();
    let down = Instant::now();
    let committed = kafka.committed_total(name, name, PARTITIONS);
    kafka.produce(name, rest);
    // Ingest says to come back later, at once, rather than holding the request.
    let tsv = fixture_lines()[3].clone();
    let (status, retry_after) = block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{}ingest/snowbridge", host.url))
            .bearer_auth(token)
            .json(&vec![tsv])
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()))
    });
    assert_eq!(status, 503, "ingest during the outage");
    assert!(retry_after.is_some(), "with Retry-After");
    let mut peak = 0;
    while down.elapsed() < Duration::from_secs(30) {
        peak = peak.max(host.proc.rss_bytes());
        assert_eq!(kafka.committed_total(name, name, PARTITIONS), committed, "nothing committed while the store is down");
        assert!(host.proc.alive(), "the host stays up");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(peak < rss_before + (256 << 20), "memory bounded during the outage: {} MB before, {} MB peak", rss_before >> 20, peak >> 20);
    dynalite.restart();
    wait_until("everything to land after the outage", Duration::from_secs(180), || kafka.caught_up(name, name, PARTITIONS));
    let status = host.proc.terminate(Duration::from_secs(30)).expect("stops on SIGTERM");
    assert!(status.success());
    let file = events_file(&msgs);
    assert_same_profiles(&replayed_profiles(file.path()), &profiles(&config), "after a thirty-second outage");
}
