//! The handler: for each tenant × content type, make sure the subscription is started, list
//! from the checkpoint (less the overlap) to now in legal windows, send one queue message per
//! new blob, and advance the checkpoint only once the queue accepted the whole window.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::{self, StreamExt};
use o365_activity::api_error::AfCode;
use o365_activity::checkpoint::{
    CheckpointError, CheckpointStore, Claim, CommitOutcome, GapReport, HeldCheckpoint, LastRun,
    LastRunOutcome,
};
use o365_activity::client::{ActivityClient, ClientError, ClientStats};
use o365_activity::clock::Clock;
use o365_activity::keys::KeyLayout;
use o365_activity::metrics::{MetricSet, MetricsSink};
use o365_activity::queue::{Queue, QueueError};
use o365_activity::store::ObjectStore;
use o365_activity::tenants::TenantConfig;
use o365_activity::{ContentListing, ContentType, QueueMessage, TenantId};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::plan::{dedupe, floor_second, Window, WindowRules};
use crate::settings::ListerSettings;
use crate::summary::{PairOutcome, PairSummary, RunSummary};

/// Added to a run's remaining time to size its leases.
const LEASE_SLACK: Duration = Duration::from_secs(60);

/// An explicit window that cannot be listed, or a failure while listing or sending it.
#[derive(Debug, thiserror::Error)]
pub enum ListWindowError {
    /// The tenant is not in the configuration.
    #[error("tenant {0} is not configured: add it to the tenants configuration or pick a configured one")]
    UnknownTenant(TenantId),
    /// The window is empty or reversed.
    #[error("window start {start} is not before its end {end}: give a start earlier than the end")]
    Empty {
        /// Start given.
        start: DateTime<Utc>,
        /// End given (after clamping to now).
        end: DateTime<Utc>,
    },
    /// The window starts before what the API can still list.
    #[error("window start {start} is more than 7 days back (the API lists from {earliest} at the earliest); blobs before that can no longer be listed")]
    TooOld {
        /// Start given.
        start: DateTime<Utc>,
        /// Earliest start allowed now.
        earliest: DateTime<Utc>,
    },
    /// The API failed.
    #[error("listing {content_type} for {tenant}: {source}")]
    Api {
        /// The tenant.
        tenant: TenantId,
        /// The content type.
        content_type: ContentType,
        /// The failure.
        #[source]
        source: ClientError,
    },
    /// The queue did not accept every message.
    #[error("sending to the queue: {0}")]
    Queue(#[from] QueueError),
}

/// The lister: tenants with their API clients, the checkpoint store and the queue.
pub struct Lister<S: ObjectStore, Q: Queue> {
    checkpoints: CheckpointStore<S>,
    queue: Q,
    tenants: Vec<(TenantConfig, ActivityClient)>,
    settings: ListerSettings,
    rules: WindowRules,
    clock: Clock,
    metrics: MetricsSink,
}

impl<S: ObjectStore, Q: Queue> std::fmt::Debug for Lister<S, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lister")
            .field("tenants", &self.tenants.len())
            .field("settings", &self.settings)
            .finish()
    }
}

/// A tenant's subscriptions as listed once per run.
enum Subscriptions {
    /// Content type → status (`enabled`, `disabled`).
    Listed(HashMap<String, String>),
    /// The listing failed; every pair of the tenant fails with this message.
    Failed(String),
    /// The run's time ran out before the listing succeeded.
    OutOfTime,
}

/// Why a pair stopped before catching up.
enum Stop {
    /// Out of time or lease lost: progress kept, next run resumes.
    Paused,
    /// Failed with a message saying what to fix.
    Failed(String),
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
            store,
            KeyLayout::new(&settings.prefix),
            settings.checkpoint_policy(),
        );
        Lister {
            checkpoints,
            queue,
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

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The deadline handed to API and queue calls: leaves half the margin for a commit.
    fn call_deadline(&self, deadline: Instant) -> Instant {
        deadline
            .checked_sub(self.settings.deadline_margin / 2)
            .unwrap_or(deadline)
    }

    fn out_of_time(&self, deadline: Instant) -> bool {
        Instant::now() + self.settings.deadline_margin >= deadline
    }

    fn content_types_of(&self, tenant: &TenantConfig) -> Vec<ContentType> {
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
                    p.outcome = PairOutcome::Failed(e.to_string());
                    p
                })
                .collect();
            return RunSummary { run_id, pairs };
        }
        let before: Vec<ClientStats> = self.tenants.iter().map(|(_, c)| c.stats()).collect();
        let concurrency = self.settings.concurrency.max(1);
        let subs: Vec<Subscriptions> = stream::iter(self.tenants.iter())
            .map(|(t, c)| self.list_subscriptions(t, c, deadline))
            .buffered(concurrency)
            .collect()
            .await;
        let mut results: Vec<(usize, PairSummary)> = stream::iter(pairs.into_iter().enumerate())
            .map(|(order, (i, ct))| {
                let (tenant, client) = &self.tenants[i];
                let subs = &subs[i];
                let run_id = run_id.as_str();
                async move {
                    let summary = self
                        .run_pair(run_id, tenant, client, ct, subs, deadline)
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
        let summary = RunSummary {
            run_id,
            pairs: results.into_iter().map(|(_, p)| p).collect(),
        };
        info!(
            run_id = %summary.run_id,
            pairs = summary.pairs.len(),
            messages_sent = summary.messages_sent(),
            failed = summary.failed().count(),
            "lister run finished"
        );
        summary
    }

    async fn list_subscriptions(
        &self,
        tenant: &TenantConfig,
        client: &ActivityClient,
        deadline: Instant,
    ) -> Subscriptions {
        if self.out_of_time(deadline) {
            return Subscriptions::OutOfTime;
        }
        match client
            .list_subscriptions(self.call_deadline(deadline))
            .await
        {
            Ok(list) => Subscriptions::Listed(
                list.into_iter()
                    .map(|s| (s.content_type, s.status))
                    .collect(),
            ),
            Err(_) if self.out_of_time(deadline) => Subscriptions::OutOfTime,
            Err(e) => {
                let msg = format!(
                    "listing the subscriptions of tenant {} failed: {}",
                    tenant.tenant_id,
                    describe(&e)
                );
                warn!(tenant_id = %tenant.tenant_id, error = %msg, "tenant cannot be collected this run");
                Subscriptions::Failed(msg)
            }
        }
    }

    async fn run_pair(
        &self,
        run_id: &str,
        tenant: &TenantConfig,
        client: &ActivityClient,
        ct: ContentType,
        subs: &Subscriptions,
        deadline: Instant,
    ) -> PairSummary {
        let tenant_id = &tenant.tenant_id;
        let mut summary = PairSummary::new(tenant_id.clone(), ct);
        if self.out_of_time(deadline) || matches!(subs, Subscriptions::OutOfTime) {
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
                summary.outcome = PairOutcome::Failed(format!("reading the checkpoint: {e}"));
                return summary;
            }
        };
        let stop = match self
            .ensure_subscription(client, ct, subs, &mut held, deadline)
            .await
        {
            Err(stop) => Some(stop),
            Ok(()) => self
                .list_until_now(client, tenant_id, ct, &mut held, &mut summary, deadline)
                .await
                .err(),
        };
        let (outcome, error) = match &stop {
            None => {
                summary.complete = true;
                (LastRunOutcome::Ok, None)
            }
            Some(Stop::Paused) => (LastRunOutcome::Partial, None),
            Some(Stop::Failed(msg)) => {
                warn!(tenant_id = %tenant_id, content_type = %ct, error = %msg, "pair failed this run");
                summary.outcome = PairOutcome::Failed(msg.clone());
                (LastRunOutcome::Failed, Some(msg.clone()))
            }
        };
        let now = self.now();
        let last = LastRun {
            run_id: run_id.to_owned(),
            at: now,
            outcome,
            blobs: summary.messages_sent,
            error,
        };
        let final_state = match self.checkpoints.release(held, last, now).await {
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

    /// Starts the subscription when the run's listing says it is not enabled, unless this
    /// collector started it successfully within the cooldown (the run's listing, taken at
    /// its start, may predate that); a listing that then finds no subscription restarts it.
    async fn ensure_subscription(
        &self,
        client: &ActivityClient,
        ct: ContentType,
        subs: &Subscriptions,
        held: &mut HeldCheckpoint,
        deadline: Instant,
    ) -> Result<(), Stop> {
        match subs {
            Subscriptions::Listed(map)
                if map.get(ct.as_str()).map(String::as_str) == Some("enabled") =>
            {
                Ok(())
            }
            Subscriptions::Listed(_) => {
                let cp = held.checkpoint();
                let started_recently = cp
                    .subscription_started_at
                    .is_some_and(|at| self.now() < at + self.settings.start_cooldown_delta());
                if started_recently && cp.subscription_error.is_none() {
                    return Ok(());
                }
                self.start_subscription(client, ct, held, deadline).await
            }
            Subscriptions::Failed(msg) => Err(Stop::Failed(msg.clone())),
            Subscriptions::OutOfTime => Err(Stop::Paused),
        }
    }

    /// `subscriptions/start`, at most once per cooldown (recorded in the checkpoint).
    async fn start_subscription(
        &self,
        client: &ActivityClient,
        ct: ContentType,
        held: &mut HeldCheckpoint,
        deadline: Instant,
    ) -> Result<(), Stop> {
        let tenant = held.checkpoint().tenant_id.clone();
        let now = self.now();
        if let Some(at) = held.checkpoint().subscription_started_at {
            let ready = at + self.settings.start_cooldown_delta();
            if now < ready {
                let why = held
                    .checkpoint()
                    .subscription_error
                    .as_deref()
                    .map(|e| format!(" and failed: {e}"))
                    .unwrap_or_default();
                return Err(Stop::Failed(format!(
                    "the {ct} subscription of tenant {tenant} is not enabled; it was last started at {at}{why}; the API allows the next start after {ready} (15-minute rule), a later run retries"
                )));
            }
        }
        let result = client
            .start_subscription(ct, self.call_deadline(deadline))
            .await;
        if matches!(result, Err(ClientError::DeadlineExceeded { .. })) && self.out_of_time(deadline)
        {
            return Err(Stop::Paused);
        }
        let error = result.as_ref().err().map(|e| {
            format!(
                "starting the {ct} subscription of tenant {tenant} failed: {}",
                describe(e)
            )
        });
        self.checkpoints
            .note_subscription_start(held, now, error.clone())
            .await
            .map_err(|e| Stop::Failed(format!("recording the subscription start: {e}")))?;
        match result {
            Ok(outcome) => {
                info!(tenant_id = %tenant, content_type = %ct, ?outcome, "subscription started");
                Ok(())
            }
            Err(e) => Err(Stop::Failed(error.unwrap_or_else(|| e.to_string()))),
        }
    }

    /// Lists windows from the checkpoint to now; `Err` says why it stopped early.
    async fn list_until_now(
        &self,
        client: &ActivityClient,
        tenant_id: &TenantId,
        ct: ContentType,
        held: &mut HeldCheckpoint,
        summary: &mut PairSummary,
        deadline: Instant,
    ) -> Result<(), Stop> {
        let mut cursor = self
            .rules
            .first_start(held.checkpoint().watermark, self.now());
        let mut sent_this_run: HashSet<String> = HashSet::new();
        loop {
            if self.out_of_time(deadline) {
                return Err(Stop::Paused);
            }
            let now = floor_second(self.now());
            if let Some(lost) = self.rules.gap(held.checkpoint().watermark, now) {
                let gap = self.report_gap(held, lost, now).await?;
                summary.gaps.push(gap);
            }
            let Some(window) = self.rules.next_window(cursor, now) else {
                return Ok(());
            };
            let listing = match self
                .list_window_once(client, ct, window, Some(&mut *held), deadline)
                .await
            {
                Ok(l) => l,
                Err(e) if self.out_of_time(deadline) => {
                    info!(tenant_id = %tenant_id, content_type = %ct, error = %e, "stopping: deadline");
                    return Err(Stop::Paused);
                }
                Err(e) => {
                    return Err(Stop::Failed(format!(
                        "listing {ct} [{}, {}) for tenant {tenant_id} failed: {}",
                        window.start,
                        window.end,
                        describe(&e)
                    )))
                }
            };
            let outcome = self
                .enqueue_window(held, window, listing, &mut sent_this_run, summary, deadline)
                .await?;
            cursor = window.end;
            if outcome == CommitOutcome::LeaseLost {
                warn!(tenant_id = %tenant_id, content_type = %ct, "lease taken over by another run; stopping this pair");
                return Err(Stop::Paused);
            }
        }
    }

    /// Sends the blobs of one listed window that were not sent before, then commits the
    /// window. When the queue refuses some, keeps the accepted ones in the checkpoint
    /// without moving the watermark, and stops the pair.
    async fn enqueue_window(
        &self,
        held: &mut HeldCheckpoint,
        window: Window,
        listing: Vec<ContentListing>,
        sent_this_run: &mut HashSet<String>,
        summary: &mut PairSummary,
        deadline: Instant,
    ) -> Result<CommitOutcome, Stop> {
        let tenant_id = held.checkpoint().tenant_id.clone();
        let ct = held.checkpoint().content_type;
        summary.blobs_listed += listing.len() as u64;
        // Every listed id is enqueued once the send succeeds; remembering repeats too
        // (with their latest contentCreated) keeps ids the API lists again hours later.
        let listed: Vec<(String, DateTime<Utc>)> = listing
            .iter()
            .map(|e| (e.content_id.clone(), e.content_created))
            .collect();
        let fresh = dedupe(listing, |id| {
            held.checkpoint().was_sent(id) || sent_this_run.contains(id)
        });
        summary.duplicates_skipped += fresh.skipped as u64;
        let messages: Vec<QueueMessage> = fresh
            .fresh
            .iter()
            .map(|e| QueueMessage::from_listing(tenant_id.clone(), e))
            .collect();
        let send = if messages.is_empty() {
            Ok(())
        } else {
            self.queue
                .send_all(&messages, self.call_deadline(deadline))
                .await
                .map(|_| ())
        };
        let commit_failed =
            |e: CheckpointError| Stop::Failed(format!("committing the checkpoint: {e}"));
        match send {
            Ok(()) => {
                summary.messages_sent += messages.len() as u64;
                sent_this_run.extend(messages.into_iter().map(|m| m.content_id));
                let outcome = self
                    .checkpoints
                    .commit(held, Some(window.end), &listed, self.now())
                    .await
                    .map_err(commit_failed)?;
                summary.windows += 1;
                Ok(outcome)
            }
            Err(e) => {
                // Keep what the queue did accept, so the next run does not send it again;
                // the watermark stays, so the rest is listed again.
                let accepted: Vec<(String, DateTime<Utc>)> = match &e {
                    QueueError::Incomplete { accepted, .. } => {
                        let accepted: HashSet<&str> = accepted.iter().map(String::as_str).collect();
                        fresh
                            .fresh
                            .iter()
                            .filter(|entry| accepted.contains(entry.content_id.as_str()))
                            .map(|entry| (entry.content_id.clone(), entry.content_created))
                            .collect()
                    }
                    QueueError::Call { .. } => Vec::new(),
                };
                summary.messages_sent += accepted.len() as u64;
                if !accepted.is_empty() {
                    self.checkpoints
                        .commit(held, None, &accepted, self.now())
                        .await
                        .map_err(commit_failed)?;
                }
                if self.out_of_time(deadline) {
                    return Err(Stop::Paused);
                }
                Err(Stop::Failed(format!(
                    "the queue did not accept every message of {ct} [{}, {}): {e}; the window is listed again next run",
                    window.start, window.end
                )))
            }
        }
    }

    /// Writes the gap report (once) and moves the watermark to the end of the lost window.
    async fn report_gap(
        &self,
        held: &mut HeldCheckpoint,
        lost: Window,
        now: DateTime<Utc>,
    ) -> Result<GapReport, Stop> {
        let cp = held.checkpoint();
        let gap = GapReport::new(
            cp.tenant_id.clone(),
            cp.content_type,
            lost.start,
            lost.end,
            now,
            held.run_id(),
        );
        let failed = |e: CheckpointError| Stop::Failed(format!("recording a gap report: {e}"));
        let created = self.checkpoints.write_gap(&gap).await.map_err(failed)?;
        warn!(
            tenant_id = %gap.tenant_id,
            content_type = %gap.content_type,
            lost_from = %gap.lost_from,
            lost_to = %gap.lost_to,
            lost_hours = gap.duration().num_minutes() as f64 / 60.0,
            new_report = created,
            "GAP: the checkpoint is older than the API's 7-day reach; this window can no longer be collected"
        );
        let mut m = MetricSet::new()
            .dimension("TenantId", gap.tenant_id.to_string())
            .dimension("ContentType", gap.content_type.as_str());
        m.count("GapsReported", 1)
            .seconds("GapSeconds", gap.duration().num_seconds() as f64);
        m.emit(&self.metrics);
        // Also without dimensions, for the dashboard's and the alarm's plain total.
        let mut total = MetricSet::new();
        total.count("GapsReported", 1);
        total.emit(&self.metrics);
        self.checkpoints
            .commit(held, Some(lost.end), &[], now)
            .await
            .map_err(failed)?;
        Ok(gap)
    }

    /// One `list_content` call; on AF20022/AF20023 starts the subscription (when a checkpoint
    /// is held to record it) and retries once.
    async fn list_window_once(
        &self,
        client: &ActivityClient,
        ct: ContentType,
        window: Window,
        held: Option<&mut HeldCheckpoint>,
        deadline: Instant,
    ) -> Result<Vec<ContentListing>, ClientError> {
        let call_deadline = self.call_deadline(deadline);
        match client
            .list_content(ct, window.start, window.end, call_deadline)
            .await
        {
            Err(e)
                if matches!(
                    e.af_code(),
                    Some(AfCode::SubscriptionNotFound | AfCode::SubscriptionDisabled)
                ) =>
            {
                let Some(held) = held else { return Err(e) };
                if let Err(stop) = self.start_subscription(client, ct, held, deadline).await {
                    if let Stop::Failed(msg) = stop {
                        warn!(content_type = %ct, error = %msg, "could not restart the subscription");
                    }
                    return Err(e);
                }
                client
                    .list_content(ct, window.start, window.end, call_deadline)
                    .await
            }
            other => other,
        }
    }

    /// Enqueues every blob listed in `[start, end)` for one tenant and content type without
    /// touching the checkpoint (`o365ctl replay --window`, `backfill`). The window may be
    /// longer than a day (it is sliced) but must start within the API's reach; an end in the
    /// future is clamped to now. Returns the number of messages sent.
    pub async fn list_window(
        &self,
        tenant: &TenantId,
        ct: ContentType,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<usize, ListWindowError> {
        let client = self
            .tenants
            .iter()
            .find(|(t, _)| &t.tenant_id == tenant)
            .map(|(_, c)| c)
            .ok_or_else(|| ListWindowError::UnknownTenant(tenant.clone()))?;
        let now = self.now();
        let end = end.min(floor_second(now));
        if start >= end {
            return Err(ListWindowError::Empty { start, end });
        }
        let earliest = self.rules.reach_start(now);
        if start < earliest {
            return Err(ListWindowError::TooOld { start, earliest });
        }
        let mut seen: HashSet<String> = HashSet::new();
        let mut sent = 0usize;
        for window in self.rules.split(start, end) {
            let listing = self
                .list_window_once(client, ct, window, None, deadline)
                .await
                .map_err(|source| ListWindowError::Api {
                    tenant: tenant.clone(),
                    content_type: ct,
                    source,
                })?;
            let fresh = dedupe(listing, |id| seen.contains(id));
            let messages: Vec<QueueMessage> = fresh
                .fresh
                .iter()
                .map(|e| QueueMessage::from_listing(tenant.clone(), e))
                .collect();
            if !messages.is_empty() {
                self.queue
                    .send_all(&messages, self.call_deadline(deadline))
                    .await?;
            }
            sent += messages.len();
            seen.extend(fresh.fresh.into_iter().map(|e| e.content_id));
        }
        info!(tenant_id = %tenant, content_type = %ct, %start, %end, sent, "window replayed");
        Ok(sent)
    }

    fn emit_pair_metrics(&self, p: &PairSummary) {
        let mut m = MetricSet::new()
            .dimension("TenantId", p.tenant_id.to_string())
            .dimension("ContentType", p.content_type.as_str());
        m.count("BlobsListed", p.blobs_listed)
            .count("MessagesSent", p.messages_sent)
            .count("DuplicatesSkipped", p.duplicates_skipped)
            .count("Windows", p.windows)
            .count(
                "PairFailed",
                u64::from(matches!(p.outcome, PairOutcome::Failed(_))),
            )
            .count("PairBusy", u64::from(p.outcome == PairOutcome::Busy));
        if let Some(lag) = p.lag {
            m.seconds("LagSeconds", lag.as_secs_f64());
        }
        m.emit(&self.metrics);
    }

    /// Throttles and retries per tenant; API errors by code over all tenants (the
    /// dashboard's `{O365Collector,Code}` schema).
    fn emit_api_metrics(&self, deltas: &[(TenantId, ClientStats, ClientStats)]) {
        let mut by_code: BTreeMap<String, u64> = BTreeMap::new();
        for (tenant, before, after) in deltas {
            let mut m = MetricSet::new().dimension("TenantId", tenant.to_string());
            m.count(
                "Throttles",
                after.throttles.saturating_sub(before.throttles),
            )
            .count("ApiRetries", after.retries.saturating_sub(before.retries));
            m.emit(&self.metrics);
            for (code, n) in &after.errors_by_code {
                let was = before.errors_by_code.get(code).copied().unwrap_or(0);
                *by_code.entry(code.clone()).or_default() += n.saturating_sub(was);
            }
        }
        for (code, n) in by_code.into_iter().filter(|(_, n)| *n > 0) {
            let mut m = MetricSet::new().dimension("Code", code);
            m.count("ApiErrors", n);
            m.emit(&self.metrics);
        }
    }
}

/// A client error as an operator-facing sentence: what failed and what to do.
fn describe(e: &ClientError) -> String {
    match e.af_code() {
        Some(AfCode::MissingPermission) => format!(
            "{e}; the app lacks a permission: every type needs ActivityFeed.Read, DLP.All also needs ActivityFeed.ReadDlp (grant it in the app registration and give admin consent, or drop the type from content_types)"
        ),
        Some(AfCode::StartCooldown) => format!(
            "{e}; the API allows one subscription start per 15 minutes, a later run retries"
        ),
        Some(AfCode::SubscriptionDisabled) => format!(
            "{e}; the subscription was disabled by an admin and could not be restarted"
        ),
        _ => e.to_string(),
    }
}
