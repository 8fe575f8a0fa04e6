//! How each failure is classified: permanent (reported, done) or retryable (handed back).

use o365_activity::api_error::AfCode;
use o365_activity::client::ClientError;
use o365_activity::normalize::NormalizeError;

use crate::outcome::ErrorKind;

/// The failure of running out of the invocation's time.
pub(crate) fn out_of_time() -> Failure {
    Failure::retry(
        ErrorKind::Deadline,
        "the invocation's time ran out before the blob was stored; the queue will deliver it again",
    )
}

/// A failure while handling one message, before it is reported.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) kind: ErrorKind,
    pub(crate) error: String,
    pub(crate) permanent: bool,
}

impl Failure {
    pub(crate) fn permanent(kind: ErrorKind, error: impl ToString) -> Failure {
        Failure {
            kind,
            error: error.to_string(),
            permanent: true,
        }
    }

    pub(crate) fn retry(kind: ErrorKind, error: impl ToString) -> Failure {
        Failure {
            kind,
            error: error.to_string(),
            permanent: false,
        }
    }

    pub(crate) fn from_client(e: &ClientError) -> Failure {
        let code = e.af_code();
        let status = match e {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        };
        match (e, code) {
            (ClientError::ForeignUri { .. }, _) => Failure::permanent(ErrorKind::ForgedUri, e),
            (_, Some(AfCode::ContentExpired)) => Failure::permanent(ErrorKind::ContentExpired, e),
            (_, Some(AfCode::ContentNotFound | AfCode::ContentIdInvalid)) => {
                Failure::permanent(ErrorKind::ContentNotFound, e)
            }
            (ClientError::DeadlineExceeded { .. }, _) => Failure::retry(ErrorKind::Deadline, e),
            (ClientError::Throttled { .. }, _) => Failure::retry(ErrorKind::Throttled, e),
            (_, Some(AfCode::Throttled)) => Failure::retry(ErrorKind::Throttled, e),
            _ if status == Some(429) => Failure::retry(ErrorKind::Throttled, e),
            _ if status == Some(404) => Failure::permanent(ErrorKind::ContentNotFound, e),
            _ if e.is_retryable() => Failure::retry(ErrorKind::Transient, e),
            // Credentials, permissions, subscriptions: an operator fixes these, then the
            // queue's redelivery (or a DLQ redrive) fetches the blob.
            _ => Failure::retry(ErrorKind::ApiRefused, e),
        }
    }

    pub(crate) fn from_store(e: &o365_activity::store::StoreError) -> Failure {
        Failure {
            kind: ErrorKind::Storage,
            error: e.to_string(),
            permanent: !e.is_retryable(),
        }
    }

    pub(crate) fn from_normalize(e: &NormalizeError) -> Failure {
        if e.is_bad_input() {
            Failure::permanent(ErrorKind::MalformedBlob, e)
        } else {
            Failure::retry(ErrorKind::Internal, e)
        }
    }
}
