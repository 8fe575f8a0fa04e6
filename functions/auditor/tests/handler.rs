//! The Lambda handler called directly with a built `LambdaEvent`, as the runtime calls it,
//! against o365-sim (Management API and its Graph audit log query view, same ledger) and a
//! local store filled by the real lister and fetcher: every settled hour reported complete on
//! a clean run; a deleted data object's records reported missing, its blob swept again into
//! the queue, and the hours complete once the fetcher stored them again; one tenant's failure
//! failing the invocation while the other tenant's reports are written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::TimeDelta;
use lambda_runtime::LambdaEvent;
use o365_activity::audit::{AuditReport, AuditSettings, Verdict};
use o365_activity::bootstrap::deadline::context_with;
use o365_activity::bootstrap::TenantRegistry;
use o365_activity::client::ActivityClient;
use o365_activity::compression::Compression;
use o365_activity::graph::PollPolicy;
use o365_activity::keys::{KeyLayout, ObjectKey};
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::MemoryQueue;
use o365_activity::secret::Secret;
use o365_activity::store::{
    LocalStore, ObjectMeta, ObjectStore, PutCondition, PutOutcome, StoreError, StoredObject,
};
use o365_activity::tenants::{Credential, TenantConfig};
use o365_activity::testing::sim::{fast_retries, sim_clock, sim_tenant, stopped_config};
use o365_activity::{ContentType, QueueMessage};
use o365_auditor::{handle, AuditorHandler, InvocationError};
use o365_fetcher::{Fetcher, InboundMessage};
use o365_lister::handler::Wiring;
use o365_lister::{Lister, ListerSettings};
use o365_sim::testing::instant_graph;
use o365_sim::{SimConfig, SimHandle, TenantSpec, DEFAULT_TENANT_ID};
use serde_json::{json, Value};
use tokio::time::Instant;

const T1: &str = DEFAULT_TENANT_ID;
const T2: &str = "00000000-0000-0000-0000-000000000002";
const PREFIX: &str = "o365";
/// The content types audited (`CONTENT_TYPES`); the sim collects all five.
const AUDITED: [ContentType; 2] = [ContentType::Exchange, ContentType::SharePoint];

/// A local store that refuses what the deployed bucket policy denies
/// (`DenyUnconditionalWritesUnderThePrefix`): a write under the prefix without `If-None-Match`
/// or `If-Match`. The collector's writes all carry one, the audit reports included.
#[derive(Clone)]
struct PolicyStore(LocalStore);

impl ObjectStore for PolicyStore {
    type Upload = <LocalStore as ObjectStore>::Upload;

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        self.0.get(key).await
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.0.exists(key).await
    }

    async fn put(
        &self,
        key: &str,
        body: Bytes,
        meta: &ObjectMeta,
        condition: PutCondition,
    ) -> Result<PutOutcome, StoreError> {
        if condition == PutCondition::Overwrite && key.starts_with(&format!("{PREFIX}/")) {
            return Err(StoreError::S3 {
                op: "PutObject",
                bucket: "collector".into(),
                key: key.into(),
                message: "AccessDenied: explicit deny (DenyUnconditionalWritesUnderThePrefix)"
                    .into(),
                retryable: false,
            });
        }
        self.0.put(key, body, meta, condition).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.0.list(prefix).await
    }

    async fn begin_upload(&self, key: &str, meta: &ObjectMeta) -> Result<Self::Upload, StoreError> {
        self.0.begin_upload(key, meta).await
    }
}

async fn start_sim() -> Arc<SimHandle> {
    let config = SimConfig {
        tenants: vec![TenantSpec::new(T1), TenantSpec::new(T2)],
        seed: 5,
        records_per_hour: 12,
        history: Duration::from_secs(12 * 3600),
        blob_window: Duration::from_secs(900),
        graph: instant_graph(),
        ..stopped_config()
    };
    Arc::new(o365_sim::start(config).await.unwrap())
}

fn tenant(sim: &SimHandle, id: &str) -> TenantConfig {
    sim_tenant(&sim.base_url(), id).unwrap()
}

fn registry(configs: Vec<TenantConfig>) -> TenantRegistry {
    TenantRegistry::fixed(
        configs
            .into_iter()
            .map(|c| {
                let client = ActivityClient::new(&c, fast_retries(3)).unwrap();
                (c, client)
            })
            .collect(),
    )
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// The lister's first run over `tenants`, then the fetcher over what it sent.
async fn collect(sim: &Arc<SimHandle>, store: &PolicyStore, tenants: &[&str]) {
    let queue = MemoryQueue::new();
    let configs: Vec<TenantConfig> = tenants.iter().map(|t| tenant(sim, t)).collect();
    let clients = configs
        .iter()
        .map(|c| (c.clone(), ActivityClient::new(c, fast_retries(3)).unwrap()))
        .collect();
    let lister = Lister::new(
        store.clone(),
        queue.clone(),
        clients,
        ListerSettings::default(),
        sim_clock(sim),
        MetricsSink::Discard,
    );
    lister.run(deadline()).await;
    deliver(sim, store, queue.drain(), tenants).await;
}

/// Runs `sent` through the fetcher.
async fn deliver(
    sim: &Arc<SimHandle>,
    store: &PolicyStore,
    sent: Vec<QueueMessage>,
    tenants: &[&str],
) {
    let clients: Vec<ActivityClient> = tenants
        .iter()
        .map(|t| ActivityClient::new(&tenant(sim, t), fast_retries(3)).unwrap())
        .collect();
    let fetcher = Fetcher::new(
        store.clone(),
        KeyLayout::new(PREFIX),
        Compression::default(),
        clients,
        sim_clock(sim),
        MetricsSink::Discard,
    );
    let messages: Vec<InboundMessage> = sent
        .iter()
        .enumerate()
        .map(|(i, m)| InboundMessage::new(i.to_string(), m.to_json()))
        .collect();
    let outcome = fetcher.handle_batch(messages, deadline()).await;
    assert!(outcome.failed_message_ids.is_empty(), "{outcome:?}");
}

fn handler(
    sim: &Arc<SimHandle>,
    store: &PolicyStore,
    queue: &MemoryQueue,
    tenants: Vec<TenantConfig>,
    metrics: &MetricsSink,
) -> AuditorHandler<PolicyStore, MemoryQueue> {
    let settings = AuditSettings {
        prefix: PREFIX.to_owned(),
        // The sim dates a record up to 3 h before the blob window that carries it.
        settle: TimeDelta::hours(5),
        ..AuditSettings::default()
    };
    let wiring = Wiring {
        store: store.clone(),
        queue: queue.clone(),
        tenants: Arc::new(registry(tenants)),
        clock: sim_clock(sim),
        metrics: metrics.clone(),
    };
    AuditorHandler::new(wiring, settings, Some(AUDITED.to_vec()), fast_retries(3)).with_poll(
        PollPolicy {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(20),
        },
    )
}

fn event() -> LambdaEvent<Value> {
    let scheduled = json!({
        "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-03-01T12:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {}
    });
    LambdaEvent {
        payload: scheduled,
        context: context_with(Duration::from_secs(120)),
    }
}

/// Every stored report of `tenant`.
async fn reports(store: &PolicyStore, tenant: &str) -> Vec<AuditReport> {
    let layout = KeyLayout::new(PREFIX);
    let mut out = Vec::new();
    for key in store
        .list(&layout.audit_prefix(&tenant.parse().unwrap()))
        .await
        .unwrap()
    {
        let body = store.get(&key).await.unwrap().unwrap().body;
        out.push(AuditReport::parse(&body).unwrap());
    }
    out
}

/// The metric documents of the run: (dimensions, document).
fn metric_docs(metrics: &MetricsSink) -> Vec<(Vec<String>, Value)> {
    metrics
        .lines()
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let dims: Vec<String> =
                serde_json::from_value(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0].clone())
                    .unwrap();
            (dims, v)
        })
        .collect()
}

/// `name` in the document with `TenantId` = `tenant`, and in the plain total.
fn metric(metrics: &MetricsSink, name: &str, tenant: Option<&str>) -> f64 {
    metric_docs(metrics)
        .into_iter()
        .find(|(dims, v)| match tenant {
            Some(t) => dims == &["TenantId"] && v["TenantId"] == t,
            None => dims.is_empty() && v.get(name).is_some(),
        })
        .and_then(|(_, v)| v[name].as_f64())
        .unwrap_or_else(|| panic!("no {name} for {tenant:?} in {:?}", metrics.lines()))
}

/// The invocation summary without its reports: per tenant the counts, the error and the
/// first inconclusive reason (assertion messages).
fn short(v: &Value) -> String {
    let tenants: Vec<Value> = v["tenants"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    let s = &t["summary"];
                    let reason = s["reports"]
                        .as_array()
                        .and_then(|rs| rs.iter().find_map(|r| r["inconclusive_reason"].as_str()));
                    json!({
                        "tenant_id": t["tenant_id"], "error": t["error"], "hours": s["hours"],
                        "complete": s["complete_hours"], "missing": s["missing_records"],
                        "inconclusive": s["inconclusive_hours"], "first_inconclusive": reason,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({"missing_records": v["missing_records"], "hours": v["hours"], "tenants": tenants})
        .to_string()
}

/// The oldest stored `Audit.Exchange` data object of `tenant` with records (all in settled
/// hours), its content id and its record count.
async fn some_data_object(store: &PolicyStore, tenant: &str) -> (String, String, u64) {
    let layout = KeyLayout::new(PREFIX);
    for key in store
        .list(&format!("{PREFIX}/tenant_id={tenant}/"))
        .await
        .unwrap()
    {
        let Some(ObjectKey::Data(d)) = layout.parse(&key) else {
            continue;
        };
        if d.content_type != ContentType::Exchange {
            continue;
        }
        let body = store.get(&key).await.unwrap().unwrap().body;
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        let lines = text.lines().filter(|l| !l.trim().is_empty()).count() as u64;
        if lines > 0 {
            return (key, d.content_id, lines);
        }
    }
    panic!("no Audit.Exchange data object stored for {tenant}");
}

#[tokio::test]
async fn a_clean_run_reports_every_settled_hour_complete() {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let store = PolicyStore(LocalStore::new(dir.path()));
    collect(&sim, &store, &[T1]).await;
    let (queue, metrics) = (MemoryQueue::new(), MetricsSink::memory());
    let h = handler(&sim, &store, &queue, vec![tenant(&sim, T1)], &metrics);

    let v = handle(&h, event()).await.unwrap();

    assert_eq!(v["missing_records"], 0, "{}", short(&v));
    let hours = v["hours"].as_u64().unwrap();
    // Every settled hour of the 7-day reach, settle 5 h.
    assert!(hours >= 160, "{hours}");
    let reports = reports(&store, T1).await;
    assert_eq!(reports.len() as u64, hours);
    assert!(reports.iter().all(|r| r.verdict == Verdict::Complete));
    let with_records = reports.iter().filter(|r| r.purview_records > 0).count();
    assert!(with_records >= 4, "{with_records} hours with records");
    assert!(reports
        .iter()
        .all(|r| r.purview_records == r.stored_records));
    assert!(queue.is_empty(), "nothing to recover");
    assert_eq!(metric(&metrics, "AuditMissingRecords", Some(T1)), 0.0);
    assert_eq!(metric(&metrics, "AuditHours", Some(T1)), hours as f64);
    assert_eq!(metric(&metrics, "AuditErrors", Some(T1)), 0.0);
    assert_eq!(metric(&metrics, "AuditMissingRecords", None), 0.0);

    // The hours are done: the next invocation has nothing left to audit.
    let again = handle(&h, event()).await.unwrap();
    assert_eq!(again["hours"], 0, "{}", short(&again));
}

#[tokio::test]
async fn a_deleted_object_is_reported_missing_recovered_and_then_complete() {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let store = PolicyStore(LocalStore::new(dir.path()));
    collect(&sim, &store, &[T1]).await;
    let (key, content_id, records) = some_data_object(&store, T1).await;
    std::fs::remove_file(dir.path().join(&key)).unwrap();
    let (queue, metrics) = (MemoryQueue::new(), MetricsSink::memory());
    let h = handler(&sim, &store, &queue, vec![tenant(&sim, T1)], &metrics);

    // Missing records are the alarm's business, not an invocation failure.
    let v = handle(&h, event()).await.unwrap();
    assert_eq!(v["missing_records"], records, "{}", short(&v));
    let missing: Vec<AuditReport> = reports(&store, T1)
        .await
        .into_iter()
        .filter(|r| r.verdict == Verdict::Missing)
        .collect();
    assert!(!missing.is_empty());
    assert_eq!(
        missing.iter().map(|r| r.missing_records).sum::<u64>(),
        records
    );
    assert!(missing
        .iter()
        .all(|r| r.recovery.is_some() && !r.confirmed_gap));
    assert_eq!(
        metric(&metrics, "AuditMissingRecords", Some(T1)),
        records as f64
    );
    assert_eq!(
        metric(&metrics, "AuditMissingRecords", None),
        records as f64
    );
    // Recovery swept the tenant's reach into the fetcher's queue, the lost blob among them.
    let sent = queue.drain();
    assert!(
        sent.iter().any(|m| m.content_id == content_id),
        "{content_id} not re-sent"
    );

    // The fetcher stores what the recovery sent; the next invocation audits those hours again.
    deliver(&sim, &store, sent, &[T1]).await;
    assert!(store.exists(&key).await.unwrap());
    let v = handle(&h, event()).await.unwrap();
    assert_eq!(v["missing_records"], 0, "{}", short(&v));
    assert_eq!(
        v["hours"].as_u64().unwrap(),
        missing.len() as u64,
        "{}",
        short(&v)
    );
    assert!(reports(&store, T1)
        .await
        .iter()
        .all(|r| r.verdict == Verdict::Complete));
}

#[tokio::test]
async fn one_tenant_failing_fails_the_invocation_and_the_other_is_audited() {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let store = PolicyStore(LocalStore::new(dir.path()));
    collect(&sim, &store, &[T1]).await;
    let wrong = TenantConfig {
        credential: Credential::Secret(Secret::new("not-the-secret")),
        ..tenant(&sim, T2)
    };
    let (queue, metrics) = (MemoryQueue::new(), MetricsSink::memory());
    let h = handler(
        &sim,
        &store,
        &queue,
        vec![wrong, tenant(&sim, T1)],
        &metrics,
    );

    let e = handle(&h, event()).await.unwrap_err();
    match &e {
        InvocationError::TenantsFailed {
            failed,
            total,
            detail,
        } => {
            assert_eq!((*failed, *total), (1, 2));
            assert!(detail.starts_with(T2), "{detail}");
            assert!(!detail.contains("not-the-secret"), "{detail}");
        }
        other => panic!("{other}"),
    }
    let diagnostic = lambda_runtime::Diagnostic::from(e);
    assert_eq!(diagnostic.error_type, "TenantsFailed");
    let ok = reports(&store, T1).await;
    assert!(ok.len() >= 160 && ok.iter().all(|r| r.verdict == Verdict::Complete));
    assert!(reports(&store, T2).await.is_empty());
    assert_eq!(metric(&metrics, "AuditErrors", Some(T2)), 1.0);
    assert_eq!(metric(&metrics, "AuditErrors", Some(T1)), 0.0);
    assert_eq!(metric(&metrics, "AuditErrors", None), 1.0);
}
