//! A listing too slow to finish in one run: every run commits what it listed.

use std::time::Duration;

use o365_activity::ContentType;
use o365_e2e::world::World;

use crate::{config_with, finish, hours};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_size_one_slow_pages_short_budget() {
    let faults = ["small-pages=1", "slow=0.5"];
    let mut config = config_with(&faults);
    config.lister.content_types = Some(vec![ContentType::DlpAll]);
    config.sim.tenants[0].enabled_types = vec![o365_sim::ContentType::DlpAll];
    config.sim.records_per_hour = 24;
    config.sim.blob_window = Duration::from_secs(30 * 60);
    // Each run gets 3 s; half the pages take 0.5-2 s, and a page holds one entry.
    config.lister.deadline_margin = Duration::from_secs(1);
    config.list_deadline = Duration::from_secs(4);
    let world = World::start(config).await.unwrap();
    world.sim.advance(hours(3));
    let mut progress = Vec::new();
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs <= 60, "the pair never caught up: {progress:?}");
        let summary = world.list().await.unwrap();
        let pair = &summary.pairs[0];
        let cp = world
            .lister()
            .unwrap()
            .checkpoints()
            .load(&pair.tenant_id, pair.content_type)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("run {runs} left no checkpoint: {pair:?}"))
            .checkpoint;
        let now = (cp.watermark, cp.page_cursor.clone());
        assert_ne!(
            progress.last(),
            Some(&now),
            "run {runs} made no progress: {pair:?}"
        );
        assert!(
            !pair.stalled,
            "run {runs} progressed but is reported stalled"
        );
        progress.push(now);
        world.drain().await.unwrap();
        if summary.all_complete() {
            break;
        }
    }
    let horizon = world.sim.now();
    // No progress at all (the DLP permission withdrawn: every listing is refused): stalled
    // from the third such run on, not before.
    let tenant = world.tenants[0].tenant_id.to_string();
    world.sim.set_dlp_permission(&tenant, false).unwrap();
    let mut stalled_runs = Vec::new();
    for _ in 0..4 {
        let s = world.list().await.unwrap();
        stalled_runs.push(s.pairs[0].stalled);
    }
    world.sim.set_dlp_permission(&tenant, true).unwrap();
    // Then progress again: no longer stalled.
    world.sim.advance(hours(1));
    let s = world.list().await.unwrap();
    world.drain().await.unwrap();
    let r = world.reconcile(horizon).await.unwrap();
    println!(
        "page size 1, slow pages, 3 s budget: {runs} runs to catch up 3 h, each committed progress; stalled in runs without progress: {stalled_runs:?}; after progress again: {}",
        s.pairs[0].stalled
    );
    assert_eq!(
        stalled_runs,
        [false, false, true, true],
        "stalled from the 3rd run without progress"
    );
    assert!(!s.pairs[0].stalled, "{s:?}");
    assert!(r.lost.is_empty() && r.gap_blobs == 0, "{r}");
    finish(
        "page size 1, slow pages, short budget",
        "small-pages=1, slow=0.5 (0.5-2 s), 30-min blobs, 3 s lister budget, one content type",
        &world,
        &r,
    );
}
