//! HTTP handlers of the Graph audit log query API, with Graph's error envelope
//! (`{"error":{"code","message","innerError"}}`), each request recorded in the ledger.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::queries::{self, Query, Status};
use super::view::{self, Filters};
use super::{record_types, GRAPH_AUDIENCE, GRAPH_ROLE};
use crate::ledger::RequestRecord;
use crate::scenario::ScenarioKind;
use crate::sim::Sim;

/// Largest `$top` honoured.
const MAX_TOP: usize = 1000;

/// A Graph error answer.
#[derive(Debug)]
struct GraphError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl GraphError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
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
        let mut resp = (self.status, json_body(&body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

fn json_body(v: &Value) -> ([(header::HeaderName, &'static str); 1], String) {
    (
        [(
            header::CONTENT_TYPE,
            "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
        )],
        v.to_string(),
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
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| unauthorized("Access token is empty."))?;
    let claims = sim
        .auth
        .verify(token.trim(), GRAPH_AUDIENCE, now)
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

/// Runs a handler body and records the request in the ledger.
async fn recorded<F>(
    sim: &Arc<Sim>,
    method: &Method,
    uri: &Uri,
    operation: &str,
    headers: &HeaderMap,
    run: F,
) -> Response
where
    F: AsyncFnOnce(usize, DateTime<Utc>) -> Result<(StatusCode, Value), GraphError>,
{
    let now = sim.now();
    let authorized = authorize(sim, headers, now);
    let tid = authorized
        .as_ref()
        .ok()
        .map(|&i| sim.read().tenants[i].spec.tenant_id.clone());
    let result = match authorized {
        Ok(tenant) => run(tenant, now).await,
        Err(e) => Err(e),
    };
    let (status, code) = match &result {
        Ok((s, _)) => (s.as_u16(), None),
        Err(e) => (e.status.as_u16(), Some(e.code.to_string())),
    };
    sim.record(RequestRecord {
        at: now,
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        status,
        tenant_id: tid,
        operation: Some(operation.to_string()),
        content_type: None,
        content_id: None,
        error_code: code,
        publisher_identifier: None,
        start_time: None,
        end_time: None,
        window_given: false,
        fault: None,
    });
    match result {
        Ok((s, body)) => (s, json_body(&body)).into_response(),
        Err(e) => e.response(now),
    }
}

fn context(sim: &Sim, version: &str, what: &str) -> String {
    format!("{}/{version}/$metadata#{what}", sim.base_url)
}

/// `POST /{v}/security/auditLog/queries`.
pub async fn create(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (s, u) = (sim.clone(), uri.clone());
    recorded(&sim, &method, &u, "auditLogQueryCreate", &headers, async move |tenant, now| {
        let (resource, filters) = parse_query(&body)?;
        let me = s.clone();
        let selected = tokio::task::spawn_blocking(move || view::select(&me, tenant, &filters))
            .await
            .map_err(|_| {
                GraphError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "The query could not be run.")
            })?;
        let g = &s.graph;
        let mut records = Vec::with_capacity(selected.len());
        for (at, record) in selected {
            let id = record.get("Id").and_then(Value::as_str).unwrap_or_default().to_string();
            let dup = g.duplicate_rate.is_some_and(|rate| {
                let h = crate::store::mix(&[&s.config.seed.to_le_bytes(), id.as_bytes(), b"purview duplicate"]);
                (h as f64 / u64::MAX as f64) < rate
            });
            if dup {
                records.push(view::graph_record(s.config.seed, record.clone(), at, 1));
            }
            records.push(view::graph_record(s.config.seed, record, at, 0));
        }
        let found = records.len();
        let limit_exceeded = found > g.record_count_limit;
        records.truncate(g.record_count_limit);
        let unstable = if s.fires(ScenarioKind::UnstablePaging) {
            queries::unstable_plan(records.len(), g.page_size, s.roll(0..u64::MAX))
        } else {
            None
        };
        let started = now + g.timing.queued;
        let query = Query {
            id: queries::query_id(s.config.seed, g.book.count()),
            tenant,
            started,
            finished: started + g.timing.running,
            resource,
            records: Arc::new(records),
            limit_exceeded,
            found,
            unstable,
            reads: 0,
        };
        let json = query.json(now, &context(&s, version(&uri), "security/auditLog/queries/$entity"));
        g.book.admit(query, g.max_concurrent, now).map_err(|refused| GraphError {
            retry_after: Some(refused.retry_after),
            ..GraphError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                format!(
                    "Too many concurrent audit log queries: {} of this tenant have not completed yet.",
                    refused.in_flight
                ),
            )
        })?;
        Ok((StatusCode::CREATED, json))
    })
    .await
}

/// `GET /{v}/security/auditLog/queries`.
pub async fn list(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (s, u) = (sim.clone(), uri.clone());
    recorded(
        &sim,
        &method,
        &u,
        "auditLogQueryList",
        &headers,
        async move |tenant, now| {
            let ctx = context(&s, version(&uri), "security/auditLog/queries");
            let value = s.graph.book.list(tenant, now, &ctx);
            Ok((
                StatusCode::OK,
                json!({"@odata.context": ctx, "value": value}),
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
pub async fn get(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (s, u) = (sim.clone(), uri.clone());
    recorded(
        &sim,
        &method,
        &u,
        "auditLogQueryGet",
        &headers,
        async move |tenant, now| {
            let ctx = context(&s, version(&uri), "security/auditLog/queries/$entity");
            s.graph
                .book
                .with(tenant, &id, |q| (StatusCode::OK, q.json(now, &ctx)))
                .ok_or_else(|| not_found(&id))
        },
    )
    .await
}

/// `GET /{v}/security/auditLog/queries/{id}/records`.
pub async fn records(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (s, u) = (sim.clone(), uri.clone());
    recorded(&sim, &method, &u, "auditLogQueryRecords", &headers, async move |tenant, now| {
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
        let v = version(&uri);
        let page = s
            .graph
            .book
            .with(tenant, &id, |q| match q.status(now) {
                Status::Succeeded => queries::page(q, skiptoken, size).ok_or_else(|| {
                    GraphError::bad_request("The $skiptoken is not valid for this query.")
                }),
                other => Err(GraphError::bad_request(format!(
                    "The audit log query is {}; its records can be read once its status is succeeded.",
                    other.as_str()
                ))),
            })
            .ok_or_else(|| not_found(&id))??;
        let mut body = Map::new();
        body.insert(
            "@odata.context".into(),
            json!(context(&s, v, &format!("security/auditLog/queries('{id}')/records"))),
        );
        body.insert("value".into(), Value::Array(page.records));
        if let Some(token) = page.next {
            let mut qs = url::form_urlencoded::Serializer::new(String::new());
            if let Some(t) = top {
                qs.append_pair("$top", &t.to_string());
            }
            qs.append_pair("$skiptoken", &token);
            body.insert(
                "@odata.nextLink".into(),
                json!(format!("{}/{v}/security/auditLog/queries/{id}/records?{}", s.base_url, qs.finish())),
            );
        }
        Ok((StatusCode::OK, Value::Object(body)))
    })
    .await
}

/// Reads a query body: the resource to echo, and the filters the simulator applies.
fn parse_query(body: &[u8]) -> Result<(Map<String, Value>, Filters), GraphError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| GraphError::bad_request(format!("The request body is not JSON: {e}")))?;
    let Value::Object(input) = v else {
        return Err(GraphError::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    let time = |name: &str| -> Result<DateTime<Utc>, GraphError> {
        input
            .get(name)
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| {
                GraphError::bad_request(format!(
                    "{name} is required, as a date and time such as 2026-03-01T00:00:00Z."
                ))
            })
    };
    let start = time("filterStartDateTime")?;
    let end = time("filterEndDateTime")?;
    if start >= end {
        return Err(GraphError::bad_request(
            "filterStartDateTime must be before filterEndDateTime.",
        ));
    }
    let strings = |name: &str| -> Result<Vec<String>, GraphError> {
        match input.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str().map(str::to_string).ok_or_else(|| {
                        GraphError::bad_request(format!("{name} must hold strings."))
                    })
                })
                .collect(),
            Some(_) => Err(GraphError::bad_request(format!("{name} must be an array."))),
        }
    };
    let record_types = strings("recordTypeFilters")?
        .iter()
        .map(|g| {
            record_types::number_of(g).ok_or_else(|| {
                GraphError::bad_request(format!(
                    "Cannot convert the literal '{g}' to the expected type 'microsoft.graph.security.auditLogRecordType'."
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let filters = Filters {
        start: Some(start),
        end: Some(end),
        record_types,
        operations: strings("operationFilters")?,
        users: strings("userPrincipalNameFilters")?,
        services: strings("serviceFilters")?,
    };
    let mut resource = Map::new();
    resource.insert(
        "@odata.type".into(),
        json!("#microsoft.graph.security.auditLogQuery"),
    );
    resource.insert(
        "displayName".into(),
        input.get("displayName").cloned().unwrap_or(Value::Null),
    );
    resource.insert(
        "filterStartDateTime".into(),
        json!(start.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
    );
    resource.insert(
        "filterEndDateTime".into(),
        json!(end.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
    );
    for name in [
        "recordTypeFilters",
        "keywordFilter",
        "serviceFilters",
        "operationFilters",
        "userPrincipalNameFilters",
        "ipAddressFilters",
        "objectIdFilters",
        "administrativeUnitIdFilters",
    ] {
        let default = if name == "keywordFilter" {
            Value::Null
        } else {
            json!([])
        };
        resource.insert(name.into(), input.get(name).cloned().unwrap_or(default));
    }
    Ok((resource, filters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_bodies_are_checked() {
        let ok = br#"{"displayName":"h","filterStartDateTime":"2026-03-01T00:00:00Z","filterEndDateTime":"2026-03-01T01:00:00Z","recordTypeFilters":["exchangeAdmin"]}"#;
        let (resource, filters) = parse_query(ok).unwrap();
        assert_eq!(filters.record_types, vec![1]);
        assert_eq!(resource["filterEndDateTime"], "2026-03-01T01:00:00Z");
        assert_eq!(resource["operationFilters"], json!([]));
        for bad in [
            &br#"{"filterStartDateTime":"2026-03-01T00:00:00Z"}"#[..],
            br#"{"filterStartDateTime":"2026-03-01T01:00:00Z","filterEndDateTime":"2026-03-01T00:00:00Z"}"#,
            br#"{"filterStartDateTime":"2026-03-01T00:00:00Z","filterEndDateTime":"2026-03-01T01:00:00Z","recordTypeFilters":["ExchangeAdmin"]}"#,
            b"[]",
        ] {
            assert_eq!(parse_query(bad).unwrap_err().status, StatusCode::BAD_REQUEST);
        }
    }
}
