//! Where objects, checkpoints and messages live.

use std::path::PathBuf;

use clap::Args;
use o365_activity::compression::Compression;

use super::values::{parse_compression, parse_prefix};

/// Where objects, checkpoints and messages live: a local directory, or S3/SQS.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Storage")]
pub struct StorageArgs {
    /// Local output directory (objects and checkpoints, same layout as in S3).
    #[arg(long, value_name = "DIR", default_value = "./data")]
    pub out: PathBuf,
    /// S3 bucket instead of --out.
    #[arg(long, env = "O365_BUCKET", value_name = "NAME")]
    pub bucket: Option<String>,
    /// SQS queue URL instead of the in-process queue (drained as the Lambda fetcher does:
    /// throttled messages go back with a delay and are fetched when they return).
    #[arg(long, env = "O365_QUEUE_URL", value_name = "URL")]
    pub queue_url: Option<String>,
    /// S3/SQS endpoint (e.g. moto on http://127.0.0.1:5000).
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Key prefix inside the directory or bucket (the functions' PREFIX rule: trimmed of
    /// spaces and slashes, empty means o365, no empty, '.' or '..' segment).
    #[arg(
        long,
        env = "O365_PREFIX",
        value_name = "PREFIX",
        default_value = o365_activity::bootstrap::DEFAULT_PREFIX,
        value_parser = parse_prefix
    )]
    pub prefix: String,
    /// Output compression: gzip, gzip:1..9, zstd, zstd:1..19.
    #[arg(long, env = "O365_COMPRESSION", value_name = "CODEC", default_value = "gzip",
          value_parser = parse_compression)]
    pub compression: Compression,
}
