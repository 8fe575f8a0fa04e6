//! Bad input to the fetcher's entry points: blobs and queue messages that are broken in every
//! way seen or imaginable. Each ends as a clear, recorded error; nothing panics.

use std::collections::BTreeSet;

use o365_e2e::reconcile::{dlq_content_ids, read_error_reports, read_stored};
use o365_e2e::world::{message_for, World};
use o365_sim::DEFAULT_TENANT_ID;

use crate::config_with;

/// Reads one error report (any key whose last segment is `<id>.json`) as text.
async fn report_text(world: &World, id: &str) -> Option<String> {
    use o365_activity::store::ObjectStore;
    let keys = world
        .store
        .list(&world.layout.errors_prefix())
        .await
        .unwrap();
    let key = keys.iter().find(|k| k.ends_with(&format!("/{id}.json")))?;
    let obj = world.store.get(key).await.unwrap()?;
    Some(String::from_utf8_lossy(&obj.body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_blobs_are_reported_not_stored() {
    let world = World::start(config_with(&[])).await.unwrap();
    let huge = {
        let mut s =
            String::from("[{\"Id\":\"huge\",\"CreationTime\":\"2026-03-02T00:00:00\",\"Pad\":\"");
        s.push_str(&"x".repeat(33 << 20));
        s.push_str("\"}]");
        s.into_bytes()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"<html>502 Bad Gateway</html>".to_vec()),
        (
            "truncated array",
            b"[{\"Id\":\"a\",\"CreationTime\":\"2026-03-02T00:00:00\"},{\"Id\":".to_vec(),
        ),
        (
            "object, not array",
            b"{\"Id\":\"a\",\"CreationTime\":\"2026-03-02T00:00:00\"}".to_vec(),
        ),
        ("array of numbers", b"[1,2,3]".to_vec()),
        (
            "invalid UTF-8",
            b"[{\"Id\":\"a\xff\xfe\",\"CreationTime\":\"2026-03-02T00:00:00\"}]".to_vec(),
        ),
        ("empty body", Vec::new()),
        ("record over the size limit", huge),
    ];
    let mut ids = Vec::new();
    for (what, body) in cases {
        let blob = world
            .sim
            .try_publish_blob(DEFAULT_TENANT_ID, "Audit.General", body, Vec::new())
            .unwrap();
        ids.push((what, blob.content_id.clone()));
        let m = message_for(&blob).unwrap();
        world.source.send_raw(&[m.to_json()]).await.unwrap();
    }
    world.drain().await.unwrap();
    let stored: BTreeSet<String> = read_stored(&world.store, &world.layout)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.content_id)
        .collect();
    let errors = read_error_reports(&world.store, &world.layout)
        .await
        .unwrap();
    let dlq = dlq_content_ids(&world.dlq_bodies().await.unwrap());
    for (what, id) in &ids {
        assert!(!stored.contains(id), "{what}: a broken blob was stored");
        assert!(
            errors.contains(id) || dlq.contains(id),
            "{what}: not reported"
        );
        if let Some(text) = report_text(&world, id).await {
            let v: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{what}: the error report is not JSON ({e}): {text}"));
            assert!(
                v.to_string().len() > 40,
                "{what}: the report says too little: {text}"
            );
            assert!(!text.contains("panicked"), "{what}: {text}");
        }
    }
    world.assert_no_leaks().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_but_valid_records_are_kept_exactly() {
    let world = World::start(config_with(&[])).await.unwrap();
    // Wrong types in the common fields: the records are kept as they are (normalized values
    // that cannot be read are left out), nothing is dropped.
    let body = br#"[{"Id":"odd-1","CreationTime":12345,"RecordType":"not-a-number","UserType":[],"ClientIP":{"x":1},"Operation":null},{"Id":"odd-2","CreationTime":"yesterday","RecordType":99999,"UserType":-1,"ClientIP":"999.1.1.1:99999"},{"Id":"odd-3","CreationTime":"2026-03-02T00:00:00","Nested":{"deep":[[[[[[1]]]]]]},"Unicode":"\u00e9\ud83d\ude00"}]"#;
    let ids = vec![
        "odd-1".to_string(),
        "odd-2".to_string(),
        "odd-3".to_string(),
    ];
    let blob = world
        .sim
        .try_publish_blob(
            DEFAULT_TENANT_ID,
            "Audit.General",
            body.to_vec(),
            ids.clone(),
        )
        .unwrap();
    world
        .source
        .send_raw(&[message_for(&blob).unwrap().to_json()])
        .await
        .unwrap();
    world.drain().await.unwrap();
    let stored = read_stored(&world.store, &world.layout).await.unwrap();
    let errors = read_error_reports(&world.store, &world.layout)
        .await
        .unwrap();
    match stored.iter().find(|s| s.content_id == blob.content_id) {
        Some(s) => {
            assert_eq!(s.record_ids, ids, "every record kept, in order");
            assert!(s.bad_lines.is_empty(), "{:?}", s.bad_lines);
        }
        None => assert!(
            errors.contains(&blob.content_id),
            "records with odd field types are either kept or clearly reported"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_queue_messages_are_rejected() {
    let world = World::start(config_with(&[])).await.unwrap();
    world.sim.advance(crate::hours(2));
    let blob = world
        .sim
        .ledger()
        .published
        .first()
        .cloned()
        .expect("a blob");
    let good = serde_json::to_value(message_for(&blob).unwrap()).unwrap();
    let with = |k: &str, v: serde_json::Value| {
        let mut m = good.clone();
        m[k] = v;
        m.to_string()
    };
    let without = |k: &str| {
        let mut m = good.clone();
        m.as_object_mut().unwrap().remove(k);
        m.to_string()
    };
    let bodies = vec![
        "not json at all".to_string(),
        "[]".to_string(),
        "null".to_string(),
        "{\"Records\": []}".to_string(),
        without("content_uri"),
        without("tenant_id"),
        with("format_version", serde_json::json!(99)),
        with("content_type", serde_json::json!("Audit.Bogus")),
        with("content_type", serde_json::json!(5)),
        with("tenant_id", serde_json::json!("not-a-guid")),
        with("content_id", serde_json::json!("../../_state/x")),
        with("content_id", serde_json::json!("a/b")),
        with("content_uri", serde_json::json!("not a url")),
        with("content_created", serde_json::json!("yesterday")),
        with("content_expiration", serde_json::json!(12)),
        format!("{{\"pad\":\"{}\"}}", "y".repeat(200_000)),
    ];
    world.source.send_raw(&bodies).await.unwrap();
    let stats = world.drain().await.unwrap();
    // Each bad message is reported (under _errors/rejected/ or in the DLQ), none is stored.
    let rejected = {
        use o365_activity::store::ObjectStore;
        world
            .store
            .list(&world.layout.errors_prefix())
            .await
            .unwrap()
            .len()
    };
    let dlq = world.dlq_bodies().await.unwrap();
    assert_eq!(
        rejected + dlq.len(),
        bodies.len(),
        "every malformed message is reported exactly once ({rejected} reports, {} in the DLQ, {stats:?})",
        dlq.len()
    );
    assert!(read_stored(&world.store, &world.layout)
        .await
        .unwrap()
        .is_empty());
    assert!(!world.logs.text().contains("panicked"));
}

/// Issue 13 item 2: a blob with one bad record among good ones, through SQS and the fetcher:
/// every good record stored, the raw body kept under `_quarantine/`, nothing discarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_record_among_good_ones_is_quarantined_not_fatal() {
    use o365_activity::keys::ObjectKey;
    use o365_activity::store::ObjectStore;
    let world = World::start(config_with(&[])).await.unwrap();
    let body = b"[{\"Id\":\"ok-1\",\"CreationTime\":\"2026-03-02T00:00:00\"},{\"Id\":\"bad-\xff\"},{\"Id\":\"ok-2\",\"CreationTime\":\"2026-03-02T00:00:01\"}]".to_vec();
    let ids = vec!["ok-1".to_string(), "ok-2".to_string()];
    let blob = world
        .sim
        .try_publish_blob(DEFAULT_TENANT_ID, "Audit.General", body, ids.clone())
        .unwrap();
    world
        .source
        .send_raw(&[message_for(&blob).unwrap().to_json()])
        .await
        .unwrap();
    world.drain().await.unwrap();
    let stored = read_stored(&world.store, &world.layout).await.unwrap();
    let s = stored
        .iter()
        .find(|s| s.content_id == blob.content_id)
        .expect("the good records are stored");
    assert_eq!(s.record_ids, ids);
    let kept: Vec<String> = world
        .store
        .list(&world.layout.quarantine_prefix())
        .await
        .unwrap()
        .into_iter()
        .filter(|k| {
            matches!(world.layout.parse(k), Some(ObjectKey::Quarantine(q)) if q.content_id == blob.content_id)
        })
        .collect();
    assert_eq!(kept.len(), 1, "the raw body is kept once");
    world.assert_no_leaks().unwrap();
}
