//! The four functions (lister, fetcher, auditor, compactor) behave identically on every
//! setting they share: `PREFIX`, the AWS endpoint and the log format, read by the same code
//! and checked here on the real binaries.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use o365_activity::bootstrap::Env;
use o365_activity::store::ObjectStore;
use o365_auditor::AuditorConfig;
use o365_compactor::CompactorConfig;
use o365_e2e::lambda_process::{binary, LambdaProcess};
use o365_e2e::logs::LogBuffer;
use o365_e2e::runtime_api::{InvocationResult, RuntimeApi};
use o365_e2e::world::{lambda_env, World};
use o365_fetcher::FetcherConfig;
use o365_lister::ListerConfig;

use crate::runtime::{real_time_config, schedule_event};
use crate::tenants::drain_through;

#[test]
fn all_configurations_read_prefix_and_endpoint_alike() {
    let prefixes = [
        None,
        Some(""),
        Some("  "),
        Some("logs"),
        Some(" /audit/o365/ "),
        Some("a/../b"),
        Some("a//b"),
    ];
    let endpoints = [None, Some("http://127.0.0.1:5000"), Some("moto")];
    for prefix in prefixes {
        for endpoint in endpoints {
            let mut vars: HashMap<&str, &str> = HashMap::from([
                ("BUCKET", "b"),
                ("QUEUE_URL", "http://127.0.0.1:5000/q"),
                ("TENANTS_SECRET_ARN", "arn:x"),
            ]);
            vars.extend(prefix.map(|p| ("PREFIX", p)));
            vars.extend(endpoint.map(|e| ("AWS_ENDPOINT_URL", e)));
            let lookup = move |k: &str| vars.get(k).map(|v| v.to_string());
            let env = Env::new(&lookup);
            let lister = ListerConfig::from_env(&env);
            let fetcher = FetcherConfig::from_env(&env);
            let auditor = AuditorConfig::from_env(&env);
            let compactor = CompactorConfig::from_env(&env);
            let case = format!("{prefix:?} {endpoint:?}");
            match (lister, fetcher, auditor, compactor) {
                (Ok(l), Ok(f), Ok(a), Ok(c)) => {
                    assert_eq!(l.common, f.common, "{case}");
                    assert_eq!(l.common, a.common, "{case}");
                    assert_eq!(l.common.store, c.store, "{case}");
                    assert_eq!(l.settings.prefix, f.common.store.prefix);
                    assert_eq!(a.settings.prefix, f.common.store.prefix);
                }
                (Err(l), Err(f), Err(a), Err(c)) => {
                    let l = l.to_string();
                    assert_eq!(l, f.to_string(), "{case}");
                    assert_eq!(l, a.to_string(), "{case}");
                    assert_eq!(l, c.to_string(), "{case}");
                }
                (l, f, a, c) => {
                    panic!("{case}: lister {l:?}, fetcher {f:?}, auditor {a:?}, compactor {c:?}")
                }
            }
        }
    }
}

/// Every line a process printed is one JSON object.
fn all_json(logs: &LogBuffer) -> Result<usize, String> {
    let text = logs.text();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    for l in &lines {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(l)
            .map_err(|e| format!("{e}: {l}"))?;
    }
    Ok(lines.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_binaries_use_the_same_prefix_endpoint_and_json_logs_in_lambda() {
    let mut config = real_time_config();
    config.lister.prefix = "audit/o365".into();
    let world = World::start(config).await.unwrap();
    let mut env: Vec<(String, String)> = lambda_env(
        &world.moto,
        &world.sim,
        world.store.bucket(),
        Some(world.queue.url()),
    )
    .into_iter()
    .filter(|(k, _)| k != "PREFIX")
    .collect();
    env.push(("PREFIX".into(), " /audit/o365/ ".into()));

    let (lister_logs, fetcher_logs) = (LogBuffer::default(), LogBuffer::default());
    let path = binary("o365-lister", "o365-lister").await.unwrap();
    let api = RuntimeApi::start("o365-lister").await.unwrap();
    let lister = LambdaProcess::start(&path, "o365-lister", &api, &env, &lister_logs)
        .await
        .unwrap();
    let res = api
        .invoke(&schedule_event(), Duration::from_secs(120))
        .await
        .unwrap();
    assert!(matches!(res, InvocationResult::Response(_)), "{res:?}");
    lister.kill().await;
    // The lister reached moto's S3 through AWS_ENDPOINT_URL, under the trimmed prefix.
    let checkpoints = world.store.list("audit/o365/_state/").await.unwrap();
    assert!(
        !checkpoints.is_empty(),
        "lister checkpoints under audit/o365/"
    );

    let path = binary("o365-fetcher", "o365-fetcher").await.unwrap();
    let api = RuntimeApi::start("o365-fetcher").await.unwrap();
    let fetcher = LambdaProcess::start(&path, "o365-fetcher", &api, &env, &fetcher_logs)
        .await
        .unwrap();
    let api = Arc::new(api);
    let stats = drain_through(&world, &api).await;
    fetcher.kill().await;
    assert_eq!(stats.no_response, 0, "{stats:?}");
    let r = world.reconcile(world.sim.now()).await.unwrap();
    assert_eq!(
        r.stored_blobs, r.published_blobs,
        "data under audit/o365/: {r}"
    );
    let everything = world.store.list("").await.unwrap();
    assert!(
        everything.iter().all(|k| k.starts_with("audit/o365/")),
        "nothing outside the prefix: {everything:?}"
    );

    for (name, logs) in [("lister", &lister_logs), ("fetcher", &fetcher_logs)] {
        let lines = all_json(logs).unwrap_or_else(|e| panic!("{name}: a line is not JSON: {e}"));
        assert!(lines > 0, "{name} logged nothing");
    }
    world.logs.append(lister_logs.text().as_bytes());
    world.logs.append(fetcher_logs.text().as_bytes());
    world.assert_no_leaks().unwrap();
}

#[tokio::test]
async fn all_binaries_log_text_locally_with_the_same_configuration_error() {
    let mut outputs = Vec::new();
    let bins = [
        "o365-lister",
        "o365-fetcher",
        "o365-auditor",
        "o365-compactor",
    ];
    for bin in bins {
        let path = binary(bin, bin).await.unwrap();
        let out = tokio::process::Command::new(path)
            .env_clear()
            .env("PREFIX", "a/../b")
            .env("TENANTS_JSON", "{}")
            .env("QUEUE_URL", "http://127.0.0.1:1/q")
            .env("BUCKET", "b")
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{bin} started with a bad PREFIX");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text
            .lines()
            .find(|l| l.contains("PREFIX"))
            .unwrap_or_else(|| panic!("{bin}: no log line names PREFIX: {text}"));
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_err(),
            "{bin} logs JSON outside Lambda: {line}"
        );
        let message = line
            .split_once("PREFIX")
            .map(|(_, rest)| rest.to_string())
            .unwrap_or_default();
        outputs.push(message);
    }
    for (bin, output) in bins.iter().zip(&outputs) {
        assert_eq!(
            output, &outputs[0],
            "{bin} explains the mistake as the lister does"
        );
    }
}
