//! `o365ctl backfill`.

use crate::args::BackfillArgs;
use crate::commands::Ui;
use crate::exit::{CmdResult, Failure};

/// Runs `o365ctl backfill`.
pub async fn run(args: BackfillArgs, ui: Ui) -> CmdResult {
    let _ = (args, ui);
    Err(Failure::usage(anyhow::anyhow!(
        "backfill is not available in this build yet"
    )))
}
