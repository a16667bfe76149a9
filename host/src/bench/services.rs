//! The real services the process benchmarks run against (the tansu broker, moto) and the
//! release host binary itself, on loopback and free ports; each killed when dropped.

use anyhow::{bail, Context};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(var: &str) -> anyhow::Result<PathBuf> {
    std::env::var_os(var).map(PathBuf::from).with_context(|| format!("{var} is not set: run through ./scripts/bench.sh"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    while !ok() {
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

pub struct Broker {
    _proc: Proc,
    pub addr: String,
}

impl Broker {
    pub fn start() -> anyhow::Result<Broker> {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tool("LIVEVIEWER_TANSU_BIN")?)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let b = Broker { _proc: Proc(child), addr: format!("127.0.0.1:{port}") };
        wait_for("tansu", Duration::from_secs(20), || listening(port))?;
        Ok(b)
    }

    pub fn create_topic(&self, name: &str, partitions: u32) -> anyhow::Result<()> {
        let out = Command::new(tool("LIVEVIEWER_TANSU_BIN")?)
            .args(["topic", "create", "--broker", &format!("tcp://{}", self.addr), "--partitions", &partitions.to_string(), name])
            .output()?;
        if !out.status.success() {
            bail!("creating topic {name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Messages the group has committed over all partitions.
    pub fn committed(&self, group: &str, topic: &str, partitions: i32) -> i64 {
        let Ok(c) = ClientConfig::new().set("bootstrap.servers", &self.addr).set("group.id", group).create::<BaseConsumer>() else {
            return 0;
        };
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(topic, p);
        }
        let Ok(committed) = c.committed_offsets(tpl, Duration::from_secs(5)) else { return 0 };
        committed.elements().iter().map(|e| if let Offset::Offset(o) = e.offset() { o } else { 0 }).sum()
    }
}

/// Produces (key, value) messages as fast as the broker takes them, and waits for them all.
/// Sends one record, waiting `wait` and trying again while the producer refuses it (a full
/// queue).
pub fn send<K, P>(p: &ThreadedProducer<DefaultProducerContext>, mut record: BaseRecord<'_, K, P>, wait: Duration)
where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    loop {
        match p.send(record) {
            Ok(()) => return,
            Err((_, r)) => {
                record = r;
                std::thread::sleep(wait);
            }
        }
    }
}

pub fn produce(addr: &str, topic: &str, messages: impl Iterator<Item = (String, Vec<u8>)>) -> anyhow::Result<()> {
    let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("linger.ms", "10")
        .set("batch.num.messages", "2000")
        .set("queue.buffering.max.messages", "500000")
        .set("compression.type", "lz4")
        .create()?;
    for (k, v) in messages {
        send(&p, BaseRecord::to(topic).key(&k).payload(&v), Duration::from_millis(2));
    }
    p.flush(Duration::from_secs(300))?;
    Ok(())
}

pub struct Moto {
    _proc: Proc,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> anyhow::Result<Moto> {
        let port = free_port();
        let child = Command::new(tool("LIVEVIEWER_MOTO_BIN")?)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let m = Moto { _proc: Proc(child), endpoint: format!("http://127.0.0.1:{port}") };
        wait_for("moto", Duration::from_secs(30), || listening(port))?;
        Ok(m)
    }
}

/// The host binary, started with `args`; ready once it prints its URL.
pub struct HostProc {
    pub proc: Proc,
    pub url: String,
}

impl HostProc {
    pub fn start(bin: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<HostProc> {
        let mut cmd = Command::new(bin);
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::null()).env("LIVEVIEWER_LOG", "warn");
        for (k, v) in [("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"), ("AWS_REGION", "us-east-1")] {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(i) = line.find("dashboard at ") {
                    let _ = tx.send(line[i + 13..].trim().to_owned());
                }
            }
        });
        let proc = Proc(child);
        let url = rx.recv_timeout(Duration::from_secs(120)).context("the host did not start")?;
        Ok(HostProc { proc, url })
    }

    pub fn pid(&self) -> u32 {
        self.proc.0.id()
    }
}

/// Resident memory of a process, in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())))
        .flatten()
        .map_or(0, |kb| kb * 1024)
}
