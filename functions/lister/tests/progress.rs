//! Progress for every pair (page cursor, stalls), the reach sweep, tolerant listing and
//! clock sanity, against o365-sim on a stopped clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use chrono::TimeDelta;
use common::*;
use o365_activity::checkpoint::{Claim, LastRun, LastRunOutcome};
use o365_activity::compression::Compression;
use o365_activity::keys::KeyLayout;
use o365_activity::metrics::MetricsSink;
use o365_activity::store::{LocalStore, ObjectMeta, ObjectStore, PutCondition};
use o365_activity::{ContentType, QueueMessage};
use o365_lister::{ListerSettings, PairOutcome};
use tokio::time::Instant;

/// Stands in for the fetcher: stores an object under each drained message's data key.
async fn store_all(store: &LocalStore, messages: &[QueueMessage]) {
    let layout = KeyLayout::new("o365");
    let meta = ObjectMeta {
        content_type: "application/json".into(),
        content_encoding: None,
    };
    for m in messages {
        let key = layout.data_key(m, Compression::default());
        store
            .put(
                &key,
                Bytes::from_static(b"{}"),
                &meta,
                PutCondition::IfNoneMatch,
            )
            .await
            .unwrap();
    }
}

fn only_exchange() -> ListerSettings {
    ListerSettings {
        content_types: Some(vec![ContentType::Exchange]),
        ..settings()
    }
}

#[tokio::test]
async fn the_sweep_recovers_blobs_later_than_the_overlap() {
    // Blobs listable 1-6 h after their contentCreated, with the default 60-min overlap:
    // runs alone miss some; the sweep enqueues exactly those, once.
    let sim = start_sim(vec![tenant_spec(T1)], &["late-blobs=0.3"], |c| {
        c.records_per_hour = 24;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let queue = memory_queue();
    let metrics = MetricsSink::memory();
    let l = lister(
        &sim,
        store.clone(),
        queue.clone(),
        &[T1],
        only_exchange(),
        metrics.clone(),
    );
    let mut sent: Vec<QueueMessage> = Vec::new();
    for step in 0..48 {
        assert!(l.run(far_deadline()).await.all_complete());
        if step % 18 == 17 {
            let drained = queue.drain();
            store_all(&store, &drained).await;
            sent.extend(drained);
            l.sweep(far_deadline()).await;
        }
        let drained = queue.drain();
        store_all(&store, &drained).await;
        sent.extend(drained);
        sim.advance(Duration::from_secs(20 * 60));
    }
    l.run(far_deadline()).await;
    let drained = queue.drain();
    store_all(&store, &drained).await;
    sent.extend(drained);
    let before_sweep = sent.len();
    let sweep = l.sweep(far_deadline()).await;
    assert_eq!(sweep.failed().count(), 0, "{sweep:?}");
    sent.extend(queue.drain());

    let ledger = sim.ledger();
    let mut expected = listable(&ledger, &[T1]);
    expected.retain(|k| k.contains("/Audit.Exchange/"));
    let late = ledger
        .published
        .iter()
        .filter(|b| b.fault.as_deref() == Some("late") && b.content_created > t0())
        .filter(|b| b.available_at - b.content_created > TimeDelta::minutes(70))
        .count();
    assert!(late > 3, "only {late} blobs later than the overlap");
    assert!(
        metric_total(&metrics, "LateBlobsRecovered") > 0.0,
        "the sweeps recovered nothing"
    );
    assert!(metrics
        .lines()
        .iter()
        .any(|l| l.contains("LateBlobLatenessSeconds")));
    assert_exactly_once(&sent, &expected);
    assert!(sent.len() >= before_sweep);
    let cp = l.checkpoints().list().await.unwrap();
    assert!(cp[0].last_sweep.is_some(), "the sweep is recorded");
}

#[tokio::test]
async fn page_by_page_a_window_too_long_for_one_run_still_moves_forward() {
    // Pages of one entry and a budget of a fraction of a second: no run lists a whole
    // window, yet every run commits the pages it listed and the pair catches up.
    let sim = start_sim(vec![tenant_spec(T1)], &["small-pages=1"], |c| {
        c.records_per_hour = 24;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let queue = memory_queue();
    let s = ListerSettings {
        deadline_margin: Duration::ZERO,
        ..only_exchange()
    };
    let l = lister(&sim, store, queue.clone(), &[T1], s, MetricsSink::memory());
    let mut sent = Vec::new();
    let mut runs = 0;
    let mut stalled_without_reason = 0;
    let mut idle_runs = 0;
    let mut last = Some((None, None));
    loop {
        runs += 1;
        assert!(runs < 400, "no catching up after {runs} runs");
        let s = l.run(Instant::now() + Duration::from_millis(300)).await;
        sent.extend(queue.drain());
        let p = &s.pairs[0];
        assert!(!matches!(p.outcome, PairOutcome::Failed(_)), "{p:?}");
        let cp = l.checkpoints().list().await.unwrap().remove(0);
        let progress = (cp.watermark, cp.page_cursor.clone());
        if p.stalled && cp.runs_without_progress == 0 {
            stalled_without_reason += 1;
        }
        if p.complete {
            break;
        }
        // Each run commits the pages it listed (watermark or cursor moves); a run the loaded
        // machine gave no time for a page is counted as such, never hidden.
        if last.as_ref() == Some(&progress) {
            idle_runs += 1;
            assert!(
                cp.runs_without_progress >= 1,
                "run {runs}: no progress, not counted"
            );
        } else {
            assert_eq!(
                cp.runs_without_progress, 0,
                "run {runs}: progress, yet counted idle"
            );
        }
        last = Some(progress);
    }
    assert!(runs > 2, "the budget was large enough for one run ({runs})");
    assert!(
        idle_runs * 2 < runs,
        "{idle_runs} of {runs} runs made no progress"
    );
    assert_eq!(stalled_without_reason, 0);
    let mut expected = listable(&sim.ledger(), &[T1]);
    expected.retain(|k| k.contains("/Audit.Exchange/"));
    assert_exactly_once(&sent, &expected);
}

#[tokio::test]
async fn a_pair_failing_run_after_run_is_reported_stalled() {
    let mut no_dlp = tenant_spec(T1);
    no_dlp.dlp_permission = false;
    let env = Local::start(vec![no_dlp], &[], |_| {}).await;
    let s = ListerSettings {
        content_types: Some(vec![ContentType::DlpAll]),
        ..settings()
    };
    let l = env.lister(&[T1], s);
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let s = l.run(far_deadline()).await;
        let PairOutcome::Failed(e) = &s.pairs[0].outcome else {
            panic!("{s:?}")
        };
        assert_eq!(e.kind(), o365_lister::PairErrorKind::Permission);
        stalled.push(s.pairs[0].stalled);
        env.sim.advance(Duration::from_secs(20 * 60));
    }
    assert_eq!(stalled, [false, false, true, true]);
    let cp = env
        .lister(&[T1], settings())
        .checkpoints()
        .list()
        .await
        .unwrap();
    let last = cp[0].last_run.as_ref().unwrap();
    assert!(last.stalled);
    assert_eq!(last.error_kind.as_deref(), Some("Permission"));
    assert!(metric_total(&env.metrics, "PairStalled") >= 2.0);
}

#[tokio::test]
async fn a_watermark_ahead_of_the_clock_is_reported_and_listing_goes_on() {
    let env = Local::start(vec![tenant_spec(T1)], &[], |_| {}).await;
    let (sim, queue) = (&env.sim, &env.queue);
    let l = env.lister(&[T1], only_exchange());
    assert!(l.run(far_deadline()).await.all_complete());
    let mut sent = queue.drain();
    // Another writer with a clock 2 h fast commits its view of now.
    let cps = l.checkpoints();
    let Claim::Held(held) = cps
        .claim(
            &T1.parse().unwrap(),
            ContentType::Exchange,
            "fast",
            sim.now(),
        )
        .await
        .unwrap()
    else {
        panic!("busy")
    };
    let mut held = *held;
    let fast_now = sim.now() + TimeDelta::hours(2);
    cps.commit(&mut held, Some(fast_now), &[], fast_now)
        .await
        .unwrap();
    let last = LastRun {
        run_id: "fast".into(),
        at: fast_now,
        outcome: LastRunOutcome::Ok,
        blobs: 0,
        error: None,
        error_kind: None,
        stalled: false,
        watermark_ahead_seconds: None,
    };
    cps.release(held, last, 0, fast_now).await.unwrap();
    // On the true clock, blobs keep coming and are listed; the skew is reported.
    let mut reported = 0;
    for _ in 0..5 {
        sim.advance(Duration::from_secs(20 * 60));
        let s = l.run(far_deadline()).await;
        assert!(s.pairs[0].complete, "{s:?}");
        reported += usize::from(s.pairs[0].watermark_ahead_seconds.is_some());
        sent.extend(queue.drain());
    }
    assert_eq!(reported, 5, "ahead by more than 5 min in every run");
    let mut expected = listable(&sim.ledger(), &[T1]);
    expected.retain(|k| k.contains("/Audit.Exchange/"));
    assert_exactly_once(&sent, &expected);
    assert!(metric_total(&env.metrics, "WatermarkAheadSeconds") > 0.0);
    let cp = cps.list().await.unwrap();
    assert!(cp[0]
        .last_run
        .as_ref()
        .unwrap()
        .watermark_ahead_seconds
        .is_some());
}

#[tokio::test]
async fn the_sweep_enqueues_a_claimed_blob_whose_data_was_never_written() {
    // A fetcher stopped between its `_ids/` claim and the write (or a delivery that ended in
    // the DLQ) leaves a claim without data: the sweep must judge "stored" from the claimed
    // data key, not from the claim, or the blob is never fetched again.
    let sim = start_sim(vec![tenant_spec(T1)], &[], |c| {
        c.records_per_hour = 24;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let queue = memory_queue();
    let l = lister(
        &sim,
        store.clone(),
        queue.clone(),
        &[T1],
        only_exchange(),
        MetricsSink::memory(),
    );
    assert!(l.run(far_deadline()).await.all_complete());
    let first = queue.drain();
    assert!(first.len() > 2, "too few blobs listed: {}", first.len());
    let layout = KeyLayout::new("o365");
    let meta = ObjectMeta {
        content_type: "application/json".into(),
        content_encoding: None,
    };
    let (orphan, rest) = first.split_first().unwrap();
    let claim = o365_activity::claim::ContentClaim {
        data_key: layout.data_key(orphan, Compression::default()),
        content_id: orphan.content_id.clone(),
        claimed_at: chrono::Utc::now(),
        collector_version: "test".into(),
    };
    store
        .put(
            &layout.claim_key(orphan),
            Bytes::from(claim.to_json()),
            &meta,
            PutCondition::IfNoneMatch,
        )
        .await
        .unwrap();
    store_all(&store, rest).await;
    // Past the sent-ids memory, so only the store can tell what is missing.
    for _ in 0..27 {
        sim.advance(Duration::from_secs(20 * 60));
        assert!(l.run(far_deadline()).await.all_complete());
        store_all(&store, &queue.drain()).await;
    }
    let sweep = l.sweep(far_deadline()).await;
    assert_eq!(sweep.failed().count(), 0, "{sweep:?}");
    let recovered: Vec<String> = queue.drain().into_iter().map(|m| m.content_id).collect();
    assert_eq!(recovered, vec![orphan.content_id.clone()]);
}
