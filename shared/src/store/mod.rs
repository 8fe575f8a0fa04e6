//! The storage seam: S3 in AWS and in tests (moto), a local directory on a laptop. Same keys,
//! same contracts (create-only writes, conditional updates), so the handlers cannot tell.

use std::future::Future;

use bytes::Bytes;

pub mod local;
pub mod s3;

pub use local::LocalStore;
pub use s3::S3Store;

/// An object's version tag, used for conditional updates (`If-Match`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag(pub String);

/// An object read back with its version tag.
#[derive(Debug, Clone)]
pub struct StoredObject {
    /// The whole body.
    pub body: Bytes,
    /// Its version tag.
    pub etag: ETag,
}

/// When a write may happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutCondition {
    /// Always (reports, which are idempotent).
    Overwrite,
    /// Only if no object exists at the key (`If-None-Match: *`): create-only.
    IfNoneMatch,
    /// Only if the current object has this tag (`If-Match`): compare-and-swap.
    IfMatch(ETag),
}

/// What a conditional write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object was written.
    Written {
        /// The new version tag.
        etag: ETag,
    },
    /// The condition did not hold (HTTP 412): nothing was written.
    PreconditionFailed,
}

/// Headers stored with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// `Content-Type`, e.g. `application/x-ndjson`.
    pub content_type: String,
    /// `Content-Encoding`, e.g. `gzip`.
    pub content_encoding: Option<String>,
}

/// A storage failure; `retryable` tells the caller whether handing the work back can help.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A local file operation failed.
    #[error("local storage {op} {key}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The key.
        key: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An S3 call failed.
    #[error("S3 {op} s3://{bucket}/{key} failed: {message}")]
    S3 {
        /// Which call.
        op: &'static str,
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The service's message.
        message: String,
        /// Whether a retry can help (throttling, 5xx, timeouts).
        retryable: bool,
    },
    /// A key that cannot be stored (e.g. `..` in a local path).
    #[error("invalid object key {0:?}")]
    BadKey(String),
}

impl StoreError {
    /// Whether retrying later can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Io { .. } => true,
            StoreError::S3 { retryable, .. } => *retryable,
            StoreError::BadKey(_) => false,
        }
    }
}

/// An object store (S3 bucket or local directory) addressed by keys from [`crate::keys`].
pub trait ObjectStore: Clone + Send + Sync + 'static {
    /// A create-only streaming upload (multipart on S3 when large).
    type Upload: ObjectUpload;

    /// Reads a whole object, or `None` if absent.
    fn get(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<StoredObject>, StoreError>> + Send;

    /// Whether an object exists (HEAD).
    fn exists(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Writes a small object under a condition.
    fn put(
        &self,
        key: &str,
        body: Bytes,
        meta: &ObjectMeta,
        condition: PutCondition,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;

    /// Lists keys under a prefix (all pages), sorted.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Starts a create-only upload: `finish` reports `PreconditionFailed` if the key exists by then.
    fn begin_upload(
        &self,
        key: &str,
        meta: &ObjectMeta,
    ) -> impl Future<Output = Result<Self::Upload, StoreError>> + Send;
}

/// A streaming, create-only upload. Nothing is visible at the key until `finish` succeeds.
pub trait ObjectUpload: Send {
    /// Appends bytes (buffered; S3 sends parts of at least 5 MiB).
    fn write(&mut self, chunk: Bytes) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Completes the object with `If-None-Match: *`.
    fn finish(self) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;

    /// Abandons the upload and frees what it holds (multipart parts, temp files).
    fn abort(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}
