//! The create-only manifest entry of each stored blob (`_manifest/`, see
//! `o365_activity::manifest`), written right after the object.

use o365_activity::manifest::{ManifestEntry, ObjectDigest, MANIFEST_FORMAT_VERSION};
use o365_activity::message::QueueMessage;
use o365_activity::store::{ObjectStore, PutOutcome};

use crate::Fetcher;

impl<S: ObjectStore> Fetcher<S> {
    /// Writes the blob's create-only manifest entry. The object is stored whatever happens
    /// here: a failure is logged and counted (`ManifestWriteFailures`), and `o365ctl verify`
    /// then reports the object as extra.
    pub(crate) async fn record_in_manifest(
        &self,
        msg: &QueueMessage,
        key: &str,
        records: u64,
        digest: ObjectDigest,
    ) {
        let entry = ManifestEntry {
            format_version: MANIFEST_FORMAT_VERSION,
            tenant_id: msg.tenant_id.clone(),
            content_type: msg.content_type,
            content_id: msg.content_id.clone(),
            key: key.to_owned(),
            records,
            sha256: digest.sha256,
            size: digest.size,
            written_at: self.clock.now(),
        };
        match entry.store(&self.store, &self.keys).await {
            Ok(Some(PutOutcome::Written { .. })) => return,
            Ok(Some(PutOutcome::PreconditionFailed)) => {
                tracing::error!(key, "a manifest entry already exists for this new object")
            }
            Ok(None) => tracing::error!(key, "the object key has no manifest key"),
            Err(e) => tracing::error!(key, error = %e, "could not write the manifest entry"),
        }
        self.blob_metrics(msg)
            .count("ManifestWriteFailures", 1)
            .emit(&self.metrics);
    }
}
