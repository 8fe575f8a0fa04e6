//! `o365ctl backfill`: list a past window (≤ 7 days back) for every configured tenant and
//! content type, without moving checkpoints, into SQS or through the local pipeline.

use chrono::Utc;
use o365_activity::store::ObjectStore;
use tokio::time::Instant;

use crate::args::BackfillArgs;
use crate::commands::Ui;
use crate::config::process_env;
use crate::exit::{CmdResult, Failure};
use crate::progress::Progress;
use crate::relist::{list, Delivery, Job, Outcome, Session};
use crate::target::with_store;
use crate::window::WindowError;

/// Runs `o365ctl backfill`.
pub async fn run(args: BackfillArgs, ui: Ui) -> CmdResult {
    let (relist, collect) = (&args.relist, &args.relist.collect);
    let tenants = collect
        .tenants
        .resolve(&process_env)
        .map_err(Failure::usage)?;
    let now = Utc::now();
    let window = args
        .window
        .clipped(now)
        .unwrap_or(Err(WindowError::Missing))
        .map_err(Failure::usage)?;
    let session = Session::open(tenants, &collect.storage, relist.dry_run).await?;
    let jobs: Vec<Job> = session
        .conn
        .tenants
        .iter()
        .flat_map(|(t, _)| {
            t.content_types.iter().map(move |ct| Job {
                tenant: t.tenant_id.clone(),
                content_type: *ct,
                window,
            })
        })
        .collect();
    let result = with_store!(session.store.clone(), |s| {
        backfill(s, &args, &session, &jobs, ui).await
    });
    session.close().await;
    Ok(crate::commands::report(
        result?,
        collect.json,
        relist.dry_run,
    ))
}

async fn backfill<S: ObjectStore>(
    store: S,
    args: &BackfillArgs,
    session: &Session,
    jobs: &[Job],
    ui: Ui,
) -> Result<Outcome, Failure> {
    let deadline = Instant::now() + args.relist.timeout;
    let progress = Progress::new(ui.quiet, true);
    let mut listed = list(store.clone(), session, jobs, deadline, &progress).await;
    let messages = std::mem::take(&mut listed.messages);
    let n = messages.len();
    let delivered = session
        .deliver(store, messages, deadline, &progress)
        .await?;
    listed.print_errors();
    let errors = listed.errors.len() as u64 + session.errors(&delivered);
    let window = jobs
        .first()
        .map(|j| j.window.to_string())
        .unwrap_or_default();
    let target = match &session.delivery {
        Delivery::DryRun => "printed (dry run)".to_owned(),
        Delivery::Sqs(q) => format!("sent to {}", q.url()),
        Delivery::Local => "fetched locally".to_owned(),
    };
    let line = format!(
        "backfill {window}: {} source(s), {n} blob(s) listed, {} {target}{}",
        jobs.len(),
        delivered.sent,
        delivered.describe()
    );
    let json = serde_json::json!({
        "window": window,
        "jobs": jobs.len(),
        "listed": n,
        "sent": delivered.sent,
        "fetch": delivered.fetch,
        "errors": errors,
        "list_errors": listed.errors,
    })
    .to_string();
    Ok(Outcome { errors, line, json })
}
