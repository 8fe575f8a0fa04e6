//! `o365ctl sweep`: the lister's reach sweep, locally. Re-lists each configured tenant and
//! content type's last 7 days and sends every blob listed but not stored (neither a data
//! object nor an error report, nor remembered as recently sent) into the queue or straight
//! through the local pipeline. Checkpoints record the sweep; progress is not touched.

use o365_activity::queue::MemoryQueue;
use o365_activity::store::ObjectStore;
use tokio::time::Instant;

use crate::args::SweepArgs;
use crate::commands::run::lister;
use crate::commands::Ui;
use crate::config::process_env;
use crate::exit::{CmdResult, Failure};
use crate::progress::Progress;
use crate::relist::{Outcome, Session};
use crate::target::with_store;

/// Runs `o365ctl sweep`.
pub async fn run(args: SweepArgs, ui: Ui) -> CmdResult {
    let collect = &args.collect;
    let tenants = collect
        .tenants
        .resolve(&process_env)
        .map_err(Failure::usage)?;
    let session = Session::open(tenants, &collect.storage, args.dry_run).await?;
    let result = with_store!(session.store.clone(), |s| {
        sweep(s, &args, &session, ui).await
    });
    session.close().await;
    Ok(crate::commands::report(result?, collect.json, args.dry_run))
}

/// Sweeps with the lister's own [`o365_lister::Lister::sweep`] into memory, then delivers.
pub async fn sweep<S: ObjectStore>(
    store: S,
    args: &SweepArgs,
    session: &Session,
    ui: Ui,
) -> Result<Outcome, Failure> {
    let deadline = Instant::now() + args.timeout;
    let progress = Progress::new(ui.quiet, true);
    let queue = MemoryQueue::new();
    let summary = lister(
        store.clone(),
        queue.clone(),
        &session.conn,
        &session.settings,
    )
    .sweep(deadline)
    .await;
    let delivered = session
        .deliver(store, queue.drain(), deadline, &progress)
        .await?;
    for p in summary.failed() {
        if let Some(e) = &p.error {
            eprintln!("error: {} {}: {e}", p.tenant_id, p.content_type);
        }
    }
    let errors = summary.failed().count() as u64 + session.errors(&delivered);
    let listed: u64 = summary.pairs.iter().map(|p| p.listed).sum();
    let near_expiry: u64 = summary.pairs.iter().map(|p| p.near_expiry).sum();
    let line = format!(
        "sweep: {} pair(s), {listed} blob(s) listed, {} not stored and sent again ({near_expiry} near expiry){}",
        summary.pairs.len(),
        delivered.sent,
        delivered.describe()
    );
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
    Ok(Outcome { errors, line, json })
}
