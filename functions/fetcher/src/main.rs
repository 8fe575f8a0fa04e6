//! The fetcher Lambda: SQS-triggered, `ReportBatchItemFailures`. Wiring only: configuration
//! and tenants are checked before the first event; each batch is one
//! [`o365_fetcher::handler::handle`].

use o365_activity::bootstrap::{serve, Env};
use o365_activity::store::S3Store;
use o365_fetcher::handler::{from_env, handle};
use o365_fetcher::{Fetcher, FetcherConfig};

type BoxError = lambda_runtime::Error;
type Built = (Fetcher<S3Store>, FetcherConfig);

async fn build(env: Env<'static>) -> Result<Built, BoxError> {
    let (fetcher, cfg) = from_env(&env, |aws, cfg| {
        S3Store::new(aws.s3.clone(), cfg.common.store.bucket.clone())
    })
    .await?;
    let store = &cfg.common.store;
    tracing::info!(bucket = %store.bucket, prefix = %store.prefix, compression = %cfg.compression, "fetcher ready");
    Ok((fetcher, cfg))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    serve("fetcher", build, |(fetcher, cfg): &'static Built, e| {
        handle(fetcher, cfg.deadline_margin, e)
    })
    .await
}
