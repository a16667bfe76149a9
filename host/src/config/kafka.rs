//! The Kafka client settings: where the brokers are, the topics the host reads and writes, and
//! how every client connects (TLS, SASL). `crate::kafka` turns them into librdkafka properties.

use super::DEFAULT_TOPIC;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

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
    pub(super) fn validate_security(&self) -> Result<(), String> {
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
