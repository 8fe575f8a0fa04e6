//! S3 as an object store (written by the store helper).

use bytes::Bytes;

use super::{
    ObjectMeta, ObjectStore, ObjectUpload, PutCondition, PutOutcome, StoreError, StoredObject,
};

/// Objects in an S3 bucket (or moto on 127.0.0.1).
#[derive(Debug, Clone)]
pub struct S3Store {
    _private: (),
}

/// A single PUT or a multipart upload, completed with If-None-Match.
#[derive(Debug)]
pub struct S3Upload {
    _private: (),
}

impl ObjectUpload for S3Upload {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        let _ = chunk;
        todo!("store helper")
    }
    async fn finish(self) -> Result<PutOutcome, StoreError> {
        todo!("store helper")
    }
    async fn abort(self) -> Result<(), StoreError> {
        todo!("store helper")
    }
}

impl ObjectStore for S3Store {
    type Upload = S3Upload;
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        let _ = key;
        todo!("store helper")
    }
    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let _ = key;
        todo!("store helper")
    }
    async fn put(
        &self,
        key: &str,
        body: Bytes,
        meta: &ObjectMeta,
        condition: PutCondition,
    ) -> Result<PutOutcome, StoreError> {
        let _ = (key, body, meta, condition);
        todo!("store helper")
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let _ = prefix;
        todo!("store helper")
    }
    async fn begin_upload(&self, key: &str, meta: &ObjectMeta) -> Result<S3Upload, StoreError> {
        let _ = (key, meta);
        todo!("store helper")
    }
}
