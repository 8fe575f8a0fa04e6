//! The bucket layout, as one contract: every key the product writes is built here and parsed
//! back here ([`KeyLayout::parse`]), with one prefix rule.
//!
//! ```text
//! <prefix>/tenant_id=<t>/content_type=<ct>/dt=<YYYY-MM-DD>/hour=<HH>/<content_id>.json.gz   data
//! <prefix>/_state/tenant_id=<t>/content_type=<ct>/checkpoint.json                             checkpoint
//! <prefix>/_gaps/tenant_id=<t>/content_type=<ct>/<from>_<to>.json                              gap report
//! <prefix>/_errors/tenant_id=<t>/content_type=<ct>/dt=<YYYY-MM-DD>/<content_id>.json           error report
//! <prefix>/_errors/rejected/dt=<YYYY-MM-DD>/<message_id>.json                                   unparsable message
//! <prefix>/_quarantine/tenant_id=<t>/content_type=<ct>/dt=<YYYY-MM-DD>/hour=<HH>/<content_id>.json.gz   raw blob
//! <prefix>/_ids/tenant_id=<t>/content_type=<ct>/<content_id>.json                              content-id claim
//! <prefix>/_manifest/tenant_id=<t>/content_type=<ct>/dt=<YYYY-MM-DD>/hour=<HH>/<content_id>.json   manifest entry
//! <prefix>/_state/tenant_id=<t>/tenant.json                                                     tenant health
//! <prefix>/_audit/tenant_id=<t>/dt=<YYYY-MM-DD>/hour=<HH>.json                                  audit report
//! <prefix>/parquet/tenant_id=<t>/content_type=<ct>/event_date=<YYYY-MM-DD>/part-<NNNNN>.parquet   compacted rows
//! <prefix>/_compact/tenant_id=<t>/content_type=<ct>/state.json                                   compaction state
//! ```
//!
//! Data date and hour come from the blob's `contentCreated` in UTC, as computed by the first
//! delivery that claimed the content id (`_ids/`): one content id, one object. `.json.zst`
//! replaces `.json.gz` with zstd. To add a kind of object, add a variant to [`ObjectKey`], its
//! arm in [`ObjectKey::relative`] and in [`KeyLayout::parse`], and a round-trip test.

mod object;
mod parquet;
mod parse;

use chrono::{DateTime, Utc};

use crate::compression::Compression;
use crate::content_type::ContentType;
use crate::message::QueueMessage;
use crate::tenant_id::TenantId;

use object::STAMP;
pub use object::{
    AuditKey, ClaimKey, Codec, DataKey, ErrorKey, GapKey, ListingErrorKey, ManifestKey, ObjectKey,
    PairKey, RejectedKey,
};
pub use parquet::ParquetKey;

/// Key builder and parser for one bucket prefix (may be empty).
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

    /// The one prefix rule: `<prefix>/<rest>`, or `<rest>` at the bucket root.
    fn join(&self, rest: &str) -> String {
        if self.prefix.is_empty() {
            rest.to_owned()
        } else {
            format!("{}/{}", self.prefix, rest)
        }
    }

    /// The part of `key` below the prefix, if it is under it.
    pub fn relative<'a>(&self, key: &'a str) -> Option<&'a str> {
        if self.prefix.is_empty() {
            Some(key)
        } else {
            key.strip_prefix(self.prefix.as_str())?.strip_prefix('/')
        }
    }

    /// The full key of an object.
    pub fn key(&self, object: &ObjectKey) -> String {
        self.join(&object.relative())
    }

    /// Key of the stored, normalized blob for a message whose content id is not claimed yet.
    pub fn data_key(&self, msg: &QueueMessage, compression: Compression) -> String {
        self.key(&ObjectKey::Data(DataKey::for_message(msg, compression)))
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
        self.key(&ObjectKey::Data(DataKey::new(
            tenant,
            content_type,
            created,
            content_id,
            compression,
        )))
    }

    /// Prefix of all data of every tenant.
    pub fn data_root(&self) -> String {
        self.join("tenant_id=")
    }

    /// Prefix of all data of one tenant and content type (for listing and status).
    pub fn data_prefix(&self, tenant: &TenantId, content_type: ContentType) -> String {
        self.join(&format!("tenant_id={tenant}/content_type={content_type}/"))
    }

    /// Key of the checkpoint of one tenant and content type.
    pub fn checkpoint_key(&self, tenant: &TenantId, content_type: ContentType) -> String {
        self.key(&ObjectKey::Checkpoint(PairKey {
            tenant_id: tenant.clone(),
            content_type,
        }))
    }

    /// Key of a tenant's connection health: the problem that made the last `o365ctl run`
    /// skip it (for `o365ctl status`), or none.
    pub fn tenant_health_key(&self, tenant: &TenantId) -> String {
        self.key(&ObjectKey::TenantHealth(tenant.clone()))
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
        self.key(&ObjectKey::Gap(GapKey {
            pair: PairKey {
                tenant_id: tenant.clone(),
                content_type,
            },
            lost_from,
            lost_to,
        }))
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
        self.key(&ObjectKey::ListingError(ListingErrorKey {
            pair: PairKey {
                tenant_id: tenant.clone(),
                content_type,
            },
            date: listed_at.date_naive(),
            digest: digest.iter().map(|b| format!("{b:02x}")).collect(),
        }))
    }

    /// Key of the error report of a blob that failed permanently.
    pub fn error_key(&self, msg: &QueueMessage) -> String {
        self.key(&ObjectKey::Error(ErrorKey {
            pair: PairKey {
                tenant_id: msg.tenant_id.clone(),
                content_type: msg.content_type,
            },
            date: msg.content_created.date_naive(),
            content_id: msg.content_id.clone(),
        }))
    }

    /// Key of the error report of a message that could not even be parsed (keyed by its queue id).
    pub fn rejected_message_key(&self, at: DateTime<Utc>, message_id: &str) -> String {
        self.key(&ObjectKey::Rejected(RejectedKey {
            date: at.date_naive(),
            message_id: safe_message_id(message_id),
        }))
    }

    /// Prefix of all error reports.
    pub fn errors_prefix(&self) -> String {
        self.join("_errors/")
    }

    /// Prefix of the blob error reports of one tenant and content type.
    pub fn errors_pair_prefix(&self, tenant: &TenantId, content_type: ContentType) -> String {
        self.join(&format!(
            "_errors/tenant_id={tenant}/content_type={content_type}/"
        ))
    }

    /// Key of the quarantined raw body of a blob stored (or to be stored) at `data`.
    pub fn quarantine_key(&self, data: &DataKey) -> String {
        self.key(&ObjectKey::Quarantine(data.clone()))
    }

    /// Prefix of all quarantined blobs.
    pub fn quarantine_prefix(&self) -> String {
        self.join("_quarantine/")
    }

    /// Key of the claim of a message's content id.
    pub fn claim_key(&self, msg: &QueueMessage) -> String {
        self.key(&ObjectKey::Claim(ClaimKey {
            pair: PairKey {
                tenant_id: msg.tenant_id.clone(),
                content_type: msg.content_type,
            },
            content_id: msg.content_id.clone(),
        }))
    }

    /// Prefix of all content-id claims.
    pub fn claims_prefix(&self) -> String {
        self.join("_ids/")
    }

    /// Key of the manifest entry of the object stored at `data_key`; `None` if that is not a
    /// data key of this layout. Entry and object share the partition and the content id.
    pub fn manifest_key(&self, data_key: &str) -> Option<String> {
        match self.parse(data_key)? {
            ObjectKey::Data(data) => Some(self.key(&ObjectKey::Manifest(ManifestKey { data }))),
            _ => None,
        }
    }

    /// Prefix of all manifest entries.
    pub fn manifests_prefix(&self) -> String {
        self.join("_manifest/")
    }

    /// Key of the audit report of `tenant`'s event-time hour that holds `at`.
    pub fn audit_key(&self, tenant: &TenantId, at: DateTime<Utc>) -> String {
        self.key(&ObjectKey::Audit(AuditKey::of(tenant, at)))
    }

    /// Prefix of one tenant's audit reports.
    pub fn audit_prefix(&self, tenant: &TenantId) -> String {
        self.join(&format!("_audit/tenant_id={tenant}/"))
    }
}

/// A queue message id made safe as a key segment (at most 128 characters).
fn safe_message_id(message_id: &str) -> String {
    message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect()
}

#[cfg(test)]
mod tests;
