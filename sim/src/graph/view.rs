//! Purview's view of a tenant's audit log, read from the same store the Management Activity API
//! serves: every record whose blob's `contentCreated` has passed, whatever the blob's fate
//! (listed, late, damaged, withheld, never published), plus the Purview-only records, as Graph
//! `auditLogRecord` objects. Records injected with `SimHandle::publish_blob` are
//! Management-only.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::held_back::PURVIEW_ONLY;
use super::record_types;
use crate::sim::Sim;
use crate::store::{mix, mixed_guid, Blob, Cut};

/// What a query selects (Graph's filters that the simulator applies; the others are echoed
/// but select everything).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// `filterStartDateTime` (inclusive), compared with the record's `CreationTime`.
    pub start: Option<DateTime<Utc>>,
    /// `filterEndDateTime` (exclusive).
    pub end: Option<DateTime<Utc>>,
    /// `RecordType` numbers from `recordTypeFilters` (empty = all).
    pub record_types: Vec<i64>,
    /// `operationFilters`, matched case-insensitively (empty = all).
    pub operations: Vec<String>,
    /// `userPrincipalNameFilters`, matched case-insensitively with `UserId` (empty = all).
    pub users: Vec<String>,
    /// `serviceFilters`, matched case-insensitively with `Workload` (empty = all).
    pub services: Vec<String>,
}

impl Filters {
    fn time_ok(&self, at: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| at >= s) && self.end.is_none_or(|e| at < e)
    }
}

/// `RecordType` as a number (some records carry it as a string).
fn record_type_number(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The Graph record `id` of a record: a GUID derived from its `Id` (and the copy number for
/// Purview's duplicates), never equal to `auditData.Id`.
pub fn graph_record_id(seed: u64, record_id: &str, copy: u32) -> String {
    mixed_guid(
        &[
            &seed.to_le_bytes(),
            record_id.as_bytes(),
            &copy.to_le_bytes(),
            b"graph id",
        ],
        b"graph id, low half",
    )
}

/// Graph's `userType` member for the record's numeric `UserType`.
fn user_type(v: Option<&Value>) -> &'static str {
    match v.and_then(record_type_number) {
        Some(0) => "regular",
        Some(1) => "reserved",
        Some(2) => "admin",
        Some(3) => "dcAdmin",
        Some(4) => "system",
        Some(5) => "application",
        Some(6) => "servicePrincipal",
        Some(7) => "customPolicy",
        Some(8) => "systemPolicy",
        Some(9) => "partnerTechnician",
        Some(10) => "guest",
        _ => "unknownFutureValue",
    }
}

/// The fields of a Management record the Graph record repeats, read without building the
/// whole record (values kept as their JSON text).
#[derive(Debug, Deserialize)]
struct Head<'a> {
    #[serde(rename = "Id", borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(rename = "CreationTime", borrow, default)]
    creation_time: Option<&'a RawValue>,
    #[serde(rename = "RecordType", borrow, default)]
    record_type: Option<&'a RawValue>,
    #[serde(rename = "UserType", borrow, default)]
    user_type: Option<&'a RawValue>,
    #[serde(rename = "Operation", borrow, default)]
    operation: Option<&'a RawValue>,
    #[serde(rename = "OrganizationId", borrow, default)]
    organization_id: Option<&'a RawValue>,
    #[serde(rename = "UserId", borrow, default)]
    user_id: Option<&'a RawValue>,
    #[serde(rename = "Workload", borrow, default)]
    workload: Option<&'a RawValue>,
    #[serde(rename = "ObjectId", borrow, default)]
    object_id: Option<&'a RawValue>,
    #[serde(rename = "ClientIP", borrow, default)]
    client_ip: Option<&'a RawValue>,
}

fn scalar(raw: Option<&RawValue>) -> Option<Value> {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
}

fn text_of(raw: Option<&RawValue>) -> String {
    match scalar(raw) {
        Some(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn json_or_null(raw: Option<&RawValue>) -> &str {
    raw.map_or("null", RawValue::get)
}

impl Filters {
    fn head_ok(&self, h: &Head<'_>) -> bool {
        let any = |list: &[String], raw: Option<&RawValue>| {
            list.is_empty() || {
                let value = text_of(raw);
                list.iter().any(|x| x.eq_ignore_ascii_case(&value))
            }
        };
        (self.record_types.is_empty()
            || scalar(h.record_type)
                .as_ref()
                .and_then(record_type_number)
                .is_some_and(|n| self.record_types.contains(&n)))
            && any(&self.operations, h.operation)
            && any(&self.users, h.user_id)
            && any(&self.services, h.workload)
    }
}

/// `CreationTime` (zone-less in the Management record) as Graph's `createdDateTime`.
fn created(h: &Head<'_>, fallback: DateTime<Utc>) -> String {
    let text = text_of(h.creation_time);
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
        .map_or(fallback, |n| n.and_utc())
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// One Graph `auditLogRecord` (as JSON text) wrapping the Management record `text` as
/// `auditData`, byte for byte after Graph's `@odata.type`.
fn graph_record(seed: u64, h: &Head<'_>, text: &str, at: DateTime<Utc>, copy: u32) -> String {
    let quoted = |s: &str| Value::String(s.to_string()).to_string();
    let record_type = scalar(h.record_type)
        .as_ref()
        .and_then(record_type_number)
        .map_or(record_types::UNKNOWN, record_types::graph_name);
    let user_type = user_type(scalar(h.user_type).as_ref());
    let mut out = String::with_capacity(text.len() + 700);
    out.push_str("{\"id\":");
    out.push_str(&quoted(&graph_record_id(seed, &text_of(h.id), copy)));
    out.push_str(",\"createdDateTime\":");
    out.push_str(&quoted(&created(h, at)));
    out.push_str(",\"auditLogRecordType\":");
    out.push_str(&quoted(record_type));
    for (name, raw) in [
        ("operation", h.operation),
        ("organizationId", h.organization_id),
    ] {
        out.push_str(&format!(",\"{name}\":{}", json_or_null(raw)));
    }
    out.push_str(",\"userType\":");
    out.push_str(&quoted(user_type));
    for (name, raw) in [
        ("userId", h.user_id),
        ("service", h.workload),
        ("objectId", h.object_id),
        ("userPrincipalName", h.user_id),
        ("clientIp", h.client_ip),
    ] {
        out.push_str(&format!(",\"{name}\":{}", json_or_null(raw)));
    }
    out.push_str(",\"administrativeUnits\":[]");
    out.push_str(",\"auditData\":{\"@odata.type\":\"#microsoft.graph.security.auditData\"");
    let inner = text.trim().strip_prefix('{').unwrap_or("}");
    if !inner.trim_start().starts_with('}') {
        out.push(',');
    }
    out.push_str(inner);
    out.push('}');
    out
}

/// A cached body's records, and the body position of each planned record's first occurrence.
type CachedBody = (Vec<Box<RawValue>>, Vec<usize>);

/// Whether Purview returns this record twice (`purview-duplicates`), decided by its `Id`.
fn duplicated(seed: u64, id: &uuid::Uuid, rate: Option<f64>) -> bool {
    rate.is_some_and(|rate| {
        let h = mix(&[&seed.to_le_bytes(), id.as_bytes(), b"purview duplicate"]);
        (h as f64 / u64::MAX as f64) < rate
    })
}

/// Every record of tenant `tenant` that Purview holds and `filters` select, as Graph
/// `auditLogRecord` JSON texts sorted by time then `Id` (a by-design duplicate right after its
/// original). Call off the async threads.
pub fn select(sim: &Sim, tenant: usize, filters: &Filters) -> Vec<String> {
    sim.catch_up();
    let now = sim.now();
    // Purview shows a record once its blob's first listing time (`contentCreated`) has passed:
    // with the Management feed when all goes well, before it for late and withheld blobs.
    let blobs: Vec<Arc<Blob>> = sim
        .read()
        .blobs
        .values()
        .filter(|b| b.tenant == tenant && b.recipe.is_some() && b.content_created <= now)
        .cloned()
        .collect();
    // Candidates by time and id, before any record is rendered.
    let mut wanted: Vec<(DateTime<Utc>, uuid::Uuid, usize, usize)> = Vec::new();
    for (n, blob) in blobs.iter().enumerate() {
        if let Some(recipe) = &blob.recipe {
            wanted.extend(
                recipe
                    .planned
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| filters.time_ok(p.at))
                    .map(|(i, p)| (p.at, p.id, n, i)),
            );
        }
    }
    wanted.sort_unstable();
    // The Purview-only blob carries its records as a body; the others are rendered one record
    // at a time, undamaged whatever happened to the served body.
    // A body already rendered for the Management API (and undamaged) is read instead of
    // rendering its records again: planned record `i` is the body's first occurrence of `i`.
    let mut bodies: std::collections::HashMap<usize, Vec<Box<RawValue>>> = Default::default();
    let mut cached: std::collections::HashMap<usize, Option<CachedBody>> = Default::default();
    let seed = sim.config.seed;
    let mut out = Vec::with_capacity(wanted.len());
    for (at, id, n, i) in wanted {
        let blob = &blobs[n];
        let Some(recipe) = &blob.recipe else {
            continue;
        };
        let text = if blob.fault.as_deref() == Some(PURVIEW_ONLY) {
            let list = bodies.entry(n).or_insert_with(|| {
                blob.body
                    .as_ref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or_default()
            });
            match list.get(i) {
                Some(raw) => raw.get().to_string(),
                None => continue,
            }
        } else {
            let from_cache = cached.entry(n).or_insert_with(|| {
                if recipe.cut != Cut::None {
                    return None;
                }
                let body: Vec<Box<RawValue>> =
                    serde_json::from_slice(&sim.cached_body(&blob.content_id)?).ok()?;
                let mut first = vec![usize::MAX; recipe.planned.len()];
                for (pos, &k) in recipe.order.iter().enumerate() {
                    if let Some(slot) = first.get_mut(k as usize) {
                        if *slot == usize::MAX {
                            *slot = pos;
                        }
                    }
                }
                Some((body, first))
            });
            match from_cache
                .as_ref()
                .and_then(|(body, first)| body.get(*first.get(i)?))
            {
                Some(raw) => raw.get().to_string(),
                None => blob.record_text(recipe, i, &sim.generator),
            }
        };
        // A record the fast reader refuses (a duplicate key, say) is read through a full parse.
        let text = match serde_json::from_str::<Head<'_>>(&text) {
            Ok(_) => text,
            Err(_) => match serde_json::from_str::<Value>(&text) {
                Ok(v) => v.to_string(),
                Err(_) => continue,
            },
        };
        let Ok(head) = serde_json::from_str::<Head<'_>>(&text) else {
            continue;
        };
        if !filters.head_ok(&head) {
            continue;
        }
        out.push(graph_record(seed, &head, &text, at, 0));
        if duplicated(seed, &id, sim.graph.duplicate_rate) {
            out.push(graph_record(seed, &head, &text, at, 1));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_ids_differ_from_the_record_id_and_between_copies() {
        let id = "4a3f0c2e-1b2d-4e5f-8a9b-0c1d2e3f4a5b";
        let g0 = graph_record_id(1, id, 0);
        let g1 = graph_record_id(1, id, 1);
        assert_ne!(g0, id);
        assert_ne!(g0, g1);
        assert_eq!(g0, graph_record_id(1, id, 0));
        assert!(crate::timefmt::is_guid(&g0));
    }

    #[test]
    fn a_record_becomes_an_audit_log_record() {
        let text = r#"{"CreationTime":"2026-03-01T10:21:26","Id":"x","Operation":"UserLoggedIn","OrganizationId":"t","RecordType":15,"UserType":0,"UserId":"ada@contoso01.onmicrosoft.com","Workload":"AzureActiveDirectory","ClientIP":null}"#;
        let head: Head<'_> = serde_json::from_str(text).unwrap();
        let g: Value = serde_json::from_str(&graph_record(1, &head, text, Utc::now(), 0)).unwrap();
        assert_eq!(g["createdDateTime"], "2026-03-01T10:21:26Z");
        assert_eq!(g["auditLogRecordType"], "azureActiveDirectoryStsLogon");
        assert_eq!(g["service"], "AzureActiveDirectory");
        assert_eq!(g["userType"], "regular");
        assert_eq!(g["clientIp"], Value::Null);
        assert_eq!(g["objectId"], Value::Null);
        assert_eq!(g["auditData"]["Id"], "x");
        assert_eq!(
            g["auditData"]["@odata.type"],
            "#microsoft.graph.security.auditData"
        );
        assert_ne!(g["id"], "x");
        let f = Filters {
            record_types: vec![15],
            users: vec!["ADA@contoso01.onmicrosoft.com".into()],
            ..Filters::default()
        };
        assert!(f.head_ok(&head));
        let other = Filters {
            operations: vec!["FileAccessed".into()],
            ..Filters::default()
        };
        assert!(!other.head_ok(&head));
        let empty: Head<'_> = serde_json::from_str("{}").unwrap();
        let g: Value = serde_json::from_str(&graph_record(1, &empty, "{}", Utc::now(), 0)).unwrap();
        assert_eq!(g["auditLogRecordType"], "unknownFutureValue");
    }
}
