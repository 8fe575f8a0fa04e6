//! The typed reader of output lines, beside the writer: the `_o365` member deserialized, and
//! the record given back without it (the contract: removing `_o365` gives back the source
//! record exactly).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::O365_MEMBER;

/// The `_o365` member of an output line. Every member is optional: provenance a local file did
/// not know, and normalized values that could not be read, are left out by the writer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct O365 {
    /// Customer tenant.
    pub tenant_id: Option<String>,
    /// Content type of the blob.
    pub content_type: Option<String>,
    /// The blob's content id.
    pub content_id: Option<String>,
    /// The blob's `contentCreated`.
    pub content_created: Option<DateTime<Utc>>,
    /// When the collector downloaded (or read) the record.
    pub fetched_at: Option<DateTime<Utc>>,
    /// The collector build that wrote the line.
    pub collector_version: Option<String>,
    /// `CreationTime`, RFC 3339 UTC.
    pub event_time: Option<DateTime<Utc>>,
    /// The documented `RecordType` name.
    pub record_type: Option<String>,
    /// The `RecordType` number.
    pub record_type_id: Option<i64>,
    /// The documented `UserType` name.
    pub user_type: Option<String>,
    /// The `UserType` number.
    pub user_type_id: Option<i64>,
    /// The client address from `ClientIP`.
    pub client_ip: Option<String>,
    /// The client port from `ClientIP`.
    pub client_port: Option<u16>,
    /// `success`, `failure`, `partial` or `unknown`.
    pub outcome: Option<String>,
    /// Members this reader does not know yet (a newer writer's).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An output line, split into the source record and its `_o365` member.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputLine {
    /// The source record, every member in its original order, without `_o365`.
    pub record: Map<String, Value>,
    /// The `_o365` member, as written.
    pub o365_raw: Value,
}

impl OutputLine {
    /// The `_o365` member, typed.
    pub fn o365(&self) -> Result<O365, OutputLineError> {
        O365::deserialize(&self.o365_raw).map_err(|e| OutputLineError::BadMember(e.to_string()))
    }

    /// The record's `Id`, when it is a string.
    pub fn record_id(&self) -> Option<&str> {
        self.record.get("Id").and_then(Value::as_str)
    }
}

/// A line that is not an output line of the collector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputLineError {
    /// Not JSON at all.
    #[error("the line is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object.
    #[error("the line is not a JSON object")]
    NotObject,
    /// An object without `_o365`.
    #[error("the line has no \"_o365\" member: it was not written by the collector")]
    NoMember,
    /// An `_o365` member of the wrong shape.
    #[error("the \"_o365\" member is not readable: {0}")]
    BadMember(String),
}

/// Splits an output line into the source record and its `_o365` member ("strip `_o365` gives
/// back the record").
pub fn read_line(line: &[u8]) -> Result<OutputLine, OutputLineError> {
    let v: Value =
        serde_json::from_slice(line).map_err(|e| OutputLineError::NotJson(e.to_string()))?;
    let Value::Object(mut record) = v else {
        return Err(OutputLineError::NotObject);
    };
    let o365_raw = record
        .shift_remove(O365_MEMBER)
        .ok_or(OutputLineError::NoMember)?;
    Ok(OutputLine { record, o365_raw })
}

/// The source record of an output line: the line without its `_o365` member.
pub fn strip_o365(line: &[u8]) -> Result<Value, OutputLineError> {
    read_line(line).map(|l| Value::Object(l.record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_members_and_gives_the_record_back() {
        let line = br#"{"Id":"a","B":[1,{"c":null}],"_o365":{"tenant_id":"t","content_id":"blob1","content_created":"2026-03-01T10:33:18.440Z","fetched_at":"2026-03-01T10:40:00.000Z","event_time":"2026-03-01T04:41:07Z","record_type_id":6,"client_port":8443,"outcome":"success","later":1}}"#;
        let l = read_line(line).unwrap();
        assert_eq!(l.record_id(), Some("a"));
        let keys: Vec<&String> = l.record.keys().collect();
        assert_eq!(keys, ["Id", "B"]);
        let o = l.o365().unwrap();
        assert_eq!(o.content_id.as_deref(), Some("blob1"));
        assert_eq!(o.record_type_id, Some(6));
        assert_eq!(o.client_port, Some(8443));
        assert_eq!(
            o.event_time.unwrap().to_rfc3339(),
            "2026-03-01T04:41:07+00:00"
        );
        assert_eq!(o.other.get("later"), Some(&Value::from(1)));
        assert_eq!(
            strip_o365(line).unwrap(),
            serde_json::json!({"Id":"a","B":[1,{"c":null}]})
        );
    }

    #[test]
    fn other_lines_are_errors() {
        assert!(matches!(
            read_line(b"nope"),
            Err(OutputLineError::NotJson(_))
        ));
        assert_eq!(read_line(b"[1]"), Err(OutputLineError::NotObject));
        assert_eq!(read_line(br#"{"Id":"a"}"#), Err(OutputLineError::NoMember));
        let l = read_line(br#"{"_o365":{"client_port":"x"}}"#).unwrap();
        assert!(matches!(l.o365(), Err(OutputLineError::BadMember(_))));
    }
}
