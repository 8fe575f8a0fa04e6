//! `o365ctl run`: the lister, then the fetcher over the queue, on this machine; once or every
//! DURATION. The code that runs is the code of the two Lambda functions. Ctrl-C or SIGTERM
//! stops it cleanly (see [`crate::interrupt`]).

use o365_activity::client::ActivityClient;
use o365_activity::clock::Clock;
use o365_activity::keys::KeyLayout;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::{MemoryQueue, Queue, SqsQueue};
use o365_activity::store::ObjectStore;
use o365_activity::tenants::TenantConfig;
use o365_fetcher::Fetcher;
use o365_lister::{Lister, ListerSettings};
use tokio::time::Instant;

use crate::args::{RunArgs, StorageArgs};
use crate::commands::Ui;
use crate::config::{client_budget, process_env};
use crate::connect::Connected;
use crate::exit::{CmdResult, Code, Failure};
use crate::interrupt::Interrupts;
use crate::pipeline::{drain_spooled, drain_sqs, FetchTotals};
use crate::progress::Progress;
use crate::spool::{Spool, SpooledQueue};
use crate::summary::{RunReport, TenantRequests};
use crate::target::{with_store, StoreTarget};

/// Runs `o365ctl run`.
pub async fn run(args: RunArgs, ui: Ui) -> CmdResult {
    let interrupts = Interrupts::listen();
    let tenants = args
        .collect
        .tenants
        .resolve(&process_env)
        .map_err(Failure::usage)?;
    let budget = client_budget(&process_env).map_err(Failure::usage)?;
    let settings = lister_settings(&args.collect.storage, Some(args.overlap))?;
    let aws = args.collect.storage.aws().await;
    let store = args.collect.storage.store(aws.as_ref()).await?;
    let sqs = match (&args.collect.storage.queue_url, &aws) {
        (Some(url), Some(aws)) => Some(aws.checked_queue(url).await?),
        _ => None,
    };
    let mut conn = Connected::open_all(tenants, budget).await?;
    record_health(&store, &args.collect.storage, &conn).await;
    conn.require_any()?;
    let mut worst = Code::Ok;
    let mut n = 0u64;
    loop {
        n += 1;
        if n > 1 && !conn.unreachable.is_empty() {
            retry_skipped(&mut conn, &args, &store).await;
        }
        let report = with_store!(store.clone(), |s| {
            let run = Run {
                args: &args,
                settings: &settings,
                ui,
                n,
                interrupts: &interrupts,
            };
            once(s, &store, sqs.clone(), &conn, run).await
        });
        match report {
            Ok(report) => {
                if args.collect.json {
                    crate::commands::out(&report.to_json());
                } else {
                    crate::commands::out(&report.to_text());
                }
                worst = worst.max(report.code());
            }
            Err(f) => {
                eprintln!("error: {f}");
                worst = worst.max(f.code);
            }
        }
        if args.every.is_some() && interrupts.code().is_none() {
            worst = worst.max(compact_after_run(&store, &args.collect.storage, ui).await);
        }
        if interrupts.code().is_some() {
            break;
        }
        let Some(every) = args.every else { break };
        if args.max_runs.is_some_and(|max| n >= max) {
            break;
        }
        if !ui.quiet {
            eprintln!(
                "next run in {} (Ctrl-C to stop)",
                humantime::format_duration(every)
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            () = interrupts.wait() => break,
        }
    }
    conn.shutdown().await;
    Ok(interrupts.code().unwrap_or(worst))
}

/// Under `--every`, each run ends with a compaction into Parquet (`o365ctl compact`).
async fn compact_after_run(store: &StoreTarget, storage: &StorageArgs, ui: Ui) -> Code {
    let options = o365_compact::CompactOptions::default();
    match crate::commands::compact::compact(store, &storage.prefix, options).await {
        Ok(r) => {
            if !ui.quiet {
                let output = store.describe(&storage.prefix);
                eprintln!("{}", crate::commands::compact::summary(&output, &r));
            }
            crate::commands::compact::code(&r)
        }
        Err(f) => {
            eprintln!("error: {f}");
            f.code
        }
    }
}

/// Writes every tenant's health for `o365ctl status`; a failure is only a warning.
async fn record_health(store: &StoreTarget, storage: &StorageArgs, conn: &Connected) {
    let recorded = with_store!(store, |s| {
        crate::health::record(
            s,
            &KeyLayout::new(&storage.prefix),
            conn,
            chrono::Utc::now(),
        )
        .await
    });
    if let Err(e) = recorded {
        tracing::warn!("cannot record the tenants' health for o365ctl status: {e}");
    }
}

/// Under `--every`, before each later run: resolves the configuration again (variables and
/// files re-read) and checks the skipped tenants once more, so one that was fixed is
/// collected without a restart; the healthy ones keep their clients.
async fn retry_skipped(conn: &mut Connected, args: &RunArgs, store: &StoreTarget) {
    let fresh = match args.collect.tenants.resolve(&process_env) {
        Ok(fresh) => fresh,
        Err(e) => {
            tracing::warn!(
                "cannot read the tenant configuration again ({e}); skipped tenants stay skipped"
            );
            return;
        }
    };
    // Recorded each time: a recovered tenant's error goes, a still failing one's reason is
    // the latest.
    conn.retry_skipped(fresh).await;
    record_health(store, &args.collect.storage, conn).await;
}

/// The lister's settings from the command line (prefix, overlap), validated.
pub fn lister_settings(
    storage: &StorageArgs,
    overlap: Option<std::time::Duration>,
) -> Result<ListerSettings, Failure> {
    let defaults = ListerSettings::default();
    let settings = ListerSettings {
        prefix: storage.prefix.clone(),
        overlap: overlap.unwrap_or(defaults.overlap),
        dedupe_horizon: defaults
            .dedupe_horizon
            .max(overlap.unwrap_or(defaults.overlap)),
        ..defaults
    };
    settings.validate().map_err(Failure::usage)?;
    Ok(settings)
}

/// The fetcher over `store`, serving every connected tenant.
pub fn fetcher<S: ObjectStore>(store: S, storage: &StorageArgs, conn: &Connected) -> Fetcher<S> {
    Fetcher::new(
        store,
        KeyLayout::new(&storage.prefix),
        storage.compression,
        conn.tenants.iter().map(|(_, c)| c.clone()),
        Clock::system(),
        MetricsSink::Discard,
    )
}

/// The lister over `store`, sending to `queue`, for every connected tenant.
pub fn lister<S: ObjectStore, Q: Queue>(
    store: S,
    queue: Q,
    conn: &Connected,
    settings: &ListerSettings,
) -> Lister<S, Q> {
    lister_of(store, queue, conn.tenants.clone(), settings)
}

/// The lister over `store`, sending to `queue`, for `tenants` (connected ones).
pub fn lister_of<S: ObjectStore, Q: Queue>(
    store: S,
    queue: Q,
    tenants: Vec<(TenantConfig, ActivityClient)>,
    settings: &ListerSettings,
) -> Lister<S, Q> {
    Lister::new(
        store,
        queue,
        tenants,
        settings.clone(),
        Clock::system(),
        MetricsSink::Discard,
    )
}

/// With `--every`, every run that starts a new sweep period (the lister's `sweep_period`,
/// 6 h) also sweeps the reach; the first run does not (nothing is late yet).
fn sweep_due(args: &RunArgs, settings: &ListerSettings, n: u64) -> bool {
    let Some(every) = args.every else {
        return false;
    };
    let runs_per_sweep = (settings.sweep_period.as_secs() / every.as_secs().max(1)).max(1);
    n > 1 && (n - 1).is_multiple_of(runs_per_sweep)
}

/// The reach sweep into the run's queue (drained with the run's own blobs).
async fn sweep<S: ObjectStore, Q: o365_activity::queue::Queue>(
    lister: &o365_lister::Lister<S, Q>,
    deadline: Instant,
) {
    let s = lister.sweep(deadline).await;
    tracing::info!(
        recovered = s.recovered(),
        failed = s.failed().count(),
        "reach sweep: blobs listed but not stored were queued again"
    );
}

/// What one run of the loop needs besides storage and connections.
struct Run<'a> {
    args: &'a RunArgs,
    settings: &'a ListerSettings,
    ui: Ui,
    n: u64,
    interrupts: &'a Interrupts,
}

/// One run: list into the queue, then drain the queue through the fetcher. When
/// interrupted, the lister stops (leases released, no window half-committed); what it
/// already listed into the in-process queue is still fetched (its windows are committed, so
/// nothing else would), while an SQS queue keeps its messages for the next drain.
async fn once<S: ObjectStore>(
    store: S,
    target: &StoreTarget,
    sqs: Option<SqsQueue>,
    conn: &Connected,
    run: Run<'_>,
) -> Result<RunReport, Failure> {
    let Run {
        args,
        settings,
        ui,
        n,
        interrupts,
    } = run;
    let deadline = Instant::now() + args.timeout;
    let requests_before: Vec<_> = conn.tenants.iter().map(|(_, c)| c.budget_stats()).collect();
    let started = std::time::Instant::now();
    let progress = Progress::new(ui.quiet, false);
    let fetcher = fetcher(store.clone(), &args.collect.storage, conn);
    let (summary, totals) = match sqs {
        None => {
            // What an earlier run listed but did not store is fetched first.
            let spool = Spool::open(&args.collect.storage.out).map_err(|e| {
                Failure::usage(anyhow::anyhow!(
                    "cannot use the spool under {}: {e}",
                    args.collect.storage.out.display()
                ))
            })?;
            let queue = MemoryQueue::new();
            let earlier = spool.load();
            let mut totals = FetchTotals::default();
            if !earlier.is_empty() {
                tracing::info!(
                    messages = earlier.len(),
                    "fetching what an earlier run listed but did not store"
                );
                queue
                    .send_all(&earlier, deadline)
                    .await
                    .map_err(Failure::unreachable)?;
                totals = drain_spooled(&fetcher, &queue, Some(&spool), deadline, &progress).await;
            }
            let spooled = SpooledQueue {
                queue: queue.clone(),
                spool: spool.clone(),
            };
            let lister = lister(store, spooled, conn, settings);
            let summary = lister.run_until(deadline, interrupts.cancel()).await;
            if sweep_due(args, settings, n) && interrupts.code().is_none() {
                sweep(&lister, deadline).await;
            }
            let fresh = drain_spooled(&fetcher, &queue, Some(&spool), deadline, &progress).await;
            (summary, totals.merge(fresh))
        }
        Some(queue) => {
            let lister = lister(store, queue.clone(), conn, settings);
            let summary = lister.run_until(deadline, interrupts.cancel()).await;
            if sweep_due(args, settings, n) && interrupts.code().is_none() {
                sweep(&lister, deadline).await;
            }
            let totals = if interrupts.code().is_some() {
                Default::default()
            } else {
                drain_sqs(&fetcher, &queue, deadline, &progress)
                    .await
                    .map_err(Failure::unreachable)?
            };
            (summary, totals)
        }
    };
    progress.finish();
    let unreachable = conn.unreachable.iter().map(ToString::to_string).collect();
    let mut report = RunReport::new(
        n,
        conn.source.clone(),
        target.describe(&args.collect.storage.prefix),
        summary,
        totals,
        unreachable,
    );
    report.repeating = args.every.is_some();
    report.api_requests = conn
        .tenants
        .iter()
        .zip(&requests_before)
        .map(|((t, c), before)| {
            TenantRequests::between(
                t.tenant_id.as_str(),
                before,
                &c.budget_stats(),
                started.elapsed().as_secs_f64(),
            )
        })
        .collect();
    Ok(report)
}
