//! How the host talks to Kafka, whatever for (the source's consumer group, the dead-letter and
//! changelog producers, the fleet's readers): one set of client settings from the
//! configuration (brokers, TLS, SASL), one client context (quiet logs, the errors kept for a
//! diagnosis, OAUTHBEARER tokens), and the start-up check that names what is wrong with a
//! connection before anything is consumed.

pub mod auth;
pub mod preflight;
pub mod topics;

use crate::config::{KafkaConfig, SaslMechanism};
use auth::TokenSource;
use rdkafka::client::OAuthToken;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;
use rdkafka::ClientContext;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The client settings every Kafka client of the host starts from.
pub fn client_config(cfg: &KafkaConfig, client_id: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers).set("client.id", client_id);
    c.set("security.protocol", cfg.security_protocol.librdkafka());
    if cfg.security_protocol.tls() {
        let tls = &cfg.tls;
        match &tls.ca_file {
            Some(ca) => c.set("ssl.ca.location", ca.display().to_string()),
            // OpenSSL is built into the binary, so its compiled-in default paths mean nothing
            // on the machine it runs on: look where the system keeps its CA bundle.
            None => c.set("ssl.ca.location", "probe"),
        };
        if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            c.set("ssl.certificate.location", cert.display().to_string()).set("ssl.key.location", key.display().to_string());
        }
        if let Some(p) = &tls.key_password {
            c.set("ssl.key.password", p);
        }
        c.set("ssl.endpoint.identification.algorithm", if tls.verify_hostname { "https" } else { "none" });
    }
    if cfg.security_protocol.sasl() {
        if let Some(m) = cfg.sasl.mechanism {
            c.set("sasl.mechanisms", m.librdkafka());
            if let (Some(u), Some(p)) = (&cfg.sasl.username, &cfg.sasl.password) {
                c.set("sasl.username", u).set("sasl.password", p);
            }
        }
    }
    for (k, v) in &cfg.properties {
        c.set(k, v);
    }
    c
}

/// A producer of the host (dead letters, the profile changelog, the fleet's registry).
pub type Producer = FutureProducer<KafkaContext>;

/// A producer acknowledged by all in-sync replicas and idempotent, so a retried send is
/// neither lost nor duplicated; `tuning` adds what its use needs (linger, compression).
pub fn producer(cfg: &KafkaConfig, client_id: &str, tuning: &[(&str, &str)]) -> anyhow::Result<Producer> {
    let mut c = client_config(cfg, client_id);
    c.set("acks", "all").set("enable.idempotence", "true").set("linger.ms", "5");
    for (k, v) in tuning {
        c.set(*k, *v);
    }
    // The operator's own properties win.
    for (k, v) in &cfg.properties {
        c.set(k, v);
    }
    use anyhow::Context as _;
    let p: Producer = c.create_with_context(KafkaContext::new(cfg)?).with_context(|| format!("creating the Kafka producer {client_id}"))?;
    use rdkafka::producer::Producer as _;
    prime_token(p.client(), cfg)?;
    Ok(p)
}

/// Hands a new client its first OAUTHBEARER token at once. librdkafka asks for tokens through
/// an event that only a polled client serves, and some clients ask the broker something before
/// they are first polled (a metadata lookup, an admin request, a reader's start offsets);
/// without a token they would fail as if the broker were down. Later tokens come through the
/// event as usual. Nothing to do for other mechanisms.
pub fn prime_token<C: rdkafka::client::ClientContext>(client: &rdkafka::client::Client<C>, cfg: &KafkaConfig) -> anyhow::Result<()> {
    if !cfg.security_protocol.sasl() {
        return Ok(());
    }
    let Some(source) = auth::token_source(&cfg.sasl)? else { return Ok(()) };
    let token = source.token()?;
    let value = std::ffi::CString::new(token.token)?;
    let principal = std::ffi::CString::new(token.principal_name)?;
    let mut errstr = [0 as std::os::raw::c_char; 512];
    // SAFETY: the handle is the live client the caller borrows to us (a raw pointer here
    // would let safe code pass any address); the strings outlive the call, which copies them.
    let err = unsafe {
        rdkafka::bindings::rd_kafka_oauthbearer_set_token(
            client.native_ptr(),
            value.as_ptr(),
            token.lifetime_ms,
            principal.as_ptr(),
            std::ptr::null_mut(),
            0,
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    if err != rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        // SAFETY: librdkafka wrote a NUL-terminated message into the buffer.
        let why = unsafe { std::ffi::CStr::from_ptr(errstr.as_ptr()) }.to_string_lossy().into_owned();
        anyhow::bail!("setting the OAUTHBEARER token: {why}");
    }
    Ok(())
}

/// What the configuration says a client is, in words for a log line or an error.
pub fn describe(cfg: &KafkaConfig) -> String {
    let mut s = format!("{} ({}", cfg.brokers, cfg.security_protocol.librdkafka());
    if let Some(m) = cfg.sasl.mechanism.filter(|_| cfg.security_protocol.sasl()) {
        s.push_str(&format!(", {}", m.librdkafka()));
        if matches!(m, SaslMechanism::AwsMskIam) {
            s.push_str(" with AWS IAM");
        } else if let Some(u) = &cfg.sasl.username {
            s.push_str(&format!(" as {u}"));
        }
    }
    s.push(')');
    s
}

/// Errors librdkafka reported, kept for the start-up diagnosis.
const KEPT_ERRORS: usize = 16;

/// The context of every Kafka client of the host: librdkafka's logs as tracing events (each
/// distinct warning at most every 30 s: a broker that is down would otherwise print the same
/// lines several times a second), its errors kept for [`preflight`], OAUTHBEARER tokens, and
/// for the group consumer, the partitions revoked since the source last looked.
pub struct KafkaContext {
    last_warning: Mutex<Option<(String, Instant)>>,
    errors: Mutex<VecDeque<(KafkaError, String)>>,
    tokens: Option<Arc<dyn TokenSource>>,
    pub revoked: Mutex<HashSet<(String, i32)>>,
    /// How many assignments the group has handed this member.
    assignments: AtomicU64,
}

impl KafkaContext {
    pub fn new(cfg: &KafkaConfig) -> anyhow::Result<Self> {
        cfg.check_credentials().map_err(anyhow::Error::msg)?;
        let tokens = if cfg.security_protocol.sasl() { auth::token_source(&cfg.sasl)? } else { None };
        Ok(KafkaContext {
            last_warning: Mutex::new(None),
            errors: Mutex::new(VecDeque::new()),
            tokens,
            revoked: Mutex::new(HashSet::new()),
            assignments: AtomicU64::new(0),
        })
    }

    fn warn(&self, text: String) {
        let mut last = self.last_warning.lock().expect("kafka log");
        let repeat = last.as_ref().is_some_and(|(t, at)| *t == text && at.elapsed() < Duration::from_secs(30));
        if !repeat {
            tracing::warn!(target: "librdkafka", "{text}");
            *last = Some((text, Instant::now()));
        }
    }

    /// Changes each time the group assigns this member partitions.
    pub fn assignments(&self) -> u64 {
        self.assignments.load(Ordering::Relaxed)
    }

    /// The errors reported so far, oldest first.
    pub fn errors(&self) -> Vec<(KafkaError, String)> {
        self.errors.lock().expect("kafka errors").iter().cloned().collect()
    }
}

impl ClientContext for KafkaContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Debug | RDKafkaLogLevel::Info | RDKafkaLogLevel::Notice => {
                tracing::debug!(target: "librdkafka", "{fac} {message}")
            }
            _ => self.warn(format!("{fac} {message}")),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        {
            let mut errors = self.errors.lock().expect("kafka errors");
            if errors.len() == KEPT_ERRORS {
                errors.pop_front();
            }
            errors.push_back((error.clone(), reason.to_owned()));
        }
        self.warn(format!("{error}: {reason}"));
    }

    fn generate_oauth_token(&self, _config: Option<&str>) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        match &self.tokens {
            Some(t) => t.token().map_err(|e| e.to_string().into()),
            None => Err("no OAUTHBEARER token source is configured (source.kafka.sasl.mechanism)".into()),
        }
    }
}

impl ConsumerContext for KafkaContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            // Everything processed so far has its offset stored: hand it over committed.
            if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
                tracing::debug!(error = %e, "commit on revocation (nothing stored is fine)");
            }
            let mut revoked = self.revoked.lock().expect("revoked");
            for e in tpl.elements() {
                revoked.insert((e.topic().to_owned(), e.partition()));
            }
            tracing::info!(partitions = ?tpl.elements().iter().map(|e| e.partition()).collect::<Vec<_>>(), "partitions revoked");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let parts: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
            tracing::info!(partitions = ?parts, "partitions assigned");
            self.assignments.fetch_add(1, Ordering::Relaxed);
            // A partition assigned again is ours again.
            let mut revoked = self.revoked.lock().expect("revoked");
            for e in tpl.elements() {
                revoked.remove(&(e.topic().to_owned(), e.partition()));
            }
        }
    }
}
