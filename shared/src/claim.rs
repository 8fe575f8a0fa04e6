//! The content-id claim: a create-only object under `_ids/` that pins the data key a content
//! id is stored under, so one content id gives one object whatever `contentCreated`, format
//! version or compression a later message carries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The body of `<prefix>/_ids/tenant_id=<t>/content_type=<ct>/<content_id>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentClaim {
    /// The full key (prefix included) the content id's data is stored under.
    pub data_key: String,
    /// The content id (also in the key; repeated for people reading the object).
    pub content_id: String,
    /// When the first delivery claimed it.
    #[serde(with = "crate::time::listing_format")]
    pub claimed_at: DateTime<Utc>,
    /// The build that claimed it.
    pub collector_version: String,
}

/// A claim object that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("content-id claim {key} is not readable: {reason}; delete it so the next delivery claims the content id again")]
pub struct BadClaim {
    /// Its key.
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

impl ContentClaim {
    /// The JSON body to store.
    pub fn to_json(&self) -> String {
        // Strings and a formatted date only: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored claim.
    pub fn parse(key: &str, body: &[u8]) -> Result<ContentClaim, BadClaim> {
        serde_json::from_slice(body).map_err(|e| BadClaim {
            key: key.to_owned(),
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn round_trips() {
        let c = ContentClaim {
            data_key: "p/tenant_id=t/x.json.gz".into(),
            content_id: "x".into(),
            claimed_at: Utc.with_ymd_and_hms(2026, 3, 1, 7, 0, 0).unwrap(),
            collector_version: crate::COLLECTOR_VERSION.into(),
        };
        assert_eq!(ContentClaim::parse("k", c.to_json().as_bytes()).unwrap(), c);
        assert!(ContentClaim::parse("k", b"{\"data_key\":1}").is_err());
    }
}
