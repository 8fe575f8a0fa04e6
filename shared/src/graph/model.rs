//! The shapes of the Graph audit log query API (`microsoft.graph.security.auditLogQuery`,
//! `auditLogRecord`), as documented, read leniently: unknown members are ignored, the
//! record-count members are optional (not every version sends them).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The body of `POST /security/auditLog/queries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAuditQuery {
    /// A name the query is listed under in Purview.
    pub display_name: String,
    /// Start of the window (inclusive), RFC 3339 UTC.
    #[serde(serialize_with = "rfc3339_z")]
    pub filter_start_date_time: DateTime<Utc>,
    /// End of the window (exclusive), RFC 3339 UTC.
    #[serde(serialize_with = "rfc3339_z")]
    pub filter_end_date_time: DateTime<Utc>,
    /// `auditLogRecordType` values (camelCase), e.g. `azureActiveDirectoryStsLogon`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub record_type_filters: Vec<String>,
}

fn rfc3339_z<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::time::format_rfc3339_z(*t))
}

/// `status` of an audit log query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum QueryStatus {
    /// Queued.
    NotStarted,
    /// Being searched.
    Running,
    /// Done: records can be read.
    Succeeded,
    /// Failed for good.
    Failed,
    /// Cancelled by someone.
    Cancelled,
    /// Graph's evolvable-enum sentinel, or a value this build does not know.
    #[serde(other)]
    Unknown,
}

impl QueryStatus {
    /// Whether polling can stop.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            QueryStatus::Succeeded | QueryStatus::Failed | QueryStatus::Cancelled
        )
    }
}

/// An audit log query as Graph returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogQuery {
    /// The query id.
    pub id: String,
    /// Its status (absent on some create answers: treated as not started).
    #[serde(default = "not_started")]
    pub status: QueryStatus,
    /// The most records the query returns, when Graph says.
    #[serde(default)]
    pub record_count_limit: Option<u64>,
    /// Whether the query "succeeded" with records cut off at the limit.
    #[serde(default)]
    pub is_record_count_limit_exceeded: Option<bool>,
}

fn not_started() -> QueryStatus {
    QueryStatus::NotStarted
}

/// One `auditLogRecord`; only what the audit needs is read, `auditData` raw.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogRecord {
    /// Graph's record id (not documented as equal to the Management record `Id`).
    pub id: String,
    /// When the event happened.
    #[serde(default)]
    pub created_date_time: Option<DateTime<Utc>>,
    /// The record type, camelCase.
    #[serde(default)]
    pub audit_log_record_type: Option<String>,
    /// The operation.
    #[serde(default)]
    pub operation: Option<String>,
    /// The Management Activity record itself.
    #[serde(default)]
    pub audit_data: Option<serde_json::Value>,
}

impl AuditLogRecord {
    /// `auditData.Id`: the Management Activity record `Id`, the audit's join key.
    pub fn management_id(&self) -> Option<&str> {
        self.audit_data.as_ref()?.get("Id")?.as_str()
    }

    /// `auditData.RecordType`, the Management record type number.
    pub fn management_record_type(&self) -> Option<i64> {
        crate::record::lenient_int(self.audit_data.as_ref()?.get("RecordType")?)
    }
}

/// One page of `GET …/queries/{id}/records`.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordsPage {
    /// The records.
    #[serde(default)]
    pub value: Vec<AuditLogRecord>,
    /// The next page's URL, verbatim.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shapes as in the Graph documentation's examples (created query, record page).
    const CREATED: &str = r##"{
      "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/auditLog/queries/$entity",
      "@odata.type": "#microsoft.graph.security.auditLogQuery",
      "id": "168ec429-084b-a489-90d8-504a87846305",
      "displayName": "String",
      "filterStartDateTime": "2026-03-01T10:00:00Z",
      "filterEndDateTime": "2026-03-01T11:00:00Z",
      "recordTypeFilters": ["exchangeItem"],
      "keywordFilter": null,
      "serviceFilters": [],
      "operationFilters": [],
      "userPrincipalNameFilters": [],
      "ipAddressFilters": [],
      "objectIdFilters": [],
      "administrativeUnitIdFilters": [],
      "status": "notStarted"
    }"##;

    const PAGE: &str = r##"{
      "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/auditLog/queries('168e')/records",
      "@odata.nextLink": "https://graph.microsoft.com/v1.0/security/auditLog/queries/168e/records?$skiptoken=abc",
      "value": [{
        "@odata.type": "#microsoft.graph.security.auditLogRecord",
        "id": "e0ab07b6-7ae4-4a6f-bd2b-8a5b8c9f1d11",
        "createdDateTime": "2026-03-01T10:12:00Z",
        "auditLogRecordType": "exchangeItem",
        "operation": "MailItemsAccessed",
        "organizationId": "00000000-0000-0000-0000-000000000001",
        "userType": "regular",
        "userId": "a@contoso.com",
        "service": "Exchange",
        "objectId": null,
        "userPrincipalName": "a@contoso.com",
        "clientIp": "203.0.113.7",
        "administrativeUnits": [],
        "auditData": {"@odata.type": "#microsoft.graph.Json", "Id": "4f1f3f9c-0000-4000-8000-000000000abc", "RecordType": 2}
      }]
    }"##;

    #[test]
    fn reads_documented_shapes() {
        let q: AuditLogQuery = serde_json::from_str(CREATED).unwrap();
        assert_eq!(q.status, QueryStatus::NotStarted);
        assert_eq!(q.is_record_count_limit_exceeded, None);
        let page: RecordsPage = serde_json::from_str(PAGE).unwrap();
        assert!(page.next_link.unwrap().contains("$skiptoken=abc"));
        let r = &page.value[0];
        assert_eq!(
            r.management_id(),
            Some("4f1f3f9c-0000-4000-8000-000000000abc")
        );
        assert_eq!(r.management_record_type(), Some(2));
        assert_eq!(r.audit_log_record_type.as_deref(), Some("exchangeItem"));
        let odd: AuditLogQuery =
            serde_json::from_str(r#"{"id":"x","status":"unknownFutureValue","isRecordCountLimitExceeded":true,"recordCountLimit":50000}"#)
                .unwrap();
        assert_eq!(odd.status, QueryStatus::Unknown);
        assert!(!odd.status.is_terminal());
        assert_eq!(odd.is_record_count_limit_exceeded, Some(true));
    }

    #[test]
    fn writes_the_documented_body() {
        let start = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let body = NewAuditQuery {
            display_name: "o365-collector audit".into(),
            filter_start_date_time: start,
            filter_end_date_time: start + chrono::TimeDelta::hours(1),
            record_type_filters: vec!["exchangeItem".into()],
        };
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(v["filterStartDateTime"], "2026-03-01T10:00:00Z");
        assert_eq!(v["filterEndDateTime"], "2026-03-01T11:00:00Z");
        assert_eq!(v["recordTypeFilters"][0], "exchangeItem");
        assert_eq!(v["displayName"], "o365-collector audit");
    }
}
