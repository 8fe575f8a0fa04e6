//! Recovery in AWS: the `contentCreated` windows that could hold an hour's missing records are
//! listed again with the lister's own [`Lister::list_window`] (no lease, no progress touched)
//! and every blob listed goes to the fetcher's queue. Blobs already stored cost the fetcher a
//! HEAD and nothing else (one object per content id); the hour is audited again on a later run,
//! once the fetcher has stored what was missing.

use o365_activity::audit::{Recovery, Relisted, Window};
use o365_activity::queue::Queue;
use o365_activity::store::ObjectStore;
use o365_activity::tenants::TenantConfig;
use o365_lister::Lister;
use tokio::time::Instant;

/// Re-lists through a [`Lister`] holding the audited tenants' clients, into its queue.
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
}

impl<S: ObjectStore, Q: Queue> Recovery for QueueRecovery<S, Q> {
    async fn relist(
        &self,
        tenant: &TenantConfig,
        windows: &[Window],
        deadline: Instant,
    ) -> Result<Relisted, String> {
        let mut sent: u64 = 0;
        for ct in &tenant.content_types {
            for (start, end) in windows {
                let n = self
                    .lister
                    .list_window(&tenant.tenant_id, *ct, *start, *end, deadline)
                    .await
                    .map_err(|e| e.to_string())?;
                sent = sent.saturating_add(n as u64);
            }
        }
        Ok(Relisted {
            blobs_sent: sent,
            stored: false,
        })
    }
}
