//! The SQS event-source mapping, as Lambda runs it: receive a batch from the queue, build the
//! `SqsEvent` JSON, call the fetcher, delete what it did not report as failed, and let the rest
//! come back after the visibility timeout until the queue's redrive policy moves it to the DLQ.

use o365_fetcher::quota::MAX_THROTTLED_DELAY;
use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use serde_json::{json, Value};

/// What the function did with one delivered batch.
#[derive(Debug, Clone, PartialEq)]
pub enum HandlerOutcome {
    /// It returned this response (`{"batchItemFailures": [...]}` or anything else).
    Response(Value),
    /// It failed or died without a response: Lambda deletes nothing, the whole batch comes back.
    NoResponse(String),
}

/// A batch as delivered to the function.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The `SqsEvent` JSON (`{"Records": [...]}`) exactly as Lambda sends it.
    pub event: Value,
    /// Message id to receipt handle.
    pub receipts: HashMap<String, String>,
}

/// Counters of a drain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainStats {
    /// Batches delivered.
    pub batches: usize,
    /// Messages delivered (a redelivery counts again).
    pub deliveries: usize,
    /// Messages deleted after success.
    pub deleted: usize,
    /// Messages reported failed (left for redelivery).
    pub failed: usize,
    /// Batches that got no response.
    pub no_response: usize,
}

/// Why the event source stopped.
#[derive(Debug, thiserror::Error)]
pub enum EventSourceError {
    /// An SQS call failed.
    #[error("SQS {op} failed: {message}")]
    Sqs {
        /// Which call.
        op: &'static str,
        /// The error.
        message: String,
    },
    /// The queue did not empty in time.
    #[error("the queue still held {visible} visible and {in_flight} in-flight messages after {waited:?}")]
    NotDrained {
        /// Visible messages left.
        visible: u64,
        /// In-flight messages left.
        in_flight: u64,
        /// How long it waited.
        waited: Duration,
    },
    /// The function's response is not a batch response.
    #[error("the function's response is not an SQS batch response: {0}")]
    BadResponse(String),
}

fn sqs_err<E: std::fmt::Display>(op: &'static str) -> impl FnOnce(E) -> EventSourceError {
    move |e| EventSourceError::Sqs {
        op,
        message: format!("{e}"),
    }
}

/// An event-source mapping of one queue (and its DLQ) on moto.
#[derive(Debug, Clone)]
pub struct EventSource {
    /// The SQS client (moto on 127.0.0.1).
    pub sqs: aws_sdk_sqs::Client,
    /// The source queue.
    pub queue_url: String,
    /// Its dead-letter queue.
    pub dlq_url: String,
    /// Messages per batch (Lambda's `BatchSize`, 1..=10 here).
    pub batch_size: i32,
    /// Visibility timeout applied on receive, in seconds.
    pub visibility_timeout: i32,
    /// How long a drain's receive long-polls after one found nothing visible while messages
    /// were still hidden (delayed, in flight), in seconds, as Lambda's poller long-polls: the
    /// next batch starts as soon as a message becomes visible. 0: pause 250 ms and look
    /// again (moto, whose long poll notices a message that becomes visible on its own, at
    /// the end of a delay or a visibility timeout, only a second later).
    pub idle_wait_seconds: i32,
}

/// A queue's message counts, as SQS reports them.
#[derive(Debug, Clone, Copy)]
struct Depths {
    visible: u64,
    delayed: u64,
    in_flight: u64,
}

/// Parses a batch response's failed message ids; `Err` if the shape is wrong.
pub fn failed_ids(response: &Value) -> Result<Vec<String>, EventSourceError> {
    let bad = || EventSourceError::BadResponse(response.to_string());
    let items = response
        .get("batchItemFailures")
        .and_then(Value::as_array)
        .ok_or_else(bad)?;
    items
        .iter()
        .map(|i| {
            i.get("itemIdentifier")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(bad)
        })
        .collect()
}

impl EventSource {
    /// The queue's ARN (used in the event's `eventSourceARN`).
    fn arn(&self) -> String {
        let name = self.queue_url.rsplit('/').next().unwrap_or_default();
        format!("arn:aws:sqs:us-east-1:123456789012:{name}")
    }

    /// Receives one batch (or `None` if nothing is visible now).
    pub async fn receive(&self) -> Result<Option<Delivery>, EventSourceError> {
        self.receive_waiting(0).await
    }

    /// Receives one batch, long-polling up to `wait_seconds` for a message to become
    /// visible; `None` if none did.
    async fn receive_waiting(
        &self,
        wait_seconds: i32,
    ) -> Result<Option<Delivery>, EventSourceError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch_size)
            .visibility_timeout(self.visibility_timeout)
            .wait_time_seconds(wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(sqs_err("ReceiveMessage"))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(None);
        }
        let arn = self.arn();
        let mut receipts = HashMap::new();
        let mut records = Vec::new();
        for m in messages {
            let id = m.message_id.clone().unwrap_or_default();
            receipts.insert(id.clone(), m.receipt_handle.clone().unwrap_or_default());
            let attributes: serde_json::Map<String, Value> = m
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.as_str().to_string(), Value::String(v)))
                .collect();
            records.push(json!({
                "messageId": id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }));
        }
        Ok(Some(Delivery {
            event: json!({ "Records": records }),
            receipts,
        }))
    }

    /// Deletes every message of the batch except `failed`; returns how many were deleted.
    pub async fn settle(
        &self,
        delivery: &Delivery,
        failed: &[String],
    ) -> Result<usize, EventSourceError> {
        let entries: Vec<DeleteMessageBatchRequestEntry> = delivery
            .receipts
            .iter()
            .filter(|(id, _)| !failed.contains(id))
            .enumerate()
            .filter_map(|(i, (_, receipt))| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .receipt_handle(receipt)
                    .build()
                    .ok()
            })
            .collect();
        let n = entries.len();
        if n > 0 {
            self.sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(sqs_err("DeleteMessageBatch"))?;
        }
        Ok(n)
    }

    /// Visible (or delayed: handed back with `DelaySeconds`, visible later) and in-flight
    /// message counts of a queue.
    pub async fn depth_of(&self, url: &str) -> Result<(u64, u64), EventSourceError> {
        let d = self.depths_of(url).await?;
        Ok((d.visible + d.delayed, d.in_flight))
    }

    /// A queue's visible, delayed and in-flight message counts.
    async fn depths_of(&self, url: &str) -> Result<Depths, EventSourceError> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(sqs_err("GetQueueAttributes"))?;
        let attrs = out.attributes.unwrap_or_default();
        let get = |k: QueueAttributeName| {
            attrs
                .get(&k)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(Depths {
            visible: get(QueueAttributeName::ApproximateNumberOfMessages),
            delayed: get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
            in_flight: get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        })
    }

    /// Delivers batches to `handler` until the source queue is empty (failed messages come back
    /// after the visibility timeout, and go to the DLQ after the redrive policy's count).
    pub async fn drain<F, Fut>(
        &self,
        mut handler: F,
        max_wait: Duration,
    ) -> Result<DrainStats, EventSourceError>
    where
        F: FnMut(Value) -> Fut,
        Fut: Future<Output = HandlerOutcome>,
    {
        let started = Instant::now();
        // The wait is counted from the last batch received: a long drain that keeps making
        // progress is not cut short.
        let mut last_batch = started;
        let mut stats = DrainStats::default();
        let mut wait_seconds = 0;
        loop {
            match self.receive_waiting(wait_seconds).await? {
                Some(delivery) => {
                    wait_seconds = 0;
                    last_batch = Instant::now();
                    stats.batches += 1;
                    stats.deliveries += delivery.receipts.len();
                    match handler(delivery.event.clone()).await {
                        HandlerOutcome::Response(resp) => {
                            let failed = failed_ids(&resp)?;
                            stats.failed += failed.len();
                            stats.deleted += self.settle(&delivery, &failed).await?;
                        }
                        HandlerOutcome::NoResponse(why) => {
                            tracing::debug!(%why, "batch got no response; it will come back");
                            stats.no_response += 1;
                        }
                    }
                }
                None => {
                    let d = self.depths_of(&self.queue_url).await?;
                    if d.visible == 0 && d.delayed == 0 && d.in_flight == 0 {
                        return Ok(stats);
                    }
                    // A throttled message handed back by the fetcher stays hidden for up to
                    // its longest delay: wait for it rather than report it undrained.
                    let limit = if d.delayed > 0 {
                        max_wait.max(MAX_THROTTLED_DELAY + Duration::from_secs(30))
                    } else {
                        max_wait
                    };
                    if last_batch.elapsed() > limit {
                        return Err(EventSourceError::NotDrained {
                            visible: d.visible + d.delayed,
                            in_flight: d.in_flight,
                            waited: started.elapsed(),
                        });
                    }
                    if self.idle_wait_seconds > 0 {
                        wait_seconds = self.idle_wait_seconds;
                    } else {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                }
            }
        }
    }

    /// Every body in the DLQ (read without deleting; they stay invisible for a minute).
    pub async fn dlq_bodies(&self) -> Result<Vec<String>, EventSourceError> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.dlq_url)
                .max_number_of_messages(10)
                .visibility_timeout(60)
                .wait_time_seconds(0)
                .send()
                .await
                .map_err(sqs_err("ReceiveMessage"))?;
            let messages = got.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(out);
            }
            out.extend(messages.into_iter().filter_map(|m| m.body));
        }
    }

    /// Sends raw bodies to the source queue (forged or malformed messages, replays).
    pub async fn send_raw(&self, bodies: &[String]) -> Result<(), EventSourceError> {
        for body in bodies {
            self.sqs
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(body)
                .send()
                .await
                .map_err(sqs_err("SendMessage"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_responses_parse() {
        let ok = json!({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]});
        assert_eq!(failed_ids(&ok).unwrap(), vec!["a", "b"]);
        assert!(failed_ids(&json!({"batchItemFailures": []}))
            .unwrap()
            .is_empty());
        assert!(failed_ids(&json!({"failures": []})).is_err());
        assert!(failed_ids(&json!({"batchItemFailures": [{"id": "a"}]})).is_err());
    }
}
