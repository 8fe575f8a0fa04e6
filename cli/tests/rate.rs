#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Each tenant's request budget of `o365ctl` (issue 18): `API_RATE_PER_MINUTE` and `API_BURST`
//! are read as the Lambda functions read them and pace every API request, a download that
//! only waits for the budget is fetched later instead of failing, and a bad value is a
//! configuration error (exit 2).

mod common;

use std::time::Duration;

use common::*;
use o365_sim::{RequestRecord, Scenario, SimConfig, SimHandle, TenantSpec};

const TYPE: &str = "Audit.Exchange";

/// A simulator with three hours of history and `scenarios`.
async fn sim_with(scenarios: &[&str]) -> SimHandle {
    o365_sim::start(SimConfig {
        history: Duration::from_secs(3 * 3600),
        tenants: vec![TenantSpec::new(TENANT)],
        scenarios: scenarios
            .iter()
            .map(|s| Scenario::parse(s).unwrap())
            .collect(),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// `o365ctl run --once` of [`TYPE`] against `sim` with `API_RATE_PER_MINUTE` and `API_BURST`.
async fn run_at(ctl: &Ctl<'_>, rate: &str, burst: &str) -> serde_json::Value {
    let mut c = ctl.cmd(&["run", "--once", "--json", "-q", "--content-types", TYPE]);
    c.env("API_RATE_PER_MINUTE", rate).env("API_BURST", burst);
    let o = run(c).await;
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}{out}", stderr(&o));
    json(&o)
}

/// The API requests the simulator answered (token requests left out).
fn api_requests(sim: &SimHandle) -> Vec<RequestRecord> {
    sim.ledger()
        .requests
        .into_iter()
        .filter(|r| r.operation.as_deref().is_some_and(|op| op != "token"))
        .collect()
}

/// Every blob of `listed` (listable before the run: one published while it ran may be
/// left to the next) was stored and none failed.
fn stored_everything(ctl: &Ctl<'_>, listed: &[String], summary: &serde_json::Value) {
    let stored = ctl.stored();
    let missing: Vec<_> = listed
        .iter()
        .filter(|id| !stored.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} blobs not stored: {summary}",
        missing.len(),
        listed.len()
    );
    assert_eq!(summary["fetch"]["failed"], 0, "{summary}");
    assert_eq!(summary["errors"], 0, "{summary}");
}

/// The simulator's bucket holds the configured rate with a few tokens more than the configured
/// burst (room for timing jitter): the default budget (1,800/min, a burst of 30) overdraws
/// it, the configured one never does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_rate_is_never_throttled_by_a_service_at_that_rate() {
    let sim = sim_with(&["rate-limit=1200", "rate-burst=8"]).await;
    let ctl = Ctl::at(&sim);
    let listed = published(&sim, TYPE);
    let summary = run_at(&ctl, "1200", "2").await;
    let requests = api_requests(&sim);
    let throttled = requests
        .iter()
        .filter(|r| r.error_code.as_deref() == Some("AF429"))
        .count();
    assert_eq!(
        throttled,
        0,
        "{throttled} of {} API requests answered AF429: {}",
        requests.len(),
        summary["api_requests"]
    );
    assert_eq!(summary["api_requests"][0]["throttled"], 0, "{summary}");
    assert!(published(&sim, TYPE).len() > 20, "too few blobs to tell");
    stored_everything(&ctl, &listed, &summary);
    sim.shutdown().await;
}

/// At 300 requests a minute with a burst of 1 (one request every 200 ms), most downloads of a
/// batch find the budget needs more than their 300 ms wait: they are fetched in a later round,
/// not failed after three tries; and no span of requests went faster than the rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_rate_paces_every_request_and_fails_no_blob() {
    let sim = sim_with(&[]).await;
    let ctl = Ctl::at(&sim);
    let listed = published(&sim, TYPE);
    let summary = run_at(&ctl, "300", "1").await;
    stored_everything(&ctl, &listed, &summary);
    let requests = api_requests(&sim);
    assert!(requests.len() > 20, "too few requests to tell: {summary}");
    // At most burst + rate × t requests in any span t (one more for the clocks' jitter).
    let (burst, per_second) = (1.0, 5.0);
    for (i, first) in requests.iter().enumerate() {
        for (j, last) in requests.iter().enumerate().skip(i + 1) {
            let span = (last.at - first.at).as_seconds_f64();
            let n = (j - i + 1) as f64;
            assert!(
                n <= burst + per_second * span + 1.0,
                "{n} requests in {span:.3} s, faster than 300/min (burst 1): {summary}"
            );
        }
    }
    sim.shutdown().await;
}

/// A bad value stops every command before any work, naming the variable and what it takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_rate_or_burst_is_a_configuration_error() {
    let ctl = Ctl::embedded();
    for (sub, var, value) in [
        (&["run", "--once"][..], "API_RATE_PER_MINUTE", "0"),
        (&["run", "--once"][..], "API_BURST", "lots"),
        (
            &["backfill", "--last", "1h"][..],
            "API_RATE_PER_MINUTE",
            "1e3",
        ),
    ] {
        let mut c = ctl.cmd(sub);
        c.env(var, value);
        let o = run(c).await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{sub:?} {var}={value}: {err}");
        assert!(
            err.contains(&format!("{var}={value:?} is invalid"))
                && err.contains("whole number from 1 to 1000000"),
            "{sub:?} {var}={value}: {err}"
        );
        assert!(
            ctl.stored().is_empty(),
            "{sub:?} {var}={value} stored blobs"
        );
    }
}
