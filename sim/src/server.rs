//! The HTTP server: routes, token endpoints, `/_sim` control endpoints, and the handle tests use.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::content_type::ContentType;
use crate::error::SimError;
use crate::ledger::{Ledger, PublishedBlob};
use crate::sim::Sim;

/// A running simulator; dropping it leaves the server running until the runtime ends.
#[derive(Debug)]
pub struct SimHandle {
    sim: Arc<Sim>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    ticker: JoinHandle<()>,
}

/// Binds the configured loopback address, starts serving, and returns at once.
pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
    config.validate()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Bind {
        addr: config.listen,
        source,
    })?;
    let sim = Arc::new(Sim::new(config, format!("http://{addr}"))?);
    sim.ensure_generated().await;
    let app = router(sim.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let shutdown = async {
            let _ = rx.await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "o365-sim server stopped with an error");
        }
    });
    let tick_sim = sim.clone();
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(250));
        loop {
            every.tick().await;
            tick_sim.ensure_generated().await;
        }
    });
    tracing::info!(%addr, "o365-sim listening");
    Ok(SimHandle {
        sim,
        addr,
        stop: Some(tx),
        server,
        ticker,
    })
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`: the API root and the login root.
    pub fn base_url(&self) -> String {
        self.sim.base_url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Current simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        self.sim.now()
    }

    /// Jumps the clock forward and publishes what became due.
    pub fn advance(&self, by: Duration) {
        self.sim.clock.advance(by);
        self.sim.catch_up();
    }

    /// Sets the clock (publishing what became due).
    pub fn set_time(&self, t: DateTime<Utc>) {
        self.sim.clock.set(t);
        self.sim.catch_up();
    }

    /// Changes how many simulated seconds pass per real second.
    pub fn set_speed(&self, speed: f64) {
        self.sim.clock.set_speed(speed.max(0.0));
    }

    /// A snapshot of the ledger (same JSON as `GET /_sim/ledger`).
    pub fn ledger(&self) -> Ledger {
        self.sim.ledger()
    }

    /// Publishes an arbitrary (even malformed) body as a blob, listable now. Unknown tenants or
    /// content types give an error.
    pub fn try_publish_blob(
        &self,
        tenant: &str,
        content_type: &str,
        body: Vec<u8>,
        record_ids: Vec<String>,
    ) -> Result<PublishedBlob, SimError> {
        let ct: ContentType = content_type.parse()?;
        self.sim.publish_blob(tenant, ct, body, record_ids)
    }

    /// Publishes an arbitrary (even malformed) body as a blob, listable now. An unknown tenant or
    /// content type yields a blob record with `fault: "rejected: …"` that nothing serves.
    pub fn publish_blob(
        &self,
        tenant: &str,
        content_type: &str,
        body: Vec<u8>,
        record_ids: Vec<String>,
    ) -> PublishedBlob {
        let now = self.now();
        self.try_publish_blob(tenant, content_type, body, record_ids.clone())
            .unwrap_or_else(|e| PublishedBlob {
                tenant_id: tenant.to_string(),
                content_type: content_type.to_string(),
                content_id: String::new(),
                content_uri: String::new(),
                content_created: now,
                content_expiration: now,
                record_count: record_ids.len(),
                record_ids,
                available_at: now,
                fault: Some(format!("rejected: {e}")),
                relisted_at: Vec::new(),
                visible: false,
            })
    }

    /// Disables a subscription as a tenant admin would: its content answers AF20023 until the
    /// client calls `start` again.
    pub fn disable_subscription(&self, tenant: &str, content_type: &str) -> Result<(), SimError> {
        let ct: ContentType = content_type.parse()?;
        self.sim.admin_disable(tenant, ct)
    }

    /// Grants or revokes the tenant app's `ActivityFeed.ReadDlp` permission (admin consent);
    /// tokens issued afterwards carry the change, tokens already issued keep their roles.
    pub fn set_dlp_permission(&self, tenant: &str, granted: bool) -> Result<(), SimError> {
        self.sim.set_dlp_permission(tenant, granted)
    }

    /// Mints a valid access token for a tenant without calling the token endpoint.
    pub fn access_token(&self, tenant: &str) -> String {
        let dlp = {
            let store = self.sim.read();
            store
                .tenant_index(tenant)
                .is_some_and(|i| store.tenants[i].spec.dlp_permission)
        };
        self.sim
            .auth
            .issue(&self.sim.base_url, tenant, dlp, "1", self.now())
    }

    /// Mints a valid Graph token (audience `https://graph.microsoft.com`, role
    /// `AuditLogsQuery.Read.All`) for a tenant without calling the token endpoint.
    pub fn graph_access_token(&self, tenant: &str) -> String {
        self.sim.auth.issue_to(
            crate::graph::GRAPH_AUDIENCE,
            tenant,
            vec![crate::graph::GRAPH_ROLE.to_string()],
            "1",
            self.now(),
        )
    }

    /// Base64url SHA-1 thumbprint (`x5t`) of the configured certificate.
    pub fn certificate_thumbprint(&self) -> Option<String> {
        self.sim.auth.certificate_thumbprint().map(str::to_string)
    }

    /// Stops the server and waits (up to a few seconds) for it to finish.
    pub async fn shutdown(mut self) {
        self.ticker.abort();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if tokio::time::timeout(Duration::from_secs(3), &mut self.server)
            .await
            .is_err()
        {
            self.server.abort();
        }
    }
}

fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route(
            "/api/{version}/{tenant}/activity/feed/{*rest}",
            any(crate::api::feed),
        )
        .merge(crate::graph::routes::router())
        .route("/{tenant}/oauth2/token", post(crate::token_endpoint::token))
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(crate::token_endpoint::token),
        )
        .route("/_sim/ledger", get(ledger))
        .route("/_sim/ledger/summary", get(ledger_summary))
        .route("/_sim/clock", get(clock))
        .route("/_sim/clock/advance", post(advance))
        .route("/_sim/clock/set", post(set_clock))
        .route("/_sim/info", get(info))
        .route("/_sim/subscriptions/disable", post(disable))
        .fallback(not_found)
        .with_state(sim)
}

async fn not_found(uri: Uri) -> Response {
    let body = serde_json::json!({"Message": format!("No HTTP resource was found that matches the request URI '{uri}'.")});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

async fn ledger(State(sim): State<Arc<Sim>>) -> Response {
    let l = tokio::task::spawn_blocking(move || sim.ledger())
        .await
        .unwrap_or_default();
    Json(l).into_response()
}

async fn ledger_summary(State(sim): State<Arc<Sim>>) -> Response {
    let me = sim.clone();
    let l = tokio::task::spawn_blocking(move || me.ledger())
        .await
        .unwrap_or_default();
    let mut by_status = std::collections::BTreeMap::<u16, u64>::new();
    for r in &l.requests {
        *by_status.entry(r.status).or_default() += 1;
    }
    Json(serde_json::json!({
        "now": l.now,
        "published_blobs": l.published.len(),
        "published_records": l.published_records(),
        "served_blobs": l.served.len(),
        "served_downloads": l.served.values().sum::<u64>(),
        "requests": l.requests.len(),
        "requests_by_status": by_status,
        "held_back": {
            "withheld": l.held_back.iter().filter(|r| r.kind == crate::ledger::HeldBack::Withheld).count(),
            "never_published": l.held_back.iter().filter(|r| r.kind == crate::ledger::HeldBack::NeverPublished).count(),
            "purview_only": l.held_back.iter().filter(|r| r.kind == crate::ledger::HeldBack::PurviewOnly).count(),
        },
        "graph_queries": sim.graph.book.count(),
    }))
    .into_response()
}

fn clock_json(sim: &Sim) -> serde_json::Value {
    serde_json::json!({"now": crate::timefmt::listing(sim.now()), "speed": sim.clock.speed()})
}

/// A plain-text 400 telling the caller what the control endpoint expects.
fn bad_request(what: &str) -> Response {
    (StatusCode::BAD_REQUEST, what.to_string()).into_response()
}

/// Publishes what the clock change made due and answers with the clock.
async fn clock_moved(sim: &Arc<Sim>) -> Response {
    sim.ensure_generated().await;
    Json(clock_json(sim)).into_response()
}

async fn clock(State(sim): State<Arc<Sim>>) -> Response {
    Json(clock_json(&sim)).into_response()
}

/// The query parameters of a control endpoint, by name (a missing or unreadable one is
/// answered with a 400 saying what the endpoint expects).
fn params(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn advance(State(sim): State<Arc<Sim>>, uri: Uri) -> Response {
    let Some(seconds) = params(&uri)
        .get("seconds")
        .and_then(|s| s.parse::<f64>().ok())
    else {
        return bad_request("give ?seconds=N (a non-negative number)");
    };
    if !(seconds.is_finite() && (0.0..=1e12).contains(&seconds)) {
        return bad_request("seconds must be a number from 0 to 1e12");
    }
    sim.clock.advance(Duration::from_secs_f64(seconds));
    clock_moved(&sim).await
}

async fn set_clock(State(sim): State<Arc<Sim>>, uri: Uri) -> Response {
    let Some(t) = params(&uri)
        .get("time")
        .and_then(|t| crate::timefmt::parse_query_time(t))
    else {
        return bad_request("give ?time=RFC3339 (e.g. 2026-03-01T00:00:00Z)");
    };
    sim.clock.set(t);
    clock_moved(&sim).await
}

async fn disable(State(sim): State<Arc<Sim>>, uri: Uri) -> Response {
    let q = params(&uri);
    let (Some(tenant), Some(content_type)) = (q.get("tenant"), q.get("contentType")) else {
        return bad_request("give ?tenant=GUID&contentType=TYPE");
    };
    let result = content_type
        .parse::<ContentType>()
        .map_err(SimError::from)
        .and_then(|ct| sim.admin_disable(tenant, ct));
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => bad_request(&e.to_string()),
    }
}

async fn info(State(sim): State<Arc<Sim>>) -> Response {
    let store = sim.read();
    let tenants: Vec<_> = store.tenants.iter().map(|t| serde_json::json!({"tenant_id": t.spec.tenant_id, "dlp_permission": t.spec.dlp_permission})).collect();
    Json(serde_json::json!({
        "base_url": sim.base_url,
        "client_id": sim.config.client_id,
        "tenants": tenants,
        "scenarios": sim.config.scenarios.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "seed": sim.config.seed,
        "page_size": sim.page_size,
        "certificate_thumbprint": sim.auth.certificate_thumbprint(),
        "graph": {
            "queued_seconds": sim.graph.timing.queued.num_seconds(),
            "running_seconds": sim.graph.timing.running.num_seconds(),
            "record_count_limit": sim.graph.record_count_limit,
            "page_size": sim.graph.page_size,
            "max_concurrent_queries": sim.graph.limits.concurrent,
            "max_queries_per_day": sim.graph.limits.daily,
        },
    }))
    .into_response()
}
