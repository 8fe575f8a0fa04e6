//! o365-sim: a local, faithful stand-in for the Office 365 Management Activity API and its
//! token endpoints, with a simulated clock, fault scenarios and a ledger of everything it
//! published and served. Start it in-process with [`start`], or run the `o365-sim` binary.

mod api;
mod api_error;
mod auth;
mod clock;
mod config;
mod content_type;
mod error;
mod fixtures;
mod graph;
mod ledger;
pub mod listing_faults;
mod records;
mod scenario;
mod server;
mod sim;
mod store;
pub mod testing;
mod timefmt;
mod token_endpoint;

pub use config::{
    default_fixtures_dir, real_fixtures_dir, repo_records_dir, SimConfig, TenantSpec,
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_CLI_LISTEN, DEFAULT_TENANT_ID,
};
pub use content_type::{ContentType, UnknownContentType};
pub use error::SimError;
pub use graph::record_types::{graph_name as graph_record_type, PURVIEW_ONLY_TYPE};
pub use graph::{GraphConfig, GRAPH_AUDIENCE, GRAPH_ROLE};
pub use ledger::{HeldBack, HeldBackRecord, Ledger, PublishedBlob, RequestRecord};
pub use scenario::{Rate, Scenario, ScenarioKind};
pub use server::{start, SimHandle};
