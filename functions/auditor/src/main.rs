//! The auditor Lambda: wiring only. Configuration and tenants are checked before the first
//! event; each scheduled invocation is one [`o365_auditor::handle`].

use o365_activity::bootstrap::{serve, Env};
use o365_activity::queue::SqsQueue;
use o365_activity::store::S3Store;
use o365_auditor::{handle, AuditorConfig, AuditorHandler};
use o365_lister::handler::Wiring;

type BoxError = lambda_runtime::Error;

async fn build(env: Env<'static>) -> Result<AuditorHandler<S3Store, SqsQueue>, BoxError> {
    let config = AuditorConfig::from_env(&env)?;
    // Like the lister, the auditor spends each tenant's rate whole: its re-listing (recovery)
    // calls are few; the Graph queries have a quota of their own.
    let options = config.common.client_options();
    let wiring = Wiring::deployed(&config.common, config.queue_url, options.clone()).await?;
    let store = &config.common.store;
    tracing::info!(bucket = %store.bucket, prefix = %store.prefix, settle_hours = config.settings.settle.num_hours(), "auditor configured");
    Ok(AuditorHandler::new(
        wiring,
        config.settings,
        config.content_types,
        options,
    ))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    serve("auditor", build, handle).await
}
