//! The tenant's request budget under a quota smaller than the backlog: work the budget cannot
//! serve soon goes back to the queue as new messages, never towards the dead-letter queue.

use o365_activity::client::BudgetOptions;

use crate::{config_with, finish, hours};
use o365_e2e::world::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_hand_backs_never_reach_the_dlq() {
    // One request every 3 s: a batch of ten blobs needs 30 s of budget, far more than a
    // download may wait, so most of each batch is handed back, again and again.
    let faults = ["rate-limit=20", "rate-burst=2"];
    let mut config = config_with(&faults);
    config.sim.history = hours(3);
    config.sim.blob_window = hours(1);
    config.sim.records_per_hour = 60;
    config.client.budget = BudgetOptions {
        burst: 1,
        ..BudgetOptions::per_minute(20)
    };
    // One receive only: a message handed back as a failure would go to the DLQ at once.
    config.max_receive_count = 1;
    config.visibility_timeout = 30;
    let world = World::start(config).await.unwrap();
    world.list().await.unwrap();
    let drained = world.drain().await.unwrap();
    assert_eq!(drained.failed, 0, "{drained:?}");
    let dlq = world.source.dlq_bodies().await.unwrap();
    assert!(dlq.is_empty(), "{} messages in the DLQ", dlq.len());
    let handed_back = world
        .logs
        .text()
        .matches("throttled message handed back")
        .count();
    assert!(
        handed_back > 0,
        "the budget made the fetcher hand work back"
    );
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert_eq!(r.stored_blobs, r.published_blobs, "{r}");
    assert!(
        drained.deliveries > r.stored_blobs,
        "hand-backs were delivered again: {drained:?}"
    );
    finish("throttled hand-backs", &faults.join(", "), &world, &r);
}
