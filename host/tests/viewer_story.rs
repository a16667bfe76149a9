//! A viewer's story and the lists at scale, from outside: the status history newest first, a
//! page at a time, through the API and `liveviewer history` (from a running host, and from the
//! store once it stopped); the media sessions; lists searched, filtered and paged; what is on
//! now by content; and a push channel that follows named viewers only.

use liveviewer_testkit::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Duration;

/// A media event of `viewer` at `ts` (epoch ms), made from the windows fixture's first event.
fn event(viewer: &str, n: usize, ts: i64, name: &str, label: &str, session: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/windows-events.jsonl")).unwrap();
    let mut e: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let at = liveviewer_wire::time::format_millis(ts);
    let o = e.as_object_mut().unwrap();
    o.remove("unstruct_event_com_snowplowanalytics_snowplow_media_play_event_1");
    o.insert(format!("unstruct_event_com_snowplowanalytics_snowplow_media_{name}_1"), json!({}));
    o.insert("event_name".into(), json!(name));
    o.insert("event_id".into(), json!(format!("00000000-0000-4000-a000-{n:012}")));
    o.insert("domain_userid".into(), json!(viewer));
    for k in ["collector_tstamp", "dvce_created_tstamp", "derived_tstamp"] {
        o.insert(k.into(), json!(at));
    }
    let player = &mut o["contexts_com_snowplowanalytics_snowplow_media_player_2"][0];
    player["paused"] = json!(name == "pause_event");
    player["label"] = json!(label);
    o["contexts_com_snowplowanalytics_snowplow_media_session_1"][0]["mediaSessionId"] = json!(session);
    e
}

fn ingest(host: &Host, events: Vec<Value>) {
    let (status, body) = host.post("/ingest/snowbridge", &Value::Array(events));
    assert_eq!(status, 200, "{body}");
}

fn alone(data: &Path) -> Host {
    Host::start(&["run", "--data-dir", data.to_str().unwrap(), "--listen", "127.0.0.1:0"], &[("LIVEVIEWER__SOURCE__KIND", "none")])
}

fn rows_at(page: &Value) -> Vec<(String, String)> {
    page["rows"].as_array().unwrap().iter().map(|r| (r["at"].as_str().unwrap().to_owned(), r["status"].as_str().unwrap().to_owned())).collect()
}

#[test]
fn a_viewers_history_pages_newest_first_through_the_api_and_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = alone(dir.path());
    let start = now_ms() - 60_000;
    let session = "00000000-0000-4000-8000-00000000aaaa";
    // Twenty-five changes of status, a second apart, and another viewer's.
    let changes: Vec<Value> = (0..25)
        .map(|i| event("story-1", i, start + i as i64 * 1000, if i % 2 == 0 { "play_event" } else { "pause_event" }, "Sintel", session))
        .collect();
    ingest(&host, changes);
    ingest(&host, vec![event("someone-else", 99, start, "play_event", "Sintel", "00000000-0000-4000-8000-00000000bbbb")]);

    let mut pages = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(c) => format!("/api/viewers/story-1/history?limit=10&before={c}"),
            None => "/api/viewers/story-1/history?limit=10".to_owned(),
        };
        let page = host.get(&path);
        assert_eq!(page["viewer_id"], "story-1");
        pages.push(page.clone());
        next = page["next"].as_str().map(str::to_owned);
        if next.is_none() {
            break;
        }
    }
    let sizes: Vec<usize> = pages.iter().map(|p| p["rows"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [10, 10, 5], "three pages");
    let all: Vec<(String, String)> = pages.iter().flat_map(rows_at).collect();
    let expected: Vec<(String, String)> = (0..25)
        .rev()
        .map(|i| {
            let at = liveviewer_wire::time::format_millis(start + i as i64 * 1000);
            (at, if i % 2 == 0 { "WATCHING_VIDEO" } else { "PAUSED_VIDEO" }.to_owned())
        })
        .collect();
    assert_eq!(all, expected, "every change once, newest first, across the pages");
    assert_eq!(pages[0]["rows"][0]["media_label"], "Sintel");
    assert_eq!(pages[0]["rows"][0]["media_session_id"], session);

    // Bounds and bad input.
    assert_eq!(host.get("/api/viewers/story-1/history?limit=5000")["rows"].as_array().unwrap().len(), 25, "at most 200 a page");
    assert_eq!(host.get("/api/viewers/story-1/history?limit=0")["rows"].as_array().unwrap().len(), 1);
    assert!(host.get("/api/viewers/nobody/history")["rows"].as_array().unwrap().is_empty());
    let bad = http_get(&format!("{}api/viewers/story-1/history?before=yesterday", host.url));
    assert!(bad.contains("not a cursor"), "{bad}");

    // The media sessions of the stored profile.
    let sessions = host.get("/api/viewers/story-1/sessions");
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1, "{sessions}");
    assert_eq!(sessions["sessions"][0]["session_id"], session);
    assert_eq!(sessions["sessions"][0]["label"], "Sintel");

    // The CLI, against the running host: the same first page.
    let out = cli(&["history", "story-1", "--limit", "10", "--host", host.url.trim_end_matches('/')], &[]);
    let from_cli: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows_at(&from_cli), rows_at(&pages[0]));
    assert_eq!(from_cli["next"], pages[0]["next"]);

    // Once the host has stopped, from the store itself, and its cursors page the same way.
    host.proc.terminate(Duration::from_secs(30)).expect("the host stops");
    let data = dir.path().to_str().unwrap();
    let first: Value = serde_json::from_str(&cli(&["history", "story-1", "--data-dir", data, "--limit", "20"], &[])).unwrap();
    let cursor = first["next"].as_str().expect("a second page").to_owned();
    let second: Value = serde_json::from_str(&cli(&["history", "story-1", "--data-dir", data, "--before", &cursor], &[])).unwrap();
    let stored: Vec<(String, String)> = rows_at(&first).into_iter().chain(rows_at(&second)).collect();
    assert_eq!(stored, expected);
    assert_eq!(second["next"], Value::Null);
}

#[test]
fn lists_search_filter_and_page_and_the_push_channel_follows_named_viewers() {
    let dir = tempfile::tempdir().unwrap();
    let host = alone(dir.path());
    let t = now_ms() - 30_000;
    let mut events = Vec::new();
    // Twelve viewers arriving a second apart: the first eight watch Sintel, four of them paused.
    for i in 0..12usize {
        let (label, name) = if i < 8 { ("Sintel", if i % 2 == 1 { "pause_event" } else { "play_event" }) } else { ("Spring", "play_event") };
        events.push(event(&format!("Viewer-{i:02}"), i, t + i as i64 * 1000, name, label, &format!("00000000-0000-4000-8000-{i:012}")));
    }
    ingest(&host, events);

    let ids = |v: &Value| v["viewers"].as_array().unwrap().iter().map(|p| p["viewer_id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let page = host.get("/api/viewers?order=arrival&limit=5&offset=5");
    assert_eq!(ids(&page), ["Viewer-05", "Viewer-06", "Viewer-07", "Viewer-08", "Viewer-09"]);
    assert_eq!((page["total"].as_u64(), page["active_count"].as_u64()), (Some(12), Some(12)));
    let page = host.get("/api/viewers?limit=3");
    assert_eq!(ids(&page), ["Viewer-11", "Viewer-10", "Viewer-09"], "newest event first by default");
    let found = host.get("/api/viewers?q=viewer-0&content=Sintel&status=PAUSED_VIDEO&order=arrival");
    assert_eq!(ids(&found), ["Viewer-01", "Viewer-03", "Viewer-05", "Viewer-07"]);
    assert_eq!(found["total"], 4);
    assert!(http_get(&format!("{}api/viewers?order=sideways", host.url)).contains("neither recent nor arrival"));

    let content = host.get("/api/content");
    let rows = content["content"].as_array().unwrap();
    assert_eq!((rows[0]["key"].as_str(), rows[0]["viewers"].as_u64(), rows[0]["paused"].as_u64()), (Some("Sintel"), Some(8), Some(4)));
    assert_eq!((rows[1]["key"].as_str(), rows[1]["watching"].as_u64()), (Some("Spring"), Some(4)));
    assert_eq!(host.get("/api/content?q=spr&limit=1")["content"][0]["key"], "Spring");

    // The push channel: a client naming two viewers gets their profiles at once, then their
    // changes only.
    // HTTP/1.0: the stream comes as it is, without chunks to take apart.
    let addr = host.url.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = lines.clone();
    std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(s, "GET /api/events?viewers=Viewer-01,Viewer-09 HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
        for line in BufReader::new(s).lines().map_while(Result::ok) {
            seen.lock().unwrap().push(line);
        }
    });
    let profiles = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|v| v["viewer_id"].as_str().map(str::to_owned))
            .collect()
    };
    wait_until("the two named viewers' profiles", Duration::from_secs(10), || {
        let mut p = profiles(&lines.lock().unwrap());
        p.sort();
        p == ["Viewer-01", "Viewer-09"]
    });
    ingest(&host, vec![
        event("Viewer-02", 50, t + 20_000, "pause_event", "Sintel", "00000000-0000-4000-8000-000000000002"),
        event("Viewer-09", 51, t + 20_000, "pause_event", "Spring", "00000000-0000-4000-8000-000000000009"),
    ]);
    wait_until("Viewer-09's change", Duration::from_secs(10), || profiles(&lines.lock().unwrap()).len() == 3);
    std::thread::sleep(Duration::from_millis(500));
    let got = profiles(&lines.lock().unwrap());
    assert!(!got.contains(&"Viewer-02".to_owned()), "an unnamed viewer's change was pushed: {got:?}");
    assert_eq!(got.last().map(String::as_str), Some("Viewer-09"));
}
