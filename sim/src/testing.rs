//! Start-up shortcuts for tests that run the simulator in-process: one start time and one
//! stopped-clock configuration for every crate's tests. The collector-side half (tenants and
//! clients pointed at the simulator) is `o365_activity::testing::sim`, which builds on this;
//! it lives there because this crate does not depend on the collector's.

use chrono::{DateTime, Utc};

use crate::config::SimConfig;
use crate::error::SimError;
use crate::graph::GraphConfig;
use crate::scenario::Scenario;

/// 2026-03-01T12:00:00Z in seconds since the epoch.
const T0_SECONDS: i64 = 1_772_366_400;

/// The start time of the tests' stopped clocks: 2026-03-01T12:00:00Z.
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(T0_SECONDS, 0).unwrap_or_default()
}

/// A simulator configuration whose clock stands still at [`t0`] until a test advances it
/// (`SimHandle::advance`); everything else is the default.
pub fn stopped_config() -> SimConfig {
    SimConfig {
        clock_start: t0(),
        clock_speed: 0.0,
        ..SimConfig::default()
    }
}

/// Graph settings whose queries succeed the moment they are submitted, for tests (and runs on
/// a moving clock) that do not exercise the `notStarted` → `running` → `succeeded` polling.
pub fn instant_graph() -> GraphConfig {
    GraphConfig {
        queued: std::time::Duration::ZERO,
        running: std::time::Duration::ZERO,
        ..GraphConfig::default()
    }
}

/// Parses scenario names such as `"throttle"` or `"drop-blob=0.1"`.
pub fn scenarios(names: &[&str]) -> Result<Vec<Scenario>, SimError> {
    names.iter().map(|s| Scenario::parse(s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t0_is_the_first_of_march_at_noon() {
        assert_eq!(t0().to_rfc3339(), "2026-03-01T12:00:00+00:00");
        let c = stopped_config();
        assert_eq!((c.clock_start, c.clock_speed), (t0(), 0.0));
    }

    #[test]
    fn scenarios_parse_or_say_which_is_wrong() {
        assert_eq!(scenarios(&["throttle"]).unwrap().len(), 1);
        assert!(scenarios(&["no-such-scenario"]).is_err());
    }
}
