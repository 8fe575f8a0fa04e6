//! Time windows given on the command line, planned with the lister's own window rules
//! ([`o365_lister::plan::WindowRules`], the same margins as a run): clipped to the reach and
//! sliced below 24 hours here, and each slice clamped again to the reach when the lister
//! lists it (a long backfill does not lose its oldest slice to the clock moving on).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use o365_activity::checkpoint::saturating_sub;
use o365_activity::time::parse_record_time;
use o365_lister::plan::WindowRules;
use o365_lister::ListerSettings;

/// The lister's window rules at their defaults (the CLI changes only the overlap).
fn rules() -> WindowRules {
    ListerSettings::default().window_rules()
}

/// A half-open time window `[start, end)` in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

/// A window that cannot be listed; the message says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// Not `START..END`.
    #[error("bad window {0:?}: write START..END, e.g. 2026-03-01T00:00:00Z..2026-03-01T06:00:00Z or 2026-03-01..2026-03-02")]
    Syntax(String),
    /// End not after start.
    #[error("the window {0} ends before it starts: swap START and END")]
    Empty(String),
    /// Entirely outside the API's reach.
    #[error("the window {0} is entirely older than 7 days: the API can no longer list it (and its blobs have expired)")]
    OutOfReach(String),
    /// Neither `--window` nor `--last`.
    #[error("give a window: --window START..END or --last DURATION (e.g. --last 6h)")]
    Missing,
}

impl FromStr for Window {
    type Err = WindowError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s
            .split_once("..")
            .ok_or_else(|| WindowError::Syntax(s.to_owned()))?;
        let start = parse_record_time(a).map_err(|_| WindowError::Syntax(s.to_owned()))?;
        let end = parse_record_time(b).map_err(|_| WindowError::Syntax(s.to_owned()))?;
        if end <= start {
            return Err(WindowError::Empty(s.to_owned()));
        }
        Ok(Window { start, end })
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}..{}",
            o365_activity::time::format_rfc3339_z(self.start),
            o365_activity::time::format_rfc3339_z(self.end)
        )
    }
}

impl Window {
    /// The window from `--window` or `--last`, ending no later than `now`.
    pub fn from_args(
        window: Option<Window>,
        last: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Result<Window, WindowError> {
        match (window, last) {
            (Some(w), _) => Ok(w),
            (None, Some(d)) => {
                // Longer than representable: as long as can be (clipped to the reach later).
                let d = TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
                Ok(Window {
                    start: saturating_sub(now, d),
                    end: now,
                })
            }
            (None, None) => Err(WindowError::Missing),
        }
    }

    /// Clips the window to what the API can list at `now`, as the lister plans it: not
    /// before its reach (`now − 7 days` plus its lookback margin), not after `now`.
    pub fn clip_to_reach(self, now: DateTime<Utc>) -> Result<Window, WindowError> {
        let planned = o365_lister::plan::Window {
            start: self.start,
            end: self.end,
        };
        rules()
            .clamp(planned, now)
            .map(|w| Window {
                start: w.start,
                end: w.end,
            })
            .ok_or_else(|| WindowError::OutOfReach(self.to_string()))
    }

    /// Consecutive slices shorter than 24 hours covering the window (the lister's split).
    pub fn slices(self) -> Vec<Window> {
        rules()
            .split(self.start, self.end)
            .into_iter()
            .map(|w| Window {
                start: w.start,
                end: w.end,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap()
    }

    #[test]
    fn parses_windows() {
        let w: Window = "2026-03-01T00:00:00Z..2026-03-01T06:00:00Z"
            .parse()
            .unwrap();
        assert_eq!((w.start, w.end), (t(1, 0), t(1, 6)));
        let w: Window = "2026-03-01..2026-03-03".parse().unwrap();
        assert_eq!((w.start, w.end), (t(1, 0), t(3, 0)));
        assert!(matches!(
            "2026-03-01".parse::<Window>(),
            Err(WindowError::Syntax(_))
        ));
        assert!(matches!(
            "2026-03-02..2026-03-01".parse::<Window>(),
            Err(WindowError::Empty(_))
        ));
    }

    #[test]
    fn extreme_durations_and_times_do_not_panic() {
        let huge = Duration::from_secs(100_000_000_000 * 86_400);
        let w = Window::from_args(None, Some(huge), t(2, 12)).unwrap();
        let clipped = w.clip_to_reach(t(2, 12)).unwrap();
        assert_eq!(clipped.start, rules().reach_start(t(2, 12)));
        let far = Window {
            start: DateTime::<Utc>::MIN_UTC,
            end: DateTime::<Utc>::MAX_UTC,
        };
        assert!(far.clip_to_reach(t(2, 12)).is_ok());
        assert!(Window::from_args(None, Some(Duration::MAX), DateTime::<Utc>::MIN_UTC).is_ok());
    }

    #[test]
    fn last_and_missing() {
        let w = Window::from_args(None, Some(Duration::from_secs(6 * 3600)), t(2, 12)).unwrap();
        assert_eq!((w.start, w.end), (t(2, 6), t(2, 12)));
        assert_eq!(
            Window::from_args(None, None, t(2, 12)),
            Err(WindowError::Missing)
        );
    }

    #[test]
    fn clips_and_slices() {
        let now = t(9, 0);
        let w = Window {
            start: t(1, 0),
            end: t(10, 0),
        }
        .clip_to_reach(now)
        .unwrap();
        assert_eq!(w.end, now);
        assert_eq!(w.start, rules().reach_start(now), "the lister's own margin");
        let s = w.slices();
        assert_eq!(s.len(), 7);
        assert!(s.iter().all(|x| x.end - x.start < TimeDelta::hours(24)));
        assert_eq!(s.first().unwrap().start, w.start);
        assert_eq!(s.last().unwrap().end, w.end);
        assert!(s.windows(2).all(|p| p[0].end == p[1].start));
        let old = Window {
            start: t(1, 0),
            end: t(1, 6),
        };
        assert!(matches!(
            old.clip_to_reach(now),
            Err(WindowError::OutOfReach(_))
        ));
    }
}
