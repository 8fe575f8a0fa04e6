//! The manifest of writes: one create-only entry per stored blob under
//! `<prefix>/_manifest/tenant_id=<t>/content_type=<ct>/dt=<YYYY-MM-DD>/hour=<HH>/<content_id>.json`
//! saying which object was written and what it held (records, size, SHA-256 of the stored
//! bytes), and [`verify`], which checks the stored objects against the entries and reports
//! anything missing, altered or extra.
//!
//! The digest is computed while the object is uploaded ([`HashingUpload`]), never by reading
//! the object back; entries are written with `If-None-Match: *`, so the bucket policy's
//! create-only rule covers them like the data.

use std::collections::BTreeSet;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::KeyLayout;
use crate::store::{ObjectMeta, ObjectStore, ObjectUpload, PutCondition, PutOutcome, StoreError};
use crate::{ContentType, TenantId};

/// Version of the entry format, written in every entry.
pub const MANIFEST_FORMAT_VERSION: u32 = 1;

/// One stored blob, as recorded right after it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// [`MANIFEST_FORMAT_VERSION`].
    pub format_version: u32,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The content type.
    pub content_type: ContentType,
    /// The blob's content id.
    pub content_id: String,
    /// The data object's key.
    pub key: String,
    /// Records written into the object.
    pub records: u64,
    /// Hex SHA-256 of the object's bytes as stored (compressed).
    pub sha256: String,
    /// The object's size in bytes.
    pub size: u64,
    /// When the object was written.
    #[serde(with = "crate::time::listing_format")]
    pub written_at: DateTime<Utc>,
}

/// A manifest entry that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("manifest entry {key} is not valid: {source}; it was altered or written by another tool")]
pub struct BadManifestEntry {
    /// The entry's key.
    pub key: String,
    /// Why it did not parse.
    #[source]
    pub source: serde_json::Error,
}

impl ManifestEntry {
    /// Reads an entry stored at `key`.
    pub fn parse(key: &str, body: &[u8]) -> Result<ManifestEntry, BadManifestEntry> {
        serde_json::from_slice(body).map_err(|source| BadManifestEntry {
            key: key.to_owned(),
            source,
        })
    }

    /// Writes the entry of the object at `self.key`, create-only. `Ok(None)` when the key is
    /// not a data key of `layout` (nothing to record); `PreconditionFailed` when an entry exists.
    pub async fn store<S: ObjectStore>(
        &self,
        store: &S,
        layout: &KeyLayout,
    ) -> Result<Option<PutOutcome>, StoreError> {
        let Some(key) = layout.manifest_key(&self.key) else {
            return Ok(None);
        };
        let body = serde_json::to_vec(self).map_err(|e| StoreError::Io {
            op: "encode manifest entry",
            key: key.clone(),
            source: std::io::Error::other(e),
        })?;
        let meta = ObjectMeta {
            content_type: "application/json".to_owned(),
            content_encoding: None,
        };
        store
            .put(&key, Bytes::from(body), &meta, PutCondition::IfNoneMatch)
            .await
            .map(Some)
    }
}

/// Size and SHA-256 of bytes written, computed as they pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDigest {
    /// Hex SHA-256.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

impl ObjectDigest {
    /// The digest of a whole body.
    pub fn of(body: &[u8]) -> ObjectDigest {
        ObjectDigest {
            sha256: crate::store::local::hex(&Sha256::digest(body)),
            size: u64::try_from(body.len()).unwrap_or(u64::MAX),
        }
    }
}

/// An upload that hashes what it writes, so the manifest's digest needs no second read.
#[derive(Debug)]
pub struct HashingUpload<U> {
    inner: U,
    hasher: Sha256,
    size: u64,
}

impl<U: ObjectUpload> HashingUpload<U> {
    /// Wraps an upload.
    pub fn new(inner: U) -> HashingUpload<U> {
        HashingUpload {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// Appends bytes (see [`ObjectUpload::write`]).
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        self.hasher.update(&chunk);
        self.size = self
            .size
            .saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
        self.inner.write(chunk).await
    }

    /// Completes the object (see [`ObjectUpload::finish`]) and gives the digest of its bytes.
    pub async fn finish(self) -> Result<(PutOutcome, ObjectDigest), StoreError> {
        let digest = ObjectDigest {
            sha256: crate::store::local::hex(&self.hasher.finalize()),
            size: self.size,
        };
        Ok((self.inner.finish().await?, digest))
    }

    /// Abandons the upload (see [`ObjectUpload::abort`]).
    pub async fn abort(self) -> Result<(), StoreError> {
        self.inner.abort().await
    }
}

/// What is wrong with one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A manifest entry names an object that is not stored.
    Missing,
    /// The stored object's bytes differ from its entry's size or SHA-256.
    Altered,
    /// An object is stored that no manifest entry records.
    Extra,
    /// A manifest entry cannot be read.
    BadEntry,
}

impl ProblemKind {
    /// The word printed for people.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Missing => "missing",
            ProblemKind::Altered => "altered",
            ProblemKind::Extra => "extra",
            ProblemKind::BadEntry => "bad-entry",
        }
    }
}

/// One finding of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// The data object's key (the entry's key for [`ProblemKind::BadEntry`]).
    pub key: String,
    /// Details for people.
    pub detail: String,
}

/// The result of [`verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Manifest entries checked.
    pub entries: u64,
    /// Data objects found.
    pub objects: u64,
    /// Everything missing, altered, extra or unreadable, by key.
    pub problems: Vec<Problem>,
}

/// Which partitions [`verify`] looks at: hours overlapping `[start, end)`, or all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HourRange {
    /// Inclusive start, if any.
    pub start: Option<DateTime<Utc>>,
    /// Exclusive end, if any.
    pub end: Option<DateTime<Utc>>,
}

impl HourRange {
    /// Whether the hour partition of `key` overlaps the range; keys without one never do
    /// unless the range is unbounded.
    fn holds(&self, layout: &KeyLayout, key: &str) -> bool {
        if self.start.is_none() && self.end.is_none() {
            return true;
        }
        let Some(hour) = layout.parse(key).and_then(|k| k.partition_hour()) else {
            return false;
        };
        let hour_end = hour.checked_add_signed(TimeDelta::hours(1)).unwrap_or(hour);
        self.start.is_none_or(|s| hour_end > s) && self.end.is_none_or(|e| hour < e)
    }
}

/// Checks every stored object in `range` against the manifest entries in `range`: an entry
/// whose object is absent is `missing`, one whose bytes differ `altered`, an object no entry
/// records `extra`. Reads each object once, whole.
pub async fn verify<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
    range: HourRange,
) -> Result<VerifyReport, StoreError> {
    let entry_keys: Vec<String> = store
        .list(&layout.manifests_prefix())
        .await?
        .into_iter()
        .filter(|k| range.holds(layout, k))
        .collect();
    let mut unrecorded: BTreeSet<String> = store
        .list(&layout.data_root())
        .await?
        .into_iter()
        .filter(|k| range.holds(layout, k))
        .collect();
    let mut report = VerifyReport {
        objects: u64::try_from(unrecorded.len()).unwrap_or(u64::MAX),
        ..VerifyReport::default()
    };
    for entry_key in entry_keys {
        report.entries = report.entries.saturating_add(1);
        let Some(stored) = store.get(&entry_key).await? else {
            continue;
        };
        let entry = match ManifestEntry::parse(&entry_key, &stored.body) {
            Ok(e) => e,
            Err(e) => {
                report.problems.push(Problem {
                    kind: ProblemKind::BadEntry,
                    key: entry_key,
                    detail: e.to_string(),
                });
                continue;
            }
        };
        unrecorded.remove(&entry.key);
        report.problems.extend(check_object(store, &entry).await?);
    }
    report
        .problems
        .extend(unrecorded.into_iter().map(|key| Problem {
            kind: ProblemKind::Extra,
            key,
            detail: "stored, but no manifest entry records it".to_owned(),
        }));
    report.problems.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(report)
}

/// Compares one object with its entry.
async fn check_object<S: ObjectStore>(
    store: &S,
    entry: &ManifestEntry,
) -> Result<Option<Problem>, StoreError> {
    let Some(object) = store.get(&entry.key).await? else {
        return Ok(Some(Problem {
            kind: ProblemKind::Missing,
            key: entry.key.clone(),
            detail: format!(
                "recorded at {} ({} records, {} bytes), not stored",
                crate::time::format_listing_time(entry.written_at),
                entry.records,
                entry.size
            ),
        }));
    };
    let found = ObjectDigest::of(&object.body);
    if found.sha256 == entry.sha256 && found.size == entry.size {
        return Ok(None);
    }
    Ok(Some(Problem {
        kind: ProblemKind::Altered,
        key: entry.key.clone(),
        detail: format!(
            "recorded {} bytes sha256 {}, stored {} bytes sha256 {}",
            entry.size, entry.sha256, found.size, found.sha256
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::Compression;
    use crate::store::LocalStore;
    use chrono::TimeZone;

    fn entry(layout: &KeyLayout, id: &str, body: &[u8], hour: u32) -> ManifestEntry {
        let created = Utc.with_ymd_and_hms(2026, 3, 1, hour, 5, 0).unwrap();
        let tenant: TenantId = "00000000-0000-0000-0000-000000000001".parse().unwrap();
        let key = layout.data_key_for(
            &tenant,
            ContentType::General,
            created,
            id,
            Compression::default(),
        );
        let d = ObjectDigest::of(body);
        ManifestEntry {
            format_version: MANIFEST_FORMAT_VERSION,
            tenant_id: tenant,
            content_type: ContentType::General,
            content_id: id.to_owned(),
            key,
            records: 2,
            sha256: d.sha256,
            size: d.size,
            written_at: created,
        }
    }

    async fn write(store: &LocalStore, layout: &KeyLayout, e: &ManifestEntry, body: &[u8]) {
        let meta = ObjectMeta {
            content_type: "application/x-ndjson".into(),
            content_encoding: Some("gzip".into()),
        };
        let mut up = HashingUpload::new(store.begin_upload(&e.key, &meta).await.unwrap());
        let (head, tail) = body.split_at(body.len() / 2);
        up.write(Bytes::copy_from_slice(head)).await.unwrap();
        up.write(Bytes::copy_from_slice(tail)).await.unwrap();
        let (outcome, digest) = up.finish().await.unwrap();
        assert!(matches!(outcome, PutOutcome::Written { .. }));
        assert_eq!(
            digest,
            ObjectDigest::of(body),
            "streamed digest = whole digest"
        );
        let written = e.store(store, layout).await.unwrap();
        assert!(matches!(written, Some(PutOutcome::Written { .. })));
    }

    #[tokio::test]
    async fn verify_finds_missing_altered_and_extra_objects() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf());
        let layout = KeyLayout::new("o365");
        let (a, b, c) = (
            entry(&layout, "a", b"first", 1),
            entry(&layout, "b", b"second", 1),
            entry(&layout, "c", b"third", 3),
        );
        for (e, body) in [(&a, &b"first"[..]), (&b, b"second"), (&c, b"third")] {
            write(&store, &layout, e, body).await;
        }
        let clean = verify(&store, &layout, HourRange::default()).await.unwrap();
        assert_eq!((clean.entries, clean.objects), (3, 3));
        assert!(clean.problems.is_empty(), "{clean:?}");
        // An entry is create-only: a second one for the same object is refused.
        assert_eq!(
            a.store(&store, &layout).await.unwrap(),
            Some(PutOutcome::PreconditionFailed)
        );

        std::fs::write(dir.path().join(&a.key), b"tampered").unwrap();
        std::fs::remove_file(dir.path().join(&b.key)).unwrap();
        let extra = entry(&layout, "x", b"x", 3).key;
        std::fs::write(dir.path().join(&extra), b"x").unwrap();
        let report = verify(&store, &layout, HourRange::default()).await.unwrap();
        let found: Vec<_> = report
            .problems
            .iter()
            .map(|p| (p.kind, p.key.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (ProblemKind::Altered, a.key.as_str()),
                (ProblemKind::Missing, b.key.as_str()),
                (ProblemKind::Extra, extra.as_str()),
            ]
        );

        // Only hour 03 of the day: c (fine) and the extra object.
        let hour3 = HourRange {
            start: Some(Utc.with_ymd_and_hms(2026, 3, 1, 3, 30, 0).unwrap()),
            end: Some(Utc.with_ymd_and_hms(2026, 3, 1, 4, 0, 0).unwrap()),
        };
        let windowed = verify(&store, &layout, hour3).await.unwrap();
        assert_eq!((windowed.entries, windowed.objects), (1, 2));
        assert_eq!(windowed.problems.len(), 1);
        assert_eq!(windowed.problems[0].kind, ProblemKind::Extra);
    }

    #[tokio::test]
    async fn an_unreadable_entry_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf());
        let layout = KeyLayout::new("");
        let e = entry(&layout, "a", b"body", 0);
        write(&store, &layout, &e, b"body").await;
        let entry_key = layout.manifest_key(&e.key).unwrap();
        std::fs::write(dir.path().join(&entry_key), b"{not json").unwrap();
        let report = verify(&store, &layout, HourRange::default()).await.unwrap();
        let kinds: Vec<_> = report.problems.iter().map(|p| p.kind).collect();
        assert_eq!(kinds, vec![ProblemKind::BadEntry, ProblemKind::Extra]);
    }
}
