#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The operator's view (issue 19 and the CLI parts of issue 13): nothing secret on screen,
//! each tenant failing alone and visible in `status`, one line per error, usage errors for
//! out-of-range flags, stated clipping, and `normalize` inferring the content type.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

const EC_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgBi81umaj8llGpARw
XnDKTYUhC4mnZiQhoI6WaUEm8bmhRANCAAR5GZVkWCmbYRVASwtDi9WlYEbcGJ7S
wesvBVMkuN4AUI+2IDsLzv4fuwjrthS1TYXTlD/njsNOvBwhv4rLh2ie
-----END PRIVATE KEY-----
";

/// A test-only RSA key that does not belong to `sim/tests/fixtures/test-only-cert.pem`.
const OTHER_RSA_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC4Uycsb6ld8lyI
wd0T5kswzSPeKxRYHwntZB4r2dplDxSNCX437QNs0RwE9TQtMoxhFMVRJQtcnTVQ
MVZwfvsUSrPmEdrdpJALCkVEc/zpC4owGXfbaD8Ah0GeBJUgSdPQJVZLxavfgN5x
Or9OdWuOfgOV3mZBOY6vAJuOFB3/sTlHPAgf96muELadWRwbykwB1VkSeKlYMDBe
WDoFPb0kmlidv/uJsOtVh1jTXGZajsy54froGmDhi+Ol0IWRBJAfWZP0QFb7yipK
2jsgldAeZUdpXI4cZl8MUTXo7c4x+Ru3c1uZBj2poeLJJvW5R5HeVTMt4MskTBYp
NM+Xc8SxAgMBAAECggEAWf/j9zr4QBJoIzBBYYeHPCdV9ZMkRli1cK97Wd7v13tT
BgBWHDmCfB3oJ/WQCeeOCpLpO1MypoBuOR81/QzLTJ+jElmye5lv6awUoTVfDm0f
hpfQ4ZUXegsQu3ayV8ckgJPSfIHih2l1c2UDZuxHXZZi6sjiNcPESuepjGh/M0qB
j/63c5M2lkricjDVfC9wqjWqe/GrOrtjDXT8TcXWA1VeIPEl6JHUtIVHUDBlVOln
6wk/UlZDySsMcyhYpxnJV5g9AMWiNVGKr9Mm1gb3isMWyk51dKkTQRdeMG5boJnk
lDC4U0Dv0cO0VzbCKUcNQMk6nFrLZ9sd+2tKQ3nVbwKBgQDhKsxkhfnxX0DpAsH1
jAJ75Wo7NYU4P02jSu4VOqAWrr8iBA/nMCNNNb39dVflsXYTL4A3yiebiYf1bjIK
z+UAOEJT1EomZumjvAMyWj4uUGvu+Vcytmk1R3ji5MPiQPfwBaxTVHfP+2Wu1iWF
GSTDCEvDTZl4Qkv9ZPxz6ay3RwKBgQDRkKG1UcjerSlTngtTuOG7BHm0DXRYrn6P
KkVLBaGyLeBKJ3fCgsOQdxN3puargbnfZcm5lYul9bkf2jYTTRsgYsrHz5ZbPyE0
4sEsMqldYbYVgFnnfNVBVgGdW+mqB1pOf5H+zs/7Gu7DzuJfWVZQAN6jHcCYd3l6
3R1Gt2OQRwKBgQCpEZLBVBv1kjlR/KEYt5VR5FPcu3YZYubv2p5kUE3OWk3nw7cR
N4L6QYUz4D0smhB3nW4f9enBjwYIUkK+/ZUMkjGzci5vIU0DhXO9Bie0bOxuVsiT
qoXa3Jy3eWBf7bp9fjUDqOQBxdl26xLnGpcQ3pTMw+KdeuJGFOK+QlJOlwKBgDB5
/G4tFQItnDmzfXtIcS8Jwf1cf2VkN/J2HMFV9Cl7Yz7EEnf0N7jbUq2C9ikGQTDk
It3DMiKZzNEJcSjV1UiQkcfWxTkmSVAqg/TtYzAuwigHIMTjo5ERjB4SfOLQAJvX
9rWysXmsqT6yRLs5tzWafeXNpBegy4EYVQVetrFRAoGACaKl/h0LJNp99R5wIWvh
p7ftfgYfOzT5yLLl1s9CI98Gk15RLfZPExGHi6OyhLMtWlzoPKcvJyJpwm68vrla
I6B8Ooc7WkxkW9cIkX9nksVyaZZ/FNIltVpRPrb/aysYeZPeSLOuOXXlEvlwLUkt
PVnFVPgVv84tlHVL8bReR2o=
-----END PRIVATE KEY-----
";

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Issue 19 #1: `--help` never shows the value of a secret-bearing variable.
#[tokio::test]
async fn help_shows_no_secret_value() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secret-file-marker");
    for sub in ["run", "replay", "backfill", "status", "normalize"] {
        let mut c = bin();
        c.args([sub, "--help"])
            .env("O365_CLIENT_SECRET", "marker-client-secret")
            .env(
                "O365_CLIENT_KEY",
                "-----BEGIN PRIVATE KEY-----\nmarker-private-key\n-----END PRIVATE KEY-----",
            )
            .env(
                "O365_CLIENT_CERTIFICATE",
                "-----BEGIN CERTIFICATE-----\nmarker-certificate\n-----END CERTIFICATE-----",
            )
            .env("O365_CLIENT_SECRET_FILE", &secret_file);
        let o = run(c).await;
        assert_eq!(o.status.code(), Some(0), "{sub}: {}", stderr(&o));
        let text = format!("{}{}", stdout(&o), stderr(&o));
        for marker in [
            "marker-client-secret",
            "marker-private-key",
            "marker-certificate",
            "secret-file-marker",
        ] {
            assert!(
                !text.contains(marker),
                "{sub} --help shows {marker}:\n{text}"
            );
        }
    }
}

/// Issue 13 #7 and issue 19 #7: out-of-range durations are usage errors saying what is
/// allowed (they panicked with exit 101, or clipped `--last 8d` silently).
#[tokio::test]
async fn out_of_range_durations_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["backfill", "--last", "100000000000d"],
        vec!["backfill", "--last", "8d"],
        vec!["replay", "--last", "8d"],
        vec!["run", "--once", "--timeout", "500000000000y"],
    ] {
        let mut c = bin();
        c.args(&args).arg("--out").arg(dir.path());
        let o = run(c).await;
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("from 1s to 7d"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
    }
}

/// Issue 19 #7: a window reaching further back than the API lists is clipped with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clipped_windows_are_stated() {
    let dir = tempfile::tempdir().unwrap();
    let start = chrono::Utc::now() - chrono::TimeDelta::days(9);
    let window = format!(
        "{}..{}",
        start.format("%Y-%m-%d"),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    let mut c = bin();
    c.args([
        "backfill",
        "--dry-run",
        "--content-types",
        "Audit.General",
        "--window",
        &window,
        "--out",
    ])
    .arg(dir.path());
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("is clipped to"), "{}", stderr(&o));
}

/// Issue 13 #5 and issue 19 #4: a malformed TOML file is named with the line and key, and its
/// values (here a client secret) never appear.
#[tokio::test]
async fn malformed_config_never_echoes_values() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tenants.toml");
    std::fs::write(
        &config,
        format!("[[tenants]]\ntenant_id = \"{TENANT}\"\nclient_secret = \"hunter2-secret\n"),
    )
    .unwrap();
    let mut c = bin();
    c.args(["run", "--once", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(dir.path());
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(!e.contains("hunter2"), "{e}");
    assert!(
        e.contains("tenants.toml") && e.contains("line 3") && e.contains("client_secret"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");

    // A missing file: its cause once, not "…(os error 2): …(os error 2)".
    let mut c = bin();
    c.args(["run", "--once", "--config"])
        .arg(dir.path().join("missing.toml"))
        .arg("--out")
        .arg(dir.path());
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).matches("os error 2").count(),
        1,
        "{}",
        stderr(&o)
    );
}

/// Issue 19 #4 and #6: a refused secret is one line (no log line repeating it), and a key
/// that is not an RSA key is a configuration error (exit 2), not an unreachable endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_error_one_line_and_credential_exit_codes() {
    let sim = sim(1, &[TENANT]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = bin();
    c.args(["run", "--once", "--out"])
        .arg(dir.path())
        .args(sim_flags(&sim))
        .env("O365_CLIENT_SECRET", "not-the-secret");
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.starts_with("error: tenant ") && e.contains("O365_CLIENT_SECRET"),
        "{e}"
    );

    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("ec-key.pem");
    std::fs::write(
        &cert,
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../sim/tests/fixtures/test-only-cert.pem"),
        )
        .unwrap(),
    )
    .unwrap();
    std::fs::write(&key, EC_KEY).unwrap();
    let mut c = bin();
    c.args(["run", "--once", "--out"])
        .arg(dir.path())
        .args(sim_flags(&sim))
        .arg("--client-certificate")
        .arg(&cert)
        .arg("--key-file")
        .arg(&key);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("RSA private key"), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));

    // A certificate and a key that do not belong together: found before any request.
    std::fs::write(&key, OTHER_RSA_KEY).unwrap();
    let requests = sim.ledger().requests.len();
    let mut c = bin();
    c.args(["run", "--once", "--out"])
        .arg(dir.path())
        .args(sim_flags(&sim))
        .arg("--client-certificate")
        .arg(&cert)
        .arg("--key-file")
        .arg(&key);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not belong to the certificate"),
        "{}",
        stderr(&o)
    );
    assert_eq!(sim.ledger().requests.len(), requests, "a request was sent");
    sim.shutdown().await;
}

fn pair<'a>(status: &'a Value, tenant: &str, ct: &str) -> &'a Value {
    status["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["tenant_id"] == tenant && p["content_type"] == ct)
        .unwrap_or_else(|| panic!("no pair {tenant} {ct} in {status}"))
}

/// Issue 19 #2 and #3 (and its "done when"): four tenants from TOML, one with a missing
/// variable, one with a wrong secret, one without the DLP permission and one healthy. The
/// healthy one completes; `status` shows the three problems with their reasons and exits 1;
/// `--tenant-id` narrowing to the healthy one never fails because of the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_tenants_each_fail_alone_and_status_shows_why() {
    const BAD_SECRET: &str = "00000000-0000-0000-0000-000000000002";
    const NO_DLP: &str = "00000000-0000-0000-0000-000000000003";
    const MISSING: &str = "00000000-0000-0000-0000-000000000004";
    let sim = o365_sim::start(o365_sim::SimConfig {
        history: std::time::Duration::from_secs(2 * 3600),
        tenants: vec![
            o365_sim::TenantSpec::new(TENANT),
            o365_sim::TenantSpec::new(BAD_SECRET),
            o365_sim::TenantSpec {
                dlp_permission: false,
                ..o365_sim::TenantSpec::new(NO_DLP)
            },
        ],
        ..o365_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = sim.base_url();
    let config = dir.path().join("four.toml");
    let entry = |t: &str, var: &str, types: &str| {
        format!(
            "[[tenants]]\ntenant_id = \"{t}\"\nclient_id = \"{CLIENT}\"\nclient_secret_env = \"{var}\"\napi_root = \"{base}\"\nlogin_root = \"{base}\"\ncontent_types = [{types}]\n\n"
        )
    };
    std::fs::write(
        &config,
        [
            entry(TENANT, "GOOD_SECRET", "\"Audit.General\""),
            entry(BAD_SECRET, "WRONG_SECRET", "\"Audit.General\""),
            entry(NO_DLP, "GOOD_SECRET", "\"Audit.General\", \"DLP.All\""),
            entry(MISSING, "UNSET_SECRET_VARIABLE", "\"Audit.Exchange\""),
        ]
        .concat(),
    )
    .unwrap();
    let out = dir.path().join("data");
    let with_env = |c: &mut tokio::process::Command| {
        c.env("GOOD_SECRET", SECRET)
            .env("WRONG_SECRET", "not-the-secret");
    };
    let mut c = bin();
    c.args(["run", "--once", "--json", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out);
    with_env(&mut c);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let s = json(&o);
    assert_eq!(s["tenants"], 4, "{s}");
    assert!(s["fetch"]["blobs_stored"].as_u64().unwrap() > 0, "{s}");
    let files = stored(&out);
    assert!(files.values().any(|p| p
        .to_string_lossy()
        .contains(&format!("tenant_id={TENANT}/"))));
    // The summary names each skipped tenant once; stderr has no log line repeating them.
    assert_eq!(s["unreachable"].as_array().unwrap().len(), 2, "{s}");
    assert!(!stderr(&o).contains("ERROR"), "{}", stderr(&o));

    let mut c = bin();
    c.args(["status", "--json", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let st = json(&o);
    assert_eq!(pair(&st, TENANT, "Audit.General")["last_run"], "ok", "{st}");
    assert_eq!(pair(&st, NO_DLP, "Audit.General")["last_run"], "ok", "{st}");
    let missing = pair(&st, MISSING, "Audit.Exchange");
    assert_eq!(missing["last_run"], "failed", "{st}");
    assert_eq!(missing["last_error_kind"], "configuration", "{st}");
    assert!(
        missing["last_error"]
            .as_str()
            .unwrap()
            .contains("UNSET_SECRET_VARIABLE"),
        "{st}"
    );
    // Times to the millisecond, not the nanosecond.
    let at = missing["last_run_at"].as_str().unwrap();
    assert_eq!(at.len(), "2026-03-01T10:00:00.000Z".len(), "{at}");
    let bad = pair(&st, BAD_SECRET, "Audit.General");
    assert_eq!(bad["last_run"], "failed", "{st}");
    assert_eq!(bad["last_error_kind"], "credentials", "{st}");
    let why = bad["last_error"].as_str().unwrap();
    assert!(
        why.contains("WRONG_SECRET") && !why.contains("O365_CLIENT_SECRET"),
        "{st}"
    );
    let dlp = pair(&st, NO_DLP, "DLP.All");
    assert_eq!(dlp["last_run"], "failed", "{st}");
    assert!(dlp["last_error"].as_str().is_some(), "{st}");
    // The table says the same, one reason per failing pair.
    let mut c = bin();
    c.args(["status", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let table = stdout(&o);
    assert_eq!(table.matches("last error (").count(), 3, "{table}");
    assert!(
        table.contains("UNSET_SECRET_VARIABLE") && table.contains("WRONG_SECRET"),
        "{table}"
    );

    // Narrowed to the healthy tenant: the others' problems do not matter.
    let mut c = bin();
    c.args(["run", "--once", "-q", "--tenant-id", TENANT, "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out);
    with_env(&mut c);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut c = bin();
    c.args(["run", "--once", "-q", "--tenant-id", TENANT, "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out);
    c.env("GOOD_SECRET", SECRET);
    let o = run(c).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "without WRONG_SECRET: {}",
        stderr(&o)
    );
    sim.shutdown().await;
}

/// Issue 19 #3: a rejected queue message's report makes `status` say so and exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_error_reports_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = bin();
    c.args([
        "run",
        "--once",
        "-q",
        "--content-types",
        "Audit.General",
        "--out",
    ])
    .arg(dir.path());
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut c = bin();
    c.args(["status", "--out"]).arg(dir.path());
    assert_eq!(run(c).await.status.code(), Some(0));
    let rejected = dir.path().join("o365/_errors/rejected/dt=2026-03-01");
    std::fs::create_dir_all(&rejected).unwrap();
    let report = o365_activity::error_report::ErrorReport {
        kind: "MalformedMessage".into(),
        error: "not a queue message".into(),
        at: chrono::Utc::now(),
        message_id: "m-1".into(),
        attempts: Some(1),
        message: o365_activity::error_report::ReportedMessage::raw("garbage"),
        collector_version: "test".into(),
    };
    std::fs::write(
        rejected.join("m-1.json"),
        serde_json::to_vec(&report).unwrap(),
    )
    .unwrap();
    let mut c = bin();
    c.args(["status", "--json", "--out"]).arg(dir.path());
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(json(&o)["error_reports"]["MalformedMessage"], 1);
}

/// Issue 19 #7: `normalize` infers the content type from `RecordType`, and says what is
/// wrong with input that is not JSON.
#[tokio::test]
async fn normalize_infers_the_content_type_and_rejects_non_json() {
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("blob.json");
    std::fs::write(
        &blob,
        r#"[{"Id":"a","RecordType":2,"CreationTime":"2026-03-01T10:00:00","Operation":"MailItemsAccessed","Workload":"Exchange","UserType":0}]"#,
    )
    .unwrap();
    let mut c = bin();
    c.arg("normalize").arg(&blob);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line: Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(line["_o365"]["content_type"], "Audit.Exchange", "{line}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "not json\n").unwrap();
    let mut c = bin();
    c.arg("normalize").arg(&bad);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("not JSON"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("found null"), "{}", stderr(&o));
}

/// Issue 19 #8: `--once` is not "run #1", and `--sim` does not claim no tenant is configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_reads_finished() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = bin();
    c.args([
        "run",
        "--once",
        "--sim",
        "--content-types",
        "Audit.General",
        "--out",
    ])
    .arg(dir.path())
    .env("O365_TENANT_ID", TENANT);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("o365ctl run: o365-sim"), "{text}");
    assert!(!text.contains("no tenant configured"), "{text}");
    assert!(text.contains("skipped as already sent"), "{text}");
    assert!(
        !stderr(&o).contains('\u{1b}'),
        "colour codes in redirected stderr: {}",
        stderr(&o)
    );
}
