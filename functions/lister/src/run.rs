//! One run: for each tenant × content type, concurrently within a limit, claim the pair's
//! lease, make sure its subscription is started, list from the checkpoint to now
//! ([`crate::window`]), and release the lease with a summary of the run.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::{self, StreamExt};
use o365_activity::checkpoint::{
    Checkpoint, CheckpointStore, Claim, LastRun, LastRunOutcome, PageCursor,
};
use o365_activity::client::{ActivityClient, ClientStats};
use o365_activity::clock::Clock;
use o365_activity::in_turn::in_turn;
use o365_activity::keys::KeyLayout;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::{MixingQueue, Queue};
use o365_activity::store::ObjectStore;
use o365_activity::tenants::TenantConfig;
use o365_activity::{ContentType, TenantId};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::error::{PairError, PairErrorKind};
use crate::plan::WindowRules;
use crate::settings::ListerSettings;
use crate::subscriptions::Subscriptions;
use crate::summary::{PairOutcome, PairSummary, RunSummary};

/// Added to a run's remaining time to size its leases.
const LEASE_SLACK: Duration = Duration::from_secs(60);

/// The lister: tenants with their API clients, the checkpoint store and the queue.
pub struct Lister<S: ObjectStore, Q: Queue> {
    pub(crate) checkpoints: CheckpointStore<S>,
    /// The bucket itself: error reports of unreadable listing entries, the sweep's view of
    /// what is stored.
    pub(crate) store: S,
    /// The queue, with the concurrent pairs' pages sent with the tenants in turn.
    pub(crate) queue: MixingQueue<Q>,
    pub(crate) tenants: Vec<(TenantConfig, ActivityClient)>,
    pub(crate) settings: ListerSettings,
    pub(crate) rules: WindowRules,
    pub(crate) clock: Clock,
    pub(crate) metrics: MetricsSink,
}

impl<S: ObjectStore, Q: Queue> std::fmt::Debug for Lister<S, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lister")
            .field("tenants", &self.tenants.len())
            .field("settings", &self.settings)
            .finish()
    }
}

/// Why a pair stopped before catching up.
pub(crate) enum Stop {
    /// Out of time or lease lost: progress kept, next run resumes.
    Paused,
    /// Failed; the error says why and what to fix.
    Failed(PairError),
}

impl<S: ObjectStore, Q: Queue> Lister<S, Q> {
    /// A lister over `store` (checkpoints under `settings.prefix`), sending to `queue`.
    pub fn new(
        store: S,
        queue: Q,
        tenants: Vec<(TenantConfig, ActivityClient)>,
        settings: ListerSettings,
        clock: Clock,
        metrics: MetricsSink,
    ) -> Lister<S, Q> {
        let checkpoints = CheckpointStore::new(
            store.clone(),
            KeyLayout::new(&settings.prefix),
            settings.checkpoint_policy(),
        );
        Lister {
            checkpoints,
            store,
            queue: MixingQueue::new(queue, tenants.len()),
            tenants,
            rules: settings.window_rules(),
            settings,
            clock,
            metrics,
        }
    }

    /// The checkpoint store (for status and tests).
    pub fn checkpoints(&self) -> &CheckpointStore<S> {
        &self.checkpoints
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The deadline handed to API and queue calls: leaves half the margin for a commit.
    pub(crate) fn call_deadline(&self, deadline: Instant) -> Instant {
        deadline
            .checked_sub(self.settings.deadline_margin / 2)
            .unwrap_or(deadline)
    }

    pub(crate) fn out_of_time(&self, deadline: Instant) -> bool {
        Instant::now() + self.settings.deadline_margin >= deadline
    }

    pub(crate) fn content_types_of(&self, tenant: &TenantConfig) -> Vec<ContentType> {
        tenant
            .content_types
            .iter()
            .copied()
            .filter(|ct| {
                self.settings
                    .content_types
                    .as_ref()
                    .is_none_or(|only| only.contains(ct))
            })
            .collect()
    }

    /// Lists and enqueues for every configured tenant × content type, concurrently within
    /// `settings.concurrency`, stopping cleanly before `deadline`. Never fails as a whole:
    /// each pair reports its own outcome.
    pub async fn run(&self, deadline: Instant) -> RunSummary {
        let (_keep, never) = watch::channel(false);
        self.run_until(deadline, never).await
    }

    /// Like [`Lister::run`], and also stops when `cancel` turns `true` (an operator's
    /// Ctrl-C): no new pair or window is started, a window in flight is abandoned without
    /// being committed (the next run lists it again), and every lease held is released.
    pub async fn run_until(&self, deadline: Instant, cancel: watch::Receiver<bool>) -> RunSummary {
        let run_id = uuid::Uuid::new_v4().to_string();
        let pairs: Vec<(usize, ContentType)> = self
            .tenants
            .iter()
            .enumerate()
            .flat_map(|(i, (t, _))| self.content_types_of(t).into_iter().map(move |ct| (i, ct)))
            .collect();
        if let Err(e) = self.settings.validate() {
            let pairs = pairs
                .into_iter()
                .map(|(i, ct)| {
                    let mut p = PairSummary::new(self.tenants[i].0.tenant_id.clone(), ct);
                    p.outcome =
                        PairOutcome::Failed(PairError::new(PairErrorKind::Settings, e.to_string()));
                    p
                })
                .collect();
            return RunSummary { run_id, pairs };
        }
        let before: Vec<ClientStats> = self.tenants.iter().map(|(_, c)| c.stats()).collect();
        let concurrency = self.settings.concurrency.max(1);
        let subs: Vec<Subscriptions> = stream::iter(self.tenants.iter())
            .map(|(t, c)| {
                let cancel = cancel.clone();
                async move {
                    tokio::select! {
                        subs = self.list_subscriptions(t, c, deadline) => subs,
                        () = cancelled(cancel) => Subscriptions::OutOfTime,
                    }
                }
            })
            .buffered(concurrency)
            .collect()
            .await;
        // Tenant after tenant in turn (every tenant's first type, then every tenant's second):
        // the queue then holds the tenants' blobs mixed, so a fetcher batch spans tenants and
        // each tenant's budget is spent at once; the summary keeps the configured order.
        let ordered = in_turn(pairs.into_iter().enumerate().collect(), |(_, (i, _))| *i);
        let mut results: Vec<(usize, PairSummary)> = stream::iter(ordered)
            .map(|(order, (i, ct))| {
                let tenant = &self.tenants[i];
                let subs = &subs[i];
                let run_id = run_id.as_str();
                let cancel = cancel.clone();
                async move {
                    let summary = self
                        .run_pair(run_id, tenant, ct, subs, deadline, cancel)
                        .await;
                    self.emit_pair_metrics(&summary);
                    (order, summary)
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        results.sort_by_key(|(order, _)| *order);
        let deltas: Vec<(TenantId, ClientStats, ClientStats)> = self
            .tenants
            .iter()
            .zip(before)
            .map(|((t, c), before)| (t.tenant_id.clone(), before, c.stats()))
            .collect();
        self.emit_api_metrics(&deltas);
        for (t, c) in &self.tenants {
            c.take_budget_interval().emit(&t.tenant_id, &self.metrics);
        }
        let pairs = results.into_iter().map(|(_, p)| p).collect();
        RunSummary { run_id, pairs }.logged()
    }

    async fn run_pair(
        &self,
        run_id: &str,
        (tenant, client): &(TenantConfig, ActivityClient),
        ct: ContentType,
        subs: &Subscriptions,
        deadline: Instant,
        cancel: watch::Receiver<bool>,
    ) -> PairSummary {
        let tenant_id = &tenant.tenant_id;
        let mut summary = PairSummary::new(tenant_id.clone(), ct);
        if self.out_of_time(deadline)
            || matches!(subs, Subscriptions::OutOfTime)
            || *cancel.borrow()
        {
            return summary;
        }
        // No longer a lease than this run can use: a killed run blocks its pairs only until
        // its own deadline (plus slack), not for the full lease duration.
        let usable = deadline.saturating_duration_since(Instant::now()) + LEASE_SLACK;
        let lease =
            TimeDelta::from_std(self.settings.lease_duration.min(usable)).unwrap_or(TimeDelta::MAX);
        let mut held = match self
            .checkpoints
            .claim_for(tenant_id, ct, run_id, self.now(), lease)
            .await
        {
            Ok(Claim::Held(h)) => *h,
            Ok(Claim::Busy(lease)) => {
                info!(tenant_id = %tenant_id, content_type = %ct, holder = %lease.run_id, "pair busy: another run holds it");
                summary.outcome = PairOutcome::Busy;
                return summary;
            }
            Err(e) => {
                summary.outcome =
                    PairOutcome::Failed(PairError::checkpoint("reading the checkpoint", &e));
                return summary;
            }
        };
        let progress_before = progress_of(held.checkpoint());
        let work = async {
            self.ensure_subscription(client, ct, subs, &mut held, deadline)
                .await?;
            self.list_until_now(client, tenant_id, ct, &mut held, &mut summary, deadline)
                .await
        };
        // On cancellation the work in flight is dropped: a window sent but not committed is
        // listed again by the next run (at-least-once), and the lease is released below.
        let stop = tokio::select! {
            result = work => result.err(),
            () = cancelled(cancel) => {
                info!(tenant_id = %tenant_id, content_type = %ct, "stopping: cancelled");
                Some(Stop::Paused)
            }
        };
        let (outcome, error) = match &stop {
            None => {
                summary.complete = true;
                (LastRunOutcome::Ok, None)
            }
            Some(Stop::Paused) => (LastRunOutcome::Partial, None),
            Some(Stop::Failed(error)) => {
                warn!(tenant_id = %tenant_id, content_type = %ct, error = %error, kind = %error.kind(), "pair failed this run");
                summary.outcome = PairOutcome::Failed(error.clone());
                (LastRunOutcome::Failed, Some(error.clone()))
            }
        };
        let now = self.now();
        let cp = held.checkpoint();
        let progressed = summary.complete || progress_of(cp) != progress_before;
        let runs_without_progress = if progressed {
            0
        } else {
            cp.runs_without_progress.saturating_add(1)
        };
        summary.stalled = self.is_stalled(cp, runs_without_progress, now);
        if summary.stalled {
            warn!(tenant_id = %tenant_id, content_type = %ct, runs_without_progress, watermark = ?cp.watermark, "STALLED: this pair makes no progress; see the last error in o365ctl status");
        }
        let last = LastRun {
            run_id: run_id.to_owned(),
            at: now,
            outcome,
            blobs: summary.messages_sent,
            error: error.as_ref().map(|e| e.message().to_owned()),
            error_kind: error.map(|e| e.kind().as_str().to_owned()),
            stalled: summary.stalled,
            watermark_ahead_seconds: summary.watermark_ahead_seconds,
        };
        let final_state = match self
            .checkpoints
            .release(held, last, runs_without_progress, now)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                // Progress is committed; only the lease stays until it expires.
                warn!(tenant_id = %tenant_id, content_type = %ct, error = %e, "could not release the lease");
                match self.checkpoints.load(tenant_id, ct).await {
                    Ok(Some(c)) => c.checkpoint,
                    _ => return summary,
                }
            }
        };
        summary.watermark = final_state.watermark;
        summary.lag = final_state.lag(now).and_then(|d| d.to_std().ok());
        summary
    }

    /// Stalled: no progress for the stall threshold of runs, or no watermark yet although
    /// the first attempt lies further back than the stall time.
    fn is_stalled(&self, cp: &Checkpoint, runs_without_progress: u32, now: DateTime<Utc>) -> bool {
        let never_completed = cp.watermark.is_none()
            && cp
                .first_attempt_at
                .and_then(|first| first.checked_add_signed(self.settings.stall_after_delta()))
                .is_some_and(|limit| now >= limit);
        runs_without_progress >= self.settings.stall_runs.max(1) || never_completed
    }
}

/// What a run moves when it makes progress: the watermark and the page cursor.
fn progress_of(cp: &Checkpoint) -> (Option<DateTime<Utc>>, Option<PageCursor>) {
    (cp.watermark, cp.page_cursor.clone())
}

/// Resolves once `cancel` is `true`; never when its sender is gone without cancelling.
async fn cancelled(mut cancel: watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}
