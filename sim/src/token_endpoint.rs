//! The token endpoints' HTTP handlers (v1 and v2): tenant lookup, the `token-errors` scenario,
//! the ledger entry, and Entra's headers; `auth` decides what is issued.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::auth::Endpoint;
use crate::ledger::RequestRecord;
use crate::sim::Sim;

/// `POST /{tenant}/oauth2/token` (v1, `resource`) and `POST /{tenant}/oauth2/v2.0/token` (v2,
/// `scope`): which one was called is read from the path.
pub async fn token(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let endpoint = if uri.path().ends_with("/v2.0/token") {
        Endpoint::V2
    } else {
        Endpoint::V1
    };
    let now = sim.now();
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let trace = uuid::Uuid::new_v4().to_string();
    let tenant_info = {
        let store = sim.read();
        store.tenant_index(&tenant).map(|i| {
            (
                store.tenants[i].spec.tenant_id.clone(),
                store.tenants[i].spec.dlp_permission,
            )
        })
    };
    let result = match tenant_info {
        None => Err(crate::auth::TokenError {
            status: 400,
            error: "invalid_request",
            code: 90002,
            description: format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        }),
        Some(_) if sim.fires(crate::scenario::ScenarioKind::TokenErrors) => Err(crate::auth::TokenError {
            status: 503,
            error: "temporarily_unavailable",
            code: 90033,
            description: "A transient error has occurred. Please try again.".into(),
        }),
        Some((tenant_id, dlp)) => sim.auth.token(endpoint, &sim.base_url, &tenant_id, dlp, &form, now),
    };
    let fault = matches!(&result, Err(e) if e.code == 90033).then(|| "token-errors".to_string());
    let (status, body, code) = match result {
        Ok(v) => (200, v, None),
        Err(e) => (
            e.status,
            e.body(now, &trace),
            Some(format!("AADSTS{}", e.code)),
        ),
    };
    sim.record(RequestRecord {
        status,
        tenant_id: Some(tenant),
        operation: Some("token".into()),
        error_code: code,
        fault,
        ..RequestRecord::arrived(now, &method, &uri)
    });
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body.to_string(),
    )
        .into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    resp
}
