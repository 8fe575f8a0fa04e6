//! The real `o365-fetcher` and `o365-lister` binaries through an in-test Lambda Runtime API:
//! `main.rs` wiring, the event JSON, the batch response shape, a kill mid-write, schedule events
//! good and bad, and bad configuration.

use std::sync::Arc;
use std::time::Duration;

use o365_e2e::event_source::HandlerOutcome;
use o365_e2e::lambda_process::{binary, LambdaProcess, ProcessError};
use o365_e2e::logs::LogBuffer;
use o365_e2e::runtime_api::{InvocationResult, RuntimeApi};
use o365_e2e::world::{lambda_env, World, WorldConfig};
use tokio::sync::Mutex;

use crate::{finish, hours};

/// A world whose simulated clock follows the real one (the binaries use the system clock).
pub(crate) fn real_time_config() -> WorldConfig {
    let mut c = WorldConfig::default();
    c.sim.clock_start = chrono::Utc::now();
    c.sim.clock_speed = 1.0;
    c.sim.history = hours(6);
    c
}

fn env_of(world: &World) -> Vec<(String, String)> {
    lambda_env(
        &world.moto,
        &world.sim,
        world.store.bucket(),
        Some(world.queue.url()),
    )
}

/// A scheduled event as EventBridge sends it.
pub(crate) fn schedule_event() -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/o365-lister"],
        "detail": {}
    })
}

struct Fn {
    api: RuntimeApi,
    process: Option<LambdaProcess>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetcher_binary_through_the_runtime_api() {
    let world = World::start(real_time_config()).await.unwrap();
    world.list().await.unwrap();
    let path = binary("o365-fetcher", "o365-fetcher").await.unwrap();
    let api = RuntimeApi::start("o365-fetcher").await.unwrap();
    let p = LambdaProcess::start(&path, "o365-fetcher", &api, &env_of(&world), &world.logs)
        .await
        .unwrap();
    println!("o365-fetcher (debug build) ready after {:?}", p.cold_start);
    let api = Arc::new(api);
    let a = api.clone();
    let stats = world
        .source
        .drain(
            move |event| {
                let a = a.clone();
                async move {
                    match a.invoke(&event, Duration::from_secs(60)).await {
                        Ok(InvocationResult::Response(v)) => HandlerOutcome::Response(v),
                        Ok(InvocationResult::Error(e)) => HandlerOutcome::NoResponse(e.to_string()),
                        Err(e) => HandlerOutcome::NoResponse(e.to_string()),
                    }
                }
            },
            Duration::from_secs(120),
        )
        .await
        .unwrap();
    assert!(stats.batches > 0 && stats.no_response == 0, "{stats:?}");
    p.kill().await;
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert_eq!(r.stored_blobs, r.published_blobs, "{r}");
    finish(
        "fetcher binary via the Runtime API",
        "none (real o365-fetcher process)",
        &world,
        &r,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetcher_killed_mid_write() {
    let mut config = real_time_config();
    config.sim.records_per_hour = 400;
    let world = World::start(config).await.unwrap();
    world.list().await.unwrap();
    let path = binary("o365-fetcher", "o365-fetcher").await.unwrap();
    let env = env_of(&world);
    let start = |logs: LogBuffer| {
        let path = path.clone();
        let env = env.clone();
        async move {
            let api = RuntimeApi::start("o365-fetcher").await.unwrap();
            let process = LambdaProcess::start(&path, "o365-fetcher", &api, &env, &logs)
                .await
                .unwrap();
            Fn {
                api,
                process: Some(process),
            }
        }
    };
    let current = Arc::new(Mutex::new(start(world.logs.clone()).await));
    let kills = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (store, layout) = (world.store.clone(), world.layout.clone());
    let (cur, k, logs) = (current.clone(), kills.clone(), world.logs.clone());
    let start = Arc::new(start);
    let stats = world
        .source
        .drain(
            move |event| {
                let (cur, k, store, layout, logs, start) = (
                    cur.clone(),
                    k.clone(),
                    store.clone(),
                    layout.clone(),
                    logs.clone(),
                    start.clone(),
                );
                async move {
                    let mut f = cur.lock().await;
                    if k.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                        // First batch: kill the process as soon as it has written something.
                        let before = o365_e2e::reconcile::read_stored(&store, &layout).await.unwrap().len();
                        {
                            let invoke = f.api.invoke(&event, Duration::from_secs(60));
                            tokio::pin!(invoke);
                            loop {
                                tokio::select! {
                                    _ = &mut invoke => break,
                                    _ = tokio::time::sleep(Duration::from_millis(5)) => {
                                        use o365_activity::store::ObjectStore;
                                        let now = store.list(&format!("{}/tenant_id=", layout.prefix())).await.unwrap().len();
                                        if now > before { break; }
                                    }
                                }
                            }
                        }
                        if let Some(p) = f.process.take() {
                            p.kill().await;
                        }
                        k.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        *f = start(logs).await;
                        return HandlerOutcome::NoResponse("killed mid-write".into());
                    }
                    match f.api.invoke(&event, Duration::from_secs(60)).await {
                        Ok(InvocationResult::Response(v)) => HandlerOutcome::Response(v),
                        Ok(InvocationResult::Error(e)) => HandlerOutcome::NoResponse(e.to_string()),
                        Err(e) => HandlerOutcome::NoResponse(e.to_string()),
                    }
                }
            },
            Duration::from_secs(180),
        )
        .await
        .unwrap();
    assert_eq!(kills.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(stats.no_response >= 1, "{stats:?}");
    if let Some(p) = current.lock().await.process.take() {
        p.kill().await;
    }
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert_eq!(r.stored_blobs, r.published_blobs, "{r}");
    finish(
        "fetcher killed mid-write",
        "SIGKILL of o365-fetcher after its first upload; batch redelivered",
        &world,
        &r,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lister_binary_with_good_and_bad_schedule_events() {
    let world = World::start(real_time_config()).await.unwrap();
    let path = binary("o365-lister", "o365-lister").await.unwrap();
    let api = RuntimeApi::start("o365-lister").await.unwrap();
    let mut p = LambdaProcess::start(&path, "o365-lister", &api, &env_of(&world), &world.logs)
        .await
        .unwrap();
    println!("o365-lister (debug build) ready after {:?}", p.cold_start);
    let res = api
        .invoke(&schedule_event(), Duration::from_secs(120))
        .await
        .unwrap();
    assert!(matches!(res, InvocationResult::Response(_)), "{res:?}");
    let (visible, _) = world
        .source
        .depth_of(&world.source.queue_url)
        .await
        .unwrap();
    assert!(visible > 0, "the lister binary queued the blobs");
    for bad in [
        serde_json::json!("hello"),
        serde_json::json!([1, 2, 3]),
        serde_json::json!(null),
        serde_json::json!({"detail-type": 5, "time": "yesterday"}),
    ] {
        let res = api.invoke(&bad, Duration::from_secs(120)).await.unwrap();
        let text = format!("{res:?}");
        assert!(!text.contains("panic"), "{bad}: {text}");
        assert!(p.try_exit().is_none(), "{bad}: the lister process died");
    }
    p.kill().await;
    world.drain().await.unwrap();
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert!(!world.logs.text().contains("panicked"));
    finish(
        "lister binary via the Runtime API",
        "4 malformed schedule events",
        &world,
        &r,
    );
}

/// Starts `package` with each broken configuration; each must stop at init with an error
/// that names what to fix, and no panic.
async fn bad_configuration_is_a_clear_error(package: &str, extra: (&str, &str)) {
    let world = World::start(real_time_config()).await.unwrap();
    let base = env_of(&world);
    let set = |k: &str, v: Option<&str>| {
        let mut env: Vec<(String, String)> = base.iter().filter(|(n, _)| n != k).cloned().collect();
        if let Some(v) = v {
            env.push((k.to_string(), v.to_string()));
        }
        env
    };
    let cases = [
        ("BUCKET", set("BUCKET", None)),
        ("TENANTS", set("TENANTS_JSON", None)),
        ("tenant", set("TENANTS_JSON", Some("{\"tenants\": 5}"))),
        (
            "tenant",
            set(
                "TENANTS_JSON",
                Some("{\"tenants\": [{\"tenant_id\": \"nope\", \"client_id\": \"x\"}]}"),
            ),
        ),
        (extra.0, set(extra.0, Some(extra.1))),
    ];
    let path = binary(package, package).await.unwrap();
    for (word, env) in cases {
        let logs = LogBuffer::default();
        let api = RuntimeApi::start(package).await.unwrap();
        match LambdaProcess::start(&path, package, &api, &env, &logs).await {
            Err(ProcessError::Exited { .. }) | Err(ProcessError::NotReady { .. }) => {}
            Ok(p) => {
                p.kill().await;
                panic!("{package} started with a bad {word}");
            }
            Err(e) => panic!("{package}: {e}"),
        }
        let out = format!("{}{:?}", logs.text(), api.init_errors());
        assert!(
            out.to_lowercase().contains(&word.to_lowercase()),
            "{package}: the error does not name {word}: {out}"
        );
        assert!(!out.contains("panicked"), "{package}: {out}");
    }
    world.assert_no_leaks().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lister_bad_configuration_is_a_clear_error() {
    bad_configuration_is_a_clear_error("o365-lister", ("OVERLAP_MINUTES", "-5")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetcher_bad_configuration_is_a_clear_error() {
    bad_configuration_is_a_clear_error("o365-fetcher", ("MAX_CONCURRENCY", "0")).await;
}
