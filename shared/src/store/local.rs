//! A local directory as an object store (written by the store helper).

use bytes::Bytes;

use super::{
    ObjectMeta, ObjectStore, ObjectUpload, PutCondition, PutOutcome, StoreError, StoredObject,
};

/// Objects as files under a root directory, keys as relative paths.
#[derive(Debug, Clone)]
pub struct LocalStore {
    _private: (),
}

/// An upload to a temp file, linked into place on finish.
#[derive(Debug)]
pub struct LocalUpload {
    _private: (),
}

impl ObjectUpload for LocalUpload {
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

impl ObjectStore for LocalStore {
    type Upload = LocalUpload;
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
    async fn begin_upload(&self, key: &str, meta: &ObjectMeta) -> Result<LocalUpload, StoreError> {
        let _ = (key, meta);
        todo!("store helper")
    }
}
