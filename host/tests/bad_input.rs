//! The bad-input corpus (test-vectors/bad-input/) through the real pipeline, by replay and by
//! Kafka: every input gets its documented outcome (applied, skipped, or dead-lettered with its
//! reason), the host stays up, memory stays bounded, and every input is accounted for:
//! applied + skipped + dead-lettered = delivered. Plus 10 000 events for one viewer at once.


use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message as _;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use liveviewer_testkit::*;

struct Item {
    name: String,
    bytes: Vec<u8>,
    outcome: String,
}

fn corpus() -> Vec<Item> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/bad-input");
    let expected: BTreeMap<String, Value> = serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    expected
        .into_iter()
        .map(|(name, e)| {
            let bytes = if name == "30-ten-megabytes.tsv" {
                // A real event padded to 10 MB in a field the logic does not read.
                let play = std::fs::read_to_string(dir.join("01-control-play.tsv")).unwrap();
                let mut f: Vec<String> = play.split('\t').map(str::to_owned).collect();
                f[30] = "x".repeat(10 << 20);
                f.join("\t").into_bytes()
            } else {
                std::fs::read(dir.join(&name)).unwrap()
            };
            Item { name, bytes, outcome: e["outcome"].as_str().unwrap().to_owned() }
        })
        .collect()
}

/// 10 000 events of one viewer (one media session, a ping every second), as TSV lines.
fn one_viewer_flood() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/bad-input");
    let play = std::fs::read_to_string(dir.join("01-control-play.tsv")).unwrap();
    (0..10_000)
        .map(|i| {
            let mut f: Vec<String> = play.split('\t').map(str::to_owned).collect();
            f[6] = format!("00000000-0000-4000-8000-{i:012}");
            let t = liveviewer_wire::time::format_millis(1_731_764_000_000 + i * 1000);
            let t = format!("{} {}", &t[..10], &t[11..23]);
            for idx in [3, 4, 124] {
                f[idx] = t.clone();
            }
            f.join("\t").into_bytes()
        })
        .collect()
}

/// Checks one dead letter (or its absence) against the documented outcome.
fn check(item: &Item, letter: Option<&Value>, applied_or_skipped: bool) {
    match item.outcome.split_once(':') {
        None => {
            assert!(letter.is_none(), "{}: expected {}, got a dead letter {letter:?}", item.name, item.outcome);
            assert!(applied_or_skipped);
        }
        Some(("dead", rest)) => {
            let (kind, reason) = rest.split_once(':').unwrap();
            let letter = letter.unwrap_or_else(|| panic!("{}: expected a dead letter", item.name));
            assert_eq!(letter["kind"], kind, "{}: {letter}", item.name);
            assert!(letter["reason"].as_str().unwrap().contains(reason), "{}: reason {} lacks {reason:?}", item.name, letter["reason"]);
            assert!(letter["module_version"].as_str().unwrap().starts_with("sha256:"));
            let kept = letter["payload_bytes"].as_u64().unwrap() as usize;
            assert_eq!(kept, item.bytes.len(), "{}: the original size is recorded", item.name);
        }
        Some(_) => unreachable!(),
    }
}

fn summary_counts(line: &str) -> [usize; 5] {
    // replayed N events: A applied, S skipped, R rejected, D dead-lettered in T s
    let nums: Vec<usize> = line.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).take(5).map(|s| s.parse().unwrap()).collect();
    [nums[0], nums[1], nums[2], nums[3], nums[4]]
}

#[test]
fn replay_gives_every_bad_input_its_outcome_and_accounts_for_all() {
    let items = corpus();
    // One event per line: an empty message or one with a newline cannot be a line.
    let lines: Vec<&Item> = items.iter().filter(|i| !i.bytes.is_empty() && !i.bytes.contains(&b'\n')).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.tsv");
    let mut text = Vec::new();
    for i in &lines {
        text.extend_from_slice(&i.bytes);
        text.push(b'\n');
    }
    let flood = one_viewer_flood();
    for e in &flood {
        text.extend_from_slice(e);
        text.push(b'\n');
    }
    std::fs::write(&file, text).unwrap();
    let data = dir.path().join("data");
    let out = cli(&["replay", "--data-dir", data.to_str().unwrap(), file.to_str().unwrap()], &[]);
    let [events, applied, skipped, _rejected, dead] = summary_counts(&out);
    assert_eq!(events, lines.len() + flood.len(), "{out}");
    assert_eq!(applied + skipped + dead, events, "every input accounted for: {out}");
    let letters: BTreeMap<u64, Value> = std::fs::read_to_string(data.join("dead-letters.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|l| (l["origin"]["file"]["line"].as_u64().unwrap(), l))
        .collect();
    assert_eq!(letters.len(), dead);
    for (n, item) in lines.iter().enumerate() {
        check(item, letters.get(&(n as u64 + 1)), true);
    }
    let p: Value = serde_json::from_str(&cli(&["profiles", "--data-dir", data.to_str().unwrap()], &[])).unwrap();
    assert!(p.as_array().unwrap().iter().any(|v| v["media"]["label"] == "<img src=x onerror=alert(1)>"), "markup stored as text");
}

#[test]
fn kafka_gives_every_bad_input_its_outcome_the_host_stays_up_and_memory_stays_bounded() {
    let _serial = serial();
    let items = corpus();
    let broker = Kafka::start();
    broker.create_topic("hostile", 1);
    broker.create_topic("hostile.dead-letter", 1);
    let mut msgs: Vec<(String, Vec<u8>)> = items.iter().map(|i| ("k".to_owned(), i.bytes.clone())).collect();
    msgs.extend(one_viewer_flood().into_iter().map(|e| ("flood".to_owned(), e)));
    broker.produce("hostile", &msgs);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "hostile",
        &format!(
            "data_dir = {:?}\n[source]\nkind = \"kafka\"\n[source.kafka]\nbrokers = \"{}\"\ntopic = \"hostile\"\ngroup_id = \"hostile\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("data").display().to_string(),
            broker.addr
        ),
    );
    let mut host = Host::start(&["run", "--config", config.to_str().unwrap()], &[]);
    wait_until("the hostile topic consumed", Duration::from_secs(180), || broker.caught_up("hostile", "hostile", 1));
    assert!(host.proc.alive(), "the host stays up");
    let delivered = msgs.len() as f64;
    let _ = try_wait_until(Duration::from_secs(10), || host.metric("liveviewer_events_total") >= delivered);
    let (events, applied, skipped, dead) = (
        host.metric("liveviewer_events_total"),
        host.metric("liveviewer_applied_total"),
        host.metric("liveviewer_skipped_total"),
        host.metric("liveviewer_dead_letters_total"),
    );
    assert_eq!(events, delivered);
    assert_eq!(applied + skipped + dead, delivered, "applied {applied} + skipped {skipped} + dead-lettered {dead}");
    let rss_kb: u64 = std::fs::read_to_string(format!("/proc/{}/status", host.proc.child.id()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches(" kB").parse().unwrap()))
        .unwrap();
    assert!(rss_kb < 400 << 10, "resident memory {rss_kb} kB after a 10 MB message and 10 000 events of one viewer");

    // Every dead letter, by offset.
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &broker.addr)
        .set("group.id", "reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    c.subscribe(&["hostile.dead-letter"]).unwrap();
    let mut letters: BTreeMap<i64, Value> = BTreeMap::new();
    let start = std::time::Instant::now();
    while letters.len() < dead as usize && start.elapsed() < Duration::from_secs(60) {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(500)) {
            let l: Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
            letters.insert(l["origin"]["kafka"]["offset"].as_i64().unwrap(), l);
        }
    }
    assert_eq!(letters.len(), dead as usize);
    for (offset, item) in items.iter().enumerate() {
        check(item, letters.get(&(offset as i64)), true);
    }
    let flood = host.get("/api/viewers/143f9cb9-3db9-4e99-8d67-c8aea075d190");
    assert_eq!(flood["totals"]["media_sessions"], 1);
}
