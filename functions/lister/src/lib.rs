//! o365-lister: for each configured tenant and content type, list what became available since
//! the checkpoint and send one queue message per content blob. The Lambda `main.rs` and
//! `o365ctl run/backfill/replay` call this same handler.

pub mod config;
pub mod event;
pub mod lister;
pub mod plan;
pub mod settings;
pub mod summary;

pub use config::{ListerConfig, ListerConfigError, TenantsSource};
pub use lister::{ListWindowError, Lister};
pub use settings::{ListerSettings, SettingsError};
pub use summary::{PairOutcome, PairSummary, RunSummary};
