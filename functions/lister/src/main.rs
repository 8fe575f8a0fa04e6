//! The lister Lambda: configuration from the environment (checked before the first event),
//! tenants from Secrets Manager, then one [`Lister::run`] per scheduled invocation.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{service_fn, LambdaEvent};
use o365_activity::aws::{
    load_tenants_from_secret, s3_client, sdk_config, secrets_client, sqs_client,
};
use o365_activity::client::{ActivityClient, ClientOptions};
use o365_activity::clock::Clock;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::SqsQueue;
use o365_activity::store::S3Store;
use o365_lister::event::{invocation_of, Invocation};
use o365_lister::{Lister, ListerConfig, TenantsSource};
use serde_json::Value;
use tokio::time::Instant;
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

/// Time kept back from the invocation deadline for the response and the last log lines.
const RESPONSE_MARGIN: Duration = Duration::from_secs(2);

type BoxError = lambda_runtime::Error;

fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder.json().without_time().init();
    } else {
        builder.init();
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

async fn build() -> Result<Lister<S3Store, SqsQueue>, BoxError> {
    let config = ListerConfig::from_env()?;
    // Tenants from TENANTS_JSON are checked before any AWS set-up, so mistakes surface at once.
    let (sdk, tenants) = match &config.tenants {
        TenantsSource::Json(json) => {
            let tenants = config.resolve_tenants(json, &env)?;
            (sdk_config(None).await, tenants)
        }
        TenantsSource::SecretArn(arn) => {
            let sdk = sdk_config(None).await;
            let mut tenants = load_tenants_from_secret(&secrets_client(&sdk), arn, &env).await?;
            // `resolve_tenants` applies PUBLISHER_ID on the JSON path; the secret path here.
            config.apply_publisher_default(&mut tenants);
            (sdk, tenants)
        }
    };
    let mut with_clients = Vec::with_capacity(tenants.len());
    for tenant in tenants {
        let client = ActivityClient::new(&tenant, ClientOptions::default())
            .map_err(|e| format!("tenant {}: {e}", tenant.tenant_id))?;
        with_clients.push((tenant, client));
    }
    info!(
        tenants = with_clients.len(),
        bucket = %config.bucket,
        prefix = %config.settings.prefix,
        "lister configured"
    );
    Ok(Lister::new(
        S3Store::new(s3_client(&sdk, false), config.bucket.clone()),
        SqsQueue::new(sqs_client(&sdk), config.queue_url.clone()),
        with_clients,
        config.settings,
        Clock::system(),
        MetricsSink::Stdout,
    ))
}

/// The invocation's deadline (milliseconds since the epoch) as an `Instant`, less a margin.
fn deadline_of(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let remaining = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Instant::now() + remaining.saturating_sub(RESPONSE_MARGIN)
}

async fn handle(
    lister: &Lister<S3Store, SqsQueue>,
    event: LambdaEvent<Value>,
) -> Result<Value, BoxError> {
    if invocation_of(&event.payload)? == Invocation::Sweep {
        let summary = lister.sweep(deadline_of(event.context.deadline)).await;
        info!(recovered = summary.recovered(), "sweep summary");
        let failed: Vec<String> = summary
            .failed()
            .filter_map(|p| {
                p.error
                    .as_ref()
                    .map(|e| format!("{} {}: {e}", p.tenant_id, p.content_type))
            })
            .collect();
        if !failed.is_empty() {
            return Err(format!(
                "the sweep of {} pairs failed: {}",
                failed.len(),
                failed.join("; ")
            )
            .into());
        }
        return Ok(serde_json::to_value(&summary)?);
    }
    let summary = lister.run(deadline_of(event.context.deadline)).await;
    match serde_json::to_string(&summary) {
        Ok(json) => info!(summary = %json, "run summary"),
        Err(e) => error!(error = %e, "run summary could not be serialized"),
    }
    let failed: Vec<String> = summary
        .failed()
        .map(|p| {
            let why = match &p.outcome {
                o365_lister::PairOutcome::Failed(e) => e.message(),
                _ => "",
            };
            format!("{} {}: {why}", p.tenant_id, p.content_type)
        })
        .collect();
    if !failed.is_empty() {
        // Fail the invocation so the Errors alarm fires; progress of the others is kept.
        return Err(format!(
            "{} of {} tenant/content type pairs failed: {}",
            failed.len(),
            summary.pairs.len(),
            failed.join("; ")
        )
        .into());
    }
    Ok(serde_json::to_value(&summary)?)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    init_tracing();
    let lister = match build().await {
        Ok(l) => Arc::new(l),
        Err(e) => {
            error!(error = %e, "lister configuration is unusable");
            return Err(e.to_string().into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let lister = Arc::clone(&lister);
        async move { handle(&lister, event).await }
    }))
    .await
}
