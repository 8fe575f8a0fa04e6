//! An SQS queue: batched sends with retries for the lister and replay, and the operator's
//! calls (receive, delete, visibility, depth, moving messages out of a dead-letter queue).

use std::time::Duration;

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use tokio::time::Instant;

use super::batch::{send_with_retry, BatchSink, EntryFailure, RetryPolicy, MAX_BATCH};
use super::{BatchQueue, QueueError};
use crate::aws::SdkFailure;
use crate::message::QueueMessage;

/// Visibility timeout `move_messages` takes on the messages it is moving.
const MOVE_VISIBILITY: Duration = Duration::from_secs(60);

/// An SQS queue by URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    policy: RetryPolicy,
}

/// A message taken from the queue (invisible to others until its visibility timeout ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// SQS's id for the message.
    pub message_id: String,
    /// The handle to delete it or change its visibility with.
    pub receipt_handle: String,
    /// The body as sent.
    pub body: String,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
}

/// What `move_messages` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoveReport {
    /// Messages now in the target queue and deleted from the source.
    pub moved: usize,
    /// Messages the target did not accept: left in the source (visible again).
    pub failed: usize,
    /// Messages sent to the target whose deletion from the source failed: they will be moved
    /// (and so delivered) again; the fetcher treats the repeat as a no-op.
    pub not_deleted: usize,
    /// The last error seen, if any.
    pub last_error: Option<String>,
}

impl SqsQueue {
    /// A queue by URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`).
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            url: queue_url.into(),
            policy: RetryPolicy::default(),
        }
    }

    /// The same queue with another re-send backoff.
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> SqsQueue {
        self.policy = policy;
        self
    }

    /// The queue URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn call_err(&self, op: &'static str, message: String) -> QueueError {
        QueueError::Call {
            op,
            queue: self.url.clone(),
            message,
        }
    }

    /// Receives up to `max` messages (1..=10), long-polling up to `wait` (at most 20 s), and
    /// hides them for `visibility` (default: the queue's setting).
    pub async fn receive(
        &self,
        max: i32,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let wait_s = i32::try_from(wait.as_secs().min(20)).unwrap_or(20);
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait_s)
            .set_visibility_timeout(visibility.map(secs_i32))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| self.call_err("ReceiveMessage", SdkFailure::from_sdk(&e).message))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let receive_count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                Some(ReceivedMessage {
                    message_id: m.message_id?,
                    receipt_handle: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                    receive_count,
                })
            })
            .collect())
    }

    /// Deletes received messages; returns how many were deleted. Handles SQS did not delete
    /// (e.g. expired receipt handles) make it an error after the rest were deleted.
    pub async fn delete(&self, receipt_handles: &[String]) -> Result<usize, QueueError> {
        let mut deleted = 0;
        let mut failures = Vec::new();
        for chunk in receipt_handles.chunks(MAX_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(h)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.call_err("DeleteMessageBatch", e.to_string()))?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    self.call_err("DeleteMessageBatch", SdkFailure::from_sdk(&e).message)
                })?;
            deleted += out.successful.len();
            failures.extend(
                out.failed
                    .into_iter()
                    .map(|f| format!("{}: {}", f.code, f.message.unwrap_or_default())),
            );
        }
        if failures.is_empty() {
            Ok(deleted)
        } else {
            Err(self.call_err(
                "DeleteMessageBatch",
                format!(
                    "{} of {} deletes failed (deleted {deleted}): {}",
                    failures.len(),
                    receipt_handles.len(),
                    failures.join("; ")
                ),
            ))
        }
    }

    /// Changes how long a received message stays hidden (`0` makes it visible at once).
    pub async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(secs_i32(timeout))
            .send()
            .await
            .map_err(|e| {
                self.call_err("ChangeMessageVisibility", SdkFailure::from_sdk(&e).message)
            })?;
        Ok(())
    }

    /// Sends raw bodies, each hidden for its delay (SQS `DelaySeconds`, at most 15 minutes),
    /// in `SendMessageBatch` calls of ten, re-sending failed entries until `deadline`; says
    /// of each whether the queue accepted it. A message handed back this way is a new
    /// message, so its receives start again at one.
    pub async fn send_delayed(&self, items: &[(String, Duration)], deadline: Instant) -> Vec<bool> {
        send_with_retry(&DelayedBodies(self), items, deadline, self.policy)
            .await
            .accepted
    }

    /// Approximate `(visible, in_flight)` message counts.
    pub async fn approximate_depth(&self) -> Result<(u64, u64), QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| self.call_err("GetQueueAttributes", SdkFailure::from_sdk(&e).message))?;
        let get = |name: QueueAttributeName| {
            out.attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok((
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// Moves up to `max` messages from this queue (a dead-letter queue) to `to`, without
    /// `StartMessageMoveTask`: receive, send to `to`, and delete from here only what `to`
    /// accepted. A message is never lost; one whose delete fails may be moved twice.
    /// Stops when this queue looks empty, `max` is reached or `deadline` passes.
    pub async fn move_messages(
        &self,
        to: &SqsQueue,
        max: usize,
        deadline: Instant,
    ) -> Result<MoveReport, QueueError> {
        let mut report = MoveReport::default();
        while report.moved + report.failed < max && Instant::now() < deadline {
            let want =
                i32::try_from((max - report.moved - report.failed).min(MAX_BATCH)).unwrap_or(10);
            let received = match self
                .receive(want, Duration::from_secs(1), Some(MOVE_VISIBILITY))
                .await
            {
                Ok(r) => r,
                // Nothing done yet: a plain failure. Otherwise report what was moved.
                Err(e) if report == MoveReport::default() => return Err(e),
                Err(e) => {
                    report.last_error = Some(e.to_string());
                    break;
                }
            };
            if received.is_empty() {
                break;
            }
            let bodies: Vec<String> = received.iter().map(|m| m.body.clone()).collect();
            let sink = RawBodies(to);
            let send_deadline = deadline.min(Instant::now() + MOVE_VISIBILITY / 2);
            let out = send_with_retry(&sink, &bodies, send_deadline, to.policy).await;
            let (sent, unsent): (Vec<_>, Vec<_>) =
                received.iter().zip(&out.accepted).partition(|(_, ok)| **ok);
            if let Some(e) = &out.last_error {
                report.last_error = Some(e.clone());
            }
            let handles: Vec<String> = sent.iter().map(|(m, _)| m.receipt_handle.clone()).collect();
            match self.delete(&handles).await {
                Ok(n) => {
                    report.moved += n;
                    report.not_deleted += handles.len() - n;
                }
                Err(e) => {
                    // Already in the target: count as moved, and say it may come twice.
                    tracing::warn!(error = %e, "move: sent messages could not all be deleted from the source");
                    report.moved += handles.len();
                    report.not_deleted += handles.len();
                    report.last_error = Some(e.to_string());
                }
            }
            for (m, _) in &unsent {
                // Give it back at once; if this fails it reappears after MOVE_VISIBILITY.
                let _ = self
                    .change_visibility(&m.receipt_handle, Duration::ZERO)
                    .await;
            }
            report.failed += unsent.len();
            if !unsent.is_empty() && sent.is_empty() {
                break; // the target accepts nothing: stop instead of spinning
            }
        }
        Ok(report)
    }
}

fn secs_i32(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

impl SqsQueue {
    /// Sends one `SendMessageBatch` of ready-made bodies.
    async fn send_bodies(
        &self,
        batch: &[(String, String, Option<Duration>)],
    ) -> Result<Vec<(String, EntryFailure)>, EntryFailure> {
        let entries = batch
            .iter()
            .map(|(id, body, delay)| {
                SendMessageBatchRequestEntry::builder()
                    .id(id)
                    .message_body(body)
                    .set_delay_seconds(delay.map(|d| secs_i32(d.min(Duration::from_secs(900)))))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EntryFailure::Permanent(e.to_string()))?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                let f = SdkFailure::from_sdk(&e);
                let msg = format!("SendMessageBatch to {}: {}", self.url, f.message);
                if f.retryable {
                    EntryFailure::Retryable(msg)
                } else {
                    EntryFailure::Permanent(msg)
                }
            })?;
        // An entry SQS reports neither way is not known to be queued: send it again.
        let unreported = batch
            .iter()
            .filter(|(id, _, _)| {
                !out.successful.iter().any(|s| s.id == *id)
                    && !out.failed.iter().any(|f| f.id == *id)
            })
            .map(|(id, _, _)| {
                (
                    id.clone(),
                    EntryFailure::Retryable(
                        "SendMessageBatch returned no result for the entry".into(),
                    ),
                )
            })
            .collect::<Vec<_>>();
        Ok(out
            .failed
            .into_iter()
            .map(|f| {
                let msg = format!(
                    "SendMessageBatch entry failed: {} {}",
                    f.code,
                    f.message.unwrap_or_default()
                );
                let failure = if f.sender_fault {
                    EntryFailure::Permanent(msg)
                } else {
                    EntryFailure::Retryable(msg)
                };
                (f.id, failure)
            })
            .chain(unreported)
            .collect())
    }
}

impl BatchSink<QueueMessage> for SqsQueue {
    async fn send_batch(
        &self,
        batch: &[(String, &QueueMessage)],
    ) -> Result<Vec<(String, EntryFailure)>, EntryFailure> {
        let bodies: Vec<(String, String, Option<Duration>)> = batch
            .iter()
            .map(|(id, m)| (id.clone(), m.to_json(), None))
            .collect();
        self.send_bodies(&bodies).await
    }
}

/// Sends raw bodies (moved messages are forwarded as they are, even ones that do not parse).
struct RawBodies<'a>(&'a SqsQueue);

impl BatchSink<String> for RawBodies<'_> {
    async fn send_batch(
        &self,
        batch: &[(String, &String)],
    ) -> Result<Vec<(String, EntryFailure)>, EntryFailure> {
        let bodies: Vec<(String, String, Option<Duration>)> = batch
            .iter()
            .map(|(id, b)| (id.clone(), (*b).clone(), None))
            .collect();
        self.0.send_bodies(&bodies).await
    }
}

/// Sends raw bodies each with its delay (throttled messages handed back).
struct DelayedBodies<'a>(&'a SqsQueue);

impl BatchSink<(String, Duration)> for DelayedBodies<'_> {
    async fn send_batch(
        &self,
        batch: &[(String, &(String, Duration))],
    ) -> Result<Vec<(String, EntryFailure)>, EntryFailure> {
        let bodies: Vec<(String, String, Option<Duration>)> = batch
            .iter()
            .map(|(id, (b, delay))| (id.clone(), b.clone(), Some(*delay)))
            .collect();
        self.0.send_bodies(&bodies).await
    }
}

impl BatchQueue for SqsQueue {
    fn retry_policy(&self) -> RetryPolicy {
        self.policy
    }
}
