//! Configuration: one TOML file, then environment overrides, then command-line flags. Unknown
//! keys are an error naming the key; every value is checked by [`Config::validate`] before
//! anything starts.
//!
//! Environment: `LIVEVIEWER__SECTION__KEY=value` sets any key (`LIVEVIEWER__SOURCE__KAFKA__BROKERS`),
//! the value read as TOML when it parses as such (numbers, booleans, arrays) and as a string
//! otherwise; `LIVEVIEWER_DATA_DIR` and `LIVEVIEWER_ADMIN_TOKEN` are shorthands.

use crate::lifecycle::health::HealthPolicy;
use crate::module::Limits;
use crate::profile::Clock;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8686";
pub const DEFAULT_TOPIC: &str = "snowplow-enriched-good";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the embedded store, its dead-letter file and uploaded modules live.
    pub data_dir: PathBuf,
    pub source: SourceConfig,
    pub store: StoreConfig,
    pub pipeline: PipelineConfig,
    pub module: ModuleConfig,
    pub http: HttpConfig,
    pub active: ActiveConfig,
    pub dead_letters: DeadLetterConfig,
    pub windows: WindowsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("liveviewer-data"),
            source: SourceConfig::default(),
            store: StoreConfig::default(),
            pipeline: PipelineConfig::default(),
            module: ModuleConfig::default(),
            http: HttpConfig::default(),
            active: ActiveConfig::default(),
            dead_letters: DeadLetterConfig::default(),
            windows: WindowsConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Kafka,
    Simulator,
    /// No source of its own: events arrive on `POST /ingest/snowbridge` only.
    #[default]
    None,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    pub kind: SourceKind,
    pub kafka: KafkaConfig,
    pub simulator: SimulatorConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    pub brokers: String,
    pub topic: String,
    pub group_id: String,
    /// Static group membership (`group.instance.id`): a stable id per host (e.g. the pod
    /// name) lets a restarted host take its partitions back at once instead of after the
    /// session timeout. Must differ between hosts.
    pub instance_id: Option<String>,
    /// Default: `<topic>.dead-letter`.
    pub dead_letter_topic: Option<String>,
    /// The profile changelog (compacted; created when missing): every host publishes the
    /// profiles it changes, and reads all of it into its live view.
    pub changelog_topic: String,
    /// The fleet's control topic (compacted; created when missing): module candidates, the
    /// module every host must run, and each host's status.
    pub modules_topic: String,
    /// The windowed metrics (compacted, one partition; created when missing): each changelog
    /// partition's counts per minute, written by the host that counts it, read by every host.
    pub metrics_topic: String,
    /// How every Kafka client of the host connects (consumer, producers, readers).
    pub security_protocol: SecurityProtocol,
    pub tls: TlsConfig,
    pub sasl: SaslConfig,
    /// Extra librdkafka properties (timeouts, tuning); they win over everything above.
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            topic: DEFAULT_TOPIC.into(),
            group_id: "liveviewer".into(),
            instance_id: None,
            dead_letter_topic: None,
            changelog_topic: "liveviewer.profiles".into(),
            modules_topic: "liveviewer.modules".into(),
            metrics_topic: "liveviewer.metrics".into(),
            security_protocol: SecurityProtocol::default(),
            tls: TlsConfig::default(),
            sasl: SaslConfig::default(),
            properties: BTreeMap::new(),
        }
    }
}

/// Kafka's `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityProtocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn librdkafka(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }

    pub fn tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    pub fn sasl(self) -> bool {
        matches!(self, SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// CA certificates (PEM) the brokers' certificates must chain to. Default: the system's
    /// trust store (enough for Amazon MSK, Confluent Cloud, Aiven's public CAs).
    pub ca_file: Option<PathBuf>,
    /// A client certificate and its key (PEM), for brokers that authenticate clients by TLS.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub key_password: Option<String>,
    /// Check that a broker's certificate is for the host name connected to. Off only for
    /// brokers reached by an address their certificate does not name.
    pub verify_hostname: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig { ca_file: None, cert_file: None, key_file: None, key_password: None, verify_hostname: true }
    }
}

/// SASL mechanisms the host speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SaslMechanism {
    #[serde(rename = "PLAIN")]
    Plain,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
    /// OAuth 2 bearer tokens from an OIDC token endpoint (client credentials).
    #[serde(rename = "OAUTHBEARER")]
    OauthBearer,
    /// Amazon MSK's IAM authentication: OAUTHBEARER with a token signed by the AWS
    /// credentials of the environment (the task role).
    #[serde(rename = "AWS_MSK_IAM")]
    AwsMskIam,
}

impl SaslMechanism {
    /// The mechanism as librdkafka names it on the wire.
    pub fn librdkafka(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OauthBearer | SaslMechanism::AwsMskIam => "OAUTHBEARER",
        }
    }
}

#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SaslConfig {
    pub mechanism: Option<SaslMechanism>,
    /// PLAIN and SCRAM.
    pub username: Option<String>,
    pub password: Option<String>,
    /// OAUTHBEARER: the OIDC token endpoint and the client's credentials.
    pub token_endpoint: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
    /// AWS_MSK_IAM: the cluster's region (default: the AWS environment's).
    pub region: Option<String>,
}

/// Secrets stay out of logs and error messages.
impl std::fmt::Debug for SaslConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<hidden>");
        f.debug_struct("SaslConfig")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("token_endpoint", &self.token_endpoint)
            .field("client_id", &self.client_id)
            .field("client_secret", &hidden(&self.client_secret))
            .field("scope", &self.scope)
            .field("region", &self.region)
            .finish()
    }
}

impl KafkaConfig {
    pub fn dead_letter_topic(&self) -> String {
        self.dead_letter_topic.clone().unwrap_or_else(|| format!("{}.dead-letter", self.topic))
    }

    /// The security settings agree with each other, so that a mistake is named before any
    /// connection is tried.
    fn validate_security(&self) -> Result<(), String> {
        let p = self.security_protocol;
        let s = &self.sasl;
        if !p.sasl() && s.mechanism.is_some() {
            return Err(format!(
                "source.kafka.sasl.mechanism is set but security_protocol is {}: use sasl_ssl (or sasl_plaintext)",
                p.librdkafka()
            ));
        }
        if !p.tls() && (self.tls.ca_file.is_some() || self.tls.cert_file.is_some()) {
            return Err(format!("source.kafka.tls is set but security_protocol is {}: use ssl or sasl_ssl", p.librdkafka()));
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return Err("source.kafka.tls: cert_file and key_file go together".into());
        }
        for (name, file) in [("ca_file", &self.tls.ca_file), ("cert_file", &self.tls.cert_file), ("key_file", &self.tls.key_file)] {
            if let Some(f) = file {
                if !f.is_file() {
                    return Err(format!("source.kafka.tls.{name}: {} is not a readable file", f.display()));
                }
            }
        }
        if p.sasl() && s.mechanism.is_none() {
            return Err("source.kafka.sasl.mechanism must be set with a sasl_* security_protocol".into());
        }
        if s.mechanism == Some(SaslMechanism::AwsMskIam) && p != SecurityProtocol::SaslSsl {
            return Err("AWS_MSK_IAM needs security_protocol = sasl_ssl".into());
        }
        Ok(())
    }

    /// The credentials the mechanism needs are there. Checked when a Kafka client is made, not
    /// with the rest of the configuration, so that commands that never connect (`profiles`,
    /// `replay`) work without the secrets.
    pub fn check_credentials(&self) -> Result<(), String> {
        let p = self.security_protocol;
        let s = &self.sasl;
        if p.sasl() {
            let need = |what: &str, v: &Option<String>| -> Result<(), String> {
                match v {
                    Some(x) if !x.is_empty() => Ok(()),
                    _ => Err(format!("source.kafka.sasl.{what} must be set for this mechanism")),
                }
            };
            match s.mechanism {
                None => return Err("source.kafka.sasl.mechanism must be set with a sasl_* security_protocol".into()),
                Some(SaslMechanism::Plain | SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512) => {
                    need("username", &s.username)?;
                    need("password", &s.password)?;
                }
                Some(SaslMechanism::OauthBearer) => {
                    need("token_endpoint", &s.token_endpoint)?;
                    need("client_id", &s.client_id)?;
                    need("client_secret", &s.client_secret)?;
                }
                Some(SaslMechanism::AwsMskIam) => {}
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorConfig {
    /// Viewers watching at the same time, on average.
    pub viewers: usize,
    pub seed: u64,
    /// 1.0 is real time; 10.0 plays ten seconds of viewing per second.
    pub speed: f64,
    /// Seconds between media pings.
    pub ping_interval_s: u32,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig { viewers: 40, seed: 1, speed: 1.0, ping_interval_s: 10 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    #[default]
    Embedded,
    Dynamodb,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub kind: StoreKind,
    /// Write-behind: a profile whose status, media session or ad changed reaches the store
    /// within this (0: before its batch counts as done, one write per viewer per batch).
    pub flush_interval_ms: u64,
    /// A profile whose only changes are progress (position, counters, last seen) reaches the
    /// store within this: pings move every viewer every few seconds, and the bill follows
    /// writes. The live view and the changelog see every change at once either way.
    pub progress_flush_interval_ms: u64,
    pub dynamodb: DynamoConfig,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { kind: StoreKind::Embedded, flush_interval_ms: 1_000, progress_flush_interval_ms: 60_000, dynamodb: DynamoConfig::default() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DynamoConfig {
    /// Default: the AWS environment/config (`AWS_REGION`).
    pub region: Option<String>,
    /// For local servers (DynamoDB Local, moto, dynalite).
    pub endpoint: Option<String>,
    pub profiles_table: String,
    pub history_table: String,
    /// Days a status-change row is kept (TTL), where the server supports TTL.
    pub history_ttl_days: u32,
    /// Days a profile is kept after the viewer's last event (TTL; 0: for ever).
    pub profile_ttl_days: u32,
    pub create_tables: bool,
    /// The most write requests in flight at once. The host starts at one and raises it while
    /// the store's round trip holds steady (see `store/write_limit.rs`).
    pub write_concurrency: usize,
}

impl Default for DynamoConfig {
    fn default() -> Self {
        DynamoConfig {
            region: None,
            endpoint: None,
            profiles_table: "liveviewer_profiles".into(),
            history_table: "liveviewer_status_history".into(),
            history_ttl_days: 30,
            profile_ttl_days: 90,
            create_tables: true,
            write_concurrency: 32,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Most events per batch (one module call, one store write per viewer).
    pub batch_max: usize,
    /// How long a batch waits to fill up.
    pub batch_wait_ms: u64,
    /// Retry backoff for transient store errors: first and largest wait.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// Larger messages are dead-lettered without reaching the module.
    pub max_message_bytes: usize,
    /// Viewers kept in the in-memory index (the profiles themselves live in the store).
    pub max_tracked_viewers: usize,
    /// Events whose time is further ahead of the host's clock than this are dead-lettered: a
    /// far-future event would otherwise pin its viewer's state for good.
    pub max_future_s: u64,
    /// A profile whose stored form would grow past this is not written; the events that
    /// would have grown it are dead-lettered (DynamoDB items stop at 400 KB).
    pub max_profile_bytes: usize,
    /// Profiles kept in memory between writes (the working set; profiles of viewers seen
    /// recently that are already stored are dropped first when it is full).
    pub max_cached_profiles: usize,
    /// Module instances a batch is split across, each on its own thread (0: one per core, at
    /// most 4). The module is the pipeline's most expensive stage and a pure function, so
    /// contiguous parts of a batch run side by side and their results are joined in order.
    pub module_workers: usize,
    /// A write retried for longer than this (the store, or the dead-letter topic, refusing or
    /// not answering) makes the host unready (`/readyz` 503, saying which and why).
    pub stuck_after_s: u64,
}

impl PipelineConfig {
    /// `module_workers` with 0 resolved to the machine's cores (at most 4).
    pub fn module_workers(&self) -> usize {
        match self.module_workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()).min(4),
            n => n,
        }
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            batch_max: 512,
            batch_wait_ms: 20,
            retry_initial_ms: 50,
            retry_max_ms: 5_000,
            max_message_bytes: 1 << 20,
            max_tracked_viewers: 1_000_000,
            max_future_s: 600,
            max_profile_bytes: 256 << 10,
            max_cached_profiles: 50_000,
            module_workers: 0,
            stuck_after_s: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModuleConfig {
    /// A wasm module file, watched for changes. Default: the module built into the binary.
    pub path: Option<PathBuf>,
    /// Test vectors a candidate must pass. Default: the vectors built into the binary.
    pub vectors_dir: Option<PathBuf>,
    pub limits: Limits,
    pub health: HealthPolicy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub listen: String,
    /// Bearer token for the admin endpoints; none = admin endpoints off.
    pub admin_token: Option<String>,
    /// Bearer token required on `POST /ingest/snowbridge`; none = no token needed.
    pub ingest_token: Option<String>,
    /// Largest request body accepted (ingest and module uploads).
    pub max_body_bytes: usize,
    /// Most events in one ingest request; more is refused whole (413). Snowbridge's HTTP
    /// target sends a few hundred at most.
    pub max_ingest_events: usize,
    /// A request body must have arrived this long after its head (else 408).
    pub body_timeout_s: u64,
    /// A request head must be complete this long after its first byte.
    pub header_timeout_s: u64,
    /// A connection with no request under way (or whose client stops taking its answer) is
    /// closed after this long. Longer than a load balancer's own idle timeout (60 s on AWS),
    /// so that the balancer, not the host, closes its kept-alive connections.
    pub idle_timeout_s: u64,
    /// Connections served at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// Push-channel (`/api/events`) clients at once; one more is answered 503.
    pub max_push_clients: usize,
    /// Serve the dashboard from this directory instead of the copy built into the binary.
    pub dashboard_dir: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: DEFAULT_LISTEN.into(),
            admin_token: None,
            ingest_token: None,
            max_body_bytes: 16 << 20,
            max_ingest_events: 10_000,
            body_timeout_s: 30,
            header_timeout_s: 10,
            idle_timeout_s: 75,
            max_connections: 1024,
            max_push_clients: 256,
            dashboard_dir: None,
        }
    }
}

/// Where dead letters may go on this machine: embedded mode's file, and the spill file of a
/// Kafka dead-letter topic that refuses them. Both are bounded and rotated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeadLetterConfig {
    /// Past this size `dead-letters.jsonl` is renamed `dead-letters.1.jsonl` (the older ones
    /// shifting up) and a new one begins.
    pub max_file_bytes: u64,
    /// Rotated files kept; the oldest beyond them is deleted.
    pub keep_files: u32,
    /// Largest dead letter, encoded: a longer payload is cut to fit (its size and SHA-256
    /// are kept). Under Kafka's default message size (1 MB), which escaping can otherwise
    /// pass: a control character is six bytes in JSON.
    pub max_letter_bytes: usize,
}

impl Default for DeadLetterConfig {
    fn default() -> Self {
        DeadLetterConfig { max_file_bytes: 64 << 20, keep_files: 4, max_letter_bytes: 512 << 10 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActiveConfig {
    /// A viewer is active while its last event is this recent (pings come every 10-30 s).
    pub window_s: u64,
    pub clock: Clock,
}

impl Default for ActiveConfig {
    fn default() -> Self {
        ActiveConfig { window_s: 90, clock: Clock::Wall }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowsConfig {
    /// An event this much older than the newest event of its changelog partition is too late
    /// for the windows (dropped, and counted as late).
    pub allowed_lateness_s: u64,
    /// How often the counts are written, and every host's windows move.
    pub checkpoint_interval_ms: u64,
    /// Contents counted apart per minute and partition; the rest count as `(other)`.
    pub max_contents_per_minute: usize,
}

impl Default for WindowsConfig {
    fn default() -> Self {
        WindowsConfig { allowed_lateness_s: 120, checkpoint_interval_ms: 2000, max_contents_per_minute: 500 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

impl Config {
    /// File (if any) + environment, validated.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with(file, &vars)
    }

    pub fn load_with(file: Option<&Path>, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let (mut table, origin) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
                let table: toml::Table = toml::from_str(&text)
                    .map_err(|e| ConfigError::Invalid { origin: path.display().to_string(), message: e.to_string() })?;
                (table, path.display().to_string())
            }
            None => (toml::Table::new(), "defaults".to_string()),
        };
        apply_env(&mut table, env)?;
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid { origin: origin.clone(), message: e.to_string() })?;
        config.validate().map_err(|message| ConfigError::Invalid { origin, message })?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.data_dir.as_os_str().is_empty() {
            return Err("data_dir is empty".into());
        }
        self.listen_addr()?;
        let k = &self.source.kafka;
        if self.source.kind == SourceKind::Kafka {
            if k.brokers.trim().is_empty() || k.topic.trim().is_empty() || k.group_id.trim().is_empty() {
                return Err("source.kafka: brokers, topic and group_id must be set".into());
            }
            let topics =
                [k.topic.as_str(), &k.dead_letter_topic(), k.changelog_topic.as_str(), k.modules_topic.as_str(), k.metrics_topic.as_str()];
            if topics.iter().any(|t| t.trim().is_empty()) || (1..topics.len()).any(|i| topics[..i].contains(&topics[i])) {
                return Err(
                    "source.kafka: topic, dead_letter_topic, changelog_topic, modules_topic and metrics_topic must be set and differ".into(),
                );
            }
            k.validate_security()?;
        }
        let s = &self.source.simulator;
        if !(s.speed > 0.0 && s.speed <= 10_000.0) {
            return Err("source.simulator.speed must be above 0 and at most 10000".into());
        }
        if s.ping_interval_s == 0 {
            return Err("source.simulator.ping_interval_s must be at least 1".into());
        }
        let d = &self.store.dynamodb;
        if self.store.kind == StoreKind::Dynamodb {
            if d.profiles_table.is_empty() || d.history_table.is_empty() || d.profiles_table == d.history_table {
                return Err("store.dynamodb: profiles_table and history_table must be set and differ".into());
            }
            if d.write_concurrency == 0 {
                return Err("store.dynamodb.write_concurrency must be at least 1".into());
            }
        }
        if self.store.progress_flush_interval_ms < self.store.flush_interval_ms || self.store.progress_flush_interval_ms > 3_600_000 {
            return Err("store.progress_flush_interval_ms must be at least store.flush_interval_ms and at most an hour".into());
        }
        let p = &self.pipeline;
        if p.max_cached_profiles < 100 {
            return Err("pipeline.max_cached_profiles must be at least 100".into());
        }
        if p.batch_max == 0 || p.batch_max > 100_000 {
            return Err("pipeline.batch_max must be between 1 and 100000".into());
        }
        if p.module_workers > 64 {
            return Err("pipeline.module_workers must be at most 64 (0: one per core)".into());
        }
        if p.max_profile_bytes < 4096 || p.max_profile_bytes > 390 << 10 {
            return Err("pipeline.max_profile_bytes must be between 4096 and 399360 (DynamoDB's item limit)".into());
        }
        if p.max_message_bytes < 1024 || p.max_tracked_viewers == 0 {
            return Err("pipeline.max_message_bytes must be at least 1024 and max_tracked_viewers at least 1".into());
        }
        if p.stuck_after_s == 0 {
            return Err("pipeline.stuck_after_s must be at least 1".into());
        }
        if p.retry_initial_ms == 0 || p.retry_max_ms < p.retry_initial_ms {
            return Err("pipeline.retry_initial_ms must be at least 1 and at most retry_max_ms".into());
        }
        self.module.limits.validate()?;
        // Each worker runs its calls on an instance of its own; a candidate's check needs one more.
        if p.module_workers() >= self.module.limits.max_instances as usize {
            return Err("pipeline.module_workers must be below module.limits.max_instances".into());
        }
        self.module.health.validate()?;
        for (name, token) in [("http.admin_token", &self.http.admin_token), ("http.ingest_token", &self.http.ingest_token)] {
            if let Some(t) = token {
                if t.len() < 16 {
                    return Err(format!("{name} must be at least 16 characters"));
                }
            }
        }
        if self.http.max_body_bytes < 1024 {
            return Err("http.max_body_bytes must be at least 1024".into());
        }
        let h = &self.http;
        if [h.max_ingest_events, h.max_connections, h.max_push_clients].contains(&0)
            || [h.body_timeout_s, h.header_timeout_s, h.idle_timeout_s].contains(&0)
        {
            return Err("http: max_ingest_events, max_connections, max_push_clients and the timeouts must be at least 1".into());
        }
        let d = &self.dead_letters;
        if d.max_letter_bytes < 4096 || d.max_file_bytes < d.max_letter_bytes as u64 || d.keep_files > 1000 {
            return Err(
                "dead_letters: max_letter_bytes must be at least 4096, max_file_bytes at least max_letter_bytes, keep_files at most 1000".into(),
            );
        }
        if self.active.window_s == 0 {
            return Err("active.window_s must be at least 1".into());
        }
        let w = &self.windows;
        if w.allowed_lateness_s > 3600 || !(100..=60_000).contains(&w.checkpoint_interval_ms) || !(1..=10_000).contains(&w.max_contents_per_minute) {
            return Err(
                "windows: allowed_lateness_s at most 3600, checkpoint_interval_ms between 100 and 60000, max_contents_per_minute between 1 and 10000".into(),
            );
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        self.http.listen.parse().map_err(|_| format!("http.listen {:?} is not an address:port", self.http.listen))
    }
}

fn apply_env(table: &mut toml::Table, env: &[(String, String)]) -> Result<(), ConfigError> {
    for (name, value) in env {
        // An empty variable (as compose passes an unset one) means "not set".
        if value.is_empty() {
            continue;
        }
        let path: Vec<String> = if name == "LIVEVIEWER_DATA_DIR" {
            vec!["data_dir".into()]
        } else if name == "LIVEVIEWER_ADMIN_TOKEN" {
            vec!["http".into(), "admin_token".into()]
        } else if let Some(rest) = name.strip_prefix("LIVEVIEWER__") {
            rest.split("__").map(str::to_lowercase).collect()
        } else {
            continue;
        };
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Invalid { origin: format!("environment {name}"), message: "empty key".into() });
        }
        set_path(table, &path, parse_env_value(value))
            .map_err(|message| ConfigError::Invalid { origin: format!("environment {name}"), message })?;
    }
    Ok(())
}

/// Sets a dotted key, creating tables on the way.
pub fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut t = table;
    for p in parents {
        let entry = t.entry(p.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry.as_table_mut().ok_or_else(|| format!("{p} is not a table"))?;
    }
    t.insert(last.clone(), value);
    Ok(())
}

fn parse_env_value(raw: &str) -> toml::Value {
    let wrapped = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&wrapped) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn defaults_are_valid_and_embedded() {
        let c = Config::load_with(None, &[]).unwrap();
        assert_eq!(c.store.kind, StoreKind::Embedded);
        assert_eq!(c.http.listen, DEFAULT_LISTEN);
        assert_eq!(c.source.kafka.dead_letter_topic(), "snowplow-enriched-good.dead-letter");
    }

    #[test]
    fn the_default_listen_address_is_loopback() {
        assert!(Config::default().listen_addr().unwrap().ip().is_loopback());
    }

    #[test]
    fn unknown_keys_are_named() {
        let f = write("[source.kafka]\nbrokerz = \"x\"\n");
        let err = Config::load_with(Some(f.path()), &[]).unwrap_err().to_string();
        assert!(err.contains("brokerz"), "{err}");
        let err = Config::load_with(None, &env(&[("LIVEVIEWER__HTTP__LISTNE", "x")])).unwrap_err().to_string();
        assert!(err.contains("listne"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let f = write("[source]\nkind = \"kafka\"\n[source.kafka]\nbrokers = \"a:1\"\n[pipeline]\nbatch_max = 10\n");
        let c = Config::load_with(
            Some(f.path()),
            &env(&[
                ("LIVEVIEWER__SOURCE__KAFKA__BROKERS", "b:2"),
                ("LIVEVIEWER__PIPELINE__BATCH_MAX", "64"),
                ("LIVEVIEWER_DATA_DIR", "/tmp/x"),
                ("LIVEVIEWER_ADMIN_TOKEN", "0123456789abcdef"),
            ]),
        )
        .unwrap();
        assert_eq!(c.source.kafka.brokers, "b:2");
        assert_eq!(c.pipeline.batch_max, 64);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.http.admin_token.as_deref(), Some("0123456789abcdef"));
    }

    #[test]
    fn kafka_security_settings_must_agree_and_secrets_stay_out_of_debug_output() {
        let kafka = |extra: &[(&str, &str)]| {
            let mut e = vec![("LIVEVIEWER__SOURCE__KIND", "kafka")];
            e.extend_from_slice(extra);
            Config::load_with(None, &env(&e))
        };
        let scram = [
            ("LIVEVIEWER__SOURCE__KAFKA__SECURITY_PROTOCOL", "sasl_ssl"),
            ("LIVEVIEWER__SOURCE__KAFKA__SASL__MECHANISM", "SCRAM-SHA-512"),
            ("LIVEVIEWER__SOURCE__KAFKA__SASL__USERNAME", "u"),
            ("LIVEVIEWER__SOURCE__KAFKA__SASL__PASSWORD", "very-secret"),
        ];
        let c = kafka(&scram).unwrap();
        assert_eq!(c.source.kafka.sasl.mechanism, Some(SaslMechanism::ScramSha512));
        c.source.kafka.check_credentials().unwrap();
        assert!(!format!("{:?}", c.source.kafka).contains("very-secret"));
        // A mechanism without SASL, TLS files without TLS, a missing file, IAM without TLS.
        let err = kafka(&[("LIVEVIEWER__SOURCE__KAFKA__SASL__MECHANISM", "PLAIN")]).unwrap_err().to_string();
        assert!(err.contains("use sasl_ssl"), "{err}");
        let err = kafka(&[("LIVEVIEWER__SOURCE__KAFKA__TLS__CA_FILE", "/nonexistent/ca.pem"), ("LIVEVIEWER__SOURCE__KAFKA__SECURITY_PROTOCOL", "ssl")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
        let err = kafka(&[("LIVEVIEWER__SOURCE__KAFKA__SECURITY_PROTOCOL", "sasl_plaintext"), ("LIVEVIEWER__SOURCE__KAFKA__SASL__MECHANISM", "AWS_MSK_IAM")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("AWS_MSK_IAM needs"), "{err}");
        assert!(kafka(&[("LIVEVIEWER__SOURCE__KAFKA__SASL__MECHANISM", "KERBEROS-ISH")]).is_err());
        // The password is checked when a client is made, not before `profiles` may run.
        let c = kafka(&scram[..3]).unwrap();
        assert!(c.source.kafka.check_credentials().unwrap_err().contains("password"));
    }

    #[test]
    fn bad_values_are_refused_before_start() {
        for (k, v) in [
            ("LIVEVIEWER__PIPELINE__BATCH_MAX", "0"),
            ("LIVEVIEWER__HTTP__LISTEN", "localhost"),
            ("LIVEVIEWER_ADMIN_TOKEN", "short"),
            ("LIVEVIEWER__ACTIVE__CLOCK", "sundial"),
        ] {
            assert!(Config::load_with(None, &env(&[(k, v)])).is_err(), "{k}={v}");
        }
    }
}
