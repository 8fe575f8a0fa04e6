//! The body of `POST …/auditLog/queries`: checked, echoed into the query resource, and turned
//! into the filters the simulator applies.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::record_types;
use super::routes::GraphError;
use super::view::Filters;

/// A checked query body.
#[derive(Debug)]
pub struct QueryBody {
    /// The query resource to echo (filters as given, dates normalized).
    pub resource: Map<String, Value>,
    /// The filters the simulator applies.
    pub filters: Filters,
    /// `recordCountLimit` asked for, if any (the configured limit caps it).
    pub record_count_limit: Option<usize>,
}

/// Reads a query body: the resource to echo, and the filters the simulator applies.
pub fn parse_query(body: &[u8]) -> Result<QueryBody, GraphError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| GraphError::bad_request(format!("The request body is not JSON: {e}")))?;
    let Value::Object(input) = v else {
        return Err(GraphError::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    let time = |name: &str| -> Result<DateTime<Utc>, GraphError> {
        input
            .get(name)
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| {
                GraphError::bad_request(format!(
                    "{name} is required, as a date and time such as 2026-03-01T00:00:00Z."
                ))
            })
    };
    let start = time("filterStartDateTime")?;
    let end = time("filterEndDateTime")?;
    if start >= end {
        return Err(GraphError::bad_request(
            "filterStartDateTime must be before filterEndDateTime.",
        ));
    }
    let strings = |name: &str| -> Result<Vec<String>, GraphError> {
        match input.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str().map(str::to_string).ok_or_else(|| {
                        GraphError::bad_request(format!("{name} must hold strings."))
                    })
                })
                .collect(),
            Some(_) => Err(GraphError::bad_request(format!("{name} must be an array."))),
        }
    };
    let record_types = strings("recordTypeFilters")?
        .iter()
        .map(|g| {
            record_types::number_of(g).ok_or_else(|| {
                GraphError::bad_request(format!(
                    "Cannot convert the literal '{g}' to the expected type 'microsoft.graph.security.auditLogRecordType'."
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let filters = Filters {
        start: Some(start),
        end: Some(end),
        record_types,
        operations: strings("operationFilters")?,
        users: strings("userPrincipalNameFilters")?,
        services: strings("serviceFilters")?,
    };
    let mut resource = Map::new();
    resource.insert(
        "@odata.type".into(),
        json!("#microsoft.graph.security.auditLogQuery"),
    );
    resource.insert(
        "displayName".into(),
        input.get("displayName").cloned().unwrap_or(Value::Null),
    );
    resource.insert(
        "filterStartDateTime".into(),
        json!(start.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
    );
    resource.insert(
        "filterEndDateTime".into(),
        json!(end.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
    );
    for name in [
        "recordTypeFilters",
        "keywordFilter",
        "serviceFilters",
        "operationFilters",
        "userPrincipalNameFilters",
        "ipAddressFilters",
        "objectIdFilters",
        "administrativeUnitIdFilters",
    ] {
        let default = if name == "keywordFilter" {
            Value::Null
        } else {
            json!([])
        };
        resource.insert(name.into(), input.get(name).cloned().unwrap_or(default));
    }
    let record_count_limit = match input.get("recordCountLimit") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n > 0)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    GraphError::bad_request("recordCountLimit must be a whole number above 0.")
                })?,
        ),
    };
    Ok(QueryBody {
        resource,
        filters,
        record_count_limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn query_bodies_are_checked() {
        let ok = br#"{"displayName":"h","filterStartDateTime":"2026-03-01T00:00:00Z","filterEndDateTime":"2026-03-01T01:00:00Z","recordTypeFilters":["exchangeAdmin"]}"#;
        let QueryBody {
            resource, filters, ..
        } = parse_query(ok).unwrap();
        assert_eq!(filters.record_types, vec![1]);
        assert_eq!(resource["filterEndDateTime"], "2026-03-01T01:00:00Z");
        assert_eq!(resource["operationFilters"], json!([]));
        for bad in [
            &br#"{"filterStartDateTime":"2026-03-01T00:00:00Z"}"#[..],
            br#"{"filterStartDateTime":"2026-03-01T01:00:00Z","filterEndDateTime":"2026-03-01T00:00:00Z"}"#,
            br#"{"filterStartDateTime":"2026-03-01T00:00:00Z","filterEndDateTime":"2026-03-01T01:00:00Z","recordTypeFilters":["ExchangeAdmin"]}"#,
            b"[]",
            br#"{"filterStartDateTime":"2026-03-01T00:00:00Z","filterEndDateTime":"2026-03-01T01:00:00Z","recordCountLimit":0}"#,
        ] {
            assert_eq!(parse_query(bad).unwrap_err().status, StatusCode::BAD_REQUEST);
        }
    }
}
