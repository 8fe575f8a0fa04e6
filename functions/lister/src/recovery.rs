//! The completeness audit's recovery, one path for the auditor function and `o365ctl audit`:
//! the reach sweep ([`Lister::sweep`]) of the audited tenant's pairs alone, into the lister's
//! queue. It re-lists the whole 7-day reach, so it finds a missing record's blob whenever it
//! was published, and enqueues only blobs neither stored nor recently sent. The auditor
//! function's queue is the fetcher's, which stores them on its own (the next run audits those
//! hours again); `o365ctl audit` sweeps into memory and delivers the messages like its other
//! re-listing commands, so they are stored before the hour is read again.

use o365_activity::audit::{Recovery, Relisted, Window};
use o365_activity::queue::Queue;
use o365_activity::store::ObjectStore;
use o365_activity::tenants::TenantConfig;
use tokio::time::Instant;

use crate::run::Lister;
use crate::sweep::SweepSummary;

/// Recovers through a [`Lister`] holding the audited tenants' clients, into its queue.
pub struct QueueRecovery<S: ObjectStore, Q: Queue> {
    lister: Lister<S, Q>,
}

impl<S: ObjectStore, Q: Queue> std::fmt::Debug for QueueRecovery<S, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueRecovery").finish_non_exhaustive()
    }
}

impl<S: ObjectStore, Q: Queue> QueueRecovery<S, Q> {
    /// Recovery through `lister` (its tenants are the ones that can be recovered).
    pub fn new(lister: Lister<S, Q>) -> QueueRecovery<S, Q> {
        QueueRecovery { lister }
    }

    /// Sweeps the reach of `tenant`'s pairs (no other tenant's) into the lister's queue.
    pub async fn sweep(&self, tenant: &TenantConfig, deadline: Instant) -> SweepSummary {
        let lister = Lister {
            checkpoints: self.lister.checkpoints.clone(),
            store: self.lister.store.clone(),
            queue: self.lister.queue.clone(),
            tenants: self
                .lister
                .tenants
                .iter()
                .filter(|(t, _)| t.tenant_id == tenant.tenant_id)
                .cloned()
                .collect(),
            settings: self.lister.settings.clone(),
            rules: self.lister.rules,
            clock: self.lister.clock.clone(),
            metrics: self.lister.metrics.clone(),
        };
        lister.sweep(deadline).await
    }
}

/// What a recovery reports once `sweep`'s messages were handed on: `blobs_sent` of them, and
/// whether they are `stored` already; the first pair whose sweep failed makes it an error.
pub fn relisted(sweep: &SweepSummary, blobs_sent: u64, stored: bool) -> Result<Relisted, String> {
    if let Some(p) = sweep.failed().next() {
        let why = p.error.as_ref().map(ToString::to_string);
        return Err(format!(
            "the sweep of {} failed: {}",
            p.content_type,
            why.unwrap_or_default()
        ));
    }
    Ok(Relisted { blobs_sent, stored })
}

/// The blobs are in the queue, not yet stored, when `relist` returns. (`o365ctl audit`
/// writes the same signature: `duplicates` pairs the two, deliberately.)
impl<S: ObjectStore, Q: Queue> Recovery for QueueRecovery<S, Q> {
    // The whole reach is swept: it holds every window the engine asks for.
    async fn relist(
        &self,
        tenant: &TenantConfig,
        _windows: &[Window],
        deadline: Instant,
    ) -> Result<Relisted, String> {
        let sweep = self.sweep(tenant, deadline).await;
        relisted(&sweep, sweep.recovered(), false)
    }
}
