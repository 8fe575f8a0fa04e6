//! The one batching and retry loop behind every queue's `send_all`: batches of 10, failed
//! entries re-sent with exponential backoff and full jitter until the deadline, sender faults
//! given up at once.

use std::future::Future;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use rand::Rng;
use tokio::time::Instant;

/// Most entries in one `SendMessageBatch` call (an SQS limit).
pub const MAX_BATCH: usize = 10;

/// Batches in flight at once.
const CONCURRENT_BATCHES: usize = 4;

/// How failed entries are re-sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Backoff before the first re-send; doubles each round.
    pub base: Duration,
    /// Longest backoff.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The jittered wait before re-send round `round` (1-based): uniform in `[0, min(cap, base·2^(round-1))]`
    /// ("full jitter"), so competing senders spread out.
    pub fn backoff(&self, round: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << round.saturating_sub(1).min(20))
            .min(self.cap);
        let ms = u64::try_from(exp.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=ms))
    }
}

/// Why one entry of a batch was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryFailure {
    /// Throttling or a service fault: send it again.
    Retryable(String),
    /// The entry itself is bad (a sender fault): sending it again cannot help.
    Permanent(String),
}

/// Something that accepts a batch of up to [`MAX_BATCH`] entries, each with an id unique
/// within the batch.
pub trait BatchSink<T: Sync>: Sync {
    /// Sends one batch; `Ok` lists the entries that failed (by id), `Err` means the whole call
    /// failed and applies to every entry.
    fn send_batch(
        &self,
        batch: &[(String, &T)],
    ) -> impl Future<Output = Result<Vec<(String, EntryFailure)>, EntryFailure>> + Send;
}

/// What the loop achieved, per item.
#[derive(Debug, Clone, Default)]
pub struct RetryOutcome {
    /// `accepted[i]` is whether item `i` was accepted.
    pub accepted: Vec<bool>,
    /// Items that failed at least once and were sent again.
    pub retried_entries: usize,
    /// Items that failed permanently.
    pub permanent: usize,
    /// The last failure seen, for the error message.
    pub last_error: Option<String>,
}

impl RetryOutcome {
    /// How many items were accepted.
    pub fn sent(&self) -> usize {
        self.accepted.iter().filter(|a| **a).count()
    }
}

/// Sends every item through `sink`, re-sending failed ones until they are accepted, fail
/// permanently, or the next round could not start before `deadline`.
pub async fn send_with_retry<T: Sync, S: BatchSink<T>>(
    sink: &S,
    items: &[T],
    deadline: Instant,
    policy: RetryPolicy,
) -> RetryOutcome {
    let mut out = RetryOutcome {
        accepted: vec![false; items.len()],
        ..RetryOutcome::default()
    };
    let mut retried = vec![false; items.len()];
    let mut pending: Vec<usize> = (0..items.len()).collect();
    let mut round = 0u32;
    while !pending.is_empty() {
        if Instant::now() >= deadline {
            out.last_error
                .get_or_insert_with(|| "the deadline passed before sending".into());
            break;
        }
        let chunks: Vec<Vec<usize>> = pending.chunks(MAX_BATCH).map(<[usize]>::to_vec).collect();
        let results: Vec<_> = stream::iter(chunks)
            .map(|chunk| async move {
                let batch: Vec<(String, &T)> =
                    chunk.iter().map(|&i| (i.to_string(), &items[i])).collect();
                let result = sink.send_batch(&batch).await;
                (chunk, result)
            })
            .buffer_unordered(CONCURRENT_BATCHES)
            .collect()
            .await;
        let mut next = Vec::new();
        for (chunk, result) in results {
            let failures: Vec<(usize, EntryFailure)> = match result {
                Ok(failed) => failed
                    .into_iter()
                    .filter_map(|(id, f)| {
                        let i: usize = id.parse().ok()?;
                        chunk.contains(&i).then_some((i, f))
                    })
                    .collect(),
                Err(f) => chunk.iter().map(|&i| (i, f.clone())).collect(),
            };
            for &i in &chunk {
                out.accepted[i] = !failures.iter().any(|(j, _)| *j == i);
            }
            for (i, f) in failures {
                match f {
                    EntryFailure::Retryable(msg) => {
                        next.push(i);
                        out.last_error = Some(msg);
                    }
                    EntryFailure::Permanent(msg) => {
                        out.permanent += 1;
                        out.last_error = Some(msg);
                    }
                }
            }
        }
        if next.is_empty() {
            break;
        }
        next.sort_unstable();
        next.dedup();
        round = round.saturating_add(1);
        let wait = policy.backoff(round);
        if Instant::now() + wait >= deadline {
            tracing::warn!(
                unsent = next.len(),
                "queue send: deadline reached with entries still failing"
            );
            break;
        }
        tracing::debug!(
            entries = next.len(),
            round,
            wait_ms = wait.as_millis() as u64,
            "queue send: re-sending failed entries"
        );
        for &i in &next {
            retried[i] = true;
        }
        tokio::time::sleep(wait).await;
        pending = next;
    }
    out.retried_entries = retried.iter().filter(|r| **r).count();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Fails entry `i` retryably the first `fails[i]` times; `u32::MAX` means permanently.
    struct Flaky {
        fails: Mutex<HashMap<u32, u32>>,
        calls: Mutex<Vec<usize>>,
    }

    impl BatchSink<u32> for Flaky {
        async fn send_batch(
            &self,
            batch: &[(String, &u32)],
        ) -> Result<Vec<(String, EntryFailure)>, EntryFailure> {
            self.calls.lock().unwrap().push(batch.len());
            let mut fails = self.fails.lock().unwrap();
            let mut ids = std::collections::HashSet::new();
            let mut out = Vec::new();
            for (id, v) in batch {
                assert!(ids.insert(id.clone()), "duplicate id in batch");
                match fails.get_mut(v) {
                    Some(n) if *n == u32::MAX => {
                        out.push((id.clone(), EntryFailure::Permanent("bad".into())))
                    }
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        out.push((id.clone(), EntryFailure::Retryable("throttled".into())))
                    }
                    _ => {}
                }
            }
            Ok(out)
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(4),
        }
    }

    #[tokio::test]
    async fn batches_of_ten_and_retries_until_accepted() {
        let sink = Flaky {
            fails: Mutex::new(HashMap::from([(3, 2), (17, 1)])),
            calls: Mutex::new(Vec::new()),
        };
        let items: Vec<u32> = (0..25).collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        let out = send_with_retry(&sink, &items, deadline, fast()).await;
        assert_eq!(out.sent(), 25);
        assert_eq!(out.retried_entries, 2);
        assert_eq!(out.permanent, 0);
        let calls = sink.calls.lock().unwrap().clone();
        assert!(calls.iter().all(|n| *n <= MAX_BATCH), "{calls:?}");
        // 3 first-round batches, then the two failing entries, then entry 3 alone.
        assert_eq!(calls.len(), 5, "{calls:?}");
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried_and_deadline_stops_retries() {
        let sink = Flaky {
            fails: Mutex::new(HashMap::from([(1, u32::MAX), (2, 1_000_000)])),
            calls: Mutex::new(Vec::new()),
        };
        let items: Vec<u32> = (0..5).collect();
        let deadline = Instant::now() + Duration::from_millis(200);
        let out = send_with_retry(&sink, &items, deadline, fast()).await;
        assert_eq!(out.accepted, vec![true, false, false, true, true]);
        assert_eq!(out.permanent, 1);
        assert!(out.last_error.is_some());
        assert!(Instant::now() <= deadline + Duration::from_secs(5));
    }

    #[tokio::test]
    async fn whole_call_failure_applies_to_the_batch() {
        struct Down;
        impl BatchSink<u32> for Down {
            async fn send_batch(
                &self,
                _: &[(String, &u32)],
            ) -> Result<Vec<(String, EntryFailure)>, EntryFailure> {
                Err(EntryFailure::Permanent("no such queue".into()))
            }
        }
        let out = send_with_retry(
            &Down,
            &[1u32, 2, 3],
            Instant::now() + Duration::from_secs(10),
            fast(),
        )
        .await;
        assert_eq!(out.sent(), 0);
        assert_eq!(out.permanent, 3);
        assert_eq!(out.last_error.as_deref(), Some("no such queue"));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(800),
        };
        for round in 1..40 {
            let limit = Duration::from_millis(100 * (1u64 << (round - 1).min(20))).min(p.cap);
            assert!(p.backoff(round) <= limit);
        }
    }
}
