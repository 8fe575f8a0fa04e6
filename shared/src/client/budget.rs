//! The request budget of one tenant (and publisher id) in this process: a token bucket every
//! client of that key shares, so all tasks of a process together stay under the tenant's
//! Management Activity API quota instead of each sending as fast as its concurrency allows.
//!
//! - The rate is the configured ceiling ([`BudgetOptions::rate_per_minute`]); it is never
//!   exceeded (at most `burst + rate × t` requests in any span `t`).
//! - It adapts (AIMD): a throttled answer (AF429, HTTP 429) halves the current rate, at most
//!   once per [`DECREASE_INTERVAL`], down to a floor of 1/[`FLOOR_DIVISOR`] of the ceiling,
//!   empties the bucket, and a `Retry-After` stops every request of the key until it has
//!   passed. After [`BudgetOptions::quiet_period`] without a throttle the rate grows back by a
//!   tenth of the ceiling per [`INCREASE_INTERVAL`].
//! - Listing calls go first: a download waits while any listing call waits, so the listing
//!   cursor keeps moving during a catch-up. Within a class, first come, first served.
//! - A download that would wait longer than [`BudgetOptions::max_download_wait`] is not made:
//!   the caller gets [`super::ClientError::Throttled`] and hands the work back (a fetcher
//!   returns the message to the queue with a visibility delay), so one throttled tenant does
//!   not hold a batch's slots that other tenants could use.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Shortest time between two rate decreases: the throttled answers of requests already in
/// flight belong to the same overload and must not halve the rate again.
pub const DECREASE_INTERVAL: Duration = Duration::from_secs(1);
/// Time between two additive increases once the quiet period has passed.
pub const INCREASE_INTERVAL: Duration = Duration::from_secs(1);
/// The rate never adapts below the ceiling divided by this.
pub const FLOOR_DIVISOR: f64 = 16.0;
/// Share of the ceiling added back per increase.
const INCREASE_SHARE: f64 = 0.1;

/// The documented baseline quota of a tenant, requests per minute (API reference, "API
/// throttling"); every consumer of the tenant and publisher id shares it.
pub const BASELINE_PER_MINUTE: u32 = 2_000;
/// Default ceiling: 90 % of the baseline, leaving room for the other consumers of the tenant.
pub const DEFAULT_RATE_PER_MINUTE: u32 = 1_800;

/// How a process spends a tenant's request budget.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetOptions {
    /// Most requests per minute this process sends per tenant and publisher id.
    pub rate_per_minute: u32,
    /// Requests that may go at once after an idle spell (the bucket's size).
    pub burst: u32,
    /// Longest a download waits for the budget; longer, and it fails as throttled so the
    /// work is handed back. Listing calls wait up to their deadline.
    pub max_download_wait: Duration,
    /// Time without a throttled answer before the rate grows back.
    pub quiet_period: Duration,
}

impl Default for BudgetOptions {
    fn default() -> Self {
        BudgetOptions::per_minute(DEFAULT_RATE_PER_MINUTE)
    }
}

impl BudgetOptions {
    /// A ceiling of `rate` requests per minute with the default burst (one second's worth,
    /// at least 1), a 20 s download wait and a 5 s quiet period.
    pub fn per_minute(rate: u32) -> BudgetOptions {
        BudgetOptions {
            rate_per_minute: rate.max(1),
            burst: (rate / 60).max(1),
            max_download_wait: Duration::from_secs(20),
            quiet_period: Duration::from_secs(5),
        }
    }

    /// This invocation's share of a tenant's rate when up to `processes` processes (Lambda
    /// invocations) spend it at once: `rate / processes` (at least 1 per minute), with the
    /// burst divided alike.
    pub fn share_of(mut self, processes: u32) -> BudgetOptions {
        let n = processes.max(1);
        self.rate_per_minute = (self.rate_per_minute / n).max(1);
        self.burst = (self.burst / n).max(1);
        self
    }
}

/// A budget setting in the environment that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "environment variable {var}={value:?} is invalid: expected a whole number from {min} to {max}"
)]
pub struct BudgetEnvError {
    /// The variable.
    pub var: &'static str,
    /// Its value.
    pub value: String,
    /// Smallest accepted.
    pub min: u32,
    /// Largest accepted.
    pub max: u32,
}

impl BudgetOptions {
    /// Reads `API_RATE_PER_MINUTE` (the tenant's rate, default [`DEFAULT_RATE_PER_MINUTE`])
    /// and `API_BURST` (default one second's worth); with `processes_var`, also that
    /// variable (how many processes spend the rate at once, e.g. `FETCHER_MAX_CONCURRENCY`)
    /// and takes this process's [`BudgetOptions::share_of`] it.
    pub fn from_env(
        env: &dyn Fn(&str) -> Option<String>,
        processes_var: Option<&'static str>,
    ) -> Result<BudgetOptions, BudgetEnvError> {
        let number =
            |var: &'static str, min: u32, max: u32| -> Result<Option<u32>, BudgetEnvError> {
                match env(var)
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                {
                    None => Ok(None),
                    Some(v) => v
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (min..=max).contains(n))
                        .map(Some)
                        .ok_or(BudgetEnvError {
                            var,
                            value: v,
                            min,
                            max,
                        }),
                }
            };
        let rate = number("API_RATE_PER_MINUTE", 1, 1_000_000)?.unwrap_or(DEFAULT_RATE_PER_MINUTE);
        let mut options = BudgetOptions::per_minute(rate);
        if let Some(burst) = number("API_BURST", 1, 1_000_000)? {
            options.burst = burst;
        }
        match processes_var {
            Some(var) => Ok(options.share_of(number(var, 1, 10_000)?.unwrap_or(1))),
            None => Ok(options),
        }
    }
}

/// Which kind of call is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallClass {
    /// Listing, subscriptions: goes first.
    Listing,
    /// Blob downloads.
    Download,
}

/// How a request ended, for the adaptive rate and the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Ok,
    /// AF429 or HTTP 429.
    Throttled,
    /// Any other failure (error answer, network).
    Failed,
}

/// Requests of one key by outcome, and the span they were sent in.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BudgetStats {
    /// Requests answered with success.
    pub ok: u64,
    /// Requests answered AF429 / 429.
    pub throttled: u64,
    /// Requests that failed otherwise.
    pub failed: u64,
    /// Seconds from the first to the last answer counted.
    pub seconds: f64,
    /// The adapted rate at the time of the snapshot, requests per minute.
    pub current_per_minute: f64,
}

impl BudgetStats {
    /// Every request counted.
    pub fn requests(&self) -> u64 {
        self.ok + self.throttled + self.failed
    }

    /// Throttled requests as a share of all (0 when none were made).
    pub fn throttled_share(&self) -> f64 {
        match self.requests() {
            0 => 0.0,
            n => self.throttled as f64 / n as f64,
        }
    }

    /// Requests per minute over the counted span (`None` for a span under a second, where a
    /// rate says nothing).
    pub fn effective_per_minute(&self) -> Option<f64> {
        (self.seconds >= 1.0).then(|| self.requests() as f64 * 60.0 / self.seconds)
    }
}

/// Counters since a moment.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    ok: u64,
    throttled: u64,
    failed: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Counts {
    fn add(&mut self, outcome: Outcome, now: Instant) {
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Throttled => self.throttled += 1,
            Outcome::Failed => self.failed += 1,
        }
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    fn stats(&self, current_per_minute: f64) -> BudgetStats {
        let seconds = match (self.first, self.last) {
            (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        BudgetStats {
            ok: self.ok,
            throttled: self.throttled,
            failed: self.failed,
            seconds,
            current_per_minute,
        }
    }
}

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
}

impl Bucket {
    /// A full bucket at `now`.
    pub(crate) fn new(options: &BudgetOptions, now: Instant) -> Bucket {
        let ceiling = f64::from(options.rate_per_minute.max(1)) / 60.0;
        let burst = f64::from(options.burst.max(1));
        Bucket {
            ceiling,
            burst,
            quiet: options.quiet_period,
            rate: ceiling,
            tokens: burst,
            at: now,
            blocked_until: None,
            last_throttle: None,
            last_decrease: None,
            last_increase: None,
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

/// What waits and what was counted, behind the budget's lock.
#[derive(Debug)]
struct State {
    bucket: Bucket,
    next_ticket: u64,
    listing: VecDeque<u64>,
    downloads: VecDeque<u64>,
    total: Counts,
    interval: Counts,
}

impl State {
    fn queue(&mut self, class: CallClass) -> &mut VecDeque<u64> {
        match class {
            CallClass::Listing => &mut self.listing,
            CallClass::Download => &mut self.downloads,
        }
    }

    /// Requests that go before `ticket`: listing waiters first, then downloads in order.
    fn ahead(&self, class: CallClass, ticket: u64) -> usize {
        let pos = |q: &VecDeque<u64>| q.iter().position(|t| *t == ticket).unwrap_or(q.len());
        match class {
            CallClass::Listing => pos(&self.listing),
            CallClass::Download => self.listing.len() + pos(&self.downloads),
        }
    }

    fn leave(&mut self, class: CallClass, ticket: u64) {
        self.queue(class).retain(|t| *t != ticket);
    }
}

/// One key's budget, shared by every client of the key in this process.
#[derive(Debug)]
pub struct Budget {
    options: BudgetOptions,
    state: Mutex<State>,
    changed: Notify,
}

/// A place in line, given up when the waiting call is dropped (deadline, cancellation).
struct Ticket<'a> {
    budget: &'a Budget,
    class: CallClass,
    ticket: u64,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.budget.lock().leave(self.class, self.ticket);
        self.budget.changed.notify_waiters();
    }
}

impl Budget {
    /// A budget with a full bucket.
    pub fn new(options: BudgetOptions) -> Budget {
        let bucket = Bucket::new(&options, Instant::now());
        Budget {
            options,
            state: Mutex::new(State {
                bucket,
                next_ticket: 0,
                listing: VecDeque::new(),
                downloads: VecDeque::new(),
                total: Counts::default(),
                interval: Counts::default(),
            }),
            changed: Notify::new(),
        }
    }

    /// The budget of `key` in this process, made with `options` by the first client of the
    /// key (later clients share it as it is).
    pub fn shared(key: BudgetKey, options: &BudgetOptions) -> Arc<Budget> {
        static REGISTRY: OnceLock<Mutex<HashMap<BudgetKey, Arc<Budget>>>> = OnceLock::new();
        let registry = REGISTRY.get_or_init(Default::default);
        let mut map = registry.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key)
            .or_insert_with(|| Arc::new(Budget::new(options.clone())))
            .clone()
    }

    /// The options it was made with.
    pub fn options(&self) -> &BudgetOptions {
        &self.options
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for this call's turn. `Err(wait)` when the turn would come after `give_up`: the
    /// call is not made and `wait` says how long the budget needed.
    pub async fn acquire(&self, class: CallClass, give_up: Instant) -> Result<(), Duration> {
        let ticket = {
            let mut st = self.lock();
            st.next_ticket += 1;
            let t = st.next_ticket;
            st.queue(class).push_back(t);
            t
        };
        let place = Ticket {
            budget: self,
            class,
            ticket,
        };
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = Instant::now();
            let due = {
                let mut st = self.lock();
                let ahead = st.ahead(class, ticket);
                match st.bucket.try_take(ahead, now) {
                    Ok(()) => {
                        st.leave(class, ticket);
                        drop(st);
                        std::mem::forget(place);
                        self.changed.notify_waiters();
                        return Ok(());
                    }
                    Err(due) => due,
                }
            };
            if due > give_up {
                return Err(due.saturating_duration_since(now));
            }
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = &mut changed => {}
            }
        }
    }

    /// How long a call of `class` joining the line now would wait (without joining it).
    pub fn estimated_wait(&self, class: CallClass) -> Duration {
        let now = Instant::now();
        let st = self.lock();
        let ahead = match class {
            CallClass::Listing => st.listing.len(),
            CallClass::Download => st.listing.len() + st.downloads.len(),
        };
        match st.bucket.clone().try_take(ahead, now) {
            Ok(()) => Duration::ZERO,
            Err(due) => due.saturating_duration_since(now),
        }
    }

    /// Counts a request's outcome and adapts the rate to it.
    pub fn record(&self, outcome: Outcome, retry_after: Option<Duration>) {
        let now = Instant::now();
        {
            let mut st = self.lock();
            st.total.add(outcome, now);
            st.interval.add(outcome, now);
            if outcome == Outcome::Throttled {
                st.bucket.throttled(retry_after, now);
            }
        }
        if outcome == Outcome::Throttled {
            self.changed.notify_waiters();
        }
    }

    /// Everything counted since the budget was made.
    pub fn stats(&self) -> BudgetStats {
        let st = self.lock();
        st.total.stats(st.bucket.rate() * 60.0)
    }

    /// What was counted since the last call (for one metrics line per batch or run), and
    /// starts a new interval.
    pub fn take_interval(&self) -> BudgetStats {
        let mut st = self.lock();
        let out = st.interval.stats(st.bucket.rate() * 60.0);
        st.interval = Counts::default();
        out
    }
}

/// What a budget is shared by: the API root (cloud, or one simulator), the tenant and the
/// `PublisherIdentifier` (the service's throttling bucket).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BudgetKey {
    /// The API root URL.
    pub api_root: String,
    /// The tenant id.
    pub tenant_id: String,
    /// The publisher id sent.
    pub publisher_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(rate_per_minute: u32, burst: u32) -> BudgetOptions {
        BudgetOptions {
            burst,
            ..BudgetOptions::per_minute(rate_per_minute)
        }
    }

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
        let mut b = Bucket::new(&options(600, 5), t0);
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
        let mut b = Bucket::new(&options(600, 1), t0);
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
        let mut b = Bucket::new(&options(6000, 10), t0);
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
        let mut b = Bucket::new(&options(60, 1), t0);
        // A full bucket still makes a caller with two ahead wait for two more tokens.
        let due = b.try_take(2, t0).unwrap_err();
        assert_eq!(due - t0, Duration::from_secs(2));
        assert_eq!(b.try_take(0, t0), Ok(()));
        assert_eq!(b.try_take(0, t0).unwrap_err() - t0, Duration::from_secs(1));
    }

    #[test]
    fn shares_divide_rate_and_burst() {
        let o = BudgetOptions::per_minute(1800).share_of(4);
        assert_eq!((o.rate_per_minute, o.burst), (450, 7));
        let o = BudgetOptions::per_minute(3).share_of(10);
        assert_eq!((o.rate_per_minute, o.burst), (1, 1));
        assert_eq!(BudgetOptions::per_minute(0).rate_per_minute, 1);
    }

    #[test]
    fn settings_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let o = BudgetOptions::from_env(&env(&[]), Some("FETCHER_MAX_CONCURRENCY")).unwrap();
        assert_eq!((o.rate_per_minute, o.burst), (1800, 30));
        let o = BudgetOptions::from_env(
            &env(&[
                ("API_RATE_PER_MINUTE", "1200"),
                ("API_BURST", "40"),
                ("FETCHER_MAX_CONCURRENCY", "4"),
            ]),
            Some("FETCHER_MAX_CONCURRENCY"),
        )
        .unwrap();
        assert_eq!((o.rate_per_minute, o.burst), (300, 10));
        let o = BudgetOptions::from_env(&env(&[("FETCHER_MAX_CONCURRENCY", "4")]), None).unwrap();
        assert_eq!(o.rate_per_minute, 1800, "the lister spends the whole rate");
        for bad in [
            &[("API_RATE_PER_MINUTE", "0")][..],
            &[("API_BURST", "x")],
            &[("FETCHER_MAX_CONCURRENCY", "-1")],
        ] {
            let e =
                BudgetOptions::from_env(&env(bad), Some("FETCHER_MAX_CONCURRENCY")).unwrap_err();
            assert_eq!(e.var, bad[0].0);
        }
    }

    #[test]
    fn stats_count_by_outcome() {
        let s = BudgetStats {
            ok: 97,
            throttled: 2,
            failed: 1,
            seconds: 30.0,
            current_per_minute: 600.0,
        };
        assert_eq!(s.requests(), 100);
        assert!((s.throttled_share() - 0.02).abs() < 1e-12);
        assert_eq!(s.effective_per_minute(), Some(200.0));
        assert_eq!(BudgetStats::default().throttled_share(), 0.0);
        assert_eq!(BudgetStats::default().effective_per_minute(), None);
    }

    #[tokio::test]
    async fn listing_goes_before_waiting_downloads() {
        // 600/min, burst 1: one request every 100 ms.
        let budget = Arc::new(Budget::new(options(600, 1)));
        let far = Instant::now() + Duration::from_secs(30);
        budget.acquire(CallClass::Download, far).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..3 {
            let (b, o) = (budget.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                b.acquire(CallClass::Download, far).await.unwrap();
                o.lock().unwrap().push(format!("d{i}"));
            }));
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (b, o) = (budget.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            b.acquire(CallClass::Listing, far).await.unwrap();
            o.lock().unwrap().push("list".to_owned());
        }));
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        assert_eq!(order.first().map(String::as_str), Some("list"), "{order:?}");
    }

    #[tokio::test]
    async fn a_wait_past_the_give_up_time_is_refused_and_leaves_the_line() {
        let budget = Budget::new(options(60, 1));
        let now = Instant::now();
        budget
            .acquire(CallClass::Download, now + Duration::from_secs(5))
            .await
            .unwrap();
        budget.record(Outcome::Throttled, Some(Duration::from_secs(30)));
        let wait = budget
            .acquire(CallClass::Download, now + Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(wait >= Duration::from_secs(29), "{wait:?}");
        assert!(
            budget.lock().downloads.is_empty(),
            "the refused call left the line"
        );
        assert!(budget.estimated_wait(CallClass::Download) >= Duration::from_secs(29));
        let s = budget.stats();
        assert_eq!((s.ok, s.throttled, s.failed), (0, 1, 0));
        assert_eq!(budget.take_interval().throttled, 1);
        assert_eq!(budget.take_interval().throttled, 0);
        assert_eq!(budget.stats().throttled, 1);
    }

    #[test]
    fn one_budget_per_key() {
        let key = |t: &str| BudgetKey {
            api_root: "http://127.0.0.1:9/".into(),
            tenant_id: t.into(),
            publisher_id: "p".into(),
        };
        let a = Budget::shared(key("budget-test-a"), &options(60, 1));
        let a2 = Budget::shared(key("budget-test-a"), &options(6000, 9));
        let b = Budget::shared(key("budget-test-b"), &options(60, 1));
        assert!(Arc::ptr_eq(&a, &a2));
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(
            a2.options().rate_per_minute,
            60,
            "the first client's options stay"
        );
    }
}
