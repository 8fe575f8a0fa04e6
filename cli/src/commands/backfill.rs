//! `o365ctl backfill`: list a past window (≤ 7 days back) for every configured tenant and
//! content type, without moving checkpoints, into SQS or through the local pipeline.

use chrono::Utc;
use o365_activity::store::ObjectStore;
use tokio::time::Instant;

use crate::args::BackfillArgs;
use crate::commands::run::lister_settings;
use crate::commands::Ui;
use crate::config::process_env;
use crate::connect::Connected;
use crate::exit::{CmdResult, Failure};
use crate::progress::Progress;
use crate::relist::{deliver, list, Delivery, Job};
use crate::target::with_store;
use crate::window::WindowError;

/// Runs `o365ctl backfill`.
pub async fn run(args: BackfillArgs, ui: Ui) -> CmdResult {
    let tenants = args
        .relist
        .tenants
        .resolve(&process_env)
        .map_err(Failure::usage)?;
    let now = Utc::now();
    let window = args
        .window
        .clipped(now)
        .unwrap_or(Err(WindowError::Missing))
        .map_err(Failure::usage)?;
    let settings = lister_settings(&args.relist.storage, None)?;
    let aws = args.relist.storage.aws().await;
    let store = args.relist.storage.store(aws.as_ref()).await?;
    args.relist
        .storage
        .check_queue(aws.as_ref(), args.relist.dry_run)
        .await?;
    let delivery = Delivery::choose(&args.relist.storage, aws.as_ref(), args.relist.dry_run);
    let conn = Connected::open(tenants).await?;
    let jobs: Vec<Job> = conn
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
    let result = with_store!(store.clone(), |s| {
        backfill(s, &args, &conn, &settings, &jobs, &delivery, ui).await
    });
    conn.shutdown().await;
    let (errors, line, json) = result?;
    Ok(crate::commands::report(
        errors,
        &line,
        &json,
        args.relist.json,
        args.relist.dry_run,
    ))
}

/// Errors, the summary line and the JSON summary.
type Outcome = (u64, String, String);

async fn backfill<S: ObjectStore>(
    store: S,
    args: &BackfillArgs,
    conn: &Connected,
    settings: &o365_lister::ListerSettings,
    jobs: &[Job],
    delivery: &Delivery,
    ui: Ui,
) -> Result<Outcome, Failure> {
    let deadline = Instant::now() + args.relist.timeout;
    let progress = Progress::new(ui.quiet, true);
    let listed = list(store.clone(), conn, settings, jobs, deadline, &progress).await;
    let n = listed.messages.len();
    let delivered = deliver(
        store,
        &args.relist.storage,
        conn,
        delivery,
        listed.messages,
        deadline,
        &progress,
    )
    .await
    .map_err(Failure::unreachable)?;
    progress.finish();
    for e in &listed.errors {
        eprintln!("error: {e}");
    }
    let fetch_errors = delivered.fetch.as_ref().map_or(0, |f| f.errors());
    let errors = listed.errors.len() as u64 + fetch_errors + conn.unreachable.len() as u64;
    let window = jobs
        .first()
        .map(|j| j.window.to_string())
        .unwrap_or_default();
    let target = match delivery {
        Delivery::DryRun => "printed (dry run)".to_owned(),
        Delivery::Sqs(q) => format!("sent to {}", q.url()),
        Delivery::Local => "fetched locally".to_owned(),
    };
    let mut line = format!(
        "backfill {window}: {} source(s), {n} blob(s) listed, {} {target}",
        jobs.len(),
        delivered.sent
    );
    if let Some(f) = &delivered.fetch {
        line.push_str(&f.describe());
    }
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
    Ok((errors, line, json))
}
