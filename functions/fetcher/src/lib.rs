//! The fetcher: for each queued content blob, download it, normalize its records and write them
//! to the store exactly once. Generic over the store, so the Lambda (S3), `o365ctl` (a local
//! directory) and the tests run the same code.
//!
//! Per message:
//! 1. parse and validate the queue message (malformed → error report, not retried);
//! 2. find the tenant's client (unknown tenant → error report);
//! 3. check `content_uri` is under that tenant's API root (forged → error report; no request
//!    is made, so the bearer token never leaves);
//! 4. skip if the object already exists (a replay or duplicate delivery);
//! 5. stream the download through [`BlobNormalizer`] into a create-only upload
//!    (`If-None-Match: *`; a 412 means another delivery won: success), hashing the bytes as
//!    they go, then its create-only manifest entry under `_manifest/`;
//! 6. blob-specific permanent failures (expired, not found, malformed) → error report under
//!    `_errors/`; anything that may pass later (throttling, 5xx, network, deadline, storage,
//!    credentials) → the message is reported failed so SQS redelivers it (then the DLQ).

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use o365_activity::api_error::AfCode;
use o365_activity::client::{ActivityClient, ClientError};
use o365_activity::clock::Clock;
use o365_activity::compression::Compression;
use o365_activity::error_report::{ErrorReport, ReportedMessage};
use o365_activity::keys::KeyLayout;
use o365_activity::latency::{seconds_between, LatencyHistogram, RecordLatency};
use o365_activity::manifest::{
    HashingUpload, ManifestEntry, ObjectDigest, MANIFEST_FORMAT_VERSION,
};
use o365_activity::message::QueueMessage;
use o365_activity::metrics::{emit_record_latency, MetricSet, MetricsSink};
use o365_activity::normalize::{
    BlobNormalizer, InputFormat, Limits, NormalizeError, NormalizeStats, Provenance,
};
use o365_activity::queue::SqsQueue;
use o365_activity::store::{ObjectMeta, ObjectStore, PutCondition, PutOutcome};
use o365_activity::TenantId;
use tokio::time::Instant;

pub mod config;
pub mod quota;

pub use config::{FetcherConfig, FetcherConfigError, TenantsSource};

/// `Content-Type` of stored blobs.
pub const NDJSON_CONTENT_TYPE: &str = "application/x-ndjson";

/// Longest wait for abandoning an upload after a failure.
const ABORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The failure of running out of the invocation's time.
fn out_of_time() -> Failure {
    Failure::retry(
        ErrorKind::Deadline,
        "the invocation's time ran out before the blob was stored; the queue will deliver it again",
    )
}

/// Why a message did not produce an object, as a metric dimension (`Errors{Kind=…}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The body is not a valid queue message.
    MalformedMessage,
    /// The message names a tenant this deployment does not serve.
    UnknownTenant,
    /// `content_uri` is not under the tenant's API root.
    ForgedUri,
    /// The API says the content expired (AF20051).
    ContentExpired,
    /// The API says the content does not exist or its id is invalid (AF20050, AF20052, 404).
    ContentNotFound,
    /// The blob is not a JSON array of valid JSON objects (or is truncated).
    MalformedBlob,
    /// Throttled by the API (retryable).
    Throttled,
    /// A transient API or network failure (retryable).
    Transient,
    /// The API refused for a reason an operator must fix (credentials, subscription).
    ApiRefused,
    /// The Lambda's time ran out (retryable).
    Deadline,
    /// The store failed.
    Storage,
    /// Compressing the output failed.
    Internal,
}

impl ErrorKind {
    /// The metric dimension value and the error report's `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::MalformedMessage => "MalformedMessage",
            ErrorKind::UnknownTenant => "UnknownTenant",
            ErrorKind::ForgedUri => "ForgedUri",
            ErrorKind::ContentExpired => "ContentExpired",
            ErrorKind::ContentNotFound => "ContentNotFound",
            ErrorKind::MalformedBlob => "MalformedBlob",
            ErrorKind::Throttled => "Throttled",
            ErrorKind::Transient => "Transient",
            ErrorKind::ApiRefused => "ApiRefused",
            ErrorKind::Deadline => "Deadline",
            ErrorKind::Storage => "Storage",
            ErrorKind::Internal => "Internal",
        }
    }
}

/// One queue message as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The queue's message id (what a partial batch failure names).
    pub message_id: String,
    /// The body.
    pub body: String,
    /// How many times the queue has delivered it (SQS `ApproximateReceiveCount`), if known.
    pub receive_count: Option<u32>,
}

impl InboundMessage {
    /// A message with an unknown receive count.
    pub fn new(message_id: impl Into<String>, body: impl Into<String>) -> InboundMessage {
        InboundMessage {
            message_id: message_id.into(),
            body: body.into(),
            receive_count: None,
        }
    }
}

impl From<(String, String)> for InboundMessage {
    /// A `(message_id, body)` pair, receive count unknown.
    fn from((message_id, body): (String, String)) -> InboundMessage {
        InboundMessage::new(message_id, body)
    }
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageOutcome {
    /// The blob was downloaded, normalized and written.
    Stored {
        /// Its key.
        key: String,
        /// Records written.
        records: u64,
        /// Blob bytes downloaded.
        bytes_in: u64,
        /// Object bytes written.
        bytes_out: u64,
        /// Per-record latency (event → available → stored).
        latency: RecordLatency,
    },
    /// The object already existed (replay or duplicate delivery); nothing was downloaded
    /// unless `raced` (another delivery finished first while this one was writing).
    Duplicate {
        /// Its key.
        key: String,
        /// Whether this delivery downloaded too and lost the create-only race.
        raced: bool,
    },
    /// A permanent failure, recorded in an error report; the message is done.
    Rejected {
        /// Why.
        kind: ErrorKind,
        /// Where the report was written.
        report_key: String,
    },
    /// A failure that may pass; the message is handed back to the queue.
    Retry {
        /// Why.
        kind: ErrorKind,
        /// The error, as text.
        error: String,
    },
}

impl MessageOutcome {
    /// Whether the queue should deliver the message again.
    pub fn is_failure(&self) -> bool {
        matches!(self, MessageOutcome::Retry { .. })
    }
}

/// What became of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Messages to hand back to the queue (partial batch failure).
    pub failed_message_ids: Vec<String>,
    /// Every message's outcome, in the batch's order.
    pub outcomes: Vec<(String, MessageOutcome)>,
}

/// A failure while handling one message, before it is reported.
#[derive(Debug)]
struct Failure {
    kind: ErrorKind,
    error: String,
    permanent: bool,
}

impl Failure {
    fn permanent(kind: ErrorKind, error: impl ToString) -> Failure {
        Failure {
            kind,
            error: error.to_string(),
            permanent: true,
        }
    }

    fn retry(kind: ErrorKind, error: impl ToString) -> Failure {
        Failure {
            kind,
            error: error.to_string(),
            permanent: false,
        }
    }

    fn from_client(e: &ClientError) -> Failure {
        let code = e.af_code();
        let status = match e {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        };
        match (e, code) {
            (ClientError::ForeignUri { .. }, _) => Failure::permanent(ErrorKind::ForgedUri, e),
            (_, Some(AfCode::ContentExpired)) => Failure::permanent(ErrorKind::ContentExpired, e),
            (_, Some(AfCode::ContentNotFound | AfCode::ContentIdInvalid)) => {
                Failure::permanent(ErrorKind::ContentNotFound, e)
            }
            (ClientError::DeadlineExceeded { .. }, _) => Failure::retry(ErrorKind::Deadline, e),
            (ClientError::Throttled { .. }, _) => Failure::retry(ErrorKind::Throttled, e),
            (_, Some(AfCode::Throttled)) => Failure::retry(ErrorKind::Throttled, e),
            _ if status == Some(429) => Failure::retry(ErrorKind::Throttled, e),
            _ if status == Some(404) => Failure::permanent(ErrorKind::ContentNotFound, e),
            _ if e.is_retryable() => Failure::retry(ErrorKind::Transient, e),
            // Credentials, permissions, subscriptions: an operator fixes these, then the
            // queue's redelivery (or a DLQ redrive) fetches the blob.
            _ => Failure::retry(ErrorKind::ApiRefused, e),
        }
    }

    fn from_store(e: &o365_activity::store::StoreError) -> Failure {
        Failure {
            kind: ErrorKind::Storage,
            error: e.to_string(),
            permanent: !e.is_retryable(),
        }
    }

    fn from_normalize(e: &NormalizeError) -> Failure {
        if e.is_bad_input() {
            Failure::permanent(ErrorKind::MalformedBlob, e)
        } else {
            Failure::retry(ErrorKind::Internal, e)
        }
    }
}

/// The fetcher for one deployment: a store, a key layout, a codec and one client per tenant.
#[derive(Clone)]
pub struct Fetcher<S: ObjectStore> {
    store: S,
    keys: KeyLayout,
    compression: Compression,
    clients: Arc<HashMap<TenantId, ActivityClient>>,
    concurrency: usize,
    limits: Limits,
    clock: Clock,
    metrics: MetricsSink,
    requeue: Option<SqsQueue>,
}

impl<S: ObjectStore> std::fmt::Debug for Fetcher<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("keys", &self.keys)
            .field("compression", &self.compression)
            .field("tenants", &self.clients.len())
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl<S: ObjectStore> Fetcher<S> {
    /// A fetcher writing `compression`-compressed objects under `keys` into `store`, with one
    /// client per tenant it serves. Concurrency defaults to 4, limits to [`Limits::default`].
    pub fn new(
        store: S,
        keys: KeyLayout,
        compression: Compression,
        clients: impl IntoIterator<Item = ActivityClient>,
        clock: Clock,
        metrics: MetricsSink,
    ) -> Fetcher<S> {
        let clients = clients
            .into_iter()
            .map(|c| (c.tenant_id().clone(), c))
            .collect();
        Fetcher {
            store,
            keys,
            compression,
            clients: Arc::new(clients),
            concurrency: config::DEFAULT_MAX_CONCURRENCY,
            limits: Limits::default(),
            clock,
            metrics,
            requeue: None,
        }
    }

    /// Hands throttled messages of SQS events back to `queue` (the event source's queue) with
    /// a visibility delay ([`quota::delay_throttled`]) instead of the queue's whole timeout.
    pub fn with_requeue(mut self, queue: SqsQueue) -> Fetcher<S> {
        self.requeue = Some(queue);
        self
    }

    /// Sets how many messages of a batch are handled at once (at least 1).
    pub fn with_concurrency(mut self, n: usize) -> Fetcher<S> {
        self.concurrency = n.max(1);
        self
    }

    /// Sets the normalization limits.
    pub fn with_limits(mut self, limits: Limits) -> Fetcher<S> {
        self.limits = limits;
        self
    }

    /// Handles a Lambda SQS event and answers with the messages to redeliver
    /// (`ReportBatchItemFailures`).
    pub async fn handle_sqs_event(&self, event: SqsEvent, deadline: Instant) -> SqsBatchResponse {
        let mut anonymous = 0usize;
        let mut receipts = HashMap::new();
        let messages: Vec<InboundMessage> = event
            .records
            .into_iter()
            .map(|m| {
                let message_id = m.message_id.unwrap_or_else(|| {
                    anonymous += 1;
                    format!("missing-message-id-{anonymous}")
                });
                if let Some(r) = m.receipt_handle {
                    receipts.insert(message_id.clone(), r);
                }
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
        let outcome = self.handle_batch(messages.clone(), deadline).await;
        if let Some(queue) = &self.requeue {
            quota::delay_throttled(
                queue,
                &self.clients,
                &messages,
                &receipts,
                &outcome.outcomes,
            )
            .await;
        }
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = outcome
            .failed_message_ids
            .into_iter()
            .map(|id| {
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                f
            })
            .collect();
        response
    }

    /// Handles a batch, up to the concurrency limit at once; returns every outcome and the ids
    /// of the messages to hand back.
    pub async fn handle_batch(
        &self,
        messages: Vec<InboundMessage>,
        deadline: Instant,
    ) -> BatchOutcome {
        let mut results: Vec<(usize, String, MessageOutcome)> =
            futures::stream::iter(quota::interleave_by_tenant(
                messages.into_iter().enumerate().collect(),
                |(_, m): &(usize, InboundMessage)| m.body.as_str(),
            ))
            .map(|(i, m)| async move {
                let outcome = self.handle_message(&m, deadline).await;
                (i, m.message_id, outcome)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
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
        quota::emit_request_metrics(&self.clients, &self.metrics);
        out
    }

    /// Handles one message end to end, reporting permanent failures.
    pub async fn handle_message(&self, m: &InboundMessage, deadline: Instant) -> MessageOutcome {
        let msg = match QueueMessage::parse(&m.body) {
            Ok(msg) => msg,
            Err(e) => {
                let f = Failure::permanent(ErrorKind::MalformedMessage, &e);
                return self.conclude(m, None, f).await;
            }
        };
        match self.fetch(&msg, deadline).await {
            Ok(outcome) => outcome,
            Err(f) => self.conclude(m, Some(&msg), f).await,
        }
    }

    /// Steps 2–5 for a valid message.
    async fn fetch(
        &self,
        msg: &QueueMessage,
        deadline: Instant,
    ) -> Result<MessageOutcome, Failure> {
        let client = self.clients.get(&msg.tenant_id).ok_or_else(|| {
            Failure::permanent(
                ErrorKind::UnknownTenant,
                format!(
                    "tenant {} is not configured in this deployment; add it to the tenants configuration or drop the message",
                    msg.tenant_id
                ),
            )
        })?;
        client
            .check_uri(&msg.content_uri)
            .map_err(|e| Failure::from_client(&e))?;
        let key = self.keys.data_key(msg, self.compression);
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
        self.download_and_store(client, msg, &key, deadline).await
    }

    /// Streams the blob through the normalizer into a create-only upload.
    async fn download_and_store(
        &self,
        client: &ActivityClient,
        msg: &QueueMessage,
        key: &str,
        deadline: Instant,
    ) -> Result<MessageOutcome, Failure> {
        let mut body =
            tokio::time::timeout_at(deadline, client.download(&msg.content_uri, deadline))
                .await
                .map_err(|_| out_of_time())?
                .map_err(|e| Failure::from_client(&e))?;
        let provenance = Provenance::for_message(msg, self.clock.now());
        let mut normalizer = BlobNormalizer::new(
            &provenance,
            self.compression,
            InputFormat::JsonArray,
            self.limits,
        )
        .map_err(|e| Failure::from_normalize(&e))?;
        let meta = ObjectMeta {
            content_type: NDJSON_CONTENT_TYPE.to_owned(),
            content_encoding: Some(self.compression.content_encoding().to_owned()),
        };
        let mut upload = tokio::time::timeout_at(deadline, self.store.begin_upload(key, &meta))
            .await
            .map_err(|_| out_of_time())?
            .map(HashingUpload::new)
            .map_err(|e| Failure::from_store(&e))?;
        let streamed = tokio::time::timeout_at(deadline, async {
            while let Some(chunk) = body.chunk().await.map_err(|e| Failure::from_client(&e))? {
                normalizer
                    .push(&chunk)
                    .map_err(|e| Failure::from_normalize(&e))?;
                let out = normalizer.take_output();
                if !out.is_empty() {
                    upload
                        .write(out)
                        .await
                        .map_err(|e| Failure::from_store(&e))?;
                }
            }
            let (rest, stats) = normalizer
                .finish()
                .map_err(|e| Failure::from_normalize(&e))?;
            upload
                .write(rest)
                .await
                .map_err(|e| Failure::from_store(&e))?;
            Ok::<NormalizeStats, Failure>(stats)
        })
        .await
        .unwrap_or_else(|_| Err(out_of_time()));
        let stats = match streamed {
            Ok(stats) => stats,
            Err(f) => {
                // Runs in the safety margin kept before the Lambda deadline.
                match tokio::time::timeout(ABORT_TIMEOUT, upload.abort()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!(key, error = %e, "could not abort the upload; the bucket's lifecycle rule removes incomplete uploads"),
                    Err(_) => tracing::warn!(key, "aborting the upload timed out; the bucket's lifecycle rule removes incomplete uploads"),
                }
                return Err(f);
            }
        };
        let finished = tokio::time::timeout_at(deadline, upload.finish())
            .await
            .map_err(|_| out_of_time())?;
        let (outcome, digest) = finished.map_err(|e| Failure::from_store(&e))?;
        match outcome {
            PutOutcome::Written { .. } => {
                self.record_in_manifest(msg, key, stats.records, digest)
                    .await;
                let latency = self.stored_metrics(msg, &stats);
                tracing::info!(
                    key,
                    records = stats.records,
                    bytes_in = stats.bytes_in,
                    bytes_out = stats.bytes_out,
                    "blob stored"
                );
                Ok(MessageOutcome::Stored {
                    key: key.to_owned(),
                    records: stats.records,
                    bytes_in: stats.bytes_in,
                    bytes_out: stats.bytes_out,
                    latency,
                })
            }
            PutOutcome::PreconditionFailed => {
                tracing::info!(key, "another delivery stored this blob first");
                self.blob_metrics(msg)
                    .count("DuplicatesSkipped", 1)
                    .emit(&self.metrics);
                Ok(MessageOutcome::Duplicate {
                    key: key.to_owned(),
                    raced: true,
                })
            }
        }
    }

    /// Writes the blob's create-only manifest entry. The object is stored whatever happens
    /// here: a failure is logged and counted (`ManifestWriteFailures`), and `o365ctl verify`
    /// then reports the object as extra.
    async fn record_in_manifest(
        &self,
        msg: &QueueMessage,
        key: &str,
        records: u64,
        digest: ObjectDigest,
    ) {
        let entry = ManifestEntry {
            format_version: MANIFEST_FORMAT_VERSION,
            tenant_id: msg.tenant_id.clone(),
            content_type: msg.content_type,
            content_id: msg.content_id.clone(),
            key: key.to_owned(),
            records,
            sha256: digest.sha256,
            size: digest.size,
            written_at: self.clock.now(),
        };
        match entry.store(&self.store, &self.keys).await {
            Ok(Some(PutOutcome::Written { .. })) => return,
            Ok(Some(PutOutcome::PreconditionFailed)) => {
                tracing::error!(key, "a manifest entry already exists for this new object")
            }
            Ok(None) => tracing::error!(key, "the object key has no manifest key"),
            Err(e) => tracing::error!(key, error = %e, "could not write the manifest entry"),
        }
        self.blob_metrics(msg)
            .count("ManifestWriteFailures", 1)
            .emit(&self.metrics);
    }

    fn blob_metrics(&self, msg: &QueueMessage) -> MetricSet {
        MetricSet::new()
            .dimension("TenantId", msg.tenant_id.as_str())
            .dimension("ContentType", msg.content_type.as_str())
    }

    /// Emits the stored blob's metrics, per-record latency included, and returns that latency.
    fn stored_metrics(&self, msg: &QueueMessage, stats: &NormalizeStats) -> RecordLatency {
        let stored = self.clock.now();
        let secs = |from: DateTime<Utc>| (stored - from).num_milliseconds() as f64 / 1000.0;
        let mut m = self.blob_metrics(msg);
        m.count("BlobsStored", 1)
            .count("Records", stats.records)
            .bytes("BytesIn", stats.bytes_in)
            .bytes("BytesOut", stats.bytes_out)
            .seconds("ContentCreatedToStoredSeconds", secs(msg.content_created));
        m.emit(&self.metrics);
        let latency = RecordLatency {
            event_to_available: stats.event_to_available.clone(),
            available_to_stored: LatencyHistogram::constant(
                seconds_between(msg.content_created, stored),
                stats.records,
            ),
        };
        emit_record_latency(
            &self.metrics,
            msg.tenant_id.as_str(),
            msg.content_type.as_str(),
            &latency,
        );
        latency
    }

    /// Counts a failure; writes the error report of a permanent one. A report that cannot be
    /// written turns the failure into a retry, so nothing ends silently.
    async fn conclude(
        &self,
        m: &InboundMessage,
        msg: Option<&QueueMessage>,
        f: Failure,
    ) -> MessageOutcome {
        let mut metrics = match msg {
            Some(msg) => self.blob_metrics(msg),
            None => MetricSet::new(),
        }
        .dimension("Kind", f.kind.as_str());
        metrics.count("Errors", 1);
        metrics.emit(&self.metrics);
        if !f.permanent {
            tracing::warn!(message_id = %m.message_id, kind = f.kind.as_str(), error = %f.error, "message handed back to the queue");
            return MessageOutcome::Retry {
                kind: f.kind,
                error: f.error,
            };
        }
        tracing::error!(message_id = %m.message_id, kind = f.kind.as_str(), error = %f.error, "message failed permanently; writing an error report");
        let now = self.clock.now();
        let (report_key, message) = match msg {
            Some(msg) => (
                self.keys.error_key(msg),
                ReportedMessage::Parsed(msg.clone()),
            ),
            None => (
                self.keys.rejected_message_key(now, &m.message_id),
                ReportedMessage::raw(&m.body),
            ),
        };
        let report = ErrorReport {
            kind: f.kind.as_str().to_owned(),
            error: f.error.clone(),
            at: now,
            message_id: m.message_id.clone(),
            attempts: m.receive_count,
            message,
            collector_version: o365_activity::COLLECTOR_VERSION.to_owned(),
        };
        let meta = ObjectMeta {
            content_type: "application/json".to_owned(),
            content_encoding: None,
        };
        match self
            .store
            .put(
                &report_key,
                report.to_json().into_bytes().into(),
                &meta,
                // Create-only, as the bucket policy demands under `_errors/`: the first report
                // of a blob stays; a later one for the same blob (412) adds nothing.
                PutCondition::IfNoneMatch,
            )
            .await
        {
            Ok(_) => MessageOutcome::Rejected {
                kind: f.kind,
                report_key,
            },
            Err(e) => {
                tracing::error!(report_key, error = %e, "could not write the error report; handing the message back");
                MessageOutcome::Retry {
                    kind: ErrorKind::Storage,
                    error: format!(
                        "{} (and the error report could not be written: {e})",
                        f.error
                    ),
                }
            }
        }
    }
}
