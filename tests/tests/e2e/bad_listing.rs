//! Listing pages with unreadable entries: the rest of each page proceeds, odd fields are filled
//! in, and each entry that names no fetchable blob is kept in an error report and counted.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use o365_e2e::reconcile::{self, Expect};
use o365_e2e::world::World;
use o365_sim::listing_faults::{entry_fault, EntryFault};

use crate::{config_with, finish, hours};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_with_unreadable_entries() {
    let faults = ["bad-listing-entries=0.5", "small-pages=4"];
    let mut config = config_with(&faults);
    config.sim.records_per_hour = 24;
    config.sim.blob_window = hours(1);
    let world = World::start(config).await.unwrap();
    let mut runs = Vec::new();
    for _ in 0..12 {
        world.sim.advance(hours(1));
        runs.push(world.list().await.unwrap());
        world.drain().await.unwrap();
    }
    let horizon = world.sim.now();
    let sweep = world.sweep().await.unwrap();
    assert_eq!(sweep.failed().count(), 0, "{sweep:?}");
    world.drain().await.unwrap();
    world.sim.advance(Duration::from_secs(60));

    let (seed, scenarios) = (world.config.sim.seed, world.config.sim.scenarios.clone());
    let fault_of = |id: &str| entry_fault(seed, &scenarios, id);
    let ledger = world.sim.ledger();
    let due: Vec<&o365_sim::PublishedBlob> = ledger
        .published
        .iter()
        .filter(|b| b.visible && b.available_at <= horizon)
        .collect();
    let unreadable: BTreeSet<&str> = due
        .iter()
        .filter(|b| fault_of(&b.content_id).is_some_and(|f| !f.fetchable()))
        .map(|b| b.content_id.as_str())
        .collect();
    let r = world
        .reconcile_with(|ledger, blob, gaps| {
            if fault_of(&blob.content_id).is_some_and(|f| !f.fetchable()) {
                // Found by the listing, never fetchable: a reported failure, or lost.
                Expect::Failure
            } else {
                reconcile::default_expectation(ledger, blob, gaps, horizon)
            }
        })
        .await
        .unwrap();

    // Every readable blob stored, the odd but fetchable ones included.
    let stored: BTreeSet<String> = reconcile::read_stored(&world.store, &world.layout)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.content_id)
        .collect();
    let mut stored_by_fault: BTreeMap<String, usize> = BTreeMap::new();
    for b in &due {
        let fault = fault_of(&b.content_id);
        if fault.is_some_and(|f| !f.fetchable()) {
            assert!(!stored.contains(&b.content_id), "{} stored", b.content_id);
            continue;
        }
        assert!(
            stored.contains(&b.content_id),
            "{} ({fault:?}) not stored: {r}",
            b.content_id
        );
        *stored_by_fault.entry(format!("{fault:?}")).or_default() += 1;
    }
    for kind in EntryFault::ALL.iter().filter(|k| k.fetchable()) {
        assert!(
            stored_by_fault.contains_key(&format!("{:?}", Some(kind))),
            "no blob with {kind:?} was published, so its salvage is untested: {stored_by_fault:?}"
        );
    }

    // Each unreadable entry in one error report holding its raw JSON.
    let reports = reconcile::read_listing_errors(&world.store, &world.layout)
        .await
        .unwrap();
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    for (key, entry) in &reports {
        let id = match entry {
            serde_json::Value::String(id) => {
                assert_eq!(fault_of(id), Some(EntryFault::NotAnObject), "{key}");
                id.as_str()
            }
            serde_json::Value::Object(o) => {
                let id = o["contentId"].as_str().unwrap_or_default();
                assert_eq!(fault_of(id), Some(EntryFault::NoContentUri), "{key}");
                assert!(!o.contains_key("contentUri") && o.contains_key("contentCreated"));
                id
            }
            other => panic!("{key}: the report does not hold the raw entry: {other}"),
        };
        assert!(reported.insert(id), "{id} reported twice");
    }
    assert!(!unreadable.is_empty(), "no unreadable entry was published");
    assert_eq!(reported, unreadable, "each unreadable entry reported once");

    // Counted once each, in the run summaries and the ListingEntriesRejected metric.
    let counted: u64 = runs
        .iter()
        .flat_map(|s| s.pairs.iter())
        .map(|p| p.entries_rejected)
        .sum::<u64>()
        + sweep.pairs.iter().map(|p| p.entries_rejected).sum::<u64>();
    assert_eq!(counted, unreadable.len() as u64);
    let metric: f64 = world
        .metrics
        .lines()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("ListingEntriesRejected")?.as_f64())
        .sum();
    assert_eq!(
        metric as u64,
        unreadable.len() as u64,
        "ListingEntriesRejected"
    );
    println!(
        "pages with unreadable entries: {} unreadable entries reported and counted; fetchable odd entries stored by fault: {stored_by_fault:?}",
        unreadable.len()
    );
    assert_eq!(r.reported_failures, unreadable.len(), "{r}");
    finish(
        "a page with unreadable listing entries",
        "bad-listing-entries=0.5 (per blob, the same on every listing: content type in lower case, no contentExpiration, zone-less dates, US-format dates, not an object, no contentUri), small-pages=4, 12 hourly runs, one reach sweep",
        &world,
        &r,
    );
}
