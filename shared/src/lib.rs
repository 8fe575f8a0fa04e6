//! o365-activity: everything the o365-collector binaries share. The Office 365 Management
//! Activity API models and client, normalization of audit records, the object-key layout,
//! checkpoints, tenant configuration, metrics, and the storage and queue seams.

pub mod api_error;
pub mod audit;
pub mod aws;
pub mod bootstrap;
pub mod checkpoint;
pub mod claim;
pub mod client;
pub mod clock;
pub mod cloud;
pub mod compression;
pub mod content_type;
pub mod error_report;
pub mod graph;
pub mod in_turn;
pub mod keys;
pub mod latency;
pub mod listing;
pub mod manifest;
pub mod message;
pub mod metrics;
pub mod normalize;
pub mod queue;
pub mod record;
pub mod record_type;
pub mod secret;
mod serde_text;
pub mod store;
pub mod tenant_id;
pub mod tenants;
pub mod time;
pub mod user_type;

#[cfg(feature = "testing")]
pub mod testing;

pub use content_type::ContentType;
pub use listing::ContentListing;
pub use message::QueueMessage;
pub use record::AuditRecord;
pub use tenant_id::TenantId;

/// This build's version, recorded in every output line's provenance.
pub const COLLECTOR_VERSION: &str = env!("CARGO_PKG_VERSION");
