//! Shared by the OCSF tests: records turned into output lines, and the check of an event
//! against the required attributes derived from the OCSF 1.1.0 schema.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use chrono::{TimeZone, Utc};
use o365_activity::normalize::{BlobNormalizer, InputFormat, Limits, Provenance};
use o365_activity::testing::records::{
    ndjson_records, real_records_or_skip, repo_records, RecordLine,
};
use o365_activity::ContentType;
use serde_json::Value;

/// The derived required attributes (committed; see `ocsf/schema/derive.py`).
pub const REQUIRED: &str = include_str!("../../schema/required-1.1.0.json");

/// The repository's records, this crate's own, and the real ones when beside the repository.
pub fn all_records(test: &str) -> Vec<RecordLine> {
    let mut records = repo_records().unwrap();
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    records.extend(ndjson_records(&own).unwrap());
    if let Some(real) = real_records_or_skip(test).unwrap() {
        records.extend(real);
    }
    records
}

/// The output lines the fetcher would store for `records` (one blob).
pub fn output_lines(records: &[RecordLine]) -> Vec<Vec<u8>> {
    let prov = Provenance {
        tenant_id: "00000000-0000-0000-0000-000000000001".parse().ok(),
        content_type: Some(ContentType::General),
        content_id: Some("ocsf-test-blob".into()),
        content_created: Some(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()),
        fetched_at: Utc.with_ymd_and_hms(2026, 3, 2, 9, 5, 0).unwrap(),
    };
    let mut n = BlobNormalizer::uncompressed(&prov, InputFormat::Ndjson, Limits::default());
    for r in records {
        n.push(r.text.as_bytes()).unwrap();
        n.push(b"\n").unwrap();
    }
    let mut out = n.take_output().to_vec();
    let (rest, _) = n.finish().unwrap();
    out.extend_from_slice(&rest);
    out.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Every way `event` falls short of its class's required attributes; empty when it passes.
pub fn problems(event: &Value) -> Vec<String> {
    let spec: Value = serde_json::from_str(REQUIRED).unwrap();
    let Some(class_uid) = event.get("class_uid").and_then(Value::as_i64) else {
        return vec!["no integer class_uid".into()];
    };
    let Some(class) = spec["classes"].get(class_uid.to_string()) else {
        return vec![format!(
            "class {class_uid} is not one of the derived classes"
        )];
    };
    let mut out = Vec::new();
    for req in class["required"].as_array().unwrap() {
        let path = req["path"].as_str().unwrap();
        let kind = req["kind"].as_str().unwrap();
        let is_array = req["is_array"].as_bool().unwrap();
        for v in lookup(event, path) {
            match v {
                None => out.push(format!("{class_uid}: required {path} is missing")),
                Some(v) if !has_kind(v, kind, is_array) => out.push(format!(
                    "{class_uid}: {path} is {v}, not {kind}{}",
                    if is_array { "[]" } else { "" }
                )),
                Some(_) => {}
            }
        }
    }
    for c in class["at_least_one"].as_array().unwrap() {
        let path = c["path"].as_str().unwrap();
        let any: Vec<&str> = c["any_of"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for obj in lookup(event, path).into_iter().flatten() {
            if !any
                .iter()
                .any(|k| obj.get(*k).is_some_and(|v| !v.is_null()))
            {
                out.push(format!("{class_uid}: {path} has none of {any:?}"));
            }
        }
    }
    let allowed: Vec<&str> = class["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for k in event.as_object().unwrap().keys() {
        if !allowed.contains(&k.as_str()) {
            out.push(format!("{class_uid}: {k} is not an attribute of the class"));
        }
    }
    let activity = event["activity_id"].as_i64().unwrap_or(-1);
    let ids: Vec<i64> = class["activity_ids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    if !ids.contains(&activity) {
        out.push(format!(
            "{class_uid}: activity_id {activity} is not in {ids:?}"
        ));
    }
    if event["type_uid"].as_i64()
        != class_uid
            .checked_mul(100)
            .and_then(|c| c.checked_add(activity))
    {
        out.push(format!(
            "{class_uid}: type_uid {} is not class_uid*100+activity_id",
            event["type_uid"]
        ));
    }
    if event["category_uid"].as_i64() != class["category_uid"].as_i64() {
        out.push(format!(
            "{class_uid}: wrong category_uid {}",
            event["category_uid"]
        ));
    }
    out
}

/// The values at a dotted path (`a.b`, `a[].b` walks every element); `None` where absent.
fn lookup<'a>(v: &'a Value, path: &str) -> Vec<Option<&'a Value>> {
    if path == "." {
        return vec![Some(v)];
    }
    let mut cur = vec![Some(v)];
    for seg in path.split('.') {
        let (name, each) = match seg.strip_suffix("[]") {
            Some(n) => (n, true),
            None => (seg, false),
        };
        let mut next = Vec::new();
        for c in cur {
            let got = c.and_then(|c| c.get(name)).filter(|v| !v.is_null());
            match (each, got) {
                (true, Some(Value::Array(items))) => next.extend(items.iter().map(Some)),
                _ => next.push(got),
            }
        }
        cur = next;
    }
    cur
}

fn has_kind(v: &Value, kind: &str, is_array: bool) -> bool {
    if is_array {
        return v
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|x| has_kind(x, kind, false)));
    }
    match kind {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        _ => true,
    }
}
