//! o365-lister: for each configured tenant and content type, list what became available since
//! the checkpoint and send one queue message per content blob. The Lambda `main.rs` and
//! `o365ctl run/backfill/replay` call this same handler.
//!
//! One run ([`Lister::run`]), per tenant × content type, concurrently within a limit:
//! 1. `subscriptions/list` once per tenant; `start` only types not enabled, at most once per
//!    15 minutes (recorded in the checkpoint); AF20024 counts as started. A type that cannot
//!    be started (missing permission, cooldown) fails alone, with a message saying why.
//! 2. Claim the pair's checkpoint with a lease (conditional write); a pair another live run
//!    holds is reported `Busy` and left alone.
//! 3. If the watermark is older than the API's reach (`now − 7 d + margin`), write a gap
//!    report for `[watermark, reach)` (create-only), log it, count it, and move on from the
//!    reach. A pair without a watermark owes blobs from its first attempt (recorded by its
//!    first claim, even when that run failed, e.g. on a missing permission): if that is
//!    older than the reach, `[first_attempt_at, reach)` is reported the same way. A first
//!    run (no checkpoint) backfills the full reach and reports no gap.
//! 4. List `[watermark − overlap, now)` in whole-second windows shorter than 24 h, each
//!    following every `NextPageUri`; drop ids listed twice or already sent (the checkpoint's
//!    `recent`); send the rest; only when the queue accepted all of them, commit the window
//!    (watermark = window end, ids remembered). A failed send keeps what was accepted and
//!    stops the pair without moving the watermark; the next run lists the window again.
//! 5. Stop starting windows when the deadline is near, or at once when cancelled
//!    ([`Lister::run_until`]: a window in flight is dropped uncommitted); release the lease
//!    with a `last_run` summary for `o365ctl status`.
//!
//! Guarantees: every blob listable at some listing of its window is enqueued (late blobs up
//! to the overlap are found on a later run); a blob is not enqueued twice by repeated or
//! concurrent runs while its id is remembered (the dedupe horizon); a run killed between a
//! send and its commit re-sends that one window (at-least-once; the fetcher is idempotent).

pub mod config;
pub mod error;
pub mod event;
mod gaps;
pub mod handler;
mod metrics;
pub mod plan;
pub mod recovery;
mod replay;
mod run;
pub mod settings;
mod subscriptions;
pub mod summary;
mod sweep;
mod window;

pub use config::ListerConfig;
pub use error::{PairError, PairErrorKind};
pub use recovery::QueueRecovery;
pub use replay::ListWindowError;
pub use run::Lister;
pub use settings::{ListerSettings, SettingsError};
pub use summary::{PairOutcome, PairSummary, RunSummary};
pub use sweep::{PairSweep, SweepSummary};
