//! `POST /ingest/snowbridge` against requests built to amplify (issue 13, item 1): a small body
//! of many empty events must not become gigabytes of memory and dead letters. Every request
//! gets a bounded, clear answer: 401 before its body is read, 413 past the events-per-request
//! limit, and a request at the limit is processed in batches of `pipeline.batch_max`. The
//! dead-letter file of embedded mode is bounded and rotated.

use liveviewer_testkit::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

fn demo(dir: &Path, env: &[(&str, &str)]) -> Host {
    Host::start(&["demo", "--listen", "127.0.0.1:0", "--viewers", "0", "--data-dir", dir.to_str().unwrap()], env)
}

/// A JSON array of `n` empty strings: 3 bytes an event, and each one a dead letter.
fn empty_events(n: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(n * 3 + 2);
    body.push(b'[');
    for i in 0..n {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"\"\"");
    }
    body.push(b']');
    body
}

/// The peak resident memory of a process so far (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().trim_end_matches(" kB").parse::<u64>().unwrap()))
        .unwrap()
        * 1024
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

/// Writes a request head (and maybe part of a body) and reads what comes back within `wait`.
fn raw(url: &str, request: &str, wait: Duration) -> String {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // The head and a small JSON body arrive together; stop at the first complete answer.
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.windows(4).any(|w| w == b"\r\n\r\n") && out.ends_with(b"}") {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn two_hundred_thousand_empty_events_are_refused_whole_at_no_cost() {
    let dir = tempfile::tempdir().unwrap();
    let host = demo(dir.path(), &[]);
    let letters = dir.path().join("dead-letters.jsonl");
    let peak_before = peak_rss(host.proc.pid());
    // 600 KB: far below the 16 MiB body limit, and before the fix 200 000 dead letters.
    let body = empty_events(200_000);
    let started = Instant::now();
    let (status, answer) = post_json(&format!("{}ingest/snowbridge", host.url), body, None);
    let took = started.elapsed();
    let peak_growth = peak_rss(host.proc.pid()).saturating_sub(peak_before);
    let grown = file_len(&letters);
    eprintln!("answer {status} in {took:?}; peak memory grew {} MB; dead-letter file {grown} bytes", peak_growth >> 20);
    assert_eq!(status, 413, "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(message.contains("10000"), "the answer names the limit: {message}");
    assert_eq!(grown, 0, "nothing was dead-lettered: the request was refused whole");
    assert!(peak_growth < 32 << 20, "peak memory grew {peak_growth} bytes for a 600 KB request");
    assert_eq!(host.metric("liveviewer_events_total"), 0.0);
}

#[test]
fn a_request_at_the_limit_is_processed_in_batches_of_the_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let host = demo(dir.path(), &[]);
    let (status, answer) = post_json(&format!("{}ingest/snowbridge", host.url), empty_events(10_000), None);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 10_000);
    assert_eq!(answer["dead_lettered"], 10_000, "an empty event is rejected by the module: {answer}");
    // pipeline.batch_max is 512: 10 000 events are 20 batches, not one of 10 000.
    assert_eq!(host.metric("liveviewer_batches_total"), 20.0);
    let lines = std::fs::read_to_string(dir.path().join("dead-letters.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 10_000, "every event accounted for");
    // One more than the limit is refused whole.
    let (status, answer) = post_json(&format!("{}ingest/snowbridge", host.url), empty_events(10_001), None);
    assert_eq!(status, 413, "{answer}");
}

#[test]
fn the_ingest_token_is_checked_before_the_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let token = "ingest-token-0123456789";
    let host = demo(dir.path(), &[("LIVEVIEWER__HTTP__INGEST_TOKEN", token)]);
    // A head announcing 16 MB, and no body: the answer must not wait for it.
    let head = |auth: &str| {
        format!("POST /ingest/snowbridge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 16000000\r\n{auth}\r\n")
    };
    for auth in ["", "Authorization: Bearer wrong-token-0123456789\r\n"] {
        let started = Instant::now();
        let answer = raw(&host.url, &head(auth), Duration::from_secs(5));
        assert!(answer.starts_with("HTTP/1.1 401"), "{auth:?}: {answer:?} after {:?}", started.elapsed());
        assert!(started.elapsed() < Duration::from_secs(3), "answered at once");
    }
    // The right token, and more than http.max_body_bytes announced: 413 without reading it.
    let auth = format!("Authorization: Bearer {token}\r\n");
    let head = format!(
        "POST /ingest/snowbridge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99000000\r\n{auth}\r\n"
    );
    let answer = raw(&host.url, &head, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
}

#[test]
fn the_dead_letter_file_is_bounded_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let host = demo(
        dir.path(),
        &[
            ("LIVEVIEWER__DEAD_LETTERS__MAX_FILE_BYTES", "65536"),
            ("LIVEVIEWER__DEAD_LETTERS__MAX_LETTER_BYTES", "65536"),
            ("LIVEVIEWER__DEAD_LETTERS__KEEP_FILES", "2"),
        ],
    );
    // 10 requests of 1000 dead letters, about 2.4 MB of letters: far more than three files hold.
    for _ in 0..10 {
        let (status, answer) = post_json(&format!("{}ingest/snowbridge", host.url), empty_events(1000), None);
        assert_eq!(status, 200, "{answer}");
    }
    let current = dir.path().join("dead-letters.jsonl");
    let rotated: Vec<_> = (1..=2).map(|i| dir.path().join(format!("dead-letters.{i}.jsonl"))).collect();
    for f in std::iter::once(&current).chain(&rotated) {
        let len = file_len(f);
        assert!(len > 0 && len <= 65536, "{}: {len} bytes", f.display());
        for line in std::fs::read_to_string(f).unwrap().lines() {
            let letter: Value = serde_json::from_str(line).unwrap();
            assert_eq!(letter["kind"], "rejected");
        }
    }
    assert!(!dir.path().join("dead-letters.3.jsonl").exists(), "only keep_files rotated files are kept");
    // The newest letter is in the current file.
    let last: Value = serde_json::from_str(std::fs::read_to_string(&current).unwrap().lines().last().unwrap()).unwrap();
    assert_eq!(last["origin"]["http"]["index"], 999);
    assert!(host.metric("liveviewer_dead_letter_files_rotated_total") >= 30.0);
}
