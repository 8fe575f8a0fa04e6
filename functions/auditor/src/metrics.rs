//! The auditor's metrics (CloudWatch EMF) after each invocation: per tenant with the
//! `TenantId` dimension (the dashboard's `{O365Collector,TenantId}` searches), and once more
//! as plain totals over every tenant (what `AuditMissingRecordsAlarm` sums, so tenants added
//! later are covered). The figures are the library's ([`AuditSummary::metric_set`]:
//! `AuditMissingRecords`, `AuditInconclusive`, `AuditHours`, …); this adds `AuditErrors`
//! (tenants whose audit failed).

use o365_activity::audit::AuditSummary;
use o365_activity::metrics::MetricsSink;
use o365_activity::TenantId;

/// Emits one tenant's figures with `TenantId`; `failed` counts it in `AuditErrors` (what it
/// concluded before failing is still counted).
pub fn emit_tenant(sink: &MetricsSink, tenant: &TenantId, summary: &AuditSummary, failed: bool) {
    let mut m = summary
        .metric_set()
        .dimension("TenantId", tenant.to_string());
    m.count("AuditErrors", u64::from(failed));
    m.emit(sink);
}

/// Emits the totals over every tenant, without a dimension.
pub fn emit_total(sink: &MetricsSink, total: &AuditSummary, failed_tenants: usize) {
    let mut m = total.metric_set();
    m.count("AuditErrors", failed_tenants as u64);
    m.emit(sink);
}
