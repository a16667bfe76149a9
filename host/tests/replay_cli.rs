//! `liveviewer replay` and `liveviewer profiles` as a user runs them: the summary line, the
//! data directory (flag and environment), stdin, both input forms, dead letters with their
//! reasons and origins, and configuration errors that name the key.


use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};
use liveviewer_testkit::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/fixtures/snowplow-micro-media.tsv");
const VIEWER: &str = "143f9cb9-3db9-4e99-8d67-c8aea075d190";

#[test]
fn replay_prints_a_one_line_summary_and_profiles_print_v1() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = cli(&["replay", "--data-dir", data, FIXTURE], &[]);
    assert!(out.starts_with("replayed 73 events: 47 applied, 26 skipped, 0 rejected, 0 dead-lettered in "), "{out}");
    assert_eq!(out.lines().count(), 1);
    // The environment variable names the same directory.
    let profiles: Value = serde_json::from_str(&cli(&["profiles"], &[("LIVEVIEWER_DATA_DIR", data)])).unwrap();
    let p = &profiles[0];
    assert_eq!(p["viewer_id"], VIEWER);
    assert_eq!(p["status"], "PAUSED_VIDEO");
    assert_eq!(p["media"]["current_time"], 67.502404);
    assert_eq!(p["session"]["ads_skipped"], 3);
    let one: Value = serde_json::from_str(&cli(&["profiles", "--data-dir", data, "--viewer", VIEWER], &[])).unwrap();
    assert_eq!(one.as_array().unwrap().len(), 1);
    let none: Value = serde_json::from_str(&cli(&["profiles", "--data-dir", data, "--viewer", "nobody"], &[])).unwrap();
    assert_eq!(none, serde_json::json!([]));
}

#[test]
fn replaying_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    cli(&["replay", "--data-dir", data, FIXTURE], &[]);
    let once = cli(&["profiles", "--data-dir", data], &[("LIVEVIEWER__ACTIVE__CLOCK", "stream")]);
    cli(&["replay", "--data-dir", data, FIXTURE], &[]);
    let twice = cli(&["profiles", "--data-dir", data], &[("LIVEVIEWER__ACTIVE__CLOCK", "stream")]);
    assert_eq!(once, twice);
}

#[test]
fn a_simulated_file_ends_now_so_no_event_is_ahead_of_the_clock() {
    // 20,000 events of 40 viewers span more simulated time than the future guard: started "now",
    // many would lie beyond it.
    let text = cli(&["simulate", "--viewers", "40", "--events", "20000", "--seed", "4", "--ping-interval-s", "5"], &[]);
    // Every timestamp the line carries (collector, device, sent, derived...).
    let stamps: Vec<i64> = text
        .lines()
        .flat_map(|l| l.split('\t').filter_map(liveviewer_wire::time::parse_millis).collect::<Vec<_>>())
        .collect();
    let (first, last) = (*stamps.iter().min().unwrap(), *stamps.iter().max().unwrap());
    let now = liveviewer::live::wall_ms();
    assert!(last <= now, "last event at {last}, after now {now}");
    assert!(now - first > 600_000, "the stream should span more than the 600 s future guard: {first}..{last}");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = cli(&["replay", "--data-dir", dir.path().to_str().unwrap(), file.path().to_str().unwrap()], &[]);
    assert!(out.contains(" 0 rejected, 0 dead-lettered "), "{out}");
}

#[test]
fn a_batch_split_across_module_workers_gives_what_one_worker_gives() {
    // Good, bad and skipped events interleaved, so that results joined out of order would
    // show in the profiles or in which line each dead letter names.
    let fixture = std::fs::read_to_string(FIXTURE).unwrap();
    let mut text = String::new();
    for (i, line) in fixture.lines().enumerate() {
        text.push_str(line);
        text.push('\n');
        if i % 7 == 0 {
            text.push_str(&format!("broken line {i}\n"));
        }
    }
    let sim = cli(&["simulate", "--viewers", "30", "--events", "3000", "--seed", "8"], &[]);
    text.push_str(&sim);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.tsv");
    std::fs::write(&input, &text).unwrap();
    let run = |workers: &str| {
        let data = tempfile::tempdir().unwrap();
        let d = data.path().to_str().unwrap();
        let env = [("LIVEVIEWER__PIPELINE__MODULE_WORKERS", workers), ("LIVEVIEWER__PIPELINE__BATCH_MAX", "1000")];
        let summary = cli(&["replay", "--data-dir", d, input.to_str().unwrap()], &env);
        let profiles = cli(&["profiles", "--data-dir", d], &[("LIVEVIEWER__ACTIVE__CLOCK", "stream")]);
        let letters: Vec<(Value, Value)> = std::fs::read_to_string(data.path().join("dead-letters.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|l| (l["origin"]["file"]["line"].clone(), l["payload"].clone()))
            .collect();
        (summary.split(" in ").next().unwrap().to_owned(), profiles, letters)
    };
    let one = run("1");
    let three = run("3");
    assert!(one.0.contains(" 11 dead-lettered"), "{}", one.0);
    assert_eq!(one, three);
}

#[test]
fn stdin_and_the_json_form_give_the_same_profiles() {
    let case: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/cases/002-fixture-session-json.json")).unwrap(),
    )
    .unwrap();
    let lines: Vec<String> = case["events"].as_array().unwrap().iter().map(|e| e["json"].to_string()).collect();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let mut child = Command::new(bin())
        .args(["replay", "--data-dir", data, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all((lines.join("\n") + "\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("73 events: 47 applied, 26 skipped"));
    let from_json = cli(&["profiles", "--data-dir", data], &[("LIVEVIEWER__ACTIVE__CLOCK", "stream")]);
    let dir2 = tempfile::tempdir().unwrap();
    let data2 = dir2.path().to_str().unwrap();
    cli(&["replay", "--data-dir", data2, FIXTURE], &[]);
    let from_tsv = cli(&["profiles", "--data-dir", data2], &[("LIVEVIEWER__ACTIVE__CLOCK", "stream")]);
    assert_eq!(from_json, from_tsv);
}

#[test]
fn bad_lines_become_dead_letters_with_reason_module_version_and_origin() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let fixture = std::fs::read_to_string(FIXTURE).unwrap();
    let good: Vec<&str> = fixture.lines().collect();
    let input = dir.path().join("mixed.tsv");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(good[3].as_bytes()); // a play event
    bytes.extend_from_slice(b"\nnot an event at all\n");
    bytes.extend_from_slice(&good[4].as_bytes()[..500]); // cut short
    bytes.extend_from_slice(b"\n\xff\xfe\n");
    bytes.extend_from_slice(good[0].as_bytes()); // a page view
    bytes.push(b'\n');
    std::fs::write(&input, bytes).unwrap();
    let out = cli(&["replay", "--data-dir", data, input.to_str().unwrap()], &[]);
    assert!(out.contains("5 events: 1 applied, 1 skipped, 3 rejected, 3 dead-lettered"), "{out}");
    assert!(out.contains("dead-letters.jsonl"), "the summary says where: {out}");
    let letters: Vec<Value> = std::fs::read_to_string(dir.path().join("dead-letters.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 3);
    assert_eq!(letters[0]["origin"]["file"]["line"], 2);
    assert!(letters[0]["reason"].as_str().unwrap().contains("expected 131 tab-separated fields, found 1"));
    assert_eq!(letters[0]["payload"], "not an event at all");
    assert_eq!(letters[0]["kind"], "rejected");
    assert!(letters[0]["module_version"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(letters[1]["origin"]["file"]["line"], 3);
    assert!(letters[2]["reason"].as_str().unwrap().contains("not valid UTF-8"));
    assert_eq!(letters[2]["payload_base64"], "//4=");
}

#[test]
fn configuration_errors_name_the_key_and_stop_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "bad", "[pipeline]\nbatch_maxx = 5\n");
    let out = Command::new(bin()).args(["replay", "--config", config.to_str().unwrap(), FIXTURE]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("batch_maxx"), "{err}");
    let out = Command::new(bin())
        .args(["replay", "--data-dir", dir.path().to_str().unwrap(), FIXTURE])
        .env("LIVEVIEWER__STORE__KIND", "cassandra")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cassandra"));
    assert!(!dir.path().join("profiles.redb").exists(), "nothing ran");
}
