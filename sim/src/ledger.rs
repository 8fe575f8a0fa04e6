//! The ledger: what the simulator published, served and was asked, so tests can prove
//! a collector got everything exactly once and never broke a rule.

use std::collections::BTreeMap;

use axum::http::{Method, Uri};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A snapshot of the ledger; the same JSON as `GET /_sim/ledger`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Ledger {
    /// Simulated time the snapshot was taken.
    pub now: Option<DateTime<Utc>>,
    /// Every blob that has become listable so far, in availability order.
    pub published: Vec<PublishedBlob>,
    /// How many times each blob (by content id) was served with a 200 and its full body.
    pub served: BTreeMap<String, u64>,
    /// Every request received, in arrival order.
    pub requests: Vec<RequestRecord>,
    /// Records Purview (the Graph view) has that the Management feed's normal blobs lack:
    /// withheld, never published, or Purview-only (generated so far, whatever the clock).
    #[serde(default)]
    pub held_back: Vec<HeldBackRecord>,
}

/// Why the Management feed's normal blobs lack a record Purview has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeldBack {
    /// Left out of its blob; listed later in a late blob (`withhold-rate`).
    Withheld,
    /// Never published by the Management API (`never-published`).
    NeverPublished,
    /// Of a record type the Management API never sends (`purview-only`).
    PurviewOnly,
}

/// One record held back from the Management feed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HeldBackRecord {
    /// Tenant.
    pub tenant_id: String,
    /// The record's `Id` (Graph's `auditData.Id`).
    pub id: String,
    /// Its `CreationTime`.
    pub creation_time: DateTime<Utc>,
    /// Why it is held back.
    pub kind: HeldBack,
    /// Content type it belongs to (`Audit.General` for Purview-only records).
    pub content_type: String,
    /// Its `RecordType` (Graph's `auditLogRecordType` is named from it), `None` when the
    /// record carries none readable.
    #[serde(default)]
    pub record_type: Option<i64>,
    /// The `contentCreated` of the blob holding it: Purview lists the record from then on.
    #[serde(default)]
    pub content_created: Option<DateTime<Utc>>,
    /// The late blob that lists it (withheld records only).
    pub content_id: Option<String>,
    /// When that late blob becomes listable (withheld records only).
    pub available_at: Option<DateTime<Utc>>,
}

/// One published blob.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PublishedBlob {
    /// Tenant the blob belongs to.
    pub tenant_id: String,
    /// Content type wire name.
    pub content_type: String,
    /// The blob's `contentId`.
    pub content_id: String,
    /// The blob's `contentUri`.
    pub content_uri: String,
    /// `contentCreated` of its (first) listing entry.
    pub content_created: DateTime<Utc>,
    /// `contentExpiration` as listed.
    pub content_expiration: DateTime<Utc>,
    /// Every record `Id` in the body, in body order (a duplicated record appears twice).
    pub record_ids: Vec<String>,
    /// Number of records in the body.
    pub record_count: usize,
    /// Simulated time the blob became listable (later than `content_created` for late blobs).
    pub available_at: DateTime<Utc>,
    /// Fault applied to this blob (`truncated`, `malformed`, `late`, `early-expiry`, `duplicate-records`, `injected`, …).
    pub fault: Option<String>,
    /// Further `contentCreated` values under which the same blob is listed again.
    pub relisted_at: Vec<DateTime<Utc>>,
    /// Whether the tenant's current subscription lets a client list and fetch it.
    pub visible: bool,
}

/// One request the simulator answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RequestRecord {
    /// Simulated time of arrival.
    pub at: DateTime<Utc>,
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// HTTP status answered (for `drop-connection`, the status line that was sent before the cut).
    pub status: u16,
    /// Tenant in the URL, if any.
    pub tenant_id: Option<String>,
    /// Operation (`token`, `start`, `stop`, `list`, `content`, `notifications`, `blob`, `dlpSensitiveTypes`).
    pub operation: Option<String>,
    /// `contentType` parameter, or the blob's content type.
    pub content_type: Option<String>,
    /// Blob requested (blob downloads only).
    pub content_id: Option<String>,
    /// AF code (or token error) of an error answer.
    pub error_code: Option<String>,
    /// `PublisherIdentifier` sent, if any.
    pub publisher_identifier: Option<String>,
    /// Listing window actually applied (after defaulting), for listing calls that got that far.
    pub start_time: Option<DateTime<Utc>>,
    /// End of the listing window actually applied.
    pub end_time: Option<DateTime<Utc>>,
    /// Whether the caller sent both `startTime` and `endTime` (false when defaulted).
    pub window_given: bool,
    /// Scenario fault injected into this answer, if any.
    pub fault: Option<String>,
}

impl RequestRecord {
    /// A request as it arrived (time, method, path and query), its answer still to be filled in.
    pub fn arrived(at: DateTime<Utc>, method: &Method, uri: &Uri) -> Self {
        Self {
            at,
            method: method.to_string(),
            path: uri.path().to_string(),
            query: uri.query().map(str::to_string),
            status: 0,
            tenant_id: None,
            operation: None,
            content_type: None,
            content_id: None,
            error_code: None,
            publisher_identifier: None,
            start_time: None,
            end_time: None,
            window_given: false,
            fault: None,
        }
    }
}

impl Ledger {
    /// Requests whose status is not 2xx.
    pub fn errors(&self) -> impl Iterator<Item = &RequestRecord> {
        self.requests
            .iter()
            .filter(|r| !(200..300).contains(&r.status))
    }

    /// Published blobs of one tenant and content type.
    pub fn published_for<'a>(
        &'a self,
        tenant_id: &'a str,
        content_type: &'a str,
    ) -> impl Iterator<Item = &'a PublishedBlob> + 'a {
        self.published
            .iter()
            .filter(move |b| b.tenant_id == tenant_id && b.content_type == content_type)
    }

    /// Ids of one tenant's held-back records of one kind, in generation order.
    pub fn held_back_ids(&self, tenant_id: &str, kind: HeldBack) -> Vec<String> {
        self.held_back
            .iter()
            .filter(|r| r.kind == kind && r.tenant_id.eq_ignore_ascii_case(tenant_id))
            .map(|r| r.id.clone())
            .collect()
    }

    /// Ids the Management feed withheld from a tenant's normal blobs (listed later in late blobs).
    pub fn withheld_ids(&self, tenant_id: &str) -> Vec<String> {
        self.held_back_ids(tenant_id, HeldBack::Withheld)
    }

    /// Ids of a tenant the Management API never publishes.
    pub fn never_published_ids(&self, tenant_id: &str) -> Vec<String> {
        self.held_back_ids(tenant_id, HeldBack::NeverPublished)
    }

    /// Ids of a tenant's Purview-only records.
    pub fn purview_only_ids(&self, tenant_id: &str) -> Vec<String> {
        self.held_back_ids(tenant_id, HeldBack::PurviewOnly)
    }

    /// Total records in the published blobs.
    pub fn published_records(&self) -> usize {
        self.published.iter().map(|b| b.record_count).sum()
    }
}
