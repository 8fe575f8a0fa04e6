//! The lister's tuning: overlap, window size, lookback margin, concurrency, lease, deadline.

use std::time::Duration;

use chrono::TimeDelta;
use o365_activity::checkpoint::CheckpointPolicy;
use o365_activity::ContentType;

use crate::plan::{WindowRules, API_LOOKBACK, API_MAX_WINDOW};

/// How far behind the watermark each run re-lists by default (60 min): the SAM parameter
/// `OverlapMinutes`, `OVERLAP_MINUTES` and `o365ctl run --overlap` all default to it.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(60 * 60);

/// How the lister runs; [`Default`] is the production setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListerSettings {
    /// Bucket prefix of the key layout (default [`o365_activity::bootstrap::DEFAULT_PREFIX`]).
    pub prefix: String,
    /// How far behind the watermark each run re-lists, so blobs that appear late are found
    /// (default [`DEFAULT_OVERLAP`]). Re-listed blobs already sent are not sent again.
    pub overlap: Duration,
    /// How long sent content ids are remembered behind the watermark (default 6 h, never less
    /// than `overlap`): the API may list a blob again hours later under a newer
    /// `contentCreated`, and a remembered id is not sent twice.
    pub dedupe_horizon: Duration,
    /// Longest listing window; must stay strictly below 24 h (default 23 h 59 m).
    pub max_window: Duration,
    /// Margin kept inside the API's 7-day reach (default 15 min).
    pub lookback_margin: Duration,
    /// How many tenant × content type pairs are worked on at once (default 8).
    pub concurrency: usize,
    /// How long a claim on a pair lasts without renewal; longer than one invocation
    /// (default 16 min: Lambda's 15-minute ceiling plus a minute).
    pub lease_duration: Duration,
    /// No new window starts when less than this remains before the deadline (default 20 s).
    pub deadline_margin: Duration,
    /// Collect only these content types (intersected with each tenant's own list).
    pub content_types: Option<Vec<ContentType>>,
    /// Wait after a subscription start before starting it again (API rule: 15 min).
    pub start_cooldown: Duration,
    /// A watermark further ahead of the clock than this is reported (log,
    /// `WatermarkAheadSeconds`, status); listing goes on from `min(watermark, now)`
    /// (default 5 min).
    pub clock_tolerance: Duration,
    /// Runs in a row without progress (neither watermark nor page cursor moved) after which
    /// a pair is reported stalled (`PairStalled`, status; default 3).
    pub stall_runs: u32,
    /// A pair with no watermark this long after its first attempt is reported stalled
    /// (default 6 h).
    pub stall_after: Duration,
    /// How often the reach sweep re-lists each pair's 7 days to enqueue blobs listed but not
    /// stored, e.g. blobs that appeared later than the overlap (default 6 h).
    pub sweep_period: Duration,
}

impl Default for ListerSettings {
    fn default() -> Self {
        ListerSettings {
            prefix: o365_activity::bootstrap::DEFAULT_PREFIX.to_owned(),
            overlap: DEFAULT_OVERLAP,
            dedupe_horizon: Duration::from_secs(6 * 3600),
            max_window: Duration::from_secs(23 * 3600 + 59 * 60),
            lookback_margin: Duration::from_secs(15 * 60),
            concurrency: 8,
            lease_duration: Duration::from_secs(16 * 60),
            deadline_margin: Duration::from_secs(20),
            content_types: None,
            start_cooldown: Duration::from_secs(15 * 60),
            clock_tolerance: Duration::from_secs(5 * 60),
            stall_runs: 3,
            stall_after: Duration::from_secs(6 * 3600),
            sweep_period: Duration::from_secs(6 * 3600),
        }
    }
}

/// A setting outside what the API or the lister can work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid lister setting {name}: {problem}")]
pub struct SettingsError {
    /// The setting.
    pub name: &'static str,
    /// What is wrong and what to use instead.
    pub problem: String,
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl ListerSettings {
    /// Checks every setting against the API's rules.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |name, problem: &str| {
            Err(SettingsError {
                name,
                problem: problem.to_owned(),
            })
        };
        if self.max_window < Duration::from_secs(60) || delta(self.max_window) >= API_MAX_WINDOW {
            return bad(
                "max_window",
                "must be at least 1 minute and strictly below 24 hours (the API rejects 24 h windows); use 23h59m",
            );
        }
        if delta(self.lookback_margin) >= TimeDelta::days(1) {
            return bad("lookback_margin", "must be below 1 day; use 15 minutes");
        }
        if delta(self.overlap) >= API_LOOKBACK {
            return bad(
                "overlap",
                "must be below the API's 7-day reach; 60 minutes is usual, a few hours for late tenants",
            );
        }
        if delta(self.dedupe_horizon) >= API_LOOKBACK {
            return bad(
                "dedupe_horizon",
                "must be below the API's 7-day reach; use 6 hours",
            );
        }
        if self.concurrency == 0 {
            return bad("concurrency", "must be at least 1");
        }
        if self.lease_duration < Duration::from_secs(1) {
            return bad(
                "lease_duration",
                "must be positive and longer than one invocation; use 16 minutes on Lambda",
            );
        }
        Ok(())
    }

    /// The window rules these settings imply.
    pub fn window_rules(&self) -> WindowRules {
        WindowRules {
            max_window: delta(self.max_window),
            lookback_margin: delta(self.lookback_margin),
            overlap: delta(self.overlap),
        }
    }

    /// The checkpoint policy these settings imply.
    pub fn checkpoint_policy(&self) -> CheckpointPolicy {
        CheckpointPolicy {
            retention: delta(self.overlap.max(self.dedupe_horizon)),
            lease_duration: delta(self.lease_duration),
        }
    }

    /// The clock tolerance as a time span.
    pub fn clock_tolerance_delta(&self) -> TimeDelta {
        delta(self.clock_tolerance)
    }

    /// The stall time for a pair without watermark as a time span.
    pub fn stall_after_delta(&self) -> TimeDelta {
        delta(self.stall_after)
    }

    /// The start cooldown as a time span.
    pub fn start_cooldown_delta(&self) -> TimeDelta {
        delta(self.start_cooldown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        ListerSettings::default().validate().unwrap();
        let r = ListerSettings::default().window_rules();
        assert_eq!(r.overlap, TimeDelta::minutes(60));
        assert!(r.max_window < API_MAX_WINDOW);
    }

    #[test]
    fn rejects_what_the_api_would() {
        let cases = [
            (
                ListerSettings {
                    max_window: Duration::from_secs(24 * 3600),
                    ..Default::default()
                },
                "max_window",
            ),
            (
                ListerSettings {
                    overlap: Duration::from_secs(8 * 86400),
                    ..Default::default()
                },
                "overlap",
            ),
            (
                ListerSettings {
                    concurrency: 0,
                    ..Default::default()
                },
                "concurrency",
            ),
            (
                ListerSettings {
                    lease_duration: Duration::ZERO,
                    ..Default::default()
                },
                "lease_duration",
            ),
        ];
        for (s, name) in cases {
            assert_eq!(s.validate().unwrap_err().name, name);
        }
    }
}
