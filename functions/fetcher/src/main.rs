//! The fetcher Lambda: SQS-triggered, `ReportBatchItemFailures`. Wiring only; the work is in
//! the library.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, LambdaEvent};
use o365_activity::client::{ActivityClient, BudgetOptions, ClientOptions};
use o365_activity::clock::Clock;
use o365_activity::keys::KeyLayout;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::SqsQueue;
use o365_activity::store::S3Store;
use o365_fetcher::{config, Fetcher, FetcherConfig, TenantsSource};
use tokio::time::Instant;

/// The instant to stop at: the invocation deadline (ms since the epoch) minus a margin.
fn deadline_of(deadline_ms: u64, margin_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let left = deadline_ms.saturating_sub(now_ms).saturating_sub(margin_ms);
    Instant::now() + Duration::from_millis(left)
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .init();

    // Configuration problems end the cold start with their readable message (not Debug).
    let (fetcher, margin) = match build().await {
        Ok(built) => built,
        Err(e) => {
            tracing::error!(error = %e, "fetcher configuration is unusable");
            return Err(e.to_string().into());
        }
    };
    let fetcher = &fetcher;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = deadline_of(event.context.deadline, margin);
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            fetcher.handle_sqs_event(event.payload, deadline).await,
        )
    }))
    .await
}

/// Reads the configuration and builds the handler once per cold start.
async fn build() -> Result<(Fetcher<S3Store>, u64), lambda_runtime::Error> {
    let cfg = FetcherConfig::from_env()?;
    let sdk = o365_activity::aws::sdk_config(cfg.endpoint_url.as_deref()).await;
    let env = |k: &str| std::env::var(k).ok();
    let mut tenants = match &cfg.tenants {
        TenantsSource::Json(json) => config::tenants_from_json(json, &env)?,
        TenantsSource::SecretArn(arn) => {
            o365_activity::aws::load_tenants_from_secret(
                &o365_activity::aws::secrets_client(&sdk),
                arn,
                &env,
            )
            .await?
        }
    };
    cfg.apply_publisher_default(&mut tenants);
    // Each invocation spends its share of every tenant's rate (see infra/README.md).
    let budget = BudgetOptions::from_env(&env, Some("FETCHER_MAX_CONCURRENCY"))?;
    let options = ClientOptions {
        budget,
        ..ClientOptions::default()
    };
    let clients = tenants
        .iter()
        .map(|t| ActivityClient::new(t, options.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let s3 = o365_activity::aws::s3_client(&sdk, cfg.endpoint_url.is_some());
    let fetcher = Fetcher::new(
        S3Store::new(s3, cfg.bucket.clone()),
        KeyLayout::new(&cfg.prefix),
        cfg.compression,
        clients,
        Clock::system(),
        MetricsSink::Stdout,
    )
    .with_concurrency(cfg.max_concurrency)
    .with_limits(cfg.limits);
    // Throttled messages go back to the event source's queue with a visibility delay.
    let fetcher = match env("QUEUE_URL").filter(|u| !u.trim().is_empty()) {
        Some(url) => fetcher.with_requeue(SqsQueue::new(o365_activity::aws::sqs_client(&sdk), url)),
        None => fetcher,
    };
    tracing::info!(tenants = tenants.len(), bucket = %cfg.bucket, prefix = %cfg.prefix, compression = %cfg.compression, "fetcher ready");

    Ok((fetcher, cfg.deadline_margin_ms))
}
