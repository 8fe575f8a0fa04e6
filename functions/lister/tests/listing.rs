//! The lister against o365-sim with a local directory store and the in-process queue: every
//! published blob enqueued once, late blobs, repeated and concurrent runs, outages, storms,
//! deadlines, kills, subscriptions and explicit windows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::TimeDelta;
use common::*;
use o365_activity::checkpoint::LastRunOutcome;
use o365_activity::metrics::MetricsSink;
use o365_activity::{ContentType, QueueMessage, TenantId};
use o365_lister::plan::WindowRules;
use o365_lister::{ListWindowError, ListerSettings, PairOutcome, RunSummary};
use tokio::time::Instant;

fn tid(s: &str) -> TenantId {
    s.parse().unwrap()
}

fn assert_all_ok(s: &RunSummary) {
    for p in &s.pairs {
        assert_eq!(p.outcome, PairOutcome::Ok, "{p:?}");
        assert!(p.complete, "{p:?}");
    }
}

#[tokio::test]
async fn first_run_backfills_everything_once_and_a_repeat_sends_nothing() {
    let env = Local::start(vec![tenant_spec(T1)], &[], |_| {}).await;
    let (sim, queue, metrics) = (&env.sim, &env.queue, &env.metrics);
    let l = env.lister(&[T1], settings());

    let first = l.run(far_deadline()).await;
    assert_all_ok(&first);
    assert_eq!(first.pairs.len(), 5);
    // Seven days less the margin, in slices under 24 h.
    assert!(first.pairs.iter().all(|p| p.windows == 7), "{first:?}");
    let sent = queue.drain();
    let expected = listable(&sim.ledger(), &[T1]);
    assert!(expected.len() > 100, "the sim published {}", expected.len());
    assert_exactly_once(&sent, &expected);
    assert_eq!(first.messages_sent() as usize, expected.len());

    // Subscriptions were started once each, since none existed.
    let ledger = sim.ledger();
    let starts = ledger
        .requests
        .iter()
        .filter(|r| r.operation.as_deref() == Some("start"))
        .count();
    assert_eq!(starts, 5);

    // Same instant again: the overlap is re-listed, nothing is sent twice.
    let again = l.run(far_deadline()).await;
    assert_all_ok(&again);
    assert!(queue.drain().is_empty());
    assert!(
        again
            .pairs
            .iter()
            .map(|p| p.duplicates_skipped)
            .sum::<u64>()
            > 0
    );
    let ledger = sim.ledger();
    assert!(assert_window_rules(&ledger) > 35);
    // The backfill reached back the full 7 days (less the margin), and no further.
    let earliest = ledger
        .requests
        .iter()
        .filter_map(|r| r.start_time)
        .min()
        .unwrap();
    assert_eq!(earliest, settings().window_rules().reach_start(sim.now()));

    // Checkpoints say what status needs, and the lag metric went out per pair.
    let cps = l.checkpoints().list().await.unwrap();
    assert_eq!(cps.len(), 5);
    for c in &cps {
        assert_eq!(c.watermark, Some(sim.now()));
        assert!(c.lease.is_none());
        assert_eq!(c.last_run.as_ref().unwrap().outcome, LastRunOutcome::Ok);
    }
    assert_eq!(
        metric_total(metrics, "MessagesSent") as usize,
        expected.len()
    );
    assert!(metrics
        .lines()
        .iter()
        .any(|l| l.contains("LagSeconds") && l.contains("Audit.Exchange")));
}

#[tokio::test]
async fn runs_every_few_minutes_pick_up_late_and_relisted_blobs_once() {
    // Blobs appear 1-6 h after their contentCreated, or are listed again 1-3 h later under a
    // newer contentCreated, or twice in one page: a 7 h overlap finds every late one, and
    // nothing goes out twice.
    let env = Local::start(
        vec![tenant_spec(T1)],
        &[
            "late-blobs=0.3",
            "duplicate-across-windows=0.2",
            "duplicate-in-page=0.1",
            "small-pages=7",
        ],
        |c| c.records_per_hour = 24,
    )
    .await;
    let (sim, queue) = (&env.sim, &env.queue);
    let s = ListerSettings {
        overlap: Duration::from_secs(7 * 3600),
        content_types: Some(vec![ContentType::Exchange, ContentType::SharePoint]),
        ..settings()
    };
    let l = env.lister(&[T1], s);
    let mut sent: Vec<QueueMessage> = Vec::new();
    for _ in 0..40 {
        let s = l.run(far_deadline()).await;
        assert_all_ok(&s);
        sent.extend(queue.drain());
        sim.advance(Duration::from_secs(20 * 60));
    }
    l.run(far_deadline()).await;
    sent.extend(queue.drain());

    let ledger = sim.ledger();
    let mut expected = listable(&ledger, &[T1]);
    expected.retain(|k| k.contains("/Audit.Exchange/") || k.contains("/Audit.SharePoint/"));
    // The scenario really produced blobs that a cursor without overlap would have missed.
    let late_after_start = ledger
        .published
        .iter()
        .filter(|b| b.fault.as_deref() == Some("late") && b.content_created > common::t0())
        .filter(|b| b.available_at - b.content_created > TimeDelta::minutes(60))
        .count();
    assert!(late_after_start > 5, "only {late_after_start} late blobs");
    assert!(ledger.published.iter().any(|b| !b.relisted_at.is_empty()));
    assert_exactly_once(&sent, &expected);
    assert_window_rules(&ledger);
}

#[tokio::test]
async fn two_runs_at_once_lose_and_double_nothing() {
    let env = Local::start(vec![tenant_spec(T1), tenant_spec(T2)], &[], |_| {}).await;
    let (sim, queue) = (&env.sim, &env.queue);
    let a = env.lister(&[T1, T2], settings());
    let b = env.lister(&[T1, T2], settings());
    // Whatever interleaving happens, nothing is lost or doubled.
    race(&a, &b, sim, 3, Duration::from_secs(10 * 60)).await;
    let sent = queue.drain();
    assert_exactly_once(&sent, &listable(&sim.ledger(), &[T1, T2]));
}

#[tokio::test]
async fn an_eight_day_outage_is_reported_once_with_the_lost_window() {
    let env = Local::start(vec![tenant_spec(T1)], &[], |c| {
        c.blob_window = Duration::from_secs(3600);
    })
    .await;
    let (sim, queue, metrics) = (&env.sim, &env.queue, &env.metrics);
    let s = ListerSettings {
        content_types: Some(vec![ContentType::General]),
        ..settings()
    };
    let rules: WindowRules = s.window_rules();
    let l = env.lister(&[T1], s);
    assert_all_ok(&l.run(far_deadline()).await);
    let old_watermark = sim.now();
    queue.drain();

    sim.advance(Duration::from_secs(8 * 24 * 3600));
    let after = l.run(far_deadline()).await;
    assert_all_ok(&after);
    let pair = &after.pairs[0];
    assert_eq!(pair.gaps.len(), 1);
    let gap = &pair.gaps[0];
    assert_eq!(gap.lost_from, old_watermark);
    assert_eq!(gap.lost_to, rules.reach_start(sim.now()));
    assert_eq!(gap.tenant_id, tid(T1));
    assert_eq!(gap.content_type, ContentType::General);
    let stored = l.checkpoints().list_gaps().await.unwrap();
    assert_eq!(stored, vec![gap.clone()]);
    let gap_lines = metrics
        .lines()
        .into_iter()
        .filter(|l| l.contains("GapsReported") && l.contains("Audit.General"))
        .count();
    assert_eq!(gap_lines, 1);

    // Everything still reachable was enqueued; what lies in the gap was not.
    let ledger = sim.ledger();
    let sent = queue.drain();
    let reachable: BTreeSet<String> = ledger
        .published
        .iter()
        .filter(|b| b.visible && b.content_type == "Audit.General")
        .filter(|b| b.content_created >= gap.lost_to)
        .map(|b| format!("{}/{}/{}", b.tenant_id, b.content_type, b.content_id))
        .collect();
    assert_exactly_once(&sent, &reachable);
    assert!(ledger
        .published
        .iter()
        .any(|b| b.content_type == "Audit.General"
            && b.content_created >= gap.lost_from
            && b.content_created < gap.lost_to));
    assert_window_rules(&ledger);

    // Later runs report nothing new.
    sim.advance(Duration::from_secs(600));
    let later = l.run(far_deadline()).await;
    assert!(later.pairs[0].gaps.is_empty());
    assert_eq!(l.checkpoints().list_gaps().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_type_failing_for_ten_days_before_its_first_success_reports_the_lost_window() {
    let mut no_dlp = tenant_spec(T1);
    no_dlp.dlp_permission = false;
    let env = Local::start(vec![no_dlp], &[], |c| {
        c.blob_window = Duration::from_secs(3600);
    })
    .await;
    let (sim, queue, metrics) = (&env.sim, &env.queue, &env.metrics);
    let s = settings();
    let rules: WindowRules = s.window_rules();
    let first_attempt = sim.now();
    let first = env.lister(&[T1], s.clone()).run(far_deadline()).await;
    let dlp = |s: &RunSummary| {
        s.pairs
            .iter()
            .find(|p| p.content_type == ContentType::DlpAll)
            .cloned()
            .unwrap()
    };
    assert!(matches!(dlp(&first).outcome, PairOutcome::Failed(_)));
    assert!(first.pairs.iter().all(|p| p.gaps.is_empty()));

    // Ten days of daily runs: the other types keep up, DLP.All keeps failing; then the
    // admin grants ActivityFeed.ReadDlp.
    for _ in 0..10 {
        sim.advance(Duration::from_secs(24 * 3600));
        let daily = env.lister(&[T1], s.clone()).run(far_deadline()).await;
        assert!(matches!(dlp(&daily).outcome, PairOutcome::Failed(_)));
        assert!(daily.pairs.iter().all(|p| p.gaps.is_empty()), "{daily:?}");
    }
    sim.set_dlp_permission(T1, true).unwrap();
    // The next scheduled run, outside the 15-minute start cooldown of the last failed start.
    sim.advance(Duration::from_secs(20 * 60));
    queue.drain();
    // A fresh lister, as a new Lambda invocation would be (and with a fresh token).
    let l = env.lister(&[T1], s);
    let after = l.run(far_deadline()).await;
    assert_all_ok(&after);
    let pair = dlp(&after);
    assert_eq!(pair.gaps.len(), 1, "{pair:?}");
    let gap = &pair.gaps[0];
    assert_eq!(gap.lost_from, first_attempt);
    assert_eq!(gap.lost_to, rules.reach_start(sim.now()));
    assert_eq!(
        (gap.tenant_id.clone(), gap.content_type),
        (tid(T1), ContentType::DlpAll)
    );
    assert!(after
        .pairs
        .iter()
        .filter(|p| p.content_type != ContentType::DlpAll)
        .all(|p| p.gaps.is_empty()));
    assert_eq!(
        l.checkpoints().list_gaps().await.unwrap(),
        vec![gap.clone()]
    );
    let gap_lines = metrics
        .lines()
        .into_iter()
        .filter(|l| l.contains("GapsReported") && l.contains("DLP.All"))
        .count();
    assert_eq!(gap_lines, 1);

    // The next run reports nothing new.
    sim.advance(Duration::from_secs(600));
    let later = l.run(far_deadline()).await;
    assert!(later.pairs.iter().all(|p| p.gaps.is_empty()));
    assert_eq!(l.checkpoints().list_gaps().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_cancelled_run_starts_nothing_and_holds_no_lease() {
    let env = Local::start(vec![tenant_spec(T1)], &[], |_| {}).await;
    let l = env.lister(&[T1], settings());
    let (tx, cancel) = tokio::sync::watch::channel(false);
    tx.send(true).unwrap();
    let s = l.run_until(far_deadline(), cancel).await;
    assert_eq!(s.pairs.len(), 5);
    assert!(
        s.pairs.iter().all(|p| !p.complete && p.windows == 0),
        "{s:?}"
    );
    assert!(l.checkpoints().list().await.unwrap().is_empty());
    assert!(env.queue.drain().is_empty());
    // A sender dropped without cancelling cancels nothing.
    let (tx, cancel) = tokio::sync::watch::channel(false);
    drop(tx);
    assert_all_ok(&l.run_until(far_deadline(), cancel).await);
    for cp in l.checkpoints().list().await.unwrap() {
        assert_eq!(cp.lease, None);
    }
}

#[tokio::test]
async fn throttling_and_server_error_storms_slow_it_down_without_loss() {
    let env = Local::start(
        vec![tenant_spec(T1)],
        &["throttle=0.3", "server-error=0.3"],
        |_| {},
    )
    .await;
    let (sim, queue, metrics) = (&env.sim, &env.queue, &env.metrics);
    let l = env.lister(&[T1], settings());
    let mut runs = 0;
    loop {
        runs += 1;
        let s = l.run(far_deadline()).await;
        if s.all_complete() {
            break;
        }
        assert!(runs < 10, "still not caught up after {runs} runs: {s:?}");
    }
    assert_exactly_once(&queue.drain(), &listable(&sim.ledger(), &[T1]));
    assert!(metric_total(metrics, "Throttles") > 0.0);
    assert!(metrics.lines().iter().any(|l| l.contains("ApiErrors")));
    assert_window_rules(&sim.ledger());
}

#[tokio::test]
async fn a_run_out_of_time_keeps_its_progress_and_the_next_one_resumes() {
    let env = Local::start(vec![tenant_spec(T1)], &[], |_| {}).await;
    let (sim, queue) = (&env.sim, &env.queue);
    let l = env.lister(&[T1], settings());

    // No time at all: nothing is claimed or sent, nothing is marked done.
    let none = l.run(Instant::now()).await;
    assert!(none.pairs.iter().all(|p| !p.complete && p.windows == 0));
    assert!(queue.is_empty());
    assert!(l.checkpoints().list().await.unwrap().is_empty());

    // A deadline that may run out anywhere mid-way, then a full run.
    sim.advance(Duration::from_secs(60));
    let hurried = env.lister(&[T1], settings());
    let partial = hurried
        .run(Instant::now() + Duration::from_millis(900))
        .await;
    for p in &partial.pairs {
        assert!(!matches!(p.outcome, PairOutcome::Failed(_)), "{p:?}");
    }
    let full = l.run(far_deadline()).await;
    assert_all_ok(&full);
    assert_exactly_once(&queue.drain(), &listable(&sim.ledger(), &[T1]));
}

#[tokio::test]
async fn a_killed_run_loses_nothing() {
    let env = Local::start(vec![tenant_spec(T1)], &[], |_| {}).await;
    let (sim, queue) = (&env.sim, &env.queue);
    let l = env.lister(&[T1], settings());
    // Kill the run (drop its future) as soon as the first messages are in the queue.
    let watch = queue.clone();
    tokio::select! {
        _ = l.run(far_deadline()) => panic!("the run finished before it could be killed"),
        _ = async move {
            while watch.is_empty() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        } => {}
    }
    // The dead run's leases block its pairs until they expire.
    let blocked = l.run(far_deadline()).await;
    assert!(blocked.pairs.iter().any(|p| p.outcome == PairOutcome::Busy));
    sim.advance(settings().lease_duration + Duration::from_secs(60));
    let resumed = env.lister(&[T1], settings());
    assert_all_ok(&resumed.run(far_deadline()).await);
    let sent = queue.drain();
    let expected = listable(&sim.ledger(), &[T1]);
    let got: BTreeSet<String> = sent.iter().map(QueueMessage::dedup_key).collect();
    let missing: Vec<_> = expected.difference(&got).collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
    // Only the window in flight at the kill can have gone out twice.
    assert!(sent.len() - got.len() <= expected.len() / 7 + 10);
    // And the next run has nothing left to send.
    sim.advance(Duration::from_secs(1));
    resumed.run(far_deadline()).await;
    assert!(queue.is_empty());
}

#[tokio::test]
async fn queue_entry_failures_are_retried_and_a_stuck_message_holds_the_window() {
    let env = Local::start(vec![tenant_spec(T1)], &[], |_| {}).await;
    let (sim, queue) = (&env.sim, &env.queue);
    queue.set_failure_rate(0.3);
    let s = ListerSettings {
        content_types: Some(vec![ContentType::Exchange]),
        ..settings()
    };
    let l = env.lister(&[T1], s);
    assert_all_ok(&l.run(far_deadline()).await);
    let mut sent = queue.drain();
    queue.clear_failures();

    // New content, one message of which the queue refuses for good.
    sim.advance(Duration::from_secs(3 * 3600));
    let fresh: Vec<String> = sim
        .ledger()
        .published
        .iter()
        .filter(|b| {
            b.content_type == "Audit.Exchange"
                && b.content_created > sim.now() - TimeDelta::hours(2)
        })
        .map(|b| b.content_id.clone())
        .collect();
    assert!(fresh.len() > 3);
    queue.fail_permanently(&fresh[1]);
    let before = l
        .checkpoints()
        .load(&tid(T1), ContentType::Exchange)
        .await
        .unwrap()
        .unwrap();
    let failed = l.run(far_deadline()).await;
    let PairOutcome::Failed(msg) = &failed.pairs[0].outcome else {
        panic!("{failed:?}");
    };
    assert!(msg.message().contains("queue"), "{msg}");
    let after = l
        .checkpoints()
        .load(&tid(T1), ContentType::Exchange)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.checkpoint.watermark, before.checkpoint.watermark,
        "window not committed"
    );
    sent.extend(queue.drain());

    // The queue recovers: only the refused message goes out now; the accepted ones are remembered.
    queue.clear_failures();
    assert_all_ok(&l.run(far_deadline()).await);
    let retry = queue.drain();
    assert_eq!(retry.len(), 1, "{retry:?}");
    assert_eq!(retry[0].content_id, fresh[1]);
    sent.extend(retry);
    let mut expected = listable(&sim.ledger(), &[T1]);
    expected.retain(|k| k.contains("/Audit.Exchange/"));
    assert_exactly_once(&sent, &expected);
}

#[tokio::test]
async fn subscriptions_missing_permission_and_cooldown_are_reported_per_type() {
    let mut no_dlp = tenant_spec(T2);
    no_dlp.dlp_permission = false;
    let mut disabled = tenant_spec(T1);
    disabled.enabled_types = vec![
        o365_sim::ContentType::AzureActiveDirectory,
        o365_sim::ContentType::Exchange,
        o365_sim::ContentType::SharePoint,
        o365_sim::ContentType::DlpAll,
    ];
    disabled.disabled_types = vec![o365_sim::ContentType::General];
    let env = Local::start(vec![disabled, no_dlp], &[], |_| {}).await;
    let (sim, queue) = (&env.sim, &env.queue);
    let l = env.lister(&[T1, T2], settings());
    let s = l.run(far_deadline()).await;
    for p in &s.pairs {
        let dlp_of_t2 = p.tenant_id == tid(T2) && p.content_type == ContentType::DlpAll;
        match &p.outcome {
            PairOutcome::Failed(m) if dlp_of_t2 => {
                assert!(
                    m.message().contains("AF10001") && m.message().contains("ActivityFeed.ReadDlp"),
                    "{m}"
                );
            }
            PairOutcome::Ok if !dlp_of_t2 => assert!(p.complete),
            other => panic!("{} {}: {other:?}", p.tenant_id, p.content_type),
        }
    }
    let starts = |ledger: &o365_sim::Ledger, tenant: &str| -> Vec<String> {
        ledger
            .requests
            .iter()
            .filter(|r| {
                r.operation.as_deref() == Some("start") && r.tenant_id.as_deref() == Some(tenant)
            })
            .filter_map(|r| r.content_type.clone())
            .collect()
    };
    let ledger = sim.ledger();
    // T1: only the disabled type was (re)started; the enabled ones were left alone.
    assert_eq!(starts(&ledger, T1), vec!["Audit.General".to_string()]);
    assert_eq!(starts(&ledger, T2).len(), 5);

    // Five minutes later DLP.All is reported again, without a start inside the 15 minutes.
    sim.advance(Duration::from_secs(300));
    let s = l.run(far_deadline()).await;
    let failed: Vec<_> = s.failed().collect();
    assert_eq!(failed.len(), 1);
    let PairOutcome::Failed(m) = &failed[0].outcome else {
        unreachable!()
    };
    assert!(
        m.message().contains("15-minute") && m.message().contains("AF10001"),
        "{m}"
    );
    assert_eq!(starts(&sim.ledger(), T2).len(), 5);
    let cp = l
        .checkpoints()
        .load(&tid(T2), ContentType::DlpAll)
        .await
        .unwrap()
        .unwrap();
    let last = cp.checkpoint.last_run.unwrap();
    assert_eq!(last.outcome, LastRunOutcome::Failed);
    assert!(last.error.unwrap().contains("15-minute"));

    let mut expected = listable(&sim.ledger(), &[T1, T2]);
    expected.retain(|k| !(k.starts_with(T2) && k.contains("/DLP.All/")));
    assert_exactly_once(&queue.drain(), &expected);
}

#[tokio::test]
async fn a_tenant_with_a_bad_secret_fails_alone() {
    let env = Local::start(vec![tenant_spec(T1), tenant_spec(T2)], &[], |_| {}).await;
    let (sim, queue) = (&env.sim, &env.queue);
    let good = tenant_config(sim, T1, o365_sim::DEFAULT_CLIENT_SECRET);
    let bad = tenant_config(sim, T2, "not-the-secret");
    let clock_sim = std::sync::Arc::clone(sim);
    let dir = tempfile::tempdir().unwrap();
    let l = o365_lister::Lister::new(
        o365_activity::store::LocalStore::new(dir.path()),
        queue.clone(),
        vec![(good.clone(), client(&good)), (bad.clone(), client(&bad))],
        settings(),
        o365_activity::clock::Clock::from_fn(move || clock_sim.now()),
        MetricsSink::Discard,
    );
    let s = l.run(far_deadline()).await;
    assert_eq!(s.pairs.len(), 10);
    for p in &s.pairs {
        if p.tenant_id == tid(T2) {
            let PairOutcome::Failed(m) = &p.outcome else {
                panic!("{p:?}")
            };
            assert!(
                m.message().contains("token") && !m.message().contains("not-the-secret"),
                "{m}"
            );
        } else {
            assert_eq!(p.outcome, PairOutcome::Ok);
        }
    }
    assert_exactly_once(&queue.drain(), &listable(&sim.ledger(), &[T1]));
}

#[tokio::test]
async fn explicit_windows_are_sliced_checked_and_leave_the_checkpoint_alone() {
    let env = Local::start(vec![tenant_spec(T1)], &["already-enabled"], |c| {
        c.history = Duration::from_secs(3 * 24 * 3600);
    })
    .await;
    let (sim, queue) = (&env.sim, &env.queue);
    let l = env.lister(&[T1], settings());
    let end = sim.now() - TimeDelta::hours(2);
    let start = end - TimeDelta::hours(30);
    let n = l
        .list_window(
            &tid(T1),
            ContentType::SharePoint,
            start,
            end,
            far_deadline(),
        )
        .await
        .unwrap();
    let ledger = sim.ledger();
    let expected: BTreeSet<String> = ledger
        .published_for(T1, "Audit.SharePoint")
        .filter(|b| b.content_created >= start && b.content_created < end)
        .map(|b| format!("{}/{}/{}", b.tenant_id, b.content_type, b.content_id))
        .collect();
    assert_eq!(n, expected.len());
    assert_exactly_once(&queue.drain(), &expected);
    assert_eq!(assert_window_rules(&ledger), 2, "30 h in two slices");
    assert!(l.checkpoints().list().await.unwrap().is_empty());

    // A start out of reach is clamped to the reach when listed (only 3 days of history).
    let clamped = l
        .list_window(
            &tid(T1),
            ContentType::SharePoint,
            sim.now() - TimeDelta::days(8),
            sim.now() - TimeDelta::days(6),
            far_deadline(),
        )
        .await
        .unwrap();
    assert_eq!(clamped, 0);
    let too_old = l
        .list_window(
            &tid(T1),
            ContentType::SharePoint,
            sim.now() - TimeDelta::days(9),
            sim.now() - TimeDelta::days(8),
            far_deadline(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(too_old, ListWindowError::TooOld { .. }),
        "{too_old}"
    );
    assert!(too_old.to_string().contains("7 days"));
    let reversed = l
        .list_window(
            &tid(T1),
            ContentType::SharePoint,
            end,
            start,
            far_deadline(),
        )
        .await
        .unwrap_err();
    assert!(matches!(reversed, ListWindowError::Empty { .. }));
    let unknown = l
        .list_window(
            &tid(T2),
            ContentType::SharePoint,
            start,
            end,
            far_deadline(),
        )
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("not configured"));
}

#[tokio::test]
async fn an_explicit_window_of_a_never_started_subscription_starts_it_once() {
    let env = Local::start(vec![tenant_spec(T1)], &[], |c| {
        c.history = Duration::from_secs(3 * 24 * 3600);
    })
    .await;
    let (sim, queue) = (&env.sim, &env.queue);
    let s = ListerSettings {
        content_types: Some(vec![ContentType::SharePoint]),
        ..settings()
    };
    let l = env.lister(&[T1], s);
    let starts = |sim: &o365_sim::SimHandle| {
        sim.ledger()
            .requests
            .iter()
            .filter(|r| r.operation.as_deref() == Some("start"))
            .filter_map(|r| r.content_type.clone())
            .collect::<Vec<_>>()
    };
    let end = sim.now() - TimeDelta::hours(2);
    let start = end - TimeDelta::hours(30);
    let t1 = tid(T1);
    let list = || l.list_window(&t1, ContentType::SharePoint, start, end, far_deadline());
    let n = list().await.unwrap();
    let ledger = sim.ledger();
    let expected: BTreeSet<String> = ledger
        .published_for(T1, "Audit.SharePoint")
        .filter(|b| b.content_created >= start && b.content_created < end)
        .map(|b| format!("{}/{}/{}", b.tenant_id, b.content_type, b.content_id))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(n, expected.len());
    assert_exactly_once(&queue.drain(), &expected);
    assert_eq!(starts(sim), vec!["Audit.SharePoint".to_string()]);
    // No checkpoint is created outside a run.
    assert!(l.checkpoints().list().await.unwrap().is_empty());

    // Started now: listing again starts nothing.
    assert_eq!(list().await.unwrap(), n);
    assert_eq!(starts(sim).len(), 1);

    // A run makes the checkpoint (the subscription is enabled: it starts nothing). Later an
    // admin disables the subscription: listing restarts it and records the start there.
    assert_all_ok(&l.run(far_deadline()).await);
    queue.drain();
    assert_eq!(starts(sim).len(), 1);
    sim.advance(Duration::from_secs(20 * 60));
    sim.disable_subscription(T1, "Audit.SharePoint").unwrap();
    list().await.unwrap();
    assert_eq!(starts(sim).len(), 2);
    let cp = l
        .checkpoints()
        .load(&tid(T1), ContentType::SharePoint)
        .await
        .unwrap()
        .unwrap()
        .checkpoint;
    assert_eq!(cp.subscription_started_at, Some(sim.now()));
    assert_eq!(cp.lease, None);

    // Disabled again inside the cooldown: not started, and the listing's error is returned.
    sim.disable_subscription(T1, "Audit.SharePoint").unwrap();
    sim.advance(Duration::from_secs(5 * 60));
    let e = list().await.unwrap_err();
    assert!(e.to_string().contains("AF20023"), "{e}");
    assert_eq!(starts(sim).len(), 2);
    // After the cooldown it is restarted (a restarted subscription lists only new content).
    sim.advance(Duration::from_secs(15 * 60));
    list().await.unwrap();
    assert_eq!(starts(sim).len(), 3);
}

#[tokio::test]
async fn a_subscription_lost_behind_the_listers_back_is_restarted_outside_the_cooldown() {
    let env = Local::start(vec![tenant_spec(T1)], &[], |_| {}).await;
    let (sim, queue) = (&env.sim, &env.queue);
    let s = ListerSettings {
        content_types: Some(vec![ContentType::Exchange]),
        ..settings()
    };
    let l = env.lister(&[T1], s);
    // Another run says it started the subscription a minute ago; the API has none.
    let cps = l.checkpoints();
    let o365_activity::checkpoint::Claim::Held(held) = cps
        .claim(&tid(T1), ContentType::Exchange, "other-run", sim.now())
        .await
        .unwrap()
    else {
        panic!("busy")
    };
    let mut held = *held;
    cps.note_subscription_start(&mut held, sim.now() - TimeDelta::minutes(1), None)
        .await
        .unwrap();
    let last = o365_activity::checkpoint::LastRun {
        run_id: "other-run".into(),
        at: sim.now(),
        outcome: LastRunOutcome::Ok,
        blobs: 0,
        error: None,
        error_kind: None,
        stalled: false,
        watermark_ahead_seconds: None,
    };
    cps.release(held, last, 0, sim.now()).await.unwrap();

    // The listing finds no subscription; a restart would break the 15-minute rule: reported.
    let s = l.run(far_deadline()).await;
    let PairOutcome::Failed(m) = &s.pairs[0].outcome else {
        panic!("{s:?}")
    };
    assert!(m.message().contains("AF20022"), "{m}");
    assert_eq!(m.kind(), o365_lister::PairErrorKind::Subscription);
    let starts = |sim: &o365_sim::SimHandle| {
        sim.ledger()
            .requests
            .iter()
            .filter(|r| r.operation.as_deref() == Some("start"))
            .count()
    };
    assert_eq!(starts(sim), 0);

    // After the cooldown the next run restarts it and collects everything.
    sim.advance(Duration::from_secs(15 * 60));
    let s = l.run(far_deadline()).await;
    assert_all_ok(&s);
    assert_eq!(starts(sim), 1);
    let mut expected = listable(&sim.ledger(), &[T1]);
    expected.retain(|k| k.contains("/Audit.Exchange/"));
    assert_exactly_once(&queue.drain(), &expected);
}

#[tokio::test]
async fn settings_the_api_would_refuse_fail_every_pair_without_a_request() {
    let env = Local::start(vec![tenant_spec(T1)], &[], |_| {}).await;
    let s = ListerSettings {
        max_window: Duration::from_secs(24 * 3600),
        ..settings()
    };
    let summary = env.lister(&[T1], s).run(far_deadline()).await;
    assert_eq!(summary.pairs.len(), 5);
    for p in &summary.pairs {
        let PairOutcome::Failed(m) = &p.outcome else {
            panic!("{p:?}")
        };
        assert!(
            m.message().contains("max_window") && m.message().contains("23h59m"),
            "{m}"
        );
    }
    assert!(env.sim.ledger().requests.is_empty());
}

/// The in-process queue, each send taking 5 ms as a call to SQS does; records the tenants of
/// every send.
#[derive(Clone, Default)]
struct RecordingQueue {
    inner: o365_activity::queue::MemoryQueue,
    sends: std::sync::Arc<std::sync::Mutex<Vec<Vec<TenantId>>>>,
}

impl o365_activity::queue::Queue for RecordingQueue {
    async fn send_all(
        &self,
        messages: &[QueueMessage],
        deadline: Instant,
    ) -> Result<o365_activity::queue::SendReport, o365_activity::queue::QueueError> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.sends
            .lock()
            .unwrap()
            .push(messages.iter().map(|m| m.tenant_id.clone()).collect());
        self.inner.send_all(messages, deadline).await
    }
}

#[tokio::test]
async fn tenants_listed_at_once_take_turns_in_the_queue() {
    const T3: &str = "00000000-0000-0000-0000-000000000003";
    let tenants = [T1, T2, T3];
    let env = Local::start(
        tenants.iter().map(|t| tenant_spec(t)).collect(),
        &[],
        |_| {},
    )
    .await;
    let queue = RecordingQueue::default();
    let dir = tempfile::tempdir().unwrap();
    let l = lister(
        &env.sim,
        o365_activity::store::LocalStore::new(dir.path()),
        queue.clone(),
        &tenants,
        settings(),
        env.metrics.clone(),
    );
    assert_all_ok(&l.run(far_deadline()).await);
    let sent = queue.inner.drain();
    assert_exactly_once(&sent, &listable(&env.sim.ledger(), &tenants));
    // The pages of pairs listed at once went out together, the tenants in turn: a batch
    // of ten as a fetcher receives it spans tenants (one tenant's batch could spend only
    // that tenant's share of the request rate).
    let sends = queue.sends.lock().unwrap().clone();
    let distinct = |ts: &[TenantId]| ts.iter().collect::<BTreeSet<_>>().len();
    assert!(
        sends.iter().any(|s| distinct(s) > 1),
        "every send held one tenant"
    );
    let batches: Vec<&[QueueMessage]> = sent.chunks(10).collect();
    let mixed = batches
        .iter()
        .filter(|b| {
            b.iter()
                .map(|m| &m.tenant_id)
                .collect::<BTreeSet<_>>()
                .len()
                > 1
        })
        .count();
    assert!(
        mixed * 2 > batches.len(),
        "{mixed} of {} batches of ten span tenants",
        batches.len()
    );
}
