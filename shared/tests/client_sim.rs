//! The API client against `o365-sim` over real HTTP on 127.0.0.1: tokens (secret and
//! certificate, v1 and v2), subscriptions, paging, faults, downloads and the host guard.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use o365_activity::client::{ActivityClient, ClientError, ClientOptions, StartOutcome};
use o365_activity::clock::Clock;
use o365_activity::secret::Secret;
use o365_activity::tenants::{Credential, TenantConfig, TokenEndpoint};
use o365_activity::testing::sim::{
    fast_retries, scenarios, sim_tenant, stopped_config, t0, PUBLISHER_ID as PUBLISHER,
};
use o365_activity::{ContentListing, ContentType};
use o365_sim::{SimConfig, SimHandle, TenantSpec, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID};
use tokio::time::Instant;

const T: &str = DEFAULT_TENANT_ID;

/// A stopped-clock simulator with every content type already enabled.
fn sim_config(names: &[&str]) -> SimConfig {
    let mut tenant = TenantSpec::new(T);
    tenant.enabled_types = o365_sim::ContentType::ALL.to_vec();
    SimConfig {
        tenants: vec![tenant],
        seed: 7,
        records_per_hour: 12,
        scenarios: scenarios(names).unwrap(),
        ..stopped_config()
    }
}

async fn sim(scenarios: &[&str]) -> SimHandle {
    o365_sim::start(sim_config(scenarios)).await.unwrap()
}

fn tenant(sim: &SimHandle, credential: Credential, kind: TokenEndpoint) -> TenantConfig {
    TenantConfig {
        credential,
        token_endpoint: kind,
        ..sim_tenant(&sim.base_url(), T).unwrap()
    }
}

fn secret() -> Credential {
    Credential::Secret(Secret::new(DEFAULT_CLIENT_SECRET))
}

/// Fast retries so fault tests finish quickly; the deadline stays generous.
fn options() -> ClientOptions {
    fast_retries(10)
}

fn client(sim: &SimHandle) -> ActivityClient {
    ActivityClient::new(&tenant(sim, secret(), TokenEndpoint::V2), options()).unwrap()
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// The blobs the ledger says are listable for `[start, end)`.
fn published(
    sim: &SimHandle,
    ct: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> HashSet<String> {
    sim.ledger()
        .published_for(T, ct)
        .filter(|b| b.visible && b.content_created >= start && b.content_created < end)
        .map(|b| b.content_id.clone())
        .collect()
}

fn ids(entries: &[ContentListing]) -> Vec<String> {
    entries.iter().map(|e| e.content_id.clone()).collect()
}

fn token_requests(sim: &SimHandle) -> usize {
    sim.ledger()
        .requests
        .iter()
        .filter(|r| r.operation.as_deref() == Some("token"))
        .count()
}

#[tokio::test]
async fn pages_through_a_whole_window_with_publisher_on_every_request() {
    let sim = sim(&["small-pages=3"]).await;
    let c = client(&sim);
    let (start, end) = (t0() - chrono::Duration::hours(23), t0());
    let entries = c
        .list_content(ContentType::General, start, end, deadline())
        .await
        .unwrap();
    let want = published(&sim, "Audit.General", start, end);
    assert!(
        want.len() > 30,
        "the window should need many pages, has {}",
        want.len()
    );
    let got = ids(&entries);
    assert_eq!(got.len(), want.len(), "each blob once");
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), want);

    let ledger = sim.ledger();
    let listings: Vec<_> = ledger
        .requests
        .iter()
        .filter(|r| r.operation.as_deref() == Some("content"))
        .collect();
    assert!(listings.len() >= want.len() / 3, "{} pages", listings.len());
    assert!(
        ledger.requests.iter().all(|r| r.status == 200),
        "no errors expected"
    );
    for r in ledger
        .requests
        .iter()
        .filter(|r| r.operation.as_deref() != Some("token"))
    {
        assert_eq!(r.publisher_identifier.as_deref(), Some(PUBLISHER), "{r:?}");
        assert!(r.window_given || r.operation.as_deref() != Some("content"));
    }
    // Query times go out as YYYY-MM-DDTHH:MM:SS.
    assert_eq!(listings[0].start_time, Some(start));
    assert_eq!(listings[0].end_time, Some(end));
    assert_eq!(token_requests(&sim), 1, "one token for the whole listing");
    sim.shutdown().await;
}

#[tokio::test]
async fn follows_odd_next_page_links_verbatim() {
    // Lower-cased parameter names, the /api/v1/ path and the old NextPageUrl header.
    let sim = sim(&[
        "small-pages=4",
        "lowercase-next-page",
        "next-page-v1-path",
        "next-page-url-header",
    ])
    .await;
    let c = client(&sim);
    let (start, end) = (t0() - chrono::Duration::hours(6), t0());
    let entries = c
        .list_content(ContentType::Exchange, start, end, deadline())
        .await
        .unwrap();
    let want = published(&sim, "Audit.Exchange", start, end);
    assert!(want.len() > 8);
    assert_eq!(ids(&entries).into_iter().collect::<HashSet<_>>(), want);
    assert_eq!(entries.len(), want.len());
    let ledger = sim.ledger();
    let pages: Vec<_> = ledger
        .requests
        .iter()
        .filter(|r| r.operation.as_deref() == Some("content"))
        .collect();
    assert!(pages.len() > 2);
    for p in &pages[1..] {
        assert!(p.path.starts_with("/api/v1/"), "{}", p.path);
        let q = p.query.as_deref().unwrap();
        // Not appended a second time next to the server's lower-cased copy.
        assert_eq!(
            q.to_ascii_lowercase()
                .matches("publisheridentifier=")
                .count(),
            1,
            "{q}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn start_and_list_subscriptions() {
    let mut cfg = sim_config(&[]);
    cfg.tenants = vec![TenantSpec::new(T)];
    let sim = o365_sim::start(cfg).await.unwrap();
    let c = client(&sim);
    assert!(c.list_subscriptions(deadline()).await.unwrap().is_empty());
    assert_eq!(
        c.start_subscription(ContentType::SharePoint, deadline())
            .await
            .unwrap(),
        StartOutcome::Started
    );
    let subs = c.list_subscriptions(deadline()).await.unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(
        (subs[0].content_type.as_str(), subs[0].status.as_str()),
        ("Audit.SharePoint", "enabled")
    );
    sim.shutdown().await;

    // AF20024 (HTTP 400) on an already enabled subscription is success.
    let sim = self::sim(&["already-enabled"]).await;
    let c = client(&sim);
    assert_eq!(
        c.start_subscription(ContentType::Exchange, deadline())
            .await
            .unwrap(),
        StartOutcome::AlreadyEnabled
    );
    let ledger = sim.ledger();
    let start = ledger
        .requests
        .iter()
        .find(|r| r.operation.as_deref() == Some("start"))
        .unwrap();
    assert_eq!(
        (start.status, start.error_code.as_deref()),
        (400, Some("AF20024"))
    );
    assert_eq!(c.stats().retries, 0, "AF20024 is not retried");
    sim.shutdown().await;
}

/// Lists the last `hours` of `ct` and checks the result is exactly what the ledger published.
async fn list_matches_ledger(sim: &SimHandle, c: &ActivityClient, ct: ContentType, hours: i64) {
    let (start, end) = (t0() - chrono::Duration::hours(hours), t0());
    let entries = c.list_content(ct, start, end, deadline()).await.unwrap();
    let want = published(sim, ct.as_str(), start, end);
    assert!(!want.is_empty());
    assert_eq!(entries.len(), want.len(), "each blob once");
    assert_eq!(ids(&entries).into_iter().collect::<HashSet<_>>(), want);
}

#[tokio::test]
async fn af429_as_403_is_retried_until_success() {
    let sim = sim(&["throttle=every:2", "small-pages=5"]).await;
    let c = client(&sim);
    list_matches_ledger(&sim, &c, ContentType::SharePoint, 4).await;
    let throttled: Vec<_> = sim
        .ledger()
        .errors()
        .map(|r| (r.status, r.error_code.clone()))
        .collect();
    assert!(!throttled.is_empty());
    assert!(
        throttled
            .iter()
            .all(|(s, c)| *s == 403 && c.as_deref() == Some("AF429")),
        "{throttled:?}"
    );
    let stats = c.stats();
    assert_eq!(stats.throttles, throttled.len() as u64);
    assert_eq!(
        stats.errors_by_code.get("AF429"),
        Some(&(throttled.len() as u64))
    );
    assert!(stats.retries >= throttled.len() as u64);
    sim.shutdown().await;
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let sim = sim(&["server-error=every:2", "small-pages=5"]).await;
    let c = client(&sim);
    list_matches_ledger(&sim, &c, ContentType::AzureActiveDirectory, 4).await;
    let errors = sim.ledger().errors().count() as u64;
    assert!(errors > 0);
    let stats = c.stats();
    assert_eq!(stats.errors_by_code.values().sum::<u64>(), errors);
    assert!(stats.retries >= errors);
    sim.shutdown().await;
}

#[tokio::test]
async fn throttling_past_the_deadline_gives_deadline_exceeded() {
    let sim = sim(&["throttle=1"]).await;
    let mut opts = options();
    opts.retry.max_attempts = 1_000_000;
    let c = ActivityClient::new(&tenant(&sim, secret(), TokenEndpoint::V2), opts).unwrap();
    let short = Instant::now() + Duration::from_millis(300);
    let e = c
        .list_content(
            ContentType::General,
            t0() - chrono::Duration::hours(1),
            t0(),
            short,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::DeadlineExceeded {
                op: "ListContent",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.is_retryable());
    assert!(e.to_string().contains("AF429"), "{e}");
    sim.shutdown().await;
}

#[tokio::test]
async fn downloads_blobs_as_streams() {
    let sim = sim(&[]).await;
    let c = client(&sim);
    let entries = c
        .list_content(
            ContentType::General,
            t0() - chrono::Duration::hours(2),
            t0(),
            deadline(),
        )
        .await
        .unwrap();
    assert!(!entries.is_empty());
    let ledger = sim.ledger();
    for e in entries.iter().take(5) {
        let mut body = c.download(&e.content_uri, deadline()).await.unwrap();
        let declared = body.content_length();
        let mut bytes = Vec::new();
        while let Some(chunk) = body.chunk().await.unwrap() {
            bytes.extend_from_slice(&chunk);
        }
        if let Some(n) = declared {
            assert_eq!(n, bytes.len() as u64);
        }
        let records: Vec<serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
        let want = ledger
            .published
            .iter()
            .find(|b| b.content_id == e.content_id)
            .unwrap();
        let got: Vec<&str> = records.iter().map(|r| r["Id"].as_str().unwrap()).collect();
        assert_eq!(got, want.record_ids);
    }
    let ledger = sim.ledger();
    let blobs: Vec<_> = ledger
        .requests
        .iter()
        .filter(|r| r.operation.as_deref() == Some("blob"))
        .collect();
    assert_eq!(blobs.len(), 5);
    assert!(blobs
        .iter()
        .all(|r| r.publisher_identifier.as_deref() == Some(PUBLISHER)));
    assert!(ledger.served.values().all(|n| *n == 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_blob_is_a_permanent_api_error() {
    let sim = sim(&[]).await;
    let c = client(&sim);
    let uri = format!("{}/api/v1.0/{T}/activity/feed/audit/20260301044011520000101$20260301050902115000207$audit_general$Audit_General$na0001", sim.base_url());
    let e = c.download(&uri, deadline()).await.unwrap_err();
    match &e {
        ClientError::Api {
            op: "GetBlob",
            status,
            ..
        } => assert!(*status >= 400 && *status < 500, "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(!e.is_retryable(), "{e}");
    assert_eq!(c.stats().retries, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn foreign_uris_are_refused_without_any_request() {
    let sim = sim(&[]).await;
    let c = client(&sim);
    let base = sim.base_url();
    let port = sim.addr().port();
    let feed = format!("/api/v1.0/{T}/activity/feed/audit/x");
    for bad in [
        format!("https://manage.office.com{feed}"),
        format!("http://127.0.0.1:{}{feed}", port.wrapping_add(1)),
        format!("{base}.evil.net{feed}"),
        format!("http://127.0.0.1:{port}@evil.invalid{feed}"),
        format!("{base}/api/v1.0/00000000-0000-0000-0000-000000000002/activity/feed/audit/x"),
        format!("{base}/api/v1.0/{T}/activity/feed/../../../../{T}/oauth2/token"),
    ] {
        let e = c.download(&bad, deadline()).await.unwrap_err();
        assert!(matches!(e, ClientError::ForeignUri { .. }), "{bad}: {e}");
        assert!(!e.is_retryable());
    }
    assert!(sim.ledger().requests.is_empty(), "not even a token request");
    sim.shutdown().await;
}

#[tokio::test]
async fn token_is_cached_shared_and_refreshed_before_expiry() {
    let sim = sim(&[]).await;
    // The client's clock follows the (stopped) simulator clock, moved by `advance` below.
    let sim_now = std::sync::Arc::new(std::sync::Mutex::new(sim.now()));
    let clock = {
        let now = sim_now.clone();
        Clock::from_fn(move || *now.lock().unwrap())
    };
    let c =
        ActivityClient::with_clock(&tenant(&sim, secret(), TokenEndpoint::V2), options(), clock)
            .unwrap();
    // Concurrent first calls share one token request.
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.list_subscriptions(deadline()).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(token_requests(&sim), 1);
    // Still fresh 50 minutes later (lifetime 3599 s, margin 300 s).
    sim.advance(Duration::from_secs(50 * 60));
    *sim_now.lock().unwrap() = sim.now();
    c.list_subscriptions(deadline()).await.unwrap();
    assert_eq!(token_requests(&sim), 1);
    // Inside the refresh margin: a new token before the old one expires, no 401.
    sim.advance(Duration::from_secs(6 * 60));
    *sim_now.lock().unwrap() = sim.now();
    c.list_subscriptions(deadline()).await.unwrap();
    assert_eq!(token_requests(&sim), 2);
    assert!(sim.ledger().errors().next().is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_retries() {
    let sim = sim(&[]).await;
    // The client's clock does not follow the simulator, so it keeps a token the simulator
    // considers expired: the API answers 401 and the client refreshes.
    let c = client(&sim);
    c.list_subscriptions(deadline()).await.unwrap();
    sim.advance(Duration::from_secs(2 * 3600));
    c.list_subscriptions(deadline()).await.unwrap();
    let ledger = sim.ledger();
    let statuses: Vec<(Option<&str>, u16)> = ledger
        .requests
        .iter()
        .map(|r| (r.operation.as_deref(), r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            (Some("token"), 200),
            (Some("list"), 200),
            (Some("list"), 401),
            (Some("token"), 200),
            (Some("list"), 200)
        ]
    );
    assert_eq!(c.stats().errors_by_code.get("HTTP401"), Some(&1));
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_secret_is_a_permanent_token_error_that_hides_the_secret() {
    let sim = sim(&[]).await;
    let wrong = "not-the-secret-3f9a";
    let c = ActivityClient::new(
        &tenant(
            &sim,
            Credential::Secret(Secret::new(wrong)),
            TokenEndpoint::V2,
        ),
        options(),
    )
    .unwrap();
    let e = c.list_subscriptions(deadline()).await.unwrap_err();
    match &e {
        ClientError::Token {
            retryable, message, ..
        } => {
            assert!(!retryable);
            assert!(message.contains("invalid_client"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.to_string().contains(wrong));
    assert!(!format!("{e:?}").contains(wrong));
    assert_eq!(token_requests(&sim), 1, "a refused secret is not retried");
    sim.shutdown().await;
}

#[tokio::test]
async fn v1_token_endpoint_with_string_numbers() {
    let sim = sim(&[]).await;
    let c = ActivityClient::new(&tenant(&sim, secret(), TokenEndpoint::V1), options()).unwrap();
    c.list_subscriptions(deadline()).await.unwrap();
    c.list_subscriptions(deadline()).await.unwrap();
    let ledger = sim.ledger();
    let tokens: Vec<_> = ledger
        .requests
        .iter()
        .filter(|r| r.operation.as_deref() == Some("token"))
        .collect();
    assert_eq!(
        tokens.len(),
        1,
        "cached after a v1 answer with expires_in as a string"
    );
    assert_eq!(tokens[0].path, format!("/{T}/oauth2/token"));
    sim.shutdown().await;
}

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sim/tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn certificate_assertions_are_accepted_by_both_token_endpoints() {
    let cert = fixture("test-only-cert.pem");
    let mut cfg = sim_config(&[]);
    cfg.certificate_pem = Some(cert.clone());
    let sim = o365_sim::start(cfg).await.unwrap();
    let credential = Credential::Certificate {
        certificate_pem: cert,
        private_key_pem: Secret::new(fixture("test-only-key.pem")),
    };
    for kind in [TokenEndpoint::V2, TokenEndpoint::V1] {
        let c = ActivityClient::new(&tenant(&sim, credential.clone(), kind), options()).unwrap();
        let subs = c.list_subscriptions(deadline()).await.unwrap();
        assert_eq!(subs.len(), 5);
    }
    let ledger = sim.ledger();
    assert!(
        ledger.errors().next().is_none(),
        "{:?}",
        ledger.errors().collect::<Vec<_>>()
    );
    assert_eq!(token_requests(&sim), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn certificate_unknown_to_the_token_endpoint_is_refused() {
    // The simulator has no certificate registered: the assertion must be refused, for good.
    let sim = sim(&[]).await;
    let credential = Credential::Certificate {
        certificate_pem: fixture("test-only-cert.pem"),
        private_key_pem: Secret::new(fixture("test-only-key.pem")),
    };
    let c = ActivityClient::new(&tenant(&sim, credential, TokenEndpoint::V2), options()).unwrap();
    let e = c.list_subscriptions(deadline()).await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Token {
                retryable: false,
                ..
            }
        ),
        "{e}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn listing_survives_mixed_faults() {
    let sim = sim(&[
        "small-pages=4",
        "throttle=0.1",
        "throttle-429=every:9",
        "server-error=0.1",
        "drop-connection=0.05",
        "lowercase-next-page=0.5",
    ])
    .await;
    let mut opts = options();
    opts.retry.max_attempts = 30;
    let c = ActivityClient::new(&tenant(&sim, secret(), TokenEndpoint::V2), opts).unwrap();
    list_matches_ledger(&sim, &c, ContentType::Exchange, 8).await;
    let errors = sim.ledger().errors().count() as u64;
    assert!(errors > 0, "the scenarios should have fired");
    assert!(c.stats().retries >= errors);
    sim.shutdown().await;
}
