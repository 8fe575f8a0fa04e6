//! Scenarios without API faults: steady state, replay, many tenants, concurrent and killed
//! listers, a long outage.

use std::time::Duration;

use o365_e2e::reconcile::{default_expectation, Expect};
use o365_e2e::world::{World, WorldConfig};
use o365_sim::TenantSpec;

use crate::{finish, hours};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_over_three_days() {
    let world = World::start(WorldConfig::default()).await.unwrap();
    world.cycle(hours(2), 36).await.unwrap();
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert!(r.published_blobs > 0, "{r}");
    assert_eq!(r.stored_blobs, r.published_blobs, "{r}");
    assert_eq!(
        r.gap_blobs + r.unreachable_blobs + r.reported_failures,
        0,
        "{r}"
    );
    finish("steady state, 3 days", "none", &world, &r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_of_a_whole_day_twice() {
    let world = World::start(WorldConfig::default()).await.unwrap();
    world.cycle(hours(4), 6).await.unwrap();
    let before = world.sim.ledger();
    let day_start = world.sim.now() - chrono::Duration::hours(24);
    let sent = world
        .replay(|b| b.content_created >= day_start, 2)
        .await
        .unwrap();
    assert!(
        sent > 100,
        "a day holds more than 50 blobs, replayed {sent}"
    );
    world.drain().await.unwrap();
    let after = world.sim.ledger();
    assert_eq!(
        before.served, after.served,
        "a replayed blob that is already stored must not be downloaded again"
    );
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert_eq!(r.doubled.len(), 0, "{r}");
    finish(
        "replay of a day, twice",
        "every message of a day sent twice more",
        &world,
        &r,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tenants_with_one_broken_tenant() {
    let mut config = WorldConfig::default();
    let ids: Vec<String> = (1..=6)
        .map(|i| format!("00000000-0000-0000-0000-{i:012}"))
        .collect();
    config.sim.tenants = ids
        .iter()
        .map(|id| {
            let mut t = TenantSpec::new(id.clone());
            t.enabled_types = o365_sim::ContentType::ALL.to_vec();
            t
        })
        .collect();
    // Tenant 6 never granted the DLP permission: its DLP.All fails, its other types carry on.
    config.sim.tenants[5].dlp_permission = false;
    config.sim.records_per_hour = 4;
    config.sim.blob_window = hours(4);
    config.sim.history = hours(4);
    let mut world = World::start(config).await.unwrap();
    // Tenant 3's app secret was rotated and the configuration still holds the old one.
    let broken = ids[2].clone();
    for t in &mut world.tenants {
        if t.tenant_id.as_str() == broken {
            t.credential = o365_activity::tenants::Credential::Secret(
                o365_activity::secret::Secret::new("an-old-rotated-secret"),
            );
        }
    }
    world.cycle(hours(4), 6).await.unwrap();
    let horizon = world.sim.now();
    let no_dlp = ids[5].clone();
    // Not collected while broken, and loud about it: after six failing runs those pairs are
    // reported stalled (PairStalled, alarmed); every other pair is not.
    let last = world.list().await.unwrap();
    world.drain().await.unwrap();
    for p in &last.pairs {
        let broken_pair = p.tenant_id.as_str() == broken
            || (p.tenant_id.as_str() == no_dlp && p.content_type.as_str() == "DLP.All");
        assert_eq!(p.stalled, broken_pair, "{p:?}");
    }
    let r = world
        .reconcile_with(|ledger, blob, gaps| {
            if blob.tenant_id == broken
                || (blob.tenant_id == no_dlp && blob.content_type == "DLP.All")
            {
                Expect::Unreachable
            } else {
                default_expectation(ledger, blob, gaps, horizon)
            }
        })
        .await
        .unwrap();
    let stored_tenants: std::collections::BTreeSet<String> =
        o365_e2e::reconcile::read_stored(&world.store, &world.layout)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.tenant_id)
            .collect();
    assert_eq!(
        stored_tenants.len(),
        5,
        "every tenant but the broken one is collected: {stored_tenants:?}"
    );
    assert!(!stored_tenants.contains(&broken));
    finish(
        "many tenants, one broken",
        "6 tenants; one with a wrong secret, one without DLP permission",
        &world,
        &r,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_listers_at_once() {
    let world = World::start(WorldConfig::default()).await.unwrap();
    for _ in 0..8 {
        world.sim.advance(hours(3));
        let (a, b) = (world.lister().unwrap(), world.lister().unwrap());
        let deadline = tokio::time::Instant::now() + world.config.list_deadline;
        let (ra, rb) = tokio::join!(a.run(deadline), b.run(deadline));
        assert_eq!(
            ra.failed().count() + rb.failed().count(),
            0,
            "{ra:?} {rb:?}"
        );
        world.drain().await.unwrap();
    }
    let r = world.reconcile(world.sim.now()).await.unwrap();
    finish(
        "two listers at once",
        "two concurrent lister runs every 3 h",
        &world,
        &r,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lister_killed_mid_window() {
    let world = World::start(WorldConfig::default()).await.unwrap();
    world.cycle(hours(2), 2).await.unwrap();
    world.sim.advance(hours(12));
    // A run is cut off (Lambda timeout, crash) once it has sent part of its window.
    let lister = world.lister().unwrap();
    let deadline = tokio::time::Instant::now() + world.config.list_deadline;
    let watcher = async {
        loop {
            let (visible, in_flight) = world
                .source
                .depth_of(&world.source.queue_url)
                .await
                .unwrap();
            if visible + in_flight > 0 {
                return visible + in_flight;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    // Whichever finishes first: the watcher's win drops the run mid-flight.
    let seen = tokio::select! {
        n = watcher => n,
        _ = lister.run(deadline) => 0,
    };
    // The next scheduled runs (after any lease the killed run held has expired) finish the job.
    world.cycle(Duration::from_secs(20 * 60), 1).await.unwrap();
    world.cycle(hours(2), 2).await.unwrap();
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert!(
        seen > 0,
        "the run was cut off after it had queued part of its window"
    );
    println!("killed the lister after {seen} messages were queued");
    finish(
        "lister killed mid-window",
        "lister run aborted after its first sends",
        &world,
        &r,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_day_outage() {
    let mut config = WorldConfig::default();
    config.sim.records_per_hour = 5;
    config.sim.blob_window = hours(8);
    let world = World::start(config).await.unwrap();
    world.cycle(hours(8), 2).await.unwrap();
    // Nothing runs for 8 days; the API keeps publishing; then the schedule resumes.
    world.sim.advance(Duration::from_secs(8 * 24 * 3600));
    world.list().await.unwrap();
    world.drain().await.unwrap();
    world.cycle(hours(8), 2).await.unwrap();
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert!(
        !r.gaps.is_empty(),
        "an 8-day outage loses a window: a gap report must say so; {r}"
    );
    assert!(r.gap_blobs > 0, "{r}");
    finish("8-day outage", "no lister run for 8 days", &world, &r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_catches_loss_and_strays() {
    use o365_activity::store::{ObjectMeta, ObjectStore, PutCondition};
    let world = World::start(WorldConfig::default()).await.unwrap();
    world.cycle(hours(4), 1).await.unwrap();
    let good = world.reconcile(world.sim.now()).await.unwrap();
    good.check().unwrap();
    let stored = o365_e2e::reconcile::read_stored(&world.store, &world.layout)
        .await
        .unwrap();
    assert!(stored.len() >= 3, "{good}");
    let meta = ObjectMeta {
        content_type: "application/x-ndjson".into(),
        content_encoding: Some("gzip".into()),
    };
    // Lose one blob, store a copy of another under a wrong partition, add a stray object.
    let lost = &stored[0];
    let doubled = &stored[1];
    let body = world.store.get(&doubled.key).await.unwrap().unwrap().body;
    let client = world.moto.s3();
    client
        .delete_object()
        .bucket(world.store.bucket())
        .key(&lost.key)
        .send()
        .await
        .unwrap();
    let second = doubled.key.replace("/hour=", "/hour=9");
    world
        .store
        .put(&second, body.clone(), &meta, PutCondition::Overwrite)
        .await
        .unwrap();
    let stray = format!(
        "{}/tenant_id={}/content_type=Audit.General/dt=2026-01-01/hour=00/stray.json.gz",
        world.layout.prefix(),
        o365_sim::DEFAULT_TENANT_ID
    );
    world
        .store
        .put(&stray, body, &meta, PutCondition::Overwrite)
        .await
        .unwrap();
    let bad = world.reconcile(world.sim.now()).await.unwrap();
    assert_eq!(bad.lost, vec![lost.content_id.clone()], "{bad}");
    assert_eq!(
        bad.unexpected_objects.len(),
        2,
        "{:?}",
        bad.unexpected_objects
    );
    assert!(bad.check().is_err());
}
