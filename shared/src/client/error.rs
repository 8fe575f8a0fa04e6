//! What a failed API call says (and whether retrying can help), and the counters of retries,
//! throttles and errors a client keeps for metrics.

use std::sync::Mutex;
use std::time::Duration;

use super::retry;
use super::ClientStats;
use crate::api_error::{AfCode, ApiErrorBody};

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with an error that retrying will not fix (or retries ran out).
    #[error("{op} failed with HTTP {status}: {body}")]
    Api {
        /// Which operation (`ListContent`, `GetBlob`, `StartSubscription`, ...).
        op: &'static str,
        /// HTTP status.
        status: u16,
        /// The parsed body.
        body: ApiErrorBody,
    },
    /// The caller's deadline passed before the call could succeed (retryable later).
    #[error(
        "{op} did not succeed before the deadline after {attempts} attempts; last error: {last}"
    )]
    DeadlineExceeded {
        /// Which operation.
        op: &'static str,
        /// Attempts made.
        attempts: u32,
        /// The last error, as text.
        last: String,
    },
    /// A URL whose scheme, host, port or path is not under the configured API root: refused,
    /// no request was built, the token was not sent.
    #[error("refused to send the token to {uri}: not under the configured API root {api_root}")]
    ForeignUri {
        /// The refused URL (no secrets in it).
        uri: String,
        /// The configured root.
        api_root: String,
    },
    /// The token endpoint refused the credentials or answered something unusable.
    #[error("token request to {endpoint} failed: {message}")]
    Token {
        /// The token endpoint URL.
        endpoint: String,
        /// What it said (never the secret).
        message: String,
        /// Whether retrying can help (5xx, network) or not (bad secret, unknown app).
        retryable: bool,
    },
    /// The credential could not be used (bad PEM, key not RSA, ...).
    #[error("credential problem: {0}")]
    Credential(String),
    /// Network-level failure (connect, TLS, reset) after retries.
    #[error("{op}: network error: {message}")]
    Transport {
        /// Which operation.
        op: &'static str,
        /// The error text.
        message: String,
    },
    /// The tenant's request budget would hold a download longer than allowed (after a
    /// throttled answer or while the budget is spent): the call was not made; hand the work
    /// back and try again after `wait`.
    #[error("{op} not sent: the tenant's request budget needs {wait:?} before it; hand the work back and retry then")]
    Throttled {
        /// Which operation.
        op: &'static str,
        /// How long the budget needed.
        wait: Duration,
    },
    /// A 2xx response whose body could not be decoded.
    #[error("{op}: unexpected response body: {message}")]
    Decode {
        /// Which operation.
        op: &'static str,
        /// What was wrong.
        message: String,
    },
}

impl ClientError {
    /// The AF code, when the API sent one.
    pub fn af_code(&self) -> Option<&AfCode> {
        match self {
            ClientError::Api { body, .. } => body.code(),
            _ => None,
        }
    }

    /// Whether handing the work back for a later attempt can help.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::DeadlineExceeded { .. }
            | ClientError::Transport { .. }
            | ClientError::Throttled { .. } => true,
            ClientError::Token { retryable, .. } => *retryable,
            ClientError::Api { status, body, .. } => {
                retry::status_is_retryable(*status) || body.code().is_some_and(AfCode::is_retryable)
            }
            ClientError::ForeignUri { .. }
            | ClientError::Credential(_)
            | ClientError::Decode { .. } => false,
        }
    }
}

/// The shared counters behind [`ClientStats`].
#[derive(Debug, Default)]
pub(crate) struct Stats(Mutex<ClientStats>);

impl Stats {
    fn with(&self, f: impl FnOnce(&mut ClientStats)) {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard);
    }

    /// Counts one retry.
    pub(crate) fn retry(&self) {
        self.with(|s| s.retries += 1);
    }

    /// Counts one throttled response.
    pub(crate) fn throttle(&self) {
        self.with(|s| s.throttles += 1);
    }

    /// Counts one error response by its code (`AF20022`, `HTTP503`, `NETWORK`).
    pub(crate) fn error(&self, code: &str) {
        self.with(|s| *s.errors_by_code.entry(code.to_owned()).or_default() += 1);
    }

    pub(crate) fn snapshot(&self) -> ClientStats {
        let mut out = ClientStats::default();
        self.with(|s| out = s.clone());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{OP_GET_BLOB, OP_LIST_CONTENT};

    fn api(status: u16, body: &str) -> ClientError {
        ClientError::Api {
            op: OP_LIST_CONTENT,
            status,
            body: ApiErrorBody::parse(body.as_bytes()),
        }
    }

    #[test]
    fn which_errors_are_retryable() {
        let af = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        let retryable = [
            api(403, &af("AF429")),
            api(429, ""),
            api(500, &af("AF50000")),
            api(503, "<html/>"),
            api(408, ""),
            api(400, &af("AF50005")),
            ClientError::DeadlineExceeded {
                op: OP_GET_BLOB,
                attempts: 3,
                last: "HTTP 503".into(),
            },
            ClientError::Transport {
                op: OP_GET_BLOB,
                message: "reset".into(),
            },
            ClientError::Token {
                endpoint: "e".into(),
                message: "HTTP 503".into(),
                retryable: true,
            },
        ];
        for e in &retryable {
            assert!(e.is_retryable(), "{e}");
        }
        let permanent = [
            api(400, &af("AF20022")),
            api(400, &af("AF20023")),
            api(401, &af("AF10001")),
            api(400, &af("AF20055")),
            api(400, &af("AF20051")),
            api(403, &af("429")),
            api(
                401,
                r#"{"Message":"Authorization has been denied for this request."}"#,
            ),
            ClientError::ForeignUri {
                uri: "https://evil.net/".into(),
                api_root: "https://manage.office.com/".into(),
            },
            ClientError::Credential("bad key".into()),
            ClientError::Decode {
                op: OP_LIST_CONTENT,
                message: "not JSON".into(),
            },
            ClientError::Token {
                endpoint: "e".into(),
                message: "invalid_client".into(),
                retryable: false,
            },
        ];
        for e in &permanent {
            assert!(!e.is_retryable(), "{e}");
        }
        assert_eq!(
            api(400, &af("AF20024")).af_code(),
            Some(&AfCode::SubscriptionAlreadyEnabled)
        );
    }

    #[test]
    fn stats_are_shared_and_counted_by_code() {
        let stats = Stats::default();
        stats.retry();
        stats.throttle();
        stats.error("AF429");
        stats.error("AF429");
        stats.error("HTTP503");
        let s = stats.snapshot();
        assert_eq!((s.retries, s.throttles), (1, 1));
        assert_eq!(s.errors_by_code.get("AF429"), Some(&2));
        assert_eq!(s.errors_by_code.get("HTTP503"), Some(&1));
    }
}
