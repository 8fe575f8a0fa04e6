//! Engine tests against a stand-in Purview source and a local store.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use tokio::time::Instant;

use super::purview::FinishedQuery;
use super::*;
use crate::graph::{AuditLogQuery, AuditLogRecord, GraphVersion, NewAuditQuery, QueryStatus};
use crate::store::{LocalStore, ObjectMeta, PutCondition};
use crate::tenants::{Credential, TokenEndpoint};
use crate::{ContentType, TenantId};

const T: &str = "00000000-0000-0000-0000-000000000001";

fn tenant() -> TenantConfig {
    TenantConfig {
        tenant_id: T.parse().unwrap(),
        client_id: "00000000-0000-0000-0000-000000000c01".into(),
        credential: Credential::Secret(crate::secret::Secret::new("s")),
        endpoints: crate::cloud::Cloud::Enterprise.endpoints(),
        content_types: ContentType::ALL.to_vec(),
        publisher_id: T.into(),
        token_endpoint: TokenEndpoint::V2,
    }
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, h, m, 0).unwrap()
}

/// A Purview stand-in: records by time; a window holding more than `limit` records is
/// truncated; each of the first `flaky_reads` reads drops a different record.
#[derive(Default)]
struct FakePurview {
    records: Vec<(DateTime<Utc>, String, String)>,
    limit: usize,
    flaky_reads: AtomicU32,
    windows: Mutex<HashMap<String, Window>>,
    created: AtomicU32,
    reads: AtomicU32,
    /// Every read also returns an Id no read returned before (paging that never settles).
    phantoms: std::sync::atomic::AtomicBool,
    /// The next this many queries end `cancelled` (an admin cancelled them).
    cancelled: AtomicU32,
}

impl FakePurview {
    fn with(records: &[(DateTime<Utc>, &str)]) -> FakePurview {
        FakePurview {
            records: records
                .iter()
                .map(|(t, id)| (*t, id.to_string(), "exchangeItem".to_string()))
                .collect(),
            limit: usize::MAX,
            ..FakePurview::default()
        }
    }

    fn in_window(&self, s: DateTime<Utc>, e: DateTime<Utc>) -> Vec<AuditLogRecord> {
        self.records
            .iter()
            .filter(|(t, _, _)| *t >= s && *t < e)
            .enumerate()
            .map(|(i, (t, id, ty))| AuditLogRecord {
                id: format!("graph-{i}"),
                created_date_time: Some(*t),
                audit_log_record_type: Some(ty.clone()),
                operation: None,
                audit_data: Some(serde_json::json!({"Id": id})),
            })
            .collect()
    }
}

impl PurviewSource for FakePurview {
    async fn run_query(
        &self,
        q: &NewAuditQuery,
        _deadline: Instant,
    ) -> Result<FinishedQuery, ClientError> {
        let n = self.created.fetch_add(1, Ordering::SeqCst);
        let id = format!("q{n}");
        let (s, e) = (q.filter_start_date_time, q.filter_end_date_time);
        self.windows.lock().unwrap().insert(id.clone(), (s, e));
        let count = self.in_window(s, e).len();
        let cancelled = self
            .cancelled
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        Ok(FinishedQuery {
            query: AuditLogQuery {
                id,
                status: if cancelled {
                    QueryStatus::Cancelled
                } else {
                    QueryStatus::Succeeded
                },
                record_count_limit: None,
                is_record_count_limit_exceeded: Some(count > self.limit),
            },
            version: GraphVersion::V1,
        })
    }

    async fn read_records(
        &self,
        q: &FinishedQuery,
        _deadline: Instant,
    ) -> Result<(Vec<AuditLogRecord>, u32), ClientError> {
        let (s, e) = self.windows.lock().unwrap()[&q.query.id];
        let mut records = self.in_window(s, e);
        records.truncate(self.limit);
        let flaky = self.flaky_reads.load(Ordering::SeqCst);
        let n = self.reads.fetch_add(1, Ordering::SeqCst) as usize;
        if flaky > 0 && !records.is_empty() {
            self.flaky_reads.store(flaky - 1, Ordering::SeqCst);
            records.remove(n % records.len());
        }
        if self.phantoms.load(Ordering::SeqCst) {
            records.push(AuditLogRecord {
                id: format!("phantom-{n}"),
                created_date_time: Some(s),
                audit_log_record_type: Some("exchangeItem".into()),
                operation: None,
                audit_data: Some(serde_json::json!({"Id": format!("phantom-{n}")})),
            });
        }
        Ok((records, 1))
    }
}

/// Stores one data object holding `ids` at event time `t`, in the partition of `created`.
async fn store_blob(
    store: &LocalStore,
    created: DateTime<Utc>,
    name: &str,
    ids: &[(DateTime<Utc>, &str)],
) -> String {
    let layout = KeyLayout::new("p");
    let tenant: TenantId = T.parse().unwrap();
    let key = layout.data_key_for(
        &tenant,
        ContentType::Exchange,
        created,
        &format!("20260301{name}"),
        crate::compression::Compression::default(),
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for (t, id) in ids {
        let line = serde_json::json!({"Id": id, "_o365": {"event_time": crate::time::format_rfc3339_z(*t)}});
        writeln!(gz, "{line}").unwrap();
    }
    let body = gz.finish().unwrap();
    let meta = ObjectMeta {
        content_type: "application/x-ndjson".into(),
        content_encoding: Some("gzip".into()),
    };
    store
        .put(&key, body.into(), &meta, PutCondition::IfNoneMatch)
        .await
        .unwrap();
    key
}

fn auditor(store: &LocalStore, now: DateTime<Utc>) -> Auditor<LocalStore> {
    let settings = AuditSettings {
        prefix: "p".into(),
        ..AuditSettings::default()
    };
    Auditor::new(store.clone(), settings, Clock::fixed(now))
}

/// The one audited hour is complete, with `stored` records stored.
fn assert_one_complete(s: &AuditSummary, stored: u64) {
    assert_eq!(
        s.reports[0].verdict,
        Verdict::Complete,
        "{:?}",
        s.reports[0]
    );
    assert_eq!((s.missing_records, s.stored_records), (0, stored));
}

fn deadline() -> Instant {
    Instant::now() + std::time::Duration::from_secs(30)
}

/// Stores whatever the re-listing is asked for, as a local pipeline would.
struct StoreOnRelist {
    store: LocalStore,
    ids: Vec<(DateTime<Utc>, &'static str)>,
    calls: Mutex<Vec<Window>>,
}

impl Recovery for StoreOnRelist {
    async fn relist(
        &self,
        _tenant: &TenantConfig,
        windows: &[Window],
        _deadline: Instant,
    ) -> Result<Relisted, String> {
        self.calls.lock().unwrap().extend_from_slice(windows);
        store_blob(&self.store, at(12, 0), "late", &self.ids).await;
        Ok(Relisted {
            blobs_sent: 1,
            stored: true,
        })
    }
}

#[tokio::test]
async fn complete_hour_and_deleted_object() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let a = store_blob(
        &store,
        at(10, 5),
        "a",
        &[(at(10, 1), "id1"), (at(10, 2), "id2")],
    )
    .await;
    store_blob(
        &store,
        at(11, 30),
        "b",
        &[(at(10, 50), "id3"), (at(11, 1), "other-hour")],
    )
    .await;
    let purview = FakePurview::with(&[
        (at(10, 1), "id1"),
        (at(10, 2), "id2"),
        (at(10, 50), "id3"),
        (at(10, 50), "id3"),
    ]);
    let now = at(10, 0) + TimeDelta::days(3);
    let auditor = auditor(&store, now);
    let s = auditor
        .audit_tenant(&tenant(), &purview, &[at(10, 0)], &NoRecovery, deadline())
        .await
        .unwrap();
    assert_eq!((s.hours, s.complete_hours, s.missing_records), (1, 1, 0));
    assert_eq!((s.purview_records, s.stored_records), (3, 3));
    assert_eq!(s.reports[0].purview_duplicates, 1);
    assert_eq!(
        s.report_keys[0],
        "p/_audit/tenant_id=00000000-0000-0000-0000-000000000001/dt=2026-03-01/hour=10.json"
    );
    let back = AuditReport::load(
        &store,
        &KeyLayout::new("p"),
        &tenant().tenant_id,
        at(10, 30),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(back, s.reports[0]);
    assert!(auditor
        .due_hours(&tenant(), TimeDelta::days(7))
        .await
        .unwrap()
        .iter()
        .all(|h| *h != at(10, 0)));

    std::fs::remove_file(dir.path().join(&a)).unwrap();
    let s = auditor
        .audit_tenant(&tenant(), &purview, &[at(10, 0)], &NoRecovery, deadline())
        .await
        .unwrap();
    assert_eq!(s.reports[0].verdict, Verdict::Missing);
    assert_eq!(s.missing_records, 2);
    assert_eq!(s.reports[0].missing_ids, ["id1", "id2"]);
    assert!(!s.reports[0].confirmed_gap);
    assert!(auditor
        .due_hours(&tenant(), TimeDelta::days(7))
        .await
        .unwrap()
        .contains(&at(10, 0)));
    let lines = {
        let sink = crate::metrics::MetricsSink::memory();
        s.metric_set().emit(&sink);
        sink.lines().join("\n")
    };
    assert!(lines.contains("\"AuditMissingRecords\":2"), "{lines}");
}

#[tokio::test]
async fn truncated_queries_are_split_and_unstable_paging_is_reread() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let ids: Vec<(DateTime<Utc>, String)> =
        (0..40).map(|i| (at(10, i), format!("id{i:02}"))).collect();
    let stored: Vec<(DateTime<Utc>, &str)> = ids.iter().map(|(t, s)| (*t, s.as_str())).collect();
    store_blob(&store, at(10, 30), "a", &stored).await;
    let mut with_extra: Vec<(DateTime<Utc>, &str)> = stored.clone();
    with_extra.push((at(10, 59), "withheld"));
    let mut purview = FakePurview::with(&with_extra);
    purview.limit = 15;
    purview.flaky_reads.store(1, Ordering::SeqCst);
    let auditor = auditor(&store, at(10, 0) + TimeDelta::days(3));
    let s = auditor
        .audit_tenant(&tenant(), &purview, &[at(10, 0)], &NoRecovery, deadline())
        .await
        .unwrap();
    let r = &s.reports[0];
    assert!(r.record_count_limit_hit);
    assert!(r.query_ids.len() >= 4, "{:?}", r.query_ids);
    assert_eq!(r.purview_records, 41);
    assert_eq!(r.missing_ids, ["withheld"]);
    assert!(
        r.reads > r.query_ids.len() as u32 - 1,
        "re-read: {}",
        r.reads
    );
    assert_eq!(r.verdict, Verdict::Missing);

    // Paging that never settles gives no verdict on missing records.
    purview.phantoms.store(true, Ordering::SeqCst);
    purview.limit = usize::MAX;
    let s = auditor
        .audit_tenant(&tenant(), &purview, &[at(10, 0)], &NoRecovery, deadline())
        .await
        .unwrap();
    assert_eq!(s.reports[0].verdict, Verdict::Inconclusive);
    assert_eq!(s.missing_records, 0);
    assert_eq!(s.inconclusive_hours, 1);
}

#[tokio::test]
async fn purview_only_types_are_excluded_and_recovery_reaudits() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    store_blob(&store, at(10, 5), "a", &[(at(10, 1), "id1")]).await;
    let mut purview = FakePurview::with(&[(at(10, 1), "id1"), (at(10, 3), "late1")]);
    purview
        .records
        .push((at(10, 4), "probe".into(), "syntheticProbe".into()));
    let recovery = StoreOnRelist {
        store: store.clone(),
        ids: vec![(at(10, 3), "late1")],
        calls: Mutex::new(Vec::new()),
    };
    let now = at(10, 0) + TimeDelta::days(3);
    let s = auditor(&store, now)
        .audit_tenant(&tenant(), &purview, &[at(10, 0)], &recovery, deadline())
        .await
        .unwrap();
    let r = &s.reports[0];
    assert_eq!(r.purview_excluded, 1);
    // Reported as missing at audit time, with what recovery stored.
    assert_eq!(r.verdict, Verdict::Missing, "{r:?}");
    assert_eq!((r.missing_records, r.stored_records), (1, 1));
    assert_eq!(r.missing_ids, ["late1"]);
    assert_eq!(s.missing_records, 1);
    assert_eq!(s.reaudit_hours().count(), 1);
    let note = r.recovery.as_ref().unwrap();
    assert_eq!(note.recovered_records, 1);
    assert_eq!(
        note.windows,
        [(at(10, 0), at(11, 0) + TimeDelta::hours(48))]
    );
    assert_eq!(s.recovered_records, 1);
    assert_eq!(*recovery.calls.lock().unwrap(), note.windows);
    // The re-audit finds them stored.
    let s = auditor(&store, now)
        .audit_tenant(&tenant(), &purview, &[at(10, 0)], &recovery, deadline())
        .await
        .unwrap();
    assert_eq!(
        s.reports[0].verdict,
        Verdict::Complete,
        "{:?}",
        s.reports[0]
    );
    assert_eq!((s.missing_records, s.reaudit_hours().count()), (0, 0));

    // Beyond the reach: no re-listing, a confirmed gap.
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let purview = FakePurview::with(&[(at(10, 1), "gone")]);
    let recovery = StoreOnRelist {
        store: store.clone(),
        ids: vec![],
        calls: Mutex::new(Vec::new()),
    };
    let s = auditor(&store, at(10, 0) + TimeDelta::days(10))
        .audit_tenant(&tenant(), &purview, &[at(10, 0)], &recovery, deadline())
        .await
        .unwrap();
    assert!(s.reports[0].confirmed_gap);
    assert_eq!(s.confirmed_gap_records, 1);
    assert!(recovery.calls.lock().unwrap().is_empty());
}

#[test]
fn settled_hours_respect_the_settle_delay() {
    let dir = tempfile::tempdir().unwrap();
    let a = auditor(
        &LocalStore::new(dir.path()),
        at(12, 30) + TimeDelta::hours(48),
    );
    let hours = a.settled_hours(at(9, 15), at(23, 0)).unwrap();
    assert_eq!(hours, [at(10, 0), at(11, 0)]);
}

/// Stores a blob when asked to catch up (a run since the checkpoints), as `o365ctl audit`
/// does with the local pipeline.
struct StoreOnCatchUp {
    store: LocalStore,
    ids: Vec<(DateTime<Utc>, &'static str)>,
    relists: Mutex<u32>,
}

impl Recovery for StoreOnCatchUp {
    async fn catch_up(&self, _tenant: &TenantConfig, _deadline: Instant) -> Result<u64, String> {
        store_blob(&self.store, at(11, 10), "published-since", &self.ids).await;
        Ok(1)
    }

    async fn relist(
        &self,
        _tenant: &TenantConfig,
        _windows: &[Window],
        _deadline: Instant,
    ) -> Result<Relisted, String> {
        *self.relists.lock().unwrap() += 1;
        Ok(Relisted::default())
    }
}

#[tokio::test]
async fn records_published_since_the_last_run_are_collected_before_comparing() {
    // Purview lists a record whose blob was published after the last collection run (the
    // settle delay is short): the audit catches up first and finds it stored.
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    store_blob(&store, at(10, 5), "a", &[(at(10, 1), "id1")]).await;
    let purview = FakePurview::with(&[(at(10, 1), "id1"), (at(10, 59), "new1")]);
    let recovery = StoreOnCatchUp {
        store: store.clone(),
        ids: vec![(at(10, 59), "new1")],
        relists: Mutex::new(0),
    };
    let s = auditor(&store, at(11, 20))
        .audit_tenant(&tenant(), &purview, &[at(10, 0)], &recovery, deadline())
        .await
        .unwrap();
    assert_one_complete(&s, 2);
    assert_eq!(*recovery.relists.lock().unwrap(), 0);
}

#[tokio::test]
async fn a_cancelled_query_is_submitted_again_then_left_inconclusive_for_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    store_blob(&store, at(10, 5), "a", &[(at(10, 1), "id1")]).await;
    let purview = FakePurview::with(&[(at(10, 1), "id1"), (at(10, 2), "lost")]);
    let auditor = auditor(&store, at(10, 0) + TimeDelta::days(3));
    // Cancelled once (an admin), then it succeeds: the run concludes.
    purview.cancelled.store(1, Ordering::SeqCst);
    let s = auditor
        .audit_tenant(&tenant(), &purview, &[at(10, 0)], &NoRecovery, deadline())
        .await
        .unwrap();
    let r = &s.reports[0];
    assert_eq!(r.verdict, Verdict::Missing, "{r:?}");
    assert_eq!(r.missing_ids, ["lost"]);
    assert_eq!(r.query_ids.len(), 2, "{:?}", r.query_ids);

    // Cancelled every time: inconclusive, nothing counted missing, audited again next run.
    let retries = auditor.settings().max_query_retries;
    purview.cancelled.store(retries + 1, Ordering::SeqCst);
    let s = auditor
        .audit_tenant(&tenant(), &purview, &[at(10, 0)], &NoRecovery, deadline())
        .await
        .unwrap();
    let r = &s.reports[0];
    assert_eq!(r.verdict, Verdict::Inconclusive, "{r:?}");
    assert!(
        r.inconclusive_reason
            .as_deref()
            .is_some_and(|why| why.contains("Cancelled")),
        "{r:?}"
    );
    assert_eq!(r.query_ids.len() as u32, retries + 1);
    assert_eq!((s.missing_records, s.inconclusive_hours), (0, 1));
    assert!(auditor
        .due_hours(&tenant(), TimeDelta::days(7))
        .await
        .unwrap()
        .contains(&at(10, 0)));
    assert_eq!(purview.cancelled.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_record_published_after_the_settle_delay_and_stored_is_not_missing() {
    // The Management API published the record's blob two days after the settle delay; the
    // collection stored it; Purview lists it. A re-audit now finds it stored.
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    store_blob(&store, at(10, 5), "a", &[(at(10, 1), "id1")]).await;
    let very_late = at(10, 0) + TimeDelta::hours(48 + 49);
    store_blob(&store, very_late, "late", &[(at(10, 2), "id2")]).await;
    let purview = FakePurview::with(&[(at(10, 1), "id1"), (at(10, 2), "id2")]);
    let s = auditor(&store, very_late + TimeDelta::minutes(30))
        .audit_tenant(&tenant(), &purview, &[at(10, 0)], &NoRecovery, deadline())
        .await
        .unwrap();
    assert_one_complete(&s, 2);
}
