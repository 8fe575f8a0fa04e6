//! An SQS queue (written by the store helper).

use tokio::time::Instant;

use super::{Queue, QueueError, SendReport};
use crate::message::QueueMessage;

/// An SQS queue by URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    _private: (),
}

impl Queue for SqsQueue {
    async fn send_all(
        &self,
        messages: &[QueueMessage],
        deadline: Instant,
    ) -> Result<SendReport, QueueError> {
        let _ = (messages, deadline);
        todo!("store helper")
    }
}
