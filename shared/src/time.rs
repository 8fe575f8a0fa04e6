//! Time formats of the API: zone-less record times, listing times, query parameters.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// A timestamp string that none of the accepted forms could read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable timestamp {0:?}: expected YYYY-MM-DDTHH:MM:SS with optional fraction and optional Z or offset")]
pub struct BadTimestamp(pub String);

/// Parses a record time (`CreationTime` and friends): zone-less means UTC; also accepts a
/// fraction, `Z`, an offset, a space instead of `T`, and a bare date.
pub fn parse_record_time(s: &str) -> Result<DateTime<Utc>, BadTimestamp> {
    let t = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(n.and_utc());
        }
    }
    // Offsets without a colon (`+0000`) and `Z` after a space form.
    if let Ok(dt) = DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Ok(dt.with_timezone(&Utc));
    }
    if let Some(stripped) = t.strip_suffix('Z').or_else(|| t.strip_suffix('z')) {
        if let Ok(n) = NaiveDateTime::parse_from_str(stripped, "%Y-%m-%d %H:%M:%S%.f") {
            return Ok(n.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(n) = d.and_hms_opt(0, 0, 0) {
            return Ok(n.and_utc());
        }
    }
    Err(BadTimestamp(s.to_owned()))
}

/// Formats a time as RFC 3339 UTC with `Z`, keeping sub-second digits only when present.
pub fn format_rfc3339_z(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Formats a time as the listing does: milliseconds and `Z` (`2026-01-01T10:21:26.942Z`).
pub fn format_listing_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Formats a `startTime`/`endTime` query value in the safest documented form
/// (`YYYY-MM-DDTHH:MM:SS`, UTC, no suffix).
pub fn format_query_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Serde adapter for listing timestamps (milliseconds, `Z`) that reads any accepted form.
pub mod listing_format {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the listing form.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_listing_time(*t))
    }

    /// Reads RFC 3339 or a zone-less UTC time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::parse_record_time(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn reads_the_forms_seen_in_feeds() {
        let want = Utc.with_ymd_and_hms(2026, 3, 1, 4, 41, 7).unwrap();
        for s in [
            "2026-03-01T04:41:07",
            "2026-03-01T04:41:07Z",
            "2026-03-01T04:41:07.000Z",
            "2026-03-01T04:41:07.0000000",
            "2026-03-01T05:41:07+01:00",
            "2026-03-01T05:41:07+0100",
            "2026-03-01 04:41:07",
            " 2026-03-01T04:41:07 ",
        ] {
            assert_eq!(parse_record_time(s).unwrap(), want, "{s}");
        }
        assert_eq!(
            parse_record_time("2026-03-01").unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "yesterday",
            "2026-13-01T00:00:00",
            "2026-03-01T25:00:00",
            "1700000000",
        ] {
            assert!(parse_record_time(s).is_err(), "{s}");
        }
    }

    #[test]
    fn formats() {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 10, 21, 26).unwrap()
            + chrono::Duration::milliseconds(942);
        assert_eq!(format_listing_time(t), "2026-01-01T10:21:26.942Z");
        assert_eq!(format_query_time(t), "2026-01-01T10:21:26");
        assert_eq!(format_rfc3339_z(t), "2026-01-01T10:21:26.942Z");
        let whole = Utc.with_ymd_and_hms(2026, 1, 1, 10, 21, 26).unwrap();
        assert_eq!(format_rfc3339_z(whole), "2026-01-01T10:21:26Z");
    }
}
