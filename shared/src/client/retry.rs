//! Backoff arithmetic: exponential delays with full jitter, `Retry-After` parsing, and which
//! HTTP statuses are worth another attempt.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use tokio::time::Instant;

use super::{ClientError, RetryPolicy};

/// The backoff ceiling before attempt `retry` (1 = the first retry): `initial * 2^(retry-1)`,
/// capped at `max_backoff`.
pub(crate) fn backoff_cap(policy: &RetryPolicy, retry: u32) -> Duration {
    let exp = retry.saturating_sub(1).min(30);
    let factor = 1u32 << exp;
    policy
        .initial_backoff
        .checked_mul(factor)
        .unwrap_or(policy.max_backoff)
        .min(policy.max_backoff)
}

/// "Full jitter": a uniformly random delay in `[0, backoff_cap]`, so many clients throttled
/// together do not come back together.
pub(crate) fn jittered_backoff(policy: &RetryPolicy, retry: u32, rng: &mut impl Rng) -> Duration {
    let cap = backoff_cap(policy, retry);
    let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rng.random_range(0..=nanos))
}

/// Reads a `Retry-After` value: delta seconds, or an HTTP date (a date in the past means
/// "now"). `None` when the value is neither.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((when - now).to_std().unwrap_or(Duration::ZERO))
}

/// Whether an HTTP status alone says "try again": 408, 429 and every 5xx.
pub(crate) fn status_is_retryable(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

/// The bookkeeping of one call's attempts: how many were made, the last failure, and
/// whether another attempt fits before the caller's deadline.
#[derive(Debug)]
pub(crate) struct RetryPlan<'a> {
    policy: &'a RetryPolicy,
    deadline: Instant,
    attempts: u32,
    last: Option<String>,
}

impl<'a> RetryPlan<'a> {
    /// A plan for one call bounded by `deadline`.
    pub(crate) fn new(policy: &'a RetryPolicy, deadline: Instant) -> Self {
        RetryPlan {
            policy,
            deadline,
            attempts: 0,
            last: None,
        }
    }

    /// Starts an attempt: its timeout (`request_timeout`, shortened to the time left), or
    /// `None` when the deadline has passed.
    pub(crate) fn begin_attempt(&mut self, request_timeout: Duration) -> Option<Duration> {
        let left = self.deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() {
            return None;
        }
        self.attempts += 1;
        Some(request_timeout.min(left))
    }

    /// Remembers why the last attempt failed (for the deadline error).
    pub(crate) fn record(&mut self, failure: String) {
        self.last = Some(failure);
    }

    /// Whether the policy's attempt budget is spent.
    pub(crate) fn out_of_attempts(&self) -> bool {
        self.attempts >= self.policy.max_attempts.max(1)
    }

    /// How long to wait before the next attempt: `Retry-After` when the server sent one,
    /// else jittered exponential backoff. `None` when no attempt is left or the wait would
    /// end at or past the deadline.
    pub(crate) fn next_delay(&self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.out_of_attempts() {
            return None;
        }
        let delay = retry_after
            .unwrap_or_else(|| jittered_backoff(self.policy, self.attempts, &mut rand::rng()));
        let wake = Instant::now().checked_add(delay)?;
        (wake < self.deadline).then_some(delay)
    }

    /// The error for a call stopped by the deadline.
    pub(crate) fn deadline_error(&self, op: &'static str) -> ClientError {
        ClientError::DeadlineExceeded {
            op,
            attempts: self.attempts,
            last: self
                .last
                .clone()
                .unwrap_or_else(|| "the deadline had passed before the first attempt".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rand::{rngs::StdRng, SeedableRng};

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_attempts: 8,
        }
    }

    #[test]
    fn caps_double_then_saturate() {
        let p = policy();
        let caps: Vec<u128> = (1..=9).map(|r| backoff_cap(&p, r).as_millis()).collect();
        assert_eq!(
            caps,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(backoff_cap(&p, u32::MAX), Duration::from_secs(30));
        assert_eq!(backoff_cap(&p, 0), Duration::from_millis(500));
    }

    #[test]
    fn jitter_stays_within_the_cap_and_varies() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(7);
        let delays: Vec<Duration> = (0..200)
            .map(|_| jittered_backoff(&p, 3, &mut rng))
            .collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(2)));
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 100, "jitter should spread the delays");
        let zero = RetryPolicy {
            initial_backoff: Duration::ZERO,
            ..p
        };
        assert_eq!(jittered_backoff(&zero, 5, &mut rng), Duration::ZERO);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 27, 30).unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[tokio::test]
    async fn plan_stops_at_attempts_and_deadline() {
        let p = RetryPolicy {
            max_attempts: 2,
            ..policy()
        };
        let far = Instant::now() + Duration::from_secs(3600);
        let mut plan = RetryPlan::new(&p, far);
        assert!(plan.begin_attempt(Duration::from_secs(5)).is_some());
        assert_eq!(
            plan.next_delay(Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        assert!(plan.next_delay(None).unwrap() <= Duration::from_millis(500));
        assert!(plan.begin_attempt(Duration::from_secs(5)).is_some());
        assert!(plan.out_of_attempts());
        assert_eq!(plan.next_delay(None), None);

        let near = Instant::now() + Duration::from_secs(10);
        let mut plan = RetryPlan::new(&p, near);
        let t = plan.begin_attempt(Duration::from_secs(30)).unwrap();
        assert!(
            t <= Duration::from_secs(10),
            "timeout is cut to the time left"
        );
        assert_eq!(plan.next_delay(Some(Duration::from_secs(60))), None);
        plan.record("HTTP 503".into());
        match plan.deadline_error("ListContent") {
            ClientError::DeadlineExceeded { op, attempts, last } => {
                assert_eq!(
                    (op, attempts, last.as_str()),
                    ("ListContent", 1, "HTTP 503")
                );
            }
            other => panic!("{other:?}"),
        }

        let past = Instant::now();
        let mut plan = RetryPlan::new(&p, past);
        assert_eq!(plan.begin_attempt(Duration::from_secs(1)), None);
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(status_is_retryable(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 410] {
            assert!(!status_is_retryable(s), "{s}");
        }
    }
}
