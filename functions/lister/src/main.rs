//! The lister Lambda: wiring only. Configuration and tenants are checked before the first
//! event; each scheduled invocation is one [`o365_lister::handler::handle`].

use o365_activity::bootstrap::{serve, Env};
use o365_activity::queue::SqsQueue;
use o365_activity::store::S3Store;
use o365_lister::handler::{handle, ListerHandler, Wiring};
use o365_lister::ListerConfig;

type BoxError = lambda_runtime::Error;

async fn build(env: Env<'static>) -> Result<ListerHandler<S3Store, SqsQueue>, BoxError> {
    let config = ListerConfig::from_env(&env)?;
    // The lister spends each tenant's whole rate: its listing calls are few and short.
    let options = config.common.client_options();
    let wiring = Wiring::deployed(&config.common, config.queue_url, options).await?;
    let store = &config.common.store;
    tracing::info!(bucket = %store.bucket, prefix = %store.prefix, "lister configured");
    Ok(ListerHandler::new(wiring, config.settings))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    serve("lister", build, handle).await
}
