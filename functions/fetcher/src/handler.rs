//! The fetcher's Lambda handler: one SQS batch per invocation, answered with the messages to
//! hand back (`ReportBatchItemFailures`). Never fails as a whole: each message has its outcome.
//! [`from_env`] wires a fetcher from the Lambda's environment.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use o365_activity::aws::AwsClients;
use o365_activity::bootstrap::{boot, deadline, Env};
use o365_activity::clock::Clock;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::SqsQueue;
use o365_activity::store::ObjectStore;

use crate::{Fetcher, FetcherConfig};

/// The fetcher as the Lambda wires it from `env` (configuration and tenants checked, each
/// tenant's budget this invocation's share, throttled messages handed back to `QUEUE_URL`),
/// writing to the store `store_of` makes: S3 in the Lambda, a local directory in the
/// catch-up benchmark's fetcher processes.
pub async fn from_env<S: ObjectStore>(
    env: &Env<'_>,
    store_of: impl FnOnce(&AwsClients, &FetcherConfig) -> S,
) -> Result<(Fetcher<S>, FetcherConfig), lambda_runtime::Error> {
    let cfg = FetcherConfig::from_env(env)?;
    let (aws, tenants) = boot(&cfg.common, cfg.client_options()).await?;
    let store = store_of(&aws, &cfg);
    let (clock, sink) = (Clock::system(), MetricsSink::Stdout);
    let mut fetcher = Fetcher::configured(store, &cfg, Arc::new(tenants), clock, sink);
    // Throttled messages go back to the event source's queue with a visibility delay.
    if let Some(url) = cfg.requeue_url.clone() {
        fetcher = fetcher.with_requeue(SqsQueue::new(aws.sqs, url));
    }
    Ok((fetcher, cfg))
}

/// Handles one batch until the invocation's deadline less `margin`.
pub async fn handle<S: ObjectStore>(
    fetcher: &Fetcher<S>,
    margin: Duration,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Infallible> {
    let until = deadline(&event.context, margin);
    Ok(fetcher.handle_sqs_event(event.payload, until).await)
}
