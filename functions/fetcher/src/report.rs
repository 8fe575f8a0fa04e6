//! Concluding a failure: counted always; a permanent one gets its error report under `_errors/`.

use o365_activity::error_report::{ErrorReport, ReportedMessage};
use o365_activity::message::QueueMessage;
use o365_activity::metrics::MetricSet;
use o365_activity::store::{ObjectStore, PutCondition};

use crate::claim::json_meta;
use crate::failure::Failure;
use crate::outcome::{ErrorKind, InboundMessage, MessageOutcome};
use crate::Fetcher;

impl<S: ObjectStore> Fetcher<S> {
    /// Counts a failure; writes the error report of a permanent one. A report that cannot be
    /// written turns the failure into a retry, so nothing ends silently.
    pub(crate) async fn conclude(
        &self,
        m: &InboundMessage,
        msg: Option<&QueueMessage>,
        f: Failure,
    ) -> MessageOutcome {
        let mut metrics = match msg {
            Some(msg) => self.blob_metrics(msg),
            None => MetricSet::new(),
        }
        .dimension("Kind", f.kind.as_str());
        metrics.count("Errors", 1);
        metrics.emit(&self.metrics);
        if !f.permanent {
            tracing::warn!(message_id = %m.message_id, kind = f.kind.as_str(), error = %f.error, "message handed back to the queue");
            return MessageOutcome::Retry {
                kind: f.kind,
                error: f.error,
            };
        }
        tracing::error!(message_id = %m.message_id, kind = f.kind.as_str(), error = %f.error, "message failed permanently; writing an error report");
        let now = self.clock.now();
        let (report_key, message) = match msg {
            Some(msg) => (
                self.keys.error_key(msg),
                ReportedMessage::Parsed(msg.clone()),
            ),
            None => (
                self.keys.rejected_message_key(now, &m.message_id),
                ReportedMessage::raw(&m.body),
            ),
        };
        let report = ErrorReport {
            kind: f.kind.as_str().to_owned(),
            error: f.error.clone(),
            at: now,
            message_id: m.message_id.clone(),
            attempts: m.receive_count,
            message,
            collector_version: o365_activity::COLLECTOR_VERSION.to_owned(),
        };
        match self
            .store
            .put(
                &report_key,
                report.to_json().into_bytes().into(),
                &json_meta(),
                // Create-only, as the bucket policy demands under `_errors/`: the first report
                // of a blob stays; a later one for the same blob (412) adds nothing.
                PutCondition::IfNoneMatch,
            )
            .await
        {
            Ok(_) => {
                self.permanent_failure_metrics(f.kind);
                MessageOutcome::Rejected {
                    kind: f.kind,
                    report_key,
                }
            }
            Err(e) => {
                tracing::error!(report_key, error = %e, "could not write the error report; handing the message back");
                MessageOutcome::Retry {
                    kind: ErrorKind::Storage,
                    error: format!(
                        "{} (and the error report could not be written: {e})",
                        f.error
                    ),
                }
            }
        }
    }

    /// `PermanentFailures` by `Kind` and as a plain total: what the alarms watch. Emitted once
    /// per message that ended with an error report (nothing retries it).
    fn permanent_failure_metrics(&self, kind: ErrorKind) {
        MetricSet::new()
            .dimension("Kind", kind.as_str())
            .count("PermanentFailures", 1)
            .emit(&self.metrics);
        MetricSet::new()
            .count("PermanentFailures", 1)
            .emit(&self.metrics);
    }
}
