//! The OCSF Parquet files read back: each class's file holds one row per event, every
//! required attribute with its type (checked on the rows read back from Parquet), and the
//! export writes the Security Lake layout once per stored object.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use o365_activity::compression::Compression;
use o365_activity::keys::KeyLayout;
use o365_activity::store::{LocalStore, ObjectMeta, ObjectStore, PutCondition};
use o365_activity::ContentType;
use o365_ocsf::{export, map_line, write_parquet, LakeTarget, OcsfClass, OcsfEvent};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

/// The rows of a Parquet file, as JSON objects (nulls left out).
fn read_rows(bytes: Vec<u8>) -> Vec<Value> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes))
        .unwrap()
        .build()
        .unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let mut w = arrow_json::ArrayWriter::new(Vec::new());
        w.write(&batch).unwrap();
        w.finish().unwrap();
        let rows: Vec<Value> = serde_json::from_slice(&w.into_inner()).unwrap();
        out.extend(rows);
    }
    out
}

fn events_by_class(test: &str) -> BTreeMap<OcsfClass, Vec<OcsfEvent>> {
    let records = common::all_records(test);
    let mut by: BTreeMap<OcsfClass, Vec<OcsfEvent>> = BTreeMap::new();
    for line in common::output_lines(&records) {
        let e = map_line(&line).unwrap();
        by.entry(e.class).or_default().push(e);
    }
    by
}

#[test]
fn each_class_file_reads_back_with_its_required_attributes() {
    let by = events_by_class("each_class_file_reads_back_with_its_required_attributes");
    assert_eq!(by.len(), OcsfClass::ALL.len());
    for (class, mut events) in by {
        let bytes = write_parquet(class, &mut events).unwrap();
        let rows = read_rows(bytes);
        assert_eq!(rows.len(), events.len(), "{class:?}");
        for (row, ev) in rows.iter().zip(&events) {
            let p = common::problems(row);
            assert!(p.is_empty(), "{class:?}: {p:?}\n{row}");
            // Same event after the trip through Parquet (sorted by time, like the rows).
            assert_eq!(row, &ev.event, "{class:?}");
        }
        let times: Vec<i64> = rows.iter().map(|r| r["time"].as_i64().unwrap()).collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "{class:?} rows not in time order"
        );
    }
}

#[test]
fn a_file_holds_one_class_only() {
    let by = events_by_class("a_file_holds_one_class_only");
    let mut mixed: Vec<OcsfEvent> = by
        .values()
        .flat_map(|v| v.iter().take(1).cloned())
        .collect();
    assert!(write_parquet(OcsfClass::ApiActivity, &mut mixed).is_err());
}

fn gzip(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for l in lines {
        gz.write_all(l).unwrap();
        gz.write_all(b"\n").unwrap();
    }
    gz.finish().unwrap()
}

#[tokio::test]
async fn export_writes_the_lake_layout_once_per_object() {
    let records = common::all_records("export_writes_the_lake_layout_once_per_object");
    let lines = common::output_lines(&records);
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("data"));
    let lake = LocalStore::new(dir.path().join("lake"));
    let layout = KeyLayout::new("o365");
    let tenant = "00000000-0000-0000-0000-000000000001".parse().unwrap();
    let created = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let meta = ObjectMeta {
        content_type: "application/x-ndjson".into(),
        content_encoding: Some("gzip".into()),
    };
    let halves = lines.split_at(lines.len() / 2);
    for (i, part) in [halves.0, halves.1].into_iter().enumerate() {
        let key = layout.data_key_for(
            &tenant,
            ContentType::General,
            created,
            &format!("blob{i}"),
            Compression::default(),
        );
        store
            .put(
                &key,
                Bytes::from(gzip(part)),
                &meta,
                PutCondition::IfNoneMatch,
            )
            .await
            .unwrap();
    }
    let target = LakeTarget::new("o365", "eu-west-1", "123456789012").unwrap();

    // A deadline already past: nothing is exported, both objects are left for the next run.
    let stopped = export(&store, &layout, &lake, &target, Some(Instant::now()))
        .await
        .unwrap();
    assert_eq!((stopped.objects_exported, stopped.objects_pending), (0, 2));
    assert!(lake.list("").await.unwrap().is_empty());

    let first = export(&store, &layout, &lake, &target, None).await.unwrap();
    assert_eq!(
        (
            first.objects_exported,
            first.objects_skipped,
            first.lines_rejected
        ),
        (2, 0, 0)
    );
    assert_eq!(first.events.values().sum::<u64>(), lines.len() as u64);
    let files = lake.list("ext/").await.unwrap();
    assert_eq!(files.len() as u64, first.files_written);
    let mut rows = 0;
    for f in &files {
        let rest = f.strip_prefix("ext/o365-").unwrap();
        let (slug, part) = rest.split_once('/').unwrap();
        let class = OcsfClass::ALL
            .into_iter()
            .find(|c| c.slug() == slug)
            .unwrap();
        assert!(
            part.starts_with("region=eu-west-1/accountId=123456789012/eventDay="),
            "{f}"
        );
        let day = &part["region=eu-west-1/accountId=123456789012/eventDay=".len()..][..8];
        for row in read_rows(lake.get(f).await.unwrap().unwrap().body.to_vec()) {
            assert_eq!(row["class_uid"].as_i64(), Some(class.uid()), "{f}");
            let t = Utc
                .timestamp_millis_opt(row["time"].as_i64().unwrap())
                .unwrap();
            assert_eq!(t.format("%Y%m%d").to_string(), day, "{f}");
            assert!(common::problems(&row).is_empty());
            rows += 1;
        }
    }
    assert_eq!(rows, lines.len());

    // Again: everything is in the ledger, nothing is written.
    let again = export(&store, &layout, &lake, &target, None).await.unwrap();
    assert_eq!(
        (
            again.objects_exported,
            again.objects_skipped,
            again.files_written
        ),
        (0, 2, 0)
    );
    assert_eq!(lake.list("ext/").await.unwrap(), files);

    // A run cut short before its ledger entry: the object is exported again under the same
    // names, so the lake holds no second copy.
    let ledger = store.list("o365/_ocsf/").await.unwrap();
    assert_eq!(ledger.len(), 2);
    std::fs::remove_file(dir.path().join("data").join(&ledger[0])).unwrap();
    let redo = export(&store, &layout, &lake, &target, None).await.unwrap();
    assert_eq!((redo.objects_exported, redo.objects_skipped), (1, 1));
    assert_eq!(redo.files_written, 0);
    assert!(redo.files_already_there > 0);
    assert_eq!(lake.list("ext/").await.unwrap(), files);

    // A new object later is picked up on the next run.
    let key = layout.data_key_for(
        &tenant,
        ContentType::General,
        created,
        "blob-late",
        Compression::default(),
    );
    store
        .put(
            &key,
            Bytes::from(gzip(&lines[..1])),
            &meta,
            PutCondition::IfNoneMatch,
        )
        .await
        .unwrap();
    let late = export(&store, &layout, &lake, &target, None).await.unwrap();
    assert_eq!((late.objects_exported, late.objects_skipped), (1, 2));
    // Only Parquet objects under ext/, no sidecar files.
    assert!(lake
        .list("")
        .await
        .unwrap()
        .iter()
        .all(|k| k.starts_with("ext/") && k.ends_with(".parquet")));
    let stray = walk(&dir.path().join("lake"));
    assert!(
        stray
            .iter()
            .all(|n| n.ends_with(".parquet") && !n.starts_with('.')),
        "{stray:?}"
    );
}

/// Every file name under a directory, hidden ones included.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    out
}
