//! The lister's Lambda handler: one scheduled invocation is one [`Lister::run`] (or, for the
//! sweep rule's input, one [`Lister::sweep`]) over the tenants as reloaded at its start. The
//! invocation fails when any tenant × content type pair failed, so the function's `Errors`
//! alarm fires; the other pairs' progress is kept.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::LambdaEvent;
use o365_activity::bootstrap::{boot, deadline, CommonSettings, RegistryError, TenantRegistry};
use o365_activity::client::ClientOptions;
use o365_activity::clock::Clock;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::{Queue, SqsQueue};
use o365_activity::store::{ObjectStore, S3Store};
use serde_json::Value;

use crate::event::{invocation_of, EventError, Invocation};
use crate::{Lister, ListerSettings, PairOutcome, RunSummary, SweepSummary};

/// Time kept back from the invocation deadline for the response and the last log lines.
pub const RESPONSE_MARGIN: Duration = Duration::from_secs(2);

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// The payload is not a schedule event (nothing was run).
    #[error(transparent)]
    Event(#[from] EventError),
    /// Some pairs failed (the others' progress is kept).
    #[error("{failed} of {total} tenant/content type pairs failed: {detail}")]
    PairsFailed {
        /// How many failed.
        failed: usize,
        /// How many pairs the run had.
        total: usize,
        /// `tenant content_type: why` of each failure, `; `-separated.
        detail: String,
    },
    /// The sweep of some pairs failed (the others' recoveries are kept).
    #[error("the sweep of {failed} of {total} tenant/content type pairs failed: {detail}")]
    SweepFailed {
        /// How many failed.
        failed: usize,
        /// How many pairs the run had.
        total: usize,
        /// `tenant content_type: why` of each failure, `; `-separated.
        detail: String,
    },
    /// The run summary could not be turned into the response.
    #[error("the run summary could not be serialized: {0}")]
    Summary(#[from] serde_json::Error),
}

impl From<InvocationError> for lambda_runtime::Diagnostic {
    /// The error as the Runtime API reports it: a short kind and the readable message.
    fn from(e: InvocationError) -> Self {
        let kind = match &e {
            InvocationError::Event(_) => "BadEvent",
            InvocationError::PairsFailed { .. } => "PairsFailed",
            InvocationError::SweepFailed { .. } => "SweepFailed",
            InvocationError::Summary(_) => "Internal",
        };
        lambda_runtime::Diagnostic {
            error_type: kind.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// What a scheduled function that lists and queues (the lister, the auditor's recovery) is
/// wired to, built once per cold start by its `main`: the bucket, the queue, the tenants
/// (reloaded when older than their TTL), the clock and where metrics go.
#[derive(Clone)]
pub struct Wiring<S: ObjectStore, Q: Queue> {
    /// The collector's bucket (checkpoints, data, reports).
    pub store: S,
    /// The fetcher's queue, where listed blobs are sent.
    pub queue: Q,
    /// The tenants served.
    pub tenants: Arc<TenantRegistry>,
    /// The time source.
    pub clock: Clock,
    /// Where metrics go.
    pub metrics: MetricsSink,
}

impl<S: ObjectStore, Q: Queue> std::fmt::Debug for Wiring<S, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wiring")
            .field("tenants", &self.tenants)
            .finish_non_exhaustive()
    }
}

impl<S: ObjectStore, Q: Queue> Wiring<S, Q> {
    /// A lister with `settings` over the tenants as they are now.
    pub async fn lister(&self, settings: ListerSettings) -> Lister<S, Q> {
        Lister::new(
            self.store.clone(),
            self.queue.clone(),
            self.tenants.tenants().await.to_vec(),
            settings,
            self.clock.clone(),
            self.metrics.clone(),
        )
    }
}

impl Wiring<S3Store, SqsQueue> {
    /// The wiring of a deployed function, from its shared settings: the bucket and the queue
    /// at `queue_url` through the AWS clients and the tenants of [`boot`], the system clock,
    /// metrics to stdout (EMF).
    pub async fn deployed(
        common: &CommonSettings,
        queue_url: String,
        options: ClientOptions,
    ) -> Result<Self, RegistryError> {
        let (aws, tenants) = boot(common, options).await?;
        Ok(Wiring {
            store: S3Store::new(aws.s3, common.store.bucket.clone()),
            queue: SqsQueue::new(aws.sqs, queue_url),
            tenants: Arc::new(tenants),
            clock: Clock::system(),
            metrics: MetricsSink::Stdout,
        })
    }
}

/// Everything an invocation needs; built once per cold start by `main`.
#[derive(Debug)]
pub struct ListerHandler<S: ObjectStore, Q: Queue> {
    wiring: Wiring<S, Q>,
    settings: ListerSettings,
}

impl<S: ObjectStore, Q: Queue> ListerHandler<S, Q> {
    /// A handler listing the tenants of `wiring` into its queue, checkpoints in its store.
    pub fn new(wiring: Wiring<S, Q>, settings: ListerSettings) -> ListerHandler<S, Q> {
        ListerHandler { wiring, settings }
    }

    /// A lister over the tenants as they are now (reloaded when older than their TTL).
    async fn lister(&self) -> Lister<S, Q> {
        self.wiring.lister(self.settings.clone()).await
    }
}

/// `tenant content_type: [kind] why` of each failed pair of a run.
fn run_failures(summary: &RunSummary) -> Vec<String> {
    summary
        .pairs
        .iter()
        .filter_map(|p| match &p.outcome {
            PairOutcome::Failed(e) => Some(format!(
                "{} {}: [{}] {}",
                p.tenant_id,
                p.content_type,
                e.kind(),
                e.message()
            )),
            _ => None,
        })
        .collect()
}

/// `tenant content_type: [kind] why` of each pair whose sweep failed.
fn sweep_failures(summary: &SweepSummary) -> Vec<String> {
    summary
        .failed()
        .filter_map(|p| {
            let e = p.error.as_ref()?;
            Some(format!(
                "{} {}: [{}] {}",
                p.tenant_id,
                p.content_type,
                e.kind(),
                e.message()
            ))
        })
        .collect()
}

/// Handles one invocation: reads the event, runs (or sweeps) until the deadline less
/// [`RESPONSE_MARGIN`], logs the summary and answers with it, or fails when a pair failed.
pub async fn handle<S: ObjectStore, Q: Queue>(
    handler: &ListerHandler<S, Q>,
    event: LambdaEvent<Value>,
) -> Result<Value, InvocationError> {
    let invocation = invocation_of(&event.payload)?;
    let until = deadline(&event.context, RESPONSE_MARGIN);
    let lister = handler.lister().await;
    let (json, failed, total) = match invocation {
        Invocation::Run => {
            let summary = lister.run(until).await;
            let json = serde_json::to_value(&summary)?;
            tracing::info!(summary = %json, "run summary");
            (json, run_failures(&summary), summary.pairs.len())
        }
        Invocation::Sweep => {
            let summary = lister.sweep(until).await;
            let json = serde_json::to_value(&summary)?;
            tracing::info!(recovered = summary.recovered(), summary = %json, "sweep summary");
            (json, sweep_failures(&summary), summary.pairs.len())
        }
    };
    if failed.is_empty() {
        return Ok(json);
    }
    let (count, detail) = (failed.len(), failed.join("; "));
    Err(match invocation {
        Invocation::Run => InvocationError::PairsFailed {
            failed: count,
            total,
            detail,
        },
        Invocation::Sweep => InvocationError::SweepFailed {
            failed: count,
            total,
            detail,
        },
    })
}
