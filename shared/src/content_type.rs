//! The five content types of the Management Activity API, spelled exactly as the API does.
//!
//! Deliberately copied in the simulator (`sim/src/content_type.rs`): the simulator stands in for
//! Microsoft and shares none of the collector's code, so a misreading of the API in one is not
//! silently shared by the other. `duplicates` reports the pair; it stays.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A content type: the unit the API subscribes to, lists and packs blobs by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContentType {
    /// `Audit.AzureActiveDirectory`: Entra ID directory audit and sign-ins.
    AzureActiveDirectory,
    /// `Audit.Exchange`: Exchange admin and mailbox audit.
    Exchange,
    /// `Audit.SharePoint`: SharePoint Online and OneDrive.
    SharePoint,
    /// `Audit.General`: every other workload.
    General,
    /// `DLP.All`: DLP events of all workloads (needs its own permission).
    DlpAll,
}

impl ContentType {
    /// All five, in the order the documentation lists them; the default selection.
    pub const ALL: [ContentType; 5] = [
        ContentType::AzureActiveDirectory,
        ContentType::Exchange,
        ContentType::SharePoint,
        ContentType::General,
        ContentType::DlpAll,
    ];

    /// The exact, case-sensitive spelling the API uses on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            ContentType::AzureActiveDirectory => "Audit.AzureActiveDirectory",
            ContentType::Exchange => "Audit.Exchange",
            ContentType::SharePoint => "Audit.SharePoint",
            ContentType::General => "Audit.General",
            ContentType::DlpAll => "DLP.All",
        }
    }

    /// Parses a comma-separated list (as in `--content-types` or `CONTENT_TYPES`); empty means all.
    pub fn parse_list(s: &str) -> Result<Vec<ContentType>, UnknownContentType> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let ct: ContentType = part.parse()?;
            if !out.contains(&ct) {
                out.push(ct);
            }
        }
        if out.is_empty() {
            out.extend(ContentType::ALL);
        }
        Ok(out)
    }
}

// Display and FromStr have a deliberate copy in sim/src/content_type.rs (see the module doc).
impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A content type string that is not one of the five the API knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown content type {0:?}: use one of Audit.AzureActiveDirectory, Audit.Exchange, Audit.SharePoint, Audit.General, DLP.All (case-sensitive)")]
pub struct UnknownContentType(pub String);

impl FromStr for ContentType {
    type Err = UnknownContentType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ContentType::ALL
            .into_iter()
            .find(|ct| ct.as_str() == s)
            .ok_or_else(|| UnknownContentType(s.to_owned()))
    }
}

impl Serialize for ContentType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ContentType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::serde_text::deserialize_parsed(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_spelling() {
        for ct in ContentType::ALL {
            assert_eq!(ct.as_str().parse::<ContentType>().unwrap(), ct);
            let json = serde_json::to_string(&ct).unwrap();
            assert_eq!(serde_json::from_str::<ContentType>(&json).unwrap(), ct);
        }
    }

    #[test]
    fn rejects_other_casing_and_unknown_names() {
        assert!("audit.exchange".parse::<ContentType>().is_err());
        assert!("Audit.Teams".parse::<ContentType>().is_err());
        assert!(serde_json::from_str::<ContentType>("\"DLP.all\"").is_err());
    }

    #[test]
    fn parses_lists() {
        assert_eq!(
            ContentType::parse_list("").unwrap(),
            ContentType::ALL.to_vec()
        );
        assert_eq!(
            ContentType::parse_list("DLP.All, Audit.Exchange,DLP.All").unwrap(),
            vec![ContentType::DlpAll, ContentType::Exchange]
        );
        assert!(ContentType::parse_list("Audit.Exchange,Nope").is_err());
    }
}
