//! The lister's Lambda handler: one scheduled invocation is one [`Lister::run`] over the
//! tenants as reloaded at its start. The invocation fails when any tenant × content type pair
//! failed, so the function's `Errors` alarm fires; the other pairs' progress is kept.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::LambdaEvent;
use o365_activity::bootstrap::{deadline, TenantRegistry};
use o365_activity::clock::Clock;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::Queue;
use o365_activity::store::ObjectStore;
use serde_json::Value;

use crate::event::{check_event, EventError};
use crate::{Lister, ListerSettings, RunSummary};

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
            InvocationError::Summary(_) => "Internal",
        };
        lambda_runtime::Diagnostic {
            error_type: kind.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// Everything an invocation needs; built once per cold start by `main`.
pub struct ListerHandler<S: ObjectStore, Q: Queue> {
    store: S,
    queue: Q,
    tenants: Arc<TenantRegistry>,
    settings: ListerSettings,
    clock: Clock,
    metrics: MetricsSink,
}

impl<S: ObjectStore, Q: Queue> std::fmt::Debug for ListerHandler<S, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListerHandler")
            .field("tenants", &self.tenants)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<S: ObjectStore, Q: Queue> ListerHandler<S, Q> {
    /// A handler listing the tenants of `tenants` into `queue`, checkpoints in `store`.
    pub fn new(
        store: S,
        queue: Q,
        tenants: Arc<TenantRegistry>,
        settings: ListerSettings,
        clock: Clock,
        metrics: MetricsSink,
    ) -> ListerHandler<S, Q> {
        ListerHandler {
            store,
            queue,
            tenants,
            settings,
            clock,
            metrics,
        }
    }

    /// A lister over the tenants as they are now (reloaded when older than their TTL).
    async fn lister(&self) -> Lister<S, Q> {
        Lister::new(
            self.store.clone(),
            self.queue.clone(),
            self.tenants.tenants().await.to_vec(),
            self.settings.clone(),
            self.clock.clone(),
            self.metrics.clone(),
        )
    }
}

/// Why each failed pair failed, as `tenant content_type: why`.
fn failures(summary: &RunSummary) -> Vec<String> {
    summary
        .failed()
        .map(|p| {
            let outcome = serde_json::to_value(&p.outcome).unwrap_or_default();
            let why = match outcome.get("error") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            format!("{} {}: {why}", p.tenant_id, p.content_type)
        })
        .collect()
}

/// Handles one invocation: checks the event, runs the lister until the deadline (less
/// [`RESPONSE_MARGIN`]), logs the summary and answers with it, or fails when a pair failed.
pub async fn handle<S: ObjectStore, Q: Queue>(
    handler: &ListerHandler<S, Q>,
    event: LambdaEvent<Value>,
) -> Result<Value, InvocationError> {
    check_event(&event.payload)?;
    let until = deadline(&event.context, RESPONSE_MARGIN);
    let summary = handler.lister().await.run(until).await;
    let json = serde_json::to_value(&summary)?;
    tracing::info!(summary = %json, "run summary");
    let failed = failures(&summary);
    if !failed.is_empty() {
        return Err(InvocationError::PairsFailed {
            failed: failed.len(),
            total: summary.pairs.len(),
            detail: failed.join("; "),
        });
    }
    Ok(json)
}
