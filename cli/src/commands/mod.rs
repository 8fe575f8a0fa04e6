//! One module per subcommand, plus what they share.

pub mod backfill;
pub mod normalize;
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
