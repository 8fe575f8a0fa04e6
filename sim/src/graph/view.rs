//! Purview's view of a tenant's audit log, read from the same store the Management Activity API
//! serves: every generated record (whatever its blob's fate: listed, late, damaged, withheld,
//! never published), plus the Purview-only records, as Graph `auditLogRecord` objects.
//! Records injected with `SimHandle::publish_blob` are Management-only.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Map, Value};

use super::held_back::PURVIEW_ONLY;
use super::record_types;
use crate::sim::Sim;
use crate::store::{mix, Blob};

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

    fn record_ok(&self, r: &Value) -> bool {
        let text = |key: &str| r.get(key).and_then(Value::as_str).unwrap_or_default();
        let any = |list: &[String], value: &str| {
            list.is_empty() || list.iter().any(|x| x.eq_ignore_ascii_case(value))
        };
        let record_type = r.get("RecordType").and_then(record_type_number);
        (self.record_types.is_empty()
            || record_type.is_some_and(|n| self.record_types.contains(&n)))
            && any(&self.operations, text("Operation"))
            && any(&self.users, text("UserId"))
            && any(&self.services, text("Workload"))
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
    let a = mix(&[
        &seed.to_le_bytes(),
        record_id.as_bytes(),
        &copy.to_le_bytes(),
        b"graph id",
    ]);
    let b = mix(&[&a.to_le_bytes(), b"graph id, low half"]);
    let mut raw = [0u8; 16];
    raw[..8].copy_from_slice(&a.to_le_bytes());
    raw[8..].copy_from_slice(&b.to_le_bytes());
    uuid::Builder::from_random_bytes(raw)
        .into_uuid()
        .to_string()
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

/// `CreationTime` (zone-less in the Management record) as Graph's `createdDateTime`.
fn created(record: &Value, fallback: DateTime<Utc>) -> String {
    record
        .get("CreationTime")
        .and_then(Value::as_str)
        .and_then(|s| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok())
        .map_or(fallback, |n| n.and_utc())
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// One Graph `auditLogRecord` wrapping a Management Activity record as `auditData`.
pub fn graph_record(seed: u64, record: Value, at: DateTime<Utc>, copy: u32) -> Value {
    let text = |key: &str| record.get(key).cloned().unwrap_or(Value::Null);
    let id = record.get("Id").and_then(Value::as_str).unwrap_or_default();
    let record_type = record
        .get("RecordType")
        .and_then(record_type_number)
        .map_or(record_types::UNKNOWN, record_types::graph_name);
    let mut audit_data = Map::new();
    audit_data.insert(
        "@odata.type".into(),
        json!("#microsoft.graph.security.auditData"),
    );
    if let Value::Object(m) = &record {
        audit_data.extend(m.clone());
    }
    json!({
        "id": graph_record_id(seed, id, copy),
        "createdDateTime": created(&record, at),
        "auditLogRecordType": record_type,
        "operation": text("Operation"),
        "organizationId": text("OrganizationId"),
        "userType": user_type(record.get("UserType")),
        "userId": text("UserId"),
        "service": text("Workload"),
        "objectId": text("ObjectId"),
        "userPrincipalName": text("UserId"),
        "clientIp": text("ClientIP"),
        "administrativeUnits": [],
        "auditData": Value::Object(audit_data),
    })
}

/// Every record of tenant `tenant` that Purview holds and `filters` select, as
/// (`CreationTime`, Management record), sorted by time then `Id`. Call off the async threads.
pub fn select(sim: &Sim, tenant: usize, filters: &Filters) -> Vec<(DateTime<Utc>, Value)> {
    sim.catch_up();
    let blobs: Vec<Arc<Blob>> = sim
        .read()
        .blobs
        .values()
        .filter(|b| b.tenant == tenant && b.recipe.is_some())
        .cloned()
        .collect();
    let mut out = Vec::new();
    for blob in blobs {
        let Some(recipe) = &blob.recipe else {
            continue;
        };
        let wanted: Vec<usize> = (0..recipe.planned.len())
            .filter(|&i| filters.time_ok(recipe.planned[i].at))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        // The Purview-only blob carries its records as a body; the others are rendered one
        // record at a time, undamaged whatever happened to the served body.
        let bodies: Option<Vec<Value>> = (blob.fault.as_deref() == Some(PURVIEW_ONLY))
            .then(|| {
                blob.body
                    .as_ref()
                    .and_then(|b| serde_json::from_slice(b).ok())
            })
            .flatten();
        for i in wanted {
            let record = match &bodies {
                Some(list) => list.get(i).cloned(),
                None => serde_json::from_str(&blob.record_text(recipe, i, &sim.generator)).ok(),
            };
            if let Some(record) = record.filter(|r| filters.record_ok(r)) {
                out.push((recipe.planned[i].at, record));
            }
        }
    }
    out.sort_by(|a, b| {
        let id = |r: &Value| {
            r.get("Id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        (a.0, id(&a.1)).cmp(&(b.0, id(&b.1)))
    });
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
        let rec = json!({"CreationTime": "2026-03-01T10:21:26", "Id": "x", "Operation": "UserLoggedIn",
            "OrganizationId": "t", "RecordType": 15, "UserType": 0, "UserId": "ada@contoso01.onmicrosoft.com",
            "Workload": "AzureActiveDirectory", "ClientIP": "192.0.2.1"});
        let g = graph_record(1, rec, Utc::now(), 0);
        assert_eq!(g["createdDateTime"], "2026-03-01T10:21:26Z");
        assert_eq!(g["auditLogRecordType"], "azureActiveDirectoryStsLogon");
        assert_eq!(g["service"], "AzureActiveDirectory");
        assert_eq!(g["userType"], "regular");
        assert_eq!(g["auditData"]["Id"], "x");
        assert_ne!(g["id"], "x");
        let f = Filters {
            record_types: vec![15],
            users: vec!["ADA@contoso01.onmicrosoft.com".into()],
            ..Filters::default()
        };
        assert!(f.record_ok(&g["auditData"]));
        let other = Filters {
            operations: vec!["FileAccessed".into()],
            ..Filters::default()
        };
        assert!(!other.record_ok(&g["auditData"]));
    }
}
