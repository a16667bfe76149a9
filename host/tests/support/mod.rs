//! Real services for black-box tests, on loopback and free ports: the tansu Kafka-protocol
//! broker, moto and dynalite (DynamoDB API), and the `liveviewer` binary itself. Each is killed
//! when its handle drops. The tools come from `scripts/setup.sh` (their paths in
//! `LIVEVIEWER_*` variables); without them a test fails saying so, it is never skipped.
#![allow(dead_code)]

pub mod modules;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_liveviewer");

/// The service tests are heavy on two cores: one at a time keeps their timings honest.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| Mutex::new(())).lock().unwrap_or_else(|e| e.into_inner())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tool(var: &str, what: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(p) => PathBuf::from(p),
        None => panic!("{var} is not set: {what} is needed; run the tests with scripts/test.sh (or `. scripts/setup.sh` first)"),
    }
}

pub fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Like [`wait_until`], returning whether the condition came true instead of failing.
pub fn try_wait_until(timeout: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !ok() {
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A child process killed (SIGKILL) on drop.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn log_file(name: &str) -> std::fs::File {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join("liveviewer-test-logs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::File::create(dir.join(format!("{name}-{}-{n}.log", std::process::id()))).unwrap()
}

// ------------------------------------------------------------------ Kafka (tansu)

pub struct Broker {
    pub proc: Proc,
    pub addr: String,
}

impl Broker {
    pub fn start() -> Broker {
        let tansu = tool("LIVEVIEWER_TANSU_BIN", "the tansu broker");
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(log_file("tansu"))
            .spawn()
            .expect("starting tansu");
        let b = Broker { proc: Proc { child, name: "tansu".into() }, addr: format!("127.0.0.1:{port}") };
        wait_until("tansu to listen", Duration::from_secs(20), || port_open(port));
        b
    }

    pub fn create_topic(&self, name: &str, partitions: u32) {
        let tansu = tool("LIVEVIEWER_TANSU_BIN", "the tansu broker");
        let out = Command::new(tansu)
            .args(["topic", "create", "--broker", &format!("tcp://{}", self.addr), "--partitions", &partitions.to_string(), name])
            .output()
            .expect("tansu topic create");
        assert!(out.status.success(), "creating {name}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Produces (key, value) messages and waits until all are acknowledged.
    ///
    /// One message per record batch: tansu 0.6 answers a fetch from an offset inside a record
    /// batch with the batches after it, so a consumer resuming mid-batch (after a crash or a
    /// rebalance) would never see the rest of that batch. Kafka itself returns the whole batch.
    pub fn produce(&self, topic: &str, messages: &[(String, Vec<u8>)]) {
        let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.addr)
            .set("acks", "all")
            .set("linger.ms", "0")
            .set("batch.num.messages", "1")
            .set("message.max.bytes", "16000000")
            .create()
            .unwrap();
        for (k, v) in messages {
            let mut record = BaseRecord::to(topic).key(k).payload(v);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        record = r;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        }
        producer.flush(Duration::from_secs(60)).unwrap();
    }

    /// A consumer of `group` (never subscribed: it only reads offsets) and the group's
    /// committed offsets per partition, `None` when the broker does not answer.
    fn committed(&self, group: &str, topic: &str, partitions: i32) -> (BaseConsumer, Option<TopicPartitionList>) {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.addr)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(topic, p);
        }
        let committed = c.committed_offsets(tpl, Duration::from_secs(5)).ok();
        (c, committed)
    }

    /// Messages the group has committed, over all partitions.
    pub fn committed_total(&self, group: &str, topic: &str, partitions: i32) -> i64 {
        let (_, Some(committed)) = self.committed(group, topic, partitions) else { return 0 };
        committed
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => o,
                _ => 0,
            })
            .sum()
    }

    /// Whether the group has committed everything up to the end of every partition.
    pub fn caught_up(&self, group: &str, topic: &str, partitions: i32) -> bool {
        let (c, Some(committed)) = self.committed(group, topic, partitions) else { return false };
        (0..partitions).all(|p| {
            let Ok((_, high)) = c.fetch_watermarks(topic, p, Duration::from_secs(5)) else { return false };
            match committed.find_partition(topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o >= high,
                _ => high == 0,
            }
        })
    }
}

// ------------------------------------------------------------ DynamoDB API servers

pub struct Moto {
    pub proc: Proc,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let moto = tool("LIVEVIEWER_MOTO_BIN", "moto_server");
        let port = free_port();
        let child = Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(log_file("moto"))
            .spawn()
            .expect("starting moto_server");
        let m = Moto { proc: Proc { child, name: "moto".into() }, endpoint: format!("http://127.0.0.1:{port}") };
        wait_until("moto to listen", Duration::from_secs(30), || port_open(port));
        m
    }
}

/// dynalite keeps its tables on disk, so it can be stopped and started again (an outage).
pub struct Dynalite {
    pub proc: Option<Proc>,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Dynalite {
    pub fn start() -> Dynalite {
        let mut d = Dynalite { proc: None, port: free_port(), dir: tempfile::tempdir().unwrap() };
        d.restart();
        d
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        let module = tool("LIVEVIEWER_DYNALITE_DIR", "dynalite");
        // dynalite's own CLI listens on every interface; this listens on loopback only.
        let script = format!(
            "require({:?})({{path: {:?}, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0}}).listen({}, '127.0.0.1')",
            module.display().to_string(),
            self.dir.path().display().to_string(),
            self.port
        );
        let child = Command::new("node")
            .args(["-e", &script])
            .stdout(Stdio::null())
            .stderr(log_file("dynalite"))
            .spawn()
            .expect("starting dynalite");
        self.proc = Some(Proc { child, name: "dynalite".into() });
        let port = self.port;
        wait_until("dynalite to listen", Duration::from_secs(20), || port_open(port));
    }
}

// ------------------------------------------------------------------ the host

pub struct Host {
    pub proc: Proc,
    pub url: String,
    pub config: PathBuf,
    stdout_lines: Arc<Mutex<Vec<String>>>,
}

/// Dummy AWS credentials for local DynamoDB servers.
pub fn aws_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
}

pub fn write_config(dir: &Path, name: &str, toml: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    path
}

impl Host {
    /// `liveviewer <args>`, waiting for its "dashboard at" line.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Host {
        let mut cmd = Command::new(BIN);
        let log = std::env::var("LIVEVIEWER_TEST_LOG").unwrap_or_else(|_| "info,extism=off".into());
        cmd.args(args).stdout(Stdio::piped()).stderr(log_file("liveviewer")).env("LIVEVIEWER_LOG", log);
        for (k, v) in aws_env().into_iter().chain(env.iter().copied()) {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting liveviewer");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(i) = line.find("dashboard at ") {
                    let _ = tx.send(line[i + 13..].trim().to_owned());
                }
                l.lock().unwrap().push(line);
            }
        });
        let url = rx.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|_| panic!("liveviewer {args:?} did not start"));
        let config = args.iter().position(|a| *a == "--config").map(|i| PathBuf::from(args[i + 1])).unwrap_or_default();
        Host { proc: Proc { child, name: "liveviewer".into() }, url, config, stdout_lines: lines }
    }

    pub fn get(&self, path: &str) -> Value {
        let body = http_get(&format!("{}{}", self.url, path.trim_start_matches('/')));
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// A counter from /metrics, summed over its labels.
    pub fn metric(&self, name: &str) -> f64 {
        let text = http_get(&format!("{}metrics", self.url));
        text.lines()
            .filter(|l| l.starts_with(name) && (l[name.len()..].starts_with('{') || l[name.len()..].starts_with(' ')))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

pub fn http_get(url: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async { reqwest::get(url).await.unwrap().text().await.unwrap() })
}

/// `liveviewer <args>` to completion; its stdout, or a panic with its stderr.
pub fn cli(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("LIVEVIEWER_LOG", "warn");
    for (k, v) in aws_env().into_iter().chain(env.iter().copied()) {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("running liveviewer");
    assert!(out.status.success(), "liveviewer {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The profiles a configuration's store holds, rendered as of the newest event (so that
/// `active` does not depend on when the test runs).
pub fn profiles(config: &Path) -> Value {
    let text = cli(&["profiles", "--config", config.to_str().unwrap()], &[("LIVEVIEWER__ACTIVE__CLOCK", "stream")]);
    serde_json::from_str(&text).unwrap()
}

/// The same events replayed into a fresh embedded store: the reference every path must match.
pub fn replayed_profiles(events_file: &Path) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    cli(&["replay", "--data-dir", data, events_file.to_str().unwrap()], &[]);
    let text = cli(&["profiles", "--data-dir", data], &[("LIVEVIEWER__ACTIVE__CLOCK", "stream")]);
    serde_json::from_str(&text).unwrap()
}

/// The fixture session plus simulated viewers, as (viewer key, line) pairs and as a file.
pub fn workload(simulated: u64, seed: u64) -> (Vec<(String, Vec<u8>)>, tempfile::NamedTempFile) {
    let fixture = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/fixtures/snowplow-micro-media.tsv")).unwrap();
    let mut msgs: Vec<(String, Vec<u8>)> = fixture
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| (l.split('\t').nth(15).unwrap().to_owned(), l.as_bytes().to_vec()))
        .collect();
    let sim = cli(
        &["simulate", "--viewers", "60", "--seed", &seed.to_string(), "--events", &simulated.to_string(), "--ping-interval-s", "5"],
        &[],
    );
    for line in sim.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let key = if f[12].is_empty() { f[15] } else { f[12] };
        msgs.push((key.to_owned(), line.as_bytes().to_vec()));
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut text = Vec::new();
    for (_, l) in &msgs {
        text.extend_from_slice(l);
        text.push(b'\n');
    }
    std::fs::write(file.path(), text).unwrap();
    (msgs, file)
}

/// Profiles as comparable JSON: sorted by viewer.
pub fn assert_same_profiles(expected: &Value, actual: &Value, what: &str) {
    let e = expected.as_array().expect("array");
    let a = actual.as_array().expect("array");
    assert_eq!(e.len(), a.len(), "{what}: {} profiles expected, {} found", e.len(), a.len());
    let differing: Vec<&Value> = e.iter().zip(a).filter(|(x, y)| x != y).map(|(x, _)| &x["viewer_id"]).collect();
    for (x, y) in e.iter().zip(a) {
        assert_eq!(x, y, "{what}: profile of {} differs ({} of {} differ: {differing:?})", x["viewer_id"], differing.len(), e.len());
    }
}

/// An admin request with a bearer token: the status and the JSON answer (or its text).
pub fn admin(host: &Host, method: &str, path: &str, body: Vec<u8>, token: &str) -> (u16, Value) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let url = format!("{}{}", host.url, path.trim_start_matches('/'));
        let c = reqwest::Client::new();
        let req = match method {
            "PUT" => c.put(url).body(body),
            "POST" => c.post(url),
            "DELETE" => c.delete(url),
            _ => c.get(url),
        };
        let r = req.bearer_auth(token).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    })
}
