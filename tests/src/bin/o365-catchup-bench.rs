//! `o365-catchup-bench TENANTS PROCESSES RATE BURST HOURS`: the quota-aware catch-up of
//! `make bench`. `o365-sim` throttles each tenant with a token bucket of `BURST` requests
//! refilled at `RATE` per minute and holds `HOURS` of backlog (all five content types); the
//! lister (in-process) lists it all, then the queue is drained by one process (the in-process
//! fetcher, four batches at once, one budget per tenant at `RATE`) or by `PROCESSES` real
//! `o365-fetcher` processes on the same queue (each spending `RATE / PROCESSES`). Prints one
//! JSON object: elapsed time against the ideal `(requests - BURST) / RATE` of the busiest
//! tenant, the throttled share and requests per stored blob.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use o365_activity::client::BudgetOptions;
use o365_e2e::event_source::HandlerOutcome;
use o365_e2e::lambda_process::LambdaProcess;
use o365_e2e::runtime_api::{InvocationResult, RuntimeApi};
use o365_e2e::world::{lambda_env, tenants_json, World, WorldConfig};
use o365_sim::{Scenario, TenantSpec};

/// Batches one in-process fetcher handles at once.
const IN_PROCESS_LOOPS: usize = 4;

fn tenant_id(i: usize) -> String {
    format!("00000000-0000-0000-0000-{:012}", i + 1)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> anyhow::Result<T> {
    args.get(i)
        .with_context(|| format!("missing {name}"))?
        .parse()
        .map_err(|_| anyhow::anyhow!("{name} must be a whole number"))
}

async fn drain_in_process(world: &World) -> anyhow::Result<()> {
    let mut loops = Vec::new();
    for _ in 0..IN_PROCESS_LOOPS {
        let source = world.source.clone();
        let handler = world.fetch_handler();
        loops.push(async move { source.drain(handler, Duration::from_secs(900)).await });
    }
    for r in futures::future::join_all(loops).await {
        r?;
    }
    Ok(())
}

async fn drain_processes(
    world: &World,
    processes: usize,
    rate: u32,
    burst: u32,
) -> anyhow::Result<()> {
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
        ("MAX_CONCURRENCY".to_owned(), "10".to_owned()),
    ]);
    let mut running = Vec::new();
    for _ in 0..processes {
        let api = Arc::new(RuntimeApi::start("o365-fetcher").await?);
        let p = LambdaProcess::start(&path, "o365-fetcher", &api, &env, &world.logs).await?;
        running.push((api, p));
    }
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
    // The client's bucket is smaller than the service's, so timing jitter never overdraws it.
    config.client.budget = BudgetOptions {
        burst: (burst / 2).max(1),
        ..BudgetOptions::per_minute(rate)
    };
    config.visibility_timeout = 30;
    config.max_receive_count = 5;
    config.fetch_deadline = Duration::from_secs(120);
    config.list_deadline = Duration::from_secs(600);
    let world = World::start(config).await?;
    let _ = world.sim.ledger();
    let before = world.sim.ledger().requests.len();
    // The service's buckets start full, as after an idle spell.
    tokio::time::sleep(Duration::from_secs(
        u64::from(burst) * 60 / u64::from(rate) + 1,
    ))
    .await;
    let t0 = Instant::now();
    world.list().await?;
    let listed = t0.elapsed().as_secs_f64();
    if processes == 1 {
        drain_in_process(&world).await?;
    } else {
        drain_processes(&world, processes, rate, burst).await?;
    }
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
