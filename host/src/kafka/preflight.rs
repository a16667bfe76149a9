//! The start-up check of a Kafka connection. librdkafka retries a broker it cannot talk to
//! for ever, logging the same lines again and again: a wrong password, an untrusted CA or a
//! certificate for another host name would leave the host running, consuming nothing. Before
//! the host consumes anything, one client connects, authenticates and asks for the topic's
//! metadata; a failure that retrying cannot fix becomes one error that names its cause, and
//! the host stops.

use super::{client_config, describe, KafkaContext};
use crate::config::KafkaConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::time::{Duration, Instant};

/// Why the host cannot use its Kafka connection; what the operator must fix.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The credentials were refused: a wrong user name or password, an unknown user, a
    /// mechanism the broker does not enable, or a token the broker does not accept.
    #[error("Kafka at {target}: SASL authentication failed: {detail}")]
    AuthenticationFailed { target: String, detail: String },
    /// The broker's certificate does not chain to a CA the host trusts.
    #[error("Kafka at {target}: TLS: the broker's certificate is not signed by a trusted CA ({trust}): {detail}")]
    UntrustedCertificate { target: String, trust: String, detail: String },
    /// The certificate is valid but for other host names than the one connected to.
    #[error("Kafka at {target}: TLS: the broker's certificate is not valid for the host name {host} (check the broker address, or the certificate's names): {detail}")]
    WrongHostName { target: String, host: String, detail: String },
    /// Any other TLS failure (a plaintext listener, a client certificate the broker wants).
    #[error("Kafka at {target}: TLS handshake failed: {detail}")]
    Tls { target: String, detail: String },
    /// Our own settings are refused by librdkafka or a token cannot be made.
    #[error("Kafka client settings: {0}")]
    Settings(String),
    /// No broker answered in time: may pass (the broker is starting); the caller waits.
    #[error("Kafka at {target}: no broker answered: {detail}")]
    Unreachable { target: String, detail: String },
}

impl ConnectError {
    /// Whether waiting could help.
    pub fn transient(&self) -> bool {
        matches!(self, ConnectError::Unreachable { .. })
    }
}

/// Connects once and checks that `topic` can be described, within `timeout`.
pub fn check(cfg: &KafkaConfig, topic: &str, timeout: Duration) -> Result<(), ConnectError> {
    let target = describe(cfg);
    let context = KafkaContext::new(cfg).map_err(|e| ConnectError::Settings(e.to_string()))?;
    let mut c = client_config(cfg, "liveviewer-preflight");
    // A group id routes librdkafka's events (errors, token refreshes) to the queue this
    // client polls; it never joins the group.
    c.set("group.id", &cfg.group_id).set("enable.auto.commit", "false");
    let consumer: BaseConsumer<KafkaContext> =
        c.create_with_context(context).map_err(|e| ConnectError::Settings(e.to_string()))?;
    // A token source that fails is a refused client: the identity provider said no.
    if let Err(e) = super::prime_token(consumer.client(), cfg) {
        return Err(ConnectError::AuthenticationFailed { target, detail: format!("{e:#}") });
    }
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < timeout {
        // Serves token refreshes and collects errors.
        let _ = consumer.poll(Duration::from_millis(50));
        if let Some(fatal) = diagnose(cfg, &target, &consumer.context().errors()) {
            return Err(fatal);
        }
        match consumer.fetch_metadata(Some(topic), Duration::from_millis(1000)) {
            Ok(m) if !m.brokers().is_empty() => return Ok(()),
            Ok(_) => last = "the cluster lists no brokers".into(),
            Err(e) => last = e.to_string(),
        }
    }
    let _ = consumer.poll(Duration::from_millis(50));
    if let Some(fatal) = diagnose(cfg, &target, &consumer.context().errors()) {
        return Err(fatal);
    }
    let seen = consumer.context().errors();
    let detail = seen.last().map(|(e, r)| format!("{e}: {r}")).unwrap_or(last);
    Err(ConnectError::Unreachable { target, detail })
}

/// The first error among `errors` that retrying will not fix.
fn diagnose(cfg: &KafkaConfig, target: &str, errors: &[(KafkaError, String)]) -> Option<ConnectError> {
    let target = target.to_owned();
    for (error, reason) in errors {
        let code = error.rdkafka_error_code();
        let detail = reason.clone();
        match code {
            Some(RDKafkaErrorCode::Authentication) | Some(RDKafkaErrorCode::SaslAuthenticationFailed) => {
                return Some(ConnectError::AuthenticationFailed { target, detail })
            }
            Some(RDKafkaErrorCode::SSL) => return Some(classify_tls(cfg, target, detail)),
            Some(RDKafkaErrorCode::InvalidArgument) | Some(RDKafkaErrorCode::InvalidConfig) => {
                return Some(ConnectError::Settings(detail))
            }
            _ => {}
        }
        // A token source that fails (an OIDC endpoint refusing the client) is reported by
        // librdkafka as a generic failure with our message in it.
        if reason.contains("OAUTHBEARER") && reason.contains("token") && reason.contains("fail") {
            return Some(ConnectError::AuthenticationFailed { target, detail });
        }
    }
    None
}

/// librdkafka says "certificate verify failed" for an unknown CA and for a certificate of
/// another host alike: a handshake of our own, first without the host name check and then
/// with it, tells them apart.
fn classify_tls(cfg: &KafkaConfig, target: String, detail: String) -> ConnectError {
    let trust = match &cfg.tls.ca_file {
        Some(f) => format!("tls.ca_file = {}", f.display()),
        None => "the system's trust store".to_owned(),
    };
    let lower = detail.to_lowercase();
    let verify_failed = lower.contains("certificate verify failed") || lower.contains("failed to verify broker certificate");
    let host_port = endpoint_of(&detail).or_else(|| cfg.brokers.split(',').next().map(|b| b.trim().to_owned()));
    if verify_failed {
        if let Some(hp) = host_port {
            match probe_certificate(cfg, &hp) {
                Probe::Untrusted(why) => return ConnectError::UntrustedCertificate { target, trust, detail: why },
                Probe::OtherHost(host) => return ConnectError::WrongHostName { target, host, detail },
                Probe::Inconclusive => {}
            }
        }
        return ConnectError::UntrustedCertificate { target, trust, detail };
    }
    ConnectError::Tls { target, detail }
}

enum Probe {
    /// The chain does not verify, with OpenSSL's reason.
    Untrusted(String),
    /// The chain verifies, but not for this host name.
    OtherHost(String),
    Inconclusive,
}

/// Connects to `host_port` twice with the host's trust settings: without the host name
/// check, then with it.
fn probe_certificate(cfg: &KafkaConfig, host_port: &str) -> Probe {
    use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
    let Some((host, _)) = host_port.rsplit_once(':') else { return Probe::Inconclusive };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let handshake = |check_name: bool| -> Result<(), String> {
        let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(|_| String::new())?;
        b.set_verify(SslVerifyMode::PEER);
        match &cfg.tls.ca_file {
            Some(ca) => b.set_ca_file(ca).map_err(|e| e.to_string())?,
            None => {
                let found = openssl_probe::probe();
                if let Some(file) = found.cert_file {
                    let _ = b.set_ca_file(file);
                }
            }
        }
        let connector = b.build();
        // Not reaching the broker says nothing about its certificate.
        let tcp = std::net::TcpStream::connect(host_port).map_err(|_| String::new())?;
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
        let mut conf = connector.configure().map_err(|e| e.to_string())?;
        conf.set_verify_hostname(check_name);
        conf.set_use_server_name_indication(true);
        match conf.connect(&host, tcp) {
            Ok(_) => Ok(()),
            Err(openssl::ssl::HandshakeError::Failure(mid)) => Err(match mid.ssl().verify_result() {
                v if v != openssl::x509::X509VerifyResult::OK => v.error_string().to_owned(),
                _ => mid.error().to_string(),
            }),
            Err(e) => Err(e.to_string()),
        }
    };
    match handshake(false) {
        Err(why) if why.is_empty() => Probe::Inconclusive,
        Err(why) => Probe::Untrusted(why),
        Ok(()) => match handshake(true) {
            Err(_) => Probe::OtherHost(host),
            Ok(()) => Probe::Inconclusive,
        },
    }
}

/// The `host:port` of librdkafka's `sasl_ssl://host:port/...` prefix.
fn endpoint_of(detail: &str) -> Option<String> {
    let rest = &detail[detail.find("://")? + 3..];
    Some(rest.split('/').next()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: RDKafkaErrorCode, reason: &str) -> Vec<(KafkaError, String)> {
        vec![(KafkaError::Global(code), reason.to_owned())]
    }

    #[test]
    fn refused_credentials_are_named() {
        let cfg = KafkaConfig::default();
        let e = diagnose(&cfg, "b", &err(RDKafkaErrorCode::Authentication, "SASL authentication error: Authentication failed")).unwrap();
        assert!(matches!(e, ConnectError::AuthenticationFailed { .. }), "{e}");
        assert!(!e.transient());
    }

    #[test]
    fn tls_failures_are_told_apart() {
        let cfg = KafkaConfig::default();
        let unknown = "ssl://localhost:1234/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified";
        assert!(matches!(diagnose(&cfg, "b", &err(RDKafkaErrorCode::SSL, unknown)).unwrap(), ConnectError::UntrustedCertificate { .. }));
        let other = "ssl://localhost:1234/bootstrap: SSL handshake failed: error:0A000410:SSL routines::sslv3 alert handshake failure";
        assert!(matches!(diagnose(&cfg, "b", &err(RDKafkaErrorCode::SSL, other)).unwrap(), ConnectError::Tls { .. }));
        assert_eq!(endpoint_of("sasl_ssl://127.0.0.1:1234/bootstrap: SSL handshake failed").as_deref(), Some("127.0.0.1:1234"));
    }

    #[test]
    fn a_broker_that_is_down_is_not_fatal() {
        let cfg = KafkaConfig::default();
        assert!(diagnose(&cfg, "b", &err(RDKafkaErrorCode::BrokerTransportFailure, "Connection refused")).is_none());
        assert!(diagnose(&cfg, "b", &err(RDKafkaErrorCode::AllBrokersDown, "1/1 brokers are down")).is_none());
    }
}
