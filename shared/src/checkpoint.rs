//! Checkpoints and gap reports: the lister's durable progress per tenant and content type.
//!
//! A checkpoint lives at [`KeyLayout::checkpoint_key`] as one JSON document. It says how far
//! listing got (`watermark`), which blobs were enqueued recently (`recent`, so the lateness
//! overlap costs listing calls but no second download), which run currently works on the
//! pair (`lease`) and how the last run ended (`last_run`, for `o365ctl status`).
//!
//! Every write is conditional: a new document is created with `If-None-Match: *`, an
//! existing one replaced with `If-Match: <etag>`. When the condition fails, someone else
//! wrote in between: the document is reloaded and the change applied again to the fresh
//! copy. Changes are merges (the watermark only moves forward, `recent` is a union), so two
//! runs at once can neither move a checkpoint backwards nor lose each other's progress.
//!
//! A gap report ([`GapReport`]) records a window that could no longer be listed because the
//! checkpoint fell behind the API's 7-day reach; it is written create-only under
//! [`KeyLayout::gap_key`], so a repeated run cannot duplicate it.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::content_type::ContentType;
use crate::keys::KeyLayout;
use crate::store::{ETag, ObjectMeta, ObjectStore, PutCondition, PutOutcome, StoreError};
use crate::tenant_id::TenantId;

/// The checkpoint and gap-report format version this build writes and reads.
pub const CHECKPOINT_FORMAT_VERSION: u32 = 1;

/// How many times a conditional write is retried after losing a race before giving up.
const MAX_WRITE_ATTEMPTS: u32 = 8;

/// The durable listing progress of one tenant and content type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version ([`CHECKPOINT_FORMAT_VERSION`]).
    pub format_version: u32,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The content type.
    pub content_type: ContentType,
    /// Every blob with `contentCreated` before this instant that was listable when it was
    /// listed has been accepted by the queue. `None`: no window completed yet.
    #[serde(default)]
    pub watermark: Option<DateTime<Utc>>,
    /// Content ids enqueued whose `contentCreated` is at or after `watermark − retention`
    /// (id → contentCreated; retention ≥ the lateness overlap, see [`CheckpointPolicy`]);
    /// re-listed blobs found here are not enqueued again.
    #[serde(default)]
    pub recent: BTreeMap<String, DateTime<Utc>>,
    /// The run that currently works on this pair, if any.
    #[serde(default)]
    pub lease: Option<Lease>,
    /// How the last run that held the lease ended.
    #[serde(default)]
    pub last_run: Option<LastRun>,
    /// When this collector last asked the API to start the subscription (15-minute rule).
    #[serde(default)]
    pub subscription_started_at: Option<DateTime<Utc>>,
    /// Why that start failed, if it did (shown while the next start must wait).
    #[serde(default)]
    pub subscription_error: Option<String>,
    /// When a run first tried to collect this pair (its first claim, even if the run then
    /// failed). Until a window completes, blobs are owed from here: a pair that fails for
    /// longer than the API's reach before its first success reports the lost window.
    #[serde(default)]
    pub first_attempt_at: Option<DateTime<Utc>>,
    /// Where listing of a window that did not finish resumes (its next page), so a window
    /// too long for one invocation still moves forward. `None`: start windows afresh.
    #[serde(default)]
    pub page_cursor: Option<PageCursor>,
    /// Consecutive runs that held the lease and moved neither the watermark nor the page
    /// cursor (reset by any progress); a pair at the stall threshold is reported stalled.
    #[serde(default)]
    pub runs_without_progress: u32,
    /// The last reach sweep of this pair (`o365ctl sweep`, the lister's sweep schedule).
    #[serde(default)]
    pub last_sweep: Option<LastSweep>,
    /// When the document was last written.
    pub updated_at: DateTime<Utc>,
}

/// The next page of a window whose listing stopped between pages: listing resumes here,
/// `next_page` used verbatim (the service's own `NextPageUri`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageCursor {
    /// The window's start (inclusive).
    pub window_start: DateTime<Utc>,
    /// The window's end (exclusive).
    pub window_end: DateTime<Utc>,
    /// The `NextPageUri` of the last page sent and committed.
    pub next_page: String,
}

/// What the last reach sweep of a pair found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSweep {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// Blobs listed over the reach.
    pub listed: u64,
    /// Listed blobs not stored and not recently sent: enqueued again.
    pub recovered: u64,
    /// Of those, blobs whose `contentExpiration` is within 24 hours.
    pub near_expiry: u64,
    /// What went wrong, when it did not finish.
    #[serde(default)]
    pub error: Option<String>,
}

/// `t + d`, or the latest representable instant when that is out of range (lease expiries:
/// a later expiry than representable is "never").
pub fn saturating_add(t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(if d < TimeDelta::zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// `t − d`, or the earliest (latest, for a negative `d`) representable instant.
pub fn saturating_sub(t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    t.checked_sub_signed(d).unwrap_or(if d < TimeDelta::zero() {
        DateTime::<Utc>::MAX_UTC
    } else {
        DateTime::<Utc>::MIN_UTC
    })
}

/// A claim on a tenant × content type by one run, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The run holding it.
    pub run_id: String,
    /// After this instant the lease is dead (its run was killed) and may be taken over.
    pub expires_at: DateTime<Utc>,
}

/// How a run ended for one pair, as `o365ctl status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastRunOutcome {
    /// Caught up to the time of the run.
    Ok,
    /// Stopped early (deadline or lease lost) with its progress kept; the next run resumes.
    Partial,
    /// Failed; `error` says why.
    Failed,
}

/// The summary of the last run that held the lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    /// The run.
    pub run_id: String,
    /// When it ended.
    pub at: DateTime<Utc>,
    /// How it ended.
    pub outcome: LastRunOutcome,
    /// Messages it sent for this pair.
    pub blobs: u64,
    /// What went wrong, when it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// The kind of that failure (the lister's `PairErrorKind`, e.g. `Permission`).
    #[serde(default)]
    pub error_kind: Option<String>,
    /// Whether the pair was stalled at the end of the run (no progress for the stall
    /// threshold of runs, or no watermark long after its first attempt).
    #[serde(default)]
    pub stalled: bool,
    /// How far the watermark was ahead of the run's clock, when beyond the tolerance.
    #[serde(default)]
    pub watermark_ahead_seconds: Option<i64>,
}

impl Checkpoint {
    /// An empty checkpoint: nothing listed yet (the first run backfills the full reach).
    pub fn new(tenant_id: TenantId, content_type: ContentType, now: DateTime<Utc>) -> Checkpoint {
        Checkpoint {
            format_version: CHECKPOINT_FORMAT_VERSION,
            tenant_id,
            content_type,
            watermark: None,
            recent: BTreeMap::new(),
            lease: None,
            last_run: None,
            subscription_started_at: None,
            subscription_error: None,
            first_attempt_at: None,
            page_cursor: None,
            runs_without_progress: 0,
            last_sweep: None,
            updated_at: now,
        }
    }

    /// The lease, if one is held and not expired at `now`.
    pub fn live_lease(&self, now: DateTime<Utc>) -> Option<&Lease> {
        self.lease.as_ref().filter(|l| l.expires_at > now)
    }

    /// Whether `run_id` holds the lease (expired or not: nobody else took it over).
    pub fn is_held_by(&self, run_id: &str) -> bool {
        self.lease.as_ref().is_some_and(|l| l.run_id == run_id)
    }

    /// Whether a blob was already enqueued within the overlap horizon.
    pub fn was_sent(&self, content_id: &str) -> bool {
        self.recent.contains_key(content_id)
    }

    /// The instant from which blobs are owed: the watermark, or before the first completed
    /// window, when collection was first attempted (`None` before any attempt).
    pub fn owed_since(&self) -> Option<DateTime<Utc>> {
        self.watermark.or(self.first_attempt_at)
    }

    /// Notes a subscription start asked at `at` and why it failed (`None`: it succeeded);
    /// an older start than the one recorded changes nothing.
    pub fn note_subscription_start(&mut self, at: DateTime<Utc>, error: Option<String>) {
        if self.subscription_started_at <= Some(at) {
            self.subscription_started_at = Some(at);
            self.subscription_error = error;
        }
    }

    /// For a checkpoint written before `first_attempt_at` existed: the earliest instant it
    /// shows a run at work (its last write, last run, subscription start), else `now`. The
    /// real first attempt was no later, so a gap reported from here is never too large.
    fn earliest_known_attempt(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        [
            Some(self.updated_at),
            self.last_run.as_ref().map(|r| r.at),
            self.subscription_started_at,
        ]
        .into_iter()
        .flatten()
        .fold(now, DateTime::min)
    }

    /// How far the checkpoint trails `now` (`None` before the first completed window).
    pub fn lag(&self, now: DateTime<Utc>) -> Option<TimeDelta> {
        self.watermark.map(|w| (now - w).max(TimeDelta::zero()))
    }

    /// Merges progress: the watermark moves to the later of the two (never backwards),
    /// `sent` joins `recent` (an id listed again under a later `contentCreated` keeps the
    /// later one, so it is remembered as long as it can be listed), and ids older than
    /// `watermark − retention` are dropped.
    pub fn record_progress(
        &mut self,
        watermark: Option<DateTime<Utc>>,
        sent: impl IntoIterator<Item = (String, DateTime<Utc>)>,
        retention: TimeDelta,
    ) {
        self.watermark = self.watermark.max(watermark);
        for (id, created) in sent {
            let known = self.recent.entry(id).or_insert(created);
            *known = (*known).max(created);
        }
        if let Some(w) = self.watermark {
            let horizon = saturating_sub(w, retention);
            self.recent.retain(|_, created| *created >= horizon);
            // A window finished (here or by another run) needs no cursor any more.
            if self.page_cursor.as_ref().is_some_and(|c| c.window_end <= w) {
                self.page_cursor = None;
            }
        }
    }

    /// Merges another copy of the same pair into this one (max watermark, union of
    /// `recent`, later subscription start, earliest first attempt); lease and last run stay
    /// as they are here.
    pub fn merge(&mut self, other: &Checkpoint, retention: TimeDelta) {
        self.first_attempt_at = match (self.first_attempt_at, other.first_attempt_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.subscription_started_at = self
            .subscription_started_at
            .max(other.subscription_started_at);
        self.record_progress(
            other.watermark,
            other.recent.iter().map(|(k, v)| (k.clone(), *v)),
            retention,
        );
    }

    fn parse(key: &str, body: &[u8]) -> Result<Checkpoint, CheckpointError> {
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let malformed = |e: serde_json::Error| CheckpointError::Malformed {
            key: key.to_owned(),
            message: e.to_string(),
        };
        let v: Version = serde_json::from_slice(body).map_err(malformed)?;
        if v.format_version != CHECKPOINT_FORMAT_VERSION {
            return Err(CheckpointError::UnsupportedVersion {
                key: key.to_owned(),
                version: v.format_version,
            });
        }
        serde_json::from_slice(body).map_err(malformed)
    }
}

/// A window that could no longer be listed: the checkpoint was older than the API's reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapReport {
    /// Format version ([`CHECKPOINT_FORMAT_VERSION`]).
    pub format_version: u32,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The content type.
    pub content_type: ContentType,
    /// Start of the lost window (the old watermark, or when a pair that never completed a
    /// window was first attempted), inclusive.
    pub lost_from: DateTime<Utc>,
    /// End of the lost window (the earliest instant still listed), exclusive.
    pub lost_to: DateTime<Utc>,
    /// When the loss was detected.
    pub detected_at: DateTime<Utc>,
    /// The run that detected it.
    pub run_id: String,
    /// Why the window was lost, for people reading the report.
    pub reason: String,
}

impl GapReport {
    /// A report of `[lost_from, lost_to)` that the API can no longer list.
    pub fn new(
        tenant_id: TenantId,
        content_type: ContentType,
        lost_from: DateTime<Utc>,
        lost_to: DateTime<Utc>,
        detected_at: DateTime<Utc>,
        run_id: &str,
    ) -> GapReport {
        GapReport {
            format_version: CHECKPOINT_FORMAT_VERSION,
            tenant_id,
            content_type,
            lost_from,
            lost_to,
            detected_at,
            run_id: run_id.to_owned(),
            reason: "the checkpoint was older than the API's 7-day listing reach; blobs of this window can no longer be listed through the Management Activity API (use the portal audit search / Search-UnifiedAuditLog)".to_owned(),
        }
    }

    /// Length of the lost window.
    pub fn duration(&self) -> TimeDelta {
        self.lost_to - self.lost_from
    }
}

/// A checkpoint or gap report that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The store failed.
    #[error("checkpoint storage: {0}")]
    Store(#[from] StoreError),
    /// The stored document is not a checkpoint.
    #[error("{key} is not a readable checkpoint ({message}); fix it, or delete it to make the next run backfill the full 7 days")]
    Malformed {
        /// The key.
        key: String,
        /// What was wrong.
        message: String,
    },
    /// Written by a newer build.
    #[error("{key} has format_version {version}, this build reads {CHECKPOINT_FORMAT_VERSION}; upgrade the lister")]
    UnsupportedVersion {
        /// The key.
        key: String,
        /// The version found.
        version: u32,
    },
    /// Every conditional write lost a race.
    #[error("could not update {key}: {attempts} conditional writes in a row lost to other writers; retry later")]
    Contended {
        /// The key.
        key: String,
        /// Attempts made.
        attempts: u32,
    },
}

impl CheckpointError {
    /// Whether a later attempt can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            CheckpointError::Store(e) => e.is_retryable(),
            CheckpointError::Contended { .. } => true,
            CheckpointError::Malformed { .. } | CheckpointError::UnsupportedVersion { .. } => false,
        }
    }
}

/// A checkpoint as stored, with the tag to update it conditionally.
#[derive(Debug, Clone)]
pub struct LoadedCheckpoint {
    /// The document.
    pub checkpoint: Checkpoint,
    /// Its version tag.
    pub etag: ETag,
}

/// Proof that this run holds the lease of a pair; pass it to commit and release.
#[derive(Debug)]
pub struct HeldCheckpoint {
    run_id: String,
    lease_duration: TimeDelta,
    key: String,
    checkpoint: Checkpoint,
    etag: ETag,
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

/// Reads and writes checkpoints and gap reports with conditional writes.
#[derive(Debug, Clone)]
pub struct CheckpointStore<S: ObjectStore> {
    store: S,
    layout: KeyLayout,
    policy: CheckpointPolicy,
}

fn json_meta() -> ObjectMeta {
    ObjectMeta {
        content_type: "application/json".to_owned(),
        content_encoding: None,
    }
}

fn to_body<T: Serialize>(value: &T) -> Bytes {
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

    async fn load_key(&self, key: &str) -> Result<Option<LoadedCheckpoint>, CheckpointError> {
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
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let (mut doc, condition) = match self.load_key(&key).await? {
                None => (
                    Checkpoint::new(tenant.clone(), content_type, now),
                    PutCondition::IfNoneMatch,
                ),
                Some(found) => {
                    if let Some(other) = found.checkpoint.live_lease(now) {
                        if other.run_id != run_id {
                            return Ok(Claim::Busy(other.clone()));
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
            match self
                .store
                .put(&key, to_body(&doc), &json_meta(), condition)
                .await?
            {
                PutOutcome::Written { etag } => {
                    return Ok(Claim::Held(Box::new(HeldCheckpoint {
                        run_id: run_id.to_owned(),
                        lease_duration,
                        key,
                        checkpoint: doc,
                        etag,
                    })))
                }
                PutOutcome::PreconditionFailed => continue,
            }
        }
        Err(CheckpointError::Contended {
            key,
            attempts: MAX_WRITE_ATTEMPTS,
        })
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
                .store
                .put(
                    &held.key,
                    to_body(&doc),
                    &json_meta(),
                    PutCondition::IfMatch(held.etag.clone()),
                )
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
                        let doc = held.checkpoint.clone();
                        if let PutOutcome::Written { etag } = self
                            .store
                            .put(
                                &held.key,
                                to_body(&doc),
                                &json_meta(),
                                PutCondition::IfNoneMatch,
                            )
                            .await?
                        {
                            held.etag = etag;
                        }
                    }
                },
            }
        }
        Err(CheckpointError::Contended {
            key: held.key.clone(),
            attempts: MAX_WRITE_ATTEMPTS,
        })
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
        let retention = self.policy.retention;
        let renewed = saturating_add(now, held.lease_duration);
        self.update(held, now, |doc, ours| {
            doc.record_progress(watermark, sent.iter().cloned(), retention);
            if ours {
                if let Some(lease) = doc.lease.as_mut() {
                    lease.expires_at = renewed;
                }
            }
        })
        .await
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
        let retention = self.policy.retention;
        let renewed = saturating_add(now, held.lease_duration);
        self.update(held, now, |doc, ours| {
            doc.record_progress(None, sent.iter().cloned(), retention);
            if ours {
                doc.page_cursor = Some(cursor.clone());
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
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let Some(found) = self.load_key(&key).await? else {
                return Ok(false);
            };
            let mut doc = found.checkpoint;
            change(&mut doc);
            doc.updated_at = at;
            match self
                .store
                .put(
                    &key,
                    to_body(&doc),
                    &json_meta(),
                    PutCondition::IfMatch(found.etag),
                )
                .await?
            {
                PutOutcome::Written { .. } => return Ok(true),
                PutOutcome::PreconditionFailed => continue,
            }
        }
        Err(CheckpointError::Contended {
            key,
            attempts: MAX_WRITE_ATTEMPTS,
        })
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

    /// Writes a gap report create-only; `false` when the same window was already reported.
    pub async fn write_gap(&self, gap: &GapReport) -> Result<bool, CheckpointError> {
        let key = self
            .layout
            .gap_key(&gap.tenant_id, gap.content_type, gap.lost_from, gap.lost_to);
        let outcome = self
            .store
            .put(&key, to_body(gap), &json_meta(), PutCondition::IfNoneMatch)
            .await?;
        Ok(matches!(outcome, PutOutcome::Written { .. }))
    }

    /// Writes the error report of a listing entry that could not be read, create-only under
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
        // The entry's JSON as sent (it parsed as JSON: it came out of the page's array).
        let raw: serde_json::Value = serde_json::from_str(&entry.raw)
            .unwrap_or_else(|_| serde_json::Value::String(entry.raw.clone()));
        let report = serde_json::json!({
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "kind": "listing_entry",
            "tenant_id": tenant,
            "content_type": content_type,
            "detected_at": listed_at,
            "reason": entry.reason,
            "entry": raw,
        });
        let outcome = self
            .store
            .put(
                &key,
                to_body(&report),
                &json_meta(),
                PutCondition::IfNoneMatch,
            )
            .await?;
        Ok((key, matches!(outcome, PutOutcome::Written { .. })))
    }

    /// Every stored gap report (for `o365ctl status` and tests), in key order.
    pub async fn list_gaps(&self) -> Result<Vec<GapReport>, CheckpointError> {
        let mut out = Vec::new();
        for key in self.store.list(&self.layout.gaps_prefix()).await? {
            if let Some(obj) = self.store.get(&key).await? {
                let gap: GapReport =
                    serde_json::from_slice(&obj.body).map_err(|e| CheckpointError::Malformed {
                        key: key.clone(),
                        message: e.to_string(),
                    })?;
                out.push(gap);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ObjectUpload, StoredObject};
    use chrono::TimeZone;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    /// A map-backed store with S3's conditional-write semantics, and a hook that lets a test
    /// slip a competing write in just before the next conditional put.
    #[derive(Clone, Default)]
    struct MapStore {
        objects: Arc<Mutex<HashMap<String, (Bytes, u64)>>>,
        version: Arc<Mutex<u64>>,
        #[allow(clippy::type_complexity)]
        before_put: Arc<Mutex<Option<Box<dyn FnOnce(&MapStore) + Send>>>>,
    }

    impl MapStore {
        fn raw_put(&self, key: &str, body: Bytes) -> ETag {
            let mut v = self.version.lock().unwrap();
            *v += 1;
            self.objects
                .lock()
                .unwrap()
                .insert(key.to_owned(), (body, *v));
            ETag(v.to_string())
        }
        fn doc(&self, key: &str) -> Checkpoint {
            let body = self.objects.lock().unwrap()[key].0.clone();
            serde_json::from_slice(&body).unwrap()
        }
    }

    struct NoUpload;
    impl ObjectUpload for NoUpload {
        async fn write(&mut self, _: Bytes) -> Result<(), StoreError> {
            Err(StoreError::BadKey("uploads unused".into()))
        }
        async fn finish(self) -> Result<PutOutcome, StoreError> {
            Err(StoreError::BadKey("uploads unused".into()))
        }
        async fn abort(self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    impl ObjectStore for MapStore {
        type Upload = NoUpload;
        async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
            Ok(self
                .objects
                .lock()
                .unwrap()
                .get(key)
                .map(|(b, v)| StoredObject {
                    body: b.clone(),
                    etag: ETag(v.to_string()),
                }))
        }
        async fn exists(&self, key: &str) -> Result<bool, StoreError> {
            Ok(self.objects.lock().unwrap().contains_key(key))
        }
        async fn put(
            &self,
            key: &str,
            body: Bytes,
            _: &ObjectMeta,
            condition: PutCondition,
        ) -> Result<PutOutcome, StoreError> {
            let hook = self.before_put.lock().unwrap().take();
            if let Some(h) = hook {
                h(self);
            }
            let current = self.objects.lock().unwrap().get(key).map(|(_, v)| *v);
            let ok = match (&condition, current) {
                (PutCondition::Overwrite, _) => true,
                (PutCondition::IfNoneMatch, c) => c.is_none(),
                (PutCondition::IfMatch(t), Some(c)) => t.0 == c.to_string(),
                (PutCondition::IfMatch(_), None) => false,
            };
            if !ok {
                return Ok(PutOutcome::PreconditionFailed);
            }
            Ok(PutOutcome::Written {
                etag: self.raw_put(key, body),
            })
        }
        async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
            let mut keys: Vec<String> = self
                .objects
                .lock()
                .unwrap()
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect();
            keys.sort();
            Ok(keys)
        }
        async fn begin_upload(&self, _: &str, _: &ObjectMeta) -> Result<NoUpload, StoreError> {
            Ok(NoUpload)
        }
    }

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, h, m, 0).unwrap()
    }

    fn tenant() -> TenantId {
        "00000000-0000-0000-0000-000000000001".parse().unwrap()
    }

    fn policy() -> CheckpointPolicy {
        CheckpointPolicy {
            retention: TimeDelta::minutes(60),
            lease_duration: TimeDelta::minutes(16),
        }
    }

    fn cps(store: &MapStore) -> CheckpointStore<MapStore> {
        CheckpointStore::new(store.clone(), KeyLayout::new("o365"), policy())
    }

    fn held(c: Claim) -> HeldCheckpoint {
        match c {
            Claim::Held(h) => *h,
            Claim::Busy(l) => panic!("busy: {l:?}"),
        }
    }

    #[test]
    fn progress_is_monotone_and_prunes_outside_the_overlap() {
        let mut c = Checkpoint::new(tenant(), ContentType::Exchange, t(0, 0));
        c.record_progress(
            Some(t(10, 0)),
            [("a".to_string(), t(8, 30)), ("b".to_string(), t(9, 30))],
            TimeDelta::minutes(60),
        );
        assert_eq!(c.watermark, Some(t(10, 0)));
        assert!(!c.was_sent("a"), "a is older than watermark - overlap");
        assert!(c.was_sent("b"));
        c.record_progress(Some(t(9, 0)), [], TimeDelta::minutes(60));
        assert_eq!(c.watermark, Some(t(10, 0)), "never backwards");
        c.record_progress(None, [("c".to_string(), t(9, 45))], TimeDelta::minutes(60));
        assert_eq!(c.watermark, Some(t(10, 0)));
        assert!(c.was_sent("c"));
        assert_eq!(c.lag(t(11, 30)), Some(TimeDelta::minutes(90)));
    }

    #[test]
    fn merge_takes_the_max_and_the_union() {
        let mut a = Checkpoint::new(tenant(), ContentType::Exchange, t(0, 0));
        a.record_progress(
            Some(t(10, 0)),
            [("a".into(), t(9, 30))],
            TimeDelta::minutes(60),
        );
        let mut b = a.clone();
        b.record_progress(
            Some(t(12, 0)),
            [("b".into(), t(11, 30))],
            TimeDelta::minutes(60),
        );
        b.subscription_started_at = Some(t(1, 0));
        a.record_progress(None, [("c".into(), t(11, 10))], TimeDelta::minutes(60));
        a.merge(&b, TimeDelta::minutes(60));
        assert_eq!(a.watermark, Some(t(12, 0)));
        assert!(a.was_sent("b") && a.was_sent("c") && !a.was_sent("a"));
        assert_eq!(a.subscription_started_at, Some(t(1, 0)));
    }

    #[test]
    fn parse_rejects_other_versions_and_garbage() {
        let c = Checkpoint::new(tenant(), ContentType::DlpAll, t(0, 0));
        let mut v = serde_json::to_value(&c).unwrap();
        assert_eq!(Checkpoint::parse("k", v.to_string().as_bytes()).unwrap(), c);
        v["format_version"] = 2.into();
        let e = Checkpoint::parse("k", v.to_string().as_bytes()).unwrap_err();
        assert!(e.to_string().contains("upgrade"), "{e}");
        let e = Checkpoint::parse("k", b"{nope").unwrap_err();
        assert!(e.to_string().contains("delete it"), "{e}");
        assert!(!e.is_retryable());
    }

    #[tokio::test]
    async fn claim_creates_then_second_run_is_busy_until_expiry() {
        let store = MapStore::default();
        let cps = cps(&store);
        let h = held(
            cps.claim(&tenant(), ContentType::Exchange, "run-a", t(10, 0))
                .await
                .unwrap(),
        );
        assert_eq!(h.checkpoint().watermark, None);
        match cps
            .claim(&tenant(), ContentType::Exchange, "run-b", t(10, 5))
            .await
            .unwrap()
        {
            Claim::Busy(l) => assert_eq!(l.run_id, "run-a"),
            Claim::Held(_) => panic!("two runs hold one pair"),
        }
        // run-a was killed: its lease expires and run-b takes over.
        let hb = held(
            cps.claim(&tenant(), ContentType::Exchange, "run-b", t(10, 17))
                .await
                .unwrap(),
        );
        assert!(hb.checkpoint().is_held_by("run-b"));
        assert_eq!(
            hb.checkpoint().first_attempt_at,
            Some(t(10, 0)),
            "the first claim's time is kept"
        );
        assert_eq!(hb.checkpoint().owed_since(), Some(t(10, 0)));
    }

    #[tokio::test]
    async fn an_older_checkpoint_without_first_attempt_gets_the_earliest_it_shows() {
        let store = MapStore::default();
        let cps = cps(&store);
        let key = cps.layout().checkpoint_key(&tenant(), ContentType::DlpAll);
        // Written by an older build: a failed run at 09:00, last written at 09:30.
        let mut old = Checkpoint::new(tenant(), ContentType::DlpAll, t(9, 30));
        old.last_run = Some(LastRun {
            run_id: "run-0".into(),
            at: t(9, 0),
            outcome: LastRunOutcome::Failed,
            blobs: 0,
            error: Some("AF10001".into()),
            error_kind: None,
            stalled: false,
            watermark_ahead_seconds: None,
        });
        let mut v = serde_json::to_value(&old).unwrap();
        v.as_object_mut().unwrap().remove("first_attempt_at");
        store.raw_put(&key, Bytes::from(v.to_string()));
        let h = held(
            cps.claim(&tenant(), ContentType::DlpAll, "run-a", t(10, 0))
                .await
                .unwrap(),
        );
        assert_eq!(h.checkpoint().first_attempt_at, Some(t(9, 0)));
    }

    #[tokio::test]
    async fn a_short_lease_expires_sooner_and_commits_renew_it_by_as_much() {
        let store = MapStore::default();
        let cps = cps(&store);
        let mut h = held(
            cps.claim_for(
                &tenant(),
                ContentType::Exchange,
                "run-a",
                t(10, 0),
                TimeDelta::minutes(5),
            )
            .await
            .unwrap(),
        );
        cps.commit(&mut h, Some(t(9, 0)), &[], t(10, 2))
            .await
            .unwrap();
        assert_eq!(h.checkpoint().lease.as_ref().unwrap().expires_at, t(10, 7));
        let other = cps
            .claim(&tenant(), ContentType::Exchange, "run-b", t(10, 8))
            .await
            .unwrap();
        assert!(matches!(other, Claim::Held(_)), "{other:?}");
    }

    #[tokio::test]
    async fn racing_creators_only_one_wins() {
        let store = MapStore::default();
        let cps = cps(&store);
        let key = cps.layout().checkpoint_key(&tenant(), ContentType::General);
        // Another run creates the document between our load and our create.
        let racer = Checkpoint {
            lease: Some(Lease {
                run_id: "run-x".into(),
                expires_at: t(11, 0),
            }),
            ..Checkpoint::new(tenant(), ContentType::General, t(10, 0))
        };
        let (k2, body) = (key.clone(), to_body(&racer));
        *store.before_put.lock().unwrap() = Some(Box::new(move |s: &MapStore| {
            s.raw_put(&k2, body);
        }));
        match cps
            .claim(&tenant(), ContentType::General, "run-a", t(10, 0))
            .await
            .unwrap()
        {
            Claim::Busy(l) => assert_eq!(l.run_id, "run-x"),
            Claim::Held(_) => panic!("overwrote the racer's claim"),
        }
        assert!(store.doc(&key).is_held_by("run-x"));
    }

    #[tokio::test]
    async fn commit_after_a_concurrent_write_merges_and_never_moves_back() {
        let store = MapStore::default();
        let cps = cps(&store);
        let mut h = held(
            cps.claim(&tenant(), ContentType::Exchange, "run-a", t(10, 0))
                .await
                .unwrap(),
        );
        let key = cps
            .layout()
            .checkpoint_key(&tenant(), ContentType::Exchange);
        // Our lease expired and run-b took over and got further than we will.
        let mut theirs = store.doc(&key);
        theirs.lease = Some(Lease {
            run_id: "run-b".into(),
            expires_at: t(12, 0),
        });
        theirs.record_progress(
            Some(t(11, 0)),
            [("b".into(), t(10, 30))],
            TimeDelta::minutes(60),
        );
        let (k2, body) = (key.clone(), to_body(&theirs));
        *store.before_put.lock().unwrap() = Some(Box::new(move |s: &MapStore| {
            s.raw_put(&k2, body);
        }));
        let out = cps
            .commit(
                &mut h,
                Some(t(10, 45)),
                &[("a".into(), t(10, 40))],
                t(10, 50),
            )
            .await
            .unwrap();
        assert_eq!(out, CommitOutcome::LeaseLost);
        let doc = store.doc(&key);
        assert_eq!(doc.watermark, Some(t(11, 0)), "not moved backwards");
        assert!(doc.was_sent("a") && doc.was_sent("b"), "union of recent");
        assert!(doc.is_held_by("run-b"), "their lease untouched");
        // Our release leaves their lease and last_run alone.
        let last = LastRun {
            run_id: "run-a".into(),
            at: t(10, 51),
            outcome: LastRunOutcome::Partial,
            blobs: 1,
            error: None,
            error_kind: None,
            stalled: false,
            watermark_ahead_seconds: None,
        };
        cps.release(h, last, 0, t(10, 51)).await.unwrap();
        let doc = store.doc(&key);
        assert!(doc.is_held_by("run-b") && doc.last_run.is_none());
    }

    #[tokio::test]
    async fn commit_renews_and_release_clears_the_lease() {
        let store = MapStore::default();
        let cps = cps(&store);
        let mut h = held(
            cps.claim(&tenant(), ContentType::SharePoint, "run-a", t(10, 0))
                .await
                .unwrap(),
        );
        let out = cps
            .commit(&mut h, Some(t(10, 0)), &[("x".into(), t(9, 59))], t(10, 10))
            .await
            .unwrap();
        assert_eq!(out, CommitOutcome::Committed);
        assert_eq!(h.checkpoint().lease.as_ref().unwrap().expires_at, t(10, 26));
        cps.note_subscription_start(&mut h, t(10, 11), Some("AF10001".into()))
            .await
            .unwrap();
        let last = LastRun {
            run_id: "run-a".into(),
            at: t(10, 12),
            outcome: LastRunOutcome::Ok,
            blobs: 1,
            error: None,
            error_kind: None,
            stalled: false,
            watermark_ahead_seconds: None,
        };
        let done = cps.release(h, last.clone(), 0, t(10, 12)).await.unwrap();
        assert_eq!(done.lease, None);
        assert_eq!(done.last_run, Some(last));
        let loaded = cps
            .load(&tenant(), ContentType::SharePoint)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded.checkpoint, done);
        assert_eq!(loaded.checkpoint.subscription_started_at, Some(t(10, 11)));
        assert_eq!(
            loaded.checkpoint.subscription_error.as_deref(),
            Some("AF10001")
        );
        assert_eq!(cps.list().await.unwrap(), vec![done]);
    }

    #[tokio::test]
    async fn gap_reports_are_written_once() {
        let store = MapStore::default();
        let cps = cps(&store);
        let gap = GapReport::new(
            tenant(),
            ContentType::Exchange,
            t(1, 0),
            t(2, 0),
            t(3, 0),
            "run-a",
        );
        assert!(cps.write_gap(&gap).await.unwrap());
        let again = GapReport {
            run_id: "run-b".into(),
            ..gap.clone()
        };
        assert!(!cps.write_gap(&again).await.unwrap());
        assert_eq!(cps.list_gaps().await.unwrap(), vec![gap.clone()]);
        assert_eq!(gap.duration(), TimeDelta::hours(1));
    }
}
