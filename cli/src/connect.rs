//! Turns resolved tenants into API clients: starts the embedded simulator when no tenant is
//! configured, and checks each real tenant's token endpoint and API once before any work, so
//! wrong credentials or an unreachable endpoint fail fast with a message that says what to do.

use std::time::Duration;

use o365_activity::client::{
    ActivityClient, BudgetOptions, ClientError, ClientOptions, RetryPolicy,
};
use o365_activity::tenants::TenantConfig;
use o365_activity::{ContentType, TenantId};
use o365_sim::{SimConfig, SimHandle, TenantSpec};
use tokio::time::Instant;

use crate::config::{simulator_entry, Configured, ProblemKind, Tenant, TenantProblem, Tenants};
use crate::exit::Failure;

/// Tenants with their clients, and the simulator serving them when it is embedded.
pub struct Connected {
    /// The tenants that passed the pre-flight check, with their clients.
    pub tenants: Vec<(TenantConfig, ActivityClient)>,
    /// Tenants that cannot be collected now (a configuration, credential, permission or
    /// network problem), each with its kind and reason; they are skipped, the others go on.
    pub unreachable: Vec<TenantProblem>,
    /// Where the data comes from, for people.
    pub source: String,
    /// Each tenant's request budget (`API_RATE_PER_MINUTE`, `API_BURST`), for the clients of
    /// tenants checked later ([`Connected::retry_skipped`]).
    budget: BudgetOptions,
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
/// The same budget as the main clients: the first client of a tenant makes the tenant's
/// budget in this process, and the pre-flight client is the first.
fn preflight_options(budget: &BudgetOptions) -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            max_attempts: 2,
        },
        request_timeout: Duration::from_secs(15),
        ..ClientOptions::with_budget(budget.clone())
    }
}

/// What kind of problem a failed pre-flight call is, and what to tell the user: one line
/// saying what failed, why, and what to do.
fn explain(tenant: &Tenant, e: &ClientError) -> (ProblemKind, String) {
    let config = &tenant.config;
    let (kind, hint) = match e {
        ClientError::Token {
            retryable: false, ..
        } => (
            ProblemKind::Credentials,
            format!("the credential came from {}", tenant.credential_source),
        ),
        ClientError::Token { .. }
        | ClientError::Transport { .. }
        | ClientError::DeadlineExceeded { .. } => (
            ProblemKind::Unreachable,
            format!(
                "check the network, proxy and the endpoints (API {}, login {}); --cloud or --api-root/--login-root pick others",
                config.endpoints.api_root, config.endpoints.login_root
            ),
        ),
        ClientError::Credential(_) => (
            ProblemKind::Configuration,
            format!(
                "check {} (a PEM certificate and its RSA private key)",
                tenant.credential_source
            ),
        ),
        ClientError::Api {
            status: 401 | 403, ..
        } => (
            ProblemKind::Permission,
            "grant the app ActivityFeed.Read (and ActivityFeed.ReadDlp for DLP.All) and consent it in that tenant".to_owned(),
        ),
        _ => (ProblemKind::Unreachable, "try again later".to_owned()),
    };
    (kind, format!("{e}; {hint}"))
}

/// Checks one tenant's token endpoint and API once; its client, or why it is skipped.
async fn check(
    tenant: Tenant,
    budget: &BudgetOptions,
) -> Result<(TenantConfig, ActivityClient), TenantProblem> {
    let config = &tenant.config;
    let probe = match ActivityClient::new(config, preflight_options(budget)) {
        Ok(probe) => probe
            .list_subscriptions(Instant::now() + Duration::from_secs(60))
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match probe
        .and_then(|()| ActivityClient::new(config, ClientOptions::with_budget(budget.clone())))
    {
        Ok(client) => Ok((tenant.config, client)),
        Err(e) => {
            let (kind, reason) = explain(&tenant, &e);
            Err(TenantProblem {
                tenant_id: tenant.config.tenant_id.clone(),
                content_types: tenant.config.content_types.clone(),
                kind,
                reason,
            })
        }
    }
}

impl Connected {
    /// Builds the clients (starting the simulator for [`Tenants::Embedded`]), each tenant's
    /// spending `budget` ([`crate::config::client_budget`]), and checks every configured
    /// tenant once. Exit 3 when no tenant is reachable.
    pub async fn open(tenants: Tenants, budget: BudgetOptions) -> Result<Connected, Failure> {
        let conn = Connected::open_all(tenants, budget).await?;
        conn.require_any()?;
        Ok(conn)
    }

    /// Like [`Connected::open`], but returns even when no tenant can be collected, so the
    /// caller can record why before [`Connected::require_any`] ends the command.
    pub async fn open_all(tenants: Tenants, budget: BudgetOptions) -> Result<Connected, Failure> {
        match tenants {
            Tenants::Embedded { content_types } => {
                Connected::embedded(&content_types, budget).await
            }
            Tenants::Configured(c) => Ok(Connected::configured(c, budget).await),
        }
    }

    /// The failure when no tenant can be collected: exit 2 when every tenant's problem is its
    /// configuration, exit 3 otherwise (refused credentials, an unreachable endpoint).
    pub fn require_any(&self) -> Result<(), Failure> {
        if !self.tenants.is_empty() {
            return Ok(());
        }
        let message = match self.unreachable.as_slice() {
            [] => "no tenant is configured".to_owned(),
            [one] => one.to_string(),
            many => format!(
                "no tenant can be collected: {}",
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        let error = anyhow::anyhow!("{message}");
        let all_config = self
            .unreachable
            .iter()
            .all(|p| p.kind == ProblemKind::Configuration);
        Err(if all_config {
            Failure::usage(error)
        } else {
            Failure::unreachable(error)
        })
    }

    async fn embedded(
        content_types: &[ContentType],
        budget: BudgetOptions,
    ) -> Result<Connected, Failure> {
        // The simulator's state lives in memory, but a real tenant's subscriptions persist
        // between runs: start with them enabled, so every run (not only the first one after
        // the 15-minute start rule) can list.
        let config = SimConfig {
            tenants: vec![TenantSpec {
                enabled_types: o365_sim::ContentType::ALL.to_vec(),
                ..TenantSpec::new(o365_sim::DEFAULT_TENANT_ID)
            }],
            // Audit queries answer at once (a real one takes minutes; nothing to show here).
            graph: o365_sim::testing::instant_graph(),
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
        let client = ActivityClient::new(&config, ClientOptions::with_budget(budget.clone()))
            .map_err(|e| Failure::from(anyhow::anyhow!("{e}")))?;
        Ok(Connected {
            tenants: vec![(config, client)],
            unreachable: Vec::new(),
            source: format!("o365-sim (embedded, {base})"),
            budget,
            sim: Some(sim),
        })
    }

    async fn configured(configured: Configured, budget: BudgetOptions) -> Connected {
        let Configured {
            tenants: list,
            rejected,
        } = configured;
        let mut conn = Connected {
            tenants: Vec::new(),
            unreachable: rejected,
            source: String::new(),
            budget,
            sim: None,
        };
        for tenant in list {
            conn.admit(check(tenant, &conn.budget).await);
        }
        conn.describe();
        conn
    }

    /// Checks again the tenants that were skipped, from a fresh resolution of the
    /// configuration (variables and files read again): those that now connect join the
    /// healthy ones, which keep their clients. Tenants not skipped before are left alone.
    /// Returns the ids of the tenants that recovered.
    pub async fn retry_skipped(&mut self, fresh: Tenants) -> Vec<TenantId> {
        let Tenants::Configured(Configured { tenants, rejected }) = fresh else {
            return Vec::new();
        };
        let skipped = std::mem::take(&mut self.unreachable);
        let was_skipped = |id: &TenantId| skipped.iter().any(|p| &p.tenant_id == id);
        // Still unusable as configured: the new reason replaces the old one.
        self.unreachable
            .extend(rejected.into_iter().filter(|p| was_skipped(&p.tenant_id)));
        let mut recovered = Vec::new();
        for tenant in tenants
            .into_iter()
            .filter(|t| was_skipped(&t.config.tenant_id))
        {
            let checked = check(tenant, &self.budget).await;
            if let Ok((config, _)) = &checked {
                tracing::info!(tenant = %config.tenant_id, "a skipped tenant connects now; it is collected from this run on");
                recovered.push(config.tenant_id.clone());
            }
            self.admit(checked);
        }
        // A tenant no longer in the configuration keeps its last known problem.
        let rechecked = |id: &TenantId| {
            recovered.contains(id) || self.unreachable.iter().any(|p| &p.tenant_id == id)
        };
        let gone: Vec<_> = skipped
            .into_iter()
            .filter(|p| !rechecked(&p.tenant_id))
            .collect();
        self.unreachable.extend(gone);
        self.describe();
        recovered
    }

    /// Adds one checked tenant to the healthy or the skipped ones.
    fn admit(&mut self, checked: Result<(TenantConfig, ActivityClient), TenantProblem>) {
        match checked {
            Ok(pair) => self.tenants.push(pair),
            Err(problem) => self.unreachable.push(problem),
        }
    }

    /// Sets [`Connected::source`] from the healthy and skipped tenants.
    fn describe(&mut self) {
        let total = self.tenants.len() + self.unreachable.len();
        self.source = match self.tenants.as_slice() {
            [(t, _)] if total == 1 => format!("tenant {} ({})", t.tenant_id, t.endpoints.api_root),
            [] => format!("{total} tenant(s), none reachable"),
            ok => format!("{total} tenants ({} reachable)", ok.len()),
        };
    }

    /// Stops the embedded simulator, if any.
    pub async fn shutdown(self) {
        if let Some(sim) = self.sim {
            sim.shutdown().await;
        }
    }
}
