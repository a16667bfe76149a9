//! What the host does when the world under it is not what it left: a stored profile it cannot
//! read, a topic re-created with its offsets starting again, a store that turns it away for
//! good. Each has a defined outcome, and none loses or double-counts the rest.

use liveviewer::store::EmbeddedStore;
use liveviewer_testkit::*;
use serde_json::Value;
use std::time::Duration;

fn dead_letters(data: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(data.join("dead-letters.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn an_unreadable_stored_profile_dead_letters_its_viewers_events_and_nothing_else() {
    let (msgs, file) = workload(600, 81);
    // A simulated viewer with several events (the last line is one of the simulator's).
    let victim = msgs.last().unwrap().0.clone();
    // How many of the viewer's events a clean run applies (the others are skipped).
    let victims = events_file(&msgs.iter().filter(|(k, _)| *k == victim).cloned().collect::<Vec<_>>());
    let scratch = tempfile::tempdir().unwrap();
    let summary = cli(&["replay", "--data-dir", scratch.path().to_str().unwrap(), victims.path().to_str().unwrap()], &[]);
    let victims_events: usize = summary.split(": ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{summary}"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        // An item the host cannot decode (a foreign writer, a bug, bit rot).
        let store = EmbeddedStore::open(&data).unwrap();
        store.put_raw(&victim, &[7, 0, 0, 0, 0, 0, 0, 0, 99, 1, 2, 3]).unwrap();
    }
    let out = cli_output(&["replay", "--data-dir", data.to_str().unwrap(), file.path().to_str().unwrap()], &[]);
    assert!(out.status.success(), "the replay goes on: {}", String::from_utf8_lossy(&out.stderr));
    let letters: Vec<Value> = dead_letters(&data).into_iter().filter(|l| l["reason"].as_str().unwrap_or("").contains("cannot be read")).collect();
    assert!(victims_events > 3, "{summary}");
    assert_eq!(letters.len(), victims_events, "every event of that viewer it would have applied, and only those");
    assert!(letters.iter().all(|l| l["reason"].as_str().unwrap().contains(&format!("{victim:?}"))), "the letter names the item's key");
    // Everyone else is as a replay without the damage.
    let stored: Value = serde_json::from_str(&cli(&["profiles", "--data-dir", data.to_str().unwrap()], &[("LIVEVIEWER__ACTIVE__CLOCK", "stream")])).unwrap();
    let expected = replayed_profiles(file.path());
    let others = |v: &Value| -> Vec<Value> { v.as_array().unwrap().iter().filter(|p| p["viewer_id"] != victim.as_str()).cloned().collect() };
    assert_eq!(others(&stored), others(&expected));
    // The operator's repair: drop the item, replay the viewer's dead-lettered events.
    let deleted = cli(&["profiles", "--data-dir", data.to_str().unwrap(), "--delete", &victim], &[]);
    assert!(deleted.contains("deleted"), "{deleted}");
    cli(&["replay", "--data-dir", data.to_str().unwrap(), victims.path().to_str().unwrap()], &[]);
    let stored: Value = serde_json::from_str(&cli(&["profiles", "--data-dir", data.to_str().unwrap(), "--viewer", &victim], &[("LIVEVIEWER__ACTIVE__CLOCK", "stream")])).unwrap();
    // `active` is relative to the newest event each command saw: left out of the comparison.
    let victim_only = |v: &Value| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|p| p["viewer_id"] == victim.as_str())
            .map(|p| {
                let mut p = p.clone();
                p.as_object_mut().unwrap().remove("active");
                p
            })
            .collect()
    };
    assert_eq!(victim_only(&stored).len(), 1);
    assert_eq!(victim_only(&stored), victim_only(&expected), "rebuilt from its events");
}

#[test]
fn a_recreated_topic_starts_a_new_log_whose_events_are_not_taken_for_redeliveries() {
    let _serial = serial();
    let kafka = Kafka::start();
    kafka.create_topic("reborn", 1);
    let (msgs, _) = workload(1_200, 82);
    let (before, after) = msgs.split_at(msgs.len() / 2);
    kafka.produce("reborn", before);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "reborn",
        &format!(
            "data_dir = {:?}\n[source]\nkind = \"kafka\"\n[source.kafka]\nbrokers = \"{}\"\ntopic = \"reborn\"\ngroup_id = \"reborn\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("data").display().to_string(),
            kafka.addr
        ),
    );
    let mut host = Host::start(&["run", "--config", config.to_str().unwrap()], &[]);
    wait_until("the first half consumed", Duration::from_secs(120), || kafka.caught_up("reborn", "reborn", 1));
    assert!(host.proc.terminate(Duration::from_secs(30)).is_some_and(|s| s.success()));
    // The topic is deleted and made again: its offsets start at 0, below every watermark the
    // profiles keep, and the group's offsets are gone with it.
    kafka.delete_topic("reborn");
    kafka.create_topic("reborn", 1);
    kafka.produce("reborn", after);
    let host = Host::start(&["run", "--config", config.to_str().unwrap()], &[]);
    wait_until("the second half consumed", Duration::from_secs(120), || kafka.caught_up("reborn", "reborn", 1));
    let _ = try_wait_until(Duration::from_secs(10), || host.metric("liveviewer_events_total") as usize >= after.len());
    assert_eq!(host.metric("liveviewer_duplicates_total"), 0.0, "no event of the new log taken for a redelivery");
    assert!(host.metric("liveviewer_new_log_events_total") > 0.0, "the new log was noticed");
    drop(host);
    let file = events_file(&msgs);
    assert_same_profiles(&replayed_profiles(file.path()), &profiles(&config), "both logs, each event once");
}

#[test]
fn a_store_that_turns_the_host_away_for_good_stops_it_with_a_failure_status() {
    let _serial = serial();
    let kafka = Kafka::start();
    kafka.create_topic("doomed", 2);
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "doomed",
        &format!(
            "data_dir = {:?}\n[source]\nkind = \"kafka\"\n[source.kafka]\nbrokers = \"{}\"\ntopic = \"doomed\"\ngroup_id = \"doomed\"\n\
             [store]\nkind = \"dynamodb\"\nflush_interval_ms = 200\n[store.dynamodb]\nregion = \"us-east-1\"\nendpoint = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("data").display().to_string(),
            kafka.addr,
            moto.endpoint
        ),
    );
    let (msgs, _) = workload(600, 83);
    let (first, rest) = msgs.split_at(msgs.len() / 2);
    kafka.produce("doomed", first);
    let mut host = Host::start(&["run", "--config", config.to_str().unwrap()], &[]);
    wait_until("the first half consumed", Duration::from_secs(120), || kafka.caught_up("doomed", "doomed", 2));
    let committed = kafka.committed_total("doomed", "doomed", 2);
    // The tables vanish (deleted by mistake): a store that cannot work as configured.
    moto.reset();
    kafka.produce("doomed", rest);
    let status = host.proc.wait(Duration::from_secs(60)).expect("the host stops by itself");
    assert!(!status.success(), "a failure, not a clean stop, so that a supervisor restarts it: {status:?}");
    assert!(host.log_text().contains("store misconfigured"), "the log says why");
    assert_eq!(kafka.committed_total("doomed", "doomed", 2), committed, "nothing committed past the failure");
}
