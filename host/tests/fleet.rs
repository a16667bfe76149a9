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

/// `extra` TOML lines appended to a host's configuration.
fn config_with(dir: &Path, name: &str, kafka: &Kafka, moto: &Moto, extra: &str) -> PathBuf {
    let path = config(dir, name, kafka, moto);
    let text = std::fs::read_to_string(&path).unwrap() + extra;
    std::fs::write(&path, text).unwrap();
    path
}

/// The built-in module with `padding` bytes of custom section: the same logic, bigger.
fn padded(padding: usize) -> Vec<u8> {
    let name = b"liveviewer-padding";
    let mut body = vec![name.len() as u8];
    body.extend(name);
    body.extend(std::iter::repeat_n(0u8, padding));
    let mut out = liveviewer::module::BUILTIN_WASM.to_vec();
    out.push(0);
    // The section's size as unsigned LEB128.
    let mut n = body.len();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        out.push(if n > 0 { byte | 0x80 } else { byte });
        if n == 0 {
            break;
        }
    }
    out.extend(body);
    out
}

fn host_status<'a>(fleet: &'a Value, id: &str) -> &'a Value {
    fleet["hosts"].as_array().unwrap().iter().find(|h| h["host_id"] == id).unwrap_or(&Value::Null)
}

#[test]
fn refusals_shadows_promotions_and_rollbacks_are_the_fleets() {
    let _serial = serial();
    let kafka = Kafka::start();
    kafka.create_topic(TOPIC, 2);
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    // Host b takes smaller modules than a, and never decides alone that a module is unhealthy.
    let a = start(&config(dir.path(), "a", &kafka, &moto));
    let b_config = config_with(dir.path(), "b", &kafka, &moto, "[module.limits]\nmax_module_bytes = 600000\n[module.health]\nmin_events = 1000000\n");
    let b = start(&b_config);
    wait_until("two hosts with partitions", Duration::from_secs(90), || {
        let f = fleet(&a);
        let hosts = f["hosts"].as_array().cloned().unwrap_or_default();
        hosts.len() == 2 && hosts.iter().all(|h| !h["partitions"].as_array().unwrap().is_empty())
    });
    let builtin = active_version(&a);
    let version = |bytes: &[u8]| liveviewer::module::ModuleVersion::of_bytes(bytes).0;
    let on = |host: &Host, v: &str| active_version(host) == v;

    // A module host b refuses: a runs it, b keeps its own and says why.
    let big = padded(500_000);
    assert_eq!(admin(&a, "PUT", "/admin/module", big.clone(), TOKEN).0, 200);
    wait_until("b's refusal in the fleet status", Duration::from_secs(60), || {
        let f = fleet(&a);
        host_status(&f, "b")["module"]["refused"]["step"] == "size" && f["converged"] == false
    });
    assert!(on(&a, &version(&big)) && on(&b, &builtin));
    let out = cli_output(&["fleet", "status", "--host", a.url.trim_end_matches('/'), "--token", TOKEN], &[]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "not converged: exit 1");
    assert!(status.contains("NOT converged") && status.contains("at `size`"), "{status}");

    // A module both take; then a shadow pushed to a runs beside it on both, and b promotes it
    // for the fleet; a rollback on a brings both back.
    let v2 = variant("v2");
    assert_eq!(admin(&b, "PUT", "/admin/module", v2.clone(), TOKEN).0, 200);
    wait_until("both on v2", Duration::from_secs(60), || on(&a, &version(&v2)) && on(&b, &version(&v2)));
    let v3 = variant("v3");
    assert_eq!(admin(&a, "PUT", "/admin/module?mode=shadow", v3.clone(), TOKEN).0, 200);
    wait_until("v3 in shadow on both", Duration::from_secs(60), || {
        let f = fleet(&b);
        ["a", "b"].iter().all(|h| host_status(&f, h)["module"]["shadow"] == version(&v3).as_str())
    });
    assert_eq!(admin(&b, "POST", "/admin/module/promote", Vec::new(), TOKEN).0, 200);
    wait_until("both on v3", Duration::from_secs(60), || on(&a, &version(&v3)) && on(&b, &version(&v3)));
    assert_eq!(admin(&a, "POST", "/admin/module/rollback", Vec::new(), TOKEN).0, 200);
    wait_until("both back on v2", Duration::from_secs(60), || on(&a, &version(&v2)) && on(&b, &version(&v2)));

    // A module that faults on live events: the host that sees it fault rolls the whole fleet
    // back, b included, which would never have judged it alone.
    let faulty = std::fs::read(liveviewer_testkit::modules::trigger_mutant()).unwrap();
    assert_eq!(admin(&a, "PUT", "/admin/module", faulty.clone(), TOKEN).0, 200);
    wait_until("both on the faulty module", Duration::from_secs(60), || on(&a, &version(&faulty)) && on(&b, &version(&faulty)));
    // Faulting events on every partition: whichever partitions a holds when they arrive (an
    // assignment read from the fleet status may be stale by then), a sees enough of them.
    let (msgs, _) = workload(200, 61);
    for (i, (key, line)) in msgs.iter().take(200).enumerate() {
        let mut f: Vec<String> = String::from_utf8_lossy(line).split('\t').map(str::to_owned).collect();
        f[30] = "TRIGGER-TRAP".into();
        kafka.produce_to_partition(TOPIC, (i % 2) as i32, key, f.join("\t").as_bytes());
    }
    wait_until("the fleet rolled back from the faulty module", Duration::from_secs(90), || on(&a, &version(&v2)) && on(&b, &version(&v2)));
    let f = fleet(&b);
    assert_eq!(f["desired"]["action"], "auto-rollback", "{f}");
    assert_eq!(f["desired"]["by"], "a");
}
