//! How long a batch's downloads wait for their tenants' budgets before they are handed back
//! (`quota.rs`): long when this process serves few busy tenants, short when it serves many.
//!
//! - One busy tenant: a batch is all its work and there is no other tenant's work to take,
//!   so each download waits for its turn (up to the time the share needs for the whole
//!   batch). Handed back early, the work would return at random to whichever process takes
//!   it, where a share that just spent its tokens hands it back again while another's fills
//!   up unused: four processes reached 80 % of the tenant's rate with 3.7 hand-backs per blob,
//!   97 % with none when they wait (BENCHMARKS.md §7).
//! - `k` busy tenants: a batch brings each about `slots / k` messages, and which tenant's work
//!   comes next is random. A share is kept busy only when work reaches it faster than it
//!   serves it, so the batch turns over `k` times faster than its tenants could serve it
//!   together: `slots / (k × Σ rates)`. With ten busy tenants that is under the shortest
//!   wait ([`MAX_DOWNLOAD_WAIT`], 300 ms); there, a longer wait holds back the other tenants'
//!   next work (800 ms: 75 % of the ideal rate instead of 92 %).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use o365_activity::client::budget::MAX_DOWNLOAD_WAIT;
use o365_activity::TenantId;
use tokio::time::Instant;

/// Longest a download waits for its tenant's budget, however few tenants are busy: well
/// inside the queue's visibility timeout and the invocation's time.
pub const MAX_BATCH_WAIT: Duration = Duration::from_secs(10);
/// How long a tenant counts as busy after this process last received its work.
pub const BUSY_WINDOW: Duration = Duration::from_secs(5);

/// The tenants whose work this process received lately, shared by its batches.
#[derive(Debug, Default, Clone)]
pub(crate) struct BusyTenants(Arc<Mutex<HashMap<TenantId, Instant>>>);

impl BusyTenants {
    /// Notes that a batch holding `tenants`' work arrived at `now`, forgets the tenants not
    /// seen for [`BUSY_WINDOW`], and returns the busy ones.
    pub(crate) fn arrived(
        &self,
        tenants: impl IntoIterator<Item = TenantId>,
        now: Instant,
    ) -> Vec<TenantId> {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for t in tenants {
            seen.insert(t, now);
        }
        seen.retain(|_, at| now.saturating_duration_since(*at) <= BUSY_WINDOW);
        seen.keys().cloned().collect()
    }
}

/// How long each download of a batch of `slots` messages at once waits for its tenant's
/// budget, given the rates (requests per second) of the busy tenants' budgets:
/// `slots / (busy tenants × Σ rates)`, at least [`MAX_DOWNLOAD_WAIT`], at most
/// [`MAX_BATCH_WAIT`].
pub fn batch_wait(slots: usize, rates: &[f64]) -> Duration {
    let rates: Vec<f64> = rates
        .iter()
        .copied()
        .filter(|r| r.is_finite() && *r > 0.0)
        .collect();
    let total: f64 = rates.iter().sum();
    if total <= 0.0 {
        return MAX_DOWNLOAD_WAIT;
    }
    let seconds = slots.max(1) as f64 / (rates.len() as f64 * total);
    Duration::try_from_secs_f64(seconds)
        .unwrap_or(MAX_BATCH_WAIT)
        .clamp(MAX_DOWNLOAD_WAIT, MAX_BATCH_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_busy_tenants_wait_longer_than_many() {
        // A quarter of 300/min per tenant (1.25/s), ten downloads at once: one busy tenant
        // waits for its whole batch; with two, each share is fed twice as fast as it serves.
        assert_eq!(batch_wait(10, &[1.25]), Duration::from_secs(8));
        assert_eq!(batch_wait(10, &[1.25, 1.25]), Duration::from_secs(2));
        // Ten busy tenants: the shortest wait.
        assert_eq!(batch_wait(10, &[1.25; 10]), MAX_DOWNLOAD_WAIT);
        // A tenant slowed to a trickle: never above the longest.
        assert_eq!(batch_wait(10, &[0.01]), MAX_BATCH_WAIT);
        // Nothing known about the rates: the shortest.
        assert_eq!(batch_wait(10, &[]), MAX_DOWNLOAD_WAIT);
        assert_eq!(batch_wait(10, &[f64::NAN, 0.0]), MAX_DOWNLOAD_WAIT);
        assert_eq!(batch_wait(0, &[f64::INFINITY]), MAX_DOWNLOAD_WAIT);
    }

    #[test]
    fn tenants_stay_busy_for_the_window() {
        let busy = BusyTenants::default();
        let a = "00000000-0000-0000-0000-00000000000a"
            .parse::<TenantId>()
            .unwrap();
        let b = "00000000-0000-0000-0000-00000000000b"
            .parse::<TenantId>()
            .unwrap();
        let t0 = Instant::now();
        assert_eq!(busy.arrived([a.clone()], t0), vec![a.clone()]);
        let mut both = busy.arrived([b.clone()], t0 + Duration::from_secs(3));
        both.sort();
        assert_eq!(both, vec![a.clone(), b.clone()]);
        // `a` was last seen 6 s ago: no longer busy.
        assert_eq!(
            busy.arrived([b.clone()], t0 + Duration::from_secs(6)),
            vec![b]
        );
    }
}
