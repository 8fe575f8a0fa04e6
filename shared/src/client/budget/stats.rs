//! Requests of one budget by outcome: what the metrics and `o365ctl run`'s summary report.

use tokio::time::Instant;

use super::Outcome;
use crate::metrics::{MetricSet, MetricsSink, Unit};
use crate::tenant_id::TenantId;

/// Requests of one key by outcome, and the span they were sent in.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BudgetStats {
    /// Requests answered with success.
    pub ok: u64,
    /// Requests answered AF429 / 429.
    pub throttled: u64,
    /// Requests that failed otherwise.
    pub failed: u64,
    /// Seconds from the first to the last answer counted.
    pub seconds: f64,
    /// The adapted rate at the time of the snapshot, requests per minute.
    pub current_per_minute: f64,
}

impl BudgetStats {
    /// Every request counted.
    pub fn requests(&self) -> u64 {
        self.ok + self.throttled + self.failed
    }

    /// Throttled requests as a share of all (0 when none were made).
    pub fn throttled_share(&self) -> f64 {
        match self.requests() {
            0 => 0.0,
            n => self.throttled as f64 / n as f64,
        }
    }

    /// Requests per minute over the counted span (`None` for a span under a second, where a
    /// rate says nothing).
    pub fn effective_per_minute(&self) -> Option<f64> {
        (self.seconds >= 1.0).then(|| self.requests() as f64 * 60.0 / self.seconds)
    }
}

impl BudgetStats {
    /// One tenant's request metrics (nothing when no request was made): `ApiRequests` by
    /// `Outcome` (`Ok`, `Throttled`, `Failed`), `ApiThrottledPercent` and
    /// `ApiRequestsPerMinute` (the effective rate, when the span is long enough to say). The
    /// lister and the fetcher both emit them, once per run or batch.
    pub fn emit(&self, tenant: &TenantId, sink: &MetricsSink) {
        if self.requests() == 0 {
            return;
        }
        for (outcome, n) in [
            ("Ok", self.ok),
            ("Throttled", self.throttled),
            ("Failed", self.failed),
        ] {
            MetricSet::new()
                .dimension("TenantId", tenant.as_str())
                .dimension("Outcome", outcome)
                .count("ApiRequests", n)
                .emit(sink);
        }
        let mut m = MetricSet::new().dimension("TenantId", tenant.as_str());
        m.add(
            "ApiThrottledPercent",
            self.throttled_share() * 100.0,
            Unit::Count,
        );
        if let Some(rate) = self.effective_per_minute() {
            m.add("ApiRequestsPerMinute", rate, Unit::Count);
        }
        m.emit(sink);
    }
}

/// Counters since a moment.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Counts {
    ok: u64,
    throttled: u64,
    failed: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Counts {
    pub(super) fn add(&mut self, outcome: Outcome, now: Instant) {
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Throttled => self.throttled += 1,
            Outcome::Failed => self.failed += 1,
        }
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    pub(super) fn stats(&self, current_per_minute: f64) -> BudgetStats {
        let seconds = match (self.first, self.last) {
            (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        BudgetStats {
            ok: self.ok,
            throttled: self.throttled,
            failed: self.failed,
            seconds,
            current_per_minute,
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_count_by_outcome() {
        let s = BudgetStats {
            ok: 97,
            throttled: 2,
            failed: 1,
            seconds: 30.0,
            current_per_minute: 600.0,
        };
        assert_eq!(s.requests(), 100);
        assert!((s.throttled_share() - 0.02).abs() < 1e-12);
        assert_eq!(s.effective_per_minute(), Some(200.0));
        assert_eq!(BudgetStats::default().throttled_share(), 0.0);
        assert_eq!(BudgetStats::default().effective_per_minute(), None);
    }

    #[test]
    fn metrics_by_outcome_per_tenant() {
        let sink = MetricsSink::memory();
        let tenant: TenantId = "00000000-0000-0000-0000-000000000001".parse().unwrap();
        BudgetStats::default().emit(&tenant, &sink);
        assert!(sink.lines().is_empty(), "no request, no line");
        let s = BudgetStats {
            ok: 90,
            throttled: 10,
            failed: 0,
            seconds: 60.0,
            current_per_minute: 100.0,
        };
        s.emit(&tenant, &sink);
        let text = sink.lines().join("\n");
        for want in [
            "\"ApiRequests\":90",
            "\"ApiRequests\":10",
            "\"Outcome\":\"Throttled\"",
            "\"ApiThrottledPercent\":10",
            "\"ApiRequestsPerMinute\":100",
        ] {
            assert!(text.contains(want), "{want} in {text}");
        }
    }
}
