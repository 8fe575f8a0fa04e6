//! One stored output line → one row: the typed columns people filter on, read without ever
//! dropping the line. Odd shapes stay rows: keys that differ only in case (the exact spelling
//! wins, then the first case-insensitive match), numbers sent as strings (the `_o365` integers
//! already read them), nested JSON (kept as JSON text), and even a line that is not an output
//! line at all (kept whole in `record`, under a synthetic id).

use chrono::{DateTime, NaiveDate, Utc};
use o365_activity::normalize::o365::read_line;
use serde_json::{Map, Value};

/// The columns of one record, owned, ready for the Arrow builders.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// The record's `Id`, or `<content_id>#<line>` when it has none (see [`Row::from_line`]).
    pub id: String,
    /// `CreationTime` in UTC.
    pub event_time: Option<DateTime<Utc>>,
    /// `RecordType` as a number.
    pub record_type_id: Option<i64>,
    /// Its documented name.
    pub record_type: Option<String>,
    /// `Operation`.
    pub operation: Option<String>,
    /// `UserId`.
    pub user_id: Option<String>,
    /// `UserType` as a number.
    pub user_type_id: Option<i64>,
    /// Its documented name.
    pub user_type: Option<String>,
    /// `Workload`.
    pub workload: Option<String>,
    /// The client address parsed by normalization.
    pub client_ip: Option<String>,
    /// The client port parsed by normalization.
    pub client_port: Option<i32>,
    /// `ResultStatus`, as sent.
    pub result_status: Option<String>,
    /// `success`, `failure`, `partial` or `unknown` (normalization's reading).
    pub outcome: Option<String>,
    /// `ObjectId`.
    pub object_id: Option<String>,
    /// `OrganizationId`.
    pub organization_id: Option<String>,
    /// The blob the record came in.
    pub content_id: String,
    /// The blob's `contentCreated`.
    pub content_created: Option<DateTime<Utc>>,
    /// When the collector downloaded it.
    pub fetched_at: Option<DateTime<Utc>>,
    /// The collector build that stored it.
    pub collector_version: Option<String>,
    /// The `_o365` member as JSON text.
    pub o365: Option<String>,
    /// The source record as JSON text, without `_o365` (lossless: parse it to get every member).
    pub record: String,
}

/// The blob a line came from, for the fallbacks.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The blob's content id (from its key).
    pub content_id: &'a str,
    /// The blob's `dt=` date: the event date of a line without a readable time.
    pub blob_date: NaiveDate,
}

impl Row {
    /// Reads one line; `index` is its position in the blob (for the synthetic id of a record
    /// without a usable `Id`, stable across runs because a stored blob never changes).
    pub fn from_line(line: &[u8], index: usize, origin: Origin<'_>) -> Row {
        let synthetic = || format!("{}#{index}", origin.content_id);
        let Ok(parsed) = read_line(line) else {
            return Row {
                id: synthetic(),
                content_id: origin.content_id.to_owned(),
                record: String::from_utf8_lossy(line).into_owned(),
                ..Row::default()
            };
        };
        let o = parsed.o365().unwrap_or_default();
        let r = &parsed.record;
        let record = record_text(line, &parsed.o365_raw)
            .unwrap_or_else(|| Value::Object(r.clone()).to_string());
        Row {
            id: text(r, "Id")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(synthetic),
            event_time: o.event_time,
            record_type_id: o.record_type_id,
            record_type: o.record_type.clone(),
            operation: text(r, "Operation"),
            user_id: text(r, "UserId"),
            user_type_id: o.user_type_id,
            user_type: o.user_type.clone(),
            workload: text(r, "Workload"),
            client_ip: o.client_ip.clone(),
            client_port: o.client_port.map(i32::from),
            result_status: text(r, "ResultStatus"),
            outcome: o.outcome.clone(),
            object_id: text(r, "ObjectId"),
            organization_id: text(r, "OrganizationId"),
            content_id: o
                .content_id
                .clone()
                .unwrap_or_else(|| origin.content_id.to_owned()),
            content_created: o.content_created,
            fetched_at: o.fetched_at,
            collector_version: o.collector_version.clone(),
            o365: Some(parsed.o365_raw.to_string()),
            record,
        }
    }

    /// The `event_date` partition: the event time's date, or the blob's date without one.
    pub fn event_date(&self, origin: Origin<'_>) -> NaiveDate {
        self.event_time
            .map(|t| t.date_naive())
            .unwrap_or(origin.blob_date)
    }

    /// Bytes this row holds, roughly (for the batch's memory bound).
    pub fn weight(&self) -> usize {
        self.record.len() + self.o365.as_ref().map_or(0, String::len) + 256
    }
}

/// A member by name: the exact spelling, else the first that differs only in case. Strings
/// as they are; numbers and booleans as their JSON text; objects and arrays as JSON text.
fn text(record: &Map<String, Value>, name: &str) -> Option<String> {
    let v = record.get(name).or_else(|| {
        record
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })?;
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The source record's exact text: the writer splices `_o365` in as the last member, so the
/// record is the line up to it, closed again. `None` if the line is not shaped that way (the
/// caller serializes the parsed record instead: equal as JSON, the contract).
fn record_text(line: &[u8], o365: &Value) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?.trim_end();
    let at = text.rfind("\"_o365\":")?;
    let member = text.get(at + "\"_o365\":".len()..)?.strip_suffix('}')?;
    if serde_json::from_str::<Value>(member).ok().as_ref() != Some(o365) {
        return None;
    }
    let before = text.get(..at)?.trim_end();
    if let Some(head) = before.strip_suffix(',') {
        Some(format!("{head}}}"))
    } else {
        before.ends_with('{').then(|| format!("{before}}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin<'static> {
        Origin {
            content_id: "blob1",
            blob_date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        }
    }

    const O365: &str = r#""_o365":{"tenant_id":"t","content_id":"blob1","event_time":"2026-03-01T04:41:07Z","record_type":"ExchangeAdmin","record_type_id":1,"user_type_id":2,"client_ip":"203.0.113.9","client_port":443,"outcome":"success"}"#;

    #[test]
    fn typed_columns_and_the_exact_record() {
        let line = format!(
            r#"{{"Id":"a","Operation":"New-InboxRule","UserId":"ada@x","Workload":"Exchange","ResultStatus":"True","ObjectId":"ada","OrganizationId":"t","RecordType":1,{O365}}}"#
        );
        let row = Row::from_line(line.as_bytes(), 0, origin());
        assert_eq!(row.id, "a");
        assert_eq!(row.operation.as_deref(), Some("New-InboxRule"));
        assert_eq!(row.record_type_id, Some(1));
        assert_eq!(row.client_port, Some(443));
        assert_eq!(row.event_date(origin()).to_string(), "2026-03-01");
        assert_eq!(
            row.record,
            r#"{"Id":"a","Operation":"New-InboxRule","UserId":"ada@x","Workload":"Exchange","ResultStatus":"True","ObjectId":"ada","OrganizationId":"t","RecordType":1}"#
        );
        assert_eq!(
            serde_json::from_str::<Value>(row.o365.as_deref().unwrap()).unwrap()["content_id"],
            "blob1"
        );
    }

    #[test]
    fn odd_shapes_keep_their_row() {
        // Keys differing only in case: the exact spelling wins; a lower-case-only key is found.
        let line = format!(
            r#"{{"id":"lower","Id":"exact","operation":"Send","userid":7,"Workload":{{"a":"{{\"x\":1}}"}},{O365}}}"#
        );
        let row = Row::from_line(line.as_bytes(), 3, origin());
        assert_eq!(row.id, "exact");
        assert_eq!(row.operation.as_deref(), Some("Send"));
        assert_eq!(row.user_id.as_deref(), Some("7"));
        assert_eq!(row.workload.as_deref(), Some(r#"{"a":"{\"x\":1}"}"#));
        // No Id at all: a stable synthetic one; no time: the blob's date.
        let row = Row::from_line(br#"{"Operation":"x","_o365":{}}"#, 3, origin());
        assert_eq!(row.id, "blob1#3");
        assert_eq!(row.record, r#"{"Operation":"x"}"#);
        assert_eq!(row.event_date(origin()).to_string(), "2026-03-02");
        // Not an output line: kept whole.
        let row = Row::from_line(b"not json", 4, origin());
        assert_eq!(row.id, "blob1#4");
        assert_eq!(row.record, "not json");
    }

    #[test]
    fn a_record_whose_text_cannot_be_cut_is_serialized() {
        // `_o365` not last (not our writer's shape): the parsed record, equal as JSON.
        let line = br#"{"_o365":{"outcome":"success"},"Id":"z"}"#;
        let row = Row::from_line(line, 0, origin());
        assert_eq!(row.record, r#"{"Id":"z"}"#);
        assert_eq!(row.outcome.as_deref(), Some("success"));
    }
}
