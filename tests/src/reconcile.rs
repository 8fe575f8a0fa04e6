//! Reconciliation of a bucket against the simulator's ledger: every reachable blob stored once
//! with every record, nothing else stored, every lost window in a gap report and every permanent
//! failure in `_errors/` or the DLQ.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::Read;

use chrono::{DateTime, NaiveDateTime, Utc};
use o365_activity::keys::KeyLayout;
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
    /// Failing blobs (malformed, truncated) that were stored anyway (must be empty).
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

fn key_field<'a>(segment: &'a str, name: &str) -> Option<&'a str> {
    segment.strip_prefix(name)?.strip_prefix('=')
}

/// Parses `tenant_id=T/content_type=CT/dt=D/hour=H/ID.json.gz` (after the prefix).
fn parse_data_key(rest: &str) -> Option<(String, String, String, String, bool)> {
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() != 5 {
        return None;
    }
    let tenant = key_field(parts[0], "tenant_id")?;
    let ct = key_field(parts[1], "content_type")?;
    let dt = key_field(parts[2], "dt")?;
    let hour = key_field(parts[3], "hour")?;
    let (id, zstd) = match parts[4].strip_suffix(".json.gz") {
        Some(id) => (id, false),
        None => (parts[4].strip_suffix(".json.zst")?, true),
    };
    Some((
        tenant.to_string(),
        ct.to_string(),
        format!("{dt}/{hour}"),
        id.to_string(),
        zstd,
    ))
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
        let v: serde_json::Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => {
                bad.push(format!("{content_id} line {}: not JSON ({e})", n + 1));
                continue;
            }
        };
        let id = v.get("Id").and_then(|i| i.as_str());
        let prov = v.get("_o365").and_then(|p| p.as_object());
        match (id, prov) {
            (Some(id), Some(prov)) => {
                let names_blob = prov.values().any(|val| val.as_str() == Some(content_id));
                if !names_blob {
                    bad.push(format!(
                        "{content_id} line {}: _o365 does not name the blob",
                        n + 1
                    ));
                }
                ids.push(id.to_string());
            }
            _ => bad.push(format!("{content_id} line {}: no Id or no _o365", n + 1)),
        }
    }
    (ids, bad)
}

/// Reads every data object of the layout back.
pub async fn read_stored<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
) -> Result<Vec<StoredBlob>, ReconcileError> {
    let root = if layout.prefix().is_empty() {
        String::new()
    } else {
        format!("{}/", layout.prefix())
    };
    let keys = store.list(&format!("{root}tenant_id=")).await?;
    let mut out = Vec::new();
    for key in keys {
        let rest = &key[root.len()..];
        let Some((tenant_id, content_type, partition, content_id, zstd)) = parse_data_key(rest)
        else {
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

fn parse_stamp(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|n| n.and_utc())
}

/// Reads the gap reports (`_gaps/tenant_id=T/content_type=CT/FROM_TO.json`).
pub async fn read_gaps<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
) -> Result<Vec<GapWindow>, ReconcileError> {
    let prefix = layout.gaps_prefix();
    let mut out = Vec::new();
    for key in store.list(&prefix).await? {
        let parts: Vec<&str> = key[prefix.len()..].split('/').collect();
        if parts.len() != 3 {
            continue;
        }
        let (Some(t), Some(ct)) = (
            key_field(parts[0], "tenant_id"),
            key_field(parts[1], "content_type"),
        ) else {
            continue;
        };
        let Some((from, to)) = parts[2]
            .strip_suffix(".json")
            .and_then(|s| s.split_once('_'))
        else {
            continue;
        };
        if let (Some(from), Some(to)) = (parse_stamp(from), parse_stamp(to)) {
            out.push(GapWindow {
                tenant_id: t.to_string(),
                content_type: ct.to_string(),
                from,
                to,
            });
        }
    }
    Ok(out)
}

/// Content ids named by `_errors/` reports (the last key segment without `.json`).
pub async fn read_error_reports<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
) -> Result<BTreeSet<String>, ReconcileError> {
    Ok(store
        .list(&layout.errors_prefix())
        .await?
        .iter()
        .filter_map(|k| k.rsplit('/').next())
        .filter_map(|f| f.strip_suffix(".json"))
        .map(str::to_string)
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
                if expectation == Expect::Failure {
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
                        if !have.contains_key(id) {
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
    fn data_keys_parse_back() {
        let k = "tenant_id=00000000-0000-0000-0000-000000000001/content_type=Audit.Exchange/dt=2026-03-01/hour=07/abc$def.json.gz";
        let (t, ct, p, id, z) = parse_data_key(k).unwrap();
        assert_eq!(t, "00000000-0000-0000-0000-000000000001");
        assert_eq!(ct, "Audit.Exchange");
        assert_eq!(p, "2026-03-01/07");
        assert_eq!(id, "abc$def");
        assert!(!z);
        assert!(parse_data_key("tenant_id=x/content_type=y/dt=z/abc.json.gz").is_none());
        assert!(parse_data_key("tenant_id=x/content_type=y/dt=z/hour=1/abc.txt").is_none());
    }

    #[test]
    fn lines_are_checked_for_id_and_provenance() {
        let text =
            b"{\"Id\":\"a\",\"_o365\":{\"content_id\":\"blob1\"}}\n{\"Id\":\"b\"}\nnot json\n";
        let (ids, bad) = parse_lines("blob1", text);
        assert_eq!(ids, vec!["a".to_string()]);
        assert_eq!(bad.len(), 2);
    }

    #[test]
    fn gap_stamps_parse() {
        assert_eq!(
            parse_stamp("20260301T070000Z").unwrap().to_rfc3339(),
            "2026-03-01T07:00:00+00:00"
        );
        assert!(parse_stamp("2026-03-01").is_none());
    }
}
