//! One scenario's world: `o365-sim` on a stopped simulated clock, a bucket and a queue with its
//! DLQ on moto, the tenants' configuration as Lambda reads it, the lister and the fetcher
//! handlers, and the SQS event-source mapping between them.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use o365_activity::client::{ActivityClient, ClientOptions};
use o365_activity::compression::Compression;
use o365_activity::keys::KeyLayout;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::SqsQueue;
use o365_activity::store::{ObjectStore, S3Store};
use o365_activity::tenants::{TenantConfig, TenantsFile};
use o365_activity::testing::{create_queue_with_dlq, MotoServer};
use o365_fetcher::Fetcher;
use o365_lister::{Lister, ListerSettings};
use o365_sim::{SimConfig, SimHandle, TenantSpec, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use serde_json::Value;

use crate::event_source::{DrainStats, EventSource, HandlerOutcome};
use crate::logs::LogBuffer;
use crate::queue_server::QueueServer;
use crate::reconcile::{self, Expect, GapWindow, Reconciliation};

/// Starts the simulator, turning a start failure into an error that says what to check.
pub async fn start_sim(config: SimConfig) -> anyhow::Result<SimHandle> {
    o365_sim::start(config)
        .await
        .context("starting o365-sim on 127.0.0.1")
}

/// The tenants configuration (`TENANTS_JSON`) for every tenant of the simulator.
pub fn tenants_json(sim: &SimHandle, tenant_ids: &[String]) -> String {
    let base = sim.base_url();
    let tenants: Vec<Value> = tenant_ids
        .iter()
        .map(|t| {
            serde_json::json!({
                "tenant_id": t,
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
                "api_root": base,
                "login_root": base,
            })
        })
        .collect();
    serde_json::json!({ "tenants": tenants }).to_string()
}

/// The environment of a Lambda binary of this world (on top of the Lambda runtime's own).
pub fn lambda_env(
    moto: &MotoServer,
    sim: &SimHandle,
    bucket: &str,
    queue_url: Option<&str>,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("BUCKET".to_string(), bucket.to_string()),
        ("PREFIX".to_string(), "o365".to_string()),
        (
            "TENANTS_JSON".to_string(),
            tenants_json(sim, &[o365_sim::DEFAULT_TENANT_ID.to_string()]),
        ),
        ("AWS_ENDPOINT_URL".to_string(), moto.endpoint().to_string()),
    ];
    if let Some(q) = queue_url {
        env.push(("QUEUE_URL".to_string(), q.to_string()));
    }
    env
}

/// The handler of `fetcher` as the event-source mapping calls it: each batch one invocation
/// of `budget` (real time).
pub fn sqs_fetch_handler<S: ObjectStore + 'static>(
    fetcher: Arc<Fetcher<S>>,
    budget: Duration,
) -> impl FnMut(Value) -> std::pin::Pin<Box<dyn std::future::Future<Output = HandlerOutcome> + Send>>
{
    move |event: Value| {
        let fetcher = fetcher.clone();
        Box::pin(async move {
            let event: aws_lambda_events::sqs::SqsEvent = match serde_json::from_value(event) {
                Ok(e) => e,
                Err(e) => return HandlerOutcome::NoResponse(format!("bad event: {e}")),
            };
            let deadline = tokio::time::Instant::now() + budget;
            let resp = fetcher.handle_sqs_event(event, deadline).await;
            match serde_json::to_value(resp) {
                Ok(v) => HandlerOutcome::Response(v),
                Err(e) => HandlerOutcome::NoResponse(format!("bad response: {e}")),
            }
        })
    }
}

/// What a world is made of.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    /// The simulator's configuration (tenants, scenarios, clock, volume).
    pub sim: SimConfig,
    /// Output compression of the fetcher.
    pub compression: Compression,
    /// Receives before a message moves to the DLQ.
    pub max_receive_count: u32,
    /// Visibility timeout of the queue, in seconds (real time).
    pub visibility_timeout: u32,
    /// Messages per fetcher invocation.
    pub batch_size: i32,
    /// Time given to each fetcher invocation (real time).
    pub fetch_deadline: Duration,
    /// Time given to each lister run (real time).
    pub list_deadline: Duration,
    /// The lister's settings (overlap, window, content types...).
    pub lister: ListerSettings,
    /// Client tuning (retries).
    pub client: ClientOptions,
    /// Where the queue and its DLQ live.
    pub queue_backend: QueueBackend,
}

/// Where a world's queue and its DLQ live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueueBackend {
    /// moto's SQS, beside the bucket (the scenarios).
    #[default]
    Moto,
    /// The in-memory [`QueueServer`]: a receive costs what it returns, where moto's walks
    /// the queue (the catch-up benchmark, whose queue holds thousands of messages).
    Memory,
}

impl QueueBackend {
    /// How long the event source's receives long-poll once the queue had nothing visible
    /// ([`EventSource::idle_wait_seconds`]): a second on the in-memory queue, which notices a
    /// message becoming visible within 20 ms as SQS does; none on moto, which notices it only
    /// a second later.
    pub fn idle_wait_seconds(self) -> i32 {
        match self {
            QueueBackend::Moto => 0,
            QueueBackend::Memory => 1,
        }
    }
}

/// A fixed, recent-looking start time for reproducible runs.
pub fn epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

impl Default for WorldConfig {
    fn default() -> Self {
        let mut tenant = TenantSpec::new(o365_sim::DEFAULT_TENANT_ID);
        tenant.enabled_types = o365_sim::ContentType::ALL.to_vec();
        WorldConfig {
            sim: SimConfig {
                tenants: vec![tenant],
                clock_start: epoch(),
                clock_speed: 0.0,
                history: Duration::from_secs(6 * 3600),
                records_per_hour: 12,
                blob_window: Duration::from_secs(2 * 3600),
                ..SimConfig::default()
            },
            compression: Compression::default(),
            max_receive_count: 3,
            visibility_timeout: 1,
            batch_size: 10,
            fetch_deadline: Duration::from_secs(60),
            list_deadline: Duration::from_secs(120),
            lister: ListerSettings::default(),
            client: ClientOptions {
                retry: o365_activity::client::RetryPolicy {
                    initial_backoff: Duration::from_millis(20),
                    max_backoff: Duration::from_millis(400),
                    max_attempts: 8,
                },
                ..ClientOptions::default()
            },
            queue_backend: QueueBackend::default(),
        }
    }
}

/// A running world.
pub struct World {
    /// The configuration it was built from.
    pub config: WorldConfig,
    /// The simulator.
    pub sim: Arc<SimHandle>,
    /// moto.
    pub moto: MotoServer,
    /// The bucket.
    pub store: S3Store,
    /// The key layout (prefix `o365`).
    pub layout: KeyLayout,
    /// The lister's queue.
    pub queue: SqsQueue,
    /// Its DLQ.
    pub dlq: SqsQueue,
    /// The event-source mapping of the queue.
    pub source: EventSource,
    /// The tenants, resolved as the functions resolve them.
    pub tenants: Vec<TenantConfig>,
    /// The fetcher handler.
    pub fetcher: Arc<Fetcher<S3Store>>,
    /// Metrics written by the handlers.
    pub metrics: MetricsSink,
    /// The run's logs.
    pub logs: LogBuffer,
    /// When the world was started (real time).
    pub started: std::time::Instant,
    /// The queue's server, with [`QueueBackend::Memory`].
    pub queue_server: Option<QueueServer>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("sim", &self.sim.base_url())
            .field("bucket", &self.store.bucket())
            .field("queue", &self.queue.url())
            .finish_non_exhaustive()
    }
}

impl World {
    /// Starts everything.
    pub async fn start(config: WorldConfig) -> anyhow::Result<World> {
        let logs = crate::logs::capture();
        let moto = MotoServer::start().await.context("moto")?;
        let sim = Arc::new(start_sim(config.sim.clone()).await?);
        let store = moto.create_bucket("e2e").await.context("bucket")?;
        let queue_server = match config.queue_backend {
            QueueBackend::Moto => None,
            QueueBackend::Memory => Some(QueueServer::start().await.context("queue server")?),
        };
        let sqs = match &queue_server {
            Some(server) => server.sqs().await,
            None => moto.sqs(),
        };
        let (queue, dlq) = create_queue_with_dlq(
            &sqs,
            "e2e",
            config.max_receive_count,
            Duration::from_secs(u64::from(config.visibility_timeout)),
        )
        .await
        .context("queue")?;
        let source = EventSource {
            sqs,
            queue_url: queue.url().to_string(),
            dlq_url: dlq.url().to_string(),
            batch_size: config.batch_size,
            visibility_timeout: config.visibility_timeout as i32,
            idle_wait_seconds: config.queue_backend.idle_wait_seconds(),
        };
        let ids: Vec<String> = config
            .sim
            .tenants
            .iter()
            .map(|t| t.tenant_id.clone())
            .collect();
        let tenants = TenantsFile::from_json(&tenants_json(&sim, &ids))?
            .resolve(&|_| None)
            .context("tenants")?;
        let layout = KeyLayout::new(&config.lister.prefix);
        let metrics = MetricsSink::memory();
        let clients = tenants
            .iter()
            .map(|t| ActivityClient::with_clock(t, config.client.clone(), sim_clock(&sim)))
            .collect::<Result<Vec<_>, _>>()?;
        let fetcher = Fetcher::new(
            store.clone(),
            layout.clone(),
            config.compression,
            clients,
            sim_clock(&sim),
            metrics.clone(),
        )
        // As the Lambda is wired (QUEUE_URL): throttled messages go back with a delay.
        .with_requeue(queue.clone());
        Ok(World {
            config,
            sim,
            moto,
            store,
            layout,
            queue,
            dlq,
            source,
            tenants,
            fetcher: Arc::new(fetcher),
            metrics,
            logs,
            started: std::time::Instant::now(),
            queue_server,
        })
    }

    /// A new lister over this world (two of them run as two concurrent Lambda invocations).
    pub fn lister(&self) -> anyhow::Result<Lister<S3Store, SqsQueue>> {
        self.lister_on(self.store.clone())
    }

    /// A new lister over this world's simulator and queue, keeping its checkpoints in `store`.
    pub fn lister_on<S: ObjectStore>(&self, store: S) -> anyhow::Result<Lister<S, SqsQueue>> {
        let tenants = self
            .tenants
            .iter()
            .map(|t| {
                ActivityClient::with_clock(t, self.config.client.clone(), sim_clock(&self.sim))
                    .map(|c| (t.clone(), c))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Lister::new(
            store,
            self.queue.clone(),
            tenants,
            self.config.lister.clone(),
            sim_clock(&self.sim),
            self.metrics.clone(),
        ))
    }

    /// One scheduled lister run, to completion.
    pub async fn list(&self) -> anyhow::Result<o365_lister::RunSummary> {
        let deadline = tokio::time::Instant::now() + self.config.list_deadline;
        Ok(self.lister()?.run(deadline).await)
    }

    /// One reach sweep (re-list each pair's 7 days, enqueue what is not stored), to completion.
    pub async fn sweep(&self) -> anyhow::Result<o365_lister::SweepSummary> {
        let deadline = tokio::time::Instant::now() + self.config.list_deadline;
        Ok(self.lister()?.sweep(deadline).await)
    }

    /// The fetcher handler as the event-source mapping calls it, in-process.
    pub fn fetch_handler(
        &self,
    ) -> impl FnMut(Value) -> std::pin::Pin<Box<dyn std::future::Future<Output = HandlerOutcome> + Send>>
    {
        self.fetch_handler_with(self.fetcher.clone())
    }

    /// Another fetcher over this world's bucket and tenants, writing with `compression` (a
    /// deployment whose compression setting changed).
    pub fn fetcher_with(&self, compression: Compression) -> anyhow::Result<Arc<Fetcher<S3Store>>> {
        let clients = self
            .tenants
            .iter()
            .map(|t| {
                ActivityClient::with_clock(t, self.config.client.clone(), sim_clock(&self.sim))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(Fetcher::new(
            self.store.clone(),
            self.layout.clone(),
            compression,
            clients,
            sim_clock(&self.sim),
            self.metrics.clone(),
        )))
    }

    /// The handler of `fetcher` as the event-source mapping calls it, in-process.
    pub fn fetch_handler_with<S: ObjectStore + 'static>(
        &self,
        fetcher: Arc<Fetcher<S>>,
    ) -> impl FnMut(Value) -> std::pin::Pin<Box<dyn std::future::Future<Output = HandlerOutcome> + Send>>
    {
        sqs_fetch_handler(fetcher, self.config.fetch_deadline)
    }

    /// Runs the fetcher over the queue until it is empty (failures end in the DLQ).
    pub async fn drain(&self) -> anyhow::Result<DrainStats> {
        let wait = Duration::from_secs(
            30 + 2
                * u64::from(self.config.visibility_timeout)
                * u64::from(self.config.max_receive_count),
        );
        Ok(self.source.drain(self.fetch_handler(), wait).await?)
    }

    /// `steps` times: advance the simulated clock by `step`, run the lister, drain the queue.
    pub async fn cycle(&self, step: Duration, steps: usize) -> anyhow::Result<()> {
        for _ in 0..steps {
            self.sim.advance(step);
            self.list().await?;
            self.drain().await?;
        }
        Ok(())
    }

    /// Every body in the DLQ.
    pub async fn dlq_bodies(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.source.dlq_bodies().await?)
    }

    /// Reconciles the bucket and the DLQ with the ledger; `horizon` is the simulated time of
    /// the last complete lister run (the default expectation of each blob is used).
    pub async fn reconcile(&self, horizon: DateTime<Utc>) -> anyhow::Result<Reconciliation> {
        self.reconcile_in(&self.store, horizon).await
    }

    /// [`World::reconcile`] of what a fetcher stored in `store` instead of the world's bucket.
    pub async fn reconcile_in<S: ObjectStore>(
        &self,
        store: &S,
        horizon: DateTime<Utc>,
    ) -> anyhow::Result<Reconciliation> {
        self.reconcile_store(store, |ledger, blob, gaps| {
            reconcile::default_expectation(ledger, blob, gaps, horizon)
        })
        .await
    }

    /// Reconciles with a custom expectation per blob.
    pub async fn reconcile_with(
        &self,
        expect: impl Fn(&o365_sim::Ledger, &o365_sim::PublishedBlob, &[GapWindow]) -> Expect,
    ) -> anyhow::Result<Reconciliation> {
        self.reconcile_store(&self.store, expect).await
    }

    async fn reconcile_store<S: ObjectStore>(
        &self,
        store: &S,
        expect: impl Fn(&o365_sim::Ledger, &o365_sim::PublishedBlob, &[GapWindow]) -> Expect,
    ) -> anyhow::Result<Reconciliation> {
        let ledger = self.sim.ledger();
        let dlq = self.dlq_bodies().await?;
        Ok(
            reconcile::reconcile(store, &self.layout, &ledger, &dlq, |b, g| {
                expect(&ledger, b, g)
            })
            .await?,
        )
    }

    /// Fails if any captured log holds the client secret or a bearer token.
    pub fn assert_no_leaks(&self) -> Result<(), String> {
        let tokens: Vec<String> = self
            .tenants
            .iter()
            .map(|t| self.sim.access_token(t.tenant_id.as_str()))
            .collect();
        crate::logs::assert_no_leaks(&[DEFAULT_CLIENT_SECRET], &tokens)
    }
}

/// The simulator's clock as the handlers' clock.
pub use o365_activity::testing::sim::sim_clock;

/// The queue message the lister would send for a published blob (also what a replay sends).
pub fn message_for(blob: &o365_sim::PublishedBlob) -> anyhow::Result<o365_activity::QueueMessage> {
    Ok(o365_activity::QueueMessage {
        format_version: o365_activity::message::MESSAGE_FORMAT_VERSION,
        tenant_id: blob.tenant_id.parse()?,
        content_type: blob.content_type.parse()?,
        content_id: blob.content_id.clone(),
        content_uri: blob.content_uri.clone(),
        content_created: blob.content_created,
        content_expiration: blob.content_expiration,
    })
}

impl World {
    /// Sends the message of every published blob that `pick` selects (a replay), `times` times.
    pub async fn replay(
        &self,
        pick: impl Fn(&o365_sim::PublishedBlob) -> bool,
        times: usize,
    ) -> anyhow::Result<usize> {
        use o365_activity::queue::Queue;
        let ledger = self.sim.ledger();
        let messages = ledger
            .published
            .iter()
            .filter(|b| b.visible && pick(b))
            .map(message_for)
            .collect::<anyhow::Result<Vec<_>>>()?;
        for _ in 0..times {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            self.queue.send_all(&messages, deadline).await?;
        }
        Ok(messages.len() * times)
    }
}

/// Figures of one end-to-end throughput run (`make bench`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ThroughputReport {
    /// Records published by the simulator and due by the lister's run.
    pub records_published: usize,
    /// Blobs published and due by the lister's run.
    pub blobs_published: usize,
    /// Records found in the bucket afterwards.
    pub records_stored: usize,
    /// Blobs found in the bucket.
    pub blobs_stored: usize,
    /// Content types covered.
    pub content_types: usize,
    /// Wall seconds of the lister run.
    pub lister_seconds: f64,
    /// Wall seconds from the first receive to an empty queue.
    pub fetch_seconds: f64,
    /// Fetcher invocations.
    pub invocations: usize,
    /// Sum of the fetcher's invocation durations (billed time).
    pub invocation_seconds: f64,
    /// CPU seconds (user + system) of the fetcher process.
    pub fetcher_cpu_seconds: f64,
    /// Peak RSS of the fetcher process, KiB.
    pub fetcher_peak_rss_kib: Option<u64>,
    /// Memory size the fetcher was configured with (MB), for the cost estimate.
    pub lambda_memory_mb: u32,
    /// Bytes written to the bucket (data objects).
    pub bytes_stored: u64,
    /// Whether the bucket reconciled with the ledger (no loss, no double).
    pub reconciled: bool,
    /// The reconciliation summary.
    pub reconciliation: String,
}

/// CPU seconds (user + system) of a process, from `/proc/PID/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Runs the lister in-process and the real `o365-fetcher` binary through the Runtime API over
/// about `records` records of all five content types, and measures it.
pub async fn throughput(records: usize, max_wait: Duration) -> anyhow::Result<ThroughputReport> {
    use crate::runtime_api::{InvocationResult, RuntimeApi};
    use o365_activity::store::ObjectStore;
    let mut config = WorldConfig::default();
    let history_h = 24u64;
    let window = Duration::from_secs(15 * 60);
    let slots = history_h * 4 * 5;
    config.sim.clock_start = Utc::now();
    config.sim.clock_speed = 1.0;
    config.sim.history = Duration::from_secs(history_h * 3600);
    config.sim.blob_window = window;
    config.sim.records_per_hour = ((records as u64 * 11 / 10) / (slots / 4)).max(1) as u32;
    config.sim.throttle_per_minute = 1_000_000;
    config.fetch_deadline = Duration::from_secs(300);
    let world = World::start(config).await?;
    // Generate the history now, outside the measured time.
    let _ = world.sim.ledger();
    let path = crate::lambda_process::binary("o365-fetcher", "o365-fetcher").await?;
    let api = Arc::new(RuntimeApi::start("o365-fetcher").await?);
    let env = lambda_env(&world.moto, &world.sim, world.store.bucket(), None);
    let process =
        crate::lambda_process::LambdaProcess::start(&path, "o365-fetcher", &api, &env, &world.logs)
            .await?;
    let t0 = std::time::Instant::now();
    // Blobs that appear after this run are the next run's (the clock runs in real time).
    let horizon = world.sim.now();
    world.list().await?;
    let lister_seconds = t0.elapsed().as_secs_f64();
    let billed = Arc::new(std::sync::Mutex::new((0usize, 0f64)));
    let (a, b) = (api.clone(), billed.clone());
    let t1 = std::time::Instant::now();
    world
        .source
        .drain(
            move |event| {
                let (a, b) = (a.clone(), b.clone());
                async move {
                    let started = std::time::Instant::now();
                    let res = a.invoke(&event, Duration::from_secs(300)).await;
                    if let Ok(mut g) = b.lock() {
                        g.0 += 1;
                        g.1 += started.elapsed().as_secs_f64();
                    }
                    match res {
                        Ok(InvocationResult::Response(v)) => HandlerOutcome::Response(v),
                        Ok(InvocationResult::Error(e)) => HandlerOutcome::NoResponse(e.to_string()),
                        Err(e) => HandlerOutcome::NoResponse(e.to_string()),
                    }
                }
            },
            max_wait,
        )
        .await?;
    let fetch_seconds = t1.elapsed().as_secs_f64();
    let pid = process.pid();
    let fetcher_cpu_seconds = pid.and_then(cpu_seconds).unwrap_or(f64::NAN);
    let fetcher_peak_rss_kib = pid.and_then(crate::lambda_process::peak_rss_kib);
    process.kill().await;
    let r = world.reconcile(horizon).await?;
    let mut bytes_stored = 0u64;
    for key in world
        .store
        .list(&format!("{}/tenant_id=", world.layout.prefix()))
        .await?
    {
        if let Some(o) = world.store.get(&key).await? {
            bytes_stored += o.body.len() as u64;
        }
    }
    let (invocations, invocation_seconds) = billed.lock().map(|g| *g).unwrap_or((0, 0.0));
    Ok(ThroughputReport {
        records_published: r.published_records - r.unreachable_records,
        blobs_published: r.published_blobs - r.unreachable_blobs,
        records_stored: r.stored_records,
        blobs_stored: r.stored_blobs,
        content_types: 5,
        lister_seconds,
        fetch_seconds,
        invocations,
        invocation_seconds,
        fetcher_cpu_seconds,
        fetcher_peak_rss_kib,
        lambda_memory_mb: 512,
        bytes_stored,
        reconciled: r.check().is_ok(),
        reconciliation: r.to_string(),
    })
}
