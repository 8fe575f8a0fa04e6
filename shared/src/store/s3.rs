//! S3 as an object store: conditional writes with `If-None-Match: *` / `If-Match`, and
//! create-only streaming uploads (one PutObject when small, multipart when large, completed
//! with `If-None-Match: *`), holding about one part in memory.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use bytes::{Bytes, BytesMut};

use super::{
    ETag, ObjectMeta, ObjectStore, ObjectUpload, PutCondition, PutOutcome, StoreError, StoredObject,
};
use crate::aws::SdkFailure;

/// Size of each multipart part (S3 needs at least 5 MiB for every part but the last); also
/// the size up to which an upload is sent as a single PutObject.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// Objects in an S3 bucket (or moto on 127.0.0.1).
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// Keys per ListObjectsV2 page (`None`: S3's default and maximum, 1000).
    list_page_size: Option<i32>,
}

/// What a failed call means for a conditional write.
enum Failure {
    /// 412 (or 404 on If-Match: the object to compare with is gone).
    Precondition,
    /// Anything else.
    Error(StoreError),
}

impl S3Store {
    /// A store over `bucket`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> S3Store {
        S3Store {
            client,
            bucket: bucket.into(),
            list_page_size: None,
        }
    }

    /// The same store listing `n` keys per page (1..=1000), e.g. to exercise paging in tests.
    pub fn with_list_page_size(mut self, n: i32) -> S3Store {
        self.list_page_size = Some(n.clamp(1, 1000));
        self
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The S3 client (for callers that need calls this seam does not offer).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    fn error(&self, op: &'static str, key: &str, f: SdkFailure) -> StoreError {
        StoreError::S3 {
            op,
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            message: f.message,
            retryable: f.retryable,
        }
    }

    /// Maps a conditional call's failure: 412 means the condition did not hold; 409
    /// (`ConditionalRequestConflict`, a concurrent write) is a retryable error.
    fn conditional_failure(
        &self,
        op: &'static str,
        key: &str,
        f: SdkFailure,
        if_match: bool,
    ) -> Failure {
        match f.status {
            Some(412) => Failure::Precondition,
            Some(404) if if_match => Failure::Precondition,
            Some(409) => Failure::Error(self.error(
                op,
                key,
                SdkFailure {
                    retryable: true,
                    ..f
                },
            )),
            _ => Failure::Error(self.error(op, key, f)),
        }
    }
}

fn etag_from(e: Option<&str>) -> ETag {
    ETag(e.unwrap_or_default().to_owned())
}

impl ObjectStore for S3Store {
    type Upload = S3Upload;

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                // 404 is an absent key, unless the bucket itself is missing (a setup error).
                let absent = e
                    .as_service_error()
                    .is_some_and(|s| s.code() != Some("NoSuchBucket"))
                    && e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
                let f = SdkFailure::from_sdk(&e);
                if absent {
                    return Ok(None);
                }
                return Err(self.error("GetObject", key, f));
            }
        };
        let etag = etag_from(out.e_tag());
        let body = out.body.collect().await.map_err(|e| StoreError::S3 {
            op: "GetObject (body)",
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            message: e.to_string(),
            retryable: true,
        })?;
        Ok(Some(StoredObject {
            body: body.into_bytes(),
            etag,
        }))
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                let f = SdkFailure::from_sdk(&e);
                if f.status == Some(404) {
                    Ok(false)
                } else {
                    Err(self.error("HeadObject", key, f))
                }
            }
        }
    }

    async fn put(
        &self,
        key: &str,
        body: Bytes,
        meta: &ObjectMeta,
        condition: PutCondition,
    ) -> Result<PutOutcome, StoreError> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(&meta.content_type)
            .set_content_encoding(meta.content_encoding.clone())
            .body(ByteStream::from(body));
        let if_match = matches!(condition, PutCondition::IfMatch(_));
        req = match condition {
            PutCondition::Overwrite => req,
            PutCondition::IfNoneMatch => req.if_none_match("*"),
            PutCondition::IfMatch(etag) => req.if_match(etag.0),
        };
        match req.send().await {
            Ok(out) => Ok(PutOutcome::Written {
                etag: etag_from(out.e_tag()),
            }),
            Err(e) => {
                match self.conditional_failure("PutObject", key, SdkFailure::from_sdk(&e), if_match)
                {
                    Failure::Precondition => Ok(PutOutcome::PreconditionFailed),
                    Failure::Error(e) => Err(e),
                }
            }
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_max_keys(self.list_page_size)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| self.error("ListObjectsV2", prefix, SdkFailure::from_sdk(&e)))?;
            keys.extend(
                page.contents
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|o| o.key),
            );
        }
        keys.sort();
        Ok(keys)
    }

    async fn begin_upload(&self, key: &str, meta: &ObjectMeta) -> Result<S3Upload, StoreError> {
        Ok(S3Upload {
            store: self.clone(),
            key: key.to_owned(),
            meta: meta.clone(),
            buf: BytesMut::new(),
            upload_id: None,
            parts: Vec::new(),
        })
    }
}

/// A single PUT or a multipart upload, completed with If-None-Match.
#[derive(Debug)]
pub struct S3Upload {
    store: S3Store,
    key: String,
    meta: ObjectMeta,
    /// Bytes not yet sent (less than one part after each `write`).
    buf: BytesMut,
    /// The multipart upload, once the data outgrew one part.
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
}

impl S3Upload {
    fn err(&self, op: &'static str, f: SdkFailure) -> StoreError {
        self.store.error(op, &self.key, f)
    }

    /// Starts the multipart upload if needed and sends `data` as the next part.
    async fn send_part(&mut self, data: Bytes) -> Result<(), StoreError> {
        let s = &self.store;
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let out = s
                    .client
                    .create_multipart_upload()
                    .bucket(&s.bucket)
                    .key(&self.key)
                    .content_type(&self.meta.content_type)
                    .set_content_encoding(self.meta.content_encoding.clone())
                    .checksum_algorithm(ChecksumAlgorithm::Crc32)
                    .send()
                    .await
                    .map_err(|e| self.err("CreateMultipartUpload", SdkFailure::from_sdk(&e)))?;
                let id = out.upload_id.ok_or_else(|| StoreError::S3 {
                    op: "CreateMultipartUpload",
                    bucket: s.bucket.clone(),
                    key: self.key.clone(),
                    message: "the response has no UploadId".into(),
                    retryable: true,
                })?;
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = i32::try_from(self.parts.len() + 1).unwrap_or(i32::MAX);
        let out = s
            .client
            .upload_part()
            .bucket(&s.bucket)
            .key(&self.key)
            .upload_id(&upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(|e| self.err("UploadPart", SdkFailure::from_sdk(&e)))?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag)
                .set_checksum_crc32(out.checksum_crc32)
                .build(),
        );
        Ok(())
    }

    /// Aborts the multipart upload (if any); errors are reported, not hidden.
    async fn abort_multipart(&mut self) -> Result<(), StoreError> {
        let Some(upload_id) = self.upload_id.take() else {
            return Ok(());
        };
        let s = &self.store;
        match s
            .client
            .abort_multipart_upload()
            .bucket(&s.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let f = SdkFailure::from_sdk(&e);
                // NoSuchUpload: already completed or aborted.
                if f.status == Some(404) {
                    Ok(())
                } else {
                    Err(self.err("AbortMultipartUpload", f))
                }
            }
        }
    }

    async fn complete(&mut self) -> Result<PutOutcome, StoreError> {
        if !self.buf.is_empty() {
            let last = self.buf.split().freeze();
            self.send_part(last).await?;
        }
        let Some(upload_id) = self.upload_id.clone() else {
            return Err(StoreError::S3 {
                op: "CompleteMultipartUpload",
                bucket: self.store.bucket.clone(),
                key: self.key.clone(),
                message: "no multipart upload in progress (already finished or aborted)".into(),
                retryable: false,
            });
        };
        let s = &self.store;
        let result = s
            .client
            .complete_multipart_upload()
            .bucket(&s.bucket)
            .key(&self.key)
            .upload_id(&upload_id)
            .if_none_match("*")
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(std::mem::take(&mut self.parts)))
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(out) => {
                self.upload_id = None;
                Ok(PutOutcome::Written {
                    etag: etag_from(out.e_tag()),
                })
            }
            Err(e) => match s.conditional_failure(
                "CompleteMultipartUpload",
                &self.key,
                SdkFailure::from_sdk(&e),
                false,
            ) {
                Failure::Precondition => Ok(PutOutcome::PreconditionFailed),
                Failure::Error(e) => Err(e),
            },
        }
    }
}

impl ObjectUpload for S3Upload {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        self.buf.extend_from_slice(&chunk);
        while self.buf.len() >= PART_SIZE {
            let part = self.buf.split_to(PART_SIZE).freeze();
            self.send_part(part).await?;
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<PutOutcome, StoreError> {
        if self.upload_id.is_none() {
            let body = self.buf.split().freeze();
            let (store, key, meta) = (self.store.clone(), self.key.clone(), self.meta.clone());
            return store
                .put(&key, body, &meta, PutCondition::IfNoneMatch)
                .await;
        }
        let outcome = self.complete().await;
        // Anything but success leaves parts behind: free them (a caller retrying starts over).
        if !matches!(outcome, Ok(PutOutcome::Written { .. })) {
            if let Err(e) = self.abort_multipart().await {
                tracing::warn!(error = %e, "could not abort a multipart upload; the bucket's lifecycle rule will remove it");
            }
        }
        outcome
    }

    async fn abort(mut self) -> Result<(), StoreError> {
        self.buf = BytesMut::new();
        self.abort_multipart().await
    }
}

impl Drop for S3Upload {
    /// An upload dropped mid-way (an error, a cancelled task) aborts its multipart upload in
    /// the background when a runtime is available.
    fn drop(&mut self) {
        let Some(upload_id) = self.upload_id.take() else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (client, bucket, key) = (
            self.store.client.clone(),
            self.store.bucket.clone(),
            self.key.clone(),
        );
        rt.spawn(async move {
            if let Err(e) = client
                .abort_multipart_upload()
                .bucket(&bucket)
                .key(&key)
                .upload_id(upload_id)
                .send()
                .await
            {
                tracing::warn!(bucket, key, error = %aws_smithy_types::error::display::DisplayErrorContext(&e), "could not abort a dropped multipart upload");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> S3Store {
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .build();
        S3Store::new(aws_sdk_s3::Client::from_conf(conf), "b")
    }

    fn failure(status: u16, retryable: bool) -> SdkFailure {
        SdkFailure {
            status: Some(status),
            message: format!("HTTP {status}"),
            retryable,
        }
    }

    #[test]
    fn conditional_failures_map_to_outcomes() {
        let s = store();
        let outcome = |status, retryable, if_match| match s.conditional_failure(
            "PutObject",
            "k",
            failure(status, retryable),
            if_match,
        ) {
            Failure::Precondition => None,
            Failure::Error(e) => Some(e.is_retryable()),
        };
        assert_eq!(outcome(412, false, false), None);
        assert_eq!(outcome(412, false, true), None);
        // If-Match on a key that is gone: the expected version is not current.
        assert_eq!(outcome(404, false, true), None);
        // If-None-Match never sees 404 for the key; a 404 is the bucket: not retryable.
        assert_eq!(outcome(404, false, false), Some(false));
        // A concurrent conditional write (ConditionalRequestConflict): try again.
        assert_eq!(outcome(409, false, false), Some(true));
        assert_eq!(outcome(503, true, false), Some(true));
        assert_eq!(outcome(403, false, true), Some(false));
    }
}
