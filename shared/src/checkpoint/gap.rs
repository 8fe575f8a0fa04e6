//! Gap reports: windows that could no longer be listed because a checkpoint fell behind the
//! API's 7-day reach, written create-only so a repeated run cannot duplicate one.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{CheckpointError, CheckpointStore, CHECKPOINT_FORMAT_VERSION};
use crate::content_type::ContentType;
use crate::store::{ObjectStore, PutCondition, PutOutcome};
use crate::tenant_id::TenantId;

/// A window that could no longer be listed: the checkpoint was older than the API's reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapReport {
    /// Format version ([`CHECKPOINT_FORMAT_VERSION`]).
    pub format_version: u32,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The content type.
    pub content_type: ContentType,
    /// Start of the lost window (the old watermark, or when a pair that never completed a
    /// window was first attempted), inclusive.
    pub lost_from: DateTime<Utc>,
    /// End of the lost window (the earliest instant still listed), exclusive.
    pub lost_to: DateTime<Utc>,
    /// When the loss was detected.
    pub detected_at: DateTime<Utc>,
    /// The run that detected it.
    pub run_id: String,
    /// Why the window was lost, for people reading the report.
    pub reason: String,
}

impl GapReport {
    /// A report of `[lost_from, lost_to)` that the API can no longer list.
    pub fn new(
        tenant_id: TenantId,
        content_type: ContentType,
        lost_from: DateTime<Utc>,
        lost_to: DateTime<Utc>,
        detected_at: DateTime<Utc>,
        run_id: &str,
    ) -> GapReport {
        GapReport {
            format_version: CHECKPOINT_FORMAT_VERSION,
            tenant_id,
            content_type,
            lost_from,
            lost_to,
            detected_at,
            run_id: run_id.to_owned(),
            reason: "the checkpoint was older than the API's 7-day listing reach; blobs of this window can no longer be listed through the Management Activity API (use the portal audit search / Search-UnifiedAuditLog)".to_owned(),
        }
    }

    /// Length of the lost window.
    pub fn duration(&self) -> TimeDelta {
        self.lost_to - self.lost_from
    }
}

impl<S: ObjectStore> CheckpointStore<S> {
    /// Writes a gap report create-only; `false` when the same window was already reported.
    pub async fn write_gap(&self, gap: &GapReport) -> Result<bool, CheckpointError> {
        let key = self
            .layout
            .gap_key(&gap.tenant_id, gap.content_type, gap.lost_from, gap.lost_to);
        let outcome = self.put_json(&key, gap, PutCondition::IfNoneMatch).await?;
        Ok(matches!(outcome, PutOutcome::Written { .. }))
    }

    /// Every stored gap report (for `o365ctl status` and tests), in key order.
    pub async fn list_gaps(&self) -> Result<Vec<GapReport>, CheckpointError> {
        let mut out = Vec::new();
        for key in self.store.list(&self.layout.gaps_prefix()).await? {
            if let Some(obj) = self.store.get(&key).await? {
                let gap: GapReport =
                    serde_json::from_slice(&obj.body).map_err(|e| CheckpointError::Malformed {
                        key: key.clone(),
                        message: e.to_string(),
                    })?;
                out.push(gap);
            }
        }
        Ok(out)
    }
}
