//! Contract tests of the Graph audit log query API (Purview's view), plain HTTP against the
//! simulator: tokens, the query lifecycle, paging, limits, and the Graph-view scenarios, each
//! checked against what the Management Activity API serves from the same ledger.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Duration as CDuration, NaiveDateTime, Utc};
use common::*;
use o365_sim::{
    ContentType, HeldBack, Scenario, SimConfig, TenantSpec, DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
};
use serde_json::{json, Value};

const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

fn with(scenarios: &[&str]) -> SimConfig {
    SimConfig {
        tenants: vec![TenantSpec {
            enabled_types: ContentType::ALL.to_vec(),
            ..TenantSpec::new(T)
        }],
        history: Duration::from_secs(40 * 3600),
        // The helpers read every blob after a window: far more than the default 120 a minute.
        throttle_per_minute: 100_000,
        scenarios: scenarios
            .iter()
            .map(|s| Scenario::parse(s).unwrap())
            .collect(),
        ..config()
    }
}

/// The hour `hours_back` before t0, as a query window.
fn hour(hours_back: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = t0() - CDuration::hours(hours_back);
    (start, start + CDuration::hours(1))
}

fn queries_url(c: &Ctx, version: &str) -> String {
    format!("{}/{version}/security/auditLog/queries", c.base)
}

async fn graph_token(c: &Ctx) -> String {
    let r = c
        .token_response(
            T,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("scope", GRAPH_SCOPE),
            ],
            true,
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

async fn submit(c: &Ctx, token: &str, body: &Value) -> reqwest::Response {
    c.http
        .post(queries_url(c, "v1.0"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn window_body(window: (DateTime<Utc>, DateTime<Utc>), types: &[&str]) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.security.auditLogQuery",
        "displayName": "audit hour",
        "filterStartDateTime": window.0.to_rfc3339(),
        "filterEndDateTime": window.1.to_rfc3339(),
        "recordTypeFilters": types,
    })
}

/// Submits a query, lets simulated time run it to `succeeded`, and returns its id.
async fn completed(c: &Ctx, token: &str, body: &Value) -> String {
    let r = submit(c, token, body).await;
    assert_eq!(r.status(), 201);
    let q: Value = r.json().await.unwrap();
    let id = q["id"].as_str().unwrap().to_string();
    c.sim.advance(Duration::from_secs(600));
    let q: Value = c
        .get(token, &format!("{}/{id}", queries_url(c, "v1.0")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(q["status"], "succeeded");
    id
}

/// Reads every page of a query's records, following `@odata.nextLink`.
async fn read_all(c: &Ctx, token: &str, id: &str) -> Vec<Value> {
    let mut url = format!("{}/{id}/records", queries_url(c, "v1.0"));
    let mut out = Vec::new();
    loop {
        let r = c.get(token, &url).await;
        assert_eq!(r.status(), 200, "{url}");
        let page: Value = r.json().await.unwrap();
        out.extend(page["value"].as_array().unwrap().iter().cloned());
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with(&c.base),
                    "absolute link on the sim: {next}"
                );
                url = next.to_string();
            }
            None => return out,
        }
    }
}

fn audit_ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["auditData"]["Id"].as_str().unwrap().to_string())
        .collect()
}

fn creation_time(record: &Value) -> DateTime<Utc> {
    let s = record["CreationTime"].as_str().unwrap();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .unwrap()
        .and_utc()
}

/// What the Management API serves for a window: every record, by `Id`, of every published
/// blob whose aggregation window could hold records created in it (records are at most 3 h
/// older than their blob's window start).
async fn management_records(
    c: &Ctx,
    window: (DateTime<Utc>, DateTime<Utc>),
) -> BTreeMap<String, Value> {
    let token = c.token(T).await;
    let ledger = c.sim.ledger();
    let mut out = BTreeMap::new();
    for blob in &ledger.published {
        let t1 = NaiveDateTime::parse_from_str(&blob.content_id[..14], "%Y%m%d%H%M%S")
            .unwrap()
            .and_utc();
        // Every blob that can hold a record of the window: a record can be published in a
        // blob created any time after it (no upper bound, else a late record is in Purview only).
        if t1 + CDuration::hours(1) < window.0 {
            continue;
        }
        let r = c.get(&token, &blob.content_uri).await;
        // Any refusal (a throttle, say) fails the test: skipping it would drop records.
        assert_eq!(r.status(), 200, "{}", blob.content_uri);
        let bytes = r.bytes().await.unwrap();
        // A damaged body (truncated-blobs) serves no record whole.
        let Ok(body) = serde_json::from_slice::<Vec<Value>>(&bytes) else {
            continue;
        };
        for r in body {
            let at = creation_time(&r);
            if at >= window.0 && at < window.1 {
                out.insert(r["Id"].as_str().unwrap().to_string(), r);
            }
        }
    }
    out
}

#[tokio::test]
async fn graph_tokens_open_graph_routes_only_and_management_tokens_management_only() {
    let c = start(with(&[])).await;
    let graph = graph_token(&c).await;
    let management = c.token(T).await;
    let body = window_body(hour(10), &[]);
    assert_eq!(submit(&c, &graph, &body).await.status(), 201);
    let refused = submit(&c, &management, &body).await;
    assert_eq!(refused.status(), 401);
    let v: Value = refused.json().await.unwrap();
    assert_eq!(v["error"]["code"], "InvalidAuthenticationToken");
    let feed = c.feed(T, "subscriptions/list");
    assert_eq!(c.get(&graph, &feed).await.status(), 401);
    assert_eq!(c.get(&management, &feed).await.status(), 200);
    // The v1 endpoint takes `resource`; other clouds' Graph hosts are not this resource.
    let v1 = c
        .token_response(
            T,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("resource", "https://graph.microsoft.com"),
            ],
            false,
        )
        .await;
    assert_eq!(v1.status(), 200);
    let v: Value = v1.json().await.unwrap();
    assert_eq!(v["resource"], "https://graph.microsoft.com");
    let us_gov = c
        .token_response(
            T,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("scope", "https://graph.microsoft.us/.default"),
            ],
            true,
        )
        .await;
    assert_eq!(us_gov.status(), 400);
    assert_eq!(
        c.http
            .post(queries_url(&c, "v1.0"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let ops: Vec<_> = c
        .sim
        .ledger()
        .requests
        .iter()
        .filter_map(|r| r.operation.clone())
        .filter(|o| o.starts_with("auditLogQuery"))
        .collect();
    assert_eq!(ops.len(), 3, "{ops:?}");
    c.sim.shutdown().await;
}

#[tokio::test]
async fn a_query_runs_over_simulated_time_and_returns_what_the_feed_serves() {
    let c = start(with(&[])).await;
    let token = c.graph_token_via_handle();
    let window = hour(36);
    let r = submit(&c, &token, &window_body(window, &[])).await;
    assert_eq!(r.status(), 201);
    let q: Value = r.json().await.unwrap();
    assert_eq!(q["status"], "notStarted");
    assert_eq!(q["displayName"], "audit hour");
    assert_eq!(
        q["filterStartDateTime"],
        window.0.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    assert_eq!(q["recordTypeFilters"], json!([]));
    assert_eq!(q["isRecordCountLimitExceeded"], false);
    let url = format!("{}/{}", queries_url(&c, "v1.0"), q["id"].as_str().unwrap());
    let early = c.get(&token, &format!("{url}/records")).await;
    assert_eq!(early.status(), 400, "records only once succeeded");
    c.sim.advance(Duration::from_secs(2));
    let q: Value = c.get(&token, &url).await.json().await.unwrap();
    assert_eq!(q["status"], "running");
    c.sim.advance(Duration::from_secs(8));
    let q: Value = c.get(&token, &url).await.json().await.unwrap();
    assert_eq!(q["status"], "succeeded");

    let records = read_all(&c, &token, q["id"].as_str().unwrap()).await;
    let expected = management_records(&c, window).await;
    assert!(expected.len() > 50, "{}", expected.len());
    let got: BTreeSet<String> = audit_ids(&records).into_iter().collect();
    assert_eq!(
        got.len(),
        records.len(),
        "no duplicates without the scenario"
    );
    assert_eq!(got, expected.keys().cloned().collect::<BTreeSet<_>>());
    for r in &records {
        let id = r["auditData"]["Id"].as_str().unwrap();
        assert_ne!(
            r["id"].as_str().unwrap(),
            id,
            "join on auditData.Id, not id"
        );
        let mut data = r["auditData"].clone();
        data.as_object_mut().unwrap().remove("@odata.type");
        assert_eq!(data, expected[id], "auditData is the Management record");
        assert_eq!(r["operation"], expected[id]["Operation"]);
        assert_eq!(r["organizationId"], T);
        assert_eq!(r["service"], expected[id]["Workload"]);
    }
    // The same query is readable under /beta/ too.
    let beta = format!("{}/{}", queries_url(&c, "beta"), q["id"].as_str().unwrap());
    assert_eq!(c.get(&token, &beta).await.status(), 200);
    let missing = c
        .get(&token, &format!("{}/nope", queries_url(&c, "v1.0")))
        .await;
    assert_eq!(missing.status(), 404);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn purview_shows_a_record_once_its_blob_is_created_like_the_feed() {
    let c = start(with(&[])).await;
    let token = c.graph_token_via_handle();
    // The last hour: many of its records are in blobs not created yet.
    let window = hour(1);
    let r = submit(&c, &token, &window_body(window, &[])).await;
    let q: Value = r.json().await.unwrap();
    let expected = management_records(&c, window).await;
    c.sim.advance(Duration::from_secs(10));
    let records = read_all(&c, &token, q["id"].as_str().unwrap()).await;
    let got: BTreeSet<String> = audit_ids(&records).into_iter().collect();
    assert_eq!(got, expected.keys().cloned().collect::<BTreeSet<_>>());
    c.sim.shutdown().await;
}

#[tokio::test]
async fn records_downloaded_first_are_the_same_in_purview() {
    // Blobs the collector already downloaded are read from the simulator's body cache.
    let c = start(with(&["duplicate-records=0.2", "truncated-blobs=0.3"])).await;
    let token = c.graph_token_via_handle();
    let window = hour(36);
    let expected = management_records(&c, window).await;
    let id = completed(&c, &token, &window_body(window, &[])).await;
    let records = read_all(&c, &token, &id).await;
    let mut got = BTreeMap::new();
    for r in &records {
        let mut data = r["auditData"].clone();
        data.as_object_mut().unwrap().remove("@odata.type");
        got.insert(r["auditData"]["Id"].as_str().unwrap().to_string(), data);
    }
    assert_eq!(got.len(), records.len());
    // Truncated bodies cannot be read back, so Purview has more than the feed served whole.
    for (id, record) in &expected {
        assert_eq!(got.get(id), Some(record));
    }
    assert!(got.len() > expected.len());
    c.sim.shutdown().await;
}

#[tokio::test]
async fn record_type_filters_use_graph_names_and_bad_ones_are_refused() {
    let c = start(with(&["graph-page-size=7"])).await;
    let token = c.graph_token_via_handle();
    let window = hour(36);
    let types = ["azureActiveDirectoryStsLogon", "exchangeAdmin"];
    let id = completed(&c, &token, &window_body(window, &types)).await;
    let records = read_all(&c, &token, &id).await;
    let expected: BTreeSet<String> = management_records(&c, window)
        .await
        .into_iter()
        // Some records carry `RecordType` as a string ("15"); Purview reads it as the number.
        .filter(|(_, r)| {
            let n = r["RecordType"]
                .as_i64()
                .or_else(|| r["RecordType"].as_str().and_then(|s| s.parse().ok()));
            matches!(n, Some(15 | 1))
        })
        .map(|(id, _)| id)
        .collect();
    assert!(expected.len() > 7, "several pages");
    assert_eq!(
        audit_ids(&records).into_iter().collect::<BTreeSet<_>>(),
        expected
    );
    for r in &records {
        let graph = r["auditLogRecordType"].as_str().unwrap();
        assert!(types.contains(&graph), "{graph}");
    }
    let bad = submit(&c, &token, &window_body(window, &["ExchangeAdmin"])).await;
    assert_eq!(bad.status(), 400);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn the_record_count_limit_truncates_a_query_that_still_succeeds() {
    let c = start(with(&["record-count-limit=5"])).await;
    let token = c.graph_token_via_handle();
    let id = completed(&c, &token, &window_body(hour(36), &[])).await;
    let q: Value = c
        .get(&token, &format!("{}/{id}", queries_url(&c, "v1.0")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(q["isRecordCountLimitExceeded"], true);
    assert_eq!(q["recordCountLimit"], 5);
    assert!(q["approximateReturnedRecordCount"].as_u64().unwrap() > 5);
    assert_eq!(read_all(&c, &token, &id).await.len(), 5);
    // A client may ask for less than the limit in force, never for more.
    let mut body = window_body(hour(36), &[]);
    body["recordCountLimit"] = json!(3);
    let id = completed(&c, &token, &body).await;
    assert_eq!(read_all(&c, &token, &id).await.len(), 3);
    body["recordCountLimit"] = json!(500);
    let r = submit(&c, &token, &body).await;
    assert_eq!(r.json::<Value>().await.unwrap()["recordCountLimit"], 5);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn queries_in_flight_are_bounded_per_tenant() {
    let c = start(with(&[
        "graph-concurrent-queries=1",
        "graph-query-seconds=100",
    ]))
    .await;
    let token = c.graph_token_via_handle();
    assert_eq!(
        submit(&c, &token, &window_body(hour(36), &[]))
            .await
            .status(),
        201
    );
    let refused = submit(&c, &token, &window_body(hour(35), &[])).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "100");
    let v: Value = refused.json().await.unwrap();
    assert_eq!(v["error"]["code"], "TooManyRequests");
    c.sim.advance(Duration::from_secs(100));
    assert_eq!(
        submit(&c, &token, &window_body(hour(35), &[]))
            .await
            .status(),
        201
    );
    let list: Value = c
        .get(&token, &queries_url(&c, "v1.0"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["value"].as_array().unwrap().len(), 2);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn held_back_records_are_in_purview_and_the_ledger_says_which() {
    let c = start(with(&[
        "withhold-rate=0.05",
        "never-published=0.02",
        "purview-only=0.05",
        "withhold-delay-hours=40",
    ]))
    .await;
    let token = c.graph_token_via_handle();
    let window = hour(36);
    let id = completed(&c, &token, &window_body(window, &[])).await;
    let records = read_all(&c, &token, &id).await;
    let purview: BTreeSet<String> = audit_ids(&records).into_iter().collect();
    let served = management_records(&c, window).await;
    let ledger = c.sim.ledger();
    let in_window = |kind| -> BTreeSet<String> {
        ledger
            .held_back
            .iter()
            .filter(|r| r.kind == kind && r.creation_time >= window.0 && r.creation_time < window.1)
            .map(|r| r.id.clone())
            .collect()
    };
    let (withheld, never, only) = (
        in_window(HeldBack::Withheld),
        in_window(HeldBack::NeverPublished),
        in_window(HeldBack::PurviewOnly),
    );
    assert!(!withheld.is_empty() && !never.is_empty() && !only.is_empty());
    let missing: BTreeSet<String> = purview
        .iter()
        .filter(|id| !served.contains_key(*id))
        .cloned()
        .collect();
    let held: BTreeSet<String> = withheld.union(&never).chain(&only).cloned().collect();
    assert_eq!(
        missing, held,
        "Purview has exactly the held-back records more"
    );
    for r in records
        .iter()
        .filter(|r| only.contains(r["auditData"]["Id"].as_str().unwrap()))
    {
        assert_eq!(r["auditLogRecordType"], "syntheticProbe");
    }
    // The ledger names each held-back record's RecordType, as Purview types it.
    let types: BTreeMap<&str, &Value> = records
        .iter()
        .map(|r| {
            (
                r["auditData"]["Id"].as_str().unwrap(),
                &r["auditLogRecordType"],
            )
        })
        .collect();
    for r in ledger.held_back.iter().filter(|r| held.contains(&r.id)) {
        let n = r.record_type.expect("a held-back record has a RecordType");
        assert_eq!(
            *types[r.id.as_str()],
            o365_sim::graph_record_type(n),
            "{r:?}"
        );
    }
    assert_eq!(
        ledger.withheld_ids(T).len(),
        ledger.held_back_ids(T, HeldBack::Withheld).len()
    );
    // The withheld records are listed later, in a late blob under an old contentCreated.
    let late = ledger
        .held_back
        .iter()
        .find(|r| withheld.contains(&r.id))
        .unwrap()
        .clone();
    assert!(late.available_at.unwrap() > c.sim.now());
    c.sim.set_time(late.available_at.unwrap());
    let ledger = c.sim.ledger();
    let blob = ledger
        .published
        .iter()
        .find(|b| Some(&b.content_id) == late.content_id.as_ref())
        .expect("the late blob is listable now");
    assert_eq!(blob.fault.as_deref(), Some("withheld"));
    assert!(blob.record_ids.contains(&late.id));
    assert!(blob.content_created < blob.available_at - CDuration::hours(39));
    let published: BTreeSet<&String> = ledger
        .published
        .iter()
        .flat_map(|b| &b.record_ids)
        .collect();
    assert!(never.iter().all(|id| !published.contains(id)));
    assert!(only.iter().all(|id| !published.contains(id)));
    c.sim.shutdown().await;
}

#[tokio::test]
async fn unstable_paging_differs_on_the_first_read_only_and_duplicates_share_audit_data_ids() {
    let c = start(with(&[
        "unstable-paging",
        "graph-page-size=10",
        "purview-duplicates=0.1",
    ]))
    .await;
    let token = c.graph_token_via_handle();
    let id = completed(&c, &token, &window_body(hour(36), &[])).await;
    let first = read_all(&c, &token, &id).await;
    let second = read_all(&c, &token, &id).await;
    let third = read_all(&c, &token, &id).await;
    assert_ne!(first, second, "the first read skips or repeats a page");
    assert_eq!(second, third, "re-reads are stable");
    let graph_ids: BTreeSet<&str> = second.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        graph_ids.len(),
        second.len(),
        "every Graph record id is distinct"
    );
    let audit = audit_ids(&second);
    let distinct: BTreeSet<&String> = audit.iter().collect();
    assert!(
        distinct.len() < audit.len(),
        "by-design duplicates: same auditData.Id twice"
    );
    c.sim.shutdown().await;
}

#[tokio::test]
async fn failed_queries_have_no_records_and_daily_submissions_are_bounded() {
    let c = start(with(&[
        "graph-query-failures=every:1",
        "graph-daily-queries=2",
    ]))
    .await;
    let token = c.graph_token_via_handle();
    let r = submit(&c, &token, &window_body(hour(36), &[])).await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.sim.advance(Duration::from_secs(600));
    let url = format!("{}/{id}", queries_url(&c, "v1.0"));
    let q: Value = c.get(&token, &url).await.json().await.unwrap();
    assert_eq!(q["status"], "failed");
    assert_eq!(c.get(&token, &format!("{url}/records")).await.status(), 400);
    assert_eq!(
        submit(&c, &token, &window_body(hour(35), &[]))
            .await
            .status(),
        201
    );
    let refused = submit(&c, &token, &window_body(hour(34), &[])).await;
    assert_eq!(refused.status(), 429);
    let retry: i64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry, 86_400 - 600);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn the_ledger_endpoints_show_the_held_back_records() {
    let c = start(SimConfig {
        graph: o365_sim::testing::instant_graph(),
        ..with(&["withhold-rate=0.05", "purview-only=0.05"])
    })
    .await;
    let token = c.graph_token_via_handle();
    let r = submit(&c, &token, &window_body(hour(36), &[])).await;
    let q: Value = r.json().await.unwrap();
    assert_eq!(q["status"], "succeeded", "instant_graph: done at once");
    let ledger = c.control_get("/_sim/ledger").await;
    let held = ledger["held_back"].as_array().unwrap();
    let withheld = held.iter().filter(|r| r["kind"] == "withheld").count();
    assert_eq!(withheld, c.sim.ledger().withheld_ids(T).len());
    assert!(withheld > 0);
    assert!(held.iter().any(|r| r["kind"] == "purview-only"));
    let summary = c.control_get("/_sim/ledger/summary").await;
    assert_eq!(summary["held_back"]["withheld"], withheld);
    assert_eq!(summary["graph_queries"], 1);
    let info = c.control_get("/_sim/info").await;
    assert_eq!(info["graph"]["running_seconds"], 0);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn beta_only_refuses_v1_as_an_unknown_segment() {
    let c = start(with(&["graph-beta-only"])).await;
    let token = c.graph_token_via_handle();
    let refused = submit(&c, &token, &window_body(hour(36), &[])).await;
    assert_eq!(refused.status(), 400);
    let v: Value = refused.json().await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "Resource not found for the segment 'auditLog'."
    );
    let r = c
        .http
        .post(queries_url(&c, "beta"))
        .bearer_auth(&token)
        .json(&window_body(hour(36), &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    c.sim.shutdown().await;
}

trait GraphToken {
    fn graph_token_via_handle(&self) -> String;
}

impl GraphToken for Ctx {
    fn graph_token_via_handle(&self) -> String {
        self.sim.graph_access_token(T)
    }
}
