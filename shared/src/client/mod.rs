//! The Management Activity API client: tokens, subscriptions, listing with paging, blob
//! download, retries with backoff, and the host guard that keeps the bearer token at home.
//!
//! SIGNATURES FIXED BY THE COORDINATOR; bodies are being written by the client helper.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::time::Instant;
use url::Url;

use crate::api_error::{AfCode, ApiErrorBody};
use crate::content_type::ContentType;
use crate::listing::ContentListing;
use crate::tenant_id::TenantId;
use crate::tenants::TenantConfig;

/// Retry policy for throttling (AF429 as 403, 429), 5xx, 408 and timeouts.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// First backoff delay.
    pub initial_backoff: Duration,
    /// Largest backoff delay (before jitter).
    pub max_backoff: Duration,
    /// Most attempts per call (the deadline may stop earlier).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_attempts: 8,
        }
    }
}

/// Client tuning that is not per tenant.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Backoff policy.
    pub retry: RetryPolicy,
    /// Timeout of one HTTP request (connect + headers); body reads have their own idle timeout.
    pub request_timeout: Duration,
    /// Refresh a cached token this long before it expires.
    pub token_refresh_margin: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            token_refresh_margin: Duration::from_secs(300),
        }
    }
}

/// One entry of `subscriptions/list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// The content type (kept as text: the service may list types this build does not know).
    pub content_type: String,
    /// `enabled` or `disabled`.
    pub status: String,
    /// The webhook object, when any (kept raw).
    #[serde(default)]
    pub webhook: Option<serde_json::Value>,
}

/// What `start_subscription` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    /// The subscription was created or re-enabled.
    Started,
    /// It was already enabled (AF20024): fine.
    AlreadyEnabled,
}

/// Counters a caller reads for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Throttled responses seen (AF429, HTTP 429).
    pub throttles: u64,
    /// Retries made.
    pub retries: u64,
    /// API errors by code (`AF20022`, `HTTP503`, ...).
    pub errors_by_code: BTreeMap<String, u64>,
}

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with an error that retrying will not fix (or retries ran out).
    #[error("{op} failed with HTTP {status}: {body}")]
    Api {
        /// Which operation (`ListContent`, `GetBlob`, `StartSubscription`, ...).
        op: &'static str,
        /// HTTP status.
        status: u16,
        /// The parsed body.
        body: ApiErrorBody,
    },
    /// The caller's deadline passed before the call could succeed (retryable later).
    #[error(
        "{op} did not succeed before the deadline after {attempts} attempts; last error: {last}"
    )]
    DeadlineExceeded {
        /// Which operation.
        op: &'static str,
        /// Attempts made.
        attempts: u32,
        /// The last error, as text.
        last: String,
    },
    /// A URL whose scheme, host, port or path is not under the configured API root: refused,
    /// no request was built, the token was not sent.
    #[error("refused to send the token to {uri}: not under the configured API root {api_root}")]
    ForeignUri {
        /// The refused URL (no secrets in it).
        uri: String,
        /// The configured root.
        api_root: String,
    },
    /// The token endpoint refused the credentials or answered something unusable.
    #[error("token request to {endpoint} failed: {message}")]
    Token {
        /// The token endpoint URL.
        endpoint: String,
        /// What it said (never the secret).
        message: String,
        /// Whether retrying can help (5xx, network) or not (bad secret, unknown app).
        retryable: bool,
    },
    /// The credential could not be used (bad PEM, key not RSA, ...).
    #[error("credential problem: {0}")]
    Credential(String),
    /// Network-level failure (connect, TLS, reset) after retries.
    #[error("{op}: network error: {message}")]
    Transport {
        /// Which operation.
        op: &'static str,
        /// The error text.
        message: String,
    },
    /// A 2xx response whose body could not be decoded.
    #[error("{op}: unexpected response body: {message}")]
    Decode {
        /// Which operation.
        op: &'static str,
        /// What was wrong.
        message: String,
    },
}

impl ClientError {
    /// The AF code, when the API sent one.
    pub fn af_code(&self) -> Option<&AfCode> {
        match self {
            ClientError::Api { body, .. } => body.code(),
            _ => None,
        }
    }

    /// Whether handing the work back for a later attempt can help.
    pub fn is_retryable(&self) -> bool {
        todo!("client helper")
    }
}

/// A blob body being downloaded, read chunk by chunk (never held whole).
#[derive(Debug)]
pub struct BlobBody {
    _private: (),
}

impl BlobBody {
    /// The next chunk, or `None` at the end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
        todo!("client helper")
    }

    /// `Content-Length`, when the server sent it.
    pub fn content_length(&self) -> Option<u64> {
        todo!("client helper")
    }
}

/// A client for one tenant. Cheap to clone (shares its HTTP pool and token cache).
#[derive(Debug, Clone)]
pub struct ActivityClient {
    _private: (),
}

impl ActivityClient {
    /// Builds a client for a tenant (no network I/O yet).
    pub fn new(
        tenant: &TenantConfig,
        options: ClientOptions,
    ) -> Result<ActivityClient, ClientError> {
        let _ = (tenant, options);
        todo!("client helper")
    }

    /// The tenant this client serves.
    pub fn tenant_id(&self) -> &TenantId {
        todo!("client helper")
    }

    /// The configured API root.
    pub fn api_root(&self) -> &Url {
        todo!("client helper")
    }

    /// Checks that a URL (a `contentUri` or `NextPageUri`) is under this tenant's API root
    /// (`{root}/api/v1.0/{tenant}/activity/feed/` or `/api/v1/`), same scheme, host and port.
    pub fn check_uri(&self, uri: &str) -> Result<Url, ClientError> {
        let _ = uri;
        todo!("client helper")
    }

    /// `GET subscriptions/list`.
    pub async fn list_subscriptions(
        &self,
        deadline: Instant,
    ) -> Result<Vec<Subscription>, ClientError> {
        let _ = deadline;
        todo!("client helper")
    }

    /// `POST subscriptions/start`; AF20024 is success.
    pub async fn start_subscription(
        &self,
        content_type: ContentType,
        deadline: Instant,
    ) -> Result<StartOutcome, ClientError> {
        let _ = (content_type, deadline);
        todo!("client helper")
    }

    /// `GET subscriptions/content` for `[start, end)`, following `NextPageUri` until absent.
    /// The window must obey the API rules (≤ 24 h, start within 7 days); the caller slices.
    pub async fn list_content(
        &self,
        content_type: ContentType,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<Vec<ContentListing>, ClientError> {
        let _ = (content_type, start, end, deadline);
        todo!("client helper")
    }

    /// `GET {contentUri}` (after `check_uri`), returning the body as a stream.
    pub async fn download(
        &self,
        content_uri: &str,
        deadline: Instant,
    ) -> Result<BlobBody, ClientError> {
        let _ = (content_uri, deadline);
        todo!("client helper")
    }

    /// Counters since this client was built (shared by clones).
    pub fn stats(&self) -> ClientStats {
        todo!("client helper")
    }
}
