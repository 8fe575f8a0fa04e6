//! Per-tenant state: subscriptions and the blob store, and the deterministic content generator
//! that fills it as simulated time passes.

mod blob;
mod generator;
mod mix;
mod state;

pub use blob::{Blob, Cut, Planned, Recipe, Source};
pub use generator::Generator;
pub use mix::{mix, mixed_guid};
pub use state::{Listing, Store, SubStatus, Subscription};

#[cfg(test)]
mod tests;
