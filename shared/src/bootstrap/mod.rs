//! What every Lambda function does before their first event, in one place: read the shared
//! settings ([`CommonSettings`], through the one environment reader [`Env`]), set up tracing
//! ([`init_tracing`]), build the AWS clients ([`AwsClients`], honouring `AWS_ENDPOINT_URL`),
//! load the tenants ([`TenantRegistry`], reloaded on a TTL), and take each invocation's
//! deadline from the runtime's `Context` ([`deadline`]).
//!
//! Flow of a function's `main`, all in [`serve`]: `init_tracing` → its config `from_env`
//! (shared part: [`CommonSettings::from_env`], or [`StoreSettings::from_env`] for the
//! compactor) → [`boot`] → build the handler → `lambda_runtime::run`.

pub mod env;
pub mod registry;
pub mod settings;
pub mod tenants;

#[cfg(feature = "lambda")]
pub mod deadline;
#[cfg(feature = "lambda")]
pub mod logging;
#[cfg(feature = "lambda")]
pub mod serve;

pub use env::{Env, EnvError};
pub use registry::{RegistryError, TenantRegistry, Tenants};
pub use settings::{CommonSettings, ReloadPolicy, StoreSettings, DEFAULT_PREFIX};
pub use tenants::{TenantLoadError, TenantLoader};

#[cfg(feature = "lambda")]
pub use deadline::deadline;
#[cfg(feature = "lambda")]
pub use logging::{init_tracing, LogFormat};
#[cfg(feature = "lambda")]
pub use serve::serve;

use crate::aws::AwsClients;
use crate::client::ClientOptions;
use crate::tenants::TenantsSource;

/// The AWS clients and the loaded tenants of a function, from its shared settings. Tenants
/// from `TENANTS_JSON` are checked before any AWS set-up, so their mistakes surface at once.
pub async fn boot(
    common: &CommonSettings,
    options: ClientOptions,
) -> Result<(AwsClients, TenantRegistry), RegistryError> {
    let endpoint = common.store.endpoint_url.as_deref();
    let publisher = common.publisher_id.clone();
    match &common.tenants {
        TenantsSource::Json(json) => {
            let loader = TenantLoader::json(json, publisher);
            let registry = TenantRegistry::load(loader, common.reload, options).await?;
            Ok((AwsClients::new(endpoint).await, registry))
        }
        TenantsSource::SecretArn(arn) => {
            let aws = AwsClients::new(endpoint).await;
            let loader = TenantLoader::secret(aws.secrets.clone(), arn, publisher);
            let registry = TenantRegistry::load(loader, common.reload, options).await?;
            Ok((aws, registry))
        }
    }
}
