//! Dead letters that Kafka will not take (issue 13, item 5), against real Apache Kafka: one
//! bigger than the dead-letter topic accepts, a dead-letter topic that does not exist, and a
//! broker that is down for a while. None of them may stall the host unseen: the first two are
//! permanent (cut to size, or spilled to a bounded local file) and processing goes on; a
//! broker that is down is retried, and readiness says the pipeline is stuck until it is not.

use liveviewer_testkit::*;
use serde_json::Value;
use sha2::Digest;
use std::path::Path;
use std::time::Duration;

const FIXTURE_VIEWER: &str = "143f9cb9-3db9-4e99-8d67-c8aea075d190";

fn config(dir: &Path, broker: &Kafka, topic: &str) -> std::path::PathBuf {
    write_config(
        dir,
        topic,
        &format!(
            "data_dir = {:?}\n[source]\nkind = \"kafka\"\n[source.kafka]\nbrokers = \"{}\"\ntopic = \"{topic}\"\ngroup_id = \"{topic}\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
            dir.join("data").display().to_string(),
            broker.addr
        ),
    )
}

/// The fixture session, keyed by its viewer, after `bad`.
fn messages(bad: Vec<Vec<u8>>) -> Vec<(String, Vec<u8>)> {
    let mut msgs: Vec<(String, Vec<u8>)> = bad.into_iter().map(|b| ("bad".to_owned(), b)).collect();
    msgs.extend(fixture_lines().into_iter().map(|l| (viewer_key(&l), l.into_bytes())));
    msgs
}

fn status(url: &str) -> (u16, Value) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let r = reqwest::get(url).await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    })
}

/// Waits until the group has committed the whole topic; on a timeout, fails saying what
/// readiness answered meanwhile.
fn wait_caught_up(broker: &Kafka, host: &Host, topic: &str, timeout: Duration) {
    if !try_wait_until(timeout, || broker.caught_up(topic, topic, 1)) {
        let (code, body) = status(&format!("{}readyz", host.url));
        let log = host.log_text();
        let tail: Vec<&str> = log.lines().rev().take(8).collect();
        panic!("{topic} not consumed within {timeout:?}; /readyz answered {code} {body}; the log ends: {tail:#?}");
    }
}

#[test]
fn a_dead_letter_bigger_than_the_topic_takes_is_cut_to_size_and_the_host_goes_on() {
    let _serial = serial();
    let broker = Kafka::start();
    broker.create_topic("big", 1);
    // Kafka's own default for a topic (this test broker otherwise allows 16 MiB).
    broker.create_topic_with("big.dead-letter", 1, &[("max.message.bytes", "1048588")]);
    // 300 000 control characters: valid UTF-8, rejected by the module, and six bytes each once
    // escaped in a JSON letter: 1.8 MB, more than Kafka takes.
    let bad = "\u{1}".repeat(300_000).into_bytes();
    let msgs = messages(vec![bad.clone()]);
    broker.produce("big", &msgs);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &broker, "big");
    let host = Host::start(&["run", "--config", cfg.to_str().unwrap()], &[]);
    wait_caught_up(&broker, &host, "big", Duration::from_secs(90));
    assert_eq!(host.get(&format!("/api/viewers/{FIXTURE_VIEWER}"))["viewer_id"], FIXTURE_VIEWER);
    let letters = broker.read_all("big.dead-letter");
    assert_eq!(letters.len(), 1, "one dead letter");
    assert!(letters[0].payload.len() <= 512 << 10, "the letter is {} bytes", letters[0].payload.len());
    let letter: Value = serde_json::from_slice(&letters[0].payload).unwrap();
    assert_eq!(letter["kind"], "rejected");
    assert_eq!(letter["origin"]["kafka"]["offset"], 0);
    assert_eq!(letter["payload_truncated"], true);
    assert_eq!(letter["payload_bytes"], 300_000);
    assert_eq!(letter["payload_sha256"], hex::encode(sha2::Sha256::digest(&bad)));
    let kept = letter["payload"].as_str().unwrap();
    assert!(!kept.is_empty() && bad.starts_with(kept.as_bytes()), "what is kept is the start of the payload");
    assert_eq!(status(&format!("{}readyz", host.url)).0, 200);
}

#[test]
fn a_missing_dead_letter_topic_spills_to_a_local_file_and_the_host_goes_on() {
    let _serial = serial();
    let broker = Kafka::start();
    broker.create_topic("orphan", 1);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &broker, "orphan");
    let host = Host::start(&["run", "--config", cfg.to_str().unwrap()], &[]);
    // The host made its dead-letter topic at start; it goes away under it (an operator's
    // mistake), and this broker does not create topics on use.
    broker.delete_topic("orphan.dead-letter");
    let bad: Vec<Vec<u8>> = (0..3).map(|i| format!("not an event {i}").into_bytes()).collect();
    broker.produce("orphan", &messages(bad));
    wait_caught_up(&broker, &host, "orphan", Duration::from_secs(120));
    assert_eq!(host.get(&format!("/api/viewers/{FIXTURE_VIEWER}"))["viewer_id"], FIXTURE_VIEWER);
    let spill = dir.path().join("data/dead-letters.jsonl");
    let letters: Vec<Value> = std::fs::read_to_string(&spill)
        .unwrap_or_else(|e| panic!("{}: {e}", spill.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 3);
    for (i, l) in letters.iter().enumerate() {
        assert_eq!(l["origin"]["kafka"]["offset"], i as u64);
        assert_eq!(l["payload"], format!("not an event {i}"));
        let why = l["spilled"].as_str().unwrap();
        assert!(why.contains("orphan.dead-letter"), "the letter says why it is here: {why}");
    }
    assert_eq!(host.metric("liveviewer_dead_letters_spilled_total"), 3.0);
    // Still ready (nothing is stuck), and readiness says where the dead letters go.
    let (code, body) = status(&format!("{}readyz", host.url));
    assert_eq!(code, 200, "{body}");
    assert!(body["dead_letters"].as_str().unwrap().contains("spill"), "{body}");
}

#[test]
fn readiness_says_the_pipeline_is_stuck_while_dead_letters_cannot_be_written() {
    let _serial = serial();
    let mut broker = Kafka::start();
    broker.create_topic("stuck", 1);
    broker.create_topic("stuck.dead-letter", 1);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &broker, "stuck");
    let host = Host::start(&["run", "--config", cfg.to_str().unwrap()], &[("LIVEVIEWER__PIPELINE__STUCK_AFTER_S", "5")]);
    // The source comes up a moment after the HTTP port.
    wait_until("/readyz to be ready", Duration::from_secs(30), || status(&format!("{}readyz", host.url)).0 == 200);
    // Kafka goes away; then an event comes that can only be dead-lettered. The host keeps
    // trying to write its letter (Kafka may come back), and readiness must say so.
    broker.kill9();
    let url = format!("{}ingest/snowbridge", host.url);
    let posted = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let r = reqwest::Client::new().post(url).body(r#"["not an event"]"#).send().await.unwrap();
            let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            (r.status().as_u16(), retry_after, r.text().await.unwrap())
        })
    });
    wait_until("/readyz to say the pipeline is stuck", Duration::from_secs(30), || status(&format!("{}readyz", host.url)).0 == 503);
    let (_, body) = status(&format!("{}readyz", host.url));
    assert_eq!(body["ready"], false, "{body}");
    assert_eq!(body["pipeline"], false, "{body}");
    let stuck = body["stuck"].as_str().unwrap_or_else(|| panic!("{body}"));
    assert!(stuck.starts_with("dead-letter write"), "readiness names what is stuck: {stuck}");
    assert_eq!(status(&format!("{}healthz", host.url)).0, 200, "alive all the same");
    assert!(!posted.is_finished(), "the request is not answered before its letter is durable");

    // The request is not held past the ingest wait: it is answered 503 with Retry-After (the
    // client's retry would repeat it harmlessly), while the batch goes on trying in its task.
    let (code, retry_after, answer) = posted.join().unwrap();
    assert_eq!(code, 503, "{answer}");
    assert!(retry_after.is_some(), "{answer}");
    assert!(answer.contains("dead-letter target"), "{answer}");
    // Kafka is back: the letter goes out, the host is ready again.
    broker.restart();
    wait_until("/readyz to be ready again", Duration::from_secs(30), || status(&format!("{}readyz", host.url)).0 == 200);
    let letters = broker.read_all("stuck.dead-letter");
    assert_eq!(letters.len(), 1);
    let letter: Value = serde_json::from_slice(&letters[0].payload).unwrap();
    assert_eq!(letter["payload"], "not an event");
}
