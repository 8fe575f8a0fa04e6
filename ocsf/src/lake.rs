//! Amazon Security Lake's custom-source layout: one source per OCSF class, objects under
//! `ext/<source>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/`.

use chrono::NaiveDate;

use crate::class::OcsfClass;

/// Where in a Security Lake the export writes: the source-name prefix (one custom source per
/// class, `<prefix>-<class slug>`), the AWS Region and the account id of the partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeTarget {
    source_prefix: String,
    region: String,
    account_id: String,
}

/// A lake target Security Lake would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LakeTargetError {
    /// Custom source names are 1..64 characters of letters, digits, `-`, `_`.
    #[error("source prefix {0:?}: use letters, digits, '-' or '_', short enough that \"<prefix>-detection-finding\" fits Security Lake's 64 characters")]
    SourcePrefix(String),
    /// Regions look like `eu-west-1`.
    #[error("region {0:?} is not an AWS Region name such as eu-west-1")]
    Region(String),
    /// Account ids are 12 digits.
    #[error("account id {0:?} is not a 12-digit AWS account id")]
    Account(String),
}

/// The longest class slug, for the source-name length rule.
const LONGEST_SLUG: usize = "detection-finding".len();

impl LakeTarget {
    /// A checked target.
    pub fn new(
        source_prefix: &str,
        region: &str,
        account_id: &str,
    ) -> Result<Self, LakeTargetError> {
        let name_ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        let fits = source_prefix
            .len()
            .checked_add(1 + LONGEST_SLUG)
            .is_some_and(|n| n <= 64);
        if source_prefix.is_empty() || !fits || !source_prefix.chars().all(name_ok) {
            return Err(LakeTargetError::SourcePrefix(source_prefix.to_owned()));
        }
        let region_ok = region.split('-').count() >= 3
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !region_ok {
            return Err(LakeTargetError::Region(region.to_owned()));
        }
        if account_id.len() != 12 || !account_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(LakeTargetError::Account(account_id.to_owned()));
        }
        Ok(LakeTarget {
            source_prefix: source_prefix.to_owned(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
        })
    }

    /// The custom source name of a class.
    pub fn source_name(&self, class: OcsfClass) -> String {
        format!("{}-{}", self.source_prefix, class.slug())
    }

    /// The partition folder of a class and day (ends with `/`).
    pub fn partition(&self, class: OcsfClass, day: NaiveDate) -> String {
        format!(
            "ext/{}/region={}/accountId={}/eventDay={}/",
            self.source_name(class),
            self.region,
            self.account_id,
            day.format("%Y%m%d")
        )
    }

    /// A short identity of the target, for the export ledger's keys.
    pub fn ledger_dir(&self) -> String {
        format!(
            "{}/region={}/accountId={}",
            self.source_prefix, self.region, self.account_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_checks() {
        let t = LakeTarget::new("o365", "eu-west-1", "123456789012").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        assert_eq!(
            t.partition(OcsfClass::Authentication, day),
            "ext/o365-authentication/region=eu-west-1/accountId=123456789012/eventDay=20260301/"
        );
        assert!(LakeTarget::new("o 365", "eu-west-1", "123456789012").is_err());
        assert!(LakeTarget::new(&"x".repeat(47), "eu-west-1", "123456789012").is_err());
        assert!(LakeTarget::new(&"x".repeat(46), "eu-west-1", "123456789012").is_ok());
        assert!(LakeTarget::new("o365", "Europe", "123456789012").is_err());
        assert!(LakeTarget::new("o365", "eu-west-1", "12345").is_err());
    }
}
