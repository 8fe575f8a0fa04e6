//! Reconciliation of a bucket against the simulator's ledger: every reachable blob stored once
//! with every record, nothing else stored, every lost window in a gap report and every permanent
//! failure in `_errors/` or the DLQ.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::Read;

use chrono::{DateTime, Utc};
use o365_activity::error_report::ListingErrorReport;
use o365_activity::keys::{Codec, KeyLayout, ObjectKey};
use o365_activity::normalize::o365::read_line;
use o365_activity::store::ObjectStore;
use o365_sim::{Ledger, PublishedBlob};

/// A window a gap report says could no longer be listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapWindow {
    /// Tenant of the report.
    pub tenant_id: String,
    /// Content type of the report.
    pub content_type: String,
    /// Start of the lost window.
    pub from: DateTime<Utc>,
    /// End of the lost window.
    pub to: DateTime<Utc>,
}

/// One stored data object, parsed back.
#[derive(Debug, Clone)]
pub struct StoredBlob {
    /// Its key.
    pub key: String,
    /// Tenant from the key.
    pub tenant_id: String,
    /// Content type from the key.
    pub content_type: String,
    /// `dt=` and `hour=` from the key.
    pub partition: String,
    /// Content id from the key.
    pub content_id: String,
    /// `Id` of every line, in order.
    pub record_ids: Vec<String>,
    /// Lines that were not a JSON object with `Id` and an `_o365` naming this blob.
    pub bad_lines: Vec<String>,
}

/// Where each published blob should have ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Stored once with every record.
    Stored,
    /// A permanent failure (malformed, truncated, expired): in `_errors/` or the DLQ, not stored.
    Failure,
    /// Stored, or (if it expired before it could be fetched) reported as a failure.
    StoredOrExpired,
    /// In a window of a gap report: may be missing.
    InGap,
    /// Never listable by the collector (late beyond the overlap, invisible, not yet due):
    /// may be missing, counted apart.
    Unreachable,
}

/// The outcome of a reconciliation; `problems()` lists what breaks the rules.
#[derive(Debug, Clone, Default)]
pub struct Reconciliation {
    /// Blobs the simulator published (visible to the collector).
    pub published_blobs: usize,
    /// Records in those blobs.
    pub published_records: usize,
    /// Distinct blobs found stored.
    pub stored_blobs: usize,
    /// Lines found in stored blobs.
    pub stored_records: usize,
    /// Blobs missing inside a reported gap.
    pub gap_blobs: usize,
    /// Records of those.
    pub gap_records: usize,
    /// Blobs missing that the collector could never list (late beyond the overlap).
    pub unreachable_blobs: usize,
    /// Records of those.
    pub unreachable_records: usize,
    /// Permanent failures found in `_errors/` or the DLQ.
    pub reported_failures: usize,
    /// Reachable blobs neither stored nor reported (must be empty).
    pub lost: Vec<String>,
    /// Records of the lost blobs.
    pub lost_records: usize,
    /// Blobs stored under more than one key (must be empty).
    pub doubled: Vec<String>,
    /// Lines beyond the ledger's count of their record id (must be 0).
    pub doubled_records: usize,
    /// Record ids of the ledger missing from a stored blob (must be empty).
    pub missing_records: Vec<String>,
    /// Record ids stored that the ledger does not have for that blob (must be empty).
    pub foreign_records: Vec<String>,
    /// Keys under the data layout that match no published blob (must be empty).
    pub unexpected_objects: Vec<String>,
    /// Blobs stored with some records left out and their raw body kept under `_quarantine/`.
    pub quarantined_blobs: usize,
    /// Failing blobs (malformed, truncated) that were stored anyway without their raw body
    /// kept in quarantine (must be empty).
    pub stored_failures: Vec<String>,
    /// Lines that are not proper output lines (must be empty).
    pub bad_lines: Vec<String>,
    /// Gap reports found.
    pub gaps: Vec<GapWindow>,
}

impl Reconciliation {
    /// Every broken rule, one line each; empty when the bucket is right.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut add = |what: &str, items: &[String]| {
            if !items.is_empty() {
                let shown: Vec<&String> = items.iter().take(5).collect();
                out.push(format!("{} {what}: {shown:?}", items.len()));
            }
        };
        add(
            "reachable blobs lost (not stored, not reported)",
            &self.lost,
        );
        add("blobs stored more than once", &self.doubled);
        add("records missing from stored blobs", &self.missing_records);
        add(
            "records stored that the blob does not hold",
            &self.foreign_records,
        );
        add(
            "objects that match no published blob",
            &self.unexpected_objects,
        );
        add("failing blobs stored anyway", &self.stored_failures);
        add("bad output lines", &self.bad_lines);
        if self.doubled_records > 0 {
            out.push(format!("{} records stored twice", self.doubled_records));
        }
        out
    }

    /// Panics-free check for tests: `Err` with every problem when the bucket breaks a rule.
    pub fn check(&self) -> Result<(), String> {
        let p = self.problems();
        if p.is_empty() {
            Ok(())
        } else {
            Err(format!("{self}\n{}", p.join("\n")))
        }
    }
}

impl fmt::Display for Reconciliation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "published {} blobs / {} records; stored {} / {}; in gaps {} / {}; unreachable {} / {}; failures reported {}; lost {} / {}; doubled {} / {}",
            self.published_blobs,
            self.published_records,
            self.stored_blobs,
            self.stored_records,
            self.gap_blobs,
            self.gap_records,
            self.unreachable_blobs,
            self.unreachable_records,
            self.reported_failures,
            self.lost.len(),
            self.lost_records,
            self.doubled.len(),
            self.doubled_records
        )
    }
}

/// Why reading the bucket back failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Listing or reading an object failed.
    #[error("reading the bucket: {0}")]
    Store(#[from] o365_activity::store::StoreError),
    /// An object listed could not be read back.
    #[error("object {0} vanished while reading")]
    Vanished(String),
    /// An object did not decompress.
    #[error("object {key} does not decompress: {source}")]
    Decompress {
        /// The key.
        key: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn partition_of(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d/%H").to_string()
}

/// Decompresses a stored object (gzip or zstd).
pub fn decompress(key: &str, body: &[u8], zstd: bool) -> Result<Vec<u8>, ReconcileError> {
    let mut out = Vec::new();
    let res = if zstd {
        zstd::stream::read::Decoder::new(body).and_then(|mut d| d.read_to_end(&mut out))
    } else {
        flate2::read::MultiGzDecoder::new(body).read_to_end(&mut out)
    };
    res.map_err(|source| ReconcileError::Decompress {
        key: key.to_string(),
        source,
    })?;
    Ok(out)
}

/// Parses one stored object's lines.
fn parse_lines(content_id: &str, text: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut ids = Vec::new();
    let mut bad = Vec::new();
    for (n, line) in text.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let parsed = match read_line(line) {
            Ok(l) => l,
            Err(e) => {
                bad.push(format!("{content_id} line {}: {e}", n + 1));
                continue;
            }
        };
        let names_blob = parsed
            .o365()
            .is_ok_and(|o| o.content_id.as_deref() == Some(content_id));
        match parsed.record_id() {
            Some(id) => {
                if !names_blob {
                    bad.push(format!(
                        "{content_id} line {}: _o365 does not name the blob",
                        n + 1
                    ));
                }
                ids.push(id.to_string());
            }
            None => bad.push(format!("{content_id} line {}: no Id", n + 1)),
        }
    }
    (ids, bad)
}

/// Reads every data object of the layout back.
pub async fn read_stored<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
) -> Result<Vec<StoredBlob>, ReconcileError> {
    let keys = store.list(&layout.data_root()).await?;
    let mut out = Vec::new();
    for key in keys {
        let Some(ObjectKey::Data(data)) = layout.parse(&key) else {
            out.push(StoredBlob {
                key: key.clone(),
                tenant_id: String::new(),
                content_type: String::new(),
                partition: String::new(),
                content_id: String::new(),
                record_ids: Vec::new(),
                bad_lines: vec![format!("{key}: not a data key of the layout")],
            });
            continue;
        };
        let (tenant_id, content_type, partition, content_id, zstd) = (
            data.tenant_id.to_string(),
            data.content_type.to_string(),
            data.partition(),
            data.content_id.clone(),
            data.codec == Codec::Zstd,
        );
        let obj = store
            .get(&key)
            .await?
            .ok_or_else(|| ReconcileError::Vanished(key.clone()))?;
        let text = decompress(&key, &obj.body, zstd)?;
        let (record_ids, bad_lines) = parse_lines(&content_id, &text);
        out.push(StoredBlob {
            key,
            tenant_id,
            content_type,
            partition,
            content_id,
            record_ids,
            bad_lines,
        });
    }
    Ok(out)
}

/// Reads the gap reports (`_gaps/tenant_id=T/content_type=CT/FROM_TO.json`).
pub async fn read_gaps<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
) -> Result<Vec<GapWindow>, ReconcileError> {
    let mut out = Vec::new();
    for key in store.list(&layout.gaps_prefix()).await? {
        if let Some(ObjectKey::Gap(g)) = layout.parse(&key) {
            out.push(GapWindow {
                tenant_id: g.pair.tenant_id.to_string(),
                content_type: g.pair.content_type.to_string(),
                from: g.lost_from,
                to: g.lost_to,
            });
        }
    }
    Ok(out)
}

/// Content ids named by `_errors/` reports (and the safe message ids of rejected messages,
/// and the content ids the raw entries of `_errors/listing/` reports name).
pub async fn read_error_reports<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
) -> Result<BTreeSet<String>, ReconcileError> {
    let mut out: BTreeSet<String> = store
        .list(&layout.errors_prefix())
        .await?
        .iter()
        .filter_map(|k| match layout.parse(k) {
            Some(ObjectKey::Error(e)) => Some(e.content_id),
            Some(ObjectKey::Rejected(r)) => Some(r.message_id),
            _ => None,
        })
        .collect();
    for (_, entry) in read_listing_errors(store, layout).await? {
        // An entry's `contentId`, or the entry itself when it is a bare string.
        if let Some(id) = entry.get("contentId").unwrap_or(&entry).as_str() {
            out.insert(id.to_owned());
        }
    }
    Ok(out)
}

/// The raw listing entries kept by `_errors/listing/` reports, each with its report's key.
pub async fn read_listing_errors<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
) -> Result<Vec<(String, serde_json::Value)>, ReconcileError> {
    let mut out = Vec::new();
    for key in store.list(&layout.errors_prefix()).await? {
        if !matches!(layout.parse(&key), Some(ObjectKey::ListingError(_))) {
            continue;
        }
        let obj = store
            .get(&key)
            .await?
            .ok_or_else(|| ReconcileError::Vanished(key.clone()))?;
        let entry = ListingErrorReport::parse(&key, &obj.body)
            .map(|r| r.entry)
            .unwrap_or_default();
        out.push((key, entry));
    }
    Ok(out)
}

/// Content ids whose raw blob body is kept under `_quarantine/`.
pub async fn read_quarantined<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
) -> Result<BTreeSet<String>, ReconcileError> {
    Ok(store
        .list(&layout.quarantine_prefix())
        .await?
        .iter()
        .filter_map(|k| match layout.parse(k) {
            Some(ObjectKey::Quarantine(q)) => Some(q.content_id),
            _ => None,
        })
        .collect())
}

/// Content ids of DLQ message bodies (bodies that are not messages are ignored here).
pub fn dlq_content_ids(bodies: &[String]) -> BTreeSet<String> {
    bodies
        .iter()
        .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .filter_map(|v| v.get("content_id")?.as_str().map(str::to_string))
        .collect()
}

/// Whether a blob was ever listable by the collector: some successful listing call covered its
/// `contentCreated` (or a re-listing) at or after the time it became available.
pub fn was_listable(ledger: &Ledger, blob: &PublishedBlob) -> bool {
    let created: Vec<(DateTime<Utc>, DateTime<Utc>)> =
        std::iter::once((blob.content_created, blob.available_at))
            .chain(blob.relisted_at.iter().map(|t| (*t, *t)))
            .collect();
    ledger.requests.iter().any(|r| {
        r.status == 200
            && r.operation.as_deref() == Some("content")
            && r.tenant_id
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(&blob.tenant_id))
            && r.content_type.as_deref() == Some(blob.content_type.as_str())
            && match (r.start_time, r.end_time) {
                (Some(s), Some(e)) => created
                    .iter()
                    .any(|(c, avail)| s <= *c && *c < e && r.at >= *avail),
                _ => false,
            }
    })
}

/// The usual expectation for a blob given its fault tags, the gap reports and `horizon` (the
/// simulated time of the last complete lister run: blobs available later are not yet due).
pub fn default_expectation(
    ledger: &Ledger,
    blob: &PublishedBlob,
    gaps: &[GapWindow],
    horizon: DateTime<Utc>,
) -> Expect {
    let fault = blob.fault.as_deref().unwrap_or("");
    let in_gap = gaps.iter().any(|g| {
        g.tenant_id.eq_ignore_ascii_case(&blob.tenant_id)
            && g.content_type == blob.content_type
            && g.from <= blob.content_created
            && blob.content_created < g.to
    });
    if in_gap {
        return Expect::InGap;
    }
    if !blob.visible || blob.available_at > horizon {
        return Expect::Unreachable;
    }
    if fault.contains("late") && !was_listable(ledger, blob) {
        return Expect::Unreachable;
    }
    if fault.contains("truncated") || fault.contains("malformed") {
        return Expect::Failure;
    }
    if fault.contains("early-expiry") || blob.content_expiration <= horizon {
        return Expect::StoredOrExpired;
    }
    Expect::Stored
}

/// Compares the bucket (and the DLQ's bodies) with the ledger; `expect` classifies each blob.
pub async fn reconcile<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
    ledger: &Ledger,
    dlq_bodies: &[String],
    expect: impl Fn(&PublishedBlob, &[GapWindow]) -> Expect,
) -> Result<Reconciliation, ReconcileError> {
    let stored = read_stored(store, layout).await?;
    let gaps = read_gaps(store, layout).await?;
    let errors = read_error_reports(store, layout).await?;
    let quarantined = read_quarantined(store, layout).await?;
    let dlq = dlq_content_ids(dlq_bodies);
    let mut r = Reconciliation {
        gaps: gaps.clone(),
        ..Default::default()
    };

    let by_id: HashMap<&str, &PublishedBlob> = ledger
        .published
        .iter()
        .map(|b| (b.content_id.as_str(), b))
        .collect();
    let mut stored_by_id: BTreeMap<&str, Vec<&StoredBlob>> = BTreeMap::new();
    for s in &stored {
        r.bad_lines.extend(s.bad_lines.iter().cloned());
        match by_id.get(s.content_id.as_str()) {
            Some(b)
                if b.tenant_id.eq_ignore_ascii_case(&s.tenant_id)
                    && b.content_type == s.content_type
                    && (partition_of(b.content_created) == s.partition
                        || b.relisted_at
                            .iter()
                            .any(|t| partition_of(*t) == s.partition)) =>
            {
                stored_by_id
                    .entry(s.content_id.as_str())
                    .or_default()
                    .push(s);
            }
            _ => r.unexpected_objects.push(s.key.clone()),
        }
    }

    for blob in &ledger.published {
        if !blob.visible {
            continue;
        }
        r.published_blobs += 1;
        r.published_records += blob.record_count;
        let copies = stored_by_id.get(blob.content_id.as_str());
        let reported = errors.contains(&blob.content_id) || dlq.contains(&blob.content_id);
        let expectation = expect(blob, &gaps);
        match copies {
            Some(copies) => {
                r.stored_blobs += 1;
                if copies.len() > 1 {
                    r.doubled.push(blob.content_id.clone());
                }
                // A partly bad blob: its good records stored, its raw body kept in quarantine.
                let kept_raw = quarantined.contains(&blob.content_id);
                if kept_raw {
                    r.quarantined_blobs += 1;
                }
                if expectation == Expect::Failure && !kept_raw {
                    r.stored_failures.push(blob.content_id.clone());
                }
                let mut want: HashMap<&str, usize> = HashMap::new();
                for id in &blob.record_ids {
                    *want.entry(id.as_str()).or_default() += 1;
                }
                for copy in copies {
                    r.stored_records += copy.record_ids.len();
                    let mut have: HashMap<&str, usize> = HashMap::new();
                    for id in &copy.record_ids {
                        *have.entry(id.as_str()).or_default() += 1;
                    }
                    for (id, n) in &have {
                        match want.get(id) {
                            None => r.foreign_records.push(format!("{}/{id}", blob.content_id)),
                            Some(w) if n > w => r.doubled_records += n - w,
                            Some(_) => {}
                        }
                    }
                    for id in want.keys() {
                        if !have.contains_key(id) && !kept_raw {
                            r.missing_records.push(format!("{}/{id}", blob.content_id));
                        }
                    }
                }
            }
            None => match expectation {
                Expect::InGap => {
                    r.gap_blobs += 1;
                    r.gap_records += blob.record_count;
                }
                Expect::Unreachable => {
                    r.unreachable_blobs += 1;
                    r.unreachable_records += blob.record_count;
                }
                Expect::Failure | Expect::StoredOrExpired if reported => {
                    r.reported_failures += 1;
                }
                Expect::Failure | Expect::StoredOrExpired | Expect::Stored => {
                    r.lost.push(blob.content_id.clone());
                    r.lost_records += blob.record_count;
                }
            },
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_checked_for_id_and_provenance() {
        let text =
            b"{\"Id\":\"a\",\"_o365\":{\"content_id\":\"blob1\"}}\n{\"Id\":\"b\"}\nnot json\n";
        let (ids, bad) = parse_lines("blob1", text);
        assert_eq!(ids, vec!["a".to_string()]);
        assert_eq!(bad.len(), 2);
    }
}
