//! Pure planning: which windows to list, what was lost, which listed blobs to enqueue.
//!
//! The API's rules (spec §4.3): a window is at most 24 hours (we stay strictly below), its
//! start lies no more than 7 days back (we keep a margin, since a start clamped to exactly
//! now − 7 d can be stale on arrival), start < end, and the end is never in the future.
//! Query times are sent with whole seconds, so every boundary here is a whole second.
//!
//! Every `DateTime ± TimeDelta` here is checked: times come from checkpoints, flags and
//! clocks, and a result out of the representable range saturates at its end, which the
//! clamps that follow (to the reach, to now) turn into a legal window or none.

use std::collections::HashSet;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use o365_activity::checkpoint::{saturating_add, saturating_sub};
use o365_activity::ContentListing;

/// How far back the API lists (spec §4.3, §8.3).
pub const API_LOOKBACK: TimeDelta = TimeDelta::days(7);

/// The API's hard limit on a window's length; windows stay strictly below it.
pub const API_MAX_WINDOW: TimeDelta = TimeDelta::hours(24);

/// A listing window `[start, end)` on `contentCreated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

/// The window rules in force, from the lister's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowRules {
    /// Longest window listed (strictly below 24 h).
    pub max_window: TimeDelta,
    /// Kept between `now − 7 d` and the earliest start listed.
    pub lookback_margin: TimeDelta,
    /// How far behind the watermark each run re-lists, for blobs that appear late.
    pub overlap: TimeDelta,
}

/// Truncates to the whole second (query times carry no fraction).
pub fn floor_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::seconds(1)).unwrap_or(t)
}

/// Rounds up to the whole second.
fn ceil_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let f = floor_second(t);
    if f == t {
        f
    } else {
        saturating_add(f, TimeDelta::seconds(1))
    }
}

impl WindowRules {
    /// The earliest start this run may list at `now`: `now − 7 d + margin`, whole seconds.
    pub fn reach_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        ceil_second(saturating_add(
            saturating_sub(now, API_LOOKBACK),
            self.lookback_margin,
        ))
    }

    /// Where listing starts for a checkpoint's watermark: `min(watermark, now) − overlap` (a
    /// watermark ahead of the clock does not stop listing), or the full reach on a first
    /// run, never earlier than the reach.
    pub fn first_start(
        &self,
        watermark: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let reach = self.reach_start(now);
        match watermark {
            Some(w) => floor_second(saturating_sub(w.min(now), self.overlap)).max(reach),
            None => reach,
        }
    }

    /// The window lost for good, `[owed_since, reach_start)`, when the instant blobs are owed
    /// from (the watermark, or the first attempt of a pair that never completed a window, see
    /// `Checkpoint::owed_since`) has fallen behind the API's reach. A first run loses nothing.
    pub fn gap(&self, owed_since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<Window> {
        let w = owed_since?;
        let reach = self.reach_start(now);
        (w < reach).then_some(Window {
            start: w,
            end: reach,
        })
    }

    /// The next window from `cursor` at `now`: start clamped to the reach, at most
    /// `max_window` long, ending at `now` at the latest. `None` when caught up.
    pub fn next_window(&self, cursor: DateTime<Utc>, now: DateTime<Utc>) -> Option<Window> {
        let start = floor_second(cursor).max(self.reach_start(now));
        let end = saturating_add(start, self.max_window).min(floor_second(now));
        (start < end).then_some(Window { start, end })
    }

    /// A planned window as it may be listed at `now`: its start clamped to the reach, its
    /// end to now; `None` when nothing of it is listable any more.
    pub fn clamp(&self, window: Window, now: DateTime<Utc>) -> Option<Window> {
        let start = window.start.max(self.reach_start(now));
        let end = window.end.min(floor_second(now));
        (start < end).then_some(Window { start, end })
    }

    /// Splits an explicit window (replay, backfill) into slices that obey the rules.
    pub fn split(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<Window> {
        let mut out = Vec::new();
        let mut cursor = floor_second(start);
        let end = ceil_second(end);
        while cursor < end {
            let next = saturating_add(cursor, self.max_window).min(end);
            out.push(Window {
                start: cursor,
                end: next,
            });
            cursor = next;
        }
        out
    }
}

/// The blobs of one listing to enqueue, after dropping repeats.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Deduped {
    /// Blobs to send, in listing order.
    pub fresh: Vec<ContentListing>,
    /// Listed entries not sent: the same id twice in the listing, or already sent.
    pub skipped: usize,
}

/// Drops entries whose id appears earlier in the listing or for which `already_sent` holds.
pub fn dedupe(listing: Vec<ContentListing>, already_sent: impl Fn(&str) -> bool) -> Deduped {
    let mut seen = HashSet::new();
    let mut out = Deduped::default();
    for entry in listing {
        if already_sent(&entry.content_id) || !seen.insert(entry.content_id.clone()) {
            out.skipped += 1;
        } else {
            out.fresh.push(entry);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use o365_activity::ContentType;

    fn rules() -> WindowRules {
        WindowRules {
            max_window: TimeDelta::hours(23) + TimeDelta::minutes(59),
            lookback_margin: TimeDelta::minutes(15),
            overlap: TimeDelta::minutes(60),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap() + TimeDelta::milliseconds(750)
    }

    /// Walks windows from the first start to now, as a run does.
    fn walk(watermark: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Vec<Window> {
        let r = rules();
        let mut cursor = r.first_start(watermark, now);
        let mut out = Vec::new();
        while let Some(w) = r.next_window(cursor, now) {
            out.push(w);
            cursor = w.end;
        }
        out
    }

    fn assert_legal(ws: &[Window], now: DateTime<Utc>) {
        for w in ws {
            assert!(w.start < w.end, "{w:?}");
            assert!(w.end - w.start < API_MAX_WINDOW, "{w:?}");
            assert!(w.start >= now - API_LOOKBACK, "{w:?}");
            assert!(w.end <= now, "{w:?}");
            assert_eq!(floor_second(w.start), w.start);
            assert_eq!(floor_second(w.end), w.end);
        }
        for pair in ws.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "windows tile");
        }
    }

    #[test]
    fn first_run_backfills_the_reach_in_legal_slices() {
        let ws = walk(None, now());
        assert_legal(&ws, now());
        assert_eq!(
            ws[0].start,
            now() - API_LOOKBACK + TimeDelta::minutes(15) + TimeDelta::milliseconds(250)
        );
        assert_eq!(ws.last().unwrap().end, floor_second(now()));
        assert_eq!(ws.len(), 7, "7 days less 15 min in 23h59m slices");
        assert_eq!(rules().gap(None, now()), None);
    }

    #[test]
    fn later_runs_relist_the_overlap() {
        let wm = Utc.with_ymd_and_hms(2026, 3, 10, 11, 0, 0).unwrap();
        let ws = walk(Some(wm), now());
        assert_eq!(
            ws,
            vec![Window {
                start: wm - TimeDelta::minutes(60),
                end: floor_second(now())
            }]
        );
        assert_eq!(rules().gap(Some(wm), now()), None);
    }

    #[test]
    fn caught_up_means_no_window() {
        let r = rules();
        assert_eq!(r.next_window(floor_second(now()), now()), None);
        assert_eq!(r.next_window(now() + TimeDelta::hours(1), now()), None);
    }

    #[test]
    fn an_old_watermark_reports_exactly_the_lost_window() {
        let wm = now() - TimeDelta::days(8);
        let gap = rules().gap(Some(wm), now()).unwrap();
        assert_eq!(gap.start, wm);
        assert_eq!(gap.end, rules().reach_start(now()));
        let ws = walk(Some(wm), now());
        assert_legal(&ws, now());
        assert_eq!(ws[0].start, gap.end, "listing resumes where the gap ends");
        // A watermark just inside the reach loses nothing, even with the overlap clamped.
        let inside = rules().reach_start(now()) + TimeDelta::minutes(5);
        assert_eq!(rules().gap(Some(inside), now()), None);
        assert_eq!(
            walk(Some(inside), now())[0].start,
            rules().reach_start(now())
        );
    }

    #[test]
    fn split_keeps_explicit_windows_legal() {
        let end = floor_second(now());
        let start = end - TimeDelta::hours(50);
        let ws = rules().split(start, end);
        assert_legal(&ws, now());
        assert_eq!(ws.len(), 3);
        assert_eq!((ws[0].start, ws[2].end), (start, end));
        assert!(rules().split(end, end).is_empty());
    }

    #[test]
    fn extreme_times_and_durations_do_not_panic() {
        use chrono::NaiveDate;
        // Year ±262143 lies just beyond chrono's range: those become its extremes.
        let far = |y: i32| match NaiveDate::from_ymd_opt(y, 1, 1) {
            Some(d) => d.and_time(chrono::NaiveTime::MIN).and_utc(),
            None if y > 0 => DateTime::<Utc>::MAX_UTC,
            None => DateTime::<Utc>::MIN_UTC,
        };
        let huge = TimeDelta::days(100_000_000_000);
        let wide = WindowRules {
            max_window: huge,
            lookback_margin: huge,
            overlap: huge,
        };
        for r in [rules(), wide] {
            for t in [
                far(262_143),
                far(-262_143),
                DateTime::<Utc>::MAX_UTC,
                DateTime::<Utc>::MIN_UTC,
                now(),
            ] {
                for n in [now(), t] {
                    let _ = r.reach_start(n);
                    let _ = r.first_start(Some(t), n);
                    let _ = r.gap(Some(t), n);
                    let _ = r.next_window(t, n);
                    let _ = r.clamp(Window { start: t, end: n }, n);
                    if r == wide {
                        // (With 24 h slices this range would be a hundred million windows.)
                        let _ = r.split(t.min(n), t.max(n)).len();
                    }
                }
            }
        }
        // A watermark years ahead of the clock lists from now less the overlap.
        let r = rules();
        assert_eq!(
            r.first_start(Some(far(262_143)), now()),
            floor_second(now()) - TimeDelta::minutes(60)
        );
    }

    #[test]
    fn clamp_moves_a_stale_start_to_the_reach() {
        let r = rules();
        let w = Window {
            start: now() - TimeDelta::days(8),
            end: now() - TimeDelta::days(6),
        };
        assert_eq!(r.clamp(w, now()).unwrap().start, r.reach_start(now()));
        let gone = Window {
            start: now() - TimeDelta::days(9),
            end: now() - TimeDelta::days(8),
        };
        assert_eq!(r.clamp(gone, now()), None);
    }

    fn entry(id: &str) -> ContentListing {
        ContentListing {
            content_type: ContentType::Exchange,
            content_id: id.into(),
            content_uri: format!("https://manage.office.com/api/v1.0/t/activity/feed/audit/{id}"),
            content_created: now(),
            content_expiration: now() + TimeDelta::days(7),
        }
    }

    #[test]
    fn dedupe_drops_repeats_and_already_sent() {
        let d = dedupe(vec![entry("a"), entry("b"), entry("a"), entry("c")], |id| {
            id == "c"
        });
        let ids: Vec<&str> = d.fresh.iter().map(|e| e.content_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(d.skipped, 2);
    }
}
