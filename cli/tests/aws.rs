#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! o365ctl against S3 and SQS (moto on 127.0.0.1): replay from a dead-letter queue back to
//! the main queue (dry run first), and a run that lists into SQS and stores into S3.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use o365_activity::queue::Queue;
use o365_activity::store::ObjectStore;
use o365_activity::testing::MotoServer;
use o365_activity::QueueMessage;
use tokio::time::Instant;

fn message(i: usize) -> QueueMessage {
    QueueMessage::parse(&format!(
        r#"{{"format_version":1,"tenant_id":"{TENANT}","content_type":"Audit.General","content_id":"dlq{i}","content_uri":"http://127.0.0.1:9/api/v1.0/{TENANT}/activity/feed/audit/dlq{i}","content_created":"2026-03-01T10:33:18.440Z","content_expiration":"2026-03-08T10:15:00.120Z"}}"#
    ))
    .unwrap()
}

fn aws(c: &mut tokio::process::Command, moto: &MotoServer) {
    c.args(["--endpoint-url", moto.endpoint()])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1");
}

async fn bodies(q: &o365_activity::queue::SqsQueue) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    loop {
        let got = q
            .receive(10, Duration::from_secs(1), Some(Duration::from_secs(60)))
            .await
            .unwrap();
        if got.is_empty() {
            return out;
        }
        out.extend(
            got.into_iter()
                .map(|m| QueueMessage::parse(&m.body).unwrap().content_id),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_moves_the_dlq_back_to_the_main_queue() {
    let moto = MotoServer::start().await.unwrap();
    let (main, dlq) = moto
        .create_queue_with_dlq("o365ctl-replay", 3, Duration::from_secs(30))
        .await
        .unwrap();
    let msgs: Vec<QueueMessage> = (0..13).map(message).collect();
    dlq.send_all(&msgs, Instant::now() + Duration::from_secs(30))
        .await
        .unwrap();

    let mut c = bin();
    c.args([
        "replay",
        "--dry-run",
        "--from-dlq",
        dlq.url(),
        "--queue-url",
        main.url(),
    ]);
    aws(&mut c, &moto);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let printed: BTreeSet<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| QueueMessage::parse(l).unwrap().content_id)
        .collect();
    assert_eq!(printed.len(), 13);
    assert_eq!(
        main.approximate_depth().await.unwrap().0,
        0,
        "a dry run sends nothing"
    );
    assert_eq!(
        dlq.approximate_depth().await.unwrap().0,
        13,
        "and leaves the DLQ as it was"
    );

    let mut c = bin();
    c.args(["replay", "--from-dlq", dlq.url(), "--queue-url", main.url()]);
    aws(&mut c, &moto);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("moved 13"), "{}", stderr(&o));
    assert_eq!(dlq.approximate_depth().await.unwrap(), (0, 0));
    let moved = bodies(&main).await;
    let want: BTreeSet<String> = msgs.iter().map(|m| m.content_id.clone()).collect();
    assert_eq!(moved, want);

    // A queue that does not exist: exit 3 with what to check.
    let mut c = bin();
    let missing = format!("{}/123456789012/no-such-queue", moto.endpoint());
    c.args(["replay", "--from-dlq", &missing, "--queue-url", main.url()]);
    aws(&mut c, &moto);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("--endpoint-url"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_lists_into_sqs_and_stores_into_s3() {
    let moto = MotoServer::start().await.unwrap();
    let bucket = moto.create_bucket("o365ctl-run").await.unwrap();
    let queue = moto
        .create_queue("o365ctl-run", Duration::from_secs(60))
        .await
        .unwrap();
    let sim = sim(2, &[TENANT]).await;
    let mut c = bin();
    c.args([
        "run",
        "--once",
        "--json",
        "-q",
        "--content-types",
        "Audit.Exchange",
    ])
    .args(["--bucket", bucket.bucket(), "--queue-url", queue.url()])
    .args(sim_flags(&sim))
    .env("O365_CLIENT_SECRET", SECRET);
    aws(&mut c, &moto);
    let t0 = chrono::Utc::now();
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = json(&o);
    let n = s["fetch"]["blobs_stored"].as_u64().unwrap();
    assert!(n > 0, "{s}");
    assert_eq!(s["queued"].as_u64().unwrap(), n);
    assert!(s["output"].as_str().unwrap().starts_with("s3://"));
    let keys = bucket
        .list(&format!(
            "o365/tenant_id={TENANT}/content_type=Audit.Exchange/"
        ))
        .await
        .unwrap();
    assert_eq!(keys.len() as u64, n);
    assert!(!bucket.list("o365/_state/").await.unwrap().is_empty());
    // Every stored object has its manifest entry, and they agree.
    let mut v = bin();
    v.args(["verify", "--json", "--bucket", bucket.bucket()]);
    aws(&mut v, &moto);
    let verified = run(v).await;
    assert_eq!(verified.status.code(), Some(0), "{}", stderr(&verified));
    let report = json(&verified);
    assert_eq!(report["entries"].as_u64(), Some(n), "{report}");
    assert_eq!(
        report["problems"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );
    assert_eq!(
        queue.approximate_depth().await.unwrap(),
        (0, 0),
        "every message handled and deleted"
    );

    // Status reads the bucket's checkpoints and the depth of a queue.
    let mut c = bin();
    c.args([
        "status",
        "--json",
        "--bucket",
        bucket.bucket(),
        "--dlq-url",
        queue.url(),
    ]);
    aws(&mut c, &moto);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let st = json(&o);
    assert_eq!(st["pairs"][0]["content_type"], "Audit.Exchange");
    assert_eq!(st["pairs"][0]["last_run"], "ok");
    assert_eq!(st["dlq"]["visible"], 0);

    // Replaying a window into the queue sends every blob again (the fetcher skips them).
    let window = format!(
        "{}..{}",
        (t0 - chrono::TimeDelta::hours(3)).format("%Y-%m-%dT%H:%M:%SZ"),
        t0.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let mut c = at_sim(
        &sim,
        &[
            "replay",
            "-q",
            "--window",
            &window,
            "--content-types",
            "Audit.Exchange",
        ],
    );
    c.args(["--bucket", bucket.bucket(), "--queue-url", queue.url()]);
    aws(&mut c, &moto);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Everything published before the run was stored by it; the window ends before the run.
    let sent = bodies(&queue).await;
    assert!(!sent.is_empty());
    let keys = bucket.list("o365/").await.unwrap();
    for id in &sent {
        assert!(keys.iter().any(|k| k.contains(id.as_str())), "{id}");
    }
    assert!(
        stderr(&o).contains(&format!("{} message(s) sent to", sent.len())),
        "{}",
        stderr(&o)
    );
    sim.shutdown().await;
}

/// A run on an SQS queue whose downloads are throttled (the API's 429 with `Retry-After`)
/// hands the throttled messages back with a delay, as the Lambda does, and waits for them: every blob
/// is stored, nothing is counted failed, and nothing is left in the queue (before, each such
/// message counted as an error and stayed hidden for the queue's visibility timeout, a
/// receive nearer the dead-letter queue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_on_sqs_hands_throttled_messages_back_and_fetches_them() {
    const OTHERS: [&str; 2] = [
        "00000000-0000-0000-0000-000000000002",
        "00000000-0000-0000-0000-000000000003",
    ];
    let moto = MotoServer::start().await.unwrap();
    let bucket = moto.create_bucket("o365ctl-handback").await.unwrap();
    let queue = moto
        .create_queue("o365ctl-handback", Duration::from_secs(60))
        .await
        .unwrap();
    // Some API answers are 429 with `Retry-After: 1`: the tenant's budget then stops for a
    // second, longer than a batch of three busy tenants' downloads may wait.
    let sim = o365_sim::start(o365_sim::SimConfig {
        history: Duration::from_secs(3 * 3600),
        tenants: [TENANT, OTHERS[0], OTHERS[1]]
            .iter()
            .map(|t| o365_sim::TenantSpec::new(*t))
            .collect(),
        scenarios: vec![o365_sim::Scenario::parse("throttle-429=0.1").unwrap()],
        ..o365_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = sim.base_url();
    let config = dir.path().join("tenants.toml");
    let tenants: String = [TENANT, OTHERS[0], OTHERS[1]]
        .iter()
        .map(|t| {
            format!(
                "[[tenants]]\ntenant_id = \"{t}\"\nclient_id = \"{CLIENT}\"\nclient_secret_env = \"SIM_SECRET\"\napi_root = \"{base}\"\nlogin_root = \"{base}\"\ncontent_types = [\"Audit.General\"]\n\n"
            )
        })
        .collect();
    std::fs::write(&config, tenants).unwrap();
    let mut c = bin();
    c.args(["run", "--once", "--json", "-q", "--config"])
        .arg(&config)
        .args(["--bucket", bucket.bucket(), "--queue-url", queue.url()])
        .env("SIM_SECRET", SECRET);
    aws(&mut c, &moto);
    let listed = published(&sim, "Audit.General");
    assert!(!listed.is_empty());
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = json(&o);
    assert_eq!(s["fetch"]["failed"].as_u64(), Some(0), "{s}");
    assert!(s["fetch"]["handed_back"].as_u64().unwrap() > 0, "{s}");
    // Every blob listable before the run (of all three tenants) is stored.
    let keys = bucket.list("o365/tenant_id=").await.unwrap();
    for id in &listed {
        assert!(
            keys.iter().any(|k| k.contains(id.as_str())),
            "{id} not stored: {s}"
        );
    }
    assert_eq!(
        s["fetch"]["blobs_stored"].as_u64(),
        Some(s["queued"].as_u64().unwrap()),
        "{s}"
    );
    assert_eq!(
        queue.approximate_depth().await.unwrap(),
        (0, 0),
        "every message handled and deleted"
    );
    sim.shutdown().await;
}

/// Issue 19 #4 and #5: a missing bucket or queue is one readable line (no SDK debug dump),
/// and a wrong queue is found before the lister writes any state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_bucket_or_queue_fails_first_in_one_readable_line() {
    let moto = MotoServer::start().await.unwrap();
    let bucket = moto.create_bucket("o365ctl-checks").await.unwrap();
    let queue = moto
        .create_queue("o365ctl-checks", Duration::from_secs(60))
        .await
        .unwrap();
    let sim = sim(1, &[TENANT]).await;
    let missing_queue = format!("{}/123456789012/no-such-queue", moto.endpoint());
    for (bucket_name, queue_url, cause) in [
        ("no-such-bucket-o365ctl", queue.url(), "no such bucket"),
        (bucket.bucket(), missing_queue.as_str(), "no such queue"),
    ] {
        let mut c = bin();
        c.args(["run", "--once", "--content-types", "Audit.General"])
            .args(["--bucket", bucket_name, "--queue-url", queue_url])
            .args(sim_flags(&sim))
            .env("O365_CLIENT_SECRET", SECRET);
        aws(&mut c, &moto);
        let o = run(c).await;
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(3), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains(cause), "{e}");
        assert!(!e.contains("ServiceError") && e.len() < 500, "{e}");
    }
    // Nothing was written before the queue was found missing.
    assert!(bucket.list("").await.unwrap().is_empty());
    sim.shutdown().await;
}
