//! The per-blob metrics (`BlobsStored`, `Records`, latencies) and their dimensions.

use chrono::{DateTime, Utc};
use o365_activity::latency::{seconds_between, LatencyHistogram, RecordLatency};
use o365_activity::message::QueueMessage;
use o365_activity::metrics::{emit_record_latency, MetricSet};
use o365_activity::normalize::NormalizeStats;
use o365_activity::store::ObjectStore;

use crate::Fetcher;

impl<S: ObjectStore> Fetcher<S> {
    pub(crate) fn blob_metrics(&self, msg: &QueueMessage) -> MetricSet {
        MetricSet::new()
            .dimension("TenantId", msg.tenant_id.as_str())
            .dimension("ContentType", msg.content_type.as_str())
    }

    /// Emits the stored blob's metrics, per-record latency included, and returns that latency.
    pub(crate) fn stored_metrics(
        &self,
        msg: &QueueMessage,
        stats: &NormalizeStats,
    ) -> RecordLatency {
        let stored = self.clock.now();
        let secs = |from: DateTime<Utc>| (stored - from).num_milliseconds() as f64 / 1000.0;
        let mut m = self.blob_metrics(msg);
        m.count("BlobsStored", 1)
            .count("Records", stats.records)
            .bytes("BytesIn", stats.bytes_in)
            .bytes("BytesOut", stats.bytes_out)
            .seconds("ContentCreatedToStoredSeconds", secs(msg.content_created));
        m.emit(&self.metrics);
        let latency = RecordLatency {
            event_to_available: stats.event_to_available.clone(),
            available_to_stored: LatencyHistogram::constant(
                seconds_between(msg.content_created, stored),
                stats.records,
            ),
        };
        emit_record_latency(
            &self.metrics,
            msg.tenant_id.as_str(),
            msg.content_type.as_str(),
            &latency,
        );
        latency
    }
}
