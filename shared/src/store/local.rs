//! A local directory as an object store: keys are relative paths under a root. Writes are
//! atomic (temp file, fsync, rename or hard link), create-only writes hold across processes
//! (a hard link fails if the target exists), and compare-and-swap runs under an exclusive
//! lock on a sidecar file. Content type and encoding are not persisted.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{
    ETag, ObjectMeta, ObjectStore, ObjectUpload, PutCondition, PutOutcome, StoreError, StoredObject,
};

/// File names starting with this are the store's own (temp and lock files): never keys.
const RESERVED_PREFIX: &str = ".o365-";
const TMP_PREFIX: &str = ".o365-tmp-";
const LOCK_PREFIX: &str = ".o365-lock-";

/// Objects as files under a root directory, keys as relative paths.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: Arc<PathBuf>,
}

impl LocalStore {
    /// A store rooted at `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore {
            root: Arc::new(root.into()),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file a key maps to, after checking the key is a safe relative path.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }
}

/// Checks that a key is a relative path of plain segments: no absolute paths, no `.`/`..`,
/// no empty segments, no NUL or backslash, no segment using the store's reserved prefix.
fn validate_key(key: &str) -> Result<(), StoreError> {
    let bad = key.is_empty()
        || key.contains('\0')
        || key.contains('\\')
        || key.split('/').any(|seg| {
            seg.is_empty() || seg == "." || seg == ".." || seg.starts_with(RESERVED_PREFIX)
        });
    if bad {
        Err(StoreError::BadKey(key.to_owned()))
    } else {
        Ok(())
    }
}

/// Hex SHA-256 of a body: the local ETag.
fn etag_of(body: &[u8]) -> ETag {
    ETag(hex(&Sha256::digest(body)))
}

/// Lower-case hex of bytes (digests in ETags and manifests).
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn io_err(op: &'static str, key: &str) -> impl FnOnce(std::io::Error) -> StoreError {
    let key = key.to_owned();
    move |source| StoreError::Io { op, key, source }
}

/// Runs blocking file work off the async threads.
async fn blocking<T, F>(op: &'static str, key: &str, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(join) => Err(StoreError::Io {
            op,
            key: key.to_owned(),
            source: std::io::Error::other(join.to_string()),
        }),
    }
}

/// The parent directory of a key's file (the root for top-level keys).
fn parent_of(path: &Path) -> &Path {
    path.parent().unwrap_or(path)
}

fn file_name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A unique temp file path beside `dest`.
fn temp_path(dest: &Path) -> PathBuf {
    parent_of(dest).join(format!("{TMP_PREFIX}{}", uuid::Uuid::new_v4().simple()))
}

/// Writes `body` to a fresh temp file beside `dest` and fsyncs it.
fn write_temp(dest: &Path, body: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(parent_of(dest))?;
    let tmp = temp_path(dest);
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(body)?;
        f.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Makes a rename or link durable (best effort: not every platform can fsync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Links a finished temp file at `dest` only if nothing is there; removes the temp file.
fn link_create_only(tmp: &Path, dest: &Path) -> std::io::Result<bool> {
    let linked = match std::fs::hard_link(tmp, dest) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(tmp);
    if matches!(linked, Ok(true)) {
        sync_dir(parent_of(dest));
    }
    linked
}

/// Takes the exclusive lock that serializes replacing writes of one key (across processes).
fn lock_key(dest: &Path) -> std::io::Result<File> {
    std::fs::create_dir_all(parent_of(dest))?;
    let lock_path = parent_of(dest).join(format!("{LOCK_PREFIX}{}", file_name_of(dest)));
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_path)?;
    f.lock()?;
    Ok(f)
}

/// Reads a file, `None` if it (or a directory in its path) is absent or it is a directory.
fn read_opt(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Replaces `dest` with `body` under the key's lock, if `expected` (when given) is current.
fn replace_locked(
    dest: &Path,
    body: &[u8],
    expected: Option<&ETag>,
) -> std::io::Result<PutOutcome> {
    let lock = lock_key(dest)?;
    if let Some(expected) = expected {
        match read_opt(dest)? {
            Some(current) if etag_of(&current) == *expected => {}
            _ => return Ok(PutOutcome::PreconditionFailed),
        }
    }
    let tmp = write_temp(dest, body)?;
    if let Err(e) = std::fs::rename(&tmp, dest) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(parent_of(dest));
    drop(lock);
    Ok(PutOutcome::Written {
        etag: etag_of(body),
    })
}

/// Collects every key under `dir` (whose key prefix is `base`) into `out`.
fn walk(dir: &Path, base: &str, prefix: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(())
        }
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue; // not UTF-8: cannot be a key we wrote
        };
        if name.starts_with(RESERVED_PREFIX) {
            continue;
        }
        let key = format!("{base}{name}");
        let ft = entry.file_type()?;
        if ft.is_dir() {
            let sub = format!("{key}/");
            // Descend only where keys can still match the prefix.
            if sub.starts_with(prefix) || prefix.starts_with(&sub) {
                walk(&entry.path(), &sub, prefix, out)?;
            }
        } else if ft.is_file() && key.starts_with(prefix) {
            out.push(key);
        }
    }
    Ok(())
}

impl ObjectStore for LocalStore {
    type Upload = LocalUpload;

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        let path = self.path_of(key)?;
        let on_err = io_err("get", key);
        blocking("get", key, move || {
            Ok(read_opt(&path).map_err(on_err)?.map(|body| StoredObject {
                etag: etag_of(&body),
                body: Bytes::from(body),
            }))
        })
        .await
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let path = self.path_of(key)?;
        let k = key.to_owned();
        blocking("exists", key, move || match std::fs::metadata(&path) {
            Ok(m) => Ok(m.is_file()),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                Ok(false)
            }
            Err(e) => Err(io_err("exists", &k)(e)),
        })
        .await
    }

    async fn put(
        &self,
        key: &str,
        body: Bytes,
        _meta: &ObjectMeta,
        condition: PutCondition,
    ) -> Result<PutOutcome, StoreError> {
        let dest = self.path_of(key)?;
        let k = key.to_owned();
        blocking("put", key, move || {
            let result = match condition {
                PutCondition::IfNoneMatch => write_temp(&dest, &body).and_then(|tmp| {
                    Ok(if link_create_only(&tmp, &dest)? {
                        PutOutcome::Written {
                            etag: etag_of(&body),
                        }
                    } else {
                        PutOutcome::PreconditionFailed
                    })
                }),
                PutCondition::Overwrite => replace_locked(&dest, &body, None),
                PutCondition::IfMatch(etag) => replace_locked(&dest, &body, Some(&etag)),
            };
            result.map_err(io_err("put", &k))
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        // Start the walk at the deepest directory the prefix names in full.
        let (dir_key, base) = match prefix.rfind('/') {
            Some(i) => (&prefix[..i], &prefix[..=i]),
            None => ("", ""),
        };
        let start = if dir_key.is_empty() {
            self.root.as_ref().clone()
        } else {
            self.path_of(dir_key)
                .map_err(|_| StoreError::BadKey(prefix.to_owned()))?
        };
        let (prefix, base) = (prefix.to_owned(), base.to_owned());
        let k = prefix.clone();
        blocking("list", &k, move || {
            let mut out = Vec::new();
            walk(&start, &base, &prefix, &mut out).map_err(io_err("list", &prefix))?;
            out.sort();
            Ok(out)
        })
        .await
    }

    async fn begin_upload(&self, key: &str, _meta: &ObjectMeta) -> Result<LocalUpload, StoreError> {
        let dest = self.path_of(key)?;
        let tmp = temp_path(&dest);
        let dir = parent_of(&dest).to_owned();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io_err("begin_upload", key))?;
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .await
            .map_err(io_err("begin_upload", key))?;
        Ok(LocalUpload {
            key: key.to_owned(),
            dest,
            tmp: Some(tmp),
            file: Some(file),
            hasher: Sha256::new(),
        })
    }
}

/// An upload to a temp file, linked into place (create-only) on finish.
#[derive(Debug)]
pub struct LocalUpload {
    key: String,
    dest: PathBuf,
    /// The temp file; `None` once linked or removed.
    tmp: Option<PathBuf>,
    file: Option<tokio::fs::File>,
    hasher: Sha256,
}

impl LocalUpload {
    fn closed(&self, op: &'static str) -> StoreError {
        StoreError::Io {
            op,
            key: self.key.clone(),
            source: std::io::Error::other("the upload was already finished or aborted"),
        }
    }
}

impl ObjectUpload for LocalUpload {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        let key = self.key.clone();
        let Some(file) = self.file.as_mut() else {
            return Err(self.closed("upload write"));
        };
        file.write_all(&chunk)
            .await
            .map_err(io_err("upload write", &key))?;
        self.hasher.update(&chunk);
        Ok(())
    }

    async fn finish(mut self) -> Result<PutOutcome, StoreError> {
        let (Some(mut file), Some(tmp)) = (self.file.take(), self.tmp.take()) else {
            return Err(self.closed("upload finish"));
        };
        let key = self.key.clone();
        let synced = async {
            file.flush().await?;
            file.sync_all().await
        }
        .await;
        drop(file);
        if let Err(e) = synced {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io_err("upload finish", &key)(e));
        }
        let etag = ETag(hex(&std::mem::take(&mut self.hasher).finalize()));
        let dest = self.dest.clone();
        let on_err = io_err("upload finish", &key);
        let linked = blocking("upload finish", &key, move || {
            link_create_only(&tmp, &dest).map_err(on_err)
        })
        .await?;
        Ok(if linked {
            PutOutcome::Written { etag }
        } else {
            PutOutcome::PreconditionFailed
        })
    }

    async fn abort(mut self) -> Result<(), StoreError> {
        drop(self.file.take());
        if let Some(tmp) = self.tmp.take() {
            match tokio::fs::remove_file(&tmp).await {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("upload abort", &self.key)(e)),
            }
        }
        Ok(())
    }
}

impl Drop for LocalUpload {
    /// An upload dropped without `finish`/`abort` leaves no temp file behind.
    fn drop(&mut self) {
        drop(self.file.take());
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
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
}
