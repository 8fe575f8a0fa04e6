//! Time and identifier formats used on the wire (§4.3, §7.1, §13).
//!
//! Deliberate duplicate of parts of `o365_activity::time` (shared/src/time.rs): the simulator
//! writes the wire formats from the API reference on its own, so the collector's parsers are
//! tested against an independent writer.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// `2026-01-01T10:21:26.942Z`: listing timestamps (`contentCreated`, `contentExpiration`).
pub fn listing(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `2026-01-01T10:21:26`: record timestamps, UTC without a zone designator.
pub fn record(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The 23-digit content-id timestamp: `yyyyMMddHHmmss`, milliseconds, then a 6-digit sequence.
pub fn id_token(t: DateTime<Utc>, seq: u32) -> String {
    format!("{}{:06}", t.format("%Y%m%d%H%M%S%3f"), seq % 1_000_000)
}

/// Parses `startTime`/`endTime`: the documented forms plus RFC 3339 with `Z`, offset or fraction.
pub fn parse_query_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = s.strip_suffix('Z').unwrap_or(s);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(naive, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// True for the 8-4-4-4-12 hexadecimal GUID form.
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8usize, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `8m 46s`: the remaining-wait text of the start cool-down message.
pub fn minutes_seconds(secs: i64) -> String {
    let secs = secs.max(0);
    format!("{}m {}s", secs / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_match_the_wire() {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 5, 9, 2).unwrap()
            + chrono::Duration::milliseconds(115);
        assert_eq!(listing(t), "2026-03-01T05:09:02.115Z");
        assert_eq!(record(t), "2026-03-01T05:09:02");
        assert_eq!(id_token(t, 207), "20260301050902115000207");
        assert_eq!(id_token(t, 207).len(), 23);
    }

    #[test]
    fn parses_documented_and_rfc3339_forms() {
        let want = Utc.with_ymd_and_hms(2026, 3, 1, 6, 0, 0).unwrap();
        for s in [
            "2026-03-01T06:00",
            "2026-03-01T06:00:00",
            "2026-03-01T06:00:00Z",
            "2026-03-01T06:00:00.000Z",
            "2026-03-01T07:00:00+01:00",
        ] {
            assert_eq!(parse_query_time(s), Some(want), "{s}");
        }
        assert_eq!(
            parse_query_time("2026-03-01"),
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).single()
        );
        assert_eq!(parse_query_time("yesterday"), None);
    }

    #[test]
    fn guid_check() {
        assert!(is_guid("00000000-0000-0000-0000-000000000001"));
        assert!(!is_guid("contoso.onmicrosoft.com"));
        assert!(!is_guid("00000000-0000-0000-0000-00000000000g"));
    }
}
