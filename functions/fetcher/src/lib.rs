//! The fetcher: for each queued content blob, download it, normalize its records and write them
//! to the store exactly once. Generic over the store, so the Lambda (S3), `o365ctl` (a local
//! directory) and the tests run the same code.
//!
//! Per message:
//! 1. parse and validate the queue message (malformed → error report, not retried);
//! 2. find the tenant's client (unknown tenant: the tenants are reloaded at once, within a
//!    cooldown; still unknown → handed back to the queue, then the DLQ and its alarm);
//! 3. check `content_uri` is under that tenant's API root (forged → error report; no request
//!    is made, so the bearer token never leaves);
//! 4. claim the content id (`_ids/`, create-only) or read the data key an earlier delivery
//!    pinned there (`claim.rs`), and skip if that object already exists (a replay, a duplicate
//!    delivery, a later listing of the same content id);
//! 5. stream the download through the normalizer into a create-only upload
//!    (`If-None-Match: *`; a 412 means another delivery won: success) (`store_blob.rs`),
//!    hashing the bytes as they go, then its create-only manifest entry under `_manifest/`;
//! 6. blob-specific permanent failures (expired, not found, malformed) → error report under
//!    `_errors/` (`report.rs`); anything that may pass later (throttling, 5xx, network,
//!    deadline, storage, credentials) → the message is reported failed so SQS redelivers it
//!    (then the DLQ).

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::StreamExt;
use o365_activity::bootstrap::TenantRegistry;
use o365_activity::client::ActivityClient;
use o365_activity::clock::Clock;
use o365_activity::compression::Compression;
use o365_activity::keys::{KeyLayout, ObjectKey};
use o365_activity::message::QueueMessage;
use o365_activity::metrics::{MetricSet, MetricsSink};
use o365_activity::normalize::Limits;
use o365_activity::queue::SqsQueue;
use o365_activity::store::ObjectStore;
use o365_activity::TenantId;
use tokio::time::Instant;

mod claim;
pub mod config;
mod failure;
pub mod handler;
mod manifest;
pub mod memory;
mod metrics;
pub mod outcome;
pub mod pace;
mod quarantine;
pub mod quota;
mod report;
mod store_blob;
mod tenants;

pub use config::FetcherConfig;
pub use outcome::{BatchOutcome, ErrorKind, InboundMessage, MessageOutcome};

use failure::Failure;
use memory::MemoryBudget;
use tenants::TenantClients;

/// `Content-Type` of stored blobs.
pub const NDJSON_CONTENT_TYPE: &str = "application/x-ndjson";

/// Longest wait for abandoning an upload after a failure.
const ABORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The fetcher for one deployment: a store, a key layout, a codec and one client per tenant.
#[derive(Clone)]
pub struct Fetcher<S: ObjectStore> {
    store: S,
    keys: KeyLayout,
    compression: Compression,
    tenants: TenantClients,
    concurrency: usize,
    batch_size: usize,
    limits: Limits,
    memory_mb: u32,
    memory: MemoryBudget,
    clock: Clock,
    metrics: MetricsSink,
    requeue: Option<SqsQueue>,
    busy: pace::BusyTenants,
}

impl<S: ObjectStore> std::fmt::Debug for Fetcher<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("keys", &self.keys)
            .field("compression", &self.compression)
            .field("tenants", &self.tenants)
            .field("concurrency", &self.concurrency)
            .field("memory", &self.memory)
            .finish_non_exhaustive()
    }
}

impl<S: ObjectStore> Fetcher<S> {
    /// A fetcher writing `compression`-compressed objects under `keys` into `store`, with one
    /// client per tenant it serves. Concurrency defaults to 4, limits to [`Limits::default`],
    /// the memory budget to a function of [`memory::DEFAULT_MEMORY_MB`].
    pub fn new(
        store: S,
        keys: KeyLayout,
        compression: Compression,
        clients: impl IntoIterator<Item = ActivityClient>,
        clock: Clock,
        metrics: MetricsSink,
    ) -> Fetcher<S> {
        Fetcher {
            store,
            keys,
            compression,
            tenants: TenantClients::fixed(clients),
            concurrency: config::DEFAULT_MAX_CONCURRENCY,
            batch_size: config::DEFAULT_BATCH_SIZE,
            limits: Limits::default(),
            memory_mb: memory::DEFAULT_MEMORY_MB,
            memory: MemoryBudget::for_function(memory::DEFAULT_MEMORY_MB, &Limits::default()),
            clock,
            metrics,
            requeue: None,
            busy: pace::BusyTenants::default(),
        }
    }

    /// Serves the tenants of `registry` instead of the fixed clients (the Lambda: tenants added
    /// to the source are picked up without a cold start).
    pub fn with_tenant_registry(mut self, registry: Arc<TenantRegistry>) -> Fetcher<S> {
        self.tenants = TenantClients::Registry(registry);
        self
    }

    /// Hands throttled messages of SQS events back to `queue` (the event source's queue) as new
    /// messages with a delay ([`quota::hand_back_throttled`]) instead of failing them.
    pub fn with_requeue(mut self, queue: SqsQueue) -> Fetcher<S> {
        self.requeue = Some(queue);
        self
    }

    /// Sets how many messages of a batch are handled at once (at least 1).
    pub fn with_concurrency(mut self, n: usize) -> Fetcher<S> {
        self.concurrency = n.max(1);
        self
    }

    /// Sets the most messages the event source delivers in one batch (at least 1): a batch
    /// with fewer tells that the queue held less ([`quota::pass_on`]).
    pub fn with_batch_size(mut self, n: usize) -> Fetcher<S> {
        self.batch_size = n.max(1);
        self
    }

    /// Sets the normalization limits (a download's memory reservation follows the record limit).
    pub fn with_limits(mut self, limits: Limits) -> Fetcher<S> {
        self.limits = limits;
        self.memory = MemoryBudget::for_function(self.memory_mb, &self.limits);
        self
    }

    /// Sizes the budget of bytes in flight for a function of `memory_mb` MB
    /// (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`); see [`memory`].
    pub fn with_memory_mb(mut self, memory_mb: u32) -> Fetcher<S> {
        self.memory_mb = memory_mb;
        self.memory = MemoryBudget::for_function(self.memory_mb, &self.limits);
        self
    }

    /// A fetcher with the deployment's settings ([`FetcherConfig`]: the layout under
    /// `PREFIX`, compression, concurrency, limits, memory) serving the tenants of `registry`.
    pub fn configured(
        store: S,
        config: &FetcherConfig,
        registry: Arc<TenantRegistry>,
        clock: Clock,
        metrics: MetricsSink,
    ) -> Fetcher<S> {
        let keys = KeyLayout::new(&config.common.store.prefix);
        Fetcher::new(store, keys, config.compression, [], clock, metrics)
            .with_tenant_registry(registry)
            .with_concurrency(config.max_concurrency)
            .with_batch_size(config.batch_size)
            .with_limits(config.limits)
            .with_memory_mb(config.memory_mb)
    }

    /// Handles a Lambda SQS event and answers with the messages to redeliver
    /// (`ReportBatchItemFailures`).
    pub async fn handle_sqs_event(&self, event: SqsEvent, deadline: Instant) -> SqsBatchResponse {
        let mut anonymous = 0usize;
        let messages: Vec<InboundMessage> = event
            .records
            .into_iter()
            .map(|m| {
                let message_id = m.message_id.unwrap_or_else(|| {
                    anonymous += 1;
                    format!("missing-message-id-{anonymous}")
                });
                InboundMessage {
                    message_id,
                    body: m.body.unwrap_or_default(),
                    receive_count: m
                        .attributes
                        .get("ApproximateReceiveCount")
                        .and_then(|c| c.parse().ok()),
                }
            })
            .collect();
        // The invocation's shares earn tokens until its hand-backs are sent too.
        let in_use = budgets_in_use(&self.tenants.snapshot().await);
        let outcome = self.handle_batch(messages.clone(), deadline).await;
        let handed_back: Vec<String> = match &self.requeue {
            Some(queue) => self
                .hand_back_throttled(queue, &messages, &outcome)
                .await
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
            None => Vec::new(),
        };
        drop(in_use);
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = outcome
            .failed_message_ids
            .into_iter()
            .filter(|id| !handed_back.contains(id))
            .map(|id| {
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                f
            })
            .collect();
        response
    }

    /// Hands the throttled messages of a handled batch (`messages`, `outcome`) back to `queue`
    /// as new messages with a delay ([`quota::hand_back_throttled`]), for every consumer of an
    /// SQS queue (the Lambda's event, `o365ctl run --queue-url`): returns the ids handed back,
    /// whose originals the caller deletes as done, with their delays.
    pub async fn hand_back_throttled(
        &self,
        queue: &SqsQueue,
        messages: &[InboundMessage],
        outcome: &BatchOutcome,
    ) -> Vec<(String, std::time::Duration)> {
        quota::hand_back_throttled(
            queue,
            &self.tenants.snapshot().await,
            messages,
            &outcome.outcomes,
            messages.len() < self.batch_size,
            &self.metrics,
        )
        .await
    }

    /// Handles a batch, up to the concurrency limit at once; returns every outcome and the ids
    /// of the messages to hand back.
    pub async fn handle_batch(
        &self,
        messages: Vec<InboundMessage>,
        deadline: Instant,
    ) -> BatchOutcome {
        let clients = self.tenants.snapshot().await;
        let in_use = budgets_in_use(&clients);
        let wait = self.batch_wait(&messages, &clients);
        let mut results: Vec<(usize, String, MessageOutcome)> =
            futures::stream::iter(quota::interleave_by_tenant(
                messages.into_iter().enumerate().collect(),
                |(_, m): &(usize, InboundMessage)| m.body.as_str(),
            ))
            .map(|(i, m)| async move {
                let outcome = self.handle_message(&m, deadline, wait).await;
                (i, m.message_id, outcome)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        drop(in_use);
        results.sort_by_key(|(i, _, _)| *i);
        let mut out = BatchOutcome::default();
        let mut batch = MetricSet::new();
        batch.count("Messages", results.len() as u64);
        for (_, id, outcome) in results {
            if outcome.is_failure() {
                out.failed_message_ids.push(id.clone());
            }
            out.outcomes.push((id, outcome));
        }
        batch.count("MessagesFailed", out.failed_message_ids.len() as u64);
        batch.emit(&self.metrics);
        quota::emit_request_metrics(&self.tenants.snapshot().await, &self.metrics);
        out
    }

    /// How long this batch's downloads wait for their tenants' budgets ([`pace`]): the
    /// batch's tenants are busy from now, with those of the batches before.
    fn batch_wait(
        &self,
        messages: &[InboundMessage],
        clients: &HashMap<TenantId, ActivityClient>,
    ) -> std::time::Duration {
        let tenants = messages
            .iter()
            .filter_map(|m| quota::tenant_of(&m.body))
            .filter(|t| clients.contains_key(t));
        let busy = self.busy.arrived(tenants, Instant::now());
        let rates: Vec<f64> = busy
            .iter()
            .filter_map(|t| clients.get(t))
            .map(ActivityClient::budget_rate)
            .collect();
        pace::batch_wait(self.concurrency.max(messages.len()), &rates)
    }

    /// Handles one message end to end, reporting permanent failures; its download waits up
    /// to `wait` for the tenant's budget ([`pace`]).
    pub async fn handle_message(
        &self,
        m: &InboundMessage,
        deadline: Instant,
        wait: std::time::Duration,
    ) -> MessageOutcome {
        let msg = match QueueMessage::parse(&m.body) {
            Ok(msg) => msg,
            Err(e) => {
                let f = Failure::permanent(ErrorKind::MalformedMessage, &e);
                return self.conclude(m, None, f).await;
            }
        };
        match self.fetch(&msg, deadline, wait).await {
            Ok(outcome) => outcome,
            Err(f) => self.conclude(m, Some(&msg), f).await,
        }
    }

    /// Steps 2–5 for a valid message.
    async fn fetch(
        &self,
        msg: &QueueMessage,
        deadline: Instant,
        wait: std::time::Duration,
    ) -> Result<MessageOutcome, Failure> {
        // Retryable: a tenant onboarded since the last reload is found on a later delivery;
        // one nobody onboards ends in the DLQ, whose alarm fires.
        let client = self.tenants.client(&msg.tenant_id).await.ok_or_else(|| {
            Failure::retry(
                ErrorKind::UnknownTenant,
                format!(
                    "tenant {} is not in the tenants configuration, even after reloading it; add it to the tenants secret (the message is retried, then goes to the DLQ)",
                    msg.tenant_id
                ),
            )
        })?;
        client
            .check_uri(&msg.content_uri)
            .map_err(|e| Failure::from_client(&e))?;
        let data = self.claim_content_id(msg).await?;
        let key = self.keys.key(&ObjectKey::Data(data.clone()));
        if self
            .store
            .exists(&key)
            .await
            .map_err(|e| Failure::from_store(&e))?
        {
            tracing::info!(key, "object already stored; skipping the download");
            self.blob_metrics(msg)
                .count("DuplicatesSkipped", 1)
                .emit(&self.metrics);
            return Ok(MessageOutcome::Duplicate { key, raced: false });
        }
        self.download_and_store(&client, msg, &data, deadline, wait)
            .await
    }
}

/// Marks every tenant's budget in use until the guards are dropped: an invocation's share of
/// a tenant's rate earns tokens only while a batch runs
/// ([`o365_activity::client::ActivityClient::budget_in_use`]).
fn budgets_in_use(
    clients: &HashMap<TenantId, ActivityClient>,
) -> Vec<o365_activity::client::InUse> {
    clients
        .values()
        .map(ActivityClient::budget_in_use)
        .collect()
}
