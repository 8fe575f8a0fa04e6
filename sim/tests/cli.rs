//! The command line other tools rely on: `--help` documents every flag and scenario, and the
//! binary starts with no more than `--listen 127.0.0.1:0`, printing the URL it serves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Stdio;

use o365_sim::{ScenarioKind, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID};
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_o365-sim");

#[test]
fn help_documents_every_flag_and_scenario() {
    let out = std::process::Command::new(BIN)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--tenant",
        "--client-id",
        "--client-secret",
        "--scenario",
        "--seed",
        "--certificate",
        "--speed",
        "--clock-start",
        "/_sim/ledger",
        "/_sim/clock/advance",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    for k in ScenarioKind::ALL {
        assert!(
            help.contains(k.name()),
            "--help lacks scenario {}",
            k.name()
        );
    }
}

#[test]
fn bad_scenarios_and_non_loopback_addresses_are_refused() {
    let out = std::process::Command::new(BIN)
        .args(["--scenario", "no-such-fault"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-fault"));
    let out = std::process::Command::new(BIN)
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[tokio::test]
async fn starts_with_one_command_and_serves_tokens() {
    let mut child = tokio::process::Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--seed", "3", "--history", "1h"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let base = first
        .strip_prefix("o365-sim listening on ")
        .unwrap()
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"));
    let http = reqwest::Client::new();
    let scope = format!("{base}/.default");
    let r = http
        .post(format!("{base}/{DEFAULT_TENANT_ID}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("scope", &scope),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let summary: serde_json::Value = http
        .get(format!("{base}/_sim/ledger/summary"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary["requests"], 1);
    child.kill().await.unwrap();
}
