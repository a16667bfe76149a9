//! Configuration: one TOML file, then environment overrides, then command-line flags. Unknown
//! keys are an error naming the key; every value is checked by [`Config::validate`] before
//! anything starts.
//!
//! Environment: `LIVEVIEWER__SECTION__KEY=value` sets any key (`LIVEVIEWER__SOURCE__KAFKA__BROKERS`),
//! the value read as TOML when it parses as such (numbers, booleans, arrays) and as a string
//! otherwise; `LIVEVIEWER_DATA_DIR` and `LIVEVIEWER_ADMIN_TOKEN` are shorthands.
//!
//! This file holds the whole and how it is loaded and checked; the sections are beside it
//! (`kafka.rs`: the Kafka client settings; `sections.rs`: the rest).

mod kafka;
mod sections;

pub use kafka::{KafkaConfig, SaslConfig, SaslMechanism, SecurityProtocol, TlsConfig};
pub use sections::{
    ActiveConfig, DeadLetterConfig, DynamoConfig, HttpConfig, ModuleConfig, PipelineConfig, SimulatorConfig, StoreConfig, StoreKind,
    WindowsConfig,
};

use serde::{Deserialize, Serialize};
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
