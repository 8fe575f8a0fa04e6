//! An in-test AWS Lambda Runtime API (`2018-06-01`), so the real `o365-fetcher` and
//! `o365-lister` binaries run exactly as in Lambda: their `main.rs` wiring, the event JSON they
//! receive and the response JSON they return are all exercised, and their start-up time can be
//! measured as the time from process start to the first `invocation/next` poll.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{mpsc, oneshot};

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum InvocationResult {
    /// `POST /runtime/invocation/{id}/response` with this JSON body.
    Response(serde_json::Value),
    /// `POST /runtime/invocation/{id}/error` with this body (the runtime's error JSON).
    Error(serde_json::Value),
}

/// Why an invocation got no answer.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function did not poll for, or did not answer, the invocation in time.
    #[error("the function gave no answer within {0:?} (is it running and polling AWS_LAMBDA_RUNTIME_API?)")]
    Timeout(Duration),
    /// The runtime API server stopped.
    #[error("the runtime API server stopped")]
    Stopped,
}

struct Pending {
    request_id: String,
    event: Bytes,
    deadline_ms: u128,
}

#[derive(Default)]
struct Shared {
    first_poll: Option<Instant>,
    polls: u64,
    init_errors: Vec<serde_json::Value>,
    waiting: HashMap<String, oneshot::Sender<InvocationResult>>,
}

#[derive(Clone)]
struct AppState {
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>>,
    shared: Arc<Mutex<Shared>>,
    function_arn: String,
}

/// A running Runtime API endpoint on 127.0.0.1; point `AWS_LAMBDA_RUNTIME_API` at [`RuntimeApi::endpoint`].
pub struct RuntimeApi {
    addr: SocketAddr,
    sender: mpsc::UnboundedSender<Pending>,
    shared: Arc<Mutex<Shared>>,
    server: tokio::task::JoinHandle<()>,
    counter: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("addr", &self.addr)
            .finish()
    }
}

fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl RuntimeApi {
    /// Starts the endpoint on a free loopback port for a function of this name.
    pub async fn start(function_name: &str) -> std::io::Result<RuntimeApi> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = AppState {
            queue: Arc::new(tokio::sync::Mutex::new(receiver)),
            shared: shared.clone(),
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(state);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi {
            addr,
            sender,
            shared,
            server,
            counter: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first asked for an invocation (it is initialised then).
    pub fn first_poll(&self) -> Option<Instant> {
        lock(&self.shared).first_poll
    }

    /// How many times the function asked for the next invocation.
    pub fn polls(&self) -> u64 {
        lock(&self.shared).polls
    }

    /// Bodies the function posted to `/runtime/init/error`.
    pub fn init_errors(&self) -> Vec<serde_json::Value> {
        lock(&self.shared).init_errors.clone()
    }

    /// Waits until the function polls for work (it finished its cold start) or `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> Option<Instant> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(t) = self.first_poll() {
                return Some(t);
            }
            if Instant::now() >= until || !self.init_errors().is_empty() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Queues one event (as Lambda would send it) and waits for the function's answer.
    /// `timeout` is both the function's deadline (`Lambda-Runtime-Deadline-Ms`) and how long
    /// this waits, plus a grace of 5 s for the answer to arrive.
    pub async fn invoke(
        &self,
        event: &serde_json::Value,
        timeout: Duration,
    ) -> Result<InvocationResult, InvokeError> {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let request_id = format!("00000000-0000-4000-8000-{n:012}");
        let (tx, rx) = oneshot::channel();
        lock(&self.shared).waiting.insert(request_id.clone(), tx);
        let deadline_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            + timeout.as_millis();
        let body = Bytes::from(serde_json::to_vec(event).unwrap_or_default());
        self.sender
            .send(Pending {
                request_id: request_id.clone(),
                event: body,
                deadline_ms,
            })
            .map_err(|_| InvokeError::Stopped)?;
        let wait = timeout + Duration::from_secs(5);
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(_)) => Err(InvokeError::Stopped),
            Err(_) => {
                lock(&self.shared).waiting.remove(&request_id);
                Err(InvokeError::Timeout(wait))
            }
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(state): State<AppState>) -> Response {
    {
        let mut s = lock(&state.shared);
        s.polls += 1;
        if s.first_poll.is_none() {
            s.first_poll = Some(Instant::now());
        }
    }
    let pending = {
        let mut queue = state.queue.lock().await;
        queue.recv().await
    };
    let Some(p) = pending else {
        return StatusCode::GONE.into_response();
    };
    let mut headers = HeaderMap::new();
    let put = |headers: &mut HeaderMap, name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    put(&mut headers, "lambda-runtime-aws-request-id", &p.request_id);
    put(
        &mut headers,
        "lambda-runtime-deadline-ms",
        &p.deadline_ms.to_string(),
    );
    put(
        &mut headers,
        "lambda-runtime-invoked-function-arn",
        &state.function_arn,
    );
    put(
        &mut headers,
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
    );
    put(&mut headers, "content-type", "application/json");
    (StatusCode::OK, headers, p.event).into_response()
}

fn parse_body(body: &Bytes) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn complete(state: &AppState, id: &str, result: InvocationResult) -> StatusCode {
    match lock(&state.shared).waiting.remove(id) {
        Some(tx) => {
            let _ = tx.send(result);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn respond(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    complete(&state, &id, InvocationResult::Response(parse_body(&body)))
}

async fn fail(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    complete(&state, &id, InvocationResult::Error(parse_body(&body)))
}

async fn init_error(State(state): State<AppState>, body: Bytes) -> StatusCode {
    lock(&state.shared).init_errors.push(parse_body(&body));
    StatusCode::ACCEPTED
}
