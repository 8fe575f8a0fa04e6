//! `make bench` §compaction: the compaction of stored NDJSON into Parquet, measured through the
//! product's code path.
//!
//! 1. A child process (`seed`) starts `o365-sim` in-process (one tenant, the five content
//!    types, the repository's own records spliced in, 5 % of records repeated inside their
//!    blob), downloads every published blob, normalizes it with the fetcher's
//!    `normalize_bytes` (gzip 6, the default) and stores it under the fetcher's data key in a
//!    local store. The simulator's memory stays in that child.
//! 2. This process compacts the five pairs with `Compactor::compact_pair` (the code of
//!    `o365ctl compact` and of the compactor Lambda), on a current-thread runtime: one thread.
//! 3. It checks that the Parquet rows equal the distinct record Ids the simulator published
//!    (the bench fails otherwise), and prints one JSON object: MB/s of NDJSON per CPU second,
//!    peak RSS (`VmHWM`, the whole process: nothing but the compaction ran in it), and the
//!    Parquet bytes on disk against the stored gzip NDJSON and the raw NDJSON.
//!
//! `cargo run --release -p o365-compact --example compaction_bench -- [RECORDS] [WORK_DIR]`

// A benchmark's set-up failing has nothing to recover: it stops with the reason.
#![allow(clippy::expect_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use o365_activity::clock::Clock;
use o365_activity::compression::Compression;
use o365_activity::keys::{KeyLayout, PairKey};
use o365_activity::normalize::{normalize_bytes, InputFormat, Limits, Provenance};
use o365_activity::store::{LocalStore, ObjectMeta, ObjectStore, PutCondition, PutOutcome};
use o365_activity::{ContentType, TenantId};
use o365_compact::{CompactOptions, CompactReport, Compactor};
use o365_sim::{Scenario, SimConfig, TenantSpec, DEFAULT_TENANT_ID};
use serde_json::{json, Value};

const PREFIX: &str = "o365";
/// Simulated hours of content: about three event dates.
const HOURS: u64 = 60;

fn tenant() -> TenantId {
    DEFAULT_TENANT_ID
        .parse()
        .expect("the simulator's tenant id")
}

/// Stores about `records` records as the fetcher does; returns the seed's figures as JSON.
async fn seed(records: u64, work: &Path) -> Value {
    let mut spec = TenantSpec::new(DEFAULT_TENANT_ID);
    spec.enabled_types = o365_sim::ContentType::ALL.to_vec();
    let per_hour = (records / (HOURS * 5)).max(1);
    let config = SimConfig {
        tenants: vec![spec],
        seed: 16,
        scenarios: vec![Scenario::parse("duplicate-records=0.05").expect("scenario")],
        clock_start: Utc
            .with_ymd_and_hms(2026, 3, 4, 0, 0, 0)
            .single()
            .expect("time"),
        clock_speed: 0.0,
        history: Duration::from_secs(HOURS * 3600),
        records_per_hour: u32::try_from(per_hour).expect("records per hour"),
        // The repository's own records, never the real ones beside the repository.
        fixtures_dir: o365_sim::repo_records_dir(),
        throttle_per_minute: 1_000_000,
        ..SimConfig::default()
    };
    let sim = o365_sim::start(config).await.expect("o365-sim starts");
    let token = sim.access_token(DEFAULT_TENANT_ID);
    let http = reqwest::Client::new();
    let store = LocalStore::new(work);
    let layout = KeyLayout::new(PREFIX);
    let ledger = sim.ledger();
    let meta = ObjectMeta {
        content_type: "application/x-ndjson".into(),
        content_encoding: Some("gzip".into()),
    };
    let (mut blobs, mut lines, mut ndjson, mut gzip) = (0u64, 0u64, 0u64, 0u64);
    let mut distinct = 0u64;
    for ct in ContentType::ALL {
        let mut ids = HashSet::new();
        for blob in ledger.published_for(DEFAULT_TENANT_ID, ct.as_str()) {
            let body = http
                .get(&blob.content_uri)
                .bearer_auth(&token)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .expect("blob download")
                .bytes()
                .await
                .expect("blob body");
            let provenance = Provenance {
                tenant_id: Some(tenant()),
                content_type: Some(ct),
                content_id: Some(blob.content_id.clone()),
                content_created: Some(blob.content_created),
                fetched_at: blob.available_at,
            };
            let (out, stats) = normalize_bytes(
                &body,
                &provenance,
                Compression::default(),
                InputFormat::JsonArray,
                Limits::default(),
            )
            .expect("the fetcher's normalization");
            assert_eq!(
                stats.records_rejected, 0,
                "the simulator's records all normalize"
            );
            let key = layout.data_key_for(
                &tenant(),
                ct,
                blob.content_created,
                &blob.content_id,
                Compression::default(),
            );
            let put = store
                .put(&key, Bytes::from(out), &meta, PutCondition::IfNoneMatch)
                .await
                .expect("store");
            assert!(matches!(put, PutOutcome::Written { .. }), "{key} twice");
            blobs += 1;
            lines += stats.records;
            ndjson += stats.bytes_lines;
            gzip += stats.bytes_out;
            ids.extend(blob.record_ids.iter().cloned());
        }
        distinct += ids.len() as u64;
    }
    sim.shutdown().await;
    json!({ "blobs": blobs, "lines": lines, "distinct_ids": distinct, "ndjson_bytes": ndjson, "gzip_bytes": gzip })
}

/// Process CPU seconds (user + system) from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat (Linux)");
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// A `/proc/self/status` figure in MiB (`VmHWM`: peak RSS, `VmRSS`: now).
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The 1-, 5- and 15-minute load averages (the machine is shared: say how busy it was).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Bytes of the files under `dir`, recursively.
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

async fn compact(work: &Path) -> CompactReport {
    let compactor = Compactor::new(
        LocalStore::new(work),
        KeyLayout::new(PREFIX),
        Clock::system(),
        CompactOptions::default(),
    );
    let mut total = CompactReport::default();
    for content_type in ContentType::ALL {
        let pair = PairKey {
            tenant_id: tenant(),
            content_type,
        };
        total.add(
            &compactor
                .compact_pair(&pair, None)
                .await
                .expect("compaction"),
        );
    }
    total
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("seed") {
        let records = args.get(1).and_then(|a| a.parse().ok()).expect("RECORDS");
        let work = PathBuf::from(args.get(2).expect("WORK_DIR"));
        println!("{}", runtime().block_on(seed(records, &work)));
        return;
    }
    let records: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let work = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("o365-compaction-bench"));
    let _ = std::fs::remove_dir_all(&work);
    let child = std::process::Command::new(std::env::current_exe().expect("own path"))
        .args(["seed", &records.to_string()])
        .arg(&work)
        .output()
        .expect("seed process");
    assert!(
        child.status.success(),
        "seeding failed: {}",
        String::from_utf8_lossy(&child.stderr)
    );
    let seeded: Value = serde_json::from_slice(&child.stdout).expect("seed figures");
    let rss_before = status_mib("VmRSS:");
    let load_before = load_average();
    let (cpu0, wall0) = (cpu_seconds(), std::time::Instant::now());
    let report = runtime().block_on(compact(&work));
    let (cpu, wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
    let distinct = seeded["distinct_ids"].as_u64().unwrap_or(0);
    assert_eq!(
        report.rows_written, distinct,
        "Parquet rows must equal the distinct record Ids published"
    );
    assert_eq!(report.failures(), 0, "nothing may fail: {report:?}");
    let parquet = bytes_under(&work.join(PREFIX).join("parquet"));
    let mb = report.ndjson_bytes as f64 / 1e6;
    let options = CompactOptions::default();
    let out = json!({
        "records": report.records,
        "distinct_ids": distinct,
        "rows": report.rows_written,
        "duplicates": report.duplicates,
        "objects": report.objects,
        "ndjson_bytes": report.ndjson_bytes,
        "gzip_bytes": report.stored_bytes,
        "parquet_bytes": parquet,
        "parquet_bytes_written": report.parquet_bytes,
        "parts": report.parts_written,
        "threads": 1,
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "mb_per_cpu_second": if cpu > 0.0 { mb / cpu } else { 0.0 },
        "rss_before_mib": rss_before,
        "peak_rss_mib": status_mib("VmHWM:"),
        "batch_mib": options.batch_bytes >> 20,
        "rows_per_part": options.rows_per_part,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "seed": seeded,
    });
    println!("{out}");
    let _ = std::fs::remove_dir_all(&work);
}
