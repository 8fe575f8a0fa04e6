//! Contract tests of the fault scenarios, each switched on alone at a rate that makes it certain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use o365_sim::{Scenario, SimConfig};

fn with(scenarios: &[&str]) -> SimConfig {
    let mut cfg = config();
    cfg.scenarios = scenarios
        .iter()
        .map(|s| Scenario::parse(s).unwrap())
        .collect();
    cfg
}

async fn subscribed(scenarios: &[&str], ct: &str) -> (Ctx, String) {
    let c = start(with(scenarios)).await;
    let token = c.token(T).await;
    assert_eq!(c.start_sub(&token, T, ct).await.status(), 200);
    (c, token)
}

fn ids(entries: &[serde_json::Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["contentId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn throttle_answers_af429_with_403_and_no_retry_after() {
    let c = start(with(&["throttle=every:1"])).await;
    let token = c.token(T).await;
    let r = c
        .get(
            &token,
            &c.feed(
                T,
                "subscriptions/list?PublisherIdentifier=00000000-0000-0000-0000-0000000000a1",
            ),
        )
        .await;
    assert!(r.headers().get("retry-after").is_none());
    let (status, code, message) = error_code(r).await;
    assert_eq!((status, code.as_str()), (403, "AF429"));
    assert_eq!(message, "Too many requests. Method=ListSubscriptions, PublisherId=00000000-0000-0000-0000-0000000000a1");
    let (_, _, message) = c.fails(&token, T, "subscriptions/list").await;
    assert_eq!(message, "Too many requests. Method=ListSubscriptions, PublisherId=00000000-0000-0000-0000-000000000000");
    let ledger = c.sim.ledger();
    assert_eq!(
        ledger
            .requests
            .iter()
            .filter(|r| r.fault.as_deref() == Some("throttle"))
            .count(),
        2
    );
    c.sim.shutdown().await;
}

#[tokio::test]
async fn plain_429_with_and_without_retry_after() {
    let c = start(with(&["throttle-429=every:2"])).await;
    let token = c.token(T).await;
    let url = c.feed(T, "subscriptions/list");
    assert_eq!(c.get(&token, &url).await.status(), 200);
    let r = c.get(&token, &url).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(error_code(r).await.1, "AF429");
    c.sim.shutdown().await;

    let c = start(with(&["throttle-429-bare=1"])).await;
    let token = c.token(T).await;
    let r = c.get(&token, &c.feed(T, "subscriptions/list")).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_none());
    c.sim.shutdown().await;
}

#[tokio::test]
async fn server_errors_come_in_several_shapes() {
    let c = start(with(&["server-error=1"])).await;
    let token = c.token(T).await;
    let mut seen = HashSet::new();
    for _ in 0..40 {
        let r = c.get(&token, &c.feed(T, "subscriptions/list")).await;
        let status = r.status().as_u16();
        assert!([500, 503, 408].contains(&status), "{status}");
        let body = r.text().await.unwrap();
        if status == 500 {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(v["error"]["code"].as_str().unwrap().starts_with("AF5000"));
        } else {
            assert!(
                serde_json::from_str::<serde_json::Value>(&body).is_err(),
                "gateway bodies are not JSON"
            );
        }
        seen.insert(status);
    }
    assert_eq!(seen.len(), 3);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn dropped_connections_cut_the_body_and_are_not_counted_as_served() {
    let (c, token) = subscribed(&["drop-connection=every:2"], "Audit.Exchange").await;
    // Request 1 (the start) went through; the listing (request 2) is cut.
    let r = c
        .get(
            &token,
            &c.feed(T, "subscriptions/content?contentType=Audit.Exchange"),
        )
        .await;
    assert_eq!(r.status(), 200, "the status line and headers arrive");
    assert!(r.bytes().await.is_err(), "the body must fail mid-way");
    let (entries, _) = {
        let r = c
            .get(
                &token,
                &c.feed(T, "subscriptions/content?contentType=Audit.Exchange"),
            )
            .await;
        assert_eq!(r.status(), 200);
        (r.json::<Vec<serde_json::Value>>().await.unwrap(), ())
    };
    let uri = entries[0]["contentUri"].as_str().unwrap();
    assert!(c.get(&token, uri).await.bytes().await.is_err());
    let whole = c.get(&token, uri).await;
    assert!(serde_json::from_slice::<serde_json::Value>(&whole.bytes().await.unwrap()).is_ok());
    let ledger = c.sim.ledger();
    assert_eq!(ledger.served[entries[0]["contentId"].as_str().unwrap()], 1);
    assert_eq!(
        ledger
            .requests
            .iter()
            .filter(|r| r.fault.as_deref() == Some("drop-connection"))
            .count(),
        2
    );
    c.sim.shutdown().await;
}

#[tokio::test]
async fn slow_answers_still_answer() {
    let (c, token) = subscribed(&["slow=every:1"], "Audit.General").await;
    assert_eq!(
        c.get(&token, &c.feed(T, "subscriptions/list"))
            .await
            .status(),
        200
    );
    assert!(c
        .sim
        .ledger()
        .requests
        .iter()
        .any(|r| r.fault.as_deref() == Some("slow")));
    c.sim.shutdown().await;
}

#[tokio::test]
async fn the_same_blob_twice_in_one_page() {
    let (c, token) = subscribed(&["duplicate-in-page=0.5"], "Audit.SharePoint").await;
    let (entries, _) = c
        .list_all(
            &token,
            &c.feed(T, "subscriptions/content?contentType=Audit.SharePoint"),
        )
        .await;
    let all = ids(&entries);
    let unique: HashSet<_> = all.iter().cloned().collect();
    assert!(all.len() > unique.len(), "some blob is listed twice");
    let ledger = c.sim.ledger();
    let start = t0() - chrono::Duration::hours(24);
    let want: HashSet<String> = ledger
        .published_for(T, "Audit.SharePoint")
        .filter(|b| b.content_created >= start)
        .map(|b| b.content_id.clone())
        .collect();
    assert_eq!(unique, want, "duplicates add nothing and lose nothing");
    c.sim.shutdown().await;
}

#[tokio::test]
async fn the_same_blob_in_two_windows() {
    let (c, token) = subscribed(&["duplicate-across-windows=1"], "Audit.Exchange").await;
    let win = |from: i64, to: i64| {
        let f = (t0() - chrono::Duration::hours(from)).format("%Y-%m-%dT%H:%M:%S");
        let t = (t0() - chrono::Duration::hours(to)).format("%Y-%m-%dT%H:%M:%S");
        c.feed(
            T,
            &format!("subscriptions/content?contentType=Audit.Exchange&startTime={f}&endTime={t}"),
        )
    };
    let (early, _) = c.list_all(&token, &win(20, 10)).await;
    let (late, _) = c.list_all(&token, &win(10, 0)).await;
    let early: HashSet<_> = ids(&early).into_iter().collect();
    let late: HashSet<_> = ids(&late).into_iter().collect();
    assert!(!early.is_disjoint(&late), "a blob listed in both windows");
    let ledger = c.sim.ledger();
    assert!(ledger
        .published
        .iter()
        .all(|b| b.relisted_at.len() == 1 && b.relisted_at[0] > b.content_created));
    c.sim.shutdown().await;
}

#[tokio::test]
async fn shuffled_pages_are_out_of_availability_order() {
    let (c, token) = subscribed(&["shuffle-pages"], "Audit.General").await;
    let r = c
        .get(
            &token,
            &c.feed(T, "subscriptions/content?contentType=Audit.General"),
        )
        .await;
    let page: Vec<serde_json::Value> = r.json().await.unwrap();
    let created: Vec<&str> = page
        .iter()
        .map(|e| e["contentCreated"].as_str().unwrap())
        .collect();
    let mut sorted = created.clone();
    sorted.sort();
    assert_eq!(created.len(), 100);
    assert_ne!(created, sorted);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn late_blobs_appear_in_windows_already_passed() {
    let (c, token) = subscribed(&["late-blobs=1"], "Audit.Exchange").await;
    let f = (t0() - chrono::Duration::hours(3)).format("%Y-%m-%dT%H:%M:%S");
    let t = t0().format("%Y-%m-%dT%H:%M:%S");
    let url = c.feed(
        T,
        &format!("subscriptions/content?contentType=Audit.Exchange&startTime={f}&endTime={t}"),
    );
    let (before, _) = c.list_all(&token, &url).await;
    c.sim.advance(Duration::from_secs(7 * 3600));
    let token = c.token(T).await;
    let (after, _) = c.list_all(&token, &url).await;
    assert!(
        after.len() > before.len(),
        "blobs created in the window became listable later"
    );
    let before: HashSet<_> = ids(&before).into_iter().collect();
    let ledger = c.sim.ledger();
    for id in ids(&after).iter().filter(|id| !before.contains(*id)) {
        let b = ledger
            .published
            .iter()
            .find(|b| &b.content_id == id)
            .unwrap();
        assert!(b.available_at > t0() && b.content_created < t0());
        assert_eq!(b.fault.as_deref(), Some("late"));
    }
    c.sim.shutdown().await;
}

#[tokio::test]
async fn blobs_that_expire_early() {
    let (c, token) = subscribed(&["early-expiry=1"], "Audit.General").await;
    let (entries, _) = c
        .list_all(
            &token,
            &c.feed(T, "subscriptions/content?contentType=Audit.General"),
        )
        .await;
    let last = entries.last().unwrap();
    let created =
        chrono::DateTime::parse_from_rfc3339(last["contentCreated"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(last["contentExpiration"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, chrono::Duration::minutes(20));
    let uri = last["contentUri"].as_str().unwrap();
    c.sim.set_time(expires.with_timezone(&chrono::Utc));
    let token = c.token(T).await;
    assert_eq!(error_code(c.get(&token, uri).await).await.1, "AF20051");
    c.sim.shutdown().await;
}

#[tokio::test]
async fn truncated_and_malformed_bodies() {
    for (scenario, tag) in [
        ("truncated-blobs=1", "truncated"),
        ("malformed-blobs=1", "malformed"),
    ] {
        let (c, token) = subscribed(&[scenario], "Audit.Exchange").await;
        let r = c
            .get(
                &token,
                &c.feed(T, "subscriptions/content?contentType=Audit.Exchange"),
            )
            .await;
        let page: Vec<serde_json::Value> = r.json().await.unwrap();
        let blob = c.get(&token, page[0]["contentUri"].as_str().unwrap()).await;
        assert_eq!(blob.status(), 200);
        let body = blob.bytes().await.unwrap();
        assert!(
            serde_json::from_slice::<serde_json::Value>(&body).is_err(),
            "{scenario}"
        );
        let ledger = c.sim.ledger();
        let b = ledger
            .published
            .iter()
            .find(|b| b.content_id == page[0]["contentId"].as_str().unwrap())
            .unwrap();
        assert_eq!(b.fault.as_deref(), Some(tag));
        assert!(b.record_count > 0);
        c.sim.shutdown().await;
    }
}

#[tokio::test]
async fn duplicate_records_inside_blobs() {
    let (c, token) = subscribed(&["duplicate-records=0.3"], "Audit.AzureActiveDirectory").await;
    let (entries, _) = c
        .list_all(
            &token,
            &c.feed(
                T,
                "subscriptions/content?contentType=Audit.AzureActiveDirectory",
            ),
        )
        .await;
    let mut found = false;
    for e in entries.iter().take(20) {
        let records: Vec<serde_json::Value> = c
            .get(&token, e["contentUri"].as_str().unwrap())
            .await
            .json()
            .await
            .unwrap();
        let ids: Vec<&str> = records.iter().map(|r| r["Id"].as_str().unwrap()).collect();
        let unique: HashSet<_> = ids.iter().collect();
        if unique.len() < ids.len() {
            found = true;
            let dup = ids
                .iter()
                .find(|id| ids.iter().filter(|x| x == id).count() > 1)
                .unwrap();
            let copies: Vec<&serde_json::Value> =
                records.iter().filter(|r| r["Id"] == **dup).collect();
            assert!(
                copies.windows(2).all(|w| w[0] == w[1]),
                "duplicates are identical records"
            );
        }
    }
    assert!(found);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn already_enabled_subscriptions_answer_af20024() {
    let c = start(with(&["already-enabled"])).await;
    let token = c.token(T).await;
    let list: Vec<serde_json::Value> = c
        .get(&token, &c.feed(T, "subscriptions/list"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 5);
    assert!(list.iter().all(|s| s["status"] == "enabled"));
    let (status, code, message) = error_code(c.start_sub(&token, T, "Audit.General").await).await;
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (
            400,
            "AF20024",
            "The subscription is already enabled. No property change."
        )
    );
    c.sim.shutdown().await;
}

#[tokio::test]
async fn per_tenant_start_cooldown() {
    let c = start(with(&["start-cooldown-tenant"])).await;
    let token = c.token(T).await;
    assert_eq!(c.start_sub(&token, T, "Audit.Exchange").await.status(), 200);
    c.sim.advance(Duration::from_secs(60));
    let (status, code, message) =
        error_code(c.start_sub(&token, T, "Audit.SharePoint").await).await;
    assert_eq!((status, code.as_str()), (403, "429"));
    assert!(
        message.ends_with("Please retry again after 14m 0s."),
        "{message}"
    );
    c.sim.shutdown().await;
}

#[tokio::test]
async fn paging_variants_lowercase_v1_path_old_header_small_pages() {
    let (c, token) = subscribed(
        &[
            "lowercase-next-page",
            "next-page-v1-path",
            "next-page-url-header",
            "small-pages=3",
        ],
        "Audit.General",
    )
    .await;
    let mut url = c.feed(T, "subscriptions/content?contentType=Audit.General");
    let mut total = Vec::new();
    let mut pages = 0;
    loop {
        let r = c.get(&token, &url).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("NextPageUri").is_none());
        let next = r
            .headers()
            .get("NextPageUrl")
            .map(|v| v.to_str().unwrap().to_string());
        let page: Vec<serde_json::Value> = r.json().await.unwrap();
        assert!(page.len() <= 3);
        pages += 1;
        total.extend(page);
        match next {
            Some(n) => {
                assert!(
                    n.contains("/api/v1/")
                        && n.contains("contenttype=")
                        && n.contains("nextpage=")
                        && !n.contains("nextPage="),
                    "{n}"
                );
                url = n;
            }
            None => break,
        }
    }
    let want = c
        .sim
        .ledger()
        .published_for(T, "Audit.General")
        .filter(|b| b.content_created >= t0() - chrono::Duration::hours(24))
        .count();
    assert_eq!(total.len(), want);
    assert_eq!(pages, want.div_ceil(3));
    c.sim.shutdown().await;
}

#[tokio::test]
async fn rate_limit_exhausts_the_tenant_budget() {
    let c = start(with(&["rate-limit=5"])).await;
    let token = c.token(T).await;
    let url = c.feed(T, "subscriptions/list");
    for _ in 0..5 {
        assert_eq!(c.get(&token, &url).await.status(), 200);
    }
    let (status, code, _) = error_code(c.get(&token, &url).await).await;
    assert_eq!((status, code.as_str()), (403, "AF429"));
    c.sim.shutdown().await;
}

#[tokio::test]
async fn rate_burst_sizes_the_bucket_and_it_refills_at_the_rate() {
    // 60/min = one token a second, a bucket of 3.
    let c = start(with(&["rate-limit=60", "rate-burst=3"])).await;
    let token = c.token(T).await;
    let url = c.feed(T, "subscriptions/list");
    for _ in 0..3 {
        assert_eq!(c.get(&token, &url).await.status(), 200);
    }
    let (status, code, _) = error_code(c.get(&token, &url).await).await;
    assert_eq!((status, code.as_str()), (403, "AF429"));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        c.get(&token, &url).await.status(),
        200,
        "refilled after a second"
    );
    c.sim.shutdown().await;
}

#[tokio::test]
async fn token_endpoint_errors() {
    let c = start(with(&["token-errors=every:2"])).await;
    let scope = format!("{}/.default", c.base);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", o365_sim::DEFAULT_CLIENT_ID),
        ("client_secret", o365_sim::DEFAULT_CLIENT_SECRET),
        ("scope", scope.as_str()),
    ];
    assert_eq!(c.token_response(T, &form, true).await.status(), 200);
    let r = c.token_response(T, &form, true).await;
    assert_eq!(r.status(), 503);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "temporarily_unavailable");
    assert_eq!(v["error_codes"][0], 90033);
    let ledger = c.sim.ledger();
    assert_eq!(ledger.requests[1].fault.as_deref(), Some("token-errors"));
    c.sim.shutdown().await;
}

#[tokio::test]
async fn legacy_publisher_buckets_are_shared_by_callers_without_an_identifier() {
    let mut cfg = with(&["publisher-buckets", "rate-limit=3"]);
    let t2 = "00000000-0000-0000-0000-000000000002";
    cfg.tenants.push(o365_sim::TenantSpec::new(t2));
    let c = start(cfg).await;
    let (tok1, tok2) = (c.token(T).await, c.token(t2).await);
    // Two tenants, no PublisherIdentifier: one shared budget of 3.
    assert_eq!(
        c.get(&tok1, &c.feed(T, "subscriptions/list"))
            .await
            .status(),
        200
    );
    assert_eq!(
        c.get(&tok2, &c.feed(t2, "subscriptions/list"))
            .await
            .status(),
        200
    );
    assert_eq!(
        c.get(&tok1, &c.feed(T, "subscriptions/list"))
            .await
            .status(),
        200
    );
    let (status, code, message) = c.fails(&tok2, t2, "subscriptions/list").await;
    assert_eq!((status, code.as_str()), (403, "AF429"));
    assert!(message.ends_with("PublisherId=00000000-0000-0000-0000-000000000000"));
    // A caller with its own identifier has its own budget.
    let own = c.feed(
        t2,
        "subscriptions/list?PublisherIdentifier=00000000-0000-0000-0000-0000000000a1",
    );
    assert_eq!(c.get(&tok2, &own).await.status(), 200);
    c.sim.shutdown().await;
}

/// Many faults at once: a client that retries what failed, de-duplicates ids and pages to the end
/// still sees exactly the published blobs, and the ledger shows each fault happened.
#[tokio::test]
async fn combined_faults_still_allow_a_complete_collection() {
    let (c, token) = subscribed(
        &[
            "throttle=0.2",
            "server-error=0.2",
            "duplicate-in-page=0.1",
            "shuffle-pages",
            "small-pages=10",
        ],
        "Audit.SharePoint",
    )
    .await;
    let mut url = c.feed(T, "subscriptions/content?contentType=Audit.SharePoint");
    let mut seen = HashSet::new();
    loop {
        let r = c.get(&token, &url).await;
        if r.status() != 200 {
            continue;
        }
        let next = r
            .headers()
            .get("NextPageUri")
            .map(|v| v.to_str().unwrap().to_string());
        let page: Vec<serde_json::Value> = r.json().await.unwrap();
        seen.extend(ids(&page));
        match next {
            Some(n) => url = n,
            None => break,
        }
    }
    for id in &seen {
        let uri = format!("{}/api/v1.0/{T}/activity/feed/audit/{id}", c.base);
        while c.get(&token, &uri).await.status() != 200 {}
    }
    let ledger = c.sim.ledger();
    let want: HashSet<String> = ledger
        .published_for(T, "Audit.SharePoint")
        .filter(|b| b.content_created >= t0() - chrono::Duration::hours(24))
        .map(|b| b.content_id.clone())
        .collect();
    assert_eq!(seen, want);
    assert!(want.iter().all(|id| ledger.served[id] == 1));
    assert!(ledger
        .requests
        .iter()
        .any(|r| r.fault.as_deref() == Some("throttle")));
    assert!(ledger
        .requests
        .iter()
        .any(|r| r.fault.as_deref() == Some("server-error")));
    c.sim.shutdown().await;
}
