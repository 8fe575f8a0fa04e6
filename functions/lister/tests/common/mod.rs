//! Shared set-up of the lister's integration tests: a stopped-clock o365-sim, tenants and
//! clients pointing at it, a lister following the sim's clock, and ledger checks.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use o365_activity::client::ActivityClient;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::{MemoryQueue, Queue};
use o365_activity::secret::Secret;
use o365_activity::store::{LocalStore, ObjectStore};
use o365_activity::tenants::{Credential, TenantConfig};
use o365_activity::testing::sim as support;
use o365_activity::QueueMessage;
use o365_lister::{Lister, ListerSettings, PairOutcome};
use o365_sim::{
    Ledger, SimConfig, SimHandle, TenantSpec, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID,
};
use tokio::time::Instant;

/// The sim's default tenant.
pub const T1: &str = DEFAULT_TENANT_ID;
/// A second tenant.
pub const T2: &str = "00000000-0000-0000-0000-000000000002";
/// Our publisher id.
pub const PUBLISHER: &str = support::PUBLISHER_ID;

pub use support::t0;

/// A tenant whose app has every permission and no subscription yet.
pub fn tenant_spec(id: &str) -> TenantSpec {
    TenantSpec::new(id)
}

/// A stopped-clock simulator: time moves only when a test advances it.
pub async fn start_sim(
    tenants: Vec<TenantSpec>,
    scenarios: &[&str],
    tweak: impl FnOnce(&mut SimConfig),
) -> Arc<SimHandle> {
    let mut config = SimConfig {
        tenants,
        seed: 11,
        records_per_hour: 12,
        blob_window: Duration::from_secs(900),
        scenarios: support::scenarios(scenarios).unwrap(),
        ..support::stopped_config()
    };
    tweak(&mut config);
    Arc::new(o365_sim::start(config).await.unwrap())
}

/// A tenant configuration pointing at the sim, with the given client secret.
pub fn tenant_config(sim: &SimHandle, tenant_id: &str, secret: &str) -> TenantConfig {
    TenantConfig {
        credential: Credential::Secret(Secret::new(secret)),
        ..support::sim_tenant(&sim.base_url(), tenant_id).unwrap()
    }
}

/// A client with fast retries (fault tests finish quickly; the deadline stays generous).
pub fn client(cfg: &TenantConfig) -> ActivityClient {
    ActivityClient::new(cfg, support::fast_retries(12)).unwrap()
}

/// Settings for tests: defaults, with a short deadline margin.
pub fn settings() -> ListerSettings {
    ListerSettings {
        concurrency: 4,
        deadline_margin: Duration::from_millis(500),
        ..ListerSettings::default()
    }
}

/// A lister over `store` and `queue` for the given tenants (default secret), on the sim's clock.
pub fn lister<S: ObjectStore, Q: Queue>(
    sim: &Arc<SimHandle>,
    store: S,
    queue: Q,
    tenants: &[&str],
    settings: ListerSettings,
    metrics: MetricsSink,
) -> Lister<S, Q> {
    let tenants = tenants
        .iter()
        .map(|t| {
            let cfg = tenant_config(sim, t, DEFAULT_CLIENT_SECRET);
            let c = client(&cfg);
            (cfg, c)
        })
        .collect();
    Lister::new(
        store,
        queue,
        tenants,
        settings,
        support::sim_clock(sim),
        metrics,
    )
}

/// A MemoryQueue with fast re-sends.
pub fn memory_queue() -> MemoryQueue {
    MemoryQueue::new().with_retry_policy(o365_activity::queue::RetryPolicy {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(10),
    })
}

/// A deadline no test reaches.
pub fn far_deadline() -> Instant {
    Instant::now() + Duration::from_secs(300)
}

/// `tenant/type/content id` of every blob a client can list now, for these tenants.
pub fn listable(ledger: &Ledger, tenants: &[&str]) -> BTreeSet<String> {
    ledger
        .published
        .iter()
        .filter(|b| b.visible && tenants.contains(&b.tenant_id.as_str()))
        .map(|b| format!("{}/{}/{}", b.tenant_id, b.content_type, b.content_id))
        .collect()
}

/// Asserts that `messages` hold every expected blob exactly once and nothing else.
pub fn assert_exactly_once(messages: &[QueueMessage], expected: &BTreeSet<String>) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for m in messages {
        *counts.entry(m.dedup_key()).or_default() += 1;
    }
    let doubled: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "enqueued more than once: {doubled:?}");
    let got: BTreeSet<String> = counts.into_keys().collect();
    let missing: Vec<_> = expected.difference(&got).collect();
    assert!(
        missing.is_empty(),
        "{} of {} listable blobs never enqueued, e.g. {:?}",
        missing.len(),
        expected.len(),
        missing.iter().take(3).collect::<Vec<_>>()
    );
    let extra: Vec<_> = got.difference(expected).collect();
    assert!(
        extra.is_empty(),
        "enqueued blobs the sim never published: {extra:?}"
    );
}

/// A query parameter of a recorded request (names compared case-insensitively).
fn query_time(query: Option<&str>, name: &str) -> Option<DateTime<Utc>> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| {
            chrono::NaiveDateTime::parse_from_str(&v, "%Y-%m-%dT%H:%M:%S")
                .unwrap_or_else(|e| panic!("unreadable {name} {v:?}: {e}"))
                .and_utc()
        })
}

/// Asserts every listing request obeyed the API's window rules: both bounds given,
/// start < end, strictly less than 24 h apart, start no more than 7 days before the request,
/// end not in the future. Reads the times from the query as sent (also of requests the sim
/// failed on purpose before parsing them). Returns how many listing requests were checked.
pub fn assert_window_rules(ledger: &Ledger) -> usize {
    let mut checked = 0;
    for r in ledger
        .requests
        .iter()
        .filter(|r| r.operation.as_deref() == Some("content"))
    {
        let start = query_time(r.query.as_deref(), "startTime");
        let end = query_time(r.query.as_deref(), "endTime");
        let (Some(start), Some(end)) = (start, end) else {
            panic!("listing without a window: {r:?}");
        };
        assert!(start < end, "start not before end: {r:?}");
        assert!(
            end - start < TimeDelta::hours(24),
            "window of 24 h or more: {r:?}"
        );
        assert!(
            start >= r.at - TimeDelta::days(7),
            "start more than 7 days back: {r:?}"
        );
        assert!(end <= r.at, "end in the future: {r:?}");
        assert!(
            !matches!(r.error_code.as_deref(), Some("AF20030" | "AF20055")),
            "window rejected: {r:?}"
        );
        checked += 1;
    }
    checked
}

/// The sum of a metric over the EMF lines of a memory sink.
pub fn metric_total(sink: &MetricsSink, name: &str) -> f64 {
    sink.lines()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get(name).and_then(serde_json::Value::as_f64))
        .sum()
}

/// A stopped-clock sim, a directory store and an in-process queue shared by the listers of
/// one test, and a metrics sink they all write to.
pub struct Local {
    /// The simulator.
    pub sim: Arc<SimHandle>,
    /// The queue every lister of the test sends to.
    pub queue: MemoryQueue,
    /// EMF lines of every lister of the test.
    pub metrics: MetricsSink,
    dir: tempfile::TempDir,
}

impl Local {
    /// Starts the sim (see [`start_sim`]) and creates an empty store directory.
    pub async fn start(
        tenants: Vec<TenantSpec>,
        scenarios: &[&str],
        tweak: impl FnOnce(&mut SimConfig),
    ) -> Local {
        Local {
            sim: start_sim(tenants, scenarios, tweak).await,
            queue: memory_queue(),
            metrics: MetricsSink::memory(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A lister over the shared directory and queue.
    pub fn lister(
        &self,
        tenants: &[&str],
        settings: ListerSettings,
    ) -> Lister<LocalStore, MemoryQueue> {
        lister(
            &self.sim,
            LocalStore::new(self.dir.path()),
            self.queue.clone(),
            tenants,
            settings,
            self.metrics.clone(),
        )
    }
}

/// Runs two listers at once, `rounds` times, advancing the sim by `step` after each round;
/// every pair of both runs must come out Ok or Busy. Then runs `a` alone and asserts that it
/// left every pair caught up.
pub async fn race<S: ObjectStore, Q: Queue>(
    a: &Lister<S, Q>,
    b: &Lister<S, Q>,
    sim: &SimHandle,
    rounds: usize,
    step: Duration,
) {
    for round in 0..rounds {
        let (sa, sb) = tokio::join!(a.run(far_deadline()), b.run(far_deadline()));
        for p in sa.pairs.iter().chain(&sb.pairs) {
            assert!(
                matches!(p.outcome, PairOutcome::Ok | PairOutcome::Busy),
                "round {round}: {p:?}"
            );
        }
        sim.advance(step);
    }
    let last = a.run(far_deadline()).await;
    assert!(last.all_complete(), "{last:?}");
}
