//! The lister on S3 and SQS (moto on 127.0.0.1) against o365-sim: checkpoints with real
//! conditional writes, messages through SendMessageBatch, concurrent runs on one bucket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use o365_activity::checkpoint::LastRunOutcome;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::SqsQueue;
use o365_activity::testing::MotoServer;
use o365_activity::{ContentType, QueueMessage};
use o365_lister::{ListerSettings, PairOutcome};

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
    let moto = MotoServer::start().await.unwrap();
    let store = moto.create_bucket("lister").await.unwrap();
    let queue = moto
        .create_queue("lister", Duration::from_secs(600))
        .await
        .unwrap();
    let sim = start_sim(vec![tenant_spec(T1)], &[], |c| {
        c.blob_window = Duration::from_secs(1800);
    })
    .await;
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
    let moto = MotoServer::start().await.unwrap();
    let store = moto.create_bucket("lister-race").await.unwrap();
    let queue = moto
        .create_queue("lister-race", Duration::from_secs(600))
        .await
        .unwrap();
    let sim = start_sim(vec![tenant_spec(T1), tenant_spec(T2)], &[], |c| {
        c.blob_window = Duration::from_secs(1800);
    })
    .await;
    let a = lister(
        &sim,
        store.clone(),
        queue.clone(),
        &[T1, T2],
        two_types(),
        MetricsSink::Discard,
    );
    let b = lister(
        &sim,
        store.clone(),
        queue.clone(),
        &[T1, T2],
        two_types(),
        MetricsSink::Discard,
    );
    for _ in 0..3 {
        let (sa, sb) = tokio::join!(a.run(far_deadline()), b.run(far_deadline()));
        for p in sa.pairs.iter().chain(&sb.pairs) {
            assert!(
                matches!(p.outcome, PairOutcome::Ok | PairOutcome::Busy),
                "{p:?}"
            );
        }
        sim.advance(Duration::from_secs(15 * 60));
    }
    let last = b.run(far_deadline()).await;
    assert!(last.all_complete(), "{last:?}");
    let sent = drain(&queue).await;
    let mut expected = listable(&sim.ledger(), &[T1, T2]);
    only_types(&mut expected);
    assert_exactly_once(&sent, &expected);
}
