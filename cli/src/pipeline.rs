//! The local half of the pipeline: takes messages off a queue (in-process or SQS) in batches
//! of ten, hands them to the fetcher exactly as the Lambda runtime would, and counts what
//! happened for the summary.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use o365_activity::latency::RecordLatency;
use o365_activity::queue::{MemoryQueue, Queue, SqsQueue};
use o365_activity::store::ObjectStore;
use o365_activity::QueueMessage;
use o365_fetcher::{ErrorKind, Fetcher, InboundMessage, MessageOutcome};
use serde::Serialize;
use tokio::time::Instant;

use crate::progress::Progress;
use crate::spool::Spool;

/// Messages handed to the fetcher at once (SQS's batch size).
pub const BATCH: usize = 10;

/// How many times the local pipeline tries a message whose failure may pass (like an SQS
/// queue's `maxReceiveCount`). A download that only waited for its tenant's request budget
/// (throttled) spends none.
pub const LOCAL_ATTEMPTS: u32 = 3;

/// The pause after a round whose every message was throttled, so that a spent budget is not
/// asked again at once, round after round.
pub const THROTTLED_PAUSE: Duration = Duration::from_millis(250);

/// What the fetcher did with the messages of one drain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FetchTotals {
    /// Blobs downloaded, normalized and written.
    pub blobs_stored: u64,
    /// Blobs already present (repeats, replays): nothing written.
    pub blobs_skipped: u64,
    /// Records written.
    pub records: u64,
    /// Blob bytes downloaded.
    pub bytes_in: u64,
    /// Object bytes written.
    pub bytes_out: u64,
    /// Permanent failures, each with an error report under `_errors/`.
    pub rejected: u64,
    /// Messages still failing after the attempts allowed (left in the queue for SQS).
    pub failed: u64,
    /// Failures by kind (`ContentExpired`, `MalformedBlob`, ...).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Per-record latency of the records stored (event → available → stored).
    pub latency: RecordLatency,
    /// Messages not fetched when the run ended, kept in the spool for the next run.
    pub spooled: u64,
    /// Throttled messages handed back to the SQS queue with a delay (each is counted again
    /// when it returns and is handled).
    pub handed_back: u64,
}

impl FetchTotals {
    /// Errors of any kind.
    pub fn errors(&self) -> u64 {
        self.rejected + self.failed
    }

    /// Adds another drain's totals (the spool drained first, then the new listing).
    pub fn merge(mut self, other: FetchTotals) -> FetchTotals {
        self.blobs_stored += other.blobs_stored;
        self.blobs_skipped += other.blobs_skipped;
        self.records += other.records;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.rejected += other.rejected;
        self.failed += other.failed;
        self.spooled += other.spooled;
        self.handed_back += other.handed_back;
        self.latency.merge(&other.latency);
        for (k, n) in other.errors_by_kind {
            *self.errors_by_kind.entry(k).or_default() += n;
        }
        self
    }

    /// `; N stored, N already present, N records, N errors`, for one-line summaries.
    pub fn describe(&self) -> String {
        format!(
            "; {} stored, {} already present, {} records, {} errors",
            self.blobs_stored,
            self.blobs_skipped,
            self.records,
            self.errors()
        )
    }

    /// Counts one final outcome (retries are counted by the caller when they run out).
    fn count(&mut self, outcome: &MessageOutcome, progress: &Progress) {
        match outcome {
            MessageOutcome::Stored {
                records,
                bytes_in,
                bytes_out,
                latency,
                ..
            } => {
                self.latency.merge(latency);
                self.blobs_stored += 1;
                self.records += records;
                self.bytes_in += bytes_in;
                self.bytes_out += bytes_out;
                progress.records(*records);
            }
            MessageOutcome::Duplicate { .. } => self.blobs_skipped += 1,
            MessageOutcome::Rejected { kind, report_key } => {
                self.rejected += 1;
                *self
                    .errors_by_kind
                    .entry(kind.as_str().to_owned())
                    .or_default() += 1;
                tracing::warn!(kind = kind.as_str(), report = %report_key, "blob failed permanently");
            }
            MessageOutcome::Retry { kind, error } => {
                self.failed += 1;
                *self
                    .errors_by_kind
                    .entry(kind.as_str().to_owned())
                    .or_default() += 1;
                tracing::warn!(kind = kind.as_str(), %error, "blob not fetched");
            }
        }
        progress.blob_done();
    }
}

/// Drains the in-process queue through the fetcher until it is empty or `deadline` passes.
/// A message whose failure may pass is queued again, up to [`LOCAL_ATTEMPTS`] tries; a
/// throttled one (its tenant's budget could not serve it soon) as often as it takes.
pub async fn drain_memory<S: ObjectStore>(
    fetcher: &Fetcher<S>,
    queue: &MemoryQueue,
    deadline: Instant,
    progress: &Progress,
) -> FetchTotals {
    drain_spooled(fetcher, queue, None, deadline, progress).await
}

/// [`drain_memory`] for a queue behind a [`Spool`]: a message leaves the spool once its blob
/// is stored, found stored, or rejected with an error report; anything else (the deadline, an
/// interrupt, a failure that may pass) stays for the next run.
pub async fn drain_spooled<S: ObjectStore>(
    fetcher: &Fetcher<S>,
    queue: &MemoryQueue,
    spool: Option<&Spool>,
    deadline: Instant,
    progress: &Progress,
) -> FetchTotals {
    let mut totals = FetchTotals::default();
    let mut attempts: HashMap<String, u32> = HashMap::new();
    let mut seq: u64 = 0;
    progress.add_blobs(queue.len() as u64);
    while Instant::now() < deadline {
        let batch = queue.pop_batch(BATCH);
        if batch.is_empty() {
            break;
        }
        let mut by_id: HashMap<String, QueueMessage> = HashMap::new();
        let inbound: Vec<InboundMessage> = batch
            .into_iter()
            .map(|m| {
                seq += 1;
                let id = format!("local-{seq}");
                let body = m.to_json();
                by_id.insert(id.clone(), m);
                InboundMessage::new(id, body)
            })
            .collect();
        let outcome = fetcher.handle_batch(inbound, deadline).await;
        let mut again = Vec::new();
        for (id, o) in &outcome.outcomes {
            if o.is_failure() {
                if let Some(m) = by_id.remove(id) {
                    if Instant::now() < deadline && try_again(o, &m, &mut attempts) {
                        again.push(m);
                        continue;
                    }
                }
            } else if let (Some(spool), Some(m)) = (spool, by_id.get(id)) {
                spool.remove(m);
            }
            totals.count(o, progress);
        }
        if !again.is_empty() {
            // Back to the end of the queue; the same in-process queue cannot refuse it.
            if let Err(e) = queue.send_all(&again, deadline).await {
                tracing::error!(error = %e, "could not queue messages again");
                totals.failed += again.len() as u64;
            }
        }
        if outcome.outcomes.iter().all(|(_, o)| is_throttled(o)) {
            // Nothing could be served: give the budgets time before the next round.
            let pause = Instant::now()
                .checked_add(THROTTLED_PAUSE)
                .unwrap_or(deadline);
            tokio::time::sleep_until(pause.min(deadline)).await;
        }
    }
    let left = queue.drain();
    if !left.is_empty() && spool.is_some() {
        // Not an error of the blobs: they are spooled and fetched first by the next run.
        tracing::warn!(
            left = left.len(),
            "the run's time ran out with messages not fetched; they stay in the spool and the next run fetches them first"
        );
        totals.spooled += left.len() as u64;
        // Still counted as not fetched in this run (exit code 3), under `Deadline`.
        totals.failed += left.len() as u64;
        *totals.errors_by_kind.entry("Deadline".into()).or_default() += left.len() as u64;
    } else if !left.is_empty() {
        tracing::warn!(
            left = left.len(),
            "the run's time ran out with messages not fetched; the next run lists them again only if they are re-listed, so replay them (o365ctl replay) or give more --timeout"
        );
        totals.failed += left.len() as u64;
        *totals.errors_by_kind.entry("Deadline".into()).or_default() += left.len() as u64;
    }
    totals
}

/// Whether a download was not made because its tenant's request budget could not serve it
/// soon (or the API throttled it): it waits, nothing failed.
fn is_throttled(outcome: &MessageOutcome) -> bool {
    matches!(
        outcome,
        MessageOutcome::Retry {
            kind: ErrorKind::Throttled,
            ..
        }
    )
}

/// Whether the failed message `m` goes round again: a throttled one always, without spending
/// an attempt; any other while it has attempts left, spending one.
fn try_again(
    outcome: &MessageOutcome,
    m: &QueueMessage,
    attempts: &mut HashMap<String, u32>,
) -> bool {
    if is_throttled(outcome) {
        return true;
    }
    let n = attempts.entry(m.dedup_key()).or_insert(1);
    if *n < LOCAL_ATTEMPTS {
        *n += 1;
        true
    } else {
        false
    }
}

/// Drains an SQS queue through the fetcher: receive ten, handle, delete what succeeded; a
/// failed message stays and comes back after its visibility timeout (then the DLQ). A
/// throttled one (its tenant's budget could not serve it soon) is handed back as a new
/// message with a delay, as the Lambda does ([`Fetcher::hand_back_throttled`]): waiting for
/// the budget spends no receive towards the DLQ, and the drain waits for it to return. Stops
/// when two receives in a row come back empty and nothing it handed back is still due, or
/// `deadline` passes.
pub async fn drain_sqs<S: ObjectStore>(
    fetcher: &Fetcher<S>,
    queue: &SqsQueue,
    deadline: Instant,
    progress: &Progress,
) -> Result<FetchTotals, o365_activity::queue::QueueError> {
    let mut totals = FetchTotals::default();
    let mut empty = 0;
    // When the last message handed back becomes visible again.
    let mut returns_by: Option<Instant> = None;
    if let Ok((visible, _)) = queue.approximate_depth().await {
        progress.add_blobs(visible);
    }
    while Instant::now() < deadline {
        let received = queue
            .receive(BATCH as i32, Duration::from_secs(1), None)
            .await?;
        if received.is_empty() {
            if returns_by.is_some_and(|due| Instant::now() < due) {
                continue;
            }
            empty += 1;
            if empty >= 2 {
                break;
            }
            continue;
        }
        empty = 0;
        let handles: HashMap<String, String> = received
            .iter()
            .map(|m| (m.message_id.clone(), m.receipt_handle.clone()))
            .collect();
        let inbound: Vec<InboundMessage> = received
            .into_iter()
            .map(|m| InboundMessage {
                message_id: m.message_id,
                body: m.body,
                receive_count: Some(m.receive_count),
            })
            .collect();
        let outcome = fetcher.handle_batch(inbound.clone(), deadline).await;
        let handed_back = fetcher.hand_back_throttled(queue, &inbound, &outcome).await;
        if let Some(longest) = handed_back.iter().map(|(_, delay)| *delay).max() {
            // Received after its delay, within a receive's long poll.
            let due = Instant::now()
                .checked_add(longest)
                .and_then(|t| t.checked_add(Duration::from_secs(1)))
                .unwrap_or(deadline);
            returns_by = Some(returns_by.map_or(due, |r| r.max(due)));
        }
        let mut done = Vec::new();
        for (id, o) in &outcome.outcomes {
            if handed_back.iter().any(|(h, _)| h == id) {
                // Not done yet: its new message is counted when it is handled.
                totals.handed_back += 1;
            } else {
                totals.count(o, progress);
                if o.is_failure() {
                    continue;
                }
            }
            if let Some(h) = handles.get(id) {
                done.push(h.clone());
            }
        }
        if !done.is_empty() {
            queue.delete(&done).await?;
        }
    }
    Ok(totals)
}

/// Sends messages to a queue (SQS or in-process) before `deadline`.
pub async fn send<Q: Queue>(
    queue: &Q,
    messages: &[QueueMessage],
    deadline: Instant,
) -> Result<usize, o365_activity::queue::QueueError> {
    if messages.is_empty() {
        return Ok(0);
    }
    Ok(queue.send_all(messages, deadline).await?.sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::tests::msg;

    #[test]
    fn only_real_failures_spend_attempts() {
        let throttled = MessageOutcome::Retry {
            kind: ErrorKind::Throttled,
            error: "the budget needs 1s".into(),
        };
        let transient = MessageOutcome::Retry {
            kind: ErrorKind::Transient,
            error: "503".into(),
        };
        let (a, b) = (msg("a"), msg("b"));
        let mut attempts = HashMap::new();
        for _ in 0..10 * LOCAL_ATTEMPTS {
            assert!(try_again(&throttled, &a, &mut attempts));
        }
        assert!(attempts.is_empty(), "{attempts:?}");
        let tries: Vec<bool> = (0..LOCAL_ATTEMPTS)
            .map(|_| try_again(&transient, &b, &mut attempts))
            .collect();
        assert_eq!(tries, [true, true, false], "{LOCAL_ATTEMPTS} tries in all");
        // A throttled round between failures spends none of the attempts left.
        let mut attempts = HashMap::new();
        assert!(try_again(&transient, &a, &mut attempts));
        assert!(try_again(&throttled, &a, &mut attempts));
        assert!(try_again(&transient, &a, &mut attempts));
        assert!(!try_again(&transient, &a, &mut attempts));
        assert!(is_throttled(&throttled) && !is_throttled(&transient));
    }
}
