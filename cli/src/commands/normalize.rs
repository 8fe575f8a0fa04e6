//! `o365ctl normalize`.

use crate::args::NormalizeArgs;
use crate::exit::{CmdResult, Failure};

/// Runs `o365ctl normalize`.
pub async fn run(args: NormalizeArgs) -> CmdResult {
    let _ = args;
    Err(Failure::usage(anyhow::anyhow!(
        "normalize is not available in this build yet"
    )))
}
