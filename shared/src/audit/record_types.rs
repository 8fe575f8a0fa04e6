//! The documented mapping between Purview's `auditLogRecordType` (Graph, camelCase) and the
//! Management Activity API content type that carries the same records, used to limit each
//! audit query to what the configured content types can deliver.
//!
//! | `RecordType` (Management name) | content type |
//! |---|---|
//! | `AzureActiveDirectory*` (8, 9, 15) | `Audit.AzureActiveDirectory` |
//! | `Exchange*` (1, 2, 3, 19, 50, 101), `MailSubmission` (29), `ComplianceSupervisionExchange` (68) | `Audit.Exchange` |
//! | `SharePoint*` (4, 6, 14, 36, 37, 54, 55, 56, 102), `OneDrive` (7) | `Audit.SharePoint` |
//! | `ComplianceDLP*` (11, 13, 33, 107), `DLPEndpoint` (63) | `DLP.All` |
//! | every other type of the documented `RecordType` table | `Audit.General` |
//! | anything else Purview returns (types with no Management number, e.g. `syntheticProbe`) | none: the Management API never sends them; never queried, and excluded if returned |
//!
//! Graph spells the Management names in camelCase, leading capitals lower-cased (`ExchangeItem`
//! → `exchangeItem`, `MIPLabel` → `mipLabel`, `CRM` → `crm`); Graph's own names for 22
//! (`yammer`), 44 (`workplaceAnalytics`) and 63 (`complianceDLPEndpoint`).

use crate::content_type::ContentType;
use crate::record_type::RECORD_TYPES;

/// The content type that carries a record type number; `None` for a number the documented
/// table does not have (the Management API does not send it).
pub fn content_type_of(record_type: i64) -> Option<ContentType> {
    let name = RECORD_TYPES
        .iter()
        .find(|(n, _)| *n == record_type)
        .map(|(_, name)| *name)?;
    Some(match record_type {
        8 | 9 | 15 => ContentType::AzureActiveDirectory,
        11 | 13 | 33 | 63 | 107 => ContentType::DlpAll,
        29 | 68 => ContentType::Exchange,
        7 => ContentType::SharePoint,
        _ if name.starts_with("Exchange") => ContentType::Exchange,
        _ if name.starts_with("SharePoint") => ContentType::SharePoint,
        _ => ContentType::General,
    })
}

/// Graph's `auditLogRecordType` value for a Management record type number.
pub fn graph_name(record_type: i64) -> Option<String> {
    let name = RECORD_TYPES
        .iter()
        .find(|(n, _)| *n == record_type)
        .map(|(_, name)| *name)?;
    match record_type {
        22 => return Some("yammer".into()),
        44 => return Some("workplaceAnalytics".into()),
        63 => return Some("complianceDLPEndpoint".into()),
        _ => {}
    }
    Some(camel(name))
}

/// Graph's camelCase of a member name: the leading capitals lower-cased, except the last
/// one when a lower-case letter follows it (`MIPLabel` → `mipLabel`, `CRM` → `crm`,
/// `MS365DCustomDetection` → `ms365DCustomDetection`).
fn camel(name: &str) -> String {
    let chars: Vec<char> = name.chars().filter(|c| !c.is_whitespace()).collect();
    let run = chars.iter().take_while(|c| c.is_ascii_uppercase()).count();
    let before_lower = chars.get(run).is_some_and(char::is_ascii_lowercase);
    let lower_to = if run > 1 && before_lower {
        run - 1
    } else {
        run
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < lower_to {
                c.to_ascii_lowercase()
            } else {
                *c
            }
        })
        .collect()
}

/// Whether the audit queries Purview for records of this type when collecting
/// `content_types` (its documented content type is one of them).
pub fn is_audited(record_type: i64, content_types: &[ContentType]) -> bool {
    content_type_of(record_type).is_some_and(|ct| content_types.contains(&ct))
}

/// The `recordTypeFilters` of an audit query for these content types: every documented
/// record type they carry, in Graph's spelling, sorted.
pub fn query_filters(content_types: &[ContentType]) -> Vec<String> {
    let mut out: Vec<String> = RECORD_TYPES
        .iter()
        .filter(|(n, _)| is_audited(*n, content_types))
        .filter_map(|(n, _)| graph_name(*n))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_spelling() {
        assert_eq!(
            graph_name(15).as_deref(),
            Some("azureActiveDirectoryStsLogon")
        );
        assert_eq!(graph_name(2).as_deref(), Some("exchangeItem"));
        assert_eq!(graph_name(20).as_deref(), Some("powerBIAudit"));
        assert_eq!(graph_name(21).as_deref(), Some("crm"));
        assert_eq!(graph_name(22).as_deref(), Some("yammer"));
        assert_eq!(graph_name(11).as_deref(), Some("complianceDLPSharePoint"));
        assert_eq!(graph_name(43).as_deref(), Some("mipLabel"));
        assert_eq!(graph_name(44).as_deref(), Some("workplaceAnalytics"));
        assert_eq!(graph_name(63).as_deref(), Some("complianceDLPEndpoint"));
        assert_eq!(graph_name(31).as_deref(), Some("aeD"));
        assert_eq!(graph_name(-7), None);
    }

    #[test]
    fn content_types_of_record_types() {
        assert_eq!(content_type_of(15), Some(ContentType::AzureActiveDirectory));
        assert_eq!(content_type_of(2), Some(ContentType::Exchange));
        assert_eq!(content_type_of(6), Some(ContentType::SharePoint));
        assert_eq!(content_type_of(7), Some(ContentType::SharePoint));
        assert_eq!(content_type_of(13), Some(ContentType::DlpAll));
        assert_eq!(content_type_of(25), Some(ContentType::General));
        assert_eq!(content_type_of(-7), None);
    }

    #[test]
    fn filters_follow_the_configured_types() {
        let aad = query_filters(&[ContentType::AzureActiveDirectory]);
        assert_eq!(
            aad,
            [
                "azureActiveDirectory",
                "azureActiveDirectoryAccountLogon",
                "azureActiveDirectoryStsLogon"
            ]
        );
        let all = query_filters(&ContentType::ALL);
        assert!(all.contains(&"microsoftTeams".to_string()));
        assert!(!all.contains(&"syntheticProbe".to_string()));
        let no_dlp = query_filters(&[ContentType::Exchange, ContentType::General]);
        assert!(!no_dlp.contains(&"complianceDLPExchange".to_string()));
        assert!(no_dlp.contains(&"exchangeAdmin".to_string()));
    }
}
