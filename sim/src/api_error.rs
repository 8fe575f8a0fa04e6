//! Error answers of the Activity API: the `{"error":{code,message}}` envelope (§9.1), the
//! ASP.NET 401 body, and the non-JSON bodies gateways send.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Body style of an error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    /// `{"error":{"code":…,"message":…}}`
    Envelope,
    /// `{"Message":"Authorization has been denied for this request."}` with `WWW-Authenticate: Bearer`.
    AspNet401,
    /// A non-JSON body (gateway errors).
    Text(&'static str),
}

/// One error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// AF code (or `429`, or a label for non-envelope answers).
    pub code: String,
    /// Message text.
    pub message: String,
    /// Body style.
    pub style: Style,
    /// `Retry-After` seconds, when one is sent.
    pub retry_after: Option<u64>,
}

/// The ASP.NET text of the 401 answer.
pub const DENIED: &str = "Authorization has been denied for this request.";

/// AF20030/AF20055 texts (§9.2).
pub const AF20030_TEXT: &str = "Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time no more than 7 days in the past.";
/// The newer window-error text.
pub const AF20055_TEXT: &str = "Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time prior to end time and start time no more than 7 days in the past.";

impl ApiError {
    /// An enveloped AF error.
    pub fn af(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
            style: Style::Envelope,
            retry_after: None,
        }
    }

    /// The bearer-token rejection.
    pub fn denied() -> Self {
        Self {
            status: 401,
            code: "401".into(),
            message: DENIED.into(),
            style: Style::AspNet401,
            retry_after: None,
        }
    }

    /// A non-JSON gateway error.
    pub fn text(status: u16, label: &str, body: &'static str) -> Self {
        Self {
            status,
            code: label.to_string(),
            message: body.into(),
            style: Style::Text(body),
            retry_after: None,
        }
    }

    /// Adds a `Retry-After`.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// The code recorded in the ledger.
    pub fn ledger_code(&self) -> String {
        self.code.clone()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let (body, ctype) = match &self.style {
            Style::Envelope => (
                serde_json::json!({"error": {"code": self.code, "message": self.message}})
                    .to_string(),
                "application/json; charset=utf-8",
            ),
            Style::AspNet401 => (
                serde_json::json!({"Message": self.message}).to_string(),
                "application/json; charset=utf-8",
            ),
            Style::Text(t) => (t.to_string(), "text/html"),
        };
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if self.style == Style::AspNet401 {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
