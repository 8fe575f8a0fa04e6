//! API error bodies: the `{"error":{"code","message"}}` envelope, the ASP.NET 401 form, and
//! every AF code of the spec with whether a retry can help.

use serde::Deserialize;

/// A documented (or observed) API error code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AfCode {
    /// AF10001: the token lacks the required permission (ActivityFeed.Read / ReadDlp).
    MissingPermission,
    /// AF20001: a required parameter is missing.
    MissingParameter,
    /// AF20002: a parameter has the wrong type.
    InvalidParameterType,
    /// AF20003: webhook expiration in the past.
    ExpirationInPast,
    /// AF20010: URL tenant differs from the token's tenant.
    TenantMismatch,
    /// AF20011: the tenant does not exist.
    TenantNotFound,
    /// AF20012: the tenant is incorrectly configured.
    TenantMisconfigured,
    /// AF20013: the tenant id is not a GUID.
    TenantIdInvalid,
    /// AF20020: unknown content type.
    InvalidContentType,
    /// AF20021: the webhook could not be validated.
    WebhookValidationFailed,
    /// AF20022: no subscription for this content type.
    SubscriptionNotFound,
    /// AF20023: the subscription is disabled.
    SubscriptionDisabled,
    /// AF20024: start on an already enabled subscription (success in disguise).
    SubscriptionAlreadyEnabled,
    /// AF20030: bad time window (older wording).
    InvalidTimeWindow,
    /// AF20031: bad or stale `nextPage` token.
    InvalidNextPage,
    /// AF20050: no such content.
    ContentNotFound,
    /// AF20051: the content has expired.
    ContentExpired,
    /// AF20052: malformed content id.
    ContentIdInvalid,
    /// AF20053: several languages in Accept-Language.
    TooManyLanguages,
    /// AF20054: malformed Accept-Language.
    InvalidLanguage,
    /// AF20055: bad time window (newer wording).
    InvalidTimeWindowV2,
    /// AF429: throttled.
    Throttled,
    /// `"429"` (no AF prefix): the 15-minute subscription start cooldown.
    StartCooldown,
    /// AF50000: internal server error.
    InternalError,
    /// AF50005 / AF50006 (undocumented internal errors).
    InternalErrorOther(String),
    /// Any other code, kept as sent.
    Other(String),
}

impl AfCode {
    /// Reads a code as it appears in `error.code`.
    pub fn parse(code: &str) -> AfCode {
        match code {
            "AF10001" => AfCode::MissingPermission,
            "AF20001" => AfCode::MissingParameter,
            "AF20002" => AfCode::InvalidParameterType,
            "AF20003" => AfCode::ExpirationInPast,
            "AF20010" => AfCode::TenantMismatch,
            "AF20011" => AfCode::TenantNotFound,
            "AF20012" => AfCode::TenantMisconfigured,
            "AF20013" => AfCode::TenantIdInvalid,
            "AF20020" => AfCode::InvalidContentType,
            "AF20021" => AfCode::WebhookValidationFailed,
            "AF20022" => AfCode::SubscriptionNotFound,
            "AF20023" => AfCode::SubscriptionDisabled,
            "AF20024" => AfCode::SubscriptionAlreadyEnabled,
            "AF20030" => AfCode::InvalidTimeWindow,
            "AF20031" => AfCode::InvalidNextPage,
            "AF20050" => AfCode::ContentNotFound,
            "AF20051" => AfCode::ContentExpired,
            "AF20052" => AfCode::ContentIdInvalid,
            "AF20053" => AfCode::TooManyLanguages,
            "AF20054" => AfCode::InvalidLanguage,
            "AF20055" => AfCode::InvalidTimeWindowV2,
            "AF429" => AfCode::Throttled,
            "429" => AfCode::StartCooldown,
            "AF50000" => AfCode::InternalError,
            "AF50005" | "AF50006" => AfCode::InternalErrorOther(code.to_owned()),
            other => AfCode::Other(other.to_owned()),
        }
    }

    /// The code as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            AfCode::MissingPermission => "AF10001",
            AfCode::MissingParameter => "AF20001",
            AfCode::InvalidParameterType => "AF20002",
            AfCode::ExpirationInPast => "AF20003",
            AfCode::TenantMismatch => "AF20010",
            AfCode::TenantNotFound => "AF20011",
            AfCode::TenantMisconfigured => "AF20012",
            AfCode::TenantIdInvalid => "AF20013",
            AfCode::InvalidContentType => "AF20020",
            AfCode::WebhookValidationFailed => "AF20021",
            AfCode::SubscriptionNotFound => "AF20022",
            AfCode::SubscriptionDisabled => "AF20023",
            AfCode::SubscriptionAlreadyEnabled => "AF20024",
            AfCode::InvalidTimeWindow => "AF20030",
            AfCode::InvalidNextPage => "AF20031",
            AfCode::ContentNotFound => "AF20050",
            AfCode::ContentExpired => "AF20051",
            AfCode::ContentIdInvalid => "AF20052",
            AfCode::TooManyLanguages => "AF20053",
            AfCode::InvalidLanguage => "AF20054",
            AfCode::InvalidTimeWindowV2 => "AF20055",
            AfCode::Throttled => "AF429",
            AfCode::StartCooldown => "429",
            AfCode::InternalError => "AF50000",
            AfCode::InternalErrorOther(c) | AfCode::Other(c) => c,
        }
    }

    /// Whether repeating the same request later can succeed (throttling, server faults).
    /// The start cooldown is not: it needs a 15-minute wait, longer than any retry loop.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            AfCode::Throttled | AfCode::InternalError | AfCode::InternalErrorOther(_)
        )
    }

    /// Whether the code means throttling (counted separately in metrics).
    pub fn is_throttle(&self) -> bool {
        matches!(self, AfCode::Throttled)
    }
}

impl std::fmt::Display for AfCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed error response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiErrorBody {
    /// `{"error":{"code":"AF…","message":"…"}}`.
    Envelope {
        /// The code.
        code: AfCode,
        /// The message text as sent.
        message: String,
    },
    /// The ASP.NET 401 form `{"Message":"Authorization has been denied for this request."}`.
    Denied {
        /// The message text as sent.
        message: String,
    },
    /// Anything else (a proxy's HTML page, an empty body): kept raw, cut to a readable length.
    Unparsed(String),
}

#[derive(Deserialize)]
struct Envelope {
    error: EnvelopeInner,
}

#[derive(Deserialize)]
struct EnvelopeInner {
    code: serde_json::Value,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct Denied {
    #[serde(rename = "Message")]
    message: String,
}

impl ApiErrorBody {
    /// Parses an error body defensively; never fails.
    pub fn parse(body: &[u8]) -> ApiErrorBody {
        if let Ok(env) = serde_json::from_slice::<Envelope>(body) {
            let code = match env.error.code {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            return ApiErrorBody::Envelope {
                code: AfCode::parse(&code),
                message: env.error.message,
            };
        }
        if let Ok(d) = serde_json::from_slice::<Denied>(body) {
            return ApiErrorBody::Denied { message: d.message };
        }
        let text = String::from_utf8_lossy(body);
        let cut: String = text.chars().take(300).collect();
        ApiErrorBody::Unparsed(cut)
    }

    /// The AF code, when the body carried one.
    pub fn code(&self) -> Option<&AfCode> {
        match self {
            ApiErrorBody::Envelope { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            ApiErrorBody::Envelope { message, .. } | ApiErrorBody::Denied { message } => message,
            ApiErrorBody::Unparsed(s) => s,
        }
    }
}

impl std::fmt::Display for ApiErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiErrorBody::Envelope { code, message } => write!(f, "{code}: {message}"),
            ApiErrorBody::Denied { message } => write!(f, "denied: {message}"),
            ApiErrorBody::Unparsed(s) => write!(f, "unparsed body: {s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_envelope() {
        let b = br#"{"error":{"code":"AF20024","message":"The subscription is already enabled. No property change."}}"#;
        let e = ApiErrorBody::parse(b);
        assert_eq!(e.code(), Some(&AfCode::SubscriptionAlreadyEnabled));
        assert!(!e.code().unwrap().is_retryable());
    }

    #[test]
    fn parses_start_cooldown_and_throttle() {
        let b = br#"{"error":{"code":"429","message":"Too many frequent subscription start requests. Please retry again after 8m 46s."}}"#;
        assert_eq!(ApiErrorBody::parse(b).code(), Some(&AfCode::StartCooldown));
        let t = br#"{"error":{"code":"AF429","message":"Too many requests. Method=GetBlob, PublisherId=00000000-0000-0000-0000-000000000000"}}"#;
        let c = ApiErrorBody::parse(t);
        assert!(c.code().unwrap().is_retryable() && c.code().unwrap().is_throttle());
    }

    #[test]
    fn parses_denied_and_garbage() {
        let d = ApiErrorBody::parse(
            br#"{"Message":"Authorization has been denied for this request."}"#,
        );
        assert!(matches!(d, ApiErrorBody::Denied { .. }));
        let g = ApiErrorBody::parse(b"<html>502 Bad Gateway</html>");
        assert!(matches!(g, ApiErrorBody::Unparsed(_)));
        let n = ApiErrorBody::parse(br#"{"error":{"code":50000}}"#);
        assert_eq!(n.code(), Some(&AfCode::Other("50000".into())));
    }

    #[test]
    fn every_code_round_trips() {
        for c in [
            "AF10001", "AF20001", "AF20002", "AF20003", "AF20010", "AF20011", "AF20012", "AF20013",
            "AF20020", "AF20021", "AF20022", "AF20023", "AF20024", "AF20030", "AF20031", "AF20050",
            "AF20051", "AF20052", "AF20053", "AF20054", "AF20055", "AF429", "429", "AF50000",
            "AF50005", "AF50006", "AF99999",
        ] {
            assert_eq!(AfCode::parse(c).as_str(), c);
        }
    }
}
