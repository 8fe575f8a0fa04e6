//! The tenants a warm function serves, reloaded from their source on a TTL and at once (within
//! a cooldown) when a message names a tenant it does not know, so a tenant onboarded with only
//! `put-secret-value` is collected without a cold start.

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::settings::ReloadPolicy;
use super::tenants::{TenantLoadError, TenantLoader};
use crate::client::{ActivityClient, ClientError, ClientOptions};
use crate::tenant_id::TenantId;
use crate::tenants::TenantConfig;

/// The tenants with their API clients, as loaded last.
pub type Tenants = Arc<Vec<(TenantConfig, ActivityClient)>>;

/// Why the tenants could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The source could not be read or is unusable.
    #[error(transparent)]
    Load(#[from] TenantLoadError),
    /// A tenant's API client could not be built.
    #[error("tenant {tenant}: {source}")]
    Client {
        /// The tenant.
        tenant: TenantId,
        /// Why.
        #[source]
        source: ClientError,
    },
}

struct State {
    tenants: Tenants,
    /// Last successful load.
    loaded_at: Instant,
    /// Last attempt, successful or not (the cooldown counts from here).
    attempted_at: Instant,
}

/// A function's tenants and their clients; shared by every invocation of a warm function.
pub struct TenantRegistry {
    loader: Option<TenantLoader>,
    policy: ReloadPolicy,
    options: ClientOptions,
    state: Mutex<State>,
}

impl std::fmt::Debug for TenantRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantRegistry")
            .field("loader", &self.loader)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Builds the clients of `configs`, keeping the client (and its cached token) of every tenant
/// whose configuration did not change.
fn with_clients(
    configs: Vec<TenantConfig>,
    previous: &[(TenantConfig, ActivityClient)],
    options: &ClientOptions,
) -> Result<Vec<(TenantConfig, ActivityClient)>, RegistryError> {
    configs
        .into_iter()
        .map(|config| {
            let kept = previous
                .iter()
                .find(|(old, _)| *old == config)
                .map(|(_, c)| c.clone());
            let client = match kept {
                Some(c) => c,
                None => ActivityClient::new(&config, options.clone()).map_err(|source| {
                    RegistryError::Client {
                        tenant: config.tenant_id.clone(),
                        source,
                    }
                })?,
            };
            Ok((config, client))
        })
        .collect()
}

impl TenantRegistry {
    /// Loads the tenants once (at cold start: an error here ends the start with its message).
    pub async fn load(
        loader: TenantLoader,
        policy: ReloadPolicy,
        options: ClientOptions,
    ) -> Result<TenantRegistry, RegistryError> {
        let tenants = with_clients(loader.load().await?, &[], &options)?;
        tracing::info!(tenants = tenants.len(), source = %loader.describe(), "tenants loaded");
        let now = Instant::now();
        Ok(TenantRegistry {
            loader: Some(loader),
            policy,
            options,
            state: Mutex::new(State {
                tenants: Arc::new(tenants),
                loaded_at: now,
                attempted_at: now,
            }),
        })
    }

    /// A registry that never reloads (local runs and tests with a fixed list).
    pub fn fixed(tenants: Vec<(TenantConfig, ActivityClient)>) -> TenantRegistry {
        let now = Instant::now();
        TenantRegistry {
            loader: None,
            policy: ReloadPolicy::default(),
            options: ClientOptions::default(),
            state: Mutex::new(State {
                tenants: Arc::new(tenants),
                loaded_at: now,
                attempted_at: now,
            }),
        }
    }

    /// The current tenants, reloaded first when older than the TTL. A failed reload keeps
    /// the previous list (and says so in the logs).
    pub async fn tenants(&self) -> Tenants {
        let mut state = self.state.lock().await;
        if state.loaded_at.elapsed() >= self.policy.ttl
            && state.attempted_at.elapsed() >= self.policy.cooldown
        {
            self.reload(&mut state, "ttl").await;
        }
        state.tenants.clone()
    }

    /// The tenants as loaded last, without reloading (for per-batch metrics).
    pub async fn loaded(&self) -> Tenants {
        self.state.lock().await.tenants.clone()
    }

    /// The client of `tenant`. A tenant not in the current list triggers a reload at once,
    /// unless one was tried within the cooldown; `None` when it is still unknown after that.
    pub async fn client(&self, tenant: &TenantId) -> Option<ActivityClient> {
        let find = |tenants: &Tenants| {
            tenants
                .iter()
                .find(|(t, _)| t.tenant_id == *tenant)
                .map(|(_, c)| c.clone())
        };
        let current = self.tenants().await;
        if let Some(c) = find(&current) {
            return Some(c);
        }
        let mut state = self.state.lock().await;
        // Another message may have reloaded while this one waited for the lock.
        if let Some(c) = find(&state.tenants) {
            return Some(c);
        }
        if self.loader.is_some() && state.attempted_at.elapsed() >= self.policy.cooldown {
            tracing::info!(%tenant, "a message names a tenant not loaded; reloading the tenants");
            self.reload(&mut state, "unknown tenant").await;
        }
        find(&state.tenants)
    }

    async fn reload(&self, state: &mut State, why: &'static str) {
        let Some(loader) = &self.loader else {
            return;
        };
        state.attempted_at = Instant::now();
        let loaded = match loader.load().await {
            Ok(configs) => with_clients(configs, &state.tenants, &self.options),
            Err(e) => Err(e.into()),
        };
        match loaded {
            Ok(tenants) => {
                let before = state.tenants.len();
                tracing::info!(
                    reason = why,
                    before,
                    after = tenants.len(),
                    "tenants reloaded"
                );
                state.tenants = Arc::new(tenants);
                state.loaded_at = state.attempted_at;
            }
            Err(e) => tracing::error!(
                reason = why,
                error = %e,
                kept = state.tenants.len(),
                "reloading the tenants failed; keeping the tenants loaded before"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use crate::tenants::TenantsFile;

    fn tenant(n: u32) -> TenantConfig {
        let json = format!(
            r#"{{"tenants":[{{"tenant_id":"00000000-0000-0000-0000-{n:012}","client_id":"00000000-0000-0000-0000-000000000c01","client_secret":"x","api_root":"http://127.0.0.1:9","login_root":"http://127.0.0.1:9"}}]}}"#
        );
        TenantsFile::from_json(&json)
            .unwrap()
            .resolve(&|_| None)
            .unwrap()
            .remove(0)
    }

    /// A registry over a source that serves the first `count` tenants (1 at first), with the
    /// policy's TTL and cooldown in tenths of a second: the registry, `count` and the number
    /// of reads of the source.
    async fn counted(
        ttl: u64,
        cooldown: u64,
    ) -> (TenantRegistry, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let (count, reads) = (Arc::new(AtomicUsize::new(1)), Arc::new(AtomicUsize::new(0)));
        let (c, n) = (count.clone(), reads.clone());
        let source = TenantLoader::custom(move || {
            n.fetch_add(1, Ordering::SeqCst);
            Ok((1..=c.load(Ordering::SeqCst) as u32).map(tenant).collect())
        });
        let policy = policy(ttl, cooldown);
        let r = TenantRegistry::load(source, policy, ClientOptions::default())
            .await
            .unwrap();
        (r, count, reads)
    }

    /// A policy in tenths of a second, so the tests wait for real but briefly.
    fn policy(ttl: u64, cooldown: u64) -> ReloadPolicy {
        ReloadPolicy {
            ttl: Duration::from_millis(ttl * 100),
            cooldown: Duration::from_millis(cooldown * 100),
        }
    }

    async fn wait(tenths: u64) {
        tokio::time::sleep(Duration::from_millis(tenths * 100)).await;
    }

    #[tokio::test]
    async fn reloads_after_the_ttl_and_keeps_unchanged_clients() {
        let (r, count, reads) = counted(10, 1).await;
        let first = r.tenants().await;
        count.store(2, Ordering::SeqCst);
        assert_eq!(r.tenants().await.len(), 1, "within the TTL");
        wait(11).await;
        let second = r.tenants().await;
        assert_eq!(second.len(), 2);
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        assert!(
            first[0].1.is_same_client(&second[0].1),
            "the unchanged tenant keeps its client"
        );
    }

    #[tokio::test]
    async fn unknown_tenant_reloads_at_once_but_within_a_cooldown() {
        let (r, count, reads) = counted(10, 1).await;
        let stranger = tenant(9).tenant_id;
        wait(1).await;
        // A flood of messages for a tenant nobody configured reads the source once.
        for _ in 0..100 {
            assert!(r.client(&stranger).await.is_none());
        }
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        // A tenant added to the source is found at once after the cooldown.
        count.store(2, Ordering::SeqCst);
        wait(1).await;
        assert!(r.client(&tenant(2).tenant_id).await.is_some());
        assert_eq!(reads.load(Ordering::SeqCst), 3);
        assert!(r.client(&tenant(1).tenant_id).await.is_some());
        assert_eq!(
            reads.load(Ordering::SeqCst),
            3,
            "known tenants read nothing"
        );
    }

    #[tokio::test]
    async fn a_failed_reload_keeps_the_previous_tenants() {
        let fail = Arc::new(AtomicUsize::new(0));
        let f = fail.clone();
        let loader = TenantLoader::custom(move || {
            if f.load(Ordering::SeqCst) == 1 {
                Err(TenantLoadError::Custom("unreachable".into()))
            } else {
                Ok(vec![tenant(1)])
            }
        });
        let r = TenantRegistry::load(loader, policy(1, 0), ClientOptions::default())
            .await
            .unwrap();
        fail.store(1, Ordering::SeqCst);
        wait(1).await;
        assert_eq!(r.tenants().await.len(), 1);
        assert!(r.client(&tenant(1).tenant_id).await.is_some());
    }

    #[tokio::test]
    async fn a_fixed_registry_never_reloads() {
        let t = tenant(1);
        let c = ActivityClient::new(&t, ClientOptions::default()).unwrap();
        let r = TenantRegistry::fixed(vec![(t.clone(), c)]);
        assert!(r.client(&t.tenant_id).await.is_some());
        assert!(r.client(&tenant(2).tenant_id).await.is_none());
    }
}
