//! An in-process queue for local runs (written by the store helper).

use tokio::time::Instant;

use super::{Queue, QueueError, SendReport};
use crate::message::QueueMessage;

/// Messages in memory, shared by clones.
#[derive(Debug, Clone)]
pub struct MemoryQueue {
    _private: (),
}

impl Queue for MemoryQueue {
    async fn send_all(
        &self,
        messages: &[QueueMessage],
        deadline: Instant,
    ) -> Result<SendReport, QueueError> {
        let _ = (messages, deadline);
        todo!("store helper")
    }
}
