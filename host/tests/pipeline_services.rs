//! The pipeline against real services: Apache Kafka, moto and dynalite. Every run is
//! compared with a replay of the same events into the embedded store: the profiles must be
//! identical, whatever the path, the crashes, the hosts or the outages.


use std::time::Duration;
use liveviewer_testkit::*;

const TOPIC_PARTITIONS: i32 = 4;

fn kafka_dynamo_config(dir: &std::path::Path, broker: &Kafka, topic: &str, group: &str, endpoint: &str, tables: &str) -> std::path::PathBuf {
    write_config(
        dir,
        group,
        &format!(
            r#"
data_dir = "{data}"
[source]
kind = "kafka"
[source.kafka]
brokers = "{brokers}"
topic = "{topic}"
group_id = "{group}"
[store]
kind = "dynamodb"
[store.dynamodb]
region = "us-east-1"
endpoint = "{endpoint}"
profiles_table = "{tables}_profiles"
history_table = "{tables}_history"
[pipeline]
batch_max = 256
retry_max_ms = 1000
[http]
listen = "127.0.0.1:0"
"#,
            data = dir.join(format!("data-{group}")).display(),
            brokers = broker.addr,
        ),
    )
}

fn setup_topic(broker: &Kafka, topic: &str) {
    broker.create_topic(topic, TOPIC_PARTITIONS);
    broker.create_topic(&format!("{topic}.dead-letter"), 1);
}

#[test]
fn kafka_into_dynamodb_equals_a_replay_into_the_embedded_store() {
    let _serial = serial();
    let broker = Kafka::start();
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    setup_topic(&broker, "enriched");
    let (msgs, file) = workload(3_000, 11);
    broker.produce("enriched", &msgs);
    let config = kafka_dynamo_config(dir.path(), &broker, "enriched", "single", &moto.endpoint, "single");
    let host = Host::start(&["run", "--config", config.to_str().unwrap()], &[]);
    wait_until("the host to consume the topic", Duration::from_secs(180), || {
        broker.caught_up("single", "enriched", TOPIC_PARTITIONS)
    });
    let _ = try_wait_until(Duration::from_secs(10), || host.metric("liveviewer_events_total") as usize >= msgs.len());
    assert_eq!(host.metric("liveviewer_events_total") as usize, msgs.len());
    let history: serde_json::Value = host.get("/api/viewers?all=true&limit=1000");
    assert!(history["total"].as_u64().unwrap() > 50);
    drop(host);
    assert_same_profiles(&replayed_profiles(file.path()), &profiles(&config), "Kafka + DynamoDB vs replay");
}

#[test]
fn kill_dash_nine_and_restart_loses_nothing_and_counts_nothing_twice() {
    let _serial = serial();
    let broker = Kafka::start();
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    setup_topic(&broker, "crashy");
    let (msgs, file) = workload(12_000, 12);
    broker.produce("crashy", &msgs);
    let config = kafka_dynamo_config(dir.path(), &broker, "crashy", "crashy", &moto.endpoint, "crashy");
    let args = ["run", "--config", config.to_str().unwrap()];
    // Killed at three points while it consumes: early, in the middle, late. Each restart is a
    // new member (no static membership): the dead one's partitions come back to it.
    for fraction in [0.1, 0.45, 0.8] {
        let mut host = Host::start(&args, &[]);
        let target = (msgs.len() as f64 * fraction) as i64;
        wait_until("some progress", Duration::from_secs(150), || {
            broker.committed_total("crashy", "crashy", TOPIC_PARTITIONS) >= target
        });
        host.proc.kill9();
    }
    let host = Host::start(&args, &[]);
    wait_until("the restarted host to catch up", Duration::from_secs(180), || {
        broker.caught_up("crashy", "crashy", TOPIC_PARTITIONS)
    });
    drop(host);
    assert_same_profiles(&replayed_profiles(file.path()), &profiles(&config), "after three kill -9");
}

#[test]
fn two_hosts_in_one_group_split_the_partitions_and_agree() {
    let _serial = serial();
    let broker = Kafka::start();
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    setup_topic(&broker, "shared");
    let config_a = kafka_dynamo_config(dir.path(), &broker, "shared", "pair", &moto.endpoint, "pair");
    // Same group and tables; its own data directory and port.
    let text = std::fs::read_to_string(&config_a).unwrap().replace("data-pair", "data-pair-b");
    let config_b = write_config(dir.path(), "pair-b", &text);
    let a = Host::start(&["run", "--config", config_a.to_str().unwrap()], &[]);
    let b = Host::start(&["run", "--config", config_b.to_str().unwrap()], &[]);
    // Both members are in the group before the events arrive, so the work is split.
    std::thread::sleep(Duration::from_secs(8));
    let (msgs, file) = workload(3_000, 13);
    broker.produce("shared", &msgs);
    wait_until("the pair to consume the topic", Duration::from_secs(180), || {
        broker.caught_up("pair", "shared", TOPIC_PARTITIONS)
    });
    let total = || a.metric("liveviewer_events_total") + b.metric("liveviewer_events_total");
    // Offsets are committed right after a batch is durable; give the counters a moment.
    let _ = try_wait_until(Duration::from_secs(10), || total() as usize >= msgs.len());
    let (ea, eb) = (a.metric("liveviewer_events_total"), b.metric("liveviewer_events_total"));
    assert!(ea > 0.0 && eb > 0.0, "both hosts consumed: {ea} and {eb}");
    assert_eq!((ea + eb) as usize, msgs.len(), "every event processed exactly once between them");
    // Either host answers with the global picture.
    let all_a = a.get("/api/viewers?all=true&limit=1000");
    let all_b = b.get("/api/viewers?all=true&limit=1000");
    assert_eq!(all_a["total"], all_b["total"]);
    let ids = |v: &serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = v["viewers"].as_array().unwrap().iter().map(|p| p["viewer_id"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&all_a), ids(&all_b));
    drop((a, b));
    assert_same_profiles(&replayed_profiles(file.path()), &profiles(&config_a), "two hosts vs replay");
}

#[test]
fn a_dynamodb_outage_blocks_the_commit_and_the_host_resumes_by_itself() {
    let _serial = serial();
    let broker = Kafka::start();
    let mut dynalite = Dynalite::start();
    let dir = tempfile::tempdir().unwrap();
    setup_topic(&broker, "outage");
    let config = kafka_dynamo_config(dir.path(), &broker, "outage", "outage", &dynalite.endpoint(), "outage");
    let mut host = Host::start(&["run", "--config", config.to_str().unwrap()], &[]);
    let (msgs, file) = workload(4_000, 14);
    let (first, rest) = msgs.split_at(msgs.len() / 3);
    broker.produce("outage", first);
    wait_until("the first third", Duration::from_secs(120), || broker.caught_up("outage", "outage", TOPIC_PARTITIONS));
    dynalite.stop();
    broker.produce("outage", rest);
    wait_until("retries against the stopped store", Duration::from_secs(60), || {
        host.metric("liveviewer_store_retries_total") >= 3.0
    });
    assert!(!broker.caught_up("outage", "outage", TOPIC_PARTITIONS), "nothing committed while the store is down");
    assert!(host.proc.alive(), "the host stays up during the outage");
    std::thread::sleep(Duration::from_secs(3));
    dynalite.restart();
    wait_until("the host to resume by itself", Duration::from_secs(180), || {
        broker.caught_up("outage", "outage", TOPIC_PARTITIONS)
    });
    let _ = try_wait_until(Duration::from_secs(10), || host.metric("liveviewer_events_total") as usize >= msgs.len());
    assert_eq!(host.metric("liveviewer_events_total") as usize, msgs.len());
    let status = host.proc.terminate(Duration::from_secs(30)).expect("exits on SIGTERM");
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    assert_same_profiles(&replayed_profiles(file.path()), &profiles(&config), "after a store outage");
}
