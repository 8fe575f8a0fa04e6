//! An in-process queue for local runs and tests. It goes through the same batching and retry
//! loop as SQS, and can be told to fail sends so callers' retry handling can be tested
//! without AWS.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::Rng;

use super::batch::{BatchSink, EntryFailure, RetryPolicy};
use super::BatchQueue;
use crate::message::QueueMessage;

/// Injected send failures (test knob).
#[derive(Debug, Default)]
struct Faults {
    /// Probability that any entry's send attempt fails (retryably).
    rate: f64,
    /// Per content id: how many more attempts fail retryably (`None` = fail permanently).
    by_content_id: HashMap<String, Option<u32>>,
}

#[derive(Debug, Default)]
struct Inner {
    messages: VecDeque<QueueMessage>,
    faults: Faults,
}

/// Messages in memory, shared by clones.
#[derive(Debug, Clone, Default)]
pub struct MemoryQueue {
    inner: Arc<Mutex<Inner>>,
    policy: RetryPolicy,
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new() -> MemoryQueue {
        MemoryQueue::default()
    }

    /// The same queue with another re-send backoff (tests use short ones).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> MemoryQueue {
        self.policy = policy;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the deque half-updated.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    /// Whether no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.lock().messages.is_empty()
    }

    /// Takes up to `n` messages from the front.
    pub fn pop_batch(&self, n: usize) -> Vec<QueueMessage> {
        let mut inner = self.lock();
        let n = n.min(inner.messages.len());
        inner.messages.drain(..n).collect()
    }

    /// Takes every waiting message.
    pub fn drain(&self) -> Vec<QueueMessage> {
        self.lock().messages.drain(..).collect()
    }

    /// Test knob: each entry's send attempt fails (retryably, like SQS throttling) with
    /// probability `rate` (0.0 to 1.0).
    pub fn set_failure_rate(&self, rate: f64) {
        self.lock().faults.rate = rate.clamp(0.0, 1.0);
    }

    /// Test knob: the next `attempts` sends of the message with this content id fail retryably.
    pub fn fail_attempts(&self, content_id: &str, attempts: u32) {
        self.lock()
            .faults
            .by_content_id
            .insert(content_id.to_owned(), Some(attempts));
    }

    /// Test knob: every send of the message with this content id fails as a sender fault
    /// (permanent, like an SQS `InvalidMessageContents`).
    pub fn fail_permanently(&self, content_id: &str) {
        self.lock()
            .faults
            .by_content_id
            .insert(content_id.to_owned(), None);
    }

    /// Test knob: removes every injected failure.
    pub fn clear_failures(&self) {
        self.lock().faults = Faults::default();
    }
}

impl BatchSink<QueueMessage> for MemoryQueue {
    async fn send_batch(
        &self,
        batch: &[(String, &QueueMessage)],
    ) -> Result<Vec<(String, EntryFailure)>, EntryFailure> {
        let mut inner = self.lock();
        let mut rng = rand::rng();
        let rate = inner.faults.rate;
        let mut failed = Vec::new();
        for (id, msg) in batch {
            let failure = match inner.faults.by_content_id.get_mut(&msg.content_id) {
                Some(None) => Some(EntryFailure::Permanent(format!(
                    "injected sender fault for {}",
                    msg.content_id
                ))),
                Some(Some(n)) if *n > 0 => {
                    *n -= 1;
                    Some(EntryFailure::Retryable(format!(
                        "injected failure for {}",
                        msg.content_id
                    )))
                }
                _ if rate > 0.0 && rng.random_bool(rate) => Some(EntryFailure::Retryable(
                    "injected random send failure".into(),
                )),
                _ => None,
            };
            match failure {
                Some(f) => failed.push((id.clone(), f)),
                None => inner.messages.push_back((*msg).clone()),
            }
        }
        Ok(failed)
    }
}

impl BatchQueue for MemoryQueue {
    fn retry_policy(&self) -> RetryPolicy {
        self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{Queue, QueueError, SendReport};
    use std::time::Duration;
    use tokio::time::Instant;

    pub(crate) fn messages(n: usize) -> Vec<QueueMessage> {
        (0..n)
            .map(|i| {
                QueueMessage::parse(&format!(
                    r#"{{"format_version":1,"tenant_id":"00000000-0000-0000-0000-000000000001","content_type":"Audit.General","content_id":"c{i}","content_uri":"https://manage.office.com/api/v1.0/t/activity/feed/audit/c{i}","content_created":"2026-03-01T10:33:18.440Z","content_expiration":"2026-03-08T10:15:00.120Z"}}"#
                ))
                .unwrap()
            })
            .collect()
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    #[tokio::test]
    async fn clones_share_messages_in_order() {
        let q = MemoryQueue::new();
        let other = q.clone();
        let msgs = messages(23);
        let r = q.send_all(&msgs, soon()).await.unwrap();
        assert_eq!(
            r,
            SendReport {
                sent: 23,
                retried_entries: 0
            }
        );
        assert_eq!(other.len(), 23);
        let first = other.pop_batch(10);
        assert_eq!(first, msgs[..10].to_vec());
        assert_eq!(q.len(), 13);
        assert_eq!(q.drain(), msgs[10..].to_vec());
        assert!(q.is_empty());
        assert!(q.pop_batch(5).is_empty());
    }

    #[tokio::test]
    async fn random_failures_are_retried_until_all_accepted() {
        let q = MemoryQueue::new().with_retry_policy(fast());
        q.set_failure_rate(0.3);
        let msgs = messages(200);
        let r = q.send_all(&msgs, soon()).await.unwrap();
        assert_eq!(r.sent, 200);
        assert!(r.retried_entries > 0, "{r:?}");
        let mut got: Vec<String> = q.drain().into_iter().map(|m| m.content_id).collect();
        got.sort();
        let mut want: Vec<String> = msgs.into_iter().map(|m| m.content_id).collect();
        want.sort();
        assert_eq!(got, want, "every message exactly once");
    }

    #[tokio::test]
    async fn given_entries_fail_then_succeed() {
        let q = MemoryQueue::new().with_retry_policy(fast());
        q.fail_attempts("c4", 3);
        q.fail_attempts("c7", 1);
        let r = q.send_all(&messages(12), soon()).await.unwrap();
        assert_eq!(
            r,
            SendReport {
                sent: 12,
                retried_entries: 2
            }
        );
        assert_eq!(q.len(), 12);
    }

    #[tokio::test]
    async fn permanent_and_deadline_failures_report_what_was_accepted() {
        let q = MemoryQueue::new().with_retry_policy(fast());
        q.fail_permanently("c2");
        q.fail_attempts("c5", u32::MAX - 1);
        let err = q
            .send_all(&messages(8), Instant::now() + Duration::from_millis(100))
            .await
            .unwrap_err();
        match err {
            QueueError::Incomplete {
                accepted,
                failed,
                total,
                ..
            } => {
                assert_eq!(failed, 2);
                assert_eq!(total, 8);
                assert_eq!(accepted, vec!["c0", "c1", "c3", "c4", "c6", "c7"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(q.len(), 6);
        q.clear_failures();
        q.send_all(&messages(8)[2..3], soon()).await.unwrap();
        assert_eq!(q.len(), 7);
    }
}
