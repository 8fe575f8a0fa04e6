//! The checkpoint store: conditional reads and writes of checkpoints in an object store,
//! and the changes made to a pair without holding it (subscription starts, sweeps).

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::{Checkpoint, CheckpointError, LastSweep, MAX_WRITE_ATTEMPTS};
use crate::content_type::ContentType;
use crate::error_report::ListingErrorReport;
use crate::keys::KeyLayout;
use crate::store::{ETag, ObjectMeta, ObjectStore, PutCondition, PutOutcome, StoreError};
use crate::tenant_id::TenantId;

/// A checkpoint as stored, with the tag to update it conditionally.
#[derive(Debug, Clone)]
pub struct LoadedCheckpoint {
    /// The document.
    pub checkpoint: Checkpoint,
    /// Its version tag.
    pub etag: ETag,
}

/// How long leases last and how far back `recent` reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Ids with `contentCreated ≥ watermark − retention` stay in `recent`. At least the
    /// lateness overlap; longer also catches blobs the API lists again later under a newer
    /// `contentCreated`.
    pub retention: TimeDelta,
    /// A lease lasts this long from its last renewal (longer than one Lambda invocation).
    pub lease_duration: TimeDelta,
}

impl Default for CheckpointPolicy {
    /// Six hours of `recent`, 16-minute leases (Lambda's 15-minute ceiling plus a minute).
    fn default() -> Self {
        CheckpointPolicy {
            retention: TimeDelta::hours(6),
            lease_duration: TimeDelta::minutes(16),
        }
    }
}

/// What a conditional write does next with the document it loaded.
pub(super) enum Step<R> {
    /// Write this document under this condition.
    Write(Box<Checkpoint>, PutCondition),
    /// Write nothing; the result is this.
    Done(R),
}

/// Reads and writes checkpoints and gap reports with conditional writes.
#[derive(Debug, Clone)]
pub struct CheckpointStore<S: ObjectStore> {
    pub(super) store: S,
    pub(super) layout: KeyLayout,
    pub(super) policy: CheckpointPolicy,
}

fn json_meta() -> ObjectMeta {
    ObjectMeta {
        content_type: "application/json".to_owned(),
        content_encoding: None,
    }
}

/// The pretty JSON of a document.
pub(super) fn to_body<T: Serialize>(value: &T) -> Bytes {
    // Plain strings, numbers, maps and formatted dates always serialize.
    Bytes::from(serde_json::to_vec_pretty(value).unwrap_or_default())
}

impl<S: ObjectStore> CheckpointStore<S> {
    /// A checkpoint store over `store` with keys from `layout`.
    pub fn new(store: S, layout: KeyLayout, policy: CheckpointPolicy) -> CheckpointStore<S> {
        CheckpointStore {
            store,
            layout,
            policy,
        }
    }

    /// The key layout in use.
    pub fn layout(&self) -> &KeyLayout {
        &self.layout
    }

    /// Reads the checkpoint of a pair, or `None` if there is none yet.
    pub async fn load(
        &self,
        tenant: &TenantId,
        content_type: ContentType,
    ) -> Result<Option<LoadedCheckpoint>, CheckpointError> {
        self.load_key(&self.layout.checkpoint_key(tenant, content_type))
            .await
    }

    pub(super) async fn load_key(
        &self,
        key: &str,
    ) -> Result<Option<LoadedCheckpoint>, CheckpointError> {
        match self.store.get(key).await? {
            None => Ok(None),
            Some(obj) => Ok(Some(LoadedCheckpoint {
                checkpoint: Checkpoint::parse(key, &obj.body)?,
                etag: obj.etag,
            })),
        }
    }

    /// Every stored checkpoint (for `o365ctl status`), in key order.
    pub async fn list(&self) -> Result<Vec<Checkpoint>, CheckpointError> {
        let mut out = Vec::new();
        for key in self.store.list(&self.layout.state_prefix()).await? {
            if matches!(
                self.layout.parse(&key),
                Some(crate::keys::ObjectKey::Checkpoint(_))
            ) {
                if let Some(c) = self.load_key(&key).await? {
                    out.push(c.checkpoint);
                }
            }
        }
        Ok(out)
    }

    /// Like [`CheckpointStore::note_subscription_start`] without holding the pair (an
    /// explicit window listed outside a run): updates the pair's checkpoint if there is one,
    /// leaving its lease and progress alone, and retries on a lost race like every
    /// conditional write. Creates none: checkpoints are made by runs (`false` then).
    pub async fn record_subscription_start(
        &self,
        tenant: &TenantId,
        content_type: ContentType,
        at: DateTime<Utc>,
        error: Option<String>,
    ) -> Result<bool, CheckpointError> {
        self.update_unheld(tenant, content_type, at, |doc| {
            doc.note_subscription_start(at, error.clone())
        })
        .await
    }

    /// Records a reach sweep of a pair without holding it (a sweep takes no lease): updates
    /// the pair's checkpoint if there is one, leaving lease and progress alone.
    pub async fn record_sweep(
        &self,
        tenant: &TenantId,
        content_type: ContentType,
        sweep: LastSweep,
    ) -> Result<bool, CheckpointError> {
        let at = sweep.at;
        self.update_unheld(tenant, content_type, at, |doc| {
            if doc.last_sweep.as_ref().is_none_or(|s| s.at <= at) {
                doc.last_sweep = Some(sweep.clone());
            }
        })
        .await
    }

    /// Applies `change` to a pair's checkpoint without a lease, with `If-Match` and retries
    /// on a lost race; `false` when the pair has no checkpoint (none is created).
    async fn update_unheld(
        &self,
        tenant: &TenantId,
        content_type: ContentType,
        at: DateTime<Utc>,
        change: impl Fn(&mut Checkpoint),
    ) -> Result<bool, CheckpointError> {
        let key = self.layout.checkpoint_key(tenant, content_type);
        let next = |found: Option<LoadedCheckpoint>| match found {
            None => Step::Done(false),
            Some(found) => {
                let mut doc = found.checkpoint;
                change(&mut doc);
                doc.updated_at = at;
                Step::Write(Box::new(doc), PutCondition::IfMatch(found.etag))
            }
        };
        self.write_with_retries(&key, next, |_, _| true).await
    }

    /// Loads `key` and writes what `next` makes of it under the condition it names, again
    /// from a fresh load whenever the condition fails (another writer came first), at most
    /// [`MAX_WRITE_ATTEMPTS`] times; `written` gives the result of a write that succeeded.
    pub(super) async fn write_with_retries<R>(
        &self,
        key: &str,
        mut next: impl FnMut(Option<LoadedCheckpoint>) -> Step<R>,
        written: impl FnOnce(Checkpoint, ETag) -> R,
    ) -> Result<R, CheckpointError> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let (doc, condition) = match next(self.load_key(key).await?) {
                Step::Done(result) => return Ok(result),
                Step::Write(doc, condition) => (*doc, condition),
            };
            match self.put_json(key, &doc, condition).await? {
                PutOutcome::Written { etag } => return Ok(written(doc, etag)),
                PutOutcome::PreconditionFailed => continue,
            }
        }
        Err(CheckpointError::contended(key))
    }

    /// Writes `value` as JSON under `key` if `condition` holds.
    pub(super) async fn put_json<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        condition: PutCondition,
    ) -> Result<PutOutcome, StoreError> {
        self.store
            .put(key, to_body(value), &json_meta(), condition)
            .await
    }

    /// Writes the [`ListingErrorReport`] of a listing entry that could not be read, create-only under
    /// [`KeyLayout::listing_error_key`]; returns the key and whether it is new.
    pub async fn write_listing_error(
        &self,
        tenant: &TenantId,
        content_type: ContentType,
        listed_at: DateTime<Utc>,
        entry: &crate::listing::RejectedEntry,
    ) -> Result<(String, bool), CheckpointError> {
        let key = self
            .layout
            .listing_error_key(tenant, content_type, listed_at, &entry.raw);
        let report = ListingErrorReport::new(tenant, content_type, listed_at, entry);
        let outcome = self
            .put_json(&key, &report, PutCondition::IfNoneMatch)
            .await?;
        Ok((key, matches!(outcome, PutOutcome::Written { .. })))
    }
}
