#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Durable local runs (issue 13 item 4): what `o365ctl run` listed but did not store survives
//! the end of the run (its deadline, or SIGKILL mid-fetch) in `<out>/_spool/`, and the next run
//! stores every listed blob, each once.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::*;
use o365_sim::{Scenario, SimConfig, SimHandle, TenantSpec};

const TYPES: [&str; 2] = ["Audit.Exchange", "Audit.SharePoint"];

/// Two days of history, with slow answers so that fetching takes a while.
async fn slow_sim() -> SimHandle {
    o365_sim::start(SimConfig {
        history: Duration::from_secs(2 * 24 * 3600),
        tenants: vec![TenantSpec::new(TENANT)],
        scenarios: vec![Scenario::parse("slow=0.15").unwrap()],
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn spooled(out: &Path) -> usize {
    std::fs::read_dir(out.join("_spool"))
        .map(|d| d.flatten().count())
        .unwrap_or(0)
}

/// The second run, with time enough: every listable blob stored, each once, spool empty.
async fn next_run_stores_everything(sim: &SimHandle, dir: &Path, args: &[&str]) {
    let listable: BTreeSet<String> = TYPES.iter().flat_map(|t| published(sim, t)).collect();
    let second = run(at_sim(sim, args)).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    // `stored` also fails on a content id stored twice.
    let got: BTreeSet<String> = stored(dir).into_keys().collect();
    let missing: Vec<_> = listable.difference(&got).take(3).collect();
    assert!(
        missing.is_empty(),
        "{} of {} listed blobs never stored, e.g. {missing:?}",
        listable.difference(&got).count(),
        listable.len()
    );
    assert_eq!(spooled(dir), 0, "the spool is drained");
}

fn run_args<'a>(out: &'a str, types: &'a str, timeout: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--once",
        "--json",
        "-q",
        "--content-types",
        types,
        "--out",
        out,
        "--timeout",
        timeout,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cut_by_its_deadline_leaves_nothing_behind() {
    let sim = slow_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap().to_owned();
    let types = TYPES.join(",");
    // Longer and longer deadlines until one lets the lister commit windows but cuts the
    // fetch (how long listing takes depends on the machine's load).
    let mut left = 0;
    for timeout in ["5s", "10s", "20s", "40s", "80s"] {
        let first = run(at_sim(&sim, &run_args(&out, &types, timeout))).await;
        let s1 = json(&first);
        left = s1["fetch"]["spooled"].as_u64().unwrap_or(0);
        if left > 0 {
            break;
        }
        let listable: BTreeSet<String> = TYPES.iter().flat_map(|t| published(&sim, t)).collect();
        let got: BTreeSet<String> = stored(dir.path()).into_keys().collect();
        assert!(
            !listable.is_subset(&got),
            "every blob was stored before any deadline cut the fetch: {s1}"
        );
    }
    assert!(left > 0, "no deadline cut the fetch");
    // Also kept: messages whose fetch the deadline interrupted (counted as failed).
    assert!(spooled(dir.path()) as u64 >= left);
    // A deadline is not a permanent failure: no error report.
    assert!(!dir.path().join("o365/_errors").exists());
    next_run_stores_everything(&sim, dir.path(), &run_args(&out, &types, "10m")).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_fetch_leaves_nothing_behind() {
    let sim = slow_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap().to_owned();
    let types = TYPES.join(",");
    let child = at_sim(&sim, &run_args(&out, &types, "10m"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut waited = 0;
    while stored(dir.path()).is_empty() {
        assert!(waited < 6000, "the run never stored a blob");
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    let kill = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let _ = child.wait_with_output().await.unwrap();
    let listable: BTreeSet<String> = TYPES.iter().flat_map(|t| published(&sim, t)).collect();
    let before = stored(dir.path()).len();
    assert!(
        before < listable.len(),
        "the run was not killed mid-fetch ({before} of {} stored)",
        listable.len()
    );
    next_run_stores_everything(&sim, dir.path(), &run_args(&out, &types, "10m")).await;
    sim.shutdown().await;
}
