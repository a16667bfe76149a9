//! Many hosts, one picture, against Apache Kafka and a DynamoDB-API server: three hosts in one
//! consumer group take one module pushed to one of them; each event is applied once, by one
//! version; any host (and a browser on it) shows every viewer, live, whichever host processed
//! them; a host killed with -9 loses nothing; a fourth host with no data directory joins with
//! the fleet's module and the whole picture; and no request path ever scans the table.

use liveviewer_testkit::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "fleet-admin-token-0123456789";
const TOPIC: &str = "watching";
const PARTITIONS: i32 = 6;

fn config(dir: &Path, name: &str, kafka: &Kafka, moto: &Moto) -> PathBuf {
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
topic = "{TOPIC}"
group_id = "fleet"
instance_id = "{name}"
[store]
kind = "dynamodb"
[store.dynamodb]
region = "us-east-1"
endpoint = "{endpoint}"
profiles_table = "fleet_profiles"
history_table = "fleet_history"
[pipeline]
batch_max = 256
retry_max_ms = 1000
[http]
listen = "127.0.0.1:0"
admin_token = "{TOKEN}"
[active]
window_s = 3600
"#,
            data = dir.join(format!("data-{name}")).display(),
            brokers = kafka.addr,
            endpoint = moto.endpoint,
        ),
    )
}

fn start(config: &Path) -> Host {
    Host::start(&["run", "--config", config.to_str().unwrap()], &[])
}

fn fleet(host: &Host) -> Value {
    admin(host, "GET", "/admin/fleet", Vec::new(), TOKEN).1
}

fn active_version(host: &Host) -> String {
    admin(host, "GET", "/admin/module", Vec::new(), TOKEN).1["active"]["version"].as_str().unwrap().to_owned()
}

fn viewer_ids(host: &Host) -> BTreeSet<String> {
    let v = host.get("/api/viewers?all=true&limit=1000");
    v["viewers"].as_array().unwrap().iter().map(|p| p["viewer_id"].as_str().unwrap().to_owned()).collect()
}

fn replay_ids(expected: &Value) -> BTreeSet<String> {
    expected.as_array().unwrap().iter().map(|p| p["viewer_id"].as_str().unwrap().to_owned()).collect()
}

/// The built-in module with a custom section appended: the same logic, another version.
fn variant(tag: &str) -> Vec<u8> {
    let name = format!("liveviewer-fleet-{tag}");
    let mut body = vec![name.len() as u8];
    body.extend(name.as_bytes());
    let mut out = liveviewer::module::BUILTIN_WASM.to_vec();
    out.push(0);
    out.push(body.len() as u8);
    out.extend(body);
    out
}

#[test]
fn a_fleet_of_hosts_shares_one_module_one_picture_and_loses_nothing() {
    let _serial = serial();
    let kafka = Kafka::start();
    kafka.create_topic(TOPIC, PARTITIONS);
    let moto = Moto::start();
    moto.start_recording();
    let dir = tempfile::tempdir().unwrap();
    let configs: Vec<PathBuf> = ["a", "b", "c", "d"].iter().map(|n| config(dir.path(), n, &kafka, &moto)).collect();
    let a = start(&configs[0]);
    let b = start(&configs[1]);
    let mut c = start(&configs[2]);
    wait_until("three hosts in the fleet, each with partitions", Duration::from_secs(90), || {
        let f = fleet(&a);
        let hosts = f["hosts"].as_array().cloned().unwrap_or_default();
        hosts.len() == 3 && hosts.iter().all(|h| !h["partitions"].as_array().unwrap().is_empty())
    });
    let builtin = active_version(&a);

    let (msgs, _) = workload(4_500, 51);
    let (first, rest) = msgs.split_at(msgs.len() / 3);
    let (second, third) = rest.split_at(rest.len() / 2);
    kafka.produce(TOPIC, first);

    // One push, to one host: every host gates it and swaps.
    let module = variant("b");
    let (status, answer) = admin(&a, "PUT", "/admin/module", module.clone(), TOKEN);
    assert_eq!(status, 200, "{answer}");
    let pushed = liveviewer::module::ModuleVersion::of_bytes(&module).0;
    let started = Instant::now();
    wait_until("all three hosts on the pushed module", Duration::from_secs(60), || {
        let f = fleet(&b);
        f["converged"] == true && f["hosts"].as_array().unwrap().iter().filter(|h| h["module"]["active"] == pushed.as_str()).count() == 3
    });
    let rollout = started.elapsed();
    for h in [&a, &b, &c] {
        assert_eq!(active_version(h), pushed, "{}", h.url);
    }
    kafka.produce(TOPIC, second);
    wait_until("the fleet to consume the topic", Duration::from_secs(180), || kafka.caught_up("fleet", TOPIC, PARTITIONS));

    // Each event applied once, by one version.
    let delivered = (first.len() + second.len()) as f64;
    let total = || [&a, &b, &c].iter().map(|h| h.metric("liveviewer_events_total")).sum::<f64>();
    let _ = try_wait_until(Duration::from_secs(10), || total() >= delivered);
    assert_eq!(total(), delivered, "every event processed exactly once across the fleet");
    let by_version = |v: &str| -> f64 {
        [&a, &b, &c]
            .iter()
            .map(|h| {
                http_get(&format!("{}metrics", h.url))
                    .lines()
                    .filter(|l| l.starts_with("liveviewer_events_total{") && l.contains(v))
                    .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                    .sum::<f64>()
            })
            .sum()
    };
    assert_eq!(by_version(&builtin) + by_version(&pushed), delivered, "each event by exactly one of the two versions");

    // Any host shows every viewer, whichever host processed them.
    let file = events_file(&[first, second].concat());
    let expected = replayed_profiles(file.path());
    let everyone = replay_ids(&expected);
    for h in [&a, &b, &c] {
        wait_until("the whole picture on every host", Duration::from_secs(30), || viewer_ids(h) == everyone);
    }

    // A browser on host A sees, live, a new viewer on a partition host C owns.
    let owned_by_c: Vec<i64> = fleet(&a)["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host_id"] == "c")
        .map(|h| h["partitions"].as_array().unwrap().iter().map(|p| p.as_i64().unwrap()).collect())
        .unwrap();
    let newcomer = format!("newcomer-{}", std::process::id());
    let mut watcher = Command::new("node")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../dashboard"))
        .args(["tests/watch-viewer.mjs", &a.url, &newcomer, "30000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(watcher.stdout.take().unwrap()));
    let ready = lines.next().and_then(Result::ok);
    assert_eq!(ready.as_deref(), Some("ready"), "the dashboard loaded");
    let event = play_event(&newcomer, "00000000-0000-4000-8000-00000000c0de", now_ms());
    kafka.produce_to_partition(TOPIC, owned_by_c[0] as i32, &newcomer, event.as_bytes());
    let out = watcher.wait_with_output().unwrap();
    let seen = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(out.status.success() && seen.starts_with("seen"), "{seen} {}", String::from_utf8_lossy(&out.stderr));

    // Host C dies; its partitions move; nothing lost, nothing twice, the view stays whole.
    c.proc.kill9();
    kafka.produce(TOPIC, third);
    wait_until("the survivors to consume C's partitions", Duration::from_secs(180), || kafka.caught_up("fleet", TOPIC, PARTITIONS));
    let mut all_msgs: Vec<(String, Vec<u8>)> = msgs.clone();
    all_msgs.push((newcomer.clone(), event.into_bytes()));
    let file = events_file(&all_msgs);
    let expected = replayed_profiles(file.path());
    let everyone = replay_ids(&expected);
    for h in [&a, &b] {
        wait_until("the whole picture on the survivors", Duration::from_secs(30), || viewer_ids(h) == everyone);
    }

    // A fourth host, with no data directory of its own yet: the fleet's module, the picture.
    let joined = Instant::now();
    let d = start(&configs[3]);
    wait_until("the new host ready with the whole view", Duration::from_secs(30), || d.get("/readyz")["view"] == true);
    let whole_after = joined.elapsed();
    assert_eq!(viewer_ids(&d), everyone, "the new host shows every viewer");
    assert_eq!(active_version(&d), pushed, "the new host runs the fleet's module");

    let requests = moto.recorded();
    let scans = requests.iter().filter(|r| r.operation == "Scan").count();
    assert_eq!(scans, 0, "no request path scanned the profiles table");
    let writes = requests.iter().filter(|r| r.operation == "PutItem").count();
    eprintln!(
        "fleet: module rolled out to 3 hosts in {rollout:?}; a new host had the whole picture in {whole_after:?}; {writes} profile writes for {} events",
        all_msgs.len()
    );
    drop((a, b, d));
    // The replay ran the built-in module (the fleet, two versions of the same logic) with the
    // default active window (the fleet's is an hour).
    let without_version = |v: Value| -> Value {
        Value::Array(v.as_array().unwrap().iter().map(|p| {
            let mut p = p.clone();
            p.as_object_mut().unwrap().remove("module_version");
            p.as_object_mut().unwrap().remove("active");
            p
        }).collect())
    };
    let stored = profiles(&configs[0]);
    assert!(stored.as_array().unwrap().iter().any(|p| p["module_version"] == pushed.as_str()), "the pushed module wrote profiles");
    assert_same_profiles(&without_version(expected), &without_version(stored), "three hosts, one killed, against a replay");
}
