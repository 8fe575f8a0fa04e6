//! Entries of `subscriptions/content` listings: one per content blob. A page is decoded entry
//! by entry ([`decode_page`]): an entry without a readable content id and URI is handed back
//! with its raw JSON, odd fields of the others are filled in from what was listed, and the
//! rest of the page proceeds.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::content_type::ContentType;

/// One listed content blob: where to fetch it and when it appeared and expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentListing {
    /// The content type the blob belongs to (read without regard to case).
    #[serde(deserialize_with = "content_type_any_case")]
    pub content_type: ContentType,
    /// Opaque unique id of the blob.
    pub content_id: String,
    /// Absolute URL to GET the blob; used verbatim (after a host check).
    pub content_uri: String,
    /// When the blob became available; the field listing windows filter on.
    #[serde(with = "crate::time::listing_format")]
    pub content_created: DateTime<Utc>,
    /// After this the blob can no longer be fetched; read from the wire, never computed.
    #[serde(with = "crate::time::listing_format")]
    pub content_expiration: DateTime<Utc>,
}

/// Reads a content type name whatever its case (`audit.exchange` is `Audit.Exchange`).
fn content_type_any_case<'de, D: Deserializer<'de>>(d: D) -> Result<ContentType, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    ContentType::ALL
        .into_iter()
        .find(|ct| ct.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| serde::de::Error::custom(format!("unknown content type {s:?}")))
}

/// A listing entry that could not be read: kept whole for an error report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedEntry {
    /// The entry's JSON exactly as the service sent it.
    pub raw: String,
    /// Why it could not be read.
    pub reason: String,
}

/// A listing entry read with some fields estimated: its blob is still fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairedEntry {
    /// The blob's content id.
    pub content_id: String,
    /// What was estimated, and from what (for the log).
    pub repairs: Vec<String>,
}

/// One listing page, decoded entry by entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodedPage {
    /// The entries that were read (repaired ones included).
    pub entries: Vec<ContentListing>,
    /// The entries that were not.
    pub rejected: Vec<RejectedEntry>,
    /// The entries read with estimated fields (also in `entries`).
    pub repaired: Vec<RepairedEntry>,
}

/// What the lister asked for, to fill in what an entry leaves out: the content type listed,
/// and the window's start (the listing holds only blobs whose `contentCreated` is at or after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingContext {
    /// The content type the listing call asked for.
    pub content_type: ContentType,
    /// Start of the listed window.
    pub window_start: DateTime<Utc>,
}

/// How long the API keeps a blob after its `contentCreated` (spec §4.3): the estimate of a
/// missing `contentExpiration`.
const RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// Decodes a listing page body: it must be a JSON array. Each element is read alone: one
/// without a readable `contentId` and `contentUri` is rejected with its raw JSON; in one that
/// has them, other odd fields are filled in from `ctx` (see [`read_entry`]).
pub fn decode_page(body: &[u8], ctx: ListingContext) -> Result<DecodedPage, serde_json::Error> {
    let raw: Vec<&RawValue> = serde_json::from_slice(body)?;
    let mut page = DecodedPage::default();
    for entry in raw {
        match read_entry(entry.get(), ctx) {
            Ok((e, repairs)) => {
                if !repairs.is_empty() {
                    page.repaired.push(RepairedEntry {
                        content_id: e.content_id.clone(),
                        repairs,
                    });
                }
                page.entries.push(e);
            }
            Err(reason) => page.rejected.push(RejectedEntry {
                raw: entry.get().to_owned(),
                reason,
            }),
        }
    }
    Ok(page)
}

/// Reads one entry. `contentId` and `contentUri` must be non-empty strings (without them the
/// blob cannot be fetched). The rest is salvaged: the content type is the one listed
/// (whatever the entry's spelling), a `contentCreated` that cannot be read is the window's
/// start, a `contentExpiration` that cannot be read is `contentCreated` + 7 days. Each such
/// estimate is named in the returned list.
pub fn read_entry(raw: &str, ctx: ListingContext) -> Result<(ContentListing, Vec<String>), String> {
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}"))?;
    let obj = value
        .as_object()
        .ok_or_else(|| "not a JSON object".to_owned())?;
    let text = |name: &str| {
        obj.get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let content_id = text("contentId").ok_or("no contentId string: the blob cannot be named")?;
    let content_uri =
        text("contentUri").ok_or("no contentUri string: the blob cannot be fetched")?;
    let mut repairs = Vec::new();
    let listed_type = text("contentType");
    if !listed_type.is_some_and(|t| t.eq_ignore_ascii_case(ctx.content_type.as_str())) {
        repairs.push(format!(
            "contentType {listed_type:?} read as the type listed, {}",
            ctx.content_type
        ));
    }
    let content_created = match text("contentCreated").and_then(read_listing_time) {
        Some(t) => t,
        None => {
            repairs.push(format!(
                "contentCreated {:?} unreadable: the window's start {} taken instead",
                obj.get("contentCreated"),
                crate::time::format_listing_time(ctx.window_start)
            ));
            ctx.window_start
        }
    };
    let content_expiration = match text("contentExpiration").and_then(read_listing_time) {
        Some(t) => t,
        None => {
            let estimate = content_created
                .checked_add_signed(RETENTION)
                .ok_or("contentCreated is too far in the future to estimate contentExpiration")?;
            repairs.push(format!(
                "contentExpiration {:?} unreadable: contentCreated + 7 days taken instead",
                obj.get("contentExpiration")
            ));
            estimate
        }
    };
    Ok((
        ContentListing {
            content_type: ctx.content_type,
            content_id: content_id.to_owned(),
            content_uri: content_uri.to_owned(),
            content_created,
            content_expiration,
        },
        repairs,
    ))
}

/// Reads a listing time: every form [`crate::time::parse_record_time`] reads (zone-less is
/// UTC), and the US and RFC 2822 forms (`3/1/2026 5:09:02 AM`, `Sun, 1 Mar 2026 05:09:02 +0000`).
fn read_listing_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = crate::time::parse_record_time(s) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .map(|n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ListingContext {
        ListingContext {
            content_type: ContentType::Exchange,
            window_start: crate::time::parse_record_time("2026-03-01T05:00:00Z").unwrap(),
        }
    }

    #[test]
    fn unreadable_entries_are_rejected_alone_and_odd_ones_salvaged() {
        let body = br#"[
            {"contentType":"audit.exchange","contentId":"a","contentUri":"https://x/a",
             "contentCreated":"2026-03-01T05:09:02","contentExpiration":"2026-03-08T04:40:11.520Z"},
            {"contentType":"Audit.Exchange","contentId":"b","contentUri":"https://x/b",
             "contentCreated":"2026-03-01T05:09:02.115Z"},
            {"contentType":"Audit.Exchange","contentId":"c","contentUri":"https://x/c",
             "contentCreated":"yesterday","contentExpiration":"2026-03-08T04:40:11.520Z"},
            {"contentType":"AUDIT.EXCHANGE","contentId":"d","contentUri":"https://x/d",
             "contentCreated":"2026-03-01 05:09:02","contentExpiration":"2026-03-08T04:40:11Z"},
            {"contentType":"Audit.Exchange","contentId":"e",
             "contentCreated":"2026-03-01T05:09:02Z","contentExpiration":"2026-03-08T04:40:11Z"},
            "f",
            {"contentId":"g","contentUri":"https://x/g",
             "contentCreated":"3/1/2026 5:09:02 AM","contentExpiration":"Sun, 8 Mar 2026 04:40:11 +0000"},
            {"contentType":"Audit.SharePoint","contentId":" ","contentUri":"https://x/h"},
            {"contentType":"Audit.Exchange","contentId":7,"contentUri":"https://x/i"}
        ]"#;
        let page = decode_page(body, ctx()).unwrap();
        let ids: Vec<&str> = page.entries.iter().map(|e| e.content_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d", "g"]);
        assert!(page
            .entries
            .iter()
            .all(|e| e.content_type == ContentType::Exchange));
        let at = |s: &str| crate::time::parse_record_time(s).unwrap();
        assert_eq!(
            page.entries[0].content_created,
            at("2026-03-01T05:09:02Z"),
            "zone-less is UTC"
        );
        assert_eq!(
            page.entries[1].content_expiration,
            at("2026-03-08T05:09:02.115Z"),
            "a missing contentExpiration is contentCreated + 7 days"
        );
        assert_eq!(page.entries[2].content_created, ctx().window_start);
        assert_eq!(page.entries[4].content_created, at("2026-03-01T05:09:02Z"));
        assert_eq!(
            page.entries[4].content_expiration,
            at("2026-03-08T04:40:11Z")
        );
        let repaired: Vec<&str> = page
            .repaired
            .iter()
            .map(|r| r.content_id.as_str())
            .collect();
        assert_eq!(
            repaired,
            ["b", "c", "g"],
            "a missing type is named, odd case is not"
        );
        assert!(page.repaired[2].repairs[0].contains("contentType None"));
        let rejected: Vec<&str> = page.rejected.iter().map(|r| r.raw.as_str()).collect();
        assert_eq!(rejected.len(), 4, "{rejected:?}");
        assert!(
            rejected[0].contains(r#""contentId":"e""#)
                && page.rejected[0].reason.contains("contentUri")
        );
        assert_eq!(rejected[1], r#""f""#);
        assert!(page.rejected[1].reason.contains("not a JSON object"));
        assert!(page.rejected[2].reason.contains("contentId"));
        assert!(page.rejected[3].reason.contains("contentId"));
        assert!(decode_page(b"{}", ctx()).is_err(), "a page is an array");
    }

    #[test]
    fn parses_the_documented_entry() {
        let json = r#"[{
            "contentType": "Audit.SharePoint",
            "contentId": "20260301044011520000101$20260301050902115000207$audit_sharepoint$Audit_SharePoint$na0001",
            "contentUri": "https://manage.office.com/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/audit/20260301044011520000101$20260301050902115000207$audit_sharepoint$Audit_SharePoint$na0001",
            "contentCreated": "2026-03-01T05:09:02.115Z",
            "contentExpiration": "2026-03-08T04:40:11.520Z"
        }]"#;
        let entries: Vec<ContentListing> = serde_json::from_str(json).unwrap();
        assert_eq!(entries[0].content_type, ContentType::SharePoint);
        assert_eq!(
            crate::time::format_listing_time(entries[0].content_created),
            "2026-03-01T05:09:02.115Z"
        );
        let back = serde_json::to_value(&entries[0]).unwrap();
        assert_eq!(back["contentExpiration"], "2026-03-08T04:40:11.520Z");
    }
}
