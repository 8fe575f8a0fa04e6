//! The Lambda handler called directly with a built `LambdaEvent<SqsEvent>`, as the runtime
//! calls it: stored and permanently rejected messages are done, the rest is handed back; a
//! tenant unknown to the warm fetcher is handed back (never dropped) and fetched once it is
//! added to the tenants source.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use chrono::{TimeZone, Utc};
use lambda_runtime::LambdaEvent;
use o365_activity::bootstrap::deadline::context_with;
use o365_activity::bootstrap::{ReloadPolicy, TenantLoader, TenantRegistry};
use o365_activity::client::ClientOptions;
use o365_activity::clock::Clock;
use o365_activity::cloud::Endpoints;
use o365_activity::compression::Compression;
use o365_activity::keys::KeyLayout;
use o365_activity::message::QueueMessage;
use o365_activity::metrics::MetricsSink;
use o365_activity::secret::Secret;
use o365_activity::store::{LocalStore, ObjectStore};
use o365_activity::tenants::{Credential, TenantConfig, TokenEndpoint};
use o365_activity::ContentType;
use o365_fetcher::handler::handle;
use o365_fetcher::Fetcher;
use o365_sim::{SimConfig, SimHandle, TenantSpec, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use serde_json::json;

const T1: &str = o365_sim::DEFAULT_TENANT_ID;
const T2: &str = "00000000-0000-0000-0000-000000000002";

async fn sim() -> SimHandle {
    let tenants = [T1, T2]
        .iter()
        .map(|t| {
            let mut spec = TenantSpec::new(*t);
            spec.enabled_types = o365_sim::ContentType::ALL.to_vec();
            spec
        })
        .collect();
    o365_sim::start(SimConfig {
        tenants,
        clock_start: Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap(),
        clock_speed: 0.0,
        records_per_hour: 30,
        history: Duration::from_secs(2 * 3600),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn tenant(sim: &SimHandle, id: &str) -> TenantConfig {
    let base = sim.base_url();
    TenantConfig {
        tenant_id: id.parse().unwrap(),
        client_id: DEFAULT_CLIENT_ID.to_string(),
        credential: Credential::Secret(Secret::new(DEFAULT_CLIENT_SECRET)),
        endpoints: Endpoints::custom(&base, &base).unwrap(),
        content_types: ContentType::ALL.to_vec(),
        publisher_id: id.to_string(),
        token_endpoint: TokenEndpoint::V2,
    }
}

/// The queue message of the first blob the sim published for `tenant`.
fn first_blob_of(sim: &SimHandle, tenant: &str) -> QueueMessage {
    let ledger = sim.ledger();
    let b = ledger
        .published
        .iter()
        .find(|b| b.tenant_id == tenant)
        .unwrap();
    QueueMessage {
        format_version: 1,
        tenant_id: b.tenant_id.parse().unwrap(),
        content_type: b.content_type.parse().unwrap(),
        content_id: b.content_id.clone(),
        content_uri: b.content_uri.clone(),
        content_created: b.content_created,
        content_expiration: b.content_expiration,
    }
}

/// An SQS event as Lambda sends it.
fn event(bodies: &[(&str, String)]) -> LambdaEvent<SqsEvent> {
    let records: Vec<_> = bodies
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id, "receiptHandle": id, "body": body,
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                "eventSource": "aws:sqs", "awsRegion": "us-east-1",
            })
        })
        .collect();
    LambdaEvent {
        payload: serde_json::from_value(json!({ "Records": records })).unwrap(),
        context: context_with(Duration::from_secs(60)),
    }
}

#[tokio::test]
async fn a_batch_answers_with_what_to_hand_back_and_a_new_tenant_is_fetched_once_added() {
    let sim = sim().await;
    let source = Arc::new(Mutex::new(vec![tenant(&sim, T1)]));
    let s = source.clone();
    let registry = TenantRegistry::load(
        TenantLoader::custom(move || Ok(s.lock().unwrap().clone())),
        ReloadPolicy {
            ttl: Duration::from_secs(300),
            cooldown: Duration::ZERO,
        },
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let keys = KeyLayout::new("o365");
    let fetcher = Fetcher::new(
        store.clone(),
        keys.clone(),
        Compression::default(),
        [],
        Clock::system(),
        MetricsSink::Discard,
    )
    .with_tenant_registry(Arc::new(registry));
    let (known, newcomer) = (first_blob_of(&sim, T1), first_blob_of(&sim, T2));
    let margin = Duration::from_secs(5);

    let batch = event(&[
        ("known", known.to_json()),
        ("garbage", "{\"format_version\":1}".into()),
        ("newcomer", newcomer.to_json()),
    ]);
    let answer = handle(&fetcher, margin, batch).await.unwrap();
    let failed: Vec<&str> = answer
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        ["newcomer"],
        "only the unknown tenant is handed back"
    );
    let key = |m: &QueueMessage| keys.data_key(m, Compression::default());
    assert!(store.exists(&key(&known)).await.unwrap());
    assert!(!store.exists(&key(&newcomer)).await.unwrap());
    assert!(
        store.list(&keys.errors_prefix()).await.unwrap().len() == 1,
        "an error report for the garbage only"
    );

    // The operator adds the tenant to the secret; the redelivery is fetched.
    source.lock().unwrap().push(tenant(&sim, T2));
    let answer = handle(&fetcher, margin, event(&[("newcomer", newcomer.to_json())]))
        .await
        .unwrap();
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    assert!(store.exists(&key(&newcomer)).await.unwrap());
}

#[tokio::test]
async fn an_expired_invocation_hands_everything_back() {
    let sim = sim().await;
    let t = tenant(&sim, T1);
    let client = o365_activity::client::ActivityClient::new(&t, ClientOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(
        LocalStore::new(dir.path()),
        KeyLayout::new("o365"),
        Compression::default(),
        [client],
        Clock::system(),
        MetricsSink::Discard,
    );
    let mut batch = event(&[("m", first_blob_of(&sim, T1).to_json())]);
    batch.context = lambda_runtime::Context::default();
    let answer = handle(&fetcher, Duration::ZERO, batch).await.unwrap();
    assert_eq!(answer.batch_item_failures.len(), 1);
}
