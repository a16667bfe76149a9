//! Apache Kafka doing what brokers do to a consumer: going away in the middle of a run and
//! coming back on the same log, and handing over topics compressed by any codec producers use.

use liveviewer_testkit::*;
use std::time::Duration;

fn kafka_embedded_config(dir: &std::path::Path, addr: &str, topic: &str, group: &str, batch_max: usize, flush_interval_ms: u64) -> std::path::PathBuf {
    write_config(
        dir,
        group,
        &format!(
            r#"
data_dir = "{data}"
[source]
kind = "kafka"
[source.kafka]
brokers = "{addr}"
topic = "{topic}"
group_id = "{group}"
[store]
flush_interval_ms = {flush_interval_ms}
progress_flush_interval_ms = {flush_interval_ms}
[pipeline]
batch_max = {batch_max}
batch_wait_ms = 5
[http]
listen = "127.0.0.1:0"
"#,
            data = dir.join(format!("data-{group}")).display(),
        ),
    )
}

/// Whether `offset` falls strictly inside one of `batches` (not on its first record): a
/// consumer resuming there must skip the batch's earlier records.
fn inside_a_batch(batches: &[(i64, i64)], offset: i64) -> bool {
    batches.iter().any(|(first, last)| *first < offset && offset <= *last)
}

#[test]
fn a_broker_restart_mid_run_loses_nothing_and_the_host_resumes_by_itself_even_mid_batch() {
    let _serial = serial();
    let mut kafka = Kafka::start();
    kafka.create_topic("restarts", 2);
    kafka.create_topic("restarts.dead-letter", 1);
    let (msgs, file) = workload(12_000, 21);
    // Record batches of hundreds of records (a producer lingering 200 ms), consumed in host
    // batches of 50: the host's committed offsets fall inside record batches.
    kafka.produce_with("restarts", &msgs, Codec::None, 200);
    let batches: Vec<Vec<(i64, i64)>> = (0..2).map(|p| kafka.record_batches("restarts", p)).collect();
    assert!(batches.iter().all(|b| b.len() < 200), "records come in batches of many: {:?}", batches.iter().map(Vec::len).collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    // Every batch written before it is committed, so that commits land wherever batches end.
    let config = kafka_embedded_config(dir.path(), &kafka.addr, "restarts", "restarts", 50, 0);
    let args = ["run", "--config", config.to_str().unwrap()];
    let mut host = Host::start(&args, &[]);
    let third = msgs.len() as i64 / 3;
    wait_until("a third consumed", Duration::from_secs(120), || kafka.committed_total("restarts", "restarts", 2) >= third);

    // The broker goes away while the host consumes, and comes back on the same log.
    kafka.kill9();
    std::thread::sleep(Duration::from_secs(3));
    assert!(host.proc.alive(), "the host waits for the broker");
    kafka.restart();
    wait_until("two thirds consumed after the broker came back", Duration::from_secs(120), || {
        kafka.committed_total("restarts", "restarts", 2) >= 2 * third
    });

    // The host dies where its committed offsets are inside record batches, and resumes there.
    let mut resumed_inside = false;
    for _ in 0..50 {
        let committed = kafka.committed_offsets("restarts", "restarts", 2);
        if committed.iter().enumerate().any(|(p, o)| inside_a_batch(&batches[p], *o)) {
            host.proc.kill9();
            let after = kafka.committed_offsets("restarts", "restarts", 2);
            resumed_inside = after.iter().enumerate().any(|(p, o)| inside_a_batch(&batches[p], *o));
            if resumed_inside {
                break;
            }
            host = Host::start(&args, &[]);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(resumed_inside, "the host was killed with a committed offset inside a record batch");
    let host = Host::start(&args, &[]);
    wait_until("the restarted host to catch up", Duration::from_secs(180), || kafka.caught_up("restarts", "restarts", 2));
    drop(host);
    assert_same_profiles(&replayed_profiles(file.path()), &profiles(&config), "after a broker restart and a host restart mid-batch");
}

#[test]
fn topics_compressed_with_every_producer_codec_are_read() {
    let _serial = serial();
    let kafka = Kafka::start();
    kafka.create_topic("codecs", 2);
    kafka.create_topic("codecs.dead-letter", 1);
    let (msgs, file) = workload(2_000, 22);
    // A quarter of the events with each codec; zstd last, so the topic ends in zstd batches.
    let quarter = msgs.len().div_ceil(4);
    for (chunk, codec) in msgs.chunks(quarter).zip([Codec::Gzip, Codec::Snappy, Codec::Lz4, Codec::Zstd]) {
        kafka.produce_with("codecs", chunk, codec, 20);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = kafka_embedded_config(dir.path(), &kafka.addr, "codecs", "codecs", 256, 1000);
    let host = Host::start(&["run", "--config", config.to_str().unwrap()], &[]);
    wait_until("the compressed topic consumed", Duration::from_secs(120), || kafka.caught_up("codecs", "codecs", 2));
    let _ = try_wait_until(Duration::from_secs(10), || host.metric("liveviewer_events_total") as usize >= msgs.len());
    assert_eq!(host.metric("liveviewer_events_total") as usize, msgs.len());
    drop(host);
    assert_same_profiles(&replayed_profiles(file.path()), &profiles(&config), "gzip, snappy, lz4 and zstd");
}

#[test]
fn a_topic_compressed_by_the_broker_with_zstd_is_read() {
    let _serial = serial();
    let kafka = Kafka::start();
    // The topic recompresses whatever it is sent: every batch on disk is zstd.
    kafka.create_topic_with("zstd", 1, &[("compression.type", "zstd")]);
    kafka.create_topic("zstd.dead-letter", 1);
    let (msgs, file) = workload(1_000, 23);
    kafka.produce("zstd", &msgs);
    let dir = tempfile::tempdir().unwrap();
    let config = kafka_embedded_config(dir.path(), &kafka.addr, "zstd", "zstd", 256, 1000);
    let host = Host::start(&["run", "--config", config.to_str().unwrap()], &[]);
    wait_until("the zstd topic consumed", Duration::from_secs(120), || kafka.caught_up("zstd", "zstd", 1));
    drop(host);
    assert_same_profiles(&replayed_profiles(file.path()), &profiles(&config), "a zstd topic");
}
