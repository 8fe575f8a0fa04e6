//! The fetcher Lambda: SQS-triggered, `ReportBatchItemFailures`. Wiring only: configuration
//! and tenants are checked before the first event; each batch is one
//! [`o365_fetcher::handler::handle`].

use std::sync::Arc;
use std::time::Duration;

use o365_activity::bootstrap::{boot, serve, Env};
use o365_activity::clock::Clock;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::SqsQueue;
use o365_activity::store::S3Store;
use o365_fetcher::{handler::handle, Fetcher, FetcherConfig};

type BoxError = lambda_runtime::Error;

async fn build(env: Env<'static>) -> Result<(Fetcher<S3Store>, Duration), BoxError> {
    let cfg = FetcherConfig::from_env(&env)?;
    let (aws, tenants) = boot(&cfg.common, cfg.client_options()).await?;
    let store = &cfg.common.store;
    let s3 = S3Store::new(aws.s3, store.bucket.clone());
    let (clock, sink) = (Clock::system(), MetricsSink::Stdout);
    let mut fetcher = Fetcher::configured(s3, &cfg, Arc::new(tenants), clock, sink);
    // Throttled messages go back to the event source's queue with a visibility delay.
    if let Some(url) = cfg.requeue_url.clone() {
        fetcher = fetcher.with_requeue(SqsQueue::new(aws.sqs, url));
    }
    tracing::info!(bucket = %store.bucket, prefix = %store.prefix, compression = %cfg.compression, "fetcher ready");
    Ok((fetcher, cfg.deadline_margin))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    serve(
        "fetcher",
        build,
        |h: &'static (Fetcher<S3Store>, Duration), e| handle(&h.0, h.1, e),
    )
    .await
}
