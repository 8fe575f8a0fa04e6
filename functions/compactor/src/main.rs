//! The compactor Lambda: wiring only; each scheduled invocation is one [`o365_compactor::handle`].

use o365_activity::aws::AwsClients;
use o365_activity::bootstrap::{serve, Env, EnvError};
use o365_activity::clock::Clock;
use o365_activity::keys::KeyLayout;
use o365_activity::metrics::MetricsSink;
use o365_activity::store::S3Store;
use o365_compact::Compactor;
use o365_compactor::{handle, CompactorConfig, LakeExport};

type Built = (
    Compactor<S3Store>,
    Option<LakeExport<S3Store, S3Store>>,
    MetricsSink,
);

async fn build(env: Env<'static>) -> Result<Built, EnvError> {
    let config = CompactorConfig::from_env(&env)?;
    let aws = AwsClients::new(config.store.endpoint_url.as_deref()).await;
    let store = S3Store::new(aws.s3.clone(), config.store.bucket.clone());
    let layout = KeyLayout::new(&config.store.prefix);
    let lake = config.lake.map(|l| LakeExport {
        input: store.clone(),
        layout: layout.clone(),
        lake: S3Store::new(aws.s3.clone(), l.bucket),
        target: l.target,
    });
    tracing::info!(bucket = %config.store.bucket, prefix = %config.store.prefix, ocsf_export = lake.is_some(), "compactor ready");
    let compactor = Compactor::new(store, layout, Clock::system(), config.options);
    Ok((compactor, lake, MetricsSink::Stdout))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve("compactor", build, |(c, lake, sink): &'static Built, e| {
        handle(c, lake.as_ref(), sink, e)
    })
    .await
}
