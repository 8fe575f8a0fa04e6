//! The compactor Lambda: wiring only. Each scheduled invocation is one
//! [`o365_compactor::handle`] over the collector's bucket.

use lambda_runtime::{service_fn, LambdaEvent};
use o365_activity::aws::AwsClients;
use o365_activity::bootstrap::{init_tracing, Env, LogFormat};
use o365_activity::clock::Clock;
use o365_activity::keys::KeyLayout;
use o365_activity::metrics::MetricsSink;
use o365_activity::store::S3Store;
use o365_compact::Compactor;
use o365_compactor::{handle, CompactorConfig, LakeExport};
use serde_json::Value;

type BoxError = lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let env = Env::process();
    init_tracing(LogFormat::detect(&env));
    let config = CompactorConfig::from_env(&env).map_err(|e| {
        tracing::error!(error = %e, "compactor configuration is unusable");
        BoxError::from(e.to_string())
    })?;
    let aws = AwsClients::new(config.endpoint_url.as_deref()).await;
    let store = S3Store::new(aws.s3.clone(), config.bucket.clone());
    let layout = KeyLayout::new(&config.prefix);
    let lake = config.lake.map(|l| LakeExport {
        input: store.clone(),
        layout: layout.clone(),
        lake: S3Store::new(aws.s3.clone(), l.bucket),
        target: l.target,
    });
    let compactor = Compactor::new(store, layout, Clock::system(), config.options);
    tracing::info!(bucket = %config.bucket, prefix = %config.prefix, ocsf_export = lake.is_some(), "compactor ready");
    let (compactor, lake, sink) = (&compactor, lake.as_ref(), &MetricsSink::Stdout);
    lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| {
        handle(compactor, lake, sink, e)
    }))
    .await
}
