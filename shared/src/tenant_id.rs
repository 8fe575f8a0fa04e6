//! Tenant ids: directory GUIDs, validated and kept in canonical lower case.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A customer tenant (directory) GUID, e.g. `00000000-0000-0000-0000-000000000001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

/// A tenant id that is not a GUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad tenant id {0:?}: expected the directory GUID (8-4-4-4-12 hex digits), found in Entra ID > Overview > Tenant ID")]
pub struct BadTenantId(pub String);

impl TenantId {
    /// The canonical lower-case text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `s` is a GUID in the 8-4-4-4-12 hex form (no braces).
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl FromStr for TenantId {
    type Err = BadTenantId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if is_guid(t) {
            Ok(TenantId(t.to_ascii_lowercase()))
        } else {
            Err(BadTenantId(s.to_owned()))
        }
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for TenantId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::serde_text::deserialize_parsed(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_guids_and_lowercases() {
        let t: TenantId = "B86AB9D4-FCF1-4B11-8A06-7A8F91B47FBD".parse().unwrap();
        assert_eq!(t.as_str(), "b86ab9d4-fcf1-4b11-8a06-7a8f91b47fbd");
    }

    #[test]
    fn rejects_non_guids() {
        for s in [
            "",
            "contoso.onmicrosoft.com",
            "{b86ab9d4-fcf1-4b11-8a06-7a8f91b47fbd}",
            "b86ab9d4fcf14b118a067a8f91b47fbd",
            "b86ab9d4-fcf1-4b11-8a06-7a8f91b47fbz",
            "../../etc/passwd-0000-0000-0000000000",
        ] {
            assert!(s.parse::<TenantId>().is_err(), "{s}");
        }
    }
}
