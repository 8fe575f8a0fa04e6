//! The export: every stored data object not exported yet becomes one Parquet file per
//! (class, event day) in the lake, then a ledger entry records it, so nothing is exported
//! twice and nothing is skipped. File names derive from the object (tenant and content id),
//! so a run cut short before its ledger entry finds its files there, never writes a second copy.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::time::Instant;

use bytes::Bytes;
use chrono::NaiveDate;
use o365_activity::keys::{Codec, DataKey, KeyLayout, ObjectKey};
use o365_activity::store::{ObjectMeta, ObjectStore, PutCondition, PutOutcome, StoreError};
use serde::Serialize;

use crate::class::OcsfClass;
use crate::event::{map_line, OcsfEvent};
use crate::lake::LakeTarget;
use crate::parquet_file::{write_parquet, ParquetError};

/// What went wrong in an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading or writing an object failed; run the export again.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A stored object could not be decompressed or read.
    #[error("cannot read {key}: {source}; is it a collector data object?")]
    Read {
        /// The object.
        key: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Encoding Parquet failed.
    #[error("{key}: {source}")]
    Parquet {
        /// The object being exported.
        key: String,
        /// The cause.
        #[source]
        source: ParquetError,
    },
}

/// What one export run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// Data objects exported by this run.
    pub objects_exported: u64,
    /// Data objects already in the ledger, skipped.
    pub objects_skipped: u64,
    /// Events written, per class uid.
    pub events: BTreeMap<i64, u64>,
    /// Lines that were not collector output lines (left out, counted).
    pub lines_rejected: u64,
    /// Parquet files written.
    pub files_written: u64,
    /// Parquet files found already written (by a run cut short before its ledger entry).
    pub files_already_there: u64,
    /// Data objects left for the next run because the deadline came first.
    pub objects_pending: u64,
}

/// The ledger entry of one exported data object.
#[derive(Debug, Serialize)]
struct LedgerEntry<'a> {
    data_key: &'a str,
    files: Vec<String>,
    events: u64,
    lines_rejected: u64,
}

/// The ledger prefix for a lake target in the collector's store.
fn ledger_prefix(layout: &KeyLayout, target: &LakeTarget) -> String {
    let base = layout.data_root();
    let base = base.strip_suffix("tenant_id=").unwrap_or(&base);
    format!("{base}_ocsf/{}/", target.ledger_dir())
}

/// Exports every data object of `input` (under `layout`) not yet in the ledger to `lake`;
/// with a `deadline`, stops before the first object started at or after it and counts the
/// rest in [`ExportReport::objects_pending`] (the ledger lets the next run carry on).
pub async fn export<I: ObjectStore, O: ObjectStore>(
    input: &I,
    layout: &KeyLayout,
    lake: &O,
    target: &LakeTarget,
    deadline: Option<Instant>,
) -> Result<ExportReport, ExportError> {
    let ledger = ledger_prefix(layout, target);
    let done: BTreeSet<String> = input
        .list(&ledger)
        .await?
        .into_iter()
        .filter_map(|k| {
            k.strip_prefix(&ledger)?
                .strip_suffix(".json")
                .map(str::to_owned)
        })
        .collect();
    let mut report = ExportReport::default();
    for key in input.list(&layout.data_root()).await? {
        let Some(ObjectKey::Data(data)) = layout.parse(&key) else {
            continue;
        };
        let Some(relative) = layout.relative(&key).map(str::to_owned) else {
            continue;
        };
        if done.contains(&relative) {
            report.objects_skipped += 1;
            continue;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            report.objects_pending += 1;
            continue;
        }
        let Some(obj) = input.get(&key).await? else {
            continue; // listed, then gone: nothing to export
        };
        let (events, rejected) = map_object(&key, data.codec, &obj.body)?;
        report.lines_rejected += rejected;
        let files = write_groups(lake, target, &key, &data, events, &mut report).await?;
        let entry = LedgerEntry {
            data_key: &relative,
            events: files.iter().map(|f| f.1).sum(),
            files: files.into_iter().map(|f| f.0).collect(),
            lines_rejected: rejected,
        };
        let body = serde_json::to_vec(&entry).unwrap_or_default();
        let meta = ObjectMeta {
            content_type: "application/json".into(),
            content_encoding: None,
        };
        // Create-only, as the collector's bucket policy demands under the prefix: an entry
        // already there (a concurrent run) records the same files.
        let ledger_key = format!("{ledger}{relative}.json");
        input
            .put(
                &ledger_key,
                Bytes::from(body),
                &meta,
                PutCondition::IfNoneMatch,
            )
            .await?;
        report.objects_exported += 1;
    }
    Ok(report)
}

/// Decompresses a data object and maps each line; returns the events and the count of lines
/// that were not output lines.
fn map_object(key: &str, codec: Codec, body: &[u8]) -> Result<(Vec<OcsfEvent>, u64), ExportError> {
    let read_err = |source| ExportError::Read {
        key: key.to_owned(),
        source,
    };
    let reader: Box<dyn Read + '_> = match codec {
        Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(body)),
        Codec::Zstd => Box::new(zstd::stream::read::Decoder::new(body).map_err(read_err)?),
    };
    let mut events = Vec::new();
    let mut rejected = 0u64;
    for line in BufReader::new(reader).split(b'\n') {
        let line = line.map_err(read_err)?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match map_line(&line) {
            Ok(e) => events.push(e),
            Err(e) => {
                tracing::warn!(key, error = %e, "line left out of the OCSF export");
                rejected += 1;
            }
        }
    }
    Ok((events, rejected))
}

/// Writes one file per (class, day); returns (key, rows) of each.
async fn write_groups<O: ObjectStore>(
    lake: &O,
    target: &LakeTarget,
    key: &str,
    data: &DataKey,
    events: Vec<OcsfEvent>,
    report: &mut ExportReport,
) -> Result<Vec<(String, u64)>, ExportError> {
    let mut groups: BTreeMap<(OcsfClass, NaiveDate), Vec<OcsfEvent>> = BTreeMap::new();
    for e in events {
        groups
            .entry((e.class, e.time.date_naive()))
            .or_default()
            .push(e);
    }
    let meta = ObjectMeta {
        content_type: "application/vnd.apache.parquet".into(),
        content_encoding: None,
    };
    let mut files = Vec::new();
    for ((class, day), mut evs) in groups {
        let rows = evs.len() as u64;
        let bytes = write_parquet(class, &mut evs).map_err(|source| ExportError::Parquet {
            key: key.to_owned(),
            source,
        })?;
        let file = format!(
            "{}{}_{}.parquet",
            target.partition(class, day),
            data.tenant_id,
            data.content_id
        );
        // Create-only: after a run cut short before its ledger entry, the file is already
        // there with the same rows (same object, same mapping), so it is kept, not doubled.
        let outcome = lake
            .put(&file, Bytes::from(bytes), &meta, PutCondition::IfNoneMatch)
            .await?;
        if outcome == PutOutcome::PreconditionFailed {
            report.files_already_there += 1;
        } else {
            report.files_written += 1;
        }
        *report.events.entry(class.uid()).or_default() += rows;
        files.push((file, rows));
    }
    Ok(files)
}
