//! The simulated clock: starts at a chosen time, runs at a chosen speed, and can be jumped.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// Simulated time shared by every part of the simulator.
#[derive(Debug)]
pub struct SimClock {
    inner: Mutex<Anchor>,
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    sim: DateTime<Utc>,
    real: Instant,
    speed: f64,
}

impl Anchor {
    fn now(&self) -> DateTime<Utc> {
        let real = self.real.elapsed().as_secs_f64() * self.speed;
        let micros = (real * 1_000_000.0).min(i64::MAX as f64 / 2.0) as i64;
        self.sim + chrono::Duration::microseconds(micros)
    }
}

impl SimClock {
    /// A clock showing `start` now and advancing `speed` simulated seconds per real second.
    pub fn new(start: DateTime<Utc>, speed: f64) -> Self {
        Self {
            inner: Mutex::new(Anchor {
                sim: start,
                real: Instant::now(),
                speed,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Anchor> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Current simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        self.lock().now()
    }

    /// Simulated seconds per real second.
    pub fn speed(&self) -> f64 {
        self.lock().speed
    }

    /// Jumps the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut a = self.lock();
        let now = a.now();
        a.sim = now + chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX / 2);
        a.real = Instant::now();
    }

    /// Sets the clock to `t` (it keeps running from there).
    pub fn set(&self, t: DateTime<Utc>) {
        let mut a = self.lock();
        a.sim = t;
        a.real = Instant::now();
    }

    /// Changes the speed from now on.
    pub fn set_speed(&self, speed: f64) {
        let mut a = self.lock();
        a.sim = a.now();
        a.real = Instant::now();
        a.speed = speed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stopped_clock_only_moves_when_told() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let c = SimClock::new(t0, 0.0);
        assert_eq!(c.now(), t0);
        c.advance(Duration::from_secs(3600));
        assert_eq!(c.now(), t0 + chrono::Duration::hours(1));
        c.set(t0);
        assert_eq!(c.now(), t0);
    }
}
