//! The per-hour audit report stored at `<prefix>/_audit/tenant_id=…/dt=…/hour=HH.json`, and
//! the summary of one audit run (what the CLI prints and the auditor function's metrics).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::keys::KeyLayout;
use crate::metrics::MetricSet;
use crate::store::{ObjectMeta, ObjectStore, PutCondition, PutOutcome, StoreError};
use crate::TenantId;

/// Version of the report format, written in every report.
pub const AUDIT_FORMAT_VERSION: u32 = 1;

/// Conditional writes of one report before giving up on a concurrent writer.
const STORE_ATTEMPTS: u32 = 3;

/// What the audit concluded for one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every record Purview lists for the hour is stored.
    Complete,
    /// Purview lists records we did not store (confirmed by a second read of its pages).
    Missing,
    /// The audit could not conclude (query failed or timed out, truncated at the smallest
    /// window, paging never agreed with itself, stored data unreadable): no alarm on missing.
    Inconclusive,
}

/// What recovery did for an hour with missing records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryNote {
    /// The `contentCreated` windows re-listed (`[start, end)`, RFC 3339).
    pub windows: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Blobs the re-listing sent again.
    pub blobs_sent: u64,
    /// Missing records found stored after recovery (0 while a queued recovery is pending);
    /// the hour stays `missing` and is audited again.
    pub recovered_records: u64,
    /// Whether the re-listed blobs were already stored when the re-audit ran (local runs);
    /// `false` when they were queued for the fetcher (the next audit run re-audits).
    pub stored_before_reaudit: bool,
    /// Why recovery failed, if it did.
    pub error: Option<String>,
}

/// The report of one tenant and event-time hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    /// [`AUDIT_FORMAT_VERSION`].
    pub format_version: u32,
    /// The tenant.
    pub tenant_id: TenantId,
    /// Start of the audited event-time hour.
    pub hour: DateTime<Utc>,
    /// When the audit ran.
    pub audited_at: DateTime<Utc>,
    /// The verdict.
    pub verdict: Verdict,
    /// Distinct `auditData.Id`s Purview lists for the hour (of the queried record types).
    pub purview_records: u64,
    /// Records Purview listed more than once (by-design duplicates), counted once above.
    pub purview_duplicates: u64,
    /// Purview records left out: types the configured content types do not carry, or no
    /// `auditData.Id`.
    pub purview_excluded: u64,
    /// Distinct record `Id`s stored whose `_o365.event_time` is in the hour (unaudited
    /// ones included).
    pub stored_records: u64,
    /// Of those, records of types Purview is not asked for (no documented content type in
    /// `shared/src/audit/record_types.rs`, or of a content type not collected): the audit
    /// cannot see a loss among records of these types. Not an alarm; shown so that the
    /// part of the hour the audit does not cover is known.
    #[serde(default)]
    pub unaudited_records: u64,
    /// Their `RecordType`s, sorted.
    #[serde(default)]
    pub unaudited_record_types: Vec<i64>,
    /// Purview Ids not stored when the audit ran (before any recovery): their total.
    pub missing_records: u64,
    /// The first of them (sorted), at most the configured number.
    pub missing_ids: Vec<String>,
    /// Stored Ids Purview does not list: their total (not an alarm: Purview may lag).
    pub only_stored_records: u64,
    /// The first of them (sorted).
    pub only_stored_ids: Vec<String>,
    /// The Graph query ids (more than one when the window was split).
    pub query_ids: Vec<String>,
    /// Whether any query hit the record-count limit (its window was then split).
    pub record_count_limit_hit: bool,
    /// Times the records of the queries were read (more than once when checked).
    pub reads: u32,
    /// Why the verdict is inconclusive, if it is.
    pub inconclusive_reason: Option<String>,
    /// Recovery, when missing records were within reach.
    pub recovery: Option<RecoveryNote>,
    /// Missing records whose blobs are beyond the 7-day reach: a confirmed gap.
    pub confirmed_gap: bool,
}

impl AuditReport {
    /// Reads a stored report.
    pub fn parse(body: &[u8]) -> Result<AuditReport, serde_json::Error> {
        serde_json::from_slice(body)
    }

    /// Writes the report at its key: created with `If-None-Match`, or, when a re-audit
    /// replaces it, with `If-Match` on the version read just before (the bucket policy denies
    /// unconditional writes under the prefix). A version changed in between is read again.
    pub async fn store<S: ObjectStore>(
        &self,
        store: &S,
        layout: &KeyLayout,
    ) -> Result<String, StoreError> {
        let key = layout.audit_key(&self.tenant_id, self.hour);
        let body = serde_json::to_vec_pretty(self).map_err(|e| StoreError::Io {
            op: "encode audit report",
            key: key.clone(),
            source: std::io::Error::other(e),
        })?;
        let meta = ObjectMeta {
            content_type: "application/json".into(),
            content_encoding: None,
        };
        let body = bytes::Bytes::from(body);
        for _ in 0..STORE_ATTEMPTS {
            let condition = match store.get(&key).await? {
                Some(current) => PutCondition::IfMatch(current.etag),
                None => PutCondition::IfNoneMatch,
            };
            if let PutOutcome::Written { .. } =
                store.put(&key, body.clone(), &meta, condition).await?
            {
                return Ok(key);
            }
        }
        Err(StoreError::Io {
            op: "write audit report",
            key,
            source: std::io::Error::other(
                "the report changed under every attempt: another audit of this tenant is running; run one at a time",
            ),
        })
    }

    /// Loads the report of `tenant`'s hour holding `at`, if any (an unreadable one counts as
    /// absent: it is audited again).
    pub async fn load<S: ObjectStore>(
        store: &S,
        layout: &KeyLayout,
        tenant: &TenantId,
        at: DateTime<Utc>,
    ) -> Result<Option<AuditReport>, StoreError> {
        let key = layout.audit_key(tenant, at);
        Ok(store
            .get(&key)
            .await?
            .and_then(|o| AuditReport::parse(&o.body).ok()))
    }
}

/// What reading the stored side and querying Purview cost in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCost {
    /// Graph queries created (one per hour, more when split).
    pub graph_queries: u64,
    /// Graph record pages read.
    pub graph_pages: u64,
    /// Store LIST calls.
    pub store_lists: u64,
    /// Data objects read (GET).
    pub objects_read: u64,
    /// Compressed bytes read.
    pub bytes_read: u64,
    /// Stored records parsed.
    pub records_parsed: u64,
}

impl AuditCost {
    /// Adds another run's cost.
    pub fn add(&mut self, o: &AuditCost) {
        self.graph_queries = self.graph_queries.saturating_add(o.graph_queries);
        self.graph_pages = self.graph_pages.saturating_add(o.graph_pages);
        self.store_lists = self.store_lists.saturating_add(o.store_lists);
        self.objects_read = self.objects_read.saturating_add(o.objects_read);
        self.bytes_read = self.bytes_read.saturating_add(o.bytes_read);
        self.records_parsed = self.records_parsed.saturating_add(o.records_parsed);
    }
}

/// The outcome of auditing one tenant's hours.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSummary {
    /// Hours audited.
    pub hours: u64,
    /// Hours `complete`.
    pub complete_hours: u64,
    /// Hours `missing`.
    pub missing_hours: u64,
    /// Hours `inconclusive`.
    pub inconclusive_hours: u64,
    /// Distinct Purview records over the hours.
    pub purview_records: u64,
    /// Distinct stored records over the hours.
    pub stored_records: u64,
    /// Of those, records of types the audit cannot check (see [`AuditReport`]).
    #[serde(default)]
    pub unaudited_records: u64,
    /// Records Purview lists that were not stored when the audit ran (the alarm's metric),
    /// whatever recovery then did.
    pub missing_records: u64,
    /// Of those, the records recovery stored before the run ended (the next audit of their
    /// hours finds them stored).
    pub recovered_records: u64,
    /// Missing records beyond the 7-day reach.
    pub confirmed_gap_records: u64,
    /// Where the reports were written.
    pub report_keys: Vec<String>,
    /// The reports, hour by hour.
    pub reports: Vec<AuditReport>,
    /// What the run cost.
    pub cost: AuditCost,
}

impl AuditSummary {
    /// Counts a report in.
    pub fn push(&mut self, report: AuditReport, key: String) {
        self.hours = self.hours.saturating_add(1);
        match report.verdict {
            Verdict::Complete => self.complete_hours += 1,
            Verdict::Missing => self.missing_hours += 1,
            Verdict::Inconclusive => self.inconclusive_hours += 1,
        }
        self.purview_records = self.purview_records.saturating_add(report.purview_records);
        self.stored_records = self.stored_records.saturating_add(report.stored_records);
        self.unaudited_records = self
            .unaudited_records
            .saturating_add(report.unaudited_records);
        self.missing_records = self.missing_records.saturating_add(report.missing_records);
        if let Some(r) = &report.recovery {
            self.recovered_records = self.recovered_records.saturating_add(r.recovered_records);
        }
        if report.confirmed_gap {
            self.confirmed_gap_records = self
                .confirmed_gap_records
                .saturating_add(report.missing_records);
        }
        self.report_keys.push(key);
        self.reports.push(report);
    }

    /// Adds another tenant's summary.
    pub fn merge(&mut self, other: AuditSummary) {
        for (report, key) in other.reports.into_iter().zip(other.report_keys) {
            self.push(report, key);
        }
        self.cost.add(&other.cost);
    }

    /// The hours to audit again: not `complete` and not a confirmed gap.
    pub fn reaudit_hours(&self) -> impl Iterator<Item = &AuditReport> {
        self.reports
            .iter()
            .filter(|r| r.verdict != Verdict::Complete && !r.confirmed_gap)
    }

    /// The EMF metrics of the run: `AuditMissingRecords` (records found missing),
    /// `AuditInconclusive` (hours), `AuditHours`, `AuditRecoveredRecords`,
    /// `AuditConfirmedGapRecords`, with no dimension (what the alarm watches).
    pub fn metric_set(&self) -> MetricSet {
        let mut m = MetricSet::new();
        m.count("AuditMissingRecords", self.missing_records)
            .count("AuditInconclusive", self.inconclusive_hours)
            .count("AuditHours", self.hours)
            .count("AuditRecoveredRecords", self.recovered_records)
            .count("AuditConfirmedGapRecords", self.confirmed_gap_records);
        m
    }
}
