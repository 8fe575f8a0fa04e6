//! o365-auditor: the scheduled completeness audit in AWS. For each configured tenant, the
//! event-time hours that have settled (ended at least `AUDIT_SETTLE_HOURS` ago) and have no
//! conclusive report yet are compared with Microsoft's Purview audit search (Graph audit log
//! query API) by the library's [`o365_activity::audit::Auditor`], which writes one report per
//! hour under `<prefix>/_audit/`. Missing records still within the Management API's 7-day
//! reach are recovered by the tenant's reach sweep into the fetcher's queue
//! ([`o365_lister::QueueRecovery`], which `o365ctl audit` uses too); the next run audits those
//! hours again. The Lambda `main.rs`
//! wires [`handler::handle`]; `o365ctl audit` runs the same engine locally.

pub mod config;
pub mod handler;
pub mod metrics;

pub use config::AuditorConfig;
pub use handler::{handle, AuditorHandler, InvocationError};
