//! The fetcher's Lambda handler: one SQS batch per invocation, answered with the messages to
//! hand back (`ReportBatchItemFailures`). Never fails as a whole: each message has its outcome.

use std::convert::Infallible;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use o365_activity::bootstrap::deadline;
use o365_activity::store::ObjectStore;

use crate::Fetcher;

/// Handles one batch until the invocation's deadline less `margin`.
pub async fn handle<S: ObjectStore>(
    fetcher: &Fetcher<S>,
    margin: Duration,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Infallible> {
    let until = deadline(&event.context, margin);
    Ok(fetcher.handle_sqs_event(event.payload, until).await)
}
