//! The five content types of the feed and their spellings on the wire and in content ids.
//!
//! Deliberate duplicate of `o365_activity::ContentType` (shared/src/content_type.rs): the
//! simulator is written from the API reference alone and does not depend on the collector it
//! tests, so a misreading in one is not silently shared by the other.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A content type (§6), the unit of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ContentType {
    /// `Audit.AzureActiveDirectory`
    #[serde(rename = "Audit.AzureActiveDirectory")]
    AzureActiveDirectory,
    /// `Audit.Exchange`
    #[serde(rename = "Audit.Exchange")]
    Exchange,
    /// `Audit.SharePoint`
    #[serde(rename = "Audit.SharePoint")]
    SharePoint,
    /// `Audit.General`
    #[serde(rename = "Audit.General")]
    General,
    /// `DLP.All`
    #[serde(rename = "DLP.All")]
    DlpAll,
}

impl ContentType {
    /// All five types, in a fixed order.
    pub const ALL: [ContentType; 5] = [
        ContentType::AzureActiveDirectory,
        ContentType::Exchange,
        ContentType::SharePoint,
        ContentType::General,
        ContentType::DlpAll,
    ];

    /// The exact, case-sensitive wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::AzureActiveDirectory => "Audit.AzureActiveDirectory",
            ContentType::Exchange => "Audit.Exchange",
            ContentType::SharePoint => "Audit.SharePoint",
            ContentType::General => "Audit.General",
            ContentType::DlpAll => "DLP.All",
        }
    }

    /// The `audit_x$Audit_X` part of a content id (§7.1).
    pub fn id_spelling(self) -> &'static str {
        match self {
            ContentType::AzureActiveDirectory => {
                "audit_azureactivedirectory$Audit_AzureActiveDirectory"
            }
            ContentType::Exchange => "audit_exchange$Audit_Exchange",
            ContentType::SharePoint => "audit_sharepoint$Audit_SharePoint",
            ContentType::General => "audit_general$Audit_General",
            ContentType::DlpAll => "dlp_all$DLP_All",
        }
    }

    /// Small stable index, used to derive seeds and partition suffixes.
    pub fn index(self) -> u64 {
        match self {
            ContentType::AzureActiveDirectory => 0,
            ContentType::Exchange => 1,
            ContentType::SharePoint => 2,
            ContentType::General => 3,
            ContentType::DlpAll => 4,
        }
    }
}

// Display and FromStr are a deliberate copy of shared/src/content_type.rs (see the module doc).
impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the five content types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a content type (use Audit.AzureActiveDirectory, Audit.Exchange, Audit.SharePoint, Audit.General or DLP.All)")]
pub struct UnknownContentType(pub String);

impl FromStr for ContentType {
    type Err = UnknownContentType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ContentType::ALL
            .into_iter()
            .find(|ct| ct.as_str() == s)
            .ok_or_else(|| UnknownContentType(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for ct in ContentType::ALL {
            assert_eq!(ct.as_str().parse::<ContentType>(), Ok(ct));
        }
        assert!("audit.exchange".parse::<ContentType>().is_err());
    }
}
