//! `o365ctl run`.

use crate::args::RunArgs;
use crate::commands::Ui;
use crate::exit::{CmdResult, Failure};

/// Runs `o365ctl run`.
pub async fn run(args: RunArgs, ui: Ui) -> CmdResult {
    let _ = (args, ui);
    Err(Failure::usage(anyhow::anyhow!(
        "run is not available in this build yet"
    )))
}
