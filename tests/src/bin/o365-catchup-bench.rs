//! `o365-catchup-bench TENANTS PROCESSES RATE BURST HOURS`: the quota-aware catch-up of
//! `make bench`. `o365-sim` throttles each tenant with a token bucket of `BURST` requests
//! refilled at `RATE` per minute and holds `HOURS` of backlog (all five content types).
//! With one process, the lister and the fetcher run together in this process as in
//! `o365ctl run` (one budget per tenant at `RATE`, listing first; four batches at once, ten
//! downloads each). With `PROCESSES` > 1, the lister lists it all (as one scheduled run), then
//! `PROCESSES` fetcher processes, started beforehand, drain the same queue: each is this
//! binary as `o365-catchup-bench fetch-worker`, wired from the Lambda's environment by the
//! Lambda's own code (`o365_fetcher::handler::from_env`), so each spends
//! `RATE / PROCESSES` per tenant as `FETCHER_MAX_CONCURRENCY` says, one batch at a time as
//! one Lambda instance. Prints one JSON object: elapsed time against the ideal
//! `(requests - BURST) / RATE` of the busiest tenant, the throttled share and requests per
//! stored blob.
//!
//! The bench measures request pacing against the API, so nothing else may be its bottleneck.
//! The blobs go to a local directory (`LocalStore`) instead of S3 on moto (four calls per blob,
//! some 40 ms of moto's CPU each). The queue is the in-memory SQS stand-in
//! (`o365_e2e::queue_server`): moto's `ReceiveMessage` walks and copies the whole queue, and
//! with the ten tenants' 2,400 messages queued the lister's sends alone took over a minute.
//! `CATCHUP_QUEUE=moto` puts the queue on moto instead, to compare. With `CATCHUP_PROGRESS`
//! set it prints a line a second to stderr.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use o365_activity::aws::AwsClients;
use o365_activity::bootstrap::Env;
use o365_activity::client::{ActivityClient, BudgetOptions};
use o365_activity::store::LocalStore;
use o365_activity::testing::sim::sim_clock;
use o365_e2e::event_source::EventSource;
use o365_e2e::world::{
    lambda_env, sqs_fetch_handler, tenants_json, QueueBackend, World, WorldConfig,
};
use o365_fetcher::Fetcher;
use o365_sim::{Scenario, TenantSpec};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

/// Batches one in-process fetcher handles at once.
const IN_PROCESS_LOOPS: usize = 4;
/// Downloads per batch at once (`MAX_CONCURRENCY`), in-process and in the processes.
const DOWNLOADS: usize = 10;
/// Messages per batch a fetcher process takes, as Lambda's event source with `BatchSize` 10
/// (SAM `FetcherBatchSize`'s default).
const BATCH: i32 = 10;
/// Time given to each batch (real time), as a fetcher invocation's timeout.
const FETCH_DEADLINE: Duration = Duration::from_secs(120);
/// How often the bench looks whether the queue is empty.
const WATCH_STEP: Duration = Duration::from_millis(20);
/// Longest a drain waits for the queue to empty.
const DRAIN_LIMIT: Duration = Duration::from_secs(900);

fn tenant_id(i: usize) -> String {
    format!("00000000-0000-0000-0000-{:012}", i + 1)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> anyhow::Result<T> {
    args.get(i)
        .with_context(|| format!("missing {name}"))?
        .parse()
        .map_err(|_| anyhow::anyhow!("{name} must be a whole number"))
}

/// The fetcher as `o365ctl run` and the Lambda wire it, storing in `store`: throttled
/// messages go back to the queue with a delay.
fn in_process_fetcher(
    world: &World,
    store: LocalStore,
) -> anyhow::Result<Arc<Fetcher<LocalStore>>> {
    let clients = world
        .tenants
        .iter()
        .map(|t| ActivityClient::with_clock(t, world.config.client.clone(), sim_clock(&world.sim)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(
        Fetcher::new(
            store,
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

/// Drains `source` through `fetcher` in `loops` loops of one batch at a time (each as one
/// Lambda instance) until `listed` is set and the queue is empty.
async fn drain_until_listed(
    source: &EventSource,
    fetcher: &Arc<Fetcher<LocalStore>>,
    loops: usize,
    listed: &AtomicBool,
) -> anyhow::Result<()> {
    loop {
        let done = listed.load(Ordering::SeqCst);
        let runs = (0..loops).map(|_| {
            source.drain(
                sqs_fetch_handler(fetcher.clone(), FETCH_DEADLINE),
                DRAIN_LIMIT,
            )
        });
        for r in futures::future::join_all(runs).await {
            r?;
        }
        if done {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Lists and fetches at once in this process, until the lister is done and the queue empty;
/// returns when the lister was done and when the queue was empty (seconds since `t0`), and
/// how many messages it sent.
async fn list_and_fetch(
    world: &World,
    store: &LocalStore,
    t0: Instant,
) -> anyhow::Result<(f64, f64, u64)> {
    let fetcher = in_process_fetcher(world, store.clone())?;
    let listed = AtomicBool::new(false);
    let listing = async {
        let r = world
            .lister_on(store.clone())?
            .run(lister_deadline(world))
            .await;
        listed.store(true, Ordering::SeqCst);
        anyhow::Ok((r, t0.elapsed().as_secs_f64()))
    };
    let fetching = drain_until_listed(&world.source, &fetcher, IN_PROCESS_LOOPS, &listed);
    let (((summary, listed_after), ()), emptied) = watch_queue(
        world,
        t0,
        &listed,
        futures::future::try_join(listing, fetching),
    )
    .await?;
    Ok((listed_after, emptied, check_listed(&summary)?))
}

/// Runs `work` while watching the queue: returns its result and when the queue was first
/// empty (nothing visible, delayed or in flight) once `listed` was set, in seconds since
/// `t0`: when the last message was deleted, not when the fetchers noticed and stopped.
async fn watch_queue<T>(
    world: &World,
    t0: Instant,
    listed: &AtomicBool,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<(T, f64)> {
    let watch = async {
        loop {
            if listed.load(Ordering::SeqCst)
                && world.source.depth_of(world.queue.url()).await? == (0, 0)
            {
                return anyhow::Ok(t0.elapsed().as_secs_f64());
            }
            tokio::time::sleep(WATCH_STEP).await;
        }
    };
    tokio::pin!(watch, work);
    let mut emptied = None;
    loop {
        tokio::select! {
            e = &mut watch, if emptied.is_none() => emptied = Some(e?),
            r = &mut work => {
                let r = r?;
                return Ok((r, emptied.unwrap_or_else(|| t0.elapsed().as_secs_f64())));
            }
        }
    }
}

fn lister_deadline(world: &World) -> tokio::time::Instant {
    tokio::time::Instant::now() + world.config.list_deadline
}

/// Fails when a pair of the lister's run did not finish; else the messages it sent.
fn check_listed(summary: &o365_lister::RunSummary) -> anyhow::Result<u64> {
    let failed = summary.failed().count();
    if failed > 0 {
        bail!("{failed} tenant/content-type pairs failed to list");
    }
    Ok(summary.messages_sent())
}

/// `processes` fetcher processes (this binary as `fetch-worker`), idle until
/// [`drain_processes`] tells them to go.
fn start_processes(
    world: &World,
    store: &Path,
    processes: usize,
    rate: u32,
    burst: u32,
) -> anyhow::Result<Vec<Child>> {
    let exe = std::env::current_exe().context("finding this binary")?;
    let ids: Vec<String> = world
        .config
        .sim
        .tenants
        .iter()
        .map(|t| t.tenant_id.clone())
        .collect();
    let mut env = lambda_env(
        &world.moto,
        &world.sim,
        world.store.bucket(),
        Some(world.queue.url()),
    );
    env.retain(|(k, _)| k != "TENANTS_JSON" && k != "AWS_ENDPOINT_URL");
    // The processes use no S3 (they store in a directory): the endpoint is the queue's.
    let endpoint = match &world.queue_server {
        Some(server) => server.endpoint().to_owned(),
        None => world.moto.endpoint().to_owned(),
    };
    env.extend([
        ("AWS_ENDPOINT_URL".to_owned(), endpoint),
        ("TENANTS_JSON".to_owned(), tenants_json(&world.sim, &ids)),
        ("API_RATE_PER_MINUTE".to_owned(), rate.to_string()),
        ("API_BURST".to_owned(), burst.to_string()),
        ("FETCHER_MAX_CONCURRENCY".to_owned(), processes.to_string()),
        ("FETCHER_BATCH_SIZE".to_owned(), BATCH.to_string()),
        ("MAX_CONCURRENCY".to_owned(), DOWNLOADS.to_string()),
        ("CATCHUP_STORE_DIR".to_owned(), store.display().to_string()),
        ("CATCHUP_DLQ_URL".to_owned(), world.source.dlq_url.clone()),
        (
            "CATCHUP_VISIBILITY_TIMEOUT".to_owned(),
            world.config.visibility_timeout.to_string(),
        ),
        (
            "CATCHUP_IDLE_WAIT".to_owned(),
            world.config.queue_backend.idle_wait_seconds().to_string(),
        ),
    ]);
    (0..processes)
        .map(|_| {
            Command::new(&exe)
                .arg("fetch-worker")
                .envs(env.iter().map(|(k, v)| (k, v)))
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .stdin(Stdio::piped())
                // The fetcher's EMF metrics lines.
                .stdout(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .context("starting a fetcher process")
        })
        .collect()
}

/// Tells the fetcher processes to drain the queue, and waits until they did.
async fn drain_processes(mut running: Vec<Child>) -> anyhow::Result<()> {
    for p in &mut running {
        if let Some(mut stdin) = p.stdin.take() {
            stdin.write_all(b"go\n").await?;
        }
    }
    for p in &mut running {
        let status = p.wait().await?;
        if !status.success() {
            bail!("a fetcher process failed: {status}");
        }
    }
    Ok(())
}

/// `o365-catchup-bench fetch-worker`: one fetcher process, wired from its environment as the
/// Lambda is, storing under `CATCHUP_STORE_DIR`; once a line arrives on stdin, drains the
/// queue one batch at a time until it is empty.
async fn fetch_worker() -> anyhow::Result<()> {
    let env = Env::process();
    let dir = env
        .optional("CATCHUP_STORE_DIR")
        .context("CATCHUP_STORE_DIR is not set")?;
    let (fetcher, cfg) = o365_fetcher::handler::from_env(&env, |_, _| LocalStore::new(dir))
        .await
        .map_err(|e| anyhow::anyhow!("fetcher configuration: {e}"))?;
    let source = EventSource {
        sqs: AwsClients::new(cfg.common.store.endpoint_url.as_deref())
            .await
            .sqs,
        queue_url: env.optional("QUEUE_URL").context("QUEUE_URL is not set")?,
        dlq_url: env
            .optional("CATCHUP_DLQ_URL")
            .context("CATCHUP_DLQ_URL is not set")?,
        batch_size: BATCH,
        visibility_timeout: env.number("CATCHUP_VISIBILITY_TIMEOUT", 30, 1..=43_200)?,
        idle_wait_seconds: env.number("CATCHUP_IDLE_WAIT", 0, 0..=20)?,
    };
    tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await??;
    let listed = AtomicBool::new(true);
    drain_until_listed(&source, &Arc::new(fetcher), 1, &listed).await
}

/// With `CATCHUP_PROGRESS` set, prints every second to stderr: seconds since `t0`, the
/// successful and throttled API requests so far, the tenants served in that second, and the
/// queue's depth (visible or delayed, in flight): where a slow run spends its time.
async fn progress(world: &World, before: usize, t0: Instant) -> std::convert::Infallible {
    let (mut seen, mut last_ok) = (0usize, 0usize);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let ledger = world.sim.ledger();
        let api: Vec<_> = ledger.requests[before..]
            .iter()
            .filter(|r| r.operation.as_deref().is_some_and(|o| o != "token"))
            .collect();
        let is_throttled = |r: &&&o365_sim::RequestRecord| r.error_code.as_deref() == Some("AF429");
        let throttled = api.iter().filter(is_throttled).count();
        let ok = api.len() - throttled;
        let tenants: std::collections::HashSet<_> = api[seen..]
            .iter()
            .filter(|r| !is_throttled(r))
            .map(|r| r.tenant_id.clone())
            .collect();
        let depth = world
            .source
            .depth_of(world.queue.url())
            .await
            .unwrap_or((0, 0));
        eprintln!(
            "{:6.1}s ok {ok:5} (+{:3}) throttled {throttled:4} tenants {:2} queue {:?}",
            t0.elapsed().as_secs_f64(),
            ok.saturating_sub(last_ok),
            tenants.len(),
            depth
        );
        (seen, last_ok) = (api.len(), ok);
    }
}

/// Runs the catch-up once, the fetchers storing under `dir`: seconds until the lister was
/// done, seconds until the queue was empty, what was stored against what was published, and
/// the messages the lister sent.
async fn measure(
    world: &World,
    before: usize,
    dir: &Path,
    processes: usize,
    rate: u32,
    client_burst: u32,
) -> anyhow::Result<(f64, f64, o365_e2e::reconcile::Reconciliation, u64)> {
    let store = LocalStore::new(dir);
    // Fetcher processes are warm before the clock starts, as Lambda's are in a catch-up.
    let running = if processes > 1 {
        Some(start_processes(world, dir, processes, rate, client_burst)?)
    } else {
        None
    };
    let t0 = Instant::now();
    let work = async {
        match running {
            None => list_and_fetch(world, &store, t0).await,
            Some(running) => {
                let sent = check_listed(
                    &world
                        .lister_on(store.clone())?
                        .run(lister_deadline(world))
                        .await,
                )?;
                let listed = t0.elapsed().as_secs_f64();
                let all_sent = AtomicBool::new(true);
                let ((), emptied) =
                    watch_queue(world, t0, &all_sent, drain_processes(running)).await?;
                Ok((listed, emptied, sent))
            }
        }
    };
    let (listed, elapsed, sent) = if std::env::var_os("CATCHUP_PROGRESS").is_some() {
        tokio::select! {
            r = work => r?,
            never = progress(world, before, t0) => match never {},
        }
    } else {
        work.await?
    };
    let r = world.reconcile_in(&store, world.sim.now()).await?;
    Ok((listed, elapsed, r, sent))
}

/// The machine's one-minute load average (Linux), to read the timings against.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
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
    config.sim.history =
        Duration::from_secs(hours.checked_mul(3600).context("HOURS is too large")?);
    config.sim.blob_window = Duration::from_secs(3600);
    config.sim.records_per_hour = 6;
    config.sim.scenarios = vec![
        Scenario::parse(&format!("rate-limit={rate}"))?,
        Scenario::parse(&format!("rate-burst={burst}"))?,
    ];
    // One token below the service's burst, so timing jitter never overdraws its bucket.
    let client_burst = burst.saturating_sub(1).max(1);
    config.client.budget = BudgetOptions::per_minute(rate).with_burst(client_burst);
    config.visibility_timeout = 30;
    config.max_receive_count = 5;
    config.fetch_deadline = Duration::from_secs(120);
    config.list_deadline = Duration::from_secs(600);
    config.queue_backend = match std::env::var("CATCHUP_QUEUE").as_deref() {
        Ok("moto") => QueueBackend::Moto,
        Ok("memory") | Err(_) => QueueBackend::Memory,
        Ok(other) => bail!("CATCHUP_QUEUE is {other:?}: use moto or memory"),
    };
    let world = World::start(config).await?;
    let dir = std::env::temp_dir().join(format!("o365-catchup-{}", std::process::id()));
    let before = world.sim.ledger().requests.len();
    let load_before = load_average();
    let result = measure(&world, before, &dir, processes, rate, client_burst).await;
    // A failed removal leaves a temp directory behind, nothing worse.
    let _ = std::fs::remove_dir_all(&dir);
    let (listed, elapsed, r, lister_sent) = result?;
    let load_after = load_average();
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
    let dlq = world.source.dlq_bodies().await?.len();
    // Every message sent beyond the lister's is a throttled one handed back (counted by the
    // in-memory queue; moto does not count).
    let handed_back = world
        .queue_server
        .as_ref()
        .map(|q| q.messages_sent().saturating_sub(lister_sent));
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
        "queue": if world.queue_server.is_some() { "memory" } else { "moto" },
        "messages_handed_back": handed_back,
        "load_average_before": load_before,
        "load_average_after": load_after,
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("fetch-worker") {
        return fetch_worker().await;
    }
    let out = run(&args).await?;
    println!("{out}");
    Ok(())
}
