//! The `bad-listing-entries` scenario: listing entries written the way a careless or changed
//! service might write them. Whether a blob's entries are odd, and how, depends only on the
//! seed and its content id: every listing of the blob shows the same fault, so a test can tell
//! in advance which blobs a collector can still fetch ([`EntryFault::fetchable`]).

use chrono::{DateTime, Utc};

use crate::content_type::ContentType;
use crate::scenario::{Rate, Scenario, ScenarioKind};
use crate::timefmt;

/// How one blob's listing entries are spoiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryFault {
    /// `contentType` in lower case (`audit.general`).
    ContentTypeCase,
    /// No `contentExpiration`.
    NoExpiration,
    /// Both dates without a zone (`2026-03-01T05:09:02.115`).
    ZonelessDates,
    /// Both dates in the US form .NET prints (`3/1/2026 5:09:02 AM`).
    UsDates,
    /// Not a JSON object: the content id alone, as a string.
    NotAnObject,
    /// An object without `contentUri`.
    NoContentUri,
}

impl EntryFault {
    /// Every fault, in the order they are dealt out.
    pub const ALL: [EntryFault; 6] = [
        EntryFault::ContentTypeCase,
        EntryFault::NoExpiration,
        EntryFault::ZonelessDates,
        EntryFault::UsDates,
        EntryFault::NotAnObject,
        EntryFault::NoContentUri,
    ];

    /// Whether the entry still names the blob and where to get it (content id and URI).
    pub fn fetchable(self) -> bool {
        !matches!(self, EntryFault::NotAnObject | EntryFault::NoContentUri)
    }
}

/// The fault of `content_id`'s listing entries under `scenarios` (with `seed`), if any.
pub fn entry_fault(seed: u64, scenarios: &[Scenario], content_id: &str) -> Option<EntryFault> {
    let rate = scenarios
        .iter()
        .find(|s| s.kind == ScenarioKind::BadListingEntries)?
        .rate;
    let h = hash(seed, content_id);
    let hit = match rate {
        Rate::Probability(p) => ((h >> 11) as f64 / (1u64 << 53) as f64) < p,
        Rate::EveryNth(n) => h.is_multiple_of(n.max(1)),
        Rate::Value(_) | Rate::On => true,
    };
    // The kind from a second, independent hash, so every kind is as likely among the hits.
    let kinds = EntryFault::ALL.len() as u64;
    hit.then(|| EntryFault::ALL[(hash(seed ^ 0x6b1d_c0de, content_id) % kinds) as usize])
}

/// FNV-1a of the seed and the id, then a splitmix finaliser.
fn hash(seed: u64, content_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.to_le_bytes().iter().chain(content_id.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// One listing entry, as JSON text, with `fault` applied.
pub(crate) fn render_entry(
    fault: Option<EntryFault>,
    ct: ContentType,
    content_id: &str,
    content_uri: String,
    created: DateTime<Utc>,
    expiration: DateTime<Utc>,
) -> String {
    let us = |t: DateTime<Utc>| t.format("%-m/%-d/%Y %-I:%M:%S %p").to_string();
    let zoneless = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string();
    let (created, expiration) = match fault {
        Some(EntryFault::UsDates) => (us(created), us(expiration)),
        Some(EntryFault::ZonelessDates) => (zoneless(created), zoneless(expiration)),
        _ => (timefmt::listing(created), timefmt::listing(expiration)),
    };
    let content_type = match fault {
        Some(EntryFault::ContentTypeCase) => ct.as_str().to_ascii_lowercase(),
        _ => ct.as_str().to_owned(),
    };
    let mut entry = serde_json::json!({
        "contentType": content_type,
        "contentId": content_id,
        "contentUri": content_uri,
        "contentCreated": created,
        "contentExpiration": expiration,
    });
    if let Some(obj) = entry.as_object_mut() {
        match fault {
            Some(EntryFault::NoExpiration) => {
                obj.remove("contentExpiration");
            }
            Some(EntryFault::NoContentUri) => {
                obj.remove("contentUri");
            }
            _ => {}
        }
    }
    if fault == Some(EntryFault::NotAnObject) {
        entry = serde_json::Value::String(content_id.to_owned());
    }
    entry.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn faults_follow_the_id_and_the_rate() {
        let on = [Scenario::parse("bad-listing-entries=0.5").unwrap()];
        let ids: Vec<String> = (0..600).map(|i| format!("blob{i}")).collect();
        let faults: Vec<Option<EntryFault>> =
            ids.iter().map(|id| entry_fault(3, &on, id)).collect();
        let again: Vec<Option<EntryFault>> = ids.iter().map(|id| entry_fault(3, &on, id)).collect();
        assert_eq!(faults, again, "the same id always gets the same fault");
        let hit = faults.iter().flatten().count();
        assert!((200..400).contains(&hit), "about half: {hit}");
        for kind in EntryFault::ALL {
            assert!(faults.contains(&Some(kind)), "{kind:?} dealt out");
        }
        assert_eq!(
            entry_fault(3, &[], "blob1"),
            None,
            "off without the scenario"
        );
        let every = [Scenario::parse("bad-listing-entries=every:1").unwrap()];
        assert!(ids.iter().all(|id| entry_fault(3, &every, id).is_some()));
    }

    #[test]
    fn renders_each_fault() {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 17, 9, 2).unwrap();
        let e = |f| {
            render_entry(
                f,
                ContentType::General,
                "id1",
                "http://x/id1".into(),
                t,
                t + chrono::Duration::days(7),
            )
        };
        assert!(e(None).contains(r#""contentType":"Audit.General""#));
        assert!(e(Some(EntryFault::ContentTypeCase)).contains(r#""audit.general""#));
        assert!(!e(Some(EntryFault::NoExpiration)).contains("contentExpiration"));
        assert!(e(Some(EntryFault::ZonelessDates)).contains(r#""2026-03-01T17:09:02.000""#));
        assert!(e(Some(EntryFault::UsDates)).contains(r#""3/1/2026 5:09:02 PM""#));
        assert_eq!(e(Some(EntryFault::NotAnObject)), r#""id1""#);
        let no_uri = e(Some(EntryFault::NoContentUri));
        assert!(!no_uri.contains("contentUri") && no_uri.contains("id1"));
    }
}
