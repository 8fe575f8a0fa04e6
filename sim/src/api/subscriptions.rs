//! Subscriptions (§5.1–5.3): `list`, `start` (with its cool-down and webhook checks), `stop`,
//! and the gate every content call passes.

use std::collections::HashMap;

use axum::body::Bytes;
use chrono::{DateTime, Duration as CDuration, Utc};

use super::{parse_content_type, Reply};
use crate::api_error::ApiError;
use crate::content_type::ContentType;
use crate::scenario::ScenarioKind;
use crate::sim::Sim;
use crate::store::{SubStatus, Subscription};
use crate::timefmt;

fn subscription_json(ct: ContentType, s: &Subscription) -> serde_json::Value {
    let status = if s.status == SubStatus::Enabled {
        "enabled"
    } else {
        "disabled"
    };
    serde_json::json!({"contentType": ct.as_str(), "status": status, "webhook": s.webhook})
}

pub(super) fn list(sim: &Sim, ti: usize) -> Reply {
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

pub(super) fn start(
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

pub(super) fn stop(sim: &Sim, ti: usize, q: &HashMap<String, String>) -> Result<Reply, ApiError> {
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

pub(super) fn subscription_gate(sim: &Sim, ti: usize, ct: ContentType) -> Result<(), ApiError> {
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
