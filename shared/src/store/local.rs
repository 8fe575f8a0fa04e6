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
mod tests;
