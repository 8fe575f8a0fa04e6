//! Entries of `subscriptions/content` listings: one per content blob.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::content_type::ContentType;

/// One listed content blob: where to fetch it and when it appeared and expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentListing {
    /// The content type the blob belongs to.
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

#[cfg(test)]
mod tests {
    use super::*;

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
