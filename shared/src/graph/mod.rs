//! The Microsoft Graph audit log query client (Purview audit search): the completeness
//! audit's second, independent view of a tenant's audit log.
//!
//! Same app registration as the Management API, token for `{graph}/.default`; every URL
//! passes the Graph host guard (`client::guard::check_graph_uri`) before a request is built,
//! so the Graph token only ever goes to the Graph root and `@odata.nextLink` is followed
//! verbatim only when it stays there. Queries are created on v1.0 and, when v1.0 does not
//! serve the API (404/400 "resource not found", as during its 2025 move back to beta), on
//! beta; a query is then read on the version that created it.

pub mod endpoints;
mod http;
pub mod model;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use tokio::time::Instant;
use url::Url;

use crate::client::token::TokenSource;
use crate::client::{ClientError, ClientOptions, Stats};
use crate::clock::Clock;
use crate::tenants::TenantConfig;

pub use model::{AuditLogQuery, AuditLogRecord, NewAuditQuery, QueryStatus, RecordsPage};

/// Operation names in errors and logs.
const OP_CREATE: &str = "GraphCreateAuditQuery";
const OP_GET: &str = "GraphGetAuditQuery";
const OP_RECORDS: &str = "GraphListAuditRecords";

/// Most pages read for one query (a loop guard: a nextLink that never ends).
const MAX_PAGES: u32 = 100_000;

/// A Graph API version serving the audit log query API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum GraphVersion {
    /// `/v1.0`.
    #[serde(rename = "v1.0")]
    V1,
    /// `/beta`.
    #[serde(rename = "beta")]
    Beta,
}

impl GraphVersion {
    fn segment(self) -> &'static str {
        match self {
            GraphVersion::V1 => "v1.0",
            GraphVersion::Beta => "beta",
        }
    }
}

/// How a query is polled until it ends: backoff from `initial` doubling up to `max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollPolicy {
    /// First wait after creating the query.
    pub initial: Duration,
    /// Longest wait between polls.
    pub max: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(60),
        }
    }
}

/// A created query and the API version that serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedQuery {
    /// The query as Graph answered.
    pub query: AuditLogQuery,
    /// The version it was created on.
    pub version: GraphVersion,
}

/// All records of a query, in page order, as read once.
#[derive(Debug, Clone, Default)]
pub struct RecordsRead {
    /// The records (by-design duplicates included).
    pub records: Vec<AuditLogRecord>,
    /// Pages read.
    pub pages: u32,
}

/// A Graph audit log query client for one tenant. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    root: Url,
    options: ClientOptions,
    clock: Clock,
    tokens: TokenSource,
    stats: Arc<Stats>,
    /// Set once v1.0 answered that it does not serve the API: create on beta from then on.
    v1_missing: AtomicBool,
}

impl GraphClient {
    /// A client for `tenant`'s Graph root (`tenant.endpoints.graph_root`), with a token for
    /// `{graph_resource}/.default` from the same app registration. No network I/O yet.
    pub fn new(
        tenant: &TenantConfig,
        options: ClientOptions,
        clock: Clock,
    ) -> Result<GraphClient, ClientError> {
        let http = crate::client::http_client(&options)?;
        let stats = Arc::new(Stats::default());
        let tokens = TokenSource::new(
            http.clone(),
            tenant,
            &tenant.endpoints.graph_resource,
            options.clone(),
            clock.clone(),
            stats.clone(),
        )?;
        Ok(GraphClient {
            inner: Arc::new(Inner {
                http,
                root: tenant.endpoints.graph_root.clone(),
                options,
                clock,
                tokens,
                stats,
                v1_missing: AtomicBool::new(false),
            }),
        })
    }

    /// The Graph root requests go to.
    pub fn root(&self) -> &Url {
        &self.inner.root
    }

    /// Counters since this client was built (retries, throttles, errors by code).
    pub fn stats(&self) -> crate::client::ClientStats {
        self.inner.stats.snapshot()
    }

    /// `{root}/{version}/security/auditLog/queries{tail}`, through the guard.
    fn queries_url(&self, version: GraphVersion, tail: &str) -> Result<Url, ClientError> {
        let root = self.inner.root.as_str().trim_end_matches('/');
        let text = format!(
            "{root}/{}/security/auditLog/queries{tail}",
            version.segment()
        );
        crate::client::guard::check_graph_uri(&self.inner.root, &text)
    }

    /// `POST …/queries` (answered 201), on v1.0, else on beta when v1.0 does not serve it.
    pub async fn create_query(
        &self,
        query: &NewAuditQuery,
        deadline: Instant,
    ) -> Result<CreatedQuery, ClientError> {
        let body = serde_json::to_value(query).map_err(|e| ClientError::Decode {
            op: OP_CREATE,
            message: format!("cannot encode the query: {e}"),
        })?;
        let mut version = if self.inner.v1_missing.load(Ordering::Relaxed) {
            GraphVersion::Beta
        } else {
            GraphVersion::V1
        };
        loop {
            let url = self.queries_url(version, "")?;
            match self
                .send(OP_CREATE, Method::POST, &url, Some(&body), deadline)
                .await
            {
                Ok(bytes) => {
                    let query = decode(OP_CREATE, &bytes)?;
                    return Ok(CreatedQuery { query, version });
                }
                Err(e) if version == GraphVersion::V1 && http::means_not_served(&e) => {
                    tracing::info!(
                        "Graph v1.0 does not serve the audit log query API here; using beta"
                    );
                    self.inner.v1_missing.store(true, Ordering::Relaxed);
                    version = GraphVersion::Beta;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `GET …/queries/{id}`.
    pub async fn get_query(
        &self,
        version: GraphVersion,
        id: &str,
        deadline: Instant,
    ) -> Result<AuditLogQuery, ClientError> {
        let url = self.queries_url(version, &format!("/{}", path_segment(id)?))?;
        let bytes = self.send(OP_GET, Method::GET, &url, None, deadline).await?;
        decode(OP_GET, &bytes)
    }

    /// Polls a query with backoff until it succeeds, fails or is cancelled, or `deadline`
    /// (then [`ClientError::DeadlineExceeded`]: Microsoft does not say how long a query takes).
    pub async fn wait_for_query(
        &self,
        created: &CreatedQuery,
        poll: &PollPolicy,
        deadline: Instant,
    ) -> Result<AuditLogQuery, ClientError> {
        let mut query = created.query.clone();
        let mut wait = poll.initial;
        let mut polls = 0u32;
        while !query.status.is_terminal() {
            let wake = Instant::now().checked_add(wait);
            if wake.is_none_or(|w| w >= deadline) {
                return Err(ClientError::DeadlineExceeded {
                    op: OP_GET,
                    attempts: polls,
                    last: format!("query {} still {:?}", query.id, query.status),
                });
            }
            tokio::time::sleep(wait).await;
            query = self.get_query(created.version, &query.id, deadline).await?;
            polls = polls.saturating_add(1);
            wait = wait.saturating_mul(2).min(poll.max);
        }
        Ok(query)
    }

    /// Reads every record of a succeeded query, following `@odata.nextLink` verbatim (each
    /// link through the guard first).
    pub async fn list_records(
        &self,
        version: GraphVersion,
        id: &str,
        deadline: Instant,
    ) -> Result<RecordsRead, ClientError> {
        let mut url = self.queries_url(version, &format!("/{}/records", path_segment(id)?))?;
        let mut out = RecordsRead::default();
        loop {
            let bytes = self
                .send(OP_RECORDS, Method::GET, &url, None, deadline)
                .await?;
            let page: RecordsPage = decode(OP_RECORDS, &bytes)?;
            out.pages = out.pages.saturating_add(1);
            out.records.extend(page.value);
            match page.next_link {
                None => return Ok(out),
                Some(_) if out.pages >= MAX_PAGES => {
                    return Err(ClientError::Decode {
                        op: OP_RECORDS,
                        message: format!(
                            "more than {MAX_PAGES} pages: the nextLink chain does not end"
                        ),
                    })
                }
                Some(next) => {
                    url = crate::client::guard::check_graph_uri(&self.inner.root, &next)?;
                }
            }
        }
    }
}

/// A query id as one path segment (Graph ids are GUID-like; anything with a separator is
/// refused rather than escaped into another path).
fn path_segment(id: &str) -> Result<&str, ClientError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(id)
    } else {
        Err(ClientError::Decode {
            op: OP_GET,
            message: "the query id is not a plain identifier".into(),
        })
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    op: &'static str,
    bytes: &[u8],
) -> Result<T, ClientError> {
    serde_json::from_slice(bytes).map_err(|e| ClientError::Decode {
        op,
        message: format!("the JSON body does not have the documented shape: {e}"),
    })
}
