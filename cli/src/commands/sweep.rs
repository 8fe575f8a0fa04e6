//! `o365ctl sweep`: the lister's reach sweep, locally. Re-lists each configured tenant and
//! content type's last 7 days and sends every blob listed but not stored (neither a data
//! object nor an error report, nor remembered as recently sent) into the queue or straight
//! through the local pipeline. Checkpoints record the sweep; progress is not touched.

use o365_activity::queue::MemoryQueue;
use o365_activity::store::ObjectStore;
use tokio::time::Instant;

use crate::args::SweepArgs;
use crate::commands::run::{lister, lister_settings};
use crate::commands::Ui;
use crate::config::process_env;
use crate::connect::Connected;
use crate::exit::{CmdResult, Failure};
use crate::progress::Progress;
use crate::relist::{deliver, Delivery};
use crate::target::with_store;

/// Runs `o365ctl sweep`.
pub async fn run(args: SweepArgs, ui: Ui) -> CmdResult {
    let tenants = args.tenants.resolve(&process_env).map_err(Failure::usage)?;
    let settings = lister_settings(&args.storage, None)?;
    let aws = args.storage.aws().await;
    let store = args.storage.store(aws.as_ref()).await?;
    args.storage.check_queue(aws.as_ref(), args.dry_run).await?;
    let delivery = Delivery::choose(&args.storage, aws.as_ref(), args.dry_run);
    let conn = Connected::open(tenants).await?;
    let result = with_store!(store.clone(), |s| {
        sweep(s, &args, &conn, &settings, &delivery, ui).await
    });
    conn.shutdown().await;
    let (errors, line, json) = result?;
    Ok(crate::commands::report(
        errors,
        &line,
        &json,
        args.json,
        args.dry_run,
    ))
}

/// Sweeps with the lister's own [`o365_lister::Lister::sweep`] into memory, then delivers.
pub async fn sweep<S: ObjectStore>(
    store: S,
    args: &SweepArgs,
    conn: &Connected,
    settings: &o365_lister::ListerSettings,
    delivery: &Delivery,
    ui: Ui,
) -> Result<(u64, String, String), Failure> {
    let deadline = Instant::now() + args.timeout;
    let progress = Progress::new(ui.quiet, true);
    let queue = MemoryQueue::new();
    let summary = lister(store.clone(), queue.clone(), conn, settings)
        .sweep(deadline)
        .await;
    let messages = queue.drain();
    let delivered = deliver(
        store,
        &args.storage,
        conn,
        delivery,
        messages,
        deadline,
        &progress,
    )
    .await
    .map_err(Failure::unreachable)?;
    progress.finish();
    for p in summary.failed() {
        if let Some(e) = &p.error {
            eprintln!("error: {} {}: {e}", p.tenant_id, p.content_type);
        }
    }
    let fetch_errors = delivered.fetch.as_ref().map_or(0, |f| f.errors());
    let errors = summary.failed().count() as u64 + fetch_errors + conn.unreachable.len() as u64;
    let listed: u64 = summary.pairs.iter().map(|p| p.listed).sum();
    let near_expiry: u64 = summary.pairs.iter().map(|p| p.near_expiry).sum();
    let mut line = format!(
        "sweep: {} pair(s), {listed} blob(s) listed, {} not stored and sent again ({near_expiry} near expiry)",
        summary.pairs.len(),
        delivered.sent
    );
    if let Some(f) = &delivered.fetch {
        line.push_str(&f.describe());
    }
    let json = serde_json::json!({
        "pairs": summary.pairs,
        "listed": listed,
        "recovered": summary.recovered(),
        "near_expiry": near_expiry,
        "sent": delivered.sent,
        "fetch": delivered.fetch,
        "errors": errors,
    })
    .to_string();
    Ok((errors, line, json))
}
