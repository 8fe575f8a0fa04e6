//! What a run did, per tenant × content type: printed by `o365ctl run`, logged by the Lambda.

use std::time::Duration;

use chrono::{DateTime, Utc};
use o365_activity::checkpoint::GapReport;
use o365_activity::{ContentType, TenantId};
use serde::{Serialize, Serializer};

use crate::error::PairError;

/// How one tenant × content type fared in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "error", rename_all = "snake_case")]
pub enum PairOutcome {
    /// Worked on it; see `complete` for whether it caught up.
    Ok,
    /// Another run holds its lease; left alone this time.
    Busy,
    /// Could not be collected this run; the error says why and what to do.
    Failed(PairError),
}

/// The figures of one tenant × content type in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairSummary {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The content type.
    pub content_type: ContentType,
    /// How it went.
    pub outcome: PairOutcome,
    /// Whether listing reached the time of the run (false when stopped by the deadline).
    pub complete: bool,
    /// Windows listed and committed.
    pub windows: u64,
    /// Entries the API listed (repeats included).
    pub blobs_listed: u64,
    /// Messages accepted by the queue.
    pub messages_sent: u64,
    /// Listed entries not sent: already sent (overlap) or listed twice.
    pub duplicates_skipped: u64,
    /// Windows found lost (checkpoint older than the API's reach).
    pub gaps: Vec<GapReport>,
    /// How far the checkpoint trails the end of the run.
    #[serde(rename = "lag_seconds", serialize_with = "seconds")]
    pub lag: Option<Duration>,
    /// The checkpoint's watermark after the run.
    pub watermark: Option<DateTime<Utc>>,
    /// Listing entries that could not be read, each counted once, when its error report is
    /// first written.
    pub entries_rejected: u64,
    /// No progress for the stall threshold of runs, or no watermark long after the first
    /// attempt: never reported as ok.
    pub stalled: bool,
    /// How far the watermark was ahead of the clock, when beyond the tolerance.
    pub watermark_ahead_seconds: Option<i64>,
}

fn seconds<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_u64(d.as_secs()),
        None => s.serialize_none(),
    }
}

impl PairSummary {
    /// A summary with no work done yet.
    pub fn new(tenant_id: TenantId, content_type: ContentType) -> PairSummary {
        PairSummary {
            tenant_id,
            content_type,
            outcome: PairOutcome::Ok,
            complete: false,
            windows: 0,
            blobs_listed: 0,
            messages_sent: 0,
            duplicates_skipped: 0,
            gaps: Vec::new(),
            lag: None,
            watermark: None,
            entries_rejected: 0,
            stalled: false,
            watermark_ahead_seconds: None,
        }
    }
}

/// Everything one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// The run's id (also the lease holder in checkpoints).
    pub run_id: String,
    /// One entry per tenant × content type, in configuration order.
    pub pairs: Vec<PairSummary>,
}

impl RunSummary {
    /// Pairs that failed.
    pub fn failed(&self) -> impl Iterator<Item = &PairSummary> {
        self.pairs
            .iter()
            .filter(|p| matches!(p.outcome, PairOutcome::Failed(_)))
    }

    /// Messages sent over all pairs.
    pub fn messages_sent(&self) -> u64 {
        self.pairs.iter().map(|p| p.messages_sent).sum()
    }

    /// Whether every pair that was worked on caught up (none failed, none stopped early,
    /// none stalled).
    pub fn all_complete(&self) -> bool {
        self.pairs
            .iter()
            .all(|p| p.outcome == PairOutcome::Ok && p.complete && !p.stalled)
    }

    /// Pairs reported stalled.
    pub fn stalled(&self) -> impl Iterator<Item = &PairSummary> {
        self.pairs.iter().filter(|p| p.stalled)
    }

    /// The summary, once its one log line is written.
    pub(crate) fn logged(self) -> RunSummary {
        let (messages_sent, failed) = (self.messages_sent(), self.failed().count());
        let (run_id, pairs) = (&self.run_id, self.pairs.len());
        tracing::info!(%run_id, pairs, messages_sent, failed, "lister run finished");
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_for_the_cli() {
        let mut p = PairSummary::new(
            "00000000-0000-0000-0000-000000000001".parse().unwrap(),
            ContentType::DlpAll,
        );
        p.outcome = PairOutcome::Failed(PairError::new(
            crate::error::PairErrorKind::Permission,
            "AF10001",
        ));
        p.lag = Some(Duration::from_secs(90));
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["outcome"]["status"], "failed");
        assert_eq!(v["outcome"]["error"], "AF10001");
        assert_eq!(v["lag_seconds"], 90);
        assert_eq!(v["content_type"], "DLP.All");
        let s = RunSummary {
            run_id: "r".into(),
            pairs: vec![p],
        };
        assert_eq!(s.failed().count(), 1);
        assert!(!s.all_complete());
        let ok = serde_json::to_value(PairOutcome::Busy).unwrap();
        assert_eq!(ok["status"], "busy");
    }
}
