use bytes::Bytes;

use super::store::to_body;
use super::*;
use crate::content_type::ContentType;
use crate::keys::KeyLayout;
use crate::store::{
    ETag, ObjectMeta, ObjectStore, ObjectUpload, PutCondition, PutOutcome, StoreError, StoredObject,
};
use crate::tenant_id::TenantId;
use chrono::TimeZone;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A map-backed store with S3's conditional-write semantics, and a hook that lets a test
/// slip a competing write in just before the next conditional put.
#[derive(Clone, Default)]
struct MapStore {
    objects: Arc<Mutex<HashMap<String, (Bytes, u64)>>>,
    version: Arc<Mutex<u64>>,
    #[allow(clippy::type_complexity)]
    before_put: Arc<Mutex<Option<Box<dyn FnOnce(&MapStore) + Send>>>>,
}

impl MapStore {
    fn raw_put(&self, key: &str, body: Bytes) -> ETag {
        let mut v = self.version.lock().unwrap();
        *v += 1;
        self.objects
            .lock()
            .unwrap()
            .insert(key.to_owned(), (body, *v));
        ETag(v.to_string())
    }
    fn doc(&self, key: &str) -> Checkpoint {
        let body = self.objects.lock().unwrap()[key].0.clone();
        serde_json::from_slice(&body).unwrap()
    }
}

struct NoUpload;
impl ObjectUpload for NoUpload {
    async fn write(&mut self, _: Bytes) -> Result<(), StoreError> {
        Err(StoreError::BadKey("uploads unused".into()))
    }
    async fn finish(self) -> Result<PutOutcome, StoreError> {
        Err(StoreError::BadKey("uploads unused".into()))
    }
    async fn abort(self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl ObjectStore for MapStore {
    type Upload = NoUpload;
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .get(key)
            .map(|(b, v)| StoredObject {
                body: b.clone(),
                etag: ETag(v.to_string()),
            }))
    }
    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.objects.lock().unwrap().contains_key(key))
    }
    async fn put(
        &self,
        key: &str,
        body: Bytes,
        _: &ObjectMeta,
        condition: PutCondition,
    ) -> Result<PutOutcome, StoreError> {
        let hook = self.before_put.lock().unwrap().take();
        if let Some(h) = hook {
            h(self);
        }
        let current = self.objects.lock().unwrap().get(key).map(|(_, v)| *v);
        let ok = match (&condition, current) {
            (PutCondition::Overwrite, _) => true,
            (PutCondition::IfNoneMatch, c) => c.is_none(),
            (PutCondition::IfMatch(t), Some(c)) => t.0 == c.to_string(),
            (PutCondition::IfMatch(_), None) => false,
        };
        if !ok {
            return Ok(PutOutcome::PreconditionFailed);
        }
        Ok(PutOutcome::Written {
            etag: self.raw_put(key, body),
        })
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys: Vec<String> = self
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        keys.sort();
        Ok(keys)
    }
    async fn begin_upload(&self, _: &str, _: &ObjectMeta) -> Result<NoUpload, StoreError> {
        Ok(NoUpload)
    }
}

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, h, m, 0).unwrap()
}

fn tenant() -> TenantId {
    "00000000-0000-0000-0000-000000000001".parse().unwrap()
}

fn policy() -> CheckpointPolicy {
    CheckpointPolicy {
        retention: TimeDelta::minutes(60),
        lease_duration: TimeDelta::minutes(16),
    }
}

fn cps(store: &MapStore) -> CheckpointStore<MapStore> {
    CheckpointStore::new(store.clone(), KeyLayout::new("o365"), policy())
}

fn held(c: Claim) -> HeldCheckpoint {
    match c {
        Claim::Held(h) => *h,
        Claim::Busy(l) => panic!("busy: {l:?}"),
    }
}

#[test]
fn progress_is_monotone_and_prunes_outside_the_overlap() {
    let mut c = Checkpoint::new(tenant(), ContentType::Exchange, t(0, 0));
    c.record_progress(
        Some(t(10, 0)),
        [("a".to_string(), t(8, 30)), ("b".to_string(), t(9, 30))],
        TimeDelta::minutes(60),
    );
    assert_eq!(c.watermark, Some(t(10, 0)));
    assert!(!c.was_sent("a"), "a is older than watermark - overlap");
    assert!(c.was_sent("b"));
    c.record_progress(Some(t(9, 0)), [], TimeDelta::minutes(60));
    assert_eq!(c.watermark, Some(t(10, 0)), "never backwards");
    c.record_progress(None, [("c".to_string(), t(9, 45))], TimeDelta::minutes(60));
    assert_eq!(c.watermark, Some(t(10, 0)));
    assert!(c.was_sent("c"));
    assert_eq!(c.lag(t(11, 30)), Some(TimeDelta::minutes(90)));
}

#[test]
fn merge_takes_the_max_and_the_union() {
    let mut a = Checkpoint::new(tenant(), ContentType::Exchange, t(0, 0));
    a.record_progress(
        Some(t(10, 0)),
        [("a".into(), t(9, 30))],
        TimeDelta::minutes(60),
    );
    let mut b = a.clone();
    b.record_progress(
        Some(t(12, 0)),
        [("b".into(), t(11, 30))],
        TimeDelta::minutes(60),
    );
    b.subscription_started_at = Some(t(1, 0));
    a.record_progress(None, [("c".into(), t(11, 10))], TimeDelta::minutes(60));
    a.merge(&b, TimeDelta::minutes(60));
    assert_eq!(a.watermark, Some(t(12, 0)));
    assert!(a.was_sent("b") && a.was_sent("c") && !a.was_sent("a"));
    assert_eq!(a.subscription_started_at, Some(t(1, 0)));
}

#[test]
fn parse_rejects_other_versions_and_garbage() {
    let c = Checkpoint::new(tenant(), ContentType::DlpAll, t(0, 0));
    let mut v = serde_json::to_value(&c).unwrap();
    assert_eq!(Checkpoint::parse("k", v.to_string().as_bytes()).unwrap(), c);
    v["format_version"] = 2.into();
    let e = Checkpoint::parse("k", v.to_string().as_bytes()).unwrap_err();
    assert!(e.to_string().contains("upgrade"), "{e}");
    let e = Checkpoint::parse("k", b"{nope").unwrap_err();
    assert!(e.to_string().contains("delete it"), "{e}");
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn claim_creates_then_second_run_is_busy_until_expiry() {
    let store = MapStore::default();
    let cps = cps(&store);
    let h = held(
        cps.claim(&tenant(), ContentType::Exchange, "run-a", t(10, 0))
            .await
            .unwrap(),
    );
    assert_eq!(h.checkpoint().watermark, None);
    match cps
        .claim(&tenant(), ContentType::Exchange, "run-b", t(10, 5))
        .await
        .unwrap()
    {
        Claim::Busy(l) => assert_eq!(l.run_id, "run-a"),
        Claim::Held(_) => panic!("two runs hold one pair"),
    }
    // run-a was killed: its lease expires and run-b takes over.
    let hb = held(
        cps.claim(&tenant(), ContentType::Exchange, "run-b", t(10, 17))
            .await
            .unwrap(),
    );
    assert!(hb.checkpoint().is_held_by("run-b"));
    assert_eq!(
        hb.checkpoint().first_attempt_at,
        Some(t(10, 0)),
        "the first claim's time is kept"
    );
    assert_eq!(hb.checkpoint().owed_since(), Some(t(10, 0)));
}

#[tokio::test]
async fn an_older_checkpoint_without_first_attempt_gets_the_earliest_it_shows() {
    let store = MapStore::default();
    let cps = cps(&store);
    let key = cps.layout().checkpoint_key(&tenant(), ContentType::DlpAll);
    // Written by an older build: a failed run at 09:00, last written at 09:30.
    let mut old = Checkpoint::new(tenant(), ContentType::DlpAll, t(9, 30));
    old.last_run = Some(LastRun {
        run_id: "run-0".into(),
        at: t(9, 0),
        outcome: LastRunOutcome::Failed,
        blobs: 0,
        error: Some("AF10001".into()),
        error_kind: None,
        stalled: false,
        watermark_ahead_seconds: None,
    });
    let mut v = serde_json::to_value(&old).unwrap();
    v.as_object_mut().unwrap().remove("first_attempt_at");
    store.raw_put(&key, Bytes::from(v.to_string()));
    let h = held(
        cps.claim(&tenant(), ContentType::DlpAll, "run-a", t(10, 0))
            .await
            .unwrap(),
    );
    assert_eq!(h.checkpoint().first_attempt_at, Some(t(9, 0)));
}

#[tokio::test]
async fn a_short_lease_expires_sooner_and_commits_renew_it_by_as_much() {
    let store = MapStore::default();
    let cps = cps(&store);
    let mut h = held(
        cps.claim_for(
            &tenant(),
            ContentType::Exchange,
            "run-a",
            t(10, 0),
            TimeDelta::minutes(5),
        )
        .await
        .unwrap(),
    );
    cps.commit(&mut h, Some(t(9, 0)), &[], t(10, 2))
        .await
        .unwrap();
    assert_eq!(h.checkpoint().lease.as_ref().unwrap().expires_at, t(10, 7));
    let other = cps
        .claim(&tenant(), ContentType::Exchange, "run-b", t(10, 8))
        .await
        .unwrap();
    assert!(matches!(other, Claim::Held(_)), "{other:?}");
}

#[tokio::test]
async fn racing_creators_only_one_wins() {
    let store = MapStore::default();
    let cps = cps(&store);
    let key = cps.layout().checkpoint_key(&tenant(), ContentType::General);
    // Another run creates the document between our load and our create.
    let racer = Checkpoint {
        lease: Some(Lease {
            run_id: "run-x".into(),
            expires_at: t(11, 0),
        }),
        ..Checkpoint::new(tenant(), ContentType::General, t(10, 0))
    };
    let (k2, body) = (key.clone(), to_body(&racer));
    *store.before_put.lock().unwrap() = Some(Box::new(move |s: &MapStore| {
        s.raw_put(&k2, body);
    }));
    match cps
        .claim(&tenant(), ContentType::General, "run-a", t(10, 0))
        .await
        .unwrap()
    {
        Claim::Busy(l) => assert_eq!(l.run_id, "run-x"),
        Claim::Held(_) => panic!("overwrote the racer's claim"),
    }
    assert!(store.doc(&key).is_held_by("run-x"));
}

#[tokio::test]
async fn commit_after_a_concurrent_write_merges_and_never_moves_back() {
    let store = MapStore::default();
    let cps = cps(&store);
    let mut h = held(
        cps.claim(&tenant(), ContentType::Exchange, "run-a", t(10, 0))
            .await
            .unwrap(),
    );
    let key = cps
        .layout()
        .checkpoint_key(&tenant(), ContentType::Exchange);
    // Our lease expired and run-b took over and got further than we will.
    let mut theirs = store.doc(&key);
    theirs.lease = Some(Lease {
        run_id: "run-b".into(),
        expires_at: t(12, 0),
    });
    theirs.record_progress(
        Some(t(11, 0)),
        [("b".into(), t(10, 30))],
        TimeDelta::minutes(60),
    );
    let (k2, body) = (key.clone(), to_body(&theirs));
    *store.before_put.lock().unwrap() = Some(Box::new(move |s: &MapStore| {
        s.raw_put(&k2, body);
    }));
    let out = cps
        .commit(
            &mut h,
            Some(t(10, 45)),
            &[("a".into(), t(10, 40))],
            t(10, 50),
        )
        .await
        .unwrap();
    assert_eq!(out, CommitOutcome::LeaseLost);
    let doc = store.doc(&key);
    assert_eq!(doc.watermark, Some(t(11, 0)), "not moved backwards");
    assert!(doc.was_sent("a") && doc.was_sent("b"), "union of recent");
    assert!(doc.is_held_by("run-b"), "their lease untouched");
    // Our release leaves their lease and last_run alone.
    let last = LastRun {
        run_id: "run-a".into(),
        at: t(10, 51),
        outcome: LastRunOutcome::Partial,
        blobs: 1,
        error: None,
        error_kind: None,
        stalled: false,
        watermark_ahead_seconds: None,
    };
    cps.release(h, last, 0, t(10, 51)).await.unwrap();
    let doc = store.doc(&key);
    assert!(doc.is_held_by("run-b") && doc.last_run.is_none());
}

#[tokio::test]
async fn commit_renews_and_release_clears_the_lease() {
    let store = MapStore::default();
    let cps = cps(&store);
    let mut h = held(
        cps.claim(&tenant(), ContentType::SharePoint, "run-a", t(10, 0))
            .await
            .unwrap(),
    );
    let out = cps
        .commit(&mut h, Some(t(10, 0)), &[("x".into(), t(9, 59))], t(10, 10))
        .await
        .unwrap();
    assert_eq!(out, CommitOutcome::Committed);
    assert_eq!(h.checkpoint().lease.as_ref().unwrap().expires_at, t(10, 26));
    cps.note_subscription_start(&mut h, t(10, 11), Some("AF10001".into()))
        .await
        .unwrap();
    let last = LastRun {
        run_id: "run-a".into(),
        at: t(10, 12),
        outcome: LastRunOutcome::Ok,
        blobs: 1,
        error: None,
        error_kind: None,
        stalled: false,
        watermark_ahead_seconds: None,
    };
    let done = cps.release(h, last.clone(), 0, t(10, 12)).await.unwrap();
    assert_eq!(done.lease, None);
    assert_eq!(done.last_run, Some(last));
    let loaded = cps
        .load(&tenant(), ContentType::SharePoint)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(loaded.checkpoint, done);
    assert_eq!(loaded.checkpoint.subscription_started_at, Some(t(10, 11)));
    assert_eq!(
        loaded.checkpoint.subscription_error.as_deref(),
        Some("AF10001")
    );
    assert_eq!(cps.list().await.unwrap(), vec![done]);
}

#[tokio::test]
async fn gap_reports_are_written_once() {
    let store = MapStore::default();
    let cps = cps(&store);
    let gap = GapReport::new(
        tenant(),
        ContentType::Exchange,
        t(1, 0),
        t(2, 0),
        t(3, 0),
        "run-a",
    );
    assert!(cps.write_gap(&gap).await.unwrap());
    let again = GapReport {
        run_id: "run-b".into(),
        ..gap.clone()
    };
    assert!(!cps.write_gap(&again).await.unwrap());
    assert_eq!(cps.list_gaps().await.unwrap(), vec![gap.clone()]);
    assert_eq!(gap.duration(), TimeDelta::hours(1));
}
