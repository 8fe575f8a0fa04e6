//! One stored output line (the source record plus `_o365`) to one OCSF 1.1.0 event, as JSON.
//! The common attributes are filled here; the class-specific ones in [`crate::classes`].

use chrono::{DateTime, Utc};
use o365_activity::normalize::o365::{read_line, OutputLine, OutputLineError, O365};
use serde_json::{json, Map, Value};

use crate::class::{OcsfClass, OCSF_VERSION};
use crate::classes;
use crate::classify::classify;
use crate::fields::{flat, obj, text};

/// A mapped event with the facts the writer partitions by.
#[derive(Debug, Clone, PartialEq)]
pub struct OcsfEvent {
    /// Its class (one class per Parquet file).
    pub class: OcsfClass,
    /// The event time (`time`), for the `eventDay` partition.
    pub time: DateTime<Utc>,
    /// The event, an OCSF 1.1.0 JSON object.
    pub event: Value,
}

/// A line that cannot become an OCSF event.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The line is not an output line of the collector.
    #[error("not a collector output line: {0}; export reads what the fetcher stored")]
    Line(#[from] OutputLineError),
}

/// Maps one output line (bytes of one NDJSON line) to an OCSF event.
pub fn map_line(line: &[u8]) -> Result<OcsfEvent, MapError> {
    let l = read_line(line)?;
    let o = l.o365()?;
    Ok(map_record(&l, &o))
}

/// Maps a split output line. Never fails: `time` falls back from the event time to the fetch
/// time, and each required attribute has a stated fallback (see `docs/ocsf.md`).
pub fn map_record(line: &OutputLine, o: &O365) -> OcsfEvent {
    let r = &line.record;
    let c = classify(r, o.record_type_id);
    let class = c.class;
    let time = o
        .event_time
        .or(o.content_created)
        .or(o.fetched_at)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let (status_id, status) = status_of(o.outcome.as_deref());
    let mut e = Map::new();
    let mut put = |k: &str, v: Value| {
        e.insert(k.to_owned(), v);
    };
    put("activity_id", json!(c.activity_id));
    put("activity_name", json!(c.activity_name));
    put("category_uid", json!(class.category_uid()));
    put("category_name", json!(class.category_name()));
    put("class_uid", json!(class.uid()));
    put("class_name", json!(class.name()));
    // type_uid = class_uid * 100 + activity_id: both small, fixed numbers.
    put("type_uid", json!(class.uid() * 100 + c.activity_id));
    put(
        "type_name",
        json!(format!("{}: {}", class.name(), c.activity_name)),
    );
    put("time", json!(time.timestamp_millis()));
    let (severity_id, severity) = classes::severity(class, r);
    put("severity_id", json!(severity_id));
    put("severity", json!(severity));
    put("status_id", json!(status_id));
    put("status", json!(status));
    if let Some(s) = text(r, "ResultStatus") {
        put("status_detail", json!(s));
    }
    if let Some(op) = text(r, "Operation") {
        put("message", json!(op));
    }
    put("metadata", metadata(class, r, o));
    put(
        "cloud",
        obj([
            ("provider", Some(json!("Microsoft"))),
            (
                "account",
                text(r, "OrganizationId").map(|t| json!({ "uid": t })),
            ),
        ]),
    );
    put("actor", json!({ "user": actor_user(r, o) }));
    if class.has_src_endpoint() {
        put("src_endpoint", src_endpoint(o));
    }
    for (k, v) in classes::specific(class, r, o) {
        put(k, v);
    }
    put("raw_data", json!(Value::Object(r.clone()).to_string()));
    put("unmapped", Value::Object(unmapped(class, line)));
    OcsfEvent {
        class,
        time,
        event: Value::Object(e),
    }
}

fn metadata(class: OcsfClass, r: &Map<String, Value>, o: &O365) -> Value {
    obj([
        ("version", Some(json!(OCSF_VERSION))),
        (
            "product",
            Some(obj([
                ("name", Some(json!("Microsoft 365"))),
                ("vendor_name", Some(json!("Microsoft"))),
                ("feature", text(r, "Workload").map(|w| json!({ "name": w }))),
            ])),
        ),
        ("uid", text(r, "Id").map(Value::from)),
        ("original_time", text(r, "CreationTime").map(Value::from)),
        ("event_code", text(r, "Operation").map(Value::from)),
        ("log_name", o.content_type.clone().map(Value::from)),
        (
            "log_provider",
            Some(json!("Office 365 Management Activity API")),
        ),
        (
            "processed_time",
            o.fetched_at.map(|t| json!(t.timestamp_millis())),
        ),
        ("profiles", Some(json!(class.profiles()))),
    ])
}

/// The user who acted: `UserId` (name), `UserKey` (uid), `UserType` as OCSF user type.
pub(crate) fn actor_user(r: &Map<String, Value>, o: &O365) -> Value {
    let (type_id, type_name) = match o.user_type_id {
        Some(0) => (1, "User"),
        Some(2 | 3) => (2, "Admin"),
        Some(4..=7) => (3, "System"),
        Some(_) => (99, o.user_type.as_deref().unwrap_or("Other")),
        None => (0, "Unknown"),
    };
    let name = text(r, "UserId");
    let uid = text(r, "UserKey");
    let name = if name.is_none() && uid.is_none() {
        Some("Unknown".to_owned())
    } else {
        name
    };
    obj([
        ("name", name.map(Value::from)),
        ("uid", uid.map(Value::from)),
        ("type_id", Some(json!(type_id))),
        ("type", Some(json!(type_name))),
    ])
}

/// The client address, or `name: "Unknown"` when the record carries none (the class
/// requires a source endpoint).
fn src_endpoint(o: &O365) -> Value {
    match &o.client_ip {
        Some(ip) => obj([
            ("ip", Some(json!(ip))),
            ("port", o.client_port.map(Value::from)),
        ]),
        None => json!({ "name": "Unknown" }),
    }
}

fn status_of(outcome: Option<&str>) -> (i64, &'static str) {
    match outcome {
        Some("success") => (1, "Success"),
        Some("failure") => (2, "Failure"),
        Some("partial") => (99, "Partial"),
        _ => (0, "Unknown"),
    }
}

/// `unmapped` (a string map, as Security Lake's own tables have it): the `_o365` provenance
/// as `_o365.<member>` for every class; for API Activity also every member of the record.
fn unmapped(class: OcsfClass, line: &OutputLine) -> Map<String, Value> {
    let mut m = Map::new();
    if let Value::Object(p) = &line.o365_raw {
        for (k, v) in p {
            m.insert(format!("_o365.{k}"), Value::String(flat(v)));
        }
    }
    if class == OcsfClass::ApiActivity {
        for (k, v) in &line.record {
            m.insert(k.clone(), Value::String(flat(v)));
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] = br#"{"CreationTime":"2026-03-01T09:38:26","Id":"r1","Operation":"UserLoginFailed","OrganizationId":"org","RecordType":15,"ResultStatus":"Failed","UserKey":"k1","UserType":0,"Workload":"AzureActiveDirectory","ClientIP":"192.0.2.7","ObjectId":"app","UserId":"ada@example.com","LogonError":"InvalidPasswordExpiredPassword","_o365":{"tenant_id":"t1","content_type":"Audit.AzureActiveDirectory","content_id":"c1","fetched_at":"2026-03-01T10:00:00.000Z","event_time":"2026-03-01T09:38:26Z","record_type_id":15,"user_type_id":0,"client_ip":"192.0.2.7","outcome":"failure"}}"#;

    #[test]
    fn a_failed_sign_in() {
        let ev = map_line(LINE).unwrap();
        assert_eq!(ev.class, OcsfClass::Authentication);
        let e = &ev.event;
        assert_eq!(e["type_uid"], 300201);
        assert_eq!(e["time"], 1_772_357_906_000_i64);
        assert_eq!(e["status_id"], 2);
        assert_eq!(e["status_detail"], "InvalidPasswordExpiredPassword");
        assert_eq!(e["user"]["name"], "ada@example.com");
        assert_eq!(e["actor"]["user"]["type_id"], 1);
        assert_eq!(e["src_endpoint"]["ip"], "192.0.2.7");
        assert_eq!(e["metadata"]["uid"], "r1");
        assert_eq!(e["cloud"]["account"]["uid"], "org");
        assert_eq!(e["unmapped"]["_o365.content_id"], "c1");
        let raw: Value = serde_json::from_str(e["raw_data"].as_str().unwrap()).unwrap();
        assert_eq!(raw["LogonError"], "InvalidPasswordExpiredPassword");
        assert!(raw.get("_o365").is_none());
    }

    #[test]
    fn not_an_output_line_is_an_error() {
        assert!(map_line(b"{\"Id\":\"x\"}").is_err());
    }
}
