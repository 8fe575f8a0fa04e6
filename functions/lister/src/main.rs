//! The lister Lambda: wiring only. Configuration and tenants are checked before the first
//! event; each scheduled invocation is one [`o365_lister::handler::handle`].

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use o365_activity::bootstrap::{boot, init_tracing, Env, LogFormat};
use o365_activity::client::ClientOptions;
use o365_activity::clock::Clock;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::SqsQueue;
use o365_activity::store::S3Store;
use o365_lister::handler::{handle, ListerHandler};
use o365_lister::ListerConfig;
use serde_json::Value;

type BoxError = lambda_runtime::Error;

async fn build() -> Result<ListerHandler<S3Store, SqsQueue>, BoxError> {
    let config = ListerConfig::from_env(&Env::process())?;
    // The lister spends each tenant's whole rate: its listing calls are few and short.
    let options = ClientOptions {
        budget: config.common.budget.clone(),
        ..ClientOptions::default()
    };
    let (aws, tenants) = boot(&config.common, options).await?;
    tracing::info!(bucket = %config.common.bucket, prefix = %config.common.prefix, "lister configured");
    Ok(ListerHandler::new(
        S3Store::new(aws.s3, config.common.bucket),
        SqsQueue::new(aws.sqs, config.queue_url),
        Arc::new(tenants),
        config.settings,
        Clock::system(),
        MetricsSink::Stdout,
    ))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    init_tracing(LogFormat::detect(&Env::process()));
    let handler = build().await.map_err(|e| {
        tracing::error!(error = %e, "lister configuration is unusable");
        BoxError::from(e.to_string())
    })?;
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        handle(handler, event)
    }))
    .await
}
