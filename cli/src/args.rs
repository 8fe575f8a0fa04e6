//! The command line: subcommands, flags and environment variables, with help that teaches by
//! example. Parsing only; what each subcommand does lives in `commands/`.

mod help;
mod storage;
mod subcommands;
mod tenant;
mod values;
mod window;

use clap::{Parser, Subcommand};

use help::*;
pub use storage::StorageArgs;
pub use subcommands::{
    BackfillArgs, NormalizeArgs, ReplayArgs, RunArgs, StatusArgs, SweepArgs, VerifyArgs,
};
pub use tenant::TenantArgs;
pub(crate) use values::parse_duration;
pub use window::WindowArgs;

/// `o365ctl`: the operator's tool of o365-collector.
#[derive(Debug, Parser)]
#[command(
    name = "o365ctl",
    version,
    about = "Collect Microsoft 365 audit logs locally or into S3: run, replay, backfill, normalize, status",
    after_help = TOP_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr, no progress bars.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole pipeline on this machine: list, queue, fetch, normalize, store.
    #[command(after_help = run_help())]
    Run(RunArgs),
    /// Send blobs again: by content id or URI, by window, or from the dead-letter queue.
    #[command(after_help = REPLAY_HELP)]
    Replay(ReplayArgs),
    /// List a past window (at most 7 days back) into the queue or the local pipeline.
    #[command(after_help = BACKFILL_HELP)]
    Backfill(BackfillArgs),
    /// Re-list the last 7 days and send every blob listed but not stored (the reach sweep).
    #[command(after_help = SWEEP_HELP)]
    Sweep(SweepArgs),
    /// Normalize blob or NDJSON files to NDJSON, exactly as the fetcher does.
    #[command(after_help = NORMALIZE_HELP)]
    Normalize(NormalizeArgs),
    /// Checkpoints, lag, last run, gaps and DLQ depth per tenant and content type.
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// Check stored objects against the manifest of writes: missing, altered or extra.
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Export stored records as OCSF 1.1.0 Parquet for Amazon Security Lake (docs/ocsf.md).
    Ocsf(crate::commands::ocsf::OcsfArgs),
    /// Cross-check settled hours against Purview's audit search (Graph) and recover what is missing.
    Audit(crate::commands::audit::AuditArgs),
    /// Compact the stored NDJSON into Parquet by event date, one row per record Id.
    Compact(crate::commands::compact::CompactArgs),
}

#[cfg(test)]
mod tests;
