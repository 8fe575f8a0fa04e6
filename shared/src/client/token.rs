//! Access tokens by client credentials (client secret or certificate assertion), v2 scope
//! form or v1 resource form, cached until shortly before they expire. Concurrent callers
//! share one refresh. Secrets, assertions and tokens never reach a log or an error text.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::EncodingKey;
use serde::{Deserialize, Deserializer};
use tokio::time::Instant;
use url::Url;

use super::assertion::{certificate_x5t, check_key_matches_certificate, sign_assertion};
use super::retry::{status_is_retryable, RetryPlan};
use super::{read_limited, ClientError, ClientOptions, Stats, MAX_ERROR_BODY};
use crate::clock::Clock;
use crate::secret::Secret;
use crate::tenants::{Credential, TenantConfig, TokenEndpoint};

/// `client_assertion_type` for a signed JWT.
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Assumed token lifetime when the endpoint does not say (Entra's usual value).
const DEFAULT_EXPIRES_IN: u64 = 3599;
/// Largest token response read.
const MAX_TOKEN_BODY: usize = 256 * 1024;

/// The app's credential in the form the token request needs.
enum AppCredential {
    /// A client secret.
    Secret(Secret),
    /// A certificate: its `x5t` thumbprint and the RSA key that signs assertions.
    Certificate { x5t: String, key: EncodingKey },
}

impl std::fmt::Debug for AppCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppCredential::Secret(_) => f.write_str("Secret(***)"),
            AppCredential::Certificate { x5t, .. } => write!(f, "Certificate(x5t={x5t})"),
        }
    }
}

/// A token in the cache and when to stop using it.
#[derive(Debug, Clone)]
struct CachedToken {
    value: Secret,
    refresh_at: DateTime<Utc>,
}

/// Gets and caches access tokens for one tenant's app.
#[derive(Debug)]
pub(crate) struct TokenSource {
    http: reqwest::Client,
    endpoint: Url,
    form_kind: TokenEndpoint,
    client_id: String,
    resource: String,
    credential: AppCredential,
    options: ClientOptions,
    clock: Clock,
    stats: Arc<Stats>,
    cache: tokio::sync::Mutex<Option<CachedToken>>,
}

/// The token endpoint's success body; v1 sends numbers as strings.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default, deserialize_with = "number_or_string")]
    expires_in: Option<u64>,
}

/// The token endpoint's error body (`error`, `error_description`).
#[derive(Deserialize)]
struct TokenErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        Num(u64),
        Str(String),
    }
    Ok(match Option::<NumOrStr>::deserialize(d)? {
        Some(NumOrStr::Num(n)) => Some(n),
        Some(NumOrStr::Str(s)) => s.trim().parse().ok(),
        None => None,
    })
}

/// The token endpoint URL of a tenant: `{login_root}/{tenant}/oauth2/v2.0/token` or
/// `{login_root}/{tenant}/oauth2/token`.
pub(crate) fn token_endpoint(tenant: &TenantConfig) -> Result<Url, ClientError> {
    let root = tenant.endpoints.login_root.as_str().trim_end_matches('/');
    let path = match tenant.token_endpoint {
        TokenEndpoint::V2 => "oauth2/v2.0/token",
        TokenEndpoint::V1 => "oauth2/token",
    };
    let text = format!("{root}/{}/{path}", tenant.tenant_id.as_str());
    Url::parse(&text).map_err(|e| {
        ClientError::Credential(format!(
            "cannot build the token endpoint URL {text}: {e}; check login_root"
        ))
    })
}

impl TokenSource {
    /// Prepares the credential (parses the certificate and key once; no network I/O) for
    /// tokens whose audience is `resource` (the Management API's or Graph's).
    pub(crate) fn new(
        http: reqwest::Client,
        tenant: &TenantConfig,
        resource: &str,
        options: ClientOptions,
        clock: Clock,
        stats: Arc<Stats>,
    ) -> Result<TokenSource, ClientError> {
        let credential = match &tenant.credential {
            Credential::Secret(s) => AppCredential::Secret(s.clone()),
            Credential::Certificate {
                certificate_pem,
                private_key_pem,
            } => {
                let x5t = certificate_x5t(certificate_pem)?;
                let key = EncodingKey::from_rsa_pem(private_key_pem.expose().as_bytes())
                    .map_err(|e| {
                        ClientError::Credential(format!(
                            "the private key is not an RSA private key in PEM form (PKCS#1 or PKCS#8): {e}"
                        ))
                    })?;
                check_key_matches_certificate(certificate_pem, &key)?;
                AppCredential::Certificate { x5t, key }
            }
        };
        Ok(TokenSource {
            http,
            endpoint: token_endpoint(tenant)?,
            form_kind: tenant.token_endpoint,
            client_id: tenant.client_id.clone(),
            resource: resource.to_owned(),
            credential,
            options,
            clock,
            stats,
            cache: tokio::sync::Mutex::new(None),
        })
    }

    /// A valid token: the cached one, or a fresh one (one refresh shared by all callers).
    pub(crate) async fn get(&self, deadline: Instant) -> Result<Secret, ClientError> {
        let mut cache = self.cache.lock().await;
        if let Some(t) = cache.as_ref() {
            if self.clock.now() < t.refresh_at {
                return Ok(t.value.clone());
            }
        }
        let fresh = self.fetch(deadline).await?;
        let value = fresh.value.clone();
        *cache = Some(fresh);
        Ok(value)
    }

    /// Drops `rejected` from the cache (after a 401), unless another caller already
    /// replaced it with a newer token.
    pub(crate) async fn invalidate(&self, rejected: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|t| &t.value == rejected) {
            *cache = None;
        }
    }

    /// The form fields of a token request (a fresh assertion each time).
    fn form(&self) -> Result<Vec<(&'static str, String)>, ClientError> {
        let mut form = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", self.client_id.clone()),
        ];
        match self.form_kind {
            TokenEndpoint::V2 => form.push(("scope", format!("{}/.default", self.resource))),
            TokenEndpoint::V1 => form.push(("resource", self.resource.clone())),
        }
        match &self.credential {
            AppCredential::Secret(s) => form.push(("client_secret", s.expose().to_owned())),
            AppCredential::Certificate { x5t, key } => {
                // Assertions are checked against real time by the token service.
                let assertion = sign_assertion(
                    x5t,
                    key,
                    &self.client_id,
                    self.endpoint.as_str(),
                    Utc::now(),
                )?;
                form.push(("client_assertion_type", ASSERTION_TYPE.to_owned()));
                form.push(("client_assertion", assertion));
            }
        }
        Ok(form)
    }

    /// Requests a new token, retrying 408/429/5xx and network errors until the deadline.
    async fn fetch(&self, deadline: Instant) -> Result<CachedToken, ClientError> {
        let mut plan = RetryPlan::new(&self.options.retry, deadline);
        loop {
            let Some(timeout) = plan.begin_attempt(self.options.request_timeout) else {
                return Err(plan.deadline_error("Token"));
            };
            let (err, retry_after) = match self.attempt(timeout).await {
                Ok(token) => return Ok(token),
                Err(e) => e,
            };
            let retryable = matches!(
                err,
                ClientError::Token {
                    retryable: true,
                    ..
                }
            );
            if !retryable {
                return Err(err);
            }
            plan.record(err.to_string());
            match plan.next_delay(retry_after) {
                Some(delay) => {
                    self.stats.retry();
                    tracing::debug!(endpoint = %self.endpoint, ?delay, "token request failed; retrying");
                    tokio::time::sleep(delay).await;
                }
                None if plan.out_of_attempts() => return Err(err),
                None => return Err(plan.deadline_error("Token")),
            }
        }
    }

    /// One token request. On failure also returns the `Retry-After` the endpoint sent.
    async fn attempt(
        &self,
        timeout: Duration,
    ) -> Result<CachedToken, (ClientError, Option<Duration>)> {
        let fail = |message: String, retryable: bool| ClientError::Token {
            endpoint: self.endpoint.to_string(),
            message: self.scrub(&message),
            retryable,
        };
        let form = self.form().map_err(|e| (e, None))?;
        let sent = tokio::time::timeout(
            timeout,
            self.http.post(self.endpoint.clone()).form(&form).send(),
        )
        .await;
        let resp = match sent {
            Err(_) => return Err((fail(format!("no response within {timeout:?}"), true), None)),
            Ok(Err(e)) => {
                return Err((
                    fail(format!("network error: {}", super::error_chain(&e)), true),
                    None,
                ))
            }
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status().as_u16();
        let retry_after = super::retry_after_of(&resp, self.clock.now());
        let ok = resp.status().is_success();
        let limit = if ok { MAX_TOKEN_BODY } else { MAX_ERROR_BODY };
        let body = match tokio::time::timeout(timeout, read_limited(resp, limit)).await {
            Err(_) => return Err((fail("the response body timed out".into(), true), None)),
            Ok(Err(e)) => return Err((fail(format!("reading the response: {e}"), true), None)),
            Ok(Ok(b)) => b,
        };
        if !ok {
            let detail = match serde_json::from_slice::<TokenErrorBody>(&body) {
                Ok(b) if !b.error.is_empty() => format!("{}: {}", b.error, b.error_description),
                _ => String::from_utf8_lossy(&body).chars().take(300).collect(),
            };
            let hint = if status_is_retryable(status) {
                ""
            } else {
                " (check the tenant id, client id, credential and the app's consent)"
            };
            let message = format!("HTTP {status}: {detail}{hint}");
            return Err((fail(message, status_is_retryable(status)), retry_after));
        }
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| (fail(format!("unreadable token response: {e}"), false), None))?;
        if parsed.access_token.is_empty() {
            return Err((
                fail("the token response has an empty access_token".into(), false),
                None,
            ));
        }
        let lifetime = parsed.expires_in.unwrap_or(DEFAULT_EXPIRES_IN);
        Ok(CachedToken {
            value: Secret::new(parsed.access_token),
            refresh_at: self.clock.now()
                + refresh_after(lifetime, self.options.token_refresh_margin),
        })
    }

    /// Removes the secret, should the token endpoint ever echo it back.
    fn scrub(&self, text: &str) -> String {
        match &self.credential {
            AppCredential::Secret(s) if !s.is_empty() => text.replace(s.expose(), "***"),
            _ => text.to_owned(),
        }
    }
}

/// How long after issue a token is used: `expires_in - margin`, but at least half its
/// lifetime (so a short-lived token is not refreshed on every call).
pub(crate) fn refresh_after(expires_in_secs: u64, margin: Duration) -> chrono::Duration {
    let life = Duration::from_secs(expires_in_secs);
    let margin = margin.min(life / 2);
    chrono::Duration::from_std(life - margin).unwrap_or(chrono::Duration::zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_as_number_or_string() {
        let v2: TokenResponse =
            serde_json::from_str(r#"{"token_type":"Bearer","expires_in":3599,"access_token":"a"}"#)
                .unwrap();
        assert_eq!(v2.expires_in, Some(3599));
        let v1: TokenResponse = serde_json::from_str(
            r#"{"token_type":"Bearer","expires_in":"3599","expires_on":"1767229199","access_token":"a"}"#,
        )
        .unwrap();
        assert_eq!(v1.expires_in, Some(3599));
        let none: TokenResponse = serde_json::from_str(r#"{"access_token":"a"}"#).unwrap();
        assert_eq!(none.expires_in, None);
    }

    #[test]
    fn refresh_margin_is_bounded_by_half_the_lifetime() {
        let m = Duration::from_secs(300);
        assert_eq!(refresh_after(3599, m), chrono::Duration::seconds(3299));
        assert_eq!(refresh_after(60, m), chrono::Duration::seconds(30));
        assert_eq!(refresh_after(0, m), chrono::Duration::zero());
    }

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../sim/tests/fixtures")
            .join(name);
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn unusable_credentials_are_refused_up_front() {
        let tenant = |credential| TenantConfig {
            tenant_id: "00000000-0000-0000-0000-000000000001".parse().unwrap(),
            client_id: "00000000-0000-0000-0000-000000000c01".into(),
            credential,
            endpoints: crate::cloud::Cloud::Enterprise.endpoints(),
            content_types: crate::ContentType::ALL.to_vec(),
            publisher_id: "00000000-0000-0000-0000-000000000001".into(),
            token_endpoint: TokenEndpoint::V2,
        };
        let build = |credential| {
            TokenSource::new(
                reqwest::Client::new(),
                &tenant(credential),
                "https://manage.office.com",
                ClientOptions::default(),
                Clock::system(),
                Arc::new(Stats::default()),
            )
        };
        let bad_key =
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n";
        let e = build(Credential::Certificate {
            certificate_pem: fixture("test-only-cert.pem"),
            private_key_pem: Secret::new(bad_key),
        })
        .unwrap_err();
        assert!(matches!(e, ClientError::Credential(_)), "{e}");
        assert!(!e.to_string().contains("c2VjcmV0"), "{e}");
        let e = build(Credential::Certificate {
            certificate_pem: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----".into(),
            private_key_pem: Secret::new(fixture("test-only-key.pem")),
        })
        .unwrap_err();
        assert!(matches!(e, ClientError::Credential(_)), "{e}");
        let ok = build(Credential::Secret(Secret::new("s"))).unwrap();
        assert_eq!(
            ok.endpoint.as_str(),
            "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/oauth2/v2.0/token"
        );
        assert!(!format!("{ok:?}").contains("\"s\""));
    }
}
