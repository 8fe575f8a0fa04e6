#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `o365ctl run` stopped with Ctrl-C (SIGINT) or SIGTERM: it releases its leases, prints its
//! summary and exits 130 / 143, and a run started right after completes everything.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::*;
use o365_sim::{SimConfig, SimHandle, TenantSpec};

const TYPES: [&str; 2] = ["Audit.Exchange", "Audit.SharePoint"];

/// Whether some pair's checkpoint exists yet (the lister has claimed a pair).
fn claimed(out: &Path) -> bool {
    let state = out.join("o365/_state");
    let mut stack = vec![state];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.ends_with("checkpoint.json") {
                return true;
            }
        }
    }
    false
}

async fn interrupted_then_rerun(signal: &str, code: i32) {
    // Days of history: the run takes long enough to be stopped in the middle (and no blob
    // expires while the test runs).
    let sim: SimHandle = o365_sim::start(SimConfig {
        history: Duration::from_secs(2 * 24 * 3600),
        tenants: vec![TenantSpec::new(TENANT)],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let ctl = Ctl::at(&sim);
    let types = TYPES.join(",");
    let run_args = ["run", "--once", "--json", "-q", "--content-types", &types];

    let child = ctl
        .cmd(&run_args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut waited = 0;
    while !claimed(ctl.path()) {
        assert!(waited < 3000, "the run never claimed a pair");
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    let kill = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    let first = child.wait_with_output().await.unwrap();
    assert_eq!(first.status.code(), Some(code), "{}", stderr(&first));
    // The summary is still printed, and the run did not get to the end of every pair.
    let s1 = json(&first);
    let pairs = s1["lister"]["pairs"].as_array().unwrap();
    assert!(
        pairs.iter().any(|p| p["complete"] == false),
        "the run was not interrupted: {s1}"
    );

    // No lease is left behind.
    let mut c = bin();
    c.args(["status", "--json", "--out", &ctl.out()]);
    let st = json(&run(c).await);
    for p in st["pairs"].as_array().unwrap() {
        assert!(p["leased_until"].is_null(), "lease kept: {p}");
    }

    // The next run, at once: no pair busy, everything collected exactly once.
    let listable: BTreeSet<String> = TYPES.iter().flat_map(|t| published(&sim, t)).collect();
    let second = run(ctl.cmd(&run_args)).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let s2 = json(&second);
    for p in s2["lister"]["pairs"].as_array().unwrap() {
        assert_eq!(p["outcome"]["status"], "ok", "{p}");
        assert_eq!(p["complete"], true, "{p}");
    }
    let got: BTreeSet<String> = ctl.stored().into_keys().collect();
    let missing: Vec<_> = listable.difference(&got).take(3).collect();
    assert!(
        missing.is_empty(),
        "{} of {} blobs missing, e.g. {missing:?}",
        listable.difference(&got).count(),
        listable.len()
    );
    let published_now: BTreeSet<String> = TYPES.iter().flat_map(|t| published(&sim, t)).collect();
    assert!(
        got.is_subset(&published_now),
        "stored blobs never published"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_releases_the_leases_and_the_next_run_completes_everything() {
    interrupted_then_rerun("INT", 130).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_the_leases_and_the_next_run_completes_everything() {
    interrupted_then_rerun("TERM", 143).await;
}
