//! The configuration's other sections: the simulator, the store, the pipeline, the module,
//! HTTP, dead letters, the active window and the windowed metrics, each with its defaults.

use super::DEFAULT_LISTEN;
use crate::lifecycle::health::HealthPolicy;
use crate::module::Limits;
use crate::profile::Clock;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    /// A viewer that sent nothing for this long is held compactly: its written profile in the
    /// working set as its stored encoding (about a fifth of the memory; decoded on its next
    /// event), its JSON in the live view compressed (decompressed when read). 0: never.
    pub pack_idle_after_ms: u64,
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
            pack_idle_after_ms: 1_000,
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
