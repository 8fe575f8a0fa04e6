use super::*;

fn meta() -> ObjectMeta {
    ObjectMeta {
        content_type: "application/octet-stream".into(),
        content_encoding: None,
    }
}

async fn put(s: &LocalStore, key: &str, body: &'static [u8], c: PutCondition) -> PutOutcome {
    s.put(key, Bytes::from_static(body), &meta(), c)
        .await
        .unwrap()
}

/// Adds one to the decimal counter at `key` by read-modify-write with If-Match.
async fn increment(s: &LocalStore, key: &str) {
    loop {
        let cur = s.get(key).await.unwrap().unwrap();
        let n: u32 = std::str::from_utf8(&cur.body).unwrap().parse().unwrap();
        let body = Bytes::from((n + 1).to_string());
        let o = s
            .put(key, body, &meta(), PutCondition::IfMatch(cur.etag))
            .await
            .unwrap();
        if matches!(o, PutOutcome::Written { .. }) {
            return;
        }
    }
}

fn written(o: &PutOutcome) -> ETag {
    match o {
        PutOutcome::Written { etag } => etag.clone(),
        PutOutcome::PreconditionFailed => panic!("expected Written, got {o:?}"),
    }
}

#[tokio::test]
async fn put_get_exists_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    assert!(s.get("a/b.txt").await.unwrap().is_none());
    assert!(!s.exists("a/b.txt").await.unwrap());
    let o = put(&s, "a/b.txt", b"hello", PutCondition::Overwrite).await;
    let etag = written(&o);
    assert_eq!(etag, etag_of(b"hello"));
    let got = s.get("a/b.txt").await.unwrap().unwrap();
    assert_eq!(&got.body[..], b"hello");
    assert_eq!(got.etag, etag);
    assert!(s.exists("a/b.txt").await.unwrap());
    // A directory is not an object.
    assert!(!s.exists("a").await.unwrap());
    assert!(s.get("a").await.unwrap().is_none());
}

#[tokio::test]
async fn conditions_hold() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    let k = "x/y/z.json";
    let first = put(&s, k, b"1", PutCondition::IfNoneMatch).await;
    let e1 = written(&first);
    let second = put(&s, k, b"2", PutCondition::IfNoneMatch).await;
    assert_eq!(second, PutOutcome::PreconditionFailed);
    assert_eq!(&s.get(k).await.unwrap().unwrap().body[..], b"1");

    let stale = ETag("0".repeat(64));
    let o = put(&s, k, b"3", PutCondition::IfMatch(stale)).await;
    assert_eq!(o, PutOutcome::PreconditionFailed);
    let o = s
        .put(
            k,
            Bytes::from_static(b"4"),
            &meta(),
            PutCondition::IfMatch(e1.clone()),
        )
        .await
        .unwrap();
    let e4 = written(&o);
    assert_ne!(e4, e1);
    assert_eq!(s.get(k).await.unwrap().unwrap().etag, e4);
    // If-Match on an absent key fails: there is nothing to compare with.
    let o = s
        .put("absent", Bytes::new(), &meta(), PutCondition::IfMatch(e4))
        .await
        .unwrap();
    assert_eq!(o, PutOutcome::PreconditionFailed);
    assert!(!s.exists("absent").await.unwrap());
}

#[tokio::test]
async fn bad_keys_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path().join("root"));
    for bad in [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a//b",
        "a/",
        "./a",
        "a\0b",
        "a\\b",
        ".o365-tmp-x",
        "a/.o365-lock-b",
    ] {
        let r = s
            .put(
                bad,
                Bytes::from_static(b"x"),
                &meta(),
                PutCondition::Overwrite,
            )
            .await;
        assert!(matches!(r, Err(StoreError::BadKey(_))), "{bad:?}: {r:?}");
        assert!(
            matches!(s.get(bad).await, Err(StoreError::BadKey(_))),
            "{bad:?}"
        );
        assert!(
            matches!(s.exists(bad).await, Err(StoreError::BadKey(_))),
            "{bad:?}"
        );
        assert!(
            matches!(
                s.begin_upload(bad, &meta()).await,
                Err(StoreError::BadKey(_))
            ),
            "{bad:?}"
        );
        assert!(!StoreError::BadKey(bad.into()).is_retryable());
    }
    assert!(matches!(s.list("../").await, Err(StoreError::BadKey(_))));
    // Nothing escaped the root.
    assert!(!dir.path().join("x").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_creators_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    let mut tasks = Vec::new();
    for i in 0..32u32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let body = Bytes::from(format!("writer {i}"));
            let o = if i % 2 == 0 {
                s.put("race/k", body.clone(), &meta(), PutCondition::IfNoneMatch)
                    .await
                    .unwrap()
            } else {
                let mut u = s.begin_upload("race/k", &meta()).await.unwrap();
                u.write(body.clone()).await.unwrap();
                u.finish().await.unwrap()
            };
            (o, body)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (o, body) = t.await.unwrap();
        if let PutOutcome::Written { etag } = o {
            winners.push((etag, body));
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let got = s.get("race/k").await.unwrap().unwrap();
    assert_eq!(got.body, winners[0].1);
    assert_eq!(got.etag, winners[0].0);
    // Temp files are gone and never listed.
    assert_eq!(s.list("").await.unwrap(), vec!["race/k".to_string()]);
    let names: Vec<_> = std::fs::read_dir(dir.path().join("race"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(TMP_PREFIX)),
        "{names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compare_and_swap_races_have_one_winner_per_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    let k = "_state/cp.json";
    let o = put(&s, k, b"0", PutCondition::IfNoneMatch).await;
    let base = written(&o);
    let mut tasks = Vec::new();
    for i in 0..24u32 {
        let (s, base) = (s.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            s.put(
                k,
                Bytes::from(format!("v{i}")),
                &meta(),
                PutCondition::IfMatch(base),
            )
            .await
            .unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), PutOutcome::Written { .. }) {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);

    // A chain of read-modify-write increments: no update is lost.
    let counter = "_state/counter";
    put(&s, counter, b"0", PutCondition::IfNoneMatch).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                increment(&s, counter).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let cur = s.get(counter).await.unwrap().unwrap();
    assert_eq!(&cur.body[..], b"40");
}

#[tokio::test]
async fn list_is_sorted_and_filtered_by_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    assert!(s.list("").await.unwrap().is_empty());
    for k in [
        "p/tenant_id=b/x.json.gz",
        "p/tenant_id=a/dt=2026-01-02/y.json.gz",
        "p/tenant_id=a/dt=2026-01-01/z.json.gz",
        "p/_state/cp",
        "q/other",
        "pz",
    ] {
        put(&s, k, b".", PutCondition::Overwrite).await;
    }
    assert_eq!(
        s.list("p/tenant_id=").await.unwrap(),
        vec![
            "p/tenant_id=a/dt=2026-01-01/z.json.gz",
            "p/tenant_id=a/dt=2026-01-02/y.json.gz",
            "p/tenant_id=b/x.json.gz",
        ]
    );
    assert_eq!(s.list("p").await.unwrap().len(), 5);
    assert_eq!(s.list("p/").await.unwrap().len(), 4);
    assert_eq!(s.list("p/_state/").await.unwrap(), vec!["p/_state/cp"]);
    assert!(s.list("nope/").await.unwrap().is_empty());
    assert_eq!(s.list("").await.unwrap().len(), 6);
}

#[tokio::test]
async fn uploads_stream_and_are_create_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    let mut u = s.begin_upload("u/blob", &meta()).await.unwrap();
    let mut all = Vec::new();
    for i in 0..100u8 {
        let chunk = vec![i; 1000];
        all.extend_from_slice(&chunk);
        u.write(Bytes::from(chunk)).await.unwrap();
    }
    // Not visible before finish.
    assert!(!s.exists("u/blob").await.unwrap());
    let etag = written(&u.finish().await.unwrap());
    let got = s.get("u/blob").await.unwrap().unwrap();
    assert_eq!(got.body.as_ref(), all.as_slice());
    assert_eq!(got.etag, etag);

    let mut u = s.begin_upload("u/blob", &meta()).await.unwrap();
    u.write(Bytes::from_static(b"other")).await.unwrap();
    assert_eq!(u.finish().await.unwrap(), PutOutcome::PreconditionFailed);
    assert_eq!(s.get("u/blob").await.unwrap().unwrap().etag, etag);

    let mut u = s.begin_upload("u/aborted", &meta()).await.unwrap();
    u.write(Bytes::from_static(b"x")).await.unwrap();
    u.abort().await.unwrap();
    {
        let mut u = s.begin_upload("u/dropped", &meta()).await.unwrap();
        u.write(Bytes::from_static(b"x")).await.unwrap();
    }
    assert_eq!(s.list("u/").await.unwrap(), vec!["u/blob"]);
    let leftovers = std::fs::read_dir(dir.path().join("u"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(TMP_PREFIX)
        })
        .count();
    assert_eq!(leftovers, 0);
}

const CHILD_ENV: &str = "O365_LOCAL_STORE_CHILD_DIR";

/// Run in child processes by `create_only_and_cas_hold_across_processes`.
#[test]
#[ignore = "helper run in child processes by create_only_and_cas_hold_across_processes"]
fn child_process_writer() {
    let dir = std::env::var(CHILD_ENV).expect("run by the cross-process test");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = LocalStore::new(dir);
        let me = std::process::id().to_string();
        for i in 0..20 {
            let k = format!("x/k{i}");
            let o = s
                .put(
                    &k,
                    Bytes::from(me.clone()),
                    &meta(),
                    PutCondition::IfNoneMatch,
                )
                .await
                .unwrap();
            if matches!(o, PutOutcome::Written { .. }) {
                println!("won {k} {me}");
            }
        }
        for _ in 0..10 {
            increment(&s, "counter").await;
        }
    });
}

#[tokio::test]
async fn create_only_and_cas_hold_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    put(&s, "counter", b"0", PutCondition::IfNoneMatch).await;
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "store::local::tests::child_process_writer",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, dir.path())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut wins: Vec<(String, String)> = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "child failed: {out:?}");
        // libtest may print its own "test ... " on the same line, before ours.
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(rest) = line.split_once("won ").map(|(_, r)| r) {
                let (k, pid) = rest.split_once(' ').unwrap();
                wins.push((k.to_owned(), pid.to_owned()));
            }
        }
    }
    wins.sort();
    assert_eq!(wins.len(), 20, "one winner per key: {wins:?}");
    for (k, pid) in &wins {
        assert_eq!(&s.get(k).await.unwrap().unwrap().body[..], pid.as_bytes());
    }
    // 4 processes x 10 compare-and-swap increments, none lost.
    assert_eq!(&s.get("counter").await.unwrap().unwrap().body[..], b"40");
}

#[test]
fn create_only_holds_across_threads_without_the_runtime() {
    // Plain threads exercise the same hard-link path another process would.
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("k");
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let dest = dest.clone();
            std::thread::spawn(move || {
                let tmp = write_temp(&dest, format!("{i}").as_bytes()).unwrap();
                link_create_only(&tmp, &dest).unwrap()
            })
        })
        .collect();
    let wins = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|w| *w)
        .count();
    assert_eq!(wins, 1);
}
