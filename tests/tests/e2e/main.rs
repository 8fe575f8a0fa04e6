//! End-to-end scenarios of o365-collector under faults: the lister and the fetcher handlers run
//! as in Lambda against `o365-sim` (simulated clock, fault mix) and moto, then the bucket is
//! reconciled with the simulator's ledger and the run's logs are scanned for secrets.
//! Each scenario prints one `SCENARIO|...` line for the README's table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod bad_input;
mod bad_listing;
mod clock_skew;
mod defaults;
mod faults;
mod quota;
mod relisting;
mod runtime;
mod shared_settings;
mod slow_listing;
mod soak;
mod steady;
mod tenants;

use std::time::Duration;

use o365_e2e::reconcile::Reconciliation;
use o365_e2e::world::{World, WorldConfig};
use o365_sim::Scenario;

/// A world with these fault scenarios switched on.
pub fn config_with(faults: &[&str]) -> WorldConfig {
    let mut c = WorldConfig::default();
    c.sim.scenarios = faults.iter().map(|f| Scenario::parse(f).unwrap()).collect();
    c
}

/// Simulated hours.
pub fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

/// Asserts the reconciliation holds, the logs hold no secret, and prints the table row.
pub fn finish(name: &str, faults: &str, world: &World, r: &Reconciliation) {
    println!(
        "SCENARIO|{name}|{faults}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        r.published_blobs,
        r.published_records,
        r.stored_blobs,
        r.stored_records,
        r.reported_failures,
        r.lost.len() + r.gap_blobs + r.unreachable_blobs,
        r.lost_records + r.gap_records + r.unreachable_records,
        r.doubled.len(),
        r.doubled_records
    );
    println!(
        "{name}: {:.1} s real time",
        world.started.elapsed().as_secs_f64()
    );
    if let Err(e) = r.check() {
        panic!("{name}: the bucket does not match the ledger:\n{e}");
    }
    assert!(
        !world.logs.text().is_empty(),
        "{name}: no log was captured, so the secret scan would prove nothing"
    );
    if let Err(e) = world.assert_no_leaks() {
        panic!("{name}: secrets in the logs:\n{e}");
    }
}

/// Counts the ledger's answers with this status and AF code (or any code when `None`).
pub fn answered(world: &World, status: u16, code: Option<&str>) -> usize {
    world
        .sim
        .ledger()
        .requests
        .iter()
        .filter(|r| r.status == status && (code.is_none() || r.error_code.as_deref() == code))
        .count()
}
