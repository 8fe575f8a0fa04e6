//! A lister writer whose clock runs ahead of the others.

use o365_activity::checkpoint::Claim;
use o365_activity::ContentType;
use o365_e2e::world::World;

use crate::{config_with, finish, hours};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_writer_two_hours_ahead() {
    let world = World::start(config_with(&[])).await.unwrap();
    world.cycle(hours(1), 2).await.unwrap();
    // Another writer, its clock 2 h fast, commits a watermark 2 h in the future for every pair.
    let lister = world.lister().unwrap();
    let tenant = world.tenants[0].tenant_id.clone();
    let now = world.sim.now();
    let ahead = now + chrono::Duration::hours(2);
    for ct in ContentType::ALL {
        let claim = lister
            .checkpoints()
            .claim_for(&tenant, ct, "fast-clock", now, chrono::Duration::seconds(1))
            .await
            .unwrap();
        let Claim::Held(mut held) = claim else {
            panic!("{ct}: the pair is busy")
        };
        lister
            .checkpoints()
            .commit(&mut held, Some(ahead), &[], now)
            .await
            .unwrap();
    }
    // Its lease lapses; the next runs of the normal writer see the watermark ahead.
    world.sim.advance(std::time::Duration::from_secs(60));
    let first = world.list().await.unwrap();
    world.drain().await.unwrap();
    let reported: Vec<_> = first
        .pairs
        .iter()
        .map(|p| p.watermark_ahead_seconds)
        .collect();
    assert!(
        reported.iter().all(|s| s.is_some_and(|s| s > 7000)),
        "every pair reports its watermark ahead: {reported:?}"
    );
    assert!(
        world
            .metrics
            .lines()
            .iter()
            .any(|l| l.contains("WatermarkAheadSeconds")),
        "WatermarkAheadSeconds was emitted"
    );
    let cp = lister
        .checkpoints()
        .load(&tenant, ContentType::General)
        .await
        .unwrap()
        .unwrap()
        .checkpoint;
    assert!(
        cp.last_run
            .as_ref()
            .is_some_and(|r| r.watermark_ahead_seconds.is_some()),
        "the checkpoint records it for o365ctl status: {cp:?}"
    );
    world.cycle(hours(1), 3).await.unwrap();
    let horizon = world.sim.now();
    let sweep = world.sweep().await.unwrap();
    assert_eq!(sweep.failed().count(), 0, "{sweep:?}");
    world.drain().await.unwrap();
    let r = world.reconcile(horizon).await.unwrap();
    println!(
        "one writer 2 h ahead: watermark ahead reported {:?} s; sweep recovered {}",
        reported[0],
        sweep.recovered()
    );
    assert_eq!(r.stored_blobs, r.published_blobs, "{r}");
    finish(
        "one lister writer 2 h ahead of the clock",
        "a checkpoint watermark committed 2 h in the future for every pair, then 3 runs and one reach sweep",
        &world,
        &r,
    );
}
