//! OAUTHBEARER tokens, which librdkafka asks the client context for whenever the last one is
//! about to expire: from an OIDC token endpoint (client credentials grant, as Confluent Cloud
//! and most identity providers offer), or signed with AWS credentials for Amazon MSK's IAM
//! authentication.
//!
//! librdkafka asks from whichever thread polls the client, sometimes a tokio worker, so the
//! network and credential calls run on a thread of their own with their own small runtime.

use crate::config::{SaslConfig, SaslMechanism};
use base64::Engine;
use rdkafka::client::OAuthToken;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("OIDC token endpoint {endpoint}: {reason}")]
    Oidc { endpoint: String, reason: String },
    #[error("AWS credentials for MSK IAM: {0}")]
    AwsCredentials(String),
    #[error("signing the MSK IAM token: {0}")]
    Signing(String),
}

pub trait TokenSource: Send + Sync {
    fn token(&self) -> Result<OAuthToken, TokenError>;
}

/// The token source the SASL settings ask for, if they ask for one.
pub fn token_source(sasl: &SaslConfig) -> anyhow::Result<Option<Arc<dyn TokenSource>>> {
    Ok(match sasl.mechanism {
        Some(SaslMechanism::OauthBearer) => Some(Arc::new(Oidc {
            endpoint: sasl.token_endpoint.clone().unwrap_or_default(),
            client_id: sasl.client_id.clone().unwrap_or_default(),
            client_secret: sasl.client_secret.clone().unwrap_or_default(),
            scope: sasl.scope.clone(),
        })),
        Some(SaslMechanism::AwsMskIam) => Some(Arc::new(MskIam { region: sasl.region.clone() })),
        _ => None,
    })
}

/// Runs `f` on a thread of its own, with a runtime of its own.
fn off_thread<T: Send + 'static>(f: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(f))
        .join()
        .expect("token thread")
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

struct Oidc {
    endpoint: String,
    client_id: String,
    client_secret: String,
    scope: Option<String>,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenSource for Oidc {
    fn token(&self) -> Result<OAuthToken, TokenError> {
        let (endpoint, id, secret, scope) = (self.endpoint.clone(), self.client_id.clone(), self.client_secret.clone(), self.scope.clone());
        let fail = |reason: String| TokenError::Oidc { endpoint: self.endpoint.clone(), reason };
        let answer = off_thread(async move {
            let mut form = vec![("grant_type", "client_credentials".to_string())];
            if let Some(s) = scope {
                form.push(("scope", s));
            }
            let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| e.to_string())?;
            let r = client.post(&endpoint).basic_auth(id, Some(secret)).form(&form).send().await.map_err(|e| e.to_string())?;
            let status = r.status();
            let text = r.text().await.map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(format!("answered {status}: {}", text.chars().take(200).collect::<String>()));
            }
            serde_json::from_str::<TokenAnswer>(&text).map_err(|e| format!("not a token answer: {e}"))
        })
        .map_err(fail)?;
        // Without a stated lifetime, refresh within the hour.
        let lifetime_ms = now_ms() + answer.expires_in.unwrap_or(3600) as i64 * 1000;
        Ok(OAuthToken { token: answer.access_token, principal_name: self.client_id.clone(), lifetime_ms })
    }
}

/// Amazon MSK's IAM authentication: the token is a SigV4-presigned
/// `kafka-cluster:Connect` request for the cluster's region, base64url-encoded; the broker
/// checks the signature against the IAM policy of the credentials that made it.
struct MskIam {
    region: Option<String>,
}

/// How long a signed token is valid (MSK accepts up to 15 minutes; librdkafka refreshes at
/// 80% of the lifetime).
const MSK_TOKEN_LIFETIME: Duration = Duration::from_secs(900);

impl TokenSource for MskIam {
    fn token(&self) -> Result<OAuthToken, TokenError> {
        let region = self.region.clone();
        let (region, credentials) = off_thread(async move {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
            if let Some(r) = region {
                loader = loader.region(aws_config::Region::new(r));
            }
            let sdk = loader.load().await;
            let region = sdk.region().map(|r| r.to_string()).ok_or("no AWS region: set source.kafka.sasl.region or AWS_REGION")?;
            use aws_credential_types::provider::ProvideCredentials;
            let provider = sdk.credentials_provider().ok_or("no AWS credentials provider in this environment")?;
            let credentials = provider.provide_credentials().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((region, credentials))
        })
        .map_err(TokenError::AwsCredentials)?;
        let token = msk_iam_token(&region, credentials, SystemTime::now())?;
        Ok(OAuthToken { token, principal_name: "msk-iam".into(), lifetime_ms: now_ms() + MSK_TOKEN_LIFETIME.as_millis() as i64 })
    }
}

/// The token for `region`, signed at `at`.
pub fn msk_iam_token(region: &str, credentials: aws_credential_types::Credentials, at: SystemTime) -> Result<String, TokenError> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
    use aws_sigv4::sign::v4;
    let host = format!("kafka.{region}.amazonaws.com");
    let url = format!("https://{host}/?Action=kafka-cluster%3AConnect");
    let identity = credentials.into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(MSK_TOKEN_LIFETIME);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("kafka-cluster")
        .time(at)
        .settings(settings)
        .build()
        .map_err(|e| TokenError::Signing(e.to_string()))?
        .into();
    let request = SignableRequest::new("GET", &url, std::iter::once(("host", host.as_str())), SignableBody::Bytes(&[]))
        .map_err(|e| TokenError::Signing(e.to_string()))?;
    let (instructions, _) = sign(request, &params).map_err(|e| TokenError::Signing(e.to_string()))?.into_parts();
    let mut signed = url;
    for (name, value) in instructions.params() {
        signed.push('&');
        signed.push_str(name);
        signed.push('=');
        signed.extend(form_encode(value));
    }
    // The user agent is added after signing, as AWS's own signers do.
    signed.push_str(&format!("&User-Agent=liveviewer%2F{}", env!("CARGO_PKG_VERSION")));
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signed))
}

/// Percent-encoding of a query value (RFC 3986 unreserved characters kept).
fn form_encode(value: &str) -> impl Iterator<Item = char> + '_ {
    value.bytes().flat_map(|b| {
        let keep = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        let s: Vec<char> = if keep { vec![b as char] } else { format!("%{b:02X}").chars().collect() };
        s.into_iter()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(token: &str) -> String {
        String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).unwrap()).unwrap()
    }

    #[test]
    fn an_msk_iam_token_is_a_presigned_connect_request_for_the_region() {
        let creds = aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", Some("session-token".into()), None, "test");
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = msk_iam_token("eu-west-1", creds.clone(), at).unwrap();
        assert!(!token.contains('=') && !token.contains('+') && !token.contains('/'), "base64url without padding: {token}");
        let url = decode(&token);
        assert!(url.starts_with("https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect&"), "{url}");
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Fkafka-cluster%2Faws4_request",
            "X-Amz-Date=20231114T221320Z",
            "X-Amz-Expires=900",
            "X-Amz-SignedHeaders=host",
            "X-Amz-Security-Token=session-token",
            "X-Amz-Signature=",
            "User-Agent=liveviewer",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
        // The signature depends on every input: same inputs, same token; another key, another.
        assert_eq!(token, msk_iam_token("eu-west-1", creds, at).unwrap());
        let other = aws_credential_types::Credentials::new("AKIDEXAMPLE", "other", Some("session-token".into()), None, "test");
        assert_ne!(token, msk_iam_token("eu-west-1", other, at).unwrap());
    }

    #[test]
    fn form_encoding_keeps_only_unreserved_characters() {
        assert_eq!(form_encode("a/b+c=d e~").collect::<String>(), "a%2Fb%2Bc%3Dd%20e~");
    }
}
