//! `o365ctl status`.

use crate::args::StatusArgs;
use crate::exit::{CmdResult, Failure};

/// Runs `o365ctl status`.
pub async fn run(args: StatusArgs) -> CmdResult {
    let _ = args;
    Err(Failure::usage(anyhow::anyhow!(
        "status is not available in this build yet"
    )))
}
