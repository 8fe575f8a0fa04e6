//! The auditor Lambda: wiring only. Configuration and tenants are checked before the first
//! event; each scheduled invocation is one [`o365_auditor::handle`].

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use o365_activity::bootstrap::{boot, init_tracing, Env, LogFormat};
use o365_activity::client::ClientOptions;
use o365_activity::clock::Clock;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::SqsQueue;
use o365_activity::store::S3Store;
use o365_auditor::{handle, AuditorConfig, AuditorHandler};
use serde_json::Value;

type BoxError = lambda_runtime::Error;

async fn build() -> Result<AuditorHandler<S3Store, SqsQueue>, BoxError> {
    let config = AuditorConfig::from_env(&Env::process())?;
    let (aws, tenants) = boot(&config.common, ClientOptions::default()).await?;
    tracing::info!(bucket = %config.common.bucket, prefix = %config.common.prefix, settle_hours = config.settings.settle.num_hours(), "auditor configured");
    Ok(AuditorHandler::new(
        S3Store::new(aws.s3, config.common.bucket),
        SqsQueue::new(aws.sqs, config.queue_url),
        Arc::new(tenants),
        config.settings,
        config.content_types,
        ClientOptions::default(),
        Clock::system(),
        MetricsSink::Stdout,
    ))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    init_tracing(LogFormat::detect(&Env::process()));
    let handler = build().await.map_err(|e| {
        tracing::error!(error = %e, "auditor configuration is unusable");
        BoxError::from(e.to_string())
    })?;
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        handle(handler, event)
    }))
    .await
}
