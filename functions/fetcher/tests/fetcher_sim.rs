//! The fetcher against o365-sim over HTTP on 127.0.0.1, with a local directory and with S3
//! (moto): every record stored once with its `_o365`, duplicates and replays written once,
//! forged URIs never contacted, permanent failures reported under `_errors/`, retryable ones
//! handed back alone, throttled ones handed back to the queue (moto) and counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use o365_activity::client::{ActivityClient, BudgetOptions, ClientOptions};
use o365_activity::clock::Clock;
use o365_activity::compression::Compression;
use o365_activity::keys::{DataKey, KeyLayout};
use o365_activity::message::QueueMessage;
use o365_activity::metrics::MetricsSink;
use o365_activity::normalize::o365::read_line;
use o365_activity::queue::SqsQueue;
use o365_activity::store::{LocalStore, ObjectStore};
use o365_activity::tenants::TenantConfig;
use o365_activity::testing::sim::{fast_retries, scenarios, sim_tenant, stopped_config, t0};
use o365_activity::testing::MotoServer;
use o365_fetcher::{BatchOutcome, ErrorKind, Fetcher, InboundMessage, MessageOutcome};
use o365_sim::{PublishedBlob, SimConfig, SimHandle, TenantSpec, DEFAULT_TENANT_ID};
use serde_json::Value;
use tokio::time::Instant;

const T: &str = DEFAULT_TENANT_ID;
const T2: &str = "00000000-0000-0000-0000-000000000002";
const EXCHANGE: &str = "Audit.Exchange";

async fn sim(names: &[&str]) -> SimHandle {
    let mut tenant = TenantSpec::new(T);
    tenant.enabled_types = o365_sim::ContentType::ALL.to_vec();
    o365_sim::start(SimConfig {
        tenants: vec![tenant],
        seed: 11,
        records_per_hour: 30,
        history: Duration::from_secs(3 * 3600),
        scenarios: scenarios(names).unwrap(),
        ..stopped_config()
    })
    .await
    .unwrap()
}

fn tenant_at(tenant: &str, base: &str) -> TenantConfig {
    sim_tenant(base, tenant).unwrap()
}

fn options() -> ClientOptions {
    fast_retries(3)
}

fn client(tenant: &str, base: &str) -> ActivityClient {
    ActivityClient::new(&tenant_at(tenant, base), options()).unwrap()
}

fn fetcher<S: ObjectStore>(store: S, clients: Vec<ActivityClient>) -> (Fetcher<S>, MetricsSink) {
    let metrics = MetricsSink::memory();
    let f = Fetcher::new(
        store,
        KeyLayout::new("o365"),
        Compression::default(),
        clients,
        Clock::fixed(t0() + chrono::Duration::minutes(5)),
        metrics.clone(),
    )
    .with_concurrency(3);
    (f, metrics)
}

/// A simulator, a temporary directory store and a fetcher serving `T` on the simulator.
async fn local_setup(
    scenarios: &[&str],
) -> (
    SimHandle,
    tempfile::TempDir,
    LocalStore,
    Fetcher<LocalStore>,
    MetricsSink,
) {
    let sim = sim(scenarios).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let (f, metrics) = fetcher(store.clone(), vec![client(T, &sim.base_url())]);
    (sim, dir, store, f, metrics)
}

fn message_for(b: &PublishedBlob) -> QueueMessage {
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

fn inbound(id: &str, msg: &QueueMessage) -> InboundMessage {
    InboundMessage::new(id, msg.to_json())
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

fn keys() -> KeyLayout {
    KeyLayout::new("o365")
}

fn data_key(msg: &QueueMessage) -> String {
    keys().data_key(msg, Compression::default())
}

/// The stored lines of a blob, parsed.
async fn stored_lines<S: ObjectStore>(store: &S, key: &str) -> Vec<Value> {
    let obj = store.get(key).await.unwrap().expect("object stored");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&obj.body[..])
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn served(sim: &SimHandle, content_id: &str) -> u64 {
    sim.ledger().served.get(content_id).copied().unwrap_or(0)
}

fn blob_requests(sim: &SimHandle) -> usize {
    sim.ledger()
        .requests
        .iter()
        .filter(|r| r.operation.as_deref() == Some("blob"))
        .count()
}

/// A blob body of `n` records with known ids.
fn records(n: usize, tag: &str) -> (Vec<u8>, Vec<String>) {
    let ids: Vec<String> = (0..n).map(|i| format!("{tag}-{i:04}")).collect();
    let recs: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            format!(
                r#"{{"CreationTime":"2026-03-01T11:{:02}:00","Id":"{id}","Operation":"Send","RecordType":2,"UserType":0,"ClientIP":"203.0.113.{}:443","ResultStatus":"Succeeded","Path":"a\/b"}}"#,
                i % 60,
                i % 250
            )
        })
        .collect();
    (format!("[{}]", recs.join(",")).into_bytes(), ids)
}

async fn assert_stored_exactly<S: ObjectStore>(store: &S, msg: &QueueMessage, ids: &[String]) {
    let lines = stored_lines(store, &data_key(msg)).await;
    let got: Vec<&str> = lines.iter().map(|l| l["Id"].as_str().unwrap()).collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    for l in &lines {
        let line = read_line(l.to_string().as_bytes()).unwrap();
        let o = line.o365().unwrap();
        assert_eq!(o.tenant_id.as_deref(), Some(msg.tenant_id.as_str()));
        assert_eq!(o.content_id.as_deref(), Some(msg.content_id.as_str()));
        assert_eq!(o.content_type.as_deref(), Some(msg.content_type.as_str()));
        assert!(o.event_time.is_some());
    }
}

async fn report<S: ObjectStore>(store: &S, key: &str) -> Value {
    let obj = store.get(key).await.unwrap().expect("error report written");
    serde_json::from_slice(&obj.body).unwrap()
}

#[tokio::test]
async fn stores_every_generated_blob_with_all_its_records() {
    let (sim, _dir, store, f, metrics) = local_setup(&[]).await;
    let blobs: Vec<PublishedBlob> = sim
        .ledger()
        .published
        .into_iter()
        .filter(|b| b.visible && b.fault.is_none() && b.tenant_id == T)
        .collect();
    assert!(
        blobs.len() >= 5,
        "the simulator published {} blobs",
        blobs.len()
    );
    let msgs: Vec<QueueMessage> = blobs.iter().map(message_for).collect();
    let batch = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| inbound(&format!("m{i}"), m))
        .collect();
    let out = f.handle_batch(batch, deadline()).await;
    assert!(out.failed_message_ids.is_empty(), "{:?}", out.outcomes);
    let mut total = 0;
    for ((_, outcome), (b, m)) in out.outcomes.iter().zip(blobs.iter().zip(&msgs)) {
        assert!(
            matches!(outcome, MessageOutcome::Stored { records, .. } if *records as usize == b.record_count),
            "{outcome:?}"
        );
        assert_stored_exactly(&store, m, &b.record_ids).await;
        assert_eq!(served(&sim, &b.content_id), 1);
        total += b.record_count;
    }
    let lines = metrics.lines().join("\n");
    assert!(lines.contains("\"BlobsStored\""), "{lines}");
    assert!(lines.contains("\"EventToAvailableSeconds\""), "{lines}");
    assert!(lines.contains("\"AvailableToStoredSeconds\""), "{lines}");
    assert!(total > 0);
}

#[tokio::test]
async fn duplicates_and_replays_write_once_and_replays_do_not_download() {
    let sim = sim(&[]).await;
    let moto = MotoServer::start().await.unwrap();
    let store = moto.create_bucket("fetcher-dup").await.unwrap();
    let (f, metrics) = fetcher(store.clone(), vec![client(T, &sim.base_url())]);
    let (body, ids) = records(50, "dup");
    let blob = sim.publish_blob(T, EXCHANGE, body, ids.clone());
    let msg = message_for(&blob);

    // The same message delivered twice in one batch, handled concurrently.
    let out = f
        .handle_batch(vec![inbound("a", &msg), inbound("b", &msg)], deadline())
        .await;
    assert!(out.failed_message_ids.is_empty());
    let stored = out
        .outcomes
        .iter()
        .filter(|(_, o)| matches!(o, MessageOutcome::Stored { .. }))
        .count();
    let dups = out
        .outcomes
        .iter()
        .filter(|(_, o)| matches!(o, MessageOutcome::Duplicate { .. }))
        .count();
    assert_eq!((stored, dups), (1, 1), "{:?}", out.outcomes);
    let downloads = served(&sim, &blob.content_id);
    assert!((1..=2).contains(&downloads));

    // A replay later: skipped before any download.
    let out = f.handle_batch(vec![inbound("c", &msg)], deadline()).await;
    assert_eq!(
        out.outcomes[0].1,
        MessageOutcome::Duplicate {
            key: data_key(&msg),
            raced: false
        }
    );
    assert_eq!(served(&sim, &blob.content_id), downloads);
    let prefix = keys().data_prefix(&msg.tenant_id, msg.content_type);
    assert_eq!(store.list(&prefix).await.unwrap(), vec![data_key(&msg)]);
    assert_stored_exactly(&store, &msg, &ids).await;
    assert!(metrics.lines().join("\n").contains("\"DuplicatesSkipped\""));
}

/// Issue 12 item 2: one content id, one object, whatever `contentCreated` or compression a
/// later message carries (a re-listing after the horizon, a backfill, a compression change).
#[tokio::test]
async fn one_object_per_content_id_whatever_a_later_message_says() {
    let sim = sim(&[]).await;
    let moto = MotoServer::start().await.unwrap();
    let store = moto.create_bucket("fetcher-ids").await.unwrap();
    let (f, _) = fetcher(store.clone(), vec![client(T, &sim.base_url())]);
    let (body, ids) = records(20, "ids");
    let blob = sim.publish_blob(T, EXCHANGE, body, ids.clone());
    let first = message_for(&blob);
    let out = f.handle_batch(vec![inbound("a", &first)], deadline()).await;
    assert!(matches!(out.outcomes[0].1, MessageOutcome::Stored { .. }));

    // The same content id listed again 3 hours later (another `hour=` partition)...
    let mut later = first.clone();
    later.content_created = first.content_created + chrono::Duration::hours(3);
    assert_ne!(data_key(&later), data_key(&first));
    // ...and delivered to a deployment that now writes zstd.
    let zstd = Fetcher::new(
        store.clone(),
        keys(),
        Compression::Zstd { level: 1 },
        vec![client(T, &sim.base_url())],
        Clock::fixed(t0()),
        MetricsSink::memory(),
    );
    for (f, id) in [(&f, "b"), (&zstd, "c")] {
        let out = f.handle_batch(vec![inbound(id, &later)], deadline()).await;
        assert_eq!(
            out.outcomes[0].1,
            MessageOutcome::Duplicate {
                key: data_key(&first),
                raced: false
            }
        );
    }
    assert_eq!(served(&sim, &blob.content_id), 1);
    let all = store.list(&keys().data_root()).await.unwrap();
    assert_eq!(all, vec![data_key(&first)]);
    assert_stored_exactly(&store, &first, &ids).await;
    let claim = store
        .get(&keys().claim_key(&first))
        .await
        .unwrap()
        .expect("claim written");
    let claim: Value = serde_json::from_slice(&claim.body).unwrap();
    assert_eq!(claim["data_key"], data_key(&first).as_str());
}

/// A fetcher killed between the claim and the write leaves a claim without data: the next
/// delivery, whatever its `contentCreated`, writes the data at the pinned key. Data stored
/// before claims existed is still found by the HEAD of the computed key.
#[tokio::test]
async fn a_claim_without_data_and_data_without_a_claim_both_end_in_one_object() {
    let (sim, dir, store, f, _) = local_setup(&[]).await;
    let (body, ids) = records(5, "pin");
    let blob = sim.publish_blob(T, EXCHANGE, body, ids.clone());
    let first = message_for(&blob);
    let claim = o365_activity::claim::ContentClaim {
        data_key: data_key(&first),
        content_id: first.content_id.clone(),
        claimed_at: t0(),
        collector_version: "0".into(),
    };
    store
        .put(
            &keys().claim_key(&first),
            claim.to_json().into_bytes().into(),
            &o365_activity::store::ObjectMeta {
                content_type: "application/json".into(),
                content_encoding: None,
            },
            o365_activity::store::PutCondition::IfNoneMatch,
        )
        .await
        .unwrap();
    let mut later = first.clone();
    later.content_created = first.content_created + chrono::Duration::hours(5);
    let out = f.handle_batch(vec![inbound("a", &later)], deadline()).await;
    assert!(
        matches!(&out.outcomes[0].1, MessageOutcome::Stored { key, .. } if *key == data_key(&first)),
        "{:?}",
        out.outcomes
    );
    assert_stored_exactly(&store, &first, &ids).await;

    // Stored by an older build (no claim): the claim is created for the computed key, whose
    // HEAD finds the object.
    let (body, ids) = records(3, "old");
    let old = message_for(&sim.publish_blob(T, EXCHANGE, body, ids));
    let out = f.handle_batch(vec![inbound("b", &old)], deadline()).await;
    assert!(matches!(out.outcomes[0].1, MessageOutcome::Stored { .. }));
    std::fs::remove_file(dir.path().join(keys().claim_key(&old))).unwrap();
    let out = f.handle_batch(vec![inbound("c", &old)], deadline()).await;
    assert_eq!(
        out.outcomes[0].1,
        MessageOutcome::Duplicate {
            key: data_key(&old),
            raced: false
        }
    );
    assert_eq!(store.list(&keys().data_root()).await.unwrap().len(), 2);
}

/// Issue 13 item 2: one bad record among good ones. Every good record is stored, the raw body
/// is kept under `_quarantine/`, the bad records are counted, nothing is discarded.
#[tokio::test]
async fn a_blob_with_bad_records_stores_the_good_ones_and_keeps_the_raw_body() {
    let (sim, _dir, store, f, metrics) = local_setup(&[]).await;
    let f = f.with_limits(o365_activity::normalize::Limits {
        max_record_bytes: 4096,
    });
    let good = |id: &str| format!(r#"{{"Id":"{id}","CreationTime":"2026-03-01T11:00:00"}}"#);
    let mut body = format!("[{},", good("g1")).into_bytes();
    body.extend_from_slice(b"{\"Id\":\"bad\xff\"},7,\"s,]\",[1,[2]],");
    body.extend_from_slice(format!(r#"{{"Id":"big","Pad":"{}"}},"#, "x".repeat(5000)).as_bytes());
    body.extend_from_slice(br#"{"Id":"dup","_o365":{}},"#);
    body.extend_from_slice(format!("{}]", good("g2")).as_bytes());
    let blob = sim.publish_blob(T, EXCHANGE, body.clone(), vec!["g1".into(), "g2".into()]);
    let msg = message_for(&blob);
    let out = f.handle_batch(vec![inbound("a", &msg)], deadline()).await;
    assert!(
        matches!(out.outcomes[0].1, MessageOutcome::Stored { records: 2, .. }),
        "{:?}",
        out.outcomes
    );
    assert_stored_exactly(&store, &msg, &["g1".into(), "g2".into()]).await;
    let data = DataKey::for_message(&msg, Compression::default());
    let kept = store
        .get(&keys().quarantine_key(&data))
        .await
        .unwrap()
        .expect("raw body kept");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&kept.body[..])
        .read_to_end(&mut raw)
        .unwrap();
    assert_eq!(raw, body, "the raw body is kept byte for byte");
    let lines = metrics.lines().join("\n");
    assert!(lines.contains("\"RecordsQuarantined\":6"), "{lines}");
    assert!(lines.contains("\"BlobsQuarantined\":1"), "{lines}");
    // A redelivery is a duplicate: nothing downloaded, nothing written twice.
    let out = f.handle_batch(vec![inbound("b", &msg)], deadline()).await;
    assert!(matches!(
        out.outcomes[0].1,
        MessageOutcome::Duplicate { .. }
    ));
    assert_eq!(
        served(&sim, &blob.content_id),
        2,
        "one download, one for the raw copy"
    );
}

#[tokio::test]
async fn a_large_blob_streams_through_to_s3() {
    let sim = sim(&[]).await;
    let moto = MotoServer::start().await.unwrap();
    let store = moto.create_bucket("fetcher-large").await.unwrap();
    let (f, _) = fetcher(store.clone(), vec![client(T, &sim.base_url())]);
    // Records with hard-to-compress payloads so the object needs several upload parts.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut ids = Vec::new();
    let mut recs = Vec::new();
    let mut size = 0;
    while size < 9 << 20 {
        let noise: String = (0..2000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                        [(state % 64) as usize],
                )
            })
            .collect();
        let id = format!("big-{}", ids.len());
        let r =
            format!(r#"{{"CreationTime":"2026-03-01T11:00:00","Id":"{id}","Noise":"{noise}"}}"#);
        size += r.len() + 1;
        recs.push(r);
        ids.push(id);
    }
    let body = format!("[{}]", recs.join(",")).into_bytes();
    let blob = sim.publish_blob(T, EXCHANGE, body, ids.clone());
    let msg = message_for(&blob);
    let out = f.handle_batch(vec![inbound("big", &msg)], deadline()).await;
    match &out.outcomes[0].1 {
        MessageOutcome::Stored {
            bytes_out, records, ..
        } => {
            assert!(*bytes_out > 5 << 20, "{bytes_out}");
            assert_eq!(*records as usize, ids.len());
        }
        other => panic!("{other:?}"),
    }
    assert_stored_exactly(&store, &msg, &ids).await;
}

/// A TCP listener on 127.0.0.1 that counts connections.
async fn trap() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(sock);
        }
    });
    (format!("http://{addr}"), hits)
}

#[tokio::test]
async fn forged_uris_never_reach_any_server() {
    let sim = sim(&[]).await;
    let (trap_url, hits) = trap().await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let (f, metrics) = fetcher(store.clone(), vec![client(T, &sim.base_url())]);
    let (body, ids) = records(3, "forged");
    let blob = sim.publish_blob(T, EXCHANGE, body, ids);
    let good = message_for(&blob);
    let sim_base = sim.base_url();
    let other_port = trap_url.rsplit(':').next().unwrap().to_owned();
    let forged_uris = [
        format!(
            "{trap_url}/api/v1.0/{T}/activity/feed/audit/{}",
            good.content_id
        ),
        format!(
            "{trap_url}{}",
            good.content_uri.trim_start_matches(&sim_base)
        ),
        good.content_uri.replacen("http://", "https://", 1),
        format!(
            "{sim_base}/api/v1.0/{T2}/activity/feed/audit/{}",
            good.content_id
        ),
        format!("{sim_base}/elsewhere/{}", good.content_id),
        format!("http://127.0.0.1.nip.io:{other_port}/api/v1.0/{T}/activity/feed/audit/x"),
        format!("http://user@127.0.0.1:{other_port}/api/v1.0/{T}/activity/feed/audit/x"),
    ];
    let before = blob_requests(&sim);
    let batch: Vec<InboundMessage> = forged_uris
        .iter()
        .enumerate()
        .map(|(i, uri)| {
            let mut m = good.clone();
            m.content_uri = uri.clone();
            m.content_id = format!("{}-forged{i}", good.content_id.replace('$', "_"));
            inbound(&format!("f{i}"), &m)
        })
        .collect();
    let out = f.handle_batch(batch, deadline()).await;
    assert!(
        out.failed_message_ids.is_empty(),
        "forged URIs are not retried"
    );
    for (id, o) in &out.outcomes {
        match o {
            MessageOutcome::Rejected { kind, report_key } => {
                assert_eq!(*kind, ErrorKind::ForgedUri, "{id}");
                let r = report(&store, report_key).await;
                assert_eq!(r["kind"], "ForgedUri");
                assert!(report_key.starts_with("o365/_errors/"));
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a forged URI was contacted");
    assert_eq!(
        blob_requests(&sim),
        before,
        "the simulator got a blob request"
    );
    assert!(metrics.lines().join("\n").contains("\"ForgedUri\""));
}

#[tokio::test]
async fn expired_malformed_and_unknown_end_in_error_reports_not_retries() {
    let (sim, _dir, store, f, metrics) = local_setup(&[]).await;
    let bad_bodies: [&[u8]; 5] = [
        b"not json at all",
        b"{\"Id\":\"x\"}",
        b"[{\"Id\":\"a\"},{\"Id\":",
        b"[7,\"x\"]",
        b"[{\"Id\":\"a\",\"_o365\":{}}]",
    ];
    let mut msgs = Vec::new();
    for body in bad_bodies {
        msgs.push(message_for(&sim.publish_blob(
            T,
            EXCHANGE,
            body.to_vec(),
            vec![],
        )));
    }
    let (body, ids) = records(2, "exp");
    let expiring = message_for(&sim.publish_blob(T, EXCHANGE, body, ids));
    let batch: Vec<InboundMessage> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| inbound(&format!("p{i}"), m))
        .collect();
    let mut outcomes = f.handle_batch(batch, deadline()).await.outcomes;

    // Eight days later the blob has expired.
    sim.advance(Duration::from_secs(8 * 24 * 3600));
    let mut unknown = expiring.clone();
    unknown.tenant_id = T2.parse().unwrap();
    let batch = vec![
        inbound("expired", &expiring),
        inbound("unknown", &unknown),
        InboundMessage {
            message_id: "garbage/../id".into(),
            body: "{\"format_version\":1}".into(),
            receive_count: Some(2),
        },
    ];
    let out = f.handle_batch(batch, deadline()).await;
    // An unknown tenant may be onboarded later: handed back (then the DLQ), never dropped.
    assert_eq!(out.failed_message_ids, ["unknown"], "{:?}", out.outcomes);
    outcomes.extend(out.outcomes);
    msgs.push(expiring.clone());
    msgs.push(unknown);
    let kinds: Vec<ErrorKind> = outcomes
        .iter()
        .map(|(_, o)| match o {
            MessageOutcome::Rejected { kind, .. } | MessageOutcome::Retry { kind, .. } => *kind,
            other => panic!("{other:?}"),
        })
        .collect();
    let mut want = vec![ErrorKind::MalformedBlob; bad_bodies.len()];
    want.extend([
        ErrorKind::ContentExpired,
        ErrorKind::UnknownTenant,
        ErrorKind::MalformedMessage,
    ]);
    assert_eq!(kinds, want);
    for m in &msgs {
        assert!(
            !store.exists(&data_key(m)).await.unwrap(),
            "no object for a failed blob"
        );
    }
    // The raw body of every blob the API served but normalization refused is kept.
    for m in &msgs[..bad_bodies.len()] {
        let data = DataKey::for_message(m, Compression::default());
        assert!(
            store.exists(&keys().quarantine_key(&data)).await.unwrap(),
            "raw body of {} kept",
            m.content_id
        );
    }
    let r = report(&store, &keys().error_key(&expiring)).await;
    assert_eq!(r["kind"], "ContentExpired");
    assert_eq!(r["message"]["content_id"], expiring.content_id.as_str());
    let rejected =
        keys().rejected_message_key(t0() + chrono::Duration::minutes(5), "garbage/../id");
    let r = report(&store, &rejected).await;
    assert_eq!(r["kind"], "MalformedMessage");
    assert_eq!(r["attempts"], 2);
    assert_eq!(r["message"]["raw_body"], "{\"format_version\":1}");
    let errors = store.list(&keys().errors_prefix()).await.unwrap();
    assert_eq!(
        errors.len(),
        want.len() - 1,
        "no report for the retried message: {errors:?}"
    );
    // Every permanent failure is counted for the alarm: by kind, and as a plain total.
    let lines = metrics.lines();
    let permanent: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("\"PermanentFailures\""))
        .collect();
    assert_eq!(permanent.len(), 2 * (want.len() - 1), "{permanent:?}");
    assert!(permanent
        .iter()
        .any(|l| l.contains("\"Kind\":\"ContentExpired\"")));
    // A new delivery of a permanently failed blob is reported again, still not retried.
    let again = f
        .handle_batch(vec![inbound("again", &msgs[0])], deadline())
        .await;
    assert!(again.failed_message_ids.is_empty());
}

/// A fetcher serving `T` on the simulator and `T2` whose API root is a closed port on
/// 127.0.0.1 (every call to it fails to connect: retryable); returns that root too.
fn fetcher_with_unreachable_tenant(
    sim: &SimHandle,
    store: LocalStore,
) -> (Fetcher<LocalStore>, String) {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let clients = vec![client(T, &sim.base_url()), client(T2, &closed)];
    (fetcher(store, clients).0, closed)
}

/// The same blob as a message of the unreachable tenant `T2`.
fn for_unreachable_tenant(msg: &QueueMessage, closed: &str) -> QueueMessage {
    let mut down = msg.clone();
    down.tenant_id = T2.parse().unwrap();
    down.content_uri = format!(
        "{closed}/api/v1.0/{T2}/activity/feed/audit/{}",
        down.content_id
    );
    down
}

#[tokio::test]
async fn a_batch_with_one_retryable_message_reports_only_that_one() {
    let sim = sim(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let (f, closed) = fetcher_with_unreachable_tenant(&sim, store.clone());
    let mut batch = Vec::new();
    let mut good = Vec::new();
    for i in 0..3 {
        let (body, ids) = records(5, &format!("ok{i}"));
        let m = message_for(&sim.publish_blob(T, EXCHANGE, body, ids.clone()));
        batch.push(inbound(&format!("good{i}"), &m));
        good.push((m, ids));
    }
    let down = for_unreachable_tenant(&good[0].0, &closed);
    batch.insert(1, inbound("unreachable", &down));
    batch.push(InboundMessage::new("malformed", "[]"));
    let out = f.handle_batch(batch, deadline()).await;
    assert_eq!(out.failed_message_ids, vec!["unreachable".to_string()]);
    for (m, ids) in &good {
        assert_stored_exactly(&store, m, ids).await;
    }
    assert!(!store.exists(&keys().error_key(&down)).await.unwrap());
}

#[tokio::test]
async fn server_errors_hand_the_message_back() {
    let (sim, _dir, store, f, metrics) = local_setup(&["server-error=1.0"]).await;
    let (body, ids) = records(2, "5xx");
    let msg = message_for(&sim.publish_blob(T, EXCHANGE, body, ids));
    let out = f.handle_batch(vec![inbound("x", &msg)], deadline()).await;
    assert_eq!(out.failed_message_ids, vec!["x".to_string()]);
    assert!(
        matches!(
            out.outcomes[0].1,
            MessageOutcome::Retry {
                kind: ErrorKind::Transient | ErrorKind::ApiRefused,
                ..
            }
        ),
        "{:?}",
        out.outcomes
    );
    assert!(!store.exists(&data_key(&msg)).await.unwrap());
    assert!(store
        .list(&keys().errors_prefix())
        .await
        .unwrap()
        .is_empty());
    assert!(metrics.lines().join("\n").contains("\"Errors\""));
}

#[tokio::test]
async fn sqs_events_map_to_partial_batch_failures() {
    let sim = sim(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let (f, closed) = fetcher_with_unreachable_tenant(&sim, store.clone());
    let (body, ids) = records(2, "sqs");
    let ok = message_for(&sim.publish_blob(T, EXCHANGE, body, ids));
    let down = for_unreachable_tenant(&ok, &closed);
    let event: aws_lambda_events::sqs::SqsEvent = serde_json::from_value(serde_json::json!({
        "Records": [
            {"messageId": "id-ok", "body": ok.to_json(), "attributes": {"ApproximateReceiveCount": "1"}},
            {"messageId": "id-down", "body": down.to_json(), "attributes": {"ApproximateReceiveCount": "3"}},
            {"messageId": "id-bad", "body": "nope"}
        ]
    }))
    .unwrap();
    let resp = f.handle_sqs_event(event, deadline()).await;
    let failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["id-down"]);
    assert!(store.exists(&data_key(&ok)).await.unwrap());
}

#[tokio::test]
async fn an_exhausted_deadline_hands_the_message_back() {
    let (sim, _dir, store, f, _) = local_setup(&[]).await;
    let (body, ids) = records(2, "late");
    let msg = message_for(&sim.publish_blob(T, EXCHANGE, body, ids));
    let out = f
        .handle_batch(vec![inbound("late", &msg)], Instant::now())
        .await;
    assert_eq!(out.failed_message_ids, vec!["late".to_string()]);
    assert!(
        matches!(
            out.outcomes[0].1,
            MessageOutcome::Retry {
                kind: ErrorKind::Deadline,
                ..
            }
        ),
        "{:?}",
        out.outcomes
    );
    assert!(!store.exists(&data_key(&msg)).await.unwrap());
}

/// A fetcher serving `T` on `sim` with a budget of one request a minute from an empty bucket
/// (every download is throttled), handing throttled messages back to `queue`.
async fn throttled_setup(
    queue: SqsQueue,
) -> (
    SimHandle,
    tempfile::TempDir,
    Fetcher<LocalStore>,
    MetricsSink,
) {
    let sim = sim(&[]).await;
    let (dir, f, metrics) = budgeted_fetcher(&sim, BudgetOptions::per_minute(1).share_of(1));
    (sim, dir, f.with_requeue(queue), metrics)
}

/// A fetcher serving `T` on `sim` with its request budget `budget`, storing in a temporary
/// directory.
fn budgeted_fetcher(
    sim: &SimHandle,
    budget: BudgetOptions,
) -> (tempfile::TempDir, Fetcher<LocalStore>, MetricsSink) {
    let options = ClientOptions {
        budget,
        ..options()
    };
    let client = ActivityClient::new(&tenant_at(T, &sim.base_url()), options).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (f, metrics) = fetcher(LocalStore::new(dir.path()), vec![client]);
    (dir, f, metrics)
}

/// An SQS event of `n` new blobs of `T`, message ids `m0`, `m1`, ...
fn throttled_event(sim: &SimHandle, n: usize) -> aws_lambda_events::sqs::SqsEvent {
    let records: Vec<Value> = (0..n)
        .map(|i| {
            let (body, ids) = records(2, &format!("hb{i}"));
            let msg = message_for(&sim.publish_blob(T, EXCHANGE, body, ids));
            serde_json::json!({"messageId": format!("m{i}"), "body": msg.to_json(),
                "attributes": {"ApproximateReceiveCount": "1"}})
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

/// The values of metric `name` over every EMF line, in order.
fn metric_values(metrics: &MetricsSink, name: &str) -> Vec<f64> {
    metrics
        .lines()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).unwrap()[name].as_f64())
        .collect()
}

#[tokio::test]
async fn throttled_messages_handed_back_are_counted() {
    let moto = MotoServer::start().await.unwrap();
    let queue = moto
        .create_queue("fetcher-hb", Duration::from_secs(30))
        .await
        .unwrap();
    let (sim, _dir, f, metrics) = throttled_setup(queue).await;
    let resp = f
        .handle_sqs_event(throttled_event(&sim, 3), deadline())
        .await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert_eq!(metric_values(&metrics, "MessagesHandedBack"), [3.0]);
    assert_eq!(metric_values(&metrics, "HandBacksRefused"), [0.0]);
}

#[tokio::test]
async fn throttled_messages_the_queue_refuses_are_counted() {
    let moto = MotoServer::start().await.unwrap();
    let missing = format!("{}/123456789012/no-such-queue", moto.endpoint());
    let (sim, _dir, f, metrics) = throttled_setup(SqsQueue::new(moto.sqs(), missing)).await;
    let resp = f
        .handle_sqs_event(throttled_event(&sim, 2), deadline())
        .await;
    let failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m0", "m1"]);
    assert_eq!(metric_values(&metrics, "MessagesHandedBack"), [0.0]);
    assert_eq!(metric_values(&metrics, "HandBacksRefused"), [2.0]);
}

/// Hands back a batch of `n` throttled messages of `T` (first deliveries; the fetcher's batch
/// size is 10) from a fetcher whose budget is `budget`, to a new queue; returns
/// the delays and how many of them the queue shows at once.
async fn hand_back_short_batch(budget: BudgetOptions, n: usize) -> (Vec<Duration>, usize) {
    let moto = MotoServer::start().await.unwrap();
    let queue = moto
        .create_queue("fetcher-pass", Duration::from_secs(30))
        .await
        .unwrap();
    let sim = sim(&[]).await;
    let (_dir, f, _metrics) = budgeted_fetcher(&sim, budget);
    let f = f.with_batch_size(10);
    let messages: Vec<InboundMessage> = (0..n)
        .map(|i| {
            let (body, ids) = records(2, &format!("pass{i}"));
            let msg = message_for(&sim.publish_blob(T, EXCHANGE, body, ids));
            let mut m = inbound(&format!("m{i}"), &msg);
            m.receive_count = Some(1);
            m
        })
        .collect();
    let outcome = BatchOutcome {
        failed_message_ids: messages.iter().map(|m| m.message_id.clone()).collect(),
        outcomes: messages
            .iter()
            .map(|m| {
                let retry = MessageOutcome::Retry {
                    kind: ErrorKind::Throttled,
                    error: "throttled".into(),
                };
                (m.message_id.clone(), retry)
            })
            .collect(),
    };
    let handed = f.hand_back_throttled(&queue, &messages, &outcome).await;
    let visible = queue.receive(10, Duration::ZERO, None).await.unwrap().len();
    (handed.into_iter().map(|(_, d)| d).collect(), visible)
}

#[tokio::test]
async fn a_short_batch_passes_throttled_work_on_at_once_when_other_invocations_share_the_rate() {
    // 600/min shared by four invocations: 2.5 requests a second here, from an empty bucket,
    // so the three turns booked (0.4 s away, then a tenth of a second apart) are all under a
    // second away. The batch is short (3 of 10): the other invocations are likely idle with
    // their shares unspent, so the messages go back visible at once, not a second later.
    let (delays, visible) =
        hand_back_short_batch(BudgetOptions::per_minute(600).share_of(4), 3).await;
    assert_eq!(delays, [Duration::ZERO; 3]);
    assert_eq!(visible, 3);
    // A full batch (10 of 10): the queue holds more, the other invocations are busy with it.
    // Alone on the tenant's rate (one process: `o365ctl`), the work would only come back to
    // this same share. Either way it waits out its turn hidden, at least a second.
    for (budget, n) in [
        (BudgetOptions::per_minute(600).share_of(4), 10),
        (BudgetOptions::per_minute(150).share_of(1), 3),
    ] {
        let (delays, visible) = hand_back_short_batch(budget, n).await;
        assert!(
            delays.iter().all(|d| *d >= Duration::from_secs(1)),
            "{delays:?}"
        );
        assert_eq!(visible, 0);
    }
}

#[tokio::test]
async fn one_busy_tenants_batch_waits_for_its_budget_instead_of_handing_back() {
    // 120/min with a burst of 2: the third download's turn is 0.5 s away, longer than the
    // shortest wait (300 ms) but well inside the time the budget needs for a batch of its one
    // busy tenant (3 / 2 per second = 1.5 s), so it waits instead of being handed back.
    let sim = sim(&[]).await;
    let (_dir, f, _metrics) = budgeted_fetcher(&sim, BudgetOptions::per_minute(120).with_burst(2));
    let batch: Vec<InboundMessage> = (0..3)
        .map(|i| {
            let (body, ids) = records(2, &format!("paced{i}"));
            inbound(
                &format!("p{i}"),
                &message_for(&sim.publish_blob(T, EXCHANGE, body, ids)),
            )
        })
        .collect();
    let out = f.handle_batch(batch, deadline()).await;
    assert!(out.failed_message_ids.is_empty(), "{:?}", out.outcomes);
    assert_eq!(blob_requests(&sim), 3);
}
