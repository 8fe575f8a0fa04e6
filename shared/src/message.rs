//! The queue message contract: one message per content blob, from lister (or replay) to fetcher.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::content_type::ContentType;
use crate::listing::ContentListing;
use crate::tenant_id::TenantId;

/// The message format version this build writes and reads.
pub const MESSAGE_FORMAT_VERSION: u32 = 1;

/// Largest content id accepted (real ones are about 100 characters).
pub const MAX_CONTENT_ID_LEN: usize = 512;

/// One content blob to fetch. Sending it again is a replay; the fetcher treats repeats as no-ops.
///
/// Deliberately not a flattened [`ContentListing`] (`duplicates` pairs their fields): the
/// queue message is our versioned contract with snake_case names, the listing entry is the
/// API's camelCase one, and each must change only with its own format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueMessage {
    /// Format version (`1`); a fetcher refuses versions it does not know.
    pub format_version: u32,
    /// Customer tenant the blob belongs to.
    pub tenant_id: TenantId,
    /// Content type of the blob.
    pub content_type: ContentType,
    /// Opaque blob id; part of the object key.
    pub content_id: String,
    /// URL to fetch; must be under the tenant's configured API root.
    pub content_uri: String,
    /// When the blob became available; sets the `dt=`/`hour=` partition.
    #[serde(with = "crate::time::listing_format")]
    pub content_created: DateTime<Utc>,
    /// When the blob can no longer be fetched.
    #[serde(with = "crate::time::listing_format")]
    pub content_expiration: DateTime<Utc>,
}

/// A queue message body that cannot be processed; permanent (retrying cannot fix it).
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// Not JSON, or a field missing or of the wrong type.
    #[error("malformed queue message: {0}; send a JSON object with format_version, tenant_id, content_type, content_id, content_uri, content_created, content_expiration")]
    Malformed(#[from] serde_json::Error),
    /// A format version this build does not know.
    #[error("queue message format_version {0} is not supported by this build (supports {MESSAGE_FORMAT_VERSION}); upgrade the fetcher")]
    UnsupportedVersion(u32),
    /// A content id that could not be a safe object key.
    #[error("content_id {0:?} is not acceptable: it must be 1..=512 characters of letters, digits and $ _ . - (no slashes, spaces or control characters, not starting with '.')")]
    BadContentId(String),
    /// A content URI that is not a URL at all.
    #[error("content_uri {0:?} is not an absolute URL")]
    BadContentUri(String),
}

/// Whether a content id is safe as the last segment of an object key or a file name.
pub fn is_valid_content_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CONTENT_ID_LEN
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'$' | b'_' | b'.' | b'-'))
}

impl QueueMessage {
    /// Builds the message for a listed blob.
    pub fn from_listing(tenant_id: TenantId, entry: &ContentListing) -> QueueMessage {
        QueueMessage {
            format_version: MESSAGE_FORMAT_VERSION,
            tenant_id,
            content_type: entry.content_type,
            content_id: entry.content_id.clone(),
            content_uri: entry.content_uri.clone(),
            content_created: entry.content_created,
            content_expiration: entry.content_expiration,
        }
    }

    /// Parses and validates a message body.
    pub fn parse(body: &str) -> Result<QueueMessage, MessageError> {
        let msg: QueueMessage = serde_json::from_str(body)?;
        msg.validate()?;
        Ok(msg)
    }

    /// Checks what serde cannot: version, content id shape, URI shape.
    pub fn validate(&self) -> Result<(), MessageError> {
        if self.format_version != MESSAGE_FORMAT_VERSION {
            return Err(MessageError::UnsupportedVersion(self.format_version));
        }
        if !is_valid_content_id(&self.content_id) {
            return Err(MessageError::BadContentId(self.content_id.clone()));
        }
        if url::Url::parse(&self.content_uri).is_err() {
            return Err(MessageError::BadContentUri(self.content_uri.clone()));
        }
        Ok(())
    }

    /// The JSON body to send.
    pub fn to_json(&self) -> String {
        // Serializing plain strings, numbers and formatted dates cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stable id for de-duplication in queues and logs: tenant, type and content id.
    pub fn dedup_key(&self) -> String {
        format!(
            "{}/{}/{}",
            self.tenant_id, self.content_type, self.content_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> QueueMessage {
        let entry: ContentListing = serde_json::from_value(serde_json::json!({
            "contentType": "Audit.Exchange",
            "contentId": "20260301101500120000001$20260301103318440000002$audit_exchange$Audit_Exchange$na0001",
            "contentUri": "https://manage.office.com/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/audit/20260301101500120000001$20260301103318440000002$audit_exchange$Audit_Exchange$na0001",
            "contentCreated": "2026-03-01T10:33:18.440Z",
            "contentExpiration": "2026-03-08T10:15:00.120Z"
        }))
        .unwrap();
        QueueMessage::from_listing(
            "00000000-0000-0000-0000-000000000001".parse().unwrap(),
            &entry,
        )
    }

    #[test]
    fn round_trips() {
        let m = sample();
        let back = QueueMessage::parse(&m.to_json()).unwrap();
        assert_eq!(back, m);
        let v: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(v["format_version"], 1);
        assert_eq!(v["content_type"], "Audit.Exchange");
        assert_eq!(v["content_created"], "2026-03-01T10:33:18.440Z");
    }

    #[test]
    fn rejects_bad_messages() {
        assert!(matches!(
            QueueMessage::parse("not json"),
            Err(MessageError::Malformed(_))
        ));
        assert!(matches!(
            QueueMessage::parse("{}"),
            Err(MessageError::Malformed(_))
        ));
        let mut m = sample();
        m.format_version = 2;
        assert!(matches!(
            QueueMessage::parse(&m.to_json()),
            Err(MessageError::UnsupportedVersion(2))
        ));
        for bad in ["", "../x", "a/b", "a b", ".hidden", "x\u{0}y"] {
            let mut m = sample();
            m.content_id = bad.into();
            assert!(
                matches!(
                    QueueMessage::parse(&m.to_json()),
                    Err(MessageError::BadContentId(_))
                ),
                "{bad:?}"
            );
        }
        let mut m = sample();
        m.content_uri = "audit/123".into();
        assert!(matches!(
            QueueMessage::parse(&m.to_json()),
            Err(MessageError::BadContentUri(_))
        ));
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v["tenant_id"] = "contoso".into();
        assert!(QueueMessage::parse(&v.to_string()).is_err());
        v = serde_json::from_str(&sample().to_json()).unwrap();
        v["content_type"] = "Audit.Teams".into();
        assert!(QueueMessage::parse(&v.to_string()).is_err());
    }
}
