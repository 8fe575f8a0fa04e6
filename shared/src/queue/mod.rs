//! The queue seam: SQS in AWS and in tests (moto), an in-process queue for local runs.

use std::future::Future;

use tokio::time::Instant;

use crate::message::QueueMessage;

pub mod batch;
pub mod memory;
pub mod mix;
pub mod sqs;

pub use batch::RetryPolicy;
pub use memory::MemoryQueue;
pub use mix::MixingQueue;
pub use sqs::{MoveReport, ReceivedMessage, SqsQueue};

/// What a successful `send_all` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReport {
    /// Messages accepted by the queue.
    pub sent: usize,
    /// Entries that failed at first and were re-sent.
    pub retried_entries: usize,
}

/// A send that did not get every message accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueueError {
    /// Some messages were not accepted before the deadline or failed permanently.
    #[error("{failed} of {total} messages were not accepted by the queue: {reason}")]
    Incomplete {
        /// Content ids of the messages that WERE accepted (they need no re-send).
        accepted: Vec<String>,
        /// How many failed.
        failed: usize,
        /// How many were attempted.
        total: usize,
        /// The last error seen.
        reason: String,
    },
    /// A receive/delete/move call failed.
    #[error("queue {op} on {queue} failed: {message}")]
    Call {
        /// Which call.
        op: &'static str,
        /// The queue URL or name.
        queue: String,
        /// The service's message.
        message: String,
    },
}

/// A queue the lister and replay send content-blob messages to.
pub trait Queue: Clone + Send + Sync + 'static {
    /// Sends every message (in batches of up to 10), re-sending failed entries with backoff
    /// until `deadline`. `Ok` only when all were accepted.
    fn send_all(
        &self,
        messages: &[QueueMessage],
        deadline: Instant,
    ) -> impl Future<Output = Result<SendReport, QueueError>> + Send;
}

/// A queue that sends batches of messages itself ([`batch::BatchSink`]) under a retry
/// policy: its [`Queue::send_all`] is the one retry loop, [`batch::send_with_retry`].
pub trait BatchQueue: batch::BatchSink<QueueMessage> + Clone + Send + Sync + 'static {
    /// How failed entries are re-sent.
    fn retry_policy(&self) -> RetryPolicy;
}

impl<T: BatchQueue> Queue for T {
    async fn send_all(
        &self,
        messages: &[QueueMessage],
        deadline: Instant,
    ) -> Result<SendReport, QueueError> {
        let out = batch::send_with_retry(self, messages, deadline, self.retry_policy()).await;
        report(messages, out)
    }
}

/// Turns the retry loop's outcome into `send_all`'s result.
fn report(messages: &[QueueMessage], out: batch::RetryOutcome) -> Result<SendReport, QueueError> {
    let sent = out.sent();
    if sent == messages.len() {
        return Ok(SendReport {
            sent,
            retried_entries: out.retried_entries,
        });
    }
    let accepted = messages
        .iter()
        .zip(&out.accepted)
        .filter(|(_, ok)| **ok)
        .map(|(m, _)| m.content_id.clone())
        .collect();
    Err(QueueError::Incomplete {
        accepted,
        failed: messages.len() - sent,
        total: messages.len(),
        reason: out
            .last_error
            .unwrap_or_else(|| "the deadline passed".into()),
    })
}
