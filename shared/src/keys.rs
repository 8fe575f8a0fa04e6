//! The object layout: where each blob, checkpoint, gap report and error report lives.
//!
//! `<prefix>/tenant_id=<tenant>/content_type=<type>/dt=<YYYY-MM-DD>/hour=<HH>/<content_id>.json.gz`,
//! date and hour from the blob's `contentCreated` in UTC. The key depends only on the message
//! (and the deployment's compression), so a repeat cannot create a second copy.

use chrono::{DateTime, Utc};

use crate::compression::Compression;
use crate::content_type::ContentType;
use crate::message::QueueMessage;
use crate::tenant_id::TenantId;

/// Key builder for one bucket prefix (may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLayout {
    prefix: String,
}

impl KeyLayout {
    /// A layout under `prefix` (slashes at either end are ignored; empty means the bucket root).
    pub fn new(prefix: &str) -> KeyLayout {
        KeyLayout {
            prefix: prefix.trim_matches('/').to_owned(),
        }
    }

    /// The prefix without slashes.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn join(&self, rest: &str) -> String {
        if self.prefix.is_empty() {
            rest.to_owned()
        } else {
            format!("{}/{}", self.prefix, rest)
        }
    }

    /// Key of the stored, normalized blob for a message.
    pub fn data_key(&self, msg: &QueueMessage, compression: Compression) -> String {
        self.data_key_for(
            &msg.tenant_id,
            msg.content_type,
            msg.content_created,
            &msg.content_id,
            compression,
        )
    }

    /// Key of a stored blob from its parts.
    pub fn data_key_for(
        &self,
        tenant: &TenantId,
        content_type: ContentType,
        created: DateTime<Utc>,
        content_id: &str,
        compression: Compression,
    ) -> String {
        self.join(&format!(
            "tenant_id={tenant}/content_type={content_type}/dt={}/hour={}/{content_id}.{}",
            created.format("%Y-%m-%d"),
            created.format("%H"),
            compression.extension()
        ))
    }

    /// Prefix of all data of one tenant and content type (for listing and status).
    pub fn data_prefix(&self, tenant: &TenantId, content_type: ContentType) -> String {
        self.join(&format!("tenant_id={tenant}/content_type={content_type}/"))
    }

    /// Key of the checkpoint of one tenant and content type.
    pub fn checkpoint_key(&self, tenant: &TenantId, content_type: ContentType) -> String {
        self.join(&format!(
            "_state/tenant_id={tenant}/content_type={content_type}/checkpoint.json"
        ))
    }

    /// Prefix of all checkpoints.
    pub fn state_prefix(&self) -> String {
        self.join("_state/")
    }

    /// Key of a gap report: a window that could no longer be listed.
    pub fn gap_key(
        &self,
        tenant: &TenantId,
        content_type: ContentType,
        lost_from: DateTime<Utc>,
        lost_to: DateTime<Utc>,
    ) -> String {
        self.join(&format!(
            "_gaps/tenant_id={tenant}/content_type={content_type}/{}_{}.json",
            lost_from.format("%Y%m%dT%H%M%SZ"),
            lost_to.format("%Y%m%dT%H%M%SZ")
        ))
    }

    /// Prefix of all gap reports.
    pub fn gaps_prefix(&self) -> String {
        self.join("_gaps/")
    }

    /// Key of the error report of a listing entry that could not be read (create-only; the
    /// same raw entry listed again maps to the same key): `_errors/listing/tenant_id=…/
    /// content_type=…/dt=<day listed>/<sha256 of the raw entry>.json`.
    pub fn listing_error_key(
        &self,
        tenant: &TenantId,
        content_type: ContentType,
        listed_at: DateTime<Utc>,
        raw_entry: &str,
    ) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(raw_entry.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.join(&format!(
            "_errors/listing/tenant_id={tenant}/content_type={content_type}/dt={}/{hex}.json",
            listed_at.format("%Y-%m-%d")
        ))
    }

    /// Key of the error report of a blob that failed permanently.
    pub fn error_key(&self, msg: &QueueMessage) -> String {
        self.join(&format!(
            "_errors/tenant_id={}/content_type={}/dt={}/{}.json",
            msg.tenant_id,
            msg.content_type,
            msg.content_created.format("%Y-%m-%d"),
            msg.content_id
        ))
    }

    /// Key of the error report of a message that could not even be parsed (keyed by its queue id).
    pub fn rejected_message_key(&self, at: DateTime<Utc>, message_id: &str) -> String {
        let safe: String = message_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(128)
            .collect();
        self.join(&format!(
            "_errors/rejected/dt={}/{safe}.json",
            at.format("%Y-%m-%d")
        ))
    }

    /// Prefix of all error reports.
    pub fn errors_prefix(&self) -> String {
        self.join("_errors/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn msg() -> QueueMessage {
        QueueMessage {
            format_version: 1,
            tenant_id: "00000000-0000-0000-0000-000000000001".parse().unwrap(),
            content_type: ContentType::Exchange,
            content_id: "20260301101500120000001$20260301103318440000002$audit_exchange$Audit_Exchange$na0001".into(),
            content_uri: "https://manage.office.com/api/v1.0/x/activity/feed/audit/y".into(),
            content_created: Utc.with_ymd_and_hms(2026, 3, 1, 7, 33, 18).unwrap(),
            content_expiration: Utc.with_ymd_and_hms(2026, 3, 8, 7, 33, 18).unwrap(),
        }
    }

    #[test]
    fn data_key_is_the_contract() {
        let k = KeyLayout::new("/o365/").data_key(&msg(), Compression::default());
        assert_eq!(
            k,
            "o365/tenant_id=00000000-0000-0000-0000-000000000001/content_type=Audit.Exchange/dt=2026-03-01/hour=07/20260301101500120000001$20260301103318440000002$audit_exchange$Audit_Exchange$na0001.json.gz"
        );
        let root = KeyLayout::new("").data_key(&msg(), Compression::Zstd { level: 1 });
        assert!(root.starts_with("tenant_id=") && root.ends_with(".json.zst"));
    }

    #[test]
    fn state_gap_and_error_keys() {
        let l = KeyLayout::new("p");
        let m = msg();
        assert_eq!(
            l.checkpoint_key(&m.tenant_id, m.content_type),
            "p/_state/tenant_id=00000000-0000-0000-0000-000000000001/content_type=Audit.Exchange/checkpoint.json"
        );
        let g = l.gap_key(
            &m.tenant_id,
            m.content_type,
            m.content_created,
            m.content_expiration,
        );
        assert_eq!(g, "p/_gaps/tenant_id=00000000-0000-0000-0000-000000000001/content_type=Audit.Exchange/20260301T073318Z_20260308T073318Z.json");
        assert!(l.error_key(&m).starts_with("p/_errors/tenant_id="));
        assert_eq!(
            l.rejected_message_key(m.content_created, "ab/../c d"),
            "p/_errors/rejected/dt=2026-03-01/ab____c_d.json"
        );
    }
}
