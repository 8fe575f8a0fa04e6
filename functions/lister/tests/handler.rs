//! The Lambda handler called directly with a built `LambdaEvent`, as the runtime calls it:
//! the summary as the response, a failed pair failing the invocation (others' progress kept),
//! a bad event refused, and tenants added to the source listed by the next invocation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use lambda_runtime::LambdaEvent;
use o365_activity::bootstrap::deadline::context_with;
use o365_activity::bootstrap::{ReloadPolicy, TenantLoader, TenantRegistry};
use o365_activity::clock::Clock;
use o365_activity::metrics::MetricsSink;
use o365_activity::store::LocalStore;
use o365_activity::tenants::TenantConfig;
use o365_lister::handler::{handle, InvocationError, ListerHandler, Wiring};
use o365_sim::{SimHandle, DEFAULT_CLIENT_SECRET};
use serde_json::{json, Value};

fn event(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent {
        payload,
        context: context_with(Duration::from_secs(120)),
    }
}

fn handler(
    env: &Local,
    dir: &tempfile::TempDir,
    tenants: TenantRegistry,
) -> ListerHandler<LocalStore, o365_activity::queue::MemoryQueue> {
    let clock_sim = Arc::clone(&env.sim);
    let wiring = Wiring {
        store: LocalStore::new(dir.path()),
        queue: env.queue.clone(),
        tenants: Arc::new(tenants),
        clock: Clock::from_fn(move || clock_sim.now()),
        metrics: MetricsSink::Discard,
    };
    ListerHandler::new(wiring, settings())
}

fn fixed(sim: &SimHandle, tenants: &[(&str, &str)]) -> TenantRegistry {
    TenantRegistry::fixed(
        tenants
            .iter()
            .map(|(t, secret)| {
                let cfg = tenant_config(sim, t, secret);
                let c = client(&cfg);
                (cfg, c)
            })
            .collect(),
    )
}

#[tokio::test]
async fn a_good_run_answers_with_its_summary() {
    let env = Local::start(vec![tenant_spec(T1)], &[], |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let h = handler(&env, &dir, fixed(&env.sim, &[(T1, DEFAULT_CLIENT_SECRET)]));
    let scheduled = json!({
        "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-03-01T12:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {}
    });
    for payload in [json!({}), scheduled] {
        let v = handle(&h, event(payload)).await.unwrap();
        let pairs = v["pairs"].as_array().unwrap();
        assert_eq!(pairs.len(), 5);
        assert!(pairs.iter().all(|p| p["outcome"]["status"] == "ok"), "{v}");
    }
    assert_exactly_once(&env.queue.drain(), &listable(&env.sim.ledger(), &[T1]));
}

#[tokio::test]
async fn a_failed_pair_fails_the_invocation_and_keeps_the_others_progress() {
    let env = Local::start(vec![tenant_spec(T1), tenant_spec(T2)], &[], |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let registry = fixed(
        &env.sim,
        &[(T1, DEFAULT_CLIENT_SECRET), (T2, "not-the-secret")],
    );
    let h = handler(&env, &dir, registry);
    let err = handle(&h, event(json!({}))).await.unwrap_err();
    let InvocationError::PairsFailed {
        failed,
        total,
        detail,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*failed, *total), (5, 10), "{err}");
    assert!(detail.contains(T2) && !detail.contains(T1), "{detail}");
    assert!(!err.to_string().contains("not-the-secret"), "{err}");
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "PairsFailed");
    assert_exactly_once(&env.queue.drain(), &listable(&env.sim.ledger(), &[T1]));
}

#[tokio::test]
async fn the_sweep_rules_input_sweeps() {
    let env = Local::start(vec![tenant_spec(T1)], &[], |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let h = handler(&env, &dir, fixed(&env.sim, &[(T1, DEFAULT_CLIENT_SECRET)]));
    handle(&h, event(json!({}))).await.unwrap();
    let sweep: Value = serde_json::from_str(o365_lister::event::SWEEP_EVENT).unwrap();
    let v = handle(&h, event(sweep)).await.unwrap();
    let pairs = v["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 5, "{v}");
    assert!(pairs.iter().all(|p| p["error"].is_null()), "{v}");
}

#[tokio::test]
async fn a_bad_event_runs_nothing() {
    let env = Local::start(vec![tenant_spec(T1)], &[], |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let h = handler(&env, &dir, fixed(&env.sim, &[(T1, DEFAULT_CLIENT_SECRET)]));
    for bad in [json!("hello"), json!({"detail-type": "Object Created"})] {
        let err = handle(&h, event(bad)).await.unwrap_err();
        assert!(matches!(err, InvocationError::Event(_)), "{err:?}");
    }
    assert!(env.queue.drain().is_empty());
    assert!(env.sim.ledger().requests.is_empty(), "no API call");
}

#[tokio::test]
async fn a_tenant_added_to_the_source_is_listed_by_the_next_invocation() {
    let env = Local::start(vec![tenant_spec(T1), tenant_spec(T2)], &[], |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let configs: Arc<Mutex<Vec<TenantConfig>>> = Arc::new(Mutex::new(vec![tenant_config(
        &env.sim,
        T1,
        DEFAULT_CLIENT_SECRET,
    )]));
    let source = configs.clone();
    let loader = TenantLoader::custom(move || Ok(source.lock().unwrap().clone()));
    let policy = ReloadPolicy {
        ttl: Duration::from_millis(50),
        cooldown: Duration::ZERO,
    };
    let registry = TenantRegistry::load(loader, policy, Default::default())
        .await
        .unwrap();
    let h = handler(&env, &dir, registry);
    let v = handle(&h, event(json!({}))).await.unwrap();
    assert_eq!(v["pairs"].as_array().unwrap().len(), 5, "{v}");
    configs
        .lock()
        .unwrap()
        .push(tenant_config(&env.sim, T2, DEFAULT_CLIENT_SECRET));
    tokio::time::sleep(Duration::from_millis(60)).await;
    let v = handle(&h, event(json!({}))).await.unwrap();
    assert_eq!(v["pairs"].as_array().unwrap().len(), 10, "{v}");
    assert_exactly_once(&env.queue.drain(), &listable(&env.sim.ledger(), &[T1, T2]));
}
