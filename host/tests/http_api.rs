//! The HTTP API of a running host (`liveviewer demo --viewers 0`, port 0): Snowbridge's HTTP
//! target, the viewers endpoints and their filters, the push channel, stats, health, metrics,
//! and what is refused.


use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use liveviewer_testkit::*;

const VIEWER: &str = "143f9cb9-3db9-4e99-8d67-c8aea075d190";

fn fixture_json_events() -> Vec<Value> {
    let case: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/cases/002-fixture-session-json.json")).unwrap(),
    )
    .unwrap();
    case["events"].as_array().unwrap().iter().map(|e| e["json"].clone()).collect()
}

fn status_of(url: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async { reqwest::get(url).await.unwrap().status().as_u16() })
}

fn demo(dir: &tempfile::TempDir, extra: &[(&str, &str)]) -> Host {
    Host::start(
        &["demo", "--listen", "127.0.0.1:0", "--viewers", "0", "--data-dir", dir.path().to_str().unwrap()],
        extra,
    )
}

#[test]
fn snowbridge_ingest_then_the_viewers_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let host = demo(&dir, &[]);
    let events = fixture_json_events();
    let body = serde_json::to_vec(&events).unwrap();
    let (status, answer) = post_json(&format!("{}ingest/snowbridge", host.url), body, None);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"accepted": 73, "applied": 47, "skipped": 26, "rejected": 0, "dead_lettered": 0}));

    // The recorded session ended in 2024: not active now, but there with all=true.
    let active = host.get("/api/viewers");
    assert_eq!(active["active_count"], 0);
    let all = host.get("/api/viewers?all=true");
    assert_eq!(all["total"], 1);
    assert_eq!(all["active_window_s"], 90);
    assert_eq!(all["status_counts"], json!({"PAUSED_VIDEO": 1}));
    assert_eq!(all["ad_summary"], json!({"ads": 6, "ads_completed": 3, "ads_skipped": 3, "ads_clicked": 1}));
    let p = &all["viewers"][0];
    assert_eq!(p["viewer_id"], VIEWER);
    assert_eq!(p["status"], "PAUSED_VIDEO");
    assert_eq!(p["active"], false);
    assert_eq!(host.get(&format!("/api/viewers/{VIEWER}")), *p);
    assert_eq!(host.get("/api/viewers?all=true&status=WATCHING_AD")["total"], 0);
    assert_eq!(host.get("/api/viewers?all=true&status=WATCHING_AD&status=PAUSED_VIDEO")["total"], 1);
    assert_eq!(status_of(&format!("{}api/viewers/nobody", host.url)), 404);
    assert_eq!(host.get("/api/viewers/nobody")["error"], "no viewer \"nobody\"");
    assert_eq!(status_of(&format!("{}api/viewers?limit=abc", host.url)), 400);

    let stats = host.get("/api/stats");
    assert_eq!(stats["counters"]["events"], 73);
    assert_eq!(stats["counters"]["applied"], 47);
    assert_eq!(stats["store"], "embedded");
    assert!(stats["module"]["version"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(status_of(&format!("{}healthz", host.url)), 200);
    assert_eq!(status_of(&format!("{}readyz", host.url)), 200);
    assert!(host.metric("liveviewer_applied_total") >= 47.0);
}

#[test]
fn live_events_are_pushed_and_counted_active() {
    let dir = tempfile::tempdir().unwrap();
    let host = demo(&dir, &[]);
    let addr = host.url.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET /api/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    while !line.starts_with("event: hello") {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    // One event now: a viewer starts watching.
    let now = liveviewer_wire::time::format_millis(liveviewer::live::wall_ms());
    let play = json!({
        "event_id": "11111111-1111-4111-8111-111111111111", "event": "unstruct", "domain_userid": "live-viewer",
        "derived_tstamp": now, "collector_tstamp": now,
        "event_vendor": "com.snowplowanalytics.snowplow.media", "event_name": "play_event",
        "unstruct_event_com_snowplowanalytics_snowplow_media_play_event_1": {},
        "contexts_com_snowplowanalytics_snowplow_media_player_2": [{"currentTime": 3, "paused": false, "ended": false, "label": "<img src=x onerror=alert(1)>"}],
        "contexts_com_snowplowanalytics_snowplow_media_session_1": [{"mediaSessionId": "s-live"}]
    });
    let (status, _) = post_json(&format!("{}ingest/snowbridge", host.url), serde_json::to_vec(&json!([play])).unwrap(), None);
    assert_eq!(status, 200);
    let mut pushed = None;
    for _ in 0..200 {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.starts_with("event: profile") {
            line.clear();
            reader.read_line(&mut line).unwrap();
            pushed = Some(serde_json::from_str::<Value>(line.trim_start_matches("data: ").trim()).unwrap());
            break;
        }
    }
    let pushed = pushed.expect("a profile event on the push channel");
    assert_eq!(pushed["viewer_id"], "live-viewer");
    assert_eq!(pushed["status"], "WATCHING_VIDEO");
    assert_eq!(pushed["media"]["label"], "<img src=x onerror=alert(1)>", "tracker strings travel as data");
    let active = host.get("/api/viewers");
    assert_eq!(active["active_count"], 1);
    assert_eq!(active["viewers"][0]["viewer_id"], "live-viewer");
}

#[test]
fn what_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let token = "ingest-token-0123456789";
    let host = demo(&dir, &[("LIVEVIEWER__HTTP__INGEST_TOKEN", token), ("LIVEVIEWER__HTTP__MAX_BODY_BYTES", "65536")]);
    let ingest = format!("{}ingest/snowbridge", host.url);
    assert_eq!(post_json(&ingest, b"[]".to_vec(), None).0, 401, "no token");
    assert_eq!(post_json(&ingest, b"[]".to_vec(), Some("wrong-token-0123456789")).0, 401);
    assert_eq!(post_json(&ingest, b"[]".to_vec(), Some(token)).0, 200);
    assert_eq!(post_json(&ingest, b"{\"not\": \"an array\"}".to_vec(), Some(token)).0, 400);
    assert_eq!(post_json(&ingest, b"[1, 2]".to_vec(), Some(token)).0, 400);
    assert_eq!(post_json(&ingest, vec![b' '; 70_000], Some(token)).0, 413, "over the body limit");
    // Admin endpoints are off without an admin token.
    assert_eq!(status_of(&format!("{}admin/module", host.url)), 404);
    // Unknown paths and files are 404, and no path escapes the dashboard's own files.
    assert_eq!(status_of(&format!("{}nope.js", host.url)), 404);
    let addr = host.url.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(s, "GET /..%2f..%2fCargo.toml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}

/// A viewer idle for `pipeline.pack_idle_after_ms` is held packed (its profile encoded in the
/// working set, its JSON compressed in the live view): it reads the same, and the events that
/// follow merge onto it as onto a profile never packed.
#[test]
fn idle_viewers_are_held_packed_and_read_and_merge_the_same() {
    let events = fixture_json_events();
    let (first, rest) = events.split_at(events.len() / 2);
    let (dir_packing, dir_never) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let packing = demo(&dir_packing, &[("LIVEVIEWER__PIPELINE__PACK_IDLE_AFTER_MS", "20")]);
    let never = demo(&dir_never, &[("LIVEVIEWER__PIPELINE__PACK_IDLE_AFTER_MS", "0")]);
    let profile = |host: &Host| host.get(&format!("/api/viewers/{VIEWER}"));
    let wait_packed = |host: &Host| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while host.metric("liveviewer_packed_profiles") < 1.0 || host.metric("liveviewer_live_packed_viewers") < 1.0 {
            assert!(std::time::Instant::now() < deadline, "the idle viewer was not packed");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    for host in [&packing, &never] {
        let (status, answer) = post_json(&format!("{}ingest/snowbridge", host.url), serde_json::to_vec(first).unwrap(), None);
        assert_eq!(status, 200, "{answer}");
    }
    wait_packed(&packing);
    assert_eq!(profile(&packing), profile(&never), "read the same packed");
    assert_eq!(host_list(&packing), host_list(&never));
    for host in [&packing, &never] {
        let (status, answer) = post_json(&format!("{}ingest/snowbridge", host.url), serde_json::to_vec(rest).unwrap(), None);
        assert_eq!(status, 200, "{answer}");
    }
    let after = profile(&packing);
    assert_eq!(after, profile(&never), "merged onto the packed profile as onto the tree");
    assert_eq!(after["status"], "PAUSED_VIDEO", "the whole session");
    wait_packed(&packing);
    assert_eq!(profile(&packing), after);
    assert_eq!(never.metric("liveviewer_packed_profiles") + never.metric("liveviewer_live_packed_viewers"), 0.0, "0: never packed");
}

/// The list, but for when it was made.
fn host_list(host: &Host) -> Value {
    let mut list = host.get("/api/viewers?all=true");
    list.as_object_mut().unwrap().remove("generated_at");
    list
}
