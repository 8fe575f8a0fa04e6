//! `o365ctl audit`: the completeness audit, locally. For each configured tenant (or the
//! embedded simulator) and each settled event-time hour of the window, compares what
//! Purview's audit search lists (Graph audit log query API) with the records stored, writes
//! a report per hour under `<prefix>/_audit/`, and recovers missing records within the 7-day
//! reach with the lister's run and the auditor function's recovery, the tenant's reach sweep
//! (through the local pipeline, or `--queue-url`).
//! Exit 0 when every hour is complete, 1 when records were missing at audit time (even when
//! recovery then stored them: the next audit finds them and exits 0) or an hour is
//! inconclusive, 3 when an endpoint is unreachable.

use std::time::Duration;

use chrono::TimeDelta;
use clap::Args;
use o365_activity::audit::{
    AuditSettings, AuditSummary, Auditor, GraphSource, NoRecovery, Recovery, Relisted, Window,
};
use o365_activity::client::ClientOptions;
use o365_activity::clock::Clock;
use o365_activity::graph::{GraphClient, PollPolicy};
use o365_activity::queue::MemoryQueue;
use o365_activity::store::ObjectStore;
use o365_activity::tenants::TenantConfig;
use o365_lister::recovery::relisted;
use o365_lister::{Lister, QueueRecovery};
use tokio::time::Instant;

use crate::args::{StorageArgs, TenantArgs, WindowArgs};
use crate::commands::run::lister_of;
use crate::commands::{out, Ui};
use crate::config::process_env;
use crate::exit::{CmdResult, Code, Failure};
use crate::progress::Progress;
use crate::relist::{Delivery, Session};
use crate::target::with_store;
use crate::window::Window as CliWindow;

/// `o365ctl audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub window: WindowArgs,
    /// Audit an hour only once it ended this long ago (the Management API can publish a
    /// day late or more).
    #[arg(long, value_name = "DURATION", default_value = "48h", value_parser = parse_settle)]
    pub settle: Duration,
    /// Report only: do not re-list the windows that could hold missing records.
    #[arg(long)]
    pub no_recover: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Time budget.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = crate::args::parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub tenants: TenantArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// `--settle`: a duration as the other flags take it, or zero (`0s`: audit every ended hour).
fn parse_settle(s: &str) -> Result<Duration, String> {
    let number = s.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !number.is_empty() && number.chars().all(|c| c == '0') {
        return Ok(Duration::ZERO);
    }
    crate::args::parse_duration(s)
}

/// Runs `o365ctl audit`.
pub async fn run(args: AuditArgs, ui: Ui) -> CmdResult {
    let tenants = args.tenants.resolve(&process_env).map_err(Failure::usage)?;
    let window = CliWindow::from_args(args.window.window, args.window.last, chrono::Utc::now())
        .map_err(Failure::usage)?;
    let settle = TimeDelta::from_std(args.settle)
        .map_err(|_| Failure::usage(anyhow::anyhow!("--settle is too long")))?;
    let session = Session::open_unchecked(tenants, &args.storage).await?;
    let result = with_store!(session.store.clone(), |s| {
        let ctx = Ctx {
            store: s,
            args: &args,
            session: &session,
            ui,
        };
        ctx.audit(window, settle).await
    });
    session.close().await;
    let summary = result?;
    let line = format!(
        "audit: {} hour(s), {} Purview record(s), {} stored ({} of record types the audit cannot check), {} missing ({} recovered, {} beyond reach), {} hour(s) inconclusive",
        summary.hours,
        summary.purview_records,
        summary.stored_records,
        summary.unaudited_records,
        summary.missing_records,
        summary.recovered_records,
        summary.confirmed_gap_records,
        summary.inconclusive_hours
    );
    if args.json {
        out(&summary_json(&summary));
    } else {
        out(&line);
        for r in summary.reports.iter().filter(|r| r.missing_records > 0) {
            out(&format!(
                "  {} {}: {} missing, e.g. {}",
                r.tenant_id,
                o365_activity::time::format_rfc3339_z(r.hour),
                r.missing_records,
                r.missing_ids
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(
        if summary.missing_records == 0 && summary.inconclusive_hours == 0 {
            Code::Ok
        } else {
            Code::Partial
        },
    )
}

/// The `--json` summary: totals, cost, and each hour's verdict with its first missing Ids.
fn summary_json(s: &AuditSummary) -> String {
    let hours: Vec<serde_json::Value> = s
        .reports
        .iter()
        .zip(&s.report_keys)
        .map(|(r, key)| {
            serde_json::json!({
                "tenant_id": r.tenant_id,
                "hour": o365_activity::time::format_rfc3339_z(r.hour),
                "verdict": r.verdict,
                "purview_records": r.purview_records,
                "stored_records": r.stored_records,
                "missing_records": r.missing_records,
                "missing_ids": r.missing_ids,
                "recovered_records": r.recovery.as_ref().map_or(0, |n| n.recovered_records),
                "recovery": r.recovery,
                "report": key,
            })
        })
        .collect();
    serde_json::json!({
        "hours": s.hours,
        "complete_hours": s.complete_hours,
        "missing_hours": s.missing_hours,
        "inconclusive_hours": s.inconclusive_hours,
        "purview_records": s.purview_records,
        "stored_records": s.stored_records,
        "unaudited_records": s.unaudited_records,
        "missing_records": s.missing_records,
        "recovered_records": s.recovered_records,
        "confirmed_gap_records": s.confirmed_gap_records,
        "reaudit_hours": s
            .reaudit_hours()
            .map(|r| o365_activity::time::format_rfc3339_z(r.hour))
            .collect::<Vec<_>>(),
        "cost": s.cost,
        "per_hour": hours,
    })
    .to_string()
}

/// What an audit run works with.
struct Ctx<'a, S> {
    store: S,
    args: &'a AuditArgs,
    session: &'a Session,
    ui: Ui,
}

impl<S: ObjectStore> Ctx<'_, S> {
    async fn audit(&self, window: CliWindow, settle: TimeDelta) -> Result<AuditSummary, Failure> {
        let deadline = Instant::now() + self.args.timeout;
        let settings = AuditSettings {
            prefix: self.args.storage.prefix.clone(),
            settle,
            ..AuditSettings::default()
        };
        let auditor = Auditor::new(self.store.clone(), settings, Clock::system());
        let hours = auditor
            .settled_hours(window.start, window.end)
            .map_err(Failure::usage)?;
        let mut total = AuditSummary::default();
        for (tenant, _) in &self.session.conn.tenants {
            let client = GraphClient::new(tenant, ClientOptions::default(), Clock::system())
                .map_err(|e| Failure::usage(anyhow::anyhow!("{e}")))?;
            let source = GraphSource {
                client,
                poll: PollPolicy::default(),
            };
            let result = if self.args.no_recover {
                auditor
                    .audit_tenant(tenant, &source, &hours, &NoRecovery, deadline)
                    .await
            } else {
                auditor
                    .audit_tenant(tenant, &source, &hours, self, deadline)
                    .await
            };
            match result {
                Ok(s) => total.merge(s),
                Err(e) if e.is_unreachable() => {
                    return Err(Failure::unreachable(anyhow::anyhow!(
                        "tenant {}: {e}",
                        tenant.tenant_id
                    )))
                }
                Err(e) => {
                    return Err(Failure::from(anyhow::anyhow!(
                        "tenant {}: {e}",
                        tenant.tenant_id
                    )))
                }
            }
        }
        Ok(total)
    }
}

impl<S: ObjectStore> Ctx<'_, S> {
    /// The lister of `tenant` alone, sending into `queue`: a run then moves no other
    /// tenant's checkpoints (their blobs would be listed here and never delivered).
    fn lister(&self, queue: &MemoryQueue, tenant: &TenantConfig) -> Lister<S, MemoryQueue> {
        let session = self.session;
        let tenants = session
            .conn
            .tenants
            .iter()
            .filter(|(t, _)| t.tenant_id == tenant.tenant_id)
            .cloned()
            .collect();
        lister_of(
            self.store.clone(),
            queue.clone(),
            tenants,
            &session.settings,
        )
    }

    /// Delivers what the lister put in `queue`, like `o365ctl sweep` delivers.
    async fn deliver(&self, queue: &MemoryQueue, deadline: Instant) -> Result<u64, String> {
        let progress = Progress::new(self.ui.quiet, true);
        let delivered = self
            .session
            .deliver(self.store.clone(), queue.drain(), deadline, &progress)
            .await
            .map_err(|e| e.to_string())?;
        Ok(delivered.sent as u64)
    }
}

/// Catching up through a lister run since the checkpoints; recovery through the auditor
/// function's own ([`QueueRecovery`]: the tenant's reach sweep), into memory, then delivered.
impl<S: ObjectStore> Recovery for Ctx<'_, S> {
    async fn catch_up(&self, tenant: &TenantConfig, deadline: Instant) -> Result<u64, String> {
        // Only a local pipeline has stored the blobs when this returns.
        if !matches!(self.session.delivery, Delivery::Local) {
            return Ok(0);
        }
        let queue = MemoryQueue::new();
        let lister = self.lister(&queue, tenant);
        // The run's future is not provably `Send` behind this generic store (its per-pair
        // closures), which the recovery trait asks for: it runs to completion on this worker.
        let run = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(lister.run(deadline))
        });
        tracing::debug!(?run, "listing since the checkpoints done");
        self.deliver(&queue, deadline).await
    }

    // `Recovery::relist`'s signature, as `QueueRecovery` writes it too: `duplicates` pairs
    // the two, deliberately (both implement the trait; the recovery itself is one).
    async fn relist(
        &self,
        tenant: &TenantConfig,
        _windows: &[Window],
        deadline: Instant,
    ) -> Result<Relisted, String> {
        tracing::info!(tenant_id = %tenant.tenant_id, "missing records within reach: sweeping the reach");
        let queue = MemoryQueue::new();
        let swept = QueueRecovery::new(self.lister(&queue, tenant))
            .sweep(tenant, deadline)
            .await;
        let sent = self.deliver(&queue, deadline).await?;
        relisted(
            &swept,
            sent,
            matches!(self.session.delivery, Delivery::Local),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settle_takes_zero_and_durations() {
        assert_eq!(parse_settle("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_settle("0"), Ok(Duration::ZERO));
        assert_eq!(parse_settle("48h"), Ok(Duration::from_secs(48 * 3600)));
        assert!(parse_settle("soon").is_err());
    }
}
