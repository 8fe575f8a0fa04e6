//! `o365-catchup-bench TENANTS PROCESSES RATE BURST HOURS`: the quota-aware catch-up of
//! `make bench`. `o365-sim` throttles each tenant with a token bucket of `BURST` requests
//! refilled at `RATE` per minute and holds `HOURS` of backlog (all five content types).
//! With one process, the lister and the fetcher run together in this process as in
//! `o365ctl run` (one budget per tenant at `RATE`, listing first; four batches at once, ten
//! downloads each). With `PROCESSES` > 1, the lister lists it all (as one scheduled run), then
//! `PROCESSES` real `o365-fetcher` processes, started beforehand, drain the same queue (each
//! spending `RATE / PROCESSES` per tenant, as `FETCHER_MAX_CONCURRENCY` says). Prints one JSON
//! object: elapsed time against the ideal `(requests - BURST) / RATE` of the busiest tenant,
//! the throttled share and requests per stored blob.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use o365_activity::client::{ActivityClient, BudgetOptions};
use o365_activity::store::S3Store;
use o365_activity::testing::sim::sim_clock;
use o365_e2e::event_source::HandlerOutcome;
use o365_e2e::lambda_process::LambdaProcess;
use o365_e2e::runtime_api::{InvocationResult, RuntimeApi};
use o365_e2e::world::{lambda_env, tenants_json, World, WorldConfig};
use o365_fetcher::Fetcher;
use o365_sim::{Scenario, TenantSpec};

/// Batches one in-process fetcher handles at once.
const IN_PROCESS_LOOPS: usize = 4;
/// Downloads per batch at once (`MAX_CONCURRENCY`), in-process and in the processes.
const DOWNLOADS: usize = 10;

fn tenant_id(i: usize) -> String {
    format!("00000000-0000-0000-0000-{:012}", i + 1)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> anyhow::Result<T> {
    args.get(i)
        .with_context(|| format!("missing {name}"))?
        .parse()
        .map_err(|_| anyhow::anyhow!("{name} must be a whole number"))
}

/// The fetcher as `o365ctl run` and the Lambda wire it: throttled messages go back to the
/// queue with a delay.
fn in_process_fetcher(world: &World) -> anyhow::Result<Arc<Fetcher<S3Store>>> {
    let clients = world
        .tenants
        .iter()
        .map(|t| ActivityClient::with_clock(t, world.config.client.clone(), sim_clock(&world.sim)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(
        Fetcher::new(
            world.store.clone(),
            world.layout.clone(),
            world.config.compression,
            clients,
            sim_clock(&world.sim),
            world.metrics.clone(),
        )
        .with_concurrency(DOWNLOADS)
        .with_requeue(world.queue.clone()),
    ))
}

/// Lists and fetches at once in this process, until the lister is done and the queue empty.
async fn list_and_fetch(world: &World) -> anyhow::Result<f64> {
    let fetcher = in_process_fetcher(world)?;
    let listed = AtomicBool::new(false);
    let t0 = Instant::now();
    let listing = async {
        let r = world.list().await;
        listed.store(true, Ordering::SeqCst);
        r.map(|_| t0.elapsed().as_secs_f64())
    };
    let fetching = async {
        loop {
            let done = listed.load(Ordering::SeqCst);
            let mut loops = Vec::new();
            for _ in 0..IN_PROCESS_LOOPS {
                let source = world.source.clone();
                let handler = world.fetch_handler_with(fetcher.clone());
                loops.push(async move { source.drain(handler, Duration::from_secs(900)).await });
            }
            for r in futures::future::join_all(loops).await {
                r?;
            }
            if done {
                return anyhow::Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let (listed_after, ()) = futures::future::try_join(listing, fetching).await?;
    Ok(listed_after)
}

/// `processes` real fetcher processes, idle until [`drain_processes`] feeds them.
async fn start_processes(
    world: &World,
    processes: usize,
    rate: u32,
    burst: u32,
) -> anyhow::Result<Vec<(Arc<RuntimeApi>, LambdaProcess)>> {
    let path = o365_e2e::lambda_process::binary("o365-fetcher", "o365-fetcher").await?;
    let ids: Vec<String> = world
        .config
        .sim
        .tenants
        .iter()
        .map(|t| t.tenant_id.clone())
        .collect();
    let mut env = lambda_env(&world.moto, &world.sim, world.store.bucket(), None);
    env.retain(|(k, _)| k != "TENANTS_JSON");
    env.extend([
        ("TENANTS_JSON".to_owned(), tenants_json(&world.sim, &ids)),
        ("API_RATE_PER_MINUTE".to_owned(), rate.to_string()),
        ("API_BURST".to_owned(), burst.to_string()),
        ("FETCHER_MAX_CONCURRENCY".to_owned(), processes.to_string()),
        ("QUEUE_URL".to_owned(), world.queue.url().to_owned()),
        ("MAX_CONCURRENCY".to_owned(), DOWNLOADS.to_string()),
    ]);
    let mut running = Vec::new();
    for _ in 0..processes {
        let api = Arc::new(RuntimeApi::start("o365-fetcher").await?);
        let p = LambdaProcess::start(&path, "o365-fetcher", &api, &env, &world.logs).await?;
        running.push((api, p));
    }
    Ok(running)
}

/// Drains the queue through the fetcher processes, then stops them.
async fn drain_processes(
    world: &World,
    running: Vec<(Arc<RuntimeApi>, LambdaProcess)>,
) -> anyhow::Result<()> {
    let mut loops = Vec::new();
    for (api, _) in &running {
        let api = api.clone();
        let source = world.source.clone();
        loops.push(async move {
            source
                .drain(
                    move |event| {
                        let api = api.clone();
                        async move {
                            match api.invoke(&event, Duration::from_secs(120)).await {
                                Ok(InvocationResult::Response(v)) => HandlerOutcome::Response(v),
                                Ok(InvocationResult::Error(e)) => {
                                    HandlerOutcome::NoResponse(e.to_string())
                                }
                                Err(e) => HandlerOutcome::NoResponse(e.to_string()),
                            }
                        }
                    },
                    Duration::from_secs(900),
                )
                .await
        });
    }
    let results = futures::future::join_all(loops).await;
    for (_, p) in running {
        p.kill().await;
    }
    for r in results {
        r?;
    }
    Ok(())
}

async fn run(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let tenants: usize = arg(args, 0, "TENANTS")?;
    let processes: usize = arg(args, 1, "PROCESSES")?;
    let rate: u32 = arg(args, 2, "RATE")?;
    let burst: u32 = arg(args, 3, "BURST")?;
    let hours: u64 = arg(args, 4, "HOURS")?;
    if tenants == 0 || processes == 0 || rate == 0 || burst == 0 || hours == 0 {
        bail!("usage: o365-catchup-bench TENANTS PROCESSES RATE BURST HOURS (all at least 1)");
    }
    let mut config = WorldConfig::default();
    config.sim.tenants = (0..tenants)
        .map(|i| {
            let mut t = TenantSpec::new(tenant_id(i));
            t.enabled_types = o365_sim::ContentType::ALL.to_vec();
            t
        })
        .collect();
    config.sim.history = Duration::from_secs(hours * 3600);
    config.sim.blob_window = Duration::from_secs(3600);
    config.sim.records_per_hour = 6;
    config.sim.scenarios = vec![
        Scenario::parse(&format!("rate-limit={rate}"))?,
        Scenario::parse(&format!("rate-burst={burst}"))?,
    ];
    // One token below the service's burst, so timing jitter never overdraws its bucket.
    let client_burst = burst.saturating_sub(1).max(1);
    config.client.budget = BudgetOptions {
        burst: client_burst,
        ..BudgetOptions::per_minute(rate)
    };
    config.visibility_timeout = 30;
    config.max_receive_count = 5;
    config.fetch_deadline = Duration::from_secs(120);
    config.list_deadline = Duration::from_secs(600);
    let world = World::start(config).await?;
    let before = world.sim.ledger().requests.len();
    // Fetcher processes are warm before the clock starts, as Lambda's are in a catch-up.
    let running = if processes > 1 {
        Some(start_processes(&world, processes, rate, client_burst).await?)
    } else {
        None
    };
    let t0 = Instant::now();
    let listed = match running {
        None => list_and_fetch(&world).await?,
        Some(running) => {
            world.list().await?;
            let listed = t0.elapsed().as_secs_f64();
            drain_processes(&world, running).await?;
            listed
        }
    };
    let elapsed = t0.elapsed().as_secs_f64();
    let ledger = world.sim.ledger();
    let api: Vec<_> = ledger.requests[before..]
        .iter()
        .filter(|r| r.operation.as_deref().is_some_and(|o| o != "token"))
        .collect();
    let throttled = api
        .iter()
        .filter(|r| r.error_code.as_deref() == Some("AF429"))
        .count();
    let mut busiest_ok = 0usize;
    for i in 0..tenants {
        let t = tenant_id(i);
        let ok = api
            .iter()
            .filter(|r| {
                r.tenant_id.as_deref() == Some(t.as_str())
                    && r.error_code.as_deref() != Some("AF429")
            })
            .count();
        busiest_ok = busiest_ok.max(ok);
    }
    let ideal = (busiest_ok.saturating_sub(burst as usize)) as f64 * 60.0 / f64::from(rate);
    let r = world.reconcile(world.sim.now()).await?;
    let dlq = world.source.dlq_bodies().await?.len();
    let stored = r.stored_blobs;
    Ok(serde_json::json!({
        "tenants": tenants,
        "processes": processes,
        "rate_per_minute": rate,
        "burst": burst,
        "backlog_hours": hours,
        "requests": api.len(),
        "throttled": throttled,
        "throttled_share": if api.is_empty() { 0.0 } else { throttled as f64 / api.len() as f64 },
        "busiest_tenant_requests": busiest_ok,
        "ideal_seconds": ideal,
        "elapsed_seconds": elapsed,
        "lister_seconds": listed,
        "dlq_messages": dlq,
        "rate_vs_ideal": if elapsed > 0.0 { ideal / elapsed } else { 0.0 },
        "blobs_stored": stored,
        "requests_per_blob": if stored == 0 { 0.0 } else { api.len() as f64 / stored as f64 },
        "reconciled": r.check().is_ok(),
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = run(&args).await?;
    println!("{out}");
    Ok(())
}
