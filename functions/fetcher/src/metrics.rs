//! The per-blob metrics (`BlobsStored`, `Records`, latencies) and their dimensions.

use chrono::{DateTime, Utc};
use o365_activity::message::QueueMessage;
use o365_activity::metrics::MetricSet;
use o365_activity::normalize::NormalizeStats;
use o365_activity::store::ObjectStore;

use crate::Fetcher;

impl<S: ObjectStore> Fetcher<S> {
    pub(crate) fn blob_metrics(&self, msg: &QueueMessage) -> MetricSet {
        MetricSet::new()
            .dimension("TenantId", msg.tenant_id.as_str())
            .dimension("ContentType", msg.content_type.as_str())
    }

    pub(crate) fn stored_metrics(&self, msg: &QueueMessage, stats: &NormalizeStats) {
        let stored = self.clock.now();
        let secs = |from: DateTime<Utc>| (stored - from).num_milliseconds() as f64 / 1000.0;
        let mut m = self.blob_metrics(msg);
        m.count("BlobsStored", 1)
            .count("Records", stats.records)
            .bytes("BytesIn", stats.bytes_in)
            .bytes("BytesOut", stats.bytes_out)
            .seconds("ContentCreatedToStoredSeconds", secs(msg.content_created));
        if let Some(oldest) = stats.earliest_event() {
            m.seconds("CreationToStoredMaxSeconds", secs(oldest));
        }
        if let Some(mean) = stats.mean_event() {
            m.seconds("CreationToStoredMeanSeconds", secs(mean));
        }
        m.emit(&self.metrics);
    }
}
