//! The flags of each subcommand (the shared groups are in `tenant`, `storage` and `window`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::values::{parse_duration, DEFAULT_OVERLAP_TEXT};
use super::{StorageArgs, TenantArgs, WindowArgs};

/// `o365ctl run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Run once and exit (the default).
    #[arg(long, conflicts_with = "every")]
    pub once: bool,
    /// Run again every DURATION (e.g. 5m) until interrupted.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub every: Option<Duration>,
    /// With --every, stop after this many runs.
    #[arg(long, value_name = "N", requires = "every")]
    pub max_runs: Option<u64>,
    /// How far behind the checkpoint each listing starts, for blobs that appear late (the
    /// default is the lister's, as its OVERLAP_MINUTES).
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_OVERLAP_TEXT,
          value_parser = parse_duration)]
    pub overlap: Duration,
    /// Time budget of one run (listing and fetching).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub collect: CollectArgs,
}

/// What `run`, `sweep` and `backfill` share: whom to collect from, where to store, and
/// whether to print the summary as JSON.
#[derive(Debug, Clone, Args)]
pub struct CollectArgs {
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub tenants: TenantArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// `o365ctl replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Content id to replay (repeatable).
    #[arg(long, value_name = "ID")]
    pub content_id: Vec<String>,
    /// Content URI to replay (repeatable).
    #[arg(long, value_name = "URI")]
    pub content_uri: Vec<String>,
    /// Move messages from this dead-letter queue back to --queue-url.
    #[arg(long, value_name = "DLQ_URL", requires = "queue_url",
          conflicts_with_all = ["content_id", "content_uri", "window", "last"])]
    pub from_dlq: Option<String>,
    /// With --from-dlq, move at most this many messages.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<usize>,
    /// Print the messages as JSON lines; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Time budget.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub tenants: TenantArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// `o365ctl backfill`: the flags of `sweep`, over a window.
#[derive(Debug, Clone, Args)]
pub struct BackfillArgs {
    #[command(flatten)]
    pub relist: SweepArgs,
    #[command(flatten)]
    pub window: WindowArgs,
}

/// `o365ctl sweep`, and the flags every re-listing subcommand has (`backfill` adds a window).
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Print the messages as JSON lines; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Time budget.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub collect: CollectArgs,
}

/// `o365ctl normalize`.
#[derive(Debug, Clone, Args)]
pub struct NormalizeArgs {
    /// Blob (JSON array) or NDJSON files; `-` reads stdin.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Write here instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Gzip the output.
    #[arg(long)]
    pub gzip: bool,
    /// Tenant id for the provenance.
    #[arg(
        long,
        env = "O365_TENANT_ID",
        value_name = "GUID",
        default_value = "00000000-0000-0000-0000-000000000000"
    )]
    pub tenant_id: String,
    /// Content type for the provenance (default: inferred from the first record's
    /// `RecordType`; Audit.General, with a warning, when it cannot be).
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
    /// Content id for the provenance (default: the file name without extension).
    #[arg(long, value_name = "ID")]
    pub content_id: Option<String>,
    /// Input format: auto (default), json-array or ndjson.
    #[arg(long, value_name = "FORMAT", default_value = "auto",
          value_parser = ["auto", "json-array", "ndjson"])]
    pub format: String,
}

/// `o365ctl status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Dead-letter queue whose depth to show.
    #[arg(long, env = "O365_DLQ_URL", value_name = "URL")]
    pub dlq_url: Option<String>,
    #[command(flatten)]
    pub tenants: TenantArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// `o365ctl verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
}
