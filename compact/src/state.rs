//! What was compacted, per pair: the content ids of the stored blobs already in the Parquet
//! output, by blob date (`dt=`), and the date before which every blob is compacted
//! (`sealed_before`). Saved with a conditional write after each batch, so a crash repeats at
//! most one batch (harmless: merging skips ids a part already has) and two compactors cannot
//! both move it.
//!
//! A blob date can still receive blobs as long as the API serves them (7 days after
//! `contentCreated`), so a date is sealed only when a run that saw it fully compacted started
//! [`SEAL_AFTER_DAYS`] days after it; its ids are then dropped, which keeps the state small.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Version of the state format.
pub const STATE_FORMAT_VERSION: u32 = 1;

/// Days after a blob date's start when no new blob can arrive under it any more (the API's
/// 7-day reach, one day for the date itself, and one of margin).
pub const SEAL_AFTER_DAYS: i64 = 9;

/// The compaction state of one pair.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactState {
    /// [`STATE_FORMAT_VERSION`].
    pub format_version: u32,
    /// Every blob under an earlier `dt=` is compacted; those dates are not listed again.
    pub sealed_before: Option<NaiveDate>,
    /// Compacted content ids by blob date, for the dates not sealed yet.
    pub done: BTreeMap<NaiveDate, BTreeSet<String>>,
}

impl CompactState {
    /// A state with nothing compacted.
    pub fn new() -> CompactState {
        CompactState {
            format_version: STATE_FORMAT_VERSION,
            ..CompactState::default()
        }
    }

    /// Whether the blob `content_id` under `date` is already compacted.
    pub fn is_done(&self, date: NaiveDate, content_id: &str) -> bool {
        self.sealed_before.is_some_and(|s| date < s)
            || self.done.get(&date).is_some_and(|d| d.contains(content_id))
    }

    /// Records a compacted blob.
    pub fn mark(&mut self, date: NaiveDate, content_id: &str) {
        self.done
            .entry(date)
            .or_default()
            .insert(content_id.to_owned());
    }

    /// After a run that compacted everything it listed, started at `run_start`: seals every
    /// date old enough (no blob can arrive under it any more).
    pub fn seal(&mut self, run_start: DateTime<Utc>) {
        let Some(limit) = run_start
            .date_naive()
            .checked_sub_signed(TimeDelta::days(SEAL_AFTER_DAYS - 1))
        else {
            return;
        };
        if self.sealed_before.is_some_and(|s| s >= limit) {
            return;
        }
        self.sealed_before = Some(limit);
        self.done = self.done.split_off(&limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, day).unwrap()
    }

    #[test]
    fn seals_only_dates_no_blob_can_reach() {
        let mut s = CompactState::new();
        s.mark(d(1), "a");
        s.mark(d(5), "b");
        s.mark(d(12), "c");
        let start = d(12).and_hms_opt(6, 0, 0).unwrap().and_utc();
        // 12 − 9 + 1 = 4: dates before the 4th are sealed, later ones kept.
        s.seal(start);
        assert_eq!(s.sealed_before, Some(d(4)));
        assert!(s.is_done(d(1), "anything"));
        assert!(s.is_done(d(5), "b") && !s.is_done(d(5), "x"));
        assert_eq!(s.done.keys().copied().collect::<Vec<_>>(), [d(5), d(12)]);
        // It never moves back (a clock behind), and moves on with time.
        s.seal(d(10).and_hms_opt(0, 0, 0).unwrap().and_utc());
        assert_eq!(s.sealed_before, Some(d(4)));
        s.seal(d(14).and_hms_opt(0, 0, 0).unwrap().and_utc());
        assert_eq!(s.sealed_before, Some(d(6)));
        assert!(!s.is_done(d(12), "x"));
    }
}
