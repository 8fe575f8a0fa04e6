//! The simulator in tests, collector side: tenants pointed at an in-process `o365-sim`, client
//! options that retry fast, and the simulator's clock as the collector's clock. The simulator
//! side (start time, stopped-clock configuration, scenarios) is `o365_sim::testing`, re-exported
//! here so a test needs one import.

use std::sync::Arc;
use std::time::Duration;

use o365_sim::{SimHandle, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};

use crate::client::{ActivityClient, ClientError, ClientOptions, RetryPolicy};
use crate::clock::Clock;
use crate::cloud::{EndpointError, Endpoints};
use crate::secret::Secret;
use crate::tenant_id::BadTenantId;
use crate::tenants::{Credential, TenantConfig, TokenEndpoint};
use crate::ContentType;

pub use o365_sim::testing::{scenarios, stopped_config, t0};

/// The `PublisherIdentifier` the tests send (not a tenant id, so a test sees which one is used).
pub const PUBLISHER_ID: &str = "00000000-0000-0000-0000-0000000000a1";

/// Why a tenant or client pointed at the simulator could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SimSetupError {
    /// The tenant id is not a GUID.
    #[error(transparent)]
    TenantId(#[from] BadTenantId),
    /// The simulator's base URL is not a usable API or login root.
    #[error(transparent)]
    Endpoints(#[from] EndpointError),
    /// The client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// A tenant whose API and login roots are the simulator at `base_url` (`SimHandle::base_url`):
/// the simulator's default app and secret, v2 tokens, every content type, [`PUBLISHER_ID`].
/// Change a field with struct update syntax (`TenantConfig { credential, ..sim_tenant(..)? }`).
pub fn sim_tenant(base_url: &str, tenant_id: &str) -> Result<TenantConfig, SimSetupError> {
    Ok(TenantConfig {
        tenant_id: tenant_id.parse()?,
        client_id: DEFAULT_CLIENT_ID.to_string(),
        credential: Credential::Secret(Secret::new(DEFAULT_CLIENT_SECRET)),
        endpoints: Endpoints::custom(base_url, base_url)?,
        content_types: ContentType::ALL.to_vec(),
        publisher_id: PUBLISHER_ID.to_string(),
        token_endpoint: TokenEndpoint::V2,
    })
}

/// Client options that retry fast (5 ms doubling to 50 ms), so fault tests finish quickly,
/// giving up after `max_attempts`; the request timeout (10 s) stays generous.
pub fn fast_retries(max_attempts: u32) -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
            max_attempts,
        },
        request_timeout: Duration::from_secs(10),
        ..ClientOptions::default()
    }
}

/// A client for a tenant on the simulator, on the real clock, with [`fast_retries`].
pub fn sim_client(
    base_url: &str,
    tenant_id: &str,
    max_attempts: u32,
) -> Result<ActivityClient, SimSetupError> {
    Ok(ActivityClient::new(
        &sim_tenant(base_url, tenant_id)?,
        fast_retries(max_attempts),
    )?)
}

/// The simulator's clock as the collector's clock (a stopped simulator stops both).
pub fn sim_clock(sim: &Arc<SimHandle>) -> Clock {
    let sim = Arc::clone(sim);
    Clock::from_fn(move || sim.now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_point_at_the_simulator_and_bad_ids_are_errors() {
        let t = sim_tenant("http://127.0.0.1:9", o365_sim::DEFAULT_TENANT_ID).unwrap();
        assert_eq!(t.tenant_id.as_str(), o365_sim::DEFAULT_TENANT_ID);
        assert_eq!(t.publisher_id, PUBLISHER_ID);
        assert!(matches!(
            sim_tenant("http://127.0.0.1:9", "contoso"),
            Err(SimSetupError::TenantId(_))
        ));
        assert_eq!(fast_retries(3).retry.max_attempts, 3);
    }
}
