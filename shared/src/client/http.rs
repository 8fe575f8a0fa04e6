//! The attempt loop every API operation goes through: bearer token, the tenant's request
//! budget, one request, error classification, 401 refresh-once, backoff with jitter or
//! `Retry-After`, all bounded by the caller's deadline.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use url::Url;

use super::budget::{CallClass, Outcome};
use super::retry::{status_is_retryable, RetryPlan};
use super::{
    error_chain, read_limited, retry_after_of, ActivityClient, BlobBody, ClientError,
    MAX_ERROR_BODY, MAX_JSON_BODY, OP_GET_BLOB,
};
use crate::api_error::ApiErrorBody;
use crate::secret::Secret;

/// How a successful response is taken in. Failing to take it in is a network error, and
/// retried: no byte has reached the caller yet.
pub(crate) trait Receive {
    /// What the caller gets.
    type Out;
    /// Reads as much of `resp` as this kind of call needs before returning.
    fn receive(
        resp: reqwest::Response,
        timeout: Duration,
    ) -> impl Future<Output = Result<Self::Out, String>> + Send;
}

/// A JSON response read whole (listings, subscriptions).
#[derive(Debug)]
pub(crate) struct Buffered {
    /// Response headers (`NextPageUri` lives here).
    pub(crate) headers: HeaderMap,
    /// The body.
    pub(crate) body: Bytes,
}

impl Receive for Buffered {
    type Out = Buffered;

    async fn receive(resp: reqwest::Response, timeout: Duration) -> Result<Buffered, String> {
        let headers = resp.headers().clone();
        let body = tokio::time::timeout(timeout, read_limited(resp, MAX_JSON_BODY))
            .await
            .map_err(|_| format!("the response body did not arrive within {timeout:?}"))??;
        Ok(Buffered { headers, body })
    }
}

impl Buffered {
    /// Decodes the JSON body.
    pub(crate) fn decode<T: DeserializeOwned>(&self, op: &'static str) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| ClientError::Decode {
            op,
            message: format!("the JSON body does not have the documented shape: {e}"),
        })
    }
}

/// A blob response handed over as a stream once its first chunk has arrived.
#[derive(Debug)]
pub(crate) struct Streamed;

impl Receive for Streamed {
    type Out = BlobBody;

    async fn receive(resp: reqwest::Response, timeout: Duration) -> Result<BlobBody, String> {
        let content_length = resp.content_length();
        let mut rest = Box::pin(resp.bytes_stream());
        let first = match tokio::time::timeout(timeout, rest.next()).await {
            Err(_) => return Err(format!("no body byte arrived within {timeout:?}")),
            Ok(Some(Err(e))) => return Err(format!("the body broke off: {}", error_chain(&e))),
            Ok(Some(Ok(first))) => Some(first),
            Ok(None) => None,
        };
        Ok(BlobBody {
            first,
            rest,
            content_length,
        })
    }
}

/// What one attempt came to.
enum Attempt<T> {
    /// Success.
    Done(T),
    /// HTTP 401 without an AF code: the token was refused.
    Unauthorized(ClientError),
    /// Any other failure.
    Failed {
        err: ClientError,
        retryable: bool,
        throttled: bool,
        retry_after: Option<Duration>,
    },
}

impl<T> Attempt<T> {
    /// What the budget learns from this attempt.
    fn outcome(&self) -> Outcome {
        match self {
            Attempt::Done(_) => Outcome::Ok,
            Attempt::Failed {
                throttled: true, ..
            } => Outcome::Throttled,
            _ => Outcome::Failed,
        }
    }
}

/// Which line a call waits in for the budget: downloads behind listing and subscriptions.
fn class_of(op: &'static str) -> CallClass {
    if op == OP_GET_BLOB {
        CallClass::Download
    } else {
        CallClass::Listing
    }
}

impl ActivityClient {
    /// Sends `method url` (already through the guard) until it succeeds, fails for good,
    /// runs out of attempts or would pass `deadline`. Each attempt waits for the tenant's
    /// budget up to `budget_wait` (a turn later: [`ClientError::Throttled`]), or up to
    /// `deadline` when `None` (listing calls).
    pub(crate) async fn call<R: Receive>(
        &self,
        op: &'static str,
        method: Method,
        url: &Url,
        deadline: Instant,
        budget_wait: Option<Duration>,
    ) -> Result<R::Out, ClientError> {
        let inner = &self.inner;
        let mut plan = RetryPlan::new(&inner.options.retry, deadline);
        let mut refreshed = false;
        let class = class_of(op);
        loop {
            let token = inner.tokens.get(deadline).await?;
            self.wait_for_budget(op, class, &plan, deadline, budget_wait)
                .await?;
            let Some(timeout) = plan.begin_attempt(inner.options.request_timeout) else {
                return Err(plan.deadline_error(op));
            };
            let attempt = self
                .attempt::<R>(op, method.clone(), url, &token, timeout)
                .await;
            let outcome = attempt.outcome();
            let budget_retry_after = match &attempt {
                Attempt::Failed { retry_after, .. } => *retry_after,
                _ => None,
            };
            inner.budget.record(outcome, budget_retry_after);
            let (err, retry_after) = match attempt {
                Attempt::Done(out) => return Ok(out),
                Attempt::Unauthorized(err) if !refreshed => {
                    // The token may have been revoked or expired early: get a new one, once.
                    refreshed = true;
                    inner.tokens.invalidate(&token).await;
                    inner.stats.retry();
                    plan.record(err.to_string());
                    tracing::debug!(op, "401 from the API; refreshing the token once");
                    continue;
                }
                Attempt::Unauthorized(err) => return Err(err),
                Attempt::Failed {
                    err,
                    retryable: false,
                    ..
                } => return Err(err),
                // A `Retry-After` on a throttled answer stopped the whole budget: its wait,
                // not a sleep here, paces the next attempt.
                Attempt::Failed {
                    err,
                    throttled: true,
                    retry_after: Some(_),
                    ..
                } => (err, Some(Duration::ZERO)),
                Attempt::Failed {
                    err, retry_after, ..
                } => (err, retry_after),
            };
            plan.record(err.to_string());
            match plan.next_delay(retry_after) {
                Some(delay) => {
                    inner.stats.retry();
                    tracing::debug!(op, error = %err, ?delay, "retrying");
                    tokio::time::sleep(delay).await;
                }
                None if plan.out_of_attempts() => return Err(err),
                None => return Err(plan.deadline_error(op)),
            }
        }
    }

    /// Waits for this call's turn in the tenant's budget, up to `budget_wait` (then
    /// [`ClientError::Throttled`]) or, when `None`, up to the deadline.
    async fn wait_for_budget(
        &self,
        op: &'static str,
        class: CallClass,
        plan: &RetryPlan<'_>,
        deadline: Instant,
        budget_wait: Option<Duration>,
    ) -> Result<(), ClientError> {
        let give_up = budget_wait
            .and_then(|w| Instant::now().checked_add(w))
            .map_or(deadline, |t| t.min(deadline));
        match self.inner.budget.acquire(class, give_up).await {
            Ok(()) => Ok(()),
            Err(wait) if give_up < deadline => Err(ClientError::Throttled { op, wait }),
            Err(_) => Err(plan.deadline_error(op)),
        }
    }

    /// One request and its classification.
    async fn attempt<R: Receive>(
        &self,
        op: &'static str,
        method: Method,
        url: &Url,
        token: &Secret,
        timeout: Duration,
    ) -> Attempt<R::Out> {
        let inner = &self.inner;
        let network = |message: String| {
            inner.stats.error("NETWORK");
            Attempt::Failed {
                err: ClientError::Transport { op, message },
                retryable: true,
                throttled: false,
                retry_after: None,
            }
        };
        let mut request = inner
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(token.expose());
        if method == Method::POST {
            request = request.header(reqwest::header::CONTENT_LENGTH, 0);
        }
        let resp = match tokio::time::timeout(timeout, request.send()).await {
            Err(_) => return network(format!("no response within {timeout:?}")),
            Ok(Err(e)) => return network(error_chain(&e.without_url())),
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status();
        if status.is_success() {
            return match R::receive(resp, timeout).await {
                Ok(out) => Attempt::Done(out),
                Err(message) => network(message),
            };
        }
        let status = status.as_u16();
        let retry_after = retry_after_of(&resp, inner.clock.now());
        let body = tokio::time::timeout(timeout, read_limited(resp, MAX_ERROR_BODY))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let body = ApiErrorBody::parse(&body);
        let code = body.code().cloned();
        inner.stats.error(
            &code
                .as_ref()
                .map_or_else(|| format!("HTTP{status}"), |c| c.as_str().to_owned()),
        );
        let throttled = status == 429 || code.as_ref().is_some_and(|c| c.is_throttle());
        if throttled {
            inner.stats.throttle();
        }
        let retryable =
            status_is_retryable(status) || code.as_ref().is_some_and(|c| c.is_retryable());
        let err = ClientError::Api { op, status, body };
        if status == 401 && code.is_none() {
            return Attempt::Unauthorized(err);
        }
        Attempt::Failed {
            err,
            retryable,
            throttled,
            retry_after,
        }
    }
}
