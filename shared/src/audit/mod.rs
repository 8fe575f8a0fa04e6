//! The completeness audit: for each tenant and settled event-time hour, compare the record
//! `Id`s Microsoft's Purview audit search lists (Graph audit log query API) with the records
//! stored for that hour, write a report per hour under `_audit/`, and recover what is
//! missing while it is still within the Management API's 7-day reach.
//!
//! * Purview side ([`purview`]): one query per hour limited to the record types the
//!   configured content types carry ([`record_types`]); a truncated query
//!   (`isRecordCountLimitExceeded`) is split in halves and queried again; records are joined
//!   on `auditData.Id` and by-design duplicates counted once; when the first read shows
//!   missing records, the pages are read again until a re-read adds nothing (else the hour
//!   is `inconclusive`).
//! * Stored side ([`stored`]): the data partitions that can hold the hour's records are
//!   read (no separate index), so deleting an object makes its records count as missing.
//! * Order: Purview is queried first, then the collection is brought up to date
//!   ([`Recovery::catch_up`], local runs), then the stored side is read, so a record published
//!   since the last collection run is not taken for a missing one.
//! * Recovery ([`Recovery`]): the `contentCreated` windows that could hold missing records
//!   (`[hour, hour + settle]`, within reach) are re-listed by the lister's sweep. The report
//!   keeps what was missing at audit time (verdict `missing`) and notes what recovery stored
//!   (local runs); the next run re-audits the hour ([`Auditor::due_hours`]). Missing records
//!   whose windows are all beyond reach are a confirmed gap.

pub mod purview;
pub mod record_types;
pub mod report;
pub mod stored;

use std::collections::BTreeSet;
use std::future::Future;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

use crate::client::ClientError;
use crate::clock::Clock;
use crate::keys::{KeyLayout, ObjectKey};
use crate::store::{ObjectStore, StoreError};
use crate::tenants::TenantConfig;

pub use purview::{GraphSource, PurviewSource};
pub use report::{AuditCost, AuditReport, AuditSummary, RecoveryNote, Verdict};

/// How far back the Management API serves content (its listing reach).
pub const REACH: TimeDelta = TimeDelta::days(7);

/// Audit tuning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// Bucket prefix of the data and reports.
    pub prefix: String,
    /// An hour is audited once it ended this long ago (default 48 h: the Management API can
    /// publish a day late or more).
    pub settle: TimeDelta,
    /// Missing (and only-stored) Ids written in a report, at most.
    pub max_ids_in_report: usize,
    /// Smallest window a truncated query is split down to.
    pub min_window: TimeDelta,
    /// Most queries per hour (splits included).
    pub max_queries_per_hour: u32,
    /// Re-reads of a query's pages before missing records are believed.
    pub max_rereads: u32,
    /// Re-submissions of a query that ended `failed` or `cancelled`, per hour, before the
    /// hour is `inconclusive` (audited again by the next run).
    pub max_query_retries: u32,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            prefix: String::new(),
            settle: TimeDelta::hours(48),
            max_ids_in_report: 100,
            min_window: TimeDelta::minutes(1),
            max_queries_per_hour: 64,
            max_rereads: 3,
            max_query_retries: 2,
        }
    }
}

/// Why an audit run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Graph could not be reached, or refused (permission, tenant): nothing was concluded.
    #[error("the Graph audit log query API failed: {0}; check the Graph permission AuditLogsQuery.Read.All (application, admin consent) on the app registration and the Graph endpoint")]
    Graph(#[source] ClientError),
    /// The bucket could not be read or written.
    #[error("storage: {0}")]
    Store(#[source] StoreError),
    /// A stored data object could not be decompressed.
    #[error("stored object {key} cannot be read: {message}")]
    Unreadable {
        /// The object.
        key: String,
        /// Why.
        message: String,
    },
    /// An audit window out of range.
    #[error("bad audit window: {0}")]
    BadWindow(String),
}

impl AuditError {
    /// Whether the failure is an endpoint that could not be reached (network, timeouts,
    /// token service down): the CLI's exit code 3.
    pub fn is_unreachable(&self) -> bool {
        match self {
            AuditError::Graph(e) => matches!(
                e,
                ClientError::Transport { .. }
                    | ClientError::DeadlineExceeded { .. }
                    | ClientError::Token {
                        retryable: true,
                        ..
                    }
            ),
            _ => false,
        }
    }
}

/// A `contentCreated` window `[start, end)` to re-list.
pub type Window = (DateTime<Utc>, DateTime<Utc>);

/// What a re-listing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relisted {
    /// Blobs sent again.
    pub blobs_sent: u64,
    /// Whether they are stored by the time `relist` returns (local pipeline) rather than
    /// queued for the fetcher.
    pub stored: bool,
}

/// Re-lists windows of a tenant so that blobs not stored are fetched: the lister's sweep.
pub trait Recovery: Send + Sync {
    /// Brings the tenant's collection up to date (a listing since the checkpoints, stored
    /// before it returns) after Purview was queried and before the stored side is read, so
    /// that records published since the last collection run do not count as missing.
    /// Returns the blobs it stored. The default does nothing (the collection runs on its own
    /// schedule, or the audit only reports).
    fn catch_up(
        &self,
        _tenant: &TenantConfig,
        _deadline: Instant,
    ) -> impl Future<Output = Result<u64, String>> + Send {
        async { Ok(0) }
    }

    /// Re-lists `windows` (each within the 7-day reach) for `tenant`.
    fn relist(
        &self,
        tenant: &TenantConfig,
        windows: &[Window],
        deadline: Instant,
    ) -> impl Future<Output = Result<Relisted, String>> + Send;
}

/// No recovery (report only).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRecovery;

impl Recovery for NoRecovery {
    async fn relist(
        &self,
        _tenant: &TenantConfig,
        _windows: &[Window],
        _deadline: Instant,
    ) -> Result<Relisted, String> {
        Ok(Relisted::default())
    }
}

/// The audit engine over one bucket.
#[derive(Debug, Clone)]
pub struct Auditor<S: ObjectStore> {
    store: S,
    layout: KeyLayout,
    settings: AuditSettings,
    clock: Clock,
}

mod engine;
#[cfg(test)]
mod tests;

impl<S: ObjectStore> Auditor<S> {
    /// An auditor over `store` (data and reports under `settings.prefix`).
    pub fn new(store: S, settings: AuditSettings, clock: Clock) -> Auditor<S> {
        Auditor {
            layout: KeyLayout::new(&settings.prefix),
            store,
            settings,
            clock,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &AuditSettings {
        &self.settings
    }

    /// The hour starts in `[from, to)` that have settled by now (ended at least `settle` ago).
    pub fn settled_hours(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, AuditError> {
        let now = self.clock.now();
        let limit = now
            .checked_sub_signed(self.settings.settle)
            .ok_or_else(|| AuditError::BadWindow("the settle delay is out of range".into()))?;
        let mut out = Vec::new();
        let mut h = stored::hour_of(from);
        if h < from {
            h = h
                .checked_add_signed(TimeDelta::hours(1))
                .ok_or_else(|| AuditError::BadWindow("start out of range".into()))?;
        }
        while h < to {
            let Some(end) = h.checked_add_signed(TimeDelta::hours(1)) else {
                break;
            };
            if end > limit || end > to {
                break;
            }
            out.push(h);
            h = end;
        }
        Ok(out)
    }

    /// The settled hours of the last `lookback` whose stored report is absent or not
    /// `complete` (a confirmed gap is final): what a scheduled run audits.
    pub async fn due_hours(
        &self,
        tenant: &TenantConfig,
        lookback: TimeDelta,
    ) -> Result<Vec<DateTime<Utc>>, AuditError> {
        let now = self.clock.now();
        let from = now
            .checked_sub_signed(lookback)
            .ok_or_else(|| AuditError::BadWindow("the lookback is out of range".into()))?;
        let settled = self.settled_hours(from, now)?;
        let keys = self
            .store
            .list(&self.layout.audit_prefix(&tenant.tenant_id))
            .await
            .map_err(AuditError::Store)?;
        let mut done = BTreeSet::new();
        for key in keys {
            let Some(ObjectKey::Audit(a)) = self.layout.parse(&key) else {
                continue;
            };
            let Some(start) = a.start() else { continue };
            if !settled.contains(&start) {
                continue;
            }
            let Some(report) = self
                .store
                .get(&key)
                .await
                .map_err(AuditError::Store)?
                .and_then(|o| AuditReport::parse(&o.body).ok())
            else {
                continue;
            };
            if report.verdict == Verdict::Complete || report.confirmed_gap {
                done.insert(start);
            }
        }
        Ok(settled.into_iter().filter(|h| !done.contains(h)).collect())
    }
}
