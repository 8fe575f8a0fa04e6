//! The lister's metrics (CloudWatch EMF): per pair after each run, and API figures per
//! tenant and by error code.

use std::collections::BTreeMap;

use o365_activity::client::ClientStats;
use o365_activity::metrics::MetricSet;
use o365_activity::queue::Queue;
use o365_activity::store::ObjectStore;
use o365_activity::TenantId;

use crate::run::Lister;
use crate::summary::{PairOutcome, PairSummary};

impl<S: ObjectStore, Q: Queue> Lister<S, Q> {
    /// Per pair: what was listed and sent, lag, failure, stall, rejected entries, clock
    /// skew; failures also by kind, and stalls also as a plain total (for the alarms).
    pub(crate) fn emit_pair_metrics(&self, p: &PairSummary) {
        let mut m = MetricSet::new()
            .dimension("TenantId", p.tenant_id.to_string())
            .dimension("ContentType", p.content_type.as_str());
        m.count("BlobsListed", p.blobs_listed)
            .count("MessagesSent", p.messages_sent)
            .count("DuplicatesSkipped", p.duplicates_skipped)
            .count("Windows", p.windows)
            .count(
                "PairFailed",
                u64::from(matches!(p.outcome, PairOutcome::Failed(_))),
            )
            .count("PairBusy", u64::from(p.outcome == PairOutcome::Busy))
            .count("PairStalled", u64::from(p.stalled))
            .count("ListingEntriesRejected", p.entries_rejected);
        if let Some(lag) = p.lag {
            m.seconds("LagSeconds", lag.as_secs_f64());
        }
        if let Some(ahead) = p.watermark_ahead_seconds {
            m.seconds("WatermarkAheadSeconds", ahead as f64);
        }
        m.emit(&self.metrics);
        let mut total = MetricSet::new();
        total.count("PairStalled", u64::from(p.stalled));
        total.emit(&self.metrics);
        if let PairOutcome::Failed(e) = &p.outcome {
            let mut by_kind = MetricSet::new().dimension("Kind", e.kind().as_str());
            by_kind.count("PairFailed", 1);
            by_kind.emit(&self.metrics);
        }
    }

    /// Throttles and retries per tenant; API errors by code over all tenants (the
    /// dashboard's `{O365Collector,Code}` schema).
    pub(crate) fn emit_api_metrics(&self, deltas: &[(TenantId, ClientStats, ClientStats)]) {
        let mut by_code: BTreeMap<String, u64> = BTreeMap::new();
        for (tenant, before, after) in deltas {
            let mut m = MetricSet::new().dimension("TenantId", tenant.to_string());
            m.count(
                "Throttles",
                after.throttles.saturating_sub(before.throttles),
            )
            .count("ApiRetries", after.retries.saturating_sub(before.retries));
            m.emit(&self.metrics);
            for (code, n) in &after.errors_by_code {
                let was = before.errors_by_code.get(code).copied().unwrap_or(0);
                *by_code.entry(code.clone()).or_default() += n.saturating_sub(was);
            }
        }
        for (code, n) in by_code.into_iter().filter(|(_, n)| *n > 0) {
            let mut m = MetricSet::new().dimension("Code", code);
            m.count("ApiErrors", n);
            m.emit(&self.metrics);
        }
    }
}
