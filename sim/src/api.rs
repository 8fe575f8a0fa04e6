//! The Activity API surface (§2.1, §5): subscriptions, listings with paging, blob download,
//! with the documented checks in the §9.3 order and the request-level fault scenarios.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration as CDuration, Timelike, Utc};

use crate::api_error::{ApiError, AF20030_TEXT, AF20055_TEXT};
use crate::auth::AccessClaims;
use crate::content_type::ContentType;
use crate::ledger::RequestRecord;
use crate::scenario::ScenarioKind;
use crate::sim::Sim;
use crate::store::{SubStatus, Subscription};
use crate::timefmt;

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
struct Reply {
    status: StatusCode,
    body: Bytes,
    headers: Vec<(&'static str, String)>,
    served: Option<String>,
}

impl Reply {
    fn json(body: impl Into<Bytes>) -> Reply {
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

fn window_error(sim: &Sim) -> ApiError {
    if sim.switch(ScenarioKind::Af20030) {
        ApiError::af(400, "AF20030", AF20030_TEXT)
    } else {
        ApiError::af(400, "AF20055", AF20055_TEXT)
    }
}

fn parse_content_type(q: &HashMap<String, String>) -> Result<ContentType, ApiError> {
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
        at: now,
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        status: 0,
        tenant_id: Some(tenant.clone()),
        operation: None,
        content_type: q.get("contenttype").cloned(),
        content_id: None,
        error_code: None,
        publisher_identifier: q.get("publisheridentifier").cloned(),
        start_time: None,
        end_time: None,
        window_given: false,
        fault: None,
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
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(ApiError::denied)?;
    let claims = sim
        .auth
        .verify(token.trim(), &sim.base_url, now)
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
        Op::List => Ok(list(sim, ti)),
        Op::Start => start(sim, ti, q, body, now),
        Op::Stop => stop(sim, ti, q),
        Op::Content => content(sim, ti, tenant, q, now, rec).await,
        Op::Notifications => notifications(sim, ti, q, now, rec),
        Op::DlpTypes => dlp_types(headers),
        Op::Blob => get_blob(sim, ti, blob_id.unwrap_or_default(), blob, now).await,
    }
}

fn subscription_json(ct: ContentType, s: &Subscription) -> serde_json::Value {
    let status = if s.status == SubStatus::Enabled {
        "enabled"
    } else {
        "disabled"
    };
    serde_json::json!({"contentType": ct.as_str(), "status": status, "webhook": s.webhook})
}

fn list(sim: &Sim, ti: usize) -> Reply {
    let store = sim.read();
    let t = &store.tenants[ti];
    let items: Vec<_> = ContentType::ALL
        .into_iter()
        .filter_map(|ct| {
            t.types[ct.index() as usize]
                .subscription
                .as_ref()
                .map(|s| subscription_json(ct, s))
        })
        .collect();
    Reply::json(serde_json::Value::Array(items).to_string())
}

fn start(
    sim: &Sim,
    ti: usize,
    q: &HashMap<String, String>,
    body: &Bytes,
    now: DateTime<Utc>,
) -> Result<Reply, ApiError> {
    let ct = parse_content_type(q)?;
    let webhook = parse_webhook(body, now)?;
    let per_tenant = sim.switch(ScenarioKind::StartCooldownPerTenant);
    let cooldown = CDuration::from_std(sim.config.start_cooldown).unwrap_or(CDuration::minutes(15));
    let mut store = sim.write();
    let t = &mut store.tenants[ti];
    let last = if per_tenant {
        t.last_start_any
    } else {
        t.types[ct.index() as usize].last_start
    };
    if let Some(last) = last {
        let remaining = (last + cooldown - now).num_seconds();
        if remaining > 0 {
            return Err(ApiError::af(
                403,
                "429",
                format!(
                    "Too many frequent subscription start requests. Please retry again after {}.",
                    timefmt::minutes_seconds(remaining)
                ),
            ));
        }
    }
    let ts = &mut t.types[ct.index() as usize];
    let sub = match ts.subscription.take() {
        Some(s) if s.status == SubStatus::Enabled && s.webhook == webhook => {
            ts.subscription = Some(s);
            return Err(ApiError::af(
                400,
                "AF20024",
                "The subscription is already enabled. No property change.",
            ));
        }
        Some(s) if s.status == SubStatus::Enabled => Subscription { webhook, ..s },
        // Restarting exposes only content created from now on (§5.3).
        Some(_) => Subscription {
            status: SubStatus::Enabled,
            webhook,
            visible_from: Some(now),
        },
        None => Subscription {
            status: SubStatus::Enabled,
            webhook,
            visible_from: None,
        },
    };
    let json = subscription_json(ct, &sub);
    ts.subscription = Some(sub);
    ts.last_start = Some(now);
    t.last_start_any = Some(now);
    Ok(Reply::json(json.to_string()))
}

fn parse_webhook(body: &Bytes, now: DateTime<Utc>) -> Result<serde_json::Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Null);
    }
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        ApiError::af(
            400,
            "AF20002",
            "Invalid parameter type: body. Expected type: json",
        )
    })?;
    let Some(w) = v.get("webhook").filter(|w| !w.is_null()) else {
        return Ok(serde_json::Value::Null);
    };
    let address = w
        .get("address")
        .and_then(|a| a.as_str())
        .unwrap_or_default();
    if !address.to_ascii_lowercase().starts_with("https") {
        return Err(ApiError::af(400, "AF20021", format!("The webhook endpoint {address} could not be validated. The address must begin with HTTPS.")));
    }
    let expiration = w
        .get("expiration")
        .and_then(|e| e.as_str())
        .filter(|e| !e.is_empty());
    if let Some(exp) = expiration {
        match timefmt::parse_query_time(exp) {
            Some(t) if t < now => {
                return Err(ApiError::af(
                    400,
                    "AF20003",
                    format!("Expiration {exp} provided is set to past date and time."),
                ))
            }
            Some(_) => {}
            None => {
                return Err(ApiError::af(
                    400,
                    "AF20002",
                    "Invalid parameter type: expiration. Expected type: datetime",
                ))
            }
        }
    }
    Ok(serde_json::json!({
        "status": "enabled",
        "address": address,
        "authId": w.get("authId").cloned().unwrap_or(serde_json::Value::Null),
        "expiration": expiration,
    }))
}

fn stop(sim: &Sim, ti: usize, q: &HashMap<String, String>) -> Result<Reply, ApiError> {
    let ct = parse_content_type(q)?;
    let mut store = sim.write();
    match &mut store.tenants[ti].types[ct.index() as usize].subscription {
        None => Err(ApiError::af(
            400,
            "AF20022",
            "No subscription found for the specified content type.",
        )),
        Some(s) => {
            s.status = SubStatus::Stopped;
            Ok(Reply::json(Bytes::new()))
        }
    }
}

fn subscription_gate(sim: &Sim, ti: usize, ct: ContentType) -> Result<(), ApiError> {
    match sim.read().tenants[ti].types[ct.index() as usize]
        .subscription
        .as_ref()
        .map(|s| s.status)
    {
        Some(SubStatus::Enabled) => Ok(()),
        Some(SubStatus::AdminDisabled) => Err(ApiError::af(
            400,
            "AF20023",
            "The subscription was disabled by a tenant admin.",
        )),
        Some(SubStatus::Stopped) | None => Err(ApiError::af(
            400,
            "AF20022",
            "No subscription found for the specified content type.",
        )),
    }
}

/// Validates `startTime`/`endTime` (§4.3); returns the window and whether the caller gave it.
fn window(
    sim: &Sim,
    q: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>, bool), ApiError> {
    let get = |name: &str| q.get(name).filter(|s| !s.is_empty());
    let (start, end) = match (get("starttime"), get("endtime")) {
        (None, None) => {
            // The substituted default: the 24 hours before the request, to the whole second.
            let end = now.with_nanosecond(0).unwrap_or(now);
            return Ok((end - CDuration::hours(24), end, false));
        }
        (Some(s), Some(e)) => (s, e),
        _ => return Err(window_error(sim)),
    };
    let start = timefmt::parse_query_time(start).ok_or_else(|| {
        ApiError::af(
            400,
            "AF20002",
            "Invalid parameter type: startTime. Expected type: datetime",
        )
    })?;
    let end = timefmt::parse_query_time(end).ok_or_else(|| {
        ApiError::af(
            400,
            "AF20002",
            "Invalid parameter type: endTime. Expected type: datetime",
        )
    })?;
    let span = end - start;
    let grace = CDuration::from_std(sim.config.lookback_grace).unwrap_or(CDuration::zero());
    let too_long = span > CDuration::hours(24)
        || (span == CDuration::hours(24) && sim.switch(ScenarioKind::RejectExact24h));
    if start >= end || too_long || start < now - CDuration::days(7) - grace {
        return Err(window_error(sim));
    }
    Ok((start, end, true))
}

/// `contentType` and the window of a listing call, recorded in the ledger once validated.
fn listing_params(
    sim: &Sim,
    q: &HashMap<String, String>,
    now: DateTime<Utc>,
    rec: &mut RequestRecord,
) -> Result<(ContentType, DateTime<Utc>, DateTime<Utc>), ApiError> {
    let ct = parse_content_type(q)?;
    let (start, end, given) = window(sim, q, now)?;
    rec.start_time = Some(start);
    rec.end_time = Some(end);
    rec.window_given = given;
    Ok((ct, start, end))
}

fn page_check(
    sim: &Sim,
    tenant: &str,
    ct: ContentType,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    offset: usize,
) -> u32 {
    let h = crate::store::mix(&[
        &sim.config.seed.to_le_bytes(),
        tenant.to_ascii_lowercase().as_bytes(),
        ct.as_str().as_bytes(),
        &start.timestamp_micros().to_le_bytes(),
        &end.timestamp_micros().to_le_bytes(),
        &(offset as u64).to_le_bytes(),
    ]);
    (h >> 32) as u32
}

fn next_page_token(
    sim: &Sim,
    tenant: &str,
    ct: ContentType,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    offset: usize,
) -> String {
    format!(
        "{}R{:06}{:08x}",
        start.format("%Y%m%d%H%M%S"),
        offset,
        page_check(sim, tenant, ct, start, end, offset)
    )
}

fn parse_next_page(
    sim: &Sim,
    tenant: &str,
    ct: ContentType,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    token: &str,
) -> Result<usize, ApiError> {
    let bad = || ApiError::af(400, "AF20031", format!("Invalid nextPage Input: {token}."));
    let (_, tail) = token.split_once('R').ok_or_else(bad)?;
    if tail.len() < 14 || !tail.is_ascii() {
        return Err(bad());
    }
    let (off, check) = tail.split_at(tail.len() - 8);
    let offset: usize = off.parse().map_err(|_| bad())?;
    let check = u32::from_str_radix(check, 16).map_err(|_| bad())?;
    if check != page_check(sim, tenant, ct, start, end, offset) {
        return Err(bad());
    }
    Ok(offset)
}

fn query_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
}

async fn content(
    sim: &Arc<Sim>,
    ti: usize,
    tenant: &str,
    q: &HashMap<String, String>,
    now: DateTime<Utc>,
    rec: &mut RequestRecord,
) -> Result<Reply, ApiError> {
    let (ct, start, end) = listing_params(sim, q, now, rec)?;
    let offset = match q.get("nextpage").filter(|s| !s.is_empty()) {
        Some(token) => parse_next_page(sim, tenant, ct, start, end, token)?,
        None => 0,
    };
    subscription_gate(sim, ti, ct)?;
    sim.ensure_generated().await;
    let entries = sim.read().list(ti, ct, start, end, now);
    let page_end = (offset + sim.page_size).min(entries.len());
    let mut page: Vec<&crate::store::Listing> = entries
        .get(offset..page_end)
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    // Duplicates inside a page, and pages out of availability order.
    let mut i = 0;
    while i < page.len() {
        if sim.fires(ScenarioKind::DuplicateInPage) {
            let pos = (i + 1 + sim.roll(0..(page.len() - i) as u64) as usize).min(page.len());
            page.insert(pos, page[i]);
            i += 1;
        }
        i += 1;
    }
    if page.len() > 1 && sim.fires(ScenarioKind::ShufflePages) {
        for k in (1..page.len()).rev() {
            let j = sim.roll(0..(k as u64 + 1)) as usize;
            page.swap(k, j);
        }
    }
    let tenant_id = sim.read().tenants[ti].spec.tenant_id.clone();
    let mut body = String::with_capacity(page.len() * 420 + 2);
    body.push('[');
    for (n, l) in page.iter().enumerate() {
        if n > 0 {
            body.push(',');
        }
        let id = &l.blob.content_id;
        body.push_str(&crate::listing_faults::render_entry(
            crate::listing_faults::entry_fault(sim.config.seed, &sim.config.scenarios, id),
            ct,
            id,
            sim.generator.content_uri(&tenant_id, id),
            l.content_created,
            l.blob.content_expiration,
        ));
    }
    body.push(']');
    let mut reply = Reply::json(body);
    if page_end < entries.len() {
        let token = next_page_token(sim, tenant, ct, start, end, page_end);
        let lower = sim.fires(ScenarioKind::LowercaseNextPage);
        let name = |n: &'static str| {
            if lower {
                n.to_ascii_lowercase()
            } else {
                n.to_string()
            }
        };
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(&name("contentType"), ct.as_str())
            .append_pair(&name("startTime"), &query_time(start))
            .append_pair(&name("endTime"), &query_time(end))
            .append_pair(&name("nextPage"), &token)
            .finish();
        let version = if sim.switch(ScenarioKind::NextPageV1Path) {
            "v1"
        } else {
            "v1.0"
        };
        let uri = format!(
            "{}/api/{}/{}/activity/feed/subscriptions/content?{}",
            sim.base_url, version, tenant, qs
        );
        let header = if sim.switch(ScenarioKind::NextPageUrlHeader) {
            "NextPageUrl"
        } else {
            "NextPageUri"
        };
        reply.headers.push((header, uri));
    }
    Ok(reply)
}

fn notifications(
    sim: &Sim,
    ti: usize,
    q: &HashMap<String, String>,
    now: DateTime<Utc>,
    rec: &mut RequestRecord,
) -> Result<Reply, ApiError> {
    let (ct, _, _) = listing_params(sim, q, now, rec)?;
    subscription_gate(sim, ti, ct)?;
    // No webhook deliveries are simulated, so there are no attempts to report.
    Ok(Reply::json("[]"))
}

fn dlp_types(headers: &HeaderMap) -> Result<Reply, ApiError> {
    if let Some(lang) = headers.get(header::ACCEPT_LANGUAGE) {
        let lang = lang.to_str().map_err(|_| {
            ApiError::af(400, "AF20054", "Invalid syntax in Accept-Language header.")
        })?;
        if lang.contains(',') {
            return Err(ApiError::af(
                400,
                "AF20053",
                "Only one language may be present in the Accept-Language header.",
            ));
        }
        if lang.is_empty() || !lang.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ApiError::af(
                400,
                "AF20054",
                "Invalid syntax in Accept-Language header.",
            ));
        }
    }
    Ok(Reply::json(
        r#"[{"id":"3f4e2a1b-9c8d-4e7f-a6b5-0c1d2e3f4a5b","name":"Credit Card Number"},{"id":"8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d","name":"U.S. Social Security Number (SSN)"}]"#,
    ))
}

/// True for ids of the modern form `{23 digits}${23 digits}$…`.
fn well_formed_content_id(id: &str) -> bool {
    let mut parts = id.split('$');
    let digits =
        |p: Option<&str>| p.is_some_and(|p| p.len() == 23 && p.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_some_and(|p| !p.is_empty())
}

async fn get_blob(
    sim: &Arc<Sim>,
    ti: usize,
    id: String,
    blob: Option<Arc<crate::store::Blob>>,
    now: DateTime<Utc>,
) -> Result<Reply, ApiError> {
    let not_found = || {
        ApiError::af(
            404,
            "AF20050",
            format!("The specified content ({id}) does not exist."),
        )
    };
    if !well_formed_content_id(&id) {
        return Err(ApiError::af(
            400,
            "AF20052",
            format!("Content ID {id} in the URL is invalid."),
        ));
    }
    let blob = blob
        .filter(|b| b.tenant == ti && b.available_at <= now)
        .ok_or_else(not_found)?;
    subscription_gate(sim, ti, blob.content_type)?;
    // Content created while a subscription was stopped is never exposed.
    if !sim
        .read()
        .visible(ti, blob.content_type, blob.content_created)
    {
        return Err(not_found());
    }
    if now >= blob.content_expiration {
        return Err(ApiError::af(400, "AF20051", format!("Content requested with the key {id} has already expired. Content older than 7 days cannot be retrieved.")));
    }
    let body = sim.blob_body(&blob).await;
    Ok(Reply {
        status: StatusCode::OK,
        body,
        headers: Vec::new(),
        served: Some(id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_id_shape() {
        assert!(well_formed_content_id("20260301044011520000101$20260301050902115000207$audit_sharepoint$Audit_SharePoint$na0001"));
        assert!(!well_formed_content_id("not-an-id"));
        assert!(!well_formed_content_id("2026$2026$x"));
    }

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
