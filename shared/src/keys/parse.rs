//! Reading a key back into the object it names: the inverse of [`ObjectKey::relative`].

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::{
    safe_message_id, AuditKey, ClaimKey, Codec, DataKey, ErrorKey, GapKey, KeyLayout,
    ListingErrorKey, ManifestKey, ObjectKey, PairKey, ParquetKey, RejectedKey, STAMP,
};
use crate::content_type::ContentType;
use crate::message::is_valid_content_id;
use crate::tenant_id::TenantId;

impl KeyLayout {
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
            ["_errors", "listing", t, ct, dt, name] => ObjectKey::ListingError(ListingErrorKey {
                pair: pair_of(t, ct)?,
                date: date_of(dt)?,
                digest: digest_of(name.strip_suffix(".json")?)?,
            }),
            ["_errors", t, ct, dt, name] => ObjectKey::Error(ErrorKey {
                pair: pair_of(t, ct)?,
                date: date_of(dt)?,
                content_id: content_id_of(name.strip_suffix(".json")?)?,
            }),
            ["_quarantine", data @ ..] => ObjectKey::Quarantine(DataKey::parse(data)?),
            ["_manifest", entry @ ..] => ObjectKey::Manifest(ManifestKey::parse(entry)?),
            ["_audit", t, dt, name] => ObjectKey::Audit(AuditKey::parse(t, dt, name)?),
            ["parquet", part @ ..] => ObjectKey::Parquet(ParquetKey::parse(part)?),
            ["_compact", t, ct, "state.json"] => ObjectKey::CompactState(pair_of(t, ct)?),
            ["_ids", t, ct, name] => ObjectKey::Claim(ClaimKey {
                pair: pair_of(t, ct)?,
                content_id: content_id_of(name.strip_suffix(".json")?)?,
            }),
            data => ObjectKey::Data(DataKey::parse(data)?),
        };
        // Only what the builder writes back byte for byte is ours.
        (parsed.relative() == rest).then_some(parsed)
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

/// The date of a `<name>=YYYY-MM-DD` segment.
pub(super) fn date_in(segment: &str, name: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(field(segment, name)?, "%Y-%m-%d").ok()
}

/// A SHA-256 digest as keys spell it: 64 lowercase hex digits.
fn digest_of(s: &str) -> Option<String> {
    let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    (s.len() == 64 && s.chars().all(hex)).then(|| s.to_owned())
}

fn content_id_of(s: &str) -> Option<String> {
    is_valid_content_id(s).then(|| s.to_owned())
}

/// The pair of `tenant_id=…` and `content_type=…` segments.
pub(super) fn pair_of(t: &str, ct: &str) -> Option<PairKey> {
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

impl DataKey {
    /// The data key of `tenant_id=…/content_type=…/dt=…/hour=…/<id>.<ext>`, split at `/`.
    pub(super) fn parse(parts: &[&str]) -> Option<DataKey> {
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

impl ManifestKey {
    /// The manifest entry of `_manifest/<the data key's fields>.json`, split at `/`.
    pub(super) fn parse(parts: &[&str]) -> Option<ManifestKey> {
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

impl Codec {
    /// `name` without its codec suffix, and the codec.
    pub(super) fn strip(name: &str) -> Option<(&str, Codec)> {
        [Codec::Gzip, Codec::Zstd].into_iter().find_map(|c| {
            name.strip_suffix(c.extension())
                .and_then(|s| s.strip_suffix('.'))
                .map(|s| (s, c))
        })
    }
}

impl AuditKey {
    /// The audit report key of `_audit/<t>/<dt>/<name>`.
    pub(super) fn parse(t: &str, dt: &str, name: &str) -> Option<AuditKey> {
        let hour = field(name.strip_suffix(".json")?, "hour")?;
        Some(AuditKey {
            tenant_id: tenant_of(t)?,
            date: date_of(dt)?,
            hour: hour.parse().ok().filter(|h| *h < 24)?,
        })
    }
}
