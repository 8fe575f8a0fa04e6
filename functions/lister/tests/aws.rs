//! The lister on S3 and SQS (moto on 127.0.0.1) against o365-sim: checkpoints with real
//! conditional writes, messages through SendMessageBatch, concurrent runs on one bucket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use o365_activity::checkpoint::LastRunOutcome;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::SqsQueue;
use o365_activity::store::S3Store;
use o365_activity::testing::MotoServer;
use o365_activity::{ContentType, QueueMessage};
use o365_lister::ListerSettings;
use o365_sim::SimHandle;

/// Takes every message off the queue (each stays invisible for the rest of the test).
async fn drain(q: &SqsQueue) -> Vec<QueueMessage> {
    let mut out = Vec::new();
    loop {
        let got = q
            .receive(10, Duration::from_secs(0), Some(Duration::from_secs(600)))
            .await
            .unwrap();
        if got.is_empty() {
            return out;
        }
        out.extend(got.iter().map(|m| QueueMessage::parse(&m.body).unwrap()));
    }
}

/// A moto server with a fresh bucket and queue, and a sim with these tenants.
async fn moto_env(
    name: &str,
    tenants: Vec<o365_sim::TenantSpec>,
) -> (MotoServer, S3Store, SqsQueue, Arc<SimHandle>) {
    let moto = MotoServer::start().await.unwrap();
    let store = moto.create_bucket(name).await.unwrap();
    let queue = moto
        .create_queue(name, Duration::from_secs(600))
        .await
        .unwrap();
    let sim = start_sim(tenants, &[], |c| {
        c.blob_window = Duration::from_secs(1800);
    })
    .await;
    (moto, store, queue, sim)
}

fn two_types() -> ListerSettings {
    ListerSettings {
        content_types: Some(vec![
            ContentType::Exchange,
            ContentType::AzureActiveDirectory,
        ]),
        ..settings()
    }
}

fn only_types(expected: &mut std::collections::BTreeSet<String>) {
    expected
        .retain(|k| k.contains("/Audit.Exchange/") || k.contains("/Audit.AzureActiveDirectory/"));
}

#[tokio::test]
async fn lists_into_sqs_with_checkpoints_in_s3() {
    let (_moto, store, queue, sim) = moto_env("lister", vec![tenant_spec(T1)]).await;
    let l = lister(
        &sim,
        store.clone(),
        queue.clone(),
        &[T1],
        two_types(),
        MetricsSink::Discard,
    );

    let first = l.run(far_deadline()).await;
    assert!(first.all_complete(), "{first:?}");
    let mut sent = drain(&queue).await;
    sim.advance(Duration::from_secs(2 * 3600));
    let second = l.run(far_deadline()).await;
    assert!(second.all_complete(), "{second:?}");
    assert!(second.messages_sent() > 0);
    sent.extend(drain(&queue).await);

    let mut expected = listable(&sim.ledger(), &[T1]);
    only_types(&mut expected);
    assert_exactly_once(&sent, &expected);
    assert_window_rules(&sim.ledger());

    let cps = l.checkpoints().list().await.unwrap();
    assert_eq!(cps.len(), 2);
    for c in cps {
        assert_eq!(c.watermark, Some(sim.now()));
        assert_eq!(c.last_run.unwrap().outcome, LastRunOutcome::Ok);
        assert!(c.lease.is_none());
    }
}

#[tokio::test]
async fn concurrent_runs_on_one_bucket_lose_and_double_nothing() {
    let (_moto, store, queue, sim) =
        moto_env("lister-race", vec![tenant_spec(T1), tenant_spec(T2)]).await;
    let make = || {
        lister(
            &sim,
            store.clone(),
            queue.clone(),
            &[T1, T2],
            two_types(),
            MetricsSink::Discard,
        )
    };
    let (a, b) = (make(), make());
    race(&a, &b, &sim, 3, Duration::from_secs(15 * 60)).await;
    let sent = drain(&queue).await;
    let mut expected = listable(&sim.ledger(), &[T1, T2]);
    only_types(&mut expected);
    assert_exactly_once(&sent, &expected);
}
