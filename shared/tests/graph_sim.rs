//! The Graph audit log query client and the audit engine against `o365-sim` over real HTTP on
//! 127.0.0.1: Graph tokens, query creation on v1.0 and beta, polling over simulated time,
//! `@odata.nextLink` paging, the record-type filters the simulator accepts, and the host
//! guard (no request ever reaches a host other than the Graph root).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use o365_activity::audit::{AuditSettings, Auditor, GraphSource, NoRecovery, Verdict};
use o365_activity::client::{ActivityClient, ClientError};
use o365_activity::clock::Clock;
use o365_activity::graph::{GraphClient, GraphVersion, NewAuditQuery, PollPolicy};
use o365_activity::store::LocalStore;
use o365_activity::testing::sim::{fast_retries, scenarios, sim_tenant, stopped_config, t0};
use o365_sim::{GraphConfig, SimConfig, SimHandle, TenantSpec, DEFAULT_TENANT_ID};
use tokio::time::Instant;

const T: &str = DEFAULT_TENANT_ID;

async fn sim(names: &[&str], graph: GraphConfig) -> SimHandle {
    let mut tenant = TenantSpec::new(T);
    tenant.enabled_types = o365_sim::ContentType::ALL.to_vec();
    o365_sim::start(SimConfig {
        tenants: vec![tenant],
        seed: 11,
        records_per_hour: 40,
        scenarios: scenarios(names).unwrap(),
        graph,
        ..stopped_config()
    })
    .await
    .unwrap()
}

fn graph(sim: &SimHandle) -> GraphClient {
    let tenant = sim_tenant(&sim.base_url(), T).unwrap();
    GraphClient::new(&tenant, fast_retries(5), Clock::system()).unwrap()
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

fn poll() -> PollPolicy {
    PollPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
    }
}

#[tokio::test]
async fn query_polls_over_simulated_time_and_pages_every_record() {
    let sim = sim(&["graph-page-size=7"], GraphConfig::default()).await;
    sim.advance(Duration::from_secs(6 * 3600));
    sim.set_speed(200.0);
    let g = graph(&sim);
    let start = t0() - TimeDelta::hours(3);
    let q = NewAuditQuery {
        display_name: "test".into(),
        filter_start_date_time: start,
        filter_end_date_time: start + TimeDelta::hours(1),
        record_type_filters: o365_activity::audit::record_types::query_filters(
            &o365_activity::ContentType::ALL,
        ),
    };
    let created = g.create_query(&q, deadline()).await.unwrap();
    assert_eq!(created.version, GraphVersion::V1);
    let done = g
        .wait_for_query(&created, &poll(), deadline())
        .await
        .unwrap();
    assert_eq!(done.status, o365_activity::graph::QueryStatus::Succeeded);
    let read = g
        .list_records(created.version, &done.id, deadline())
        .await
        .unwrap();
    assert!(read.pages > 2, "pages: {}", read.pages);
    let ids: HashSet<&str> = read
        .records
        .iter()
        .filter_map(|r| r.management_id())
        .collect();
    assert!(ids.len() > 10, "{}", ids.len());
    assert_eq!(ids.len(), read.records.len());
    // A deadline shorter than the query's run time is a clear error, not a hang.
    sim.set_speed(0.0);
    let again = g.create_query(&q, deadline()).await.unwrap();
    let e = g
        .wait_for_query(&again, &poll(), Instant::now() + Duration::from_millis(150))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::DeadlineExceeded { .. }), "{e}");
}

#[tokio::test]
async fn audit_against_the_simulator_counts_every_record_missing_from_an_empty_bucket() {
    let sim = sim(
        &[
            "purview-only=0.2",
            "purview-duplicates=0.2",
            "unstable-paging",
        ],
        o365_sim::testing::instant_graph(),
    )
    .await;
    sim.advance(Duration::from_secs(6 * 3600));
    let dir = tempfile::tempdir().unwrap();
    let settings = AuditSettings {
        settle: TimeDelta::zero(),
        ..AuditSettings::default()
    };
    let now = sim.now();
    let auditor = Auditor::new(LocalStore::new(dir.path()), settings, Clock::fixed(now));
    let tenant = sim_tenant(&sim.base_url(), T).unwrap();
    let source = GraphSource {
        client: graph(&sim),
        poll: poll(),
    };
    let hour = t0() - TimeDelta::hours(2);
    let s = auditor
        .audit_tenant(&tenant, &source, &[hour], &NoRecovery, deadline())
        .await
        .unwrap();
    let r = &s.reports[0];
    assert_eq!(r.verdict, Verdict::Missing, "{r:?}");
    assert!(r.purview_records > 10);
    assert_eq!(r.missing_records, r.purview_records);
    assert!(r.purview_duplicates > 0, "duplicates are counted once");
    let purview_only: HashSet<String> = sim.ledger().purview_only_ids(T).into_iter().collect();
    assert!(!purview_only.is_empty());
    // Purview-only types are not asked for: none is counted, none reported missing.
    assert!(r.missing_ids.iter().all(|id| !purview_only.contains(id)));
}

#[tokio::test]
async fn the_graph_token_never_leaves_the_graph_root_nor_the_management_token_the_api_root() {
    // A foreign host that counts every connection made to it.
    let foreign = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let foreign_port = foreign.local_addr().unwrap().port();
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = foreign.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    // A Graph stand-in whose records page links to the foreign host.
    let next = format!(
        "http://127.0.0.1:{foreign_port}/v1.0/security/auditLog/queries/q1/records?$skiptoken=2"
    );
    let app = axum::Router::new().route(
        "/v1.0/security/auditLog/queries/q1/records",
        axum::routing::get(move || {
            let next = next.clone();
            async move { axum::Json(serde_json::json!({"value": [], "@odata.nextLink": next})) }
        }),
    );
    let fake = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake_root = format!("http://{}", fake.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(fake, app).await });

    let sim = sim(&[], o365_sim::testing::instant_graph()).await;
    let mut tenant = sim_tenant(&sim.base_url(), T).unwrap();
    tenant.endpoints = tenant
        .endpoints
        .with_graph(&fake_root, o365_sim::GRAPH_AUDIENCE)
        .unwrap();
    let g = GraphClient::new(&tenant, fast_retries(2), Clock::system()).unwrap();
    let e = g
        .list_records(GraphVersion::V1, "q1", deadline())
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::ForeignUri { .. }), "{e}");
    // The Management client refuses the Graph host, and Graph the Management API.
    let m = ActivityClient::new(&tenant, fast_retries(2)).unwrap();
    let graph_uri = format!("http://127.0.0.1:{foreign_port}/api/v1.0/{T}/activity/feed/audit/x");
    let e = m.download(&graph_uri, deadline()).await.unwrap_err();
    assert!(matches!(e, ClientError::ForeignUri { .. }), "{e}");
    let at_sim = sim_tenant(&sim.base_url(), T).unwrap();
    let e = GraphClient::new(&at_sim, fast_retries(2), Clock::system())
        .unwrap()
        .get_query(GraphVersion::V1, "../../api/v1.0", deadline())
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Decode { .. }), "{e}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a request reached the foreign host"
    );
}

#[tokio::test]
async fn beta_serves_when_v1_does_not() {
    // A Graph stand-in that only serves beta.
    let app = axum::Router::new()
        .route(
            "/v1.0/security/auditLog/queries",
            axum::routing::post(|| async {
                (
                    axum::http::StatusCode::BAD_REQUEST,
                    axum::Json(serde_json::json!({"error": {"code": "BadRequest", "message": "Resource not found for the segment 'auditLog'."}})),
                )
            }),
        )
        .route(
            "/beta/security/auditLog/queries",
            axum::routing::post(|| async {
                (
                    axum::http::StatusCode::CREATED,
                    axum::Json(serde_json::json!({"id": "b1", "status": "notStarted"})),
                )
            }),
        );
    let fake = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake_root = format!("http://{}", fake.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(fake, app).await });
    let sim = sim(&[], o365_sim::testing::instant_graph()).await;
    let mut tenant = sim_tenant(&sim.base_url(), T).unwrap();
    tenant.endpoints = tenant
        .endpoints
        .with_graph(&fake_root, o365_sim::GRAPH_AUDIENCE)
        .unwrap();
    let g = GraphClient::new(&tenant, fast_retries(2), Clock::system()).unwrap();
    let q = NewAuditQuery {
        display_name: "b".into(),
        filter_start_date_time: t0(),
        filter_end_date_time: t0() + TimeDelta::hours(1),
        record_type_filters: vec!["exchangeItem".into()],
    };
    let created = g.create_query(&q, deadline()).await.unwrap();
    assert_eq!(created.version, GraphVersion::Beta);
    assert_eq!(created.query.id, "b1");
}

#[test]
fn record_type_names_agree_with_the_simulators_graph_table() {
    for (n, _) in o365_activity::record_type::RECORD_TYPES {
        let ours = o365_activity::audit::record_types::graph_name(*n).unwrap();
        let sim = o365_sim::graph_record_type(*n);
        if sim != "unknownFutureValue" {
            assert_eq!(ours, sim, "record type {n}");
        }
    }
}
