//! One module per subcommand, plus what they share.

pub mod audit;
pub mod backfill;
pub mod compact;
pub mod normalize;
pub mod ocsf;
pub mod replay;
pub mod run;
pub mod status;
pub mod sweep;
pub mod verify;

/// Terminal behaviour shared by the subcommands.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// `-q`: no progress bars, no chatter.
    pub quiet: bool,
}

/// Prints a line on stdout; a closed pipe (`o365ctl ... | head`) is not an error.
pub fn out(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
}

/// Prints a re-listing command's result (`--json`, the summary line, or the line on stderr for
/// `--dry-run`) and maps its error count to the exit code, the same for backfill and sweep.
pub fn report(outcome: crate::relist::Outcome, as_json: bool, dry_run: bool) -> crate::exit::Code {
    if as_json {
        out(&outcome.json);
    } else if !dry_run {
        out(&outcome.line);
    } else {
        eprintln!("{}", outcome.line);
    }
    if outcome.errors == 0 {
        crate::exit::Code::Ok
    } else {
        crate::exit::Code::Partial
    }
}
