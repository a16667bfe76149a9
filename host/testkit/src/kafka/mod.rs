//! Apache Kafka itself, one KRaft node (broker and controller in one JVM) on loopback, from the
//! jars `scripts/setup.sh` fetched (`LIVEVIEWER_KAFKA_LIBS`). Its log directory lives as long
//! as the handle, so the broker can be stopped and started again on the same data.
//!
//! A plaintext listener serves the test's own set-up (topics, producing, reading offsets); a
//! broker started [`Kafka::start_secure`] also has a SASL_SSL listener (SCRAM-SHA-256 and
//! -512, a certificate from a throwaway CA, for the host name `localhost` only) that the host
//! under test connects through.
//!
//! Here: the broker process (started, stopped, killed, started again); `client`: topics,
//! producing, offsets and reading records back.

mod client;
pub use client::{produce_to, send, Codec, Record};

use crate::process::{free_port, log_path, port_open, tool, wait_until, Proc};
use crate::tls::Ca;
use rdkafka::consumer::Consumer;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The SCRAM user the secure listener knows, and its password.
pub const SCRAM_USER: &str = "liveviewer";
pub const SCRAM_PASSWORD: &str = "correct-horse-battery-staple";

pub struct Kafka {
    proc: Option<Proc>,
    /// The plaintext listener, `127.0.0.1:port`.
    pub addr: String,
    port: u16,
    secure: Option<Secure>,
    dir: tempfile::TempDir,
}

/// The SASL_SSL listener of a secure broker.
pub struct Secure {
    pub port: u16,
    /// The CA that signed the broker's certificate: what a client must trust.
    pub ca: Ca,
}

fn java() -> PathBuf {
    match std::env::var_os("JAVA_HOME") {
        Some(home) if Path::new(&home).join("bin/java").exists() => Path::new(&home).join("bin/java"),
        _ => PathBuf::from("java"),
    }
}

fn classpath() -> String {
    format!("{}/*", tool("LIVEVIEWER_KAFKA_LIBS", "Apache Kafka's jars").display())
}

/// A KRaft cluster id: 16 random bytes, base64url without padding, not starting with `-`: the
/// storage tool would take such an id for an option (one start in 64 failed so); Kafka's own
/// ids are drawn again in that case too.
fn cluster_id() -> String {
    loop {
        let id = random_id();
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    use std::io::Read;
    std::fs::File::open("/dev/urandom").unwrap().read_exact(&mut bytes).unwrap();
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(A[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(A[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

impl Kafka {
    /// A plaintext broker.
    pub fn start() -> Kafka {
        Self::launch(false)
    }

    /// A broker with a SASL_SSL listener besides the plaintext one.
    pub fn start_secure() -> Kafka {
        Self::launch(true)
    }

    fn launch(secure: bool) -> Kafka {
        let dir = tempfile::Builder::new().prefix("kafka-").tempdir().unwrap();
        let port = free_port();
        let controller = free_port();
        let secure = secure.then(|| {
            let ca = Ca::new(&dir.path().join("tls"), "ca");
            Secure { port: free_port(), ca }
        });
        let mut listeners = format!("PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}");
        let mut advertised = format!("PLAINTEXT://127.0.0.1:{port}");
        let mut extra = String::new();
        if let Some(s) = &secure {
            let leaf = s.ca.issue("broker", &["localhost"]);
            listeners.push_str(&format!(",SASL_SSL://127.0.0.1:{}", s.port));
            // Advertised by name: the certificate is for `localhost`, so a client that
            // connects by address fails its host name check, as it should.
            advertised.push_str(&format!(",SASL_SSL://localhost:{}", s.port));
            // SCRAM (credentials made at format time), PLAIN (one user), and OAUTHBEARER with
            // Kafka's own validator of unsecured tokens (a token endpoint in the test makes
            // them: what an identity provider does, without its signature).
            extra = format!(
                "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN,OAUTHBEARER\n\
                 listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
                 listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
                 listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_{SCRAM_USER}=\"{SCRAM_PASSWORD}\";\n\
                 listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"broker\";\n\
                 ssl.keystore.type=PEM\n\
                 ssl.keystore.location={}\n\
                 ssl.client.auth=none\n",
                leaf.pem.display()
            );
        }
        let properties = format!(
            "process.roles=broker,controller\n\
             node.id=1\n\
             controller.quorum.voters=1@127.0.0.1:{controller}\n\
             listeners={listeners}\n\
             advertised.listeners={advertised}\n\
             inter.broker.listener.name=PLAINTEXT\n\
             controller.listener.names=CONTROLLER\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL\n\
             log.dirs={log}\n\
             num.partitions=1\n\
             auto.create.topics.enable=false\n\
             offsets.topic.replication.factor=1\n\
             offsets.topic.num.partitions=4\n\
             transaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\n\
             transaction.state.log.num.partitions=4\n\
             share.coordinator.state.topic.replication.factor=1\n\
             share.coordinator.state.topic.min.isr=1\n\
             group.initial.rebalance.delay.ms=0\n\
             message.max.bytes=16777216\n\
             num.network.threads=2\n\
             num.io.threads=2\n\
             {extra}",
            log = dir.path().join("log").display(),
        );
        std::fs::write(dir.path().join("server.properties"), properties).unwrap();
        let mut format = Command::new(java());
        format
            .args(["-cp", &classpath(), "kafka.tools.StorageTool", "format", "-t", &cluster_id(), "-c"])
            .arg(dir.path().join("server.properties"));
        if secure.is_some() {
            for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
                format.args(["--add-scram", &format!("{mechanism}=[name={SCRAM_USER},password={SCRAM_PASSWORD}]")]);
            }
        }
        let out = format.output().expect("running Kafka's storage tool");
        assert!(out.status.success(), "formatting the Kafka log dir: {}", String::from_utf8_lossy(&out.stderr));
        let mut k = Kafka { proc: None, addr: format!("127.0.0.1:{port}"), port, secure, dir };
        k.restart();
        k
    }

    /// Starts the broker process on its log directory (again, after [`Kafka::stop`]).
    pub fn restart(&mut self) {
        assert!(self.proc.is_none(), "the broker is running");
        let log = std::fs::File::create(log_path("kafka")).unwrap();
        let child = Command::new(java())
            .args(["-Xms256m", "-Xmx768m", "-XX:+UseSerialGC", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"])
            .args(["-cp", &classpath(), "kafka.Kafka"])
            .arg(self.dir.path().join("server.properties"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting the Kafka broker");
        self.proc = Some(Proc::new(child, "kafka"));
        let port = self.port;
        wait_until("Kafka to listen", Duration::from_secs(60), || port_open(port));
        // Listening is not serving yet: wait until it answers metadata with itself in it.
        let c = self.base_consumer("liveviewer-testkit-probe");
        wait_until("Kafka to serve metadata", Duration::from_secs(60), || {
            c.fetch_metadata(None, Duration::from_secs(2)).is_ok_and(|m| !m.brokers().is_empty())
        });
    }

    /// Stops the broker cleanly (SIGTERM: it closes its logs), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            if p.terminate(Duration::from_secs(60)).is_none() {
                p.kill9();
            }
        }
    }

    /// Kills the broker (SIGKILL), keeping whatever reached its log files.
    pub fn kill9(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    pub fn running(&self) -> bool {
        self.proc.is_some()
    }

    pub fn log_dir(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    pub fn secure(&self) -> &Secure {
        self.secure.as_ref().expect("a broker started with start_secure")
    }

    /// The SASL_SSL listener by the name its certificate is for.
    pub fn secure_addr(&self) -> String {
        format!("localhost:{}", self.secure().port)
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        // Quick: the log directory goes with the handle.
        self.kill9();
    }
}
