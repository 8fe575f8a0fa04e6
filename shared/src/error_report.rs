//! The error reports: one JSON object under `_errors/` per message that failed permanently
//! ([`ErrorReport`], written by the fetcher), and one under `_errors/listing/` per listing
//! entry that could not be read ([`ListingErrorReport`], written by the lister); read by
//! `o365ctl status` and the end-to-end reconciliation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checkpoint::CHECKPOINT_FORMAT_VERSION;
use crate::content_type::ContentType;
use crate::listing::RejectedEntry;
use crate::message::QueueMessage;
use crate::tenant_id::TenantId;

/// The `kind` of every [`ListingErrorReport`].
pub const LISTING_ENTRY_KIND: &str = "listing_entry";

/// Largest part of an unparsable message body copied into its report.
pub const MAX_REPORTED_BODY: usize = 16 * 1024;

/// Why a message failed permanently, and the message itself, so it can be replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// The failure kind (the fetcher's `Errors{Kind}` dimension, e.g. `ContentExpired`).
    pub kind: String,
    /// What went wrong, for a person.
    pub error: String,
    /// When the report was written.
    #[serde(with = "crate::time::listing_format")]
    pub at: DateTime<Utc>,
    /// The queue's message id.
    pub message_id: String,
    /// How many times the queue had delivered the message, if known.
    pub attempts: Option<u32>,
    /// The message, parsed or raw.
    pub message: ReportedMessage,
    /// The build that wrote the report.
    pub collector_version: String,
}

/// The failed message as the report holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReportedMessage {
    /// A valid queue message (send it again to replay).
    Parsed(QueueMessage),
    /// A body that is not a valid queue message, cut to [`MAX_REPORTED_BODY`] bytes.
    Raw {
        /// The body (or its first bytes).
        raw_body: String,
        /// Whether it was cut.
        truncated: bool,
    },
}

impl ReportedMessage {
    /// The raw form of an unparsable body, cut at a character boundary.
    pub fn raw(body: &str) -> ReportedMessage {
        let mut cut = body.len().min(MAX_REPORTED_BODY);
        while !body.is_char_boundary(cut) {
            cut = cut.saturating_sub(1);
        }
        ReportedMessage::Raw {
            raw_body: body.get(..cut).unwrap_or_default().to_owned(),
            truncated: cut < body.len(),
        }
    }

    /// The content id, when the message was parsed.
    pub fn content_id(&self) -> Option<&str> {
        match self {
            ReportedMessage::Parsed(m) => Some(&m.content_id),
            ReportedMessage::Raw { .. } => None,
        }
    }
}

/// A report that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("error report {key} is not readable: {source}; it was not written by this collector, or was edited")]
pub struct BadErrorReport {
    /// Its key.
    pub key: String,
    /// The cause.
    #[source]
    pub source: serde_json::Error,
}

impl ErrorReport {
    /// The JSON body to store.
    pub fn to_json(&self) -> String {
        // Strings, numbers and formatted dates only: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored report.
    pub fn parse(key: &str, body: &[u8]) -> Result<ErrorReport, BadErrorReport> {
        serde_json::from_slice(body).map_err(|source| BadErrorReport {
            key: key.to_owned(),
            source,
        })
    }
}

/// Why a listing entry could not be read, and the entry as the service sent it, kept
/// create-only under [`crate::keys::KeyLayout::listing_error_key`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListingErrorReport {
    /// The format version (the checkpoints' one).
    pub format_version: u32,
    /// Always [`LISTING_ENTRY_KIND`].
    pub kind: String,
    /// The tenant whose listing held the entry.
    pub tenant_id: TenantId,
    /// The content type listed.
    pub content_type: ContentType,
    /// When the entry was listed.
    pub detected_at: DateTime<Utc>,
    /// Why it could not be read.
    pub reason: String,
    /// The entry's JSON as sent (a JSON string holding it when it is not JSON).
    pub entry: serde_json::Value,
}

impl ListingErrorReport {
    /// The report of `entry`, listed for `tenant` and `content_type` at `detected_at`.
    pub fn new(
        tenant: &TenantId,
        content_type: ContentType,
        detected_at: DateTime<Utc>,
        entry: &RejectedEntry,
    ) -> ListingErrorReport {
        ListingErrorReport {
            format_version: CHECKPOINT_FORMAT_VERSION,
            kind: LISTING_ENTRY_KIND.to_owned(),
            tenant_id: tenant.clone(),
            content_type,
            detected_at,
            reason: entry.reason.clone(),
            // It parsed as JSON when it came out of the page's array; kept as text otherwise.
            entry: serde_json::from_str(&entry.raw)
                .unwrap_or_else(|_| serde_json::Value::String(entry.raw.clone())),
        }
    }

    /// Reads a stored report.
    pub fn parse(key: &str, body: &[u8]) -> Result<ListingErrorReport, BadErrorReport> {
        serde_json::from_slice(body).map_err(|source| BadErrorReport {
            key: key.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn report(message: ReportedMessage) -> ErrorReport {
        ErrorReport {
            kind: "ContentExpired".into(),
            error: "gone".into(),
            at: Utc.with_ymd_and_hms(2026, 3, 1, 7, 0, 0).unwrap(),
            message_id: "m1".into(),
            attempts: Some(2),
            message,
            collector_version: crate::COLLECTOR_VERSION.into(),
        }
    }

    #[test]
    fn round_trips_both_forms() {
        let msg: QueueMessage = serde_json::from_value(serde_json::json!({
            "format_version": 1,
            "tenant_id": "00000000-0000-0000-0000-000000000001",
            "content_type": "Audit.Exchange",
            "content_id": "abc",
            "content_uri": "https://manage.office.com/x",
            "content_created": "2026-03-01T07:00:00.000Z",
            "content_expiration": "2026-03-08T07:00:00.000Z"
        }))
        .unwrap();
        for m in [
            ReportedMessage::Parsed(msg),
            ReportedMessage::raw("{\"x\":1}"),
        ] {
            let r = report(m);
            let back = ErrorReport::parse("k", r.to_json().as_bytes()).unwrap();
            assert_eq!(back, r);
        }
        let v: serde_json::Value =
            serde_json::from_str(&report(ReportedMessage::raw("x")).to_json()).unwrap();
        assert_eq!(v["message"]["raw_body"], "x");
        assert_eq!(v["kind"], "ContentExpired");
        assert!(ErrorReport::parse("k", b"{}").is_err());
    }

    #[test]
    fn a_listing_error_report_round_trips() {
        let tenant: TenantId = "00000000-0000-0000-0000-000000000001".parse().unwrap();
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 7, 0, 0).unwrap();
        let entry = RejectedEntry {
            raw: r#"{"contentId":"abc","contentUri":7}"#.into(),
            reason: "contentUri is not a string".into(),
        };
        let r = ListingErrorReport::new(&tenant, ContentType::Exchange, at, &entry);
        let body = serde_json::to_vec(&r).unwrap();
        let back = ListingErrorReport::parse("k", &body).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.entry["contentId"], "abc");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["kind"], LISTING_ENTRY_KIND);
        assert_eq!(v["detected_at"], "2026-03-01T07:00:00Z");
        let not_json = RejectedEntry {
            raw: "oops".into(),
            reason: "not JSON".into(),
        };
        let r = ListingErrorReport::new(&tenant, ContentType::Exchange, at, &not_json);
        assert_eq!(r.entry, "oops");
        assert!(ListingErrorReport::parse("k", b"{}").is_err());
    }

    #[test]
    fn raw_bodies_are_cut_on_a_character_boundary() {
        let body = "é".repeat(MAX_REPORTED_BODY);
        match ReportedMessage::raw(&body) {
            ReportedMessage::Raw {
                raw_body,
                truncated,
            } => {
                assert!(truncated);
                assert!(raw_body.len() <= MAX_REPORTED_BODY && !raw_body.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }
}
