//! Checkpoints and gap reports: the lister's durable progress per tenant and content type.
//!
//! A checkpoint lives at [`KeyLayout::checkpoint_key`] as one JSON document. It says how far
//! listing got (`watermark`), which blobs were enqueued recently (`recent`, so the lateness
//! overlap costs listing calls but no second download), which run currently works on the
//! pair (`lease`) and how the last run ended (`last_run`, for `o365ctl status`).
//!
//! Every write is conditional: a new document is created with `If-None-Match: *`, an
//! existing one replaced with `If-Match: <etag>`. When the condition fails, someone else
//! wrote in between: the document is reloaded and the change applied again to the fresh
//! copy. Changes are merges (the watermark only moves forward, `recent` is a union), so two
//! runs at once can neither move a checkpoint backwards nor lose each other's progress.
//!
//! A gap report ([`GapReport`]) records a window that could no longer be listed because the
//! checkpoint fell behind the API's 7-day reach; it is written create-only under
//! [`KeyLayout::gap_key`], so a repeated run cannot duplicate it.

mod document;
mod error;
mod gap;
mod lease;
mod store;

use chrono::{DateTime, TimeDelta, Utc};

pub use document::{Checkpoint, LastRun, LastRunOutcome, LastSweep, PageCursor};
pub use error::CheckpointError;
pub use gap::GapReport;
pub use lease::{Claim, CommitOutcome, HeldCheckpoint, Lease};
pub use store::{CheckpointPolicy, CheckpointStore, LoadedCheckpoint};

/// The checkpoint and gap-report format version this build writes and reads.
pub const CHECKPOINT_FORMAT_VERSION: u32 = 1;

/// How many times a conditional write is retried after losing a race before giving up.
const MAX_WRITE_ATTEMPTS: u32 = 8;

/// `t + d`, or the latest representable instant when that is out of range (lease expiries:
/// a later expiry than representable is "never").
pub fn saturating_add(t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(if d < TimeDelta::zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// `t − d`, or the earliest (latest, for a negative `d`) representable instant.
pub fn saturating_sub(t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    t.checked_sub_signed(d).unwrap_or(if d < TimeDelta::zero() {
        DateTime::<Utc>::MAX_UTC
    } else {
        DateTime::<Utc>::MIN_UTC
    })
}

#[cfg(test)]
mod tests;
