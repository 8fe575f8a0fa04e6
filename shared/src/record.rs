//! The audit record: lossless (every member kept, in order, with its value) with typed access
//! to the common schema fields. Records are a union schema; nothing here rejects unknown keys.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::record_type::RecordType;

/// A record that is not a JSON object.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The text is not JSON.
    #[error("audit record is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is not an object.
    #[error("audit record must be a JSON object, found {0}")]
    NotAnObject(&'static str),
}

/// One audit record, kept whole (member order preserved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuditRecord {
    members: Map<String, Value>,
}

/// The JSON type name of a value, for error messages.
pub fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads an integer sent as a JSON number or as a string of digits (real feeds do both).
pub fn lenient_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

impl AuditRecord {
    /// Parses one record from JSON text.
    pub fn from_json(text: &str) -> Result<AuditRecord, RecordError> {
        let v: Value = serde_json::from_str(text)?;
        AuditRecord::from_value(v)
    }

    /// Wraps a parsed value, which must be an object.
    pub fn from_value(v: Value) -> Result<AuditRecord, RecordError> {
        match v {
            Value::Object(members) => Ok(AuditRecord { members }),
            other => Err(RecordError::NotAnObject(json_type_name(&other))),
        }
    }

    /// All members in their original order.
    pub fn members(&self) -> &Map<String, Value> {
        &self.members
    }

    /// Gives back the members.
    pub fn into_members(self) -> Map<String, Value> {
        self.members
    }

    /// One member by its exact (case-sensitive) name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.members.get(name)
    }

    fn str_field(&self, name: &str) -> Option<&str> {
        self.members.get(name).and_then(Value::as_str)
    }

    /// `Id`: the record's unique id and the de-duplication key.
    pub fn id(&self) -> Option<&str> {
        self.str_field("Id")
    }

    /// `CreationTime` read as UTC (zone-less on the wire).
    pub fn creation_time(&self) -> Option<DateTime<Utc>> {
        self.str_field("CreationTime")
            .and_then(|s| crate::time::parse_record_time(s).ok())
    }

    /// `RecordType`, from a number or a numeric string.
    pub fn record_type(&self) -> Option<RecordType> {
        self.members
            .get("RecordType")
            .and_then(lenient_int)
            .map(RecordType)
    }

    /// `UserType`, from a number or a numeric string.
    pub fn user_type(&self) -> Option<i64> {
        self.members.get("UserType").and_then(lenient_int)
    }

    /// `Operation`: the activity (or cmdlet) name.
    pub fn operation(&self) -> Option<&str> {
        self.str_field("Operation")
    }

    /// `OrganizationId`: the tenant GUID.
    pub fn organization_id(&self) -> Option<&str> {
        self.str_field("OrganizationId")
    }

    /// `UserId`: who acted.
    pub fn user_id(&self) -> Option<&str> {
        self.str_field("UserId")
    }

    /// `Workload`: the service.
    pub fn workload(&self) -> Option<&str> {
        self.str_field("Workload")
    }

    /// `ResultStatus` as sent (many spellings).
    pub fn result_status(&self) -> Option<&str> {
        self.str_field("ResultStatus")
    }

    /// `ClientIP` as sent (many spellings; may be null).
    pub fn client_ip(&self) -> Option<&str> {
        self.str_field("ClientIP")
    }

    /// Serializes back to JSON text, members in their original order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.members).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::records::{self, RecordLine};

    #[test]
    fn typed_access_and_strings_as_numbers() {
        let r = AuditRecord::from_json(
            r#"{"CreationTime":"2026-01-15T10:23:44","Id":"a","RecordType":"25","UserType":"0","Operation":"X","ClientIP":null}"#,
        )
        .unwrap();
        assert_eq!(r.record_type(), Some(RecordType(25)));
        assert_eq!(r.user_type(), Some(0));
        assert_eq!(
            r.creation_time().unwrap().to_rfc3339(),
            "2026-01-15T10:23:44+00:00"
        );
        assert_eq!(r.client_ip(), None);
        assert_eq!(r.id(), Some("a"));
    }

    #[test]
    fn wrong_types_are_none_not_errors() {
        let r = AuditRecord::from_json(
            r#"{"CreationTime":5,"RecordType":[1],"UserType":{"a":1},"Id":7}"#,
        )
        .unwrap();
        assert_eq!(r.creation_time(), None);
        assert_eq!(r.record_type(), None);
        assert_eq!(r.user_type(), None);
        assert_eq!(r.id(), None);
    }

    #[test]
    fn non_objects_are_errors() {
        assert!(matches!(
            AuditRecord::from_json("[1]"),
            Err(RecordError::NotAnObject("an array"))
        ));
        assert!(matches!(
            AuditRecord::from_json("{"),
            Err(RecordError::Json(_))
        ));
    }

    /// Parses each line and checks it serializes back to the same members in the same order.
    fn round_trip(lines: &[RecordLine]) -> Vec<AuditRecord> {
        lines
            .iter()
            .map(|line| {
                let rec = AuditRecord::from_json(&line.text).unwrap();
                let original: Value = serde_json::from_str(&line.text).unwrap();
                let back: Value = serde_json::from_str(&rec.to_json()).unwrap();
                assert_eq!(back, original, "{}", line.file);
                let orig_keys: Vec<&String> = original.as_object().unwrap().keys().collect();
                let back_keys: Vec<&String> = rec.members().keys().collect();
                assert_eq!(
                    orig_keys, back_keys,
                    "member order changed in {}",
                    line.file
                );
                rec
            })
            .collect()
    }

    #[test]
    fn repo_records_round_trip_with_order_kept() {
        let recs = round_trip(&records::repo_records().unwrap());
        assert!(recs.len() >= 50, "read {}", recs.len());
        assert!(recs.iter().all(|r| r.id().is_some()));
    }

    #[test]
    fn real_fixtures_round_trip_with_order_kept() {
        let Some(lines) =
            records::real_records_or_skip("real_fixtures_round_trip_with_order_kept").unwrap()
        else {
            return;
        };
        let recs = round_trip(&lines);
        for rec in &recs {
            assert!(
                rec.id().is_some() && rec.creation_time().is_some() && rec.record_type().is_some()
            );
        }
        assert!(
            recs.len() >= 100,
            "expected the 129 real records, read {}",
            recs.len()
        );
    }
}
