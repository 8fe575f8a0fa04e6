//! SqsQueue against moto on 127.0.0.1: batched sends, receive/delete, visibility, depth,
//! redrive to the DLQ after the maximum receives, and moving messages back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::Duration;

use o365_activity::queue::{Queue, QueueError, ReceivedMessage, SqsQueue};
use o365_activity::testing::MotoServer;
use o365_activity::QueueMessage;
use tokio::time::Instant;

fn messages(n: usize, tag: &str) -> Vec<QueueMessage> {
    (0..n)
        .map(|i| {
            QueueMessage::parse(&format!(
                r#"{{"format_version":1,"tenant_id":"00000000-0000-0000-0000-000000000001","content_type":"Audit.SharePoint","content_id":"{tag}{i}","content_uri":"https://manage.office.com/api/v1.0/t/activity/feed/audit/{tag}{i}","content_created":"2026-03-01T10:33:18.440Z","content_expiration":"2026-03-08T10:15:00.120Z"}}"#
            ))
            .unwrap()
        })
        .collect()
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// Receives until `n` messages were seen or a receive comes back empty.
async fn receive_n(q: &SqsQueue, n: usize, visibility: Duration) -> Vec<ReceivedMessage> {
    let mut out = Vec::new();
    while out.len() < n {
        let got = q
            .receive(10, Duration::from_secs(1), Some(visibility))
            .await
            .unwrap();
        if got.is_empty() {
            break;
        }
        out.extend(got);
    }
    out
}

fn content_ids(received: &[ReceivedMessage]) -> BTreeSet<String> {
    received
        .iter()
        .map(|m| QueueMessage::parse(&m.body).unwrap().content_id)
        .collect()
}

fn ids(msgs: &[QueueMessage]) -> BTreeSet<String> {
    msgs.iter().map(|m| m.content_id.clone()).collect()
}

#[tokio::test]
async fn send_receive_delete_and_depth() {
    let moto = MotoServer::start().await.unwrap();
    let q = moto
        .create_queue("send", Duration::from_secs(30))
        .await
        .unwrap();
    let msgs = messages(25, "c");
    let report = q.send_all(&msgs, soon()).await.unwrap();
    assert_eq!(report.sent, 25);
    assert_eq!(report.retried_entries, 0);
    assert_eq!(q.approximate_depth().await.unwrap(), (25, 0));

    let got = receive_n(&q, 25, Duration::from_secs(60)).await;
    assert_eq!(got.len(), 25);
    assert_eq!(content_ids(&got), ids(&msgs));
    assert!(got.iter().all(|m| m.receive_count == 1));
    // Bodies are the contract's JSON, byte for byte.
    let sent_bodies: BTreeSet<String> = msgs.iter().map(QueueMessage::to_json).collect();
    let got_bodies: BTreeSet<String> = got.iter().map(|m| m.body.clone()).collect();
    assert_eq!(got_bodies, sent_bodies);
    assert_eq!(q.approximate_depth().await.unwrap(), (0, 25));

    let handles: Vec<String> = got.iter().map(|m| m.receipt_handle.clone()).collect();
    assert_eq!(q.delete(&handles).await.unwrap(), 25);
    assert_eq!(q.approximate_depth().await.unwrap(), (0, 0));
    assert!(q
        .receive(10, Duration::ZERO, None)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn change_visibility_returns_a_message() {
    let moto = MotoServer::start().await.unwrap();
    let q = moto
        .create_queue("vis", Duration::from_secs(30))
        .await
        .unwrap();
    q.send_all(&messages(1, "v"), soon()).await.unwrap();
    let first = receive_n(&q, 1, Duration::from_secs(300)).await;
    assert_eq!(first.len(), 1);
    assert!(q
        .receive(10, Duration::ZERO, None)
        .await
        .unwrap()
        .is_empty());
    q.change_visibility(&first[0].receipt_handle, Duration::ZERO)
        .await
        .unwrap();
    let again = receive_n(&q, 1, Duration::from_secs(300)).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id, first[0].message_id);
    assert_eq!(again[0].receive_count, 2);
}

#[tokio::test]
async fn redrive_to_dlq_and_move_back() {
    let moto = MotoServer::start().await.unwrap();
    let (main, dlq) = moto
        .create_queue_with_dlq("redrive", 2, Duration::from_secs(30))
        .await
        .unwrap();
    let msgs = messages(13, "r");
    main.send_all(&msgs, soon()).await.unwrap();

    // Receive without deleting (visibility 0: back at once) until SQS gives up on them.
    let mut max_seen = 0;
    for _ in 0..20 {
        let got = main
            .receive(10, Duration::ZERO, Some(Duration::ZERO))
            .await
            .unwrap();
        max_seen = max_seen.max(got.iter().map(|m| m.receive_count).max().unwrap_or(0));
        if got.is_empty() && main.approximate_depth().await.unwrap() == (0, 0) {
            break;
        }
    }
    assert_eq!(max_seen, 2, "received at most maxReceiveCount times");
    assert_eq!(main.approximate_depth().await.unwrap(), (0, 0));
    assert_eq!(dlq.approximate_depth().await.unwrap(), (13, 0));

    // Move 5 back, then the rest.
    let r = dlq.move_messages(&main, 5, soon()).await.unwrap();
    assert_eq!((r.moved, r.failed, r.not_deleted), (5, 0, 0), "{r:?}");
    assert_eq!(dlq.approximate_depth().await.unwrap(), (8, 0));
    let r = dlq.move_messages(&main, 100, soon()).await.unwrap();
    assert_eq!((r.moved, r.failed, r.not_deleted), (8, 0, 0), "{r:?}");
    assert_eq!(dlq.approximate_depth().await.unwrap(), (0, 0));
    assert_eq!(main.approximate_depth().await.unwrap(), (13, 0));

    let back = receive_n(&main, 13, Duration::from_secs(60)).await;
    assert_eq!(back.len(), 13);
    assert_eq!(content_ids(&back), ids(&msgs));
    assert!(back.iter().all(|m| m.receive_count == 1));

    // Nothing left to move: an empty report.
    let r = dlq.move_messages(&main, 10, soon()).await.unwrap();
    assert_eq!(r.moved, 0);
}

#[tokio::test]
async fn move_never_loses_messages_when_the_target_refuses() {
    let moto = MotoServer::start().await.unwrap();
    let src = moto
        .create_queue("src", Duration::from_secs(30))
        .await
        .unwrap();
    src.send_all(&messages(4, "m"), soon()).await.unwrap();
    let gone = SqsQueue::new(
        moto.sqs(),
        format!("{}/000000000000/no-such-queue-o365", moto.endpoint()),
    );
    let r = src.move_messages(&gone, 100, soon()).await.unwrap();
    assert_eq!(r.moved, 0);
    assert!(r.failed > 0);
    assert!(r.last_error.is_some());
    // All four are still in the source (made visible again).
    assert_eq!(src.approximate_depth().await.unwrap(), (4, 0));
}

#[tokio::test]
async fn send_to_a_missing_queue_fails_permanently() {
    let moto = MotoServer::start().await.unwrap();
    let gone = SqsQueue::new(
        moto.sqs(),
        format!("{}/000000000000/no-such-queue-o365", moto.endpoint()),
    );
    let err = gone.send_all(&messages(12, "x"), soon()).await.unwrap_err();
    match err {
        QueueError::Incomplete {
            accepted,
            failed,
            total,
            reason,
        } => {
            assert!(accepted.is_empty());
            assert_eq!((failed, total), (12, 12));
            assert!(reason.contains("no-such-queue-o365"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
