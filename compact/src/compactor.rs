//! One compaction run: for each pair, the stored blobs not compacted yet, read in batches of
//! bounded size, their rows merged into the Parquet parts of their event dates (ids a part
//! already has are skipped: one row per record Id), then the state saved. See the crate docs.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use chrono::NaiveDate;
use o365_activity::clock::Clock;
use o365_activity::keys::{KeyLayout, ObjectKey, PairKey, ParquetKey};
use o365_activity::store::{ETag, ObjectMeta, ObjectStore, PutCondition, PutOutcome};
use tokio::time::Instant;

use crate::error::CompactError;
use crate::row::{Origin, Row};
use crate::source::{self, Pending};
use crate::state::CompactState;
use crate::{part, CompactOptions, CompactReport};

/// The compaction of one bucket prefix (S3 or a local directory).
#[derive(Debug, Clone)]
pub struct Compactor<S> {
    store: S,
    layout: KeyLayout,
    clock: Clock,
    options: CompactOptions,
}

/// The rows of one batch, by event date, one per id.
#[derive(Default)]
struct Batch {
    days: BTreeMap<NaiveDate, HashMap<String, Row>>,
    blobs: Vec<Pending>,
    weight: usize,
}

/// The last stored part of a date, as read back for merging.
struct Stored {
    key: ParquetKey,
    /// Its bytes, kept only while it is open to appending (under both part caps).
    body: Option<Bytes>,
    etag: ETag,
    rows: usize,
}

impl<S: ObjectStore> Compactor<S> {
    /// A compactor of the objects under `layout` in `store`.
    pub fn new(store: S, layout: KeyLayout, clock: Clock, options: CompactOptions) -> Self {
        Compactor {
            store,
            layout,
            clock,
            options,
        }
    }

    /// The pairs to compact: every pair with a checkpoint (the lister writes one per pair).
    pub async fn pairs(&self) -> Result<Vec<PairKey>, CompactError> {
        let keys = self.store.list(&self.layout.state_prefix()).await?;
        let mut pairs: Vec<PairKey> = keys
            .iter()
            .filter_map(|k| match self.layout.parse(k) {
                Some(ObjectKey::Checkpoint(p)) => Some(p),
                _ => None,
            })
            .collect();
        pairs.sort();
        pairs.dedup();
        Ok(pairs)
    }

    /// Compacts every pair, until `deadline` (what is left waits for the next run). A pair
    /// that fails is reported and the others carry on.
    pub async fn run(&self, deadline: Option<Instant>) -> Result<CompactReport, CompactError> {
        let mut total = CompactReport::default();
        for pair in self.pairs().await? {
            match self.compact_pair(&pair, deadline).await {
                Ok(r) => total.add(&r),
                Err(e) => {
                    tracing::error!(tenant = %pair.tenant_id, content_type = %pair.content_type, error = %e, "compaction of the pair failed; it is retried next run");
                    total.failed_pairs = total.failed_pairs.saturating_add(1);
                }
            }
        }
        Ok(total)
    }

    /// Compacts one pair.
    pub async fn compact_pair(
        &self,
        pair: &PairKey,
        deadline: Option<Instant>,
    ) -> Result<CompactReport, CompactError> {
        let started = self.clock.now();
        let state_key = self.layout.compact_state_key(pair);
        let (mut state, mut etag) = self.load_state(&state_key).await?;
        let pending = source::pending(&self.store, &self.layout, pair, &state, started).await?;
        let mut report = CompactReport {
            pairs: 1,
            ..CompactReport::default()
        };
        let mut batch = Batch::default();
        let mut left = pending.len();
        for blob in &pending {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            left -= 1;
            let Some(obj) = self.store.get(&blob.key).await? else {
                tracing::warn!(key = %blob.key, "a listed object is gone (expired?); nothing to compact");
                continue;
            };
            report.stored_bytes = report.stored_bytes.saturating_add(obj.body.len() as u64);
            match read_blob(obj.body, blob, &mut batch, &mut report) {
                Ok(()) => batch.blobs.push(blob.clone()),
                Err(e) => {
                    tracing::error!(key = %blob.key, error = %e, "a stored object cannot be read; it stays pending and is reported");
                    report.failed_objects = report.failed_objects.saturating_add(1);
                }
            }
            if batch.weight >= self.options.batch_bytes {
                let done = self
                    .flush(pair, std::mem::take(&mut batch), &mut report)
                    .await?;
                etag = self.commit(&state_key, &mut state, &done, etag).await?;
            }
        }
        let done = self.flush(pair, batch, &mut report).await?;
        report.pending_objects = left as u64;
        let before = state.sealed_before;
        if left == 0 && report.failed_objects == 0 {
            // Everything listed is compacted: old enough dates need no listing any more.
            state.seal(started);
        }
        if !done.is_empty() || before != state.sealed_before {
            self.commit(&state_key, &mut state, &done, etag).await?;
        }
        tracing::info!(tenant = %pair.tenant_id, content_type = %pair.content_type, objects = report.objects, rows = report.rows_written, duplicates = report.duplicates, pending = report.pending_objects, "pair compacted");
        Ok(report)
    }

    async fn load_state(&self, key: &str) -> Result<(CompactState, Option<ETag>), CompactError> {
        match self.store.get(key).await? {
            None => Ok((CompactState::new(), None)),
            Some(obj) => {
                let state =
                    serde_json::from_slice(&obj.body).map_err(|source| CompactError::BadState {
                        key: key.to_owned(),
                        source,
                    })?;
                Ok((state, Some(obj.etag)))
            }
        }
    }

    /// Saves the state with the blobs flushed so far marked, conditionally.
    async fn commit(
        &self,
        key: &str,
        state: &mut CompactState,
        done: &[Pending],
        etag: Option<ETag>,
    ) -> Result<Option<ETag>, CompactError> {
        for blob in done {
            state.mark(blob.data.date, &blob.data.content_id);
        }
        let body = serde_json::to_vec(state).map_err(|source| CompactError::BadState {
            key: key.to_owned(),
            source,
        })?;
        let condition = etag.map_or(PutCondition::IfNoneMatch, PutCondition::IfMatch);
        match self
            .store
            .put(key, Bytes::from(body), &json_meta(), condition)
            .await?
        {
            PutOutcome::Written { etag } => Ok(Some(etag)),
            PutOutcome::PreconditionFailed => Err(CompactError::Concurrent {
                key: key.to_owned(),
            }),
        }
    }

    /// Merges a batch's rows into the parts of their dates; gives back the blobs it holds.
    async fn flush(
        &self,
        pair: &PairKey,
        batch: Batch,
        report: &mut CompactReport,
    ) -> Result<Vec<Pending>, CompactError> {
        for (day, rows) in batch.days {
            self.merge_day(pair, day, rows, report).await?;
        }
        Ok(batch.blobs)
    }

    async fn merge_day(
        &self,
        pair: &PairKey,
        day: NaiveDate,
        mut rows: HashMap<String, Row>,
        report: &mut CompactReport,
    ) -> Result<(), CompactError> {
        let mut parts: Vec<ParquetKey> = self
            .store
            .list(&self.layout.parquet_date_prefix(pair, day))
            .await?
            .iter()
            .filter_map(|k| match self.layout.parse(k) {
                Some(ObjectKey::Parquet(p)) => Some(p),
                _ => None,
            })
            .collect();
        parts.sort();
        let count = parts.len();
        let mut last: Option<Stored> = None;
        for (i, key) in parts.into_iter().enumerate() {
            let full = self.layout.parquet_key(&key);
            let Some(obj) = self.store.get(&full).await? else {
                continue;
            };
            let wanted: HashSet<&str> = rows.keys().map(String::as_str).collect();
            let found = part::ids_in(obj.body.clone(), &wanted).map_err(|source| {
                CompactError::Parquet {
                    key: full.clone(),
                    source,
                }
            })?;
            report.duplicates = report.duplicates.saturating_add(found.present.len() as u64);
            for id in &found.present {
                rows.remove(id);
            }
            // Only the last part may be appended to, and only while it is under both caps:
            // no other part's body is kept, so one part at a time is held.
            let open = found.rows < self.options.rows_per_part.max(1)
                && obj.body.len() < self.options.part_bytes;
            last = Some(Stored {
                key,
                body: (i + 1 == count && open).then_some(obj.body),
                etag: obj.etag,
                rows: found.rows,
            });
        }
        if rows.is_empty() {
            return Ok(());
        }
        let mut fresh: Vec<&Row> = rows.values().collect();
        fresh.sort_by(|a, b| (a.event_time, &a.id).cmp(&(b.event_time, &b.id)));
        let cap = self.options.rows_per_part.max(1);
        let mut rest: &[&Row] = &fresh;
        let mut next = ParquetKey {
            pair: pair.clone(),
            event_date: day,
            part: 0,
        };
        if let Some(stored) = last {
            next.part = stored.key.part.saturating_add(1);
            if let Some(body) = stored.body {
                // Rows that fit under the byte cap at the part's own bytes per row, so the
                // part ends near `part_bytes` instead of one whole batch past it.
                let per_row = (body.len() / stored.rows.max(1)).max(1);
                let fit = self.options.part_bytes.saturating_sub(body.len()) / per_row;
                let room = cap
                    .saturating_sub(stored.rows)
                    .min(fit.max(1))
                    .min(rest.len());
                let (head, tail) = rest.split_at(room);
                let cond = PutCondition::IfMatch(stored.etag);
                self.put_part(&stored.key, Some(body), head, cond, report)
                    .await?;
                rest = tail;
            }
        }
        for chunk in rest.chunks(cap) {
            self.put_part(&next, None, chunk, PutCondition::IfNoneMatch, report)
                .await?;
            next.part = next.part.saturating_add(1);
        }
        report.rows_written = report.rows_written.saturating_add(fresh.len() as u64);
        Ok(())
    }

    async fn put_part(
        &self,
        key: &ParquetKey,
        existing: Option<Bytes>,
        rows: &[&Row],
        condition: PutCondition,
        report: &mut CompactReport,
    ) -> Result<(), CompactError> {
        let full = self.layout.parquet_key(key);
        let body = part::write(existing, rows, self.options.row_group_rows).map_err(|source| {
            CompactError::Parquet {
                key: full.clone(),
                source,
            }
        })?;
        report.parquet_bytes = report.parquet_bytes.saturating_add(body.len() as u64);
        report.parts_written = report.parts_written.saturating_add(1);
        let meta = ObjectMeta {
            content_type: "application/vnd.apache.parquet".into(),
            content_encoding: None,
        };
        match self
            .store
            .put(&full, Bytes::from(body), &meta, condition)
            .await?
        {
            PutOutcome::Written { .. } => Ok(()),
            PutOutcome::PreconditionFailed => Err(CompactError::Concurrent { key: full }),
        }
    }
}

fn json_meta() -> ObjectMeta {
    ObjectMeta {
        content_type: "application/json".into(),
        content_encoding: None,
    }
}

/// Adds a stored object's rows to the batch (first row per id wins).
fn read_blob(
    body: Bytes,
    blob: &Pending,
    batch: &mut Batch,
    report: &mut CompactReport,
) -> std::io::Result<()> {
    let origin = Origin {
        content_id: &blob.data.content_id,
        blob_date: blob.data.date,
    };
    let mut rows = Vec::new();
    let mut bytes = 0u64;
    for (i, line) in source::lines(body, blob.data.codec)?.enumerate() {
        let line = line?;
        bytes = bytes.saturating_add(line.len() as u64 + 1);
        rows.push(Row::from_line(&line, i, origin));
    }
    report.objects = report.objects.saturating_add(1);
    report.ndjson_bytes = report.ndjson_bytes.saturating_add(bytes);
    report.records = report.records.saturating_add(rows.len() as u64);
    for row in rows {
        let day = batch.days.entry(row.event_date(origin)).or_default();
        if day.contains_key(&row.id) {
            report.duplicates = report.duplicates.saturating_add(1);
            continue;
        }
        batch.weight = batch.weight.saturating_add(row.weight());
        day.insert(row.id.clone(), row);
    }
    Ok(())
}
