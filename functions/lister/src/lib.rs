//! o365-lister: for each configured tenant and content type, list what became available since
//! the checkpoint and send one queue message per content blob. The Lambda `main.rs` and
//! `o365ctl run/backfill/replay` call this same handler.

pub mod plan;
pub mod settings;

pub use settings::{ListerSettings, SettingsError};
