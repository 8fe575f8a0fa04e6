//! Contract tests: plain HTTP calls against the simulator alone, one documented behaviour each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use o365_sim::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};

#[tokio::test]
async fn v2_token_with_secret_and_its_errors() {
    let c = start(config()).await;
    let scope = format!("{}/.default", c.base);
    let ok = c
        .token_response(
            T,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("scope", &scope),
            ],
            true,
        )
        .await;
    assert_eq!(ok.status(), 200);
    let v: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3599);
    assert!(v["access_token"].as_str().unwrap().split('.').count() == 3);

    let bad_secret = c
        .token_response(
            T,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", "nope"),
                ("scope", &scope),
            ],
            true,
        )
        .await;
    assert_eq!(bad_secret.status(), 401);
    let v: serde_json::Value = bad_secret.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client");
    assert_eq!(v["error_codes"][0], 7000215);

    let bad_scope = c
        .token_response(
            T,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("scope", "https://manage.office.com/.default"),
            ],
            true,
        )
        .await;
    assert_eq!(bad_scope.status(), 400);
    let v: serde_json::Value = bad_scope.json().await.unwrap();
    assert_eq!(v["error"], "invalid_resource");

    let unknown_tenant = c
        .token_response(
            "00000000-0000-0000-0000-0000000000ff",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("scope", &scope),
            ],
            true,
        )
        .await;
    assert_eq!(unknown_tenant.status(), 400);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn v1_token_uses_resource_and_string_numbers() {
    let c = start(config()).await;
    let r = c
        .token_response(
            T,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("resource", &c.base),
            ],
            false,
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["expires_in"], "3599");
    assert_eq!(v["resource"], c.base.as_str());
    let expires_on: i64 = v["expires_on"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires_on, t0().timestamp() + 3599);
    let token = v["access_token"].as_str().unwrap();
    let list = c.get(token, &c.feed(T, "subscriptions/list")).await;
    assert_eq!(list.status(), 200);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn missing_invalid_expired_and_foreign_tokens_are_rejected() {
    let mut cfg = config();
    cfg.tenants.push(o365_sim::TenantSpec::new(
        "00000000-0000-0000-0000-000000000002",
    ));
    cfg.token_lifetime = Duration::from_secs(600);
    let c = start(cfg).await;
    let url = c.feed(T, "subscriptions/list");
    let none = c.http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    let v: serde_json::Value = none.json().await.unwrap();
    assert_eq!(
        v,
        serde_json::json!({"Message": "Authorization has been denied for this request."})
    );

    let garbage = c.get("not.a.token", &url).await;
    assert_eq!(garbage.status(), 401);

    let other = c.token("00000000-0000-0000-0000-000000000002").await;
    let (status, code, _) = error_code(c.get(&other, &url).await).await;
    assert_eq!((status, code.as_str()), (401, "AF20010"));

    let (status, code, _) = error_code(
        c.get(&other, &c.feed("not-a-guid", "subscriptions/list"))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "AF20013"));

    let token = c.token(T).await;
    assert_eq!(c.get(&token, &url).await.status(), 200);
    c.sim.advance(Duration::from_secs(601));
    let expired = c.get(&token, &url).await;
    assert_eq!(expired.status(), 401);
    let ledger = c.sim.ledger();
    assert!(ledger.requests.iter().filter(|r| r.status == 401).count() >= 3);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn subscription_lifecycle_cooldown_and_already_enabled() {
    let c = start(config()).await;
    let token = c.token(T).await;
    let list = c.get(&token, &c.feed(T, "subscriptions/list")).await;
    assert_eq!(list.text().await.unwrap(), "[]");

    let (status, code, _) = error_code(
        c.get(
            &token,
            &c.feed(T, "subscriptions/content?contentType=Audit.Exchange"),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "AF20022"));

    let r = c.start_sub(&token, T, "Audit.Exchange").await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v,
        serde_json::json!({"contentType": "Audit.Exchange", "status": "enabled", "webhook": null})
    );

    // Other types are not held back by the cool-down of this one.
    assert_eq!(
        c.start_sub(&token, T, "Audit.SharePoint").await.status(),
        200
    );

    let (status, code, message) = error_code(c.start_sub(&token, T, "Audit.Exchange").await).await;
    assert_eq!((status, code.as_str()), (403, "429"));
    assert_eq!(
        message,
        "Too many frequent subscription start requests. Please retry again after 15m 0s."
    );

    c.sim.advance(Duration::from_secs(16 * 60));
    let token = c.token(T).await;
    let (status, code, _) = error_code(c.start_sub(&token, T, "Audit.Exchange").await).await;
    assert_eq!((status, code.as_str()), (400, "AF20024"));

    let list: serde_json::Value = c
        .get(&token, &c.feed(T, "subscriptions/list"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    let stop = c
        .post(
            &token,
            &c.feed(T, "subscriptions/stop?contentType=Audit.Exchange"),
        )
        .await;
    assert_eq!(stop.status(), 200);
    assert_eq!(stop.text().await.unwrap(), "");
    let list: serde_json::Value = c
        .get(&token, &c.feed(T, "subscriptions/list"))
        .await
        .json()
        .await
        .unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["contentType"] == "Audit.Exchange" && s["status"] == "disabled"));
    let (_, code, _) = error_code(
        c.get(
            &token,
            &c.feed(T, "subscriptions/content?contentType=Audit.Exchange"),
        )
        .await,
    )
    .await;
    assert_eq!(code, "AF20022");
    c.sim.shutdown().await;
}

#[tokio::test]
async fn listing_pages_to_the_end_and_matches_the_ledger() {
    let mut cfg = config();
    cfg.page_size = 7;
    let c = start(cfg).await;
    let token = c.token(T).await;
    assert_eq!(c.start_sub(&token, T, "Audit.General").await.status(), 200);
    let (entries, pages) = c.list_all(&token, &c.feed(T, "subscriptions/content?contentType=Audit.General&PublisherIdentifier=00000000-0000-0000-0000-0000000000a1")).await;
    assert!(
        pages > 2,
        "default history needs several pages of 7, got {pages}"
    );
    let ledger = c.sim.ledger();
    let start = t0() - chrono::Duration::hours(24);
    let want: HashSet<String> = ledger
        .published_for(T, "Audit.General")
        .filter(|b| b.content_created >= start && b.content_created < t0())
        .map(|b| b.content_id.clone())
        .collect();
    let got: Vec<String> = entries
        .iter()
        .map(|e| e["contentId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got.len(), want.len(), "each blob listed once");
    assert_eq!(got.iter().cloned().collect::<HashSet<_>>(), want);
    for e in &entries {
        assert_eq!(e["contentType"], "Audit.General");
        let created = e["contentCreated"].as_str().unwrap();
        assert!(created.ends_with('Z') && created.len() == 24, "{created}");
        assert!(e["contentUri"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/api/v1.0/{T}/activity/feed/audit/", c.base)));
    }
    // Availability order.
    let created: Vec<&str> = entries
        .iter()
        .map(|e| e["contentCreated"].as_str().unwrap())
        .collect();
    let mut sorted = created.clone();
    sorted.sort();
    assert_eq!(created, sorted);

    // Download every blob once: the ledger counts each exactly once and the records match.
    for e in &entries {
        let r = c
            .get(
                &token,
                &format!(
                    "{}?PublisherIdentifier=00000000-0000-0000-0000-0000000000a1",
                    e["contentUri"].as_str().unwrap()
                ),
            )
            .await;
        assert_eq!(r.status(), 200);
        let records: Vec<serde_json::Value> = r.json().await.unwrap();
        let id = e["contentId"].as_str().unwrap();
        let published = ledger
            .published
            .iter()
            .find(|b| b.content_id == id)
            .unwrap();
        let ids: Vec<String> = records
            .iter()
            .map(|r| r["Id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, published.record_ids);
    }
    let ledger = c.sim.ledger();
    assert_eq!(ledger.served.len(), entries.len());
    assert!(ledger.served.values().all(|n| *n == 1));
    c.sim.shutdown().await;
}
