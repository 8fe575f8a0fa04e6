//! `o365ctl replay`.

use crate::args::ReplayArgs;
use crate::commands::Ui;
use crate::exit::{CmdResult, Failure};

/// Runs `o365ctl replay`.
pub async fn run(args: ReplayArgs, ui: Ui) -> CmdResult {
    let _ = (args, ui);
    Err(Failure::usage(anyhow::anyhow!(
        "replay is not available in this build yet"
    )))
}
