//! Contract tests of the documented rule violations and their AF codes (§4.3, §5, §9).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use o365_sim::{ContentType, TenantSpec};

fn content_url(c: &Ctx, query: &str) -> String {
    c.feed(
        T,
        &format!("subscriptions/content?contentType=Audit.General{query}"),
    )
}

#[tokio::test]
async fn listing_window_rules() {
    let c = start(config()).await;
    let token = c.token(T).await;
    c.start_sub(&token, T, "Audit.General").await;
    let cases: &[(&str, u16, &str)] = &[
        ("", 200, ""),
        ("&startTime=2026-03-01T00:00:00", 400, "AF20055"),
        ("&endTime=2026-03-01T00:00:00", 400, "AF20055"),
        (
            "&startTime=2026-03-01T06:00:00&endTime=2026-03-01T05:00:00",
            400,
            "AF20055",
        ),
        (
            "&startTime=2026-03-01T06:00:00&endTime=2026-03-01T06:00:00",
            400,
            "AF20055",
        ),
        (
            "&startTime=2026-02-28T06:00:00&endTime=2026-03-01T06:00:01",
            400,
            "AF20055",
        ),
        (
            "&startTime=2026-02-28T06:00:00&endTime=2026-03-01T06:00:00",
            200,
            "",
        ),
        (
            "&startTime=2026-02-21T11:00:00&endTime=2026-02-21T12:00:00",
            400,
            "AF20055",
        ),
        (
            "&startTime=2026-02-22T12:30:00&endTime=2026-02-22T13:00:00",
            200,
            "",
        ),
        (
            "&startTime=yesterday&endTime=2026-03-01T06:00:00",
            400,
            "AF20002",
        ),
        (
            "&startTime=2026-03-01T11:00:00&endTime=2026-03-01T20:00:00",
            200,
            "",
        ),
        ("&startTime=2026-03-01&endTime=2026-03-01T10:00", 200, ""),
        (
            "&startTime=2026-03-01T00:00:00Z&endTime=2026-03-01T10:00:00.000Z",
            200,
            "",
        ),
    ];
    for (query, status, code) in cases {
        let r = c.get(&token, &content_url(&c, query)).await;
        assert_eq!(r.status().as_u16(), *status, "{query}");
        if *status != 200 {
            let (_, got, message) = error_code(r).await;
            assert_eq!(got, *code, "{query}");
            if got == "AF20055" {
                assert!(message.starts_with("Start time and end time must both be specified"));
            }
        }
    }
    let (status, code, message) =
        error_code(c.get(&token, &c.feed(T, "subscriptions/content")).await).await;
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (400, "AF20001", "Missing parameter: contentType.")
    );
    for bad in ["Audit.Foo", "audit.general"] {
        let (status, code, _) = error_code(
            c.get(
                &token,
                &c.feed(T, &format!("subscriptions/content?contentType={bad}")),
            )
            .await,
        )
        .await;
        assert_eq!((status, code.as_str()), (400, "AF20020"), "{bad}");
    }
    // The ledger keeps the window each accepted listing used, defaulted or given.
    let ledger = c.sim.ledger();
    let listed: Vec<_> = ledger
        .requests
        .iter()
        .filter(|r| r.operation.as_deref() == Some("content") && r.status == 200)
        .collect();
    assert_eq!(listed.len(), 6);
    assert!(!listed[0].window_given);
    assert_eq!(
        listed[0].end_time.unwrap() - listed[0].start_time.unwrap(),
        chrono::Duration::hours(24)
    );
    assert!(listed[1..].iter().all(|r| r.window_given
        && r.end_time.unwrap() - r.start_time.unwrap() <= chrono::Duration::hours(24)));
    c.sim.shutdown().await;
}

#[tokio::test]
async fn af20030_and_exact_24h_switches() {
    let mut cfg = config();
    cfg.scenarios = vec![
        o365_sim::Scenario::parse("af20030").unwrap(),
        o365_sim::Scenario::parse("reject-exact-24h").unwrap(),
    ];
    let c = start(cfg).await;
    let token = c.token(T).await;
    c.start_sub(&token, T, "Audit.General").await;
    let (status, code, _) = error_code(
        c.get(
            &token,
            &content_url(
                &c,
                "&startTime=2026-02-28T06:00:00&endTime=2026-03-01T06:00:00",
            ),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "AF20030"));
    let ok = c
        .get(
            &token,
            &content_url(
                &c,
                "&startTime=2026-02-28T06:00:01&endTime=2026-03-01T06:00:00",
            ),
        )
        .await;
    assert_eq!(ok.status(), 200);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn next_page_tokens_are_checked_and_parameter_names_are_case_insensitive() {
    let mut cfg = config();
    cfg.page_size = 2;
    let c = start(cfg).await;
    let token = c.token(T).await;
    c.start_sub(&token, T, "Audit.Exchange").await;
    let first = c.feed(T, "subscriptions/content?contentType=Audit.Exchange&startTime=2026-03-01T00:00:00&endTime=2026-03-01T12:00:00");
    let r = c.get(&token, &first).await;
    let next = r.headers()["NextPageUri"].to_str().unwrap().to_string();
    assert!(next.starts_with(&format!("{}/api/v1.0/{T}/activity/feed/subscriptions/content?contentType=Audit.Exchange&startTime=2026-03-01T00%3A00%3A00&endTime=2026-03-01T12%3A00%3A00&nextPage=", c.base)), "{next}");
    let page2: Vec<serde_json::Value> = c.get(&token, &next).await.json().await.unwrap();
    assert_eq!(page2.len(), 2);

    // Lower-cased names and the /api/v1/ prefix reach the same page.
    let lowered = next
        .replace("contentType=", "contenttype=")
        .replace("startTime=", "starttime=")
        .replace("endTime=", "endtime=")
        .replace("nextPage=", "nextpage=")
        .replace("/api/v1.0/", "/api/v1/");
    let same: Vec<serde_json::Value> = c.get(&token, &lowered).await.json().await.unwrap();
    assert_eq!(same, page2);

    let (status, code, _) = error_code(c.get(&token, &format!("{next}0")).await).await;
    assert_eq!((status, code.as_str()), (400, "AF20031"));
    let other_window = next.replace(
        "endTime=2026-03-01T12%3A00%3A00",
        "endTime=2026-03-01T11%3A00%3A00",
    );
    let (status, code, _) = error_code(c.get(&token, &other_window).await).await;
    assert_eq!((status, code.as_str()), (400, "AF20031"));
    c.sim.shutdown().await;
}

#[tokio::test]
async fn dlp_needs_its_own_permission() {
    let mut cfg = config();
    let mut t2 = TenantSpec::new("00000000-0000-0000-0000-000000000002");
    t2.dlp_permission = false;
    cfg.tenants.push(t2);
    let c = start(cfg).await;
    let t2 = "00000000-0000-0000-0000-000000000002";
    let token = c.token(t2).await;
    let (status, code, message) = error_code(c.start_sub(&token, t2, "DLP.All").await).await;
    assert_eq!((status, code.as_str()), (401, "AF10001"));
    assert_eq!(message, "The permission set (ActivityFeed.Read) sent in the request does not include the expected permission.");
    let (status, code, _) = error_code(
        c.get(
            &token,
            &c.feed(t2, "subscriptions/content?contentType=DLP.All"),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (401, "AF10001"));
    assert_eq!(
        c.start_sub(&token, t2, "Audit.Exchange").await.status(),
        200
    );

    // The first tenant has the permission.
    let token1 = c.token(T).await;
    assert_eq!(c.start_sub(&token1, T, "DLP.All").await.status(), 200);
    let (entries, _) = c
        .list_all(
            &token1,
            &c.feed(T, "subscriptions/content?contentType=DLP.All"),
        )
        .await;
    assert!(!entries.is_empty());
    let blob: Vec<serde_json::Value> = c
        .get(&token1, entries[0]["contentUri"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert!(blob
        .iter()
        .all(|r| r["PolicyDetails"].is_array() || r.get("Id").is_some()));
    // The tenant without the permission cannot read that blob through its own URL either.
    let foreign = entries[0]["contentUri"].as_str().unwrap().replace(T, t2);
    let r = c.get(&token, &foreign).await;
    assert_eq!(r.status(), 404);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn admin_disabled_subscription_answers_af20023() {
    let mut cfg = config();
    cfg.tenants[0].disabled_types = vec![ContentType::SharePoint];
    let c = start(cfg).await;
    let token = c.token(T).await;
    let list: serde_json::Value = c
        .get(&token, &c.feed(T, "subscriptions/list"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list,
        serde_json::json!([{"contentType": "Audit.SharePoint", "status": "disabled", "webhook": null}])
    );
    let (status, code, message) = error_code(
        c.get(
            &token,
            &c.feed(T, "subscriptions/content?contentType=Audit.SharePoint"),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (
            400,
            "AF20023",
            "The subscription was disabled by a tenant admin."
        )
    );
    let published = c
        .sim
        .ledger()
        .published
        .into_iter()
        .find(|b| b.content_type == "Audit.SharePoint")
        .unwrap();
    let (_, code, _) = error_code(c.get(&token, &published.content_uri).await).await;
    assert_eq!(code, "AF20023");
    assert!(!published.visible);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn blob_errors() {
    let mut cfg = config();
    cfg.records_per_hour = 12;
    cfg.tenants
        .push(TenantSpec::new("00000000-0000-0000-0000-000000000002"));
    let c = start(cfg).await;
    let token = c.token(T).await;
    c.start_sub(&token, T, "Audit.AzureActiveDirectory").await;
    let (status, code, _) = error_code(c.get(&token, &c.feed(T, "audit/not-an-id")).await).await;
    assert_eq!((status, code.as_str()), (400, "AF20052"));
    let unknown = "20260301000000000000000$20260301000000000000000$audit_azureactivedirectory$Audit_AzureActiveDirectory$na0001";
    let (status, code, message) =
        error_code(c.get(&token, &c.feed(T, &format!("audit/{unknown}"))).await).await;
    assert_eq!((status, code.as_str()), (404, "AF20050"));
    assert_eq!(
        message,
        format!("The specified content ({unknown}) does not exist.")
    );

    let (entries, _) = c
        .list_all(
            &token,
            &c.feed(
                T,
                "subscriptions/content?contentType=Audit.AzureActiveDirectory",
            ),
        )
        .await;
    let oldest = &entries[0];
    let uri = oldest["contentUri"].as_str().unwrap();
    assert_eq!(c.get(&token, uri).await.status(), 200);

    // Another tenant's token cannot fetch it, even through its own tenant path.
    let t2 = "00000000-0000-0000-0000-000000000002";
    let token2 = c.token(t2).await;
    c.start_sub(&token2, t2, "Audit.AzureActiveDirectory").await;
    assert_eq!(c.get(&token2, &uri.replace(T, t2)).await.status(), 404);

    // After contentExpiration the blob is gone with AF20051.
    let expiration =
        chrono::DateTime::parse_from_rfc3339(oldest["contentExpiration"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc);
    c.sim.set_time(expiration + chrono::Duration::seconds(1));
    let token = c.token(T).await;
    let (status, code, _) = error_code(c.get(&token, uri).await).await;
    assert_eq!((status, code.as_str()), (400, "AF20051"));
    c.sim.shutdown().await;
}

#[tokio::test]
async fn stop_hides_content_created_until_the_restart() {
    let mut cfg = config();
    cfg.records_per_hour = 240;
    let c = start(cfg).await;
    let token = c.token(T).await;
    c.start_sub(&token, T, "Audit.Exchange").await;
    let stopped_at = c.sim.now();
    assert_eq!(
        c.post(
            &token,
            &c.feed(T, "subscriptions/stop?contentType=Audit.Exchange")
        )
        .await
        .status(),
        200
    );
    c.sim.advance(Duration::from_secs(3 * 3600));
    let token = c.token(T).await;
    let restarted_at = c.sim.now();
    assert_eq!(c.start_sub(&token, T, "Audit.Exchange").await.status(), 200);
    c.sim.advance(Duration::from_secs(6 * 3600));
    let q = format!(
        "subscriptions/content?contentType=Audit.Exchange&startTime={}&endTime={}",
        (stopped_at - chrono::Duration::hours(2)).format("%Y-%m-%dT%H:%M:%S"),
        c.sim.now().format("%Y-%m-%dT%H:%M:%S")
    );
    let token = c.token(T).await;
    let (entries, _) = c.list_all(&token, &c.feed(T, &q)).await;
    let created: Vec<_> = entries
        .iter()
        .map(|e| {
            chrono::DateTime::parse_from_rfc3339(e["contentCreated"].as_str().unwrap())
                .unwrap()
                .with_timezone(&chrono::Utc)
        })
        .collect();
    assert!(
        created.iter().any(|t| *t >= restarted_at),
        "content after the restart is listed"
    );
    assert!(
        created.iter().all(|t| *t >= restarted_at),
        "nothing from before the restart is exposed again"
    );
    let ledger = c.sim.ledger();
    assert!(ledger
        .published_for(T, "Audit.Exchange")
        .any(|b| b.content_created >= stopped_at
            && b.content_created < restarted_at
            && !b.visible));
    c.sim.shutdown().await;
}

#[tokio::test]
async fn webhook_rules_and_notifications() {
    let c = start(config()).await;
    let token = c.token(T).await;
    let start_url = c.feed(T, "subscriptions/start?contentType=Audit.General");
    let post = |body: serde_json::Value| {
        c.http
            .post(&start_url)
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let (status, code, _) = error_code(
        post(serde_json::json!({"webhook": {"address": "http://collector.example.net/notify"}}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "AF20021"));
    let (status, code, _) = error_code(post(serde_json::json!({"webhook": {"address": "https://collector.example.net/notify", "expiration": "2020-01-01T00:00:00"}})).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "AF20003"));
    let ok = post(serde_json::json!({"webhook": {"address": "https://collector.example.net/notify", "authId": "abc", "expiration": ""}})).await.unwrap();
    assert_eq!(ok.status(), 200);
    let v: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(
        v["webhook"]["address"],
        "https://collector.example.net/notify"
    );
    assert_eq!(v["webhook"]["authId"], "abc");
    let n = c
        .get(
            &token,
            &c.feed(T, "subscriptions/notifications?contentType=Audit.General"),
        )
        .await;
    assert_eq!(n.status(), 200);
    assert_eq!(n.text().await.unwrap(), "[]");
    let (_, code, _) = error_code(
        c.get(
            &token,
            &c.feed(T, "subscriptions/notifications?contentType=Audit.Exchange"),
        )
        .await,
    )
    .await;
    assert_eq!(code, "AF20022");
    c.sim.shutdown().await;
}

#[tokio::test]
async fn dlp_sensitive_types_and_unknown_paths() {
    let c = start(config()).await;
    let token = c.token(T).await;
    let url = c.feed(T, "resources/dlpSensitiveTypes");
    let ok: Vec<serde_json::Value> = c
        .http
        .get(&url)
        .bearer_auth(&token)
        .header("Accept-Language", "en-US")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(ok
        .iter()
        .all(|t| t["id"].is_string() && t["name"].is_string()));
    let r = c
        .http
        .get(&url)
        .bearer_auth(&token)
        .header("Accept-Language", "en-US, fr")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await.1, "AF20053");
    let r = c
        .http
        .get(&url)
        .bearer_auth(&token)
        .header("Accept-Language", "en_US;;")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await.1, "AF20054");
    assert_eq!(
        c.get(&token, &c.feed(T, "subscriptions/nothing"))
            .await
            .status(),
        404
    );
    assert_eq!(
        c.get(&token, &format!("{}/elsewhere", c.base))
            .await
            .status(),
        404
    );
    c.sim.shutdown().await;
}
