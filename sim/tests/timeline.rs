//! Contract tests of the simulated clock, content that appears over time, the control
//! endpoints, reproducibility, many tenants, and the records themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use o365_sim::{Ledger, TenantSpec};
use serde_json::value::RawValue;

#[tokio::test]
async fn control_endpoints_move_the_clock_and_serve_the_ledger() {
    let c = start(config()).await;
    let clock: serde_json::Value = c
        .http
        .get(format!("{}/_sim/clock", c.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clock["now"], "2026-03-01T12:00:00.000Z");
    let moved: serde_json::Value = c
        .http
        .post(format!("{}/_sim/clock/advance?seconds=7200", c.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(moved["now"], "2026-03-01T14:00:00.000Z");
    assert_eq!(c.sim.now(), t0() + chrono::Duration::hours(2));
    let set: serde_json::Value = c
        .http
        .post(format!(
            "{}/_sim/clock/set?time=2026-03-02T00:00:00Z",
            c.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set["now"], "2026-03-02T00:00:00.000Z");
    assert_eq!(
        c.http
            .post(format!("{}/_sim/clock/advance?seconds=-5", c.base))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        c.http
            .post(format!("{}/_sim/clock/set?time=soon", c.base))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );

    let token = c.token(T).await;
    c.start_sub(&token, T, "Audit.Exchange").await;
    let over_http: Ledger = c
        .http
        .get(format!("{}/_sim/ledger", c.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let direct = c.sim.ledger();
    assert_eq!(over_http.published, direct.published);
    assert_eq!(over_http.requests.len(), 2);
    assert_eq!(over_http.requests[1].operation.as_deref(), Some("start"));
    assert_eq!(over_http.requests[1].status, 200);
    let summary: serde_json::Value = c
        .http
        .get(format!("{}/_sim/ledger/summary", c.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary["published_blobs"], direct.published.len());
    assert_eq!(summary["published_records"], direct.published_records());
    let info: serde_json::Value = c
        .http
        .get(format!("{}/_sim/info", c.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["base_url"], c.base.as_str());
    assert_eq!(info["tenants"][0]["tenant_id"], T);
    c.sim.shutdown().await;
}

#[tokio::test]
async fn content_appears_as_simulated_time_passes() {
    let c = start(config()).await;
    let token = c.token(T).await;
    c.start_sub(&token, T, "Audit.SharePoint").await;
    let before = c.sim.ledger();
    assert!(before.published.iter().all(|b| b.available_at <= t0()));
    let window = |from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>| {
        c.feed(
            T,
            &format!(
                "subscriptions/content?contentType=Audit.SharePoint&startTime={}&endTime={}",
                from.format("%Y-%m-%dT%H:%M:%S"),
                to.format("%Y-%m-%dT%H:%M:%S")
            ),
        )
    };
    let (now_list, _) = c
        .list_all(&token, &window(t0(), t0() + chrono::Duration::hours(6)))
        .await;
    assert!(now_list.is_empty(), "nothing is available after now");
    c.sim.advance(Duration::from_secs(6 * 3600));
    let token = c.token(T).await;
    let (later, _) = c
        .list_all(&token, &window(t0(), t0() + chrono::Duration::hours(6)))
        .await;
    assert!(
        later.len() > 20,
        "six hours of content, got {}",
        later.len()
    );
    let after = c.sim.ledger();
    assert!(after.published.len() > before.published.len());
    let ids: HashSet<_> = later
        .iter()
        .map(|e| e["contentId"].as_str().unwrap())
        .collect();
    for b in after
        .published_for(T, "Audit.SharePoint")
        .filter(|b| b.content_created >= t0())
    {
        assert!(ids.contains(b.content_id.as_str()));
        assert!(b.available_at <= c.sim.now());
        assert!(b.content_expiration > b.content_created);
    }
    c.sim.shutdown().await;
}

#[tokio::test]
async fn same_seed_same_run_other_seed_other_run() {
    let a = start(config()).await;
    let b = start(config()).await;
    let mut other = config();
    other.seed = 43;
    let o = start(other).await;
    let (la, lb, lo) = (a.sim.ledger(), b.sim.ledger(), o.sim.ledger());
    let strip = |l: &Ledger| {
        l.published
            .iter()
            .map(|p| {
                (
                    p.content_id.clone(),
                    p.record_ids.clone(),
                    p.content_created,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&la), strip(&lb));
    assert_ne!(strip(&la), strip(&lo));
    let ta = a.token(T).await;
    let tb = b.token(T).await;
    a.start_sub(&ta, T, "Audit.General").await;
    b.start_sub(&tb, T, "Audit.General").await;
    let blob = la
        .published
        .iter()
        .find(|p| p.content_type == "Audit.General")
        .unwrap();
    let body_a = a.get(&ta, &blob.content_uri).await.bytes().await.unwrap();
    let body_b = b
        .get(&tb, &blob.content_uri.replace(&a.base, &b.base))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(body_a, body_b);
    for c in [a, b, o] {
        c.sim.shutdown().await;
    }
}

#[tokio::test]
async fn tenants_have_their_own_subscriptions_and_content() {
    let mut cfg = config();
    let t2 = "00000000-0000-0000-0000-000000000002";
    cfg.tenants.push(TenantSpec::new(t2));
    let c = start(cfg).await;
    let tok1 = c.token(T).await;
    let tok2 = c.token(t2).await;
    c.start_sub(&tok1, T, "Audit.Exchange").await;
    let (_, code, _) = error_code(
        c.get(
            &tok2,
            &c.feed(t2, "subscriptions/content?contentType=Audit.Exchange"),
        )
        .await,
    )
    .await;
    assert_eq!(code, "AF20022", "tenant 2 has not subscribed");
    c.start_sub(&tok2, t2, "Audit.Exchange").await;
    let (l1, _) = c
        .list_all(
            &tok1,
            &c.feed(T, "subscriptions/content?contentType=Audit.Exchange"),
        )
        .await;
    let (l2, _) = c
        .list_all(
            &tok2,
            &c.feed(t2, "subscriptions/content?contentType=Audit.Exchange"),
        )
        .await;
    let ids1: HashSet<_> = l1
        .iter()
        .map(|e| e["contentId"].as_str().unwrap().to_string())
        .collect();
    let ids2: HashSet<_> = l2
        .iter()
        .map(|e| e["contentId"].as_str().unwrap().to_string())
        .collect();
    assert!(!ids1.is_empty() && !ids2.is_empty() && ids1.is_disjoint(&ids2));
    let records: Vec<serde_json::Value> = c
        .get(&tok2, l2[0]["contentUri"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert!(records.iter().all(|r| r["OrganizationId"] == t2));
    c.sim.shutdown().await;
}

#[tokio::test]
async fn injected_blobs_are_served_verbatim() {
    let c = start(config()).await;
    let token = c.token(T).await;
    c.start_sub(&token, T, "Audit.General").await;
    let p = c.sim.publish_blob(
        T,
        "Audit.General",
        b"[{\"Id\": \"x1\"}, {broken".to_vec(),
        vec!["x1".into()],
    );
    assert_eq!(p.fault.as_deref(), Some("injected"));
    let body = c.get(&token, &p.content_uri).await.bytes().await.unwrap();
    assert_eq!(&body[..], b"[{\"Id\": \"x1\"}, {broken");
    // contentCreated is now, so a window must end after now to hold it (end is exclusive).
    c.sim.advance(Duration::from_secs(1));
    let (entries, _) = c
        .list_all(
            &token,
            &c.feed(T, "subscriptions/content?contentType=Audit.General"),
        )
        .await;
    assert_eq!(entries.last().unwrap()["contentId"], p.content_id.as_str());
    let rejected = c.sim.publish_blob(T, "Audit.Nope", Vec::new(), Vec::new());
    assert!(rejected.fault.unwrap().starts_with("rejected"));
    c.sim.shutdown().await;
}

/// Every content type's blobs parse, carry the documented common fields and the wire quirks,
/// and real fixture records appear with their original text and fresh ids.
#[tokio::test]
async fn records_have_documented_shapes_quirks_and_real_samples() {
    let mut cfg = config();
    cfg.scenarios = vec![o365_sim::Scenario::parse("already-enabled").unwrap()];
    let c = start(cfg).await;
    let token = c.token(T).await;
    let ledger = c.sim.ledger();
    let mut ip_forms = HashSet::new();
    let mut quirks = HashSet::new();
    let mut fixture_records = 0;
    for blob in &ledger.published {
        let body = c
            .get(&token, &blob.content_uri)
            .await
            .bytes()
            .await
            .unwrap();
        let raw: Vec<&RawValue> = serde_json::from_slice(&body).unwrap();
        assert_eq!(raw.len(), blob.record_count);
        for (text, id) in raw.iter().zip(&blob.record_ids) {
            let r: serde_json::Value = serde_json::from_str(text.get()).unwrap();
            assert_eq!(r["Id"].as_str(), Some(id.as_str()));
            assert_eq!(r["OrganizationId"], T);
            let ct = r["CreationTime"].as_str().unwrap();
            assert!(
                chrono::NaiveDateTime::parse_from_str(ct, "%Y-%m-%dT%H:%M:%S").is_ok(),
                "zone-less CreationTime {ct}"
            );
            if text.get().contains("\"Id\": \"") {
                fixture_records += 1;
            }
            match &r["ClientIP"] {
                serde_json::Value::Null if r.get("ClientIP").is_some() => ip_forms.insert("null"),
                serde_json::Value::String(s) if s.is_empty() => ip_forms.insert("empty"),
                serde_json::Value::String(s) if s.starts_with('[') => {
                    ip_forms.insert("bracketed-port")
                }
                serde_json::Value::String(s) if s.starts_with("::ffff:") => {
                    ip_forms.insert("v4-mapped")
                }
                serde_json::Value::String(s) if s.matches(':').count() == 1 => {
                    ip_forms.insert("v4-port")
                }
                _ => false,
            };
            if r["RecordType"].is_string() {
                quirks.insert("string-number");
            }
            if r["ItemType"].is_string() {
                quirks.insert("string-ItemType");
            }
            if r.get("IntraSystemId").is_some() {
                quirks.insert("IntraSystemId");
            }
            if r["OriginatingServer"]
                .as_str()
                .is_some_and(|s| s.ends_with("\r\n"))
            {
                quirks.insert("trailing-crlf");
            }
            if [117, 412, 9999].contains(&r["RecordType"].as_i64().unwrap_or(0)) {
                quirks.insert("unknown-RecordType");
            }
            if r["ResultStatus"] == "True" {
                quirks.insert("ResultStatus-True");
            }
        }
    }
    assert_eq!(ip_forms.len(), 5, "{ip_forms:?}");
    assert_eq!(quirks.len(), 6, "{quirks:?}");
    assert!(
        fixture_records > 0 || o365_sim::default_fixtures_dir().is_none(),
        "real records are spliced in"
    );
    c.sim.shutdown().await;
}
