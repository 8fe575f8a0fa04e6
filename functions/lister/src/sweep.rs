//! The reach sweep: on its own schedule, re-list each pair's whole reach (7 days, within the
//! window rules) and enqueue every listed blob that is neither stored nor recently sent. It
//! finds what the overlap cannot: blobs that became listable hours or days after their
//! `contentCreated`. It costs listing requests only; a blob enqueued again is a no-op for
//! the fetcher (one object per content id).

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use o365_activity::checkpoint::{saturating_sub, Checkpoint, LastSweep};
use o365_activity::claim::ContentClaim;
use o365_activity::client::ActivityClient;
use o365_activity::keys::ObjectKey;
use o365_activity::metrics::MetricSet;
use o365_activity::queue::Queue;
use o365_activity::store::ObjectStore;
use o365_activity::tenants::TenantConfig;
use o365_activity::{ContentListing, ContentType, QueueMessage, TenantId};
use serde::Serialize;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::error::{PairError, PairErrorKind};
use crate::plan::{dedupe, floor_second};
use crate::run::Lister;
use crate::summary::PairSummary;
use crate::window::WindowPages;

/// A listed blob not stored whose expiry is closer than this counts in `BlobsNearExpiry`.
const NEAR_EXPIRY: TimeDelta = TimeDelta::hours(24);

/// Days of data partitions read on each side of the swept range: a blob listed again under
/// a later `contentCreated` may be stored under an earlier day.
const PARTITION_MARGIN: TimeDelta = TimeDelta::days(1);

/// What a sweep did for one tenant × content type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairSweep {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The content type.
    pub content_type: ContentType,
    /// Blobs listed over the swept range (repeats counted once).
    pub listed: u64,
    /// Listed blobs neither stored nor recently sent: enqueued again.
    pub recovered: u64,
    /// Of those, blobs whose `contentExpiration` is within 24 hours.
    pub near_expiry: u64,
    /// Listing entries that could not be read (each kept in an error report).
    pub entries_rejected: u64,
    /// Why the sweep of this pair did not finish, if it did not.
    pub error: Option<PairError>,
}

/// Everything one sweep did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    /// One entry per tenant × content type swept, in configuration order.
    pub pairs: Vec<PairSweep>,
}

impl SweepSummary {
    /// Blobs enqueued again over all pairs.
    pub fn recovered(&self) -> u64 {
        self.pairs.iter().map(|p| p.recovered).sum()
    }

    /// Pairs whose sweep failed.
    pub fn failed(&self) -> impl Iterator<Item = &PairSweep> {
        self.pairs.iter().filter(|p| p.error.is_some())
    }

    /// The summary, once its one log line is written.
    fn logged(self) -> SweepSummary {
        let (recovered, failed) = (self.recovered(), self.failed().count());
        info!(
            pairs = self.pairs.len(),
            recovered, failed, "sweep finished"
        );
        self
    }
}

/// The content id of a stored blob, its claim or its error report (keys parsed by the one
/// key layout); `None` for any other object.
fn content_id_of(key: ObjectKey) -> Option<String> {
    match key {
        ObjectKey::Data(d) => Some(d.content_id),
        ObjectKey::Error(e) => Some(e.content_id),
        ObjectKey::Claim(c) => Some(c.content_id),
        _ => None,
    }
}

impl<S: ObjectStore, Q: Queue> Lister<S, Q> {
    /// Sweeps every configured pair once, one after another, until `deadline`: each pair
    /// with a checkpoint is re-listed from the reach to its watermark less the overlap (a
    /// run re-lists the rest), and every blob neither stored nor remembered as sent is
    /// enqueued. Records the sweep in the pair's checkpoint and emits `LateBlobsRecovered`,
    /// `LateBlobLatenessSeconds` and `BlobsNearExpiry`.
    pub async fn sweep(&self, deadline: Instant) -> SweepSummary {
        let mut pairs = Vec::new();
        for (tenant, client) in &self.tenants {
            for ct in self.content_types_of(tenant) {
                if self.out_of_time(deadline) {
                    break;
                }
                let mut p = PairSweep {
                    tenant_id: tenant.tenant_id.clone(),
                    content_type: ct,
                    listed: 0,
                    recovered: 0,
                    near_expiry: 0,
                    entries_rejected: 0,
                    error: None,
                };
                if let Err(e) = self.sweep_pair(tenant, client, ct, &mut p, deadline).await {
                    warn!(tenant_id = %tenant.tenant_id, content_type = %ct, error = %e, kind = %e.kind(), "sweep of this pair did not finish");
                    p.error = Some(e);
                }
                self.emit_sweep_metrics(&p);
                pairs.push(p);
            }
        }
        SweepSummary { pairs }.logged()
    }

    async fn sweep_pair(
        &self,
        tenant: &TenantConfig,
        client: &ActivityClient,
        ct: ContentType,
        p: &mut PairSweep,
        deadline: Instant,
    ) -> Result<(), PairError> {
        let tenant_id = &tenant.tenant_id;
        let Some(loaded) = self
            .checkpoints
            .load(tenant_id, ct)
            .await
            .map_err(|e| PairError::checkpoint("reading the checkpoint", &e))?
        else {
            return Ok(()); // Never run: the first run lists the whole reach anyway.
        };
        let cp = loaded.checkpoint;
        let Some(watermark) = cp.watermark else {
            return Ok(());
        };
        let now = self.now();
        let start = self.rules.reach_start(now);
        let end = floor_second(saturating_sub(watermark.min(now), self.rules.overlap));
        let result = if start < end {
            self.sweep_range(client, &cp, start, end, p, deadline).await
        } else {
            Ok(())
        };
        let last = LastSweep {
            at: self.now(),
            listed: p.listed,
            recovered: p.recovered,
            near_expiry: p.near_expiry,
            error: result.as_ref().err().map(|e| e.message().to_owned()),
        };
        self.checkpoints
            .record_sweep(tenant_id, ct, last)
            .await
            .map_err(|e| PairError::checkpoint("recording the sweep", &e))?;
        result
    }

    async fn sweep_range(
        &self,
        client: &ActivityClient,
        cp: &Checkpoint,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        p: &mut PairSweep,
        deadline: Instant,
    ) -> Result<(), PairError> {
        let (tenant_id, ct) = (&cp.tenant_id, cp.content_type);
        let stored = self.stored_ids(tenant_id, ct, start, end).await?;
        let mut seen: HashSet<String> = HashSet::new();
        let mut rejected = PairSummary::new(tenant_id.clone(), ct);
        for window in self.rules.split(start, end) {
            let mut pages = WindowPages::new(window);
            loop {
                if self.out_of_time(deadline) {
                    return Err(PairError::new(
                        PairErrorKind::Listing,
                        format!("out of time at {ct} [{}, {}); the next sweep lists the whole reach again", window.start, window.end),
                    ));
                }
                let page = pages.next(self, client, ct, deadline).await.map_err(|e| {
                    PairError::api(
                        format_args!(
                            "sweeping {ct} [{}, {}) for tenant {tenant_id}",
                            window.start, window.end
                        ),
                        &e,
                    )
                })?;
                let Some(page) = page else { break };
                self.report_odd_entries(tenant_id, ct, &page.page, &mut rejected)
                    .await?;
                p.entries_rejected = rejected.entries_rejected;
                let fresh = dedupe(page.page.entries, |id| seen.contains(id));
                p.listed += fresh.fresh.len() as u64;
                seen.extend(fresh.fresh.iter().map(|e| e.content_id.clone()));
                let missing: Vec<&ContentListing> = fresh
                    .fresh
                    .iter()
                    .filter(|e| !stored.contains(&e.content_id) && !cp.was_sent(&e.content_id))
                    .collect();
                self.recover(tenant_id, &missing, p, deadline).await?;
            }
        }
        Ok(())
    }

    /// Enqueues blobs listed but not stored, counting them and how late each was.
    async fn recover(
        &self,
        tenant_id: &TenantId,
        missing: &[&ContentListing],
        p: &mut PairSweep,
        deadline: Instant,
    ) -> Result<(), PairError> {
        if missing.is_empty() {
            return Ok(());
        }
        let messages: Vec<QueueMessage> = missing
            .iter()
            .map(|e| QueueMessage::from_listing(tenant_id.clone(), e))
            .collect();
        self.queue
            .send_all(&messages, self.call_deadline(deadline))
            .await
            .map_err(|e| {
                PairError::new(
                    PairErrorKind::Queue,
                    format!("the queue did not accept the blobs the sweep recovered: {e}; the next sweep finds them again"),
                )
            })?;
        let now = self.now();
        let mut lateness = MetricSet::new()
            .dimension("TenantId", tenant_id.to_string())
            .dimension("ContentType", p.content_type.as_str());
        for e in missing {
            p.recovered += 1;
            let expires_in = e.content_expiration.signed_duration_since(now);
            if expires_in < NEAR_EXPIRY {
                p.near_expiry += 1;
            }
            // How long after its contentCreated the blob was found missing and enqueued.
            let late = now.signed_duration_since(e.content_created);
            lateness.seconds("LateBlobLatenessSeconds", late.num_seconds().max(0) as f64);
            info!(tenant_id = %tenant_id, content_type = %p.content_type, content_id = %e.content_id, content_created = %e.content_created, "sweep: listed but not stored; enqueued");
        }
        lateness.emit(&self.metrics);
        Ok(())
    }

    /// Content ids stored: data objects and permanent-failure error reports in the day
    /// partitions covering `[start, end)` plus a margin on each side, and every claim of the
    /// pair (`_ids/`, one per content id whatever partition its object is under) whose data
    /// key exists. A claim alone proves nothing: a fetcher stopped between the claim and the
    /// write, or a delivery that ended in the DLQ, leaves a claim without data.
    async fn stored_ids(
        &self,
        tenant_id: &TenantId,
        ct: ContentType,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<HashSet<String>, PairError> {
        let layout = self.checkpoints.layout();
        let data = layout.data_prefix(tenant_id, ct);
        let errors = format!(
            "{}tenant_id={tenant_id}/content_type={ct}/",
            layout.errors_prefix()
        );
        let mut prefixes = Vec::new();
        let mut day = saturating_sub(start, PARTITION_MARGIN).date_naive();
        let last = o365_activity::checkpoint::saturating_add(end, PARTITION_MARGIN).date_naive();
        while day <= last {
            for prefix in [&data, &errors] {
                prefixes.push(format!("{prefix}dt={}/", day.format("%Y-%m-%d")));
            }
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        let mut ids = HashSet::new();
        for prefix in prefixes {
            ids.extend(
                self.list_keys(&prefix)
                    .await?
                    .iter()
                    .filter_map(|k| layout.parse(k))
                    .filter_map(content_id_of),
            );
        }
        let claims = format!(
            "{}tenant_id={tenant_id}/content_type={ct}/",
            layout.claims_prefix()
        );
        for key in self.list_keys(&claims).await? {
            let Some(id) = layout.parse(&key).and_then(content_id_of) else {
                continue;
            };
            if !ids.contains(&id) && self.claimed_data_exists(&key).await? {
                ids.insert(id);
            }
        }
        Ok(ids)
    }

    /// Keys under `prefix`.
    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, PairError> {
        self.store.list(prefix).await.map_err(|e| {
            PairError::new(
                PairErrorKind::Checkpoint,
                format!("listing {prefix} to find what is stored: {e}"),
            )
        })
    }

    /// Whether the data key a claim pins exists. An unreadable or vanished claim counts as
    /// not stored: the blob is enqueued again and the fetcher reports the claim.
    async fn claimed_data_exists(&self, claim_key: &str) -> Result<bool, PairError> {
        let read_err = |e: &dyn std::fmt::Display| {
            PairError::new(
                PairErrorKind::Checkpoint,
                format!("reading the claim {claim_key} to find what is stored: {e}"),
            )
        };
        let Some(obj) = self.store.get(claim_key).await.map_err(|e| read_err(&e))? else {
            return Ok(false);
        };
        let Ok(claim) = ContentClaim::parse(claim_key, &obj.body) else {
            return Ok(false);
        };
        self.store
            .exists(&claim.data_key)
            .await
            .map_err(|e| read_err(&e))
    }

    fn emit_sweep_metrics(&self, p: &PairSweep) {
        let mut m = MetricSet::new()
            .dimension("TenantId", p.tenant_id.to_string())
            .dimension("ContentType", p.content_type.as_str());
        m.count("LateBlobsRecovered", p.recovered)
            .count("BlobsNearExpiry", p.near_expiry)
            .count("ListingEntriesRejected", p.entries_rejected);
        m.emit(&self.metrics);
        let mut total = MetricSet::new();
        total
            .count("LateBlobsRecovered", p.recovered)
            .count("BlobsNearExpiry", p.near_expiry);
        total.emit(&self.metrics);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use o365_activity::keys::KeyLayout;

    #[test]
    fn content_ids_from_stored_keys() {
        let layout = KeyLayout::new("o365");
        let t = "00000000-0000-0000-0000-000000000001";
        let id =
            "20260301101500120000001$20260301103318440000002$audit_exchange$Audit_Exchange$na0001";
        for key in [
            format!("o365/tenant_id={t}/content_type=Audit.Exchange/dt=2026-03-01/hour=10/{id}.json.gz"),
            format!("o365/tenant_id={t}/content_type=Audit.Exchange/dt=2026-03-01/hour=10/{id}.json.zst"),
            format!("o365/_errors/tenant_id={t}/content_type=Audit.Exchange/dt=2026-03-01/{id}.json"),
            format!("o365/_ids/tenant_id={t}/content_type=Audit.Exchange/{id}.json"),
        ] {
            let parsed = layout.parse(&key).unwrap_or_else(|| panic!("{key}"));
            assert_eq!(content_id_of(parsed).as_deref(), Some(id), "{key}");
        }
        let checkpoint =
            format!("o365/_state/tenant_id={t}/content_type=Audit.Exchange/checkpoint.json");
        assert_eq!(layout.parse(&checkpoint).and_then(content_id_of), None);
    }
}
