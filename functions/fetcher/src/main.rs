//! The fetcher Lambda: SQS-triggered, `ReportBatchItemFailures`. Wiring only: configuration
//! and tenants are checked before the first event; each batch is one
//! [`o365_fetcher::handler::handle`].

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use o365_activity::bootstrap::{boot, init_tracing, Env, LogFormat};
use o365_activity::clock::Clock;
use o365_activity::keys::KeyLayout;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::SqsQueue;
use o365_activity::store::S3Store;
use o365_fetcher::{handler::handle, Fetcher, FetcherConfig};

type BoxError = lambda_runtime::Error;

async fn build() -> Result<(Fetcher<S3Store>, FetcherConfig), BoxError> {
    let env = Env::process();
    let cfg = FetcherConfig::from_env(&env)?;
    let (aws, tenants) = boot(&cfg.common, cfg.client_options()).await?;
    let store = S3Store::new(aws.s3, cfg.common.bucket.clone());
    let keys = KeyLayout::new(&cfg.common.prefix);
    let mut fetcher = Fetcher::new(
        store,
        keys,
        cfg.compression,
        [],
        Clock::system(),
        MetricsSink::Stdout,
    )
    .with_tenant_registry(Arc::new(tenants))
    .with_concurrency(cfg.max_concurrency)
    .with_limits(cfg.limits)
    .with_memory_mb(cfg.memory_mb);
    // Throttled messages go back to the event source's queue with a visibility delay.
    if let Some(url) = env.optional("QUEUE_URL") {
        fetcher = fetcher.with_requeue(SqsQueue::new(aws.sqs, url));
    }
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
