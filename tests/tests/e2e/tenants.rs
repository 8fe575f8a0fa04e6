//! Tenants onboarded while the functions are warm: a tenant added to the Secrets Manager secret
//! (moto) with only `put-secret-value` is collected by a fetcher that loaded the secret before,
//! through the real `o365-fetcher` binary; nothing is lost and nothing reaches the DLQ.

use std::sync::Arc;
use std::time::Duration;

use o365_activity::testing::unique_name;
use o365_e2e::event_source::{DrainStats, HandlerOutcome};
use o365_e2e::lambda_process::{binary, LambdaProcess};
use o365_e2e::runtime_api::{InvocationResult, RuntimeApi};
use o365_e2e::world::{lambda_env, tenants_json, World};
use o365_sim::{TenantSpec, DEFAULT_TENANT_ID};

use crate::finish;
use crate::runtime::real_time_config;

const T2: &str = "00000000-0000-0000-0000-000000000002";

/// Delivers the queue to the function behind `api` until it is empty. Keep `api` until the
/// process is killed: a dropped Runtime API answers the function's next poll with 410.
pub async fn drain_through(world: &World, api: &Arc<RuntimeApi>) -> DrainStats {
    let api = api.clone();
    world
        .source
        .drain(
            move |event| {
                let api = api.clone();
                async move {
                    match api.invoke(&event, Duration::from_secs(60)).await {
                        Ok(InvocationResult::Response(v)) => HandlerOutcome::Response(v),
                        Ok(InvocationResult::Error(e)) => HandlerOutcome::NoResponse(e.to_string()),
                        Err(e) => HandlerOutcome::NoResponse(e.to_string()),
                    }
                }
            },
            Duration::from_secs(120),
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_added_to_the_secret_while_the_fetcher_is_warm_loses_nothing() {
    let mut config = real_time_config();
    config.sim.tenants = [DEFAULT_TENANT_ID, T2]
        .iter()
        .map(|t| {
            let mut spec = TenantSpec::new(*t);
            spec.enabled_types = o365_sim::ContentType::ALL.to_vec();
            spec
        })
        .collect();
    let world = World::start(config).await.unwrap();
    let secrets = world.moto.secrets();
    let created = secrets
        .create_secret()
        .name(unique_name("tenants", 60))
        .secret_string(tenants_json(&world.sim, &[DEFAULT_TENANT_ID.to_string()]))
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap().to_string();
    let mut env: Vec<(String, String)> = lambda_env(
        &world.moto,
        &world.sim,
        world.store.bucket(),
        Some(world.queue.url()),
    )
    .into_iter()
    .filter(|(k, _)| k != "TENANTS_JSON")
    .collect();
    env.push(("TENANTS_SECRET_ARN".into(), arn.clone()));
    env.push(("TENANTS_RELOAD_COOLDOWN_SECONDS".into(), "1".into()));

    // A warm fetcher: started (secret read) while the secret holds only the first tenant.
    let path = binary("o365-fetcher", "o365-fetcher").await.unwrap();
    let api = RuntimeApi::start("o365-fetcher").await.unwrap();
    let p = LambdaProcess::start(&path, "o365-fetcher", &api, &env, &world.logs)
        .await
        .unwrap();
    // The operator onboards the second tenant with put-secret-value only.
    let both = [DEFAULT_TENANT_ID.to_string(), T2.to_string()];
    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(tenants_json(&world.sim, &both))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let summary = world.list().await.unwrap();
    assert_eq!(summary.pairs.len(), 10, "the lister lists both tenants");
    let api = Arc::new(api);
    let stats = drain_through(&world, &api).await;
    p.kill().await;
    assert_eq!(stats.no_response, 0, "{stats:?}");
    assert!(
        world.dlq_bodies().await.unwrap().is_empty(),
        "nothing in the DLQ"
    );
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert_eq!(r.stored_blobs, r.published_blobs, "{r}");
    assert_eq!(r.reported_failures, 0, "{r}");
    finish(
        "tenant added to the secret while the fetcher is warm",
        "put-secret-value after the fetcher's cold start",
        &world,
        &r,
    );
}
