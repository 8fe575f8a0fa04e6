//! Gap reports: a window that fell out of the API's 7-day reach is written down (once),
//! logged and counted, and the watermark moves past it. Loss is never silent.

use chrono::{DateTime, Utc};
use o365_activity::checkpoint::{CheckpointError, GapReport, HeldCheckpoint};
use o365_activity::metrics::MetricSet;
use o365_activity::queue::Queue;
use o365_activity::store::ObjectStore;
use tracing::warn;

use crate::error::PairError;
use crate::plan::Window;
use crate::run::{Lister, Stop};

impl<S: ObjectStore, Q: Queue> Lister<S, Q> {
    /// Writes the gap report (once) and moves the watermark to the end of the lost window.
    pub(crate) async fn report_gap(
        &self,
        held: &mut HeldCheckpoint,
        lost: Window,
        now: DateTime<Utc>,
    ) -> Result<GapReport, Stop> {
        let cp = held.checkpoint();
        let never_completed = cp.watermark.is_none();
        let mut gap = GapReport::new(
            cp.tenant_id.clone(),
            cp.content_type,
            lost.start,
            lost.end,
            now,
            held.run_id(),
        );
        if never_completed {
            gap.reason = "collection of this pair was first attempted at lost_from but no window completed (e.g. a missing permission) until that was older than the API's 7-day listing reach; blobs of this window can no longer be listed through the Management Activity API (use the portal audit search / Search-UnifiedAuditLog)".to_owned();
        }
        let failed =
            |e: CheckpointError| Stop::Failed(PairError::checkpoint("recording a gap report", &e));
        let created = self.checkpoints.write_gap(&gap).await.map_err(failed)?;
        warn!(
            tenant_id = %gap.tenant_id,
            content_type = %gap.content_type,
            lost_from = %gap.lost_from,
            lost_to = %gap.lost_to,
            lost_hours = gap.duration().num_minutes() as f64 / 60.0,
            new_report = created,
            "GAP: the checkpoint is older than the API's 7-day reach; this window can no longer be collected"
        );
        let mut m = MetricSet::new()
            .dimension("TenantId", gap.tenant_id.to_string())
            .dimension("ContentType", gap.content_type.as_str());
        m.count("GapsReported", 1)
            .seconds("GapSeconds", gap.duration().num_seconds() as f64);
        m.emit(&self.metrics);
        // Also without dimensions, for the dashboard's and the alarm's plain total.
        let mut total = MetricSet::new();
        total.count("GapsReported", 1);
        total.emit(&self.metrics);
        self.checkpoints
            .commit(held, Some(lost.end), &[], now)
            .await
            .map_err(failed)?;
        Ok(gap)
    }
}
