//! The host through a TLS listener with SASL/SCRAM, as on Amazon MSK, Confluent Cloud or
//! Aiven: it consumes and dead-letters through it; a wrong password, an unknown CA or a wrong
//! host name each stop it at start-up with one line that names the cause, before it consumes
//! anything.

use liveviewer_testkit::kafka::{SCRAM_PASSWORD, SCRAM_USER};
use liveviewer_testkit::tls::Ca;
use liveviewer_testkit::*;
use std::path::Path;
use std::time::Duration;

struct Secure<'a> {
    brokers: String,
    ca: &'a Path,
    mechanism: &'a str,
    password: &'a str,
}

fn config(dir: &Path, name: &str, topic: &str, s: &Secure<'_>) -> std::path::PathBuf {
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
topic = "{topic}"
group_id = "{name}"
security_protocol = "sasl_ssl"
[source.kafka.tls]
ca_file = "{ca}"
[source.kafka.sasl]
mechanism = "{mechanism}"
username = "{SCRAM_USER}"
[http]
listen = "127.0.0.1:0"
"#,
            data = dir.join(format!("data-{name}")).display(),
            brokers = s.brokers,
            ca = s.ca.display(),
            mechanism = s.mechanism,
        ),
    )
}

#[test]
fn the_host_consumes_and_dead_letters_through_tls_and_scram() {
    let _serial = serial();
    let kafka = Kafka::start_secure();
    kafka.create_topic("secure", 2);
    kafka.create_topic("secure.dead-letter", 1);
    let (mut msgs, _) = workload(1_500, 31);
    // Two lines that are not events: they must reach the dead-letter topic, over TLS too.
    msgs.push(("bad".into(), b"not an enriched event".to_vec()));
    msgs.push(("bad".into(), vec![b'\t'; 129]));
    let file = events_file(&msgs);
    kafka.produce("secure", &msgs);
    let dir = tempfile::tempdir().unwrap();
    let s = Secure { brokers: kafka.secure_addr(), ca: &kafka.secure().ca.cert, mechanism: "SCRAM-SHA-512", password: SCRAM_PASSWORD };
    let config = config(dir.path(), "secure", "secure", &s);
    // The password comes from the environment, as a secret would.
    let host = Host::start(&["run", "--config", config.to_str().unwrap()], &[("LIVEVIEWER__SOURCE__KAFKA__SASL__PASSWORD", s.password)]);
    wait_until("the topic consumed over TLS", Duration::from_secs(120), || kafka.caught_up("secure", "secure", 2));
    let _ = try_wait_until(Duration::from_secs(10), || host.metric("liveviewer_events_total") as usize >= msgs.len());
    assert_eq!(host.metric("liveviewer_events_total") as usize, msgs.len());
    let letters = kafka.read_all("secure.dead-letter");
    assert_eq!(letters.len(), 2, "both bad lines dead-lettered through the secure listener");
    let log = host.log_text();
    assert!(!log.contains(SCRAM_PASSWORD), "the password never reaches the log");
    drop(host);
    assert_same_profiles(&replayed_profiles(file.path()), &profiles(&config), "over SASL_SSL");
}

/// Starts the host with `s` and expects it to stop by itself, saying `expected` in one line.
fn refused(kafka: &Kafka, name: &str, s: &Secure<'_>, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), name, "guarded", s);
    let started = std::time::Instant::now();
    let out = cli_output(
        &["run", "--config", config.to_str().unwrap()],
        &[("LIVEVIEWER__SOURCE__KAFKA__SASL__PASSWORD", s.password), ("LIVEVIEWER_LOG", "error")],
    );
    assert!(started.elapsed() < Duration::from_secs(60), "{name}: stopped in {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(2), "{name}: exits with the configuration error status");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{name}: one error line: {stderr}");
    for word in expected {
        assert!(lines[0].contains(word), "{name}: {word:?} in {:?}", lines[0]);
    }
    assert!(!stderr.contains(SCRAM_PASSWORD), "{name}: no password in the output");
    assert_eq!(kafka.committed_total(name, "guarded", 1), 0, "{name}: nothing consumed");
}

#[test]
fn a_wrong_password_an_unknown_ca_or_a_wrong_host_name_stop_the_host_at_start_up_naming_the_cause() {
    let _serial = serial();
    let kafka = Kafka::start_secure();
    kafka.create_topic("guarded", 1);
    kafka.create_topic("guarded.dead-letter", 1);
    let (msgs, _) = workload(50, 32);
    kafka.produce("guarded", &msgs);
    let ca = &kafka.secure().ca.cert;
    let right = Secure { brokers: kafka.secure_addr(), ca, mechanism: "SCRAM-SHA-256", password: SCRAM_PASSWORD };

    refused(&kafka, "wrong-password", &Secure { password: "not-the-password", ..right }, &["SASL authentication failed"]);
    let s = Secure { brokers: kafka.secure_addr(), ca, mechanism: "SCRAM-SHA-256", password: SCRAM_PASSWORD };
    let other = tempfile::tempdir().unwrap();
    let stranger = Ca::new(other.path(), "stranger");
    refused(&kafka, "unknown-ca", &Secure { ca: &stranger.cert, ..s }, &["not signed by a trusted CA", "stranger.pem"]);
    // The certificate is for `localhost`; the same broker by its address is another host name.
    let by_address = Secure { brokers: format!("127.0.0.1:{}", kafka.secure().port), ca, mechanism: "SCRAM-SHA-256", password: SCRAM_PASSWORD };
    refused(&kafka, "wrong-host", &by_address, &["not valid for the host name 127.0.0.1"]);

    // And with everything right, the same broker serves the same host.
    let dir = tempfile::tempdir().unwrap();
    let good = Secure { brokers: kafka.secure_addr(), ca, mechanism: "SCRAM-SHA-256", password: SCRAM_PASSWORD };
    let config = config(dir.path(), "right", "guarded", &good);
    let host = Host::start(&["run", "--config", config.to_str().unwrap()], &[("LIVEVIEWER__SOURCE__KAFKA__SASL__PASSWORD", SCRAM_PASSWORD)]);
    wait_until("the topic consumed", Duration::from_secs(60), || kafka.caught_up("right", "guarded", 1));
    drop(host);
}

/// base64url without padding.
fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// An OIDC token endpoint (client credentials grant) that issues unsigned tokens for one
/// client, as Kafka's test validator accepts them; the number of tokens it issued.
fn token_endpoint(client_id: &'static str, secret: &'static str) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = issued.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let (mut auth, mut length) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("authorization: basic ") {
                    auth = line[line.len() - v.len()..].trim().to_owned();
                }
                if let Some(v) = lower.strip_prefix("content-length: ") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let expected = b64url(format!("{client_id}:{secret}").as_bytes());
            // Basic auth is standard base64; compare without padding and alphabet differences.
            let norm = |s: &str| s.trim_end_matches('=').replace('+', "-").replace('/', "_");
            let (status, json) = if norm(&auth) == expected && String::from_utf8_lossy(&body).contains("grant_type=client_credentials") {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
                let claims = format!(r#"{{"sub":"{client_id}","iat":{now},"exp":{}}}"#, now + 3600);
                let token = format!("{}.{}.", b64url(br#"{"alg":"none"}"#), b64url(claims.as_bytes()));
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                ("200 OK", format!(r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600}}"#))
            } else {
                ("401 Unauthorized", r#"{"error":"invalid_client"}"#.to_owned())
            };
            let mut s = stream;
            let _ = write!(s, "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}", json.len());
        }
    });
    (url, issued)
}

fn oauth_config(dir: &Path, name: &str, kafka: &Kafka, endpoint: &str, secret: &str) -> std::path::PathBuf {
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
topic = "tokens"
group_id = "{name}"
security_protocol = "sasl_ssl"
[source.kafka.tls]
ca_file = "{ca}"
[source.kafka.sasl]
mechanism = "OAUTHBEARER"
token_endpoint = "{endpoint}"
client_id = "liveviewer-host"
client_secret = "{secret}"
[http]
listen = "127.0.0.1:0"
"#,
            data = dir.join(format!("data-{name}")).display(),
            brokers = kafka.secure_addr(),
            ca = kafka.secure().ca.cert.display(),
        ),
    )
}

#[test]
fn oauthbearer_tokens_from_an_oidc_endpoint_and_plain_credentials_are_taken_and_a_refused_client_stops_the_host() {
    let _serial = serial();
    let kafka = Kafka::start_secure();
    kafka.create_topic("tokens", 1);
    kafka.create_topic("tokens.dead-letter", 1);
    let (msgs, file) = workload(300, 33);
    kafka.produce("tokens", &msgs);
    let (endpoint, issued) = token_endpoint("liveviewer-host", "the-client-secret");
    let dir = tempfile::tempdir().unwrap();

    // OAUTHBEARER: the host fetches a token and consumes with it.
    let oauth = oauth_config(dir.path(), "oauth", &kafka, &endpoint, "the-client-secret");
    let host = Host::start(&["run", "--config", oauth.to_str().unwrap()], &[]);
    wait_until("consumed with an OAuth token", Duration::from_secs(90), || kafka.caught_up("oauth", "tokens", 1));
    assert!(issued.load(std::sync::atomic::Ordering::Relaxed) >= 1, "tokens came from the endpoint");
    drop(host);
    assert_same_profiles(&replayed_profiles(file.path()), &profiles(&oauth), "over OAUTHBEARER");

    // A client the identity provider refuses: stopped at start-up, nothing consumed.
    let refused = oauth_config(dir.path(), "oauth-refused", &kafka, &endpoint, "not-the-secret");
    let out = cli_output(&["run", "--config", refused.to_str().unwrap()], &[("LIVEVIEWER_LOG", "error")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let line: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(line.len(), 1, "{stderr}");
    assert!(line[0].contains("SASL authentication failed") && line[0].contains("401"), "{}", line[0]);
    assert_eq!(kafka.committed_total("oauth-refused", "tokens", 1), 0);

    // PLAIN, as managed services with API keys use it.
    let s = Secure { brokers: kafka.secure_addr(), ca: &kafka.secure().ca.cert, mechanism: "PLAIN", password: SCRAM_PASSWORD };
    let plain = config(dir.path(), "plain", "tokens", &s);
    let host = Host::start(&["run", "--config", plain.to_str().unwrap()], &[("LIVEVIEWER__SOURCE__KAFKA__SASL__PASSWORD", SCRAM_PASSWORD)]);
    wait_until("consumed with PLAIN", Duration::from_secs(90), || kafka.caught_up("plain", "tokens", 1));
    drop(host);
}
