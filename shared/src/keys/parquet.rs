//! The compacted layout: Parquet parts by event date, and the compaction state of each pair.
//!
//! ```text
//! <prefix>/parquet/tenant_id=<t>/content_type=<ct>/event_date=<YYYY-MM-DD>/part-<NNNNN>.parquet
//! <prefix>/_compact/tenant_id=<t>/content_type=<ct>/state.json
//! ```
//!
//! `event_date` is the date of the record's `CreationTime` (UTC), not of its blob; parts of a
//! date are numbered from 0 and only the last one grows (see `o365-compact`).

use chrono::NaiveDate;

use super::parse::{date_in, pair_of};
use super::{KeyLayout, ObjectKey, PairKey};

/// One Parquet part of one event date of one pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParquetKey {
    /// The pair.
    pub pair: PairKey,
    /// `event_date=`: the records' event date (UTC).
    pub event_date: NaiveDate,
    /// The part number within the date, from 0.
    pub part: u32,
}

impl ParquetKey {
    pub(super) fn render(&self) -> String {
        format!(
            "parquet/{}/event_date={}/part-{:05}.parquet",
            pair_segments(&self.pair),
            self.event_date.format("%Y-%m-%d"),
            self.part
        )
    }

    pub(super) fn parse(parts: &[&str]) -> Option<ParquetKey> {
        let [t, ct, date, name] = parts else {
            return None;
        };
        let part = name
            .strip_prefix("part-")?
            .strip_suffix(".parquet")?
            .parse()
            .ok()?;
        Some(ParquetKey {
            pair: pair_of(t, ct)?,
            event_date: date_in(date, "event_date")?,
            part,
        })
    }
}

pub(super) fn pair_segments(p: &PairKey) -> String {
    format!("tenant_id={}/content_type={}", p.tenant_id, p.content_type)
}

impl KeyLayout {
    /// Key of one Parquet part.
    pub fn parquet_key(&self, key: &ParquetKey) -> String {
        self.key(&ObjectKey::Parquet(key.clone()))
    }

    /// Prefix of the Parquet parts of one pair and event date (for listing them).
    pub fn parquet_date_prefix(&self, pair: &PairKey, event_date: NaiveDate) -> String {
        self.join(&format!(
            "parquet/{}/event_date={}/",
            pair_segments(pair),
            event_date.format("%Y-%m-%d")
        ))
    }

    /// Prefix of all Parquet output (the Glue table's location).
    pub fn parquet_root(&self) -> String {
        self.join("parquet/")
    }

    /// Key of a pair's compaction state.
    pub fn compact_state_key(&self, pair: &PairKey) -> String {
        self.key(&ObjectKey::CompactState(pair.clone()))
    }

    /// Prefix of the stored blobs of one pair and blob date (`dt=`), for listing one day.
    pub fn data_date_prefix(&self, pair: &PairKey, date: NaiveDate) -> String {
        format!(
            "{}dt={}/",
            self.data_prefix(&pair.tenant_id, pair.content_type),
            date.format("%Y-%m-%d")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ContentType;

    fn pair() -> PairKey {
        PairKey {
            tenant_id: "11111111-2222-3333-4444-555555555555".parse().unwrap(),
            content_type: ContentType::Exchange,
        }
    }

    #[test]
    fn parquet_and_state_keys_round_trip() {
        let layout = KeyLayout::new("o365");
        let pk = ParquetKey {
            pair: pair(),
            event_date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            part: 7,
        };
        let key = layout.parquet_key(&pk);
        assert_eq!(
            key,
            "o365/parquet/tenant_id=11111111-2222-3333-4444-555555555555/content_type=Audit.Exchange/event_date=2026-03-01/part-00007.parquet"
        );
        assert_eq!(layout.parse(&key), Some(ObjectKey::Parquet(pk.clone())));
        assert!(key.starts_with(&layout.parquet_date_prefix(&pk.pair, pk.event_date)));
        assert!(key.starts_with(&layout.parquet_root()));
        let state = layout.compact_state_key(&pair());
        assert_eq!(
            state,
            "o365/_compact/tenant_id=11111111-2222-3333-4444-555555555555/content_type=Audit.Exchange/state.json"
        );
        assert_eq!(layout.parse(&state), Some(ObjectKey::CompactState(pair())));
        assert_eq!(ObjectKey::Parquet(pk).pair(), Some(pair()));
    }

    #[test]
    fn foreign_parquet_names_are_not_ours() {
        let layout = KeyLayout::new("o365");
        let base = "o365/parquet/tenant_id=11111111-2222-3333-4444-555555555555/content_type=Audit.Exchange";
        for bad in [
            format!("{base}/event_date=2026-03-01/part-7.parquet"),
            format!("{base}/event_date=2026-13-01/part-00007.parquet"),
            format!("{base}/dt=2026-03-01/part-00007.parquet"),
            format!("{base}/event_date=2026-03-01/other.parquet"),
        ] {
            assert_eq!(layout.parse(&bad), None, "{bad}");
        }
    }
}
