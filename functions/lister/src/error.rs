//! Why a tenant × content type could not be collected in a run: a typed error with a kind
//! (a metric dimension, stored in the checkpoint's last run for `o365ctl status`) and an
//! operator-facing sentence saying what failed and what to do.

use o365_activity::api_error::AfCode;
use o365_activity::checkpoint::CheckpointError;
use o365_activity::client::ClientError;
use serde::{Serialize, Serializer};

/// What kind of failure stopped a pair: one value per thing an operator fixes differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairErrorKind {
    /// The lister's settings are invalid (fix the configuration).
    Settings,
    /// The app lacks a permission for this content type (grant it, or drop the type).
    Permission,
    /// The subscription could not be listed, started or restarted (cooldown, disabled).
    Subscription,
    /// Listing content failed (the API, the network, a malformed answer).
    Listing,
    /// The queue did not accept every message.
    Queue,
    /// The checkpoint (or a gap report) could not be read or written.
    Checkpoint,
    /// A time computed from a checkpoint, the clock or a setting is out of range.
    Time,
}

impl PairErrorKind {
    /// The kind's name, as used in metrics (`PairFailed{Kind}`) and `o365ctl status`.
    pub fn as_str(self) -> &'static str {
        match self {
            PairErrorKind::Settings => "Settings",
            PairErrorKind::Permission => "Permission",
            PairErrorKind::Subscription => "Subscription",
            PairErrorKind::Listing => "Listing",
            PairErrorKind::Queue => "Queue",
            PairErrorKind::Checkpoint => "Checkpoint",
            PairErrorKind::Time => "Time",
        }
    }
}

impl std::fmt::Display for PairErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a pair could not be collected this run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PairError {
    kind: PairErrorKind,
    message: String,
}

impl PairError {
    /// An error of `kind` with the operator sentence `message`.
    pub fn new(kind: PairErrorKind, message: impl Into<String>) -> PairError {
        PairError {
            kind,
            message: message.into(),
        }
    }

    /// A failed API call, classified by its AF code, described by [`describe`].
    pub fn api(context: impl std::fmt::Display, e: &ClientError) -> PairError {
        let kind = match e.af_code() {
            Some(AfCode::MissingPermission) => PairErrorKind::Permission,
            Some(
                AfCode::StartCooldown | AfCode::SubscriptionDisabled | AfCode::SubscriptionNotFound,
            ) => PairErrorKind::Subscription,
            _ => PairErrorKind::Listing,
        };
        PairError::new(kind, format!("{context}: {}", describe(e)))
    }

    /// A checkpoint that could not be read or written while `doing`.
    pub fn checkpoint(doing: &str, e: &CheckpointError) -> PairError {
        PairError::new(PairErrorKind::Checkpoint, format!("{doing}: {e}"))
    }

    /// The kind of failure.
    pub fn kind(&self) -> PairErrorKind {
        self.kind
    }

    /// The operator sentence: what failed and what to do.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Serialized as its message (the run summary's `outcome.error`, unchanged for readers).
impl Serialize for PairError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.message)
    }
}

/// A client error as an operator-facing sentence: what failed and what to do.
pub fn describe(e: &ClientError) -> String {
    match e.af_code() {
        Some(AfCode::MissingPermission) => format!(
            "{e}; the app lacks a permission: every type needs ActivityFeed.Read, DLP.All also needs ActivityFeed.ReadDlp (grant it in the app registration and give admin consent, or drop the type from content_types)"
        ),
        Some(AfCode::StartCooldown) => format!(
            "{e}; the API allows one subscription start per 15 minutes, a later run retries"
        ),
        Some(AfCode::SubscriptionDisabled) => format!(
            "{e}; the subscription was disabled by an admin and could not be restarted"
        ),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_stable_names_and_serialize_as_the_message() {
        let e = PairError::new(PairErrorKind::Queue, "the queue refused");
        assert_eq!(e.kind().as_str(), "Queue");
        assert_eq!(e.to_string(), "the queue refused");
        assert_eq!(serde_json::to_value(&e).unwrap(), "the queue refused");
    }
}
