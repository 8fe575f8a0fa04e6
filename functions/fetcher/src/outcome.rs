//! What became of a message and of a batch, and why a message did not produce an object.

use o365_activity::latency::RecordLatency;

/// Why a message did not produce an object, as a metric dimension (`Errors{Kind=…}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The body is not a valid queue message.
    MalformedMessage,
    /// The message names a tenant this deployment does not serve.
    UnknownTenant,
    /// `content_uri` is not under the tenant's API root.
    ForgedUri,
    /// The API says the content expired (AF20051).
    ContentExpired,
    /// The API says the content does not exist or its id is invalid (AF20050, AF20052, 404).
    ContentNotFound,
    /// The blob is not a JSON array of valid JSON objects (or is truncated).
    MalformedBlob,
    /// Throttled by the API (retryable).
    Throttled,
    /// A transient API or network failure (retryable).
    Transient,
    /// The API refused for a reason an operator must fix (credentials, subscription).
    ApiRefused,
    /// The Lambda's time ran out (retryable).
    Deadline,
    /// The store failed.
    Storage,
    /// Compressing the output failed.
    Internal,
}

impl ErrorKind {
    /// The metric dimension value and the error report's `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::MalformedMessage => "MalformedMessage",
            ErrorKind::UnknownTenant => "UnknownTenant",
            ErrorKind::ForgedUri => "ForgedUri",
            ErrorKind::ContentExpired => "ContentExpired",
            ErrorKind::ContentNotFound => "ContentNotFound",
            ErrorKind::MalformedBlob => "MalformedBlob",
            ErrorKind::Throttled => "Throttled",
            ErrorKind::Transient => "Transient",
            ErrorKind::ApiRefused => "ApiRefused",
            ErrorKind::Deadline => "Deadline",
            ErrorKind::Storage => "Storage",
            ErrorKind::Internal => "Internal",
        }
    }
}

/// One queue message as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The queue's message id (what a partial batch failure names).
    pub message_id: String,
    /// The body.
    pub body: String,
    /// How many times the queue has delivered it (SQS `ApproximateReceiveCount`), if known.
    pub receive_count: Option<u32>,
}

impl InboundMessage {
    /// A message with an unknown receive count.
    pub fn new(message_id: impl Into<String>, body: impl Into<String>) -> InboundMessage {
        InboundMessage {
            message_id: message_id.into(),
            body: body.into(),
            receive_count: None,
        }
    }
}

impl From<(String, String)> for InboundMessage {
    /// A `(message_id, body)` pair, receive count unknown.
    fn from((message_id, body): (String, String)) -> InboundMessage {
        InboundMessage::new(message_id, body)
    }
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageOutcome {
    /// The blob was downloaded, normalized and written.
    Stored {
        /// Its key.
        key: String,
        /// Records written.
        records: u64,
        /// Blob bytes downloaded.
        bytes_in: u64,
        /// Object bytes written.
        bytes_out: u64,
        /// Per-record latency (event → available → stored).
        latency: RecordLatency,
    },
    /// The object already existed (replay or duplicate delivery); nothing was downloaded
    /// unless `raced` (another delivery finished first while this one was writing).
    Duplicate {
        /// Its key.
        key: String,
        /// Whether this delivery downloaded too and lost the create-only race.
        raced: bool,
    },
    /// A permanent failure, recorded in an error report; the message is done.
    Rejected {
        /// Why.
        kind: ErrorKind,
        /// Where the report was written.
        report_key: String,
    },
    /// A failure that may pass; the message is handed back to the queue.
    Retry {
        /// Why.
        kind: ErrorKind,
        /// The error, as text.
        error: String,
    },
}

impl MessageOutcome {
    /// Whether the queue should deliver the message again.
    pub fn is_failure(&self) -> bool {
        matches!(self, MessageOutcome::Retry { .. })
    }
}

/// What became of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Messages to hand back to the queue (partial batch failure).
    pub failed_message_ids: Vec<String>,
    /// Every message's outcome, in the batch's order.
    pub outcomes: Vec<(String, MessageOutcome)>,
}
