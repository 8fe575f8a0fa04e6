//! The time source of the handlers: the system clock in AWS, the simulator's clock in tests.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// A source of "now", cheap to clone.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(Utc::now))
    }

    /// Any function, e.g. `move || sim.now()` to follow o365-sim's simulated clock.
    pub fn from_fn(f: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    /// A clock frozen at one instant (unit tests).
    pub fn fixed(t: DateTime<Utc>) -> Clock {
        Clock(Arc::new(move || t))
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn fixed_and_fn() {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(Clock::fixed(t).now(), t);
        assert_eq!(Clock::from_fn(move || t).now(), t);
        assert!(Clock::system().now() > t);
    }
}
