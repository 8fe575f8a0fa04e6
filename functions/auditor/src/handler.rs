//! The auditor's Lambda handler: one scheduled invocation audits, for every tenant at once,
//! the settled hours still without a conclusive report ([`Auditor::due_hours`]), oldest
//! first, in chunks while time remains, and writes the reports (the library does the work).
//! Each tenant's figures go out as EMF metrics. One tenant's failure does not stop the
//! others, but fails the invocation (as the lister's does), so the `Errors` alarm fires.
//! The payload is not read: the schedule's event carries nothing the audit needs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use lambda_runtime::LambdaEvent;
use o365_activity::audit::{AuditSettings, AuditSummary, Auditor, GraphSource, Recovery, REACH};
use o365_activity::bootstrap::deadline;
use o365_activity::client::ClientOptions;
use o365_activity::graph::{GraphClient, PollPolicy};
use o365_activity::queue::Queue;
use o365_activity::store::ObjectStore;
use o365_activity::tenants::TenantConfig;
use o365_activity::{ContentType, TenantId};
use o365_lister::handler::Wiring;
use o365_lister::{ListerSettings, QueueRecovery};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::metrics::{emit_tenant, emit_total};

/// Time kept back from the invocation deadline for the response and the last log lines.
pub const RESPONSE_MARGIN: Duration = Duration::from_secs(2);

/// Hours of one tenant audited in one call of the engine: their stored partitions are read
/// once for the chunk (a day's worth, so a daily `AuditorSchedule` reads each partition about
/// (24 + settle + 2) / 24 times, BENCHMARKS.md), and a chunk is started only while the time
/// left exceeds what the previous one took.
pub const HOURS_PER_CHUNK: usize = 24;

/// Tenants audited at once (each has its own Graph limits; they share the invocation's time).
pub const TENANT_CONCURRENCY: usize = 8;

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// Some tenants could not be audited (the others' reports are written).
    #[error("the audit of {failed} of {total} tenants failed: {detail}")]
    TenantsFailed {
        /// How many failed.
        failed: usize,
        /// How many tenants there are.
        total: usize,
        /// `tenant: why` of each failure, `; `-separated.
        detail: String,
    },
    /// The summary could not be turned into the response.
    #[error("the audit summary could not be serialized: {0}")]
    Summary(#[from] serde_json::Error),
}

impl From<InvocationError> for lambda_runtime::Diagnostic {
    /// The error as the Runtime API reports it: a short kind and the readable message.
    fn from(e: InvocationError) -> Self {
        let kind = match &e {
            InvocationError::TenantsFailed { .. } => "TenantsFailed",
            InvocationError::Summary(_) => "Internal",
        };
        lambda_runtime::Diagnostic {
            error_type: kind.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// What one invocation did for one tenant: its summary, or why it failed (with what it had
/// concluded before the failure).
#[derive(Debug, Clone, Serialize)]
pub struct TenantAudit {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The hours audited and their figures (reports included).
    pub summary: AuditSummary,
    /// Settled hours left for the next invocation (time ran out).
    pub hours_left: usize,
    /// Why the tenant's audit stopped, if it failed.
    pub error: Option<String>,
}

/// The response of an invocation.
#[derive(Debug, Clone, Serialize)]
pub struct InvocationSummary {
    /// One entry per tenant, in configuration order.
    pub tenants: Vec<TenantAudit>,
    /// Records still missing over every tenant.
    pub missing_records: u64,
    /// Hours audited over every tenant.
    pub hours: u64,
}

/// Everything an invocation needs; built once per cold start by `main`.
#[derive(Debug)]
pub struct AuditorHandler<S: ObjectStore, Q: Queue> {
    wiring: Wiring<S, Q>,
    settings: AuditSettings,
    content_types: Option<Vec<ContentType>>,
    options: ClientOptions,
    poll: PollPolicy,
}

impl<S: ObjectStore, Q: Queue> AuditorHandler<S, Q> {
    /// A handler auditing the tenants of `wiring` against the data in its store (reports go
    /// there too), sending recovered blobs to its queue; `content_types` narrows each
    /// tenant's own list; `options` configure the Graph clients.
    pub fn new(
        wiring: Wiring<S, Q>,
        settings: AuditSettings,
        content_types: Option<Vec<ContentType>>,
        options: ClientOptions,
    ) -> AuditorHandler<S, Q> {
        AuditorHandler {
            wiring,
            settings,
            content_types,
            options,
            poll: PollPolicy::default(),
        }
    }

    /// Polls Graph queries with `poll` instead of [`PollPolicy::default`] (tests against a
    /// simulator whose queries finish at once).
    pub fn with_poll(mut self, poll: PollPolicy) -> AuditorHandler<S, Q> {
        self.poll = poll;
        self
    }

    /// The tenant as audited: its content types narrowed to the deployment's.
    fn audited(&self, tenant: &TenantConfig) -> TenantConfig {
        let mut t = tenant.clone();
        if let Some(only) = &self.content_types {
            t.content_types.retain(|ct| only.contains(ct));
        }
        t
    }

    /// Audits one tenant's due hours, oldest first, chunk by chunk while time remains.
    async fn audit_tenant<R: Recovery>(
        &self,
        auditor: &Auditor<S>,
        recovery: &R,
        tenant: &TenantConfig,
        until: Instant,
    ) -> TenantAudit {
        let mut out = TenantAudit {
            tenant_id: tenant.tenant_id.clone(),
            summary: AuditSummary::default(),
            hours_left: 0,
            error: None,
        };
        if tenant.content_types.is_empty() {
            return out;
        }
        let source = match GraphClient::new(tenant, self.options.clone(), self.wiring.clock.clone())
        {
            Ok(client) => GraphSource {
                client,
                poll: self.poll.clone(),
            },
            Err(e) => {
                out.error = Some(format!("the Graph client cannot be built: {e}"));
                return out;
            }
        };
        let mut hours: Vec<DateTime<Utc>> = match auditor.due_hours(tenant, REACH).await {
            Ok(h) => h,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        };
        hours.sort();
        let mut last_took = Duration::ZERO;
        let mut chunks = hours.chunks(HOURS_PER_CHUNK);
        while let Some(chunk) = chunks.next() {
            if until.saturating_duration_since(Instant::now()) <= last_took {
                out.hours_left = chunk.len() + chunks.map(<[_]>::len).sum::<usize>();
                break;
            }
            let started = Instant::now();
            match auditor
                .audit_tenant(tenant, &source, chunk, recovery, until)
                .await
            {
                Ok(summary) => out.summary.merge(summary),
                Err(e) => {
                    out.error = Some(e.to_string());
                    break;
                }
            }
            last_took = started.elapsed();
        }
        out
    }
}

/// Handles one invocation: audits every tenant until the deadline less [`RESPONSE_MARGIN`],
/// emits the metrics, logs the summary and answers with it, or fails when a tenant failed.
pub async fn handle<S: ObjectStore, Q: Queue>(
    handler: &AuditorHandler<S, Q>,
    event: LambdaEvent<Value>,
) -> Result<Value, InvocationError> {
    let until = deadline(&event.context, RESPONSE_MARGIN);
    let wiring = &handler.wiring;
    let tenants: Vec<TenantConfig> = wiring
        .tenants
        .tenants()
        .await
        .iter()
        .map(|(t, _)| handler.audited(t))
        .collect();
    let auditor = Auditor::new(
        wiring.store.clone(),
        handler.settings.clone(),
        wiring.clock.clone(),
    );
    let lister = wiring
        .lister(ListerSettings {
            prefix: handler.settings.prefix.clone(),
            ..ListerSettings::default()
        })
        .await;
    let recovery = QueueRecovery::new(lister);
    let mut audits: Vec<(usize, TenantAudit)> = stream::iter(tenants.iter().enumerate())
        .map(|(i, t)| {
            let (auditor, recovery) = (&auditor, &recovery);
            async move { (i, handler.audit_tenant(auditor, recovery, t, until).await) }
        })
        .buffer_unordered(TENANT_CONCURRENCY)
        .collect()
        .await;
    audits.sort_by_key(|(i, _)| *i);
    let audits: Vec<TenantAudit> = audits.into_iter().map(|(_, a)| a).collect();
    let mut total = AuditSummary::default();
    for a in &audits {
        if let Some(e) = &a.error {
            tracing::error!(tenant_id = %a.tenant_id, error = %e, "tenant audit failed");
        }
        emit_tenant(&wiring.metrics, &a.tenant_id, &a.summary, a.error.is_some());
        total.merge(a.summary.clone());
    }
    emit_total(
        &wiring.metrics,
        &total,
        audits.iter().filter(|a| a.error.is_some()).count(),
    );
    let summary = InvocationSummary {
        missing_records: total.missing_records,
        hours: total.hours,
        tenants: audits,
    };
    let failed: Vec<String> = summary
        .tenants
        .iter()
        .filter_map(|a| Some(format!("{}: {}", a.tenant_id, a.error.as_ref()?)))
        .collect();
    let json = serde_json::to_value(&summary)?;
    tracing::info!(
        hours = summary.hours,
        missing = summary.missing_records,
        failed = failed.len(),
        "audit summary"
    );
    if failed.is_empty() {
        return Ok(json);
    }
    Err(InvocationError::TenantsFailed {
        failed: failed.len(),
        total: summary.tenants.len(),
        detail: failed.join("; "),
    })
}
