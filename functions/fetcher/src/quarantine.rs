//! Nothing the API served is thrown away: when normalization rejects anything (a bad record,
//! or a blob that is not an array of records at all), the raw blob body is kept, compressed,
//! under `_quarantine/` at the data key's partition (create-only). `o365ctl normalize` reads it
//! again once the cause is fixed.

use o365_activity::client::ActivityClient;
use o365_activity::keys::DataKey;
use o365_activity::message::QueueMessage;
use o365_activity::normalize::encode::Encoder;
use o365_activity::store::{ObjectMeta, ObjectStore, ObjectUpload};
use tokio::time::Instant;

use crate::failure::{out_of_time, Failure};
use crate::outcome::ErrorKind;
use crate::store_blob::abandon;
use crate::Fetcher;

impl<S: ObjectStore> Fetcher<S> {
    /// Downloads the blob again and keeps its raw body under `_quarantine/`; returns the key.
    /// Any failure is retryable: the message comes back and the whole blob is tried again.
    pub(crate) async fn quarantine(
        &self,
        client: &ActivityClient,
        msg: &QueueMessage,
        data: &DataKey,
        deadline: Instant,
    ) -> Result<String, Failure> {
        let key = self.keys.quarantine_key(data);
        if self
            .store
            .exists(&key)
            .await
            .map_err(|e| Failure::from_store(&e))?
        {
            return Ok(key);
        }
        let mut body =
            tokio::time::timeout_at(deadline, client.download(&msg.content_uri, deadline))
                .await
                .map_err(|_| out_of_time())?
                .map_err(|e| Failure::from_client(&e))?;
        let internal = |e: std::io::Error| Failure::retry(ErrorKind::Internal, e);
        let mut encoder = Encoder::new(self.compression).map_err(internal)?;
        let meta = ObjectMeta {
            content_type: "application/json".to_owned(),
            content_encoding: Some(self.compression.content_encoding().to_owned()),
        };
        let mut upload = tokio::time::timeout_at(deadline, self.store.begin_upload(&key, &meta))
            .await
            .map_err(|_| out_of_time())?
            .map_err(|e| Failure::from_store(&e))?;
        let streamed = tokio::time::timeout_at(deadline, async {
            while let Some(chunk) = body.chunk().await.map_err(|e| Failure::from_client(&e))? {
                encoder.write_all(&chunk).map_err(internal)?;
                let out = encoder.take_output();
                if !out.is_empty() {
                    upload
                        .write(out.into())
                        .await
                        .map_err(|e| Failure::from_store(&e))?;
                }
            }
            let rest = encoder.finish().map_err(internal)?;
            upload
                .write(rest.into())
                .await
                .map_err(|e| Failure::from_store(&e))
        })
        .await
        .unwrap_or_else(|_| Err(out_of_time()));
        if let Err(f) = streamed {
            abandon(upload.abort(), &key).await;
            return Err(f);
        }
        // Written, or kept by another delivery first (412): either way the body is kept.
        tokio::time::timeout_at(deadline, upload.finish())
            .await
            .map_err(|_| out_of_time())?
            .map_err(|e| Failure::from_store(&e))?;
        tracing::warn!(key, "raw blob kept in quarantine");
        Ok(key)
    }

    /// `BlobsQuarantined` and `RecordsQuarantined` (records left out, when known).
    pub(crate) fn quarantine_metrics(&self, msg: &QueueMessage, records: u64) {
        self.blob_metrics(msg)
            .count("BlobsQuarantined", 1)
            .count("RecordsQuarantined", records)
            .emit(&self.metrics);
    }
}
