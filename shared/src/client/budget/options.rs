//! How a process spends a tenant's request budget: the rate, the burst, how long a download
//! may wait, and this process's share when several spend the same rate.

use std::time::Duration;

/// The documented baseline quota of a tenant, requests per minute (API reference, "API
/// throttling"); every consumer of the tenant and publisher id shares it.
pub const BASELINE_PER_MINUTE: u32 = 2_000;
/// Default ceiling: 90 % of the baseline, leaving room for the other consumers of the tenant
/// (`API_RATE_PER_MINUTE`, SAM `ApiRatePerMinute`; `o365ctl` reads the same variable).
pub const DEFAULT_RATE_PER_MINUTE: u32 = 1_800;
/// Default longest wait of a download for the budget, and the shortest the fetcher gives a
/// batch (`functions/fetcher/src/pace.rs` lengthens it when few tenants are busy). Short, so
/// a batch of many tenants never sits long on work its tenant's budget cannot serve soon:
/// that work goes back to the queue at a turn booked in the budget (see the fetcher's
/// `quota.rs`) where another invocation, or this one later, picks it up, while the batch's
/// other tenants go on. 2 s held a batch of ten tenants as long as its slowest tenant, and
/// batch after batch the others' budgets went unspent: 61 % of the ideal rate for ten
/// tenants in one process, 98 % at 300 ms (BENCHMARKS.md §7).
pub const MAX_DOWNLOAD_WAIT: Duration = Duration::from_millis(300);
/// Highest accepted rate (and burst) setting.
pub const MAX_RATE_PER_MINUTE: u32 = 1_000_000;

/// How a process spends a tenant's request budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetOptions {
    /// Most requests per minute this process sends per tenant and publisher id.
    pub rate_per_minute: u32,
    /// Requests that may go at once after an idle spell (the bucket's size).
    pub burst: u32,
    /// Longest a download waits for the budget; longer, and it fails as throttled so the
    /// work is handed back. Listing calls wait up to their deadline.
    pub max_download_wait: Duration,
    /// Time without a throttled answer before the rate grows back.
    pub quiet_period: Duration,
    /// Whether the bucket starts full (a process that spends the tenant's rate alone: the
    /// lister, `o365ctl`) or empty (a fetcher invocation, one of many that start at any
    /// time: each earns its share from its start, so a wave of new invocations never bursts
    /// past the tenant's quota).
    pub starts_full: bool,
    /// How many processes spend the tenant's rate at once (1, or `share_of`'s count): work
    /// handed back returns to a queue all of them read, so its turns are booked at the
    /// tenant's rate, not this process's share.
    pub processes: u32,
}

impl Default for BudgetOptions {
    fn default() -> Self {
        BudgetOptions::per_minute(DEFAULT_RATE_PER_MINUTE)
    }
}

impl BudgetOptions {
    /// A ceiling of `rate` requests per minute with the default burst (one second's worth,
    /// at least 1), a full bucket at the start, a [`MAX_DOWNLOAD_WAIT`] and a 5 s quiet
    /// period.
    pub fn per_minute(rate: u32) -> BudgetOptions {
        BudgetOptions {
            rate_per_minute: rate.max(1),
            burst: (rate / 60).max(1),
            max_download_wait: MAX_DOWNLOAD_WAIT,
            quiet_period: Duration::from_secs(5),
            starts_full: true,
            processes: 1,
        }
    }

    /// The same options with a bucket of `burst` requests (the service's burst, or less).
    pub fn with_burst(mut self, burst: u32) -> BudgetOptions {
        self.burst = burst;
        self
    }

    /// This invocation's share of a tenant's rate when up to `processes` processes (Lambda
    /// invocations) spend it at once: `rate / processes` (at least 1 per minute), with the
    /// burst divided alike, and an empty bucket at the start.
    pub fn share_of(mut self, processes: u32) -> BudgetOptions {
        let n = processes.max(1);
        self.rate_per_minute = (self.rate_per_minute / n).max(1);
        self.burst = (self.burst / n).max(1);
        self.starts_full = false;
        self.processes = n;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_divide_rate_and_burst() {
        let o = BudgetOptions::per_minute(1800).share_of(4);
        assert_eq!((o.rate_per_minute, o.burst, o.starts_full), (450, 7, false));
        assert!(BudgetOptions::per_minute(1800).starts_full);
        let o = BudgetOptions::per_minute(3).share_of(10);
        assert_eq!((o.rate_per_minute, o.burst), (1, 1));
        assert_eq!(BudgetOptions::per_minute(0).rate_per_minute, 1);
    }
}
