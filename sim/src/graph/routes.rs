//! HTTP handlers of the Graph audit log query API, with Graph's error envelope
//! (`{"error":{"code","message","innerError"}}`), each request recorded in the ledger.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::queries::{self, Query, Status};
use super::query_body::{parse_query, QueryBody};
use super::view;
use super::{GRAPH_AUDIENCE, GRAPH_ROLE};
use crate::ledger::RequestRecord;
use crate::scenario::ScenarioKind;
use crate::sim::Sim;

/// Largest `$top` honoured.
const MAX_TOP: usize = 1000;

/// A Graph error answer.
#[derive(Debug)]
pub struct GraphError {
    /// HTTP status.
    pub status: StatusCode,
    /// Graph error code (`BadRequest`, `TooManyRequests`, …).
    pub code: &'static str,
    /// Message.
    pub message: String,
    /// `Retry-After` seconds, when sent.
    pub retry_after: Option<u64>,
}

impl GraphError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A 400 `BadRequest`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    fn response(self, now: DateTime<Utc>) -> Response {
        let id = uuid::Uuid::new_v4().to_string();
        let body = json!({"error": {
            "code": self.code,
            "message": self.message,
            "innerError": {
                "date": now.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": id,
                "client-request-id": id,
            }
        }});
        let mut resp = (self.status, json_text(body.to_string())).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

fn json_text(body: String) -> ([(header::HeaderName, &'static str); 1], String) {
    (
        [(
            header::CONTENT_TYPE,
            "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
        )],
        body,
    )
}

/// `v1.0` or `beta`, from the path.
fn version(uri: &Uri) -> &'static str {
    if uri.path().starts_with("/beta/") {
        "beta"
    } else {
        "v1.0"
    }
}

/// Checks the bearer token: a Graph-audience token of a configured tenant with the audit role.
fn authorize(sim: &Sim, headers: &HeaderMap, now: DateTime<Utc>) -> Result<usize, GraphError> {
    let unauthorized = |why: &str| {
        GraphError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            format!("Access token validation failure. {why}"),
        )
    };
    let token =
        crate::auth::bearer_token(headers).ok_or_else(|| unauthorized("Access token is empty."))?;
    let claims = sim
        .auth
        .verify(token, GRAPH_AUDIENCE, now)
        .ok_or_else(|| unauthorized("Invalid audience, signature or lifetime."))?;
    if !claims.roles.iter().any(|r| r == GRAPH_ROLE) {
        return Err(GraphError::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ));
    }
    sim.read()
        .tenant_index(&claims.tid)
        .ok_or_else(|| unauthorized("The token's tenant is not served here."))
}

/// One Graph request as every handler needs it: the simulator, and what to authorize and record.
pub struct GraphCall {
    sim: Arc<Sim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl FromRequestParts<Arc<Sim>> for GraphCall {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, sim: &Arc<Sim>) -> Result<Self, Infallible> {
        Ok(Self {
            sim: sim.clone(),
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
        })
    }
}

impl GraphCall {
    /// `@odata.context` of an answer about `what`, under the version that was called.
    fn context(&self, what: &str) -> String {
        format!(
            "{}/{}/$metadata#{what}",
            self.sim.base_url,
            version(&self.uri)
        )
    }

    /// Authorizes the call, runs the handler body with the caller's tenant and the simulated
    /// time, and records the request in the ledger.
    async fn answer<F>(self, operation: &str, run: F) -> Response
    where
        F: AsyncFnOnce(&Self, usize, DateTime<Utc>) -> Result<(StatusCode, String), GraphError>,
    {
        let sim = &self.sim;
        let now = sim.now();
        let authorized = authorize(sim, &self.headers, now);
        let tid = authorized
            .as_ref()
            .ok()
            .map(|&i| sim.read().tenants[i].spec.tenant_id.clone());
        let beta_only = sim.switch(ScenarioKind::GraphBetaOnly) && version(&self.uri) == "v1.0";
        let result = match authorized {
            // As during the API's 2025 move back to beta: v1.0 does not know the segment.
            Ok(_) if beta_only => Err(GraphError::bad_request(
                "Resource not found for the segment 'auditLog'.",
            )),
            Ok(tenant) => run(&self, tenant, now).await,
            Err(e) => Err(e),
        };
        let (status, code) = match &result {
            Ok((s, _)) => (s.as_u16(), None),
            Err(e) => (e.status.as_u16(), Some(e.code.to_string())),
        };
        sim.record(RequestRecord {
            status,
            tenant_id: tid,
            operation: Some(operation.to_string()),
            error_code: code,
            ..RequestRecord::arrived(now, &self.method, &self.uri)
        });
        match result {
            Ok((s, body)) => (s, json_text(body)).into_response(),
            Err(e) => e.response(now),
        }
    }
}

/// The Graph audit query routes, under both `v1.0` and `beta` (the API has lived under each).
pub fn router() -> Router<Arc<Sim>> {
    ["v1.0", "beta"].into_iter().fold(Router::new(), |r, v| {
        let queries = format!("/{v}/security/auditLog/queries");
        r.route(&queries, get(list).post(create))
            .route(&format!("{queries}/{{id}}"), get(query))
            .route(&format!("{queries}/{{id}}/records"), get(records))
    })
}

/// `POST /{v}/security/auditLog/queries`.
pub async fn create(call: GraphCall, body: Bytes) -> Response {
    call.answer(
        "auditLogQueryCreate",
        async move |call: &GraphCall, tenant, now| {
            let s = &call.sim;
            let QueryBody {
                mut resource,
                filters,
                record_count_limit,
            } = parse_query(&body)?;
            let limit = record_count_limit.map_or(s.graph.record_count_limit, |asked| {
                asked.min(s.graph.record_count_limit)
            });
            resource.insert("recordCountLimit".into(), json!(limit));
            let me = s.clone();
            let selected = tokio::task::spawn_blocking(move || view::select(&me, tenant, &filters))
                .await
                .map_err(|_| {
                    GraphError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalServerError",
                        "The query could not be run.",
                    )
                })?;
            let g = &s.graph;
            let mut records = selected;
            let found = records.len();
            let limit_exceeded = found > limit;
            records.truncate(limit);
            let unstable = if s.fires(ScenarioKind::UnstablePaging) {
                queries::unstable_plan(records.len(), g.page_size, s.roll(0..u64::MAX))
            } else {
                None
            };
            let started = now + g.timing.queued;
            let query = Query {
                id: String::new(),
                tenant,
                submitted: now,
                started,
                finished: started + g.timing.running,
                resource,
                records: Arc::new(records),
                limit_exceeded,
                found,
                unstable,
                reads: 0,
                fails: s.fires(ScenarioKind::GraphQueryFailures),
            };
            let id = g
                .book
                .admit(query, g.limits, s.config.seed, now)
                .map_err(|refused| GraphError {
                    retry_after: Some(refused.retry_after),
                    ..GraphError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "TooManyRequests",
                        refused.reason,
                    )
                })?;
            let ctx = call.context("security/auditLog/queries/$entity");
            let json = g
                .book
                .with(tenant, &id, |q| q.json(now, &ctx))
                .unwrap_or(Value::Null);
            Ok((StatusCode::CREATED, json.to_string()))
        },
    )
    .await
}

/// `GET /{v}/security/auditLog/queries`.
pub async fn list(call: GraphCall) -> Response {
    call.answer(
        "auditLogQueryList",
        async |call: &GraphCall, tenant, now| {
            let ctx = call.context("security/auditLog/queries");
            let value = call.sim.graph.book.list(tenant, now, &ctx);
            Ok((
                StatusCode::OK,
                json!({"@odata.context": ctx, "value": value}).to_string(),
            ))
        },
    )
    .await
}

fn not_found(id: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "UnknownError",
        format!("The audit log query {id} does not exist."),
    )
}

/// `GET /{v}/security/auditLog/queries/{id}`.
pub async fn query(Path(id): Path<String>, call: GraphCall) -> Response {
    call.answer(
        "auditLogQueryGet",
        async move |call: &GraphCall, tenant, now| {
            let ctx = call.context("security/auditLog/queries/$entity");
            call.sim
                .graph
                .book
                .with(tenant, &id, |q| {
                    (StatusCode::OK, q.json(now, &ctx).to_string())
                })
                .ok_or_else(|| not_found(&id))
        },
    )
    .await
}

/// `GET /{v}/security/auditLog/queries/{id}/records`.
pub async fn records(Path(id): Path<String>, call: GraphCall) -> Response {
    call.answer("auditLogQueryRecords", async move |call: &GraphCall, tenant, now| {
        let (s, uri) = (&call.sim, &call.uri);
        let params: Vec<(String, String)> = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let param = |name: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let top = match param("$top") {
            None => None,
            Some(t) => Some(
                t.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_TOP).contains(n))
                    .ok_or_else(|| GraphError::bad_request(format!("$top must be a whole number from 1 to {MAX_TOP}.")))?,
            ),
        };
        let size = top.unwrap_or(s.graph.page_size);
        let skiptoken = param("$skiptoken");
        let v = version(uri);
        let page = s
            .graph
            .book
            .with(tenant, &id, |q| match q.status(now) {
                Status::Succeeded => queries::page(q, skiptoken, size).ok_or_else(|| {
                    GraphError::bad_request("The $skiptoken is not valid for this query.")
                }),
                other => Err(GraphError::bad_request(format!(
                    "The audit log query's status is {}; records can be read only once it has succeeded (submit a failed query again).",
                    other.as_str()
                ))),
            })
            .ok_or_else(|| not_found(&id))??;
        let context = call.context(&format!("security/auditLog/queries('{id}')/records"));
        let mut body = format!("{{\"@odata.context\":{},\"value\":[", json!(context));
        body.push_str(&page.records.join(","));
        body.push(']');
        if let Some(token) = page.next {
            let mut qs = url::form_urlencoded::Serializer::new(String::new());
            if let Some(t) = top {
                qs.append_pair("$top", &t.to_string());
            }
            qs.append_pair("$skiptoken", &token);
            let link = format!(
                "{}/{v}/security/auditLog/queries/{id}/records?{}",
                s.base_url,
                qs.finish()
            );
            body.push_str(&format!(",\"@odata.nextLink\":{}", json!(link)));
        }
        body.push('}');
        Ok((StatusCode::OK, body))
    })
    .await
}
