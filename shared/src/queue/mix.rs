//! Sends from many concurrent senders (the lister's pairs) merged into one stream of batches
//! in which the tenants take turns: a page of one tenant's blobs is not sent as its own run
//! of `SendMessageBatch` calls, where every received batch, and so every fetcher invocation,
//! would hold one tenant and could spend only that tenant's share of the request rate.
//!
//! Group commit: a sender's messages join the pending set; whoever gets the turn sends
//! everything pending then, ordered round-robin by tenant ([`in_turn`]), and tells each sender
//! what became of its own messages. Pages that arrive while one send is under way go together
//! in the next. When only one tenant's pages are pending and the queue serves several
//! tenants, the turn first waits up to [`MIX_WAIT`] for another tenant's page.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use super::{Queue, QueueError, SendReport};
use crate::in_turn::in_turn;
use crate::message::QueueMessage;

/// Longest a send waits for another tenant's page to mix with (only when one tenant's pages
/// are pending and the queue serves several): short next to listing a page.
pub const MIX_WAIT: Duration = Duration::from_millis(25);

/// One sender's messages waiting for the next send.
struct Submission {
    messages: Vec<QueueMessage>,
    deadline: Instant,
    reply: oneshot::Sender<Result<SendReport, QueueError>>,
}

/// The senders' shared state.
struct Mixer<Q> {
    queue: Q,
    tenants: usize,
    pending: Mutex<Vec<Submission>>,
    arrived: Notify,
    turn: tokio::sync::Mutex<()>,
}

/// A [`Queue`] that merges concurrent `send_all` calls into sends where the tenants take
/// turns (module docs). Each caller's result covers exactly its own messages.
pub struct MixingQueue<Q> {
    inner: Arc<Mixer<Q>>,
}

impl<Q> Clone for MixingQueue<Q> {
    fn clone(&self) -> Self {
        MixingQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<Q> std::fmt::Debug for MixingQueue<Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MixingQueue").finish_non_exhaustive()
    }
}

impl<Q: Queue> MixingQueue<Q> {
    /// Merges the sends made through it into `queue`, for a lister of `tenants` tenants (with
    /// one, there is nothing to mix and no send waits).
    pub fn new(queue: Q, tenants: usize) -> MixingQueue<Q> {
        MixingQueue {
            inner: Arc::new(Mixer {
                queue,
                tenants,
                pending: Mutex::new(Vec::new()),
                arrived: Notify::new(),
                turn: tokio::sync::Mutex::new(()),
            }),
        }
    }
}

impl<Q> Mixer<Q> {
    fn pending(&self) -> MutexGuard<'_, Vec<Submission>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tenants with messages pending.
    fn pending_tenants(&self) -> usize {
        self.pending()
            .iter()
            .flat_map(|s| s.messages.iter().map(|m| &m.tenant_id))
            .collect::<HashSet<_>>()
            .len()
    }

    /// Waits until at least two tenants have messages pending, `MIX_WAIT` passed or
    /// `deadline` came.
    async fn wait_for_another_tenant(&self, deadline: Instant) {
        if self.tenants < 2 {
            return;
        }
        let until = deadline.min(Instant::now() + MIX_WAIT);
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if self.pending_tenants() >= 2 {
                return;
            }
            if tokio::time::timeout_at(until, arrived).await.is_err() {
                return;
            }
        }
    }

    /// Takes the pending submissions to send together: all of them, except one that shares a
    /// content id (of any tenant) with one taken before it. It waits for the next send, so
    /// every id in a send's accepted list (content ids only) names one submission's message.
    fn take(&self) -> Vec<Submission> {
        let mut pending = self.pending();
        let mut ids: HashSet<String> = HashSet::new();
        let mut taken = Vec::new();
        let mut kept = Vec::new();
        for s in pending.drain(..) {
            if s.messages.iter().any(|m| ids.contains(&m.content_id)) {
                kept.push(s);
            } else {
                ids.extend(s.messages.iter().map(|m| m.content_id.clone()));
                taken.push(s);
            }
        }
        *pending = kept;
        taken
    }
}

impl<Q: Queue> MixingQueue<Q> {
    /// Sends `taken` as one round-robin stream and answers each submission (a full success
    /// reports the whole send's re-sent entries to each).
    async fn flush(&self, taken: Vec<Submission>) {
        let Some(deadline) = taken.iter().map(|s| s.deadline).min() else {
            return;
        };
        let all: Vec<QueueMessage> = in_turn(
            taken
                .iter()
                .flat_map(|s| s.messages.iter().cloned())
                .collect(),
            |m| m.tenant_id.clone(),
        );
        let result = self.inner.queue.send_all(&all, deadline).await;
        for s in taken {
            let own = match &result {
                Ok(report) => Ok(SendReport {
                    sent: s.messages.len(),
                    retried_entries: report.retried_entries,
                }),
                Err(QueueError::Incomplete {
                    accepted, reason, ..
                }) => {
                    let accepted: HashSet<&str> = accepted.iter().map(String::as_str).collect();
                    let mine: Vec<String> = s
                        .messages
                        .iter()
                        .filter(|m| accepted.contains(m.content_id.as_str()))
                        .map(|m| m.content_id.clone())
                        .collect();
                    if mine.len() == s.messages.len() {
                        Ok(SendReport {
                            sent: mine.len(),
                            retried_entries: 0,
                        })
                    } else {
                        Err(QueueError::Incomplete {
                            failed: s.messages.len() - mine.len(),
                            total: s.messages.len(),
                            accepted: mine,
                            reason: reason.clone(),
                        })
                    }
                }
                Err(e @ QueueError::Call { .. }) => Err(e.clone()),
            };
            // A sender that went away (cancelled) needs no answer.
            let _ = s.reply.send(own);
        }
    }
}

impl<Q: Queue> Queue for MixingQueue<Q> {
    async fn send_all(
        &self,
        messages: &[QueueMessage],
        deadline: Instant,
    ) -> Result<SendReport, QueueError> {
        if messages.is_empty() {
            return Ok(SendReport::default());
        }
        let (reply, mut answer) = oneshot::channel();
        self.inner.pending().push(Submission {
            messages: messages.to_vec(),
            deadline,
            reply,
        });
        self.inner.arrived.notify_waiters();
        loop {
            let turn = self.inner.turn.lock().await;
            if let Some(result) = answered(&mut answer, messages.len()) {
                return result;
            }
            self.inner.wait_for_another_tenant(deadline).await;
            let taken = self.inner.take();
            self.flush(taken).await;
            drop(turn);
            if let Some(result) = answered(&mut answer, messages.len()) {
                return result;
            }
        }
    }
}

/// The answer to a submission of `n` messages, once there is one.
fn answered(
    answer: &mut oneshot::Receiver<Result<SendReport, QueueError>>,
    n: usize,
) -> Option<Result<SendReport, QueueError>> {
    match answer.try_recv() {
        Ok(result) => Some(result),
        Err(oneshot::error::TryRecvError::Empty) => None,
        // The sender that took these messages was cancelled mid-send: whether the queue has
        // them is unknown, so none counts as sent (listed again later; the fetcher skips
        // what it already stored).
        Err(oneshot::error::TryRecvError::Closed) => Some(Err(QueueError::Incomplete {
            accepted: Vec::new(),
            failed: n,
            total: n,
            reason: "the send carrying these messages was cancelled".into(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::MemoryQueue;
    use crate::TenantId;
    use chrono::{TimeZone, Utc};

    fn msg(tenant: u8, id: &str) -> QueueMessage {
        let t: TenantId = format!("00000000-0000-0000-0000-0000000000{tenant:02}")
            .parse()
            .unwrap();
        let created = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        QueueMessage {
            format_version: 1,
            content_uri: format!("https://manage.office.com/api/v1.0/{t}/activity/feed/audit/{id}"),
            tenant_id: t,
            content_type: crate::ContentType::General,
            content_id: id.to_owned(),
            content_created: created,
            content_expiration: created + chrono::TimeDelta::days(7),
        }
    }

    /// The in-process queue, with every send taking 20 ms (as a call to SQS does).
    #[derive(Clone, Default)]
    struct SlowQueue(MemoryQueue);

    impl Queue for SlowQueue {
        async fn send_all(
            &self,
            messages: &[QueueMessage],
            deadline: Instant,
        ) -> Result<SendReport, QueueError> {
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.0.send_all(messages, deadline).await
        }
    }

    #[tokio::test]
    async fn concurrent_pages_are_sent_with_the_tenants_in_turn() {
        let queue = SlowQueue::default();
        let mixed = MixingQueue::new(queue.clone(), 3);
        let deadline = Instant::now() + Duration::from_secs(5);
        let pages: Vec<Vec<QueueMessage>> = (1..=3u8)
            .map(|t| (0..4).map(|i| msg(t, &format!("t{t}-{i}"))).collect())
            .collect();
        let sends = pages.iter().map(|p| mixed.send_all(p, deadline));
        for r in futures::future::join_all(sends).await {
            assert_eq!(r.unwrap().sent, 4);
        }
        let order: Vec<String> = queue.0.drain().into_iter().map(|m| m.content_id).collect();
        // The first page waited for another tenant's; all three went together, in turn.
        assert_eq!(
            order,
            [
                "t1-0", "t2-0", "t3-0", "t1-1", "t2-1", "t3-1", "t1-2", "t2-2", "t3-2", "t1-3",
                "t2-3", "t3-3"
            ]
        );
    }

    #[tokio::test]
    async fn each_sender_hears_only_of_its_own_messages() {
        let memory = MemoryQueue::new();
        // Every entry fails: nothing is accepted, each sender gets its own count.
        memory.set_failure_rate(1.0);
        let mixed = MixingQueue::new(SlowQueue(memory), 2);
        let deadline = Instant::now() + Duration::from_millis(300);
        let a: Vec<QueueMessage> = (0..3).map(|i| msg(1, &format!("a{i}"))).collect();
        let b: Vec<QueueMessage> = (0..5).map(|i| msg(2, &format!("b{i}"))).collect();
        let (ra, rb) = tokio::join!(mixed.send_all(&a, deadline), mixed.send_all(&b, deadline));
        for (r, n) in [(ra, 3), (rb, 5)] {
            match r {
                Err(QueueError::Incomplete {
                    accepted,
                    failed,
                    total,
                    ..
                }) => assert_eq!((accepted.len(), failed, total), (0, n, n)),
                other => panic!("expected an incomplete send, got {other:?}"),
            }
        }
        assert!(mixed.send_all(&[], deadline).await.is_ok());
    }

    #[tokio::test]
    async fn the_same_blob_from_two_senders_goes_in_separate_sends() {
        let queue = SlowQueue::default();
        let mixed = MixingQueue::new(queue.clone(), 3);
        let deadline = Instant::now() + Duration::from_secs(5);
        let blocker = vec![msg(3, "b")];
        let first = vec![msg(1, "x")];
        let again = vec![msg(2, "x"), msg(1, "y")];
        let other = vec![msg(2, "z")];
        let (r0, r1, r2, r3) = tokio::join!(
            mixed.send_all(&blocker, deadline),
            mixed.send_all(&first, deadline),
            mixed.send_all(&again, deadline),
            mixed.send_all(&other, deadline)
        );
        let sent = [r0, r1, r2, r3].map(|r| r.unwrap().sent);
        assert_eq!(sent, [1, 1, 2, 1]);
        let order: Vec<String> = queue.0.drain().into_iter().map(|m| m.content_id).collect();
        // "b" waits for another tenant's page and goes with `first` and `other`; `again`
        // shares "x" with `first`, so it goes in a send of its own after theirs.
        assert_eq!(order, ["b", "x", "z", "x", "y"]);
    }
}
