//! The fetcher Lambda: SQS-triggered, `ReportBatchItemFailures`. Wiring only: configuration
//! and tenants are checked before the first event; each batch is one
//! [`o365_fetcher::handler::handle`].

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use o365_activity::bootstrap::{init_tracing, Env, LogFormat};
use o365_activity::store::S3Store;
use o365_fetcher::handler::{from_env, handle};
use o365_fetcher::{Fetcher, FetcherConfig};

type BoxError = lambda_runtime::Error;

async fn build() -> Result<(Fetcher<S3Store>, FetcherConfig), BoxError> {
    let (fetcher, cfg) = from_env(&Env::process(), |aws, cfg| {
        S3Store::new(aws.s3.clone(), cfg.common.bucket.clone())
    })
    .await?;
    tracing::info!(bucket = %cfg.common.bucket, prefix = %cfg.common.prefix, compression = %cfg.compression, "fetcher ready");
    Ok((fetcher, cfg))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    init_tracing(LogFormat::detect(&Env::process()));
    let (fetcher, cfg) = build().await.map_err(|e| {
        tracing::error!(error = %e, "fetcher configuration is unusable");
        BoxError::from(e.to_string())
    })?;
    let (fetcher, margin) = (&fetcher, cfg.deadline_margin);
    lambda_runtime::run(service_fn(move |e: LambdaEvent<SqsEvent>| {
        handle(fetcher, margin, e)
    }))
    .await
}
