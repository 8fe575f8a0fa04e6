//! The compactor over a local directory: one row per record Id across blobs, runs, late blobs
//! and a crash between writing rows and saving the state.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Write;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use o365_activity::clock::Clock;
use o365_activity::compression::Compression;
use o365_activity::keys::{KeyLayout, ObjectKey, PairKey};
use o365_activity::store::{LocalStore, ObjectMeta, ObjectStore, PutCondition};
use o365_activity::ContentType;
use o365_compact::schema::{COLUMNS, ID_COLUMN};
use o365_compact::{part, CompactOptions, Compactor};

const TENANT: &str = "11111111-2222-3333-4444-555555555555";

fn pair() -> PairKey {
    PairKey {
        tenant_id: TENANT.parse().unwrap(),
        content_type: ContentType::Exchange,
    }
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

/// A stored line as the fetcher writes it.
fn line(id: &str, event: DateTime<Utc>, blob: &str) -> String {
    format!(
        r#"{{"Id":"{id}","CreationTime":"{}","Operation":"Send","_o365":{{"tenant_id":"{TENANT}","content_id":"{blob}","event_time":"{}"}}}}"#,
        event.format("%Y-%m-%dT%H:%M:%S"),
        event.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

async fn store_blob(store: &LocalStore, blob: &str, created: DateTime<Utc>, lines: &[String]) {
    let layout = KeyLayout::new("o365");
    let key = layout.data_key_for(
        &pair().tenant_id,
        ContentType::Exchange,
        created,
        blob,
        Compression::default(),
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for l in lines {
        gz.write_all(l.as_bytes()).unwrap();
        gz.write_all(b"\n").unwrap();
    }
    let meta = ObjectMeta {
        content_type: "application/x-ndjson".into(),
        content_encoding: Some("gzip".into()),
    };
    store
        .put(
            &key,
            Bytes::from(gz.finish().unwrap()),
            &meta,
            PutCondition::IfNoneMatch,
        )
        .await
        .unwrap();
}

/// Every id in the Parquet output, by event date (duplicates kept, to be counted).
async fn ids_by_date(store: &LocalStore) -> BTreeMap<String, Vec<String>> {
    let layout = KeyLayout::new("o365");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in store.list(&layout.parquet_root()).await.unwrap() {
        let Some(ObjectKey::Parquet(p)) = layout.parse(&key) else {
            panic!("a foreign object in the Parquet output: {key}");
        };
        let body = store.get(&key).await.unwrap().unwrap().body;
        let ids = part::strings(body, ID_COLUMN).unwrap();
        out.entry(p.event_date.to_string())
            .or_default()
            .extend(ids.into_iter().map(Option::unwrap));
    }
    for ids in out.values_mut() {
        ids.sort();
    }
    out
}

fn compactor(store: &LocalStore, rows_per_part: usize) -> Compactor<LocalStore> {
    Compactor::new(
        store.clone(),
        KeyLayout::new("o365"),
        Clock::fixed(at(6, 0)),
        CompactOptions {
            batch_bytes: 2_000,
            rows_per_part,
            part_bytes: 1 << 20,
            row_group_rows: 2,
        },
    )
}

fn v(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn one_row_per_id_across_blobs_runs_and_late_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    // Blob 1 and blob 2 overlap (a record delivered twice, as across listing windows).
    store_blob(
        &store,
        "b1",
        at(2, 10),
        &[
            line("a", at(2, 9), "b1"),
            line("b", at(2, 9), "b1"),
            line("a", at(2, 9), "b1"),
        ],
    )
    .await;
    store_blob(
        &store,
        "b2",
        at(2, 11),
        &[line("b", at(2, 9), "b2"), line("c", at(1, 23), "b2")],
    )
    .await;
    let c = compactor(&store, 2);
    let r = c.compact_pair(&pair(), None).await.unwrap();
    assert_eq!(
        (r.objects, r.records, r.rows_written, r.duplicates),
        (2, 5, 3, 2)
    );
    let want: BTreeMap<String, Vec<String>> = [
        ("2026-03-01".to_string(), v(&["c"])),
        ("2026-03-02".to_string(), v(&["a", "b"])),
    ]
    .into();
    assert_eq!(ids_by_date(&store).await, want);

    // Nothing new: nothing read.
    let r = c.compact_pair(&pair(), None).await.unwrap();
    assert_eq!((r.objects, r.rows_written), (0, 0));

    // A late blob (created the 3rd) repeats `a` and brings events of the 1st and 2nd: they
    // land in their event dates, `a` once; with 2 rows per part, new parts are added.
    store_blob(
        &store,
        "late",
        at(3, 5),
        &[
            line("a", at(2, 9), "late"),
            line("d", at(2, 8), "late"),
            line("e", at(1, 1), "late"),
        ],
    )
    .await;
    let r = c.compact_pair(&pair(), None).await.unwrap();
    assert_eq!((r.objects, r.rows_written, r.duplicates), (1, 2, 1));
    let want: BTreeMap<String, Vec<String>> = [
        ("2026-03-01".to_string(), v(&["c", "e"])),
        ("2026-03-02".to_string(), v(&["a", "b", "d"])),
    ]
    .into();
    assert_eq!(ids_by_date(&store).await, want);
    let layout = KeyLayout::new("o365");
    let parts = store.list(&layout.parquet_root()).await.unwrap();
    assert_eq!(parts.len(), 3, "{parts:?}");

    // Every column is there and the record is the source record.
    let body = store.get(&parts[0]).await.unwrap().unwrap().body;
    let records = part::strings(body, COLUMNS.len() - 1).unwrap();
    assert_eq!(
        records[0].as_deref(),
        Some(r#"{"Id":"c","CreationTime":"2026-03-01T23:00:00","Operation":"Send"}"#)
    );
}

#[tokio::test]
async fn a_crash_before_the_state_is_saved_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let lines: Vec<String> = (0..7)
        .map(|i| line(&format!("r{i}"), at(2, 1), "b1"))
        .collect();
    store_blob(&store, "b1", at(2, 2), &lines).await;
    let c = compactor(&store, 3);
    c.compact_pair(&pair(), None).await.unwrap();
    let before = ids_by_date(&store).await;
    // The state is lost (as if the run died after writing the parts): all is read again.
    let state = dir
        .path()
        .join("o365/_compact")
        .join(format!("tenant_id={TENANT}"));
    std::fs::remove_dir_all(state).unwrap();
    let r = c.compact_pair(&pair(), None).await.unwrap();
    assert_eq!((r.objects, r.rows_written, r.duplicates), (1, 0, 7));
    assert_eq!(ids_by_date(&store).await, before);
    assert_eq!(before["2026-03-02"].len(), 7);
}

#[tokio::test]
async fn pairs_come_from_the_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let layout = KeyLayout::new("o365");
    let key = layout.checkpoint_key(&pair().tenant_id, ContentType::Exchange);
    let meta = ObjectMeta {
        content_type: "application/json".into(),
        content_encoding: None,
    };
    store
        .put(
            &key,
            Bytes::from_static(b"{}"),
            &meta,
            PutCondition::Overwrite,
        )
        .await
        .unwrap();
    store_blob(&store, "b1", at(2, 2), &[line("a", at(2, 1), "b1")]).await;
    let c = compactor(&store, 10);
    assert_eq!(c.pairs().await.unwrap(), vec![pair()]);
    let r = c.run(None).await.unwrap();
    assert_eq!((r.pairs, r.rows_written, r.failures()), (1, 1, 0));
}

/// Every Parquet part's stored size, by key.
async fn part_sizes(store: &LocalStore) -> BTreeMap<String, usize> {
    let layout = KeyLayout::new("o365");
    let mut out = BTreeMap::new();
    for key in store.list(&layout.parquet_root()).await.unwrap() {
        let size = store.get(&key).await.unwrap().unwrap().body.len();
        out.insert(key, size);
    }
    out
}

#[tokio::test]
async fn a_part_past_the_byte_cap_is_never_read_back_to_append() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let part_bytes = 16 << 10;
    let c = Compactor::new(
        store.clone(),
        KeyLayout::new("o365"),
        Clock::fixed(at(6, 0)),
        CompactOptions {
            batch_bytes: 8 << 10,
            // No row cap in reach: only the byte cap can close a part.
            rows_per_part: 1_000_000,
            part_bytes,
            row_group_rows: 64,
        },
    );
    let mut sizes = BTreeMap::new();
    let mut want = Vec::new();
    for b in 0..15 {
        // Records of a few hundred bytes that do not compress away, all of one event date.
        let blob = format!("b{b}");
        let lines: Vec<String> = (0..40)
            .map(|i| {
                let id = format!("r{b:02}-{i:02}");
                want.push(id.clone());
                let noise: String = (0..24u64)
                    .map(|k| {
                        format!(
                            "{:016x}",
                            (b * 1000 + i * 31 + k).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                        )
                    })
                    .collect();
                line(&id, at(2, 1), &blob).replacen(
                    "\"Send\"",
                    &format!("\"Send\",\"Noise\":\"{noise}\""),
                    1,
                )
            })
            .collect();
        store_blob(&store, &blob, at(2, 2), &lines).await;
        c.compact_pair(&pair(), None).await.unwrap();
        let now = part_sizes(&store).await;
        for (key, old) in &sizes {
            if now.get(key) != Some(old) {
                assert!(
                    *old < part_bytes,
                    "{key} was read back and rewritten at {old} bytes, past the {part_bytes}-byte cap"
                );
            }
        }
        sizes = now;
    }
    assert!(
        sizes.len() > 2,
        "the byte cap must have started new parts: {sizes:?}"
    );
    want.sort();
    let got = ids_by_date(&store).await;
    assert_eq!(got.keys().collect::<Vec<_>>(), ["2026-03-02"]);
    assert_eq!(got["2026-03-02"], want, "one row per id, none lost");

    // Every part is searched for ids, closed ones too: compacting everything again adds nothing.
    let state = dir.path().join("o365/_compact");
    std::fs::remove_dir_all(state).unwrap();
    let r = c.compact_pair(&pair(), None).await.unwrap();
    assert_eq!((r.rows_written, r.duplicates), (0, want.len() as u64));
    assert_eq!(part_sizes(&store).await, sizes, "no part rewritten");
}
