//! Scenarios with API and delivery faults.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use o365_e2e::event_source::HandlerOutcome;
use o365_e2e::reconcile::Expect;
use o365_e2e::world::World;

use crate::{answered, config_with, finish, hours};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_storm() {
    let faults = ["throttle=0.2", "throttle-429=0.2"];
    let mut config = config_with(&faults);
    config.max_receive_count = 10;
    config.sim.blob_window = hours(3);
    let world = World::start(config).await.unwrap();
    world.cycle(hours(6), 3).await.unwrap();
    assert!(
        answered(&world, 403, Some("AF429")) > 0,
        "AF429 as 403 was injected"
    );
    assert!(answered(&world, 429, None) > 0, "429 was injected");
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert_eq!(r.stored_blobs, r.published_blobs, "{r}");
    finish("throttling storm", &faults.join(", "), &world, &r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_dropped_connections() {
    let faults = ["server-error=0.15", "drop-connection=0.1"];
    let mut config = config_with(&faults);
    config.max_receive_count = 10;
    let world = World::start(config).await.unwrap();
    world.cycle(hours(4), 6).await.unwrap();
    let ledger = world.sim.ledger();
    assert!(
        ledger.requests.iter().any(|r| r.status >= 500),
        "5xx was injected"
    );
    assert!(
        ledger
            .requests
            .iter()
            .any(|r| r.fault.as_deref().is_some_and(|f| f.contains("drop"))),
        "dropped connections were injected"
    );
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert_eq!(r.stored_blobs, r.published_blobs, "{r}");
    finish(
        "5xx and dropped connections",
        &faults.join(", "),
        &world,
        &r,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_responses_near_the_deadline() {
    let faults = ["slow=0.3"];
    let mut config = config_with(&faults);
    // Each invocation gets 1.5 s; a slow answer takes 0.5-2 s: some blobs do not fit and are
    // handed back, to succeed on a later delivery.
    config.fetch_deadline = Duration::from_millis(1500);
    config.max_receive_count = 20;
    config.batch_size = 5;
    config.sim.records_per_hour = 6;
    config.sim.blob_window = hours(3);
    let world = World::start(config).await.unwrap();
    world.cycle(hours(6), 1).await.unwrap();
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert_eq!(r.stored_blobs, r.published_blobs, "{r}");
    finish(
        "slow responses near the deadline",
        "slow=0.3 (0.5-2 s), 1.5 s invocations",
        &world,
        &r,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_listings_and_shuffled_pages() {
    let faults = [
        "duplicate-in-page=0.2",
        "duplicate-across-windows=0.2",
        "shuffle-pages",
        "small-pages=3",
    ];
    let world = World::start(config_with(&faults)).await.unwrap();
    world.cycle(hours(2), 12).await.unwrap();
    let ledger = world.sim.ledger();
    assert!(
        ledger.published.iter().any(|b| !b.relisted_at.is_empty()),
        "blobs were re-listed"
    );
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert_eq!(r.stored_blobs, r.published_blobs, "{r}");
    finish(
        "duplicate listings, shuffled pages",
        &faults.join(", "),
        &world,
        &r,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_blobs_inside_the_overlap() {
    let faults = ["late-blobs=0.3"];
    let mut config = config_with(&faults);
    config.lister.overlap = hours(7);
    let world = World::start(config).await.unwrap();
    world.cycle(hours(2), 15).await.unwrap();
    let horizon = world.sim.now();
    let ledger = world.sim.ledger();
    let late = ledger
        .published
        .iter()
        .filter(|b| {
            b.fault.as_deref().is_some_and(|f| f.contains("late")) && b.available_at <= horizon
        })
        .count();
    assert!(late > 0, "late blobs were published");
    let r = world.reconcile(horizon).await.unwrap();
    assert_eq!(
        r.unreachable_blobs, 0,
        "with a 7 h overlap every late blob (1-6 h) is found: {r}"
    );
    assert_eq!(r.stored_blobs, r.published_blobs, "{r}");
    finish(
        "late blobs inside the overlap",
        "late-blobs=0.3 (1-6 h), overlap 7 h",
        &world,
        &r,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_blobs_beyond_the_overlap() {
    // Blobs listable 1-6 h after their contentCreated, with the lister's default 60-min
    // overlap: the runs miss those later than the overlap, the reach sweep enqueues them.
    late_blobs_then_the_sweep(
        &["late-blobs=0.3"],
        24,
        "late blobs beyond the overlap, then the sweep",
        "late-blobs=0.3 (1-6 h), default overlap (60 min), one reach sweep",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_blobs_up_to_30_hours() {
    late_blobs_then_the_sweep(
        &["late-blobs=0.3", "late-blobs-max-hours=30"],
        40,
        "late blobs 1-30 h, then the sweep",
        "late-blobs=0.3, late-blobs-max-hours=30 (1-30 h), default overlap (60 min), 40 hourly runs, one reach sweep",
    )
    .await;
}

/// Hourly runs under `faults` (late blobs), then one reach sweep: every blob listable by the
/// last run is stored, late ones included.
async fn late_blobs_then_the_sweep(faults: &[&str], runs: usize, name: &str, label: &str) {
    let world = World::start(config_with(faults)).await.unwrap();
    world.cycle(hours(1), runs).await.unwrap();
    let horizon = world.sim.now();
    let sweep = world.sweep().await.unwrap();
    assert_eq!(sweep.failed().count(), 0, "{sweep:?}");
    world.drain().await.unwrap();
    let late: Vec<chrono::Duration> = world
        .sim
        .ledger()
        .published
        .iter()
        .filter(|b| b.fault.as_deref() == Some("late") && b.available_at <= horizon)
        .map(|b| b.available_at - b.content_created)
        .filter(|d| *d > chrono::Duration::minutes(60))
        .collect();
    assert!(!late.is_empty(), "no blob was later than the overlap");
    assert!(sweep.recovered() > 0, "the sweep recovered nothing");
    // Every blob listable by the horizon is expected stored, late ones included.
    let r = world
        .reconcile_with(|ledger, b, gaps| {
            match o365_e2e::reconcile::default_expectation(ledger, b, gaps, horizon) {
                Expect::Unreachable if b.visible && b.available_at <= horizon => Expect::Stored,
                other => other,
            }
        })
        .await
        .unwrap();
    println!(
        "{name}: {} blobs later than the 60 min overlap (latest {} h); recovered by the sweep: {}",
        late.len(),
        late.iter().max().map_or(0, |d| d.num_hours()),
        sweep.recovered()
    );
    assert_eq!(r.unreachable_blobs, 0);
    finish(name, label, &world, &r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_sqs_deliveries() {
    let world = World::start(config_with(&[])).await.unwrap();
    world.sim.advance(hours(6));
    world.list().await.unwrap();
    // Every message is delivered again: once more by a duplicate send, and once because the
    // first handling of every batch "loses" its response (the mapping deletes nothing).
    world.replay(|_| true, 1).await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut inner = world.fetch_handler();
    let c = calls.clone();
    let stats = world
        .source
        .drain(
            move |event| {
                let n = c.fetch_add(1, Ordering::SeqCst);
                let fut = inner(event);
                async move {
                    let out = fut.await;
                    if n.is_multiple_of(2) {
                        HandlerOutcome::NoResponse("response lost".into())
                    } else {
                        out
                    }
                }
            },
            Duration::from_secs(120),
        )
        .await
        .unwrap();
    assert!(
        stats.no_response > 0 && stats.deliveries > stats.deleted,
        "{stats:?}"
    );
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert_eq!(r.stored_blobs, r.published_blobs, "{r}");
    finish(
        "duplicate SQS deliveries",
        "every message sent twice; every other batch's response lost",
        &world,
        &r,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_malformed_blobs() {
    let faults = [
        "early-expiry=0.15",
        "truncated-blobs=0.1",
        "malformed-blobs=0.1",
    ];
    let world = World::start(config_with(&faults)).await.unwrap();
    world.cycle(hours(3), 8).await.unwrap();
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert!(
        r.reported_failures > 0,
        "malformed and expired blobs are reported: {r}"
    );
    finish(
        "expired and malformed blobs",
        &faults.join(", "),
        &world,
        &r,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_message_pointing_at_another_host() {
    use tokio::io::AsyncReadExt;
    let world = World::start(config_with(&[])).await.unwrap();
    // "Another host": a listener of this test that must never see a connection.
    let other = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = other.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let spy = tokio::spawn(async move {
        while let Ok((mut sock, _)) = other.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 4096];
            let _ = sock.read(&mut buf).await;
        }
    });
    world.sim.advance(hours(2));
    let ledger = world.sim.ledger();
    let blob = ledger.published.first().expect("a published blob");
    let tenant = &blob.tenant_id;
    let sim_host = world
        .sim
        .base_url()
        .trim_start_matches("http://")
        .to_string();
    let forged_uris = [
        format!(
            "http://127.0.0.1:{port}/api/v1.0/{tenant}/activity/feed/audit/{}",
            blob.content_id
        ),
        format!(
            "http://localhost:{port}/api/v1.0/{tenant}/activity/feed/audit/{}",
            blob.content_id
        ),
        format!("http://{sim_host}@127.0.0.1:{port}/api/v1.0/{tenant}/activity/feed/audit/x"),
        format!("https://127.0.0.1:{port}/api/v1.0/{tenant}/activity/feed/audit/x"),
    ];
    let mut bodies = Vec::new();
    for (i, uri) in forged_uris.iter().enumerate() {
        let mut m = o365_e2e::world::message_for(blob).unwrap();
        m.content_id = format!("forged{i}");
        m.content_uri = uri.clone();
        bodies.push(m.to_json());
    }
    world.source.send_raw(&bodies).await.unwrap();
    world.drain().await.unwrap();
    spy.abort();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the forged host saw a connection"
    );
    let errors = o365_e2e::reconcile::read_error_reports(&world.store, &world.layout)
        .await
        .unwrap();
    let dlq = o365_e2e::reconcile::dlq_content_ids(&world.dlq_bodies().await.unwrap());
    for i in 0..forged_uris.len() {
        let id = format!("forged{i}");
        assert!(
            errors.contains(&id) || dlq.contains(&id),
            "forged message {i} is reported"
        );
    }
    let stored = o365_e2e::reconcile::read_stored(&world.store, &world.layout)
        .await
        .unwrap();
    assert!(stored.is_empty(), "nothing is stored for a forged message");
    world.assert_no_leaks().unwrap();
    println!("SCENARIO|forged message to another host|4 forged content_uri|0|0|0|0|4|0|0|0|0");
}
