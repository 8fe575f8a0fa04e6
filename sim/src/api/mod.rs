//! The Activity API surface (§2.1, §5): subscriptions, listings with paging, blob download,
//! with the documented checks in the §9.3 order and the request-level fault scenarios.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use crate::api_error::ApiError;
use crate::auth::AccessClaims;
use crate::content_type::ContentType;
use crate::ledger::RequestRecord;
use crate::scenario::ScenarioKind;
use crate::sim::Sim;
use crate::timefmt;

mod blob;
mod listing;
mod subscriptions;

const JSON: &str = "application/json; charset=utf-8";
const ZERO_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// The operation a feed path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Start,
    Stop,
    List,
    Content,
    Notifications,
    Blob,
    DlpTypes,
}

impl Op {
    fn parse(method: &Method, rest: &str) -> Option<Op> {
        let op = match rest.to_ascii_lowercase().as_str() {
            "subscriptions/start" => Op::Start,
            "subscriptions/stop" => Op::Stop,
            "subscriptions/list" => Op::List,
            "subscriptions/content" => Op::Content,
            "subscriptions/notifications" => Op::Notifications,
            "resources/dlpsensitivetypes" => Op::DlpTypes,
            r if r.starts_with("audit/") => Op::Blob,
            _ => return None,
        };
        let want = if matches!(op, Op::Start | Op::Stop) {
            Method::POST
        } else {
            Method::GET
        };
        (*method == want).then_some(op)
    }

    fn name(self) -> &'static str {
        match self {
            Op::Start => "start",
            Op::Stop => "stop",
            Op::List => "list",
            Op::Content => "content",
            Op::Notifications => "notifications",
            Op::Blob => "blob",
            Op::DlpTypes => "dlpSensitiveTypes",
        }
    }

    /// Method name used in AF429 messages.
    fn method_name(self) -> &'static str {
        match self {
            Op::Start => "StartSubscription",
            Op::Stop => "StopSubscription",
            Op::List => "ListSubscriptions",
            Op::Content => "ListContent",
            Op::Notifications => "ListNotifications",
            Op::Blob => "GetBlob",
            Op::DlpTypes => "GetDlpSensitiveTypes",
        }
    }
}

/// A successful answer, before faults that cut it.
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) body: Bytes,
    pub(super) headers: Vec<(&'static str, String)>,
    pub(super) served: Option<String>,
}

impl Reply {
    pub(super) fn json(body: impl Into<Bytes>) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: body.into(),
            headers: Vec::new(),
            served: None,
        }
    }
}

/// Query parameters by lower-cased name (ASP.NET binds names case-insensitively).
fn query_map(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect()
}

pub(super) fn parse_content_type(q: &HashMap<String, String>) -> Result<ContentType, ApiError> {
    let raw = q
        .get("contenttype")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::af(400, "AF20001", "Missing parameter: contentType."))?;
    raw.parse()
        .map_err(|_| ApiError::af(400, "AF20020", "The specified content type is not valid."))
}

/// Handles every `/api/{version}/{tenant}/activity/feed/{*rest}` request and records it in the ledger.
pub async fn feed(
    State(sim): State<Arc<Sim>>,
    Path((version, tenant, rest)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = sim.now();
    let q = query_map(uri.query());
    let mut rec = RequestRecord {
        tenant_id: Some(tenant.clone()),
        content_type: q.get("contenttype").cloned(),
        publisher_identifier: q.get("publisheridentifier").cloned(),
        ..RequestRecord::arrived(now, &method, &uri)
    };
    let mut drop_connection = false;
    let result = if version != "v1.0" && version != "v1" {
        Err(ApiError::af(
            404,
            "404",
            format!("No HTTP resource was found that matches the request URI '{uri}'."),
        ))
    } else {
        match Op::parse(&method, &rest) {
            None => Err(ApiError::af(
                404,
                "404",
                format!("No HTTP resource was found that matches the request URI '{uri}'."),
            )),
            Some(op) => {
                rec.operation = Some(op.name().to_string());
                handle(
                    &sim,
                    op,
                    &tenant,
                    &rest,
                    &q,
                    &headers,
                    &body,
                    now,
                    &mut rec,
                    &mut drop_connection,
                )
                .await
            }
        }
    };
    match result {
        Ok(reply) => {
            rec.status = reply.status.as_u16();
            if drop_connection {
                rec.fault = Some("drop-connection".into());
            } else if let Some(id) = &reply.served {
                sim.count_served(id);
            }
            sim.record(rec);
            build(reply, drop_connection)
        }
        Err(e) => {
            rec.status = e.status;
            rec.error_code = Some(e.ledger_code());
            sim.record(rec);
            e.into_response()
        }
    }
}

fn build(reply: Reply, drop_connection: bool) -> Response {
    let len = reply.body.len();
    let body = if drop_connection {
        // Send part of the body, then fail the stream: hyper closes the connection mid-response.
        let part = reply.body.slice(..len / 2);
        // The pause lets hyper flush the head and the first half before the failure closes the connection.
        let first = futures::stream::iter([Ok::<Bytes, std::io::Error>(part)]);
        let cut = futures::stream::once(async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "o365-sim drop-connection scenario",
            ))
        });
        Body::from_stream(futures::StreamExt::chain(first, cut))
    } else {
        Body::from(reply.body)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = reply.status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    for (name, value) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    resp
}

/// Steps 1–3 of §9.3: bearer token, tenant, roles.
fn authorize(
    sim: &Sim,
    tenant: &str,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<(AccessClaims, usize), ApiError> {
    let token = crate::auth::bearer_token(headers).ok_or_else(ApiError::denied)?;
    let claims = sim
        .auth
        .verify(token, &sim.base_url, now)
        .ok_or_else(ApiError::denied)?;
    if !timefmt::is_guid(tenant) {
        return Err(ApiError::af(
            400,
            "AF20013",
            format!("The tenant ID passed in the URL ({tenant}) is not a valid GUID."),
        ));
    }
    if !claims.tid.eq_ignore_ascii_case(tenant) {
        return Err(ApiError::af(401, "AF20010", format!("The tenant ID passed in the URL ({tenant}) does not match the tenant ID passed in the access token ({}).", claims.tid)));
    }
    let idx = sim.read().tenant_index(tenant).ok_or_else(|| {
        ApiError::af(
            400,
            "AF20011",
            format!(
                "Specified tenant ID ({tenant}) does not exist in the system or has been deleted."
            ),
        )
    })?;
    if !claims.roles.iter().any(|r| r == "ActivityFeed.Read") {
        return Err(af10001(&claims));
    }
    Ok((claims, idx))
}

fn af10001(claims: &AccessClaims) -> ApiError {
    ApiError::af(
        401,
        "AF10001",
        format!(
            "The permission set ({}) sent in the request does not include the expected permission.",
            claims.roles.join(" ")
        ),
    )
}

/// Step 4: scenario faults and the tenant's request budget.
async fn throttle_and_faults(
    sim: &Sim,
    op: Op,
    tenant: &str,
    publisher: Option<&String>,
    rec: &mut RequestRecord,
    drop_connection: &mut bool,
) -> Result<(), ApiError> {
    let pid = publisher.map(String::as_str).unwrap_or(ZERO_GUID);
    let af429 = |status: u16| {
        ApiError::af(
            status,
            "AF429",
            format!(
                "Too many requests. Method={}, PublisherId={pid}",
                op.method_name()
            ),
        )
    };
    if sim.fires(ScenarioKind::Slow) {
        rec.fault = Some("slow".into());
        tokio::time::sleep(std::time::Duration::from_millis(sim.roll(500..2000))).await;
    }
    if sim.fires(ScenarioKind::Throttle) {
        rec.fault = Some("throttle".into());
        return Err(af429(403));
    }
    if sim.fires(ScenarioKind::Throttle429) {
        rec.fault = Some("throttle-429".into());
        return Err(af429(429).with_retry_after(1));
    }
    if sim.fires(ScenarioKind::Throttle429Bare) {
        rec.fault = Some("throttle-429-bare".into());
        return Err(af429(429));
    }
    if sim.fires(ScenarioKind::ServerError) {
        rec.fault = Some("server-error".into());
        return Err(match sim.roll(0..4) {
            0 => ApiError::af(500, "AF50000", "An internal error occurred. Retry the request."),
            1 => ApiError::af(500, "AF50005", "An internal error occurred. Retry the request."),
            2 => ApiError::text(503, "503", "<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>"),
            _ => ApiError::text(408, "408", "<html><body><h1>408 Request Timeout</h1></body></html>"),
        });
    }
    let bucket = if sim.switch(ScenarioKind::PublisherBuckets) {
        pid
    } else {
        tenant
    };
    if !sim.take_token(bucket) {
        return Err(af429(403));
    }
    *drop_connection = sim.fires(ScenarioKind::DropConnection);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    sim: &Arc<Sim>,
    op: Op,
    tenant: &str,
    rest: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
    now: DateTime<Utc>,
    rec: &mut RequestRecord,
    drop_connection: &mut bool,
) -> Result<Reply, ApiError> {
    let (claims, ti) = authorize(sim, tenant, headers, now)?;
    let has_dlp = claims.roles.iter().any(|r| r == "ActivityFeed.ReadDlp");
    // Step 3 for DLP.All: the content type comes from the query, or from the blob.
    let blob_id = (op == Op::Blob).then(|| {
        rest.split_once('/')
            .map(|(_, id)| id.to_string())
            .unwrap_or_default()
    });
    if op == Op::Blob {
        sim.ensure_generated().await;
    }
    let blob = blob_id
        .as_ref()
        .and_then(|id| sim.read().blobs.get(id).cloned());
    if let Some(b) = &blob {
        rec.content_type = Some(b.content_type.as_str().to_string());
    }
    rec.content_id = blob_id.clone();
    let dlp_requested = match op {
        Op::Blob => blob
            .as_ref()
            .is_some_and(|b| b.content_type == ContentType::DlpAll && b.tenant == ti),
        _ => q.get("contenttype").map(String::as_str) == Some(ContentType::DlpAll.as_str()),
    };
    if dlp_requested && !has_dlp {
        return Err(af10001(&claims));
    }
    throttle_and_faults(
        sim,
        op,
        tenant,
        q.get("publisheridentifier"),
        rec,
        drop_connection,
    )
    .await?;
    match op {
        Op::List => Ok(subscriptions::list(sim, ti)),
        Op::Start => subscriptions::start(sim, ti, q, body, now),
        Op::Stop => subscriptions::stop(sim, ti, q),
        Op::Content => listing::content(sim, ti, tenant, q, now, rec).await,
        Op::Notifications => listing::notifications(sim, ti, q, now, rec),
        Op::DlpTypes => blob::dlp_types(headers),
        Op::Blob => blob::get_blob(sim, ti, blob_id.unwrap_or_default(), blob, now).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_need_their_method() {
        assert_eq!(
            Op::parse(&Method::POST, "subscriptions/start"),
            Some(Op::Start)
        );
        assert_eq!(Op::parse(&Method::GET, "subscriptions/start"), None);
        assert_eq!(Op::parse(&Method::GET, "audit/abc"), Some(Op::Blob));
        assert_eq!(Op::parse(&Method::GET, "subscriptions/whatever"), None);
    }
}
