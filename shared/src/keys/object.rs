//! The kinds of object in the bucket, each with the fields its key carries, and the key below
//! the prefix that each one has.

use chrono::{DateTime, NaiveDate, Timelike, Utc};

use crate::compression::Compression;
use crate::content_type::ContentType;
use crate::message::QueueMessage;
use crate::tenant_id::TenantId;

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

/// The error report of a listing entry that could not be read (keyed by the entry's hash, so
/// the same raw entry listed again maps to the same key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListingErrorKey {
    /// The pair whose listing held the entry.
    pub pair: PairKey,
    /// `dt=`: the day it was listed.
    pub date: NaiveDate,
    /// The SHA-256 of the raw entry, 64 lowercase hex digits.
    pub digest: String,
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
    /// An unreadable listing entry's error report.
    ListingError(ListingErrorKey),
    /// A content-id claim.
    Claim(ClaimKey),
    /// A blob's manifest entry.
    Manifest(ManifestKey),
    /// A tenant's connection health (why the last `o365ctl run` skipped it, if it did).
    TenantHealth(TenantId),
    /// A completeness audit report of one tenant and hour.
    Audit(AuditKey),
    /// A Parquet part of compacted records (see `keys/parquet.rs`).
    Parquet(super::ParquetKey),
    /// A pair's compaction state: which stored blobs are in the Parquet output.
    CompactState(PairKey),
}

pub(super) const STAMP: &str = "%Y%m%dT%H%M%SZ";

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
            ObjectKey::ListingError(l) => format!(
                "_errors/listing/{}/dt={}/{}.json",
                pair(&l.pair),
                l.date.format("%Y-%m-%d"),
                l.digest
            ),
            ObjectKey::Claim(c) => format!("_ids/{}/{}.json", pair(&c.pair), c.content_id),
            ObjectKey::Manifest(m) => m.render(),
            ObjectKey::TenantHealth(t) => format!("_state/tenant_id={t}/tenant.json"),
            ObjectKey::Audit(a) => a.render(),
            ObjectKey::Parquet(p) => p.render(),
            ObjectKey::CompactState(p) => {
                format!("_compact/{}/state.json", super::parquet::pair_segments(p))
            }
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
            | ObjectKey::ListingError(ListingErrorKey { pair, .. })
            | ObjectKey::Claim(ClaimKey { pair, .. }) => Some(pair.clone()),
            ObjectKey::Rejected(_) | ObjectKey::TenantHealth(_) | ObjectKey::Audit(_) => None,
        }
    }
}
