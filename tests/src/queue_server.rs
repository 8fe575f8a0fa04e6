//! An SQS stand-in held in memory, on 127.0.0.1, speaking the AWS JSON protocol the SDK uses
//! (`X-Amz-Target: AmazonSQS.<Operation>`), for the catch-up benchmark.
//!
//! moto's SQS walks the whole queue and deep-copies on every `ReceiveMessage`: with a few
//! thousand messages queued it spends a core on the queue alone, and a benchmark of request
//! pacing against the API then measures moto. This server keeps each queue indexed by the time
//! its messages become visible, so a receive costs what it returns.
//!
//! It keeps the semantics the collector relies on, as SQS documents them: visibility timeout
//! (the queue's, or the receive's), `DelaySeconds` per message, `ApproximateReceiveCount`, a
//! redrive policy that moves a message received `maxReceiveCount` times to its dead-letter
//! queue, receipt handles that change with each receive (deleting with an old one succeeds
//! and deletes nothing), batch limits (10 entries, 256 KiB, distinct ids) and per-entry
//! failures, long polling, and the `ApproximateNumberOfMessages*` counts. Operations it does
//! not implement answer `UnsupportedOperation`. Messages are not persisted.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The account id in queue URLs and ARNs.
const ACCOUNT: &str = "123456789012";
/// Largest message, and largest batch, SQS accepts (bytes).
const MAX_MESSAGE_BYTES: usize = 262_144;
/// Most entries in a batch call.
const MAX_BATCH_ENTRIES: usize = 10;
/// Longest `DelaySeconds`, in seconds.
const MAX_DELAY_SECS: u64 = 900;
/// Longest visibility timeout, in seconds (12 hours).
const MAX_VISIBILITY_SECS: u64 = 43_200;
/// Longest long poll, in seconds.
const MAX_WAIT_SECS: u64 = 20;
/// How often a long poll looks again for messages that became visible on their own.
const POLL_STEP: Duration = Duration::from_millis(20);

/// Why the stand-in could not start.
#[derive(Debug, thiserror::Error)]
pub enum QueueServerError {
    /// No loopback port could be bound.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    /// A setup call failed.
    #[error("queue server {op} failed: {message}")]
    Call {
        /// Which call.
        op: &'static str,
        /// What the server said.
        message: String,
    },
}

/// A running stand-in; it stops when dropped.
#[derive(Debug)]
pub struct QueueServer {
    endpoint: String,
    state: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for QueueServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl QueueServer {
    /// Starts a server on a free port of 127.0.0.1.
    pub async fn start() -> Result<QueueServer, QueueServerError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(QueueServerError::Bind)?;
        let addr = listener.local_addr().map_err(QueueServerError::Bind)?;
        let endpoint = format!("http://{addr}");
        let state = Arc::new(Shared {
            endpoint: endpoint.clone(),
            queues: Mutex::new(HashMap::new()),
            arrived: Notify::new(),
            sent: std::sync::atomic::AtomicU64::new(0),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "queue server stopped");
            }
        });
        Ok(QueueServer {
            endpoint,
            state,
            task,
        })
    }

    /// Its endpoint (`http://127.0.0.1:<port>`), for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Messages sent to its queues so far (accepted `SendMessage` and `SendMessageBatch`
    /// entries; moves to a dead-letter queue are not sends).
    pub fn messages_sent(&self) -> u64 {
        self.state.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// An SQS client for it.
    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        o365_activity::aws::sqs_client(&o365_activity::aws::local_sdk_config(&self.endpoint).await)
    }
}

/// The server's state, shared by its connections.
#[derive(Debug)]
struct Shared {
    endpoint: String,
    queues: Mutex<HashMap<String, Queue>>,
    /// Woken when messages are sent, for long polls.
    arrived: Notify,
    /// Messages accepted by sends.
    sent: std::sync::atomic::AtomicU64,
}

/// One message in a queue.
#[derive(Debug, Clone)]
struct Message {
    id: String,
    body: String,
    md5: String,
    sent_ms: u128,
    first_receive_ms: Option<u128>,
    receive_count: u32,
    /// The receipt handle of the latest receive; older ones delete nothing.
    receipt: Option<String>,
    /// Its key in [`Queue::ready`]: when it becomes visible, and a sequence number.
    key: (Instant, u64),
}

/// A queue: messages by id, and their ids ordered by when they become visible.
#[derive(Debug)]
struct Queue {
    name: String,
    visibility: Duration,
    delay: Duration,
    /// The dead-letter queue's name and the receives before a message moves there.
    redrive: Option<(String, u32)>,
    redrive_policy: Option<String>,
    messages: HashMap<String, Message>,
    ready: BTreeMap<(Instant, u64), String>,
    seq: u64,
}

impl Queue {
    fn new(name: &str) -> Queue {
        Queue {
            name: name.to_owned(),
            visibility: Duration::from_secs(30),
            delay: Duration::ZERO,
            redrive: None,
            redrive_policy: None,
            messages: HashMap::new(),
            ready: BTreeMap::new(),
            seq: 0,
        }
    }

    fn next_key(&mut self, at: Instant) -> (Instant, u64) {
        self.seq = self.seq.wrapping_add(1);
        (at, self.seq)
    }

    /// Adds a message visible after `delay`.
    fn push(&mut self, mut m: Message, delay: Duration) {
        m.key = self.next_key(Instant::now() + delay);
        self.ready.insert(m.key, m.id.clone());
        self.messages.insert(m.id.clone(), m);
    }

    /// Moves a message to visible at `at`.
    fn reschedule(&mut self, id: &str, at: Instant) {
        let key = self.next_key(at);
        if let Some(m) = self.messages.get_mut(id) {
            self.ready.remove(&m.key);
            m.key = key;
            self.ready.insert(key, id.to_owned());
        }
    }

    /// The message a receipt handle names, if it is the latest receive's.
    fn by_receipt(&self, receipt: &str) -> Option<&Message> {
        let id = receipt.split_once('#').map(|(id, _)| id)?;
        self.messages
            .get(id)
            .filter(|m| m.receipt.as_deref() == Some(receipt))
    }

    fn remove(&mut self, id: &str) {
        if let Some(m) = self.messages.remove(id) {
            self.ready.remove(&m.key);
        }
    }

    /// Visible, delayed (never received, not yet visible) and in-flight counts.
    fn counts(&self) -> (usize, usize, usize) {
        let now = Instant::now();
        let (mut visible, mut delayed, mut in_flight) = (0, 0, 0);
        for m in self.messages.values() {
            if m.key.0 <= now {
                visible += 1;
            } else if m.receive_count == 0 {
                delayed += 1;
            } else {
                in_flight += 1;
            }
        }
        (visible, delayed, in_flight)
    }
}

/// An SQS error answer: its code, whether the sender is at fault, and the message.
#[derive(Debug)]
struct SqsError {
    code: &'static str,
    message: String,
}

impl SqsError {
    fn new(code: &'static str, message: impl Into<String>) -> SqsError {
        SqsError {
            code,
            message: message.into(),
        }
    }

    fn no_queue(name: &str) -> SqsError {
        SqsError::new("QueueDoesNotExist", format!("no queue named {name:?}"))
    }

    fn invalid(message: impl Into<String>) -> SqsError {
        SqsError::new("InvalidParameterValue", message)
    }
}

impl IntoResponse for SqsError {
    fn into_response(self) -> Response {
        let body = json!({
            "__type": format!("com.amazonaws.sqs#{}", self.code),
            "message": self.message,
        });
        (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/x-amz-json-1.0")],
            body.to_string(),
        )
            .into_response()
    }
}

type Answer = Result<Value, SqsError>;

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn md5_hex(body: &str) -> String {
    Md5::digest(body.as_bytes())
        .iter()
        .fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn str_field<'a>(req: &'a Value, name: &str) -> Result<&'a str, SqsError> {
    req.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| SqsError::new("MissingParameter", format!("{name} is required")))
}

/// An optional whole-number field of a request (seconds, counts) in `0..=max`.
fn number_field(req: &Value, name: &str, max: u64) -> Result<Option<u64>, SqsError> {
    number_in(req.get(name), name, max)
}

/// An optional whole number (or its text, as queue attributes are) in `0..=max`.
fn number_in(value: Option<&Value>, name: &str, max: u64) -> Result<Option<u64>, SqsError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|n| *n <= max)
            .map(Some)
            .ok_or_else(|| SqsError::invalid(format!("{name} must be between 0 and {max}"))),
    }
}

fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

/// Whether every character is one SQS accepts in a message body.
fn valid_body(body: &str) -> bool {
    body.chars().all(|c| {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
    })
}

async fn handle(State(state): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let op = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("AmazonSQS."))
        .unwrap_or_default()
        .to_owned();
    let answer = match serde_json::from_slice::<Value>(&body) {
        Err(e) => Err(SqsError::new(
            "InvalidRequest",
            format!("body is not JSON: {e}"),
        )),
        Ok(req) => match op.as_str() {
            "ReceiveMessage" => receive(&state, &req).await,
            _ => state.call(&op, &req),
        },
    };
    match answer {
        Ok(v) => (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.0")],
            v.to_string(),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `ReceiveMessage`, long-polling up to `WaitTimeSeconds`.
async fn receive(state: &Shared, req: &Value) -> Answer {
    let wait =
        Duration::from_secs(number_field(req, "WaitTimeSeconds", MAX_WAIT_SECS)?.unwrap_or(0));
    let until = Instant::now() + wait;
    loop {
        let arrived = state.arrived.notified();
        let answer = state.receive_now(req)?;
        let empty = answer
            .get("Messages")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        let now = Instant::now();
        if !empty || now >= until {
            return Ok(answer);
        }
        let _ = tokio::time::timeout(POLL_STEP.min(until - now), arrived).await;
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Queue>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn call(&self, op: &str, req: &Value) -> Answer {
        match op {
            "CreateQueue" => self.create_queue(req),
            "GetQueueUrl" => {
                let name = str_field(req, "QueueName")?;
                self.with_queue(name, |_| Ok(()))?;
                Ok(json!({ "QueueUrl": self.url(name) }))
            }
            "GetQueueAttributes" => self.attributes(req),
            "SendMessage" => self.send_message(req),
            "SendMessageBatch" => self.send_batch(req),
            "DeleteMessage" => {
                let receipt = str_field(req, "ReceiptHandle")?.to_owned();
                self.with_url(req, |q| delete(q, &receipt))?;
                Ok(json!({}))
            }
            "DeleteMessageBatch" => self.batch(req, |q, e| {
                let receipt = str_field(e, "ReceiptHandle")?;
                delete(q, receipt)
            }),
            "ChangeMessageVisibility" => {
                let receipt = str_field(req, "ReceiptHandle")?.to_owned();
                let secs = number_field(req, "VisibilityTimeout", MAX_VISIBILITY_SECS)?
                    .ok_or_else(|| {
                        SqsError::new("MissingParameter", "VisibilityTimeout is required")
                    })?;
                self.with_url(req, |q| change_visibility(q, &receipt, secs))?;
                Ok(json!({}))
            }
            "ChangeMessageVisibilityBatch" => self.batch(req, |q, e| {
                let receipt = str_field(e, "ReceiptHandle")?;
                let secs = number_field(e, "VisibilityTimeout", MAX_VISIBILITY_SECS)?.unwrap_or(0);
                change_visibility(q, receipt, secs)
            }),
            "PurgeQueue" => {
                self.with_url(req, |q| {
                    q.messages.clear();
                    q.ready.clear();
                    Ok(())
                })?;
                Ok(json!({}))
            }
            other => Err(SqsError::new(
                "UnsupportedOperation",
                format!("the queue stand-in does not implement {other:?}"),
            )),
        }
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{ACCOUNT}/{name}", self.endpoint)
    }

    fn with_queue<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut Queue) -> Result<T, SqsError>,
    ) -> Result<T, SqsError> {
        let mut queues = self.lock();
        let q = queues
            .get_mut(name)
            .ok_or_else(|| SqsError::no_queue(name))?;
        f(q)
    }

    fn with_url<T>(
        &self,
        req: &Value,
        f: impl FnOnce(&mut Queue) -> Result<T, SqsError>,
    ) -> Result<T, SqsError> {
        self.with_queue(queue_name(str_field(req, "QueueUrl")?), f)
    }

    fn create_queue(&self, req: &Value) -> Answer {
        let name = str_field(req, "QueueName")?;
        if name.is_empty()
            || name.len() > 80
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(SqsError::invalid(format!("invalid queue name {name:?}")));
        }
        let mut q = Queue::new(name);
        let empty = Map::new();
        let attrs = req
            .get("Attributes")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        if let Some(v) = number_in(
            attrs.get("VisibilityTimeout"),
            "VisibilityTimeout",
            MAX_VISIBILITY_SECS,
        )? {
            q.visibility = Duration::from_secs(v);
        }
        if let Some(v) = number_in(attrs.get("DelaySeconds"), "DelaySeconds", MAX_DELAY_SECS)? {
            q.delay = Duration::from_secs(v);
        }
        let mut queues = self.lock();
        if let Some(policy) = attrs.get("RedrivePolicy").and_then(Value::as_str) {
            let p: Value = serde_json::from_str(policy)
                .map_err(|e| SqsError::invalid(format!("RedrivePolicy is not JSON: {e}")))?;
            let target = p
                .get("deadLetterTargetArn")
                .and_then(Value::as_str)
                .and_then(|arn| arn.rsplit(':').next())
                .ok_or_else(|| SqsError::invalid("RedrivePolicy needs deadLetterTargetArn"))?;
            let max = number_field(&p, "maxReceiveCount", 1000)?
                .filter(|n| *n >= 1)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| SqsError::invalid("maxReceiveCount must be between 1 and 1000"))?;
            if !queues.contains_key(target) {
                return Err(SqsError::invalid(format!(
                    "dead-letter queue {target:?} does not exist"
                )));
            }
            q.redrive = Some((target.to_owned(), max));
            q.redrive_policy = Some(policy.to_owned());
        }
        queues.entry(name.to_owned()).or_insert(q);
        Ok(json!({ "QueueUrl": self.url(name) }))
    }

    fn attributes(&self, req: &Value) -> Answer {
        let names: Vec<&str> = req
            .get("AttributeNames")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let wants = |n: &str| names.iter().any(|w| *w == n || *w == "All");
        self.with_url(req, |q| {
            let (visible, delayed, in_flight) = q.counts();
            let mut out = Map::new();
            let mut put = |k: &str, v: String| {
                if wants(k) {
                    out.insert(k.to_owned(), Value::String(v));
                }
            };
            put(
                "QueueArn",
                format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{}", q.name),
            );
            put("VisibilityTimeout", q.visibility.as_secs().to_string());
            put("DelaySeconds", q.delay.as_secs().to_string());
            put("ApproximateNumberOfMessages", visible.to_string());
            put("ApproximateNumberOfMessagesDelayed", delayed.to_string());
            put(
                "ApproximateNumberOfMessagesNotVisible",
                in_flight.to_string(),
            );
            if let Some(p) = &q.redrive_policy {
                put("RedrivePolicy", p.clone());
            }
            Ok(json!({ "Attributes": out }))
        })
    }

    fn send_message(&self, req: &Value) -> Answer {
        let body = str_field(req, "MessageBody")?;
        let delay = number_field(req, "DelaySeconds", MAX_DELAY_SECS)?;
        check_body(body)?;
        let out = self.with_url(req, |q| Ok(enqueue(q, body, delay)))?;
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.arrived.notify_waiters();
        Ok(out)
    }

    fn send_batch(&self, req: &Value) -> Answer {
        let entries = batch_entries(req)?;
        let total: usize = entries
            .iter()
            .filter_map(|e| e.get("MessageBody").and_then(Value::as_str))
            .map(str::len)
            .sum();
        if total > MAX_MESSAGE_BYTES {
            return Err(SqsError::new(
                "BatchRequestTooLong",
                format!("the batch's bodies total {total} bytes, over {MAX_MESSAGE_BYTES}"),
            ));
        }
        let out = self.with_url(req, |q| {
            let (mut ok, mut failed) = (Vec::new(), Vec::new());
            for e in &entries {
                let id = e.get("Id").and_then(Value::as_str).unwrap_or_default();
                let sent = str_field(e, "MessageBody").and_then(|body| {
                    check_body(body)?;
                    let delay = number_field(e, "DelaySeconds", MAX_DELAY_SECS)?;
                    Ok(enqueue(q, body, delay))
                });
                match sent {
                    Ok(mut v) => {
                        if let Some(o) = v.as_object_mut() {
                            o.insert("Id".into(), Value::String(id.to_owned()));
                        }
                        ok.push(v);
                    }
                    Err(err) => failed.push(failure(id, &err)),
                }
            }
            Ok(json!({ "Successful": ok, "Failed": failed }))
        })?;
        let accepted = out["Successful"].as_array().map_or(0, Vec::len);
        self.sent
            .fetch_add(accepted as u64, std::sync::atomic::Ordering::Relaxed);
        self.arrived.notify_waiters();
        Ok(out)
    }

    /// A batch call whose entries each apply `f` to the queue.
    fn batch(&self, req: &Value, f: impl Fn(&mut Queue, &Value) -> Result<(), SqsError>) -> Answer {
        let entries = batch_entries(req)?;
        self.with_url(req, |q| {
            let (mut ok, mut failed) = (Vec::new(), Vec::new());
            for e in &entries {
                let id = e.get("Id").and_then(Value::as_str).unwrap_or_default();
                match f(q, e) {
                    Ok(()) => ok.push(json!({ "Id": id })),
                    Err(err) => failed.push(failure(id, &err)),
                }
            }
            Ok(json!({ "Successful": ok, "Failed": failed }))
        })
    }

    /// One receive without waiting: the visible messages, oldest first; a message already
    /// received `maxReceiveCount` times moves to the dead-letter queue instead.
    fn receive_now(&self, req: &Value) -> Answer {
        let max = number_field(req, "MaxNumberOfMessages", 10)?.unwrap_or(1);
        if max == 0 {
            return Err(SqsError::invalid(
                "MaxNumberOfMessages must be between 1 and 10",
            ));
        }
        let visibility = number_field(req, "VisibilityTimeout", MAX_VISIBILITY_SECS)?;
        let wanted: Vec<&str> = ["AttributeNames", "MessageSystemAttributeNames"]
            .iter()
            .filter_map(|k| req.get(*k).and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let name = queue_name(str_field(req, "QueueUrl")?).to_owned();
        let mut queues = self.lock();
        let q = queues
            .get_mut(&name)
            .ok_or_else(|| SqsError::no_queue(&name))?;
        let now = Instant::now();
        let hide = visibility.map_or(q.visibility, Duration::from_secs);
        let mut out = Vec::new();
        let mut dead = Vec::new();
        while (out.len() as u64) < max {
            let Some((&key, id)) = q.ready.first_key_value() else {
                break;
            };
            if key.0 > now {
                break;
            }
            let id = id.clone();
            // Received in this call already and visible again at once (a visibility of 0):
            // it sorts after every message that was due, so the receive is complete.
            if out.iter().any(|m: &Value| m["MessageId"] == id.as_str()) {
                break;
            }
            let moves = q.redrive.as_ref().and_then(|(dlq, max_receives)| {
                q.messages
                    .get(&id)
                    .filter(|m| m.receive_count >= *max_receives)
                    .map(|_| dlq.clone())
            });
            if let Some(dlq) = moves {
                if let Some(m) = q.messages.get(&id).cloned() {
                    dead.push((dlq, m));
                }
                q.remove(&id);
                continue;
            }
            q.reschedule(&id, now + hide);
            q.seq = q.seq.wrapping_add(1);
            let receipt = format!("{id}#{}", q.seq);
            let Some(m) = q.messages.get_mut(&id) else {
                continue;
            };
            m.receive_count = m.receive_count.saturating_add(1);
            let first = *m.first_receive_ms.get_or_insert_with(now_ms);
            m.receipt = Some(receipt.clone());
            let mut attrs = Map::new();
            let wants = |n: &str| wanted.iter().any(|w| *w == n || *w == "All");
            for (k, v) in [
                ("ApproximateReceiveCount", m.receive_count.to_string()),
                ("SentTimestamp", m.sent_ms.to_string()),
                ("ApproximateFirstReceiveTimestamp", first.to_string()),
                ("SenderId", ACCOUNT.to_owned()),
            ] {
                if wants(k) {
                    attrs.insert(k.to_owned(), Value::String(v));
                }
            }
            let mut msg = json!({
                "MessageId": m.id,
                "ReceiptHandle": receipt,
                "MD5OfBody": m.md5,
                "Body": m.body,
            });
            if !attrs.is_empty() {
                if let Some(o) = msg.as_object_mut() {
                    o.insert("Attributes".into(), Value::Object(attrs));
                }
            }
            out.push(msg);
        }
        for (dlq, mut m) in dead {
            if let Some(target) = queues.get_mut(&dlq) {
                m.receive_count = 0;
                m.receipt = None;
                m.first_receive_ms = None;
                target.push(m, Duration::ZERO);
            }
        }
        Ok(json!({ "Messages": out }))
    }
}

fn check_body(body: &str) -> Result<(), SqsError> {
    if body.is_empty() {
        return Err(SqsError::invalid("the message body is empty"));
    }
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(SqsError::invalid(format!(
            "the message body is {} bytes, over {MAX_MESSAGE_BYTES}",
            body.len()
        )));
    }
    if !valid_body(body) {
        return Err(SqsError::new(
            "InvalidMessageContents",
            "the message body holds characters SQS does not accept",
        ));
    }
    Ok(())
}

fn enqueue(q: &mut Queue, body: &str, delay: Option<u64>) -> Value {
    let id = uuid::Uuid::new_v4().to_string();
    let md5 = md5_hex(body);
    let m = Message {
        id: id.clone(),
        body: body.to_owned(),
        md5: md5.clone(),
        sent_ms: now_ms(),
        first_receive_ms: None,
        receive_count: 0,
        receipt: None,
        key: (Instant::now(), 0),
    };
    let delay = delay.map_or(q.delay, Duration::from_secs);
    q.push(m, delay);
    json!({ "MessageId": id, "MD5OfMessageBody": md5 })
}

/// A batch call's entries: 1 to 10, with distinct ids.
fn batch_entries(req: &Value) -> Result<Vec<Value>, SqsError> {
    let entries = req
        .get("Entries")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if entries.is_empty() {
        return Err(SqsError::new(
            "EmptyBatchRequest",
            "the batch has no entries",
        ));
    }
    if entries.len() > MAX_BATCH_ENTRIES {
        return Err(SqsError::new(
            "TooManyEntriesInBatchRequest",
            format!("{} entries, at most {MAX_BATCH_ENTRIES}", entries.len()),
        ));
    }
    let mut ids: Vec<&str> = entries
        .iter()
        .map(|e| e.get("Id").and_then(Value::as_str).unwrap_or_default())
        .collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(SqsError::new(
            "BatchEntryIdsNotDistinct",
            "two entries share an id",
        ));
    }
    Ok(entries)
}

fn failure(id: &str, err: &SqsError) -> Value {
    json!({ "Id": id, "SenderFault": true, "Code": err.code, "Message": err.message })
}

/// Deletes the message a receipt handle names; an old handle deletes nothing, as in SQS.
fn delete(q: &mut Queue, receipt: &str) -> Result<(), SqsError> {
    if !receipt.contains('#') {
        return Err(SqsError::new(
            "ReceiptHandleIsInvalid",
            "not a receipt handle of this queue",
        ));
    }
    if let Some(id) = q.by_receipt(receipt).map(|m| m.id.clone()) {
        q.remove(&id);
    }
    Ok(())
}

/// Makes an in-flight message visible after `secs`.
fn change_visibility(q: &mut Queue, receipt: &str, secs: u64) -> Result<(), SqsError> {
    let m = q.by_receipt(receipt).ok_or_else(|| {
        SqsError::new(
            "MessageNotInflight",
            "the receipt handle is not the latest of a message in flight",
        )
    })?;
    let id = m.id.clone();
    q.reschedule(&id, Instant::now() + Duration::from_secs(secs));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
    use o365_activity::queue::SqsQueue;
    use o365_activity::testing::create_queue_with_dlq;

    async fn server_and_queues(max_receives: u32) -> (QueueServer, SqsQueue, SqsQueue) {
        let server = QueueServer::start().await.unwrap();
        let (queue, dlq) = create_queue_with_dlq(
            &server.sqs().await,
            "t",
            max_receives,
            Duration::from_secs(30),
        )
        .await
        .unwrap();
        (server, queue, dlq)
    }

    /// Fails unless the SDK error carries SQS error code `code`.
    fn assert_code<E: std::fmt::Debug>(err: &E, code: &str) {
        let text = format!("{err:?}");
        assert!(text.contains(code), "want {code}: {text}");
    }

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[tokio::test]
    async fn messages_go_round_as_in_sqs_and_move_to_the_dlq_after_the_redrive_count() {
        let (_server, queue, dlq) = server_and_queues(2).await;
        let sent = queue
            .send_delayed(
                &[("a".into(), Duration::ZERO), ("b".into(), Duration::ZERO)],
                deadline(),
            )
            .await;
        assert_eq!(sent, vec![true, true]);
        assert_eq!(queue.approximate_depth().await.unwrap(), (2, 0));

        // Received in order, hidden for the receive's visibility, counted.
        let got = queue
            .receive(10, Duration::ZERO, Some(Duration::ZERO))
            .await
            .unwrap();
        let bodies: Vec<_> = got.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(bodies, ["a", "b"]);
        assert!(got.iter().all(|m| m.receive_count == 1));
        // Visibility 0: both are back at once, received a second time.
        let again = queue
            .receive(10, Duration::ZERO, Some(Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(again.len(), 2);
        assert!(again.iter().all(|m| m.receive_count == 2));
        assert_eq!(queue.approximate_depth().await.unwrap(), (0, 2));

        // An old receipt handle deletes nothing; the latest one deletes.
        let a_old = got.iter().find(|m| m.body == "a").unwrap();
        queue
            .delete(std::slice::from_ref(&a_old.receipt_handle))
            .await
            .unwrap();
        assert_eq!(queue.approximate_depth().await.unwrap(), (0, 2));
        let a_new = again.iter().find(|m| m.body == "a").unwrap();
        assert_eq!(
            queue
                .delete(std::slice::from_ref(&a_new.receipt_handle))
                .await
                .unwrap(),
            1
        );

        // "b" was received twice (maxReceiveCount 2): next time it would be received, it
        // moves to the DLQ instead.
        let b = again.iter().find(|m| m.body == "b").unwrap();
        queue
            .change_visibility(&b.receipt_handle, Duration::ZERO)
            .await
            .unwrap();
        assert!(queue
            .receive(10, Duration::ZERO, None)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(queue.approximate_depth().await.unwrap(), (0, 0));
        let dead = dlq.receive(10, Duration::ZERO, None).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].body, "b");
        assert_eq!(dead[0].receive_count, 1);
    }

    #[tokio::test]
    async fn a_delayed_message_stays_hidden_until_its_delay_and_a_long_poll_waits_for_it() {
        let (server, queue, _dlq) = server_and_queues(5).await;
        let sent = queue
            .send_delayed(&[("later".into(), Duration::from_secs(1))], deadline())
            .await;
        assert_eq!(sent, vec![true]);
        let attrs = server
            .sqs()
            .await
            .get_queue_attributes()
            .queue_url(queue.url())
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .unwrap();
        let delayed = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessagesDelayed))
            .cloned();
        assert_eq!(delayed.as_deref(), Some("1"));
        assert!(queue
            .receive(1, Duration::ZERO, None)
            .await
            .unwrap()
            .is_empty());
        let started = Instant::now();
        let got = queue
            .receive(1, Duration::from_secs(5), None)
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, "later");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the long poll returned when it came"
        );
    }

    #[tokio::test]
    async fn batches_are_checked_as_sqs_checks_them() {
        let (server, queue, _dlq) = server_and_queues(5).await;
        let sqs = server.sqs().await;
        let entry = |id: &str, body: &str| {
            SendMessageBatchRequestEntry::builder()
                .id(id)
                .message_body(body)
                .build()
                .unwrap()
        };
        let send = |entries: Vec<SendMessageBatchRequestEntry>| {
            sqs.send_message_batch()
                .queue_url(queue.url())
                .set_entries(Some(entries))
                .send()
        };
        let too_many = (0..11).map(|i| entry(&format!("e{i}"), "x")).collect();
        let err = send(too_many).await.unwrap_err();
        assert_code(&err, "TooManyEntriesInBatchRequest");
        let err = send(vec![entry("same", "x"), entry("same", "y")])
            .await
            .unwrap_err();
        assert_code(&err, "BatchEntryIdsNotDistinct");
        // One bad entry fails alone; the MD5 is the body's.
        let out = send(vec![entry("ok", "hello"), entry("bad", "\u{1}")])
            .await
            .unwrap();
        assert_eq!(out.successful().len(), 1);
        assert_eq!(
            out.successful()[0].md5_of_message_body(),
            "5d41402abc4b2a76b9719d911017c592"
        );
        assert_eq!(out.failed().len(), 1);
        assert_eq!(out.failed()[0].id(), "bad");
        let err = sqs
            .receive_message()
            .queue_url(format!("{}/{ACCOUNT}/nope", server.endpoint()))
            .send()
            .await
            .unwrap_err();
        assert_code(&err, "QueueDoesNotExist");
    }
}
