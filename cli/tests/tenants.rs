#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The code path of a real tenant, against the simulator with real token flows: one tenant
//! from flags and environment (secret or certificate), many from --config, and the errors
//! and exit codes of wrong credentials, an unreachable endpoint and missing settings.

mod common;

use std::path::Path;

use common::*;

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sim/tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_from_the_environment_collects_everything_listed() {
    let sim = sim(6, &[TENANT]).await;
    let before = published(&sim, "Audit.Exchange");
    assert!(!before.is_empty());
    let ctl = Ctl::at(&sim);
    let o = ctl.run_once("Audit.Exchange").await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = json(&o);
    assert!(s["source"].as_str().unwrap().contains(TENANT), "{s}");
    let files = ctl.stored();
    let after = published(&sim, "Audit.Exchange");
    // Everything listable before the run is stored; nothing that was never published.
    assert!(before.iter().all(|id| files.contains_key(id)));
    assert!(files.keys().all(|id| after.contains(id)));
    // Environment variables work as well as flags.
    let mut c = bin();
    let base = sim.base_url();
    c.args(["run", "--once", "--json", "-q", "--out"])
        .arg(ctl.path())
        .env("O365_TENANT_ID", TENANT)
        .env("O365_CLIENT_ID", CLIENT)
        .env("O365_CLIENT_SECRET", SECRET)
        .env("O365_API_ROOT", &base)
        .env("O365_LOGIN_ROOT", &base)
        .env("O365_CONTENT_TYPES", "Audit.Exchange");
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["content_types"], 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_credentials() {
    let sim = o365_sim::start(o365_sim::SimConfig {
        history: std::time::Duration::from_secs(3 * 3600),
        certificate_pem: Some(fixture("test-only-cert.pem")),
        ..o365_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, fixture("test-only-cert.pem")).unwrap();
    std::fs::write(&key, fixture("test-only-key.pem")).unwrap();
    let out = dir.path().join("data");
    let mut c = bin();
    c.args([
        "run",
        "--once",
        "--json",
        "-q",
        "--content-types",
        "Audit.SharePoint",
        "--out",
    ])
    .arg(&out)
    .args(sim_flags(&sim))
    .arg("--client-certificate")
    .arg(&cert)
    .env("O365_CLIENT_KEY", &key);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(json(&o)["fetch"]["blobs_stored"].as_u64().unwrap() > 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tenants_from_a_toml_config() {
    const OTHER: &str = "00000000-0000-0000-0000-000000000002";
    let sim = sim(3, &[TENANT, OTHER]).await;
    let dir = tempfile::tempdir().unwrap();
    let base = sim.base_url();
    let config = dir.path().join("tenants.toml");
    std::fs::write(
        &config,
        format!(
            "[[tenants]]\ntenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\nclient_secret_env = \"SIM_SECRET\"\napi_root = \"{base}\"\nlogin_root = \"{base}\"\ncontent_types = [\"Audit.General\"]\n\n\
             [[tenants]]\ntenant_id = \"{OTHER}\"\nclient_id = \"{CLIENT}\"\nclient_secret_env = \"SIM_SECRET\"\napi_root = \"{base}\"\nlogin_root = \"{base}\"\ncontent_types = [\"Audit.General\", \"Audit.Exchange\"]\n"
        ),
    )
    .unwrap();
    let mut c = bin();
    c.args(["run", "--once", "--json", "-q", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(dir.path().join("data"))
        .env("SIM_SECRET", SECRET);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = json(&o);
    assert_eq!(s["tenants"], 2);
    assert_eq!(s["lister"]["pairs"].as_array().unwrap().len(), 3);
    let files = stored(&dir.path().join("data"));
    for t in [TENANT, OTHER] {
        assert!(
            files
                .values()
                .any(|p| p.to_string_lossy().contains(&format!("tenant_id={t}/"))),
            "{t}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_and_unreachable_endpoint_exit_3() {
    let sim = sim(1, &[TENANT]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = bin();
    c.args(["run", "--once", "--out"])
        .arg(dir.path())
        .args(sim_flags(&sim))
        .env("O365_CLIENT_SECRET", "not-the-secret");
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("O365_CLIENT_SECRET"), "{}", stderr(&o));
    sim.shutdown().await;

    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    let mut c = bin();
    c.args(["run", "--once", "--out"])
        .arg(dir.path())
        .args([
            "--tenant-id",
            TENANT,
            "--client-id",
            CLIENT,
            "--api-root",
            &dead,
            "--login-root",
            &dead,
        ])
        .env("O365_CLIENT_SECRET", SECRET);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("--api-root"), "{}", stderr(&o));
}

#[tokio::test]
async fn missing_or_bad_settings_exit_2_and_say_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (vec![], vec![("O365_TENANT_ID", TENANT)], "O365_CLIENT_ID"),
        (
            vec!["--client-id", CLIENT],
            vec![("O365_TENANT_ID", TENANT)],
            "O365_CLIENT_SECRET",
        ),
        (
            vec![
                "--tenant-id",
                "contoso.onmicrosoft.com",
                "--client-id",
                CLIENT,
            ],
            vec![("O365_CLIENT_SECRET", "x")],
            "bad tenant id",
        ),
        (
            vec!["--api-root", "http://127.0.0.1:9"],
            vec![],
            "no tenant",
        ),
        (vec!["--config"], vec![], "cannot read"),
    ];
    for (args, env, want) in cases {
        let mut c = bin();
        c.args(["run", "--once", "--out"])
            .arg(dir.path())
            .args(&args);
        if args.last() == Some(&"--config") {
            c.arg(dir.path().join("missing.toml"));
        }
        for (k, v) in &env {
            c.env(k, v);
        }
        let o = run(c).await;
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}

/// Every file under `root` whose path contains `part`.
fn files_with(root: &Path, part: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.to_string_lossy().contains(part) {
                out.push(p);
            }
        }
    }
    out
}

/// Issue 19: under `--every`, a tenant skipped at start (its secret file missing) is checked
/// again in the next run; once the file exists it is collected without a restart, and
/// `status` no longer shows its error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_retries_a_skipped_tenant_until_it_recovers() {
    const OTHER: &str = "00000000-0000-0000-0000-000000000002";
    let sim = sim(2, &[TENANT, OTHER]).await;
    let dir = tempfile::tempdir().unwrap();
    let base = sim.base_url();
    let secret_file = dir.path().join("other.secret");
    let config = dir.path().join("tenants.toml");
    std::fs::write(
        &config,
        format!(
            "[[tenants]]\ntenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\nclient_secret_env = \"SIM_SECRET\"\napi_root = \"{base}\"\nlogin_root = \"{base}\"\ncontent_types = [\"Audit.General\"]\n\n\
             [[tenants]]\ntenant_id = \"{OTHER}\"\nclient_id = \"{CLIENT}\"\nclient_secret_file = \"{}\"\napi_root = \"{base}\"\nlogin_root = \"{base}\"\ncontent_types = [\"Audit.General\"]\n",
            secret_file.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("data");
    let mut c = bin();
    c.args(["run", "--every", "2s", "--max-runs", "2", "-q", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .env("SIM_SECRET", SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    // The first run records the skipped tenant's problem; then its secret appears.
    let health = format!("tenant_id={OTHER}/tenant.json");
    let skipped = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            let found = files_with(&out, &health);
            if let Some(text) = found.first().and_then(|p| std::fs::read_to_string(p).ok()) {
                if text.contains("other.secret") {
                    return text;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the first run records the skipped tenant");
    assert!(skipped.contains("\"configuration\""), "{skipped}");
    assert!(files_with(&out, &format!("tenant_id={OTHER}/")).len() == 1);
    std::fs::write(&secret_file, SECRET).unwrap();
    let o = tokio::time::timeout(
        std::time::Duration::from_secs(300),
        child.wait_with_output(),
    )
    .await
    .expect("the two runs finish")
    .unwrap();
    // The first run's skipped tenant still counts in the process's exit code.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let data = stored(&out);
    assert!(
        data.values()
            .any(|p| p.to_string_lossy().contains(&format!("tenant_id={OTHER}/"))),
        "the recovered tenant's blobs are stored: {}",
        stderr(&o)
    );
    let mut c = bin();
    c.args(["status", "--json", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out);
    let o = run(c).await;
    let st = json(&o);
    assert_eq!(o.status.code(), Some(0), "{st}");
    let other = st["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["tenant_id"] == OTHER && p["content_type"] == "Audit.General")
        .unwrap_or_else(|| panic!("{st}"));
    assert_eq!(other["last_run"], "ok", "{st}");
    assert!(other["last_error"].is_null(), "{st}");
    sim.shutdown().await;
}
