//! The time an invocation may use, from the runtime's `Context`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::Context;
use tokio::time::Instant;

/// Longest time one invocation can run (Lambda's 15-minute ceiling); a deadline further away
/// than this is treated as this far, so a bogus value cannot overflow an `Instant`.
pub const MAX_INVOCATION: Duration = Duration::from_secs(15 * 60);

/// The instant the handler must be done by: the invocation's deadline less `margin` (kept for
/// the response and the last log lines). An expired or missing (`0`) deadline gives now.
pub fn deadline(context: &Context, margin: Duration) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let left = Duration::from_millis(context.deadline.saturating_sub(now_ms))
        .min(MAX_INVOCATION)
        .saturating_sub(margin);
    let now = Instant::now();
    now.checked_add(left).unwrap_or(now)
}

/// A context whose deadline is `left` from now (handler tests).
pub fn context_with(left: Duration) -> Context {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let mut context = Context::default();
    context.deadline = now_ms.saturating_add(u64::try_from(left.as_millis()).unwrap_or(u64::MAX));
    context
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_taken_off_and_bad_deadlines_do_not_overflow() {
        let d = deadline(
            &context_with(Duration::from_secs(60)),
            Duration::from_secs(5),
        );
        let left = d.saturating_duration_since(Instant::now());
        assert!(
            left <= Duration::from_secs(55) && left > Duration::from_secs(50),
            "{left:?}"
        );
        let past = deadline(&Context::default(), Duration::from_secs(5));
        assert!(past <= Instant::now());
        let mut far = Context::default();
        far.deadline = u64::MAX;
        let d = deadline(&far, Duration::ZERO);
        assert!(d.saturating_duration_since(Instant::now()) <= MAX_INVOCATION);
        let short = deadline(
            &context_with(Duration::from_secs(1)),
            Duration::from_secs(5),
        );
        assert!(short <= Instant::now());
    }
}
