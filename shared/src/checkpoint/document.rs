//! The checkpoint document: how far listing got, what was sent recently, who holds the pair
//! and how its last run and sweep ended, with the merge rules that keep concurrent writers safe.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{saturating_sub, CheckpointError, Lease, CHECKPOINT_FORMAT_VERSION};
use crate::content_type::ContentType;
use crate::tenant_id::TenantId;

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
    pub(super) fn earliest_known_attempt(&self, now: DateTime<Utc>) -> DateTime<Utc> {
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

    pub(super) fn parse(key: &str, body: &[u8]) -> Result<Checkpoint, CheckpointError> {
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
