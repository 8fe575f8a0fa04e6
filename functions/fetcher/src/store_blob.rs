//! Step 5: the download streamed through the normalizer into a create-only upload.

use o365_activity::client::ActivityClient;
use o365_activity::keys::{DataKey, ObjectKey};
use o365_activity::manifest::HashingUpload;
use o365_activity::message::QueueMessage;
use o365_activity::normalize::{BlobNormalizer, InputFormat, NormalizeStats, Provenance};
use o365_activity::store::{ObjectMeta, ObjectStore, PutOutcome, StoreError};
use tokio::time::Instant;

use crate::failure::{out_of_time, Failure};
use crate::outcome::{ErrorKind, MessageOutcome};
use crate::{Fetcher, ABORT_TIMEOUT, NDJSON_CONTENT_TYPE};

impl<S: ObjectStore> Fetcher<S> {
    /// Streams the blob through the normalizer into a create-only upload.
    pub(crate) async fn download_and_store(
        &self,
        client: &ActivityClient,
        msg: &QueueMessage,
        data: &DataKey,
        deadline: Instant,
        wait: std::time::Duration,
    ) -> Result<MessageOutcome, Failure> {
        let key = &self.keys.key(&ObjectKey::Data(data.clone()));
        // Held until the blob is stored or given up: what this download may hold at once.
        let _reservation = tokio::time::timeout_at(deadline, self.memory.reserve())
            .await
            .map_err(|_| out_of_time())?
            .map_err(|e| Failure::retry(ErrorKind::Internal, e))?;
        let mut body = tokio::time::timeout_at(
            deadline,
            client.download_waiting(&msg.content_uri, deadline, wait),
        )
        .await
        .map_err(|_| out_of_time())?
        .map_err(|e| Failure::from_client(&e))?;
        let provenance = Provenance::for_message(msg, self.clock.now());
        let mut normalizer = BlobNormalizer::new(
            &provenance,
            self.compression,
            InputFormat::JsonArray,
            self.limits,
        )
        .map_err(|e| Failure::from_normalize(&e))?
        .salvage();
        let meta = ObjectMeta {
            content_type: NDJSON_CONTENT_TYPE.to_owned(),
            content_encoding: Some(self.compression.content_encoding().to_owned()),
        };
        let mut upload = tokio::time::timeout_at(deadline, self.store.begin_upload(key, &meta))
            .await
            .map_err(|_| out_of_time())?
            .map(HashingUpload::new)
            .map_err(|e| Failure::from_store(&e))?;
        let streamed = tokio::time::timeout_at(deadline, async {
            while let Some(chunk) = body.chunk().await.map_err(|e| Failure::from_client(&e))? {
                normalizer
                    .push(&chunk)
                    .map_err(|e| Failure::from_normalize(&e))?;
                let out = normalizer.take_output();
                if !out.is_empty() {
                    upload
                        .write(out)
                        .await
                        .map_err(|e| Failure::from_store(&e))?;
                }
            }
            let (rest, stats) = normalizer
                .finish()
                .map_err(|e| Failure::from_normalize(&e))?;
            upload
                .write(rest)
                .await
                .map_err(|e| Failure::from_store(&e))?;
            Ok::<NormalizeStats, Failure>(stats)
        })
        .await
        .unwrap_or_else(|_| Err(out_of_time()));
        let stats = match streamed {
            Ok(stats) if stats.records_rejected > 0 && stats.records == 0 => {
                abandon(upload.abort(), key).await;
                let kept = self.quarantine(client, msg, data, deadline).await?;
                self.quarantine_metrics(msg, stats.records_rejected);
                return Err(Failure::permanent(
                    ErrorKind::MalformedBlob,
                    format!(
                        "every record of the blob was rejected ({} records; the first: {}); the raw blob is kept at {kept}",
                        stats.records_rejected,
                        stats.first_rejection.as_deref().unwrap_or("unknown")
                    ),
                ));
            }
            Ok(stats) if stats.records_rejected > 0 => {
                // The raw body is kept before the good records are committed, so a failure
                // here hands the message back with nothing half done.
                let kept = match self.quarantine(client, msg, data, deadline).await {
                    Ok(kept) => kept,
                    Err(f) => {
                        abandon(upload.abort(), key).await;
                        return Err(f);
                    }
                };
                self.quarantine_metrics(msg, stats.records_rejected);
                tracing::warn!(
                    key,
                    quarantine = kept,
                    rejected = stats.records_rejected,
                    first = stats.first_rejection.as_deref().unwrap_or("unknown"),
                    "records rejected by normalization; the good ones are stored, the raw blob is kept"
                );
                stats
            }
            Ok(stats) => stats,
            Err(f) if f.permanent && f.kind == ErrorKind::MalformedBlob => {
                abandon(upload.abort(), key).await;
                let kept = self.quarantine(client, msg, data, deadline).await?;
                self.quarantine_metrics(msg, 0);
                return Err(Failure::permanent(
                    ErrorKind::MalformedBlob,
                    format!("{}; the raw blob is kept at {kept}", f.error),
                ));
            }
            Err(f) => {
                abandon(upload.abort(), key).await;
                return Err(f);
            }
        };
        let finished = tokio::time::timeout_at(deadline, upload.finish())
            .await
            .map_err(|_| out_of_time())?;
        let (outcome, digest) = finished.map_err(|e| Failure::from_store(&e))?;
        match outcome {
            PutOutcome::Written { .. } => {
                self.record_in_manifest(msg, key, stats.records, digest)
                    .await;
                let latency = self.stored_metrics(msg, &stats);
                tracing::info!(
                    key,
                    records = stats.records,
                    bytes_in = stats.bytes_in,
                    bytes_out = stats.bytes_out,
                    "blob stored"
                );
                Ok(MessageOutcome::Stored {
                    key: key.to_owned(),
                    records: stats.records,
                    bytes_in: stats.bytes_in,
                    bytes_out: stats.bytes_out,
                    latency,
                })
            }
            PutOutcome::PreconditionFailed => {
                tracing::info!(key, "another delivery stored this blob first");
                self.blob_metrics(msg)
                    .count("DuplicatesSkipped", 1)
                    .emit(&self.metrics);
                Ok(MessageOutcome::Duplicate {
                    key: key.to_owned(),
                    raced: true,
                })
            }
        }
    }
}

/// Abandons an upload after a failure; runs in the safety margin kept before the deadline.
pub(crate) async fn abandon(
    abort: impl std::future::Future<Output = Result<(), StoreError>>,
    key: &str,
) {
    match tokio::time::timeout(ABORT_TIMEOUT, abort).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(key, error = %e, "could not abort the upload; the bucket's lifecycle rule removes incomplete uploads")
        }
        Err(_) => tracing::warn!(
            key,
            "aborting the upload timed out; the bucket's lifecycle rule removes incomplete uploads"
        ),
    }
}
