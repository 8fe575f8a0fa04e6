//! Blob download (§5.6) and `resources/dlpSensitiveTypes`.

use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};
use chrono::{DateTime, Utc};

use super::subscriptions::subscription_gate;
use super::Reply;
use crate::api_error::ApiError;
use crate::sim::Sim;

pub(super) fn dlp_types(headers: &HeaderMap) -> Result<Reply, ApiError> {
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

pub(super) async fn get_blob(
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
}
