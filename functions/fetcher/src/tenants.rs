//! Which API client serves a message's tenant: a fixed set (local runs and tests) or the
//! Lambda's [`TenantRegistry`], which reloads its source when a message names a tenant it does
//! not know yet.

use std::collections::HashMap;
use std::sync::Arc;

use o365_activity::bootstrap::TenantRegistry;
use o365_activity::client::ActivityClient;
use o365_activity::TenantId;

/// The fetcher's tenants.
#[derive(Clone)]
pub(crate) enum TenantClients {
    /// A set given once.
    Fixed(Arc<HashMap<TenantId, ActivityClient>>),
    /// Reloaded on a TTL and on an unknown tenant.
    Registry(Arc<TenantRegistry>),
}

impl std::fmt::Debug for TenantClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TenantClients::Fixed(m) => write!(f, "{} fixed tenants", m.len()),
            TenantClients::Registry(r) => r.fmt(f),
        }
    }
}

impl TenantClients {
    /// A fixed set, one client per tenant.
    pub(crate) fn fixed(clients: impl IntoIterator<Item = ActivityClient>) -> TenantClients {
        TenantClients::Fixed(Arc::new(
            clients
                .into_iter()
                .map(|c| (c.tenant_id().clone(), c))
                .collect(),
        ))
    }

    /// Every client as loaded now (no reload), by tenant.
    pub(crate) async fn snapshot(&self) -> HashMap<TenantId, ActivityClient> {
        match self {
            TenantClients::Fixed(m) => m.as_ref().clone(),
            TenantClients::Registry(r) => r
                .loaded()
                .await
                .iter()
                .map(|(t, c)| (t.tenant_id.clone(), c.clone()))
                .collect(),
        }
    }

    /// The client of `tenant`; `None` when it is unknown (after a reload, for a registry).
    pub(crate) async fn client(&self, tenant: &TenantId) -> Option<ActivityClient> {
        match self {
            TenantClients::Fixed(m) => m.get(tenant).cloned(),
            TenantClients::Registry(r) => r.client(tenant).await,
        }
    }
}
