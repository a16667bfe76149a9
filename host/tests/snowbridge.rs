//! Snowplow Snowbridge itself in front of the host, with the project's own configurations
//! from docker/snowbridge/ (the media filter, the viewer partition key script): enriched TSV
//! on Snowbridge's stdin -> Apache Kafka -> the host, and -> Snowbridge's HTTP target -> the
//! host's ingest endpoint. Both must give the profiles a replay of the same file gives.
//!
//! These need a Snowbridge binary (`LIVEVIEWER_SNOWBRIDGE_BIN`, built by scripts/setup.sh from
//! the Go module proxy where the proxy serves it). They are marked `ignore` so that `cargo test`
//! alone does not fail for want of it; scripts/test.sh runs them with `--ignored` whenever the
//! binary is there and says plainly when it is not.

use liveviewer_testkit::snowbridge;
use liveviewer_testkit::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The fixture session, simulated viewers (some logged in), and one logged-in viewer who
/// watches on two devices: every event of hers carries her user id, and two domain_userids.
fn events() -> (Vec<(String, Vec<u8>)>, tempfile::NamedTempFile) {
    let (mut msgs, _) = workload(3_000, 41);
    let alice: Vec<(String, Vec<u8>)> = fixture_lines()
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let mut f: Vec<String> = line.split('\t').map(str::to_owned).collect();
            f[6] = format!("a11ce000-0000-4000-8000-{i:012}");
            f[12] = "alice@example.com".into();
            f[15] = if i % 2 == 0 { "device-phone-0001".into() } else { "device-laptop-0002".into() };
            let line = f.join("\t");
            (viewer_key(&line), line.into_bytes())
        })
        .collect();
    msgs.extend(alice);
    let file = events_file(&msgs);
    (msgs, file)
}

fn input(msgs: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut all = Vec::new();
    for (_, line) in msgs {
        all.extend_from_slice(line);
        all.push(b'\n');
    }
    all
}

#[test]
#[ignore = "needs a Snowbridge binary: scripts/test.sh runs it when setup.sh could build one"]
fn snowbridge_into_kafka_into_the_host_equals_a_replay_and_keys_each_viewer_to_one_partition() {
    let _serial = serial();
    let kafka = Kafka::start();
    kafka.create_topic("snowplow-enriched-good", 4);
    kafka.create_topic("snowbridge-failed", 1);
    kafka.create_topic("snowplow-enriched-good.dead-letter", 1);
    let (msgs, file) = events();
    let dir = tempfile::tempdir().unwrap();
    let config = snowbridge::stdin_config(dir.path(), "config.hcl", false);
    let out = snowbridge::run(
        &config,
        &input(&msgs),
        &[
            ("SNOWBRIDGE_KAFKA_BROKERS", kafka.addr.as_str()),
            ("SNOWBRIDGE_INPUT_TOPIC", "unused-with-stdin"),
            ("SNOWBRIDGE_OUTPUT_TOPIC", "snowplow-enriched-good"),
            ("SNOWBRIDGE_FAILURE_TOPIC", "snowbridge-failed"),
        ],
    );
    assert!(out.status.success(), "Snowbridge: {}", String::from_utf8_lossy(&out.stderr));

    // Snowbridge kept the media events only, keyed each by its viewer, and each viewer's
    // events are on one partition: alice's too, although her devices differ.
    let records = kafka.read_all("snowplow-enriched-good");
    let media = msgs.iter().filter(|(_, l)| String::from_utf8_lossy(l).split('\t').nth(125) == Some("com.snowplowanalytics.snowplow.media")).count();
    assert_eq!(records.len(), media, "the filter keeps the media events, all of them");
    let mut partitions: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for r in &records {
        let key = String::from_utf8(r.key.clone().expect("a key")).unwrap();
        assert_eq!(key, viewer_key(&String::from_utf8_lossy(&r.payload)), "the key is the viewer the module sees");
        partitions.entry(key).or_default().insert(r.partition);
    }
    assert!(partitions.len() > 20, "{} viewers", partitions.len());
    for (viewer, parts) in &partitions {
        assert_eq!(parts.len(), 1, "viewer {viewer} on partitions {parts:?}");
    }
    assert!(partitions.contains_key("alice@example.com"));
    assert!(kafka.read_all("snowbridge-failed").is_empty(), "nothing failed in Snowbridge");

    let host_config = write_config(
        dir.path(),
        "host",
        &format!(
            "data_dir = {:?}\n[source]\nkind = \"kafka\"\n[source.kafka]\nbrokers = \"{}\"\ngroup_id = \"e2e\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("data").display().to_string(),
            kafka.addr
        ),
    );
    let host = Host::start(&["run", "--config", host_config.to_str().unwrap()], &[]);
    wait_until("the host to consume Snowbridge's topic", Duration::from_secs(120), || kafka.caught_up("e2e", "snowplow-enriched-good", 4));
    drop(host);
    assert_same_profiles(&replayed_profiles(file.path()), &profiles(&host_config), "Snowbridge -> Kafka -> host vs replay");
}

#[test]
#[ignore = "needs a Snowbridge binary: scripts/test.sh runs it when setup.sh could build one"]
fn snowbridge_http_target_into_the_ingest_endpoint_equals_a_replay() {
    let _serial = serial();
    let (msgs, file) = events();
    let dir = tempfile::tempdir().unwrap();
    let token = "snowbridge-ingest-token-0123456789";
    let data = dir.path().join("data");
    let host = Host::start(
        &["demo", "--viewers", "0", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().unwrap()],
        &[("LIVEVIEWER__HTTP__INGEST_TOKEN", token)],
    );
    let config = snowbridge::stdin_config(dir.path(), "config.http.hcl", true);
    let url = format!("{}ingest/snowbridge", host.url);
    let out = snowbridge::run(
        &config,
        &input(&msgs),
        &[
            ("SNOWBRIDGE_KAFKA_BROKERS", "unused-with-stdin:9092"),
            ("SNOWBRIDGE_INPUT_TOPIC", "unused-with-stdin"),
            ("LIVEVIEWER_INGEST_URL", url.as_str()),
            ("LIVEVIEWER_INGEST_TOKEN", token),
        ],
    );
    assert!(out.status.success(), "Snowbridge: {}", String::from_utf8_lossy(&out.stderr));
    let media = msgs.iter().filter(|(_, l)| String::from_utf8_lossy(l).split('\t').nth(125) == Some("com.snowplowanalytics.snowplow.media")).count();
    wait_until("every media event ingested", Duration::from_secs(60), || host.metric("liveviewer_events_total") as usize >= media);
    assert_eq!(host.metric("liveviewer_events_total") as usize, media, "each media event ingested once");
    let mut host = host;
    let status = host.proc.terminate(Duration::from_secs(30)).expect("stops on SIGTERM");
    assert!(status.success());
    let stored: serde_json::Value =
        serde_json::from_str(&cli(&["profiles", "--data-dir", data.to_str().unwrap()], &[("LIVEVIEWER__ACTIVE__CLOCK", "stream")])).unwrap();
    assert_same_profiles(&replayed_profiles(file.path()), &stored, "Snowbridge -> HTTP -> host vs replay");
}
