//! The stored side of the audit: the record `Id`s we hold per event-time hour, read from the
//! data partitions that can hold them.
//!
//! A record of event hour `H` sits in a blob created between `H` and `H + settle` (the
//! partition is the blob's `contentCreated` hour), so the partitions from `H - 1 h` to
//! `H + settle + 1 h` cover it (the hour before absorbs clock skew between `CreationTime` and
//! `contentCreated`). Auditing a run of consecutive hours reads each covering partition
//! once, listing one day prefix per content type at a time. No index is kept: what is read is
//! what is stored, so a deleted data object's records count as missing.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;

use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use serde::Deserialize;

use super::report::AuditCost;
use super::AuditError;
use crate::keys::{Codec, KeyLayout, ObjectKey};
use crate::store::ObjectStore;
use crate::{ContentType, TenantId};

/// Partitions read before the first audited hour.
const SKEW: TimeDelta = TimeDelta::hours(1);

/// Ids per event-time hour start.
pub type IdsByHour = BTreeMap<DateTime<Utc>, HashSet<String>>;

/// The little of an output line the audit needs.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "Id", borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
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

/// Reads the stored Ids of `hours` (hour starts) for `tenant` over `content_types`.
pub async fn read_stored_ids<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
    tenant: &TenantId,
    content_types: &[ContentType],
    hours: &BTreeSet<DateTime<Utc>>,
    settle: TimeDelta,
    cost: &mut AuditCost,
) -> Result<IdsByHour, AuditError> {
    let mut out: IdsByHour = hours.iter().map(|h| (*h, HashSet::new())).collect();
    let (Some(first), Some(last)) = (hours.first(), hours.last()) else {
        return Ok(out);
    };
    let from = first.checked_sub_signed(SKEW).ok_or(AuditError::BadWindow(
        "the first hour is out of range".into(),
    ))?;
    let to = last
        .checked_add_signed(settle)
        .and_then(|t| t.checked_add_signed(TimeDelta::hours(2)))
        .ok_or(AuditError::BadWindow(
            "the settle delay is out of range".into(),
        ))?;
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
                collect_lines(&text, &mut out, cost);
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

/// Adds each line's `Id` to its event hour, when that hour is audited.
fn collect_lines(text: &[u8], out: &mut IdsByHour, cost: &mut AuditCost) {
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        cost.records_parsed = cost.records_parsed.saturating_add(1);
        let Ok(parsed) = serde_json::from_slice::<Line<'_>>(line) else {
            continue;
        };
        let (Some(id), Some(at)) = (parsed.id, parsed.o365.and_then(|o| o.event_time)) else {
            continue;
        };
        if let Some(ids) = out.get_mut(&hour_of(at)) {
            ids.insert(id.into_owned());
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
        let mut out: IdsByHour = [(h, HashSet::new())].into_iter().collect();
        let text = br#"{"Id":"a","X":1,"_o365":{"event_time":"2026-03-01T10:59:59Z"}}
{"Id":"b","_o365":{"event_time":"2026-03-01T11:00:00Z"}}
{"Id":"a","_o365":{"event_time":"2026-03-01T10:00:00Z"}}
not json
{"Id":"c","_o365":{}}
"#;
        let mut cost = AuditCost::default();
        collect_lines(text, &mut out, &mut cost);
        assert_eq!(out[&h], HashSet::from(["a".to_string()]));
        assert_eq!(cost.records_parsed, 5);
        assert_eq!(
            hour_of(Utc.with_ymd_and_hms(2026, 3, 1, 10, 7, 9).unwrap()),
            h
        );
    }
}
