//! Scenarios where the same content ids come back through every re-listing path.

use o365_activity::compression::Compression;
use o365_activity::ContentType;
use o365_e2e::world::{message_for, World};

use crate::{config_with, finish, hours};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_across_windows_then_every_relisting_path() {
    // Every blob is listed again 1-3 h later with a later contentCreated (another hour=
    // partition); then a window replay, a backfill-style re-list, a replay of the later
    // messages, a reach sweep and a fetcher with another compression all see them again.
    let faults = ["duplicate-across-windows=1"];
    let world = World::start(config_with(&faults)).await.unwrap();
    world.cycle(hours(1), 8).await.unwrap();
    let now = world.sim.now();
    let relisted = world
        .sim
        .ledger()
        .published
        .iter()
        .filter(|b| !b.relisted_at.is_empty())
        .count();
    assert!(relisted > 0, "no blob was listed again");
    let lister = world.lister().unwrap();
    let deadline = || tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    let tenant = world.tenants[0].tenant_id.clone();
    // A window replay (`o365ctl replay --window`) and a backfill (`backfill --last 3h`).
    for back in [hours(8), hours(3)] {
        let start = now - chrono::Duration::from_std(back).unwrap();
        for ct in ContentType::ALL {
            lister
                .list_window(&tenant, ct, start, now, deadline())
                .await
                .unwrap();
        }
        world.drain().await.unwrap();
    }
    // The re-listed messages, with their later contentCreated, sent once more.
    let later: Vec<_> = world
        .sim
        .ledger()
        .published
        .iter()
        .filter(|b| b.visible)
        .flat_map(|b| {
            b.relisted_at.iter().map(move |t| {
                let mut m = message_for(b).unwrap();
                m.content_created = *t;
                m
            })
        })
        .collect();
    use o365_activity::queue::Queue;
    world.queue.send_all(&later, deadline()).await.unwrap();
    world.drain().await.unwrap();
    let sweep = world.sweep().await.unwrap();
    assert_eq!(sweep.failed().count(), 0, "{sweep:?}");
    world.drain().await.unwrap();
    // The compression setting changes: a zstd fetcher handles every message again.
    let zstd = world.fetcher_with(Compression::Zstd { level: 1 }).unwrap();
    world.queue.send_all(&later, deadline()).await.unwrap();
    world.replay(|_| true, 1).await.unwrap();
    world
        .source
        .drain(
            world.fetch_handler_with(zstd),
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    let r = world.reconcile(now).await.unwrap();
    println!(
        "duplicates across windows: {relisted} blobs listed again, {} later messages, sweep recovered {}",
        later.len(),
        sweep.recovered()
    );
    assert!(r.doubled.is_empty(), "{r}");
    assert_eq!(r.stored_blobs, r.published_blobs, "{r}");
    finish(
        "duplicates across windows, then replay, backfill, sweep, zstd",
        "duplicate-across-windows=1 (later contentCreated), window replay 8 h, backfill 3 h, later messages again, one reach sweep, then a zstd fetcher",
        &world,
        &r,
    );
}
