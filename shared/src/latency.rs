//! Per-record latency: how long each record took from its event (`CreationTime`) to the blob
//! that carries it becoming available (`contentCreated`), and from there to being stored.
//! Kept as a compact histogram so percentiles hold for any number of records with bounded
//! memory, merged across blobs for run summaries and turned into EMF values for CloudWatch.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// Seconds below this are kept exactly; above, to three significant digits (≤ 0.5 % off), so
/// a histogram holds at most a few thousand distinct values whatever the spread.
const EXACT_BELOW: u64 = 1000;

/// Rounds a latency in whole seconds to its histogram bucket.
fn bucket(secs: u64) -> u64 {
    if secs < EXACT_BELOW {
        return secs;
    }
    let mut step = 1u64;
    while secs / step >= EXACT_BELOW {
        step = step.saturating_mul(10);
    }
    // Round half up to a multiple of `step`; `secs + step / 2` cannot overflow for a step
    // that is at most secs / 100.
    (secs.saturating_add(step / 2) / step).saturating_mul(step)
}

/// Whole seconds from `from` to `to`; an interval that runs backwards (clock skew: an event
/// stamped after its blob) counts as 0, as CloudWatch takes no percentiles of negative values.
pub fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    let ms = to.signed_duration_since(from).num_milliseconds();
    u64::try_from(ms.saturating_add(500) / 1000).unwrap_or(0)
}

/// A histogram of latencies in whole seconds: value → number of records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: BTreeMap<u64, u64>,
}

impl LatencyHistogram {
    /// A histogram of `records` records that all waited `secs` seconds.
    pub fn constant(secs: u64, records: u64) -> LatencyHistogram {
        let mut h = LatencyHistogram::default();
        h.add(secs, records);
        h
    }

    /// Counts `n` records that waited `secs` seconds.
    pub fn add(&mut self, secs: u64, n: u64) {
        if n > 0 {
            let c = self.counts.entry(bucket(secs)).or_default();
            *c = c.saturating_add(n);
        }
    }

    /// Adds every record of `other`.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (v, n) in &other.counts {
            let c = self.counts.entry(*v).or_default();
            *c = c.saturating_add(*n);
        }
    }

    /// Records counted.
    pub fn count(&self) -> u64 {
        self.counts.values().fold(0u64, |a, n| a.saturating_add(*n))
    }

    /// The `q` quantile (0 < q ≤ 1) by nearest rank: the smallest value at least a fraction
    /// `q` of the records do not exceed. `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0u64;
        self.counts.iter().find_map(|(v, n)| {
            seen = seen.saturating_add(*n);
            (seen >= rank).then_some(*v)
        })
    }

    /// The largest value.
    pub fn max(&self) -> Option<u64> {
        self.counts.keys().next_back().copied()
    }

    /// Every record's value, ascending (a value appears once per record).
    pub fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.counts
            .iter()
            .flat_map(|(v, n)| std::iter::repeat_n(*v, usize::try_from(*n).unwrap_or(usize::MAX)))
    }

    /// The median, p95, p99 and largest value, for summaries; `None` when empty.
    pub fn percentiles(&self) -> Option<Percentiles> {
        Some(Percentiles {
            records: self.count(),
            p50: self.quantile(0.50)?,
            p95: self.quantile(0.95)?,
            p99: self.quantile(0.99)?,
            max: self.max()?,
        })
    }
}

/// The figures a summary prints of one latency, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Percentiles {
    /// Records counted.
    pub records: u64,
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Serialize for LatencyHistogram {
    /// As its percentiles (or `null` when empty): what a JSON summary needs.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.percentiles().serialize(s)
    }
}

/// Both per-record latencies of one blob, or of many merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordLatency {
    /// `CreationTime` → the blob's `contentCreated`, per record with a readable event time.
    pub event_to_available: LatencyHistogram,
    /// The blob's `contentCreated` → stored, once per record.
    pub available_to_stored: LatencyHistogram,
}

impl RecordLatency {
    /// Adds every record of `other`.
    pub fn merge(&mut self, other: &RecordLatency) {
        self.event_to_available.merge(&other.event_to_available);
        self.available_to_stored.merge(&other.available_to_stored);
    }
}

impl Serialize for RecordLatency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("RecordLatency", 2)?;
        st.serialize_field("event_to_available_seconds", &self.event_to_available)?;
        st.serialize_field("available_to_stored_seconds", &self.available_to_stored)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn buckets_are_exact_then_three_significant_digits() {
        for (s, b) in [
            (0, 0),
            (999, 999),
            (1000, 1000),
            (1004, 1000),
            (1005, 1010),
            (12_345, 12_300),
            (604_800, 605_000),
            (u64::MAX, bucket(u64::MAX)),
        ] {
            assert_eq!(bucket(s), b, "{s}");
        }
        let mut h = LatencyHistogram::default();
        for s in 0..2_000_000u64 {
            h.add(s, 1);
        }
        assert!(h.counts.len() < 4000, "{}", h.counts.len());
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.quantile(0.5), None);
        for s in 1..=100 {
            h.add(s, 1);
        }
        assert_eq!(h.quantile(0.5), Some(50));
        assert_eq!(h.quantile(0.95), Some(95));
        assert_eq!(h.quantile(0.99), Some(99));
        assert_eq!(h.quantile(1.0), Some(100));
        assert_eq!(h.max(), Some(100));
        let mut other = LatencyHistogram::constant(500, 900);
        other.merge(&h);
        assert_eq!(other.count(), 1000);
        assert_eq!(other.quantile(0.05), Some(50));
        assert_eq!(other.quantile(0.5), Some(500));
        assert_eq!(other.values().count(), 1000);
        assert!(other
            .values()
            .zip(other.values().skip(1))
            .all(|(a, b)| a <= b));
    }

    #[test]
    fn backwards_intervals_count_as_zero() {
        let a = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let b = Utc.with_ymd_and_hms(2026, 3, 1, 0, 1, 0).unwrap();
        assert_eq!(seconds_between(a, b), 60);
        assert_eq!(seconds_between(b, a), 0);
        assert_eq!(
            seconds_between(a, a + chrono::Duration::milliseconds(1499)),
            1
        );
    }

    #[test]
    fn serializes_as_percentiles() {
        let l = RecordLatency {
            event_to_available: LatencyHistogram::constant(7, 3),
            available_to_stored: LatencyHistogram::default(),
        };
        assert_eq!(
            serde_json::to_value(&l).unwrap(),
            serde_json::json!({
                "event_to_available_seconds": {"records": 3, "p50": 7, "p95": 7, "p99": 7, "max": 7},
                "available_to_stored_seconds": null
            })
        );
    }
}
