//! The soak (`make soak`): two simulated weeks, many tenants, every fault at once, concurrent
//! listers, an outage, a replay. Not part of `make test`.

use std::time::Duration;

use o365_e2e::world::World;
use o365_sim::TenantSpec;

use crate::{config_with, finish, hours};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: run with `make soak`"]
async fn soak_two_weeks_every_fault() {
    let faults = [
        "throttle=0.05",
        "throttle-429=0.05",
        "server-error=0.05",
        "drop-connection=0.03",
        "duplicate-in-page=0.05",
        "duplicate-across-windows=0.05",
        "shuffle-pages",
        "late-blobs=0.05",
        "early-expiry=0.02",
        "truncated-blobs=0.01",
        "malformed-blobs=0.01",
        "duplicate-records=0.02",
    ];
    let mut config = config_with(&faults);
    config.sim.tenants = (1..=4)
        .map(|i| {
            let mut t = TenantSpec::new(format!("00000000-0000-0000-0000-{i:012}"));
            t.enabled_types = o365_sim::ContentType::ALL.to_vec();
            t
        })
        .collect();
    config.sim.records_per_hour = 30;
    config.sim.blob_window = hours(1);
    config.max_receive_count = 10;
    let world = World::start(config).await.unwrap();
    let days = std::env::var("O365_SOAK_DAYS")
        .ok()
        .and_then(|d| d.parse::<usize>().ok())
        .unwrap_or(14);
    // The reach sweep runs on its default schedule (every 6 h): after a run once 6 h or more
    // have passed since the last sweep, as the schedule rule would fire it.
    let sweep_period = chrono::Duration::from_std(world.config.lister.sweep_period).unwrap();
    let mut last_sweep = world.sim.now();
    for day in 0..days {
        if day == days / 2 {
            // A two-day outage in the middle.
            world.sim.advance(hours(48));
        }
        for _ in 0..6 {
            world.sim.advance(hours(4));
            let (a, b) = (world.lister().unwrap(), world.lister().unwrap());
            let deadline = tokio::time::Instant::now() + world.config.list_deadline;
            let _ = tokio::join!(a.run(deadline), b.run(deadline));
            world.drain().await.unwrap();
            if world.sim.now() - last_sweep >= sweep_period {
                world.sweep().await.unwrap();
                world.drain().await.unwrap();
                last_sweep = world.sim.now();
            }
        }
    }
    let day_start = world.sim.now() - chrono::Duration::hours(24);
    world
        .replay(|b| b.content_created >= day_start, 1)
        .await
        .unwrap();
    world.drain().await.unwrap();
    // A last run and sweep, as the schedule would fire them, before reconciling.
    world.sim.advance(hours(4));
    world.list().await.unwrap();
    world.drain().await.unwrap();
    world.sweep().await.unwrap();
    world.drain().await.unwrap();
    // The horizon is the last run's time: a blob created after it (in the minute below) could
    // not have been listed yet by any run, so it is not expected stored.
    let last_run = world.sim.now();
    world.sim.advance(Duration::from_secs(60));
    let r = world.reconcile(last_run).await.unwrap();
    assert!(r.stored_blobs > 0, "{r}");
    println!(
        "soak: {days} simulated days; failures by kind: {}",
        failures_by_kind(&world).await
    );
    finish(
        &format!("soak: {days} simulated days, 4 tenants, every fault"),
        &faults.join(", "),
        &world,
        &r,
    );
}

/// `kind=count, …` over the `_errors/` reports, then the DLQ's message count.
async fn failures_by_kind(world: &World) -> String {
    use o365_activity::store::ObjectStore;
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for key in world
        .store
        .list(&world.layout.errors_prefix())
        .await
        .unwrap()
    {
        let Some(obj) = world.store.get(&key).await.unwrap() else {
            continue;
        };
        let kind = o365_activity::error_report::ErrorReport::parse(&key, &obj.body)
            .map_or_else(|_| "unreadable report".to_owned(), |r| r.kind);
        *kinds.entry(kind).or_default() += 1;
    }
    let dlq = world.dlq_bodies().await.unwrap().len();
    let mut out: Vec<String> = kinds.iter().map(|(k, n)| format!("{k}={n}")).collect();
    out.push(format!("in the DLQ={dlq}"));
    out.join(", ")
}
