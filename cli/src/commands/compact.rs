//! `o365ctl compact`: the stored NDJSON objects into Parquet by event date, one row per record
//! Id (`<prefix>/parquet/…`, see `o365-compact`). Idempotent: run it as often as you like;
//! `o365ctl run --every` runs it after each run.

use clap::Args;
use o365_activity::clock::Clock;
use o365_activity::keys::KeyLayout;
use o365_activity::store::ObjectStore;
use o365_compact::{CompactOptions, CompactReport, Compactor};

use crate::args::StorageArgs;
use crate::commands::out;
use crate::exit::{CmdResult, Code, Failure};
use crate::target::{with_store, StoreTarget};

/// `o365ctl compact`.
#[derive(Debug, Clone, Args)]
pub struct CompactArgs {
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Rows gathered (MiB of record text) before they are written and the progress saved:
    /// the memory bound.
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub batch_mib: u16,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// Runs `o365ctl compact`.
pub async fn run(args: CompactArgs) -> CmdResult {
    if args.storage.bucket.is_none() && !args.storage.out.is_dir() {
        return Err(Failure::usage(anyhow::anyhow!(
            "no output directory {}: point --out (or --bucket) at what `o365ctl run` wrote",
            args.storage.out.display()
        )));
    }
    let aws = args.storage.aws().await;
    let store = args.storage.store(aws.as_ref()).await?;
    let options = CompactOptions {
        batch_bytes: usize::from(args.batch_mib) << 20,
        ..CompactOptions::default()
    };
    let report = compact(&store, &args.storage.prefix, options).await?;
    if args.json {
        out(&serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?);
    } else {
        out(&summary(&store.describe(&args.storage.prefix), &report));
    }
    Ok(code(&report))
}

/// One compaction of everything under `prefix` (also the last step of `run --every`).
pub async fn compact(
    target: &StoreTarget,
    prefix: &str,
    options: CompactOptions,
) -> Result<CompactReport, Failure> {
    with_store!(target.clone(), |s| compact_in(s, prefix, options).await)
}

async fn compact_in<S: ObjectStore>(
    store: S,
    prefix: &str,
    options: CompactOptions,
) -> Result<CompactReport, Failure> {
    let compactor = Compactor::new(store, KeyLayout::new(prefix), Clock::system(), options);
    compactor
        .run(None)
        .await
        .map_err(|e| Failure::unreachable(anyhow::anyhow!("compaction failed: {e}")))
}

/// The one-line summary.
pub fn summary(output: &str, r: &CompactReport) -> String {
    format!(
        "compacted {output}: {} pair(s), {} object(s), {} record(s) → {} new row(s) in {} part(s) ({} duplicate(s) skipped, {} failure(s))",
        r.pairs, r.objects, r.records, r.rows_written, r.parts_written, r.duplicates, r.failures()
    )
}

/// Exit 0, or 1 when a pair or an object could not be compacted.
pub fn code(r: &CompactReport) -> Code {
    if r.failures() == 0 {
        Code::Ok
    } else {
        Code::Partial
    }
}
