//! Explicit windows for the CLI (`o365ctl replay --window`, `backfill`): list and enqueue
//! without a lease and without touching progress.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use o365_activity::client::ClientError;
use o365_activity::queue::{Queue, QueueError};
use o365_activity::store::ObjectStore;
use o365_activity::{ContentType, QueueMessage, TenantId};
use tokio::time::Instant;
use tracing::info;

use crate::error::PairError;
use crate::plan::{dedupe, floor_second};
use crate::run::Lister;
use crate::summary::PairSummary;
use crate::window::WindowPages;

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
    /// The window ends before what the API can still list.
    #[error("window from {start} lies entirely more than 7 days back (the API lists from {earliest} at the earliest); blobs before that can no longer be listed")]
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
    /// An unreadable listing entry could not be kept in an error report.
    #[error("{0}")]
    Report(PairError),
    /// The queue did not accept every message.
    #[error("sending to the queue: {0}")]
    Queue(#[from] QueueError),
}

impl<S: ObjectStore, Q: Queue> Lister<S, Q> {
    /// Enqueues every blob listed in `[start, end)` for one tenant and content type without
    /// touching the checkpoint (`o365ctl replay --window`, `backfill`). The window may be
    /// longer than a day (it is sliced); a slice that starts before the API's reach when it
    /// is listed is clamped to it (only a window entirely out of reach is refused); an end in the
    /// future is clamped to now. A subscription never started (or disabled) is started when
    /// the listing says so, as a run would (at most once per cooldown, recorded in the pair's
    /// checkpoint when it has one), and the listing retried once; no lease is taken, no
    /// progress touched, no checkpoint created. Returns the number of messages sent.
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
        if end <= earliest {
            return Err(ListWindowError::TooOld { start, earliest });
        }
        let mut seen: HashSet<String> = HashSet::new();
        let mut sent = 0usize;
        let mut rejected = PairSummary::new(tenant.clone(), ct);
        for slice in self.rules.split(start, end) {
            // Planned earlier, listed now: a slice whose start fell out of reach meanwhile is
            // clamped to the reach at listing time (the part before it is gone either way).
            let Some(window) = self.rules.clamp(slice, self.now()) else {
                info!(tenant_id = %tenant, content_type = %ct, start = %slice.start, end = %slice.end, "slice no longer listable (older than the API's reach); skipped");
                continue;
            };
            let mut pages = WindowPages::new(window);
            while let Some(page) =
                pages
                    .next(self, client, ct, deadline)
                    .await
                    .map_err(|source| ListWindowError::Api {
                        tenant: tenant.clone(),
                        content_type: ct,
                        source,
                    })?
            {
                self.report_odd_entries(tenant, ct, &page.page, &mut rejected)
                    .await
                    .map_err(ListWindowError::Report)?;
                let fresh = dedupe(page.page.entries, |id| seen.contains(id));
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
        }
        info!(tenant_id = %tenant, content_type = %ct, %start, %end, sent, "window replayed");
        Ok(sent)
    }
}
