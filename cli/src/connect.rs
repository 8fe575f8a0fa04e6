//! Turns resolved tenants into API clients: starts the embedded simulator when no tenant is
//! configured, and checks each real tenant's token endpoint and API once before any work, so
//! wrong credentials or an unreachable endpoint fail fast with a message that says what to do.

use std::time::Duration;

use o365_activity::client::{ActivityClient, ClientError, ClientOptions, RetryPolicy};
use o365_activity::tenants::TenantConfig;
use o365_activity::ContentType;
use o365_sim::{SimConfig, SimHandle, TenantSpec};
use tokio::time::Instant;

use crate::config::{simulator_entry, Tenants};
use crate::exit::Failure;

/// Tenants with their clients, and the simulator serving them when it is embedded.
pub struct Connected {
    /// The tenants that passed the pre-flight check, with their clients.
    pub tenants: Vec<(TenantConfig, ActivityClient)>,
    /// Tenants that failed the pre-flight check, with the reason (they are skipped).
    pub unreachable: Vec<(TenantConfig, String)>,
    /// Where the data comes from, for people.
    pub source: String,
    sim: Option<SimHandle>,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected")
            .field("tenants", &self.tenants.len())
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Client options for the pre-flight check: few retries, so a dead endpoint fails in seconds.
fn preflight_options() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            max_attempts: 2,
        },
        request_timeout: Duration::from_secs(15),
        ..ClientOptions::default()
    }
}

/// What to tell the user about a failed pre-flight call.
fn explain(tenant: &TenantConfig, e: &ClientError) -> String {
    let hint = match e {
        ClientError::Token {
            retryable: false, ..
        } => format!(
            "check the credentials of tenant {}: O365_CLIENT_ID / --client-id, the secret (O365_CLIENT_SECRET) or certificate, and that the app is consented in that tenant (token endpoint {})",
            tenant.tenant_id, tenant.endpoints.login_root
        ),
        ClientError::Token { .. }
        | ClientError::Transport { .. }
        | ClientError::DeadlineExceeded { .. } => format!(
            "check the network, proxy and the endpoints (API {}, login {}); --cloud or --api-root/--login-root pick others",
            tenant.endpoints.api_root, tenant.endpoints.login_root
        ),
        ClientError::Credential(_) => {
            "check --client-certificate and --key-file (PEM certificate and its RSA private key)".to_owned()
        }
        ClientError::Api { status: 401 | 403, .. } => format!(
            "grant the app ActivityFeed.Read (and ActivityFeed.ReadDlp for DLP.All) in tenant {} and consent it",
            tenant.tenant_id
        ),
        _ => "see the message above".to_owned(),
    };
    format!("tenant {}: {e}; {hint}", tenant.tenant_id)
}

impl Connected {
    /// Builds the clients (starting the simulator for [`Tenants::Embedded`]) and checks every
    /// configured tenant once. Exit 3 when no tenant is reachable.
    pub async fn open(tenants: Tenants) -> Result<Connected, Failure> {
        match tenants {
            Tenants::Embedded { content_types } => Connected::embedded(&content_types).await,
            Tenants::Configured(list) => Connected::configured(list).await,
        }
    }

    async fn embedded(content_types: &[ContentType]) -> Result<Connected, Failure> {
        // The simulator's state lives in memory, but a real tenant's subscriptions persist
        // between runs: start with them enabled, so every run (not only the first one after
        // the 15-minute start rule) can list.
        let config = SimConfig {
            tenants: vec![TenantSpec {
                enabled_types: o365_sim::ContentType::ALL.to_vec(),
                ..TenantSpec::new(o365_sim::DEFAULT_TENANT_ID)
            }],
            ..SimConfig::default()
        };
        let sim = o365_sim::start(config).await.map_err(|e| {
            Failure::from(anyhow::anyhow!("cannot start the embedded simulator: {e}"))
        })?;
        let base = sim.base_url();
        let entry = simulator_entry(
            &base,
            o365_sim::DEFAULT_TENANT_ID,
            o365_sim::DEFAULT_CLIENT_ID,
            o365_sim::DEFAULT_CLIENT_SECRET,
            content_types,
        );
        let config = entry.resolve(1, None, &|_| None).map_err(Failure::usage)?;
        let client = ActivityClient::new(&config, ClientOptions::default())
            .map_err(|e| Failure::from(anyhow::anyhow!("{e}")))?;
        Ok(Connected {
            tenants: vec![(config, client)],
            unreachable: Vec::new(),
            source: format!("o365-sim (embedded, {base}; no tenant configured)"),
            sim: Some(sim),
        })
    }

    async fn configured(list: Vec<TenantConfig>) -> Result<Connected, Failure> {
        let mut tenants = Vec::new();
        let mut unreachable = Vec::new();
        let mut first_error = None;
        for config in list {
            let check =
                ActivityClient::new(&config, preflight_options()).map_err(|e| explain(&config, &e));
            let check = match check {
                Ok(probe) => probe
                    .list_subscriptions(Instant::now() + Duration::from_secs(60))
                    .await
                    .map(|_| ())
                    .map_err(|e| explain(&config, &e)),
                Err(e) => Err(e),
            };
            match check {
                Ok(()) => {
                    let client = ActivityClient::new(&config, ClientOptions::default())
                        .map_err(|e| Failure::from(anyhow::anyhow!(explain(&config, &e))))?;
                    tenants.push((config, client));
                }
                Err(msg) => {
                    tracing::error!("{msg}");
                    first_error.get_or_insert_with(|| msg.clone());
                    unreachable.push((config, msg));
                }
            }
        }
        if tenants.is_empty() {
            return Err(Failure::unreachable(anyhow::anyhow!(
                "{}",
                first_error.unwrap_or_else(|| "no tenant is reachable".into())
            )));
        }
        let source = match tenants.as_slice() {
            [(t, _)] => format!("tenant {} ({})", t.tenant_id, t.endpoints.api_root),
            many => format!("{} tenants", many.len()),
        };
        Ok(Connected {
            tenants,
            unreachable,
            source,
            sim: None,
        })
    }

    /// Stops the embedded simulator, if any.
    pub async fn shutdown(self) {
        if let Some(sim) = self.sim {
            sim.shutdown().await;
        }
    }
}
