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
//! <prefix>/parquet/tenant_id=<t>/content_type=<ct>/event_date=<YYYY-MM-DD>/part-<NNNNN>.parquet   compacted rows
//! <prefix>/_compact/tenant_id=<t>/content_type=<ct>/state.json                                   compaction state
//! <prefix>/_audit/tenant_id=<t>/dt=<YYYY-MM-DD>/hour=<HH>.json                                  audit report
//! ```
//!
//! Data date and hour come from the blob's `contentCreated` in UTC, as computed by the first
//! delivery that claimed the content id (`_ids/`): one content id, one object. `.json.zst`
//! replaces `.json.gz` with zstd. To add a kind of object, add a variant to [`ObjectKey`], its
//! arm in [`ObjectKey::relative`] and in [`KeyLayout::parse`], and a round-trip test.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike, Utc};

use crate::compression::Compression;
use crate::content_type::ContentType;
use crate::message::{is_valid_content_id, QueueMessage};
use crate::tenant_id::TenantId;

mod parquet;

pub use parquet::ParquetKey;

/// How a data or quarantine object is compressed, as its key's suffix says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// `.json.gz`
    Gzip,
    /// `.json.zst`
    Zstd,
}

impl Codec {
    /// The codec a compression setting writes.
    pub fn of(c: Compression) -> Codec {
        match c {
            Compression::Gzip { .. } => Codec::Gzip,
            Compression::Zstd { .. } => Codec::Zstd,
        }
    }

    /// The key suffix, without the leading dot.
    pub fn extension(self) -> &'static str {
        match self {
            Codec::Gzip => "json.gz",
            Codec::Zstd => "json.zst",
        }
    }

    fn strip(name: &str) -> Option<(&str, Codec)> {
        [Codec::Gzip, Codec::Zstd].into_iter().find_map(|c| {
            name.strip_suffix(c.extension())
                .and_then(|s| s.strip_suffix('.'))
                .map(|s| (s, c))
        })
    }
}

/// One tenant × content type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PairKey {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The content type.
    pub content_type: ContentType,
}

/// A stored blob (or its quarantined raw body): where one content id lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DataKey {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The content type.
    pub content_type: ContentType,
    /// `dt=`: the date of `contentCreated` (UTC) when the content id was claimed.
    pub date: NaiveDate,
    /// `hour=`: its hour, 0..=23.
    pub hour: u32,
    /// The content id.
    pub content_id: String,
    /// The compression of the object.
    pub codec: Codec,
}

impl DataKey {
    /// The key a message's blob gets when its content id is not claimed yet.
    pub fn for_message(msg: &QueueMessage, compression: Compression) -> DataKey {
        DataKey::new(
            &msg.tenant_id,
            msg.content_type,
            msg.content_created,
            &msg.content_id,
            compression,
        )
    }

    /// A key from its parts.
    pub fn new(
        tenant: &TenantId,
        content_type: ContentType,
        created: DateTime<Utc>,
        content_id: &str,
        compression: Compression,
    ) -> DataKey {
        DataKey {
            tenant_id: tenant.clone(),
            content_type,
            date: created.date_naive(),
            hour: created.hour(),
            content_id: content_id.to_owned(),
            codec: Codec::of(compression),
        }
    }

    /// `YYYY-MM-DD/HH`, the partition.
    pub fn partition(&self) -> String {
        format!("{}/{:02}", self.date.format("%Y-%m-%d"), self.hour)
    }

    fn render(&self) -> String {
        format!(
            "tenant_id={}/content_type={}/dt={}/hour={:02}/{}.{}",
            self.tenant_id,
            self.content_type,
            self.date.format("%Y-%m-%d"),
            self.hour,
            self.content_id,
            self.codec.extension()
        )
    }

    fn parse(parts: &[&str]) -> Option<DataKey> {
        let [t, ct, dt, hour, name] = parts else {
            return None;
        };
        let (content_id, codec) = Codec::strip(name)?;
        let hour: u32 = field(hour, "hour")?.parse().ok().filter(|h| *h < 24)?;
        Some(DataKey {
            tenant_id: tenant_of(t)?,
            content_type: content_type_of(ct)?,
            date: date_of(dt)?,
            hour,
            content_id: content_id_of(content_id)?,
            codec,
        })
    }
}

/// A gap report: a window that could no longer be listed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GapKey {
    /// The pair.
    pub pair: PairKey,
    /// Start of the lost window.
    pub lost_from: DateTime<Utc>,
    /// End of the lost window.
    pub lost_to: DateTime<Utc>,
}

/// The error report of a blob that failed permanently.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ErrorKey {
    /// The pair.
    pub pair: PairKey,
    /// `dt=`: the date of the message's `contentCreated`.
    pub date: NaiveDate,
    /// The content id.
    pub content_id: String,
}

/// The error report of a queue message that could not be parsed (keyed by its queue id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RejectedKey {
    /// `dt=`: when it was rejected.
    pub date: NaiveDate,
    /// The queue message id, made safe for a key.
    pub message_id: String,
}

/// The create-only claim of a content id, holding the data key it is stored under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimKey {
    /// The pair.
    pub pair: PairKey,
    /// The content id.
    pub content_id: String,
}

/// The manifest entry of a stored blob: the data key's partition and content id under
/// `_manifest/`, with `.json` whatever the object's codec (see [`crate::manifest`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ManifestKey {
    /// The blob's data key (its codec is not part of the entry's key).
    pub data: DataKey,
}

impl ManifestKey {
    fn render(&self) -> String {
        let d = &self.data;
        format!(
            "_manifest/tenant_id={}/content_type={}/dt={}/hour={:02}/{}.json",
            d.tenant_id,
            d.content_type,
            d.date.format("%Y-%m-%d"),
            d.hour,
            d.content_id
        )
    }

    fn parse(parts: &[&str]) -> Option<ManifestKey> {
        let [t, ct, dt, hour, name] = parts else {
            return None;
        };
        let data = format!(
            "{}.{}",
            name.strip_suffix(".json")?,
            Codec::Gzip.extension()
        );
        DataKey::parse(&[*t, *ct, *dt, *hour, data.as_str()]).map(|data| ManifestKey { data })
    }
}

/// The completeness audit's report of one tenant and event-time hour (see [`crate::audit`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuditKey {
    /// The tenant.
    pub tenant_id: TenantId,
    /// `dt=`: the date of the audited event-time hour (UTC).
    pub date: NaiveDate,
    /// `hour=`: the hour, 0..=23.
    pub hour: u32,
}

impl AuditKey {
    /// The key of the report of the hour that holds `at`.
    pub fn of(tenant: &TenantId, at: DateTime<Utc>) -> AuditKey {
        AuditKey {
            tenant_id: tenant.clone(),
            date: at.date_naive(),
            hour: at.hour(),
        }
    }

    /// The start of the audited hour.
    pub fn start(&self) -> Option<DateTime<Utc>> {
        Some(self.date.and_hms_opt(self.hour, 0, 0)?.and_utc())
    }

    fn render(&self) -> String {
        format!(
            "_audit/tenant_id={}/dt={}/hour={:02}.json",
            self.tenant_id,
            self.date.format("%Y-%m-%d"),
            self.hour
        )
    }

    fn parse(t: &str, dt: &str, name: &str) -> Option<AuditKey> {
        let hour = field(name.strip_suffix(".json")?, "hour")?;
        Some(AuditKey {
            tenant_id: tenant_of(t)?,
            date: date_of(dt)?,
            hour: hour.parse().ok().filter(|h| *h < 24)?,
        })
    }
}

/// Any object of the layout, parsed from its key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ObjectKey {
    /// A stored, normalized blob.
    Data(DataKey),
    /// The raw body of a blob whose normalization rejected something.
    Quarantine(DataKey),
    /// A pair's checkpoint.
    Checkpoint(PairKey),
    /// A gap report.
    Gap(GapKey),
    /// A blob's error report.
    Error(ErrorKey),
    /// An unparsable message's error report.
    Rejected(RejectedKey),
    /// A content-id claim.
    Claim(ClaimKey),
    /// A blob's manifest entry.
    Manifest(ManifestKey),
    /// A tenant's connection health (why the last `o365ctl run` skipped it, if it did).
    TenantHealth(TenantId),
    /// A Parquet part of compacted records (see [`parquet`]).
    Parquet(ParquetKey),
    /// A pair's compaction state: which stored blobs are in the Parquet output.
    CompactState(PairKey),
    /// A completeness audit report of one tenant and hour.
    Audit(AuditKey),
}

const STAMP: &str = "%Y%m%dT%H%M%SZ";

impl ObjectKey {
    /// The key below the prefix.
    pub fn relative(&self) -> String {
        let pair =
            |p: &PairKey| format!("tenant_id={}/content_type={}", p.tenant_id, p.content_type);
        match self {
            ObjectKey::Data(d) => d.render(),
            ObjectKey::Quarantine(d) => format!("_quarantine/{}", d.render()),
            ObjectKey::Checkpoint(p) => format!("_state/{}/checkpoint.json", pair(p)),
            ObjectKey::Gap(g) => format!(
                "_gaps/{}/{}_{}.json",
                pair(&g.pair),
                g.lost_from.format(STAMP),
                g.lost_to.format(STAMP)
            ),
            ObjectKey::Error(e) => format!(
                "_errors/{}/dt={}/{}.json",
                pair(&e.pair),
                e.date.format("%Y-%m-%d"),
                e.content_id
            ),
            ObjectKey::Rejected(r) => format!(
                "_errors/rejected/dt={}/{}.json",
                r.date.format("%Y-%m-%d"),
                r.message_id
            ),
            ObjectKey::Claim(c) => format!("_ids/{}/{}.json", pair(&c.pair), c.content_id),
            ObjectKey::Manifest(m) => m.render(),
            ObjectKey::TenantHealth(t) => format!("_state/tenant_id={t}/tenant.json"),
            ObjectKey::Parquet(p) => p.render(),
            ObjectKey::CompactState(p) => {
                format!("_compact/{}/state.json", parquet::pair_segments(p))
            }
            ObjectKey::Audit(a) => a.render(),
        }
    }

    /// The hour partition (`dt=`, `hour=`) of a data, quarantine or manifest key.
    pub fn partition_hour(&self) -> Option<DateTime<Utc>> {
        let d = match self {
            ObjectKey::Data(d)
            | ObjectKey::Quarantine(d)
            | ObjectKey::Manifest(ManifestKey { data: d }) => d,
            _ => return None,
        };
        Some(d.date.and_hms_opt(d.hour, 0, 0)?.and_utc())
    }

    /// The tenant and content type the object belongs to (none for a rejected message or a
    /// tenant's health).
    pub fn pair(&self) -> Option<PairKey> {
        match self {
            ObjectKey::Data(d)
            | ObjectKey::Quarantine(d)
            | ObjectKey::Manifest(ManifestKey { data: d }) => Some(PairKey {
                tenant_id: d.tenant_id.clone(),
                content_type: d.content_type,
            }),
            ObjectKey::Checkpoint(p) | ObjectKey::CompactState(p) => Some(p.clone()),
            ObjectKey::Parquet(p) => Some(p.pair.clone()),
            ObjectKey::Gap(GapKey { pair, .. })
            | ObjectKey::Error(ErrorKey { pair, .. })
            | ObjectKey::Claim(ClaimKey { pair, .. }) => Some(pair.clone()),
            ObjectKey::Rejected(_) | ObjectKey::TenantHealth(_) | ObjectKey::Audit(_) => None,
        }
    }
}

fn field<'a>(segment: &'a str, name: &str) -> Option<&'a str> {
    segment.strip_prefix(name)?.strip_prefix('=')
}

fn tenant_of(segment: &str) -> Option<TenantId> {
    field(segment, "tenant_id")?.parse().ok()
}

fn content_type_of(segment: &str) -> Option<ContentType> {
    let ct: ContentType = field(segment, "content_type")?.parse().ok()?;
    // One spelling per type in keys: anything else is not ours.
    (ct.as_str() == field(segment, "content_type")?).then_some(ct)
}

fn date_of(segment: &str) -> Option<NaiveDate> {
    date_in(segment, "dt")
}

fn date_in(segment: &str, name: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(field(segment, name)?, "%Y-%m-%d").ok()
}

fn content_id_of(s: &str) -> Option<String> {
    is_valid_content_id(s).then(|| s.to_owned())
}

fn pair_of(t: &str, ct: &str) -> Option<PairKey> {
    Some(PairKey {
        tenant_id: tenant_of(t)?,
        content_type: content_type_of(ct)?,
    })
}

fn stamp_of(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, STAMP)
        .ok()
        .map(|n| n.and_utc())
}

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

    /// Parses a key of this layout back; `None` for anything the layout does not write.
    pub fn parse(&self, key: &str) -> Option<ObjectKey> {
        let rest = self.relative(key)?;
        let parts: Vec<&str> = rest.split('/').collect();
        let parsed = match parts.as_slice() {
            ["_state", t, ct, "checkpoint.json"] => ObjectKey::Checkpoint(pair_of(t, ct)?),
            ["_state", t, "tenant.json"] => ObjectKey::TenantHealth(tenant_of(t)?),
            ["_gaps", t, ct, name] => {
                let (from, to) = name.strip_suffix(".json")?.split_once('_')?;
                ObjectKey::Gap(GapKey {
                    pair: pair_of(t, ct)?,
                    lost_from: stamp_of(from)?,
                    lost_to: stamp_of(to)?,
                })
            }
            ["_errors", "rejected", dt, name] => ObjectKey::Rejected(RejectedKey {
                date: date_of(dt)?,
                message_id: safe_message_id(name.strip_suffix(".json")?),
            }),
            ["_errors", t, ct, dt, name] => ObjectKey::Error(ErrorKey {
                pair: pair_of(t, ct)?,
                date: date_of(dt)?,
                content_id: content_id_of(name.strip_suffix(".json")?)?,
            }),
            ["_quarantine", data @ ..] => ObjectKey::Quarantine(DataKey::parse(data)?),
            ["_manifest", entry @ ..] => ObjectKey::Manifest(ManifestKey::parse(entry)?),
            ["parquet", part @ ..] => ObjectKey::Parquet(ParquetKey::parse(part)?),
            ["_compact", t, ct, "state.json"] => ObjectKey::CompactState(pair_of(t, ct)?),
            ["_audit", t, dt, name] => ObjectKey::Audit(AuditKey::parse(t, dt, name)?),
            ["_ids", t, ct, name] => ObjectKey::Claim(ClaimKey {
                pair: pair_of(t, ct)?,
                content_id: content_id_of(name.strip_suffix(".json")?)?,
            }),
            data => ObjectKey::Data(DataKey::parse(data)?),
        };
        // Only what the builder writes back byte for byte is ours.
        (parsed.relative() == rest).then_some(parsed)
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
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.join(&format!(
            "_errors/listing/tenant_id={tenant}/content_type={content_type}/dt={}/{hex}.json",
            listed_at.format("%Y-%m-%d")
        ))
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
        assert!(l
            .error_key(&m)
            .starts_with(&l.errors_pair_prefix(&m.tenant_id, m.content_type)));
        assert_eq!(
            l.rejected_message_key(m.content_created, "ab/../c d"),
            "p/_errors/rejected/dt=2026-03-01/ab____c_d.json"
        );
        assert_eq!(
            l.claim_key(&m),
            format!("p/_ids/tenant_id=00000000-0000-0000-0000-000000000001/content_type=Audit.Exchange/{}.json", m.content_id)
        );
    }

    #[test]
    fn every_key_parses_back() {
        let m = msg();
        let data = DataKey::for_message(&m, Compression::default());
        for prefix in ["", "p", "a/b"] {
            let l = KeyLayout::new(prefix);
            let keys = [
                l.data_key(&m, Compression::default()),
                l.data_key(&m, Compression::Zstd { level: 3 }),
                l.checkpoint_key(&m.tenant_id, m.content_type),
                l.gap_key(
                    &m.tenant_id,
                    m.content_type,
                    m.content_created,
                    m.content_expiration,
                ),
                l.error_key(&m),
                l.rejected_message_key(m.content_created, "abc-1"),
                l.quarantine_key(&data),
                l.claim_key(&m),
                l.manifest_key(&l.data_key(&m, Compression::default()))
                    .unwrap(),
                l.tenant_health_key(&m.tenant_id),
                l.audit_key(&m.tenant_id, m.content_created),
            ];
            for k in keys {
                let parsed = l.parse(&k).unwrap_or_else(|| panic!("{k} does not parse"));
                assert_eq!(l.key(&parsed), k);
                if !matches!(
                    parsed,
                    ObjectKey::Rejected(_) | ObjectKey::TenantHealth(_) | ObjectKey::Audit(_)
                ) {
                    assert_eq!(parsed.pair().unwrap().tenant_id, m.tenant_id);
                }
            }
        }
        let l = KeyLayout::new("p");
        match l.parse(&l.data_key(&m, Compression::default())) {
            Some(ObjectKey::Data(d)) => {
                assert_eq!(d, data);
                assert_eq!(d.partition(), "2026-03-01/07");
                assert_eq!(d.content_id, m.content_id);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn audit_key_is_the_contract() {
        let l = KeyLayout::new("p");
        let t = msg().tenant_id;
        let k = l.audit_key(&t, Utc.with_ymd_and_hms(2026, 3, 1, 7, 59, 59).unwrap());
        assert_eq!(
            k,
            "p/_audit/tenant_id=00000000-0000-0000-0000-000000000001/dt=2026-03-01/hour=07.json"
        );
        assert!(k.starts_with(&l.audit_prefix(&t)));
        match l.parse(&k) {
            Some(ObjectKey::Audit(a)) => {
                assert_eq!(
                    a.start(),
                    Some(Utc.with_ymd_and_hms(2026, 3, 1, 7, 0, 0).unwrap())
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(l.parse("p/_audit/tenant_id=00000000-0000-0000-0000-000000000001/dt=2026-03-01/hour=24.json").is_none());
        assert!(l
            .parse(
                "p/_audit/tenant_id=00000000-0000-0000-0000-000000000001/dt=2026-03-01/hour=7.json"
            )
            .is_none());
    }

    #[test]
    fn manifest_key_mirrors_the_data_key() {
        let l = KeyLayout::new("p");
        let data = l.data_key(&msg(), Compression::default());
        let m = l.manifest_key(&data).unwrap();
        assert_eq!(
            m,
            "p/_manifest/tenant_id=00000000-0000-0000-0000-000000000001/content_type=Audit.Exchange/dt=2026-03-01/hour=07/20260301101500120000001$20260301103318440000002$audit_exchange$Audit_Exchange$na0001.json"
        );
        let zst = l.data_key(&msg(), Compression::Zstd { level: 3 });
        assert_eq!(l.manifest_key(&zst).unwrap(), m);
        let root = KeyLayout::new("");
        let at_root = root.data_key(&msg(), Compression::default());
        assert!(root
            .manifest_key(&at_root)
            .unwrap()
            .starts_with("_manifest/tenant_id="));
        assert_eq!(l.manifest_key(&l.claim_key(&msg())), None);
        assert_eq!(l.manifest_key("q/tenant_id=x/a.json.gz"), None);
        let hour = Some(Utc.with_ymd_and_hms(2026, 3, 1, 7, 0, 0).unwrap());
        assert_eq!(l.parse(&m).and_then(|k| k.partition_hour()), hour);
        assert_eq!(l.parse(&data).and_then(|k| k.partition_hour()), hour);
        let checkpoint = l.checkpoint_key(&msg().tenant_id, ContentType::Exchange);
        assert_eq!(l.parse(&checkpoint).unwrap().partition_hour(), None);
    }

    #[test]
    fn foreign_keys_are_not_parsed() {
        let l = KeyLayout::new("p");
        let t = "tenant_id=00000000-0000-0000-0000-000000000001";
        for k in [
            "q/_state/x".to_owned(),
            format!("p/{t}/content_type=Audit.Exchange/dt=2026-03-01/hour=7/a.json.gz"),
            format!("p/{t}/content_type=Audit.Exchange/dt=2026-03-01/hour=24/a.json.gz"),
            format!("p/{t}/content_type=Audit.Exchange/dt=2026-13-01/hour=07/a.json.gz"),
            format!("p/{t}/content_type=Audit.Exchange/dt=2026-03-01/hour=07/a.txt"),
            format!("p/{t}/content_type=audit.exchange/dt=2026-03-01/hour=07/a.json.gz"),
            format!("p/{t}/content_type=Audit.Exchange/dt=2026-03-01/a.json.gz"),
            format!("p/{t}/content_type=Audit.Exchange/dt=2026-03-01/hour=07/.json.gz"),
            "p/tenant_id=x/content_type=Audit.Exchange/dt=2026-03-01/hour=07/a.json.gz".to_owned(),
            format!("p/_state/{t}/content_type=Audit.Exchange/lease.json"),
            format!("p/_gaps/{t}/content_type=Audit.Exchange/2026.json"),
            format!("p/_ids/{t}/content_type=Audit.Exchange/a.txt"),
            "p/_manifest/whatever".to_owned(),
        ] {
            assert_eq!(l.parse(&k), None, "{k}");
        }
    }
}
