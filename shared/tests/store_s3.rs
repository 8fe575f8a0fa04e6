//! S3Store against moto on 127.0.0.1: conditional puts, create-only streaming uploads (single
//! PUT and multipart), listing across pages, error classification.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use o365_activity::store::s3::PART_SIZE;
use o365_activity::store::{
    ETag, ObjectMeta, ObjectStore, ObjectUpload, PutCondition, PutOutcome, S3Store, StoreError,
};
use o365_activity::testing::MotoServer;

fn ndjson_gz() -> ObjectMeta {
    ObjectMeta {
        content_type: "application/x-ndjson".into(),
        content_encoding: Some("gzip".into()),
    }
}

fn written(o: PutOutcome) -> ETag {
    match o {
        PutOutcome::Written { etag } => etag,
        PutOutcome::PreconditionFailed => panic!("expected Written"),
    }
}

/// Deterministic, incompressible-looking bytes (xorshift), so parts differ from each other.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

async fn head(store: &S3Store, key: &str) -> HeadObjectOutput {
    store
        .client()
        .head_object()
        .bucket(store.bucket())
        .key(key)
        .send()
        .await
        .unwrap()
}

async fn open_uploads(store: &S3Store) -> usize {
    store
        .client()
        .list_multipart_uploads()
        .bucket(store.bucket())
        .send()
        .await
        .unwrap()
        .uploads()
        .len()
}

#[tokio::test]
async fn conditional_puts() {
    let moto = MotoServer::start().await.unwrap();
    let s = moto.create_bucket("cond").await.unwrap();
    let k = "p/_state/tenant/Audit.General.json";

    assert!(s.get(k).await.unwrap().is_none());
    assert!(!s.exists(k).await.unwrap());

    let e1 = written(
        s.put(
            k,
            Bytes::from_static(b"v1"),
            &ndjson_gz(),
            PutCondition::IfNoneMatch,
        )
        .await
        .unwrap(),
    );
    assert!(s.exists(k).await.unwrap());
    assert_eq!(
        s.put(
            k,
            Bytes::from_static(b"v2"),
            &ndjson_gz(),
            PutCondition::IfNoneMatch
        )
        .await
        .unwrap(),
        PutOutcome::PreconditionFailed
    );
    let got = s.get(k).await.unwrap().unwrap();
    assert_eq!(&got.body[..], b"v1");
    assert_eq!(got.etag, e1);

    // Compare-and-swap: a stale tag fails, the current one wins, and the tag moves on.
    assert_eq!(
        s.put(
            k,
            Bytes::from_static(b"v3"),
            &ndjson_gz(),
            PutCondition::IfMatch(ETag("\"0123456789abcdef0123456789abcdef\"".into()))
        )
        .await
        .unwrap(),
        PutOutcome::PreconditionFailed
    );
    let e4 = written(
        s.put(
            k,
            Bytes::from_static(b"v4"),
            &ndjson_gz(),
            PutCondition::IfMatch(e1.clone()),
        )
        .await
        .unwrap(),
    );
    assert_ne!(e4, e1);
    assert_eq!(
        s.put(
            k,
            Bytes::from_static(b"v5"),
            &ndjson_gz(),
            PutCondition::IfMatch(e1)
        )
        .await
        .unwrap(),
        PutOutcome::PreconditionFailed
    );
    let got = s.get(k).await.unwrap().unwrap();
    assert_eq!((&got.body[..], &got.etag), (&b"v4"[..], &e4));

    // If-Match on an absent key: nothing to compare with.
    assert_eq!(
        s.put(
            "absent",
            Bytes::from_static(b"x"),
            &ndjson_gz(),
            PutCondition::IfMatch(e4)
        )
        .await
        .unwrap(),
        PutOutcome::PreconditionFailed
    );
    assert!(!s.exists("absent").await.unwrap());

    // Overwrite always writes, and the headers are stored.
    written(
        s.put(
            k,
            Bytes::from_static(b"v6"),
            &ndjson_gz(),
            PutCondition::Overwrite,
        )
        .await
        .unwrap(),
    );
    let head = head(&s, k).await;
    assert_eq!(head.content_type(), Some("application/x-ndjson"));
    assert_eq!(head.content_encoding(), Some("gzip"));
    assert_eq!(&s.get(k).await.unwrap().unwrap().body[..], b"v6");
}

#[tokio::test]
async fn multipart_upload_is_create_only() {
    let moto = MotoServer::start().await.unwrap();
    let s = moto.create_bucket("multipart").await.unwrap();
    let k = "p/tenant_id=t/content_type=Audit.General/dt=2026-03-01/hour=10/big.json.gz";

    // 2.5 parts, written in uneven chunks.
    let data = pseudo_random(PART_SIZE * 5 / 2 + 12345, 7);
    let mut u = s.begin_upload(k, &ndjson_gz()).await.unwrap();
    for chunk in data.chunks(1_000_003) {
        u.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    assert!(!s.exists(k).await.unwrap(), "nothing visible before finish");
    let etag = written(u.finish().await.unwrap());
    let got = s.get(k).await.unwrap().unwrap();
    assert_eq!(got.body.len(), data.len());
    assert!(got.body == data, "multipart body differs");
    assert_eq!(got.etag, etag);
    assert!(etag.0.contains("-3"), "three parts: {etag:?}");
    let head = head(&s, k).await;
    assert_eq!(head.content_encoding(), Some("gzip"));

    // A second multipart upload to the same key is refused and leaves no parts behind.
    let mut u = s.begin_upload(k, &ndjson_gz()).await.unwrap();
    u.write(Bytes::from(pseudo_random(PART_SIZE + 10, 9)))
        .await
        .unwrap();
    assert_eq!(u.finish().await.unwrap(), PutOutcome::PreconditionFailed);
    assert!(s.get(k).await.unwrap().unwrap().body == data);
    assert_eq!(open_uploads(&s).await, 0);

    // An aborted multipart upload leaves nothing either.
    let mut u = s.begin_upload("p/aborted", &ndjson_gz()).await.unwrap();
    u.write(Bytes::from(pseudo_random(PART_SIZE, 3)))
        .await
        .unwrap();
    assert_eq!(open_uploads(&s).await, 1);
    u.abort().await.unwrap();
    assert_eq!(open_uploads(&s).await, 0);
    assert!(!s.exists("p/aborted").await.unwrap());

    // One dropped mid-way (a cancelled task) is aborted in the background.
    {
        let mut u = s.begin_upload("p/dropped", &ndjson_gz()).await.unwrap();
        u.write(Bytes::from(pseudo_random(PART_SIZE, 4)))
            .await
            .unwrap();
        assert_eq!(open_uploads(&s).await, 1);
    }
    let mut polls = 0;
    while open_uploads(&s).await > 0 {
        polls += 1;
        assert!(polls < 200, "the dropped upload was never aborted");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!s.exists("p/dropped").await.unwrap());
}

#[tokio::test]
async fn small_upload_is_one_conditional_put() {
    let moto = MotoServer::start().await.unwrap();
    let s = moto.create_bucket("small").await.unwrap();
    let mut u = s.begin_upload("k", &ndjson_gz()).await.unwrap();
    u.write(Bytes::from_static(b"hello ")).await.unwrap();
    u.write(Bytes::from_static(b"world")).await.unwrap();
    let etag = written(u.finish().await.unwrap());
    assert_eq!(open_uploads(&s).await, 0);
    let got = s.get("k").await.unwrap().unwrap();
    assert_eq!((&got.body[..], got.etag), (&b"hello world"[..], etag));

    let mut u = s.begin_upload("k", &ndjson_gz()).await.unwrap();
    u.write(Bytes::from_static(b"again")).await.unwrap();
    assert_eq!(u.finish().await.unwrap(), PutOutcome::PreconditionFailed);
    assert_eq!(&s.get("k").await.unwrap().unwrap().body[..], b"hello world");

    // An empty upload makes an empty object.
    let u = s.begin_upload("empty", &ndjson_gz()).await.unwrap();
    written(u.finish().await.unwrap());
    assert!(s.get("empty").await.unwrap().unwrap().body.is_empty());
}

#[tokio::test]
async fn list_reads_every_page_sorted() {
    let moto = MotoServer::start().await.unwrap();
    let s = moto.create_bucket("list").await.unwrap();
    // Many pages of 7 under the prefix, plus keys beside it.
    let mut keys: Vec<String> = (0..50)
        .map(|i| format!("p/tenant_id=a/{:05}.json.gz", (i * 7919) % 100_000))
        .collect();
    keys.push("p/tenant_id=b/x".into());
    keys.push("q/other".into());
    stream::iter(keys.clone())
        .map(|k| {
            let s = s.clone();
            async move {
                s.put(
                    &k,
                    Bytes::from_static(b"."),
                    &ndjson_gz(),
                    PutCondition::Overwrite,
                )
                .await
                .unwrap()
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let mut want: Vec<String> = keys
        .iter()
        .filter(|k| k.starts_with("p/tenant_id=a/"))
        .cloned()
        .collect();
    want.sort();
    want.dedup();
    assert_eq!(want.len(), 50);
    // The server does page at 7, so listing must follow continuation tokens.
    let first = s
        .client()
        .list_objects_v2()
        .bucket(s.bucket())
        .prefix("p/tenant_id=a/")
        .max_keys(7)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (first.contents().len(), first.is_truncated()),
        (7, Some(true))
    );
    let paged = s.clone().with_list_page_size(7);
    assert_eq!(paged.list("p/tenant_id=a/").await.unwrap(), want);
    assert_eq!(paged.list("p/").await.unwrap().len(), 51);
    assert_eq!(paged.list("").await.unwrap().len(), 52);
    assert!(paged.list("nothing/").await.unwrap().is_empty());
    // The default page (1000) gives the same answer.
    assert_eq!(s.list("p/tenant_id=a/").await.unwrap(), want);
}

#[tokio::test]
async fn errors_are_classified() {
    let moto = MotoServer::start().await.unwrap();
    // A missing bucket is a setup error, not an absent key, and retrying cannot fix it.
    let missing = S3Store::new(moto.s3(), "no-such-bucket-o365");
    let err = missing.get("k").await.unwrap_err();
    assert!(matches!(err, StoreError::S3 { .. }), "{err:?}");
    assert!(!err.is_retryable(), "{err}");
    let err = missing
        .put("k", Bytes::new(), &ndjson_gz(), PutCondition::IfNoneMatch)
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("no-such-bucket-o365"), "{err}");

    // Nothing listening: a dispatch failure, which may work later.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = o365_activity::aws::local_sdk_config(&format!("http://127.0.0.1:{port}")).await;
    let down = S3Store::new(o365_activity::aws::s3_client(&cfg, true), "b");
    let err = down.exists("k").await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
}
