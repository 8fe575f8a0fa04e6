//! The token bucket of a budget with its adaptive rate (AIMD): pure arithmetic on instants,
//! so its behaviour is tested without waiting.

use std::time::Duration;

use tokio::time::Instant;

use super::BudgetOptions;

/// Shortest time between two rate decreases: the throttled answers of requests already in
/// flight belong to the same overload and must not halve the rate again.
pub const DECREASE_INTERVAL: Duration = Duration::from_secs(1);
/// Time between two additive increases once the quiet period has passed.
pub const INCREASE_INTERVAL: Duration = Duration::from_secs(1);
/// Idle time (between a paused budget's uses) that still earns tokens: the gap between two
/// batches of a busy queue, not a spell with nothing to do.
pub const IDLE_GRACE: Duration = Duration::from_millis(250);
/// The rate never adapts below the ceiling divided by this.
pub const FLOOR_DIVISOR: f64 = 16.0;
/// Share of the ceiling added back per increase.
const INCREASE_SHARE: f64 = 0.1;

/// The token bucket with its adaptive rate: pure arithmetic on instants, so its behaviour
/// is tested without waiting.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    ceiling: f64,
    burst: f64,
    quiet: Duration,
    rate: f64,
    tokens: f64,
    at: Instant,
    blocked_until: Option<Instant>,
    last_throttle: Option<Instant>,
    last_decrease: Option<Instant>,
    last_increase: Option<Instant>,
    /// Since when nothing uses the bucket, and how much of that idle time still earns.
    paused: Option<(Instant, Duration)>,
}

impl Bucket {
    /// A bucket at `now`, full or empty as the options say.
    pub(crate) fn new(options: &BudgetOptions, now: Instant) -> Bucket {
        let ceiling = f64::from(options.rate_per_minute.max(1)) / 60.0;
        let burst = f64::from(options.burst.max(1));
        Bucket {
            ceiling,
            burst,
            quiet: options.quiet_period,
            rate: ceiling,
            tokens: if options.starts_full { burst } else { 0.0 },
            at: now,
            blocked_until: None,
            last_throttle: None,
            last_decrease: None,
            last_increase: None,
            // A share earns nothing before its first use, not even a grace: no batch came
            // before it, and the service's bucket holds no more than the lister left there.
            paused: (!options.starts_full).then_some((now, Duration::ZERO)),
        }
    }

    /// Nothing of the process uses the budget from `now` on: an idle spell earns tokens for
    /// [`IDLE_GRACE`] only, or while work it handed back is owed its share, when later.
    pub(crate) fn pause(&mut self, now: Instant) {
        self.advance(now);
        self.paused = Some((now, IDLE_GRACE));
    }

    /// In use again at `now`; `owed` is until when work it handed back is owed its share
    /// (that work comes back to be served: the time until it earns tokens).
    pub(crate) fn resume(&mut self, now: Instant, owed: Option<Instant>) {
        let Some((paused_at, grace)) = self.paused.take() else {
            return;
        };
        let grace_end = paused_at.checked_add(grace).unwrap_or(paused_at);
        let earns_until = owed.map_or(grace_end, |b| b.max(grace_end));
        if now > earns_until {
            self.advance(earns_until);
            self.at = self.at.max(now);
        }
    }

    /// Requests per second now allowed.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// Brings the bucket to `now`: the rate recovers when quiet, tokens accrue.
    fn advance(&mut self, now: Instant) {
        if now <= self.at {
            return;
        }
        self.recover(now);
        let elapsed = now.duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
    }

    /// Additive increase: once `quiet` has passed since the last throttle, a tenth of the
    /// ceiling per `INCREASE_INTERVAL`, up to the ceiling.
    fn recover(&mut self, now: Instant) {
        if self.rate >= self.ceiling {
            return;
        }
        let Some(quiet_from) = self.last_throttle.and_then(|t| t.checked_add(self.quiet)) else {
            self.rate = self.ceiling;
            return;
        };
        if now < quiet_from {
            return;
        }
        let from = self.last_increase.map_or(quiet_from, |i| i.max(quiet_from));
        let steps = (now.duration_since(from).as_secs_f64() / INCREASE_INTERVAL.as_secs_f64())
            .floor()
            .min(1.0 / INCREASE_SHARE);
        if steps >= 1.0 {
            self.rate = (self.rate + steps * INCREASE_SHARE * self.ceiling).min(self.ceiling);
            self.last_increase = from.checked_add(INCREASE_INTERVAL.mul_f64(steps));
        }
    }

    /// Takes `ahead + 1` tokens' turn: `Ok` when a request may go now (one token taken), else
    /// the instant it is due with `ahead` requests before it.
    pub(crate) fn try_take(&mut self, ahead: usize, now: Instant) -> Result<(), Instant> {
        self.advance(now);
        let start = match self.blocked_until {
            Some(b) if b > now => b,
            _ => now,
        };
        // Float sums of elapsed × rate fall a hair short of whole tokens: allow for it.
        if start == now && ahead == 0 && self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            return Ok(());
        }
        let missing = (ahead as f64 + 1.0 - self.tokens).max(0.0);
        let wait = Duration::from_secs_f64(missing / self.rate.max(f64::MIN_POSITIVE))
            .max(Duration::from_micros(1));
        // An overflow means "later than anything": the furthest representable wait.
        Err(start
            .checked_add(wait)
            .unwrap_or_else(|| start + Duration::from_secs(86_400)))
    }

    /// A throttled answer at `now`: halve the rate (once per interval), empty the bucket, and
    /// stop until `retry_after` has passed when the service said so.
    pub(crate) fn throttled(&mut self, retry_after: Option<Duration>, now: Instant) {
        self.advance(now);
        self.last_throttle = Some(now);
        self.last_increase = None;
        let due = self
            .last_decrease
            .and_then(|d| d.checked_add(DECREASE_INTERVAL))
            .is_none_or(|next| now >= next);
        if due {
            self.rate = (self.rate / 2.0).max(self.ceiling / FLOOR_DIVISOR);
            self.last_decrease = Some(now);
        }
        self.tokens = self.tokens.min(0.0);
        if let Some(until) = retry_after.and_then(|d| now.checked_add(d)) {
            self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    /// Drives one greedy sender through the bucket on simulated time from `from` for `span`:
    /// sends as soon as allowed; every `throttle_every`-th answer (0 = never) is throttled.
    /// Returns the send instants.
    fn drive(
        b: &mut Bucket,
        from: Instant,
        span: Duration,
        throttle_at: &dyn Fn(Instant) -> Option<Option<Duration>>,
    ) -> Vec<Instant> {
        let mut now = from;
        let end = from + span;
        let mut sent = Vec::new();
        while now < end {
            match b.try_take(0, now) {
                Ok(()) => {
                    sent.push(now);
                    if let Some(retry_after) = throttle_at(now) {
                        b.throttled(retry_after, now);
                    }
                }
                Err(due) => {
                    assert!(due > now, "a refusal names a later instant");
                    now = due;
                }
            }
        }
        sent
    }

    /// The most requests sent in any window of `w` starting at a send.
    fn max_in_window(sent: &[Instant], w: Duration) -> usize {
        let mut best = 0;
        let mut j = 0;
        for i in 0..sent.len() {
            while j < sent.len() && sent[j] < sent[i] + w {
                j += 1;
            }
            best = best.max(j - i);
        }
        best
    }

    #[test]
    fn never_exceeds_the_rate_plus_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(&BudgetOptions::per_minute(600).with_burst(5), t0);
        let sent = drive(&mut b, t0, Duration::from_secs(60), &|_| None);
        // 10/s for 60 s, plus the burst of 5 at the start.
        assert!((604..=605).contains(&sent.len()), "{}", sent.len());
        for secs in [1, 5, 30] {
            let w = Duration::from_secs(secs);
            let most = max_in_window(&sent, w);
            assert!(most <= 10 * secs as usize + 5, "{most} in {secs} s");
        }
        // After the burst, no two sends are closer than 1/rate (within float rounding).
        for pair in sent[6..].windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(99), "{pair:?}");
        }
    }

    #[test]
    fn backs_off_on_throttling_and_recovers_after_a_quiet_period() {
        let t0 = Instant::now();
        let mut b = Bucket::new(&BudgetOptions::per_minute(600).with_burst(1), t0);
        let ceiling = b.rate();
        // Throttled answers during the first 10 s, then none.
        let storm_end = t0 + Duration::from_secs(10);
        let sent = drive(&mut b, t0, Duration::from_secs(40), &|now| {
            (now < storm_end).then_some(None)
        });
        let in_span = |a: u64, z: u64| {
            sent.iter()
                .filter(|s| **s >= t0 + Duration::from_secs(a) && **s < t0 + Duration::from_secs(z))
                .count()
        };
        // Halved once per second: 10/s, 5, 2.5, ... down to the floor of 10/16 per second.
        let storm = in_span(0, 10);
        assert!(
            storm < 30,
            "backed off during the storm: {storm} sends in 10 s"
        );
        assert!(in_span(5, 10) <= 5, "at the floor: {}", in_span(5, 10));
        // Quiet for 5 s, then +1/s each second: back at the ceiling by 25 s.
        assert!(in_span(10, 15) <= 5, "no recovery before the quiet period");
        let recovered = in_span(30, 40);
        assert!(
            (99..=101).contains(&recovered),
            "full rate again after the quiet period: {recovered}"
        );
        assert!(
            (b.rate() - ceiling).abs() < 1e-9,
            "{} vs {ceiling}",
            b.rate()
        );
        // Never over the ceiling, storm or not.
        assert!(max_in_window(&sent, Duration::from_secs(1)) <= 11);
        assert!(max_in_window(&sent, Duration::from_secs(10)) <= 101);
    }

    #[test]
    fn retry_after_stops_every_request_until_it_passed() {
        let t0 = Instant::now();
        let mut b = Bucket::new(&BudgetOptions::per_minute(6000).with_burst(10), t0);
        assert_eq!(b.try_take(0, t0), Ok(()));
        b.throttled(Some(Duration::from_secs(3)), t0);
        let due = b.try_take(0, t0 + Duration::from_secs(1)).unwrap_err();
        assert!(due >= t0 + Duration::from_secs(3), "{:?}", due - t0);
        // One decrease per interval: a second throttle right away leaves the rate alone.
        let halved = b.rate();
        b.throttled(None, t0 + Duration::from_millis(10));
        assert_eq!(b.rate(), halved);
        b.throttled(None, t0 + Duration::from_secs(2));
        assert_eq!(b.rate(), halved / 2.0);
        // The rate never goes under the floor.
        for s in 3..40 {
            b.throttled(None, t0 + Duration::from_secs(s));
        }
        assert!((b.rate() - 100.0 / FLOOR_DIVISOR).abs() < 1e-9);
    }

    #[test]
    fn waiters_ahead_push_the_due_time_back() {
        let t0 = Instant::now();
        let mut b = Bucket::new(&BudgetOptions::per_minute(60).with_burst(1), t0);
        // A full bucket still makes a caller with two ahead wait for two more tokens.
        let due = b.try_take(2, t0).unwrap_err();
        assert_eq!(due - t0, Duration::from_secs(2));
        assert_eq!(b.try_take(0, t0), Ok(()));
        assert_eq!(b.try_take(0, t0).unwrap_err() - t0, Duration::from_secs(1));
    }

    #[test]
    fn a_paused_bucket_earns_nothing_until_resumed() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut b = Bucket::new(&BudgetOptions::per_minute(60).with_burst(5).share_of(1), t0);
        let ms = Duration::from_millis;
        // Idle between invocations for a minute: a grace's worth of tokens (a quarter), no burst.
        b.pause(t0);
        b.resume(t0 + s(60), None);
        assert_eq!(b.try_take(0, t0 + s(60)).unwrap_err(), t0 + ms(60_750));
        // Time in use earns as before: 3 s in use, then idle (0.25 + 3 + 0.25 tokens).
        b.pause(t0 + s(63));
        b.resume(t0 + s(100), None);
        for _ in 0..3 {
            assert_eq!(b.try_take(0, t0 + s(100)), Ok(()));
        }
        assert_eq!(b.try_take(0, t0 + s(100)).unwrap_err(), t0 + ms(100_500));
        // A gap shorter than the grace earns in full (0.5 + 2 tokens by 102 s).
        b.pause(t0 + s(101));
        b.resume(t0 + ms(101_100), None);
        for _ in 0..2 {
            assert_eq!(b.try_take(0, t0 + s(102)), Ok(()));
        }
        assert_eq!(b.try_take(0, t0 + s(102)).unwrap_err(), t0 + ms(102_500));
        // Work handed back and booked up to 105 s comes back: the bucket earns until then.
        b.pause(t0 + s(102));
        b.resume(t0 + s(200), Some(t0 + s(105)));
        for _ in 0..3 {
            assert_eq!(b.try_take(0, t0 + s(200)), Ok(()));
        }
        assert_eq!(b.try_take(0, t0 + s(200)).unwrap_err(), t0 + ms(200_500));
    }

    #[test]
    fn a_share_earns_nothing_before_its_first_use() {
        // A fetcher process warm before a catch-up, idle while the lister spends the tenant's
        // burst: its first batch starts from nothing (before, a grace of 0.25 s earned a
        // quarter token, and four processes starting together overdrew the service's bucket).
        let t0 = Instant::now();
        let mut b = Bucket::new(&BudgetOptions::per_minute(60).with_burst(5).share_of(1), t0);
        b.resume(t0 + Duration::from_secs(60), None);
        assert_eq!(
            b.try_take(0, t0 + Duration::from_secs(60)).unwrap_err(),
            t0 + Duration::from_secs(61)
        );
    }

    #[test]
    fn an_invocation_share_starts_empty_and_earns_its_rate() {
        let t0 = Instant::now();
        let share = BudgetOptions::per_minute(600).with_burst(8).share_of(2);
        let mut b = Bucket::new(&share, t0);
        assert_eq!(
            b.try_take(0, t0).unwrap_err() - t0,
            Duration::from_millis(200)
        );
        let sent = drive(&mut b, t0, Duration::from_secs(10), &|_| None);
        // 5/s from the start, no burst: at most 50 in 10 s, the first after 200 ms.
        assert!((49..=50).contains(&sent.len()), "{}", sent.len());
        assert!(max_in_window(&sent, Duration::from_secs(1)) <= 5);
    }
}
