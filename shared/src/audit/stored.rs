//! The stored side of the audit: the record `Id`s we hold per event-time hour, read from the
//! data partitions that can hold them.
//!
//! A record of event hour `H` sits in a blob created from `H` on, usually before
//! `H + settle` (the partition is the blob's `contentCreated` hour). Purview lists it as soon
//! as its blob exists, however late, so the partitions from `H - 1 h` (clock skew between
//! `CreationTime` and `contentCreated`) up to the audit's own time (+ 1 h) are read, and at
//! least to `H + settle + 1 h`: in a scheduled run, whose last hour settled just now, both
//! ends are the same; a re-audit of an older hour reads on to now, so a record published
//! after the settle delay and stored is not taken for a missing one. Auditing a run of
//! consecutive hours reads each covering partition once, listing one day prefix per content
//! type at a time. No index is kept: what is read is what is stored, so a deleted data
//! object's records count as missing.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;

use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use serde::Deserialize;

use super::record_types::is_audited;
use super::report::AuditCost;
use super::AuditError;
use crate::keys::{Codec, KeyLayout, ObjectKey};
use crate::store::ObjectStore;
use crate::{ContentType, TenantId};

/// Partitions read before the first audited hour.
const SKEW: TimeDelta = TimeDelta::hours(1);

/// The records stored for one event-time hour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredHour {
    /// Ids of the records of the record types the audit queries (compared with Purview).
    pub ids: HashSet<String>,
    /// Ids of the records of types it cannot query (outside the documented mapping, or of
    /// content types not configured): Purview is not asked for them, so a loss among
    /// records of these types cannot be seen.
    pub unaudited: HashSet<String>,
    /// Those records' `RecordType`s.
    pub unaudited_types: BTreeSet<i64>,
}

/// The stored records per event-time hour start.
pub type IdsByHour = BTreeMap<DateTime<Utc>, StoredHour>;

/// The little of an output line the audit needs.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "Id", borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "RecordType", borrow, default)]
    record_type: Option<&'a serde_json::value::RawValue>,
    #[serde(rename = "_o365")]
    o365: Option<LineO365>,
}

#[derive(Deserialize)]
struct LineO365 {
    event_time: Option<DateTime<Utc>>,
}

/// The start of the hour holding `t`.
pub fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

/// Which stored records are read: whose, of which content types, for which hours, and the
/// bounds of the partitions that can hold them.
pub struct StoredScope<'a> {
    /// The tenant.
    pub tenant: &'a TenantId,
    /// Its collected content types.
    pub content_types: &'a [ContentType],
    /// The settle delay: partitions are read at least to the last hour + it + 1 h.
    pub settle: TimeDelta,
    /// The audit's time: partitions are read up to it + 1 h.
    pub now: DateTime<Utc>,
}

/// Reads the stored Ids of `hours` (hour starts) in `scope`.
pub async fn read_stored_ids<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
    scope: &StoredScope<'_>,
    hours: &BTreeSet<DateTime<Utc>>,
    cost: &mut AuditCost,
) -> Result<IdsByHour, AuditError> {
    let (tenant, content_types) = (scope.tenant, scope.content_types);
    let mut out: IdsByHour = hours.iter().map(|h| (*h, StoredHour::default())).collect();
    let (Some(first), Some(last)) = (hours.first(), hours.last()) else {
        return Ok(out);
    };
    let from = first.checked_sub_signed(SKEW).ok_or(AuditError::BadWindow(
        "the first hour is out of range".into(),
    ))?;
    let to = last
        .checked_add_signed(scope.settle)
        .and_then(|t| t.checked_add_signed(TimeDelta::hours(2)))
        .ok_or(AuditError::BadWindow(
            "the settle delay is out of range".into(),
        ))?
        .max(
            scope
                .now
                .checked_add_signed(TimeDelta::hours(2))
                .unwrap_or(scope.now),
        );
    for ct in content_types {
        let mut day: NaiveDate = from.date_naive();
        while day <= to.date_naive() {
            let prefix = format!(
                "{}dt={}/",
                layout.data_prefix(tenant, *ct),
                day.format("%Y-%m-%d")
            );
            let keys = store.list(&prefix).await.map_err(AuditError::Store)?;
            cost.store_lists = cost.store_lists.saturating_add(1);
            for key in keys {
                let Some(ObjectKey::Data(d)) = layout.parse(&key) else {
                    continue;
                };
                let Some(at) = ObjectKey::Data(d.clone()).partition_hour() else {
                    continue;
                };
                if at < from || at >= to {
                    continue;
                }
                let Some(obj) = store.get(&key).await.map_err(AuditError::Store)? else {
                    continue; // deleted between LIST and GET: its records count as missing
                };
                cost.objects_read = cost.objects_read.saturating_add(1);
                cost.bytes_read = cost.bytes_read.saturating_add(obj.body.len() as u64);
                let text = decompress(&key, d.codec, &obj.body)?;
                collect_lines(&text, content_types, &mut out, cost);
            }
            day = match day.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
    }
    Ok(out)
}

fn decompress(key: &str, codec: Codec, body: &[u8]) -> Result<Vec<u8>, AuditError> {
    let mut text = Vec::new();
    let result = match codec {
        Codec::Gzip => flate2::read::MultiGzDecoder::new(body)
            .read_to_end(&mut text)
            .map(|_| ()),
        Codec::Zstd => zstd::stream::read::Decoder::new(body)
            .and_then(|mut d| d.read_to_end(&mut text))
            .map(|_| ()),
    };
    result.map_err(|e| AuditError::Unreadable {
        key: key.to_owned(),
        message: e.to_string(),
    })?;
    Ok(text)
}

/// A `RecordType` given as a number or a numeric string.
fn record_type(raw: &serde_json::value::RawValue) -> Option<i64> {
    raw.get().trim().trim_matches('"').trim().parse().ok()
}

/// Adds each line's `Id` to its event hour, when that hour is audited: with the audited
/// records, or the unaudited ones when its `RecordType` is not one the audit queries for
/// `content_types` (a line without a readable `RecordType` counts as audited).
fn collect_lines(
    text: &[u8],
    content_types: &[ContentType],
    out: &mut IdsByHour,
    cost: &mut AuditCost,
) {
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        cost.records_parsed = cost.records_parsed.saturating_add(1);
        let Ok(parsed) = serde_json::from_slice::<Line<'_>>(line) else {
            continue;
        };
        let (Some(id), Some(at)) = (parsed.id, parsed.o365.and_then(|o| o.event_time)) else {
            continue;
        };
        let Some(hour) = out.get_mut(&hour_of(at)) else {
            continue;
        };
        match parsed.record_type.and_then(record_type) {
            Some(n) if !is_audited(n, content_types) => {
                hour.unaudited.insert(id.into_owned());
                hour.unaudited_types.insert(n);
            }
            _ => {
                hour.ids.insert(id.into_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn lines_land_in_their_event_hour() {
        let h = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        let mut out: IdsByHour = [(h, StoredHour::default())].into_iter().collect();
        let text =
            br#"{"Id":"a","X":1,"RecordType":15,"_o365":{"event_time":"2026-03-01T10:59:59Z"}}
{"Id":"b","_o365":{"event_time":"2026-03-01T11:00:00Z"}}
{"Id":"a","_o365":{"event_time":"2026-03-01T10:00:00Z"}}
not json
{"Id":"c","_o365":{}}
{"Id":"new","RecordType":9999,"_o365":{"event_time":"2026-03-01T10:30:00Z"}}
{"Id":"new2","RecordType":"117","_o365":{"event_time":"2026-03-01T10:30:00Z"}}
{"Id":"dlp","RecordType":13,"_o365":{"event_time":"2026-03-01T10:30:00Z"}}
"#;
        let mut cost = AuditCost::default();
        let types = [ContentType::AzureActiveDirectory, ContentType::Exchange];
        collect_lines(text, &types, &mut out, &mut cost);
        assert_eq!(out[&h].ids, HashSet::from(["a".to_string()]));
        // 9999 and 117 have no documented content type; 13 is DLP, not configured.
        assert_eq!(
            out[&h].unaudited,
            HashSet::from(["new".to_string(), "new2".to_string(), "dlp".to_string()])
        );
        assert_eq!(out[&h].unaudited_types, BTreeSet::from([13, 117, 9999]));
        assert_eq!(cost.records_parsed, 8);
        assert_eq!(
            hour_of(Utc.with_ymd_and_hms(2026, 3, 1, 10, 7, 9).unwrap()),
            h
        );
    }
}
