//! The Management Activity API client: tokens, subscriptions, listing with paging, blob
//! download, retries with backoff, and the host guard that keeps the bearer token at home.
//!
//! Every URL passes the guard (`guard.rs`) before a request is built; redirects are never
//! followed; tokens come from `token.rs`; `retry.rs` holds the backoff arithmetic and
//! `http.rs` the attempt loop shared by every operation; `paging.rs` follows `NextPageUri`;
//! `budget.rs` the per-tenant request budget every request waits for.

mod assertion;
pub mod budget;
pub(crate) mod guard;
mod http;
mod paging;
pub(crate) mod retry;
pub(crate) mod token;

pub use paging::ListingPage;

mod error;
pub use self::error::ClientError;
pub(crate) use self::error::Stats;

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use reqwest::Method;
use tokio::time::Instant;
use url::Url;

use crate::api_error::AfCode;
use crate::clock::Clock;
use crate::content_type::ContentType;
use crate::listing::ContentListing;
use crate::tenant_id::TenantId;
use crate::tenants::TenantConfig;

use self::budget::{Budget, BudgetKey};
pub use self::budget::{BudgetOptions, BudgetStats, InUse};
use self::http::{Buffered, Streamed};
use self::token::TokenSource;

/// Largest error body read (the envelope is tiny; a proxy page is cut).
pub(crate) const MAX_ERROR_BODY: usize = 64 * 1024;
/// Largest JSON body of a listing page or the subscription list.
pub(crate) const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

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
    /// The tenant's request budget in this process (used by the first client of a tenant).
    pub budget: BudgetOptions,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            token_refresh_margin: Duration::from_secs(300),
            budget: BudgetOptions::default(),
        }
    }
}

impl ClientOptions {
    /// The default options with each tenant's request budget `budget`: how every process
    /// builds its clients from the configured rate.
    pub fn with_budget(budget: BudgetOptions) -> ClientOptions {
        ClientOptions {
            budget,
            ..ClientOptions::default()
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
    /// Error answers by code: the AF code when the body had one (`AF20022`), else the status
    /// (`HTTP503`); `NETWORK` counts timeouts and broken connections.
    pub errors_by_code: BTreeMap<String, u64>,
}

/// The HTTP client of an API client (Management or Graph): never follows a redirect (it
/// would carry the bearer token elsewhere), bounded connect and read times.
pub(crate) fn http_client(options: &ClientOptions) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(options.request_timeout)
        .read_timeout(options.request_timeout)
        .user_agent(concat!("o365-collector/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientError::Transport {
            op: "BuildClient",
            message: format!("cannot build the HTTP client: {e}"),
        })
}

/// Reads a whole response body, refusing more than `limit` bytes.
pub(crate) async fn read_limited(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Bytes, String> {
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| error_chain(&e))? {
        if buf.len() + chunk.len() > limit {
            return Err(format!("the body is larger than {limit} bytes"));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// An error and its causes on one line (reqwest's own text is often just "error sending
/// request"; the cause says connect refused, reset, timed out...).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The `Retry-After` of a response, when present and readable.
pub(crate) fn retry_after_of(resp: &reqwest::Response, now: DateTime<Utc>) -> Option<Duration> {
    let value = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    retry::parse_retry_after(value, now)
}

/// The byte stream of a blob response.
type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A blob body being downloaded, read chunk by chunk (never held whole).
pub struct BlobBody {
    first: Option<Bytes>,
    rest: ByteStream,
    content_length: Option<u64>,
}

impl std::fmt::Debug for BlobBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobBody")
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

impl BlobBody {
    /// The next chunk, or `None` at the end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
        }
        match self.rest.next().await {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes)),
            Some(Err(e)) => Err(ClientError::Transport {
                op: OP_GET_BLOB,
                message: format!("the blob body broke off: {}", error_chain(&e)),
            }),
        }
    }

    /// `Content-Length`, when the server sent it.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }
}

/// Operation names used in errors, logs and counters.
const OP_LIST_SUBSCRIPTIONS: &str = "ListSubscriptions";
const OP_START_SUBSCRIPTION: &str = "StartSubscription";
pub(crate) const OP_LIST_CONTENT: &str = "ListContent";
pub(crate) const OP_GET_BLOB: &str = "GetBlob";

/// What a client shares with its clones.
#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    tenant_id: TenantId,
    api_root: Url,
    publisher_id: String,
    options: ClientOptions,
    clock: Clock,
    tokens: TokenSource,
    stats: Arc<Stats>,
    budget: Arc<Budget>,
}

/// A client for one tenant. Cheap to clone (shares its HTTP pool and token cache).
#[derive(Debug, Clone)]
pub struct ActivityClient {
    inner: Arc<Inner>,
}

impl ActivityClient {
    /// Builds a client for a tenant (no network I/O yet).
    pub fn new(
        tenant: &TenantConfig,
        options: ClientOptions,
    ) -> Result<ActivityClient, ClientError> {
        ActivityClient::with_clock(tenant, options, Clock::system())
    }

    /// Like [`ActivityClient::new`], with the clock that decides when a cached token is
    /// due for refresh (the simulator's clock in tests; the system clock otherwise).
    pub fn with_clock(
        tenant: &TenantConfig,
        options: ClientOptions,
        clock: Clock,
    ) -> Result<ActivityClient, ClientError> {
        let http = http_client(&options)?;
        let stats = Arc::new(Stats::default());
        let tokens = TokenSource::new(
            http.clone(),
            tenant,
            &tenant.endpoints.resource,
            options.clone(),
            clock.clone(),
            stats.clone(),
        )?;
        let budget = Budget::shared(
            BudgetKey {
                api_root: tenant.endpoints.api_root.to_string(),
                tenant_id: tenant.tenant_id.as_str().to_owned(),
                publisher_id: tenant.publisher_id.clone(),
            },
            &options.budget,
        );
        Ok(ActivityClient {
            inner: Arc::new(Inner {
                http,
                tenant_id: tenant.tenant_id.clone(),
                api_root: tenant.endpoints.api_root.clone(),
                publisher_id: tenant.publisher_id.clone(),
                options,
                clock,
                tokens,
                stats,
                budget,
            }),
        })
    }

    /// Whether `other` is a clone of this client (same HTTP pool and token cache).
    pub fn is_same_client(&self, other: &ActivityClient) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The tenant this client serves.
    pub fn tenant_id(&self) -> &TenantId {
        &self.inner.tenant_id
    }

    /// The configured API root.
    pub fn api_root(&self) -> &Url {
        &self.inner.api_root
    }

    /// Checks that a URL (a `contentUri` or `NextPageUri`) is under this tenant's API root
    /// (`{root}/api/v1.0/{tenant}/activity/feed/` or `/api/v1/`), same scheme, host and port.
    pub fn check_uri(&self, uri: &str) -> Result<Url, ClientError> {
        guard::check_api_uri(&self.inner.api_root, &self.inner.tenant_id, uri)
    }

    /// A feed operation URL (`{root}/api/v1.0/{tenant}/activity/feed/{op}`) with its query
    /// parameters and `PublisherIdentifier`.
    fn feed_url(&self, operation: &str, params: &[(&str, &str)]) -> Result<Url, ClientError> {
        let root = self.inner.api_root.as_str().trim_end_matches('/');
        let text = format!(
            "{root}/api/v1.0/{}/activity/feed/{operation}",
            self.inner.tenant_id.as_str()
        );
        let mut url = self.check_uri(&text)?;
        if !params.is_empty() {
            url.query_pairs_mut().extend_pairs(params);
        }
        Ok(guard::with_publisher(url, &self.inner.publisher_id))
    }

    /// `GET subscriptions/list`.
    pub async fn list_subscriptions(
        &self,
        deadline: Instant,
    ) -> Result<Vec<Subscription>, ClientError> {
        let url = self.feed_url("subscriptions/list", &[])?;
        let reply = self
            .call::<Buffered>(OP_LIST_SUBSCRIPTIONS, Method::GET, &url, deadline, None)
            .await?;
        reply.decode(OP_LIST_SUBSCRIPTIONS)
    }

    /// `POST subscriptions/start`; AF20024 is success.
    pub async fn start_subscription(
        &self,
        content_type: ContentType,
        deadline: Instant,
    ) -> Result<StartOutcome, ClientError> {
        let url = self.feed_url(
            "subscriptions/start",
            &[("contentType", content_type.as_str())],
        )?;
        match self
            .call::<Buffered>(OP_START_SUBSCRIPTION, Method::POST, &url, deadline, None)
            .await
        {
            Ok(_) => Ok(StartOutcome::Started),
            Err(e) if e.af_code() == Some(&AfCode::SubscriptionAlreadyEnabled) => {
                Ok(StartOutcome::AlreadyEnabled)
            }
            Err(e) => Err(e),
        }
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
        let first = self.content_url(content_type, start, end)?;
        let ctx = crate::listing::ListingContext {
            content_type,
            window_start: start,
        };
        self.list_pages(&first, ctx, deadline).await
    }

    /// The first-page URL of `subscriptions/content` for `[start, end)`.
    fn content_url(
        &self,
        content_type: ContentType,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Url, ClientError> {
        let start = crate::time::format_query_time(start);
        let end = crate::time::format_query_time(end);
        self.feed_url(
            "subscriptions/content",
            &[
                ("contentType", content_type.as_str()),
                ("startTime", &start),
                ("endTime", &end),
            ],
        )
    }

    /// `GET {contentUri}` (after `check_uri`), returning the body as a stream; waits for the
    /// tenant's budget up to [`BudgetOptions::max_download_wait`].
    pub async fn download(
        &self,
        content_uri: &str,
        deadline: Instant,
    ) -> Result<BlobBody, ClientError> {
        let wait = self.inner.options.budget.max_download_wait;
        self.download_waiting(content_uri, deadline, wait).await
    }

    /// [`ActivityClient::download`] waiting up to `budget_wait` for the tenant's budget (then
    /// [`ClientError::Throttled`]): the fetcher's wait for a batch of few tenants
    /// (`functions/fetcher/src/quota.rs`).
    pub async fn download_waiting(
        &self,
        content_uri: &str,
        deadline: Instant,
        budget_wait: Duration,
    ) -> Result<BlobBody, ClientError> {
        let url = guard::with_publisher(self.check_uri(content_uri)?, &self.inner.publisher_id);
        self.call::<Streamed>(OP_GET_BLOB, Method::GET, &url, deadline, Some(budget_wait))
            .await
    }

    /// Counters since this client was built (shared by clones).
    pub fn stats(&self) -> ClientStats {
        self.inner.stats.snapshot()
    }

    /// Requests by outcome of this tenant's budget in this process (every client of the
    /// tenant and publisher id counts in it).
    pub fn budget_stats(&self) -> BudgetStats {
        self.inner.budget.stats()
    }

    /// Requests per second this tenant's budget in this process allows now (its adapted
    /// rate): how fast it can serve the downloads it is given.
    pub fn budget_rate(&self) -> f64 {
        self.inner.budget.rate_per_second()
    }

    /// Whether other processes spend this tenant's rate too (a fetcher invocation's share,
    /// [`BudgetOptions::share_of`]): work handed back may reach one of them.
    pub fn budget_shared(&self) -> bool {
        self.inner.budget.options().processes > 1
    }

    /// Marks this tenant's budget in use for a batch ([`Budget::in_use`]): an invocation's
    /// share earns tokens only while a batch runs.
    pub fn budget_in_use(&self) -> InUse {
        self.inner.budget.in_use()
    }

    /// How long to keep a throttled download away before handing it back: a later turn
    /// booked in this tenant's budget ([`Budget::book_later`]), so the work handed back comes
    /// back spread at the budget's rate.
    pub fn book_later(&self) -> Duration {
        self.inner.budget.book_later()
    }

    /// The budget's counts since the last call, for one metrics line per batch or run.
    pub fn take_budget_interval(&self) -> BudgetStats {
        self.inner.budget.take_interval()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_names_the_causes() {
        #[derive(Debug, thiserror::Error)]
        #[error("error sending request")]
        struct Outer(#[source] std::io::Error);
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(error_chain(&Outer(inner)), "error sending request: refused");
    }
}
