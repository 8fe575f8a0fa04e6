//! Entries of `subscriptions/content` listings: one per content blob. A page is decoded entry
//! by entry ([`decode_page`]): an entry that cannot be read is handed back with its raw JSON,
//! and the rest of the page proceeds.

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

/// One listing page, decoded entry by entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodedPage {
    /// The entries that were read.
    pub entries: Vec<ContentListing>,
    /// The entries that were not.
    pub rejected: Vec<RejectedEntry>,
}

/// Decodes a listing page body: it must be a JSON array; each element that does not read as a
/// [`ContentListing`] is rejected alone, with its raw JSON.
pub fn decode_page(body: &[u8]) -> Result<DecodedPage, serde_json::Error> {
    let raw: Vec<&RawValue> = serde_json::from_slice(body)?;
    let mut page = DecodedPage::default();
    for entry in raw {
        match serde_json::from_str::<ContentListing>(entry.get()) {
            Ok(e) => page.entries.push(e),
            Err(e) => page.rejected.push(RejectedEntry {
                raw: entry.get().to_owned(),
                reason: e.to_string(),
            }),
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_entry_is_rejected_alone_and_odd_spellings_are_read() {
        let body = br#"[
            {"contentType":"audit.exchange","contentId":"a","contentUri":"https://x/a",
             "contentCreated":"2026-03-01T05:09:02","contentExpiration":"2026-03-08T04:40:11.520Z"},
            {"contentType":"Audit.Exchange","contentId":"b","contentUri":"https://x/b",
             "contentCreated":"2026-03-01T05:09:02.115Z"},
            {"contentType":"Audit.Exchange","contentId":"c","contentUri":"https://x/c",
             "contentCreated":"yesterday","contentExpiration":"2026-03-08T04:40:11.520Z"},
            {"contentType":"AUDIT.EXCHANGE","contentId":"d","contentUri":"https://x/d",
             "contentCreated":"2026-03-01 05:09:02","contentExpiration":"2026-03-08T04:40:11Z"}
        ]"#;
        let page = decode_page(body).unwrap();
        let ids: Vec<&str> = page.entries.iter().map(|e| e.content_id.as_str()).collect();
        assert_eq!(ids, ["a", "d"]);
        assert_eq!(page.entries[0].content_type, ContentType::Exchange);
        assert_eq!(
            crate::time::format_listing_time(page.entries[0].content_created),
            "2026-03-01T05:09:02.000Z",
            "zone-less is UTC"
        );
        assert_eq!(page.rejected.len(), 2);
        assert!(page.rejected[0].raw.contains(r#""contentId":"b""#));
        assert!(page.rejected[0].reason.contains("contentExpiration"));
        assert!(decode_page(b"{}").is_err(), "a page is an array");
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
