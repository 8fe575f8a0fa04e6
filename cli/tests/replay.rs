#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `o365ctl replay` and `backfill` against the simulator: by content id, by content URI, by
//! window (re-listing from the API), dry runs, and backfill without touching checkpoints.

mod common;

use common::*;

const CT: &str = "Audit.General";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_restores_lost_blobs_by_id_uri_and_window() {
    let sim = sim(4, &[TENANT]).await;
    let ctl = Ctl::at(&sim);
    let t0 = chrono::Utc::now();
    let o = ctl.run_once(CT).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let files = ctl.stored();
    assert!(files.len() >= 5, "{}", files.len());
    let ids: Vec<String> = files.keys().cloned().collect();
    let (a, b, z) = (&ids[0], &ids[1], &ids[ids.len() / 2]);
    let lines_of: Vec<usize> = [a, b, z]
        .iter()
        .map(|id| lines(&files[*id]).len())
        .collect();
    for id in [a, b, z] {
        std::fs::remove_file(&files[id]).unwrap();
    }

    // Dry run: prints the message, sends and writes nothing.
    let c = ctl.cmd(&["replay", "--dry-run", "--content-id", a]);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let printed: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed.len(), 1);
    assert_eq!(&printed[0]["content_id"], a.as_str());
    assert_eq!(printed[0]["content_type"], CT);
    assert_eq!(printed[0]["format_version"], 1);
    assert!(!files[a].exists());

    // By id and by URI (tenant and id read from it): both restored.
    let uri = format!(
        "{}/api/v1.0/{TENANT}/activity/feed/audit/{b}",
        sim.base_url()
    );
    let c = ctl.cmd(&["replay", "-q", "--content-id", a, "--content-uri", &uri]);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("2 message(s)"), "{}", stderr(&o));
    assert_eq!(lines(&files[a]).len(), lines_of[0]);
    assert_eq!(lines(&files[b]).len(), lines_of[1]);
    assert!(!files[z].exists());

    // By window: re-lists everything, stores only the missing one, writes no duplicate.
    // It ends when the first run started, so nothing published since can be in it.
    let start = t0 - chrono::TimeDelta::hours(30);
    let window = format!(
        "{}..{}",
        start.format("%Y-%m-%dT%H:%M:%SZ"),
        t0.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let c = ctl.cmd(&["replay", "-q", "--window", &window, "--content-types", CT]);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("; 1 stored, ") && err.contains(" already present"),
        "{err}"
    );
    assert_eq!(lines(&files[z]).len(), lines_of[2]);
    assert_eq!(ctl.stored().len(), files.len());

    // An id that was never listed is an error (exit 1) that says what to do.
    let ghost =
        "20200101000000000000000$20200101000000000000000$audit_general$Audit_General$na0001";
    let c = ctl.cmd(&["replay", "--content-id", ghost, "--window", &window]);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("was not listed"), "{}", stderr(&o));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_fetches_a_window_without_touching_checkpoints() {
    let sim = sim(5, &[TENANT]).await;
    let ctl = Ctl::at(&sim);
    let c = ctl.cmd(&[
        "backfill",
        "--dry-run",
        "-q",
        "--last",
        "3h",
        "--content-types",
        CT,
    ]);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let listed = String::from_utf8(o.stdout).unwrap().lines().count();
    assert!(listed > 0);
    assert!(ctl.stored().is_empty());

    let c = ctl.cmd(&[
        "backfill",
        "--json",
        "-q",
        "--last",
        "3h",
        "--content-types",
        CT,
    ]);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = json(&o);
    let stored_n = s["fetch"]["blobs_stored"].as_u64().unwrap();
    assert!(stored_n as usize >= listed, "{s}");
    assert_eq!(ctl.stored().len() as u64, stored_n);
    assert_eq!(s["errors"], 0);
    // Checkpoints are the lister's business: backfill leaves none.
    assert!(!ctl.path().join("o365/_state").exists());

    // A window older than the API's reach is refused before anything runs.
    let c = ctl.cmd(&["backfill", "--window", "2020-01-01..2020-01-02"]);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("older than 7 days"), "{}", stderr(&o));
    sim.shutdown().await;
}

/// `backfill --last 7d` against a slow simulator lists all seven days. The simulator's clock
/// runs 14 min 50 s ahead of o365ctl's and allows no grace beyond 7 days, so of the lister's
/// 15-minute margin inside the reach only 10 s are left: any slice planned at the start and
/// listed more than 10 s later (slow pages make that every slice after the first type's) must
/// be clamped again when it is listed, or the API refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_last_7d_lists_all_seven_days_against_a_slow_simulator() {
    let types = ["Audit.General", "Audit.Exchange"];
    let sim = o365_sim::start(o365_sim::SimConfig {
        clock_start: chrono::Utc::now() + chrono::TimeDelta::seconds(14 * 60 + 50),
        lookback_grace: std::time::Duration::ZERO,
        history: std::time::Duration::from_secs(8 * 24 * 3600),
        records_per_hour: 6,
        blob_window: std::time::Duration::from_secs(2 * 3600),
        scenarios: ["slow=0.5", "small-pages=4"]
            .iter()
            .map(|s| o365_sim::Scenario::parse(s).unwrap())
            .collect(),
        tenants: vec![o365_sim::TenantSpec::new(TENANT)],
        ..o365_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let ctl = Ctl::at(&sim);
    let started = std::time::Instant::now();
    let c = ctl.cmd(&[
        "backfill",
        "--json",
        "-q",
        "--last",
        "7d",
        "--content-types",
        &types.join(","),
    ]);
    let o = run(c).await;
    let took = started.elapsed();
    let s = json(&o);
    // No slice refused. Fetch failures may only be blobs the API itself refuses: the oldest
    // ones expire (7 days after their aggregation slot) while the backfill runs.
    assert_eq!(s["list_errors"], serde_json::json!([]), "{s}");
    assert!(!stderr(&o).contains("window not listed"), "{}", stderr(&o));
    let (from, to) = s["window"].as_str().unwrap().split_once("..").unwrap();
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap().to_utc();
    let (from, to) = (parse(from), parse(to));
    assert!(to - from > chrono::TimeDelta::days(7) - chrono::TimeDelta::minutes(16));
    // Everything still inside the lister's reach when the backfill ended is stored.
    let reach = chrono::Utc::now() - chrono::TimeDelta::days(7) + chrono::TimeDelta::minutes(15);
    let stored = ctl.stored();
    let mut per_day = [0usize; 7];
    for b in sim.ledger().published {
        if !types.contains(&b.content_type.as_str()) || b.content_created >= to {
            continue;
        }
        // Expiry is the API's business, so it is judged on the simulator's clock (ahead of ours).
        if b.content_created >= reach && b.content_expiration > sim.now() {
            assert!(
                stored.contains_key(&b.content_id),
                "{} ({}) not stored; backfill took {took:?}: {}",
                b.content_id,
                b.content_created,
                stderr(&o)
            );
        }
        if stored.contains_key(&b.content_id) {
            let day = (b.content_created - from).num_days().clamp(0, 6) as usize;
            per_day[day] += 1;
        }
    }
    assert!(
        per_day.iter().all(|n| *n > 0),
        "blobs stored per day: {per_day:?}"
    );
    println!("backfill --last 7d, slow simulator: {took:?}; blobs stored per day {per_day:?}");
    sim.shutdown().await;
}
