//! Exit codes scripts can rely on, and errors that carry theirs.

use std::fmt;

/// The process exit status of `o365ctl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// Everything succeeded.
    Ok = 0,
    /// The run completed, with errors (a tenant/content type failed, blobs failed permanently).
    Partial = 1,
    /// Usage or configuration error (clap's own errors also exit 2).
    Usage = 2,
    /// An endpoint was unreachable or authentication failed.
    Unreachable = 3,
    /// Stopped by Ctrl-C (SIGINT, 128 + 2) after releasing its leases.
    Interrupted = 130,
    /// Stopped by SIGTERM (128 + 15) after releasing its leases.
    Terminated = 143,
}

impl Code {
    /// The numeric status.
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

/// An error that ends the command, with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    /// Exit code.
    pub code: Code,
    /// What went wrong (the message says what to do).
    pub error: anyhow::Error,
}

impl Failure {
    /// A usage or configuration error (exit 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: Code::Usage,
            error: error.into(),
        }
    }

    /// An unreachable endpoint or refused credentials (exit 3).
    pub fn unreachable(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: Code::Unreachable,
            error: error.into(),
        }
    }
}

/// Any other error ends the command with exit 1.
impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure {
            code: Code::Partial,
            error,
        }
    }
}

/// The error and its causes on one line, each cause once: a cause whose text the line
/// already holds (an error that quotes its source) is not repeated.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.error.to_string();
        for cause in self.error.chain().skip(1) {
            let cause = cause.to_string();
            if !line.contains(&cause) {
                line.push_str(": ");
                line.push_str(&cause);
            }
        }
        f.write_str(&line)
    }
}

/// What a command returns: an exit code, or a failure carrying one.
pub type CmdResult = Result<Code, Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_shown_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        #[derive(Debug, thiserror::Error)]
        #[error("cannot read x.toml: {source}")]
        struct Quoting {
            source: std::io::Error,
        }
        let f = Failure::usage(Quoting { source: io });
        assert_eq!(f.to_string(), "cannot read x.toml: No such file");
        let f = Failure::from(anyhow::anyhow!("inner").context("outer"));
        assert_eq!(f.to_string(), "outer: inner");
    }
}
