//! The windowed metrics of a fixed event file (host/tests/data/windows-events.jsonl, written by
//! scripts/gen-windows-fixture.py) against the hand calculation in docs/metrics.md ("A worked
//! example"): five viewers over six minutes, with a repeated event, a viewer whose events
//! arrive out of order, late events within the allowance and events past it. Checked on one
//! host restarted in the middle of the file, and on a fleet of two hosts against Apache Kafka
//! and moto, where the host counting a partition is killed with -9 in the middle.

use liveviewer_testkit::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file is cut here for the restart (scripts/gen-windows-fixture.py, SPLIT).
const SPLIT: usize = 18;

fn events() -> Vec<Value> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/windows-events.jsonl")).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// What a window shows, by hand (docs/metrics.md): plays, completions, watch s, buffering s,
/// impressions, ad completions, skips, clicks.
#[derive(Debug, PartialEq)]
struct Expected {
    plays: i64,
    completions: i64,
    watch_s: f64,
    buffering_s: f64,
    impressions: i64,
    ad_completions: i64,
    skips: i64,
    clicks: i64,
}

fn figures_of(w: &Value) -> Expected {
    Expected {
        plays: w["plays_started"].as_i64().unwrap(),
        completions: w["completions"].as_i64().unwrap(),
        watch_s: w["watch_time_s"].as_f64().unwrap(),
        buffering_s: w["buffering_s"].as_f64().unwrap(),
        impressions: w["ad_impressions"].as_i64().unwrap(),
        ad_completions: w["ad_completions"].as_i64().unwrap(),
        skips: w["ad_skips"].as_i64().unwrap(),
        clicks: w["ad_clicks"].as_i64().unwrap(),
    }
}

fn expected(plays: i64, completions: i64, watch_s: f64, buffering_s: f64, ads: [i64; 4]) -> Expected {
    Expected { plays, completions, watch_s, buffering_s, impressions: ads[0], ad_completions: ads[1], skips: ads[2], clicks: ads[3] }
}

/// The figures of the first 18 events, when the newest event is B's ad completion at 10:03:50.
fn before_the_split() -> [(&'static str, Option<&'static str>, Expected); 2] {
    [
        // 5 min = 09:59..10:03: everything so far. A: 150 s; B: 30 + 30 s.
        ("5m", None, expected(2, 1, 210.0, 15.0, [3, 2, 1, 1])),
        ("1h", None, expected(2, 1, 210.0, 15.0, [3, 2, 1, 1])),
    ]
}

/// The figures of the whole file: now is C's end at 10:05:40, so 5 min = 10:01..10:05.
fn after_the_file() -> Vec<(&'static str, Option<&'static str>, Expected)> {
    vec![
        // Plays B (10:02), D (10:03), C (10:04), E (10:05); completions A (10:03), C (10:05);
        // watch 40 + 90 + 75 + 60 + 110 s; B's 15 s of buffering; A's ad at 10:01, B's two.
        ("5m", None, expected(4, 2, 375.0, 15.0, [3, 2, 1, 1])),
        // And A's play at 10:00 with its first 30 s.
        ("1h", None, expected(5, 2, 405.0, 15.0, [3, 2, 1, 1])),
        // Sintel: A (150 s, 120 of them from 10:01), C (100 s), D (25 s).
        ("5m", Some("Sintel"), expected(2, 2, 245.0, 0.0, [1, 1, 0, 0])),
        ("1h", Some("Sintel"), expected(3, 2, 275.0, 0.0, [1, 1, 0, 0])),
        // Big Buck Bunny: B (130 s, 15 s buffering, two ads, a skip, a click), E (a play).
        ("5m", Some("Big Buck Bunny"), expected(2, 0, 130.0, 15.0, [2, 1, 1, 1])),
        ("1h", Some("Big Buck Bunny"), expected(2, 0, 130.0, 15.0, [2, 1, 1, 1])),
    ]
}

/// Every minute of the file (1h, all content): start, plays, completions, watch s, buffering s, impressions.
const MINUTES: [(&str, i64, i64, f64, f64, i64); 6] = [
    ("2026-03-02T10:00:00.000Z", 1, 0, 30.0, 0.0, 0),
    ("2026-03-02T10:01:00.000Z", 0, 0, 40.0, 0.0, 1),
    ("2026-03-02T10:02:00.000Z", 1, 0, 90.0, 15.0, 0),
    ("2026-03-02T10:03:00.000Z", 1, 1, 75.0, 0.0, 2),
    ("2026-03-02T10:04:00.000Z", 1, 0, 60.0, 0.0, 0),
    ("2026-03-02T10:05:00.000Z", 1, 1, 110.0, 0.0, 0),
];

fn window(host: &Host, name: &str, content: Option<&str>) -> Value {
    let path = match content {
        Some(c) => format!("/api/windows?content={}", c.replace(' ', "%20")),
        None => "/api/windows".to_owned(),
    };
    host.get(&path)["windows"][name].clone()
}

/// Waits until the host shows `want` (the figures move every round, 2 s).
fn shows(host: &Host, want: &[(&str, Option<&str>, Expected)], what: &str) {
    let ok = try_wait_until(Duration::from_secs(60), || want.iter().all(|(w, c, e)| figures_of(&window(host, w, *c)) == *e));
    if !ok {
        for (w, c, e) in want {
            assert_eq!(figures_of(&window(host, w, *c)), *e, "{what}: window {w}, content {c:?}");
        }
    }
}

fn late_samples(host: &Host) -> u64 {
    host.get("/api/windows")["partitions"].as_array().unwrap().iter().map(|p| p["late_samples"].as_u64().unwrap()).sum()
}

/// `redelivered`: a host was killed, so its uncommitted events come again; those older than
/// the allowance count as late too (and are not counted again).
fn check_the_whole_file(host: &Host, what: &str, redelivered: bool) {
    shows(host, &after_the_file(), what);
    let all = window(host, "5m", None);
    assert_eq!(all["avg_watch_time_s"], json!(93.75), "{what}: 375 s over 4 plays");
    assert_eq!(all["rebuffering_ratio"], json!(0.038462), "{what}: 15 s of 390");
    assert_eq!((all["ad_completion_rate"].clone(), all["ad_skip_rate"].clone()), (json!(0.666667), json!(0.333333)));
    assert_eq!((all["from"].as_str(), all["to"].as_str()), (Some("2026-03-02T10:01:00.000Z"), Some("2026-03-02T10:06:00.000Z")));
    // Each minute of the series, by event time.
    let series = host.get("/api/windows/series?minutes=6");
    let got: Vec<(String, i64, i64, f64, f64, i64)> = series["minutes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let f = figures_of(m);
            (m["t"].as_str().unwrap().to_owned(), f.plays, f.completions, f.watch_s, f.buffering_s, f.impressions)
        })
        .collect();
    let want: Vec<(String, i64, i64, f64, f64, i64)> = MINUTES.iter().map(|(t, p, c, w, b, i)| (t.to_string(), *p, *c, *w, *b, *i)).collect();
    assert_eq!(got, want, "{what}: the minutes");
    // E's earlier session came 260 s behind: past the 120 s allowance, counted as late (by
    // the next round: the figures do not change with it).
    let late = if redelivered { try_wait_until(Duration::from_secs(10), || late_samples(host) >= 2) } else {
        try_wait_until(Duration::from_secs(10), || late_samples(host) == 2)
    };
    assert!(late, "{what}: {} late samples", late_samples(host));
    let by_content = host.get("/api/windows/content?window=1h&sort=plays_started");
    let keys: Vec<&str> = by_content["content"].as_array().unwrap().iter().map(|c| c["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["Sintel", "Big Buck Bunny"], "{what}: contents by plays");
}

fn ingest(host: &Host, events: &[Value]) {
    let (status, body) = host.post("/ingest/snowbridge", &Value::Array(events.to_vec()));
    assert_eq!(status, 200, "ingest: {body}");
    assert_eq!(body["applied"].as_u64(), Some(events.len() as u64), "every event applies: {body}");
}

fn alone(data: &Path) -> Host {
    let data = data.to_str().unwrap();
    Host::start(
        &["run", "--data-dir", data, "--listen", "127.0.0.1:0"],
        &[("LIVEVIEWER__ACTIVE__CLOCK", "stream"), ("LIVEVIEWER__SOURCE__KIND", "none")],
    )
}

#[test]
fn the_windows_of_a_fixed_file_are_the_hand_calculation_and_a_restart_changes_nothing() {
    let events = events();
    let dir = tempfile::tempdir().unwrap();
    let mut host = alone(dir.path());
    // The events arrive one request each, in the file's order.
    for e in &events[..SPLIT] {
        ingest(&host, std::slice::from_ref(e));
    }
    shows(&host, &before_the_split(), "before the restart");

    // A restart in the middle of the stream: the figures are the same after it...
    host.proc.terminate(Duration::from_secs(30)).expect("the host stops on SIGTERM");
    let host = alone(dir.path());
    shows(&host, &before_the_split(), "right after the restart");
    // ... and the rest of the file continues them (B's session goes on from where it was).
    for e in &events[SPLIT..] {
        ingest(&host, std::slice::from_ref(e));
    }
    check_the_whole_file(&host, "one host, restarted", false);
}

#[test]
fn the_file_in_three_batches_counts_the_same() {
    // The events in three requests, each one batch that the pipeline merges viewer by viewer:
    // each event still counts in its own minute, and only the third request's events (E's
    // earlier session) arrive too late. (Events that arrive together are never late to each
    // other: the whole file in one request would take E's earlier session too.)
    let events = events();
    let dir = tempfile::tempdir().unwrap();
    let host = alone(dir.path());
    ingest(&host, &events[..SPLIT]);
    ingest(&host, &events[SPLIT..27]);
    ingest(&host, &events[27..]);
    check_the_whole_file(&host, "three batches", false);
}

fn fleet_config(dir: &Path, name: &str, kafka: &Kafka, moto: &Moto) -> PathBuf {
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
topic = "watched"
group_id = "windows"
[store]
kind = "dynamodb"
[store.dynamodb]
region = "us-east-1"
endpoint = "{endpoint}"
profiles_table = "windows_profiles"
history_table = "windows_history"
[http]
listen = "127.0.0.1:0"
[active]
clock = "stream"
window_s = 3600
"#,
            data = dir.join(format!("data-{name}")).display(),
            brokers = kafka.addr,
            endpoint = moto.endpoint,
        ),
    )
}

fn owned(host: &Host) -> f64 {
    host.metric("liveviewer_window_partitions_owned")
}

fn produce(kafka: &Kafka, events: &[Value]) {
    // Keyed by viewer, as Snowbridge does: one viewer's events stay in order on one partition.
    let msgs: Vec<(String, Vec<u8>)> =
        events.iter().map(|e| (e["domain_userid"].as_str().unwrap().to_owned(), serde_json::to_vec(e).unwrap())).collect();
    kafka.produce("watched", &msgs);
}

#[test]
fn every_host_of_a_fleet_shows_the_same_windows_and_a_killed_counter_loses_nothing() {
    let _serial = serial();
    let kafka = Kafka::start();
    kafka.create_topic("watched", 2);
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let (ca, cb) = (fleet_config(dir.path(), "a", &kafka, &moto), fleet_config(dir.path(), "b", &kafka, &moto));
    let start = |c: &Path| Host::start(&["run", "--config", c.to_str().unwrap()], &[]);
    let mut a = start(&ca);
    let b = start(&cb);
    wait_until("both hosts count a changelog partition", Duration::from_secs(90), || owned(&a) == 1.0 && owned(&b) == 1.0);

    let events = events();
    produce(&kafka, &events[..SPLIT]);
    shows(&a, &before_the_split(), "host a");
    shows(&b, &before_the_split(), "host b");
    assert_eq!(a.get("/api/windows")["windows"], b.get("/api/windows")["windows"], "the same figures on both hosts");

    // The host counting one of the partitions dies; the other takes it over.
    a.proc.kill9();
    wait_until("host b counts both partitions", Duration::from_secs(90), || owned(&b) == 2.0);
    produce(&kafka, &events[SPLIT..]);
    check_the_whole_file(&b, "host b after a was killed", true);

    // A new host joins and shows the same figures, from the metrics topic.
    let c = start(&ca);
    check_the_whole_file(&c, "a host started afterwards", true);
    assert_eq!(c.get("/api/windows")["windows"], b.get("/api/windows")["windows"]);
    // A viewer's history from DynamoDB pages the same as in one piece, newest first.
    let whole = b.get("/api/viewers/viewer-b/history?limit=6");
    let first = b.get("/api/viewers/viewer-b/history?limit=3");
    let cursor = first["next"].as_str().expect("a second page").to_owned();
    let second = b.get(&format!("/api/viewers/viewer-b/history?limit=3&before={cursor}"));
    let at = |p: &Value| p["rows"].as_array().unwrap().iter().map(|r| r["at"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let paged: Vec<String> = at(&first).into_iter().chain(at(&second)).collect();
    assert_eq!(paged, at(&whole));
    assert!(paged.windows(2).all(|w| w[0] > w[1]), "newest first: {paged:?}");
    let concurrency = b.get("/api/concurrency?minutes=1440");
    assert!(!concurrency["points"].as_array().unwrap().is_empty(), "the owner of partition 0 samples every minute: {concurrency}");
}
