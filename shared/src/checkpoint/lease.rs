//! Working on a pair under its lease: claim it, commit progress window by window or page by
//! page, note subscription starts, release it with how the run ended.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::store::{LoadedCheckpoint, Step};
use super::{
    saturating_add, Checkpoint, CheckpointError, CheckpointStore, LastRun, PageCursor,
    MAX_WRITE_ATTEMPTS,
};
use crate::content_type::ContentType;
use crate::store::{ETag, ObjectStore, PutCondition, PutOutcome};
use crate::tenant_id::TenantId;

/// A claim on a tenant × content type by one run, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The run holding it.
    pub run_id: String,
    /// After this instant the lease is dead (its run was killed) and may be taken over.
    pub expires_at: DateTime<Utc>,
}

/// Proof that this run holds the lease of a pair; pass it to commit and release.
#[derive(Debug)]
pub struct HeldCheckpoint {
    pub(super) run_id: String,
    pub(super) lease_duration: TimeDelta,
    pub(super) key: String,
    pub(super) checkpoint: Checkpoint,
    pub(super) etag: ETag,
}

impl HeldCheckpoint {
    /// The checkpoint as last read or written by this run.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The run holding it.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }
}

/// What a claim found.
#[derive(Debug)]
pub enum Claim {
    /// This run now holds the pair.
    Held(Box<HeldCheckpoint>),
    /// Another run holds a live lease: leave the pair alone this time.
    Busy(Lease),
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Progress written and the lease renewed.
    Committed,
    /// Progress merged and written, but another run has taken the lease over (this run's
    /// lease had expired): stop working on the pair.
    LeaseLost,
}

impl<S: ObjectStore> CheckpointStore<S> {
    /// Claims a pair for `run_id` until `now + lease_duration` (the policy's), creating the
    /// checkpoint if absent; the first claim of a pair records `first_attempt_at`. Returns [`Claim::Busy`] when another run holds a live lease.
    pub async fn claim(
        &self,
        tenant: &TenantId,
        content_type: ContentType,
        run_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, CheckpointError> {
        self.claim_for(
            tenant,
            content_type,
            run_id,
            now,
            self.policy.lease_duration,
        )
        .await
    }

    /// Like [`CheckpointStore::claim`] with a lease of `lease_duration` (renewed by each
    /// commit): a run that knows its own deadline takes no longer a lease than it can use,
    /// so a killed run blocks its pairs no longer than necessary.
    pub async fn claim_for(
        &self,
        tenant: &TenantId,
        content_type: ContentType,
        run_id: &str,
        now: DateTime<Utc>,
        lease_duration: TimeDelta,
    ) -> Result<Claim, CheckpointError> {
        let key = self.layout.checkpoint_key(tenant, content_type);
        let lease = Lease {
            run_id: run_id.to_owned(),
            expires_at: saturating_add(now, lease_duration),
        };
        let next = |found: Option<LoadedCheckpoint>| {
            let (mut doc, condition) = match found {
                None => (
                    Checkpoint::new(tenant.clone(), content_type, now),
                    PutCondition::IfNoneMatch,
                ),
                Some(found) => {
                    if let Some(other) = found.checkpoint.live_lease(now) {
                        if other.run_id != run_id {
                            return Step::Done(Claim::Busy(other.clone()));
                        }
                    }
                    (found.checkpoint, PutCondition::IfMatch(found.etag))
                }
            };
            doc.lease = Some(lease.clone());
            if doc.first_attempt_at.is_none() {
                doc.first_attempt_at = Some(doc.earliest_known_attempt(now));
            }
            doc.updated_at = now;
            Step::Write(Box::new(doc), condition)
        };
        let held = |checkpoint, etag| {
            Claim::Held(Box::new(HeldCheckpoint {
                run_id: run_id.to_owned(),
                lease_duration,
                key: key.clone(),
                checkpoint,
                etag,
            }))
        };
        self.write_with_retries(&key, next, held).await
    }

    /// Applies `change` to the held copy and writes it with `If-Match`; on a lost race,
    /// reloads and applies `change` to the fresh copy. `change` gets whether this run still
    /// holds the lease and must only merge (never overwrite) when it does not.
    async fn update(
        &self,
        held: &mut HeldCheckpoint,
        now: DateTime<Utc>,
        change: impl Fn(&mut Checkpoint, bool),
    ) -> Result<CommitOutcome, CheckpointError> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let mut doc = held.checkpoint.clone();
            let ours = doc.is_held_by(&held.run_id);
            change(&mut doc, ours);
            doc.updated_at = now;
            let outcome = self
                .put_json(&held.key, &doc, PutCondition::IfMatch(held.etag.clone()))
                .await?;
            match outcome {
                PutOutcome::Written { etag } => {
                    held.checkpoint = doc;
                    held.etag = etag;
                    return Ok(if ours {
                        CommitOutcome::Committed
                    } else {
                        CommitOutcome::LeaseLost
                    });
                }
                PutOutcome::PreconditionFailed => match self.load_key(&held.key).await? {
                    Some(fresh) => {
                        held.checkpoint = fresh.checkpoint;
                        held.etag = fresh.etag;
                    }
                    None => {
                        // Deleted under us (an operator reset): recreate it from what we hold.
                        if let PutOutcome::Written { etag } = self
                            .put_json(&held.key, &held.checkpoint, PutCondition::IfNoneMatch)
                            .await?
                        {
                            held.etag = etag;
                        }
                    }
                },
            }
        }
        Err(CheckpointError::contended(&held.key))
    }

    /// Records a completed window: the watermark moves to `watermark` (never backwards),
    /// `sent` (content id → contentCreated) joins `recent`, and the lease is renewed.
    /// Pass `watermark = None` to keep ids a failed send did get accepted without advancing.
    pub async fn commit(
        &self,
        held: &mut HeldCheckpoint,
        watermark: Option<DateTime<Utc>>,
        sent: &[(String, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<CommitOutcome, CheckpointError> {
        self.record(held, watermark, None, sent, now).await
    }

    /// Records a page of an unfinished window: `sent` joins `recent` and listing resumes at
    /// `cursor`; the watermark stays until the window's last page is committed (see
    /// [`CheckpointStore::commit`], which clears the cursor). The lease is renewed.
    pub async fn commit_page(
        &self,
        held: &mut HeldCheckpoint,
        cursor: PageCursor,
        sent: &[(String, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<CommitOutcome, CheckpointError> {
        self.record(held, None, Some(cursor), sent, now).await
    }

    /// What [`CheckpointStore::commit`] and [`CheckpointStore::commit_page`] share: progress
    /// merged, and while this run holds the lease, the cursor set (when given) and the lease
    /// renewed.
    async fn record(
        &self,
        held: &mut HeldCheckpoint,
        watermark: Option<DateTime<Utc>>,
        cursor: Option<PageCursor>,
        sent: &[(String, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<CommitOutcome, CheckpointError> {
        let retention = self.policy.retention;
        let renewed = saturating_add(now, held.lease_duration);
        self.update(held, now, |doc, ours| {
            doc.record_progress(watermark, sent.iter().cloned(), retention);
            if ours {
                if let Some(cursor) = &cursor {
                    doc.page_cursor = Some(cursor.clone());
                }
                if let Some(lease) = doc.lease.as_mut() {
                    lease.expires_at = renewed;
                }
            }
        })
        .await
    }

    /// Notes that this run asked the API to start the subscription at `at`, and why that
    /// failed (`None`: it succeeded).
    pub async fn note_subscription_start(
        &self,
        held: &mut HeldCheckpoint,
        at: DateTime<Utc>,
        error: Option<String>,
    ) -> Result<CommitOutcome, CheckpointError> {
        self.update(held, at, |doc, _| {
            doc.note_subscription_start(at, error.clone())
        })
        .await
    }

    /// Gives the lease up and records how the run ended and how many runs in a row made no
    /// progress (`runs_without_progress`). If another run took the lease over meanwhile, its
    /// lease and its `last_run` are left alone.
    pub async fn release(
        &self,
        mut held: HeldCheckpoint,
        last_run: LastRun,
        runs_without_progress: u32,
        now: DateTime<Utc>,
    ) -> Result<Checkpoint, CheckpointError> {
        self.update(&mut held, now, |doc, ours| {
            if ours {
                doc.lease = None;
                doc.last_run = Some(last_run.clone());
                doc.runs_without_progress = runs_without_progress;
            }
        })
        .await?;
        Ok(held.checkpoint)
    }
}
