//! `make bench` §compaction: stores N records (the repository's sample records, each made
//! unique, 5% repeated across objects) as gzip-6 NDJSON objects like the fetcher's, compacts
//! them on one thread, and prints JSON: MB/s of NDJSON per CPU second, peak RSS of the
//! compaction (the high-water mark is reset after the set-up), and Parquet vs gzip sizes.
//!
//! `cargo run --release -p o365-compact --example compaction_bench -- [RECORDS] [WORK_DIR]`

// A benchmark's set-up failing has nothing to recover: it stops with the reason.
#![allow(clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{TimeDelta, TimeZone, Utc};
use o365_activity::clock::Clock;
use o365_activity::compression::Compression;
use o365_activity::keys::KeyLayout;
use o365_activity::store::{LocalStore, ObjectMeta, ObjectStore, PutCondition};
use o365_activity::ContentType;
use o365_compact::{CompactOptions, Compactor};
use serde_json::{Map, Value};

const TENANT: &str = "00000000-0000-0000-0000-00000000b016";
const PER_OBJECT: usize = 2_000;

fn samples() -> Vec<Map<String, Value>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/data/records");
    let mut out = Vec::new();
    for name in [
        "azure-active-directory.ndjson",
        "exchange.ndjson",
        "sharepoint.ndjson",
        "general.ndjson",
        "dlp.ndjson",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        for line in text.lines() {
            if let Ok(Value::Object(m)) = serde_json::from_str(line) {
                out.push(m);
            }
        }
    }
    out
}

/// Process CPU seconds (user + system) from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn seed(store: &LocalStore, records: usize) -> (u64, u64) {
    let samples = samples();
    assert!(!samples.is_empty(), "no sample records found");
    let layout = KeyLayout::new("o365");
    let tenant = TENANT.parse().expect("tenant");
    let start = Utc
        .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("time");
    let (mut ndjson, mut stored) = (0u64, 0u64);
    let meta = ObjectMeta {
        content_type: "application/x-ndjson".into(),
        content_encoding: Some("gzip".into()),
    };
    let objects = records.div_ceil(PER_OBJECT);
    for o in 0..objects {
        let created = start + TimeDelta::minutes(o as i64 * 5);
        let blob = format!("bench{o:06}");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        for i in 0..PER_OBJECT.min(records - o * PER_OBJECT) {
            let n = o * PER_OBJECT + i;
            // 5% of the records repeat one of the previous object's.
            let id_n = if n % 20 == 7 && o > 0 {
                n - PER_OBJECT
            } else {
                n
            };
            let mut m = samples[n % samples.len()].clone();
            let at = start + TimeDelta::seconds((id_n as i64 * 3) % (3 * 86_400));
            m.insert("Id".into(), Value::from(format!("7e57{id_n:028x}")));
            m.insert(
                "CreationTime".into(),
                Value::from(at.format("%Y-%m-%dT%H:%M:%S").to_string()),
            );
            let rec = Value::Object(m).to_string();
            let line = format!(
                r#"{},"_o365":{{"tenant_id":"{TENANT}","content_type":"Audit.General","content_id":"{blob}","content_created":"{}","event_time":"{}","outcome":"success"}}}}"#,
                &rec[..rec.len() - 1],
                created.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                at.format("%Y-%m-%dT%H:%M:%SZ")
            );
            ndjson += line.len() as u64 + 1;
            gz.write_all(line.as_bytes()).expect("gzip");
            gz.write_all(b"\n").expect("gzip");
        }
        let body = gz.finish().expect("gzip");
        stored += body.len() as u64;
        let key = layout.data_key_for(
            &tenant,
            ContentType::General,
            created,
            &blob,
            Compression::default(),
        );
        store
            .put(&key, Bytes::from(body), &meta, PutCondition::IfNoneMatch)
            .await
            .expect("store");
    }
    (ndjson, stored)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let records: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let work = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("o365-compaction-bench"));
    let _ = std::fs::remove_dir_all(&work);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = LocalStore::new(&work);
        let (ndjson, gzip) = seed(&store, records).await;
        // Reset the peak RSS so it measures the compaction only (Linux: clear_refs 5).
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let compactor = Compactor::new(
            store,
            KeyLayout::new("o365"),
            Clock::system(),
            CompactOptions::default(),
        );
        let (cpu0, wall0) = (cpu_seconds(), std::time::Instant::now());
        let pair = o365_activity::keys::PairKey {
            tenant_id: TENANT.parse().expect("tenant"),
            content_type: ContentType::General,
        };
        let report = compactor
            .compact_pair(&pair, None)
            .await
            .expect("compaction");
        let (cpu, wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
        let mb = ndjson as f64 / 1e6;
        let out = serde_json::json!({
            "records": records,
            "rows": report.rows_written,
            "duplicates": report.duplicates,
            "ndjson_mb": mb,
            "gzip_mb": gzip as f64 / 1e6,
            "parquet_mb": report.parquet_bytes as f64 / 1e6,
            "cpu_seconds": cpu,
            "wall_seconds": wall,
            "mb_per_cpu_second": if cpu > 0.0 { mb / cpu } else { 0.0 },
            "peak_rss_mib": peak_rss_mib(),
            "peak_rss_reset": reset,
            "batch_mib": CompactOptions::default().batch_bytes >> 20,
        });
        println!("{out}");
    });
    let _ = std::fs::remove_dir_all(&work);
}
