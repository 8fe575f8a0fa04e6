//! One audit run over a tenant's hours: Purview per hour, the stored side once for all
//! hours, recovery of what is missing within reach, then the reports.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;
use tracing::{info, warn};

use super::purview::{confirm, missing, query_hour, PurviewHour, QueryPlan};
use super::record_types::query_filters;
use super::report::{AuditCost, AuditReport, AuditSummary, RecoveryNote, Verdict};
use super::stored::{hour_of, read_stored_ids, IdsByHour, StoredHour, StoredScope};
use super::{AuditError, Auditor, PurviewSource, Recovery, Window, REACH};
use crate::client::ClientError;
use crate::store::ObjectStore;
use crate::tenants::TenantConfig;

const HOUR: TimeDelta = TimeDelta::hours(1);

/// The stored Ids of hour `h` that are compared with Purview.
fn ids_of<'a>(stored: &'a IdsByHour, h: &DateTime<Utc>) -> &'a HashSet<String> {
    static EMPTY: std::sync::OnceLock<HashSet<String>> = std::sync::OnceLock::new();
    stored
        .get(h)
        .map_or_else(|| EMPTY.get_or_init(HashSet::new), |s| &s.ids)
}

/// Whether a Graph failure ends the run (nothing could be concluded for any hour) rather
/// than making one hour inconclusive.
fn ends_the_run(e: &ClientError) -> bool {
    match e {
        ClientError::Transport { .. }
        | ClientError::Token { .. }
        | ClientError::Credential(_)
        | ClientError::ForeignUri { .. } => true,
        ClientError::Api { status, .. } => matches!(status, 401 | 403),
        _ => false,
    }
}

impl<S: ObjectStore> Auditor<S> {
    /// Audits `hours` (any times; each stands for its hour) of `tenant` against `source`,
    /// recovers missing records within reach through `recovery`, writes one report per hour
    /// and returns the summary. Fails only when Graph or the bucket cannot be used at all;
    /// a single hour that cannot be concluded is reported `inconclusive`.
    pub async fn audit_tenant<P: PurviewSource, R: Recovery>(
        &self,
        tenant: &TenantConfig,
        source: &P,
        hours: &[DateTime<Utc>],
        recovery: &R,
        deadline: Instant,
    ) -> Result<AuditSummary, AuditError> {
        let hours: BTreeSet<DateTime<Utc>> = hours.iter().map(|h| hour_of(*h)).collect();
        let plan = QueryPlan {
            filters: query_filters(&tenant.content_types),
            min_window: self.settings.min_window,
            max_queries: self.settings.max_queries_per_hour,
            max_retries: self.settings.max_query_retries,
        };
        let mut cost = AuditCost::default();
        // Purview first, then the collection brought up to date, then the stored side: a
        // record Purview shows sits in a blob created before the query, so a catch-up
        // listing that starts after it lists that blob, and a record published since the
        // last collection run is not taken for a missing one.
        let mut purview: BTreeMap<DateTime<Utc>, PurviewHour> = BTreeMap::new();
        for h in &hours {
            let end = h
                .checked_add_signed(HOUR)
                .ok_or_else(|| AuditError::BadWindow("hour out of range".into()))?;
            let ph = match query_hour(source, &plan, *h, end, deadline).await {
                Ok(ph) => ph,
                Err(e) if ends_the_run(&e) => return Err(AuditError::Graph(e)),
                Err(e) => PurviewHour {
                    inconclusive: Some(format!("the Graph query failed: {e}")),
                    ..PurviewHour::default()
                },
            };
            purview.insert(*h, ph);
        }
        if let Err(e) = recovery.catch_up(tenant, deadline).await {
            warn!(tenant_id = %tenant.tenant_id, error = %e, "audit: collecting since the checkpoints failed");
        }
        let mut stored = self.stored(tenant, &hours, &mut cost).await?;
        for (h, ph) in purview.iter_mut() {
            if ph.inconclusive.is_none() && !missing(&ph.read.ids, ids_of(&stored, h)).is_empty() {
                if let Err(e) =
                    confirm(source, &plan, ph, self.settings.max_rereads, deadline).await
                {
                    ph.inconclusive = Some(format!("re-reading the query failed: {e}"));
                }
            }
            cost.graph_queries = cost.graph_queries.saturating_add(ph.query_ids.len() as u64);
            cost.graph_pages = cost.graph_pages.saturating_add(ph.pages);
        }
        let missing_hours: BTreeSet<DateTime<Utc>> = purview
            .iter()
            .filter(|(h, ph)| {
                ph.inconclusive.is_none() && !missing(&ph.read.ids, ids_of(&stored, h)).is_empty()
            })
            .map(|(h, _)| *h)
            .collect();
        let now = self.clock.now();
        let reach_start = now.checked_sub_signed(REACH).unwrap_or(now);
        let mut notes: BTreeMap<DateTime<Utc>, RecoveryNote> = BTreeMap::new();
        let windows = self.recovery_windows(&missing_hours, reach_start, now);
        if !windows.is_empty() {
            let before: BTreeMap<DateTime<Utc>, usize> = missing_hours
                .iter()
                .map(|h| {
                    let m = missing(&purview[h].read.ids, ids_of(&stored, h));
                    (*h, m.len())
                })
                .collect();
            let (relisted, error) = match recovery.relist(tenant, &windows, deadline).await {
                Ok(r) => (r, None),
                Err(e) => {
                    warn!(tenant_id = %tenant.tenant_id, error = %e, "audit recovery failed");
                    (super::Relisted::default(), Some(e))
                }
            };
            // The reports keep what was missing at audit time; what recovery stored shows
            // in their recovery note (and the next audit finds it stored).
            let after = if relisted.stored && error.is_none() {
                // The same partitions as the first read (a record of an hour can sit in a
                // blob created long after it when the settle delay is short).
                Some(self.stored(tenant, &hours, &mut cost).await?)
            } else {
                None
            };
            for h in &missing_hours {
                let hour_windows: Vec<Window> = windows
                    .iter()
                    .filter(|(s, e)| *s < self.latest_created(*h) && *e > *h)
                    .copied()
                    .collect();
                if hour_windows.is_empty() {
                    continue;
                }
                let now_stored = ids_of(after.as_ref().unwrap_or(&stored), h);
                let still = missing(&purview[h].read.ids, now_stored).len();
                notes.insert(
                    *h,
                    RecoveryNote {
                        windows: hour_windows,
                        blobs_sent: relisted.blobs_sent,
                        recovered_records: before[h].saturating_sub(still) as u64,
                        stored_before_reaudit: relisted.stored,
                        error: error.clone(),
                    },
                );
            }
        }
        let mut summary = AuditSummary::default();
        for (h, ph) in purview {
            let ours = stored.remove(&h).unwrap_or_default();
            let beyond_reach = self.latest_created(h) <= reach_start;
            let report = self.report(tenant, h, ph, &ours, notes.remove(&h), beyond_reach, now);
            let key = report
                .store(&self.store, &self.layout)
                .await
                .map_err(AuditError::Store)?;
            summary.push(report, key);
        }
        summary.cost = cost;
        info!(
            tenant_id = %tenant.tenant_id,
            hours = summary.hours,
            missing = summary.missing_records,
            inconclusive = summary.inconclusive_hours,
            "audit finished"
        );
        Ok(summary)
    }

    async fn stored(
        &self,
        tenant: &TenantConfig,
        hours: &BTreeSet<DateTime<Utc>>,
        cost: &mut AuditCost,
    ) -> Result<IdsByHour, AuditError> {
        let scope = StoredScope {
            tenant: &tenant.tenant_id,
            content_types: &tenant.content_types,
            settle: self.settings.settle,
            now: self.clock.now(),
        };
        read_stored_ids(&self.store, &self.layout, &scope, hours, cost).await
    }

    /// The latest `contentCreated` of a blob that can hold records of hour `h`.
    fn latest_created(&self, h: DateTime<Utc>) -> DateTime<Utc> {
        h.checked_add_signed(HOUR + self.settings.settle)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The `contentCreated` windows that could hold the missing hours' records, clipped to
    /// the reach and merged where they overlap.
    fn recovery_windows(
        &self,
        hours: &BTreeSet<DateTime<Utc>>,
        reach_start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<Window> {
        let mut out: Vec<Window> = Vec::new();
        for h in hours {
            let start = (*h).max(reach_start);
            let end = self.latest_created(*h).min(now);
            if start >= end {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.1 >= start => last.1 = last.1.max(end),
                _ => out.push((start, end)),
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        tenant: &TenantConfig,
        hour: DateTime<Utc>,
        ph: PurviewHour,
        ours: &StoredHour,
        recovery: Option<RecoveryNote>,
        beyond_reach: bool,
        now: DateTime<Utc>,
    ) -> AuditReport {
        let n = self.settings.max_ids_in_report;
        let lacking = missing(&ph.read.ids, &ours.ids);
        let only: BTreeSet<String> = ours.ids.difference(&ph.read.ids).cloned().collect();
        if !ours.unaudited.is_empty() {
            warn!(
                tenant_id = %tenant.tenant_id,
                hour = %crate::time::format_rfc3339_z(hour),
                records = ours.unaudited.len(),
                record_types = ?ours.unaudited_types,
                "audit: stored records of record types Purview is not asked for (no documented content type, or not collected): a loss among records of these types cannot be detected"
            );
        }
        let verdict = match (&ph.inconclusive, lacking.is_empty()) {
            (Some(_), _) => Verdict::Inconclusive,
            (None, true) => Verdict::Complete,
            (None, false) => Verdict::Missing,
        };
        let conclusive = verdict != Verdict::Inconclusive;
        AuditReport {
            format_version: super::report::AUDIT_FORMAT_VERSION,
            tenant_id: tenant.tenant_id.clone(),
            hour,
            audited_at: now,
            verdict,
            purview_records: ph.read.ids.len() as u64,
            purview_duplicates: ph.read.duplicates,
            purview_excluded: ph.read.excluded,
            stored_records: ours.ids.len().saturating_add(ours.unaudited.len()) as u64,
            unaudited_records: ours.unaudited.len() as u64,
            unaudited_record_types: ours.unaudited_types.iter().copied().collect(),
            missing_records: if conclusive { lacking.len() as u64 } else { 0 },
            missing_ids: if conclusive {
                lacking.iter().take(n).cloned().collect()
            } else {
                Vec::new()
            },
            only_stored_records: only.len() as u64,
            only_stored_ids: only.into_iter().take(n).collect(),
            query_ids: ph.query_ids,
            record_count_limit_hit: ph.limit_hit,
            reads: ph.reads,
            inconclusive_reason: ph.inconclusive,
            recovery,
            confirmed_gap: verdict == Verdict::Missing && beyond_reach,
        }
    }
}
