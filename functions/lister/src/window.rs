//! The window loop of a run: from the checkpoint to now, list each window page by page,
//! drop what was sent before, send the rest, and commit after each page, so a window too
//! long for one invocation still moves forward.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use o365_activity::api_error::AfCode;
use o365_activity::checkpoint::{CheckpointError, CommitOutcome, HeldCheckpoint, PageCursor};
use o365_activity::client::{ActivityClient, ClientError, ListingPage};
use o365_activity::listing::DecodedPage;
use o365_activity::queue::{Queue, QueueError};
use o365_activity::store::ObjectStore;
use o365_activity::{ContentListing, ContentType, QueueMessage, TenantId};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::error::{PairError, PairErrorKind};
use crate::plan::{dedupe, floor_second, Window};
use crate::run::{Lister, Stop};
use crate::summary::PairSummary;

/// How many times one window is restarted from its first page after AF20031.
const MAX_WINDOW_RESTARTS: u32 = 3;

/// What one pair's listing carries from page to page within a run: its summary, the ids
/// sent so far (a blob listed again in a later window is not sent twice) and its deadline.
struct PairProgress<'a> {
    summary: &'a mut PairSummary,
    sent: HashSet<String>,
    deadline: Instant,
}

impl<S: ObjectStore, Q: Queue> Lister<S, Q> {
    /// Lists windows from the checkpoint to now, page by page, resuming a window left
    /// unfinished at its next page; `Err` says why it stopped early.
    pub(crate) async fn list_until_now(
        &self,
        client: &ActivityClient,
        tenant_id: &TenantId,
        ct: ContentType,
        held: &mut HeldCheckpoint,
        summary: &mut PairSummary,
        deadline: Instant,
    ) -> Result<(), Stop> {
        let now = self.now();
        self.check_clock(held.checkpoint().watermark, now, summary);
        let mut cursor = self.rules.first_start(held.checkpoint().watermark, now);
        let mut resume = held.checkpoint().page_cursor.clone();
        let mut progress = PairProgress {
            summary,
            sent: HashSet::new(),
            deadline,
        };
        loop {
            if self.out_of_time(deadline) {
                return Err(Stop::Paused);
            }
            let now = floor_second(self.now());
            if let Some(lost) = self.rules.gap(held.checkpoint().owed_since(), now) {
                let gap = self.report_gap(held, lost, now).await?;
                progress.summary.gaps.push(gap);
            }
            let Some(mut window) = self.rules.next_window(cursor, now) else {
                return Ok(());
            };
            let mut next_page = None;
            if let Some(c) = resume.take() {
                // Still listable: resume that window at its next page (the overlap before
                // it was listed when the window began).
                if c.window_start >= self.rules.reach_start(now)
                    && c.window_start < c.window_end
                    && c.window_end <= now
                {
                    window = Window {
                        start: c.window_start,
                        end: c.window_end,
                    };
                    next_page = Some(c.next_page);
                }
            }
            let outcome = self
                .list_window_pages(client, held, window, next_page, &mut progress)
                .await?;
            cursor = window.end;
            if outcome == CommitOutcome::LeaseLost {
                warn!(tenant_id = %tenant_id, content_type = %ct, "lease taken over by another run; stopping this pair");
                return Err(Stop::Paused);
            }
        }
    }

    /// A watermark ahead of the clock by more than the tolerance (another writer's fast
    /// clock, a hand edit) is reported; listing carries on from `min(watermark, now)`.
    fn check_clock(
        &self,
        watermark: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        summary: &mut PairSummary,
    ) {
        let Some(w) = watermark else { return };
        let ahead = w.signed_duration_since(now);
        if ahead > self.settings.clock_tolerance_delta() {
            warn!(
                tenant_id = %summary.tenant_id,
                content_type = %summary.content_type,
                watermark = %w,
                ahead_seconds = ahead.num_seconds(),
                "the checkpoint's watermark is ahead of this clock; listing from now less the overlap (check the clocks of every writer)"
            );
            summary.watermark_ahead_seconds = Some(ahead.num_seconds());
        }
    }

    /// Lists one window page by page from `next_page` (or its first page): each page's new
    /// blobs are sent and committed with the next page's cursor, the last page's with the
    /// window's end as the watermark. A rejected page token (AF20031) restarts the window.
    async fn list_window_pages(
        &self,
        client: &ActivityClient,
        held: &mut HeldCheckpoint,
        window: Window,
        mut next_page: Option<String>,
        progress: &mut PairProgress<'_>,
    ) -> Result<CommitOutcome, Stop> {
        let tenant_id = held.checkpoint().tenant_id.clone();
        let ct = held.checkpoint().content_type;
        let mut restarts = 0;
        loop {
            if self.out_of_time(progress.deadline) {
                return Err(Stop::Paused);
            }
            let page = match self
                .list_page(
                    client,
                    ct,
                    window,
                    next_page.as_deref(),
                    Some(&mut *held),
                    progress.deadline,
                )
                .await
            {
                Ok(p) => p,
                Err(e) if restartable(&e, next_page.is_some(), restarts) => {
                    restarts += 1;
                    warn!(tenant_id = %tenant_id, content_type = %ct, restarts, "the service rejected its own page token (AF20031); listing the window again from its first page");
                    next_page = None;
                    continue;
                }
                // The run's own time ran out (also when the client saw that first, e.g.
                // waiting for its request budget): paused, the next run resumes at the cursor.
                Err(e)
                    if self.out_of_time(progress.deadline)
                        || matches!(e, ClientError::DeadlineExceeded { .. }) =>
                {
                    info!(tenant_id = %tenant_id, content_type = %ct, error = %e, "stopping: deadline");
                    return Err(Stop::Paused);
                }
                Err(e) => {
                    return Err(Stop::Failed(PairError::api(
                        format_args!(
                            "listing {ct} [{}, {}) for tenant {tenant_id} failed",
                            window.start, window.end
                        ),
                        &e,
                    )))
                }
            };
            self.report_odd_entries(&tenant_id, ct, &page.page, progress.summary)
                .await
                .map_err(Stop::Failed)?;
            let cursor = page.next_page.as_ref().map(|next| PageCursor {
                window_start: window.start,
                window_end: window.end,
                next_page: next.clone(),
            });
            let outcome = self
                .enqueue_page(held, window, page.page.entries, cursor, progress)
                .await?;
            match page.next_page {
                None => {
                    progress.summary.windows += 1;
                    return Ok(outcome);
                }
                Some(_) if outcome == CommitOutcome::LeaseLost => return Ok(outcome),
                Some(next) => next_page = Some(next),
            }
        }
    }

    /// One listing page; on AF20022/AF20023 asks the subscriptions module to restore the
    /// subscription and lists the page once more.
    pub(crate) async fn list_page(
        &self,
        client: &ActivityClient,
        ct: ContentType,
        window: Window,
        next_page: Option<&str>,
        held: Option<&mut HeldCheckpoint>,
        deadline: Instant,
    ) -> Result<ListingPage, ClientError> {
        let call_deadline = self.call_deadline(deadline);
        let list =
            || client.list_content_page(ct, window.start, window.end, next_page, call_deadline);
        match list().await {
            Err(e) if subscription_lost(&e) => {
                if self
                    .restore_subscription(client, ct, held, deadline)
                    .await?
                {
                    list().await
                } else {
                    Err(e)
                }
            }
            other => other,
        }
    }

    /// Writes one error report per listing entry that could not be read (create-only, keyed
    /// by the entry's hash, so a page listed again adds none), logs them and counts the new
    /// ones; logs the entries whose odd fields were filled in (their blobs are fetched).
    pub(crate) async fn report_odd_entries(
        &self,
        tenant: &TenantId,
        ct: ContentType,
        page: &DecodedPage,
        summary: &mut PairSummary,
    ) -> Result<(), PairError> {
        for entry in &page.repaired {
            warn!(tenant_id = %tenant, content_type = %ct, content_id = %entry.content_id, repairs = %entry.repairs.join("; "), "a listing entry had odd fields; they were filled in and its blob is fetched");
        }
        let now = self.now();
        for entry in &page.rejected {
            let (key, new) = self
                .checkpoints
                .write_listing_error(tenant, ct, now, entry)
                .await
                .map_err(|e| {
                    PairError::checkpoint(
                        "writing the error report of an unreadable listing entry",
                        &e,
                    )
                })?;
            warn!(tenant_id = %tenant, content_type = %ct, %key, reason = %entry.reason, "a listing entry could not be read; it is kept in an error report and the rest of the page proceeds");
            if new {
                summary.entries_rejected += 1;
            }
        }
        Ok(())
    }

    /// Sends the blobs of one listed page that were not sent before, then commits: the
    /// page's cursor (`Some`: more pages follow) or the window's end as the watermark. When
    /// the queue refuses some, keeps the accepted ones in the checkpoint without moving the
    /// watermark or the cursor, and stops the pair.
    async fn enqueue_page(
        &self,
        held: &mut HeldCheckpoint,
        window: Window,
        listing: Vec<ContentListing>,
        cursor: Option<PageCursor>,
        progress: &mut PairProgress<'_>,
    ) -> Result<CommitOutcome, Stop> {
        let tenant_id = held.checkpoint().tenant_id.clone();
        let ct = held.checkpoint().content_type;
        progress.summary.blobs_listed += listing.len() as u64;
        // Every listed id is enqueued once the send succeeds; remembering repeats too
        // (with their latest contentCreated) keeps ids the API lists again hours later.
        let listed: Vec<(String, DateTime<Utc>)> = listing
            .iter()
            .map(|e| (e.content_id.clone(), e.content_created))
            .collect();
        let fresh = dedupe(listing, |id| {
            held.checkpoint().was_sent(id) || progress.sent.contains(id)
        });
        progress.summary.duplicates_skipped += fresh.skipped as u64;
        let messages: Vec<QueueMessage> = fresh
            .fresh
            .iter()
            .map(|e| QueueMessage::from_listing(tenant_id.clone(), e))
            .collect();
        let send = if messages.is_empty() {
            Ok(())
        } else {
            self.queue
                .send_all(&messages, self.call_deadline(progress.deadline))
                .await
                .map(|_| ())
        };
        let commit_failed = |e: CheckpointError| {
            Stop::Failed(PairError::checkpoint("committing the checkpoint", &e))
        };
        match send {
            Ok(()) => {
                progress.summary.messages_sent += messages.len() as u64;
                progress
                    .sent
                    .extend(messages.into_iter().map(|m| m.content_id));
                let committed = match cursor {
                    Some(cursor) => {
                        self.checkpoints
                            .commit_page(held, cursor, &listed, self.now())
                            .await
                    }
                    None => {
                        self.checkpoints
                            .commit(held, Some(window.end), &listed, self.now())
                            .await
                    }
                };
                committed.map_err(commit_failed)
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
                progress.summary.messages_sent += accepted.len() as u64;
                if !accepted.is_empty() {
                    self.checkpoints
                        .commit(held, None, &accepted, self.now())
                        .await
                        .map_err(commit_failed)?;
                }
                if self.out_of_time(progress.deadline) {
                    return Err(Stop::Paused);
                }
                Err(Stop::Failed(PairError::new(
                    PairErrorKind::Queue,
                    format!("the queue did not accept every message of {ct} [{}, {}): {e}; the window is listed again next run", window.start, window.end),
                )))
            }
        }
    }
}

/// The pages of one window listed outside a run (replay, sweep): no lease, no cursor kept;
/// a rejected page token restarts the window from its first page.
pub(crate) struct WindowPages {
    window: Window,
    next_page: Option<String>,
    restarts: u32,
    done: bool,
}

impl WindowPages {
    /// The pages of `window`, from its first.
    pub(crate) fn new(window: Window) -> WindowPages {
        WindowPages {
            window,
            next_page: None,
            restarts: 0,
            done: false,
        }
    }

    /// The next page, or `None` after the last.
    pub(crate) async fn next<S: ObjectStore, Q: Queue>(
        &mut self,
        lister: &Lister<S, Q>,
        client: &ActivityClient,
        ct: ContentType,
        deadline: Instant,
    ) -> Result<Option<ListingPage>, ClientError> {
        while !self.done {
            let next = self.next_page.as_deref();
            match lister
                .list_page(client, ct, self.window, next, None, deadline)
                .await
            {
                Ok(page) => {
                    self.next_page.clone_from(&page.next_page);
                    self.done = page.next_page.is_none();
                    return Ok(Some(page));
                }
                Err(e) if restartable(&e, next.is_some(), self.restarts) => {
                    self.restarts += 1;
                    self.next_page = None;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

/// Whether a page failed because the service rejected its own page token (AF20031), so the
/// window is listed again from its first page (at most [`MAX_WINDOW_RESTARTS`] times).
pub(crate) fn restartable(e: &ClientError, was_next_page: bool, restarts: u32) -> bool {
    was_next_page && e.af_code() == Some(&AfCode::InvalidNextPage) && restarts < MAX_WINDOW_RESTARTS
}

/// Whether a listing failed because the subscription is missing or disabled.
fn subscription_lost(e: &ClientError) -> bool {
    matches!(
        e.af_code(),
        Some(AfCode::SubscriptionNotFound | AfCode::SubscriptionDisabled)
    )
}
