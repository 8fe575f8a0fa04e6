//! What can go wrong reading or writing a checkpoint, and whether to retry.

use super::{CHECKPOINT_FORMAT_VERSION, MAX_WRITE_ATTEMPTS};
use crate::store::StoreError;

/// A checkpoint or gap report that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The store failed.
    #[error("checkpoint storage: {0}")]
    Store(#[from] StoreError),
    /// The stored document is not a checkpoint.
    #[error("{key} is not a readable checkpoint ({message}); fix it, or delete it to make the next run backfill the full 7 days")]
    Malformed {
        /// The key.
        key: String,
        /// What was wrong.
        message: String,
    },
    /// Written by a newer build.
    #[error("{key} has format_version {version}, this build reads {CHECKPOINT_FORMAT_VERSION}; upgrade the lister")]
    UnsupportedVersion {
        /// The key.
        key: String,
        /// The version found.
        version: u32,
    },
    /// Every conditional write lost a race.
    #[error("could not update {key}: {attempts} conditional writes in a row lost to other writers; retry later")]
    Contended {
        /// The key.
        key: String,
        /// Attempts made.
        attempts: u32,
    },
}

impl CheckpointError {
    /// Every one of the [`MAX_WRITE_ATTEMPTS`] conditional writes of `key` lost a race.
    pub(super) fn contended(key: &str) -> CheckpointError {
        CheckpointError::Contended {
            key: key.to_owned(),
            attempts: MAX_WRITE_ATTEMPTS,
        }
    }

    /// Whether a later attempt can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            CheckpointError::Store(e) => e.is_retryable(),
            CheckpointError::Contended { .. } => true,
            CheckpointError::Malformed { .. } | CheckpointError::UnsupportedVersion { .. } => false,
        }
    }
}
