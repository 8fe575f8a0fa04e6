//! The Graph attempt loop: bearer token, one request, 401 refresh-once, backoff with jitter
//! or `Retry-After` on 408/429/5xx and network errors, bounded by the caller's deadline.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use tokio::time::Instant;
use url::Url;

use super::GraphClient;
use crate::api_error::ApiErrorBody;
use crate::client::retry::{status_is_retryable, RetryPlan};
use crate::client::{
    error_chain, read_limited, retry_after_of, ClientError, MAX_ERROR_BODY, MAX_JSON_BODY,
};

/// Whether an error says the API version does not serve the audit log query API (so the
/// other version should be tried): 404, or 400 with Graph's "Resource not found for the
/// segment" wording.
pub(super) fn means_not_served(e: &ClientError) -> bool {
    match e {
        ClientError::Api { status: 404, .. } => true,
        ClientError::Api {
            status: 400, body, ..
        } => body
            .message()
            .to_ascii_lowercase()
            .contains("resource not found"),
        _ => false,
    }
}

/// One attempt's failure: the error, whether retrying can help, and `Retry-After`.
struct Failed {
    err: ClientError,
    retryable: bool,
    retry_after: Option<Duration>,
    unauthorized: bool,
}

impl GraphClient {
    /// Sends `method url` (already through the guard) with an optional JSON body until it
    /// succeeds (any 2xx), fails for good, runs out of attempts or would pass `deadline`.
    pub(super) async fn send(
        &self,
        op: &'static str,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        deadline: Instant,
    ) -> Result<Bytes, ClientError> {
        let inner = &self.inner;
        let mut plan = RetryPlan::new(&inner.options.retry, deadline);
        let mut refreshed = false;
        loop {
            let token = inner.tokens.get(deadline).await?;
            let Some(timeout) = plan.begin_attempt(inner.options.request_timeout) else {
                return Err(plan.deadline_error(op));
            };
            let failed = match self
                .attempt(op, method.clone(), url, body, &token, timeout)
                .await
            {
                Ok(bytes) => return Ok(bytes),
                Err(f) => f,
            };
            if failed.unauthorized && !refreshed {
                refreshed = true;
                inner.tokens.invalidate(&token).await;
                inner.stats.retry();
                plan.record(failed.err.to_string());
                continue;
            }
            if !failed.retryable {
                return Err(failed.err);
            }
            plan.record(failed.err.to_string());
            match plan.next_delay(failed.retry_after) {
                Some(delay) => {
                    inner.stats.retry();
                    tracing::debug!(op, error = %failed.err, ?delay, "retrying");
                    tokio::time::sleep(delay).await;
                }
                None if plan.out_of_attempts() => return Err(failed.err),
                None => return Err(plan.deadline_error(op)),
            }
        }
    }

    async fn attempt(
        &self,
        op: &'static str,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        token: &crate::secret::Secret,
        timeout: Duration,
    ) -> Result<Bytes, Failed> {
        let inner = &self.inner;
        let network = |message: String| {
            inner.stats.error("NETWORK");
            Failed {
                err: ClientError::Transport { op, message },
                retryable: true,
                retry_after: None,
                unauthorized: false,
            }
        };
        let mut request = inner
            .http
            .request(method, url.clone())
            .bearer_auth(token.expose());
        if let Some(b) = body {
            request = request.json(b);
        }
        let resp = match tokio::time::timeout(timeout, request.send()).await {
            Err(_) => return Err(network(format!("no response within {timeout:?}"))),
            Ok(Err(e)) => return Err(network(error_chain(&e.without_url()))),
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status();
        if status.is_success() {
            return match tokio::time::timeout(timeout, read_limited(resp, MAX_JSON_BODY)).await {
                Err(_) => Err(network(format!(
                    "the body did not arrive within {timeout:?}"
                ))),
                Ok(Err(e)) => Err(network(e)),
                Ok(Ok(bytes)) => Ok(bytes),
            };
        }
        let status = status.as_u16();
        let retry_after = retry_after_of(&resp, inner.clock.now());
        let bytes = tokio::time::timeout(timeout, read_limited(resp, MAX_ERROR_BODY))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        inner.stats.error(&format!("HTTP{status}"));
        if status == 429 {
            inner.stats.throttle();
        }
        Err(Failed {
            err: ClientError::Api {
                op,
                status,
                body: ApiErrorBody::parse(&bytes),
            },
            retryable: status_is_retryable(status),
            retry_after,
            unauthorized: status == 401,
        })
    }
}
