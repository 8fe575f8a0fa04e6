//! What can stop a compaction, and what to do about it.

use o365_activity::store::StoreError;
use parquet::errors::ParquetError;

/// A compaction failure. Nothing is marked compacted unless its rows are stored, so running
/// again after fixing the cause loses nothing and doubles nothing.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    /// The bucket or directory failed.
    #[error("storage failed during compaction: {0}")]
    Store(#[from] StoreError),
    /// A Parquet part could not be read or written.
    #[error("Parquet part {key}: {source}; if it was altered, move it away and compact again")]
    Parquet {
        /// The part's key.
        key: String,
        /// The cause.
        #[source]
        source: ParquetError,
    },
    /// The compaction state is not readable.
    #[error(
        "compaction state {key} is not valid ({source}); it was altered or written by another tool"
    )]
    BadState {
        /// The state's key.
        key: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Another compaction changed the same object meanwhile (conditional write refused).
    #[error("{key} was changed by another compaction meanwhile; run one compactor at a time (the next run carries on)")]
    Concurrent {
        /// The object's key.
        key: String,
    },
}
