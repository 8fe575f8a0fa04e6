//! The report printed after `run` and `backfill`: where the output is, and tenants, types,
//! blobs, records, gaps, errors and lag; as text for people or JSON for scripts.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use o365_lister::{PairOutcome, RunSummary};
use serde::Serialize;

use crate::exit::Code;
use crate::pipeline::FetchTotals;

/// The API requests one tenant made during a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TenantRequests {
    /// The tenant.
    pub tenant_id: String,
    /// Answered with success.
    pub ok: u64,
    /// Answered AF429 / 429.
    pub throttled: u64,
    /// Failed otherwise.
    pub failed: u64,
    /// Requests per minute over the run (the effective rate).
    pub per_minute: Option<f64>,
}

impl TenantRequests {
    /// What a tenant's budget counted between two snapshots `seconds` apart.
    pub fn between(
        tenant_id: &str,
        before: &o365_activity::client::BudgetStats,
        after: &o365_activity::client::BudgetStats,
        seconds: f64,
    ) -> TenantRequests {
        let ok = after.ok.saturating_sub(before.ok);
        let throttled = after.throttled.saturating_sub(before.throttled);
        let failed = after.failed.saturating_sub(before.failed);
        let total = ok + throttled + failed;
        TenantRequests {
            tenant_id: tenant_id.to_owned(),
            ok,
            throttled,
            failed,
            per_minute: (seconds >= 1.0).then(|| total as f64 * 60.0 / seconds),
        }
    }

    /// One line for people: `tenant: N (T throttled, P %), R/min`.
    pub fn to_text(&self) -> String {
        let total = self.ok + self.throttled + self.failed;
        let share = if total == 0 {
            0.0
        } else {
            self.throttled as f64 * 100.0 / total as f64
        };
        let rate = self
            .per_minute
            .map(|r| format!(", {r:.0}/min"))
            .unwrap_or_default();
        format!(
            "{}: {total} ({} throttled, {share:.1} %; {} failed){rate}",
            self.tenant_id, self.throttled, self.failed
        )
    }
}

/// Everything one run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Which run of `--every` (from 1; always 1 for `--once`).
    pub run: u64,
    /// Whether runs repeat (`--every`): only then is the run number shown.
    #[serde(skip)]
    pub repeating: bool,
    /// Where the data came from.
    pub source: String,
    /// API requests per tenant during the run, by outcome (from the tenants' request budgets).
    pub api_requests: Vec<TenantRequests>,
    /// Where the objects are.
    pub output: String,
    /// Tenants worked on (reachable or not).
    pub tenants: usize,
    /// Distinct content types worked on.
    pub content_types: usize,
    /// Messages the lister queued.
    pub queued: u64,
    /// What the fetcher did.
    pub fetch: FetchTotals,
    /// Gap reports written by this run.
    pub gaps: usize,
    /// Failed tenant × type pairs, unreachable tenants and failed blobs.
    pub errors: u64,
    /// The largest lag of any pair, in seconds.
    pub max_lag_seconds: Option<u64>,
    /// Tenants skipped because their pre-flight check failed, with the reason.
    pub unreachable: Vec<String>,
    /// The lister's summary per tenant × content type.
    pub lister: RunSummary,
}

impl RunReport {
    /// Builds the report from the lister's and the fetcher's results.
    pub fn new(
        run: u64,
        source: String,
        output: String,
        lister: RunSummary,
        fetch: FetchTotals,
        unreachable: Vec<String>,
    ) -> RunReport {
        let tenants: BTreeSet<_> = lister.pairs.iter().map(|p| p.tenant_id.clone()).collect();
        let types: BTreeSet<_> = lister.pairs.iter().map(|p| p.content_type).collect();
        let failed_pairs = lister.failed().count() as u64;
        RunReport {
            run,
            repeating: false,
            api_requests: Vec::new(),
            source,
            output,
            tenants: tenants.len() + unreachable.len(),
            content_types: types.len(),
            queued: lister.messages_sent(),
            gaps: lister.pairs.iter().map(|p| p.gaps.len()).sum(),
            errors: failed_pairs + fetch.errors() + unreachable.len() as u64,
            max_lag_seconds: lister
                .pairs
                .iter()
                .filter_map(|p| p.lag)
                .map(|d| d.as_secs())
                .max(),
            fetch,
            unreachable,
            lister,
        }
    }

    /// The exit code this run calls for.
    pub fn code(&self) -> Code {
        if self.errors == 0 {
            Code::Ok
        } else {
            Code::Partial
        }
    }

    /// The report as one JSON line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let f = &self.fetch;
        if self.repeating {
            let _ = writeln!(s, "o365ctl run #{}: {}", self.run, self.source);
        } else {
            let _ = writeln!(s, "o365ctl run: {}", self.source);
        }
        let _ = writeln!(s, "  output         {}", self.output);
        let _ = writeln!(s, "  tenants        {}", self.tenants);
        let _ = writeln!(s, "  content types  {}", self.content_types);
        let duplicates: u64 = self.lister.pairs.iter().map(|p| p.duplicates_skipped).sum();
        let _ = writeln!(
            s,
            "  blobs          {} stored, {} already present ({} queued, {} listed again and skipped as already sent)",
            f.blobs_stored, f.blobs_skipped, self.queued, duplicates
        );
        if f.handed_back > 0 {
            let _ = writeln!(
                s,
                "  handed back    {} throttled message(s) sent back to the queue with a delay, to be fetched when they return",
                f.handed_back
            );
        }
        let _ = writeln!(s, "  records        {}", f.records);
        for (name, h) in [
            ("event→avail", &f.latency.event_to_available),
            ("avail→stored", &f.latency.available_to_stored),
        ] {
            if let Some(p) = h.percentiles() {
                let _ = writeln!(
                    s,
                    "  {name:<13}  p50 {}, p95 {}, p99 {}, max {} (per record)",
                    human(p.p50),
                    human(p.p95),
                    human(p.p99),
                    human(p.max)
                );
            }
        }
        let _ = writeln!(s, "  gaps           {}", self.gaps);
        let _ = writeln!(s, "  errors         {}{}", self.errors, error_detail(self));
        for r in &self.api_requests {
            let _ = writeln!(s, "  API requests   {}", r.to_text());
        }
        let _ = writeln!(
            s,
            "  lag            {}",
            self.max_lag_seconds
                .map(|l| format!("{} (largest of any tenant and type)", human(l)))
                .unwrap_or_else(|| "-".into())
        );
        if !self.lister.pairs.is_empty() {
            let _ = writeln!(
                s,
                "\n  {:<36}  {:<27}  {:<7}  {:>6}  {:>6}  {:>8}",
                "tenant", "content type", "result", "listed", "queued", "lag"
            );
            for p in &self.lister.pairs {
                let result = match &p.outcome {
                    PairOutcome::Ok if p.stalled => "STALLED",
                    PairOutcome::Ok if p.complete => "ok",
                    PairOutcome::Ok => "partial",
                    PairOutcome::Busy => "busy",
                    PairOutcome::Failed(_) => "FAILED",
                };
                let _ = writeln!(
                    s,
                    "  {:<36}  {:<27}  {:<7}  {:>6}  {:>6}  {:>8}",
                    p.tenant_id.as_str(),
                    p.content_type.as_str(),
                    result,
                    p.blobs_listed,
                    p.messages_sent,
                    p.lag
                        .map(|d| human(d.as_secs()))
                        .unwrap_or_else(|| "-".into())
                );
                match &p.outcome {
                    PairOutcome::Failed(why) => {
                        let _ = writeln!(s, "      {why}");
                    }
                    PairOutcome::Busy => {
                        let _ = writeln!(
                            s,
                            "      another run holds this pair; a run killed without a chance to stop (kill -9, a second Ctrl-C) keeps it until its lease expires (the end of its --timeout, 15 minutes by default; see o365ctl status)"
                        );
                    }
                    PairOutcome::Ok if p.stalled => {
                        let _ = writeln!(
                            s,
                            "      no progress for several runs (or no window ever completed): see o365ctl status for the last error"
                        );
                    }
                    PairOutcome::Ok => {}
                }
                for g in &p.gaps {
                    let _ = writeln!(
                        s,
                        "      GAP {} .. {} could no longer be listed",
                        o365_activity::time::format_listing_time(g.lost_from),
                        o365_activity::time::format_listing_time(g.lost_to)
                    );
                }
            }
        }
        for u in &self.unreachable {
            let _ = writeln!(s, "  skipped: {u}");
        }
        s
    }
}

fn error_detail(r: &RunReport) -> String {
    if r.fetch.errors_by_kind.is_empty() {
        return String::new();
    }
    let kinds: Vec<String> = r
        .fetch
        .errors_by_kind
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    format!(
        " (blobs: {}; reports under {}/_errors/)",
        kinds.join(", "),
        r.output
    )
}

/// Seconds as `3h 12m` / `4m 5s` / `9s`.
pub fn human(secs: u64) -> String {
    let d = Duration::from_secs(secs);
    let (h, m, s) = (d.as_secs() / 3600, d.as_secs() / 60 % 60, d.as_secs() % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_requests_between_two_snapshots() {
        let stats = |ok, throttled| o365_activity::client::BudgetStats {
            ok,
            throttled,
            ..Default::default()
        };
        let r = TenantRequests::between("t", &stats(10, 1), &stats(108, 3), 60.0);
        assert_eq!((r.ok, r.throttled, r.failed), (98, 2, 0));
        assert_eq!(
            r.to_text(),
            "t: 100 (2 throttled, 2.0 %; 0 failed), 100/min"
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(9), "9s");
        assert_eq!(human(245), "4m 5s");
        assert_eq!(human(3 * 3600 + 12 * 60 + 5), "3h 12m");
    }

    #[test]
    fn text_shows_per_record_latency_percentiles() {
        use o365_activity::latency::{LatencyHistogram, RecordLatency};
        let mut event = LatencyHistogram::default();
        for secs in 1..=100 {
            event.add(secs * 60, 1);
        }
        let fetch = FetchTotals {
            records: 100,
            latency: RecordLatency {
                event_to_available: event,
                available_to_stored: LatencyHistogram::constant(9, 100),
            },
            ..FetchTotals::default()
        };
        let r = RunReport::new(
            1,
            "sim".into(),
            "./data".into(),
            RunSummary {
                run_id: "r".into(),
                pairs: Vec::new(),
            },
            fetch,
            Vec::new(),
        );
        let text = r.to_text();
        assert!(
            text.contains(
                "event→avail    p50 50m 0s, p95 1h 35m, p99 1h 39m, max 1h 40m (per record)"
            ),
            "{text}"
        );
        assert!(
            text.contains("avail→stored   p50 9s, p95 9s, p99 9s, max 9s (per record)"),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(
            json["fetch"]["latency"]["available_to_stored_seconds"]["p95"],
            9
        );
    }
}
