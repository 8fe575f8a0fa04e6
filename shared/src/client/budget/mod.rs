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
//! - A download that would wait longer than its caller allows
//!   ([`BudgetOptions::max_download_wait`], or the fetcher's wait for a batch) is not made:
//!   the caller gets [`super::ClientError::Throttled`] and hands the work back (a fetcher
//!   sends the message back to the queue with a delay), so one throttled tenant does not
//!   hold a batch's slots that other tenants could use.
//! - A process that is one of many spending a tenant's rate (a fetcher invocation) starts
//!   with an empty bucket ([`BudgetOptions::starts_full`]).
//!
//! `bucket.rs` holds the token bucket and its adaptive rate, `options.rs` the settings,
//! `stats.rs` the counters by outcome.

mod bucket;
mod options;
mod stats;

pub use bucket::{DECREASE_INTERVAL, FLOOR_DIVISOR, IDLE_GRACE, INCREASE_INTERVAL};
pub use options::{
    BudgetOptions, BASELINE_PER_MINUTE, DEFAULT_RATE_PER_MINUTE, MAX_DOWNLOAD_WAIT,
    MAX_RATE_PER_MINUTE,
};
pub use stats::BudgetStats;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use bucket::Bucket;
use stats::Counts;

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
/// What waits and what was counted, behind the budget's lock.
#[derive(Debug)]
struct State {
    bucket: Bucket,
    next_ticket: u64,
    listing: VecDeque<u64>,
    downloads: VecDeque<u64>,
    total: Counts,
    interval: Counts,
    /// The last turn booked for work handed back ([`Budget::book_later`]).
    booked: Option<Instant>,
    /// Until when this process's share is owed the work it handed back: a token's time of
    /// the share per message, from when each could go ([`Budget::book_later`]).
    owed_until: Option<Instant>,
    /// Batches using the budget now ([`Budget::in_use`]).
    users: usize,
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

    /// When a call of `class` joining the line at `now` would go (without joining it).
    fn due(&self, class: CallClass, now: Instant) -> Instant {
        let ahead = match class {
            CallClass::Listing => self.listing.len(),
            CallClass::Download => self.listing.len() + self.downloads.len(),
        };
        self.bucket
            .clone()
            .try_take(ahead, now)
            .err()
            .unwrap_or(now)
    }

    /// In use again at `now` (a paused share earns for the idle spell as [`Bucket::resume`]
    /// says, given until when work it handed back is owed its share).
    fn resume(&mut self, now: Instant) {
        let owed = self.owed_until;
        self.bucket.resume(now, owed);
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
    /// A budget whose bucket starts full or empty as [`BudgetOptions::starts_full`] says.
    pub fn new(options: BudgetOptions) -> Budget {
        let now = Instant::now();
        let bucket = Bucket::new(&options, now);
        Budget {
            options,
            state: Mutex::new(State {
                bucket,
                next_ticket: 0,
                listing: VecDeque::new(),
                downloads: VecDeque::new(),
                total: Counts::default(),
                interval: Counts::default(),
                booked: None,
                owed_until: None,
                users: 0,
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
                if st.users == 0 {
                    // Used without [`Budget::in_use`]: in use while it is called.
                    st.resume(now);
                }
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
        self.lock().due(class, now).saturating_duration_since(now)
    }

    /// Marks the budget in use until the guard is dropped. A budget that is a share of the
    /// tenant's rate ([`BudgetOptions::starts_full`] unset: a fetcher invocation's) earns
    /// tokens only while in use (and for [`IDLE_GRACE`] after, or while its part of the work
    /// it handed back is still to come back, [`Budget::book_later`]): a warm process idle
    /// between invocations, frozen or waiting for the queue, does not save up a burst that
    /// it and the other invocations would all spend at once when work arrives, on top of
    /// the lister's. Other budgets (the lister's, `o365ctl`'s) earn all the time; for them
    /// this does nothing.
    pub fn in_use(self: &Arc<Self>) -> InUse {
        if !self.options.starts_full {
            let mut st = self.lock();
            if st.users == 0 {
                st.resume(Instant::now());
            }
            st.users += 1;
        }
        InUse {
            budget: self.clone(),
        }
    }

    /// Books a later turn for a download handed back now (a throttled message sent back to
    /// the queue with a delay) and returns the wait until it. The first booking is due when a
    /// download joining the line now would go; each further one a token's time of the
    /// tenant's rate after the one before (the share's rate times
    /// [`BudgetOptions::processes`]: the work returns to a queue every process reads), so
    /// work handed back together, or batch after batch, comes back spread at the rate
    /// instead of all at once (where all but a burst's worth would be handed back again). A
    /// booking takes no token: work already here goes first. A share keeps earning, idle or
    /// not, for a token of its own rate per booking: the processes serve the work that comes
    /// back together, whichever of them it comes back to.
    pub fn book_later(&self) -> Duration {
        let now = Instant::now();
        let mut st = self.lock();
        let earliest = st.due(CallClass::Download, now);
        let share_rate = st.bucket.rate().max(1.0 / 3600.0);
        let tenant_rate = share_rate * f64::from(self.options.processes.max(1));
        let step = Duration::from_secs_f64(1.0 / tenant_rate);
        let at = match st.booked {
            Some(last) if last >= earliest => last.checked_add(step).unwrap_or(last),
            _ => earliest,
        };
        st.booked = Some(at);
        // Whichever process the work comes back to, the processes serve it together: this
        // share keeps earning for its part of it.
        let owed_from = st.owed_until.map_or(earliest, |o| o.max(earliest));
        st.owed_until = Some(
            owed_from
                .checked_add(Duration::from_secs_f64(1.0 / share_rate))
                .unwrap_or(owed_from),
        );
        at.saturating_duration_since(now)
    }

    /// Requests per second allowed now (the adapted rate).
    pub fn rate_per_second(&self) -> f64 {
        self.lock().bucket.rate()
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

/// A budget marked in use ([`Budget::in_use`]); dropping it ends the use.
#[derive(Debug)]
pub struct InUse {
    budget: Arc<Budget>,
}

impl Drop for InUse {
    fn drop(&mut self) {
        if !self.budget.options.starts_full {
            let mut st = self.budget.lock();
            st.users = st.users.saturating_sub(1);
            if st.users == 0 {
                st.bucket.pause(Instant::now());
            }
        }
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

    #[tokio::test]
    async fn listing_goes_before_waiting_downloads() {
        // 600/min, burst 1: one request every 100 ms.
        let budget = Arc::new(Budget::new(BudgetOptions::per_minute(600).with_burst(1)));
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
        let budget = Budget::new(BudgetOptions::per_minute(60).with_burst(1));
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

    #[tokio::test]
    async fn a_share_books_at_the_tenants_rate_and_earns_for_its_part() {
        // One of four processes sharing 240/min, burst 20: 60/min and 5 tokens each, empty
        // at first.
        let budget = Arc::new(Budget::new(
            BudgetOptions::per_minute(240).with_burst(20).share_of(4),
        ));
        let booked: Vec<f64> = {
            let _in_use = budget.in_use();
            (0..4).map(|_| budget.book_later().as_secs_f64()).collect()
        };
        // The work goes back to the queue all four read: it comes back at the tenant's rate
        // (a quarter of a second apart), not at this share's (a second apart), where it
        // would trickle back long after the other processes ran out of work.
        for (i, b) in booked.iter().enumerate() {
            let want = 1.0 + 0.25 * i as f64;
            assert!((b - want).abs() < 0.05, "booking {i}: {b} s, want {want} s");
        }
        // Idle now, the share still earns for its part of that work: four tokens of its own
        // rate from the first turn (until 5 s), not only until the last turn (1.75 s).
        tokio::time::sleep(Duration::from_secs(3)).await;
        let _in_use = budget.in_use();
        let soon = Instant::now() + Duration::from_millis(10);
        for i in 0..3 {
            assert!(
                budget.acquire(CallClass::Download, soon).await.is_ok(),
                "download {i}: the share earned while its work was away"
            );
        }
    }

    #[tokio::test]
    async fn work_handed_back_is_booked_at_the_rate_not_all_at_once() {
        // 60/min, burst 2, full: two downloads may go now, then one a second.
        let budget = Budget::new(BudgetOptions::per_minute(60).with_burst(2));
        let far = Instant::now() + Duration::from_secs(30);
        budget.acquire(CallClass::Download, far).await.unwrap();
        budget.acquire(CallClass::Download, far).await.unwrap();
        let booked: Vec<f64> = (0..4).map(|_| budget.book_later().as_secs_f64()).collect();
        // The first booking is when a download joining now would go (1 s), each next one a
        // token's time later.
        for (i, b) in booked.iter().enumerate() {
            let want = 1.0 + i as f64;
            assert!((b - want).abs() < 0.05, "booking {i}: {b} s, want {want} s");
        }
        // Bookings take no token: a download arriving now waits only for the bucket.
        let wait = budget.estimated_wait(CallClass::Download).as_secs_f64();
        assert!((wait - 1.0).abs() < 0.05, "{wait}");
        // Once the bookings are in the past, the next starts from the bucket again.
        let fresh = Budget::new(BudgetOptions::per_minute(60).with_burst(2));
        assert_eq!(fresh.book_later(), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_share_earns_only_while_in_use() {
        // 10/s, burst 50, starting empty.
        let budget = Arc::new(Budget::new(
            BudgetOptions::per_minute(600).with_burst(50).share_of(1),
        ));
        // Idle for a second before its first batch: nothing saved up, not even a grace's
        // worth (the lister may have just spent the tenant's burst).
        tokio::time::sleep(Duration::from_secs(1)).await;
        let use1 = budget.in_use();
        let soon = Instant::now() + Duration::from_millis(10);
        assert!(
            budget.acquire(CallClass::Download, soon).await.is_err(),
            "nothing earned before the first use"
        );
        // In use, it earns its rate up to the burst.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(budget.estimated_wait(CallClass::Download), Duration::ZERO);
        drop(use1);
        // A download outside any batch still gets its turn.
        let far = Instant::now() + Duration::from_secs(5);
        budget.acquire(CallClass::Download, far).await.unwrap();
    }

    #[test]
    fn one_budget_per_key() {
        let key = |t: &str| BudgetKey {
            api_root: "http://127.0.0.1:9/".into(),
            tenant_id: t.into(),
            publisher_id: "p".into(),
        };
        let a = Budget::shared(
            key("budget-test-a"),
            &BudgetOptions::per_minute(60).with_burst(1),
        );
        let a2 = Budget::shared(
            key("budget-test-a"),
            &BudgetOptions::per_minute(6000).with_burst(9),
        );
        let b = Budget::shared(
            key("budget-test-b"),
            &BudgetOptions::per_minute(60).with_burst(1),
        );
        assert!(Arc::ptr_eq(&a, &a2));
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(
            a2.options().rate_per_minute,
            60,
            "the first client's options stay"
        );
    }
}
